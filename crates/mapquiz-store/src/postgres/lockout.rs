//! The failure counters behind sign-in lockouts.

use super::PgStore;
use crate::db_time::DbTime;
use crate::{FailureScope, Lockout, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;

#[async_trait]
impl Lockout for PgStore {
    async fn record_auth_failure(&self, scope: FailureScope, subject: &str, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO auth_failures (scope, subject, attempted_at) VALUES ($1, $2, $3)")
            .bind(scope.as_str())
            .bind(subject)
            .bind(DbTime(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn recent_auth_failures(
        &self,
        scope: FailureScope,
        subject: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<Timestamp>, StoreError> {
        let times: Vec<DbTime> = sqlx::query_scalar(
            "SELECT attempted_at FROM auth_failures WHERE scope = $1 AND subject = $2 AND attempted_at >= $3 \
             ORDER BY attempted_at DESC LIMIT $4",
        )
        .bind(scope.as_str())
        .bind(subject)
        .bind(DbTime(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(times.into_iter().map(|t| t.0).collect())
    }

    async fn clear_auth_failures(&self, scope: FailureScope, subject: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM auth_failures WHERE scope = $1 AND subject = $2")
            .bind(scope.as_str())
            .bind(subject)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_auth_failures(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM auth_failures WHERE attempted_at < $1")
            .bind(DbTime(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
