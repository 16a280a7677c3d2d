//! The store's error type, and the mapping of driver errors onto it.

use sqlx::error::{DatabaseError, ErrorKind};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the operation needs does not exist.
    #[error("not found")]
    NotFound,
    /// A unique, foreign-key or check constraint refused the write; the name is one of [`CONSTRAINTS`]
    /// (or `"foreign_key"` / `"check"` when the engine does not name it).
    #[error("constraint {0} refused the write")]
    Conflict(&'static str),
    /// The lobby's stored fencing token is newer than the write's: another node owns the lobby now.
    #[error("the lobby is owned by a newer node")]
    Fenced,
    /// The database could not be reached or did not answer in time: retry later, answer 503.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A migration could not be applied or reverted.
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database URL or options are unusable.
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// Anything else the driver reported.
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl StoreError {
    /// The store is closed or closing: nothing more is written (an `Unavailable`, as for a closed pool).
    pub fn closed() -> Self {
        StoreError::Unavailable(sqlx::Error::PoolClosed)
    }

    /// True when the failure is the database being unreachable rather than the request being wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Names of the unique constraints and indexes of the schema, identical on both backends.
pub const CONSTRAINTS: &[&str] = &[
    "users_pkey",
    "users_email_key",
    "users_tag_key",
    "accounts_pkey",
    "accounts_provider_account_key",
    "sessions_pkey",
    "sessions_token_hash_key",
    "verifications_pkey",
    "verifications_identifier_key",
    "two_factors_pkey",
    "friend_requests_pkey",
    "friend_requests_pair_key",
    "friend_requests_pending_pair_key",
    "friendships_pkey",
    "game_scores_pkey",
    "score_bests_pkey",
    "lobbies_pkey",
    "lobby_players_pkey",
    "lobby_invitations_pkey",
    "lobby_invitations_lobby_invitee_key",
    "game_results_pkey",
    "game_results_game_user_key",
    "bug_reports_pkey",
    "audit_log_pkey",
    "job_leases_pkey",
];

/// SQLite names the columns of a failed unique constraint, not the constraint: this maps them back.
const SQLITE_UNIQUE_COLUMNS: &[(&str, &str)] = &[
    ("users.id", "users_pkey"),
    ("users.email", "users_email_key"),
    ("users.tag", "users_tag_key"),
    ("accounts.id", "accounts_pkey"),
    ("accounts.provider_id, accounts.account_id", "accounts_provider_account_key"),
    ("sessions.id", "sessions_pkey"),
    ("sessions.token_hash", "sessions_token_hash_key"),
    ("verifications.id", "verifications_pkey"),
    ("verifications.identifier", "verifications_identifier_key"),
    ("two_factors.user_id", "two_factors_pkey"),
    ("friend_requests.id", "friend_requests_pkey"),
    ("friend_requests.sender_id, friend_requests.receiver_id", "friend_requests_pair_key"),
    ("friendships.user_id, friendships.friend_id", "friendships_pkey"),
    ("game_scores.id", "game_scores_pkey"),
    ("score_bests.regions_key, score_bests.period, score_bests.period_start, score_bests.user_id", "score_bests_pkey"),
    ("lobbies.id", "lobbies_pkey"),
    ("lobby_players.lobby_id, lobby_players.user_id", "lobby_players_pkey"),
    ("lobby_invitations.id", "lobby_invitations_pkey"),
    ("lobby_invitations.lobby_id, lobby_invitations.invitee_id", "lobby_invitations_lobby_invitee_key"),
    ("game_results.id", "game_results_pkey"),
    ("game_results.lobby_id, game_results.game_started_at, game_results.user_id", "game_results_game_user_key"),
    ("bug_reports.id", "bug_reports_pkey"),
    ("audit_log.id", "audit_log_pkey"),
    ("job_leases.name", "job_leases_pkey"),
];

/// The static name of a constraint, if it is one of ours.
fn known(name: &str) -> Option<&'static str> {
    CONSTRAINTS.iter().copied().find(|c| *c == name)
}

/// The constraint a database error names, on either engine.
fn constraint_of(err: &dyn DatabaseError) -> Option<&'static str> {
    if let Some(name) = err.constraint() {
        return known(name);
    }
    // SQLite: "UNIQUE constraint failed: users.email" or "... failed: index 'name'" (expression indexes).
    let detail = err.message().strip_prefix("UNIQUE constraint failed: ")?;
    if let Some(index) = detail.strip_prefix("index '").and_then(|d| d.strip_suffix('\'')) {
        return known(index);
    }
    SQLITE_UNIQUE_COLUMNS.iter().find(|(cols, _)| *cols == detail).map(|(_, name)| *name)
}

/// PostgreSQL SQLSTATE classes and codes that mean "the server is not there or not taking work".
fn pg_unavailable(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources
        || code.starts_with("57P") // operator intervention: admin shutdown, crash shutdown, cannot connect now
        || code == "40001" // serialization failure: retryable
        || code == "40P01" // deadlock detected: retryable
}

/// SQLite primary result codes for a database that stayed busy or locked past the busy timeout (5, 6), or
/// whose disk is full (13, `SQLITE_FULL`): the write can succeed later and the request was not wrong, as
/// PostgreSQL's `disk_full` (53100) says too.
fn sqlite_unavailable(code: &str) -> bool {
    matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6 | 13))
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err),
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                match db.kind() {
                    ErrorKind::UniqueViolation => match constraint_of(db.as_ref()) {
                        Some(name) => StoreError::Conflict(name),
                        None => StoreError::Other(err),
                    },
                    ErrorKind::ForeignKeyViolation => StoreError::Conflict("foreign_key"),
                    ErrorKind::CheckViolation | ErrorKind::NotNullViolation => StoreError::Conflict("check"),
                    _ if pg_unavailable(&code) || sqlite_unavailable(&code) => StoreError::Unavailable(err),
                    _ => StoreError::Other(err),
                }
            }
            _ => StoreError::Other(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sqlite_mapping_names_a_known_constraint() {
        for (_, name) in SQLITE_UNIQUE_COLUMNS {
            assert!(known(name).is_some(), "{name} missing from CONSTRAINTS");
        }
    }

    #[test]
    fn unavailable_codes() {
        assert!(pg_unavailable("08006"));
        assert!(pg_unavailable("57P01"));
        assert!(!pg_unavailable("23505"));
        assert!(sqlite_unavailable("5"));
        assert!(sqlite_unavailable("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_unavailable("13")); // SQLITE_FULL
        assert!(pg_unavailable("53100")); // disk_full
        assert!(!sqlite_unavailable("2067")); // SQLITE_CONSTRAINT_UNIQUE
    }
}
