//! The SQLite backend: one file, WAL, a single writer connection and a pool of read-only readers.

mod audit;
mod backup;
mod bug_reports;
mod friends;
mod import;
mod lobbies;
mod lockout;
mod maintenance;
mod presence;
mod scores;
mod sessions;
mod two_factor;
mod users;

use crate::{Backend, ConnectOptions, MigrationState, PoolStats, Store, StoreError, migrations};
use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};

pub(crate) use backup::{check_file, copy_file};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The newest migration this build knows.
pub(crate) fn newest_migration() -> i64 {
    MIGRATOR.migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The schema as canonical lines: each object's type, name and defining SQL.
const SCHEMA_SQL: &str = "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master \
     WHERE name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY 1";

/// SQLite store. Writes go through `writer` (one connection): SQLite allows one writer at a time, and
/// queueing in the pool avoids the SQLITE_BUSY upgrades that concurrent write transactions would hit. The
/// feature files send reads to `reader` and writes (and reads that are part of a write) to `writer`: the
/// reader pool is query_only and would refuse them.
pub(crate) struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The database file, for online copies on a connection of their own.
    path: PathBuf,
    /// When a stored game also folds the leaderboard count changes.
    folds: crate::board::FoldCadence,
}

impl SqliteStore {
    pub(crate) async fn connect(path: &Path, options: &ConnectOptions) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Config(format!("cannot create folder {}: {e}", parent.display())))?;
        }
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.sqlite_busy_timeout)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .after_release(|conn, _| Box::pin(async move { Ok(!still_in_transaction(conn)) }))
            // 64 MiB of page cache (default 2 MiB): every score insert updates several B-trees of a table that
            // grows past 1 GB with a million games, and the writer re-reads their pages on each write.
            .connect_with(base.clone().pragma("cache_size", "-65536"))
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            // A reader left in a phantom transaction would pin an old snapshot: closed too.
            .after_release(|conn, _| Box::pin(async move { Ok(!still_in_transaction(conn)) }))
            .connect_with(base.pragma("query_only", "ON"))
            .await?;
        Ok(Self { writer, reader, path: path.to_owned(), folds: Default::default() })
    }
}

/// Whether sqlx still counts a transaction open on a connection given back: its `ROLLBACK` failed (SQLite
/// already rolled the transaction back itself, as it may on a full disk or an I/O error). Reused, the
/// connection's next `BEGIN` would become a `SAVEPOINT` nested in that phantom transaction and its commit a
/// mere `RELEASE`: writes acknowledged and never stored. Such a connection is closed instead, and the pool
/// opens a clean one.
fn still_in_transaction(conn: &mut sqlx::SqliteConnection) -> bool {
    let open = sqlx::Connection::is_in_transaction(conn);
    if open {
        tracing::warn!("SQLite connection left inside a failed transaction: closed");
    }
    open
}

impl crate::pools::Pools for SqliteStore {
    type Db = sqlx::Sqlite;

    fn reads(&self) -> &SqlitePool {
        &self.reader
    }

    fn writes(&self) -> &SqlitePool {
        &self.writer
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn migrate_up(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::up(&MIGRATOR, &self.writer).await
    }

    async fn migrate_down(&self, steps: usize) -> Result<Vec<MigrationState>, StoreError> {
        migrations::down(&MIGRATOR, &self.writer, steps).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::status(&MIGRATOR, &self.writer).await
    }

    async fn schema(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SCHEMA_SQL).fetch_all(&self.reader).await?)
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.writer.size() + self.reader.size(),
            idle: (self.writer.num_idle() + self.reader.num_idle()) as u32,
        }
    }

    async fn close(&self) {
        self.reader.close().await;
        // Closing the last connection checkpoints the WAL into the main file.
        self.writer.close().await;
    }
}
