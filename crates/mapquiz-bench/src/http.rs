//! The `http` scenario: C keep-alive connections send a weighted mix of API requests for a fixed time, either
//! closed-loop (each connection sends its next request when the previous one is answered) or open-loop at a
//! fixed total rate (wrk2 style: each connection follows its share of a fixed schedule, and latency counts
//! from the request's intended send time, so a stalled server cannot hide its delay by slowing the bench).
//!
//! A non-2xx answer counts as completed (its latency recorded) and as an error of kind `status N`; a request
//! without an answer (connection closed or reset, timeout) counts only as an error, and the connection is
//! opened again.
//!
//! Users are signed up beforehand (only when the mix needs one), each with a few scores so that history and
//! stats have something to read. With `post-score` in the mix, every acknowledged post is counted per user,
//! and after the run each user's `totalGames` (`/api/scores/stats`, an exact count) must be what set-up
//! posted plus what was acknowledged: a score the server said it kept and then lost fails the run.

use crate::client::{Server, User};
use crate::http1::{Conn, Target, Template, connect_kind};
use crate::sign_up_many;
use crate::summary::{Errors, Latencies, ServerWatch, Summary};
use anyhow::{Context, bail};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Scores each user gets in set-up, so that reads have data.
const SETUP_SCORES: u64 = 3;

/// A route of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/auth/get-session` with the cookie.
    GetSession,
    /// `GET /api/scores/history`.
    History,
    /// `GET /api/scores/stats`.
    Stats,
    /// `GET /api/leaderboards?regions=Europe&around=me`.
    Leaderboard,
    /// `POST /api/scores`.
    PostScore,
    /// `GET /livez`.
    Livez,
    /// `GET /health` (one database query).
    Health,
}

impl Route {
    /// Every route, in `--help` order.
    pub const ALL: [Route; 7] = [
        Route::GetSession,
        Route::History,
        Route::Stats,
        Route::Leaderboard,
        Route::PostScore,
        Route::Livez,
        Route::Health,
    ];

    /// The name used in `--mix`.
    pub fn name(self) -> &'static str {
        match self {
            Route::GetSession => "get-session",
            Route::History => "history",
            Route::Stats => "stats",
            Route::Leaderboard => "leaderboard",
            Route::PostScore => "post-score",
            Route::Livez => "livez",
            Route::Health => "health",
        }
    }

    /// Whether it needs a signed-in user.
    pub fn needs_user(self) -> bool {
        !matches!(self, Route::Livez | Route::Health)
    }

    /// The request, with the session cookie `cookie` where the route needs one.
    pub(crate) fn template(self, cookie: Option<&str>) -> anyhow::Result<Template> {
        match self {
            Route::GetSession => Template::get("/api/auth/get-session", cookie),
            Route::History => Template::get("/api/scores/history", cookie),
            Route::Stats => Template::get("/api/scores/stats", cookie),
            Route::Leaderboard => Template::get("/api/leaderboards?regions=Europe&around=me", cookie),
            Route::PostScore => Template::post_json("/api/scores", cookie, &score_body()),
            Route::Livez => Template::get("/livez", None),
            Route::Health => Template::get("/health", None),
        }
    }
}

/// A valid `POST /api/scores` body (protocol §5.1).
pub fn score_body() -> Value {
    json!({"score": 7, "totalQuestions": 10, "selectedRegions": ["Europe"], "gameMode": "quiz", "duration": 42})
}

/// Parses `history=3,stats=1` (a name alone weighs 1).
pub fn parse_mix(s: &str) -> Result<Vec<(Route, u32)>, String> {
    let mut mix = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
        let route = Route::ALL.into_iter().find(|r| r.name() == name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
            format!("unknown route {name:?}; one of: {}", names.join(", "))
        })?;
        let weight: u32 = weight.trim().parse().map_err(|_| format!("bad weight in {part:?}"))?;
        if weight > 0 {
            mix.push((route, weight));
        }
    }
    if mix.is_empty() {
        return Err("the mix is empty".into());
    }
    Ok(mix)
}

/// What the run is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The server, `http://host:port`.
    pub url: String,
    /// Routes and their weights.
    pub mix: Vec<(Route, u32)>,
    /// Connections (virtual clients), each with its own keep-alive connection.
    pub connections: usize,
    /// The measured part of the run.
    pub duration: Duration,
    /// Run before the measured part, not recorded.
    pub warmup: Duration,
    /// Users signed up beforehand (when the mix needs them); connection i acts as user i mod users.
    pub users: usize,
    /// Open model: total requests per second; `None`: closed model.
    pub rate: Option<f64>,
    /// Longest wait for one answer before it counts as a timeout.
    pub timeout: Duration,
    /// The server's process, for its CPU and RSS.
    pub server_pid: Option<u32>,
}

/// What one connection did.
struct ConnStats {
    latencies: Latencies,
    errors: Errors,
    completed: u64,
}

/// Shared by the connections: the schedule and the acknowledged score posts per user.
struct Plan {
    target: Target,
    /// `templates[user][k]`: the k-th request of the mix's cycle for that user.
    templates: Vec<Vec<(Route, Template)>>,
    acks: Vec<AtomicU64>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
    /// Open model: time between two requests of one connection.
    interval: Option<Duration>,
    connections: usize,
    timeout: Duration,
}

/// Runs the scenario.
pub async fn run(opts: Options) -> anyhow::Result<Summary> {
    anyhow::ensure!(opts.connections > 0, "at least one connection");
    let target = Target::resolve(&opts.url).await?;
    let needs_users = opts.mix.iter().any(|(r, _)| r.needs_user());
    let posts = opts.mix.iter().any(|(r, _)| *r == Route::PostScore);
    let server = Server::new(&opts.url)?;
    let users = if needs_users {
        anyhow::ensure!(opts.users > 0, "the mix needs users");
        let users = sign_up_many(&server, "Bench ", opts.users, 16).await?;
        stream::iter(&users)
            .map(|u| async { server.post_scores(u, SETUP_SCORES).await })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        users
    } else {
        Vec::new()
    };
    // The mix as a cycle: weights 3,1 give [a, a, a, b]; each connection starts at its own place in it, so
    // the mix holds across connections at every moment without a random generator in the loop.
    let cycle: Vec<Route> = opts.mix.iter().flat_map(|(r, w)| std::iter::repeat_n(*r, *w as usize)).collect();
    let cookies: Vec<Option<&str>> =
        if users.is_empty() { vec![None] } else { users.iter().map(|u| Some(u.cookie.as_str())).collect() };
    let templates = cookies
        .iter()
        .map(|c| cycle.iter().map(|r| Ok((*r, r.template(*c)?))).collect::<anyhow::Result<Vec<_>>>())
        .collect::<anyhow::Result<Vec<_>>>()?;

    let interval = match opts.rate {
        Some(r) if r > 0.0 => Some(Duration::from_secs_f64(opts.connections as f64 / r)),
        Some(_) => bail!("--rate must be positive"),
        None => None,
    };
    let start = Instant::now() + Duration::from_millis(50);
    let plan = Arc::new(Plan {
        target,
        templates,
        acks: (0..users.len()).map(|_| AtomicU64::new(0)).collect(),
        start,
        measure_from: start + opts.warmup,
        end: start + opts.warmup + opts.duration,
        interval,
        connections: opts.connections,
        timeout: opts.timeout,
    });
    let mut watch = None;
    let cycle_len = cycle.len();
    let tasks: Vec<_> = (0..opts.connections)
        .map(|i| {
            let plan = Arc::clone(&plan);
            tokio::spawn(async move { connection(&plan, i, cycle_len).await })
        })
        .collect();
    tokio::time::sleep_until(plan.measure_from).await;
    if opts.server_pid.is_some() {
        watch = ServerWatch::start(opts.server_pid);
    }
    let mut latencies = Latencies::new()?;
    let mut errors = Errors::default();
    let mut completed = 0;
    let measured_from = plan.measure_from;
    for t in tasks {
        let s = t.await.context("a connection panicked")??;
        latencies.merge(&s.latencies)?;
        errors.merge(s.errors);
        completed += s.completed;
    }
    let server_stats = match watch {
        Some(w) => w.finish().await,
        None => None,
    };

    let model = match opts.rate {
        Some(r) => format!("open model, {r:.0} requests/s scheduled; latency from the intended send time"),
        None => "closed model".to_owned(),
    };
    let names: Vec<String> = opts.mix.iter().map(|(r, w)| format!("{}={w}", r.name())).collect();
    // The last answers may come after the planned end (and an open-model run that fell behind goes on until its
    // schedule is sent): the rate is over the time actually taken.
    let elapsed = measured_from.elapsed().max(opts.duration);
    let mut summary = Summary::new("http", "requests", completed, elapsed).with_errors(errors);
    summary.series.push(latencies.series(&format!("request → whole answer ({})", names.join(","))));
    summary.server = server_stats;
    summary.notes.push(format!(
        "{} connections, {model}, {} users, {:.1} s measured after {:.1} s warm-up",
        opts.connections,
        users.len(),
        opts.duration.as_secs_f64(),
        opts.warmup.as_secs_f64()
    ));
    if posts {
        verify_scores(&server, &users, &plan.acks, &mut summary).await?;
    }
    Ok(summary)
}

/// One connection's loop, until the end of the run.
async fn connection(plan: &Plan, i: usize, cycle: usize) -> anyhow::Result<ConnStats> {
    let mut stats = ConnStats { latencies: Latencies::new()?, errors: Errors::default(), completed: 0 };
    let user = i % plan.templates.len();
    let templates = &plan.templates[user];
    let mut conn: Option<Conn> = None;
    let mut k: u32 = 0;
    // Open model: connection i's requests are due at start + i/R + k·C/R, so the connections' schedules
    // interleave into one even schedule of R per second.
    let first = plan.interval.map(|iv| plan.start + iv.mul_f64(i as f64 / plan.connections as f64));
    tokio::time::sleep_until(first.unwrap_or(plan.start)).await;
    loop {
        let intended = match (first, plan.interval) {
            (Some(first), Some(iv)) => {
                let due = first + iv * k;
                if due >= plan.end {
                    break;
                }
                if Instant::now() >= due {
                    // Behind schedule (the previous answer came late) the request goes at once, and its
                    // latency counts from when it was due: the server's delay is not hidden.
                    due
                } else {
                    // Ahead of schedule the connection waits; tokio's timer wakes up to a millisecond late,
                    // the bench's delay and not the server's, so latency counts from the actual send.
                    tokio::time::sleep_until(due).await;
                    Instant::now()
                }
            }
            _ => {
                let now = Instant::now();
                if now >= plan.end {
                    break;
                }
                now
            }
        };
        let measured = intended >= plan.measure_from;
        let (route, template) = &templates[(i + k as usize) % cycle];
        k = k.wrapping_add(1);
        let c = match &mut conn {
            Some(c) => c,
            None => match plan.target.connect().await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    if measured {
                        stats.errors.add(connect_kind(&e));
                    }
                    // A refused connect returns at once: pause rather than spin on a server that is down.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        match c.send(&plan.target, template, plan.timeout).await {
            Ok(status) => {
                if *route == Route::PostScore && status == 200 {
                    plan.acks[user].fetch_add(1, Ordering::Relaxed);
                }
                if measured {
                    stats.completed += 1;
                    stats.latencies.record(intended.elapsed());
                    if !(200..300).contains(&status) {
                        stats.errors.add(format!("status {status}"));
                    }
                }
            }
            Err(kind) => {
                conn = None;
                if measured {
                    stats.errors.add(kind);
                }
            }
        }
    }
    Ok(stats)
}

/// Checks that every acknowledged score post is stored: each user's `totalGames` must be at least what set-up
/// posted plus what was acknowledged (more is possible: a post that timed out may still have been kept).
async fn verify_scores(
    server: &Server,
    users: &[User],
    acks: &[AtomicU64],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let stored: Vec<u64> =
        stream::iter(users).map(|u| server.total_games(u)).buffered(16).try_collect::<Vec<u64>>().await?;
    let (mut acknowledged, mut kept, mut extra) = (0, 0, 0);
    for (ack, total) in acks.iter().zip(stored) {
        let ack = ack.load(Ordering::Relaxed);
        let posted = total.saturating_sub(SETUP_SCORES);
        acknowledged += ack;
        kept += posted.min(ack);
        extra += posted.saturating_sub(ack);
    }
    let missing = acknowledged - kept;
    summary.check(missing == 0, format!("scores: acknowledged {acknowledged}, stored {kept}, missing {missing}"));
    if extra > 0 {
        summary.notes.push(format!("scores: {extra} stored without an acknowledgement (answers lost or late)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse() {
        assert_eq!(
            parse_mix("history=3,stats=1,post-score"),
            Ok(vec![(Route::History, 3), (Route::Stats, 1), (Route::PostScore, 1)])
        );
        assert!(parse_mix("nope=1").is_err());
        assert!(parse_mix("livez=0").is_err());
    }
}
