//! Bug reports and their delivery state: the claim and the failure record are SQLite's own, the rest
//! is `crate::bug_reports`'.

use super::SqliteStore;
use sqlx::sqlite::SqliteRow;

crate::bug_reports::impl_bug_reports!(SqliteStore, SqliteRow, {
    async fn claim_bug_reports(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BugReport>, StoreError> {
        // One statement on the single writer connection: the select and the lease are atomic.
        let mut claimed = sqlx::query(concat!(
            "UPDATE bug_reports SET next_attempt_at = $1, updated_at = $2 WHERE id IN (",
            "SELECT id FROM bug_reports WHERE delivery_status = 'pending' ",
            "AND (next_attempt_at IS NULL OR next_attempt_at <= $2) ORDER BY created_at, id LIMIT $3",
            ") RETURNING ",
            report_columns!()
        ))
        .bind(DbTime(lease_until))
        .bind(DbTime(now))
        .bind(i64::from(limit))
        .try_map(|row: SqliteRow| report_at(&row))
        .fetch_all(self.writes())
        .await?;
        // RETURNING gives no order guarantee.
        claimed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(claimed)
    }

    async fn bug_report_failed(
        &self,
        id: &str,
        claimed_until: Option<Timestamp>,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let status = if retry_at.is_some() { DeliveryStatus::Pending } else { DeliveryStatus::Abandoned };
        let done = sqlx::query(
            "UPDATE bug_reports SET delivery_status = $1, attempts = attempts + 1, next_attempt_at = $2, \
             last_error = $3, updated_at = $4 WHERE id = $5 AND delivery_status = 'pending' \
             AND ($6 IS NULL OR next_attempt_at = $6)",
        )
        .bind(status.as_str())
        .bind(retry_at.map(DbTime))
        .bind(truncate_chars(error, MAX_DELIVERY_ERROR_CHARS))
        .bind(DbTime(now))
        .bind(id)
        .bind(claimed_until.map(DbTime))
        .execute(self.writes())
        .await?;
        Ok(done.rows_affected() == 1)
    }
});
