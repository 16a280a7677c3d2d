//! Weekly maintenance: planner statistics, the job leases that let one node at a time run each job, and online backups.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use std::path::Path;

/// Maintenance jobs, their leases, and backups.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Refreshes the query planner's statistics (`ANALYZE`, `PRAGMA optimize`); returns what ran.
    async fn optimize(&self) -> Result<String, StoreError>;

    /// Takes the lease on `job` for `holder` until `until`, in one atomic statement, if it is free, expired at
    /// `now`, or already `holder`'s; `Ok(true)` when `holder` now holds it.
    async fn try_lease(&self, job: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool, StoreError>;

    /// Releases `holder`'s lease on `job` and records `now` as the job's last run; `Ok(false)` when the lease
    /// was no longer `holder`'s (it expired and another node took it), nothing changed then.
    async fn finish_lease(&self, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// When `job` last finished, on any node sharing the database.
    async fn last_run(&self, job: &str) -> Result<Option<Timestamp>, StoreError>;

    /// Writes a consistent copy of the whole database to the new file `dest` while the store stays in use
    /// (SQLite `VACUUM INTO`); `StoreError::Config` on PostgreSQL, which is backed up with `pg_dump`.
    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError>;
}
