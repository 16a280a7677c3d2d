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

/// One lobby's write-through changes in a group commit.
#[derive(Clone, Copy, Debug)]
pub struct LobbyWrite<'a> {
    pub lobby: &'a LobbyId,
    pub changes: &'a [Change],
}

/// What a group commit did with one lobby's changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written (or nothing to write).
    Stored,
    /// The lobby is not stored: its changes were skipped.
    LobbyGone,
}

/// Lobbies, their members, invitations and game results.
#[async_trait]
pub trait Lobbies: Send + Sync {
    /// Stores `progress` (as [`Lobbies::save_progress_batch`] does), then each write's changes in order, all in
    /// one transaction: a group commit, so that many lobbies' commands share one commit (write-through,
    /// §3.11). `now` stamps the rows written (`updated_at`, the results' end time). A write to a lobby that is
    /// not stored is skipped and answers [`WriteOutcome::LobbyGone`] (one made only of `DeleteLobby` answers
    /// `Stored`: already done); any other failure rolls the whole group back. Retrying a group whose outcome
    /// is unknown is safe: creation, membership and results are written idempotently. Each lobby appears at
    /// most once; the writes are applied in lobby id order, so concurrent groups lock rows in one order.
    async fn persist_lobby_group(
        &self,
        progress: &[ProgressRow],
        writes: &[LobbyWrite<'_>],
        now: Timestamp,
    ) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Applies `changes` to lobby `lobby` in order, in one transaction: a group of one. Changes to a lobby
    /// that is not stored answer `NotFound`, except a `DeleteLobby` (already done).
    async fn persist_lobby_changes(
        &self,
        lobby: &LobbyId,
        changes: &[Change],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        match self.persist_lobby_group(&[], &[LobbyWrite { lobby, changes }], now).await?.first() {
            Some(WriteOutcome::LobbyGone) => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// Stores many players' merged progress at once (one statement on PostgreSQL, one transaction on SQLite,
    /// rows of several lobbies). Rows whose membership is gone, or whose lobby is gone or no longer `playing`,
    /// are skipped, not an error; of several rows for one player, the last wins. `now` stamps the rows.
    async fn save_progress_batch(&self, rows: &[ProgressRow], now: Timestamp) -> Result<(), StoreError> {
        self.persist_lobby_group(rows, &[], now).await.map(drop)
    }

    /// Every stored lobby with its members (and their public profile: name, image, tag) in join order,
    /// undelivered invitations (with the inviter's name) and, for finished lobbies, the latest game's
    /// results (restore at start-up).
    async fn load_lobbies(&self) -> Result<Vec<StoredLobby>, StoreError>;

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
