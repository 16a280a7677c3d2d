//! The `lobbies` scenario: L lobbies of P players play real games through the public protocol.
//!
//! Set-up, per lobby: the players sign up; the host and each guest befriend each other over HTTP (a request
//! each way is the mutual case, accepted at once); everyone opens a socket; the host sends `create_lobby`
//! and `invite_to_lobby` for each guest, who then sends `join_lobby`. Once every lobby is set up, all
//! players send `set_player_ready` together, the server starts each game by itself (`game_start`), and
//! every player adds one more required code per `update_player_progress` every T ms until it has them all.
//! After `game_end` each player asks `get_game_results` and checks every player is ranked with a full score.
//!
//! Each progress message makes the server push `update_player_progress` to every member, carrying every
//! player's validated list. A player's k-th message is the one that brings its list to k codes, so a push
//! whose entry for sender s first shows k codes is the push of (s, k): its latency is the time since s
//! sent that message, read from a table the lobby's players share (they run in this one process). A push
//! that advances no entry is a duplicate; a (sender, k) a member never saw is lost.

use crate::client::{Server, Socket, User};
use crate::procstat::{self, ProcSample};
use crate::summary::{Errors, Latencies, ServerWatch, Summary};
use crate::{report, sign_up_many};
use anyhow::Context;
use futures_util::stream::{self, StreamExt};
use mapquiz_domain::region::{CountryCode, Region};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

/// What the run is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The nodes; player k of a lobby plays on `urls[k % len]` (the host on the first).
    pub urls: Vec<String>,
    /// Lobbies playing at once.
    pub lobbies: usize,
    /// Players per lobby, host included.
    pub players: usize,
    /// Time between one player's progress messages.
    pub interval: Duration,
    /// The region played.
    pub region: Region,
    /// Sign-ups and lobby set-ups in flight at once.
    pub concurrency: usize,
    /// Lobbies get ready spread evenly over this, rather than all at once.
    pub ramp: Duration,
    /// The server's process, for its CPU and RSS.
    pub server_pid: Option<u32>,
    /// Longest the games may take once started, beyond which the run stops and counts what is missing.
    pub timeout: Duration,
}

/// How long the games may take once started: the region's codes at `interval` each, one more interval, the
/// ramp, and `slack`.
pub fn game_timeout(region: Region, interval: Duration, ramp: Duration, slack: Duration) -> Duration {
    let game = interval * u32::try_from(region.codes().len()).unwrap_or(u32::MAX);
    game + interval + ramp + slack
}

/// What the players of one lobby share: who they are and when each progress message left.
struct Shared {
    ids: Vec<String>,
    /// `sent_at[player][k]`: nanoseconds after the run's epoch, plus one, at which `player` sent the message
    /// bringing its list to k codes; 0 while unsent.
    sent_at: Vec<Vec<AtomicU64>>,
}

impl Shared {
    fn sends(&self) -> u64 {
        self.sent_at.iter().flatten().filter(|t| t.load(Ordering::Acquire) != 0).count() as u64
    }
}

/// One player's game, ready to run.
struct Player {
    index: usize,
    lobby_id: String,
    socket: Socket,
    shared: Arc<Shared>,
    /// Delay of the first progress message after `game_start`, so that players do not all send at once.
    offset: Duration,
    /// Delay of `set_player_ready` after the go signal: lobbies start spread over the ramp.
    ready_after: Duration,
}

/// When the run's games were all under way: the steady part of the run, without the start and end bursts.
struct Phases {
    players: usize,
    started: AtomicUsize,
    /// Stamp (as in [`Shared::sent_at`]) at which the last player saw `game_start`; 0 before.
    all_started: AtomicU64,
    /// Whether any player has seen `game_end`.
    any_ended: AtomicBool,
}

/// What one player saw. Samples are kept raw (microseconds) and put into histograms at the end: thousands
/// of players each holding histograms would take gigabytes.
struct Stats {
    /// Progress message → the `update_player_progress` push of it at another member.
    push: Vec<u32>,
    /// The same, for messages sent once every game had started and received before any had ended.
    steady: Vec<u32>,
    /// Progress message → its `update_player_progress_success` reply.
    reply: Vec<u32>,
    sent: u64,
    received: u64,
    progress_sent: u64,
    /// Distinct (sender, k) pushes received, the player's own included.
    pushes_seen: u64,
    duplicates: u64,
    errors: Errors,
    started: bool,
    ended: bool,
    results_ok: bool,
}

impl Stats {
    fn new() -> anyhow::Result<Self> {
        Ok(Stats {
            push: Vec::new(),
            steady: Vec::new(),
            reply: Vec::new(),
            sent: 0,
            received: 0,
            progress_sent: 0,
            pushes_seen: 0,
            duplicates: 0,
            errors: Errors::default(),
            started: false,
            ended: false,
            results_ok: false,
        })
    }

    /// Counts an error; `what` is cut short so that the same failure with different details counts as one
    /// kind.
    fn error(&mut self, what: String) {
        self.errors.add(what.chars().take(80).collect::<String>());
    }
}

/// Runs the scenario; progress lines are printed as it goes.
pub async fn run(opts: Options) -> anyhow::Result<Summary> {
    let nodes: Vec<Server> = opts.urls.iter().map(|u| Server::new(u)).collect::<anyhow::Result<_>>()?;
    let server = nodes.first().context("no server URL")?.clone();
    let codes = opts.region.codes();
    let (l, p) = (opts.lobbies, opts.players);
    anyhow::ensure!(p >= 2, "a lobby needs at least 2 players");
    report(&format!(
        "lobbies: {l} × {p} players, region {} ({} codes), progress every {} ms, over {} node(s)",
        opts.region,
        codes.len(),
        opts.interval.as_millis(),
        nodes.len()
    ));

    let started = Instant::now();
    let users = sign_up_many(&server, "Joueur ", l * p, opts.concurrency).await?;
    report(&format!("signed up {} users in {:.1} s", users.len(), started.elapsed().as_secs_f64()));

    let epoch = Instant::now();
    let (go_tx, go_rx) = watch::channel(false);
    let started = Instant::now();
    let mut groups: Vec<Vec<User>> = Vec::with_capacity(l);
    let mut users = users.into_iter();
    for _ in 0..l {
        groups.push(users.by_ref().take(p).collect());
    }
    let set_up: Vec<(String, Vec<Socket>, Vec<String>)> = stream::iter(groups.into_iter().enumerate())
        .map(|(i, group)| {
            let nodes = nodes.clone();
            async move { set_up_lobby(&nodes, group, i, opts.region).await }
        })
        .buffer_unordered(opts.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    report(&format!(
        "set up {l} lobbies (friends, sockets, create, invite, join) in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    let phases = Arc::new(Phases {
        players: l * p,
        started: AtomicUsize::new(0),
        all_started: AtomicU64::new(0),
        any_ended: AtomicBool::new(false),
    });
    let mut tasks = Vec::with_capacity(l * p);
    let mut lobbies = Vec::with_capacity(l);
    for (n, (lobby_id, sockets, ids)) in set_up.into_iter().enumerate() {
        let ready_after = opts.ramp.mul_f64(n as f64 / l as f64);
        let sent_at = (0..p).map(|_| (0..=codes.len()).map(|_| AtomicU64::new(0)).collect()).collect();
        let shared = Arc::new(Shared { ids, sent_at });
        lobbies.push(Arc::clone(&shared));
        for (index, socket) in sockets.into_iter().enumerate() {
            let global = tasks.len();
            let offset = opts.interval.mul_f64((global as f64 * 0.618_033_988_75).fract());
            let player =
                Player { index, lobby_id: lobby_id.clone(), socket, shared: Arc::clone(&shared), offset, ready_after };
            let go = go_rx.clone();
            let (interval, timeout, phases) = (opts.interval, opts.timeout, Arc::clone(&phases));
            tasks.push(tokio::spawn(async move { play(player, go, codes, epoch, &phases, interval, timeout).await }));
        }
    }

    let watch = ServerWatch::start(opts.server_pid);
    let bench_before = procstat::sample("self");
    let metrics_before = server.metrics().await.ok();
    let machine_before = procstat::machine();
    let started = Instant::now();
    go_tx.send(true).context("no player is waiting")?;
    let mut all = Vec::with_capacity(tasks.len());
    for t in tasks {
        all.push(t.await.context("a player panicked")??);
    }
    let elapsed = started.elapsed();
    let secs = elapsed.as_secs_f64();
    let bench_after = procstat::sample("self");
    let metrics_after = server.metrics().await.ok();
    let machine_after = procstat::machine();
    let server_stats = match watch {
        Some(w) => w.finish().await,
        None => None,
    };

    let histogram = |f: fn(&Stats) -> &Vec<u32>| -> anyhow::Result<Latencies> {
        let mut h = Latencies::new()?;
        for us in all.iter().flat_map(f) {
            h.record_us(u64::from(*us));
        }
        Ok(h)
    };
    let (push, steady, reply) = (histogram(|s| &s.push)?, histogram(|s| &s.steady)?, histogram(|s| &s.reply)?);
    let sum = |f: fn(&Stats) -> u64| all.iter().map(f).sum::<u64>();
    let count = |f: fn(&Stats) -> bool| all.iter().filter(|s| f(s)).count();
    let expected: u64 = lobbies.iter().map(|s| s.sends() * p as u64).sum();
    let seen = sum(|s| s.pushes_seen);
    let lost = expected.saturating_sub(seen);
    let (sent, received) = (sum(|s| s.sent), sum(|s| s.received));
    let mut errors = Errors::default();
    for s in &all {
        errors.merge(s.errors.clone());
    }
    let mut summary = Summary::new("lobbies", "messages", sent + received, elapsed).with_errors(errors);
    summary.series.push(push.series("progress → update_player_progress at the other players"));
    if !steady.is_empty() {
        summary.series.push(steady.series("the same, every game under way"));
    }
    summary.series.push(reply.series("progress → its reply at the sender"));
    summary.server = server_stats;
    let (started_n, ended_n, results_n) = (count(|s| s.started), count(|s| s.ended), count(|s| s.results_ok));
    summary.notes.push(format!(
        "games: {started_n} players started, {ended_n} saw game_end, {results_n} got full results, in {secs:.1} s"
    ));
    summary.notes.push(format!(
        "progress: {} messages sent; pushes expected {expected}, received {seen}, lost {lost}, duplicates {}",
        sum(|s| s.progress_sent),
        sum(|s| s.duplicates),
    ));
    summary.notes.push(format!(
        "messages: {sent} sent ({:.0}/s), {received} received ({:.0}/s)",
        sent as f64 / secs,
        received as f64 / secs
    ));
    if let (Some(a), Some(b)) = (bench_before, bench_after) {
        summary.notes.push(format!("bench: CPU {:.0}% of one core", cpu_percent(a, b, secs)));
    }
    if let (Some((busy_a, total_a)), Some((busy_b, total_b))) = (machine_before, machine_after) {
        // Other processes on the machine share its cores: a busy machine delays the server and the bench.
        summary.notes.push(format!(
            "machine: {:.0}% busy over all cores during the games",
            (busy_b - busy_a) / (total_b - total_a).max(f64::EPSILON) * 100.0
        ));
    }
    if let (Some(a), Some(b)) = (metrics_before, metrics_after) {
        let delta = |name: &str| metric(&b, name) - metric(&a, name);
        let (batches, rows) = (delta("lobby_progress_batch_size_count"), delta("lobby_progress_batch_size_sum"));
        let (groups, lobbies) = (delta("lobby_write_group_size_count"), delta("lobby_write_group_size_sum"));
        let (writes, write_secs) = (delta("lobby_write_seconds_count"), delta("lobby_write_seconds_sum"));
        summary.notes.push(format!(
            "database writes the batching left: {writes:.0} transactions ({:.1}/s), {:.2} ms each on average; \
             {batches:.0} carried progress ({rows:.0} rows, {:.0}/s), {groups:.0} carried write-through changes \
             ({lobbies:.0} lobbies' commands)",
            writes / secs,
            if writes > 0.0 { write_secs * 1000.0 / writes } else { 0.0 },
            rows / secs,
        ));
    }
    let players = l * p;
    summary.check(lost == 0, format!("progress pushes lost {lost} of {expected}"));
    summary.check(results_n == players, format!("games played to full results: {results_n} of {players} players"));
    Ok(summary)
}

fn cpu_percent(a: ProcSample, b: ProcSample, elapsed: f64) -> f64 {
    (b.cpu_secs - a.cpu_secs) / elapsed * 100.0
}

/// The sum of a metric's samples over all its labels in a Prometheus text exposition; 0 when absent.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Befriends, connects, creates, invites and joins; returns the lobby id, the players' sockets (host first)
/// and their user ids in the same order.
async fn set_up_lobby(
    nodes: &[Server],
    users: Vec<User>,
    n: usize,
    region: Region,
) -> anyhow::Result<(String, Vec<Socket>, Vec<String>)> {
    let (host, guests) = users.split_first().context("an empty lobby")?;
    let server = nodes.first().context("no server")?;
    for g in guests {
        server.add_friend(host, &g.tag).await?;
        server.add_friend(g, &host.tag).await?;
    }
    let mut sockets = Vec::with_capacity(users.len());
    for (k, u) in users.iter().enumerate() {
        sockets.push(nodes[k % nodes.len()].socket(u).await?);
    }
    let [host_socket, guest_sockets @ ..] = sockets.as_mut_slice() else { anyhow::bail!("an empty lobby") };
    host_socket
        .send(json!({"type": "create_lobby", "payload": {
            "name": format!("Bench {n}"),
            "settings": {"selectedRegions": [region.as_str()], "gameMode": "quiz"},
        }}))
        .await?;
    let created = host_socket.expect("create_lobby_success").await?;
    let lobby_id = created["data"]["lobbyId"].as_str().context("create_lobby_success without lobbyId")?.to_owned();
    for g in guests {
        host_socket
            .send(json!({"type": "invite_to_lobby", "payload": {"lobbyId": lobby_id, "friendId": g.id}}))
            .await?;
        host_socket.expect("invite_to_lobby_success").await?;
    }
    for s in guest_sockets {
        s.send(json!({"type": "join_lobby", "payload": {"lobbyId": lobby_id}})).await?;
        s.expect("join_lobby_success").await?;
    }
    Ok((lobby_id, sockets, users.iter().map(|u| u.id.clone()).collect()))
}

/// Waits for the go signal (answering pings meanwhile), then plays one game to its results.
async fn play(
    mut p: Player,
    mut go: watch::Receiver<bool>,
    codes: &'static [CountryCode],
    epoch: Instant,
    phases: &Phases,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<Stats> {
    let mut stats = Stats::new()?;
    loop {
        tokio::select! {
            ready = go.wait_for(|go| *go) => { ready.context("the run stopped")?; break; }
            frame = p.socket.next_json() => match frame {
                Some(Ok(_)) => {}
                Some(Err(e)) => { stats.error(format!("before the start: {e}")); return Ok(stats); }
                None => { stats.error("closed before the start".into()); return Ok(stats); }
            }
        }
    }
    let ready_at = tokio::time::Instant::now() + p.ready_after;
    while tokio::time::Instant::now() < ready_at {
        tokio::select! {
            () = tokio::time::sleep_until(ready_at) => {}
            frame = p.socket.next_json() => if !matches!(frame, Some(Ok(_))) {
                stats.error("closed before getting ready".into());
                return Ok(stats);
            }
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let lobby = p.lobby_id.clone();
    p.socket.send(json!({"type": "set_player_ready", "payload": {"lobbyId": lobby, "ready": true}})).await?;
    stats.sent += 1;
    let members = p.shared.ids.len();
    let mut seen = vec![0usize; members];
    let mut pending_replies: VecDeque<Instant> = VecDeque::new();
    let mut tick: Option<Interval> = None;
    let mut validated = 0usize;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => { stats.error("timed out".into()); break; }
            () = next_tick(&mut tick) => {
                if validated == codes.len() {
                    tick = None;
                    continue;
                }
                validated += 1;
                let now = Instant::now();
                p.shared.sent_at[p.index][validated].store(stamp(epoch), Ordering::Release);
                p.socket.send(json!({"type": "update_player_progress", "payload": {
                    "lobbyId": lobby,
                    "validatedCountries": &codes[..validated],
                    "incorrectCountries": [],
                }})).await?;
                pending_replies.push_back(now);
                stats.sent += 1;
                stats.progress_sent += 1;
            }
            frame = p.socket.next_json() => {
                let v = match frame {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => { stats.error(e.to_string()); break; }
                    None => { stats.error("the socket closed".into()); break; }
                };
                stats.received += 1;
                match v["type"].as_str().unwrap_or_default() {
                    "game_start" => {
                        stats.started = true;
                        if phases.started.fetch_add(1, Ordering::AcqRel) + 1 == phases.players {
                            phases.all_started.store(stamp(epoch), Ordering::Release);
                        }
                        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + p.offset, interval);
                        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
                        tick = Some(t);
                    }
                    "update_player_progress_success" => {
                        if let Some(sent) = pending_replies.pop_front() {
                            stats.reply.push(micros(sent.elapsed()));
                        }
                    }
                    "update_player_progress" => on_progress(&p, &v, &mut seen, epoch, phases, &mut stats),
                    "game_end" => {
                        stats.ended = true;
                        phases.any_ended.store(true, Ordering::Release);
                        p.socket.send(json!({"type": "get_game_results", "payload": {"lobbyId": lobby}})).await?;
                        stats.sent += 1;
                    }
                    "get_game_results_success" => {
                        let rankings = v["data"]["rankings"].as_array().map(Vec::as_slice).unwrap_or_default();
                        let full = codes.len() as u64;
                        stats.results_ok = rankings.len() == members
                            && rankings.iter().all(|r| r["score"].as_u64() == Some(full) && r["rank"] == 1);
                        if !stats.results_ok {
                            stats.error(format!("unexpected results: {v}"));
                        }
                        break;
                    }
                    "error" => stats.error(v["message"].as_str().unwrap_or_default().to_owned()),
                    _ => {}
                }
            }
        }
    }
    Ok(stats)
}

/// Accounts one `update_player_progress` push: each entry whose validated list grew is the push of that
/// sender's message of that length.
fn on_progress(p: &Player, v: &Value, seen: &mut [usize], epoch: Instant, phases: &Phases, stats: &mut Stats) {
    let mut advanced = false;
    for entry in v["payload"]["players"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(sender) = p.shared.ids.iter().position(|id| entry["id"] == id.as_str()) else { continue };
        let k = entry["validatedCountries"].as_array().map_or(0, Vec::len);
        if k <= seen[sender] {
            continue;
        }
        seen[sender] = k;
        advanced = true;
        stats.pushes_seen += 1;
        let sent = p.shared.sent_at[sender].get(k).map_or(0, |t| t.load(Ordering::Acquire));
        if sender != p.index && sent != 0 {
            let latency = micros((epoch + Duration::from_nanos(sent - 1)).elapsed());
            stats.push.push(latency);
            let all_started = phases.all_started.load(Ordering::Acquire);
            if all_started != 0 && sent > all_started && !phases.any_ended.load(Ordering::Acquire) {
                stats.steady.push(latency);
            }
        }
    }
    if !advanced {
        stats.duplicates += 1;
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Nanoseconds since `epoch`, plus one so that 0 can mean "not yet".
fn stamp(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

/// Resolves at the next tick, or never without an interval.
async fn next_tick(tick: &mut Option<Interval>) {
    match tick {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}
