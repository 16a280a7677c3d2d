//! Multiplayer lobbies: their write-through changes, the batched progress writes, the restore at start-up and
//! the game history (protocol §3.11, issue 12).
//!
//! Every operation takes the domain's rows ([`Change`], [`ProgressRow`]) and gives back the domain's restore
//! types ([`StoredLobby`]), so the rules and the SQL share one vocabulary.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::lobby::{Change, ProgressRow, PublicProfile, StoredLobby};
use mapquiz_domain::scores::GameMode;
use mapquiz_domain::{LobbyId, Region, Timestamp, UserId};

/// A position in a user's game history: the last game of the previous page. Games are ordered by start time,
/// newest first, then by lobby id (a lobby starts at most one game at a given instant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameCursor {
    pub started_at: Timestamp,
    pub lobby: LobbyId,
}

/// One finished multiplayer game as the history shows it; it outlives its lobby.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameRecord {
    pub lobby: LobbyId,
    /// The lobby's name when the game ended.
    pub lobby_name: String,
    /// The regions played, in the order the host chose them.
    pub regions: Vec<Region>,
    pub mode: GameMode,
    pub started_at: Timestamp,
    /// When the results were stored.
    pub ended_at: Timestamp,
    /// The distinct required codes of the game.
    pub total_questions: u32,
    /// Every player's result, by rank, then completion time (unfinished last), then id.
    pub players: Vec<GamePlayer>,
}

impl GameRecord {
    /// The cursor that continues after this game.
    pub fn cursor(&self) -> GameCursor {
        GameCursor { started_at: self.started_at, lobby: self.lobby.clone() }
    }

    /// Whole seconds from the start to the end of the game.
    pub fn duration_secs(&self) -> u32 {
        let ms = self.ended_at.millis().saturating_sub(self.started_at.millis()).max(0) / 1000;
        u32::try_from(ms).unwrap_or(u32::MAX)
    }
}

/// One player's stored result, with their public profile only (never an email).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GamePlayer {
    pub profile: PublicProfile,
    /// The stored position: 1 + the number of strictly higher scores.
    pub rank: u32,
    pub score: u32,
    pub completion_secs: Option<u32>,
    /// The fair-play mark: the result stands, a human may look.
    pub flagged: bool,
}

/// One lobby's part of a group commit: its waiting progress, then its write-through changes, under the
/// fencing token of the node that owns it.
#[derive(Clone, Copy, Debug)]
pub struct LobbyWrite<'a> {
    pub lobby: &'a LobbyId,
    /// The owner's fencing token (several nodes, issue 13): the lobby's part is skipped, as
    /// [`WriteOutcome::Fenced`], when the stored token is newer, and the stored token becomes this one
    /// otherwise. `None` (one node): no check.
    pub fence: Option<u64>,
    pub progress: &'a [ProgressRow],
    pub changes: &'a [Change],
}

/// What a group commit did with one lobby's part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written (or nothing to write).
    Stored,
    /// The lobby is not stored: its changes were skipped.
    LobbyGone,
    /// A newer owner holds the lobby: its part was skipped.
    Fenced,
}

/// Lobbies, their members, invitations and game results.
#[async_trait]
pub trait Lobbies: Send + Sync {
    /// Stores each lobby's part in one transaction: a group commit, so that many lobbies' commands share
    /// one commit (write-through, §3.11). A part's progress is stored as [`Lobbies::save_progress_batch`]
    /// does, then its changes in order. `now` stamps the rows written (`updated_at`, the results' end
    /// time). A part whose lobby is not stored is skipped and answers [`WriteOutcome::LobbyGone`] (one whose
    /// changes are only `DeleteLobby` answers `Stored`: already done); a fenced part answers
    /// [`WriteOutcome::Fenced`]; any other failure rolls the whole group back. Retrying a group whose outcome
    /// is unknown is safe: creation, membership and results are written idempotently. A lobby has at most
    /// one part with a fence; parts are applied in lobby id order, so concurrent groups (several nodes) lock
    /// rows in one order.
    async fn persist_lobby_group(
        &self,
        writes: &[LobbyWrite<'_>],
        now: Timestamp,
    ) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Takes lobby `lobby` for the owner of fencing token `fence` (several nodes, issue 13): from now on
    /// writes with an older token are refused. `Fenced` when a newer token is stored, `LobbyGone` when the
    /// lobby is not stored.
    async fn claim_lobby(&self, lobby: &LobbyId, fence: u64) -> Result<WriteOutcome, StoreError>;

    /// Applies `changes` to lobby `lobby` in order, in one transaction: a group of one, without a fence.
    /// Changes to a lobby that is not stored answer `NotFound`, except a `DeleteLobby` (already done).
    async fn persist_lobby_changes(
        &self,
        lobby: &LobbyId,
        changes: &[Change],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let write = LobbyWrite { lobby, fence: None, progress: &[], changes };
        match self.persist_lobby_group(&[write], now).await?.first() {
            Some(WriteOutcome::LobbyGone) => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Stores many players' merged progress at once (one statement on PostgreSQL, one transaction on SQLite,
    /// rows of several lobbies), without a fence. Rows whose membership is gone, or whose lobby is gone or
    /// no longer `playing`, are skipped, not an error; of several rows for one player, the last wins. `now`
    /// stamps the rows.
    async fn save_progress_batch(&self, rows: &[ProgressRow], now: Timestamp) -> Result<(), StoreError> {
        // A stable sort: each lobby's rows stay in their order, so the last row of a player still wins.
        let mut sorted = rows.to_vec();
        sorted.sort_by(|a, b| a.lobby.cmp(&b.lobby));
        let writes: Vec<LobbyWrite<'_>> = sorted
            .chunk_by(|a, b| a.lobby == b.lobby)
            .map(|rows| LobbyWrite { lobby: &rows[0].lobby, fence: None, progress: rows, changes: &[] })
            .collect();
        self.persist_lobby_group(&writes, now).await.map(drop)
    }

    /// Every stored lobby with its members (and their public profile: name, image, tag) in join order,
    /// undelivered invitations (with the inviter's name) and, for finished lobbies, the latest game's
    /// results (restore at start-up).
    async fn load_lobbies(&self) -> Result<Vec<StoredLobby>, StoreError>;

    /// The ids of every stored lobby, oldest first (several nodes adopt the lobbies no node owns).
    async fn lobby_ids(&self) -> Result<Vec<LobbyId>, StoreError>;

    /// One stored lobby, as [`Lobbies::load_lobbies`] gives it.
    async fn load_lobby(&self, id: &LobbyId) -> Result<Option<StoredLobby>, StoreError>;

    /// Lobbies where `user` is a member or has an undelivered invitation created after `since` (the socket
    /// lifecycle: connected/dropped and invitation re-delivery), by id.
    async fn lobbies_of_user(&self, user: &UserId, since: Timestamp) -> Result<Vec<LobbyId>, StoreError>;

    /// The user's finished multiplayer games, newest first, at most `limit`, strictly after `before`
    /// (`GET /api/games?limit=&cursor=`), each with every player's public fields and result.
    async fn games_of_user(
        &self,
        user: &UserId,
        limit: u32,
        before: Option<GameCursor>,
    ) -> Result<Vec<GameRecord>, StoreError>;
}
