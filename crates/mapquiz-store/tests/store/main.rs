//! The store's behavioural suite: every test runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL`
//! is set (required under `CI`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod bug_reports;
mod constraints;
mod friends;
mod import;
mod lobbies;
mod maintenance;
mod migrations;
mod scores;

use mapquiz_domain::Timestamp;
use mapquiz_store::testing::TestDatabase;
use mapquiz_store::{ConnectOptions, DynStore, StoreError};
use sqlx::Connection;

pub(crate) use mapquiz_store::on_both_backends;

/// An instant with a non-zero millisecond part, so a lost millisecond shows.
pub fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(1_764_000_000_123 + offset_ms).unwrap()
}

/// [`fresh`], migrated.
pub async fn migrated(pg: bool) -> Option<(TestDatabase, DynStore)> {
    let (db, store) = fresh(pg).await?;
    store.migrate_up().await.unwrap();
    Some((db, store))
}

/// A fresh database and a store on it, or `None` when PostgreSQL is asked for and not configured.
pub async fn fresh(postgres: bool) -> Option<(TestDatabase, DynStore)> {
    let db = TestDatabase::new(postgres).await?;
    let store = mapquiz_store::connect(&ConnectOptions::new(db.database_url())).await.unwrap();
    Some((db, store))
}

/// A raw connection beside the store, to write rows the store has no operation for yet.
pub enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    pub async fn open(db: &TestDatabase, postgres: bool) -> Raw {
        if postgres {
            Raw::Postgres(sqlx::PgConnection::connect(db.url()).await.unwrap())
        } else {
            Raw::Sqlite(sqlx::SqliteConnection::connect(db.url()).await.unwrap())
        }
    }

    /// Runs `sql`, with `{now}` replaced by each backend's way of writing a timestamp.
    pub async fn exec(&mut self, sql: &str) -> Result<(), StoreError> {
        let result = match self {
            Raw::Sqlite(c) => {
                let sql = format!("PRAGMA foreign_keys = ON; {}", sql.replace("{now}", "1764000000000"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(c).await.map(|_| ())
            }
            Raw::Postgres(c) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.replace("{now}", "now()"))).execute(c).await.map(|_| ())
            }
        };
        result.map_err(StoreError::from)
    }

    pub async fn count(&mut self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(c).await.unwrap(),
            Raw::Postgres(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(c).await.unwrap(),
        }
    }
}
