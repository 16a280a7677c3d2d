//! The friend messages of the WebSocket (protocol §2.7.1, §2.7.2): one table entry each, then its handler
//! (required fields, then the shared rules).

use super::FriendError;
use crate::state::AppState;
use crate::ws::protocol::incoming::{Failure, Handled, Incoming, MessageSpec, store_failure};
use serde_json::json;

const RECEIVER_TAG_REQUIRED: &str = "receiverTag requis";
const REQUEST_ID_AND_ACTION_REQUIRED: &str = "requestId et action requis";
/// [`FriendError::TooManyRequests`]'s text, listed with the message's errors.
const TOO_MANY_FRIEND_REQUESTS: &str = "Trop de demandes d'ami, veuillez réessayer plus tard";

/// The friend messages, in the protocol's order.
pub static MESSAGES: &[MessageSpec<AppState>] = &[
    MessageSpec {
        kind: "send_friend_request",
        example: || json!({"receiverTag": "K7M2QX9B"}),
        payload_errors: &[
            (RECEIVER_TAG_REQUIRED, "send_friend_request without receiverTag"),
            (TOO_MANY_FRIEND_REQUESTS, "over rate_limit_friend_requests_max per window (HTTP: 429 rate_limited)"),
        ],
        handle: |m| Box::pin(send_friend_request(m)),
    },
    MessageSpec {
        kind: "respond_friend_request",
        example: || json!({"requestId": "<id>", "action": "accept"}),
        payload_errors: &[(REQUEST_ID_AND_ACTION_REQUIRED, "respond_friend_request without requestId or action")],
        handle: |m| Box::pin(respond_friend_request(m)),
    },
];

fn failure(e: FriendError) -> Failure {
    match e {
        FriendError::Store(s) => store_failure(&s),
        rule => rule.to_string().into(),
    }
}

/// `send_friend_request {receiverTag}`.
async fn send_friend_request(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let tag = m.required("receiverTag").ok_or(Failure::Borrowed(RECEIVER_TAG_REQUIRED))?;
    let outcome = super::send_request(m.state, m.me, tag, m.meta).await.map_err(failure)?;
    Handled::new(&outcome.body, outcome.events)
}

/// `respond_friend_request {requestId, action}`.
async fn respond_friend_request(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let (Some(id), Some(action)) = (m.required("requestId"), m.required("action")) else {
        return Err(Failure::Borrowed(REQUEST_ID_AND_ACTION_REQUIRED));
    };
    let outcome = super::respond(m.state, m.me, id, action, m.meta).await.map_err(failure)?;
    Handled::new(&outcome.body, outcome.events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_limit_text_is_the_errors() {
        assert_eq!(FriendError::TooManyRequests { retry_after_secs: 1 }.to_string(), TOO_MANY_FRIEND_REQUESTS);
    }
}
