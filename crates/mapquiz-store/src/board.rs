//! Leaderboard arithmetic shared by both backends: the ordering keys the SQL indexes (migration 0006), the
//! best-of-a-batch reduction and rank numbering. The SQL lives with each backend.

use crate::{BoardEntry, NewScore, Score};
use mapquiz_domain::Timestamp;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The duration key of a game without a duration: after every real one (at most 86 400). The SQL writes it
/// as the literal `2147483647` in `coalesce(duration, 2147483647)`, which must match the index expression.
pub(crate) const NO_DURATION: i32 = i32::MAX;

/// Leaderboard games stored between two folds of the pending count changes into the board counters (in
/// this process). Reads add up the changes still pending, so this only bounds how many they add: a few per
/// game.
const FOLD_EVERY: u32 = 64;

/// Counts the leaderboard games a store stored, to fold pending count changes at a steady cadence.
#[derive(Debug, Default)]
pub(crate) struct FoldCadence(AtomicU64);

impl FoldCadence {
    /// Whether the games just stored (`scores`) should fold the pending count changes: the store's first
    /// leaderboard game (so that changes left by processes that stopped before their next fold do not pile up),
    /// then whenever the count of leaderboard games passes a multiple of [`FOLD_EVERY`].
    pub(crate) fn due(&self, scores: &[NewScore]) -> bool {
        let games = scores.iter().filter(|s| !s.boards.is_empty()).count() as u64;
        if games == 0 {
            return false;
        }
        let before = self.0.fetch_add(games, Ordering::Relaxed);
        let every = u64::from(FOLD_EVERY);
        before.is_multiple_of(every) || before / every != (before + games - 1) / every
    }
}

/// What ties compare: entries with equal keys share a rank. `(share_nanos, duration key)`.
pub(crate) type TieKey = (i64, i32);

/// The share of correct answers in billionths, rounded down: exact order for totals up to 500.
pub(crate) fn share_nanos(score: i32, total_questions: i32) -> i64 {
    // A zero total never reaches the database (CHECK): 0 here only avoids a panic before the refusal.
    (i64::from(score) * 1_000_000_000).checked_div(i64::from(total_questions)).unwrap_or(0)
}

/// The duration as the index orders it.
pub(crate) fn duration_key(duration: Option<i32>) -> i32 {
    duration.unwrap_or(NO_DURATION)
}

/// The game as stored: the store writes every field as given.
pub(crate) fn stored(score: &NewScore) -> Score {
    Score {
        id: score.id.clone(),
        user_id: score.user_id.clone(),
        score: score.score,
        total_questions: score.total_questions,
        selected_regions: score.selected_regions.clone(),
        game_mode: score.game_mode.clone(),
        duration: score.duration,
        created_at: score.created_at,
    }
}

/// One `score_bests` row to upsert.
pub(crate) struct BestRow<'a> {
    pub regions_key: &'a str,
    pub period: &'a str,
    pub period_start: &'a str,
    pub user_id: &'a str,
    pub score_id: &'a str,
    pub score: i32,
    pub total_questions: i32,
    pub share_nanos: i64,
    pub duration: Option<i32>,
    pub achieved_at: Timestamp,
}

impl<'a> BestRow<'a> {
    /// The row's primary key in `score_bests`.
    pub fn key(&self) -> (&'a str, &'a str, &'a str, &'a str) {
        (self.regions_key, self.period, self.period_start, self.user_id)
    }

    /// Board order: smaller is better.
    fn order(&self) -> (i64, i32, Timestamp) {
        (-self.share_nanos, duration_key(self.duration), self.achieved_at)
    }
}

/// The best game of `scores` for each (board, player), in first-seen order.
///
/// One multi-row upsert may not touch a row twice on PostgreSQL, and later equal games must not replace
/// earlier ones, so a batch is reduced as [`crate::Scores::insert_score`] would have, one game at a time.
pub(crate) fn best_rows(scores: &[NewScore]) -> Vec<BestRow<'_>> {
    let mut rows: Vec<BestRow<'_>> = Vec::new();
    let mut index: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    for score in scores {
        let share = share_nanos(score.score, score.total_questions);
        for board in &score.boards {
            let row = BestRow {
                regions_key: &score.regions_key,
                period: &board.period,
                period_start: &board.period_start,
                user_id: &score.user_id,
                score_id: &score.id,
                score: score.score,
                total_questions: score.total_questions,
                share_nanos: share,
                duration: score.duration,
                achieved_at: score.created_at,
            };
            let key = row.key();
            match index.get(&key) {
                Some(&i) if row.order() < rows[i].order() => rows[i] = row,
                Some(_) => {}
                None => {
                    index.insert(key, rows.len());
                    rows.push(row);
                }
            }
        }
    }
    rows
}

/// Numbers entries read in board order, the first at `first_position` with rank `first_rank`: an entry
/// tied with the one before shares its rank, any other is ranked at its position (1, 1, 3).
pub(crate) fn ranked(rows: Vec<(TieKey, BoardEntry)>, first_position: i64, first_rank: i64) -> Vec<BoardEntry> {
    let mut previous: Option<(TieKey, i64)> = None;
    let mut entries = Vec::with_capacity(rows.len());
    for (position, (key, mut entry)) in (first_position..).zip(rows) {
        entry.rank = match previous {
            None => first_rank,
            Some((before, rank)) if before == key => rank,
            Some(_) => position,
        };
        previous = Some((key, entry.rank));
        entries.push(entry);
    }
    entries
}

/// The window of `neighbours` entries on each side of `user_id` in a fully ranked list (small scopes).
pub(crate) fn window(entries: Vec<BoardEntry>, user_id: &str, neighbours: u32) -> Vec<BoardEntry> {
    let Some(at) = entries.iter().position(|e| e.user.id == user_id) else {
        return Vec::new();
    };
    let n = neighbours as usize;
    let start = at.saturating_sub(n);
    let end = at.saturating_add(n).saturating_add(1).min(entries.len());
    entries.into_iter().skip(start).take(end - start).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapquiz_domain::Timestamp;

    fn games(n: usize, on_boards: bool) -> Vec<NewScore> {
        let game = NewScore {
            id: String::new(),
            user_id: String::new(),
            score: 1,
            total_questions: 1,
            selected_regions: Vec::new(),
            regions_key: String::new(),
            game_mode: "quiz".into(),
            duration: None,
            created_at: Timestamp::from_millis(0).unwrap(),
            boards: if on_boards {
                vec![crate::BoardPeriod { period: "all".into(), period_start: String::new() }]
            } else {
                Vec::new()
            },
        };
        vec![game; n]
    }

    #[test]
    fn folds_fall_due_on_the_first_game_then_each_time_a_multiple_is_passed() {
        let cadence = FoldCadence::default();
        assert!(!cadence.due(&games(3, false)), "training games count for nothing");
        assert!(cadence.due(&games(1, true)), "the first leaderboard game");
        assert!(!cadence.due(&games(63, true)), "games 2 to 64");
        assert!(cadence.due(&games(1, true)), "game 65, one FOLD_EVERY after the first");
        assert!(!cadence.due(&games(62, true)), "games 66 to 127");
        assert!(cadence.due(&games(10, true)), "a group (128 to 137) across the next multiple");
        assert!(!cadence.due(&[]));
    }
}
