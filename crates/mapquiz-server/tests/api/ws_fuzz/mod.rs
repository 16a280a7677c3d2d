//! WebSocket protocol fuzzing (issue 15): generated frames against the real parse-and-dispatch path
//! ([`frames`]), and a bot of several users playing random valid and invalid messages with disconnects for a
//! bounded time ([`bot`]). Every server frame goes through the protocol checker ([`shapes`]) and every lobby
//! state through the domain's invariants ([`invariants`]); a panic anywhere in the server fails the test
//! ([`watch_panics`]).
//!
//! `TEST_FUZZ_SEED` replays a run (each test prints its seed), `TEST_FUZZ_CASES` sets the generated
//! cases per property (default 1000) and `TEST_FUZZ_SECS` the bot's duration (default 60 s on SQLite, a
//! third of it on PostgreSQL). They start with `TEST_`, which the server's configuration never reads: a
//! `MAPQUIZ_*` variable is configuration, and server processes that tests start inherit the environment.

/// Prints a line of a run's report (its seed, its figures) on stderr, which libtest shows for a failing test
/// or with `--nocapture`.
macro_rules! report {
    ($($arg:tt)*) => {{
        #[allow(clippy::print_stderr)] // the seed to replay a failure and the figures of a run, for whoever runs it
        {
            eprintln!($($arg)*);
        }
    }};
}

mod bot;
mod frames;
pub mod invariants;
pub mod shapes;

use crate::support::TestApp;
use crate::support::ws::Ws;
use figment::Figment;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;
use std::sync::{Mutex, Once};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for a frame the protocol promises.
pub const WAIT: Duration = Duration::from_secs(10);

/// The size limit the fuzzed apps keep (the default, 64 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// An app whose per-socket rate limits are far above what a test sends, so that every close is one the
/// test provoked on purpose; short lobby timers so that grace expiries and deletions happen during a run.
pub async fn fuzz_app(postgres: bool, capacity: usize, grace_ms: u64) -> Option<TestApp> {
    TestApp::spawn_with(postgres, |f| fuzz_settings(f, capacity, grace_ms)).await
}

/// The settings of [`fuzz_app`], on top of `f`.
pub fn fuzz_settings(f: Figment, capacity: usize, grace_ms: u64) -> Figment {
    f.merge(("ws_rate_max", 1_000_000))
        .merge(("ws_abuse_max", 1_000_000))
        .merge(("rate_limit_auth_max", 10_000))
        .merge(("rate_limit_global_max", 1_000_000))
        .merge(("lobby_capacity", capacity))
        .merge(("lobby_grace_ms", grace_ms))
        .merge(("lobby_empty_ttl_ms", 1_500))
        .merge(("presence_grace_ms", 100))
}

/// The run's seed: `TEST_FUZZ_SEED`, or a fresh one; printed so that a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var("TEST_FUZZ_SEED") {
        Ok(s) => s.trim().parse().expect("TEST_FUZZ_SEED is an unsigned integer"),
        Err(_) => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)
        }
    };
    report!("{test}: TEST_FUZZ_SEED={seed}");
    seed
}

/// A positive number from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// Panics seen outside the tests' own code: the thread, and the message with its location.
static PANICS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

/// Records every panic raised outside the tests' own code (the server's tasks catch theirs, so a test would
/// not otherwise see them); the previous hook still prints it.
pub fn watch_panics() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            if !location.contains("tests/api/") {
                let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
                PANICS.lock().unwrap_or_else(|e| e.into_inner()).push((thread, info.to_string()));
            }
            previous(info);
        }));
    });
}

/// Panics recorded so far that may be this test's server's: on this test's thread (a `#[tokio::test]` runs
/// its app's tasks there), or on a thread no test owns (blocking pools, database workers). Libtest names a
/// test's thread after its path, so another test's thread has `::` in its name.
pub fn server_panics() -> Vec<String> {
    let me = std::thread::current().name().unwrap_or_default().to_owned();
    let panics = PANICS.lock().unwrap_or_else(|e| e.into_inner());
    panics
        .iter()
        .filter(|(thread, _)| *thread == me || !thread.contains("::"))
        .map(|(t, p)| format!("{p} (thread {t})"))
        .collect()
}

/// What a socket read gave.
#[derive(Debug)]
pub enum Read {
    Frame(Value),
    /// The server closed (its close code; `None` without a close frame).
    Closed(Option<u16>),
    /// Nothing within the wait.
    Silent,
}

/// The next text frame of `ws` within `wait` (pings skipped), or how the socket ended.
pub async fn read(ws: &mut Ws, wait: Duration) -> Read {
    let next = async {
        loop {
            match ws.stream.next().await {
                Some(Ok(Message::Text(t))) => {
                    return match serde_json::from_str(t.as_str()) {
                        Ok(v) => Read::Frame(v),
                        Err(_) => Read::Frame(Value::String(format!("<not JSON: {}>", t.as_str()))),
                    };
                }
                Some(Ok(Message::Close(frame))) => return Read::Closed(frame.map(|f| u16::from(f.code))),
                Some(Ok(Message::Binary(_))) => return Read::Frame(Value::String("<a binary frame>".into())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Read::Closed(None),
            }
        }
    };
    tokio::time::timeout(wait, next).await.unwrap_or(Read::Silent)
}

/// The text frames `ws` already holds, without waiting (a pending read is dropped safely); `Err` with the
/// close code when the server closed the socket.
pub fn ready_frames(ws: &mut Ws) -> Result<Vec<Value>, Option<u16>> {
    let mut frames = Vec::new();
    while let Some(next) = ws.stream.next().now_or_never() {
        match next {
            Some(Ok(Message::Text(t))) => frames.push(
                serde_json::from_str(t.as_str())
                    .unwrap_or_else(|_| Value::String(format!("<not JSON: {}>", t.as_str()))),
            ),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(Message::Binary(_))) => frames.push(Value::String("<a binary frame>".into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
    Ok(frames)
}

/// Sends a binary frame (the gateway closes with 1003); errors are ignored, the close is what is checked.
pub async fn send_binary(ws: &mut Ws, bytes: Vec<u8>) {
    let _ = ws.stream.send(Message::binary(bytes)).await;
}

/// Sends a text frame; `false` when the socket is already gone.
pub async fn send_text(ws: &mut Ws, text: &str) -> bool {
    ws.stream.send(Message::text(text)).await.is_ok()
}

/// A small seeded generator (SplitMix64) for the bot's choices: the same seed replays the same run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The panic watch sees a panic raised inside a task of this test's runtime, as a server task's would be,
/// and only on this test's thread.
#[tokio::test]
async fn the_panic_watch_sees_a_task_s_panic() {
    watch_panics();
    let before = server_panics().len();
    // A panic located in the standard library, as one in the server's code would be (not in tests/api/).
    let task = tokio::spawn(async { Vec::<u64>::with_capacity(usize::MAX).len() });
    assert!(task.await.is_err(), "the task panicked");
    let after = server_panics();
    assert_eq!(after.len(), before + 1, "{after:?}");
    assert!(after[before].contains("capacity overflow"), "{after:?}");
}
