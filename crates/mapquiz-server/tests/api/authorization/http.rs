//! The HTTP half of the matrix: one row per operation of the OpenAPI document, with the request each role
//! sends and the status each role must get (protocol §1.1.5, §1.2, §1.4.7, §1.6).

use super::world::{Role, World};
use crate::support::PASSWORD;
use reqwest::Method;
use serde_json::{Value, json};

/// One operation of the document.
pub struct Route {
    pub method: Method,
    /// The path as the document spells it (`{id}` for a parameter).
    pub path: &'static str,
    /// What every role sends: the concrete URI and the JSON body, if any.
    pub call: fn(&World, Role) -> Call,
    /// The status for each of [`super::world::ROLES`], in that order.
    pub expect: [u16; 5],
    /// What the roles before the owner must leave as it was.
    pub intact: Intact,
}

/// A concrete request.
pub struct Call {
    pub uri: String,
    pub body: Option<Value>,
}

/// A resource the non-owners' attempts must not have touched (checked after each of their cells).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intact {
    Nothing,
    /// The host's spare session is still signed in.
    HostSpareSession,
    /// The request to the host is still pending.
    PendingRequest,
    /// The host and the member are still friends.
    Friendship,
}

/// Anyone gets `status`.
const fn open(status: u16) -> [u16; 5] {
    [status; 5]
}

/// A signed-in caller gets `status`; no credential or a revoked one gets 401.
const fn signed_in(status: u16) -> [u16; 5] {
    [401, 401, status, status, status]
}

fn get(uri: &str) -> Call {
    Call { uri: uri.to_owned(), body: None }
}

fn post(uri: &str, body: Value) -> Call {
    Call { uri: uri.to_owned(), body: Some(body) }
}

fn score() -> Value {
    json!({"score": 3, "totalQuestions": 7, "selectedRegions": ["Océanie"], "gameMode": "quiz", "duration": 42})
}

fn bug_report() -> Value {
    json!({"title": "La carte ne charge pas", "description": "Écran blanc après la connexion.",
           "environment": {"browser": "Firefox"}})
}

fn password() -> Value {
    json!({"password": PASSWORD})
}

macro_rules! route {
    ($method:ident $path:literal, $call:expr, $expect:expr) => {
        route!($method $path, $call, $expect, Intact::Nothing)
    };
    ($method:ident $path:literal, $call:expr, $expect:expr, $intact:expr) => {
        Route { method: Method::$method, path: $path, call: $call, expect: $expect, intact: $intact }
    };
}

/// Every row. A route the document gains without a row here fails the matrix.
pub fn routes() -> Vec<Route> {
    vec![
        route!(GET "/", |_, _| get("/"), open(200)),
        route!(GET "/health", |_, _| get("/health"), open(200)),
        route!(GET "/health/detailed", |_, _| get("/health/detailed"), open(200)),
        route!(GET "/livez", |_, _| get("/livez"), open(200)),
        route!(GET "/readyz", |_, _| get("/readyz"), open(200)),
        // No metrics token is configured here: the scrape is open (with one, every role is 401 alike).
        route!(GET "/metrics", |_, _| get("/metrics"), open(200)),
        route!(GET "/api/openapi.json", |_, _| get("/api/openapi.json"), open(200)),
        route!(GET "/docs", |_, _| get("/docs"), open(200)),
        route!(GET "/docs/assets/docs.css", |_, _| get("/docs/assets/docs.css"), open(200)),
        route!(GET "/docs/assets/docs.js", |_, _| get("/docs/assets/docs.js"), open(200)),
        route!(GET "/docs/websocket.json", |_, _| get("/docs/websocket.json"), open(200)),
        route!(GET "/ws", |_, _| get("/ws"), open(426)),
        // Sessions and accounts.
        route!(GET "/api/auth/ok", |_, _| get("/api/auth/ok"), open(200)),
        route!(GET "/api/auth/get-session", |_, _| get("/api/auth/get-session"), open(200)),
        route!(POST "/api/auth/sign-up/email",
            |_, _| post("/api/auth/sign-up/email", json!({"name": "Newcomer", "password": PASSWORD,
                "email": format!("new-{}@example.com", uuid::Uuid::now_v7().simple())})),
            open(200)),
        // Everyone signs in as someone with a password: the anonymous caller as the friend.
        route!(POST "/api/auth/sign-in/email",
            |w, r| post("/api/auth/sign-in/email",
                        json!({"email": w.caller(r).unwrap_or(&w.friend).email, "password": PASSWORD})),
            open(200)),
        // Google is not configured here: the provider is unknown to everyone alike.
        route!(POST "/api/auth/sign-in/social",
            |_, _| post("/api/auth/sign-in/social", json!({"provider": "google", "callbackURL": "/"})), open(404)),
        route!(GET "/api/auth/callback/google", |_, _| get("/api/auth/callback/google"), open(302)),
        route!(POST "/api/auth/sign-out", |_, _| post("/api/auth/sign-out", json!({})), [400, 400, 200, 200, 200]),
        route!(GET "/api/auth/list-sessions", |_, _| get("/api/auth/list-sessions"), signed_in(200)),
        route!(POST "/api/auth/revoke-session",
            |w, _| post("/api/auth/revoke-session", json!({"token": w.host_spare.token})),
            signed_in(200), Intact::HostSpareSession),
        route!(POST "/api/auth/revoke-other-sessions", |_, _| post("/api/auth/revoke-other-sessions", json!({})),
            signed_in(200), Intact::HostSpareSession),
        route!(POST "/api/auth/revoke-sessions", |_, _| post("/api/auth/revoke-sessions", json!({})),
            signed_in(200), Intact::HostSpareSession),
        route!(POST "/api/auth/update-user", |_, _| post("/api/auth/update-user", json!({"name": "Renamed"})),
            signed_in(200)),
        route!(POST "/api/auth/change-password",
            |_, _| post("/api/auth/change-password",
                     json!({"currentPassword": PASSWORD, "newPassword": "another horse battery staple"})),
            signed_in(200), Intact::HostSpareSession),
        route!(POST "/api/auth/two-factor/enable", |_, _| post("/api/auth/two-factor/enable", password()),
            signed_in(200)),
        route!(POST "/api/auth/two-factor/disable", |_, _| post("/api/auth/two-factor/disable", password()),
            signed_in(200)),
        // 2FA is off for everyone: the signed-in callers get TWO_FACTOR_NOT_ENABLED; without a session (and no
        // pending two-factor sign-in) it is 401.
        route!(POST "/api/auth/two-factor/get-totp-uri", |_, _| post("/api/auth/two-factor/get-totp-uri", password()),
            signed_in(400)),
        route!(POST "/api/auth/two-factor/generate-backup-codes",
            |_, _| post("/api/auth/two-factor/generate-backup-codes", password()), signed_in(400)),
        route!(POST "/api/auth/two-factor/verify-totp",
            |_, _| post("/api/auth/two-factor/verify-totp", json!({"code": "000000"})), signed_in(400)),
        route!(POST "/api/auth/two-factor/verify-backup-code",
            |_, _| post("/api/auth/two-factor/verify-backup-code", json!({"code": "abcde-fghij"})), signed_in(400)),
        // Users.
        route!(GET "/api/users", |_, _| get("/api/users"), signed_in(200)),
        route!(GET "/api/users/", |_, _| get("/api/users/"), signed_in(200)),
        route!(GET "/api/users/me/tag", |_, _| get("/api/users/me/tag"), signed_in(200)),
        route!(GET "/api/users/tag/{tag}", |w, _| get(&format!("/api/users/tag/{}", w.friend.tag)), signed_in(200)),
        route!(GET "/api/users/{id}", |w, _| get(&format!("/api/users/{}", w.friend.id)), signed_in(200)),
        // Friends.
        route!(POST "/api/friends/add", |w, _| post("/api/friends/add", json!({"tag": w.target.tag})), signed_in(200)),
        route!(GET "/api/friends/list", |_, _| get("/api/friends/list"), signed_in(200)),
        route!(GET "/api/friends/requests", |_, _| get("/api/friends/requests"), signed_in(200)),
        route!(POST "/api/friends/requests/{id}",
            |w, _| post(&format!("/api/friends/requests/{}", w.request_id), json!({"action": "accept"})),
            [401, 401, 403, 403, 200], Intact::PendingRequest),
        // Removing someone who is not your friend is a success that changes nothing (§1.6).
        route!(DELETE "/api/friends/remove", |w, _| post("/api/friends/remove", json!({"friendId": w.member.id})),
            signed_in(200), Intact::Friendship),
        // Scores, leaderboards, games, bug reports.
        route!(POST "/api/scores", |_, _| post("/api/scores", score()), signed_in(200)),
        route!(POST "/api/scores/", |_, _| post("/api/scores/", score()), signed_in(200)),
        route!(GET "/api/scores/history", |_, _| get("/api/scores/history"), signed_in(200)),
        route!(GET "/api/scores/stats", |_, _| get("/api/scores/stats"), signed_in(200)),
        route!(GET "/api/leaderboards", |_, _| get("/api/leaderboards?regions=Oc%C3%A9anie"), signed_in(200)),
        route!(GET "/api/games", |_, _| get("/api/games"), signed_in(200)),
        // Authentication is optional: a revoked cookie is treated as anonymous, not refused (§1.8).
        route!(POST "/api/bug-reports", |_, _| post("/api/bug-reports", bug_report()), open(201)),
        route!(POST "/api/bug-reports/", |_, _| post("/api/bug-reports/", bug_report()), open(201)),
    ]
}
