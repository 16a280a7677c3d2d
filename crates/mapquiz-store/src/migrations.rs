//! Migration bookkeeping shared by both backends: sqlx applies and reverts, this module decides what.

use crate::StoreError;
use serde::Serialize;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Database, Pool};

/// sqlx's bookkeeping table; excluded from [`crate::Store::schema`].
pub(crate) const TABLE: &str = "_sqlx_migrations";

/// One migration this build knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// Versions applied to the database, ascending.
async fn applied<DB: Database>(pool: &Pool<DB>) -> Result<Vec<i64>, StoreError>
where
    DB::Connection: Migrate,
{
    let mut conn = pool.acquire().await?;
    conn.ensure_migrations_table(TABLE).await?;
    let mut versions: Vec<i64> = conn.list_applied_migrations(TABLE).await?.into_iter().map(|m| m.version).collect();
    versions.sort_unstable();
    Ok(versions)
}

/// Every up-migration of `migrator`, marked applied or not.
pub(crate) async fn status<DB: Database>(
    migrator: &Migrator,
    pool: &Pool<DB>,
) -> Result<Vec<MigrationState>, StoreError>
where
    DB::Connection: Migrate,
{
    let done = applied(pool).await?;
    Ok(migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| MigrationState {
            version: m.version,
            description: m.description.to_string(),
            applied: done.binary_search(&m.version).is_ok(),
        })
        .collect())
}

/// Applies what is pending; returns what was applied now.
pub(crate) async fn up<DB: Database>(migrator: &Migrator, pool: &Pool<DB>) -> Result<Vec<MigrationState>, StoreError>
where
    DB::Connection: Migrate,
{
    let pending: Vec<MigrationState> = status(migrator, pool).await?.into_iter().filter(|m| !m.applied).collect();
    migrator.run(pool).await?;
    // `run` applies every pending migration or fails: what was pending is what was applied.
    Ok(pending.into_iter().map(|m| MigrationState { applied: true, ..m }).collect())
}

/// Reverts the `steps` newest applied migrations; returns them, newest first.
pub(crate) async fn down<DB: Database>(
    migrator: &Migrator,
    pool: &Pool<DB>,
    steps: usize,
) -> Result<Vec<MigrationState>, StoreError>
where
    DB::Connection: Migrate,
{
    let before = status(migrator, pool).await?;
    let applied: Vec<&MigrationState> = before.iter().filter(|m| m.applied).collect();
    let target = undo_target(&applied.iter().map(|m| m.version).collect::<Vec<_>>(), steps);
    migrator.undo(pool, target).await?;
    Ok(applied
        .into_iter()
        .rev()
        .filter(|m| m.version > target)
        .cloned()
        .map(|mut m| {
            m.applied = false;
            m
        })
        .collect())
}

/// The version to undo down to so that exactly the `steps` newest of `applied` (ascending) are reverted.
fn undo_target(applied: &[i64], steps: usize) -> i64 {
    if steps >= applied.len() { 0 } else { applied[applied.len() - steps - 1] }
}

#[cfg(test)]
mod tests {
    use super::undo_target;

    #[test]
    fn undo_target_keeps_the_older_migrations() {
        assert_eq!(undo_target(&[1, 2, 3, 4, 5], 1), 4);
        assert_eq!(undo_target(&[1, 2, 3, 4, 5], 2), 3);
        assert_eq!(undo_target(&[1, 2, 3, 4, 5], 0), 5);
        assert_eq!(undo_target(&[1, 2, 3], 5), 0);
        assert_eq!(undo_target(&[], 1), 0);
    }
}
