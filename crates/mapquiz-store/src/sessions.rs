//! Sign-in sessions and the short-lived values of sign-in flows (OAuth state, pending second factor).

use crate::{StoreError, User};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// A sign-in session. The token itself is never stored, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// Lower-case hex SHA-256 of the token.
    pub token_hash: String,
    pub user_id: String,
    pub expires_at: Timestamp,
    /// `false` for `rememberMe:false` sessions, which are never extended.
    pub remember: bool,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A session with its user, as one lookup returns them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWithUser {
    pub session: Session,
    pub user: User,
}

/// Which of a user's sessions to delete.
#[derive(Clone, Debug)]
pub enum SessionSelector {
    /// The session with this id, if it belongs to the user.
    Id { user_id: String, id: String },
    /// The session with this token hash, if it belongs to the user.
    TokenHash { user_id: String, token_hash: String },
    /// Every session of the user except `except` (a session id), when given.
    AllOfUser { user_id: String, except: Option<String> },
    /// Whatever session has this token hash (sign-out, expiry).
    Token { token_hash: String },
}

/// Sessions and short-lived values.
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// The session with this token hash and its user, expired or not (the caller decides).
    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionWithUser>, StoreError>;

    /// Moves a session's expiry (sliding refresh); `NotFound` when it is gone.
    async fn extend_session(&self, id: &str, expires_at: Timestamp, now: Timestamp) -> Result<(), StoreError>;

    /// The user's sessions, newest first.
    async fn sessions_of_user(&self, user_id: &str) -> Result<Vec<Session>, StoreError>;

    /// Deletes the selected sessions; returns their token hashes (to evict them from caches).
    async fn delete_sessions(&self, selector: &SessionSelector) -> Result<Vec<String>, StoreError>;

    /// Token hashes of every session of the user (to evict cached copies after a profile change).
    async fn session_token_hashes(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    /// Stores `value` under `identifier` until `expires_at`, replacing any earlier value.
    async fn put_verification(
        &self,
        identifier: &str,
        value: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Deletes the value and returns it if it had not expired at `now`: single use, race-free.
    async fn take_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError>;

    /// Reads the value without consuming it, if it has not expired at `now`.
    async fn peek_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError>;

    /// Deletes expired sessions and expired short-lived values; returns how many of each.
    async fn prune_expired(&self, now: Timestamp) -> Result<(u64, u64), StoreError>;
}
