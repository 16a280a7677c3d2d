//! Presence: the stored online flag and last-seen time.

use super::SqliteStore;
use crate::db_time::DbTime;
use crate::{Presence, StoreError};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use sqlx::SqlitePool;

#[async_trait]
impl Presence for SqliteStore {
    async fn set_online(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        set_flag(&self.writer, user_id, true, now).await
    }

    async fn set_offline(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        set_flag(&self.writer, user_id, false, now).await
    }

    async fn reset_presence(&self, keep: &[String]) -> Result<u64, StoreError> {
        // The ids travel as one JSON array parameter: any number of them, and never spliced into the SQL.
        let keep = serde_json::to_string(keep).map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
        let done = sqlx::query(
            "UPDATE users SET is_online = 0 WHERE is_online = 1 AND id NOT IN (SELECT value FROM json_each($1))",
        )
        .bind(keep)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn sweep_presence(&self, keep: &[String], now: Timestamp) -> Result<Vec<String>, StoreError> {
        let keep = serde_json::to_string(keep).map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
        Ok(sqlx::query_scalar(
            "UPDATE users SET is_online = 0, last_seen = $2 \
             WHERE is_online = 1 AND id NOT IN (SELECT value FROM json_each($1)) RETURNING id",
        )
        .bind(keep)
        .bind(DbTime(now))
        .fetch_all(&self.writer)
        .await?)
    }

    async fn mark_online(&self, ids: &[String], now: Timestamp) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(ids).map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
        Ok(sqlx::query_scalar(
            "UPDATE users SET is_online = 1, last_seen = $2 \
             WHERE is_online = 0 AND id IN (SELECT value FROM json_each($1)) RETURNING id",
        )
        .bind(ids)
        .bind(DbTime(now))
        .fetch_all(&self.writer)
        .await?)
    }
}

/// Flips the flag only when it differs, so the caller learns whether this call made the transition.
async fn set_flag(writer: &SqlitePool, user_id: &str, online: bool, now: Timestamp) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE users SET is_online = $1, last_seen = $2 WHERE id = $3 AND is_online <> $1")
        .bind(online)
        .bind(DbTime(now))
        .bind(user_id)
        .execute(writer)
        .await?;
    Ok(done.rows_affected() == 1)
}
