//! Helpers for the accounts and sessions suites (auth_email, sessions, users): signing up and in with
//! chosen credentials, computing the signed cookie value the protocol specifies (§1.1.5), reading
//! `Set-Cookie` attributes, and the few raw database reads and writes the protocol offers no HTTP way for.

use crate::support::{PASSWORD, TEST_SECRET, TestApp, TestUser, is_timestamp, json, session_cookie, set_cookies};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use mapquiz_server::clock::Clock as _;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::BTreeSet;

/// The user agent every request of these suites that cares about it sends.
pub const UA: &str = "MapQuizBlackBox/1.0 (auth tests)";

/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// An app on the chosen backend whose auth rate limit is out of the way (suites that sign many users up
/// would otherwise hit the 30 / 10 s default, which the rate-limit tests check on their own).
pub async fn roomy_app(postgres: bool) -> Option<TestApp> {
    // The race tests also fire hundreds of identical friend requests from one user at once.
    TestApp::spawn_with(postgres, |f| {
        f.merge(("rate_limit_auth_max", 10_000)).merge(("rate_limit_friend_requests_max", 10_000))
    })
    .await
}

/// [`roomy_app`] on SQLite.
pub async fn roomy() -> TestApp {
    roomy_app(false).await.expect("SQLite is always available")
}

/// A fresh, unique, lower-case email address.
pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::now_v7().simple())
}

/// `encodeURIComponent(s)`: everything but `A–Z a–z 0–9 - _ . ! ~ * ' ( )` is percent-encoded (UTF-8).
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard Base64 (with padding) of HMAC-SHA256(key = `secret`, message = `token`): 44 characters.
pub fn signature_with(secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(token.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `token.signature`, not encoded, signed with the test secret.
pub fn signed_token(token: &str) -> String {
    format!("{token}.{}", signature_with(TEST_SECRET, token))
}

/// The cookie value the protocol prescribes: `encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token)))`.
pub fn expected_cookie_value(token: &str) -> String {
    encode_uri_component(&signed_token(token))
}

/// `better-auth.session_token=<expected value>`, ready for a `Cookie` header.
pub fn cookie_for(token: &str) -> String {
    format!("better-auth.session_token={}", expected_cookie_value(token))
}

/// A `Set-Cookie` header split into its `name=value` pair and its attributes (trimmed, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub attributes: Vec<String>,
}

impl SetCookie {
    pub fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts.next().unwrap().split_once('=').expect("name=value");
        SetCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            attributes: parts.filter(|p| !p.is_empty()).map(str::to_owned).collect(),
        }
    }

    /// The attributes as a set, for order-insensitive exact comparison.
    pub fn attribute_set(&self) -> BTreeSet<String> {
        self.attributes.iter().cloned().collect()
    }
}

/// Every `Set-Cookie` of the response, parsed.
pub fn parsed_cookies(res: &reqwest::Response) -> Vec<SetCookie> {
    set_cookies(res).iter().map(|c| SetCookie::parse(c)).collect()
}

/// Asserts `cookies` are exactly the three clearing cookies of §1.4.1 (names prefixed with `prefix`), each
/// `<name>=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax` (plus `Secure` in secure mode).
pub fn assert_cleared(cookies: &[SetCookie], prefix: &str, secure: bool) {
    let mut expected_attrs: BTreeSet<String> =
        ["Max-Age=0", "Path=/", "HttpOnly", "SameSite=Lax"].into_iter().map(str::to_owned).collect();
    if secure {
        expected_attrs.insert("Secure".to_owned());
    }
    let names: BTreeSet<String> = cookies.iter().map(|c| c.name.clone()).collect();
    let expected_names: BTreeSet<String> = ["session_token", "session_data", "dont_remember"]
        .into_iter()
        .map(|n| format!("{prefix}better-auth.{n}"))
        .collect();
    assert_eq!(names, expected_names, "the three cookies are cleared: {cookies:?}");
    for c in cookies {
        assert_eq!(c.value, "", "a cleared cookie has an empty value: {c:?}");
        assert_eq!(c.attribute_set(), expected_attrs, "clearing attributes of {}: {c:?}", c.name);
    }
}

/// The session cookie (non-empty value) the response sets, parsed, if any.
pub fn session_set_cookie(res: &reqwest::Response) -> Option<SetCookie> {
    parsed_cookies(res).into_iter().find(|c| c.name.ends_with("better-auth.session_token") && !c.value.is_empty())
}

/// POST `sign-up/email` with the given fields and the test user agent.
pub async fn sign_up_raw(app: &TestApp, body: &Value) -> reqwest::Response {
    crate::support::logs::remember_in(body);
    app.client
        .post(app.url("/api/auth/sign-up/email"))
        .header("user-agent", UA)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// POST `sign-in/email` with `{email, password}` and the test user agent.
pub async fn sign_in_raw(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    sign_in_body(app, &json!({"email": email, "password": password})).await
}

/// POST `sign-in/email` with any body and the test user agent.
pub async fn sign_in_body(app: &TestApp, body: &Value) -> reqwest::Response {
    crate::support::logs::remember_in(body);
    app.client
        .post(app.url("/api/auth/sign-in/email"))
        .header("user-agent", UA)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// Signs `user` in again (a second session); panics unless it succeeds. Returns the new credentials.
pub async fn sign_in_again(app: &TestApp, user: &TestUser) -> TestUser {
    let res = sign_in_raw(app, &user.email, PASSWORD).await;
    let cookie = session_cookie(&res).expect("sign-in sets the session cookie");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "sign-in failed: {body}");
    TestUser { token: body["token"].as_str().unwrap().to_owned(), cookie, ..user.clone() }
}

/// Signs up `name` with `email` and `password`; panics unless it succeeds.
pub async fn sign_up_as(app: &TestApp, name: &str, email: &str, password: &str) -> TestUser {
    let res = sign_up_raw(app, &json!({"name": name, "email": email, "password": password})).await;
    TestUser::signed_up(name, email.to_lowercase(), res).await
}

/// GET `get-session` with a `Cookie` header (or none).
pub async fn get_session_with_cookie(app: &TestApp, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url("/api/auth/get-session")).header("user-agent", UA);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("request sent")
}

/// GET `path` with an `Authorization` header.
pub async fn get_with_auth(app: &TestApp, path: &str, authorization: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header("authorization", authorization).send().await.expect("request sent")
}

/// The get-session body for `cookie`.
pub async fn session_of(app: &TestApp, cookie: &str) -> Value {
    let (status, body) = json(get_session_with_cookie(app, Some(cookie)).await).await;
    assert_eq!(status, 200, "get-session always answers 200: {body}");
    body
}

/// Milliseconds since the epoch of a protocol timestamp (panics unless it is one).
pub fn ts_millis(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp string: {v}"));
    assert!(is_timestamp(s), "not in the protocol's timestamp form: {s}");
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

/// The server clock's "now", in epoch milliseconds.
pub fn now_ms(app: &TestApp) -> i64 {
    app.clock.now().millis()
}

/// The keys of a JSON object, as a set.
pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

/// A set of strings, for key comparisons.
pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Whether `tag` is 8 characters of the tag alphabet (§4.1).
pub fn is_tag(tag: &str) -> bool {
    tag.len() == 8 && tag.bytes().all(|b| b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(&b))
}

/// Whether any object anywhere in `v` has the key `key`.
pub fn has_key_anywhere(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|x| has_key_anywhere(x, key)),
        Value::Array(a) => a.iter().any(|x| has_key_anywhere(x, key)),
        _ => false,
    }
}

/// Asserts a Better Auth error body `{code, message}` exactly.
pub fn assert_auth_error(status: u16, body: &Value, expected_status: u16, code: &str, message: &str) {
    assert_eq!(
        (status, body),
        (expected_status, &json!({"code": code, "message": message})),
        "expected {expected_status} {code}"
    );
}

/// Runs one SQL statement (no result) on the app's database, on either backend. Only for states the
/// protocol gives no HTTP way to reach (a user from before tags existed) or to observe (a deleted row).
pub async fn sql_execute(app: &TestApp, sql: &str) {
    use sqlx::Connection as _;
    let url = app.db.url();
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to the test database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("SQL runs");
        conn.close().await.ok();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open the test database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("SQL runs");
        conn.close().await.ok();
    }
}

/// Runs a `SELECT COUNT(*) …` on the app's database, on either backend (see [`sql_execute`]).
pub async fn sql_count(app: &TestApp, sql: &str) -> i64 {
    use sqlx::Connection as _;
    let url = app.db.url();
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to the test database");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut conn).await.unwrap();
        conn.close().await.ok();
        n
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open the test database");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut conn).await.unwrap();
        conn.close().await.ok();
        n
    }
}

/// A value safe to splice into SQL as a string literal (ids are UUIDs; this only guards against mistakes).
pub fn sql_str(s: &str) -> String {
    assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "unexpected id {s:?}");
    format!("'{s}'")
}
