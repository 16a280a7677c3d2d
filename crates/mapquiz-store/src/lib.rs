//! MapQuiz persistence: one [`Store`] trait, implemented for SQLite (embedded, the default) and PostgreSQL.
//!
//! Each backend keeps its SQL next to its migrations (`migrations/sqlite`, `migrations/postgres`); the
//! behavioural test suite in `tests/store` runs against both.

mod board;
mod error;
mod migrations;
mod model;
mod options;
mod postgres;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{CONSTRAINTS, StoreError};
pub use migrations::MigrationState;
pub use model::{
    Account, AuditEntry, BoardEntry, BoardKey, BoardPeriod, BoardScope, BugReport, BugReportCounts, DeliveryStatus,
    FailureScope, Friend, FriendRequest, IncomingRequest, MAX_DELIVERY_ERROR_CHARS, NewBugReport, NewScore, NewUser,
    RequestStatus, RespondOutcome, Score, ScoreStats, SendOutcome, Session, SessionSelector, SessionWithUser,
    TwoFactor, User, UserSearch, name_key,
};
pub use options::{Backend, ConnectOptions, DatabaseUrl, DatabaseUrlError};

use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use std::path::Path;
use std::sync::Arc;

/// Connection counts of the store's pools, for health and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open connections not lent out.
    pub idle: u32,
}

/// Everything the application asks of its database, named after what it does.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which engine this store runs on.
    fn backend(&self) -> Backend;

    /// Runs a trivial query: the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies every pending migration; returns those applied now, oldest first.
    async fn migrate_up(&self) -> Result<Vec<MigrationState>, StoreError>;

    /// Reverts the `steps` most recent applied migrations; returns those reverted, newest first.
    async fn migrate_down(&self, steps: usize) -> Result<Vec<MigrationState>, StoreError>;

    /// Every migration this build knows, with when it was applied (if it was).
    async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError>;

    /// The schema (tables, columns, indexes, constraints) as sorted canonical lines, migrations table
    /// excluded: two databases with the same lines have the same schema.
    async fn schema(&self) -> Result<Vec<String>, StoreError>;

    // ---- users and accounts ----

    /// Creates a user and its first account in one transaction.
    ///
    /// `Conflict("users_email_key")` when the email is taken, `Conflict("users_tag_key")` when the tag is
    /// (draw another and retry), `Conflict("accounts_provider_account_key")` when the account exists.
    async fn create_user(&self, user: &NewUser, account: &Account) -> Result<User, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// The user with this normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// The user with this (upper-case) tag.
    async fn user_by_tag(&self, tag: &str) -> Result<Option<User>, StoreError>;

    /// Gives a tag to a user that has none; `Ok(false)` when the user already has one (or does not
    /// exist), `Conflict("users_tag_key")` when another user holds it.
    async fn assign_tag(&self, user_id: &str, tag: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Changes the name and/or the image (`Some(None)` clears it); `NotFound` for an unknown user.
    async fn update_profile(
        &self,
        user_id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: Timestamp,
    ) -> Result<User, StoreError>;

    /// A page of users in (lower-cased name, id) order, see [`UserSearch`].
    async fn search_users(&self, search: &UserSearch) -> Result<Vec<User>, StoreError>;

    /// The account `(provider_id, account_id)`.
    async fn account(&self, provider_id: &str, account_id: &str) -> Result<Option<Account>, StoreError>;

    /// The user's account with this provider (`credential` holds the password).
    async fn account_of_user(&self, user_id: &str, provider_id: &str) -> Result<Option<Account>, StoreError>;

    /// Adds an account to an existing user (Google linked by verified email).
    async fn link_account(&self, account: &Account) -> Result<(), StoreError>;

    /// Replaces the password hash of the user's `credential` account; `NotFound` when it has none.
    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError>;

    // ---- sessions ----

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

    // ---- short-lived values (OAuth state, pending second factor) ----

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

    // ---- lockout counters ----

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

    /// Deletes expired sessions and expired short-lived values; returns how many of each.
    async fn prune_expired(&self, now: Timestamp) -> Result<(u64, u64), StoreError>;

    /// Before an identity provider that vouches for the email takes over an account whose email was never
    /// verified: in one transaction, removes its password, deletes its sessions (returning their token
    /// hashes) and marks the email verified. Whoever registered the address first keeps no way in.
    async fn verify_email_and_drop_credentials(&self, user_id: &str, now: Timestamp)
    -> Result<Vec<String>, StoreError>;

    /// Deletes failures older than `before` (housekeeping); returns how many.
    async fn prune_auth_failures(&self, before: Timestamp) -> Result<u64, StoreError>;

    // ---- two-factor ----

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

    // ---- audit ----

    /// Appends one line to the audit trail.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest `limit` audit lines, optionally only those naming `user_id`, newest first.
    async fn audit_trail(&self, user_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    // ---- scores and leaderboards ----

    /// Stores a solo game and, in the same transaction, makes it the player's best on each of
    /// `score.boards` where it beats the current best (see [`BoardEntry`] for the order).
    async fn insert_score(&self, score: &NewScore) -> Result<Score, StoreError>;

    /// Stores many games at once (demo data, imports), bests maintained as by [`Store::insert_score`]; one
    /// transaction for the whole slice.
    async fn insert_scores(&self, scores: &[NewScore]) -> Result<(), StoreError>;

    /// Creates many users at once (demo data), without accounts; one transaction for the whole slice.
    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError>;

    /// Adds a friendship in both directions (idempotent).
    async fn add_friendship(&self, user_id: &str, friend_id: &str, now: Timestamp) -> Result<(), StoreError>;

    /// The user's newest `limit` games, newest first (by created_at, then insertion order).
    async fn recent_scores(&self, user_id: &str, limit: u32) -> Result<Vec<Score>, StoreError>;

    /// Aggregates over all the user's games.
    async fn score_stats(&self, user_id: &str) -> Result<ScoreStats, StoreError>;

    /// The first `limit` entries of a board.
    async fn leaderboard_top(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        limit: u32,
    ) -> Result<Vec<BoardEntry>, StoreError>;

    /// The user's entry with up to `neighbours` entries on each side, in board order; empty when the user
    /// has no entry on the board.
    async fn leaderboard_around(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        user_id: &str,
        neighbours: u32,
    ) -> Result<Vec<BoardEntry>, StoreError>;

    // ---- friends ----

    /// Applies protocol §4.2 rules 4–7 for `sender_id` → `receiver_id` (two distinct users) in one
    /// transaction: already friends, already pending, auto-accept of the receiver's pending request (status
    /// and both friendship rows together), or a new pending request `new_request_id` replacing the pair's
    /// earlier non-pending requests. Race-free: a write that loses a race to a concurrent one (unique
    /// constraint, or a request answered meanwhile) is re-evaluated, so 200 identical concurrent calls leave
    /// one pending request and two users asking each other at once end up friends exactly once.
    async fn send_friend_request(
        &self,
        sender_id: &str,
        receiver_id: &str,
        new_request_id: &str,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError>;

    /// Applies protocol §4.3 rules 2–4 and the answer in one transaction: accepting sets the status and
    /// writes both friendship rows (idempotent when they exist); rejecting sets the status. Only one of
    /// several concurrent answers wins; the others get `AlreadyProcessed`.
    async fn respond_friend_request(
        &self,
        request_id: &str,
        caller_id: &str,
        accept: bool,
        now: Timestamp,
    ) -> Result<RespondOutcome, StoreError>;

    /// Deletes the friendship in both directions; `Ok(true)` when there was one.
    async fn remove_friendship(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError>;

    /// The user's friends, newest friendship first (then by friend id), at most `limit`.
    async fn friends(&self, user_id: &str, limit: u32) -> Result<Vec<Friend>, StoreError>;

    /// The ids of the user's friends (presence fan-out), unordered.
    async fn friend_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    /// The pending requests the user received, newest first (then by id), at most `limit`.
    async fn incoming_friend_requests(&self, user_id: &str, limit: u32) -> Result<Vec<IncomingRequest>, StoreError>;

    /// The friend request with this id.
    async fn friend_request(&self, id: &str) -> Result<Option<FriendRequest>, StoreError>;

    /// Whether the two users are friends.
    async fn are_friends(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError>;

    // ---- presence ----

    /// Marks the user online with `last_seen = now` if the stored flag is off; `Ok(true)` when it changed.
    async fn set_online(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Marks the user offline with `last_seen = now` if the stored flag is on; `Ok(true)` when it changed.
    async fn set_offline(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Start-up reset: turns the flag off for every online user not in `keep` (users a live node holds),
    /// `last_seen` unchanged; returns how many changed.
    async fn reset_presence(&self, keep: &[String]) -> Result<u64, StoreError>;

    /// Repair: marks online (with `last_seen = now`) those of `user_ids` whose flag is off; returns them.
    async fn mark_online(&self, user_ids: &[String], now: Timestamp) -> Result<Vec<String>, StoreError>;

    // ---- maintenance ----

    /// Deletes rejected friend requests last changed before `before`; returns how many.
    async fn prune_rejected_friend_requests(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Deletes audit lines that occurred before `before` (retention); returns how many.
    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Refreshes the query planner's statistics (`ANALYZE`, `PRAGMA optimize`); returns what ran.
    async fn optimize(&self) -> Result<String, StoreError>;

    /// Takes the lease on `job` for `holder` until `until`, in one atomic statement, if it is free, expired at
    /// `now`, or already `holder`'s; `Ok(true)` when `holder` now holds it.
    async fn try_lease(&self, job: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool, StoreError>;

    /// Releases `holder`'s lease on `job` and records `now` as the job's last run; `Ok(false)` when the lease
    /// was no longer `holder`'s (it expired and another node took it), nothing changed then.
    async fn finish_lease(&self, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// When `job` last finished, on any node sharing the database.
    async fn last_run(&self, job: &str) -> Result<Option<Timestamp>, StoreError>;

    /// The newest `limit` audit lines that occurred at or after `since`, optionally only those naming
    /// `user_id`, newest first.
    async fn audit_since(
        &self,
        user_id: Option<&str>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Writes a consistent copy of the whole database to the new file `dest` while the store stays in use
    /// (SQLite `VACUUM INTO`); `StoreError::Config` on PostgreSQL, which is backed up with `pg_dump`.
    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError>;

    // ---- bug reports ----

    /// Stores a new report, `pending` and due at once.
    async fn insert_bug_report(&self, report: &NewBugReport) -> Result<(), StoreError>;

    /// Claims up to `limit` pending reports due at `now` (oldest first) for one delivery attempt: in one
    /// atomic statement, their `next_attempt_at` moves to `lease_until`, so no other worker (on this node
    /// or another sharing the database) picks them until the lease ends. A worker that dies mid-delivery
    /// thus only delays the report to `lease_until`.
    async fn claim_bug_reports(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BugReport>, StoreError>;

    /// Records a successful delivery (attempts + 1, issue number and URL, no next attempt); `Ok(false)`
    /// when the report is unknown or no longer pending.
    async fn bug_report_delivered(
        &self,
        id: &str,
        issue_number: i64,
        issue_url: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records a failed attempt (attempts + 1, `error` cut to [`MAX_DELIVERY_ERROR_CHARS`]): pending again
    /// at `retry_at`, or `abandoned` when it is `None`. With `claimed_until`, only while the report's lease
    /// is still that one (a worker that stalled past its lease must not reschedule another's attempt).
    /// `Ok(false)` when the report is unknown, no longer pending, or leased to someone else.
    async fn bug_report_failed(
        &self,
        id: &str,
        claimed_until: Option<Timestamp>,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// How many reports are in each delivery state.
    async fn bug_report_counts(&self) -> Result<BugReportCounts, StoreError>;

    /// The report with this id.
    async fn bug_report(&self, id: &str) -> Result<Option<BugReport>, StoreError>;

    /// Connection counts, summed over the store's pools.
    fn pool_stats(&self) -> PoolStats;

    /// Waits for lent connections to come back and closes every pool (SQLite checkpoints its WAL).
    async fn close(&self);
}

/// The store as the application holds it.
pub type DynStore = Arc<dyn Store>;

/// Opens the database `options.url` names, creating a SQLite file (and its folder) when missing.
///
/// Migrations are not run: call [`Store::migrate_up`].
pub async fn connect(options: &ConnectOptions) -> Result<DynStore, StoreError> {
    Ok(match &options.url {
        DatabaseUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::connect(path, options).await?),
        DatabaseUrl::Postgres(url) => Arc::new(postgres::PgStore::connect(url, options).await?),
    })
}

/// Checks, without changing it, that `path` is a MapQuiz SQLite database (its pages pass `quick_check` and it
/// has the migrations table); returns the newest migration applied to it.
pub async fn check_sqlite_file(path: &Path) -> Result<i64, StoreError> {
    sqlite::check_file(path).await
}

/// The newest SQLite migration this build knows (a file with a newer one comes from a newer release).
pub fn newest_sqlite_migration() -> i64 {
    sqlite::newest_migration()
}

/// Writes a consistent copy of the SQLite database `source` (its WAL included) to the new file `dest`.
pub async fn copy_sqlite_file(source: &Path, dest: &Path) -> Result<(), StoreError> {
    sqlite::copy_file(source, dest).await
}
