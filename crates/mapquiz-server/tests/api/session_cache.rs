//! Validated sessions are cached (in Redis when `redis_url` is set, shared by every node), and the cache
//! never outlives what ended the session: sign-out, revocation and profile changes on one node are seen at
//! once on every other node (protocol §1.1.5, §1.4.4, §1.4.7). The Redis tests run when `TEST_REDIS_URL` is
//! set (required under `CI`); each starts two nodes on one database.

use crate::support::{
    PASSWORD, TestApp, TestUser, base_figment, json, on_both_backends, session_cookie, test_redis_url,
};
use mapquiz_server::app::App;
use mapquiz_server::config::Config;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// A second node: another app on the first one's database, Redis and secret.
struct Node {
    address: SocketAddr,
    client: reqwest::Client,
    stop: CancellationToken,
}

impl Node {
    async fn start(first: &TestApp, redis: &str) -> Node {
        let config = Config::from_figment(&base_figment(&first.db).merge(("redis_url", redis))).unwrap();
        let app = App::build_with_clock(config, first.clock.clone()).await.expect("the second node builds");
        let address = app.local_addr();
        let stop = CancellationToken::new();
        tokio::spawn(app.serve(stop.clone().cancelled_owned()));
        Node { address, client: reqwest::Client::new(), stop }
    }

    async fn get_session(&self, cookie: &str) -> Value {
        let url = format!("http://{}/api/auth/get-session", self.address);
        let (status, body) = json(self.client.get(url).header("cookie", cookie).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Two nodes sharing a database and Redis, or `None` when either is not configured.
async fn two_nodes(postgres: bool) -> Option<(TestApp, Node)> {
    let redis = test_redis_url()?;
    let a = TestApp::spawn_with(postgres, |f| f.merge(("redis_url", redis.as_str()))).await?;
    let b = Node::start(&a, &redis).await;
    Some((a, b))
}

/// `get-session` on the test app itself.
async fn get_session(app: &TestApp, cookie: &str) -> Value {
    let res = app.client.get(app.url("/api/auth/get-session")).header("cookie", cookie).send().await.unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A second session for `user`: (cookie, raw token).
async fn sign_in_again(app: &TestApp, user: &TestUser) -> (String, String) {
    let res = app.post_json("/api/auth/sign-in/email", &json!({"email": user.email, "password": PASSWORD})).await;
    let cookie = session_cookie(&res).expect("a session cookie");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    (cookie, body["token"].as_str().unwrap().to_owned())
}

on_both_backends!(
    sign_out_on_one_node_ends_the_session_on_every_node,
    a_revoked_session_is_refused_on_every_node_at_once,
    a_profile_update_is_seen_on_every_node_at_once,
    without_redis_sign_out_and_updates_are_seen_at_once,
);

async fn sign_out_on_one_node_ends_the_session_on_every_node(postgres: bool) {
    let Some((a, b)) = two_nodes(postgres).await else { return };
    let ada = a.sign_up("Ada").await;
    assert_eq!(b.get_session(&ada.cookie).await["user"]["id"], ada.id.as_str(), "node B knows the session");
    assert_eq!(b.get_session(&ada.cookie).await["user"]["id"], ada.id.as_str(), "served from the cache now");

    assert_eq!(json(a.post_as(&ada, "/api/auth/sign-out", &json!({})).await).await, (200, json!({"success": true})));
    assert_eq!(b.get_session(&ada.cookie).await, Value::Null, "node B forgot it at once");
    assert_eq!(get_session(&a, &ada.cookie).await, Value::Null);
}

async fn a_revoked_session_is_refused_on_every_node_at_once(postgres: bool) {
    let Some((a, b)) = two_nodes(postgres).await else { return };
    let ada = a.sign_up("Ada").await;
    let (phone, phone_token) = sign_in_again(&a, &ada).await;
    let (tablet, _) = sign_in_again(&a, &ada).await;
    for cookie in [&ada.cookie, &phone, &tablet] {
        assert_eq!(b.get_session(cookie).await["user"]["id"], ada.id.as_str());
    }

    let res = a.post_as(&ada, "/api/auth/revoke-session", &json!({"token": phone_token})).await;
    assert_eq!(json(res).await, (200, json!({"status": true})));
    assert_eq!(b.get_session(&phone).await, Value::Null, "the revoked session is gone on node B");
    assert_eq!(b.get_session(&tablet).await["user"]["id"], ada.id.as_str(), "the others are untouched");

    let res = a.post_as(&ada, "/api/auth/revoke-other-sessions", &json!({})).await;
    assert_eq!(json(res).await, (200, json!({"status": true})));
    assert_eq!(b.get_session(&tablet).await, Value::Null);
    assert_eq!(b.get_session(&ada.cookie).await["user"]["id"], ada.id.as_str(), "the current one stays");

    let res = a.post_as(&ada, "/api/auth/revoke-sessions", &json!({})).await;
    assert_eq!(json(res).await, (200, json!({"status": true})));
    assert_eq!(b.get_session(&ada.cookie).await, Value::Null);
}

async fn a_profile_update_is_seen_on_every_node_at_once(postgres: bool) {
    let Some((a, b)) = two_nodes(postgres).await else { return };
    let ada = a.sign_up("Ada").await;
    assert_eq!(b.get_session(&ada.cookie).await["user"]["name"], "Ada");

    let image = "https://cdn.example/ada.png";
    let res = a.post_as(&ada, "/api/auth/update-user", &json!({"name": "Ada Lovelace", "image": image})).await;
    assert_eq!(json(res).await, (200, json!({"status": true})));
    let user = b.get_session(&ada.cookie).await["user"].clone();
    assert_eq!((&user["name"], &user["image"]), (&json!("Ada Lovelace"), &json!(image)), "node B: {user}");
}

async fn without_redis_sign_out_and_updates_are_seen_at_once(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let ada = app.sign_up("Ada").await;
    assert_eq!(get_session(&app, &ada.cookie).await["user"]["name"], "Ada");
    let res = app.post_as(&ada, "/api/auth/update-user", &json!({"name": "Ada Lovelace"})).await;
    assert_eq!(json(res).await, (200, json!({"status": true})));
    assert_eq!(get_session(&app, &ada.cookie).await["user"]["name"], "Ada Lovelace");

    let (other, _) = sign_in_again(&app, &ada).await;
    assert_eq!(get_session(&app, &other).await["user"]["id"], ada.id.as_str());
    assert_eq!(json(app.post_as(&ada, "/api/auth/sign-out", &json!({})).await).await, (200, json!({"success": true})));
    assert_eq!(get_session(&app, &ada.cookie).await, Value::Null, "signed out at once despite the cache");
    assert_eq!(get_session(&app, &other).await["user"]["id"], ada.id.as_str(), "only that session");
}
