//! The failure counters behind sign-in lockouts.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;

/// The counters behind sign-in lockouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureScope {
    /// Failed password sign-ins for a normalised email.
    Email,
    /// Failed password sign-ins from a client IP.
    Ip,
    /// Wrong second-factor codes for a user id.
    TwoFactor,
}

impl FailureScope {
    /// The value stored in `auth_failures.scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureScope::Email => "email",
            FailureScope::Ip => "ip",
            FailureScope::TwoFactor => "two_factor",
        }
    }
}

/// Sign-in failure counters.
#[async_trait]
pub trait Lockout: Send + Sync {
    /// Records one failure.
    async fn record_auth_failure(&self, scope: FailureScope, subject: &str, at: Timestamp) -> Result<(), StoreError>;

    /// The times of the newest `limit` failures at or after `since`, newest first.
    async fn recent_auth_failures(
        &self,
        scope: FailureScope,
        subject: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<Timestamp>, StoreError>;

    /// Forgets the subject's failures (a successful sign-in).
    async fn clear_auth_failures(&self, scope: FailureScope, subject: &str) -> Result<(), StoreError>;

    /// Deletes failures older than `before` (housekeeping); returns how many.
    async fn prune_auth_failures(&self, before: Timestamp) -> Result<u64, StoreError>;
}
