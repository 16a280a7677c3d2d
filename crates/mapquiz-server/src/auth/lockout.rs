//! Lockout after repeated failures (protocol §1.4.6): per email (whether or not the account exists), per
//! client IP, and per user for second-factor codes. Counted in the store, so every node sees the same.
//!
//! An attempt on a per-email or per-user counter is recorded *before* the secret is checked and counted
//! with the others: of forty concurrent guesses, only the first five reach argon2. Reaching the limit sets
//! an explicit lock that lasts the whole window from that moment. The per-IP counter records only failures
//! (after the check), so that the successful sign-ins of many people behind one address never add up.

use crate::clock::DynClock;
use crate::config::Lockout;
use mapquiz_domain::Timestamp;
use mapquiz_store::{DynStore, FailureScope, StoreError};

/// The lockout service.
pub struct Lockouts {
    store: DynStore,
    clock: DynClock,
    config: Lockout,
}

/// Seconds until a lock ends.
pub type RetryAfter = u64;

impl Lockouts {
    /// Counts failures in `store` with the configured limits.
    pub fn new(store: DynStore, clock: DynClock, config: Lockout) -> Self {
        Lockouts { store, clock, config }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.window).unwrap_or(chrono::Duration::minutes(15))
    }

    fn max(&self, scope: FailureScope) -> u32 {
        match scope {
            FailureScope::Email | FailureScope::TwoFactor => self.config.email_max,
            FailureScope::Ip => self.config.ip_max,
        }
    }

    fn lock_key(scope: FailureScope, subject: &str) -> String {
        format!("lockout:{}:{subject}", scope.as_str())
    }

    /// `Some(seconds)` while a lock is in force.
    pub async fn locked(&self, scope: FailureScope, subject: &str) -> Result<Option<RetryAfter>, StoreError> {
        let now = self.clock.now();
        let until = self.store.peek_verification(&Self::lock_key(scope, subject), now).await?;
        Ok(until.and_then(|ms| ms.parse::<i64>().ok()).and_then(Timestamp::from_millis).map(|u| seconds_until(now, u)))
    }

    /// Before checking a secret: refuses while locked; records this attempt and refuses it (locking) when
    /// it is one too many, concurrent attempts included.
    pub async fn begin(&self, scope: FailureScope, subject: &str) -> Result<Result<(), RetryAfter>, StoreError> {
        if let Some(secs) = self.locked(scope, subject).await? {
            return Ok(Err(secs));
        }
        let now = self.clock.now();
        self.store.record_auth_failure(scope, subject, now).await?;
        let max = self.max(scope);
        let recent = self.store.recent_auth_failures(scope, subject, now.plus(-self.window()), max + 1).await?;
        if recent.len() > max as usize {
            return Ok(Err(self.lock(scope, subject, now).await?));
        }
        Ok(Ok(()))
    }

    /// After a wrong secret on a counter that [`Lockouts::begin`] already recorded: locks the subject once it
    /// has reached the limit. `true` when this failure set the lock.
    pub async fn failed(&self, scope: FailureScope, subject: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let max = self.max(scope);
        let recent = self.store.recent_auth_failures(scope, subject, now.plus(-self.window()), max).await?;
        if recent.len() < max as usize || self.locked(scope, subject).await?.is_some() {
            return Ok(false);
        }
        self.lock(scope, subject, now).await?;
        Ok(true)
    }

    /// Records a failure on a counter that only counts failures (per IP), then as [`Lockouts::failed`].
    pub async fn record_failure(&self, scope: FailureScope, subject: &str) -> Result<bool, StoreError> {
        self.store.record_auth_failure(scope, subject, self.clock.now()).await?;
        self.failed(scope, subject).await
    }

    /// After the right secret: forgets the subject's attempts.
    pub async fn succeeded(&self, scope: FailureScope, subject: &str) -> Result<(), StoreError> {
        self.store.clear_auth_failures(scope, subject).await
    }

    async fn lock(&self, scope: FailureScope, subject: &str, now: Timestamp) -> Result<RetryAfter, StoreError> {
        let until = now.plus(self.window());
        self.store.put_verification(&Self::lock_key(scope, subject), &until.millis().to_string(), until, now).await?;
        Ok(seconds_until(now, until))
    }
}

/// Whole seconds from `now` to `until`, rounded up, at least 1.
fn seconds_until(now: Timestamp, until: Timestamp) -> u64 {
    let ms = (until.millis() - now.millis()).max(1);
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}
