//! The per-socket message rate limit (protocol §2.4): a token bucket holding one window's worth of messages,
//! one warning per window at most, and a second, larger bucket for every message received (dropped ones
//! included) whose exhaustion closes the socket: no window boundary lets a flood through.

use std::time::{Duration, Instant};

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
    fn a_steady_sender_under_the_rate_is_never_limited() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(100, WINDOW, 1000, t0);
        for i in 0..5_000u64 {
            assert_eq!(l.check(t0 + Duration::from_millis(i * 101)), Verdict::Allow, "message {i}");
        }
    }
}
