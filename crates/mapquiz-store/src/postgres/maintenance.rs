//! The weekly maintenance jobs with the leases that let one node at a time run each; backups are `pg_dump`'s.

use super::PgStore;
use std::path::Path;

crate::maintenance::impl_maintenance!(PgStore, {
    // Plain `ANALYZE` refreshes the planner's statistics of every table of the database; autovacuum does the
    // same per table, this catches tables whose changes stayed under its thresholds.
    async fn optimize(&self) -> Result<String, StoreError> {
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok("ANALYZE".to_owned())
    }

    // PostgreSQL is backed up with its own tools; the server CLI names the command with the URL.
    async fn backup_to(&self, _dest: &Path) -> Result<(), StoreError> {
        Err(StoreError::Config("online backup is built in for SQLite only; back up PostgreSQL with pg_dump".to_owned()))
    }
});
