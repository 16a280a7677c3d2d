//! The `soak` scenario: a moderate steady load of every kind at once for a set time, while the server's
//! resources are read each second; the run fails when one keeps growing (see [`growth`]) or when the load
//! itself went wrong.
//!
//! Three loads run side by side until the deadline:
//! - lobbies: rounds of the [`lobbies`](crate::lobbies) scenario back to back (L lobbies of P players sign up,
//!   befriend, play a whole game, read the results; each round with new players);
//! - friends: rounds of the [`friends`](crate::friends) scenario back to back (friend requests pushed and
//!   rejected, friends going online and offline with their presence pushes);
//! - HTTP: one open-model run of the [`http`](crate::http) scenario over the whole time (reads and score
//!   writes at a fixed rate; every acknowledged score checked stored at the end).
//!
//! Sampled each second ([`sampler`]): the server's RSS and open file descriptors (`/proc`, with
//! `--server-pid`), and from its `/metrics` the Tokio runtime's alive tasks and the database pool's
//! connections in use and idle.

pub mod growth;
pub mod plot;
pub mod sampler;

use crate::client::Server;
use crate::http::{self, Route};
use crate::summary::{Errors, Outputs, Summary, kind_of};
use crate::{friends, lobbies, report};
use anyhow::Context;
use growth::{Tolerance, Verdict};
use mapquiz_domain::region::Region;
use sampler::{Sample, Sampler};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The growth rule, as written in the report.
pub const RULE: &str = "after the warm-up, per series: allowed = max(absolute, relative × steady mean); \
    projected = least-squares slope × steady length; rise = mean of the last tenth − mean of the first tenth; \
    the series keeps growing (the soak fails) when projected > allowed and rise > allowed";

/// The lobbies load.
#[derive(Clone, Debug)]
pub struct LobbyLoad {
    /// Lobbies per round.
    pub lobbies: usize,
    /// Players per lobby.
    pub players: usize,
    /// Time between one player's progress messages.
    pub interval: Duration,
    /// The region played.
    pub region: Region,
}

/// The friends load.
#[derive(Clone, Debug)]
pub struct FriendLoad {
    /// Friend-request pairs and presence pairs per round.
    pub pairs: usize,
    /// Friend requests per pair and round.
    pub rounds: usize,
    /// Online/offline cycles per presence pair and round.
    pub presence_rounds: usize,
    /// The server's presence grace.
    pub presence_grace: Duration,
}

/// The HTTP load.
#[derive(Clone, Debug)]
pub struct HttpLoad {
    /// Routes and weights.
    pub mix: Vec<(Route, u32)>,
    /// Requests per second in all.
    pub rate: f64,
    /// Keep-alive connections.
    pub connections: usize,
    /// Users signed up for it.
    pub users: usize,
}

/// How much each series may grow over the run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Limits {
    /// Server RSS, MiB.
    pub rss: Tolerance,
    /// Open file descriptors.
    pub fds: Tolerance,
    /// Tokio alive tasks.
    pub tasks: Tolerance,
    /// Pool connections in use.
    pub pool_in_use: Tolerance,
}

/// What the run is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The server.
    pub url: String,
    /// How long the loads run.
    pub duration: Duration,
    /// Left out of the growth verdicts; `None`: 10 % of the duration.
    pub warmup: Option<Duration>,
    /// Time between two samples.
    pub sample_every: Duration,
    /// The lobbies load.
    pub lobbies: LobbyLoad,
    /// The friends load.
    pub friends: FriendLoad,
    /// The HTTP load.
    pub http: HttpLoad,
    /// The growth tolerances.
    pub limits: Limits,
    /// The server's process, for RSS and descriptors.
    pub server_pid: Option<u32>,
}

/// The soak's result: the summary, the samples and the verdicts.
#[derive(Serialize, Debug, Clone)]
pub struct SoakReport {
    /// Counts, the HTTP latency, errors and every check (the verdicts among them).
    pub summary: Summary,
    /// The growth rule.
    pub rule: String,
    /// Seconds left out of the verdicts.
    pub warmup_secs: f64,
    /// Seconds between samples.
    pub sample_every_secs: f64,
    /// The tolerances.
    pub limits: Limits,
    /// Every reading.
    pub samples: Vec<Sample>,
    /// One per judged series.
    pub verdicts: Vec<Verdict>,
    /// Lobby rounds, friends rounds, HTTP runs.
    pub loads: Vec<LoadStats>,
}

/// What one load did over the run.
#[derive(Serialize, Debug, Clone, Default)]
pub struct LoadStats {
    /// `lobbies`, `friends`, `http`.
    pub name: String,
    /// Rounds run.
    pub rounds: u64,
    /// Rounds that ended in an error before their summary.
    pub failed_rounds: u64,
    /// Operations (messages, pushes, requests) the rounds counted.
    pub count: u64,
    /// Errors by kind over the rounds.
    pub errors: BTreeMap<String, u64>,
    /// The rounds' failed checks (the first ones, with their round).
    pub failed_checks: Vec<String>,
    /// Failed checks in all.
    pub failed_check_count: u64,
    /// The highest p99 of the rounds' main latency series, ms.
    pub worst_p99_ms: f64,
}

/// A judged series: name, unit, how a sample gives it, its tolerance, whether it comes from `/proc`.
type Judged = (&'static str, &'static str, fn(&Sample) -> Option<f64>, Tolerance, bool);

/// Failed checks kept by name per load; the rest are only counted.
const KEPT_FAILURES: usize = 10;

impl LoadStats {
    fn new(name: &str) -> Self {
        LoadStats { name: name.to_owned(), ..LoadStats::default() }
    }

    /// Adds one round's outcome.
    fn add(&mut self, outcome: anyhow::Result<Summary>) {
        self.rounds += 1;
        match outcome {
            Ok(s) => {
                self.count += s.count;
                for (kind, n) in s.errors {
                    *self.errors.entry(kind).or_default() += n;
                }
                for c in s.checks.iter().filter(|c| !c.ok) {
                    self.failed_check_count += 1;
                    if self.failed_checks.len() < KEPT_FAILURES {
                        self.failed_checks.push(format!("round {}: {}", self.rounds, c.name));
                    }
                }
                if let Some(main) = s.series.first() {
                    self.worst_p99_ms = self.worst_p99_ms.max(main.p99_ms);
                }
            }
            Err(e) => {
                self.failed_rounds += 1;
                *self.errors.entry(kind_of(&e)).or_default() += 1;
            }
        }
    }

    fn ok(&self) -> bool {
        self.failed_rounds == 0 && self.failed_check_count == 0 && self.error_total() == 0 && self.rounds > 0
    }

    fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }

    fn line(&self) -> String {
        let errors: Vec<String> = self.errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        format!(
            "{}: {} rounds ({} failed), {} operations, worst p99 {:.1} ms, {} errors{}, {} failed checks{}",
            self.name,
            self.rounds,
            self.failed_rounds,
            self.count,
            self.worst_p99_ms,
            self.error_total(),
            if errors.is_empty() { String::new() } else { format!(" ({})", errors.join(", ")) },
            self.failed_check_count,
            if self.failed_checks.is_empty() { String::new() } else { format!(": {}", self.failed_checks.join("; ")) },
        )
    }
}

/// Runs the soak.
pub async fn run(opts: Options) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(opts.duration > Duration::ZERO, "--duration must be positive");
    let server = Server::new(&opts.url)?;
    let warmup = opts.warmup.unwrap_or(opts.duration / 10);
    report(&format!(
        "soak: {:.0} s against {} (warm-up {:.0} s, a sample every {:.1} s): {} lobbies × {} players back to back, \
         {} friends pairs, HTTP at {:.0} requests/s",
        opts.duration.as_secs_f64(),
        opts.url,
        warmup.as_secs_f64(),
        opts.sample_every.as_secs_f64(),
        opts.lobbies.lobbies,
        opts.lobbies.players,
        opts.friends.pairs,
        opts.http.rate,
    ));
    let epoch = Instant::now();
    let deadline = epoch + opts.duration;
    let sampler = Sampler::start(server.clone(), opts.server_pid, opts.sample_every, epoch);

    let (lobby_stats, friend_stats, http_outcome) =
        tokio::join!(lobby_rounds(&opts, deadline), friend_rounds(&opts, deadline), http::run(http_options(&opts)),);
    let elapsed = epoch.elapsed();
    let samples = sampler.finish().await;

    let mut http_stats = LoadStats::new("http");
    let http_summary = http_outcome.as_ref().ok().cloned();
    http_stats.add(http_outcome);
    let loads = vec![lobby_stats, friend_stats, http_stats];
    let total = loads.iter().map(|l| l.count).sum();
    let mut errors = Errors::default();
    for l in &loads {
        errors.merge(Errors(l.errors.clone()));
    }
    let mut summary = Summary::new("soak", "operations", total, elapsed).with_errors(errors);
    if let Some(h) = &http_summary {
        summary.series = h.series.clone();
        summary.notes.extend(h.notes.iter().cloned());
        // The score check (every acknowledged post stored) in its own words.
        summary.checks.extend(h.checks.iter().cloned());
    }
    for l in &loads {
        summary.check(l.ok(), l.line());
    }

    let warmup_secs = warmup.as_secs_f64();
    let series: [Judged; 4] = [
        ("server RSS", "MiB", |s| s.rss_mib, opts.limits.rss, true),
        ("open file descriptors", "fds", |s| s.fds, opts.limits.fds, true),
        ("tokio alive tasks", "tasks", |s| s.tasks, opts.limits.tasks, false),
        ("pool connections in use", "conns", |s| s.pool_in_use, opts.limits.pool_in_use, false),
    ];
    let mut verdicts = Vec::new();
    for (name, unit, get, tolerance, from_proc) in series {
        let points: Vec<(f64, f64)> = samples.iter().filter_map(|s| Some((s.t, get(s)?))).collect();
        if from_proc && opts.server_pid.is_none() {
            summary.notes.push(format!("{name}: not sampled (no --server-pid)"));
            continue;
        }
        // Every sample should have read it; a series missing from most means the server does not export it.
        summary.check(
            points.len() * 10 >= samples.len() * 9 && !points.is_empty(),
            format!("{name}: read in {} of {} samples", points.len(), samples.len()),
        );
        let verdict = growth::judge(name, unit, &points, warmup_secs, tolerance);
        summary.check(!verdict.growing, verdict.line());
        verdicts.push(verdict);
    }
    summary.notes.push(format!("growth rule: {RULE}"));
    Ok(SoakReport {
        summary,
        rule: RULE.to_owned(),
        warmup_secs,
        sample_every_secs: opts.sample_every.as_secs_f64(),
        limits: opts.limits,
        samples,
        verdicts,
        loads,
    })
}

/// Prints the report, writes the JSON and the SVG asked for, and fails when a check failed.
pub fn finish(soak: &SoakReport, outputs: &Outputs) -> anyhow::Result<()> {
    soak.summary.print();
    if let Some(path) = &outputs.json {
        let text = serde_json::to_string_pretty(soak).context("soak JSON")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &outputs.svg {
        plot::write_svg(soak, path)?;
    }
    let failed: Vec<&str> = soak.summary.checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
    anyhow::ensure!(failed.is_empty(), "failed checks: {}", failed.join("; "));
    Ok(())
}

/// Lobby rounds back to back; one always, then another while a whole game still fits before the deadline.
async fn lobby_rounds(opts: &Options, deadline: Instant) -> LoadStats {
    let load = &opts.lobbies;
    let game = lobbies::game_timeout(load.region, load.interval, Duration::ZERO, Duration::ZERO);
    let options = lobbies::Options {
        urls: vec![opts.url.clone()],
        lobbies: load.lobbies,
        players: load.players,
        interval: load.interval,
        region: load.region,
        concurrency: 8,
        ramp: load.interval,
        server_pid: None,
        // A game that takes a minute beyond its length is stuck, not slow.
        timeout: lobbies::game_timeout(load.region, load.interval, load.interval, Duration::from_secs(60)),
    };
    let mut stats = LoadStats::new("lobbies");
    loop {
        let outcome = lobbies::run(options.clone()).await;
        pause_after_failure(&outcome).await;
        stats.add(outcome);
        if Instant::now() + game >= deadline {
            return stats;
        }
    }
}

/// Friends rounds back to back until the deadline, one at least.
async fn friend_rounds(opts: &Options, deadline: Instant) -> LoadStats {
    let load = &opts.friends;
    let options = friends::Options {
        sender_url: opts.url.clone(),
        receiver_url: opts.url.clone(),
        kind: friends::Kind::Both,
        pairs: load.pairs,
        rounds: load.rounds,
        presence_rounds: load.presence_rounds,
        wait: Duration::from_secs(10),
        presence_grace: load.presence_grace,
        server_pid: None,
    };
    let mut stats = LoadStats::new("friends");
    loop {
        let outcome = friends::run(options.clone()).await;
        pause_after_failure(&outcome).await;
        stats.add(outcome);
        if Instant::now() >= deadline {
            return stats;
        }
    }
}

/// A round that failed at once (the server refusing sign-ups, say) is not retried in a tight loop.
async fn pause_after_failure(outcome: &anyhow::Result<Summary>) {
    if outcome.is_err() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Parses a duration: `30m`, `90s`, `2h`, `1500ms`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("bad duration {s:?}: a number and s, m, h or ms"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("bad duration unit {other:?}: s, m, h or ms")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

fn http_options(opts: &Options) -> http::Options {
    http::Options {
        url: opts.url.clone(),
        mix: opts.http.mix.clone(),
        connections: opts.http.connections,
        duration: opts.duration,
        warmup: Duration::ZERO,
        users: opts.http.users,
        rate: Some(opts.http.rate),
        timeout: Duration::from_secs(10),
        server_pid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }
}
