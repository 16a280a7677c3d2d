//! What the SQL both engines share needs of a store: where to read and where to write.
//!
//! The statements the two engines run letter for letter live once, in a `macro_rules!` next to their part's
//! trait (`impl_sessions!` in `sessions.rs`, ...), expanded for each store in its backend's feature file. A
//! macro rather than code generic over `sqlx::Database`: sqlx has no trait for `rows_affected`, and every
//! generic method would repeat a dozen higher-ranked `Executor`/`Encode`/`Decode` bounds for each column type
//! it touches, so the shared code would read worse than the duplication it replaces.

use sqlx::{Database, Pool};

/// A store's pools: SQLite writes through its single writer and reads through its query-only readers;
/// PostgreSQL does both through one pool.
pub(crate) trait Pools {
    /// The engine.
    type Db: Database;

    /// Where plain reads go.
    fn reads(&self) -> &Pool<Self::Db>;

    /// Where writes go, and reads that are part of a write.
    fn writes(&self) -> &Pool<Self::Db>;
}
