//! The friend verbs of the harness (protocol §4.2–4.3) over HTTP; their WebSocket twins are on
//! [`Ws`](crate::support::ws::Ws).

use crate::support::auth::has_key_anywhere;
use crate::support::{TestApp, TestUser, json};
use serde_json::{Value, json};
use std::net::SocketAddr;

impl TestApp {
    /// `POST /api/friends/add {tag}` as `user`: the status and the body, which never shows an email.
    pub async fn add_friend(&self, user: &TestUser, tag: &str) -> (u16, Value) {
        let (status, body) = json(self.post_as(user, "/api/friends/add", &json!({"tag": tag})).await).await;
        assert_no_email(&body);
        (status, body)
    }

    /// `POST /api/friends/requests/{id} {action}` as `user`: the status and the body.
    pub async fn respond_to_friend_request(&self, user: &TestUser, request_id: &str, action: &str) -> (u16, Value) {
        json(self.post_as(user, &format!("/api/friends/requests/{request_id}"), &json!({"action": action})).await).await
    }

    /// The id of the one pending request `receiver` has from `sender`.
    pub async fn friend_request_id(&self, receiver: &TestUser, sender: &TestUser) -> String {
        friend_request_id_at(&self.client, self.address, receiver, sender).await
    }

    /// Makes `a` and `b` friends through the HTTP routes (request, then accept).
    pub async fn befriend(&self, a: &TestUser, b: &TestUser) {
        let (status, body) = self.add_friend(a, &b.tag).await;
        assert_eq!(status, 200, "{body}");
        let id = self.friend_request_id(b, a).await;
        let (status, body) = self.respond_to_friend_request(b, &id, "accept").await;
        assert_eq!(status, 200, "{body}");
    }
}

/// The id of the one pending request `receiver` has from `sender`, asked of the server at `address` (any node).
pub async fn friend_request_id_at(
    client: &reqwest::Client,
    address: SocketAddr,
    receiver: &TestUser,
    sender: &TestUser,
) -> String {
    let res = client
        .get(format!("http://{address}/api/friends/requests"))
        .header("cookie", &receiver.cookie)
        .send()
        .await
        .expect("request sent");
    let (status, list) = json(res).await;
    assert_eq!(status, 200, "{list}");
    let requests = list["friendRequests"].as_array().unwrap_or_else(|| panic!("an array: {list}"));
    let from: Vec<_> = requests.iter().filter(|r| r["senderId"] == sender.id.as_str()).collect();
    assert_eq!(from.len(), 1, "one request from {}: {requests:?}", sender.name);
    from[0]["id"].as_str().unwrap().to_owned()
}

/// Asserts that nothing in a body looks like an email address (§0.6, §1.5).
pub fn assert_no_email(body: &Value) {
    assert!(!has_key_anywhere(body, "email"), "an email key: {body}");
    assert!(!body.to_string().contains('@'), "an email address: {body}");
}
