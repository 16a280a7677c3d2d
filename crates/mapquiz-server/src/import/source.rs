//! The original server's PostgreSQL database, read-only: its tables (Prisma's names, camelCase columns, UTC
//! timestamps without time zone; see `original-schema.md`) as rows streamed a batch at a time.

use crate::cli::Refused;
use anyhow::Context as _;
use chrono::NaiveDateTime;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use mapquiz_domain::Timestamp;
use mapquiz_store::DatabaseUrl;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};
use std::str::FromStr as _;
use std::time::Duration;

/// How long connecting to the original may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A user row, with its rank among the users whose emails are equal once trimmed and lower-cased (1: the
/// first created).
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub tag: Option<String>,
    pub last_seen: Timestamp,
    pub email_rank: i64,
}

/// An `account` row (OAuth tokens left out: this server does not use them).
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A `session` row; `token` is the raw token.
#[derive(Clone)]
pub struct Session {
    pub id: String,
    pub expires_at: Timestamp,
    pub token: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
}

/// The `friend` rows of one pair of users (`user_a` < `user_b`): `rows` is 2 when both directions exist.
#[derive(Clone, Debug)]
pub struct FriendPair {
    pub user_a: String,
    pub user_b: String,
    pub created_at: Timestamp,
    pub rows: i64,
}

/// A `friend_request` row.
#[derive(Clone, Debug)]
pub struct Request {
    pub id: String,
    pub sender_id: String,
    pub receiver_id: String,
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A `game_score` row.
#[derive(Clone, Debug)]
pub struct Score {
    pub id: String,
    pub user_id: String,
    pub score: i32,
    pub total_questions: i32,
    pub selected_regions: Option<Vec<String>>,
    pub game_mode: String,
    pub duration: Option<i32>,
    pub created_at: Timestamp,
}

/// A row's identity, as the summary names the rows it skipped.
pub trait Keyed {
    fn key(&self) -> String;
}

/// Rows named by their own id.
macro_rules! keyed_by_id {
    ($($row:ty),*) => {$(
        impl Keyed for $row {
            fn key(&self) -> String {
                self.id.clone()
            }
        }
    )*};
}
keyed_by_id!(Account, Session, Request, Score);

/// A pair has no id of its own: both users name it.
impl Keyed for FriendPair {
    fn key(&self) -> String {
        format!("{}+{}", self.user_a, self.user_b)
    }
}

/// One table as read: its rows changed since the cut-off (`$1`, a `timestamp` or NULL for all), and how many.
struct Query {
    rows: &'static str,
    count: &'static str,
}

const USERS: Query = Query {
    rows: "SELECT id, name, email, \"emailVerified\", image, \"createdAt\", \"updatedAt\", tag, \"lastSeen\", email_rank \
             FROM (SELECT u.*, row_number() OVER (PARTITION BY lower(btrim(email)) ORDER BY \"createdAt\", id) \
                          AS email_rank \
                     FROM \"user\" u) AS ranked \
            WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1",
    count: "SELECT count(*) FROM \"user\" WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1",
};

// Oldest first, here and for sessions: of two rows claiming one Google subject (or token), the first wins.
const ACCOUNTS: Query = Query {
    rows: "SELECT id, \"accountId\", \"providerId\", \"userId\", \"createdAt\", \"updatedAt\" FROM account \
            WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1 ORDER BY \"createdAt\", id",
    count: "SELECT count(*) FROM account WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1",
};

const SESSIONS: Query = Query {
    rows: "SELECT id, \"expiresAt\", token, \"createdAt\", \"updatedAt\", \"ipAddress\", \"userAgent\", \"userId\" \
             FROM session WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1 ORDER BY \"createdAt\", id",
    count: "SELECT count(*) FROM session WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1",
};

// A pair is read when either of its rows is new, and counted over both, so that a direction added after
// the cut-off does not make its pair look one-sided.
const FRIEND_PAIRS: Query = Query {
    rows: "SELECT least(\"userId\", \"friendId\"), greatest(\"userId\", \"friendId\"), min(\"createdAt\"), count(*) \
             FROM friend GROUP BY 1, 2 HAVING $1::timestamp IS NULL OR max(\"createdAt\") >= $1",
    count: "SELECT count(*) FROM (SELECT 1 FROM friend GROUP BY least(\"userId\", \"friendId\"), \
                   greatest(\"userId\", \"friendId\") HAVING $1::timestamp IS NULL OR max(\"createdAt\") >= $1) AS p",
};

// Oldest first: of two requests pending both ways, the first sent is kept.
const REQUESTS: Query = Query {
    rows: "SELECT id, \"senderId\", \"receiverId\", status, \"createdAt\", \"updatedAt\" FROM friend_request \
            WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1 ORDER BY \"createdAt\", id",
    count: "SELECT count(*) FROM friend_request WHERE $1::timestamp IS NULL OR \"updatedAt\" >= $1",
};

const SCORES: Query = Query {
    rows: "SELECT id, \"userId\", score, \"totalQuestions\", \"selectedRegions\", \"gameMode\", duration, \
                  \"createdAt\" \
             FROM game_score WHERE $1::timestamp IS NULL OR \"createdAt\" >= $1",
    count: "SELECT count(*) FROM game_score WHERE $1::timestamp IS NULL OR \"createdAt\" >= $1",
};

/// The tables this server has no use for: live lobbies of the old process, and single-use verification
/// values (OAuth state), which expire within minutes.
const NOT_IMPORTED: [(&str, &str); 4] = [
    ("verification", "SELECT count(*) FROM verification"),
    ("game_lobby", "SELECT count(*) FROM game_lobby"),
    ("lobby_player", "SELECT count(*) FROM lobby_player"),
    ("multiplayer_game_result", "SELECT count(*) FROM multiplayer_game_result"),
];

/// Rows each table will give.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    pub users: u64,
    pub accounts: u64,
    pub sessions: u64,
    pub friend_pairs: u64,
    pub requests: u64,
    pub scores: u64,
}

/// The original database, opened read-only.
pub struct Original {
    pool: PgPool,
    since: Option<NaiveDateTime>,
    /// The URL without its password, for the audit trail.
    location: String,
}

impl Original {
    /// Connects to `url` (a PostgreSQL URL) with every transaction read-only: an import never writes to the
    /// original.
    pub async fn connect(url: &str, since: Option<Timestamp>) -> anyhow::Result<Original> {
        let refused = || Refused("--from must be the original server's PostgreSQL URL (postgres://…)".to_owned());
        let parsed = DatabaseUrl::parse(url).map_err(|_| refused())?;
        let DatabaseUrl::Postgres(raw) = &parsed else {
            return Err(refused().into());
        };
        let options = PgConnectOptions::from_str(raw)
            .map_err(|_| refused())?
            .application_name("mapquiz-import-original")
            .options([("default_transaction_read_only", "on")])
            .disable_statement_logging();
        let cannot = || format!("cannot connect to the original database {}", parsed.redacted());
        // One connection first: its error says why (refused, authentication, no such database), where the
        // pool's would only say that it timed out.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))
            .with_context(cannot)?
            .with_context(cannot)?;
        first.close().await.with_context(cannot)?;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .with_context(cannot)?;
        Ok(Original { pool, since: since.map(|t| t.datetime().naive_utc()), location: parsed.without_password() })
    }

    /// Rows each table will give (after `--since`), for progress; all counted before anything is imported, so
    /// that a database that is not the original's is refused before any write.
    pub async fn counts(&self) -> anyhow::Result<Counts> {
        Ok(Counts {
            users: self.count(&USERS).await?,
            accounts: self.count(&ACCOUNTS).await?,
            sessions: self.count(&SESSIONS).await?,
            friend_pairs: self.count(&FRIEND_PAIRS).await?,
            requests: self.count(&REQUESTS).await?,
            scores: self.count(&SCORES).await?,
        })
    }

    async fn count(&self, query: &Query) -> anyhow::Result<u64> {
        let count: i64 = sqlx::query_scalar(query.count)
            .bind(self.since)
            .fetch_one(&self.pool)
            .await
            .context("cannot count the original's rows: is this the original server's database?")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Rows of the tables that are not imported, by table.
    pub async fn not_imported(&self) -> anyhow::Result<Vec<(&'static str, u64)>> {
        let mut counts = Vec::new();
        for (table, sql) in NOT_IMPORTED {
            let count: i64 = sqlx::query_scalar(sql)
                .fetch_one(&self.pool)
                .await
                .with_context(|| format!("cannot count the original's {table} rows"))?;
            counts.push((table, u64::try_from(count).unwrap_or(0)));
        }
        Ok(counts)
    }

    pub fn users(&self, batch: usize) -> impl Stream<Item = anyhow::Result<Vec<User>>> + '_ {
        self.batches(&USERS, batch, |r| {
            Ok(User {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                email: r.try_get(2)?,
                email_verified: r.try_get(3)?,
                image: r.try_get(4)?,
                created_at: utc(r.try_get(5)?),
                updated_at: utc(r.try_get(6)?),
                tag: r.try_get(7)?,
                last_seen: utc(r.try_get(8)?),
                email_rank: r.try_get(9)?,
            })
        })
    }

    pub fn accounts(&self, batch: usize) -> impl Stream<Item = anyhow::Result<Vec<Account>>> + '_ {
        self.batches(&ACCOUNTS, batch, |r| {
            Ok(Account {
                id: r.try_get(0)?,
                account_id: r.try_get(1)?,
                provider_id: r.try_get(2)?,
                user_id: r.try_get(3)?,
                created_at: utc(r.try_get(4)?),
                updated_at: utc(r.try_get(5)?),
            })
        })
    }

    pub fn sessions(&self, batch: usize) -> impl Stream<Item = anyhow::Result<Vec<Session>>> + '_ {
        self.batches(&SESSIONS, batch, |r| {
            Ok(Session {
                id: r.try_get(0)?,
                expires_at: utc(r.try_get(1)?),
                token: r.try_get(2)?,
                created_at: utc(r.try_get(3)?),
                updated_at: utc(r.try_get(4)?),
                ip_address: r.try_get(5)?,
                user_agent: r.try_get(6)?,
                user_id: r.try_get(7)?,
            })
        })
    }

    pub fn friend_pairs(&self, batch: usize) -> impl Stream<Item = anyhow::Result<Vec<FriendPair>>> + '_ {
        self.batches(&FRIEND_PAIRS, batch, |r| {
            Ok(FriendPair {
                user_a: r.try_get(0)?,
                user_b: r.try_get(1)?,
                created_at: utc(r.try_get(2)?),
                rows: r.try_get(3)?,
            })
        })
    }

    pub fn requests(&self, batch: usize) -> impl Stream<Item = anyhow::Result<Vec<Request>>> + '_ {
        self.batches(&REQUESTS, batch, |r| {
            Ok(Request {
                id: r.try_get(0)?,
                sender_id: r.try_get(1)?,
                receiver_id: r.try_get(2)?,
                status: r.try_get(3)?,
                created_at: utc(r.try_get(4)?),
                updated_at: utc(r.try_get(5)?),
            })
        })
    }

    pub fn scores(&self, batch: usize) -> impl Stream<Item = anyhow::Result<Vec<Score>>> + '_ {
        self.batches(&SCORES, batch, |r| {
            Ok(Score {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                score: r.try_get(2)?,
                total_questions: r.try_get(3)?,
                selected_regions: r.try_get(4)?,
                game_mode: r.try_get(5)?,
                duration: r.try_get(6)?,
                created_at: utc(r.try_get(7)?),
            })
        })
    }

    /// The rows of `query`, `batch` at a time, as the server sends them: never the whole table in memory.
    fn batches<T: Send + 'static>(
        &self,
        query: &'static Query,
        batch: usize,
        parse: fn(&PgRow) -> Result<T, sqlx::Error>,
    ) -> impl Stream<Item = anyhow::Result<Vec<T>>> + '_ {
        sqlx::query(query.rows)
            .bind(self.since)
            .fetch(&self.pool)
            .map(move |row| row.and_then(|r| parse(&r)))
            .try_chunks(batch)
            .map_err(|e| anyhow::Error::new(e.1).context("cannot read the original database"))
    }

    /// Where the original is (its URL without the password).
    pub fn location(&self) -> &str {
        &self.location
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A `TIMESTAMP(3)` of the original: UTC without its zone.
fn utc(t: NaiveDateTime) -> Timestamp {
    Timestamp::from_datetime(t.and_utc())
}
