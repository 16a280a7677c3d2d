//! `mapquiz-bench`: load runs against a running MapQuiz Server, through its public HTTP and WebSocket API.
//!
//! - `hold`: signs users up, opens and authenticates many sockets, and reports what the server holds and
//!   its resident memory per connection (from `/health/detailed`).
//! - `push`: pairs of users on one node or two; each round the sender's `send_friend_request` goes out and
//!   the time until the receiver's socket reads `friend_request_received` is recorded (then the receiver
//!   rejects, so the next round pushes again). Reports p50/p90/p99/max.
//! - `lobbies`: L lobbies of P players play real games (create, invite, join, ready, progress every T ms
//!   through every required code, results); reports the progress → `update_player_progress` push latency at
//!   the other players, messages per second, lost and duplicated pushes, the server's CPU and RSS
//!   (`--server-pid`) and the database transactions the batching left (from `/metrics`). With `--also-url`,
//!   each lobby's players are spread over several nodes.
//!
//! Run the server with cheap password hashing for these runs (`MAPQUIZ_ARGON2_MEMORY_KIB=1024
//! MAPQUIZ_ARGON2_ITERATIONS=1`, development profile) and `MAPQUIZ_RATE_LIMIT_ENABLED=false`: sign-up cost
//! and the per-IP limits are not what is measured.

mod client;
mod lobbies;
mod procstat;

use anyhow::Context;
use clap::{Parser, Subcommand};
use client::{Server, Socket, User};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use mapquiz_domain::region::Region;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "mapquiz-bench", about = "Load runs against a running MapQuiz Server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Opens `users × sockets-per-user` authenticated sockets and reports the server's memory per socket.
    Hold {
        /// The server, e.g. http://127.0.0.1:3000.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        #[arg(long, default_value_t = 500)]
        users: usize,
        #[arg(long, default_value_t = 10)]
        sockets_per_user: usize,
        /// How long to hold them once open, seconds.
        #[arg(long, default_value_t = 5)]
        hold_secs: u64,
        /// Sign-ups and connections in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Measures push latency from a sender's message to the receiver's socket.
    Push {
        /// The senders' node.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        sender_url: String,
        /// The receivers' node (the same URL measures local delivery; another node's, delivery via Redis).
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        receiver_url: String,
        /// Sender/receiver pairs running at once.
        #[arg(long, default_value_t = 10)]
        pairs: usize,
        /// Pushes per pair.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
    },
    /// Plays L lobbies of P players through whole games and measures the progress pushes.
    Lobbies {
        /// The server, e.g. http://127.0.0.1:3000.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// Another node of the same deployment (repeatable): the players of each lobby are spread over
        /// `--url` and these, the host on `--url`, so the lobby runs there and the others' commands are handed
        /// over to it.
        #[arg(long = "also-url")]
        also_urls: Vec<String>,
        /// Lobbies playing at once.
        #[arg(long, short = 'l', default_value_t = 10)]
        lobbies: usize,
        /// Players per lobby, host included (at most the server's `lobby_capacity`).
        #[arg(long, short = 'p', default_value_t = 4)]
        players: usize,
        /// Milliseconds between one player's progress messages (each adds one code).
        #[arg(long, short = 't', default_value_t = 500)]
        interval_ms: u64,
        /// The region played, by its wire name; a game lasts its code count × the interval.
        #[arg(long, default_value = "Amérique du Sud", value_parser = parse_region)]
        region: Region,
        /// Sign-ups and lobby set-ups in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Milliseconds over which the lobbies get ready (and so start), evenly spread; 0: all at once.
        #[arg(long, default_value_t = 0)]
        ramp_ms: u64,
        /// The server's process id, for its CPU time and RSS (`/proc`; the server must run on this machine).
        #[arg(long)]
        server_pid: Option<u32>,
        /// Seconds the games may take beyond their expected length before the run stops and counts what is
        /// missing.
        #[arg(long, default_value_t = 60)]
        slack_secs: u64,
    },
}

fn parse_region(s: &str) -> Result<Region, String> {
    Region::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Region::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown region; one of: {}", known.join(", "))
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Hold { url, users, sockets_per_user, hold_secs, concurrency } => {
            hold(&url, users, sockets_per_user, Duration::from_secs(hold_secs), concurrency).await
        }
        Command::Push { sender_url, receiver_url, pairs, rounds } => {
            push(&sender_url, &receiver_url, pairs, rounds).await
        }
        Command::Lobbies {
            url,
            also_urls,
            lobbies,
            players,
            interval_ms,
            region,
            concurrency,
            ramp_ms,
            server_pid,
            slack_secs,
        } => {
            let interval = Duration::from_millis(interval_ms);
            let game = interval * u32::try_from(region.codes().len()).unwrap_or(u32::MAX);
            let timeout = game + interval + Duration::from_millis(ramp_ms) + Duration::from_secs(slack_secs);
            let ramp = Duration::from_millis(ramp_ms);
            let urls = std::iter::once(url).chain(also_urls).collect();
            let options =
                lobbies::Options { urls, lobbies, players, interval, region, concurrency, ramp, server_pid, timeout };
            lobbies::run(options).await
        }
    }
}

/// Writes one line of the report to stdout.
fn report(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

async fn sign_up_many(server: &Server, prefix: &str, n: usize, concurrency: usize) -> anyhow::Result<Vec<User>> {
    stream::iter(0..n).map(|i| server.sign_up(format!("{prefix}{i}"))).buffer_unordered(concurrency).try_collect().await
}

async fn hold(url: &str, users: usize, per_user: usize, hold_for: Duration, concurrency: usize) -> anyhow::Result<()> {
    let server = Server::new(url)?;
    let started = Instant::now();
    let people = sign_up_many(&server, "Holder ", users, concurrency).await?;
    report(&format!("signed up {users} users in {:.1} s", started.elapsed().as_secs_f64()));
    let before = server.health().await?;
    let started = Instant::now();
    let targets: Vec<&User> = people.iter().flat_map(|u| std::iter::repeat_n(u, per_user)).collect();
    let sockets: Vec<Socket> =
        stream::iter(targets).map(|u| server.socket(u)).buffer_unordered(concurrency).try_collect().await?;
    let opened = started.elapsed();
    // Keep every socket read (pings answered) while it is held.
    let readers: Vec<_> = sockets.into_iter().map(|s| tokio::spawn(s.drain())).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = server.health().await?;
    let n = readers.len();
    report(&format!(
        "opened and authenticated {n} sockets in {:.1} s ({:.0}/s)",
        opened.as_secs_f64(),
        n as f64 / opened.as_secs_f64()
    ));
    report(&format!(
        "server: wsConnections {}, authenticated sockets {}, users {}",
        during.ws_connections, during.sockets, during.users
    ));
    let delta = during.rss.saturating_sub(before.rss);
    report(&format!(
        "server RSS: {:.1} MiB before, {:.1} MiB holding them: {:.1} KiB per connection",
        mib(before.rss),
        mib(during.rss),
        delta as f64 / 1024.0 / n.max(1) as f64
    ));
    tokio::time::sleep(hold_for).await;
    let after = server.health().await?;
    report(&format!(
        "after {} s: wsConnections {}, RSS {:.1} MiB",
        hold_for.as_secs(),
        after.ws_connections,
        mib(after.rss)
    ));
    for r in readers {
        r.abort();
    }
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

async fn push(sender_url: &str, receiver_url: &str, pairs: usize, rounds: usize) -> anyhow::Result<()> {
    let senders = Server::new(sender_url)?;
    let receivers = Server::new(receiver_url)?;
    let from = sign_up_many(&senders, "Sender ", pairs, 16).await?;
    let to = sign_up_many(&receivers, "Receiver ", pairs, 16).await?;
    let started = Instant::now();
    let runs = from.into_iter().zip(to).map(|(s, r)| {
        let (senders, receivers) = (senders.clone(), receivers.clone());
        tokio::spawn(async move { pair(&senders, &receivers, &s, &r, rounds).await })
    });
    let mut all = Histogram::<u64>::new(3).context("histogram")?;
    for run in futures_util::future::join_all(runs).await {
        all.add(run.context("a pair panicked")??).context("histogram")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let us = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    report(&format!(
        "{} pushes ({pairs} pairs × {rounds}) in {elapsed:.1} s: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        all.max() as f64 / 1000.0
    ));
    Ok(())
}

/// One pair's rounds; latencies in microseconds.
async fn pair(
    senders: &Server,
    receivers: &Server,
    s: &User,
    r: &User,
    rounds: usize,
) -> anyhow::Result<Histogram<u64>> {
    let mut hist = Histogram::<u64>::new(3).context("histogram")?;
    let mut tx = senders.socket(s).await?;
    let mut rx = receivers.socket(r).await?;
    for _ in 0..rounds {
        let sent = Instant::now();
        tx.send(json!({"type": "send_friend_request", "payload": {"receiverTag": r.tag}})).await?;
        rx.expect("friend_request_received").await?;
        hist.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX)).context("histogram")?;
        tx.expect("send_friend_request_success").await?;
        let id = receivers.pending_request_from(r, &s.id).await?;
        rx.send(json!({"type": "respond_friend_request", "payload": {"requestId": id, "action": "reject"}})).await?;
        rx.expect("respond_friend_request_success").await?;
    }
    Ok(hist)
}
