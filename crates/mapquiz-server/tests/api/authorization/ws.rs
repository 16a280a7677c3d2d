//! The WebSocket half of the matrix: one row per client message type of the gateway (`/docs/websocket.json`
//! lists them from the server's own table), with the answer each role must get (protocol §2.2, §2.6, §2.7).

use super::world::{Role, World};
use serde_json::{Value, json};

/// One client message type.
pub struct Message {
    pub kind: &'static str,
    /// The payload every role sends.
    pub payload: fn(&World) -> Value,
    /// The answer for each of [`super::world::ROLES`], in that order.
    pub expect: [Answer; 5],
}

/// What the sender gets back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A frame of exactly this type (`pong`, `authenticated`, `authentication_failed`).
    Frame(&'static str),
    /// `<type>_success`.
    Done,
    /// `<type>_success` whose `data.<field>` is null: nothing of the lobby is shown.
    Hidden(&'static str),
    /// `<type>_success` whose `data.<field>` is not null.
    Shown(&'static str),
    /// `error` with this message.
    Refused(&'static str),
}

impl Answer {
    /// Whether the role's attempt may have changed the host's lobby.
    pub fn may_change(self) -> bool {
        matches!(self, Answer::Done)
    }
}

const UNAUTHENTICATED: Answer = Answer::Refused("Non authentifié - veuillez vous connecter");

/// No credential and a revoked one are refused alike; the three signed-in roles get `stranger`, `member`, `host`.
const fn signed_in(stranger: Answer, member: Answer, host: Answer) -> [Answer; 5] {
    [UNAUTHENTICATED, UNAUTHENTICATED, stranger, member, host]
}

/// The same refusal for the stranger and the member (host-only messages); the host succeeds.
const fn host_only(refusal: &'static str) -> [Answer; 5] {
    signed_in(Answer::Refused(refusal), Answer::Refused(refusal), Answer::Done)
}

fn lobby(w: &World) -> Value {
    json!({"lobbyId": w.lobby})
}

const NOT_IN_LOBBY: &str = "Vous n'êtes pas dans ce lobby";

/// Every row. A message type the gateway gains without a row here fails the matrix.
pub fn messages() -> Vec<Message> {
    use Answer::*;
    vec![
        Message { kind: "ping", payload: |_| json!({}), expect: [Frame("pong"); 5] },
        Message {
            kind: "authenticate",
            payload: |w| json!({"userId": w.host.id}),
            expect: [
                Frame("authentication_failed"),
                Frame("authentication_failed"),
                Frame("authenticated"),
                Frame("authenticated"),
                Frame("authenticated"),
            ],
        },
        Message {
            kind: "send_friend_request",
            payload: |w| json!({"receiverTag": w.target.tag}),
            expect: signed_in(Done, Done, Done),
        },
        Message {
            kind: "respond_friend_request",
            payload: |w| json!({"requestId": w.request_id, "action": "accept"}),
            expect: signed_in(Refused("Non autorisé"), Refused("Non autorisé"), Done),
        },
        Message {
            kind: "create_lobby",
            payload: |_| json!({"settings": {"selectedRegions": ["Europe"]}}),
            expect: signed_in(Done, Done, Done),
        },
        Message {
            kind: "join_lobby",
            payload: lobby,
            expect: signed_in(Refused("Vous n'êtes pas autorisé à rejoindre ce lobby"), Done, Done),
        },
        // Leaving a lobby one is not in is a benign success that changes nothing (§2.9).
        Message { kind: "leave_lobby", payload: lobby, expect: signed_in(Done, Done, Done) },
        Message {
            kind: "invite_to_lobby",
            payload: |w| json!({"lobbyId": w.lobby, "friendId": w.friend.id}),
            expect: signed_in(
                Refused("Non autorisé à inviter des joueurs dans ce lobby"),
                Refused("Vous ne pouvez inviter que vos amis"),
                Done,
            ),
        },
        Message {
            kind: "update_lobby_settings",
            payload: |w| json!({"lobbyId": w.lobby, "settings": {"selectedRegions": ["Europe"]}}),
            expect: host_only("Seul l'hôte peut modifier les paramètres du lobby"),
        },
        Message {
            kind: "update_player_status",
            payload: |w| json!({"lobbyId": w.lobby, "status": "ready"}),
            expect: signed_in(Refused(NOT_IN_LOBBY), Done, Done),
        },
        Message {
            kind: "set_player_ready",
            payload: |w| json!({"lobbyId": w.lobby, "ready": true}),
            expect: signed_in(Refused(NOT_IN_LOBBY), Done, Done),
        },
        Message { kind: "start_game", payload: lobby, expect: host_only("Seul l'hôte peut démarrer la partie") },
        Message {
            kind: "update_player_progress",
            payload: |w| json!({"lobbyId": w.lobby, "validatedCountries": ["AUS"], "incorrectCountries": []}),
            expect: signed_in(Refused(NOT_IN_LOBBY), Done, Done),
        },
        Message {
            kind: "get_lobby_state",
            payload: lobby,
            expect: signed_in(Hidden("lobbyState"), Shown("lobbyState"), Shown("lobbyState")),
        },
        Message {
            kind: "get_game_state",
            payload: lobby,
            expect: signed_in(Hidden("gameState"), Shown("gameState"), Shown("gameState")),
        },
        Message {
            kind: "get_game_results",
            payload: lobby,
            expect: signed_in(
                Refused("Impossible de récupérer les résultats: Vous n'êtes pas dans ce lobby"),
                Refused("Impossible de récupérer les résultats: La partie n'est pas encore terminée"),
                Refused("Impossible de récupérer les résultats: La partie n'est pas encore terminée"),
            ),
        },
        Message { kind: "restart_game", payload: lobby, expect: host_only("Seul l'hôte peut redémarrer la partie") },
        Message {
            kind: "remove_player",
            payload: |w| json!({"lobbyId": w.lobby, "playerId": w.member.id}),
            expect: host_only("Impossible de supprimer le joueur: Seul l'hôte peut supprimer des joueurs"),
        },
    ]
}

/// Whether `frame` is the sender's answer to a `kind` message (rather than a push).
pub fn is_answer(kind: &str, frame: &Value) -> bool {
    let t = frame["type"].as_str().unwrap_or_default();
    t == "error"
        || t == format!("{kind}_success")
        || matches!(t, "pong" | "authenticated" | "authentication_failed" | "authentication_error")
}

/// Checks `frame` against `expected` for a `kind` message; a description of the mismatch.
pub fn check(kind: &str, expected: Answer, frame: &Value) -> Result<(), String> {
    let t = frame["type"].as_str().unwrap_or_default();
    let ok = match expected {
        Answer::Frame(f) => t == f,
        Answer::Done => t == format!("{kind}_success"),
        Answer::Hidden(field) => t == format!("{kind}_success") && frame["data"][field].is_null(),
        Answer::Shown(field) => t == format!("{kind}_success") && !frame["data"][field].is_null(),
        Answer::Refused(message) => t == "error" && frame["message"] == message,
    };
    if ok { Ok(()) } else { Err(format!("expected {expected:?}, got {frame}")) }
}

/// The role a socket's cookie names, for the failure messages.
pub fn describe(role: Role) -> &'static str {
    match role {
        Role::Anonymous => "anonymous",
        Role::Revoked => "revoked session",
        Role::Stranger => "signed-in stranger",
        Role::Member => "lobby member",
        Role::Host => "host",
    }
}
