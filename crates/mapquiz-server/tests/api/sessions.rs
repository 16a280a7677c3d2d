//! Session management, profile and password changes, the audit trail, and the 401s of protected routes
//! (protocol §1.1.5, §1.4.7, §1.5; checklist 13–15).

use crate::support::auth::*;
use crate::support::{PASSWORD, TestApp, TestUser, json, on_both_backends};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const SESSION_KEYS: &[&str] =
    &["id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId"];

/// POST JSON as `user` (cookie) with the test user agent.
async fn post_ua(app: &TestApp, user: &TestUser, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("cookie", &user.cookie)
        .header("user-agent", UA)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// The id of the session `user`'s cookie names.
async fn session_id(app: &TestApp, user: &TestUser) -> String {
    session_of(app, &user.cookie).await["session"]["id"].as_str().expect("a live session").to_owned()
}

/// Whether `user`'s credentials still authenticate, checked on get-session and on an application route
/// (after both have been used, so any session cache is warm).
async fn is_signed_in(app: &TestApp, user: &TestUser) -> bool {
    let by_session = session_of(app, &user.cookie).await.is_object();
    let status = app.get_as(user, "/api/users/me/tag").await.status().as_u16();
    assert!(status == 200 || status == 401, "{status}");
    assert_eq!(by_session, status == 200, "get-session and /api/users/me/tag agree");
    by_session
}

async fn list(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let (status, body) = json(app.get_as(user, "/api/auth/list-sessions").await).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap_or_else(|| panic!("list-sessions is an array: {body}")).clone()
}

// ---------------------------------------------------------------------------------------------------------
// list-sessions and revocation (§1.4.7)
// ---------------------------------------------------------------------------------------------------------

async fn list_sessions_shows_only_the_callers_sessions(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let a1 = sign_up_as(&app, "Ann", &unique_email("ann"), PASSWORD).await;
    let a2 = sign_in_again(&app, &a1).await;
    let a3 = sign_in_again(&app, &a1).await;
    let b = app.sign_up("Ben").await;
    let ids: BTreeSet<String> =
        [session_id(&app, &a1).await, session_id(&app, &a2).await, session_id(&app, &a3).await].into_iter().collect();
    let own = session_id(&app, &a2).await;

    let sessions = list(&app, &a2).await;
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let listed: BTreeSet<String> = sessions.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, ids);
    for s in &sessions {
        assert_eq!(keys(s), set(SESSION_KEYS), "{s}");
        assert_eq!(s["userId"], a1.id.as_str());
        for k in ["expiresAt", "createdAt", "updatedAt"] {
            ts_millis(&s[k]);
        }
        if s["id"] == own.as_str() {
            assert_eq!(s["token"], a2.token.as_str(), "the current session shows its token");
        } else {
            assert_eq!(s["token"], Value::Null, "other sessions' tokens are not known: {s}");
        }
    }
    let theirs = list(&app, &b).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["userId"], b.id.as_str());
    assert_eq!(theirs[0]["token"], b.token.as_str());
}
on_both_backends!(list_sessions_shows_only_the_callers_sessions);

async fn revoke_session_by_token_and_by_id_takes_effect_at_once(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let a1 = app.sign_up("Cleo").await;
    let a2 = sign_in_again(&app, &a1).await;
    let a3 = sign_in_again(&app, &a1).await;
    for u in [&a1, &a2, &a3] {
        assert!(is_signed_in(&app, u).await);
    }
    let a3_id = session_id(&app, &a3).await;

    let (status, body) = json(app.post_as(&a1, "/api/auth/revoke-session", &json!({"token": a2.token})).await).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    assert!(!is_signed_in(&app, &a2).await, "revoked by token: the very next request is refused");
    assert_eq!(json(get_with_auth(&app, "/api/users/me/tag", &a2.bearer()).await).await.0, 401);

    let (status, body) = json(app.post_as(&a1, "/api/auth/revoke-session", &json!({"id": a3_id})).await).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    assert!(!is_signed_in(&app, &a3).await, "revoked by id");

    assert!(is_signed_in(&app, &a1).await);
    assert_eq!(list(&app, &a1).await.len(), 1);
}
on_both_backends!(revoke_session_by_token_and_by_id_takes_effect_at_once);

#[tokio::test]
async fn another_users_session_cannot_be_revoked() {
    let app = roomy().await;
    let victim = app.sign_up("Dora").await;
    let attacker = app.sign_up("Eve").await;
    assert!(is_signed_in(&app, &victim).await);
    let victim_id = session_id(&app, &victim).await;
    let res = app.post_as(&attacker, "/api/auth/revoke-session", &json!({"id": victim_id})).await;
    assert!(res.status().as_u16() < 500, "{}", res.status());
    let res = app.post_as(&attacker, "/api/auth/revoke-session", &json!({"token": victim.token})).await;
    assert!(res.status().as_u16() < 500, "{}", res.status());
    assert!(is_signed_in(&app, &victim).await, "another user's session is untouched");
    assert!(is_signed_in(&app, &attacker).await);
    assert_eq!(list(&app, &victim).await.len(), 1);
}

async fn revoke_other_sessions_keeps_only_the_current_one(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let a1 = app.sign_up("Finn").await;
    let a2 = sign_in_again(&app, &a1).await;
    let a3 = sign_in_again(&app, &a1).await;
    let other = app.sign_up("Gus").await;
    for u in [&a1, &a2, &a3] {
        assert!(is_signed_in(&app, u).await);
    }
    let (status, body) = json(app.post_as(&a2, "/api/auth/revoke-other-sessions", &json!({})).await).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    assert!(is_signed_in(&app, &a2).await, "the current session survives");
    assert!(!is_signed_in(&app, &a1).await);
    assert!(!is_signed_in(&app, &a3).await);
    assert!(is_signed_in(&app, &other).await, "other users are unaffected");
    assert_eq!(list(&app, &a2).await.len(), 1);
}
on_both_backends!(revoke_other_sessions_keeps_only_the_current_one);

#[tokio::test]
async fn revoke_sessions_ends_all_including_the_current_one() {
    let app = roomy().await;
    let a1 = app.sign_up("Hugo").await;
    let a2 = sign_in_again(&app, &a1).await;
    let other = app.sign_up("Iris").await;
    for u in [&a1, &a2] {
        assert!(is_signed_in(&app, u).await);
    }
    let (status, body) = json(app.post_as(&a1, "/api/auth/revoke-sessions", &json!({})).await).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    assert!(!is_signed_in(&app, &a1).await);
    assert!(!is_signed_in(&app, &a2).await);
    assert!(is_signed_in(&app, &other).await);
}

// ---------------------------------------------------------------------------------------------------------
// update-user and change-password (§1.4.7)
// ---------------------------------------------------------------------------------------------------------

async fn update_user_changes_the_name_everywhere_at_once(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Jude").await;
    let viewer = app.sign_up("Kurt").await;
    assert_eq!(session_of(&app, &user.cookie).await["user"]["name"], "Jude"); // warms any session cache
    let (_, body) = json(app.get_as(&viewer, &format!("/api/users/{}", user.id)).await).await;
    assert_eq!(body["user"]["name"], "Jude");

    let (status, body) = json(app.post_as(&user, "/api/auth/update-user", &json!({"name": "Jude Law"})).await).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    let session = session_of(&app, &user.cookie).await;
    assert_eq!(session["user"]["name"], "Jude Law", "get-session shows the new name right away");
    let (_, body) = json(app.get_as(&viewer, &format!("/api/users/{}", user.id)).await).await;
    assert_eq!(body["user"]["name"], "Jude Law");
    let (_, body) = json(get_with_auth(&app, "/api/auth/get-session", &user.bearer()).await).await;
    assert_eq!(body["user"]["name"], "Jude Law");

    let (status, body) =
        json(app.post_as(&user, "/api/auth/update-user", &json!({"image": "https://img.example/j.png"})).await).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    let session = session_of(&app, &user.cookie).await;
    assert_eq!(session["user"]["image"], "https://img.example/j.png");
    assert_eq!(session["user"]["name"], "Jude Law", "a missing name is left alone");
}
on_both_backends!(update_user_changes_the_name_everywhere_at_once);

#[tokio::test]
async fn update_user_applies_the_sign_up_name_rules() {
    let app = roomy().await;
    let user = app.sign_up("Lena").await;
    let fifty_one = "x".repeat(51);
    for name in ["", "   ", "a\u{0007}b", "two\nlines", fifty_one.as_str()] {
        let (status, body) = json(app.post_as(&user, "/api/auth/update-user", &json!({"name": name})).await).await;
        assert_eq!(
            (status, &body),
            (400, &json!({"code": "VALIDATION_ERROR", "message": "Invalid name"})),
            "name {name:?}"
        );
    }
    assert_eq!(session_of(&app, &user.cookie).await["user"]["name"], "Lena", "nothing changed");
    let html = "<b>Lena</b>";
    let (status, _) = json(app.post_as(&user, "/api/auth/update-user", &json!({"name": html})).await).await;
    assert_eq!(status, 200);
    assert_eq!(session_of(&app, &user.cookie).await["user"]["name"], html);
}

async fn change_password_checks_the_current_one_and_swaps_them(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Mona").await;
    let other_session = sign_in_again(&app, &user).await;
    let new_password = "a brand new passphrase";

    let body = json!({"currentPassword": "not my password", "newPassword": new_password});
    let (status, answer) = json(app.post_as(&user, "/api/auth/change-password", &body).await).await;
    assert_auth_error(status, &answer, 400, "INVALID_PASSWORD", "Invalid password");
    let body = json!({"currentPassword": PASSWORD, "newPassword": "short"});
    let (status, answer) = json(app.post_as(&user, "/api/auth/change-password", &body).await).await;
    assert_auth_error(status, &answer, 400, "PASSWORD_TOO_SHORT", "Password too short");
    // Neither attempt changed anything.
    assert_eq!(json(sign_in_raw(&app, &user.email, PASSWORD).await).await.0, 200);

    let body = json!({"currentPassword": PASSWORD, "newPassword": new_password});
    let (status, answer) = json(app.post_as(&user, "/api/auth/change-password", &body).await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(keys(&answer), set(&["token", "user"]), "{answer}");
    assert_eq!(answer["token"], Value::Null, "no new session without revokeOtherSessions");
    assert_eq!(answer["user"]["id"], user.id.as_str());
    assert!(!has_key_anywhere(&answer, "password"), "{answer}");

    let (status, answer) = json(sign_in_raw(&app, &user.email, PASSWORD).await).await;
    assert_auth_error(status, &answer, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    assert_eq!(json(sign_in_raw(&app, &user.email, new_password).await).await.0, 200);
    assert!(is_signed_in(&app, &user).await);
    assert!(is_signed_in(&app, &other_session).await, "other sessions are kept unless asked");
}
on_both_backends!(change_password_checks_the_current_one_and_swaps_them);

#[tokio::test]
async fn change_password_can_revoke_the_other_sessions() {
    let app = roomy().await;
    let user = app.sign_up("Nora").await;
    let other = sign_in_again(&app, &user).await;
    let third = sign_in_again(&app, &user).await;
    for u in [&user, &other, &third] {
        assert!(is_signed_in(&app, u).await);
    }
    let body =
        json!({"currentPassword": PASSWORD, "newPassword": "another long passphrase", "revokeOtherSessions": true});
    let (status, answer) = json(app.post_as(&user, "/api/auth/change-password", &body).await).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["token"].as_str().unwrap_or_else(|| panic!("a new session token: {answer}")).to_owned();
    assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(answer["user"]["id"], user.id.as_str());
    assert!(!is_signed_in(&app, &other).await, "other sessions are revoked");
    assert!(!is_signed_in(&app, &third).await);
    let fresh = TestUser { token: token.clone(), cookie: cookie_for(&token), ..user.clone() };
    assert!(is_signed_in(&app, &fresh).await, "the returned token is a live session");
}

// ---------------------------------------------------------------------------------------------------------
// The audit trail (auth-spec "Audit actions"; §1.4.7 "never in logs")
// ---------------------------------------------------------------------------------------------------------

async fn audit_lines_record_who_where_and_never_secrets(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let email = unique_email("audited");
    let new_password = "the replacement passphrase";
    let wrong_password = "a wrong password attempt";
    let mut tokens = Vec::new();

    let user = sign_up_as(&app, "Olga", &email, PASSWORD).await;
    tokens.push(user.token.clone());
    assert_eq!(json(post_ua(&app, &user, "/api/auth/sign-out", &json!({})).await).await.0, 200);
    assert_eq!(json(sign_in_raw(&app, &email, wrong_password).await).await.0, 401);
    let ghost = unique_email("ghost");
    assert_eq!(json(sign_in_raw(&app, &ghost, wrong_password).await).await.0, 401);
    let s1 = sign_in_again(&app, &user).await;
    let s2 = sign_in_again(&app, &user).await;
    tokens.extend([s1.token.clone(), s2.token.clone()]);
    let (status, _) = json(post_ua(&app, &s1, "/api/auth/revoke-session", &json!({"token": s2.token})).await).await;
    assert_eq!(status, 200);
    let body = json!({"currentPassword": PASSWORD, "newPassword": new_password, "revokeOtherSessions": true});
    let (status, answer) = json(post_ua(&app, &s1, "/api/auth/change-password", &body).await).await;
    assert_eq!(status, 200, "{answer}");
    if let Some(t) = answer["token"].as_str() {
        tokens.push(t.to_owned());
    }
    // A lockout, on an address nobody owns.
    let locked = unique_email("locked");
    for _ in 0..5 {
        sign_in_raw(&app, &locked, wrong_password).await;
    }
    assert_eq!(json(sign_in_raw(&app, &locked, wrong_password).await).await.0, 429);

    // The protocol exposes no audit route: read the trail from the store.
    let lines = app.state.store.audit_trail(None, 500).await.unwrap();
    let find = |action: &str| -> Vec<_> { lines.iter().filter(|l| l.action == action).collect() };
    for action in ["sign_up", "sign_in", "sign_in_failed", "sign_out", "lockout", "password_changed", "session_revoked"]
    {
        let found = find(action);
        assert!(!found.is_empty(), "an audit line for {action}: {lines:#?}");
        for l in found {
            assert_eq!(l.ip_address.as_deref(), Some("127.0.0.1"), "{l:?}");
            assert_eq!(l.user_agent.as_deref(), Some(UA), "{l:?}");
        }
    }
    for action in ["sign_up", "sign_in", "sign_out", "password_changed", "session_revoked"] {
        assert!(find(action).iter().all(|l| l.user_id.as_deref() == Some(user.id.as_str())), "{action}: {lines:#?}");
    }
    assert!(
        find("sign_in").iter().any(|l| l.details.as_ref().is_some_and(|d| d["method"] == "email")),
        "sign_in details.method = email: {lines:#?}"
    );
    let failed = find("sign_in_failed");
    assert!(failed.iter().any(|l| l.user_id.as_deref() == Some(user.id.as_str())), "wrong password: the user");
    assert!(failed.iter().any(|l| l.user_id.is_none()), "unknown email: user_id null: {failed:#?}");

    let all = serde_json::to_string(&lines).unwrap();
    let mut secrets = vec![PASSWORD.to_owned(), new_password.to_owned(), wrong_password.to_owned()];
    for t in &tokens {
        secrets.push(t.clone());
        secrets.push(signed_token(t));
        secrets.push(expected_cookie_value(t));
    }
    for secret in secrets {
        assert!(!all.contains(&secret), "{secret:?} appears in the audit trail");
    }
}
on_both_backends!(audit_lines_record_who_where_and_never_secrets);

// ---------------------------------------------------------------------------------------------------------
// Protected routes without credentials (§1.1.5, checklist 13–15)
// ---------------------------------------------------------------------------------------------------------

fn auth_routes() -> Vec<(reqwest::Method, &'static str, Value)> {
    use reqwest::Method;
    vec![
        (Method::GET, "/api/auth/list-sessions", Value::Null),
        (Method::POST, "/api/auth/revoke-session", json!({"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})),
        (Method::POST, "/api/auth/revoke-other-sessions", json!({})),
        (Method::POST, "/api/auth/revoke-sessions", json!({})),
        (Method::POST, "/api/auth/update-user", json!({"name": "Nobody"})),
        (Method::POST, "/api/auth/change-password", json!({"currentPassword": PASSWORD, "newPassword": "whatever123"})),
        (Method::POST, "/api/auth/two-factor/enable", json!({"password": PASSWORD})),
    ]
}

const USER_ROUTES: &[&str] = &["/api/users", "/api/users/me/tag", "/api/users/tag/ABCDEFGH", "/api/users/some-user-id"];

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: &Value,
    extra: Option<(&str, &str)>,
) -> (u16, String) {
    let mut req = app.client.request(method, app.url(path));
    if !body.is_null() {
        req = req.json(body);
    }
    if let Some((k, v)) = extra {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn protected_routes_without_credentials_get_401() {
    let app = roomy().await;
    let stale = app.sign_up("Pat").await;
    assert_eq!(json(app.post_as(&stale, "/api/auth/sign-out", &json!({})).await).await.0, 200);
    let stale_cookie = stale.cookie.clone();
    for credentials in [None, Some(("cookie", stale_cookie.as_str())), Some(("x-user-id", stale.id.as_str()))] {
        for path in USER_ROUTES {
            let (status, text) = send(&app, reqwest::Method::GET, path, &Value::Null, credentials).await;
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON from {path}: {text}"));
            assert_eq!(
                (status, body),
                (401, json!({"error": "Non autorisé", "code": "unauthorized"})),
                "GET {path} with {credentials:?}"
            );
        }
        for (method, path, body) in auth_routes() {
            let (status, text) = send(&app, method.clone(), path, &body, credentials).await;
            let answer: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON from {path}: {text}"));
            assert_eq!(status, 401, "{method} {path} with {credentials:?}: {answer}");
            assert_eq!(keys(&answer), set(&["code", "message"]), "{answer}");
            assert_eq!(answer["code"], "UNAUTHORIZED", "{method} {path}: {answer}");
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
}

#[tokio::test]
async fn a_401_never_echoes_the_presented_credential() {
    let app = roomy().await;
    let xss = "Bearer <script>alert('xss')</script>";
    let routes: Vec<(reqwest::Method, &str, Value)> =
        USER_ROUTES.iter().map(|p| (reqwest::Method::GET, *p, Value::Null)).chain(auth_routes()).collect();
    for (method, path, body) in routes {
        let (status, text) = send(&app, method.clone(), path, &body, Some(("authorization", xss))).await;
        assert_eq!(status, 401, "{method} {path}: {text}");
        assert!(!text.contains("<script>") && !text.contains("alert"), "{method} {path} echoed the credential: {text}");
    }
    let (status, text) =
        send(&app, reqwest::Method::GET, "/api/auth/get-session", &Value::Null, Some(("authorization", xss))).await;
    assert!(status == 200 && text == "null" || status == 401, "{status} {text}");
    assert!(!text.contains("<script>"));
}
