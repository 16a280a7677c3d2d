//! The per-socket message rate limit (protocol §2.4): a token bucket holding one window's worth of messages,
//! one warning per window at most, and a hard ceiling past which the socket is closed.

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
    capacity: f64,
    refill_per_sec: f64,
    tokens: f64,
    refilled_at: Instant,
    window: Duration,
    abuse_max: u32,
    window_start: Instant,
    seen_in_window: u32,
    warned_at: Option<Instant>,
}

impl MessageLimiter {
    /// `max` messages per `window` (burst up to `max`), closing past `abuse_max` messages in one window.
    pub fn new(max: u32, window: Duration, abuse_max: u32, now: Instant) -> Self {
        let capacity = f64::from(max.max(1));
        MessageLimiter {
            capacity,
            refill_per_sec: capacity / window.as_secs_f64().max(0.001),
            tokens: capacity,
            refilled_at: now,
            window,
            abuse_max,
            window_start: now,
            seen_in_window: 0,
            warned_at: None,
        }
    }

    /// Counts one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if now.duration_since(self.window_start) >= self.window {
            self.window_start = now;
            self.seen_in_window = 0;
        }
        self.seen_in_window = self.seen_in_window.saturating_add(1);
        if self.seen_in_window > self.abuse_max {
            return Verdict::Close;
        }
        let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        let warn = self.warned_at.is_none_or(|at| now.duration_since(at) >= self.window);
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
    fn a_steady_sender_under_the_rate_is_never_limited() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(100, WINDOW, 1000, t0);
        for i in 0..5_000u64 {
            assert_eq!(l.check(t0 + Duration::from_millis(i * 101)), Verdict::Allow, "message {i}");
        }
    }
}
