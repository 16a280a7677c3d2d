//! The weekly maintenance jobs with the leases that let one node at a time run each, and online backups.

use super::PgStore;
use crate::db_time::DbTime;
use crate::{Maintenance, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use std::path::Path;

#[async_trait]
impl Maintenance for PgStore {
    // Plain `ANALYZE` refreshes the planner's statistics of every table of the database; autovacuum does the
    // same per table, this catches tables whose changes stayed under its thresholds.
    async fn optimize(&self) -> Result<String, StoreError> {
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok("ANALYZE".to_owned())
    }

    // One statement, so two nodes cannot both take the lease: a concurrent insert of the same name waits for
    // the other's commit, then the conflict branch updates only a lease that is free (expired) or already the
    // caller's, and RETURNING tells whether it did.
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
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken.is_some())
    }

    async fn finish_lease(&self, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE job_leases SET leased_until = $1, last_run_at = $1 WHERE name = $2 AND holder = $3")
                .bind(DbTime(now))
                .bind(job)
                .bind(holder)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn last_run(&self, job: &str) -> Result<Option<Timestamp>, StoreError> {
        let at: Option<Option<DbTime>> = sqlx::query_scalar("SELECT last_run_at FROM job_leases WHERE name = $1")
            .bind(job)
            .fetch_optional(&self.pool)
            .await?;
        Ok(at.flatten().map(|t| t.0))
    }

    // PostgreSQL is backed up with its own tools; the server CLI names the command with the URL.
    async fn backup_to(&self, _dest: &Path) -> Result<(), StoreError> {
        Err(StoreError::Config("online backup is built in for SQLite only; back up PostgreSQL with pg_dump".to_owned()))
    }
}
