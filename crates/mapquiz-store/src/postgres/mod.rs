//! The PostgreSQL backend: one pool, `timestamptz` and `jsonb`, several server nodes may share it.

mod audit;
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
use chrono::{DateTime, Utc};
use mapquiz_domain::Timestamp;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use std::path::Path;
use std::str::FromStr;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The schema as canonical lines: columns, indexes and constraints of the current schema.
const SCHEMA_SQL: &str = "\
SELECT 'column ' || table_name || '.' || lpad(ordinal_position::text, 3, '0') || ' ' || column_name || ' ' \
       || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') \
  FROM information_schema.columns \
 WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
UNION ALL \
SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes \
 WHERE schemaname = current_schema() AND tablename <> '_sqlx_migrations' \
UNION ALL \
SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' || pg_get_constraintdef(oid) \
  FROM pg_constraint WHERE connamespace = current_schema()::regnamespace \
   AND conrelid <> coalesce(to_regclass('_sqlx_migrations'), 0::regclass) \
ORDER BY 1";

/// PostgreSQL store.
pub(crate) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub(crate) async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("unusable PostgreSQL URL: {e}")))?
            .application_name("mapquiz");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self { pool })
    }
}

/// The timestamp in column `index` (TIMESTAMPTZ, microseconds: truncated to the milliseconds written).
fn time(row: &PgRow, index: usize) -> Result<Timestamp, sqlx::Error> {
    Ok(Timestamp::from_datetime(row.try_get::<DateTime<Utc>, _>(index)?))
}

/// The nullable timestamp in column `index`.
fn time_opt(row: &PgRow, index: usize) -> Result<Option<Timestamp>, sqlx::Error> {
    Ok(row.try_get::<Option<DateTime<Utc>>, _>(index)?.map(Timestamp::from_datetime))
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate_up(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::up(&MIGRATOR, &self.pool).await
    }

    async fn migrate_down(&self, steps: usize) -> Result<Vec<MigrationState>, StoreError> {
        migrations::down(&MIGRATOR, &self.pool, steps).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        migrations::status(&MIGRATOR, &self.pool).await
    }

    async fn schema(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SCHEMA_SQL).fetch_all(&self.pool).await?)
    }

    async fn create_user(&self, user: &NewUser, account: &Account) -> Result<User, StoreError> {
        users::create_user(&self.pool, user, account).await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        users::user_by_id(&self.pool, id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        users::user_by_email(&self.pool, email).await
    }

    async fn user_by_tag(&self, tag: &str) -> Result<Option<User>, StoreError> {
        users::user_by_tag(&self.pool, tag).await
    }

    async fn assign_tag(&self, user_id: &str, tag: &str, now: Timestamp) -> Result<bool, StoreError> {
        users::assign_tag(&self.pool, user_id, tag, now).await
    }

    async fn update_profile(
        &self,
        user_id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        users::update_profile(&self.pool, user_id, name, image, now).await
    }

    async fn search_users(&self, search: &UserSearch) -> Result<Vec<User>, StoreError> {
        users::search_users(&self.pool, search).await
    }

    async fn account(&self, provider_id: &str, account_id: &str) -> Result<Option<Account>, StoreError> {
        users::account(&self.pool, provider_id, account_id).await
    }

    async fn account_of_user(&self, user_id: &str, provider_id: &str) -> Result<Option<Account>, StoreError> {
        users::account_of_user(&self.pool, user_id, provider_id).await
    }

    async fn link_account(&self, account: &Account) -> Result<(), StoreError> {
        users::link_account(&self.pool, account).await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError> {
        users::set_password_hash(&self.pool, user_id, hash, now).await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        sessions::create_session(&self.pool, session).await
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionWithUser>, StoreError> {
        sessions::session_by_token_hash(&self.pool, token_hash).await
    }

    async fn extend_session(&self, id: &str, expires_at: Timestamp, now: Timestamp) -> Result<(), StoreError> {
        sessions::extend_session(&self.pool, id, expires_at, now).await
    }

    async fn sessions_of_user(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        sessions::sessions_of_user(&self.pool, user_id).await
    }

    async fn delete_sessions(&self, selector: &SessionSelector) -> Result<Vec<String>, StoreError> {
        sessions::delete_sessions(&self.pool, selector).await
    }

    async fn session_token_hashes(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        sessions::session_token_hashes(&self.pool, user_id).await
    }

    async fn put_verification(
        &self,
        identifier: &str,
        value: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sessions::put_verification(&self.pool, identifier, value, expires_at, now).await
    }

    async fn take_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        sessions::take_verification(&self.pool, identifier, now).await
    }

    async fn peek_verification(&self, identifier: &str, now: Timestamp) -> Result<Option<String>, StoreError> {
        sessions::peek_verification(&self.pool, identifier, now).await
    }

    async fn record_auth_failure(&self, scope: FailureScope, subject: &str, at: Timestamp) -> Result<(), StoreError> {
        lockout::record_auth_failure(&self.pool, scope, subject, at).await
    }

    async fn recent_auth_failures(
        &self,
        scope: FailureScope,
        subject: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<Timestamp>, StoreError> {
        lockout::recent_auth_failures(&self.pool, scope, subject, since, limit).await
    }

    async fn clear_auth_failures(&self, scope: FailureScope, subject: &str) -> Result<(), StoreError> {
        lockout::clear_auth_failures(&self.pool, scope, subject).await
    }

    async fn prune_expired(&self, now: Timestamp) -> Result<(u64, u64), StoreError> {
        maintenance::prune_expired(&self.pool, now).await
    }

    async fn verify_email_and_drop_credentials(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        maintenance::verify_email_and_drop_credentials(&self.pool, user_id, now).await
    }

    async fn prune_auth_failures(&self, before: Timestamp) -> Result<u64, StoreError> {
        lockout::prune_auth_failures(&self.pool, before).await
    }

    async fn two_factor(&self, user_id: &str) -> Result<Option<TwoFactor>, StoreError> {
        two_factor::two_factor(&self.pool, user_id).await
    }

    async fn reset_two_factor(
        &self,
        user_id: &str,
        secret: &str,
        backup_codes: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        two_factor::reset_two_factor(&self.pool, user_id, secret, backup_codes, now).await
    }

    async fn enable_two_factor(&self, user_id: &str, now: Timestamp) -> Result<(), StoreError> {
        two_factor::enable_two_factor(&self.pool, user_id, now).await
    }

    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError> {
        two_factor::delete_two_factor(&self.pool, user_id).await
    }

    async fn use_totp_step(&self, user_id: &str, step: i64, now: Timestamp) -> Result<bool, StoreError> {
        two_factor::use_totp_step(&self.pool, user_id, step, now).await
    }

    async fn swap_backup_codes(
        &self,
        user_id: &str,
        expected: &[String],
        new: &[String],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        two_factor::swap_backup_codes(&self.pool, user_id, expected, new, now).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        audit::append_audit(&self.pool, entry).await
    }

    async fn audit_trail(&self, user_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        audit::audit_trail(&self.pool, user_id, limit).await
    }

    async fn insert_score(&self, score: &NewScore) -> Result<Score, StoreError> {
        scores::insert_score(&self.pool, score).await
    }

    async fn insert_scores(&self, scores: &[NewScore]) -> Result<(), StoreError> {
        scores::insert_scores(&self.pool, scores).await
    }

    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError> {
        scores::insert_users(&self.pool, users).await
    }

    async fn add_friendship(&self, user_id: &str, friend_id: &str, now: Timestamp) -> Result<(), StoreError> {
        friends::add_friendship(&self.pool, user_id, friend_id, now).await
    }

    async fn recent_scores(&self, user_id: &str, limit: u32) -> Result<Vec<Score>, StoreError> {
        scores::recent_scores(&self.pool, user_id, limit).await
    }

    async fn score_stats(&self, user_id: &str) -> Result<ScoreStats, StoreError> {
        scores::score_stats(&self.pool, user_id).await
    }

    async fn leaderboard_top(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        limit: u32,
    ) -> Result<Vec<BoardEntry>, StoreError> {
        scores::leaderboard_top(&self.pool, board, scope, limit).await
    }

    async fn leaderboard_around(
        &self,
        board: &BoardKey,
        scope: &BoardScope,
        user_id: &str,
        neighbours: u32,
    ) -> Result<Vec<BoardEntry>, StoreError> {
        scores::leaderboard_around(&self.pool, board, scope, user_id, neighbours).await
    }

    async fn send_friend_request(
        &self,
        sender_id: &str,
        receiver_id: &str,
        new_request_id: &str,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError> {
        friends::send_friend_request(&self.pool, sender_id, receiver_id, new_request_id, now).await
    }

    async fn respond_friend_request(
        &self,
        request_id: &str,
        caller_id: &str,
        accept: bool,
        now: Timestamp,
    ) -> Result<RespondOutcome, StoreError> {
        friends::respond_friend_request(&self.pool, request_id, caller_id, accept, now).await
    }

    async fn remove_friendship(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError> {
        friends::remove_friendship(&self.pool, user_id, friend_id).await
    }

    async fn friends(&self, user_id: &str, limit: u32) -> Result<Vec<Friend>, StoreError> {
        friends::friends(&self.pool, user_id, limit).await
    }

    async fn friend_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        friends::friend_ids(&self.pool, user_id).await
    }

    async fn incoming_friend_requests(&self, user_id: &str, limit: u32) -> Result<Vec<IncomingRequest>, StoreError> {
        friends::incoming_friend_requests(&self.pool, user_id, limit).await
    }

    async fn friend_request(&self, id: &str) -> Result<Option<FriendRequest>, StoreError> {
        friends::friend_request(&self.pool, id).await
    }

    async fn are_friends(&self, user_id: &str, friend_id: &str) -> Result<bool, StoreError> {
        friends::are_friends(&self.pool, user_id, friend_id).await
    }

    async fn set_online(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        presence::set_online(&self.pool, user_id, now).await
    }

    async fn set_offline(&self, user_id: &str, now: Timestamp) -> Result<bool, StoreError> {
        presence::set_offline(&self.pool, user_id, now).await
    }

    async fn reset_presence(&self, keep: &[String]) -> Result<u64, StoreError> {
        presence::reset_presence(&self.pool, keep).await
    }

    async fn mark_online(&self, user_ids: &[String], now: Timestamp) -> Result<Vec<String>, StoreError> {
        presence::mark_online(&self.pool, user_ids, now).await
    }

    async fn prune_rejected_friend_requests(&self, before: Timestamp) -> Result<u64, StoreError> {
        maintenance::prune_rejected_friend_requests(&self.pool, before).await
    }

    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        maintenance::prune_audit(&self.pool, before).await
    }

    async fn optimize(&self) -> Result<String, StoreError> {
        maintenance::optimize(&self.pool).await
    }

    async fn try_lease(&self, job: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
        maintenance::try_lease(&self.pool, job, holder, until, now).await
    }

    async fn finish_lease(&self, job: &str, holder: &str, now: Timestamp) -> Result<bool, StoreError> {
        maintenance::finish_lease(&self.pool, job, holder, now).await
    }

    async fn last_run(&self, job: &str) -> Result<Option<Timestamp>, StoreError> {
        maintenance::last_run(&self.pool, job).await
    }

    async fn audit_since(
        &self,
        user_id: Option<&str>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit::audit_since(&self.pool, user_id, since, limit).await
    }

    async fn backup_to(&self, _dest: &Path) -> Result<(), StoreError> {
        maintenance::backup_to()
    }

    async fn insert_bug_report(&self, report: &NewBugReport) -> Result<(), StoreError> {
        bug_reports::insert_bug_report(&self.pool, report).await
    }

    async fn claim_bug_reports(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BugReport>, StoreError> {
        bug_reports::claim_bug_reports(&self.pool, now, lease_until, limit).await
    }

    async fn bug_report_delivered(
        &self,
        id: &str,
        issue_number: i64,
        issue_url: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        bug_reports::bug_report_delivered(&self.pool, id, issue_number, issue_url, now).await
    }

    async fn bug_report_failed(
        &self,
        id: &str,
        claimed_until: Option<Timestamp>,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        bug_reports::bug_report_failed(&self.pool, id, claimed_until, error, retry_at, now).await
    }

    async fn bug_report_counts(&self) -> Result<BugReportCounts, StoreError> {
        bug_reports::bug_report_counts(&self.pool).await
    }

    async fn bug_report(&self, id: &str) -> Result<Option<BugReport>, StoreError> {
        bug_reports::bug_report(&self.pool, id).await
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats { size: self.pool.size(), idle: self.pool.num_idle() as u32 }
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
