//! MapQuiz persistence: the [`Store`] trait, made of one part per concern (users, sessions, friends,
//! scores, ...), implemented for SQLite (embedded, the default) and PostgreSQL.
//!
//! Each part's trait lives next to its models (`src/friends.rs`); each backend implements it in its feature
//! file, next to its SQL (`sqlite/friends.rs`, `postgres/friends.rs`), with its migrations in
//! `migrations/sqlite` and `migrations/postgres`. The behavioural test suite in `tests/store` runs against
//! both. A [`DynStore`] answers every part's methods without imports (a trait object's methods include its
//! supertraits'); code generic over a part, or holding a concrete store, imports the traits from [`prelude`].

// The parts of the store, one per concern, each with its models (a new part: see [`Store`]).
mod audit;
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

// The backends, and what both share.
mod board;
mod db_time;
mod error;
mod lobby_rows;
mod migrations;
mod options;
mod pools;
mod postgres;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{Audit, AuditEntry};
pub use bug_reports::{BugReport, BugReportCounts, BugReports, DeliveryStatus, MAX_DELIVERY_ERROR_CHARS, NewBugReport};
pub use error::{CONSTRAINTS, StoreError};
pub use friends::{Friend, FriendRequest, Friends, IncomingRequest, RequestStatus, RespondOutcome, SendOutcome};
pub use import::{Import, ImportConflict, ImportFriendship, ImportRequest, ImportSession, ImportUser, Imported};
pub use lobbies::{GameCursor, GamePlayer, GameRecord, Lobbies, LobbyWrite, WriteOutcome};
pub use lockout::{FailureScope, Lockout};
pub use maintenance::Maintenance;
pub use migrations::MigrationState;
pub use options::{Backend, ConnectOptions, DatabaseUrl, DatabaseUrlError};
pub use presence::Presence;
pub use scores::{BoardEntry, BoardKey, BoardPeriod, BoardScope, NewScore, Score, ScoreStats, Scores};
pub use sessions::{Session, SessionSelector, SessionWithUser, Sessions};
pub use two_factor::{TwoFactor, TwoFactors};
pub use users::{Account, NewUser, User, UserSearch, Users, name_key};

/// Every trait of the store, for code that calls the parts on something other than a [`DynStore`].
pub mod prelude {
    pub use crate::{
        Audit, BugReports, Friends, Import, Lobbies, Lockout, Maintenance, Presence, Scores, Sessions, Store,
        TwoFactors, Users,
    };
}

use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;

/// Connection counts of the store's pools, for health and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not lent out.
    pub idle: u32,
}

/// Everything the application asks of its database: the parts, one per concern, and the database itself.
///
/// Adding a part (e.g. lobbies): declare its trait in a module of its own next to its models
/// (`src/lobbies.rs`), implement it in each backend's feature file (`sqlite/lobbies.rs`,
/// `postgres/lobbies.rs`), then add it to this supertrait's bounds and to [`prelude`].
#[async_trait]
pub trait Store:
    Users
    + Sessions
    + Lockout
    + TwoFactors
    + Audit
    + Scores
    + Friends
    + Import
    + Lobbies
    + Presence
    + Maintenance
    + BugReports
    + Send
    + Sync
    + 'static
{
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

/// Checks, without changing it, that `path` is a MapQuiz SQLite database (its pages pass `quick_check` and it
/// has the migrations table); returns the newest migration applied to it.
pub async fn check_sqlite_file(path: &Path) -> Result<i64, StoreError> {
    sqlite::check_file(path).await
}

/// The newest SQLite migration this build knows (a file with a newer one comes from a newer release).
pub fn newest_sqlite_migration() -> i64 {
    sqlite::newest_migration()
}

/// Writes a consistent copy of the SQLite database `source` (its WAL included) to the new file `dest`.
pub async fn copy_sqlite_file(source: &Path, dest: &Path) -> Result<(), StoreError> {
    sqlite::copy_file(source, dest).await
}
