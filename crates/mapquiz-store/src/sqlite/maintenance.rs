//! The weekly maintenance jobs with the leases that let one node at a time run each, and online backups.

use super::SqliteStore;
use std::path::Path;

crate::maintenance::impl_maintenance!(SqliteStore, {
    // `PRAGMA optimize` alone only looks at tables the connection has queried; 0x10002 makes it examine every
    // table (0x10000) and run `ANALYZE` where the statistics are missing or stale (0x02), which is what a
    // weekly job on a fresh connection (the CLI) needs.
    async fn optimize(&self) -> Result<String, StoreError> {
        sqlx::query("PRAGMA optimize = 0x10002").execute(&self.writer).await?;
        Ok("PRAGMA optimize".to_owned())
    }

    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        // A read-only connection of its own: the copy is a read transaction, so the single writer is never
        // held up by it (and the readers are query_only, which refuses VACUUM INTO).
        super::backup::copy_file(&self.path, dest).await
    }
});
