//! The lobby messages of the WebSocket (protocol §2.7.3–§2.7.15): one table entry each, then its handler,
//! which reads the payload into a [`Command`] (the required fields first: `lobbyId requis`, …) and hands it
//! to the lobby's actor. The actor writes the reply into this socket's queue and then publishes the pushes,
//! in the order it applies commands, so every handler here answers [`Handled::Sent`].

use super::Requester;
use crate::state::AppState;
use crate::ws::protocol::incoming::{Failure, Handled, Incoming, MessageSpec, store_failure};
use crate::ws::protocol::text;
use mapquiz_domain::lobby::{
    Command, InviteRequest, LobbyError, LobbyName, LobbySettings, NewLobby, ProgressLists, PublicProfile,
    SettingsUpdate, parse_ready, parse_status,
};
use mapquiz_domain::{InvitationId, LobbyId, MAX_ID_LEN, UserId};
use serde_json::json;

const LOBBY_ID: (&str, &str) = ("lobbyId requis", "lobbyId missing or not a non-empty string");
/// Past `rate_limit_lobbies_max` lobbies created per window (the web client sends `create_lobby` from its
/// home page, where any `error` is shown as a toast).
const TOO_MANY_LOBBIES: &str = "Trop de lobbies créés, veuillez réessayer plus tard";

/// The lobby messages, in the protocol's order.
pub static MESSAGES: &[MessageSpec<AppState>] = &[
    MessageSpec {
        kind: "create_lobby",
        example: || json!({"name": "Soirée géo", "settings": {"selectedRegions": ["Europe", "Afrique"], "gameMode": "quiz"}}),
        payload_errors: &[
            ("Nom de lobby invalide", "name not a string, or longer than 100 characters once trimmed"),
            (
                "Paramètres de lobby invalides",
                "settings not an object, selectedRegions empty or unknown, gameMode not quiz/training",
            ),
            (TOO_MANY_LOBBIES, "over rate_limit_lobbies_max lobbies created per window"),
        ],
        handle: |m| Box::pin(create_lobby(m)),
    },
    MessageSpec {
        kind: "join_lobby",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e"}),
        payload_errors: &[LOBBY_ID],
        handle: |m| Box::pin(join_lobby(m)),
    },
    MessageSpec {
        kind: "leave_lobby",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e"}),
        payload_errors: &[LOBBY_ID],
        handle: |m| Box::pin(leave_lobby(m)),
    },
    MessageSpec {
        kind: "invite_to_lobby",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e", "friendId": "<friend's user id>"}),
        payload_errors: &[LOBBY_ID, ("friendId requis", "friendId missing or not a non-empty string")],
        handle: |m| Box::pin(invite_to_lobby(m)),
    },
    MessageSpec {
        kind: "update_lobby_settings",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e", "settings": {"selectedRegions": ["Asie"], "gameMode": "quiz"}}),
        payload_errors: &[
            LOBBY_ID,
            (
                "Paramètres de lobby invalides",
                "settings not an object, selectedRegions not known regions, gameMode invalid (after the lobby checks)",
            ),
        ],
        handle: |m| Box::pin(update_lobby_settings(m)),
    },
    MessageSpec {
        kind: "update_player_status",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e", "status": "ready"}),
        payload_errors: &[LOBBY_ID, ("Statut invalide", "status not ready/joined (after the membership check)")],
        handle: |m| Box::pin(update_player_status(m)),
    },
    MessageSpec {
        kind: "set_player_ready",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e", "ready": true}),
        payload_errors: &[LOBBY_ID, ("Statut invalide", "ready not a boolean (after the membership check)")],
        handle: |m| Box::pin(set_player_ready(m)),
    },
    MessageSpec {
        kind: "start_game",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e"}),
        payload_errors: &[LOBBY_ID],
        handle: |m| Box::pin(start_game(m)),
    },
    MessageSpec {
        kind: "update_player_progress",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e", "validatedCountries": ["FR", "DE"], "incorrectCountries": ["IT"], "score": 2, "totalQuestions": 51}),
        payload_errors: &[
            LOBBY_ID,
            (
                "Données de progression invalides",
                "a list not an array of strings (at most 500, each 1–8 characters), after the membership check",
            ),
        ],
        handle: |m| Box::pin(update_player_progress(m)),
    },
    MessageSpec {
        kind: "get_lobby_state",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e"}),
        payload_errors: &[LOBBY_ID],
        handle: |m| Box::pin(get_lobby_state(m)),
    },
    MessageSpec {
        kind: "get_game_state",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e"}),
        payload_errors: &[LOBBY_ID],
        handle: |m| Box::pin(get_game_state(m)),
    },
    MessageSpec {
        kind: "get_game_results",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e"}),
        payload_errors: &[LOBBY_ID],
        handle: |m| Box::pin(get_game_results(m)),
    },
    MessageSpec {
        kind: "restart_game",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e"}),
        payload_errors: &[LOBBY_ID],
        handle: |m| Box::pin(restart_game(m)),
    },
    MessageSpec {
        kind: "remove_player",
        example: || json!({"lobbyId": "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e", "playerId": "<member's user id>"}),
        payload_errors: &[LOBBY_ID, ("playerId requis", "playerId missing or not a non-empty string")],
        handle: |m| Box::pin(remove_player(m)),
    },
];

/// A rule's refusal as the `error` message.
fn refused(e: LobbyError) -> Failure {
    Failure::Owned(e.to_string())
}

/// An id from the payload. One longer than any id can be names nothing: it is cut to the longest
/// plausible length, which no stored id has (they are 32 or 36 characters), so every rule treats it as the
/// unknown lobby or user it is.
fn id_of<T>(raw: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
    parse(raw).or_else(|| parse(&raw.chars().take(MAX_ID_LEN).collect::<String>()))
}

/// `payload.lobbyId`, or `lobbyId requis`.
fn lobby_id(m: &Incoming<'_, AppState>) -> Result<LobbyId, Failure> {
    let raw = m.required("lobbyId").ok_or_else(|| refused(LobbyError::MissingLobbyId))?;
    id_of(raw, LobbyId::parse).ok_or_else(|| refused(LobbyError::MissingLobbyId))
}

/// A user id field, or `missing`.
fn user_field(m: &Incoming<'_, AppState>, key: &str, missing: LobbyError) -> Result<UserId, Failure> {
    let raw = m.required(key).ok_or_else(|| refused(missing))?;
    id_of(raw, UserId::parse).ok_or_else(|| refused(missing))
}

/// The caller's id as the rules know it.
fn me(m: &Incoming<'_, AppState>) -> Result<UserId, Failure> {
    UserId::parse(&m.me.id).ok_or(Failure::Borrowed(text::OPERATION_FAILED))
}

/// The caller's public fields (never the email).
fn profile(m: &Incoming<'_, AppState>) -> Result<PublicProfile, Failure> {
    Ok(PublicProfile::new(me(m)?, &m.me.name, m.me.image.clone(), m.me.tag.clone().unwrap_or_default()))
}

/// Hands `cmd` to the lobby's actor, which answers this socket.
async fn dispatch(
    m: &Incoming<'_, AppState>,
    kind: &'static str,
    lobby: LobbyId,
    cmd: Command,
) -> Result<Handled, Failure> {
    let requester = Requester::socket(kind, m.outbox.clone());
    m.state.realtime.lobbies.router().dispatch(&lobby, cmd, Some(requester)).await?;
    Ok(Handled::Sent)
}

/// `create_lobby {name?, settings}`.
async fn create_lobby(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let host = profile(&m)?;
    let name = LobbyName::parse(m.payload.get("name"), host.name()).map_err(refused)?;
    let settings = LobbySettings::parse(m.payload.get("settings")).map_err(refused)?;
    // Counted once the payload is valid: a malformed create costs nothing and creates nothing.
    let limiters = &m.state.limiters;
    if limiters.check_user(&limiters.lobbies_created, "lobbies", &m.me.id).await.is_err() {
        return Err(Failure::Borrowed(TOO_MANY_LOBBIES));
    }
    let new = NewLobby { id: LobbyId::new(), host, name, settings };
    let requester = Requester::socket("create_lobby", m.outbox.clone());
    m.state.realtime.lobbies.router().create(new, requester).await?;
    Ok(Handled::Sent)
}

/// `join_lobby {lobbyId}`.
async fn join_lobby(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::Join { player: profile(&m)? };
    dispatch(&m, "join_lobby", lobby, cmd).await
}

/// `leave_lobby {lobbyId}`.
async fn leave_lobby(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::Leave { user: me(&m)? };
    dispatch(&m, "leave_lobby", lobby, cmd).await
}

/// `invite_to_lobby {lobbyId, friendId}`: friendship is read from the store and presence from the sockets
/// of every node before the lobby's checks run.
async fn invite_to_lobby(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let friend = user_field(&m, "friendId", LobbyError::MissingFriendId)?;
    let by = me(&m)?;
    let is_friend = m.state.store.are_friends(by.as_str(), friend.as_str()).await.map_err(|e| store_failure(&e))?;
    let friend_online = m.state.realtime.presence.connected_anywhere(friend.as_str()).await;
    let request = InviteRequest { by, friend, is_friend, friend_online, invitation: InvitationId::new() };
    dispatch(&m, "invite_to_lobby", lobby, Command::Invite(request)).await
}

/// `update_lobby_settings {lobbyId, settings}`.
async fn update_lobby_settings(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::UpdateSettings { by: me(&m)?, settings: SettingsUpdate::parse(m.payload.get("settings")) };
    dispatch(&m, "update_lobby_settings", lobby, cmd).await
}

/// `update_player_status {lobbyId, status}`.
async fn update_player_status(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::SetReady { user: me(&m)?, ready: parse_status(m.payload.get("status")) };
    dispatch(&m, "update_player_status", lobby, cmd).await
}

/// `set_player_ready {lobbyId, ready}`.
async fn set_player_ready(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::SetReady { user: me(&m)?, ready: parse_ready(m.payload.get("ready")) };
    dispatch(&m, "set_player_ready", lobby, cmd).await
}

/// `start_game {lobbyId}`.
async fn start_game(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::Start { by: me(&m)? };
    dispatch(&m, "start_game", lobby, cmd).await
}

/// `update_player_progress {lobbyId, validatedCountries, incorrectCountries, score?, totalQuestions?}`: the
/// client's score and total are never read.
async fn update_player_progress(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let lists = ProgressLists::parse(m.payload.get("validatedCountries"), m.payload.get("incorrectCountries"));
    let cmd = Command::Progress { user: me(&m)?, lists };
    dispatch(&m, "update_player_progress", lobby, cmd).await
}

/// `get_lobby_state {lobbyId}`.
async fn get_lobby_state(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::GetLobbyState { user: me(&m)? };
    dispatch(&m, "get_lobby_state", lobby, cmd).await
}

/// `get_game_state {lobbyId}`.
async fn get_game_state(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::GetGameState { user: me(&m)? };
    dispatch(&m, "get_game_state", lobby, cmd).await
}

/// `get_game_results {lobbyId}`.
async fn get_game_results(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::GetResults { user: me(&m)? };
    dispatch(&m, "get_game_results", lobby, cmd).await
}

/// `restart_game {lobbyId}`.
async fn restart_game(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let cmd = Command::Restart { by: me(&m)? };
    dispatch(&m, "restart_game", lobby, cmd).await
}

/// `remove_player {lobbyId, playerId}`.
async fn remove_player(m: Incoming<'_, AppState>) -> Result<Handled, Failure> {
    let lobby = lobby_id(&m)?;
    let player = user_field(&m, "playerId", LobbyError::MissingPlayerId)?;
    let cmd = Command::Kick { by: me(&m)?, player };
    dispatch(&m, "remove_player", lobby, cmd).await
}
