//! Online copies of a SQLite database (`VACUUM INTO`), and the check that a file is a MapQuiz database.

use crate::StoreError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};
use std::path::Path;

/// The path as SQL text: `VACUUM INTO` takes a file name, not a path object.
fn path_text(path: &Path) -> Result<&str, StoreError> {
    path.to_str().ok_or_else(|| StoreError::Config(format!("{} is not a UTF-8 path", path.display())))
}

/// `VACUUM INTO` reads one snapshot in a read transaction: writers go on meanwhile (WAL), and the copy is
/// consistent and compact. It refuses to overwrite an existing file. The path is a bound parameter, never
/// spliced into the SQL.
async fn vacuum_into<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Sqlite>,
    dest: &Path,
) -> Result<(), StoreError> {
    sqlx::query("VACUUM INTO $1").bind(path_text(dest)?).execute(executor).await?;
    Ok(())
}

/// Opens `path` read-only, never creating it.
async fn open_read_only(path: &Path) -> Result<SqliteConnection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Config(format!("{} does not exist or is not a file", path.display())));
    }
    Ok(SqliteConnectOptions::new().filename(path).read_only(true).connect().await?)
}

/// The newest migration applied to the SQLite database at `path`, after checking that it is one (its pages
/// pass `quick_check`) and that it is MapQuiz's (it has the migrations table).
pub(crate) async fn check_file(path: &Path) -> Result<i64, StoreError> {
    let not_ours =
        |why: &str| StoreError::Config(format!("{} is not a MapQuiz SQLite database: {why}", path.display()));
    let mut conn = open_read_only(path).await?;
    let result = async {
        let check: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| not_ours(&e.to_string()))?;
        if check != ["ok"] {
            return Err(not_ours(&format!("integrity check failed ({})", check.join("; "))));
        }
        let has_table: bool = sqlx::query_scalar(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&mut conn)
        .await?;
        if !has_table {
            return Err(not_ours("it has no migrations table"));
        }
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success").fetch_one(&mut conn).await?;
        newest.ok_or_else(|| not_ours("no migration was ever applied to it"))
    }
    .await;
    conn.close().await.ok();
    result
}

/// Writes a consistent copy of the SQLite database `source` (its WAL included) to the new file `dest`.
pub(crate) async fn copy_file(source: &Path, dest: &Path) -> Result<(), StoreError> {
    let mut conn = open_read_only(source).await?;
    let result = vacuum_into(&mut conn, dest).await;
    conn.close().await.ok();
    result
}
