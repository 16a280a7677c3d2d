//! Lockout after repeated failures (protocol §1.4.6): per email, whether or not the account exists, per
//! client IP, and per user for second-factor codes. Counted in the store, so every node sees the same.

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

impl Lockouts {
    /// Counts failures in `store` with the configured limits.
    pub fn new(store: DynStore, clock: DynClock, config: Lockout) -> Self {
        Lockouts { store, clock, config }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.window).unwrap_or(chrono::Duration::minutes(15))
    }

    /// `Err(seconds)` while `subject` has `max` failures or more in the window: the wait until the oldest
    /// of the newest `max` leaves it.
    pub async fn check(&self, scope: FailureScope, subject: &str) -> Result<Result<(), u64>, StoreError> {
        let max = self.max(scope);
        let now = self.clock.now();
        let recent = self.store.recent_auth_failures(scope, subject, now.plus(-self.window()), max).await?;
        if recent.len() < max as usize {
            return Ok(Ok(()));
        }
        let until = recent.last().copied().unwrap_or(now).plus(self.window());
        Ok(Err(seconds_until(now, until)))
    }

    /// Records a failure; `true` when it is the one that locks the subject out.
    pub async fn fail(&self, scope: FailureScope, subject: &str) -> Result<bool, StoreError> {
        let max = self.max(scope);
        let now = self.clock.now();
        self.store.record_auth_failure(scope, subject, now).await?;
        let recent = self.store.recent_auth_failures(scope, subject, now.plus(-self.window()), max + 1).await?;
        Ok(recent.len() == max as usize)
    }

    /// Forgets the subject's failures.
    pub async fn clear(&self, scope: FailureScope, subject: &str) -> Result<(), StoreError> {
        self.store.clear_auth_failures(scope, subject).await
    }

    fn max(&self, scope: FailureScope) -> u32 {
        match scope {
            FailureScope::Email | FailureScope::TwoFactor => self.config.email_max,
            FailureScope::Ip => self.config.ip_max,
        }
    }
}

/// Whole seconds from `now` to `until`, rounded up, at least 1.
fn seconds_until(now: Timestamp, until: Timestamp) -> u64 {
    let ms = (until.millis() - now.millis()).max(1);
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}
