//! The WebSocket protocol as a document, built from the types that produce the frames (`ws::protocol`), the
//! features' message tables (`ws::messages`), the friend rules and the configured limits, so it cannot drift from
//! what the gateway does.

use crate::clock::{Clock, SystemClock};
use crate::config::RealtimeConfig;
use crate::friends::FriendError;
use crate::live::outbox::close;
use crate::ws::messages;
use crate::ws::protocol::{self, FriendRemoved, FriendRequestAccepted, FriendStatusChange, Push, text};
use mapquiz_domain::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

/// The whole document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    endpoint: &'static str,
    overview: Vec<&'static str>,
    limits: Vec<Limit>,
    client_messages: Vec<ClientMessage>,
    server_frames: Vec<ServerFrame>,
    errors: Vec<ErrorText>,
    close_codes: Vec<CloseCode>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Limit {
    name: &'static str,
    value: String,
    on_violation: &'static str,
}

#[derive(Serialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: &'static str,
    payload: Option<Value>,
    reply: String,
}

#[derive(Serialize)]
struct ServerFrame {
    #[serde(rename = "type")]
    kind: String,
    when: &'static str,
    example: Value,
}

#[derive(Serialize)]
struct ErrorText {
    message: String,
    when: &'static str,
}

#[derive(Serialize)]
struct CloseCode {
    code: u16,
    why: &'static str,
}

fn frame(f: protocol::Frame) -> Value {
    serde_json::from_str(f.as_str()).unwrap_or(Value::Null)
}

fn server_frame(when: &'static str, f: protocol::Frame) -> ServerFrame {
    let example = frame(f);
    ServerFrame { kind: example["type"].as_str().unwrap_or_default().to_owned(), when, example }
}

/// The document for a server with these limits.
pub fn document(limits: &RealtimeConfig) -> Document {
    // The protocol's own example instant; a constant, so the document is the same on every request.
    let example_time = Timestamp::from_millis(1_754_927_210_000).unwrap_or_else(|| SystemClock.now());
    let mut client_messages = vec![
        ClientMessage { kind: "ping", payload: None, reply: "pong".into() },
        ClientMessage {
            kind: "authenticate",
            payload: Some(json!({})),
            reply: "authenticated, authentication_failed or authentication_error".into(),
        },
    ];
    client_messages.extend(messages::all().map(|m| ClientMessage {
        kind: m.kind,
        payload: Some((m.example)()),
        reply: format!("{}_success, or error", m.kind),
    }));
    let sent =
        json!({"success": true, "message": "Demande d'ami envoyée", "receiverId": "<id>", "autoAccepted": false});
    let server_frames = vec![
        server_frame("on open", protocol::connected()),
        server_frame("authenticate succeeded (every time, once bound)", protocol::authenticated("<userId>")),
        server_frame("authenticate without a valid session", protocol::authentication_failed()),
        server_frame("authenticate hit an internal failure", protocol::authentication_error()),
        server_frame("answer to ping", protocol::pong()),
        server_frame("a message failed (see the error messages)", protocol::error(text::INVALID_JSON)),
        server_frame("a handled message, e.g. send_friend_request", protocol::success("send_friend_request", &sent)),
        server_frame("to the receiver of a new friend request", Push::FriendRequestReceived.frame()),
        server_frame(
            "to the sender when a request is accepted; to both users on a mutual request",
            Push::FriendRequestAccepted {
                payload: FriendRequestAccepted {
                    success: true,
                    accepted_by: "<accepter id>".into(),
                    friend_id: "<new friend id>".into(),
                },
            }
            .frame(),
        ),
        server_frame(
            "to the removed friend",
            Push::FriendRemoved { payload: FriendRemoved { friend_id: "<remover id>".into() } }.frame(),
        ),
        server_frame(
            "to connected friends when a user goes online or offline",
            Push::FriendStatusChange {
                payload: FriendStatusChange { friend_id: "<id>".into(), is_online: true, last_seen: example_time },
            }
            .frame(),
        ),
    ];
    let mut errors: Vec<ErrorText> = [
        (text::INVALID_JSON, "the frame is not JSON"),
        (text::INVALID_MESSAGE, "not an object, or a payload that is not an object"),
        (text::TYPE_REQUIRED, "no string type"),
        (text::NOT_AUTHENTICATED, "a message needing a session on a socket without one"),
        (text::AUTH_ERROR, "authentication failed internally"),
        (text::TOO_MANY, "over the message rate (once per window)"),
        (text::OPERATION_FAILED, "an internal failure or the database is down"),
    ]
    .into_iter()
    .chain(messages::all().flat_map(|m| m.payload_errors.iter().copied()))
    .map(|(m, when)| ErrorText { message: m.to_owned(), when })
    .collect();
    errors.push(ErrorText { message: protocol::unsupported("<type>"), when: "a type the server does not handle" });
    errors.extend(
        [
            FriendError::TagRequired,
            FriendError::UserNotFound,
            FriendError::CannotAddSelf,
            FriendError::AlreadyFriends,
            FriendError::AlreadyPending,
            FriendError::InvalidAction,
            FriendError::RequestNotFound,
            FriendError::Forbidden,
            FriendError::AlreadyProcessed,
        ]
        .into_iter()
        .map(|e| ErrorText { message: e.to_string(), when: "friend rules (protocol §4.2, §4.3), in this order" }),
    );
    Document {
        endpoint: "/ws",
        overview: vec![
            "Text frames of JSON. Client messages are {\"type\", \"payload\"?}; replies carry their body under \
             data, pushes under payload, errors a top-level message.",
            "Credentials (session cookie or Authorization: Bearer) are read from the upgrade request; an Origin \
             outside the CORS allowlist is refused with 403.",
            "Messages of one socket are handled one at a time, in order; a reply precedes the pushes its message \
             causes. Every push to a user reaches all of their sockets, on every node.",
        ],
        limits: vec![
            Limit {
                name: "message size",
                value: format!("{} bytes", limits.max_message_bytes),
                on_violation: "close 1009",
            },
            Limit { name: "binary frames", value: "not allowed".into(), on_violation: "close 1003" },
            Limit {
                name: "message rate per socket",
                value: format!("{} per {} s", limits.rate_max, limits.rate_window.as_secs()),
                on_violation: "dropped, one error per window",
            },
            Limit {
                name: "flood ceiling per socket",
                value: format!("{} per {} s", limits.abuse_max, limits.rate_window.as_secs()),
                on_violation: "close 1008",
            },
            Limit {
                name: "sockets per user (across the nodes sharing Redis)",
                value: limits.max_sockets_per_user.to_string(),
                on_violation: "the oldest is closed with 1008",
            },
            Limit {
                name: "outgoing queue",
                value: format!("{} frames", limits.outgoing_queue),
                on_violation: "a reader that falls behind is closed with 1008",
            },
            Limit {
                name: "ping frames / silence",
                value: format!(
                    "every {} ms / {} ms",
                    limits.ping_interval.as_millis(),
                    limits.idle_timeout.as_millis()
                ),
                on_violation: "a silent socket is closed with 1001",
            },
        ],
        client_messages,
        server_frames,
        errors,
        close_codes: vec![
            CloseCode { code: close::GOING_AWAY, why: "server shutting down, or the peer went silent" },
            CloseCode { code: close::UNSUPPORTED_DATA, why: "binary frame" },
            CloseCode {
                code: close::POLICY_VIOLATION,
                why: "session signed out, revoked or expired; too many sockets; flooding; too slow a reader",
            },
            CloseCode { code: close::MESSAGE_TOO_BIG, why: "message over the size limit" },
        ],
    }
}
