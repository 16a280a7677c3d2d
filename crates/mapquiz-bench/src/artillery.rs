//! The `artillery` scenario: the original maintenance plan's load test. Virtual users arrive at a fixed rate
//! for a fixed time; each opens its own connection, does `GET /health`, then the authenticated reads
//! `get-session`, `history` and `stats` as one of the pre-provisioned users, and leaves. Arrivals do not
//! wait for earlier users to finish (an open model, as Artillery's `arrivalRate`). The report sets the
//! measured figures beside the plan's published ones.

use crate::client::Server;
use crate::http::Route;
use crate::http1::{Target, Template, connect_kind};
use crate::sign_up_many;
use crate::summary::{Errors, Latencies, ServerWatch, Summary};
use anyhow::Context;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The plan's published figures: throughput, mean and p95 latency, error rate.
const PLAN_RPS: f64 = 500.0;
const PLAN_MEAN_MS: f64 = 45.0;
const PLAN_P95_MS: f64 = 120.0;
const PLAN_ERROR_PERCENT: f64 = 0.1;

/// What the run is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The server, `http://host:port`.
    pub url: String,
    /// Virtual users arriving per second.
    pub arrival_rate: f64,
    /// How long users keep arriving.
    pub duration: Duration,
    /// Users signed up beforehand; virtual user k acts as user k mod users.
    pub users: usize,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// The server's process, for its CPU and RSS.
    pub server_pid: Option<u32>,
}

/// Runs the scenario.
pub async fn run(opts: Options) -> anyhow::Result<Summary> {
    anyhow::ensure!(opts.arrival_rate > 0.0 && opts.users > 0, "need a positive arrival rate and users");
    let target = Target::resolve(&opts.url).await?;
    let server = Server::new(&opts.url)?;
    let users = sign_up_many(&server, "Artillery ", opts.users, 16).await?;
    stream::iter(&users)
        .map(|u| async { server.post_scores(u, 3).await })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    let flows: Vec<Arc<Vec<Template>>> = users
        .iter()
        .map(|u| {
            let cookie = Some(u.cookie.as_str());
            let flow = [Route::Health, Route::GetSession, Route::History, Route::Stats];
            flow.iter().map(|r| r.template(cookie)).collect::<anyhow::Result<Vec<_>>>().map(Arc::new)
        })
        .collect::<anyhow::Result<_>>()?;

    let watch = ServerWatch::start(opts.server_pid);
    let start = Instant::now();
    let every = Duration::from_secs_f64(1.0 / opts.arrival_rate);
    let mut vus = JoinSet::new();
    let mut latencies = Latencies::new()?;
    let mut errors = Errors::default();
    let (mut requests, mut arrived) = (0u64, 0u64);
    let mut collect = |r: Result<anyhow::Result<(Latencies, Errors, u64)>, tokio::task::JoinError>| {
        let (l, e, n) = r.context("a virtual user panicked")??;
        latencies.merge(&l)?;
        errors.merge(e);
        requests += n;
        anyhow::Ok(())
    };
    loop {
        let due = start + every * u32::try_from(arrived).unwrap_or(u32::MAX);
        if due >= start + opts.duration {
            break;
        }
        // Finished users are gathered while waiting for the next arrival, so memory stays flat.
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(due) => break,
                Some(done) = vus.join_next() => collect(done)?,
            }
        }
        let flow = Arc::clone(&flows[arrived as usize % flows.len()]);
        let (target, timeout) = (target.clone(), opts.timeout);
        vus.spawn(async move { virtual_user(&target, &flow, timeout).await });
        arrived += 1;
    }
    while let Some(done) = vus.join_next().await {
        collect(done)?;
    }
    let elapsed = start.elapsed();
    let server_stats = match watch {
        Some(w) => w.finish().await,
        None => None,
    };

    let mut summary = Summary::new("artillery", "requests", requests, elapsed).with_errors(errors);
    let series = latencies.series("request → whole answer (health, get-session, history, stats)");
    // Error rate over the requests attempted: answered ones plus those that got no answer at all.
    let statuses: u64 = summary.errors.iter().filter(|(k, _)| k.starts_with("status ")).map(|(_, n)| n).sum();
    let attempts = requests + summary.error_total - statuses;
    let error_percent = if attempts > 0 { summary.error_total as f64 * 100.0 / attempts as f64 } else { 0.0 };
    summary.notes.push(format!(
        "{arrived} virtual users arrived at {:.1}/s over {:.0} s, 4 requests each, {} users",
        opts.arrival_rate,
        opts.duration.as_secs_f64(),
        users.len()
    ));
    let offered = opts.arrival_rate * 4.0;
    if offered < PLAN_RPS {
        summary.notes.push(format!(
            "offered load: {offered:.0} requests/s ({:.1} arrivals/s × 4); the plan's {PLAN_RPS:.0}+ requests/s \
             needs --arrival-rate {:.0} or more",
            opts.arrival_rate,
            PLAN_RPS / 4.0
        ));
    }
    summary.notes.push("                 plan (published)   measured".to_owned());
    summary.notes.push(format!("  requests/s     {PLAN_RPS:>8.0}+          {:>8.1}", summary.rate_per_sec));
    summary.notes.push(format!("  mean           {PLAN_MEAN_MS:>8.1} ms        {:>8.2} ms", series.mean_ms));
    summary.notes.push(format!("  p50            {:>8} ms        {:>8.2} ms", "–", series.p50_ms));
    summary.notes.push(format!("  p95            {PLAN_P95_MS:>8.1} ms        {:>8.2} ms", series.p95_ms));
    summary.notes.push(format!("  p99            {:>8} ms        {:>8.2} ms", "–", series.p99_ms));
    summary.notes.push(format!("  max            {:>8} ms        {:>8.2} ms", "–", series.max_ms));
    summary.notes.push(format!("  errors         {PLAN_ERROR_PERCENT:>8.1} %         {error_percent:>8.2} %"));
    summary.series.push(series);
    summary.server = server_stats;
    Ok(summary)
}

/// One virtual user: its own connection, the flow's requests in order, then it leaves.
async fn virtual_user(
    target: &Target,
    flow: &[Template],
    timeout: Duration,
) -> anyhow::Result<(Latencies, Errors, u64)> {
    let mut latencies = Latencies::new()?;
    let mut errors = Errors::default();
    let mut completed = 0;
    let mut conn = match tokio::time::timeout(timeout, target.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            errors.add(connect_kind(&e));
            return Ok((latencies, errors, 0));
        }
        Err(_) => {
            errors.add("connect timeout");
            return Ok((latencies, errors, 0));
        }
    };
    for template in flow {
        let sent = Instant::now();
        match conn.send(target, template, timeout).await {
            Ok(status) => {
                latencies.record(sent.elapsed());
                completed += 1;
                if !(200..300).contains(&status) {
                    errors.add(format!("status {status}"));
                }
            }
            Err(kind) => {
                // Artillery drops the rest of a scenario whose request failed.
                errors.add(kind);
                break;
            }
        }
    }
    Ok((latencies, errors, completed))
}
