//! Two-factor authentication (protocol §1.4.7): enabling, the second step of sign-in, TOTP windows and
//! replays, backup codes, the wrong-code lockout, and secrets kept out of the database in clear.
//! Codes are computed like an authenticator app would, at the server's clock (`app.clock`).

use crate::support::{PASSWORD, TestApp, TestUser, json, on_both_backends, session_cookie, set_cookies};
use mapquiz_server::clock::Clock;
use serde_json::{Value, json};
use std::time::Duration;

/// What `two-factor/enable` handed out.
#[derive(Clone, Debug)]
pub struct Enabled {
    pub uri: String,
    /// Base32, as in the URI.
    pub secret: String,
    pub backup_codes: Vec<String>,
}

/// The 6-digit SHA-1 TOTP code of `secret` (base32) at `unix_secs`.
pub fn code_at(secret: &str, unix_secs: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().expect("the secret is base32");
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).generate(u64::try_from(unix_secs).unwrap())
}

/// The server's "now", in Unix seconds.
pub fn now_secs(app: &TestApp) -> i64 {
    app.clock.now().millis() / 1000
}

/// The code an authenticator app shows now.
pub fn current_code(app: &TestApp, secret: &str) -> String {
    code_at(secret, now_secs(app))
}

/// A 6-digit code that is valid for none of the steps around now.
fn wrong_code(app: &TestApp, secret: &str) -> String {
    let now = now_secs(app);
    let valid: Vec<String> = [-60, -30, 0, 30, 60].iter().map(|d| code_at(secret, now + d)).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

/// Moves the server's clock to one second into the next 30-second step: a step no code was accepted in
/// yet, with 29 s of margin before the next boundary.
pub fn align(app: &TestApp) {
    let ms = app.clock.now().millis();
    let target = (ms / 30_000 + 1) * 30_000 + 1_000;
    app.clock.advance(Duration::from_millis(u64::try_from(target - ms).unwrap()));
}

/// `two-factor/enable` with the right password; 2FA is not active yet.
pub async fn enable(app: &TestApp, user: &TestUser) -> Enabled {
    let (status, body) =
        json(app.post_as(user, "/api/auth/two-factor/enable", &json!({"password": PASSWORD})).await).await;
    assert_eq!(status, 200, "enable failed: {body}");
    let uri = body["totpURI"].as_str().expect("totpURI").to_owned();
    let secret = uri.split("secret=").nth(1).and_then(|s| s.split('&').next()).expect("a secret in the URI").to_owned();
    let backup_codes =
        body["backupCodes"].as_array().expect("backupCodes").iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    Enabled { uri, secret, backup_codes }
}

/// Enables 2FA and activates it with a first code (verify-totp with the session).
pub async fn activate(app: &TestApp, user: &TestUser) -> Enabled {
    let enabled = enable(app, user).await;
    align(app);
    let code = current_code(app, &enabled.secret);
    let (status, body) =
        json(app.post_as(user, "/api/auth/two-factor/verify-totp", &json!({"code": code})).await).await;
    assert_eq!(status, 200, "activation failed: {body}");
    enabled
}

/// The `name=value` pair of the pending second-factor cookie the response sets, if any.
pub fn two_factor_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookies(res).into_iter().find_map(|c| {
        let pair = c.split(';').next()?.trim().to_owned();
        let (name, value) = pair.split_once('=')?;
        (name == "better-auth.two_factor" && !value.is_empty()).then_some(pair)
    })
}

/// `sign-in/email` for an account with 2FA on: answers exactly `{"twoFactorRedirect":true}`, sets no session,
/// and gives the pending cookie, returned.
pub async fn sign_in_pending(app: &TestApp, user: &TestUser) -> String {
    let res = app.post_json("/api/auth/sign-in/email", &json!({"email": user.email, "password": PASSWORD})).await;
    assert_eq!(session_cookie(&res), None, "no session before the second factor");
    let cookie = two_factor_cookie(&res).expect("a better-auth.two_factor cookie");
    assert_eq!(json(res).await, (200, json!({"twoFactorRedirect": true})));
    cookie
}

/// POST `/api/auth/two-factor/<route>` `{code}` with the given `Cookie` header (if any).
pub async fn verify(app: &TestApp, cookie: Option<&str>, route: &str, code: &str) -> reqwest::Response {
    let mut req = app.client.post(app.url(&format!("/api/auth/two-factor/{route}"))).json(&json!({"code": code}));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// A completed second step: 200 `{token, user}` with a session cookie for that token and user.
async fn assert_signed_in(app: &TestApp, user: &TestUser, res: reqwest::Response) {
    let cookie = session_cookie(&res).expect("a session cookie once the second factor is verified");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), ["token", "user"]);
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_eq!(body["user"]["email"], user.email.as_str());
    let token = body["token"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("better-auth.session_token={token}")), "{cookie} is for {token}");
    let (status, session) =
        json(app.client.get(app.url("/api/auth/get-session")).header("cookie", &cookie).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(session["user"]["id"], user.id.as_str(), "the new session works: {session}");
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

async fn assert_invalid_code(res: reqwest::Response) {
    assert_eq!(json(res).await, (401, json!({"code": "INVALID_CODE", "message": "Invalid code"})));
}

async fn assert_unauthorized(res: reqwest::Response) {
    let (status, body) = json(res).await;
    assert_eq!((status, &body["code"]), (401, &json!("UNAUTHORIZED")), "{body}");
    assert!(body["message"].is_string(), "{body}");
}

/// A normal (one-step) password sign-in: 200 with a token and a session cookie.
async fn assert_plain_sign_in(app: &TestApp, user: &TestUser) {
    let res = app.post_json("/api/auth/sign-in/email", &json!({"email": user.email, "password": PASSWORD})).await;
    assert!(session_cookie(&res).is_some(), "a session straight away");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string(), "{body}");
    assert_eq!(body.get("twoFactorRedirect"), None, "{body}");
}

async fn wrong_password(app: &TestApp, user: &TestUser, route: &str) {
    let res =
        app.post_as(user, &format!("/api/auth/two-factor/{route}"), &json!({"password": "not the password"})).await;
    assert_eq!(json(res).await, (400, json!({"code": "INVALID_PASSWORD", "message": "Invalid password"})), "{route}");
}

on_both_backends!(
    enable_needs_a_session_and_the_password,
    enable_answers_the_totp_uri_and_ten_backup_codes_and_is_not_active_yet,
    verify_totp_with_a_session_activates_two_factor,
    sign_in_with_two_factor_waits_for_the_code,
    a_time_step_is_accepted_once,
    codes_one_step_off_are_accepted_and_two_steps_off_refused,
    a_backup_code_completes_sign_in_once,
    generating_backup_codes_invalidates_the_old_ones,
    get_totp_uri_needs_the_password,
    disable_turns_the_second_step_off,
    five_wrong_codes_lock_the_second_step,
    verify_routes_need_a_pending_sign_in_or_a_session,
    the_pending_sign_in_expires_after_ten_minutes,
    enabling_signing_in_and_disabling_are_audited,
    secrets_and_backup_codes_are_not_stored_in_clear,
);

async fn enable_needs_a_session_and_the_password(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    wrong_password(&app, &user, "enable").await;
    let res = app.post_json("/api/auth/two-factor/enable", &json!({"password": PASSWORD})).await;
    assert_unauthorized(res).await;
    assert_eq!(app.state.store.two_factor(&user.id).await.unwrap(), None, "nothing was set up");
}

async fn enable_answers_the_totp_uri_and_ten_backup_codes_and_is_not_active_yet(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let (status, body) =
        json(app.post_as(&user, "/api/auth/two-factor/enable", &json!({"password": PASSWORD})).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), ["backupCodes", "totpURI"]);
    let uri = body["totpURI"].as_str().unwrap();
    let secret = uri.split("secret=").nth(1).and_then(|s| s.split('&').next()).unwrap();
    assert_eq!(uri, format!("otpauth://totp/MapQuiz:{}?secret={secret}&issuer=MapQuiz&digits=6&period=30", user.email));
    assert!(secret.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "base32: {secret}");
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    assert!(bytes.len() >= 16, "at least 128 bits of secret, got {}", bytes.len());
    let codes: Vec<&str> = body["backupCodes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| !c.is_empty()));
    let mut distinct = codes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "distinct backup codes: {codes:?}");

    // Not active until a first code is verified: sign-in still completes in one step.
    assert_plain_sign_in(&app, &user).await;
    let row = app.state.store.two_factor(&user.id).await.unwrap().expect("a two-factor row");
    assert!(!row.enabled);
}

async fn verify_totp_with_a_session_activates_two_factor(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = enable(&app, &user).await;
    align(&app);

    // A wrong code does not activate anything.
    let res = app
        .post_as(&user, "/api/auth/two-factor/verify-totp", &json!({"code": wrong_code(&app, &enabled.secret)}))
        .await;
    assert_invalid_code(res).await;
    assert_plain_sign_in(&app, &user).await;

    let code = current_code(&app, &enabled.secret);
    let (status, body) =
        json(app.post_as(&user, "/api/auth/two-factor/verify-totp", &json!({"code": code})).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), ["token", "user"]);
    assert_eq!(body["token"], user.token.as_str(), "the current session's token");
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_eq!(body["user"]["tag"], user.tag.as_str());
    assert!(app.state.store.two_factor(&user.id).await.unwrap().unwrap().enabled);
    // The session that activated it is still valid.
    assert_eq!(json(app.get_as(&user, "/api/auth/get-session").await).await.1["user"]["id"], user.id.as_str());
}

async fn sign_in_with_two_factor_waits_for_the_code(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;

    let res = app.post_json("/api/auth/sign-in/email", &json!({"email": user.email, "password": PASSWORD})).await;
    let cookies = set_cookies(&res);
    assert!(cookies.iter().all(|c| !c.contains("session_token=") || c.contains("session_token=;")), "{cookies:?}");
    let pending = cookies.iter().find(|c| c.starts_with("better-auth.two_factor=")).expect("the pending cookie");
    let (pair, attributes) = pending.split_once(';').unwrap();
    assert!(pair.len() > "better-auth.two_factor=".len(), "{pending}");
    assert_eq!(attributes, " Max-Age=600; Path=/; HttpOnly; SameSite=Lax");
    assert_eq!(json(res).await, (200, json!({"twoFactorRedirect": true})));

    // The pending cookie is not a session.
    let res = app.client.get(app.url("/api/auth/get-session")).header("cookie", pair).send().await.unwrap();
    assert_eq!(json(res).await, (200, Value::Null));

    align(&app);
    let res = verify(&app, Some(pair), "verify-totp", &current_code(&app, &enabled.secret)).await;
    assert_signed_in(&app, &user, res).await;
}

async fn a_time_step_is_accepted_once(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    align(&app);
    let code = current_code(&app, &enabled.secret);

    let pending = sign_in_pending(&app, &user).await;
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-totp", &code).await).await;

    // Same code, same step, a new pending sign-in: a replay.
    let pending = sign_in_pending(&app, &user).await;
    assert_invalid_code(verify(&app, Some(&pending), "verify-totp", &code).await).await;
    // The step of the activation code is spent too: the next step works.
    align(&app);
    assert_signed_in(
        &app,
        &user,
        verify(&app, Some(&pending), "verify-totp", &current_code(&app, &enabled.secret)).await,
    )
    .await;
}

async fn codes_one_step_off_are_accepted_and_two_steps_off_refused(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;

    // Typed 30 s late: the previous step.
    align(&app);
    let pending = sign_in_pending(&app, &user).await;
    let late = current_code(&app, &enabled.secret);
    app.clock.advance(Duration::from_secs(30));
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-totp", &late).await).await;

    // The phone is 30 s ahead: the next step.
    align(&app);
    let pending = sign_in_pending(&app, &user).await;
    let early = code_at(&enabled.secret, now_secs(&app) + 30);
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-totp", &early).await).await;

    // Two steps either way: refused.
    align(&app);
    align(&app);
    let pending = sign_in_pending(&app, &user).await;
    let too_late = current_code(&app, &enabled.secret);
    app.clock.advance(Duration::from_secs(60));
    assert_invalid_code(verify(&app, Some(&pending), "verify-totp", &too_late).await).await;
    let too_early = code_at(&enabled.secret, now_secs(&app) + 60);
    assert_invalid_code(verify(&app, Some(&pending), "verify-totp", &too_early).await).await;
    // The same pending sign-in still completes with the right code.
    align(&app);
    assert_signed_in(
        &app,
        &user,
        verify(&app, Some(&pending), "verify-totp", &current_code(&app, &enabled.secret)).await,
    )
    .await;
}

async fn a_backup_code_completes_sign_in_once(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let [first, second, ..] = enabled.backup_codes.as_slice() else { panic!("backup codes") };

    let pending = sign_in_pending(&app, &user).await;
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-backup-code", first).await).await;

    let pending = sign_in_pending(&app, &user).await;
    assert_invalid_code(verify(&app, Some(&pending), "verify-backup-code", first).await).await;
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-backup-code", second).await).await;
}

async fn generating_backup_codes_invalidates_the_old_ones(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    wrong_password(&app, &user, "generate-backup-codes").await;

    let res = app.post_as(&user, "/api/auth/two-factor/generate-backup-codes", &json!({"password": PASSWORD})).await;
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), ["backupCodes", "status"]);
    assert_eq!(body["status"], true);
    let fresh: Vec<String> =
        body["backupCodes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !enabled.backup_codes.contains(c)), "new codes: {fresh:?}");

    let pending = sign_in_pending(&app, &user).await;
    assert_invalid_code(verify(&app, Some(&pending), "verify-backup-code", &enabled.backup_codes[0]).await).await;
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-backup-code", &fresh[0]).await).await;
}

async fn get_totp_uri_needs_the_password(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    wrong_password(&app, &user, "get-totp-uri").await;
    let res = app.post_as(&user, "/api/auth/two-factor/get-totp-uri", &json!({"password": PASSWORD})).await;
    assert_eq!(json(res).await, (200, json!({"totpURI": enabled.uri})));
}

async fn disable_turns_the_second_step_off(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    activate(&app, &user).await;
    wrong_password(&app, &user, "disable").await;
    sign_in_pending(&app, &user).await;

    let res = app.post_as(&user, "/api/auth/two-factor/disable", &json!({"password": PASSWORD})).await;
    assert_eq!(json(res).await, (200, json!({"status": true})));
    assert_plain_sign_in(&app, &user).await;
}

async fn five_wrong_codes_lock_the_second_step(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let pending = sign_in_pending(&app, &user).await;
    align(&app);
    for _ in 0..5 {
        assert_invalid_code(verify(&app, Some(&pending), "verify-totp", &wrong_code(&app, &enabled.secret)).await)
            .await;
    }
    let too_many = json!({"code": "TOO_MANY_REQUESTS", "message": "Too many requests. Please try again later."});
    let res = verify(&app, Some(&pending), "verify-totp", &current_code(&app, &enabled.secret)).await;
    assert_eq!(json(res).await, (429, too_many.clone()), "even the right code");
    let res = verify(&app, Some(&pending), "verify-backup-code", &enabled.backup_codes[0]).await;
    assert_eq!(json(res).await, (429, too_many), "and a backup code");
}

async fn verify_routes_need_a_pending_sign_in_or_a_session(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    align(&app);
    let code = current_code(&app, &enabled.secret);
    assert_unauthorized(verify(&app, None, "verify-totp", &code).await).await;
    assert_unauthorized(verify(&app, None, "verify-backup-code", &enabled.backup_codes[0]).await).await;

    // A forged pending cookie is no pending sign-in.
    let pending = sign_in_pending(&app, &user).await;
    let (name, value) = pending.split_once('=').unwrap();
    let forged = format!("{name}=x{value}");
    assert_unauthorized(verify(&app, Some(&forged), "verify-totp", &code).await).await;
    assert_unauthorized(verify(&app, Some(&forged), "verify-backup-code", &enabled.backup_codes[0]).await).await;

    // The session-only routes.
    for route in ["enable", "disable", "get-totp-uri", "generate-backup-codes"] {
        let res = app.post_json(&format!("/api/auth/two-factor/{route}"), &json!({"password": PASSWORD})).await;
        assert_unauthorized(res).await;
    }
    // None of this used up the code or the backup code.
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-totp", &code).await).await;
    let pending = sign_in_pending(&app, &user).await;
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-backup-code", &enabled.backup_codes[0]).await)
        .await;
}

async fn the_pending_sign_in_expires_after_ten_minutes(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let pending = sign_in_pending(&app, &user).await;
    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    align(&app);
    let code = current_code(&app, &enabled.secret);
    assert_unauthorized(verify(&app, Some(&pending), "verify-totp", &code).await).await;
    // A new sign-in is asked for; it goes through with the same code.
    let pending = sign_in_pending(&app, &user).await;
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-totp", &code).await).await;
}

async fn enabling_signing_in_and_disabling_are_audited(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let pending = sign_in_pending(&app, &user).await;
    align(&app);
    let code = current_code(&app, &enabled.secret);
    assert_signed_in(&app, &user, verify(&app, Some(&pending), "verify-totp", &code).await).await;
    let res = app.post_as(&user, "/api/auth/two-factor/disable", &json!({"password": PASSWORD})).await;
    assert_eq!(json(res).await.0, 200);

    let trail = app.state.store.audit_trail(Some(&user.id), 50).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    for action in ["two_factor_enabled", "two_factor_disabled"] {
        let entries: Vec<_> = trail.iter().filter(|e| e.action == action).collect();
        assert_eq!(entries.len(), 1, "one {action} line in {actions:?}");
        assert_eq!(entries[0].user_id.as_deref(), Some(user.id.as_str()));
        assert_eq!(entries[0].ip_address.as_deref(), Some("127.0.0.1"));
    }
    let enabled_at = actions.iter().position(|a| *a == "two_factor_enabled").unwrap();
    let disabled_at = actions.iter().position(|a| *a == "two_factor_disabled").unwrap();
    assert!(disabled_at < enabled_at, "newest first: {actions:?}");
    assert!(
        trail
            .iter()
            .any(|e| e.action == "sign_in"
                && e.details.as_ref().and_then(|d| d.get("method")) == Some(&json!("two_factor"))),
        "a sign_in with method two_factor: {trail:?}"
    );
    let text = serde_json::to_string(&trail).unwrap();
    assert!(!text.contains(&enabled.secret), "no secret in the audit trail");
    assert!(!text.contains(&code), "no code in the audit trail");
    assert!(enabled.backup_codes.iter().all(|c| !text.contains(c.as_str())), "no backup code in the audit trail");
}

async fn secrets_and_backup_codes_are_not_stored_in_clear(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let user = app.sign_up("Ada").await;
    let enabled = activate(&app, &user).await;
    let raw = totp_rs::Secret::Encoded(enabled.secret.clone()).to_bytes().unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();

    let row = app.state.store.two_factor(&user.id).await.unwrap().expect("a two-factor row");
    assert!(row.enabled);
    for form in [enabled.secret.clone(), enabled.secret.to_lowercase(), hex.clone()] {
        assert!(!row.secret.contains(&form), "the secret is stored in clear: {:?}", row.secret);
    }
    assert_eq!(row.backup_codes.len(), 10);
    for code in &enabled.backup_codes {
        assert!(row.backup_codes.iter().all(|stored| !stored.contains(code.as_str())), "{code} stored in clear");
    }

    let res = app.post_as(&user, "/api/auth/two-factor/generate-backup-codes", &json!({"password": PASSWORD})).await;
    let (_, body) = json(res).await;
    let row = app.state.store.two_factor(&user.id).await.unwrap().unwrap();
    for code in body["backupCodes"].as_array().unwrap() {
        let code = code.as_str().unwrap();
        assert!(row.backup_codes.iter().all(|stored| !stored.contains(code)), "{code} stored in clear");
    }
}
