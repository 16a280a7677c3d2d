//! What `Lobby::apply` decides: the writes, reply, pushes and audit entries a command implies, in the order
//! the actor must carry them out.
//!
//! **Order is the contract.** The actor executes effects in vector order and finishes each `Persist` before
//! the next effect: so every transition is stored before the reply and pushes that reveal it (§3.11), and the
//! reply precedes the pushes (§2.5). Consecutive `Persist` effects may share one transaction. A `Persist` may
//! follow the reply where the protocol says so: the end of a game is stored after the progress reply and
//! before `lobby_update` and `game_end` (§2.7.10).

use super::{Event, LobbyName, LobbySettings, PlayerStatus, Reply};
use crate::{CountryCode, InvitationId, LobbyId, Timestamp, UserId};

/// One decision of the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Write through the store; the effects after it wait for it.
    Persist(Change),
    /// A player's merged progress: coalesced by the writer and flushed within 1 s, and always before a
    /// following `Persist(Change::FinishGame)` is written.
    RecordProgress(ProgressRow),
    /// The `<type>_success` data to the requesting socket.
    Reply(Reply),
    /// A push; the audience is resolved here, at decision time, so a member who just left is not in it.
    Push(Audience, Event),
    /// An entry for the audit log (and a metric).
    Audit(AuditEntry),
    /// The lobby is gone (after `Persist(Change::DeleteLobby)`): the actor stops and the registry forgets it.
    Dispose,
}

/// Who receives a push: every socket of each user listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// These members, in join order.
    Members(Vec<UserId>),
    /// One user (the kicked player, an invitee).
    User(UserId),
}

impl Audience {
    /// The users addressed.
    pub fn users(&self) -> &[UserId] {
        match self {
            Audience::Members(users) => users,
            Audience::User(user) => std::slice::from_ref(user),
        }
    }
}

/// A write to this lobby's stored rows, one per row of the persistence table of §3.11. Rows name users by
/// id; the lobby is the actor's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new lobby with its host as only member and only authorised player.
    CreateLobby { lobby: LobbyRow, host: MemberRow },
    /// A new membership; the member's pending invitations to this lobby end (§2.7.4).
    AddMember(MemberRow),
    /// A membership deleted (leave, grace expiry in a waiting lobby). The user stays authorised.
    RemoveMember { user: UserId },
    /// The host role moved (§3.7).
    TransferHost { host: UserId },
    /// The settings replaced.
    SetSettings(LobbySettings),
    /// One member's ready/joined status.
    SetMemberStatus { user: UserId, status: PlayerStatus },
    /// Lobby `playing` from `start_time` with these required codes; every member reset to `playing`,
    /// score 0, progress 0, empty lists, no completion time, not flagged.
    StartGame { start_time: Timestamp, required_codes: Vec<CountryCode> },
    /// One result per member and the lobby `finished`, in one transaction (§3.6). Pending progress rows
    /// of this lobby are flushed first.
    FinishGame { game_started_at: Timestamp, total_questions: u32, results: Vec<ResultRow> },
    /// Lobby `waiting`, game state cleared, `removed` (away members) deleted, every other member reset to
    /// `joined` with nothing answered (§3.3).
    RestartGame { removed: Vec<UserId> },
    /// The last member left: lobby `waiting` with its game state cleared; deletion is scheduled (§2.7.5).
    ResetEmpty,
    /// `invitation.invitee` authorised and the invitation stored, replacing an older one from this lobby to
    /// the same user (§2.7.6).
    Invite(InvitationRow),
    /// A deferred invitation was just pushed, or found expired at the invitee's connection: it ends (§3.9).
    InvitationEnded { invitation: InvitationId },
    /// `user` no longer authorised, their invitations to this lobby deleted, their membership deleted if
    /// `was_member` (§2.7.15).
    Kick { user: UserId, was_member: bool },
    /// The lobby, its memberships and invitations deleted; results kept.
    DeleteLobby,
}

/// The lobby row as created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LobbyRow {
    pub id: LobbyId,
    pub name: LobbyName,
    pub host: UserId,
    pub settings: LobbySettings,
    pub authorized: Vec<UserId>,
    pub created_at: Timestamp,
}

/// A membership as inserted (status `joined`, nothing answered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    pub user: UserId,
    pub status: PlayerStatus,
    pub joined_at: Timestamp,
}

/// A member's merged progress, with the derived values the row stores. It names its lobby because one
/// writer batches the rows of many lobbies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressRow {
    pub lobby: LobbyId,
    pub user: UserId,
    pub status: PlayerStatus,
    pub score: u32,
    pub progress: u8,
    pub validated: Vec<CountryCode>,
    pub incorrect: Vec<CountryCode>,
    pub completion_secs: Option<u32>,
    pub flagged: bool,
}

/// One member's stored result of a finished game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultRow {
    pub user: UserId,
    pub score: u32,
    pub completion_secs: Option<u32>,
    /// Equals the rank: 1 + the number of strictly higher scores.
    pub position: u32,
    /// The fair-play mark (issue 12): the result stands, a human may look.
    pub flagged: bool,
}

/// A stored invitation (§3.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub inviter: UserId,
    pub invitee: UserId,
    pub created_at: Timestamp,
    /// Pushed at creation because the invitee was online; such an invitation has already ended.
    pub delivered: bool,
}

/// Something worth a line in the audit log; all are about this lobby.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditEntry {
    /// The host removed a player.
    Kicked { by: UserId, player: UserId },
    /// The host role moved.
    HostTransferred { from: UserId, to: UserId, reason: TransferReason },
    /// A progress update carried codes outside the game's required set (§3.4). Each code is reported once
    /// per player and game.
    IgnoredCodes { user: UserId, codes: Vec<String> },
    /// A result got the fair-play mark.
    Flagged { user: UserId, reason: FlagReason },
}

/// Why the host changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferReason {
    /// The host left or was removed as by a leave.
    Left,
    /// The host stayed disconnected past the grace period.
    GraceExpired,
}

/// Why a result is flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagReason {
    /// Averaged less than the floor per validated country over the game.
    TooFast { avg_ms_per_country: u64, validated: u32 },
    /// Added more new codes in one update than a player can answer between two updates.
    Burst { new_codes: u32 },
}
