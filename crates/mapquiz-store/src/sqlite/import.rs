//! Imports from the original server: the statements are `crate::import`'s; SQLite takes a list as one JSON
//! array parameter.

use super::SqliteStore;
use sqlx::Sqlite;
use sqlx::sqlite::SqliteRow;

/// A list parameter: a JSON array `json_each` walks (any length, never spliced into the SQL).
fn list(keys: &[&str]) -> String {
    serde_json::Value::from(keys).to_string()
}

crate::import::impl_import!(SqliteStore, Sqlite, SqliteRow, pool: writer,
    any: "IN (SELECT value FROM json_each($1))", list: list);
