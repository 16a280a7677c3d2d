//! The stored online flag and last-seen time of users.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;

/// Stored presence.
#[async_trait]
pub trait Presence: Send + Sync {
    /// Marks the user online with `last_seen = now` if the stored flag is off; `Ok(true)` when it changed.
    async fn set_online(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Marks the user offline with `last_seen = now` if the stored flag is on; `Ok(true)` when it changed.
    async fn set_offline(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Start-up reset: turns the flag off for every online user not in `keep` (users a live node holds),
    /// `last_seen` unchanged; returns how many changed.
    async fn reset_presence(&self, keep: &[String]) -> Result<u64, StoreError>;

    /// Sweep (several nodes): turns the flag off, with `last_seen = now`, for every online user not in `keep`
    /// (users a live node holds, or may hold again soon); returns them, so their friends can be told.
    async fn sweep_presence(&self, keep: &[String], now: Timestamp) -> Result<Vec<String>, StoreError>;

    /// Repair: marks online (with `last_seen = now`) those of `user_ids` whose flag is off; returns them.
    async fn mark_online(&self, user_ids: &[String], now: Timestamp) -> Result<Vec<String>, StoreError>;
}
