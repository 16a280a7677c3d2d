//! The message table: every client message type the gateway handles besides `ping` and `authenticate`,
//! and the handler each goes to. Lobbies add their types here.

use crate::bus::Event;
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use crate::ws::protocol::text;
use mapquiz_store::{StoreError, User};
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A handled message: the `<type>_success` data, then the pushes it causes.
pub struct Handled {
    pub data: Value,
    pub events: Vec<Event>,
}

impl Handled {
    /// `data` serialised, with `events` to publish after the reply.
    pub fn new<T: Serialize>(data: &T, events: Vec<Event>) -> Result<Self, Failure> {
        let data = serde_json::to_value(data).map_err(|e| {
            tracing::error!(error = %e, "reply serialisation failed");
            Failure::from(text::OPERATION_FAILED)
        })?;
        Ok(Handled { data, events })
    }
}

/// The `error` message a handler answers with.
pub type Failure = Cow<'static, str>;

/// A database failure as a WebSocket `error` (details to the log only).
pub fn store_failure(e: &StoreError) -> Failure {
    crate::error::count_store_error(e);
    tracing::warn!(error = format!("{e:#}"), "WebSocket operation failed");
    Cow::Borrowed(text::OPERATION_FAILED)
}

/// The message types with a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    SendFriendRequest,
    RespondFriendRequest,
}

impl Command {
    /// Every command, in the protocol's order.
    pub const ALL: [Command; 2] = [Command::SendFriendRequest, Command::RespondFriendRequest];

    /// The message `type` naming it.
    pub fn name(self) -> &'static str {
        match self {
            Command::SendFriendRequest => "send_friend_request",
            Command::RespondFriendRequest => "respond_friend_request",
        }
    }

    /// The command a `type` names, if the gateway handles it.
    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == kind)
    }

    /// An example payload (for the documentation page).
    pub fn example_payload(self) -> Value {
        match self {
            Command::SendFriendRequest => serde_json::json!({"receiverTag": "K7M2QX9B"}),
            Command::RespondFriendRequest => serde_json::json!({"requestId": "<id>", "action": "accept"}),
        }
    }

    /// Runs the command for the authenticated `me`, whose socket was opened from `meta`.
    pub async fn run(
        self,
        state: &AppState,
        me: &User,
        payload: &Map<String, Value>,
        meta: &RequestMeta,
    ) -> Result<Handled, Failure> {
        use crate::friends::messages;
        match self {
            Command::SendFriendRequest => messages::send_friend_request(state, me, payload, meta).await,
            Command::RespondFriendRequest => messages::respond_friend_request(state, me, payload, meta).await,
        }
    }
}
