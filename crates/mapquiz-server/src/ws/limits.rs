//! The per-socket message rate limit (protocol §2.4): a token bucket holding one window's worth of messages,
//! one warning per window at most, and a second, larger bucket for every message received (dropped ones
//! included) whose exhaustion closes the socket: no window boundary lets a flood through. Also the count of
//! sockets not yet authenticated per client IP ([`UnauthenticatedSockets`]).

use crate::http::rate_limit::key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// `Retry-After` of an upgrade refused for too many unauthenticated sockets: a slot frees when one of them
/// authenticates or closes, which no clock predicts; a few seconds keeps a well-behaved client from hammering.
pub const UNAUTHENTICATED_RETRY_AFTER_SECS: u64 = 10;

/// Sockets open on this node and not yet bound to a user, per client IP (IPv6: per /64). Upgrades are cheap
/// to make and each idle socket holds memory and a task for as long as it pings, so without an account they
/// are capped; a socket gives its slot back when it authenticates or closes.
pub struct UnauthenticatedSockets {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One unauthenticated socket's place in the count, given back on drop.
pub struct UnauthenticatedSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

fn lock(open: &Mutex<HashMap<IpAddr, usize>>) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Plain counters: a panic elsewhere cannot leave them inconsistent.
    open.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UnauthenticatedSockets {
    /// At most `max` per client IP.
    pub fn new(max: usize) -> Self {
        UnauthenticatedSockets { max, open: Arc::default() }
    }

    /// A slot for one more socket from `ip`; `None` when it holds `max` already.
    pub fn acquire(&self, ip: IpAddr) -> Option<UnauthenticatedSlot> {
        let ip = key(ip);
        let mut open = lock(&self.open);
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(UnauthenticatedSlot { ip, open: self.open.clone() })
    }

    /// Unauthenticated sockets `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        lock(&self.open).get(&key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for UnauthenticatedSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What to do with one incoming message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Process it.
    Allow,
    /// Drop it; `warn` when the client should be told (at most once per window).
    Drop { warn: bool },
    /// The sender is flooding: close the socket with 1008.
    Close,
}

/// One socket's limiter.
#[derive(Debug)]
pub struct MessageLimiter {
    rate: Bucket,
    window: Duration,
    flood: Bucket,
    warned_at: Option<Instant>,
}

/// Tokens refilled continuously up to a capacity.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: u32, window: Duration, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        Bucket { capacity, per_sec: capacity / window.as_secs_f64().max(0.001), tokens: capacity, at: now }
    }

    /// Takes one token if there is one.
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl MessageLimiter {
    /// `max` messages per `window` (burst up to `max`), closing past `abuse_max` messages in one window.
    pub fn new(max: u32, window: Duration, abuse_max: u32, now: Instant) -> Self {
        MessageLimiter {
            rate: Bucket::new(max, window, now),
            window,
            flood: Bucket::new(abuse_max, window, now),
            warned_at: None,
        }
    }

    /// Counts one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if !self.flood.take(now) {
            return Verdict::Close;
        }
        if self.rate.take(now) {
            return Verdict::Allow;
        }
        let warn = self.warned_at.is_none_or(|at| now.saturating_duration_since(at) >= self.window);
        if warn {
            self.warned_at = Some(now);
        }
        Verdict::Drop { warn }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(10);

    #[test]
    fn a_burst_of_one_window_passes_and_the_next_is_dropped_with_one_warning() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(100, WINDOW, 1000, t0);
        for _ in 0..100 {
            assert_eq!(l.check(t0), Verdict::Allow);
        }
        assert_eq!(l.check(t0), Verdict::Drop { warn: true });
        for _ in 0..50 {
            assert_eq!(l.check(t0), Verdict::Drop { warn: false }, "one warning per window");
        }
        // Ten messages per second come back.
        assert_eq!(l.check(t0 + Duration::from_millis(100)), Verdict::Allow);
        assert_eq!(l.check(t0 + Duration::from_millis(100)), Verdict::Drop { warn: false });
        assert_eq!(l.check(t0 + WINDOW + Duration::from_millis(100)), Verdict::Allow);
    }

    #[test]
    fn the_warning_repeats_after_a_window() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(1, WINDOW, 1000, t0);
        assert_eq!(l.check(t0), Verdict::Allow);
        assert_eq!(l.check(t0), Verdict::Drop { warn: true });
        let later = t0 + Duration::from_secs(5);
        assert_eq!(l.check(later), Verdict::Drop { warn: false }, "the bucket refilled only half a token");
        let t1 = t0 + WINDOW + Duration::from_millis(1);
        assert_eq!(l.check(t1), Verdict::Allow);
        assert_eq!(l.check(t1), Verdict::Drop { warn: true });
    }

    #[test]
    fn flooding_past_the_ceiling_closes() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(100, WINDOW, 1000, t0);
        for i in 0..1000 {
            assert_ne!(l.check(t0), Verdict::Close, "message {i}");
        }
        assert_eq!(l.check(t0), Verdict::Close);
    }

    #[test]
    fn a_flood_across_a_window_boundary_still_closes() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(100, WINDOW, 1000, t0);
        let just_before = t0 + WINDOW - Duration::from_millis(1);
        for _ in 0..1000 {
            assert_ne!(l.check(just_before), Verdict::Close);
        }
        // A fixed window would start again here and allow 1,000 more.
        let just_after = t0 + WINDOW + Duration::from_millis(1);
        let closed = (0..1000).any(|_| l.check(just_after) == Verdict::Close);
        assert!(closed);
    }

    #[test]
    fn unauthenticated_slots_are_counted_per_ip_and_given_back_on_drop() {
        let sockets = UnauthenticatedSockets::new(2);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let a = sockets.acquire(ip).unwrap();
        let _b = sockets.acquire(ip).unwrap();
        assert!(sockets.acquire(ip).is_none());
        assert!(sockets.acquire("198.51.100.8".parse().unwrap()).is_some(), "another IP has its own count");
        drop(a);
        assert_eq!(sockets.held(ip), 1);
        assert!(sockets.acquire(ip).is_some());
        let v6 = sockets.acquire("2001:db8::1".parse().unwrap()).unwrap();
        let _w6 = sockets.acquire("2001:db8::2".parse().unwrap()).unwrap();
        assert!(sockets.acquire("2001:db8::3".parse().unwrap()).is_none(), "one /64, one count");
        drop(v6);
        assert_eq!(sockets.held("2001:db8::ffff".parse().unwrap()), 1);
    }

    #[test]
    fn a_steady_sender_under_the_rate_is_never_limited() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(100, WINDOW, 1000, t0);
        for i in 0..5_000u64 {
            assert_eq!(l.check(t0 + Duration::from_millis(i * 101)), Verdict::Allow, "message {i}");
        }
    }
}
