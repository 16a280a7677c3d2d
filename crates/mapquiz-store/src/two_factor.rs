//! Authenticator-app (TOTP) settings and backup codes.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;

/// A user's authenticator-app settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwoFactor {
    pub user_id: String,
    /// The TOTP secret, encrypted by the application (the store never sees it in clear).
    pub secret: String,
    /// Keyed hashes of the unused backup codes.
    pub backup_codes: Vec<String>,
    /// Active (sign-in asks for a code) once the first code has been verified.
    pub enabled: bool,
    /// The last accepted TOTP time step: a step is accepted at most once.
    pub last_used_step: Option<i64>,
}

/// Users' two-factor settings.
#[async_trait]
pub trait TwoFactors: Send + Sync {
    /// The user's two-factor settings.
    async fn two_factor(&self, user_id: &str) -> Result<Option<TwoFactor>, StoreError>;

    /// Creates or replaces the user's settings with a new secret and codes: not enabled, no step used.
    async fn reset_two_factor(
        &self,
        user_id: &str,
        secret: &str,
        backup_codes: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Turns two-factor on; `NotFound` when the user has no settings.
    async fn enable_two_factor(&self, user_id: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Removes the user's settings; `Ok(false)` when there were none.
    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError>;

    /// Records `step` as used if it is newer than the last used one: `Ok(false)` is a replay.
    async fn use_totp_step(&self, user_id: &str, step: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Replaces the backup codes if they are still `expected` (compare-and-set): `Ok(false)` when another
    /// request changed them first.
    async fn swap_backup_codes(
        &self,
        user_id: &str,
        expected: &[String],
        new: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Implements [`TwoFactors`] for `$store`, whose rows are `$row`: both engines run the same statements (a
/// macro, not generic code: see `pools.rs`). Backup codes are a JSON array through `sqlx::types::Json`: TEXT
/// on SQLite, always `serde_json`'s one serialisation so the compare-and-set can compare the text exactly,
/// and JSONB on PostgreSQL, compared as JSONB.
macro_rules! impl_two_factor {
    ($store:ty, $row:ty) => {
        const _: () = {
            use $crate::db_time::DbTime;
            use $crate::pools::Pools as _;
            use $crate::{StoreError, TwoFactor, TwoFactors};
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;
            use ::sqlx::Row as _;
            use ::sqlx::types::Json;

            fn two_factor_at(row: &$row) -> Result<TwoFactor, sqlx::Error> {
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
            impl TwoFactors for $store {
                async fn two_factor(&self, user_id: &str) -> Result<Option<TwoFactor>, StoreError> {
                    Ok(sqlx::query(
                        "SELECT user_id, secret, backup_codes, enabled, last_used_step FROM two_factors WHERE user_id = $1",
                    )
                    .bind(user_id)
                    .try_map(|row: $row| two_factor_at(&row))
                    .fetch_optional(self.reads())
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
                    .execute(self.writes())
                    .await?;
                    Ok(())
                }

                async fn enable_two_factor(&self, user_id: &str, now: Timestamp) -> Result<(), StoreError> {
                    let done = sqlx::query("UPDATE two_factors SET enabled = TRUE, updated_at = $1 WHERE user_id = $2")
                        .bind(DbTime(now))
                        .bind(user_id)
                        .execute(self.writes())
                        .await?;
                    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                }

                async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM two_factors WHERE user_id = $1").bind(user_id).execute(self.writes()).await?;
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
                    .execute(self.writes())
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
                        "UPDATE two_factors SET backup_codes = $1, updated_at = $2 WHERE user_id = $3 AND backup_codes = $4",
                    )
                    .bind(Json(new))
                    .bind(DbTime(now))
                    .bind(user_id)
                    .bind(Json(expected))
                    .execute(self.writes())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}
pub(crate) use impl_two_factor;
