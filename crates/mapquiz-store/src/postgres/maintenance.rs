//! Clean-up of expired rows, and the account takeover guard of provider linking.

use crate::StoreError;
use mapquiz_domain::Timestamp;
use sqlx::PgPool;

pub(super) async fn prune_expired(pool: &PgPool, now: Timestamp) -> Result<(u64, u64), StoreError> {
    let mut tx = pool.begin().await?;
    let sessions =
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now.datetime()).execute(&mut *tx).await?;
    let values =
        sqlx::query("DELETE FROM verifications WHERE expires_at <= $1").bind(now.datetime()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok((sessions.rows_affected(), values.rows_affected()))
}

pub(super) async fn verify_email_and_drop_credentials(
    pool: &PgPool,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<String>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM accounts WHERE user_id = $1 AND provider_id = 'credential'")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let hashes: Vec<String> = sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash")
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2")
        .bind(now.datetime())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(hashes)
}
