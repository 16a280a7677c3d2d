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

/// Implements [`Lockout`] for `$store`: both engines run the same statements (a macro, not generic code: see
/// `pools.rs`).
macro_rules! impl_lockout {
    ($store:ty) => {
        const _: () = {
            use $crate::db_time::DbTime;
            use $crate::pools::Pools as _;
            use $crate::{FailureScope, Lockout, StoreError};
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;

            #[async_trait]
            impl Lockout for $store {
                async fn record_auth_failure(&self, scope: FailureScope, subject: &str, at: Timestamp) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO auth_failures (scope, subject, attempted_at) VALUES ($1, $2, $3)")
                        .bind(scope.as_str())
                        .bind(subject)
                        .bind(DbTime(at))
                        .execute(self.writes())
                        .await?;
                    Ok(())
                }

                async fn recent_auth_failures(
                    &self,
                    scope: FailureScope,
                    subject: &str,
                    since: Timestamp,
                    limit: u32,
                ) -> Result<Vec<Timestamp>, StoreError> {
                    let times: Vec<DbTime> = sqlx::query_scalar(
                        "SELECT attempted_at FROM auth_failures WHERE scope = $1 AND subject = $2 AND attempted_at >= $3 \
                         ORDER BY attempted_at DESC LIMIT $4",
                    )
                    .bind(scope.as_str())
                    .bind(subject)
                    .bind(DbTime(since))
                    .bind(i64::from(limit))
                    .fetch_all(self.reads())
                    .await?;
                    Ok(times.into_iter().map(|t| t.0).collect())
                }

                async fn clear_auth_failures(&self, scope: FailureScope, subject: &str) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM auth_failures WHERE scope = $1 AND subject = $2")
                        .bind(scope.as_str())
                        .bind(subject)
                        .execute(self.writes())
                        .await?;
                    Ok(())
                }

                async fn prune_auth_failures(&self, before: Timestamp) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM auth_failures WHERE attempted_at < $1")
                        .bind(DbTime(before))
                        .execute(self.writes())
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use impl_lockout;
