//! Friendships (stored in both directions).

use crate::StoreError;
use mapquiz_domain::Timestamp;
use sqlx::PgPool;

pub(super) async fn add_friendship(
    pool: &PgPool,
    user_id: &str,
    friend_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO friendships (user_id, friend_id, created_at) VALUES ($1, $2, $3), ($2, $1, $3) \
         ON CONFLICT (user_id, friend_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(friend_id)
    .bind(now.datetime())
    .execute(pool)
    .await?;
    Ok(())
}
