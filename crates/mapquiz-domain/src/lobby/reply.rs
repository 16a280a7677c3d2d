//! Direct answers to the requesting socket: the `data` of `<type>_success` (protocol §2.7), exact shapes.

use super::{GameState, GameStatus, LobbyName, LobbySettings, LobbyState, PlayerStatus, PublicProfile, Ranking};
use crate::{LobbyId, Timestamp, UserId};
use serde::Serialize;

/// `leave_lobby_success.data.message`.
pub const LEFT_MESSAGE: &str = "Lobby quitté";
/// `invite_to_lobby_success.data.message` when the invitation was stored.
pub const INVITED_MESSAGE: &str = "Invitation envoyée";
/// `invite_to_lobby_success.data.message` for a member (a benign repeat).
pub const ALREADY_MEMBER_MESSAGE: &str = "Joueur déjà dans le lobby";
/// `remove_player_success.data.message`.
pub const REMOVED_MESSAGE: &str = "Joueur supprimé avec succès";
/// `get_game_state_success.data.message` when there is no state to show.
pub const NO_GAME_STATE_MESSAGE: &str = "Aucun état de jeu disponible";

/// A success reply's `data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `create_lobby`.
    Created(Box<Created>),
    /// `{"success":true}`: join, settings, status, ready, start, progress, restart.
    Success,
    /// `{"success":true,"message":…}`: leave and invite.
    SuccessMessage(&'static str),
    /// `get_lobby_state`: `lobbyState` is null for a non-member or an unknown lobby.
    LobbyState { lobby_id: LobbyId, state: Option<Box<LobbyState>> },
    /// `get_game_state`: `gameState` is null (with a message) for a non-member or an unknown lobby.
    GameState { lobby_id: LobbyId, state: Option<Box<GameState>> },
    /// `get_game_results`.
    Results { lobby_id: LobbyId, host_id: UserId, rankings: Vec<Ranking> },
    /// `remove_player`, also when the player was no longer a member.
    PlayerRemoved { lobby_id: LobbyId, player_id: UserId },
}

/// `create_lobby_success.data`: the new lobby and its only player, never a database row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub success: bool,
    pub lobby_id: LobbyId,
    pub host_id: UserId,
    pub settings: LobbySettings,
    pub lobby: CreatedLobby,
    pub players: Vec<CreatedPlayer>,
}

/// `create_lobby_success.data.lobby`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedLobby {
    pub id: LobbyId,
    pub name: LobbyName,
    pub host_id: UserId,
    pub status: GameStatus,
    pub settings: LobbySettings,
    pub created_at: Timestamp,
}

/// `create_lobby_success.data.players[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreatedPlayer {
    #[serde(flatten)]
    pub profile: PublicProfile,
    pub status: PlayerStatus,
}

/// The shapes of the smaller replies; `None` fields are omitted, except the documented nulls.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    success: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lobby_id: Option<&'a LobbyId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_id: Option<&'a UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    player_id: Option<&'a UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lobby_state: Option<Option<&'a LobbyState>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    game_state: Option<Option<&'a GameState>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rankings: Option<&'a [Ranking]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

const EMPTY: Body<'static> = Body {
    success: None,
    lobby_id: None,
    host_id: None,
    player_id: None,
    lobby_state: None,
    game_state: None,
    rankings: None,
    message: None,
};

impl Serialize for Reply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let body = match self {
            Reply::Created(created) => return created.serialize(s),
            Reply::Success => Body { success: Some(true), ..EMPTY },
            Reply::SuccessMessage(message) => Body { success: Some(true), message: Some(message), ..EMPTY },
            Reply::LobbyState { lobby_id, state } => {
                Body { lobby_id: Some(lobby_id), lobby_state: Some(state.as_deref()), ..EMPTY }
            }
            Reply::GameState { lobby_id, state } => Body {
                lobby_id: Some(lobby_id),
                game_state: Some(state.as_deref()),
                message: state.is_none().then_some(NO_GAME_STATE_MESSAGE),
                ..EMPTY
            },
            Reply::Results { lobby_id, host_id, rankings } => {
                Body { lobby_id: Some(lobby_id), host_id: Some(host_id), rankings: Some(rankings), ..EMPTY }
            }
            Reply::PlayerRemoved { lobby_id, player_id } => {
                Body { lobby_id: Some(lobby_id), player_id: Some(player_id), message: Some(REMOVED_MESSAGE), ..EMPTY }
            }
        };
        body.serialize(s)
    }
}
