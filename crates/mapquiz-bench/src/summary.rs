//! The summary every scenario ends with: what was done and how fast, latency percentiles from HDR histograms,
//! errors by kind, checks that must hold, and the server's CPU and memory; printed, and written as JSON or SVG.

use crate::procstat::{self, ProcSample};
use crate::{mib, report};
use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often the server's RSS is read during a run.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Highest latency a histogram holds, microseconds: longer samples are clamped to it rather than lost.
const HIGHEST_US: u64 = 3_600_000_000;

/// A scenario's result.
#[derive(Serialize, Debug, Clone)]
pub struct Summary {
    /// The scenario's name (`http`, `artillery`, ...).
    pub scenario: String,
    /// What `count` counts: `requests`, `messages`, `sockets`, `pushes`.
    pub unit: String,
    /// Operations completed in the measured window.
    pub count: u64,
    /// Length of the measured window, seconds.
    pub elapsed_secs: f64,
    /// `count / elapsed_secs`.
    pub rate_per_sec: f64,
    /// Latency distributions, the main one first.
    pub series: Vec<Series>,
    /// Errors by kind (`status 503`, `connect refused`, `timeout`...).
    pub errors: BTreeMap<String, u64>,
    /// Sum of `errors`.
    pub error_total: u64,
    /// The server's CPU and memory, with `--server-pid`.
    pub server: Option<ServerStats>,
    /// Correctness checks; a failed one makes the run fail.
    pub checks: Vec<Check>,
    /// Further report lines particular to the scenario.
    pub notes: Vec<String>,
}

/// One latency distribution, in milliseconds.
#[derive(Serialize, Debug, Clone)]
pub struct Series {
    /// What is timed, from where to where.
    pub name: String,
    /// Samples.
    pub count: u64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// 50th percentile, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Highest sample, ms.
    pub max_ms: f64,
    /// `[percentile, ms]` points from 0 % to 99.99 % (log-spaced in 1/(1-q)) and the maximum, for plots.
    pub spectrum: Vec<[f64; 2]>,
}

/// A correctness check's outcome.
#[derive(Serialize, Debug, Clone)]
pub struct Check {
    /// What was checked, with the figures (`acknowledged 10, stored 10, missing 0`).
    pub name: String,
    /// Whether it held.
    pub ok: bool,
}

/// The server process during the run, from `/proc`.
#[derive(Serialize, Debug, Clone)]
pub struct ServerStats {
    /// Its process id.
    pub pid: u32,
    /// User plus system CPU over the run, percent of one core.
    pub cpu_percent: f64,
    /// RSS at the start, bytes.
    pub rss_start: u64,
    /// Highest RSS sampled during the run, bytes.
    pub rss_peak: u64,
    /// RSS at the end, bytes.
    pub rss_end: u64,
    /// `[seconds since the start, bytes]`, every 250 ms.
    pub rss_samples: Vec<[f64; 2]>,
}

/// Latencies of one kind, in microseconds.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    /// An empty distribution.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Latencies(Histogram::new_with_bounds(1, HIGHEST_US, 3).context("histogram")?))
    }

    /// Adds one sample.
    pub fn record(&mut self, d: Duration) {
        self.0.saturating_record(micros(d));
    }

    /// Adds one sample given in microseconds.
    pub fn record_us(&mut self, us: u64) {
        self.0.saturating_record(us);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) -> anyhow::Result<()> {
        self.0.add(&other.0).context("histogram")
    }

    /// Samples so far.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The distribution as a report series named `name`.
    pub fn series(&self, name: &str) -> Series {
        let h = &self.0;
        let ms = |us: u64| us as f64 / 1000.0;
        let q = |q: f64| if h.is_empty() { 0.0 } else { ms(h.value_at_quantile(q)) };
        // 1/(1-q) from 1 to 10^4 in 80 log steps: as many points per decade near the tail as near the median.
        let mut spectrum: Vec<[f64; 2]> = (0..=80)
            .map(|i| {
                let quantile = 1.0 - 10f64.powf(-f64::from(i) / 20.0);
                [quantile * 100.0, q(quantile)]
            })
            .collect();
        spectrum.push([100.0, ms(h.max())]);
        Series {
            name: name.to_owned(),
            count: h.len(),
            mean_ms: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: ms(h.max()),
            spectrum,
        }
    }
}

/// Microseconds, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Errors counted by kind.
#[derive(Default, Debug, Clone)]
pub struct Errors(pub BTreeMap<String, u64>);

impl Errors {
    /// Counts one error of `kind`.
    pub fn add(&mut self, kind: impl Into<String>) {
        *self.0.entry(kind.into()).or_default() += 1;
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: Errors) {
        for (k, n) in other.0 {
            *self.0.entry(k).or_default() += n;
        }
    }

    /// All errors.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// A short kind for an error: its root cause, trimmed, so that similar failures count together.
pub fn kind_of(e: &anyhow::Error) -> String {
    let root = e.root_cause().to_string();
    if let Some(io) = e.root_cause().downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return "connect refused".into(),
            std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
            std::io::ErrorKind::TimedOut => return "timeout".into(),
            std::io::ErrorKind::AddrNotAvailable => return "no local address or port left".into(),
            _ => {}
        }
    }
    if e.chain().any(|c| c.is::<tokio::time::error::Elapsed>()) {
        return "timeout".into();
    }
    root.chars().take(80).collect()
}

impl Summary {
    /// A summary with no series, errors, checks or notes yet.
    pub fn new(scenario: &str, unit: &str, count: u64, elapsed: Duration) -> Self {
        let elapsed_secs = elapsed.as_secs_f64();
        Summary {
            scenario: scenario.to_owned(),
            unit: unit.to_owned(),
            count,
            elapsed_secs,
            rate_per_sec: if elapsed_secs > 0.0 { count as f64 / elapsed_secs } else { 0.0 },
            series: Vec::new(),
            errors: BTreeMap::new(),
            error_total: 0,
            server: None,
            checks: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Sets the errors.
    pub fn with_errors(mut self, errors: Errors) -> Self {
        self.error_total = errors.total();
        self.errors = errors.0;
        self
    }

    /// Adds a check.
    pub fn check(&mut self, ok: bool, name: String) {
        self.checks.push(Check { name, ok });
    }

    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// Prints the summary through [`report`].
    pub fn print(&self) {
        report(&format!(
            "== {}: {} {} in {:.1} s: {:.1} {}/s",
            self.scenario, self.count, self.unit, self.elapsed_secs, self.rate_per_sec, self.unit
        ));
        for s in &self.series {
            report(&format!(
                "latency, {} ({} samples): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, \
                 mean {:.2} ms",
                s.name, s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms
            ));
        }
        let errors: Vec<String> = self.errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        report(&format!(
            "errors: {}",
            if errors.is_empty() { "none".to_owned() } else { format!("{} ({})", self.error_total, errors.join(", ")) }
        ));
        if let Some(s) = &self.server {
            report(&format!(
                "server (pid {}): CPU {:.0}% of one core; RSS start {:.1} MiB, peak {:.1} MiB, end {:.1} MiB",
                s.pid,
                s.cpu_percent,
                mib(s.rss_start),
                mib(s.rss_peak),
                mib(s.rss_end)
            ));
        }
        for n in &self.notes {
            report(n);
        }
        for c in &self.checks {
            report(&format!("check: {} … {}", c.name, if c.ok { "ok" } else { "FAILED" }));
        }
    }
}

/// Where to write the summary besides stdout.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Outputs {
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also draw the latency percentile spectrum (and the server's RSS over time, with `--server-pid`) as SVG.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

impl Outputs {
    /// Writes the files asked for.
    pub fn write(&self, summary: &Summary) -> anyhow::Result<()> {
        if let Some(path) = &self.json {
            let text = serde_json::to_string_pretty(summary).context("summary JSON")?;
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(path) = &self.svg {
            crate::plot::write_svg(summary, path)?;
        }
        Ok(())
    }
}

/// Watches the server process during a run: CPU time and RSS at start and end, RSS every 250 ms between.
pub struct ServerWatch {
    pid: u32,
    before: ProcSample,
    started: Instant,
    stop: oneshot::Sender<()>,
    samples: JoinHandle<Vec<[f64; 2]>>,
}

impl ServerWatch {
    /// Starts watching `pid`; `None` without a pid or when `/proc` cannot be read for it.
    pub fn start(pid: Option<u32>) -> Option<Self> {
        let pid = pid?;
        let key = pid.to_string();
        let before = procstat::sample(&key)?;
        let started = Instant::now();
        let (stop, mut stopped) = oneshot::channel();
        let samples = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {
                        if let Some(s) = procstat::sample(&key) {
                            samples.push([started.elapsed().as_secs_f64(), s.rss as f64]);
                        }
                    }
                }
            }
            samples
        });
        Some(ServerWatch { pid, before, started, stop, samples })
    }

    /// Stops sampling and sums up; `None` when the process is gone.
    pub async fn finish(self) -> Option<ServerStats> {
        let after = procstat::sample(&self.pid.to_string());
        let elapsed = self.started.elapsed().as_secs_f64();
        let _ = self.stop.send(());
        let mut rss_samples = self.samples.await.unwrap_or_default();
        let after = after?;
        rss_samples.push([elapsed, after.rss as f64]);
        let peak = rss_samples.iter().map(|s| s[1] as u64).max().unwrap_or(0).max(self.before.rss);
        Some(ServerStats {
            pid: self.pid,
            cpu_percent: (after.cpu_secs - self.before.cpu_secs) / elapsed.max(f64::EPSILON) * 100.0,
            rss_start: self.before.rss,
            rss_peak: peak,
            rss_end: after.rss,
            rss_samples,
        })
    }
}
