//! The weekly maintenance jobs with the leases that let one node at a time run each, and online backups.

use super::SqliteStore;
use crate::db_time::DbTime;
use crate::{Maintenance, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use std::path::Path;

#[async_trait]
impl Maintenance for SqliteStore {
    // `PRAGMA optimize` alone only looks at tables the connection has queried; 0x10002 makes it examine every
    // table (0x10000) and run `ANALYZE` where the statistics are missing or stale (0x02), which is what a
    // weekly job on a fresh connection (the CLI) needs.
    async fn optimize(&self) -> Result<String, StoreError> {
        sqlx::query("PRAGMA optimize = 0x10002").execute(&self.writer).await?;
        Ok("PRAGMA optimize".to_owned())
    }

    // One statement, so two nodes cannot both take the lease: the conflict branch updates only a lease that
    // is free (expired) or already the caller's, and RETURNING tells whether it did.
    async fn try_lease(&self, job: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
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
        .fetch_optional(&self.writer)
        .await?;
        Ok(taken.is_some())
    }

    async fn finish_lease(&self, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE job_leases SET leased_until = $1, last_run_at = $2 WHERE name = $3 AND holder = $4")
                .bind(DbTime(now))
                .bind(DbTime(now))
                .bind(job)
                .bind(holder)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn last_run(&self, job: &str) -> Result<Option<Timestamp>, StoreError> {
        let at: Option<Option<DbTime>> = sqlx::query_scalar("SELECT last_run_at FROM job_leases WHERE name = $1")
            .bind(job)
            .fetch_optional(&self.reader)
            .await?;
        Ok(at.flatten().map(|t| t.0))
    }

    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        // A read-only connection of its own: the copy is a read transaction, so the single writer is never
        // held up by it (and the readers are query_only, which refuses VACUUM INTO).
        super::backup::copy_file(&self.path, dest).await
    }
}
