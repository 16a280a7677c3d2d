//! Bug reports and their delivery state: the claim (`SKIP LOCKED`) and the failure record (a typed NULL)
//! are PostgreSQL's own, the rest is `crate::bug_reports`'.

use super::PgStore;
use sqlx::postgres::PgRow;

crate::bug_reports::impl_bug_reports!(PgStore, PgRow, {
    async fn claim_bug_reports(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BugReport>, StoreError> {
        // Nodes sharing the database may claim at the same moment: SKIP LOCKED makes each take rows the others
        // have not locked, and a row another node has just leased no longer matches once its lock is released.
        let mut claimed = sqlx::query(concat!(
            "UPDATE bug_reports SET next_attempt_at = $1, updated_at = $2 WHERE id IN (",
            "SELECT id FROM bug_reports WHERE delivery_status = 'pending' ",
            "AND (next_attempt_at IS NULL OR next_attempt_at <= $2) ORDER BY created_at, id LIMIT $3 ",
            "FOR UPDATE SKIP LOCKED",
            ") RETURNING ",
            report_columns!()
        ))
        .bind(DbTime(lease_until))
        .bind(DbTime(now))
        .bind(i64::from(limit))
        .try_map(|row: PgRow| report_at(&row))
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
             AND ($6::timestamptz IS NULL OR next_attempt_at = $6)",
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
