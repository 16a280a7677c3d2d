//! What can happen to a lobby: the client's lobby messages (protocol §2.7.4–§2.7.15), the socket lifecycle
//! and the lobby's own timers.

use super::{Effect, LobbyError, ProgressLists, PublicProfile, Reply, SettingsUpdate, Timer};
use crate::{InvitationId, LobbyId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A payload field as the transport parsed it. A parse failure travels inside the command because the
/// protocol reports it only after the lobby checks that precede it (e.g. `Statut invalide` comes after
/// `Vous n'êtes pas dans ce lobby`).
pub type Parsed<T> = Result<T, LobbyError>;

/// One input to [`super::Lobby::apply`]. Creating a lobby is [`super::Lobby::create`]: there is no lobby to
/// apply it to yet. Serialisable so that a node can hand a command to the node that owns the lobby.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `join_lobby`; the profile fills the new `LobbyPlayer` (and refreshes a returning member's).
    Join { player: PublicProfile },
    /// `leave_lobby`.
    Leave { user: UserId },
    /// `invite_to_lobby`.
    Invite(InviteRequest),
    /// `update_lobby_settings`.
    UpdateSettings { by: UserId, settings: Parsed<SettingsUpdate> },
    /// `update_player_status` and `set_player_ready`: `true` is `ready`, `false` is `joined`.
    SetReady { user: UserId, ready: Parsed<bool> },
    /// `start_game`.
    Start { by: UserId },
    /// `update_player_progress`; the client's `score` and `totalQuestions` are never read.
    Progress { user: UserId, lists: Parsed<ProgressLists> },
    /// `get_lobby_state`.
    GetLobbyState { user: UserId },
    /// `get_game_state`.
    GetGameState { user: UserId },
    /// `get_game_results`.
    GetResults { user: UserId },
    /// `restart_game`.
    Restart { by: UserId },
    /// `remove_player`.
    Kick { by: UserId, player: UserId },
    /// The user's first socket authenticated (or a socket re-authenticated): a member is connected again;
    /// an invitee gets a pending invitation (§3.9). The server sends it to every lobby the user is a member
    /// of or has an undelivered invitation from.
    Connected { user: UserId },
    /// The user's last socket closed: a member's disconnect grace starts.
    Dropped { user: UserId },
    /// A deadline of [`super::Lobby::due_timers`] passed. A timer that is no longer due (cancelled or moved
    /// since) does nothing, so a late message is harmless.
    TimerFired(Timer),
}

/// `invite_to_lobby`, with what the server looked up: friendship and presence live in the store and the hub.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    pub by: UserId,
    pub friend: UserId,
    /// `friend` is a friend of `by`.
    pub is_friend: bool,
    /// `friend` has a connected socket now: the invitation is pushed now, otherwise at their next connection.
    pub friend_online: bool,
    /// The id the stored invitation gets (minted by the server).
    pub invitation: InvitationId,
}

impl Command {
    /// The answer for a lobby that does not exist (never created, or deleted): `Lobby non trouvé` in the
    /// command's wording, except the benign cases of §2.9 (leave, and the state queries answering null).
    pub fn answer_for_missing_lobby(&self, lobby: &LobbyId) -> Result<Vec<Effect>, LobbyError> {
        let reply = match self {
            Command::Leave { .. } => Reply::SuccessMessage(super::reply::LEFT_MESSAGE),
            Command::GetLobbyState { .. } => Reply::LobbyState { lobby_id: lobby.clone(), state: None },
            Command::GetGameState { .. } => Reply::GameState { lobby_id: lobby.clone(), state: None },
            Command::GetResults { .. } => return Err(LobbyError::ResultsLobbyNotFound),
            Command::Kick { .. } => return Err(LobbyError::KickLobbyNotFound),
            Command::Connected { .. } | Command::Dropped { .. } | Command::TimerFired(_) => return Ok(Vec::new()),
            Command::Join { .. }
            | Command::Invite(_)
            | Command::UpdateSettings { .. }
            | Command::SetReady { .. }
            | Command::Start { .. }
            | Command::Progress { .. }
            | Command::Restart { .. } => return Err(LobbyError::NotFound),
        };
        Ok(vec![Effect::Reply(reply)])
    }
}

/// `update_player_status.status`: `"ready"` or `"joined"`.
pub fn parse_status(raw: Option<&Value>) -> Parsed<bool> {
    match raw.and_then(Value::as_str) {
        Some("ready") => Ok(true),
        Some("joined") => Ok(false),
        _ => Err(LobbyError::InvalidStatus),
    }
}

/// `set_player_ready.ready`: a boolean.
pub fn parse_ready(raw: Option<&Value>) -> Parsed<bool> {
    raw.and_then(Value::as_bool).ok_or(LobbyError::InvalidStatus)
}
