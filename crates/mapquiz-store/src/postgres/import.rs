//! Imports from the original server: the statements are `crate::import`'s; PostgreSQL takes a list as a
//! `text[]` parameter.

use super::PgStore;
use sqlx::Postgres;
use sqlx::postgres::PgRow;

/// A list parameter, bound as `text[]`.
fn list<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    keys.to_vec()
}

crate::import::impl_import!(PgStore, Postgres, PgRow, pool: pool, any: "= ANY($1::text[])", list: list);
