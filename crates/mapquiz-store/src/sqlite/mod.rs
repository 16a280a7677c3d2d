//! The SQLite backend: one file, WAL, a single writer connection and a pool of read-only readers.

mod audit;
mod backup;
mod bug_reports;
mod friends;
mod lockout;
mod maintenance;
mod presence;
mod scores;
mod sessions;
mod two_factor;
mod users;

use crate::{
    Account, AuditEntry, Backend, BoardEntry, BoardKey, BoardScope, BugReport, BugReportCounts, ConnectOptions,
    FailureScope, Friend, FriendRequest, IncomingRequest, MigrationState, NewBugReport, NewScore, NewUser, PoolStats,
    RespondOutcome, Score, ScoreStats, SendOutcome, Session, SessionSelector, SessionWithUser, Store, StoreError,
    TwoFactor, User, UserSearch, migrations,
};
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::{Path, PathBuf};

pub(crate) use backup::{check_file, copy_file};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The newest migration this build knows.
pub(crate) fn newest_migration() -> i64 {
    MIGRATOR.migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The schema as canonical lines: each object's type, name and defining SQL.
const SCHEMA_SQL: &str = "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master \
     WHERE name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY 1";

/// SQLite store. Writes go through `writer` (one connection): SQLite allows one writer at a time, and
/// queueing in the pool avoids the SQLITE_BUSY upgrades that concurrent write transactions would hit.
pub(crate) struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The database file, for online copies on a connection of their own.
    path: PathBuf,
}

impl SqliteStore {
    pub(crate) async fn connect(path: &Path, options: &ConnectOptions) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Config(format!("cannot create folder {}: {e}", parent.display())))?;
        }
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.sqlite_busy_timeout)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(options.acquire_timeout)
            // 64 MiB of page cache (default 2 MiB): every score insert updates several B-trees of a table that
            // grows past 1 GB with a million games, and the writer re-reads their pages on each write.
            .connect_with(base.clone().pragma("cache_size", "-65536"))
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(base.pragma("query_only", "ON"))
            .await?;
        Ok(Self { writer, reader, path: path.to_owned() })
    }
}

/// A stored millisecond count as a timestamp; out of chrono's range is a decode error, not a panic.
fn millis(ms: i64, column: &str) -> Result<Timestamp, sqlx::Error> {
    Timestamp::from_millis(ms).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("{ms} ms is out of range").into(),
    })
}

/// The timestamp in column `index` (INTEGER milliseconds).
fn time(row: &SqliteRow, index: usize) -> Result<Timestamp, sqlx::Error> {
    millis(row.try_get(index)?, &index.to_string())
}

/// The nullable timestamp in column `index`.
fn time_opt(row: &SqliteRow, index: usize) -> Result<Option<Timestamp>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(index)?.map(|ms| millis(ms, &index.to_string())).transpose()
}

// Reads go to `reader`, writes (and reads that are part of a write) to `writer`: the reader pool is
// query_only and would refuse them.
#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn migrate_up(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::up(&MIGRATOR, &self.writer).await
    }

    async fn migrate_down(&self, steps: usize) -> Result<Vec<MigrationState>, StoreError> {
        migrations::down(&MIGRATOR, &self.writer, steps).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::status(&MIGRATOR, &self.writer).await
    }

    async fn schema(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SCHEMA_SQL).fetch_all(&self.reader).await?)
    }

    async fn create_user(&self, user: &NewUser, account: &Account) -> Result<User, StoreError> {
        users::create_user(&self.writer, user, account).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        users::user_by_id(&self.reader, id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        users::user_by_email(&self.reader, email).await
    }

    async fn user_by_tag(&self, tag: &str) -> Result<Option<User>, StoreError> {
        users::user_by_tag(&self.reader, tag).await
    }

    async fn assign_tag(&self, user_id: &str, tag: &str, now: Timestamp) -> Result<bool, StoreError> {
        users::assign_tag(&self.writer, user_id, tag, now).await
    }

    async fn update_profile(
        &self,
        user_id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        users::update_profile(&self.writer, user_id, name, image, now).await
    }

    async fn search_users(&self, search: &UserSearch) -> Result<Vec<User>, StoreError> {
        users::search_users(&self.reader, search).await
    }

    async fn account(&self, provider_id: &str, account_id: &str) -> Result<Option<Account>, StoreError> {
        users::account(&self.reader, provider_id, account_id).await
    }

    async fn account_of_user(&self, user_id: &str, provider_id: &str) -> Result<Option<Account>, StoreError> {
        users::account_of_user(&self.reader, user_id, provider_id).await
    }

    async fn link_account(&self, account: &Account) -> Result<(), StoreError> {
        users::link_account(&self.writer, account).await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError> {
        users::set_password_hash(&self.writer, user_id, hash, now).await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        sessions::create_session(&self.writer, session).await
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionWithUser>, StoreError> {
        sessions::session_by_token_hash(&self.reader, token_hash).await
    }

    async fn extend_session(&self, id: &str, expires_at: Timestamp, now: Timestamp) -> Result<(), StoreError> {
        sessions::extend_session(&self.writer, id, expires_at, now).await
    }

    async fn sessions_of_user(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        sessions::sessions_of_user(&self.reader, user_id).await
    }

    async fn delete_sessions(&self, selector: &SessionSelector) -> Result<Vec<String>, StoreError> {
        sessions::delete_sessions(&self.writer, selector).await
    }

    async fn session_token_hashes(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        sessions::session_token_hashes(&self.reader, user_id).await
    }

    async fn put_verification(
        &self,
        identifier: &str,
        value: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sessions::put_verification(&self.writer, identifier, value, expires_at, now).await
    }

    async fn take_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        sessions::take_verification(&self.writer, identifier, now).await
    }

    async fn peek_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        sessions::peek_verification(&self.reader, identifier, now).await
    }

    async fn record_auth_failure(&self, scope: FailureScope, subject: &str, at: Timestamp) -> Result<(), StoreError> {
        lockout::record_auth_failure(&self.writer, scope, subject, at).await
    }

    async fn recent_auth_failures(
        &self,
        scope: FailureScope,
        subject: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<Timestamp>, StoreError> {
        lockout::recent_auth_failures(&self.reader, scope, subject, since, limit).await
    }

    async fn clear_auth_failures(&self, scope: FailureScope, subject: &str) -> Result<(), StoreError> {
        lockout::clear_auth_failures(&self.writer, scope, subject).await
    }

    async fn prune_expired(&self, now: Timestamp) -> Result<(u64, u64), StoreError> {
        maintenance::prune_expired(&self.writer, now).await
    }

    async fn verify_email_and_drop_credentials(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        maintenance::verify_email_and_drop_credentials(&self.writer, user_id, now).await
    }

    async fn prune_auth_failures(&self, before: Timestamp) -> Result<u64, StoreError> {
        lockout::prune_auth_failures(&self.writer, before).await
    }

    async fn two_factor(&self, user_id: &str) -> Result<Option<TwoFactor>, StoreError> {
        two_factor::two_factor(&self.reader, user_id).await
    }

    async fn reset_two_factor(
        &self,
        user_id: &str,
        secret: &str,
        backup_codes: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        two_factor::reset_two_factor(&self.writer, user_id, secret, backup_codes, now).await
    }

    async fn enable_two_factor(&self, user_id: &str, now: Timestamp) -> Result<(), StoreError> {
        two_factor::enable_two_factor(&self.writer, user_id, now).await
    }

    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError> {
        two_factor::delete_two_factor(&self.writer, user_id).await
    }

    async fn use_totp_step(&self, user_id: &str, step: i64, now: Timestamp) -> Result<bool, StoreError> {
        two_factor::use_totp_step(&self.writer, user_id, step, now).await
    }

    async fn swap_backup_codes(
        &self,
        user_id: &str,
        expected: &[String],
        new: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        two_factor::swap_backup_codes(&self.writer, user_id, expected, new, now).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        audit::append_audit(&self.writer, entry).await
    }

    async fn audit_trail(&self, user_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        audit::audit_trail(&self.reader, user_id, limit).await
    }

    async fn insert_score(&self, score: &NewScore) -> Result<Score, StoreError> {
        scores::insert_score(&self.writer, score).await
    }

    async fn insert_scores(&self, scores: &[NewScore]) -> Result<(), StoreError> {
        scores::insert_scores(&self.writer, scores).await
    }

    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError> {
        scores::insert_users(&self.writer, users).await
    }

    async fn add_friendship(&self, user_id: &str, friend_id: &str, now: Timestamp) -> Result<(), StoreError> {
        friends::add_friendship(&self.writer, user_id, friend_id, now).await
    }

    async fn recent_scores(&self, user_id: &str, limit: u32) -> Result<Vec<Score>, StoreError> {
        scores::recent_scores(&self.reader, user_id, limit).await
    }

    async fn score_stats(&self, user_id: &str) -> Result<ScoreStats, StoreError> {
        scores::score_stats(&self.reader, user_id).await
    }

    async fn leaderboard_top(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        limit: u32,
    ) -> Result<Vec<BoardEntry>, StoreError> {
        scores::leaderboard_top(&self.reader, board, scope, limit).await
    }

    async fn leaderboard_around(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        user_id: &str,
        neighbours: u32,
    ) -> Result<Vec<BoardEntry>, StoreError> {
        scores::leaderboard_around(&self.reader, board, scope, user_id, neighbours).await
    }

    async fn send_friend_request(
        &self,
        sender_id: &str,
        receiver_id: &str,
        new_request_id: &str,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError> {
        friends::send_friend_request(&self.writer, sender_id, receiver_id, new_request_id, now).await
    }

    async fn respond_friend_request(
        &self,
        request_id: &str,
        caller_id: &str,
        accept: bool,
        now: Timestamp,
    ) -> Result<RespondOutcome, StoreError> {
        friends::respond_friend_request(&self.writer, request_id, caller_id, accept, now).await
    }

    async fn remove_friendship(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError> {
        friends::remove_friendship(&self.writer, user_id, friend_id).await
    }

    async fn friends(&self, user_id: &str, limit: u32) -> Result<Vec<Friend>, StoreError> {
        friends::friends(&self.reader, user_id, limit).await
    }

    async fn friend_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        friends::friend_ids(&self.reader, user_id).await
    }

    async fn incoming_friend_requests(&self, user_id: &str, limit: u32) -> Result<Vec<IncomingRequest>, StoreError> {
        friends::incoming_friend_requests(&self.reader, user_id, limit).await
    }

    async fn friend_request(&self, id: &str) -> Result<Option<FriendRequest>, StoreError> {
        friends::friend_request(&self.reader, id).await
    }

    async fn are_friends(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError> {
        friends::are_friends(&self.reader, user_id, friend_id).await
    }

    async fn set_online(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        presence::set_online(&self.writer, user_id, now).await
    }

    async fn set_offline(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        presence::set_offline(&self.writer, user_id, now).await
    }

    async fn reset_presence(&self, keep: &[String]) -> Result<u64, StoreError> {
        presence::reset_presence(&self.writer, keep).await
    }

    async fn mark_online(&self, user_ids: &[String], now: Timestamp) -> Result<Vec<String>, StoreError> {
        presence::mark_online(&self.writer, user_ids, now).await
    }

    async fn prune_rejected_friend_requests(&self, before: Timestamp) -> Result<u64, StoreError> {
        maintenance::prune_rejected_friend_requests(&self.writer, before).await
    }

    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        maintenance::prune_audit(&self.writer, before).await
    }

    async fn optimize(&self) -> Result<String, StoreError> {
        // On the writer: it may run ANALYZE, which writes the statistics tables.
        maintenance::optimize(&self.writer).await
    }

    async fn try_lease(&self, job: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
        maintenance::try_lease(&self.writer, job, holder, until, now).await
    }

    async fn finish_lease(&self, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError> {
        maintenance::finish_lease(&self.writer, job, holder, now).await
    }

    async fn last_run(&self, job: &str) -> Result<Option<Timestamp>, StoreError> {
        maintenance::last_run(&self.reader, job).await
    }

    async fn audit_since(
        &self,
        user_id: Option<&str>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit::audit_since(&self.reader, user_id, since, limit).await
    }

    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        // A read-only connection of its own: the copy is a read transaction, so the single writer is never
        // held up by it (and the readers are query_only, which refuses VACUUM INTO).
        backup::copy_file(&self.path, dest).await
    }

    async fn insert_bug_report(&self, report: &NewBugReport) -> Result<(), StoreError> {
        bug_reports::insert_bug_report(&self.writer, report).await
    }

    async fn claim_bug_reports(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BugReport>, StoreError> {
        bug_reports::claim_bug_reports(&self.writer, now, lease_until, limit).await
    }

    async fn bug_report_delivered(
        &self,
        id: &str,
        issue_number: i64,
        issue_url: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        bug_reports::bug_report_delivered(&self.writer, id, issue_number, issue_url, now).await
    }

    async fn bug_report_failed(
        &self,
        id: &str,
        claimed_until: Option<Timestamp>,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        bug_reports::bug_report_failed(&self.writer, id, claimed_until, error, retry_at, now).await
    }

    async fn bug_report_counts(&self) -> Result<BugReportCounts, StoreError> {
        bug_reports::bug_report_counts(&self.reader).await
    }

    async fn bug_report(&self, id: &str) -> Result<Option<BugReport>, StoreError> {
        bug_reports::bug_report(&self.reader, id).await
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.writer.size() + self.reader.size(),
            idle: (self.writer.num_idle() + self.reader.num_idle()) as u32,
        }
    }

    async fn close(&self) {
        self.reader.close().await;
        // Closing the last connection checkpoints the WAL into the main file.
        self.writer.close().await;
    }
}
