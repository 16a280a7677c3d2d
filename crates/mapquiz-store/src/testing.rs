//! Fresh databases for tests: a SQLite file in its own temp folder, or a new PostgreSQL database created on
//! the server `TEST_DATABASE_URL` names and dropped when the test ends. Tests never share a database, so
//! they run in parallel and in any order.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::DatabaseUrl;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The PostgreSQL server the tests may create databases on; `None` skips PostgreSQL tests, except under
/// `CI`, where a missing URL fails the run.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TEST_DATABASE_URL is not: the PostgreSQL tests are required in CI")
        }
        _ => None,
    }
}

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
    Unmanaged,
}

impl TestDatabase {
    /// A new SQLite file path (the file itself is created by the store).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for a test database");
        let url = format!("sqlite://{}", dir.path().join("mapquiz.db").display());
        Self { url, guard: Guard::Sqlite(dir) }
    }

    /// A new empty PostgreSQL database, or `None` when no test server is configured (see
    /// [`postgres_admin_url`]).
    pub async fn postgres() -> Option<Self> {
        let admin_url = postgres_admin_url()?;
        let name = format!("mapquiz_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url).await.expect("connect to TEST_DATABASE_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        admin.close().await.ok();
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Some(Self { url: url.to_string(), guard: Guard::Postgres { admin_url, name } })
    }

    /// A database of either kind: `postgres` asks for PostgreSQL (and may be `None`, see above).
    pub async fn new(postgres: bool) -> Option<Self> {
        if postgres { Self::postgres().await } else { Some(Self::sqlite()) }
    }

    /// A database something else owns and removes (a test's own server instance): nothing is dropped here.
    pub fn unmanaged(url: impl Into<String>) -> Self {
        Self { url: url.into(), guard: Guard::Unmanaged }
    }

    /// The URL the server or store should open.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The parsed URL.
    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.url).expect("test database URL parses")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = &self.guard {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop may run inside a runtime: use a thread with its own, and wait so databases don't pile up.
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok()
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(_))) {
                tracing::warn!("could not drop a test database");
            }
        }
    }
}

/// Declares `mod name { sqlite, postgres }` with one `#[tokio::test]` each, calling `name(postgres: bool)`:
/// the way a test says "this behaviour holds on both backends".
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(false).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(true).await
            }
        }
    )*};
}
