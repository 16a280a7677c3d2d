//! The weekly maintenance jobs: expired sessions and short-lived values, old rejected friend requests, audit
//! retention, planner statistics. Each server node checks hourly which jobs are due and runs them under a
//! lease in the database, so that one node at a time runs a job when several share it; `mapquiz
//! maintenance` runs them now, under the same leases.

use crate::audit::{self, Action, Actor};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::state::AppState;
use anyhow::Context;
use mapquiz_domain::{Timestamp, new_id};
use mapquiz_store::{DynStore, StoreError};
use serde_json::json;
use std::time::Duration;

/// Each job runs once per this interval, on whichever node finds it due first.
pub const JOB_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// How long a runner holds a job's lease. Longer than any run (an `ANALYZE` of a large database takes
/// minutes); when a node dies mid-run, another takes the job over once this has passed.
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// How often a node checks which jobs are due.
pub const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// The first check after start-up: soon, so a server restarted more often than hourly still runs its jobs,
/// but not at once, so start-up (and short test runs) stay free of it.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(300);
/// Rejected friend requests older than this are deleted: the pair may ask again anyway, the row only
/// remembers the refusal.
pub const REJECTED_REQUEST_RETENTION_DAYS: i64 = 30;

/// One maintenance job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Expired sessions and short-lived values, sign-in failures older than the lockout window.
    Sessions,
    /// Rejected friend requests older than [`REJECTED_REQUEST_RETENTION_DAYS`].
    FriendRequests,
    /// Audit lines older than `audit_retention_days`.
    Audit,
    /// `ANALYZE` (PostgreSQL) or `PRAGMA optimize` (SQLite).
    Optimize,
}

impl Task {
    /// Every job, in the order `all` runs them (statistics last, after the deletes).
    pub const ALL: [Task; 4] = [Task::Sessions, Task::FriendRequests, Task::Audit, Task::Optimize];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Task::Sessions => "sessions",
            Task::FriendRequests => "friend-requests",
            Task::Audit => "audit",
            Task::Optimize => "optimize",
        }
    }

    /// The row of `job_leases` that guards this job.
    pub fn job(self) -> &'static str {
        match self {
            Task::Sessions => "maintenance:sessions",
            Task::FriendRequests => "maintenance:friend-requests",
            Task::Audit => "maintenance:audit",
            Task::Optimize => "maintenance:optimize",
        }
    }
}

/// How a leased run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The job ran; its one-line report.
    Ran(String),
    /// Another runner holds the lease (it is running the job now).
    Busy,
    /// The job failed; the lease is released and the job stays due.
    Failed(String),
}

impl Outcome {
    /// The one-line report of this outcome for `task`.
    pub fn report(&self, task: Task) -> String {
        match self {
            Outcome::Ran(report) => report.clone(),
            Outcome::Busy => format!("{}: skipped, another process holds its lease and is running it", task.name()),
            Outcome::Failed(e) => format!("{}: failed: {e}", task.name()),
        }
    }
}

/// Does the work of `task` at `now`; returns its one-line report.
pub async fn run_task(store: &DynStore, config: &Config, task: Task, now: Timestamp) -> Result<String, StoreError> {
    Ok(match task {
        Task::Sessions => {
            let window = chrono::TimeDelta::from_std(config.auth.lockout.window).unwrap_or(chrono::TimeDelta::MAX);
            let failures = store.prune_auth_failures(now.plus(-window)).await?;
            let (sessions, values) = store.prune_expired(now).await?;
            format!(
                "sessions: deleted {sessions} expired sessions, {values} expired verifications, {failures} sign-in \
                 failures older than the lockout window"
            )
        }
        Task::FriendRequests => {
            let before = now.plus(-chrono::TimeDelta::days(REJECTED_REQUEST_RETENTION_DAYS));
            let n = store.prune_rejected_friend_requests(before).await?;
            format!(
                "friend-requests: deleted {n} rejected friend requests older than {REJECTED_REQUEST_RETENTION_DAYS} days"
            )
        }
        Task::Audit => {
            let days = config.maintenance.audit_retention_days;
            let n = store.prune_audit(now.plus(-chrono::TimeDelta::days(i64::from(days)))).await?;
            format!("audit: deleted {n} audit entries older than {days} days")
        }
        Task::Optimize => format!("optimize: ran {}", store.optimize().await?),
    })
}

/// Runs `task` under its lease as `holder`, records the run (audit line, `last_run`) and reports it.
pub async fn run_leased(
    store: &DynStore,
    config: &Config,
    clock: &dyn Clock,
    task: Task,
    holder: &str,
    actor: Actor,
) -> Result<Outcome, StoreError> {
    let now = clock.now();
    if !store.try_lease(task.job(), holder, now.plus(LEASE), now).await? {
        return Ok(Outcome::Busy);
    }
    let outcome = match run_task(store, config, task, now).await {
        Ok(report) => Outcome::Ran(report),
        Err(e) => Outcome::Failed(e.to_string()),
    };
    let result = if matches!(outcome, Outcome::Ran(_)) { "ok" } else { "failed" };
    metrics::counter!("job_runs_total", "job" => task.name(), "result" => result).increment(1);
    let mut details = json!({ "task": task.name(), "result": outcome.report(task) });
    if actor == Actor::Scheduler {
        details["node"] = json!(holder);
    }
    audit::record_system(store, clock.now(), Action::Maintenance, actor, details).await;
    let end = clock.now();
    match outcome {
        Outcome::Ran(_) => {
            if !store.finish_lease(task.job(), holder, end).await? {
                tracing::warn!(task = task.name(), "the lease expired while the job ran: another node may have too");
            }
        }
        // Released without recording a run (re-leasing our own lease until now), so a retry need not wait
        // for the lease to expire.
        _ => {
            store.try_lease(task.job(), holder, end, end).await?;
        }
    }
    Ok(outcome)
}

/// Runs, once, every job due (never run, or last run [`JOB_INTERVAL`] ago or more) whose lease this node
/// gets; returns the reports of those it tried. This is what the scheduler does each [`CHECK_EVERY`].
pub async fn run_due(state: &AppState) -> Vec<String> {
    let holder: &str = &state.realtime.node_id;
    let mut reports = Vec::new();
    for task in Task::ALL {
        match is_due(&state.store, task, state.clock.now()).await {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), task = task.name(), "cannot read when a job last ran");
                continue;
            }
        }
        match run_leased(&state.store, &state.config, &*state.clock, task, holder, Actor::Scheduler).await {
            Ok(Outcome::Busy) => tracing::debug!(task = task.name(), "another node is running the job"),
            Ok(outcome) => {
                let report = outcome.report(task);
                match outcome {
                    Outcome::Failed(_) => tracing::warn!(task = task.name(), report, "maintenance job failed"),
                    _ => tracing::info!(task = task.name(), report, "maintenance job ran"),
                }
                reports.push(report);
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), task = task.name(), "cannot take the job's lease"),
        }
    }
    reports
}

/// Whether `task` has never run or last ran [`JOB_INTERVAL`] or more before `now`.
async fn is_due(store: &DynStore, task: Task, now: Timestamp) -> Result<bool, StoreError> {
    Ok(store.last_run(task.job()).await?.is_none_or(|last| last.plus(JOB_INTERVAL) <= now))
}

/// The scheduler: checks [`run_due`] every [`CHECK_EVERY`] (the first time [`FIRST_CHECK_AFTER`] start-up)
/// until shutdown. A job that finished just before another node checked is not due there: `last_run` is
/// shared, and between the check and the run the lease keeps a second node out.
pub async fn scheduler(state: AppState) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_CHECK_AFTER, CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = tick.tick() => {
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    _ = run_due(&state) => {}
                }
            }
        }
    }
}

/// `mapquiz maintenance <task>|all`: runs the jobs now against the configured database (no server needed),
/// under the same leases as the nodes, and prints one report line per job. An error when one failed.
pub async fn run_cli(config: Config, tasks: &[Task]) -> anyhow::Result<()> {
    let store = crate::cli::open_migrated(&config).await?;
    let holder = format!("cli:{}", new_id());
    let result = async {
        let mut failed = 0;
        for &task in tasks {
            let outcome = run_leased(&store, &config, &SystemClock, task, &holder, Actor::Cli)
                .await
                .with_context(|| format!("cannot run the {} job", task.name()))?;
            failed += usize::from(matches!(outcome, Outcome::Failed(_)));
            crate::cli::say(&outcome.report(task))?;
        }
        anyhow::ensure!(failed == 0, "{failed} maintenance job(s) failed");
        Ok(())
    }
    .await;
    store.close().await;
    result
}
