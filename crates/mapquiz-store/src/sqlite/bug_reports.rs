//! Bug reports and their delivery state. `environment` is JSON in TEXT, times are INTEGER milliseconds.

use super::{time, time_opt};
use crate::{BugReport, BugReportCounts, DeliveryStatus, MAX_DELIVERY_ERROR_CHARS, NewBugReport, StoreError};
use mapquiz_domain::Timestamp;
use mapquiz_domain::bug_reports::truncate_chars;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

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

pub(super) async fn insert_bug_report(writer: &SqlitePool, r: &NewBugReport) -> Result<(), StoreError> {
    let environment =
        serde_json::to_string(&r.environment).map_err(|e| StoreError::Other(sqlx::Error::Encode(e.into())))?;
    sqlx::query(
        "INSERT INTO bug_reports (id, reporter_id, title, description, steps_to_reproduce, location, environment, \
         user_agent, url, delivery_status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, NULL, ?, ?)",
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
    .bind(r.created_at.millis())
    .bind(r.created_at.millis())
    .execute(writer)
    .await?;
    Ok(())
}

pub(super) async fn claim_bug_reports(
    writer: &SqlitePool,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Result<Vec<BugReport>, StoreError> {
    // One statement on the single writer connection: the select and the lease are atomic.
    let mut claimed = sqlx::query(concat!(
        "UPDATE bug_reports SET next_attempt_at = ?1, updated_at = ?2 WHERE id IN (",
        "SELECT id FROM bug_reports WHERE delivery_status = 'pending' ",
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?2) ORDER BY created_at, id LIMIT ?3",
        ") RETURNING ",
        report_columns!()
    ))
    .bind(lease_until.millis())
    .bind(now.millis())
    .bind(i64::from(limit))
    .try_map(|row: SqliteRow| report_at(&row))
    .fetch_all(writer)
    .await?;
    // RETURNING gives no order guarantee.
    claimed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(claimed)
}

pub(super) async fn bug_report_delivered(
    writer: &SqlitePool,
    id: &str,
    issue_number: i64,
    issue_url: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE bug_reports SET delivery_status = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, \
         last_error = NULL, issue_number = ?, issue_url = ?, updated_at = ? \
         WHERE id = ? AND delivery_status = 'pending'",
    )
    .bind(issue_number)
    .bind(issue_url)
    .bind(now.millis())
    .bind(id)
    .execute(writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn bug_report_failed(
    writer: &SqlitePool,
    id: &str,
    claimed_until: Option<Timestamp>,
    error: &str,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let status = if retry_at.is_some() { DeliveryStatus::Pending } else { DeliveryStatus::Abandoned };
    let done = sqlx::query(
        "UPDATE bug_reports SET delivery_status = ?, attempts = attempts + 1, next_attempt_at = ?, \
         last_error = ?, updated_at = ? WHERE id = ? AND delivery_status = 'pending' \
         AND (?6 IS NULL OR next_attempt_at = ?6)",
    )
    .bind(status.as_str())
    .bind(retry_at.map(Timestamp::millis))
    .bind(truncate_chars(error, MAX_DELIVERY_ERROR_CHARS))
    .bind(now.millis())
    .bind(id)
    .bind(claimed_until.map(Timestamp::millis))
    .execute(writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn bug_report_counts(reader: &SqlitePool) -> Result<BugReportCounts, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT delivery_status, COUNT(*) FROM bug_reports GROUP BY delivery_status")
            .fetch_all(reader)
            .await?;
    Ok(BugReportCounts::from_rows(rows))
}

pub(super) async fn bug_report(reader: &SqlitePool, id: &str) -> Result<Option<BugReport>, StoreError> {
    Ok(sqlx::query(concat!("SELECT ", report_columns!(), " FROM bug_reports WHERE id = ?"))
        .bind(id)
        .try_map(|row: SqliteRow| report_at(&row))
        .fetch_optional(reader)
        .await?)
}
