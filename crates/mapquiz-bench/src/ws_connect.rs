//! The `ws-connect` scenario (formerly `hold`): opens `users × sockets-per-user` authenticated sockets, times
//! each from its TCP connect to `authenticated`, holds them, and reports the server's memory per socket (from
//! `/proc` with `--server-pid`, else from `/health/detailed`).

use crate::client::{Server, Socket, User};
use crate::summary::{Errors, Latencies, ServerWatch, Summary, kind_of};
use crate::{mib, procstat, sign_up_many};
use anyhow::bail;
use futures_util::stream::{self, StreamExt};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

/// Files the bench needs besides its sockets: set-up HTTP connections, the runtime, stdio.
const SPARE_FILES: u64 = 64;

/// What the run is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// The server, `http://host:port`.
    pub url: String,
    /// Users signed up.
    pub users: usize,
    /// Sockets each user opens (at most the server's `ws_max_sockets_per_user`).
    pub sockets_per_user: usize,
    /// Sockets in all: the first `sockets` of the users' `users × sockets_per_user`.
    pub sockets: usize,
    /// How long the sockets are held once all are open, before the RSS is read.
    pub hold: Duration,
    /// Sign-ups and connections in flight at once.
    pub concurrency: usize,
    /// Spread the sockets over this many local addresses 127.0.0.1, .2, ... (loopback servers only); 1: let
    /// the system choose.
    pub source_ips: u8,
    /// The server's process, for its CPU and RSS.
    pub server_pid: Option<u32>,
}

/// Raises this process's soft limit of open files to its hard limit, and fails clearly when even that is
/// too low for `sockets`.
pub fn raise_file_limit(sockets: u64) -> anyhow::Result<u64> {
    let (soft, hard) = rlimit::Resource::NOFILE.get()?;
    // An unlimited hard limit still stops at the kernel's per-process ceiling, which setrlimit enforces.
    let hard = if hard == rlimit::INFINITY {
        std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1 << 20)
    } else {
        hard
    };
    let needed = sockets.saturating_add(SPARE_FILES);
    if hard < needed {
        bail!(
            "{sockets} sockets need about {needed} open files but this process may open at most {hard} \
             (RLIMIT_NOFILE hard limit): raise it (e.g. `ulimit -Hn {needed}` as root, or LimitNOFILE= for a \
             service) or ask for fewer sockets"
        );
    }
    if soft < hard {
        let (_, hard_now) = rlimit::Resource::NOFILE.get()?;
        rlimit::Resource::NOFILE.set(hard, hard_now)?;
    }
    Ok(hard)
}

/// Runs the scenario.
pub async fn run(opts: Options) -> anyhow::Result<Summary> {
    let asked = opts.sockets.min(opts.users * opts.sockets_per_user);
    raise_file_limit(asked as u64)?;
    let server = Server::new(&opts.url)?;
    let people = sign_up_many(&server, "Holder ", opts.users, opts.concurrency).await?;
    let before = server_rss(&server, opts.server_pid).await;
    let watch = ServerWatch::start(opts.server_pid);

    let sources: Vec<Option<IpAddr>> = if opts.source_ips > 1 {
        (1..=opts.source_ips).map(|i| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))).collect()
    } else {
        vec![None]
    };
    let targets: Vec<(usize, &User)> =
        people.iter().flat_map(|u| std::iter::repeat_n(u, opts.sockets_per_user)).take(asked).enumerate().collect();
    let started = Instant::now();
    let results: Vec<(Duration, anyhow::Result<Socket>)> = stream::iter(targets)
        .map(|(i, u)| {
            let (server, source) = (&server, sources[i % sources.len()]);
            async move {
                let t = Instant::now();
                let s = server.socket_from(u, source).await;
                (t.elapsed(), s)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let connect_time = started.elapsed();
    let mut latencies = Latencies::new()?;
    let mut errors = Errors::default();
    let mut readers = Vec::with_capacity(results.len());
    for (took, socket) in results {
        match socket {
            Ok(s) => {
                latencies.record(took);
                // Keep every socket read (pings answered) while it is held.
                readers.push(tokio::spawn(s.drain()));
            }
            Err(e) => errors.add(kind_of(&e)),
        }
    }
    let opened = readers.len();
    tokio::time::sleep(opts.hold).await;
    let during = server_rss(&server, opts.server_pid).await;
    let health = server.health().await.ok();
    let server_stats = match watch {
        Some(w) => w.finish().await,
        None => None,
    };
    for r in readers {
        r.abort();
    }

    let mut summary = Summary::new("ws-connect", "sockets", opened as u64, connect_time).with_errors(errors);
    summary.series.push(latencies.series("TCP connect → authenticated"));
    summary.server = server_stats;
    summary.notes.push(format!(
        "opened and authenticated {opened} of {asked} sockets ({} users, up to {} each) in {:.2} s, {} at once",
        opts.users,
        opts.sockets_per_user,
        connect_time.as_secs_f64(),
        opts.concurrency
    ));
    if let Some(h) = health {
        summary.notes.push(format!(
            "server says: wsConnections {}, authenticated sockets {}, users {}",
            h.ws_connections, h.sockets, h.users
        ));
    }
    if let (Some(b), Some(d)) = (before, during) {
        summary.notes.push(format!(
            "server RSS: {:.1} MiB before, {:.1} MiB holding them after {:.1} s: {:.1} KiB per socket",
            mib(b),
            mib(d),
            opts.hold.as_secs_f64(),
            d.saturating_sub(b) as f64 / 1024.0 / opened.max(1) as f64
        ));
    }
    summary.check(opened == asked, format!("sockets opened {opened} of {asked} asked"));
    Ok(summary)
}

/// The server's RSS: from `/proc` for a local pid, else as `/health/detailed` reports it.
async fn server_rss(server: &Server, pid: Option<u32>) -> Option<u64> {
    match pid {
        Some(p) => procstat::sample(&p.to_string()).map(|s| s.rss),
        None => server.health().await.ok().map(|h| h.rss),
    }
}
