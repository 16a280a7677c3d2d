//! Pushes to lobby members (protocol §2.8), as plain data whose serde form is the exact wire body.

use super::{GameStatus, LobbyName, LobbySettings, PlayerStatus, PublicProfile};
use crate::{CountryCode, LobbyId, Timestamp, UserId};
use serde::Serialize;
use serde_json::Value;

/// `game_restarted.payload.message`.
pub const GAME_RESTARTED_MESSAGE: &str = "Partie remise à zéro, retour au lobby d'attente.";
/// `player_removed.payload.message`.
pub const PLAYER_REMOVED_MESSAGE: &str = "Vous avez été expulsé du lobby par l'hôte";

/// `LobbyState` (§0.6): what `lobby_update` carries and `get_lobby_state` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LobbyState {
    pub lobby_id: LobbyId,
    pub name: LobbyName,
    pub status: GameStatus,
    pub host_id: UserId,
    pub settings: LobbySettings,
    /// Ordered by join time, earliest first.
    pub players: Vec<LobbyPlayer>,
}

/// `LobbyPlayer` (§0.6): public fields, game state (with both country lists, from which the client restores
/// a reloaded game) and connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LobbyPlayer {
    #[serde(flatten)]
    pub profile: PublicProfile,
    pub status: PlayerStatus,
    pub score: u32,
    pub progress: u8,
    pub validated_countries: Vec<CountryCode>,
    pub incorrect_countries: Vec<CountryCode>,
    pub connected: bool,
}

/// `get_game_state`'s `gameState`: the lobby state plus the game's start and size (null while waiting).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameState {
    #[serde(flatten)]
    pub lobby: LobbyState,
    pub start_time: Option<Timestamp>,
    pub total_questions: Option<u32>,
}

/// `game_start.data`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameStart {
    pub lobby_id: LobbyId,
    pub start_time: Timestamp,
    /// Distinct required codes (49 for Afrique, not the client's 51 entries).
    pub total_questions: u32,
    pub settings: LobbySettings,
    pub game_state: GameStartState,
}

/// `game_start.data.gameState`: the client's initial game view (no server-side question order exists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameStartState {
    pub start_time: Timestamp,
    pub current_question: u32,
    pub total_questions: u32,
    pub current_country: Option<CountryCode>,
    pub settings: LobbySettings,
}

/// `ProgressEntry` (§0.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressEntry {
    pub id: UserId,
    pub name: String,
    pub score: u32,
    pub progress: u8,
    pub validated_countries: Vec<CountryCode>,
    pub incorrect_countries: Vec<CountryCode>,
}

/// The `update_player_progress` push: every member's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressUpdate {
    pub lobby_id: LobbyId,
    pub players: Vec<ProgressEntry>,
}

/// `player_left_game.payload`; `timestamp` is the protocol's one epoch-millisecond number (§0.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayerLeftGame {
    pub lobby_id: LobbyId,
    pub player_id: UserId,
    pub player_name: String,
    pub timestamp: i64,
}

/// `lobby_invitation.payload`: `host*` name the host, `inviter*` the member who invited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LobbyInvitation {
    pub lobby_id: LobbyId,
    pub host_id: UserId,
    pub host_name: String,
    pub lobby_name: LobbyName,
    pub inviter_id: UserId,
    pub inviter_name: String,
}

/// A push to lobby members or to one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    LobbyUpdate(Box<LobbyState>),
    GameStart(Box<GameStart>),
    PlayerProgress(ProgressUpdate),
    GameEnd { lobby_id: LobbyId },
    GameRestarted { lobby_id: LobbyId },
    PlayerLeftGame(PlayerLeftGame),
    PlayerRemoved { lobby_id: LobbyId },
    LobbyInvitation(LobbyInvitation),
}

/// Where an envelope carries its body (protocol §0.5): only `game_start` uses `data` among pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKey {
    Data,
    Payload,
}

impl BodyKey {
    /// The envelope key.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKey::Data => "data",
            BodyKey::Payload => "payload",
        }
    }
}

impl Event {
    /// The envelope's `type`.
    pub fn message_type(&self) -> &'static str {
        match self {
            Event::LobbyUpdate(_) => "lobby_update",
            Event::GameStart(_) => "game_start",
            Event::PlayerProgress(_) => "update_player_progress",
            Event::GameEnd { .. } => "game_end",
            Event::GameRestarted { .. } => "game_restarted",
            Event::PlayerLeftGame(_) => "player_left_game",
            Event::PlayerRemoved { .. } => "player_removed",
            Event::LobbyInvitation(_) => "lobby_invitation",
        }
    }

    /// The envelope key of the body.
    pub fn body_key(&self) -> BodyKey {
        match self {
            Event::GameStart(_) => BodyKey::Data,
            _ => BodyKey::Payload,
        }
    }

    /// The whole frame: `{"type": …, "<data|payload>": body}`.
    pub fn envelope(&self) -> Result<Value, serde_json::Error> {
        let mut frame = serde_json::Map::new();
        frame.insert("type".into(), Value::from(self.message_type()));
        frame.insert(self.body_key().as_str().into(), serde_json::to_value(self)?);
        Ok(Value::Object(frame))
    }
}

/// A body of a lobby id and a fixed message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LobbyMessage<'a> {
    lobby_id: &'a LobbyId,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

/// Serialises the body only; [`Event::envelope`] wraps it.
impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let with = |lobby_id, message| LobbyMessage { lobby_id, message };
        match self {
            Event::LobbyUpdate(state) => state.serialize(s),
            Event::GameStart(start) => start.serialize(s),
            Event::PlayerProgress(update) => update.serialize(s),
            Event::GameEnd { lobby_id } => with(lobby_id, None).serialize(s),
            Event::GameRestarted { lobby_id } => with(lobby_id, Some(GAME_RESTARTED_MESSAGE)).serialize(s),
            Event::PlayerLeftGame(left) => left.serialize(s),
            Event::PlayerRemoved { lobby_id } => with(lobby_id, Some(PLAYER_REMOVED_MESSAGE)).serialize(s),
            Event::LobbyInvitation(invitation) => invitation.serialize(s),
        }
    }
}
