//! `mapquiz-bench`: load runs against a running MapQuiz Server, through its public HTTP and WebSocket API.
//!
//! Every scenario ends with one [`summary::Summary`]: operations per second, latency percentiles (p50, p90,
//! p99, p99.9, max, from HDR histograms), errors by kind, correctness checks, and the server's CPU and RSS
//! (start, peak, end, sampled every 250 ms from `/proc` with `--server-pid`). `--json FILE` writes it as JSON,
//! `--svg FILE` draws the latency percentile spectrum and the server's RSS over time.
//!
//! - [`http`]: C keep-alive connections send a weighted mix of API routes, closed-loop or open-loop at a
//!   fixed rate (latency from the intended send time); acknowledged score posts are checked stored.
//! - [`ceiling`]: a minimal axum server on this machine, for `http --mix livez` to measure the HTTP ceiling.
//! - [`artillery`]: the original maintenance plan's load test (virtual users arriving at a fixed rate, each
//!   doing `/health` and three authenticated reads), beside the plan's published figures.
//! - [`ws_connect`]: many authenticated sockets, connect + authenticate latency, server memory per socket.
//! - [`friends`]: friend-request and presence push latency, on one node or across two.
//! - [`lobbies`]: L lobbies of P players play whole games; progress push latency, lost and duplicated
//!   pushes, the database writes the batching left.
//! - [`soak`]: lobbies, friends and the HTTP mix together for a set time, the server's RSS, descriptors,
//!   tasks and pool read each second; fails when one keeps growing.
//!
//! Run the server with cheap password hashing for these runs (`MAPQUIZ_ARGON2_MEMORY_KIB=1024
//! MAPQUIZ_ARGON2_ITERATIONS=1`), `MAPQUIZ_RATE_LIMIT_ENABLED=false` and `MAPQUIZ_WS_RATE_MAX=1000000
//! MAPQUIZ_WS_ABUSE_MAX=1000000`: sign-up cost and the per-client limits are not what is measured.

pub mod artillery;
pub mod ceiling;
pub mod client;
pub mod friends;
pub mod http;
pub mod http1;
pub mod lobbies;
pub mod plot;
pub mod procstat;
pub mod soak;
pub mod summary;
pub mod ws_connect;

use client::{Server, User};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::io::Write;
use summary::{Outputs, Summary};

/// Writes one line of the report to stdout.
pub fn report(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Signs up `n` users named `prefix0`, `prefix1`, ..., `concurrency` at a time.
pub async fn sign_up_many(server: &Server, prefix: &str, n: usize, concurrency: usize) -> anyhow::Result<Vec<User>> {
    stream::iter(0..n)
        .map(|i| server.sign_up(format!("{prefix}{i}")))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await
}

/// Bytes as MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

/// Prints the summary, writes the files asked for, and fails when a check failed.
pub fn finish(summary: &Summary, outputs: &Outputs) -> anyhow::Result<()> {
    summary.print();
    outputs.write(summary)?;
    let failed: Vec<&str> = summary.checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
    anyhow::ensure!(failed.is_empty(), "failed checks: {}", failed.join("; "));
    Ok(())
}
