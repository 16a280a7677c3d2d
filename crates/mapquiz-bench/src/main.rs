//! The `mapquiz-bench` command line: parses the arguments, runs one scenario of the library, prints its
//! summary and writes the files asked for. See the library's documentation for the scenarios.

use clap::{Parser, Subcommand};
use mapquiz_bench::summary::Outputs;
use mapquiz_bench::{artillery, ceiling, finish, friends, http, lobbies, report, soak, ws_connect};
use mapquiz_domain::region::Region;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mapquiz-bench",
    about = "Load runs against a running MapQuiz Server",
    long_about = "Load runs against a running MapQuiz Server, through its public HTTP and WebSocket API.\n\n\
                  Every scenario prints one summary (rate, latency p50/p90/p99/p99.9/max, errors by kind, checks, \
                  and the server's CPU and RSS with --server-pid); --json FILE writes it as JSON and --svg FILE \
                  draws the latency percentile spectrum (and the server's RSS over time).\n\n\
                  Start the server with MAPQUIZ_ARGON2_MEMORY_KIB=1024 MAPQUIZ_ARGON2_ITERATIONS=1 \
                  MAPQUIZ_RATE_LIMIT_ENABLED=false MAPQUIZ_WS_RATE_MAX=1000000 MAPQUIZ_WS_ABUSE_MAX=1000000."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// HTTP throughput and latency: C keep-alive connections send a weighted mix of routes, closed-loop or at a
    /// fixed total rate.
    Http {
        /// The server, e.g. http://127.0.0.1:3000 (or a `ceiling` server, with `--mix livez`).
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// Routes and weights, e.g. `history=3,stats=1,post-score=1`. Names: get-session, history, stats,
        /// leaderboard, post-score, livez, health.
        #[arg(long, visible_alias = "route", default_value = "get-session=1", value_parser = http::parse_mix)]
        mix: MixArg,
        /// Connections, one virtual client each.
        #[arg(long, short = 'c', default_value_t = 50)]
        connections: usize,
        /// Seconds measured (after the warm-up).
        #[arg(long, short = 'd', default_value_t = 20)]
        duration_secs: u64,
        /// Seconds run first and not recorded.
        #[arg(long, default_value_t = 2)]
        warmup_secs: u64,
        /// Users signed up beforehand (only when the mix needs one), each with 3 scores.
        #[arg(long, default_value_t = 50)]
        users: usize,
        /// Open model: requests per second in all, each connection an equal share of a fixed schedule; latency
        /// counts from each request's intended send time. Without it: closed model.
        #[arg(long)]
        rate: Option<f64>,
        /// Seconds an answer may take before it counts as a timeout.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
        #[command(flatten)]
        watch: Watch,
    },
    /// Serves a minimal axum app (any GET → 200 {"status":"ok"}) for `http --mix livez`: this machine's HTTP
    /// ceiling in the same conditions.
    Ceiling {
        /// Port to listen on.
        #[arg(long, default_value_t = 3900)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
    /// The original maintenance plan's load test: virtual users arrive at a fixed rate; each does GET /health,
    /// get-session, history and stats, then leaves. Compared with the plan's published figures.
    Artillery {
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// Virtual users arriving per second.
        #[arg(long, default_value_t = 20.0)]
        arrival_rate: f64,
        /// Seconds during which users arrive (the plan's 5 minutes by default).
        #[arg(long, short = 'd', default_value_t = 300)]
        duration_secs: u64,
        /// Users signed up beforehand (each with 3 scores); virtual user k acts as user k mod users.
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Seconds an answer may take before it counts as a timeout.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
        #[command(flatten)]
        watch: Watch,
    },
    /// Opens many authenticated sockets: connect + authenticate latency, server memory per socket (from `/proc`
    /// with `--server-pid`, else from the server's `/health/detailed`).
    #[command(visible_alias = "hold")]
    WsConnect {
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// Users signed up (ignored with `--sockets`).
        #[arg(long, default_value_t = 500)]
        users: usize,
        /// Sockets per user (the server allows 10 by default).
        #[arg(long, default_value_t = 10)]
        sockets_per_user: usize,
        /// Sockets in all; the users are then as many as needed at `--sockets-per-user` each.
        #[arg(long)]
        sockets: Option<usize>,
        /// Seconds to hold them once open, before the RSS is read.
        #[arg(long, default_value_t = 5)]
        hold_secs: u64,
        /// Sign-ups and connections in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Spread the sockets' local addresses over 127.0.0.1 .. 127.0.0.N (a loopback server only), so that
        /// tens of thousands of sockets do not run out of ephemeral ports.
        #[arg(long, default_value_t = 1)]
        source_ips: u8,
        #[command(flatten)]
        watch: Watch,
    },
    /// Friend-request and presence push latency, on one node or across two.
    #[command(visible_alias = "push")]
    Friends {
        /// The senders' node.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        sender_url: String,
        /// The receivers' node (the same URL measures local delivery; another node's, delivery via Redis).
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        receiver_url: String,
        /// Which pushes.
        #[arg(long, value_enum, default_value = "friend-request")]
        kind: friends::Kind,
        /// Pairs running at once, per kind.
        #[arg(long, default_value_t = 10)]
        pairs: usize,
        /// Friend-request pushes per pair.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Online/offline cycles per presence pair (each takes at least the server's presence grace).
        #[arg(long, default_value_t = 3)]
        presence_rounds: usize,
        /// The server's `presence_grace_ms`: offline pushes are waited for this much longer.
        #[arg(long, default_value_t = 5000)]
        presence_grace_ms: u64,
        /// Seconds a push may take before it counts as lost.
        #[arg(long, default_value_t = 10)]
        wait_secs: u64,
        #[command(flatten)]
        watch: Watch,
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
        /// Seconds the games may take beyond their expected length before the run stops and counts what is
        /// missing.
        #[arg(long, default_value_t = 60)]
        slack_secs: u64,
        #[command(flatten)]
        watch: Watch,
    },
    /// Lobbies, friends and the HTTP mix together at a moderate steady load for a set time; the server's RSS
    /// and open descriptors (with --server-pid), Tokio tasks and pool use (from /metrics) read each second. Fails
    /// when one keeps growing (after the warm-up: the least-squares trend over the run AND the last tenth's mean
    /// over the first tenth's both beyond the series' tolerance) or when the load went wrong.
    Soak {
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// How long: 30m, 90s, 2h.
        #[arg(long, short = 'd', default_value = "30m", value_parser = soak::parse_duration)]
        duration: Duration,
        /// Left out of the growth verdicts (default: 10 % of the duration).
        #[arg(long, value_parser = soak::parse_duration)]
        warmup: Option<Duration>,
        /// Time between two samples.
        #[arg(long, default_value = "1s", value_parser = soak::parse_duration)]
        sample_every: Duration,
        /// Lobbies per round (rounds back to back, new players each).
        #[arg(long, default_value_t = 4)]
        lobbies: usize,
        /// Players per lobby.
        #[arg(long, default_value_t = 4)]
        players: usize,
        /// Milliseconds between one player's progress messages.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
        /// The region the lobbies play.
        #[arg(long, default_value = "Europe", value_parser = parse_region)]
        region: Region,
        /// Friend-request pairs and presence pairs per friends round.
        #[arg(long, default_value_t = 4)]
        friend_pairs: usize,
        /// Friend requests per pair and round.
        #[arg(long, default_value_t = 20)]
        friend_rounds: usize,
        /// Online/offline cycles per presence pair and round.
        #[arg(long, default_value_t = 1)]
        presence_rounds: usize,
        /// The server's `presence_grace_ms`.
        #[arg(long, default_value_t = 5000)]
        presence_grace_ms: u64,
        /// The HTTP routes and weights.
        #[arg(long, default_value = "get-session=2,history=2,stats=1,leaderboard=1,post-score=1", value_parser = http::parse_mix)]
        mix: MixArg,
        /// HTTP requests per second in all (open model).
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// HTTP keep-alive connections.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Users of the HTTP load.
        #[arg(long, default_value_t = 20)]
        users: usize,
        /// RSS growth tolerated over the run, MiB (the larger of this and --rss-tolerance-percent).
        #[arg(long, default_value_t = 16.0)]
        rss_tolerance_mib: f64,
        /// RSS growth tolerated over the run, percent of its steady mean.
        #[arg(long, default_value_t = 5.0)]
        rss_tolerance_percent: f64,
        /// Open descriptors' growth tolerated over the run.
        #[arg(long, default_value_t = 16.0)]
        fd_tolerance: f64,
        /// Alive tasks' growth tolerated over the run.
        #[arg(long, default_value_t = 64.0)]
        task_tolerance: f64,
        /// Pool connections in use: growth tolerated over the run.
        #[arg(long, default_value_t = 2.0)]
        pool_tolerance: f64,
        #[command(flatten)]
        watch: Watch,
    },
}

/// A parsed `--mix`.
type MixArg = Vec<(http::Route, u32)>;

/// What a load scenario watches and writes beyond its summary.
#[derive(clap::Args)]
struct Watch {
    /// The server's process id, for its CPU and RSS (`/proc`; the server must run on this machine).
    #[arg(long)]
    server_pid: Option<u32>,
    #[command(flatten)]
    outputs: Outputs,
}

fn parse_region(s: &str) -> Result<Region, String> {
    Region::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Region::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown region; one of: {}", known.join(", "))
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (summary, outputs) = match Cli::parse().command {
        Command::Soak {
            url,
            duration,
            warmup,
            sample_every,
            lobbies,
            players,
            interval_ms,
            region,
            friend_pairs,
            friend_rounds,
            presence_rounds,
            presence_grace_ms,
            mix,
            rate,
            connections,
            users,
            rss_tolerance_mib,
            rss_tolerance_percent,
            fd_tolerance,
            task_tolerance,
            pool_tolerance,
            watch,
        } => {
            let absolute = |absolute: f64| soak::growth::Tolerance { absolute, relative: 0.0 };
            let options = soak::Options {
                url,
                duration,
                warmup,
                sample_every,
                lobbies: soak::LobbyLoad { lobbies, players, interval: Duration::from_millis(interval_ms), region },
                friends: soak::FriendLoad {
                    pairs: friend_pairs,
                    rounds: friend_rounds,
                    presence_rounds,
                    presence_grace: Duration::from_millis(presence_grace_ms),
                },
                http: soak::HttpLoad { mix, rate, connections, users },
                limits: soak::Limits {
                    rss: soak::growth::Tolerance {
                        absolute: rss_tolerance_mib,
                        relative: rss_tolerance_percent / 100.0,
                    },
                    fds: absolute(fd_tolerance),
                    tasks: absolute(task_tolerance),
                    pool_in_use: absolute(pool_tolerance),
                },
                server_pid: watch.server_pid,
            };
            let report = soak::run(options).await?;
            return soak::finish(&report, &watch.outputs);
        }
        Command::Http { url, mix, connections, duration_secs, warmup_secs, users, rate, timeout_secs, watch } => {
            let options = http::Options {
                url,
                mix,
                connections,
                duration: Duration::from_secs(duration_secs),
                warmup: Duration::from_secs(warmup_secs),
                users,
                rate,
                timeout: Duration::from_secs(timeout_secs),
                server_pid: watch.server_pid,
            };
            (http::run(options).await?, watch.outputs)
        }
        Command::Ceiling { port, host } => {
            let (addr, serve) = ceiling::bind(&host, port, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            report(&format!("ceiling: serving GET any path → 200 {{\"status\":\"ok\"}} on http://{addr}"));
            return serve.await;
        }
        Command::Artillery { url, arrival_rate, duration_secs, users, timeout_secs, watch } => {
            let options = artillery::Options {
                url,
                arrival_rate,
                duration: Duration::from_secs(duration_secs),
                users,
                timeout: Duration::from_secs(timeout_secs),
                server_pid: watch.server_pid,
            };
            (artillery::run(options).await?, watch.outputs)
        }
        Command::WsConnect { url, users, sockets_per_user, sockets, hold_secs, concurrency, source_ips, watch } => {
            let per_user = sockets_per_user.max(1);
            let (users, sockets) = match sockets {
                Some(n) => (n.div_ceil(per_user), n),
                None => (users, users * per_user),
            };
            let options = ws_connect::Options {
                url,
                users,
                sockets_per_user: per_user,
                sockets,
                hold: Duration::from_secs(hold_secs),
                concurrency,
                source_ips,
                server_pid: watch.server_pid,
            };
            (ws_connect::run(options).await?, watch.outputs)
        }
        Command::Friends {
            sender_url,
            receiver_url,
            kind,
            pairs,
            rounds,
            presence_rounds,
            presence_grace_ms,
            wait_secs,
            watch,
        } => {
            let options = friends::Options {
                sender_url,
                receiver_url,
                kind,
                pairs,
                rounds,
                presence_rounds,
                wait: Duration::from_secs(wait_secs),
                presence_grace: Duration::from_millis(presence_grace_ms),
                server_pid: watch.server_pid,
            };
            (friends::run(options).await?, watch.outputs)
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
            slack_secs,
            watch,
        } => {
            let interval = Duration::from_millis(interval_ms);
            let ramp = Duration::from_millis(ramp_ms);
            let timeout = lobbies::game_timeout(region, interval, ramp, Duration::from_secs(slack_secs));
            let urls = std::iter::once(url).chain(also_urls).collect();
            let options = lobbies::Options {
                urls,
                lobbies,
                players,
                interval,
                region,
                concurrency,
                ramp,
                server_pid: watch.server_pid,
                timeout,
            };
            (lobbies::run(options).await?, watch.outputs)
        }
    };
    finish(&summary, &outputs)
}
