//! The rows the store reads and writes, as the application sees them (backend-neutral).

use mapquiz_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// A player's account record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    /// Normalised (trimmed, lower-cased).
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// `None` only for users imported from before tags existed.
    pub tag: Option<String>,
    pub is_online: bool,
    pub last_seen: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The key users are ordered and searched by: the name, lower-cased. Computed in Rust on both backends so
/// that SQLite and PostgreSQL agree on every script.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A LIKE pattern matching strings that start with `prefix` literally: `%`, `_` and `\` are escaped with
/// `\`, so the query must say `ESCAPE '\'`.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A user to create; `name_key` (the lower-cased name) is derived by the store.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub tag: String,
    pub created_at: Timestamp,
}

/// How a user signs in: `credential` (email and password) or an identity provider such as `google`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub user_id: String,
    pub provider_id: String,
    /// The provider's subject; the user id for `credential`.
    pub account_id: String,
    /// Argon2id PHC string, `credential` accounts only.
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

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

/// One line of the audit trail. `details` never holds secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub occurred_at: Timestamp,
    /// What happened, e.g. `sign_in`, `sign_in_failed`, `password_changed`.
    pub action: String,
    pub user_id: Option<String>,
    pub target_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub details: Option<serde_json::Value>,
}

/// A page request over users, in (lower-cased name, id) order.
#[derive(Clone, Debug)]
pub struct UserSearch {
    /// The caller, never listed.
    pub exclude_id: String,
    /// Lower-cased prefix of the name, or upper-cased prefix of the tag: either matches. `None`: everyone.
    pub prefix: Option<String>,
    /// Start strictly after this (name_key, id) position.
    pub after: Option<(String, String)>,
    /// Rows to return, at most.
    pub limit: u32,
}

/// A solo game to store.
#[derive(Clone, Debug)]
pub struct NewScore {
    pub id: String,
    pub user_id: String,
    pub score: i32,
    pub total_questions: i32,
    /// As the client sent them (wire names, in order).
    pub selected_regions: Vec<String>,
    /// The leaderboard key: the distinct regions, sorted, joined by `|`.
    pub regions_key: String,
    /// `quiz` or `training`.
    pub game_mode: String,
    pub duration: Option<i32>,
    pub created_at: Timestamp,
    /// The leaderboard periods this game counts in (empty for training games): each board's best-per-player
    /// row is updated in the same transaction as the insert when this game beats it.
    pub boards: Vec<BoardPeriod>,
}

/// A stored solo game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    pub id: String,
    pub user_id: String,
    pub score: i32,
    pub total_questions: i32,
    pub selected_regions: Vec<String>,
    pub game_mode: String,
    pub duration: Option<i32>,
    pub created_at: Timestamp,
}

/// Aggregates over a user's solo games.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScoreStats {
    pub total_games: i64,
    pub best_score: i64,
    pub total_score: i64,
}

/// One period of one board: `period` is `day`, `week`, `month` or `all`; `period_start` the period's first
/// local day as `YYYY-MM-DD` (`""` for `all`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BoardPeriod {
    pub period: String,
    pub period_start: String,
}

/// A leaderboard: a set of regions in one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardKey {
    pub regions_key: String,
    pub period: BoardPeriod,
}

/// Whose bests a board ranks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardScope {
    /// Every player.
    Global,
    /// This user and their friends.
    Friends { user_id: String },
}

/// A player's best game on a board, with its rank. Ranking: higher share of correct answers first, then
/// shorter duration (no duration ranks after every duration), then earlier; entries with the same share and
/// duration share a rank (1, 1, 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardEntry {
    pub rank: i64,
    pub user: User,
    pub score: i32,
    pub total_questions: i32,
    pub duration: Option<i32>,
    pub achieved_at: Timestamp,
}

/// Where a friend request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
}

impl RequestStatus {
    /// The stored (and wire) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Accepted => "accepted",
            RequestStatus::Rejected => "rejected",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(RequestStatus::Pending),
            "accepted" => Some(RequestStatus::Accepted),
            "rejected" => Some(RequestStatus::Rejected),
            _ => None,
        }
    }
}

/// A friend request between two users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FriendRequest {
    pub id: String,
    pub sender_id: String,
    pub receiver_id: String,
    pub status: RequestStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An incoming pending request with the user who sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingRequest {
    pub request: FriendRequest,
    pub sender: User,
}

/// A friend of some user, and since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Friend {
    pub user: User,
    pub since: Timestamp,
}

/// What [`crate::Store::send_friend_request`] did (protocol §4.2, rules 4–7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Rule 4: nothing written.
    AlreadyFriends,
    /// Rule 5: the sender already has a pending request to the receiver; nothing written.
    AlreadyPending,
    /// Rule 6: the receiver's pending request to the sender (this id) was accepted and the friendship made.
    AutoAccepted { request_id: String },
    /// Rule 7: a new pending request (this id) was created, replacing earlier non-pending ones of the pair.
    Sent { request_id: String },
}

/// What [`crate::Store::respond_friend_request`] did (protocol §4.3, rules 2–4 and the outcome).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RespondOutcome {
    /// No request with that id.
    NotFound,
    /// The caller is not the request's receiver.
    Forbidden,
    /// The request is no longer pending (also when a concurrent answer won).
    AlreadyProcessed,
    /// Accepted: the friendship exists in both directions.
    Accepted { sender_id: String },
    /// Rejected.
    Rejected { sender_id: String },
}

/// Where a bug report is on its way to GitHub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// The issue exists.
    Delivered,
    /// Retried for the whole period without success; kept for operators.
    Abandoned,
}

impl DeliveryStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "abandoned" => Some(DeliveryStatus::Abandoned),
            _ => None,
        }
    }
}

/// A bug report to store, checked; delivery starts `pending`, due at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBugReport {
    pub id: String,
    pub reporter_id: Option<String>,
    pub title: String,
    pub description: String,
    pub steps_to_reproduce: Option<String>,
    pub location: Option<String>,
    /// A JSON object.
    pub environment: serde_json::Value,
    pub user_agent: Option<String>,
    pub url: Option<String>,
    pub created_at: Timestamp,
}

/// A stored bug report and its delivery state.
#[derive(Clone, Debug, PartialEq)]
pub struct BugReport {
    pub id: String,
    pub reporter_id: Option<String>,
    pub title: String,
    pub description: String,
    pub steps_to_reproduce: Option<String>,
    pub location: Option<String>,
    pub environment: serde_json::Value,
    pub user_agent: Option<String>,
    pub url: Option<String>,
    pub delivery_status: DeliveryStatus,
    /// Delivery attempts made (failed ones, plus the successful one).
    pub attempts: i32,
    /// When the next attempt is due; while a worker holds the report, the end of its lease.
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub issue_number: Option<i64>,
    pub issue_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How many bug reports are in each delivery state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BugReportCounts {
    pub pending: u64,
    pub delivered: u64,
    pub abandoned: u64,
}

impl BugReportCounts {
    /// Folds `(status, count)` rows (a `GROUP BY delivery_status`) into the counts.
    pub(crate) fn from_rows(rows: Vec<(String, i64)>) -> Self {
        let mut counts = BugReportCounts::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match DeliveryStatus::parse(&status) {
                Some(DeliveryStatus::Pending) => counts.pending = n,
                Some(DeliveryStatus::Delivered) => counts.delivered = n,
                Some(DeliveryStatus::Abandoned) => counts.abandoned = n,
                None => {}
            }
        }
        counts
    }
}

/// Longest `last_error` kept, in characters: a GitHub error page must not bloat the row.
pub const MAX_DELIVERY_ERROR_CHARS: usize = 1_000;
