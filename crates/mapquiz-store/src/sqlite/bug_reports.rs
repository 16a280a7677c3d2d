//! Bug reports and their delivery state. `environment` is JSON in TEXT, times are INTEGER milliseconds.

use super::SqliteStore;
use crate::db_time::{DbTime, time, time_opt};
use crate::{
    BugReport, BugReportCounts, BugReports, DeliveryStatus, MAX_DELIVERY_ERROR_CHARS, NewBugReport, StoreError,
};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use mapquiz_domain::bug_reports::truncate_chars;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The columns [`report_at`] reads, in its order.
macro_rules! report_columns {
    () => {
        "id, reporter_id, title, description, steps_to_reproduce, location, environment, user_agent, url, \
         delivery_status, attempts, next_attempt_at, last_error, issue_number, issue_url, created_at, updated_at"
    };
}

fn decode_error(column: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.to_owned(), source: source.into() }
}

fn report_at(row: &SqliteRow) -> Result<BugReport, sqlx::Error> {
    let environment: String = row.try_get(6)?;
    let status: String = row.try_get(9)?;
    Ok(BugReport {
        id: row.try_get(0)?,
        reporter_id: row.try_get(1)?,
        title: row.try_get(2)?,
        description: row.try_get(3)?,
        steps_to_reproduce: row.try_get(4)?,
        location: row.try_get(5)?,
        environment: serde_json::from_str(&environment).map_err(|e| decode_error("environment", e))?,
        user_agent: row.try_get(7)?,
        url: row.try_get(8)?,
        delivery_status: DeliveryStatus::parse(&status)
            .ok_or_else(|| decode_error("delivery_status", format!("unknown status {status:?}")))?,
        attempts: row.try_get(10)?,
        next_attempt_at: time_opt(row, 11)?,
        last_error: row.try_get(12)?,
        issue_number: row.try_get(13)?,
        issue_url: row.try_get(14)?,
        created_at: time(row, 15)?,
        updated_at: time(row, 16)?,
    })
}

#[async_trait]
impl BugReports for SqliteStore {
    async fn insert_bug_report(&self, r: &NewBugReport) -> Result<(), StoreError> {
        let environment =
            serde_json::to_string(&r.environment).map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
        sqlx::query(
            "INSERT INTO bug_reports (id, reporter_id, title, description, steps_to_reproduce, location, environment, \
             user_agent, url, delivery_status, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, NULL, $10, $11)",
        )
        .bind(&r.id)
        .bind(&r.reporter_id)
        .bind(&r.title)
        .bind(&r.description)
        .bind(&r.steps_to_reproduce)
        .bind(&r.location)
        .bind(environment)
        .bind(&r.user_agent)
        .bind(&r.url)
        .bind(DbTime(r.created_at))
        .bind(DbTime(r.created_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn claim_bug_reports(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BugReport>, StoreError> {
        // One statement on the single &self.writer connection: the select and the lease are atomic.
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
        .fetch_all(&self.writer)
        .await?;
        // RETURNING gives no order guarantee.
        claimed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(claimed)
    }

    async fn bug_report_delivered(
        &self,
        id: &str,
        issue_number: i64,
        issue_url: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE bug_reports SET delivery_status = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, \
             last_error = NULL, issue_number = $1, issue_url = $2, updated_at = $3 \
             WHERE id = $4 AND delivery_status = 'pending'",
        )
        .bind(issue_number)
        .bind(issue_url)
        .bind(DbTime(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
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
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn bug_report_counts(&self) -> Result<BugReportCounts, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT delivery_status, COUNT(*) FROM bug_reports GROUP BY delivery_status")
                .fetch_all(&self.reader)
                .await?;
        Ok(BugReportCounts::from_rows(rows))
    }

    async fn bug_report(&self, id: &str) -> Result<Option<BugReport>, StoreError> {
        Ok(sqlx::query(concat!("SELECT ", report_columns!(), " FROM bug_reports WHERE id = $1"))
            .bind(id)
            .try_map(|row: SqliteRow| report_at(&row))
            .fetch_optional(&self.reader)
            .await?)
    }
}
