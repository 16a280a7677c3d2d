//! Authenticator-app settings. Backup codes are a JSONB array; the compare-and-set compares them as JSONB.

use super::PgStore;
use crate::db_time::DbTime;
use crate::{StoreError, TwoFactor, TwoFactors};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;

fn two_factor_at(row: &PgRow) -> Result<TwoFactor, sqlx::Error> {
    let Json(backup_codes) = row.try_get(2)?;
    Ok(TwoFactor {
        user_id: row.try_get(0)?,
        secret: row.try_get(1)?,
        backup_codes,
        enabled: row.try_get(3)?,
        last_used_step: row.try_get(4)?,
    })
}

#[async_trait]
impl TwoFactors for PgStore {
    async fn two_factor(&self, user_id: &str) -> Result<Option<TwoFactor>, StoreError> {
        Ok(sqlx::query(
            "SELECT user_id, secret, backup_codes, enabled, last_used_step FROM two_factors WHERE user_id = $1",
        )
        .bind(user_id)
        .try_map(|row: PgRow| two_factor_at(&row))
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn reset_two_factor(
        &self,
        user_id: &str,
        secret: &str,
        backup_codes: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO two_factors (user_id, secret, backup_codes, enabled, last_used_step, created_at, updated_at) \
             VALUES ($1, $2, $3, FALSE, NULL, $4, $5) \
             ON CONFLICT (user_id) DO UPDATE \
                SET secret = excluded.secret, backup_codes = excluded.backup_codes, enabled = FALSE, \
                    last_used_step = NULL, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(secret)
        .bind(Json(backup_codes))
        .bind(DbTime(now))
        .bind(DbTime(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn enable_two_factor(&self, user_id: &str, now: Timestamp) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE two_factors SET enabled = TRUE, updated_at = $1 WHERE user_id = $2")
            .bind(DbTime(now))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM two_factors WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn use_totp_step(&self, user_id: &str, step: i64, now: Timestamp) -> Result<bool, StoreError> {
        // One conditional UPDATE: two requests with the same code cannot both see the step as unused.
        let done = sqlx::query(
            "UPDATE two_factors SET last_used_step = $1, updated_at = $2 \
              WHERE user_id = $3 AND (last_used_step IS NULL OR last_used_step < $4)",
        )
        .bind(step)
        .bind(DbTime(now))
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn swap_backup_codes(
        &self,
        user_id: &str,
        expected: &[String],
        new: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE two_factors SET backup_codes = $1, updated_at = $2 WHERE user_id = $3 AND backup_codes = $4::jsonb",
        )
        .bind(Json(new))
        .bind(DbTime(now))
        .bind(user_id)
        .bind(Json(expected))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
