//! The failure counters behind sign-in lockouts.

use crate::{FailureScope, StoreError};
use chrono::{DateTime, Utc};
use mapquiz_domain::Timestamp;
use sqlx::PgPool;

pub(super) async fn record_auth_failure(
    pool: &PgPool,
    scope: FailureScope,
    subject: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO auth_failures (scope, subject, attempted_at) VALUES ($1, $2, $3)")
        .bind(scope.as_str())
        .bind(subject)
        .bind(at.datetime())
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn recent_auth_failures(
    pool: &PgPool,
    scope: FailureScope,
    subject: &str,
    since: Timestamp,
    limit: u32,
) -> Result<Vec<Timestamp>, StoreError> {
    let times: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT attempted_at FROM auth_failures WHERE scope = $1 AND subject = $2 AND attempted_at >= $3 \
         ORDER BY attempted_at DESC LIMIT $4",
    )
    .bind(scope.as_str())
    .bind(subject)
    .bind(since.datetime())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(times.into_iter().map(Timestamp::from_datetime).collect())
}

pub(super) async fn clear_auth_failures(pool: &PgPool, scope: FailureScope, subject: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM auth_failures WHERE scope = $1 AND subject = $2")
        .bind(scope.as_str())
        .bind(subject)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn prune_auth_failures(pool: &PgPool, before: Timestamp) -> Result<u64, StoreError> {
    let done =
        sqlx::query("DELETE FROM auth_failures WHERE attempted_at < $1").bind(before.datetime()).execute(pool).await?;
    Ok(done.rows_affected())
}
