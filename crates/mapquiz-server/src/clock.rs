//! The server's notion of "now", injectable so that tests can move time (session expiry, sliding refresh,
//! lockout windows, TOTP steps) without sleeping.

use mapquiz_domain::Timestamp;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, to the millisecond.
    fn now(&self) -> Timestamp;
}

/// The clock as the application holds it.
pub type DynClock = Arc<dyn Clock>;

/// The system's UTC clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

/// The system clock shifted by an offset: time keeps flowing, and a test can jump ahead by days or start at
/// a chosen instant (a time-zone boundary).
#[derive(Debug, Default)]
pub struct ManualClock {
    offset_ms: AtomicI64,
}

impl ManualClock {
    /// A clock that starts at the system time.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves this clock `by` into the future.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl ManualClock {
    /// Makes "now" this instant (time flows on from there).
    pub fn set(&self, now: Timestamp) {
        self.offset_ms.store(now.millis() - SystemClock.now().millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        SystemClock.now().plus(chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst)))
    }
}
