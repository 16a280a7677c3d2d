//! The failure counters behind sign-in lockouts.

use crate::{FailureScope, StoreError};
use mapquiz_domain::Timestamp;
use sqlx::SqlitePool;

pub(super) async fn record_auth_failure(
    writer: &SqlitePool,
    scope: FailureScope,
    subject: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO auth_failures (scope, subject, attempted_at) VALUES (?, ?, ?)")
        .bind(scope.as_str())
        .bind(subject)
        .bind(at.millis())
        .execute(writer)
        .await?;
    Ok(())
}

pub(super) async fn recent_auth_failures(
    reader: &SqlitePool,
    scope: FailureScope,
    subject: &str,
    since: Timestamp,
    limit: u32,
) -> Result<Vec<Timestamp>, StoreError> {
    let times: Vec<i64> = sqlx::query_scalar(
        "SELECT attempted_at FROM auth_failures WHERE scope = ? AND subject = ? AND attempted_at >= ? \
         ORDER BY attempted_at DESC LIMIT ?",
    )
    .bind(scope.as_str())
    .bind(subject)
    .bind(since.millis())
    .bind(i64::from(limit))
    .fetch_all(reader)
    .await?;
    times.into_iter().map(|ms| super::millis(ms, "attempted_at").map_err(StoreError::from)).collect()
}

pub(super) async fn clear_auth_failures(
    writer: &SqlitePool,
    scope: FailureScope,
    subject: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM auth_failures WHERE scope = ? AND subject = ?")
        .bind(scope.as_str())
        .bind(subject)
        .execute(writer)
        .await?;
    Ok(())
}

pub(super) async fn prune_auth_failures(writer: &SqlitePool, before: Timestamp) -> Result<u64, StoreError> {
    let done =
        sqlx::query("DELETE FROM auth_failures WHERE attempted_at < ?").bind(before.millis()).execute(writer).await?;
    Ok(done.rows_affected())
}
