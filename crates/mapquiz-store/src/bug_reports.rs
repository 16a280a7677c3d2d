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
