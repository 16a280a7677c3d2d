//! The original implementation's database, as `mapquiz import-original --from` reads it: a fresh PostgreSQL
//! database per test with the Prisma schema of `original_schema.sql`, and one row type per table with what
//! the original's client wrote into it (camelCase columns, UTC in `TIMESTAMP(3)` without time zone, 32-character
//! alphanumeric ids for users, sessions and accounts, UUID v4 for the rest). The helpers insert rows exactly as
//! given: the dirt the import must cope with is chosen by the fixture ([`super::fixture`]), not cleaned here.

use chrono::{DateTime, Duration, NaiveDateTime};
use mapquiz_store::testing::TestDatabase;
use rand::RngExt as _;
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The original's schema after its ten migrations.
const SCHEMA: &str = include_str!("original_schema.sql");

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A user, session or account id, or a session token, as Better Auth drew them: 32 characters of `[A-Za-z0-9]`.
pub fn better_auth_id() -> String {
    let mut rng = rand::rng();
    (0..32).map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())])).collect()
}

/// A lower-case hyphenated UUID v4, as Prisma's `@default(uuid())` drew them in the client. (The workspace
/// builds `uuid` without its `v4` feature; the builder sets the version and variant bits itself.)
pub fn uuid_v4() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
}

/// Now in UTC, cut to the millisecond a `TIMESTAMP(3)` keeps, so values read back compare equal.
pub fn utc_now() -> NaiveDateTime {
    DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).expect("now is representable").naive_utc()
}

/// `at` as the protocol writes timestamps (`2025-08-11T15:46:50.000Z`): what the API must answer for it.
pub fn iso(at: NaiveDateTime) -> String {
    at.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A row of `"user"`.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub tag: Option<String>,
    pub is_online: bool,
    pub last_seen: NaiveDateTime,
}

impl User {
    /// A verified Google user created `age` before `now`, last changed and seen a day after, offline,
    /// without image or tag (the fixture sets what it needs).
    pub fn new(name: &str, email: &str, now: NaiveDateTime, age: Duration) -> User {
        let created_at = now - age;
        User {
            id: better_auth_id(),
            name: name.to_owned(),
            email: email.to_owned(),
            email_verified: true,
            image: None,
            created_at,
            updated_at: created_at + Duration::days(1),
            tag: None,
            is_online: false,
            last_seen: created_at + Duration::days(1),
        }
    }
}

/// A row of `"session"`: `token` is the raw token, as Better Auth kept it.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub expires_at: NaiveDateTime,
    pub token: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
}

impl Session {
    /// A browser session of `user` expiring at `expires_at`, opened (and last refreshed) 7 days before it.
    pub fn new(user: &User, expires_at: NaiveDateTime) -> Session {
        Session {
            id: better_auth_id(),
            expires_at,
            token: better_auth_id(),
            created_at: expires_at - Duration::days(7),
            updated_at: expires_at - Duration::days(7),
            ip_address: Some("203.0.113.7".to_owned()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".to_owned()),
            user_id: user.id.clone(),
        }
    }
}

/// A row of `"account"`.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<NaiveDateTime>,
    pub refresh_token_expires_at: Option<NaiveDateTime>,
    pub scope: Option<String>,
    pub password: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Account {
    /// What Better Auth stored for a Google sign-in of `user` with subject `sub`: the OAuth tokens (which
    /// this server has no use for) and no password.
    pub fn google(user: &User, sub: &str) -> Account {
        Account {
            id: better_auth_id(),
            account_id: sub.to_owned(),
            provider_id: "google".to_owned(),
            user_id: user.id.clone(),
            access_token: Some(format!("ya29.{}", better_auth_id())),
            refresh_token: Some(format!("1//{}", better_auth_id())),
            id_token: Some(format!("eyJhbGciOiJSUzI1NiJ9.{}.{}", better_auth_id(), better_auth_id())),
            access_token_expires_at: Some(user.created_at + Duration::hours(1)),
            refresh_token_expires_at: None,
            scope: Some("openid,email,profile".to_owned()),
            password: None,
            created_at: user.created_at,
            updated_at: user.created_at,
        }
    }
}

/// A 21-digit number, the form of Google's `sub`.
pub fn google_sub() -> String {
    let mut rng = rand::rng();
    let first = char::from(b'1' + rng.random_range(0..9u8));
    std::iter::once(first).chain((0..20).map(|_| char::from(b'0' + rng.random_range(0..10u8)))).collect()
}

/// A row of `"friend_request"`.
#[derive(Clone, Debug)]
pub struct FriendRequest {
    pub id: String,
    pub sender_id: String,
    pub receiver_id: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl FriendRequest {
    /// `sender` → `receiver` with `status`, sent at `created_at` and last changed at `updated_at`.
    pub fn new(
        sender: &User,
        receiver: &User,
        status: &str,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
    ) -> FriendRequest {
        FriendRequest {
            id: uuid_v4(),
            sender_id: sender.id.clone(),
            receiver_id: receiver.id.clone(),
            status: status.to_owned(),
            created_at,
            updated_at,
        }
    }
}

/// A row of `"friend"`: one direction of a friendship.
#[derive(Clone, Debug)]
pub struct Friend {
    pub id: String,
    pub user_id: String,
    pub friend_id: String,
    pub created_at: NaiveDateTime,
}

/// A row of `"game_score"`.
#[derive(Clone, Debug)]
pub struct GameScore {
    pub id: String,
    pub user_id: String,
    pub score: i32,
    pub total_questions: i32,
    pub selected_regions: Option<Vec<String>>,
    pub game_mode: String,
    pub duration: Option<i32>,
    pub created_at: NaiveDateTime,
}

impl GameScore {
    /// A quiz of `user`: `score` / `total` on `regions`, `duration` seconds, played at `at`.
    pub fn quiz(
        user: &User,
        score: i32,
        total: i32,
        regions: &[&str],
        duration: Option<i32>,
        at: NaiveDateTime,
    ) -> Self {
        GameScore {
            id: uuid_v4(),
            user_id: user.id.clone(),
            score,
            total_questions: total,
            selected_regions: Some(regions.iter().map(|r| (*r).to_owned()).collect()),
            game_mode: "quiz".to_owned(),
            duration,
            created_at: at,
        }
    }
}

/// A fresh database holding the original's schema, dropped with this value.
pub struct OriginalDb {
    pool: PgPool,
    /// Dropped (with the database, FORCE ending the pool's connections) after the pool.
    db: TestDatabase,
}

impl OriginalDb {
    /// A new database on the test server with the original's empty schema, or `None` when no PostgreSQL is
    /// configured (the source of an import is always PostgreSQL; under `CI` a missing server fails, as in
    /// [`mapquiz_store::testing::postgres_admin_url`]).
    pub async fn create() -> Option<OriginalDb> {
        let db = TestDatabase::postgres().await?;
        let pool = PgPoolOptions::new().max_connections(2).connect(db.url()).await.expect("connect to the original");
        let db = OriginalDb { pool, db };
        sqlx::raw_sql(sqlx::AssertSqlSafe(SCHEMA)).execute(&db.pool).await.expect("the original's schema applies");
        Some(db)
    }

    /// What `--from` is given.
    pub fn url(&self) -> &str {
        self.db.url()
    }

    pub async fn insert_user(&self, u: &User) {
        sqlx::query(
            r#"INSERT INTO "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "tag",
                                   "isOnline", "lastSeen")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.email)
        .bind(u.email_verified)
        .bind(&u.image)
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(&u.tag)
        .bind(u.is_online)
        .bind(u.last_seen)
        .execute(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("insert user {u:?}: {e}"));
    }

    pub async fn insert_session(&self, s: &Session) {
        sqlx::query(
            r#"INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent",
                                      "userId")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        )
        .bind(&s.id)
        .bind(s.expires_at)
        .bind(&s.token)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(&s.ip_address)
        .bind(&s.user_agent)
        .bind(&s.user_id)
        .execute(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("insert session {}: {e}", s.id));
    }

    pub async fn insert_account(&self, a: &Account) {
        sqlx::query(
            r#"INSERT INTO "account" ("id", "accountId", "providerId", "userId", "accessToken", "refreshToken",
                                      "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password",
                                      "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"#,
        )
        .bind(&a.id)
        .bind(&a.account_id)
        .bind(&a.provider_id)
        .bind(&a.user_id)
        .bind(&a.access_token)
        .bind(&a.refresh_token)
        .bind(&a.id_token)
        .bind(a.access_token_expires_at)
        .bind(a.refresh_token_expires_at)
        .bind(&a.scope)
        .bind(&a.password)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("insert account {a:?}: {e}"));
    }

    pub async fn insert_friend_request(&self, r: &FriendRequest) {
        sqlx::query(
            r#"INSERT INTO "friend_request" ("id", "senderId", "receiverId", "status", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(&r.id)
        .bind(&r.sender_id)
        .bind(&r.receiver_id)
        .bind(&r.status)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("insert friend request {r:?}: {e}"));
    }

    /// One `"friend"` row: `user` → `friend` only.
    pub async fn insert_friend_row(&self, user: &User, friend: &User, at: NaiveDateTime) -> Friend {
        let row = Friend { id: uuid_v4(), user_id: user.id.clone(), friend_id: friend.id.clone(), created_at: at };
        sqlx::query(r#"INSERT INTO "friend" ("id", "userId", "friendId", "createdAt") VALUES ($1, $2, $3, $4)"#)
            .bind(&row.id)
            .bind(&row.user_id)
            .bind(&row.friend_id)
            .bind(row.created_at)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("insert friend row {row:?}: {e}"));
        row
    }

    /// A whole friendship as the original wrote it: one row per direction, in one go.
    pub async fn insert_friendship(&self, a: &User, b: &User, at: NaiveDateTime) {
        self.insert_friend_row(a, b, at).await;
        self.insert_friend_row(b, a, at).await;
    }

    pub async fn insert_score(&self, s: &GameScore) {
        sqlx::query(
            r#"INSERT INTO "game_score" ("id", "userId", "score", "totalQuestions", "selectedRegions", "gameMode",
                                         "duration", "createdAt")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        )
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(s.score)
        .bind(s.total_questions)
        .bind(&s.selected_regions)
        .bind(&s.game_mode)
        .bind(s.duration)
        .bind(s.created_at)
        .execute(&self.pool)
        .await
        .unwrap_or_else(|e| panic!("insert score {s:?}: {e}"));
    }

    /// A pending e-mail verification value, as Better Auth left them behind (never imported).
    pub async fn insert_verification(&self, identifier: &str, at: NaiveDateTime) {
        sqlx::query(
            r#"INSERT INTO "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, $4, $5, $5)"#,
        )
        .bind(better_auth_id())
        .bind(identifier)
        .bind(better_auth_id())
        .bind(at + Duration::minutes(10))
        .bind(at)
        .execute(&self.pool)
        .await
        .expect("insert verification");
    }

    /// A lobby stuck in `playing` after the old process died, with its players' half-done progress: live
    /// state of a game nobody can finish (never imported).
    pub async fn insert_stuck_lobby(&self, host: &User, others: &[&User], at: NaiveDateTime) -> String {
        let lobby_id = uuid_v4();
        sqlx::query(
            r#"INSERT INTO "game_lobby" ("id", "name", "hostId", "status", "gameSettings", "gameState",
                                         "authorizedPlayers", "createdAt", "updatedAt")
               VALUES ($1, $2, $3, 'playing', $4::jsonb, $5::jsonb, $6, $7, $7)"#,
        )
        .bind(&lobby_id)
        .bind(format!("Partie de {}", host.name.trim()))
        .bind(&host.id)
        .bind(r#"{"selectedRegions":["Europe"],"gameMode":"quiz"}"#)
        .bind(r#"{"countries":["FRA","DEU","ESP"],"startTime":1754927210000}"#)
        .bind(others.iter().map(|u| u.id.clone()).collect::<Vec<_>>())
        .bind(at)
        .execute(&self.pool)
        .await
        .expect("insert game_lobby");
        for player in std::iter::once(host).chain(others.iter().copied()) {
            sqlx::query(
                r#"INSERT INTO "lobby_player" ("id", "lobbyId", "userId", "status", "score", "progress",
                                               "validatedCountries", "incorrectCountries", "joinedAt")
                   VALUES ($1, $2, $3, 'playing', 1, 33, $4, $5, $6)"#,
            )
            .bind(uuid_v4())
            .bind(&lobby_id)
            .bind(&player.id)
            .bind(vec!["FRA".to_owned()])
            .bind(Vec::<String>::new())
            .bind(at)
            .execute(&self.pool)
            .await
            .expect("insert lobby_player");
        }
        lobby_id
    }

    /// Renames `user` at `at`, as a profile edit on the original did (`updatedAt` moves).
    pub async fn rename_user(&self, user: &User, name: &str, at: NaiveDateTime) {
        let done = sqlx::query(r#"UPDATE "user" SET "name" = $1, "updatedAt" = $2 WHERE "id" = $3"#)
            .bind(name)
            .bind(at)
            .bind(&user.id)
            .execute(&self.pool)
            .await
            .expect("rename a user");
        assert_eq!(done.rows_affected(), 1, "{user:?} exists");
    }

    /// Sets a request's status at `at`, as answering it on the original did (`updatedAt` moves).
    pub async fn set_request_status(&self, request: &FriendRequest, status: &str, at: NaiveDateTime) {
        let done = sqlx::query(r#"UPDATE "friend_request" SET "status" = $1, "updatedAt" = $2 WHERE "id" = $3"#)
            .bind(status)
            .bind(at)
            .bind(&request.id)
            .execute(&self.pool)
            .await
            .expect("answer a friend request");
        assert_eq!(done.rows_affected(), 1, "{request:?} exists");
    }

    /// Rows in `table` (a quoted table name of the schema).
    pub async fn count(&self, table: &str) -> i64 {
        assert!(table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "a table name: {table}");
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"SELECT COUNT(*) FROM "{table}""#)))
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("count {table}: {e}"))
            .get(0)
    }
}
