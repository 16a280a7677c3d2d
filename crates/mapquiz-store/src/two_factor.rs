//! Authenticator-app (TOTP) settings and backup codes.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;

/// A user's authenticator-app settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwoFactor {
    pub user_id: String,
    /// The TOTP secret, encrypted by the application (the store never sees it in clear).
    pub secret: String,
    /// Keyed hashes of the unused backup codes.
    pub backup_codes: Vec<String>,
    /// Active (sign-in asks for a code) once the first code has been verified.
    pub enabled: bool,
    /// The last accepted TOTP time step: a step is accepted at most once.
    pub last_used_step: Option<i64>,
}

/// Users' two-factor settings.
#[async_trait]
pub trait TwoFactors: Send + Sync {
    /// The user's two-factor settings.
    async fn two_factor(&self, user_id: &str) -> Result<Option<TwoFactor>, StoreError>;

    /// Creates or replaces the user's settings with a new secret and codes: not enabled, no step used.
    async fn reset_two_factor(
        &self,
        user_id: &str,
        secret: &str,
        backup_codes: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Turns two-factor on; `NotFound` when the user has no settings.
    async fn enable_two_factor(&self, user_id: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Removes the user's settings; `Ok(false)` when there were none.
    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError>;

    /// Records `step` as used if it is newer than the last used one: `Ok(false)` is a replay.
    async fn use_totp_step(&self, user_id: &str, step: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Replaces the backup codes if they are still `expected` (compare-and-set): `Ok(false)` when another
    /// request changed them first.
    async fn swap_backup_codes(
        &self,
        user_id: &str,
        expected: &[String],
        new: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}
