//! Solo games and the leaderboards built from them.

use crate::{StoreError, User};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;

/// A solo game to store.
#[derive(Clone, Debug)]
pub struct NewScore {
    pub id: String,
    pub user_id: String,
    pub score: i32,
    pub total_questions: i32,
    /// As the client sent them (wire names, in order).
    pub selected_regions: Vec<String>,
    /// The leaderboard key: the distinct regions, sorted, joined by `|`.
    pub regions_key: String,
    /// `quiz` or `training`.
    pub game_mode: String,
    pub duration: Option<i32>,
    pub created_at: Timestamp,
    /// The leaderboard periods this game counts in (empty for training games): each board's best-per-player
    /// row is updated in the same transaction as the insert when this game beats it.
    pub boards: Vec<BoardPeriod>,
}

/// A stored solo game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    pub id: String,
    pub user_id: String,
    pub score: i32,
    pub total_questions: i32,
    pub selected_regions: Vec<String>,
    pub game_mode: String,
    pub duration: Option<i32>,
    pub created_at: Timestamp,
}

/// Aggregates over a user's solo games.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScoreStats {
    pub total_games: i64,
    pub best_score: i64,
    pub total_score: i64,
}

/// One period of one board: `period` is `day`, `week`, `month` or `all`; `period_start` the period's first
/// local day as `YYYY-MM-DD` (`""` for `all`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BoardPeriod {
    pub period: String,
    pub period_start: String,
}

/// A leaderboard: a set of regions in one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardKey {
    pub regions_key: String,
    pub period: BoardPeriod,
}

/// Whose bests a board ranks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardScope {
    /// Every player.
    Global,
    /// This user and their friends.
    Friends { user_id: String },
}

/// A player's best game on a board, with its rank. Ranking: higher share of correct answers first, then
/// shorter duration (no duration ranks after every duration), then earlier; entries with the same share and
/// duration share a rank (1, 1, 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardEntry {
    pub rank: i64,
    pub user: User,
    pub score: i32,
    pub total_questions: i32,
    pub duration: Option<i32>,
    pub achieved_at: Timestamp,
}

/// Solo games and leaderboards.
#[async_trait]
pub trait Scores: Send + Sync {
    /// Stores a solo game and, in the same transaction, makes it the player's best on each of
    /// `score.boards` where it beats the current best (see [`BoardEntry`] for the order).
    async fn insert_score(&self, score: &NewScore) -> Result<Score, StoreError> {
        self.insert_score_group(std::slice::from_ref(score)).await?;
        Ok(crate::board::stored(score))
    }

    /// Stores games as they come in from players, many in one transaction (a group commit), each made the
    /// player's best as [`Scores::insert_score`] would, in slice order; all are stored or none.
    async fn insert_score_group(&self, scores: &[NewScore]) -> Result<(), StoreError>;

    /// Stores many games at once (demo data, imports), bests maintained as by [`Scores::insert_score`]; one
    /// transaction for the whole slice.
    async fn insert_scores(&self, scores: &[NewScore]) -> Result<(), StoreError>;

    /// The user's newest `limit` games, newest first (by created_at, then insertion order).
    async fn recent_scores(&self, user_id: &str, limit: u32) -> Result<Vec<Score>, StoreError>;

    /// Aggregates over all the user's games.
    async fn score_stats(&self, user_id: &str) -> Result<ScoreStats, StoreError>;

    /// The first `limit` entries of a board.
    async fn leaderboard_top(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        limit: u32,
    ) -> Result<Vec<BoardEntry>, StoreError>;

    /// The user's entry with up to `neighbours` entries on each side, in board order; empty when the user
    /// has no entry on the board.
    async fn leaderboard_around(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        user_id: &str,
        neighbours: u32,
    ) -> Result<Vec<BoardEntry>, StoreError>;
}
