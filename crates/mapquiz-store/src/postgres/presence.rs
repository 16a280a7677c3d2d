//! Presence: the stored online flag and last-seen time.

use super::PgStore;
use crate::db_time::DbTime;
use crate::{Presence, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use sqlx::PgPool;

#[async_trait]
impl Presence for PgStore {
    async fn set_online(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        set_flag(&self.pool, user_id, true, now).await
    }

    async fn set_offline(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        set_flag(&self.pool, user_id, false, now).await
    }

    async fn reset_presence(&self, keep: &[String]) -> Result<u64, StoreError> {
        // The ids travel as one text[] parameter: any number of them, and never spliced into the SQL.
        let done = sqlx::query("UPDATE users SET is_online = FALSE WHERE is_online AND id <> ALL($1)")
            .bind(keep)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn sweep_presence(&self, keep: &[String], now: Timestamp) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE users SET is_online = FALSE, last_seen = $2 WHERE is_online AND id <> ALL($1) RETURNING id",
        )
        .bind(keep)
        .bind(DbTime(now))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mark_online(&self, ids: &[String], now: Timestamp) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "UPDATE users SET is_online = TRUE, last_seen = $2 WHERE NOT is_online AND id = ANY($1) RETURNING id",
        )
        .bind(ids)
        .bind(DbTime(now))
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Flips the flag only when it differs, so the caller learns whether this call made the transition.
async fn set_flag(pool: &PgPool, user_id: &str, online: bool, now: Timestamp) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE users SET is_online = $1, last_seen = $2 WHERE id = $3 AND is_online <> $1")
        .bind(online)
        .bind(DbTime(now))
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
