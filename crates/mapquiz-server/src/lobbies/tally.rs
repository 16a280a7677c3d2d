//! How many live lobbies this node holds in each status, for `/health/detailed`. The actors keep it as they
//! keep the `lobbies_live` gauge; readers never reach an actor, so a stuck lobby cannot stall the health check.

use mapquiz_domain::lobby::GameStatus;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use utoipa::ToSchema;

/// Live lobbies by status, shared by the actors of one node.
#[derive(Debug, Default)]
pub struct LiveTally {
    waiting: AtomicUsize,
    playing: AtomicUsize,
    finished: AtomicUsize,
}

/// A reading of [`LiveTally`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct LiveCounts {
    pub waiting: usize,
    pub playing: usize,
    pub finished: usize,
}

impl LiveTally {
    fn counter(&self, status: GameStatus) -> &AtomicUsize {
        match status {
            GameStatus::Waiting => &self.waiting,
            GameStatus::Playing => &self.playing,
            GameStatus::Finished => &self.finished,
        }
    }

    /// One more live lobby in `status`.
    pub fn add(&self, status: GameStatus) {
        self.counter(status).fetch_add(1, Ordering::Relaxed);
    }

    /// One live lobby fewer in `status`; never below zero.
    pub fn remove(&self, status: GameStatus) {
        let _ = self.counter(status).fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The counts now. Each is exact; a lobby changing status between two reads may show in both or neither.
    pub fn read(&self) -> LiveCounts {
        LiveCounts {
            waiting: self.waiting.load(Ordering::Relaxed),
            playing: self.playing.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_additions_and_removals_and_never_go_negative() {
        let tally = LiveTally::default();
        tally.add(GameStatus::Waiting);
        tally.add(GameStatus::Waiting);
        tally.add(GameStatus::Playing);
        tally.remove(GameStatus::Waiting);
        tally.remove(GameStatus::Finished);
        assert_eq!(tally.read(), LiveCounts { waiting: 1, playing: 1, finished: 0 });
    }
}
