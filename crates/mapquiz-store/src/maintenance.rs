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

/// Implements [`Maintenance`] for `$store` from the engine's own `optimize` and `backup_to` (given as the
/// block, which sees `StoreError` and `Timestamp`) and the lease statements both engines share (a macro, not
/// generic code: see `pools.rs`).
macro_rules! impl_maintenance {
    ($store:ty, { $($own:tt)* }) => {
        const _: () = {
            use $crate::db_time::DbTime;
            use $crate::pools::Pools as _;
            use $crate::{Maintenance, StoreError};
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;

            #[async_trait]
            impl Maintenance for $store {
                $($own)*

                // One statement, so two nodes cannot both take the lease: the conflict branch updates only a
                // lease that is free (expired) or already the caller's, and RETURNING tells whether it did (on
                // PostgreSQL a concurrent insert of the same name first waits for the other's commit).
                async fn try_lease(
                    &self,
                    job: &str,
                    holder: &str,
                    until: Timestamp,
                    now: Timestamp,
                ) -> Result<bool, StoreError> {
                    let taken: Option<String> = sqlx::query_scalar(
                        "INSERT INTO job_leases (name, holder, leased_until) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until \
                         WHERE job_leases.leased_until <= $4 OR job_leases.holder = excluded.holder \
                         RETURNING name",
                    )
                    .bind(job)
                    .bind(holder)
                    .bind(DbTime(until))
                    .bind(DbTime(now))
                    .fetch_optional(self.writes())
                    .await?;
                    Ok(taken.is_some())
                }

                async fn finish_lease(&self, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE job_leases SET leased_until = $1, last_run_at = $1 WHERE name = $2 AND holder = $3",
                    )
                    .bind(DbTime(now))
                    .bind(job)
                    .bind(holder)
                    .execute(self.writes())
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn last_run(&self, job: &str) -> Result<Option<Timestamp>, StoreError> {
                    let at: Option<Option<DbTime>> =
                        sqlx::query_scalar("SELECT last_run_at FROM job_leases WHERE name = $1")
                            .bind(job)
                            .fetch_optional(self.reads())
                            .await?;
                    Ok(at.flatten().map(|t| t.0))
                }
            }
        };
    };
}
pub(crate) use impl_maintenance;
