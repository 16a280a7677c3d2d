//! A multiplayer lobby's rules (protocol §3): data in, decisions out.
//!
//! A [`Lobby`] is one lobby's whole state. [`Lobby::apply`] takes a [`Command`] and the current time and
//! either refuses it with a [`LobbyError`] (the state is then unchanged) or changes the state and returns
//! the [`Effect`]s the change implies, in the order the actor must carry them out (see [`effect`]). Nothing
//! here reads a clock, draws randomness or performs I/O; timers are deadlines in the state
//! ([`Lobby::next_deadline`]) that come back as [`Command::TimerFired`].
//!
//! Where to read what: the §3.2 table is the `match` in [`Lobby::apply`]; joining, leaving, invitations,
//! kicks, connections and the host role are in `membership.rs`; ready, settings, start, progress, end and
//! restart in `game.rs`; timers in `timers.rs`; answers to queries in `queries.rs`; the §3.4 merge in
//! `progress.rs`; ranks in `results.rs`; rebuilding after a restart in `restore.rs`.
//!
//! Decisions where protocol.md is silent, as a player would expect them:
//! - The host is the member holding the role. When everyone has left, the stored host id stays (the row
//!   needs one) but names nobody: the first user to join the empty lobby becomes its host.
//! - A host transfer never hands the role back to the member losing it; with no other member, nothing moves.
//! - A member's own command shows they are present, so `restart_game` never removes the requester as away.
//! - A game whose every member had finished when the server stopped ends when it is restored (stored, no
//!   push), instead of waiting for a progress update the finished players will never send.

mod command;
mod config;
pub mod effect;
mod error;
mod event;
mod game;
mod member;
mod membership;
mod progress;
mod queries;
mod reply;
mod restore;
mod results;
mod settings;
mod timers;

#[cfg(test)]
mod tests;

pub use command::{Command, InviteRequest, Parsed, parse_ready, parse_status};
pub use config::{FairPlayConfig, LobbyConfig};
pub use effect::{
    Audience, AuditEntry, Change, Effect, FlagReason, InvitationRow, LobbyRow, MemberRow, ProgressRow, ResultRow,
    TransferReason,
};
pub use error::LobbyError;
pub use event::{
    BodyKey, Event, GAME_RESTARTED_MESSAGE, GameStart, GameStartState, GameState, LobbyInvitation, LobbyPlayer,
    LobbyState, PLAYER_REMOVED_MESSAGE, PlayerLeftGame, ProgressEntry, ProgressUpdate,
};
pub use member::{Member, PlayerStatus, PublicProfile};
pub use progress::{CODE_CHARS, Game, MAX_CODES_PER_LIST, ProgressLists};
pub use reply::{
    ALREADY_MEMBER_MESSAGE, Created, CreatedLobby, CreatedPlayer, INVITED_MESSAGE, LEFT_MESSAGE, NO_GAME_STATE_MESSAGE,
    REMOVED_MESSAGE, Reply,
};
pub use restore::{StoredInvitation, StoredLobby, StoredMember, StoredResult};
pub use results::{Ranking, Standing, rank};
pub use settings::{FALLBACK_PLAYER_NAME, LobbyName, LobbySettings, MAX_NAME_CHARS, SettingsUpdate};
pub use timers::Timer;

use crate::{LobbyId, Timestamp, UserId};
use serde::Serialize;

/// The name shown for a player the lobby has no profile of (the host of an emptied lobby in an invitation).
pub const UNKNOWN_PLAYER_NAME: &str = "Joueur inconnu";

/// A lobby's status (protocol §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GameStatus {
    Waiting,
    Playing,
    Finished,
}

impl GameStatus {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GameStatus::Waiting => "waiting",
            GameStatus::Playing => "playing",
            GameStatus::Finished => "finished",
        }
    }

    /// The status with this stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [GameStatus::Waiting, GameStatus::Playing, GameStatus::Finished].into_iter().find(|st| st.as_str() == s)
    }
}

/// An undelivered invitation, with what its deferred push needs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingInvitation {
    row: InvitationRow,
    inviter_name: String,
}

/// What `create_lobby` asks for, parsed ([`LobbyName::parse`], [`LobbySettings::parse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLobby {
    /// Minted by the server.
    pub id: LobbyId,
    pub host: PublicProfile,
    pub name: LobbyName,
    pub settings: LobbySettings,
}

/// One lobby's state: its members and their games, invitations and deadlines.
#[derive(Clone, Debug, PartialEq)]
pub struct Lobby {
    id: LobbyId,
    name: LobbyName,
    host: UserId,
    status: GameStatus,
    settings: LobbySettings,
    /// `authorizedPlayers`: who may join as a new member. The creator is listed from the start.
    authorized: Vec<UserId>,
    /// In join order.
    members: Vec<Member>,
    invitations: Vec<PendingInvitation>,
    created_at: Timestamp,
    /// The current or latest game, until a restart or the last departure clears it.
    game: Option<Game>,
    /// The latest finished game's rankings, while the lobby is `finished`.
    rankings: Vec<Ranking>,
    empty_deadline: Option<Timestamp>,
    idle_deadline: Option<Timestamp>,
    deleted: bool,
    config: LobbyConfig,
}

impl Lobby {
    /// `create_lobby` (§2.7.3): a waiting lobby whose host is its only member and only invited player.
    pub fn create(new: NewLobby, config: LobbyConfig, now: Timestamp) -> (Self, Vec<Effect>) {
        let host = new.host.id().clone();
        let member = Member::new(new.host, now);
        let lobby = Self {
            id: new.id,
            name: new.name,
            host: host.clone(),
            status: GameStatus::Waiting,
            settings: new.settings,
            authorized: vec![host.clone()],
            members: vec![member],
            invitations: Vec::new(),
            created_at: now,
            game: None,
            rankings: Vec::new(),
            empty_deadline: None,
            idle_deadline: None,
            deleted: false,
            config,
        };
        let row = LobbyRow {
            id: lobby.id.clone(),
            name: lobby.name.clone(),
            host: host.clone(),
            settings: lobby.settings.clone(),
            authorized: lobby.authorized.clone(),
            created_at: now,
        };
        let host_row = MemberRow { user: host, status: PlayerStatus::Joined, joined_at: now };
        let reply = Reply::Created(Box::new(lobby.created_reply()));
        (lobby, vec![Effect::Persist(Change::CreateLobby { lobby: row, host: host_row }), Effect::Reply(reply)])
    }

    /// Applies one command at `now`: the §3.2 table, one arm per row. On `Err` nothing changed.
    pub fn apply(&mut self, cmd: Command, now: Timestamp) -> Result<Vec<Effect>, LobbyError> {
        if self.deleted {
            return cmd.answer_for_missing_lobby(&self.id);
        }
        let effects = match cmd {
            Command::Join { player } => self.join(player, now),
            Command::Leave { user } => Ok(self.leave(&user, now)),
            Command::Invite(request) => self.invite(request, now),
            Command::UpdateSettings { by, settings } => self.update_settings(&by, settings, now),
            Command::SetReady { user, ready } => self.set_ready(&user, ready, now),
            Command::Start { by } => self.start(&by, now),
            Command::Progress { user, lists } => self.progress(&user, lists, now),
            Command::GetLobbyState { user } => Ok(self.lobby_state_reply(&user)),
            Command::GetGameState { user } => Ok(self.game_state_reply(&user)),
            Command::GetResults { user } => self.results_reply(&user),
            Command::Restart { by } => self.restart(&by),
            Command::Kick { by, player } => self.kick(&by, &player),
            Command::Connected { user } => Ok(self.connected(&user, now)),
            Command::Dropped { user } => Ok(self.dropped(&user, now)),
            Command::TimerFired(timer) => Ok(self.timer_fired(timer, now)),
        }?;
        self.schedule_lobby_timers(now);
        Ok(effects)
    }

    /// The lobby's id.
    pub fn id(&self) -> &LobbyId {
        &self.id
    }

    /// The lobby's name.
    pub fn name(&self) -> &LobbyName {
        &self.name
    }

    /// The host's id; a member whenever the lobby has members.
    pub fn host(&self) -> &UserId {
        &self.host
    }

    /// Waiting, playing or finished.
    pub fn status(&self) -> GameStatus {
        self.status
    }

    /// The current settings.
    pub fn settings(&self) -> &LobbySettings {
        &self.settings
    }

    /// Members in join order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member with this id.
    pub fn member(&self, user: &UserId) -> Option<&Member> {
        self.members.iter().find(|m| m.id() == user)
    }

    /// Users who may join (`authorizedPlayers`).
    pub fn authorized(&self) -> &[UserId] {
        &self.authorized
    }

    /// The current or latest game's fixed facts.
    pub fn game(&self) -> Option<&Game> {
        self.game.as_ref()
    }

    /// The latest finished game's rankings (empty unless `finished`).
    pub fn rankings(&self) -> &[Ranking] {
        &self.rankings
    }

    /// When the lobby was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The lobby was deleted: the actor should be gone; any straggling command is answered as for an
    /// unknown lobby.
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// The configuration the lobby runs with.
    pub fn config(&self) -> &LobbyConfig {
        &self.config
    }

    fn is_member(&self, user: &UserId) -> bool {
        self.member(user).is_some()
    }

    fn member_mut(&mut self, user: &UserId) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id() == user)
    }

    /// Holds the host role: named host and a member (a former host who left is not).
    fn is_host(&self, user: &UserId) -> bool {
        self.host == *user && self.is_member(user)
    }

    fn member_ids(&self) -> Vec<UserId> {
        self.members.iter().map(|m| m.id().clone()).collect()
    }

    /// A push to every current member; nothing when there is nobody to tell.
    fn push_members(&self, out: &mut Vec<Effect>, event: Event) {
        if !self.members.is_empty() {
            out.push(Effect::Push(Audience::Members(self.member_ids()), event));
        }
    }

    /// `lobby_update` to every current member.
    fn push_update(&self, out: &mut Vec<Effect>) {
        self.push_members(out, Event::LobbyUpdate(Box::new(self.lobby_state())));
    }
}
