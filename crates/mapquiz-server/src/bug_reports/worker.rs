//! The delivery worker: stored bug reports become GitHub issues, with retries (protocol §1.8).
//!
//! Reports are claimed from the store with a lease, so nodes sharing a database never deliver the same
//! report at the same time, and a node that dies mid-delivery only delays it to the lease's end. The
//! schedule reads `state.clock`, so tests move time instead of waiting.

use super::github::{DeliveryError, GithubClient};
use crate::state::AppState;
use mapquiz_domain::bug_reports::{Environment, IssueContent, Reporter, issue_body, issue_title, next_attempt};
use mapquiz_store::{BugReport, StoreError};
use std::time::Duration;

/// How often the worker looks for due reports when nothing wakes it (a new report wakes it at once).
pub const POLL_EVERY: Duration = Duration::from_secs(30);
/// Reports claimed per round.
const BATCH: u32 = 10;
/// How long a claimed report is reserved for this node: far longer than one round can take
/// ([`BATCH`] requests of at most 20 s each).
const LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// Runs until shutdown: delivers due reports when GitHub is configured, and keeps the
/// `bug_reports_pending` and `bug_reports_abandoned` gauges current either way.
pub async fn run(state: AppState) {
    let client = match GithubClient::from_config(&state.config.github) {
        Ok(Some(client)) => {
            tracing::info!(repository = client.repository(), "bug reports are delivered as GitHub issues");
            Some(client)
        }
        Ok(None) => {
            tracing::info!(
                "bug-report delivery is off (github_token, github_repo_owner or github_repo_name unset): reports are stored and kept pending"
            );
            None
        }
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "bug-report delivery is off: reports are stored and kept pending"
            );
            None
        }
    };
    loop {
        let busy = match &client {
            Some(client) => deliver_due(&state, client).await,
            None => false,
        };
        refresh_gauges(&state).await;
        if state.shutdown.is_cancelled() {
            return;
        }
        // A full batch may mean more are due: go on at once.
        if busy {
            continue;
        }
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = state.bug_report_wakeup.notified() => {}
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

/// One round: claims due reports and tries each once; `true` when the batch was full.
async fn deliver_due(state: &AppState, client: &GithubClient) -> bool {
    let now = state.clock.now();
    let claimed = match state.store.claim_bug_reports(now, now.plus(LEASE), BATCH).await {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "cannot claim bug reports for delivery");
            return false;
        }
    };
    let full = claimed.len() == BATCH as usize;
    for report in claimed {
        // A report under way is finished even when shutdown begins: cutting the request could leave an
        // issue created on GitHub but not recorded here, and so delivered twice.
        if let Err(e) = deliver(state, client, &report).await {
            // The lease runs out and the report is tried again.
            tracing::warn!(report_id = %report.id, error = format!("{e:#}"), "cannot record a bug-report delivery");
        }
        if state.shutdown.is_cancelled() {
            return false;
        }
    }
    full
}

/// Tries one report and records the outcome.
async fn deliver(state: &AppState, client: &GithubClient, report: &BugReport) -> Result<(), StoreError> {
    let reporter = match &report.reporter_id {
        Some(id) => state.store.user_by_id(id).await?,
        None => None,
    };
    let environment = Environment::from_json(&report.environment);
    let content = IssueContent {
        id: &report.id,
        title: &report.title,
        description: &report.description,
        steps_to_reproduce: report.steps_to_reproduce.as_deref(),
        location: report.location.as_deref(),
        environment: &environment,
        user_agent: report.user_agent.as_deref(),
        url: report.url.as_deref(),
        reporter: reporter.as_ref().map(|u| Reporter { id: &u.id, name: &u.name }),
        created_at: report.created_at,
    };
    let outcome = client.create_issue(&issue_title(&report.title), &issue_body(&content)).await;
    let now = state.clock.now();
    match outcome {
        Ok(issue) => {
            metrics::counter!("bug_reports_delivered_total").increment(1);
            tracing::info!(report_id = %report.id, issue_number = issue.number, "bug report delivered");
            state.store.bug_report_delivered(&report.id, issue.number, &issue.html_url, now).await?;
        }
        Err(e) => failed(state, report, &e, now).await?,
    }
    Ok(())
}

async fn failed(
    state: &AppState,
    report: &BugReport,
    error: &DeliveryError,
    now: mapquiz_domain::Timestamp,
) -> Result<(), StoreError> {
    metrics::counter!("bug_reports_delivery_failures_total").increment(1);
    let failures = u32::try_from(report.attempts).unwrap_or(0).saturating_add(1);
    let retry_at = next_attempt(report.created_at, failures, now);
    match retry_at {
        Some(at) => tracing::warn!(
            report_id = %report.id, attempts = failures, retry_at = %at, error = %error,
            "bug-report delivery failed; will retry"
        ),
        None => {
            metrics::counter!("bug_reports_abandoned_total").increment(1);
            tracing::error!(
                report_id = %report.id, attempts = failures, error = %error,
                "bug-report delivery abandoned after 7 days; the report stays in the database"
            );
        }
    }
    state.store.bug_report_failed(&report.id, report.next_attempt_at, &error.to_string(), retry_at, now).await?;
    Ok(())
}

async fn refresh_gauges(state: &AppState) {
    match state.store.bug_report_counts().await {
        Ok(counts) => {
            metrics::gauge!("bug_reports_pending").set(counts.pending as f64);
            metrics::gauge!("bug_reports_abandoned").set(counts.abandoned as f64);
        }
        Err(e) => tracing::debug!(error = format!("{e:#}"), "cannot count bug reports"),
    }
}
