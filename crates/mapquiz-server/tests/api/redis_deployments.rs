//! Redis as operators deploy it: a Redis Cluster (three primaries the test starts on free loopback ports), a
//! primary found through a Sentinel, and two deployments sharing one Redis under different key prefixes.
//!
//! The cluster and Sentinel tests need `redis-server` and `redis-cli` (skipped without them, failing under
//! `CI`); the two-node cluster test also needs `TEST_DATABASE_URL`, the prefix test `TEST_REDIS_URL`.

use crate::lobbies::{GRACE as LOBBY_GRACE, friends_of_first};
use crate::support::lobbies::{OCEANIE, player};
use crate::support::redis_servers::{RedisCluster, RedisSentinel};
use crate::support::ws::Ws;
use crate::support::{TestApp, base_figment, json, session_cookie, test_redis_url};
use crate::two_nodes::{self, friends_and_presence_cross_nodes};
use figment::Figment;
use fred::prelude::{Builder, Client, ClientLike, Config as RedisConfig, KeysInterface, SetsInterface};
use mapquiz_server::app::App;
use mapquiz_server::config::Config;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The node heartbeat's period (5 s), with a margin.
const HEARTBEAT: Duration = Duration::from_secs(6);

/// Another in-process node on `first`'s database, with its own settings on top of the test defaults.
struct Peer {
    address: SocketAddr,
    node_id: String,
    client: reqwest::Client,
    stop: CancellationToken,
}

impl Peer {
    async fn start(first: &TestApp, configure: impl FnOnce(Figment) -> Figment) -> Peer {
        let config = Config::from_figment(&configure(base_figment(&first.db))).unwrap();
        let app = App::build_with_clock(config, first.clock.clone()).await.expect("the peer builds");
        let (address, node_id) = (app.local_addr(), app.state().realtime.node_id.to_string());
        let stop = CancellationToken::new();
        tokio::spawn(app.serve(stop.clone().cancelled_owned()));
        Peer { address, node_id, client: reqwest::Client::new(), stop }
    }

    async fn get_session(&self, cookie: &str) -> Value {
        let url = format!("http://{}/api/auth/get-session", self.address);
        let (status, body) = json(self.client.get(url).header("cookie", cookie).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// `get-session` with this cookie on the test app itself.
async fn get_session(app: &TestApp, cookie: &str) -> Value {
    let res = app.client.get(app.url("/api/auth/get-session")).header("cookie", cookie).send().await.unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A client of a Redis, to look at the keys the nodes wrote.
async fn redis_client(url: &str) -> Client {
    let client = Builder::from_config(RedisConfig::from_url(url).unwrap()).build().unwrap();
    client.init().await.unwrap();
    client
}

/// Polls `check` every 50 ms for up to 10 s; whether it became true.
async fn eventually_async<F: Future<Output = bool>>(mut check: impl FnMut() -> F) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signs `email` in on the server at `address`: the session cookie.
async fn sign_in(client: &reqwest::Client, address: SocketAddr, email: &str) -> String {
    let res = client
        .post(format!("http://{address}/api/auth/sign-in/email"))
        .json(&json!({"email": email, "password": crate::support::PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&res).expect("a session cookie");
    assert_eq!(res.status(), 200);
    cookie
}

#[tokio::test]
async fn two_nodes_on_a_redis_cluster_share_pushes_presence_sign_outs_sessions_and_the_socket_limit() {
    let Some(cluster) = RedisCluster::start().await else { return };
    let Some(db) = TestDatabase::new(true).await else { return };
    let limit = [("MAPQUIZ_WS_MAX_SOCKETS_PER_USER", "3")];
    let node_a = two_nodes::start(db.url(), &cluster.url(), &limit).await;
    let node_b = two_nodes::start(db.url(), &cluster.url(), &limit).await;
    node_a.wait_for_bus("connected").await;
    node_b.wait_for_bus("connected").await;

    // The two-node friend test: pushes and presence across nodes, through the cluster.
    let (alice, mut alice_ws, bob, mut bob_ws) = friends_and_presence_cross_nodes(&node_a, &node_b).await;

    // Session cache: sessions read through node B are cached in the cluster; revoking two of them on node A
    // (two keys, in different slots) is seen by node B at once.
    let phone = sign_in(&node_a.client, node_a.address, &bob.email).await;
    let tablet = sign_in(&node_a.client, node_a.address, &bob.email).await;
    for cookie in [&bob.cookie, &phone, &tablet] {
        assert_eq!(node_b.get_session(cookie).await["user"]["id"], bob.id.as_str());
    }
    let (status, body) = node_a.post_as(&bob, "/api/auth/revoke-other-sessions", json!({})).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    assert_eq!(node_b.get_session(&phone).await, Value::Null);
    assert_eq!(node_b.get_session(&tablet).await, Value::Null);
    assert_eq!(node_b.get_session(&bob.cookie).await["user"]["id"], bob.id.as_str());

    // Sign-out through node B closes Alice's socket on node A (1008) and ends her session on both nodes.
    assert_eq!(node_a.get_session(&alice.cookie).await["user"]["id"], alice.id.as_str());
    let (status, _) = node_b.post_as(&alice, "/api/auth/sign-out", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(alice_ws.closed().await, Some(1008));
    assert_eq!(node_a.get_session(&alice.cookie).await, Value::Null);
    bob_ws.expect_friend_status(&alice, false).await;

    // The socket limit (3 here) counts Bob's sockets on both nodes: a fourth closes the oldest, on node B.
    let mut bob_on_a = node_a.ws(&bob).await;
    let mut bob_on_b = node_b.ws(&bob).await;
    let mut fourth = node_a.ws(&bob).await;
    assert_eq!(bob_ws.closed().await, Some(1008));
    for ws in [&mut bob_on_a, &mut bob_on_b, &mut fourth] {
        assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    }

    // Every node heartbeat so far ran while the nodes held users (its user list is written aside, then
    // renamed into place: on a cluster only a hash tag keeps the two keys in one slot). Nothing failed.
    tokio::time::sleep(HEARTBEAT).await;
    for log in [node_a.log(), node_b.log()] {
        assert!(!log.contains("ERROR") && !log.contains("WARN"), "{log}");
    }
}

#[tokio::test]
async fn a_lobby_game_runs_on_a_node_whose_redis_is_a_cluster() {
    let Some(cluster) = RedisCluster::start().await else { return };
    let url = cluster.url();
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("redis_url", url.as_str()))
            .merge(("lobby_grace_ms", LOBBY_GRACE.as_millis() as u64))
            .merge(("presence_grace_ms", 100))
    })
    .await
    .unwrap();
    assert_eq!(app.state.realtime.bus.status(), "connected");
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let mut bws = app.ws(b).await;
    let mut aws = app.ws(a).await;

    let lobby = aws.create_lobby(&["Océanie"]).await;
    let reply = aws.invite(&lobby, b).await;
    aws.expect_success("invite_to_lobby", reply).await;
    assert_eq!(bws.expect_push("lobby_invitation").await["lobbyId"], lobby.as_str());
    let reply = bws.join(&lobby).await;
    bws.expect_success("join_lobby", reply).await;
    bws.expect_update().await;
    aws.expect_update().await;

    let reply = aws.ready(&lobby, true).await;
    aws.expect_success("set_player_ready", reply).await;
    aws.expect_update().await;
    bws.expect_update().await;
    let reply = bws.ready(&lobby, true).await;
    bws.expect_success("set_player_ready", reply).await;
    for ws in [&mut bws, &mut aws] {
        ws.expect_update().await;
        assert_eq!(ws.expect_push("game_start").await["totalQuestions"], 7);
        assert_eq!(ws.expect_update().await["status"], "playing");
    }

    play_to_the_end(&mut aws, &mut bws, &lobby, &a.id, &b.id).await;
    let reply = aws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let results = aws.expect_success("get_game_results", reply).await;
    assert_eq!(results["rankings"].as_array().unwrap().len(), 2, "{results}");
    assert_eq!(app.state.realtime.bus.status(), "connected");
}

/// A answers everything, then B: the game ends.
async fn play_to_the_end(aws: &mut Ws, bws: &mut Ws, lobby: &str, a: &str, b: &str) {
    for turn in 0..2 {
        let (ws, other, me) = if turn == 0 { (&mut *aws, &mut *bws, a) } else { (&mut *bws, &mut *aws, b) };
        let reply = ws.progress(lobby, OCEANIE, &[]).await;
        ws.expect_success("update_player_progress", reply).await;
        assert_eq!(player(&ws.expect_push("update_player_progress").await, me)["score"], 7);
        assert_eq!(player(&other.expect_push("update_player_progress").await, me)["score"], 7);
    }
    for ws in [aws, bws] {
        assert_eq!(ws.expect_update().await["status"], "finished");
        assert_eq!(ws.expect_push("game_end").await, json!({"lobbyId": lobby}));
    }
}

#[tokio::test]
async fn the_session_cache_and_the_bus_work_through_sentinel() {
    let Some(sentinel) = RedisSentinel::start().await else { return };
    let url = sentinel.url();
    let a = TestApp::spawn_with(false, |f| f.merge(("redis_url", url.as_str()))).await.unwrap();
    let b = Peer::start(&a, |f| f.merge(("redis_url", url.as_str()))).await;
    assert_eq!(a.state.realtime.bus.status(), "connected");

    // Both nodes reach the primary the Sentinel names.
    let primary = redis_client(&format!("redis://127.0.0.1:{}", sentinel.primary_port)).await;
    let registered = || async {
        let nodes: Vec<String> = primary.smembers("mapquiz:nodes").await.unwrap();
        nodes.contains(&b.node_id) && nodes.contains(&a.state.realtime.node_id.to_string())
    };
    assert!(eventually_async(registered).await, "both nodes registered on the primary");

    // Session cache: node B caches Ada's session, node A signs her out, node B forgets it at once.
    let ada = a.sign_up("Ada").await;
    assert_eq!(b.get_session(&ada.cookie).await["user"]["id"], ada.id.as_str());
    let hash = hex(Sha256::digest(ada.token.as_bytes()).as_slice());
    assert_eq!(primary.exists::<i64, _>(format!("mapquiz:session:{hash}")).await.unwrap(), 1);

    // The bus: a friend request through node A reaches Bruno's socket on node B.
    let bruno = a.sign_up("Bruno").await;
    let mut bruno_ws = Ws::signed_in(b.address, &bruno).await;
    let (status, body) = a.add_friend(&ada, &bruno.tag).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bruno_ws.recv().await, json!({"type": "friend_request_received"}));

    let (status, _) = json(a.post_as(&ada, "/api/auth/sign-out", &json!({})).await).await;
    assert_eq!(status, 200);
    assert_eq!(b.get_session(&ada.cookie).await, Value::Null);
    assert_eq!(get_session(&a, &ada.cookie).await, Value::Null);
}

/// Lower-case hexadecimal.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn deployments_with_different_key_prefixes_share_a_redis_without_seeing_each_other() {
    let Some(redis_url) = test_redis_url() else { return };
    let run = uuid::Uuid::now_v7().simple().to_string();
    let (one, two) = (format!("test-{run}-one:"), format!("test-{run}-two:"));
    // Deployment one is two nodes (its first node and `one_b`), deployment two one node. They share even the
    // database here, so that a leak between them would show.
    let one_a = TestApp::spawn_with(false, |f| {
        f.merge(("redis_url", redis_url.as_str())).merge(("redis_key_prefix", one.as_str()))
    })
    .await
    .unwrap();
    let with = |prefix: &str| {
        let (url, prefix) = (redis_url.clone(), prefix.to_owned());
        move |f: Figment| f.merge(("redis_url", url)).merge(("redis_key_prefix", prefix))
    };
    let one_b = Peer::start(&one_a, with(&one)).await;
    let two_a = Peer::start(&one_a, with(&two)).await;
    let redis = redis_client(&redis_url).await;

    // Each deployment's node registry lists its own nodes only.
    let one_id = one_a.state.realtime.node_id.to_string();
    let registered = |prefix: String, expected: Vec<String>| {
        let redis = redis.clone();
        async move {
            let mut ids: Vec<String> = redis.smembers(format!("{prefix}nodes")).await.unwrap();
            ids.sort();
            let mut expected = expected;
            expected.sort();
            ids == expected
        }
    };
    assert!(eventually_async(|| registered(one.clone(), vec![one_id.clone(), one_b.node_id.clone()])).await);
    assert!(eventually_async(|| registered(two.clone(), vec![two_a.node_id.clone()])).await);

    // The bus: Carol's request through deployment one reaches Bruno on its other node, never Ada on
    // deployment two.
    let (ada, bruno, carol) = (one_a.sign_up("Ada").await, one_a.sign_up("Bruno").await, one_a.sign_up("Carol").await);
    let mut ada_ws = Ws::signed_in(two_a.address, &ada).await;
    let mut bruno_ws = Ws::signed_in(one_b.address, &bruno).await;
    for tag in [&ada.tag, &bruno.tag] {
        let (status, body) = one_a.add_friend(&carol, tag).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(bruno_ws.recv().await, json!({"type": "friend_request_received"}));
    ada_ws.silent_for(Duration::from_millis(500)).await;

    // Sockets are counted under each deployment's prefix.
    let sockets = |prefix: &str, user: &str| format!("{prefix}user:{{{user}}}:sockets");
    assert_eq!(redis.exists::<i64, _>(sockets(&two, &ada.id)).await.unwrap(), 1);
    assert_eq!(redis.exists::<i64, _>(sockets(&one, &ada.id)).await.unwrap(), 0);
    assert_eq!(redis.exists::<i64, _>(sockets(&one, &bruno.id)).await.unwrap(), 1);

    // Sessions: each deployment caches Ada's session under its own prefix, and a sign-out in deployment one
    // evicts its own entry only.
    let hash = hex(Sha256::digest(ada.token.as_bytes()).as_slice());
    assert_eq!(two_a.get_session(&ada.cookie).await["user"]["id"], ada.id.as_str());
    assert_eq!(get_session(&one_a, &ada.cookie).await["user"]["id"], ada.id.as_str());
    for prefix in [&one, &two] {
        assert_eq!(redis.exists::<i64, _>(format!("{prefix}session:{hash}")).await.unwrap(), 1, "{prefix}");
    }
    let (status, _) = json(one_a.post_as(&ada, "/api/auth/sign-out", &json!({})).await).await;
    assert_eq!(status, 200);
    assert_eq!(redis.exists::<i64, _>(format!("{one}session:{hash}")).await.unwrap(), 0);
    assert_eq!(redis.exists::<i64, _>(format!("{one}session-evicted:{hash}")).await.unwrap(), 1);
    assert_eq!(redis.exists::<i64, _>(format!("{two}session:{hash}")).await.unwrap(), 1, "not deployment two's");
    assert_eq!(redis.exists::<i64, _>(format!("{two}session-evicted:{hash}")).await.unwrap(), 0);
    assert_eq!(ada_ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}), "its close event stays in one");
    let _ = redis.del::<i64, _>(format!("{two}session:{hash}")).await;
}
