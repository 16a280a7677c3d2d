//! The friend messages of the WebSocket (protocol §2.7.1, §2.7.2): required fields, then the shared rules.

use super::FriendError;
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use crate::ws::dispatch::{Failure, Handled, store_failure};
use mapquiz_store::User;
use serde_json::{Map, Value};

fn failure(e: FriendError) -> Failure {
    match e {
        FriendError::Store(s) => store_failure(&s),
        rule => rule.to_string().into(),
    }
}

/// A non-empty string field.
fn required<'a>(payload: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    payload.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `send_friend_request {receiverTag}`.
pub async fn send_friend_request(
    state: &AppState,
    me: &User,
    payload: &Map<String, Value>,
    meta: &RequestMeta,
) -> Result<Handled, Failure> {
    let tag = required(payload, "receiverTag").ok_or(Failure::Borrowed("receiverTag requis"))?;
    let outcome = super::send_request(state, me, tag, meta).await.map_err(failure)?;
    Handled::new(&outcome.body, outcome.events)
}

/// `respond_friend_request {requestId, action}`.
pub async fn respond_friend_request(
    state: &AppState,
    me: &User,
    payload: &Map<String, Value>,
    meta: &RequestMeta,
) -> Result<Handled, Failure> {
    let (Some(id), Some(action)) = (required(payload, "requestId"), required(payload, "action")) else {
        return Err(Failure::Borrowed("requestId et action requis"));
    };
    let outcome = super::respond(state, me, id, action, meta).await.map_err(failure)?;
    Handled::new(&outcome.body, outcome.events)
}
