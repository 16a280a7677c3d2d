//! The `friends` scenario (formerly `push`): push latency from one user's action to another user's socket, on
//! one node or across two (`--sender-url`, `--receiver-url`: delivery through Redis).
//!
//! - friend-request pairs: each round the sender's `send_friend_request` goes out and the time until the
//!   receiver's socket reads `friend_request_received` is recorded (the friend-request write included); the
//!   receiver then rejects, so the next round pushes again.
//! - presence pairs: two friends; the receiver holds a socket, the sender connects one (first socket: online)
//!   and closes it (last socket: offline). Recorded: from the sender's TCP connect to the receiver's
//!   `friend_status_change` with `isOnline: true`, and from the close to the one with `isOnline: false`,
//!   which includes the server's presence grace (`presence_grace_ms`, 5 s by default).
//!
//! A push that does not arrive within the wait is counted lost and ends that pair's rounds.

use crate::client::{Server, Socket, User};
use crate::sign_up_many;
use crate::summary::{Errors, Latencies, ServerWatch, Summary, kind_of};
use anyhow::Context;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Which pushes to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `friend_request_received`.
    FriendRequest,
    /// `friend_status_change` online and offline.
    Presence,
    /// Both, one after the other.
    Both,
}

/// What the run is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The senders' node.
    pub sender_url: String,
    /// The receivers' node.
    pub receiver_url: String,
    /// Which pushes.
    pub kind: Kind,
    /// Pairs running at once, for each kind.
    pub pairs: usize,
    /// Friend-request pushes per pair.
    pub rounds: usize,
    /// Online/offline cycles per presence pair (each lasts at least the server's presence grace).
    pub presence_rounds: usize,
    /// How long a push may take before it counts as lost (the presence grace is added for offline pushes).
    pub wait: Duration,
    /// The server's presence grace, so that an offline push is waited for long enough.
    pub presence_grace: Duration,
    /// The server's process, for its CPU and RSS.
    pub server_pid: Option<u32>,
}

/// What one pair saw.
struct PairStats {
    series: Vec<Latencies>,
    lost: u64,
    errors: Errors,
}

impl PairStats {
    fn new(n: usize) -> anyhow::Result<Self> {
        Ok(PairStats {
            series: (0..n).map(|_| Latencies::new()).collect::<anyhow::Result<_>>()?,
            lost: 0,
            errors: Errors::default(),
        })
    }
}

/// Runs the scenario.
pub async fn run(opts: Options) -> anyhow::Result<Summary> {
    let senders = Server::new(&opts.sender_url)?;
    let receivers = Server::new(&opts.receiver_url)?;
    // Fresh users per kind: presence pairs are made friends, friend-request pairs must not be.
    let wants = |k: Kind| opts.kind == k || opts.kind == Kind::Both;
    let pairs = |a: &'static str, b: &'static str, wanted: bool| {
        let (senders, receivers, n) = (&senders, &receivers, if wanted { opts.pairs } else { 0 });
        async move {
            let from = sign_up_many(senders, a, n, 16).await?;
            let to = sign_up_many(receivers, b, n, 16).await?;
            anyhow::Ok(from.into_iter().zip(to).collect::<Vec<_>>())
        }
    };
    let request_pairs = pairs("Sender ", "Receiver ", wants(Kind::FriendRequest)).await?;
    let presence_pairs = pairs("Online ", "Watcher ", wants(Kind::Presence)).await?;
    let watch = ServerWatch::start(opts.server_pid);
    let started = Instant::now();
    let mut series: Vec<(String, Latencies)> = Vec::new();
    let mut errors = Errors::default();
    let (mut lost, mut expected) = (0, 0);
    if wants(Kind::FriendRequest) {
        let stats = phase(&senders, &receivers, &opts, Kind::FriendRequest, request_pairs).await?;
        series.push((
            "send_friend_request → friend_request_received".into(),
            stats.series.into_iter().next().context("series")?,
        ));
        lost += stats.lost;
        errors.merge(stats.errors);
        expected += (opts.pairs * opts.rounds) as u64;
    }
    if wants(Kind::Presence) {
        let stats = phase(&senders, &receivers, &opts, Kind::Presence, presence_pairs).await?;
        let mut it = stats.series.into_iter();
        series.push(("TCP connect → friend_status_change online".into(), it.next().context("series")?));
        series.push(("close → friend_status_change offline (grace included)".into(), it.next().context("series")?));
        lost += stats.lost;
        errors.merge(stats.errors);
        expected += (opts.pairs * opts.presence_rounds * 2) as u64;
    }
    let elapsed = started.elapsed();
    let received: u64 = series.iter().map(|(_, l)| l.len()).sum();
    let mut summary = Summary::new("friends", "pushes", received, elapsed).with_errors(errors);
    summary.series = series.iter().map(|(name, l)| l.series(name)).collect();
    summary.server = match watch {
        Some(w) => w.finish().await,
        None => None,
    };
    summary.notes.push(format!(
        "{} pairs per kind, senders on {}, receivers on {}",
        opts.pairs, opts.sender_url, opts.receiver_url
    ));
    summary.check(
        lost == 0 && received == expected,
        format!("pushes expected {expected}, received {received}, lost {lost}"),
    );
    Ok(summary)
}

/// Runs the pairs of one kind all at once; the pairs' results merged.
async fn phase(
    senders: &Server,
    receivers: &Server,
    opts: &Options,
    kind: Kind,
    pairs: Vec<(User, User)>,
) -> anyhow::Result<PairStats> {
    let runs = pairs.into_iter().map(|(s, r)| {
        let (senders, receivers, opts) = (senders.clone(), receivers.clone(), opts.clone());
        tokio::spawn(async move {
            if kind == Kind::Presence {
                presence(&senders, &receivers, &s, &r, &opts).await
            } else {
                friend_requests(&senders, &receivers, &s, &r, &opts).await
            }
        })
    });
    let mut all: Option<PairStats> = None;
    for stats in futures_util::future::join_all(runs).await {
        let stats = stats.context("a pair panicked")??;
        match &mut all {
            None => all = Some(stats),
            Some(all) => {
                for (a, b) in all.series.iter_mut().zip(&stats.series) {
                    a.merge(b)?;
                }
                all.lost += stats.lost;
                all.errors.merge(stats.errors);
            }
        }
    }
    match all {
        Some(all) => Ok(all),
        None => PairStats::new(if kind == Kind::Presence { 2 } else { 1 }),
    }
}

/// One friend-request pair's rounds; an error ends them and is counted by kind.
async fn friend_requests(
    senders: &Server,
    receivers: &Server,
    s: &User,
    r: &User,
    opts: &Options,
) -> anyhow::Result<PairStats> {
    let mut stats = PairStats::new(1)?;
    let result = async {
        let mut tx = senders.socket(s).await?;
        let mut rx = receivers.socket(r).await?;
        for _ in 0..opts.rounds {
            let sent = Instant::now();
            tx.send(json!({"type": "send_friend_request", "payload": {"receiverTag": r.tag}})).await?;
            let pushed = rx.wait_for(opts.wait, |v| v["type"] == "friend_request_received").await?;
            if pushed.is_none() {
                stats.lost += 1;
                anyhow::bail!("a friend_request_received push was lost");
            }
            stats.series[0].record(sent.elapsed());
            tx.expect("send_friend_request_success").await?;
            let id = receivers.pending_request_from(r, &s.id).await?;
            rx.send(json!({"type": "respond_friend_request", "payload": {"requestId": id, "action": "reject"}}))
                .await?;
            rx.expect("respond_friend_request_success").await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        stats.errors.add(kind_of(&e));
    }
    Ok(stats)
}

/// One presence pair's rounds: the sender goes online and offline; the receiver's socket sees both.
async fn presence(
    senders: &Server,
    receivers: &Server,
    s: &User,
    r: &User,
    opts: &Options,
) -> anyhow::Result<PairStats> {
    let mut stats = PairStats::new(2)?;
    let result = async {
        // A request each way is the mutual case: friends at once.
        senders.add_friend(s, &r.tag).await?;
        receivers.add_friend(r, &s.tag).await?;
        let mut rx = receivers.socket(r).await?;
        let status = |online: bool| {
            let id = s.id.clone();
            move |v: &Value| {
                v["type"] == "friend_status_change"
                    && v["payload"]["friendId"] == id.as_str()
                    && v["payload"]["isOnline"] == online
            }
        };
        for _ in 0..opts.presence_rounds {
            let connect = Instant::now();
            // The receiver reads while the sender connects: the push may come before the sender has read its
            // own `authenticated`, and its time is when it arrives, not when the sender is done.
            let (tx, pushed) = tokio::join!(senders.socket(s), async {
                let pushed = rx.wait_for(opts.wait, status(true)).await;
                (pushed, connect.elapsed())
            });
            let tx: Socket = tx?;
            match pushed {
                (Ok(Some(_)), took) => stats.series[0].record(took),
                (Ok(None), _) => {
                    stats.lost += 1;
                    anyhow::bail!("an online presence push was lost");
                }
                (Err(e), _) => return Err(e),
            }
            let closed = Instant::now();
            tx.close().await?;
            if rx.wait_for(opts.wait + opts.presence_grace, status(false)).await?.is_none() {
                stats.lost += 1;
                anyhow::bail!("an offline presence push was lost");
            }
            stats.series[1].record(closed.elapsed());
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        stats.errors.add(kind_of(&e));
    }
    Ok(stats)
}
