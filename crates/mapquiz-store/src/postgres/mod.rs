//! The PostgreSQL backend: one pool, `timestamptz` and `jsonb`, several server nodes may share it.

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

use crate::{Backend, ConnectOptions, MigrationState, PoolStats, Store, StoreError, migrations};
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The schema as canonical lines: columns, indexes and constraints of the current schema.
const SCHEMA_SQL: &str = "\
SELECT 'column ' || table_name || '.' || lpad(ordinal_position::text, 3, '0') || ' ' || column_name || ' ' \
       || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') \
  FROM information_schema.columns \
 WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
UNION ALL \
SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes \
 WHERE schemaname = current_schema() AND tablename <> '_sqlx_migrations' \
UNION ALL \
SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' || pg_get_constraintdef(oid) \
  FROM pg_constraint WHERE connamespace = current_schema()::regnamespace \
   AND conrelid <> coalesce(to_regclass('_sqlx_migrations'), 0::regclass) \
ORDER BY 1";

/// PostgreSQL store.
pub(crate) struct PgStore {
    pool: PgPool,
    /// When a stored game also folds the leaderboard count changes.
    folds: crate::board::FoldCadence,
}

impl PgStore {
    pub(crate) async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("unusable PostgreSQL URL: {e}")))?
            .application_name("mapquiz");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self { pool, folds: Default::default() })
    }
}

impl crate::pools::Pools for PgStore {
    type Db = sqlx::Postgres;

    fn reads(&self) -> &PgPool {
        &self.pool
    }

    fn writes(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate_up(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::up(&MIGRATOR, &self.pool).await
    }

    async fn migrate_down(&self, steps: usize) -> Result<Vec<MigrationState>, StoreError> {
        migrations::down(&MIGRATOR, &self.pool, steps).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::status(&MIGRATOR, &self.pool).await
    }

    async fn schema(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SCHEMA_SQL).fetch_all(&self.pool).await?)
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats { size: self.pool.size(), idle: self.pool.num_idle() as u32 }
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
