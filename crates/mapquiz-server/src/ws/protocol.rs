//! The WebSocket wire contract in one place (protocol §0.5, §2): the envelope clients send, every frame the
//! server sends, and the French strings the web client matches.
//!
//! Frames are serialised once ([`Frame`]) and shared by every socket they go to. What a message handler is
//! given and answers is in [`incoming`].

pub mod incoming;

use axum::extract::ws::Utf8Bytes;
use mapquiz_domain::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A serialised server → client text frame, cheap to clone.
pub type Frame = Utf8Bytes;

/// A client message that passed the envelope checks.
#[derive(Debug, PartialEq)]
pub struct Envelope {
    /// `type`.
    pub kind: String,
    /// `payload`, or an empty object when absent.
    pub payload: Map<String, Value>,
}

/// Envelope and gateway error strings (protocol §2.5, §2.6).
pub mod text {
    pub const CONNECTED: &str = "Connexion WebSocket établie";
    pub const INVALID_JSON: &str = "Message JSON invalide";
    pub const INVALID_MESSAGE: &str = "Message invalide";
    pub const TYPE_REQUIRED: &str = "Type de message requis";
    pub const UNSUPPORTED_PREFIX: &str = "Type de message non supporté: ";
    pub const NOT_AUTHENTICATED: &str = "Non authentifié - veuillez vous connecter";
    pub const AUTH_ERROR: &str = "Erreur d'authentification";
    pub const SESSION_INVALID: &str = "Session invalide";
    pub const TOO_MANY: &str = "Trop de messages, veuillez ralentir";
    pub const OPERATION_FAILED: &str = "Opération échouée";
}

/// Parses one text frame into an envelope, or the `error` message it earns.
pub fn parse(text: &str) -> Result<Envelope, Cow<'static, str>> {
    let value: Value = serde_json::from_str(text).map_err(|_| Cow::Borrowed(text::INVALID_JSON))?;
    let Value::Object(mut object) = value else { return Err(Cow::Borrowed(text::INVALID_MESSAGE)) };
    let payload = match object.remove("payload") {
        None => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(Cow::Borrowed(text::INVALID_MESSAGE)),
    };
    match object.remove("type") {
        Some(Value::String(kind)) => Ok(Envelope { kind, payload }),
        _ => Err(Cow::Borrowed(text::TYPE_REQUIRED)),
    }
}

/// `error` for a type no handler knows.
pub fn unsupported(kind: &str) -> String {
    format!("{}{kind}", text::UNSUPPORTED_PREFIX)
}

/// Frames whose shape does not depend on a handler's result.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Fixed<'a> {
    Connected { data: MessageData<'a> },
    Authenticated { data: UserIdData<'a> },
    AuthenticationFailed { message: &'a str },
    AuthenticationError { message: &'a str },
    Pong,
    Error { message: &'a str },
}

#[derive(Serialize)]
struct MessageData<'a> {
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdData<'a> {
    user_id: &'a str,
}

fn encode<T: Serialize>(value: &T) -> Frame {
    match serde_json::to_string(value) {
        Ok(s) => s.into(),
        // Our own types always serialise; should one not, the client gets the generic failure.
        Err(e) => {
            tracing::error!(error = %e, "WebSocket frame serialisation failed");
            r#"{"type":"error","message":"Opération échouée"}"#.into()
        }
    }
}

/// `{"type":"connected","data":{"message":"Connexion WebSocket établie"}}`.
pub fn connected() -> Frame {
    encode(&Fixed::Connected { data: MessageData { message: text::CONNECTED } })
}

/// `{"type":"authenticated","data":{"userId":…}}`.
pub fn authenticated(user_id: &str) -> Frame {
    encode(&Fixed::Authenticated { data: UserIdData { user_id } })
}

/// `{"type":"authentication_failed","message":"Session invalide"}`.
pub fn authentication_failed() -> Frame {
    encode(&Fixed::AuthenticationFailed { message: text::SESSION_INVALID })
}

/// `{"type":"authentication_error","message":"Erreur d'authentification"}`.
pub fn authentication_error() -> Frame {
    encode(&Fixed::AuthenticationError { message: text::AUTH_ERROR })
}

/// `{"type":"pong"}`.
pub fn pong() -> Frame {
    encode(&Fixed::Pong)
}

/// `{"type":"error","message":…}`.
pub fn error(message: &str) -> Frame {
    encode(&Fixed::Error { message })
}

/// `{"type":"<kind>_success","data":…}`.
pub fn success<T: Serialize>(kind: &str, data: &T) -> Frame {
    #[derive(Serialize)]
    struct Success<'a, T> {
        #[serde(rename = "type")]
        kind: String,
        data: &'a T,
    }
    encode(&Success { kind: format!("{kind}_success"), data })
}

/// Server pushes (protocol §2.8) this gateway sends; lobby pushes join them with the lobbies.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Push {
    /// To the receiver of a new request; no body.
    FriendRequestReceived,
    FriendRequestAccepted {
        payload: FriendRequestAccepted,
    },
    FriendRemoved {
        payload: FriendRemoved,
    },
    FriendStatusChange {
        payload: FriendStatusChange,
    },
}

impl Push {
    /// The serialised frame.
    pub fn frame(&self) -> Frame {
        encode(self)
    }
}

/// `friend_request_accepted.payload`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FriendRequestAccepted {
    /// Always `true`.
    pub success: bool,
    /// Who accepted.
    pub accepted_by: String,
    /// The recipient's new friend.
    pub friend_id: String,
}

/// `friend_removed.payload`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FriendRemoved {
    /// Who removed the recipient.
    pub friend_id: String,
}

/// `friend_status_change.payload`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FriendStatusChange {
    pub friend_id: String,
    pub is_online: bool,
    pub last_seen: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(frame: Frame) -> Value {
        serde_json::from_str(frame.as_str()).unwrap()
    }

    #[test]
    fn fixed_frames_are_exactly_the_protocol_s() {
        assert_eq!(v(connected()), json!({"type":"connected","data":{"message":"Connexion WebSocket établie"}}));
        assert_eq!(v(authenticated("u1")), json!({"type":"authenticated","data":{"userId":"u1"}}));
        assert_eq!(v(authentication_failed()), json!({"type":"authentication_failed","message":"Session invalide"}));
        assert_eq!(
            v(authentication_error()),
            json!({"type":"authentication_error","message":"Erreur d'authentification"})
        );
        assert_eq!(pong().as_str(), r#"{"type":"pong"}"#);
        assert_eq!(v(error("Message invalide")), json!({"type":"error","message":"Message invalide"}));
        assert_eq!(
            v(success("send_friend_request", &json!({"success": true}))),
            json!({"type":"send_friend_request_success","data":{"success":true}})
        );
    }

    #[test]
    fn pushes_carry_their_body_under_the_protocol_s_key() {
        assert_eq!(Push::FriendRequestReceived.frame().as_str(), r#"{"type":"friend_request_received"}"#);
        let accepted = Push::FriendRequestAccepted {
            payload: FriendRequestAccepted { success: true, accepted_by: "b".into(), friend_id: "b".into() },
        };
        assert_eq!(
            v(accepted.frame()),
            json!({"type":"friend_request_accepted","payload":{"success":true,"acceptedBy":"b","friendId":"b"}})
        );
        let removed = Push::FriendRemoved { payload: FriendRemoved { friend_id: "a".into() } };
        assert_eq!(v(removed.frame()), json!({"type":"friend_removed","payload":{"friendId":"a"}}));
        let status = Push::FriendStatusChange {
            payload: FriendStatusChange {
                friend_id: "a".into(),
                is_online: true,
                last_seen: Timestamp::from_millis(1_754_927_210_000).unwrap(),
            },
        };
        assert_eq!(
            v(status.frame()),
            json!({"type":"friend_status_change","payload":{"friendId":"a","isOnline":true,"lastSeen":"2025-08-11T15:46:50.000Z"}})
        );
    }

    #[test]
    fn envelope_errors_come_in_the_protocol_order() {
        assert_eq!(parse("not json"), Err(text::INVALID_JSON.into()));
        assert_eq!(parse("[]"), Err(text::INVALID_MESSAGE.into()));
        assert_eq!(parse("42"), Err(text::INVALID_MESSAGE.into()));
        assert_eq!(parse(r#"{"type":"ping","payload":[]}"#), Err(text::INVALID_MESSAGE.into()));
        assert_eq!(
            parse(r#"{"type":"ping","payload":null}"#),
            Err(text::INVALID_MESSAGE.into()),
            "present, not an object"
        );
        assert_eq!(parse(r#"{"payload":"x"}"#), Err(text::INVALID_MESSAGE.into()), "payload is checked first");
        assert_eq!(parse("{}"), Err(text::TYPE_REQUIRED.into()));
        assert_eq!(parse(r#"{"type":7}"#), Err(text::TYPE_REQUIRED.into()));
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(Envelope { kind: "ping".into(), payload: Map::new() }));
        let e = parse(r#"{"type":"x","payload":{"a":1},"extra":true}"#).unwrap();
        assert_eq!(e.payload.get("a"), Some(&json!(1)));
        assert_eq!(unsupported("foo"), "Type de message non supporté: foo");
    }

    /// Property tests of the envelope rules (protocol §2.5) on generated input; the same rules through a
    /// real socket, with the dispatch behind them, are fuzzed in `tests/api/ws_fuzz`.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                ".{0,8}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                let key = prop_oneof![Just("type".to_owned()), Just("payload".to_owned()), ".{0,4}"];
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((key, inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        /// §2.5's envelope rules, in their order, written apart from [`parse`].
        fn model(v: &Value) -> Result<(String, Map<String, Value>), String> {
            let Value::Object(o) = v else { return Err(text::INVALID_MESSAGE.to_owned()) };
            let payload = match o.get("payload") {
                None => Map::new(),
                Some(Value::Object(p)) => p.clone(),
                Some(_) => return Err(text::INVALID_MESSAGE.to_owned()),
            };
            match o.get("type") {
                Some(Value::String(kind)) => Ok((kind.clone(), payload)),
                _ => Err(text::TYPE_REQUIRED.to_owned()),
            }
        }

        fn parsed(text: &str) -> Result<(String, Map<String, Value>), String> {
            parse(text).map(|e| (e.kind, e.payload)).map_err(Cow::into_owned)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

            #[test]
            fn every_json_value_gets_the_envelope_rules(v in json_value()) {
                prop_assert_eq!(parsed(&v.to_string()), model(&v));
            }

            #[test]
            fn any_text_is_an_envelope_or_its_error(input in any::<String>()) {
                match serde_json::from_str::<Value>(&input) {
                    Ok(v) => prop_assert_eq!(parsed(&input), model(&v)),
                    Err(_) => prop_assert_eq!(parsed(&input), Err(text::INVALID_JSON.to_owned())),
                }
            }
        }
    }
}
