//! Clean-up of expired rows, the account takeover guard of provider linking, and the weekly maintenance
//! jobs with the leases that let one node at a time run each.

use crate::StoreError;
use chrono::{DateTime, Utc};
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

pub(super) async fn prune_rejected_friend_requests(pool: &PgPool, before: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM friend_requests WHERE status = 'rejected' AND updated_at < $1")
        .bind(before.datetime())
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn prune_audit(pool: &PgPool, before: Timestamp) -> Result<u64, StoreError> {
    let done =
        sqlx::query("DELETE FROM audit_log WHERE occurred_at < $1").bind(before.datetime()).execute(pool).await?;
    Ok(done.rows_affected())
}

/// Plain `ANALYZE` refreshes the planner's statistics of every table of the database; autovacuum does the
/// same per table, this catches tables whose changes stayed under its thresholds.
pub(super) async fn optimize(pool: &PgPool) -> Result<String, StoreError> {
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok("ANALYZE".to_owned())
}

/// One statement, so two nodes cannot both take the lease: a concurrent insert of the same name waits for
/// the other's commit, then the conflict branch updates only a lease that is free (expired) or already the
/// caller's, and RETURNING tells whether it did.
pub(super) async fn try_lease(
    pool: &PgPool,
    job: &str,
    holder: &str,
    until: Timestamp,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let taken: Option<String> = sqlx::query_scalar(
        "INSERT INTO job_leases (name, holder, leased_until) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until \
         WHERE job_leases.leased_until <= $4 OR job_leases.holder = excluded.holder \
         RETURNING name",
    )
    .bind(job)
    .bind(holder)
    .bind(until.datetime())
    .bind(now.datetime())
    .fetch_optional(pool)
    .await?;
    Ok(taken.is_some())
}

pub(super) async fn finish_lease(pool: &PgPool, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE job_leases SET leased_until = $1, last_run_at = $1 WHERE name = $2 AND holder = $3")
        .bind(now.datetime())
        .bind(job)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn last_run(pool: &PgPool, job: &str) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT last_run_at FROM job_leases WHERE name = $1").bind(job).fetch_optional(pool).await?;
    Ok(at.flatten().map(Timestamp::from_datetime))
}

/// PostgreSQL is backed up with its own tools; the server CLI names the command with the URL.
pub(super) fn backup_to() -> Result<(), StoreError> {
    Err(StoreError::Config("online backup is built in for SQLite only; back up PostgreSQL with pg_dump".to_owned()))
}
