//! Clean-up of expired rows, the account takeover guard of provider linking, and the weekly maintenance
//! jobs with the leases that let one node at a time run each.

use crate::StoreError;
use mapquiz_domain::Timestamp;
use sqlx::SqlitePool;

pub(super) async fn prune_expired(writer: &SqlitePool, now: Timestamp) -> Result<(u64, u64), StoreError> {
    let mut tx = writer.begin().await?;
    let sessions =
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?").bind(now.millis()).execute(&mut *tx).await?;
    let values =
        sqlx::query("DELETE FROM verifications WHERE expires_at <= ?").bind(now.millis()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok((sessions.rows_affected(), values.rows_affected()))
}

pub(super) async fn verify_email_and_drop_credentials(
    writer: &SqlitePool,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<String>, StoreError> {
    let mut tx = writer.begin().await?;
    sqlx::query("DELETE FROM accounts WHERE user_id = ? AND provider_id = 'credential'")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let hashes: Vec<String> = sqlx::query_scalar("DELETE FROM sessions WHERE user_id = ? RETURNING token_hash")
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ?")
        .bind(now.millis())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(hashes)
}

pub(super) async fn prune_rejected_friend_requests(writer: &SqlitePool, before: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM friend_requests WHERE status = 'rejected' AND updated_at < ?")
        .bind(before.millis())
        .execute(writer)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn prune_audit(writer: &SqlitePool, before: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM audit_log WHERE occurred_at < ?").bind(before.millis()).execute(writer).await?;
    Ok(done.rows_affected())
}

/// `PRAGMA optimize` alone only looks at tables the connection has queried; 0x10002 makes it examine every
/// table (0x10000) and run `ANALYZE` where the statistics are missing or stale (0x02), which is what a
/// weekly job on a fresh connection (the CLI) needs.
pub(super) async fn optimize(writer: &SqlitePool) -> Result<String, StoreError> {
    sqlx::query("PRAGMA optimize = 0x10002").execute(writer).await?;
    Ok("PRAGMA optimize".to_owned())
}

/// One statement, so two nodes cannot both take the lease: the conflict branch updates only a lease that
/// is free (expired) or already the caller's, and RETURNING tells whether it did.
pub(super) async fn try_lease(
    writer: &SqlitePool,
    job: &str,
    holder: &str,
    until: Timestamp,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let taken: Option<String> = sqlx::query_scalar(
        "INSERT INTO job_leases (name, holder, leased_until) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until \
         WHERE job_leases.leased_until <= ? OR job_leases.holder = excluded.holder \
         RETURNING name",
    )
    .bind(job)
    .bind(holder)
    .bind(until.millis())
    .bind(now.millis())
    .fetch_optional(writer)
    .await?;
    Ok(taken.is_some())
}

pub(super) async fn finish_lease(
    writer: &SqlitePool,
    job: &str,
    holder: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE job_leases SET leased_until = ?, last_run_at = ? WHERE name = ? AND holder = ?")
        .bind(now.millis())
        .bind(now.millis())
        .bind(job)
        .bind(holder)
        .execute(writer)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn last_run(reader: &SqlitePool, job: &str) -> Result<Option<Timestamp>, StoreError> {
    let ms: Option<Option<i64>> = sqlx::query_scalar("SELECT last_run_at FROM job_leases WHERE name = ?")
        .bind(job)
        .fetch_optional(reader)
        .await?;
    Ok(ms.flatten().map(|ms| super::millis(ms, "last_run_at")).transpose()?)
}
