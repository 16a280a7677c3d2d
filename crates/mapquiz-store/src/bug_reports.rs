//! Bug reports and their delivery to GitHub.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;

/// Where a bug report is on its way to GitHub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// The issue exists.
    Delivered,
    /// Retried for the whole period without success; kept for operators.
    Abandoned,
}

impl DeliveryStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "abandoned" => Some(DeliveryStatus::Abandoned),
            _ => None,
        }
    }
}

/// A bug report to store, checked; delivery starts `pending`, due at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBugReport {
    pub id: String,
    pub reporter_id: Option<String>,
    pub title: String,
    pub description: String,
    pub steps_to_reproduce: Option<String>,
    pub location: Option<String>,
    /// A JSON object.
    pub environment: serde_json::Value,
    pub user_agent: Option<String>,
    pub url: Option<String>,
    pub created_at: Timestamp,
}

/// A stored bug report and its delivery state.
#[derive(Clone, Debug, PartialEq)]
pub struct BugReport {
    pub id: String,
    pub reporter_id: Option<String>,
    pub title: String,
    pub description: String,
    pub steps_to_reproduce: Option<String>,
    pub location: Option<String>,
    pub environment: serde_json::Value,
    pub user_agent: Option<String>,
    pub url: Option<String>,
    pub delivery_status: DeliveryStatus,
    /// Delivery attempts made (failed ones, plus the successful one).
    pub attempts: i32,
    /// When the next attempt is due; while a worker holds the report, the end of its lease.
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub issue_number: Option<i64>,
    pub issue_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How many bug reports are in each delivery state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BugReportCounts {
    pub pending: u64,
    pub delivered: u64,
    pub abandoned: u64,
}

impl BugReportCounts {
    /// Folds `(status, count)` rows (a `GROUP BY delivery_status`) into the counts.
    pub(crate) fn from_rows(rows: Vec<(String, i64)>) -> Self {
        let mut counts = BugReportCounts::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match DeliveryStatus::parse(&status) {
                Some(DeliveryStatus::Pending) => counts.pending = n,
                Some(DeliveryStatus::Delivered) => counts.delivered = n,
                Some(DeliveryStatus::Abandoned) => counts.abandoned = n,
                None => {}
            }
        }
        counts
    }
}

/// Longest `last_error` kept, in characters: a GitHub error page must not bloat the row.
pub const MAX_DELIVERY_ERROR_CHARS: usize = 1_000;

/// Bug reports awaiting or past delivery.
#[async_trait]
pub trait BugReports: Send + Sync {
    /// Stores a new report, `pending` and due at once.
    async fn insert_bug_report(&self, report: &NewBugReport) -> Result<(), StoreError>;

    /// Claims up to `limit` pending reports due at `now` (oldest first) for one delivery attempt: in one
    /// atomic statement, their `next_attempt_at` moves to `lease_until`, so no other worker (on this node
    /// or another sharing the database) picks them until the lease ends. A worker that dies mid-delivery
    /// thus only delays the report to `lease_until`.
    async fn claim_bug_reports(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BugReport>, StoreError>;

    /// Records a successful delivery (attempts + 1, issue number and URL, no next attempt); `Ok(false)`
    /// when the report is unknown or no longer pending.
    async fn bug_report_delivered(
        &self,
        id: &str,
        issue_number: i64,
        issue_url: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records a failed attempt (attempts + 1, `error` cut to [`MAX_DELIVERY_ERROR_CHARS`]): pending again
    /// at `retry_at`, or `abandoned` when it is `None`. With `claimed_until`, only while the report's lease
    /// is still that one (a worker that stalled past its lease must not reschedule another's attempt).
    /// `Ok(false)` when the report is unknown, no longer pending, or leased to someone else.
    async fn bug_report_failed(
        &self,
        id: &str,
        claimed_until: Option<Timestamp>,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// How many reports are in each delivery state.
    async fn bug_report_counts(&self) -> Result<BugReportCounts, StoreError>;

    /// The report with this id.
    async fn bug_report(&self, id: &str) -> Result<Option<BugReport>, StoreError>;
}

/// The columns `report_at` reads, in its order.
macro_rules! report_columns {
    () => {
        "id, reporter_id, title, description, steps_to_reproduce, location, environment, user_agent, url, \
         delivery_status, attempts, next_attempt_at, last_error, issue_number, issue_url, created_at, updated_at"
    };
}
pub(crate) use report_columns;

/// Implements [`BugReports`] for `$store`, whose rows are `$row`, from the engine's own `claim_bug_reports`
/// and `bug_report_failed` (given as the block, which sees the imports below) and the statements both engines
/// share (a macro, not generic code: see `pools.rs`). `environment` goes through `sqlx::types::Json`: JSON
/// in TEXT on SQLite, JSONB on PostgreSQL.
macro_rules! impl_bug_reports {
    ($store:ty, $row:ty, { $($own:tt)* }) => {
        const _: () = {
            use $crate::bug_reports::report_columns;
            use $crate::db_time::{DbTime, time, time_opt};
            use $crate::pools::Pools as _;
            use $crate::{
                BugReport, BugReportCounts, BugReports, DeliveryStatus, MAX_DELIVERY_ERROR_CHARS, NewBugReport, StoreError,
            };
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;
            use ::mapquiz_domain::bug_reports::truncate_chars;
            use ::sqlx::Row as _;
            use ::sqlx::types::Json;

            fn report_at(row: &$row) -> Result<BugReport, sqlx::Error> {
                let Json(environment): Json<serde_json::Value> = row.try_get(6)?;
                let status: String = row.try_get(9)?;
                Ok(BugReport {
                    id: row.try_get(0)?,
                    reporter_id: row.try_get(1)?,
                    title: row.try_get(2)?,
                    description: row.try_get(3)?,
                    steps_to_reproduce: row.try_get(4)?,
                    location: row.try_get(5)?,
                    environment,
                    user_agent: row.try_get(7)?,
                    url: row.try_get(8)?,
                    delivery_status: DeliveryStatus::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
                        index: "delivery_status".into(),
                        source: format!("unknown status {status:?}").into(),
                    })?,
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
            impl BugReports for $store {
                            $($own)*

                async fn insert_bug_report(&self, r: &NewBugReport) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO bug_reports (id, reporter_id, title, description, steps_to_reproduce, location, environment, \
                         user_agent, url, delivery_status, attempts, next_attempt_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, NULL, $10, $10)",
                    )
                    .bind(&r.id)
                    .bind(&r.reporter_id)
                    .bind(&r.title)
                    .bind(&r.description)
                    .bind(&r.steps_to_reproduce)
                    .bind(&r.location)
                    .bind(Json(&r.environment))
                    .bind(&r.user_agent)
                    .bind(&r.url)
                    .bind(DbTime(r.created_at))
                    .execute(self.writes())
                    .await?;
                    Ok(())
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
                    .execute(self.writes())
                    .await?;
                    Ok(done.rows_affected() == 1)
                }


                async fn bug_report_counts(&self) -> Result<BugReportCounts, StoreError> {
                    let rows: Vec<(String, i64)> =
                        sqlx::query_as("SELECT delivery_status, COUNT(*) FROM bug_reports GROUP BY delivery_status")
                            .fetch_all(self.reads())
                            .await?;
                    Ok(BugReportCounts::from_rows(rows))
                }

                async fn bug_report(&self, id: &str) -> Result<Option<BugReport>, StoreError> {
                    Ok(sqlx::query(concat!("SELECT ", report_columns!(), " FROM bug_reports WHERE id = $1"))
                        .bind(id)
                        .try_map(|row: $row| report_at(&row))
                        .fetch_optional(self.reads())
                        .await?)
                }
            }
        };
    };
}
pub(crate) use impl_bug_reports;
