//! MapQuiz persistence: one [`Store`] trait, implemented for SQLite (embedded, the default) and PostgreSQL.
//!
//! Each backend keeps its SQL next to its migrations (`migrations/sqlite`, `migrations/postgres`); the
//! behavioural test suite in `tests/store` runs against both.

mod error;
mod migrations;
mod options;
mod postgres;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{CONSTRAINTS, StoreError};
pub use migrations::MigrationState;
pub use options::{Backend, ConnectOptions, DatabaseUrl, DatabaseUrlError};

use async_trait::async_trait;
use std::sync::Arc;

/// Connection counts of the store's pools, for health and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not lent out.
    pub idle: u32,
}

/// Everything the application asks of its database, named after what it does.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which engine this store runs on.
    fn backend(&self) -> Backend;

    /// Runs a trivial query: the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies every pending migration; returns those applied now, oldest first.
    async fn migrate_up(&self) -> Result<Vec<MigrationState>, StoreError>;

    /// Reverts the `steps` most recent applied migrations; returns those reverted, newest first.
    async fn migrate_down(&self, steps: usize) -> Result<Vec<MigrationState>, StoreError>;

    /// Every migration this build knows, with when it was applied (if it was).
    async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError>;

    /// The schema (tables, columns, indexes, constraints) as sorted canonical lines, migrations table
    /// excluded: two databases with the same lines have the same schema.
    async fn schema(&self) -> Result<Vec<String>, StoreError>;

    /// Connection counts, summed over the store's pools.
    fn pool_stats(&self) -> PoolStats;

    /// Waits for lent connections to come back and closes every pool (SQLite checkpoints its WAL).
    async fn close(&self);
}

/// The store as the application holds it.
pub type DynStore = Arc<dyn Store>;

/// Opens the database `options.url` names, creating a SQLite file (and its folder) when missing.
///
/// Migrations are not run: call [`Store::migrate_up`].
pub async fn connect(options: &ConnectOptions) -> Result<DynStore, StoreError> {
    Ok(match &options.url {
        DatabaseUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::connect(path, options).await?),
        DatabaseUrl::Postgres(url) => Arc::new(postgres::PgStore::connect(url, options).await?),
    })
}
