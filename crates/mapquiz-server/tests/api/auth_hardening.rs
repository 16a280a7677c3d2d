//! Regression tests for the auth hardening fixes: lockouts that concurrency cannot beat and that last a whole
//! window from the moment they are set, password checks on authenticated routes counting toward the lockout,
//! 401 before validation, re-enabling 2FA refused, `Authorization` schemes other than Bearer, the pending
//! two-factor cookie and the session cookie not interchangeable, size bounds, and the 2FA audit lines.

use crate::support::auth::*;
use crate::support::oidc_provider::OidcProvider;
use crate::support::{PASSWORD, TestApp, TestUser, json, on_both_backends, session_cookie};
use crate::two_factor::{activate, align, code_at, current_code, now_secs, sign_in_pending, two_factor_cookie, verify};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::task::JoinSet;

const TOO_MANY: (&str, &str) = ("TOO_MANY_REQUESTS", "Too many requests. Please try again later.");
const BAD_CREDENTIALS: (&str, &str) = ("INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");

/// A 6-digit code that is valid for none of the steps around now.
fn wrong_code(app: &TestApp, secret: &str) -> String {
    let now = now_secs(app);
    let valid: Vec<String> = [-60, -30, 0, 30, 60].iter().map(|d| code_at(secret, now + d)).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

/// Fires `n` identical JSON POSTs to `path` at once (with `cookie` if any); answers their (status, body).
async fn concurrent_posts(
    app: &TestApp,
    path: &str,
    body: &Value,
    cookie: Option<&str>,
    n: usize,
) -> Vec<(u16, Value)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut set = JoinSet::new();
    for _ in 0..n {
        let mut req = app.client.post(app.url(path)).header("user-agent", UA).json(body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            json(req.send().await.expect("request sent")).await
        });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

/// Checks a burst's answers: at most `max_401` are `401 <code>`, every other one a 429 TOO_MANY_REQUESTS.
fn assert_burst(answers: &[(u16, Value)], code: &str, message: &str, max_401: usize) {
    let wrong = json!({"code": code, "message": message});
    let too_many = json!({"code": TOO_MANY.0, "message": TOO_MANY.1});
    let rejected = answers.iter().filter(|a| **a == (401, wrong.clone())).count();
    let limited = answers.iter().filter(|a| **a == (429, too_many.clone())).count();
    assert_eq!(rejected + limited, answers.len(), "only {code} 401s and 429s: {answers:?}");
    assert!(rejected <= max_401, "{rejected} guesses were checked (at most {max_401}): {answers:?}");
}

// ---------------------------------------------------------------------------------------------------------
// 1. Concurrent password guesses cannot beat the email lockout
// ---------------------------------------------------------------------------------------------------------

async fn concurrent_wrong_passwords_cannot_beat_the_lockout(postgres: bool) {
    let Some(app) = TestApp::spawn_with(postgres, |f| f.merge(("rate_limit_auth_max", 1000))).await else { return };
    let user = app.sign_up("Ada").await;
    let body = json!({"email": user.email, "password": "not the password"});
    let answers = concurrent_posts(&app, "/api/auth/sign-in/email", &body, None, 20).await;
    assert_burst(&answers, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1, 5);
    let res = sign_in_raw(&app, &user.email, PASSWORD).await;
    assert_eq!(session_cookie(&res), None, "no session while locked");
    let (status, body) = json(res).await;
    assert_auth_error(status, &body, 429, TOO_MANY.0, TOO_MANY.1);
}

// ---------------------------------------------------------------------------------------------------------
// 2. The lock lasts the whole window from the moment it is set
// ---------------------------------------------------------------------------------------------------------

async fn the_lock_lasts_a_full_window_from_when_it_is_set(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    for i in 0..4 {
        let (status, body) = json(sign_in_raw(&app, &user.email, &format!("wrong {i}")).await).await;
        assert_auth_error(status, &body, 401, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1);
    }
    app.clock.advance(Duration::from_secs(14 * 60));
    let (status, body) = json(sign_in_raw(&app, &user.email, "wrong 5").await).await;
    assert_auth_error(status, &body, 401, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1);
    // The first failures have aged out of the window, but the lock was set 2 minutes ago.
    app.clock.advance(Duration::from_secs(2 * 60));
    let (status, body) = json(sign_in_raw(&app, &user.email, PASSWORD).await).await;
    assert_auth_error(status, &body, 429, TOO_MANY.0, TOO_MANY.1);
    // 16 minutes after the lock was set: free again.
    app.clock.advance(Duration::from_secs(14 * 60));
    let (status, body) = json(sign_in_raw(&app, &user.email, PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
}

// ---------------------------------------------------------------------------------------------------------
// 3. Wrong current passwords on authenticated routes count toward the email lockout
// ---------------------------------------------------------------------------------------------------------

async fn change_password(app: &TestApp, user: &TestUser, current: &str) -> (u16, Value) {
    let body = json!({"currentPassword": current, "newPassword": "a brand new passphrase"});
    json(app.post_as(user, "/api/auth/change-password", &body).await).await
}

async fn wrong_current_passwords_count_toward_the_lockout(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    for i in 0..5 {
        let (status, body) = change_password(&app, &user, &format!("not my password {i}")).await;
        assert_auth_error(status, &body, 400, "INVALID_PASSWORD", "Invalid password");
    }
    let (status, body) = change_password(&app, &user, PASSWORD).await;
    assert_auth_error(status, &body, 429, TOO_MANY.0, TOO_MANY.1);
    let (status, body) = json(sign_in_raw(&app, &user.email, PASSWORD).await).await;
    assert_auth_error(status, &body, 429, TOO_MANY.0, TOO_MANY.1);

    // The two-factor password checks count toward the same lock, mixed with change-password.
    let other = app.sign_up("Bob").await;
    crate::two_factor::enable(&app, &other).await;
    for route in ["enable", "get-totp-uri", "enable", "get-totp-uri"] {
        let res = app.post_as(&other, &format!("/api/auth/two-factor/{route}"), &json!({"password": "nope"})).await;
        let (status, body) = json(res).await;
        assert_auth_error(status, &body, 400, "INVALID_PASSWORD", "Invalid password");
    }
    let (status, body) = change_password(&app, &other, "still not it").await;
    assert_auth_error(status, &body, 400, "INVALID_PASSWORD", "Invalid password");
    let (status, body) = json(sign_in_raw(&app, &other.email, PASSWORD).await).await;
    assert_auth_error(status, &body, 429, TOO_MANY.0, TOO_MANY.1);
}

// ---------------------------------------------------------------------------------------------------------
// 4. Concurrent wrong TOTP codes cannot beat the 2FA lockout
// ---------------------------------------------------------------------------------------------------------

async fn concurrent_wrong_codes_cannot_beat_the_two_factor_lockout(postgres: bool) {
    let Some(app) = TestApp::spawn_with(postgres, |f| f.merge(("rate_limit_auth_max", 1000))).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let pending = sign_in_pending(&app, &user).await;
    align(&app);
    let body = json!({"code": wrong_code(&app, &enabled.secret)});
    let answers = concurrent_posts(&app, "/api/auth/two-factor/verify-totp", &body, Some(&pending), 20).await;
    assert_burst(&answers, "INVALID_CODE", "Invalid code", 5);
    let res = verify(&app, Some(&pending), "verify-totp", &current_code(&app, &enabled.secret)).await;
    assert_eq!(json(res).await.0, 429, "even the right code is refused while locked");
}

// ---------------------------------------------------------------------------------------------------------
// 5. 401 before field validation
// ---------------------------------------------------------------------------------------------------------

async fn unauthenticated_requests_get_401_before_validation(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    for (path, body) in [
        ("/api/auth/update-user", json!({"name": ""})),
        ("/api/auth/two-factor/enable", json!({"password": 5})),
        ("/api/auth/change-password", json!({})),
    ] {
        let (status, answer) = json(app.post_json(path, &body).await).await;
        assert_eq!((status, &answer["code"]), (401, &json!("UNAUTHORIZED")), "{path} {body} → {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// 6. Enabling 2FA again while it is active is refused
// ---------------------------------------------------------------------------------------------------------

async fn enabling_two_factor_twice_is_refused(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let res = app.post_as(&user, "/api/auth/two-factor/enable", &json!({"password": PASSWORD})).await;
    assert_eq!(
        json(res).await,
        (400, json!({"code": "TWO_FACTOR_ALREADY_ENABLED", "message": "Two factor is already enabled"}))
    );
    // Still active, with the same secret.
    let pending = sign_in_pending(&app, &user).await;
    align(&app);
    let res = verify(&app, Some(&pending), "verify-totp", &current_code(&app, &enabled.secret)).await;
    assert!(session_cookie(&res).is_some(), "the original secret still completes sign-in");
    assert_eq!(json(res).await.0, 200);
}

// ---------------------------------------------------------------------------------------------------------
// 7. Only a Bearer Authorization header overrides the cookie
// ---------------------------------------------------------------------------------------------------------

async fn a_non_bearer_authorization_does_not_hide_the_cookie(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let with = |auth: &str| {
        app.client
            .get(app.url("/api/auth/get-session"))
            .header("cookie", &user.cookie)
            .header("authorization", auth)
            .send()
    };
    let (status, body) = json(with("Basic dXNlcjpwYXNz").await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], user.id.as_str(), "the cookie still counts: {body}");
    let (status, body) = json(with("Bearer garbage").await.unwrap()).await;
    assert_eq!((status, body), (200, Value::Null), "an invalid bearer does not fall back to the cookie");
}

// ---------------------------------------------------------------------------------------------------------
// 8. The pending two-factor cookie and the session cookie are not interchangeable
// ---------------------------------------------------------------------------------------------------------

async fn pending_and_session_cookies_are_not_interchangeable(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let res = app.post_json("/api/auth/sign-in/email", &json!({"email": user.email, "password": PASSWORD})).await;
    let pending = two_factor_cookie(&res).expect("a pending cookie");
    let (_, pending_value) = pending.split_once('=').unwrap();

    let as_session = format!("better-auth.session_token={pending_value}");
    assert_eq!(session_of(&app, &as_session).await, Value::Null, "a pending cookie is no session");

    let (_, session_value) = user.cookie.split_once('=').unwrap();
    let as_pending = format!("better-auth.two_factor={session_value}");
    align(&app);
    let code = current_code(&app, &enabled.secret);
    let (status, body) = json(verify(&app, Some(&as_pending), "verify-totp", &code).await).await;
    assert_eq!((status, &body["code"]), (401, &json!("UNAUTHORIZED")), "{body}");
    // The code was not spent: the real pending sign-in completes with it.
    let res = verify(&app, Some(&pending), "verify-totp", &code).await;
    assert_eq!(json(res).await.0, 200);
}

// ---------------------------------------------------------------------------------------------------------
// 9. Bounds
// ---------------------------------------------------------------------------------------------------------

async fn oversized_and_dangerous_inputs_are_bounded(postgres: bool) {
    let idp = OidcProvider::start("test-client", "test-secret").await;
    let issuer = idp.issuer();
    let Some(app) = TestApp::spawn_with(postgres, |f| {
        f.merge(("rate_limit_auth_max", 10_000))
            .merge(("google_client_id", "test-client"))
            .merge(("google_client_secret", "test-secret"))
            .merge(("google_issuer", issuer))
            .merge(("server_url", "https://api.mapquiz.example"))
    })
    .await
    else {
        return;
    };
    let short = app.post_json("/api/auth/sign-in/social", &json!({"provider": "google", "callbackURL": "/play"})).await;
    assert_eq!(json(short).await.0, 200, "Google is configured and a short callbackURL is fine");
    let long = format!("/{}", "a".repeat(2999));
    let res = app.post_json("/api/auth/sign-in/social", &json!({"provider": "google", "callbackURL": long})).await;
    assert_eq!(json(res).await, (403, json!({"code": "INVALID_CALLBACKURL", "message": "Invalid callbackURL"})));

    let body =
        json!({"name": "Pic", "email": unique_email("pic"), "password": PASSWORD, "image": "javascript:alert(1)"});
    let (status, answer) = json(sign_up_raw(&app, &body).await).await;
    assert_eq!((status, &answer["code"]), (400, &json!("VALIDATION_ERROR")), "{answer}");

    let user = app.sign_up("Ada").await;
    let (status, answer) = json(sign_in_raw(&app, &user.email, &"p".repeat(2000)).await).await;
    assert_auth_error(status, &answer, 401, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1);
}

// ---------------------------------------------------------------------------------------------------------
// 10. Wrong codes and the 2FA lockout are audited
// ---------------------------------------------------------------------------------------------------------

async fn wrong_codes_and_the_two_factor_lockout_are_audited(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let pending = sign_in_pending(&app, &user).await;
    align(&app);
    let wrong = wrong_code(&app, &enabled.secret);
    for _ in 0..5 {
        assert_eq!(json(verify(&app, Some(&pending), "verify-totp", &wrong).await).await.0, 401);
    }
    assert_eq!(json(verify(&app, Some(&pending), "verify-totp", &wrong).await).await.0, 429);

    let trail = app.state.store.audit_trail(Some(&user.id), 100).await.unwrap();
    let failed: Vec<_> = trail
        .iter()
        .filter(|e| {
            e.action == "sign_in_failed"
                && e.details.as_ref().and_then(|d| d.get("method")) == Some(&json!("two_factor"))
        })
        .collect();
    assert!(failed.len() >= 5, "a sign_in_failed (method two_factor) per wrong code: {trail:?}");
    assert!(failed.iter().all(|e| e.user_id.as_deref() == Some(user.id.as_str())));
    assert!(failed.iter().all(|e| e.ip_address.as_deref() == Some("127.0.0.1")));
    let lockouts: Vec<_> = trail.iter().filter(|e| e.action == "lockout").collect();
    assert!(!lockouts.is_empty(), "a lockout line once the limit is reached: {trail:?}");
    assert_eq!(lockouts[0].user_id.as_deref(), Some(user.id.as_str()));
}

on_both_backends!(
    concurrent_wrong_passwords_cannot_beat_the_lockout,
    the_lock_lasts_a_full_window_from_when_it_is_set,
    wrong_current_passwords_count_toward_the_lockout,
    concurrent_wrong_codes_cannot_beat_the_two_factor_lockout,
    unauthenticated_requests_get_401_before_validation,
    enabling_two_factor_twice_is_refused,
    a_non_bearer_authorization_does_not_hide_the_cookie,
    pending_and_session_cookies_are_not_interchangeable,
    oversized_and_dangerous_inputs_are_bounded,
    wrong_codes_and_the_two_factor_lockout_are_audited,
);
