//! The lobby verbs of the harness (protocol §2.7.3–§2.8): each sends one message and returns its reply, so a
//! game test reads like the protocol; `expect_push` takes the next push and checks its envelope key.

use crate::support::friends::assert_no_email;
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser};
use serde_json::{Value, json};

/// The one region small enough for whole games in tests (7 codes).
pub const OCEANIE: &[&str] = &["AUS", "FJI", "NCL", "NZL", "PNG", "SLB", "VUT"];

impl Ws {
    /// The next frame that is not a friends push (presence changes come and go as players connect).
    pub async fn recv_lobby(&mut self) -> Value {
        loop {
            let frame = self.recv().await;
            if !frame["type"].as_str().is_some_and(|t| t.starts_with("friend_")) {
                return frame;
            }
        }
    }

    /// Sends `{type, payload}` and returns the reply, which must carry no email.
    pub async fn lobby(&mut self, kind: &str, payload: Value) -> Value {
        self.send(json!({"type": kind, "payload": payload})).await;
        let reply = self.recv_lobby().await;
        assert_no_email(&reply);
        reply
    }

    /// `create_lobby` with these regions; the new lobby's id.
    pub async fn create_lobby(&mut self, regions: &[&str]) -> String {
        let reply = self.lobby("create_lobby", json!({"settings": {"selectedRegions": regions}})).await;
        assert_eq!(reply["type"], "create_lobby_success", "{reply}");
        reply["data"]["lobbyId"].as_str().unwrap().to_owned()
    }

    /// `join_lobby`: the reply.
    pub async fn join(&mut self, lobby: &str) -> Value {
        self.lobby("join_lobby", json!({"lobbyId": lobby})).await
    }

    /// `leave_lobby`: the reply.
    pub async fn leave(&mut self, lobby: &str) -> Value {
        self.lobby("leave_lobby", json!({"lobbyId": lobby})).await
    }

    /// `invite_to_lobby`: the reply.
    pub async fn invite(&mut self, lobby: &str, friend: &TestUser) -> Value {
        self.lobby("invite_to_lobby", json!({"lobbyId": lobby, "friendId": friend.id})).await
    }

    /// `set_player_ready`: the reply.
    pub async fn ready(&mut self, lobby: &str, ready: bool) -> Value {
        self.lobby("set_player_ready", json!({"lobbyId": lobby, "ready": ready})).await
    }

    /// `update_player_progress` with the cumulative lists and the client's own (ignored) score and total.
    pub async fn progress(&mut self, lobby: &str, validated: &[&str], incorrect: &[&str]) -> Value {
        let payload = json!({
            "lobbyId": lobby, "validatedCountries": validated, "incorrectCountries": incorrect,
            "score": validated.len(), "totalQuestions": validated.len() + incorrect.len() + 1,
        });
        self.lobby("update_player_progress", payload).await
    }

    /// The reply must be `<kind>_success`; its data.
    pub async fn expect_success(&mut self, kind: &str, reply: Value) -> Value {
        assert_eq!(reply["type"], format!("{kind}_success"), "{reply}");
        reply["data"].clone()
    }

    /// The next frame must be the push `kind`, under the protocol's key (`data` for `game_start`, else
    /// `payload`), with nothing else beside `type`; its body.
    pub async fn expect_push(&mut self, kind: &str) -> Value {
        let frame = self.recv_lobby().await;
        assert_eq!(frame["type"], kind, "expected a {kind} push, got {frame}");
        assert_no_email(&frame);
        let key = if kind == "game_start" { "data" } else { "payload" };
        assert_eq!(frame.as_object().unwrap().len(), 2, "type and {key} only: {frame}");
        frame[key].clone()
    }

    /// The next frame must be `lobby_update`; its `LobbyState`.
    pub async fn expect_update(&mut self) -> Value {
        self.expect_push("lobby_update").await
    }
}

/// The reply must be `error` with exactly `message`.
pub fn assert_error(reply: &Value, message: &str) {
    assert_eq!(reply, &json!({"type": "error", "message": message}));
}

/// The player `id` in a `LobbyState` or progress push.
pub fn player<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["players"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap_or_else(|| panic!("{id} in {state}"))
}

/// The ids of the players of a `LobbyState`, in order.
pub fn player_ids(state: &Value) -> Vec<String> {
    state["players"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

impl TestApp {
    /// Stops this server and starts a new one on the same database with the same configuration.
    pub async fn restart(mut self) -> TestApp {
        let config = self.state.config.clone();
        let db = std::mem::replace(&mut self.db, mapquiz_store::testing::TestDatabase::sqlite());
        self.stop().await.expect("the server stops cleanly");
        TestApp::start(db, config).await
    }

    /// A socket for `user` that authenticated, without waiting for the pushes registration causes (a
    /// member's `lobby_update`, a pending invitation), which the test then expects.
    pub async fn ws_with_pushes(&self, user: &TestUser) -> Ws {
        let mut ws = Ws::connect(self.address, Some(&user.cookie)).await;
        ws.authenticate(&user.id).await;
        ws
    }

    /// Stores the progress the batched writer holds (what the writer does within a second anyway).
    pub async fn flush_progress(&self) {
        self.state.realtime.lobbies.flush_progress().await.expect("progress stored");
    }
}
