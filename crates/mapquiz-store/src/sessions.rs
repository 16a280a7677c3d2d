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

/// The columns `session_at` reads, in its order.
macro_rules! session_columns {
    () => {
        "id, token_hash, user_id, expires_at, remember, ip_address, user_agent, created_at, updated_at"
    };
}
pub(crate) use session_columns;

/// Implements [`Sessions`] for `$store`, whose rows are `$row`: both engines run the same statements (a
/// macro, not generic code: see `pools.rs`). Expects the backend's `super::users::user_at`.
macro_rules! impl_sessions {
    ($store:ty, $row:ty) => {
        const _: () = {
            use $crate::db_time::{DbTime, time};
            use $crate::pools::Pools as _;
            use $crate::{Session, SessionSelector, SessionWithUser, Sessions, StoreError};
            use ::async_trait::async_trait;
            use ::mapquiz_domain::Timestamp;
            use ::sqlx::Row as _;
            use super::users::user_at;

            fn session_at(row: &$row) -> Result<Session, sqlx::Error> {
                Ok(Session {
                    id: row.try_get(0)?,
                    token_hash: row.try_get(1)?,
                    user_id: row.try_get(2)?,
                    expires_at: time(row, 3)?,
                    remember: row.try_get(4)?,
                    ip_address: row.try_get(5)?,
                    user_agent: row.try_get(6)?,
                    created_at: time(row, 7)?,
                    updated_at: time(row, 8)?,
                })
            }

            #[async_trait]
            impl Sessions for $store {
                async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
                    sqlx::query(concat!(
                        "INSERT INTO sessions (",
                        $crate::sessions::session_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ))
                    .bind(&session.id)
                    .bind(&session.token_hash)
                    .bind(&session.user_id)
                    .bind(DbTime(session.expires_at))
                    .bind(session.remember)
                    .bind(&session.ip_address)
                    .bind(&session.user_agent)
                    .bind(DbTime(session.created_at))
                    .bind(DbTime(session.updated_at))
                    .execute(self.writes())
                    .await?;
                    Ok(())
                }

                async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionWithUser>, StoreError> {
                    // Session columns first (0..9), then the user's in `user_at` order (9..19).
                    Ok(sqlx::query(
                        "SELECT s.id, s.token_hash, s.user_id, s.expires_at, s.remember, s.ip_address, s.user_agent, \
                                s.created_at, s.updated_at, \
                                u.id, u.name, u.email, u.email_verified, u.image, u.tag, u.is_online, u.last_seen, \
                                u.created_at, u.updated_at \
                           FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                    )
                    .bind(token_hash)
                    .try_map(|row: $row| Ok(SessionWithUser { session: session_at(&row)?, user: user_at(&row, 9)? }))
                    .fetch_optional(self.reads())
                    .await?)
                }

                async fn extend_session(&self, id: &str, expires_at: Timestamp, now: Timestamp) -> Result<(), StoreError> {
                    let done = sqlx::query("UPDATE sessions SET expires_at = $1, updated_at = $2 WHERE id = $3")
                        .bind(DbTime(expires_at))
                        .bind(DbTime(now))
                        .bind(id)
                        .execute(self.writes())
                        .await?;
                    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                }

                async fn sessions_of_user(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
                    Ok(sqlx::query(concat!(
                        "SELECT ",
                        $crate::sessions::session_columns!(),
                        " FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
                    ))
                    .bind(user_id)
                    .try_map(|row: $row| session_at(&row))
                    .fetch_all(self.reads())
                    .await?)
                }

                async fn delete_sessions(&self, selector: &SessionSelector) -> Result<Vec<String>, StoreError> {
                    let query = match selector {
                        SessionSelector::Id { user_id, id } => {
                            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 AND id = $2 RETURNING token_hash")
                                .bind(user_id)
                                .bind(id)
                        }
                        SessionSelector::TokenHash { user_id, token_hash } => {
                            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 AND token_hash = $2 RETURNING token_hash")
                                .bind(user_id)
                                .bind(token_hash)
                        }
                        SessionSelector::AllOfUser { user_id, except: None } => {
                            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash").bind(user_id)
                        }
                        SessionSelector::AllOfUser { user_id, except: Some(except) } => {
                            sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING token_hash")
                                .bind(user_id)
                                .bind(except)
                        }
                        SessionSelector::Token { token_hash } => {
                            sqlx::query_scalar("DELETE FROM sessions WHERE token_hash = $1 RETURNING token_hash").bind(token_hash)
                        }
                    };
                    Ok(query.fetch_all(self.writes()).await?)
                }

                async fn session_token_hashes(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
                    Ok(sqlx::query_scalar("SELECT token_hash FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC")
                        .bind(user_id)
                        .fetch_all(self.reads())
                        .await?)
                }

                async fn put_verification(
                    &self,
                    identifier: &str,
                    value: &str,
                    expires_at: Timestamp,
                    now: Timestamp,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO verifications (id, identifier, value, expires_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (identifier) DO UPDATE \
                            SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                    )
                    .bind(mapquiz_domain::new_id())
                    .bind(identifier)
                    .bind(value)
                    .bind(DbTime(expires_at))
                    .bind(DbTime(now))
                    .bind(DbTime(now))
                    .execute(self.writes())
                    .await?;
                    Ok(())
                }

                async fn take_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
                    // Deleting first makes the value single-use even under concurrent takes; an expired one goes too.
                    let taken: Option<(String, DbTime)> =
                        sqlx::query_as("DELETE FROM verifications WHERE identifier = $1 RETURNING value, expires_at")
                            .bind(identifier)
                            .fetch_optional(self.writes())
                            .await?;
                    Ok(taken.filter(|(_, expires_at)| expires_at.0 > now).map(|(value, _)| value))
                }

                async fn peek_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
                    Ok(sqlx::query_scalar("SELECT value FROM verifications WHERE identifier = $1 AND expires_at > $2")
                        .bind(identifier)
                        .bind(DbTime(now))
                        .fetch_optional(self.reads())
                        .await?)
                }

                async fn prune_expired(&self, now: Timestamp) -> Result<(u64, u64), StoreError> {
                    let mut tx = self.writes().begin().await?;
                    let sessions =
                        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(DbTime(now)).execute(&mut *tx).await?;
                    let values =
                        sqlx::query("DELETE FROM verifications WHERE expires_at <= $1").bind(DbTime(now)).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok((sessions.rows_affected(), values.rows_affected()))
                }
            }
        };
    };
}
pub(crate) use impl_sessions;
