//! Email sign-up and sign-in, the session cookie, get-session, expiry and sliding refresh, sign-out, lockout,
//! the auth rate limit and the origin check on auth routes (protocol §1.1.1, §1.1.3, §1.1.5, §1.4.1,
//! §1.4.4–§1.4.6; checklist 21–33, 39, 40).

use crate::support::auth::*;
use crate::support::{PASSWORD, TestApp, header, is_timestamp, json, on_both_backends, session_cookie};
use serde_json::{Value, json};
use std::time::Duration;

const SESSION_KEYS: &[&str] =
    &["id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId"];
const USER_KEYS: &[&str] = &["id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "tag"];
const TOO_MANY: (&str, &str) = ("TOO_MANY_REQUESTS", "Too many requests. Please try again later.");
const BAD_CREDENTIALS: (&str, &str) = ("INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");

/// The exact attributes of a session cookie in the default (insecure, Lax, 7-day) mode.
fn default_session_attributes() -> std::collections::BTreeSet<String> {
    set(&["Max-Age=604800", "Path=/", "HttpOnly", "SameSite=Lax"])
}

/// Asserts a 429 from the auth routes: exact body, `Retry-After` and `X-Retry-After` equal and numeric.
async fn assert_auth_429(res: reqwest::Response, max_secs: u64) {
    let retry = header(&res, "retry-after").expect("Retry-After");
    let x_retry = header(&res, "x-retry-after").expect("X-Retry-After");
    let secs: u64 = retry.parse().unwrap_or_else(|_| panic!("Retry-After is not a number of seconds: {retry:?}"));
    assert!((1..=max_secs).contains(&secs), "Retry-After {secs} not in 1..={max_secs}");
    assert_eq!(x_retry, retry, "X-Retry-After carries the same value");
    let (status, body) = json(res).await;
    assert_auth_error(status, &body, 429, TOO_MANY.0, TOO_MANY.1);
}

// ---------------------------------------------------------------------------------------------------------
// Sign-up (§1.4.5, checklist 22–24)
// ---------------------------------------------------------------------------------------------------------

async fn sign_up_answers_token_and_user_and_signs_in(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let before = now_ms(&app);
    let res = sign_up_raw(
        &app,
        &json!({"name": "Alice", "email": "Alice.Mixed@Example.COM", "password": PASSWORD, "tag": "AAAAAAAA"}),
    )
    .await;
    let cookie = session_set_cookie(&res).expect("sign-up sets the session cookie");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["token", "user"]), "{body}");
    let token = body["token"].as_str().unwrap();
    assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_alphanumeric()), "session token form: {token}");
    let user = &body["user"];
    assert_eq!(keys(user), set(&["id", "email", "name", "image", "emailVerified", "createdAt", "updatedAt", "tag"]));
    assert_eq!(user["email"], "alice.mixed@example.com", "the email is lower-cased");
    assert_eq!(user["name"], "Alice");
    assert_eq!(user["image"], Value::Null);
    assert_eq!(user["emailVerified"], false);
    let tag = user["tag"].as_str().unwrap();
    assert!(is_tag(tag), "tag {tag:?} is 8 characters of the tag alphabet");
    assert_ne!(tag, "AAAAAAAA", "clients cannot choose their tag");
    for k in ["createdAt", "updatedAt"] {
        let at = ts_millis(&user[k]);
        assert!((before - 1000..=now_ms(&app) + 1000).contains(&at), "{k} is now");
    }
    // The cookie is the signed token (checklist 26).
    assert_eq!(cookie.name, "better-auth.session_token");
    assert_eq!(cookie.value, expected_cookie_value(token));
    assert_eq!(cookie.attribute_set(), default_session_attributes(), "{cookie:?}");

    // get-session then returns that user (checklist 22).
    let session = session_of(&app, &format!("better-auth.session_token={}", cookie.value)).await;
    assert_eq!(session["user"]["id"], user["id"]);
    assert_eq!(session["user"]["email"], "alice.mixed@example.com");
    assert_eq!(session["user"]["tag"], tag);

    // The mixed-case address signs in as the same account.
    let (status, body) = json(sign_in_raw(&app, "ALICE.MIXED@example.com", PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], user["id"]);
}
on_both_backends!(sign_up_answers_token_and_user_and_signs_in);

async fn sign_up_with_an_existing_email_gets_422_and_creates_nothing(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let email = unique_email("dup");
    let first = sign_up_as(&app, "Dupont", &email, PASSWORD).await;
    for candidate in [email.clone(), email.to_uppercase()] {
        let res =
            sign_up_raw(&app, &json!({"name": "Dupond", "email": candidate, "password": "another password"})).await;
        assert_eq!(session_cookie(&res), None, "no session for a refused sign-up");
        let (status, body) = json(res).await;
        assert_auth_error(status, &body, 422, "USER_ALREADY_EXISTS", "User already exists");
    }
    // Still one account: the first password signs in, the second does not.
    let (status, body) = json(sign_in_raw(&app, &email, PASSWORD).await).await;
    assert_eq!((status, body["user"]["id"].as_str()), (200, Some(first.id.as_str())));
    let (status, body) = json(sign_in_raw(&app, &email, "another password").await).await;
    assert_auth_error(status, &body, 401, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1);
    // And no second user named Dupond is listed.
    let other = app.sign_up("Observer").await;
    let (status, body) = json(app.get_as(&other, "/api/users?q=Dupon").await).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Dupont"]);
}
on_both_backends!(sign_up_with_an_existing_email_gets_422_and_creates_nothing);

#[tokio::test]
async fn sign_up_validation_follows_the_table_order() {
    let app = roomy().await;
    let bad_name = "   ";
    let cases: Vec<(Value, &str, &str)> = vec![
        // Each row wins over every row below it.
        (json!({"name": bad_name, "email": "not-an-email", "password": "short"}), "INVALID_EMAIL", "Invalid email"),
        (json!({"name": bad_name, "email": "a@b", "password": PASSWORD}), "INVALID_EMAIL", "Invalid email"),
        (json!({"name": bad_name, "email": unique_email("nopw")}), "INVALID_PASSWORD", "Invalid password"),
        (
            json!({"name": bad_name, "email": unique_email("short"), "password": "1234567"}),
            "PASSWORD_TOO_SHORT",
            "Password too short",
        ),
        (
            json!({"name": bad_name, "email": unique_email("long"), "password": "x".repeat(129)}),
            "PASSWORD_TOO_LONG",
            "Password too long",
        ),
        (
            json!({"name": bad_name, "email": unique_email("name"), "password": PASSWORD}),
            "VALIDATION_ERROR",
            "Invalid name",
        ),
    ];
    for (body, code, message) in cases {
        let res = sign_up_raw(&app, &body).await;
        assert_eq!(session_cookie(&res), None);
        let (status, answer) = json(res).await;
        assert_eq!((status, &answer), (400, &json!({"code": code, "message": message})), "for {body}");
    }
}

#[tokio::test]
async fn sign_up_refuses_bad_names_and_keeps_html_verbatim() {
    let app = roomy().await;
    let fifty_one = "é".repeat(51);
    for name in ["", "   ", "\t \n", "a\u{0007}b", "line\nbreak", "tab\there", "nul\u{0000}", fifty_one.as_str()] {
        let (status, body) =
            json(sign_up_raw(&app, &json!({"name": name, "email": unique_email("n"), "password": PASSWORD})).await)
                .await;
        assert_eq!(
            (status, &body),
            (400, &json!({"code": "VALIDATION_ERROR", "message": "Invalid name"})),
            "name {name:?}"
        );
    }
    // Password length counts characters: 8 two-byte characters are enough, 128 are not too many.
    let ok = sign_up_as(&app, &"é".repeat(50), &unique_email("fifty"), &"é".repeat(128)).await;
    assert_eq!(ok.name.chars().count(), 50);
    let (status, _) = json(sign_in_raw(&app, &ok.email, &"é".repeat(128)).await).await;
    assert_eq!(status, 200);

    let html = "<script>alert('x')</script>";
    let user = sign_up_as(&app, html, &unique_email("html"), PASSWORD).await;
    let session = session_of(&app, &user.cookie).await;
    assert_eq!(session["user"]["name"], html, "names are stored verbatim, never interpreted");
    let other = app.sign_up("Reader").await;
    let (_, body) = json(app.get_as(&other, &format!("/api/users/{}", user.id)).await).await;
    assert_eq!(body["user"]["name"], html);
}

#[tokio::test]
async fn sign_up_keeps_the_image_it_is_given() {
    let app = roomy().await;
    let res = sign_up_raw(
        &app,
        &json!({"name": "Pic", "email": unique_email("pic"), "password": PASSWORD, "image": "https://img.example/p.png"}),
    )
    .await;
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["image"], "https://img.example/p.png");
}

// ---------------------------------------------------------------------------------------------------------
// Sign-in (§1.4.6, checklist 25, 28)
// ---------------------------------------------------------------------------------------------------------

async fn sign_in_answers_redirect_false_token_and_user(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Bob").await;
    let res = sign_in_raw(&app, &user.email, PASSWORD).await;
    assert_eq!(header(&res, "location"), None, "no Location without a callbackURL");
    let cookie = session_set_cookie(&res).expect("a session cookie");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["redirect", "token", "user"]), "no url without a callbackURL: {body}");
    assert_eq!(body["redirect"], false);
    let token = body["token"].as_str().unwrap();
    assert_ne!(token, user.token, "a new session");
    assert_eq!(
        keys(&body["user"]),
        set(&["id", "email", "name", "image", "emailVerified", "createdAt", "updatedAt", "tag"])
    );
    assert_eq!(body["user"]["id"], user.id.as_str());
    assert_eq!(body["user"]["tag"], user.tag.as_str());
    assert_eq!(body["user"]["email"], user.email.as_str());
    // checklist 26: the exact value and attributes.
    assert_eq!(cookie.name, "better-auth.session_token");
    assert_eq!(cookie.value, expected_cookie_value(token));
    assert!(cookie.value.len() > 32 + 1 + 44, "the signature's +, / and = are percent-encoded: {}", cookie.value);
    assert_eq!(cookie.attribute_set(), default_session_attributes(), "{cookie:?}");
    // Both sessions are valid.
    assert_eq!(session_of(&app, &cookie_for(token)).await["user"]["id"], user.id.as_str());
    assert_eq!(session_of(&app, &user.cookie).await["user"]["id"], user.id.as_str());
}
on_both_backends!(sign_in_answers_redirect_false_token_and_user);

#[tokio::test]
async fn sign_in_with_a_callback_url_redirects_there() {
    let app = roomy().await;
    let user = app.sign_up("Carol").await;
    let target = "http://localhost:5173/after-sign-in";
    let res = sign_in_body(&app, &json!({"email": user.email, "password": PASSWORD, "callbackURL": target})).await;
    assert_eq!(header(&res, "location").as_deref(), Some(target));
    assert!(session_set_cookie(&res).is_some());
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], true);
    assert_eq!(body["url"], target);
    assert!(body["token"].is_string() && body["user"]["id"] == user.id.as_str());
}

#[tokio::test]
async fn sign_in_with_a_foreign_callback_url_is_refused() {
    let app = roomy().await;
    let user = app.sign_up("Dave").await;
    let res =
        sign_in_body(&app, &json!({"email": user.email, "password": PASSWORD, "callbackURL": "https://evil.example/"}))
            .await;
    assert_eq!(session_cookie(&res), None, "no session for a refused sign-in");
    assert_eq!(header(&res, "location"), None);
    let (status, body) = json(res).await;
    assert_auth_error(status, &body, 403, "INVALID_CALLBACKURL", "Invalid callbackURL");
}

#[tokio::test]
async fn unknown_email_wrong_password_and_passwordless_account_get_the_same_401() {
    let app = roomy().await;
    let user = app.sign_up("Erin").await;
    // A Google-only account (no password): the protocol's only way to create one is the OAuth flow with an
    // identity provider, so it is created through the store.
    let google_email = unique_email("google-only");
    let now = now_ms(&app);
    let ts = mapquiz_domain::Timestamp::from_millis(now).unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    app.state
        .store
        .create_user(
            &mapquiz_store::NewUser {
                id: id.clone(),
                name: "Googler".into(),
                email: google_email.clone(),
                email_verified: true,
                image: None,
                tag: "GGGGHHHH".into(),
                created_at: ts,
            },
            &mapquiz_store::Account {
                id: uuid::Uuid::now_v7().to_string(),
                user_id: id,
                provider_id: "google".into(),
                account_id: "google-sub-123".into(),
                password_hash: None,
                created_at: ts,
                updated_at: ts,
            },
        )
        .await
        .unwrap();
    for (email, password) in [
        (unique_email("nobody"), PASSWORD.to_owned()),
        (user.email.clone(), "wrong password!".to_owned()),
        (google_email, PASSWORD.to_owned()),
    ] {
        let res = sign_in_raw(&app, &email, &password).await;
        assert!(set_cookie_names(&res).iter().all(|n| !n.ends_with("session_token")), "no session cookie");
        let (status, body) = json(res).await;
        assert_auth_error(status, &body, 401, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1);
    }
    let (status, body) = json(sign_in_raw(&app, "not-an-email", PASSWORD).await).await;
    assert_auth_error(status, &body, 400, "INVALID_EMAIL", "Invalid email");
}

fn set_cookie_names(res: &reqwest::Response) -> Vec<String> {
    parsed_cookies(res).into_iter().filter(|c| !c.value.is_empty()).map(|c| c.name).collect()
}

#[tokio::test]
async fn a_sign_in_from_the_frontend_origin_is_allowed() {
    let app = roomy().await;
    let user = app.sign_up("Fay").await;
    let res = app
        .client
        .post(app.url("/api/auth/sign-in/email"))
        .header("origin", "http://localhost:5173")
        .json(&json!({"email": user.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("http://localhost:5173"));
    assert_eq!(header(&res, "access-control-allow-credentials").as_deref(), Some("true"));
    assert_eq!(json(res).await.0, 200);
}

// ---------------------------------------------------------------------------------------------------------
// Cookie modes (§1.1.5, checklist 27)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn secure_mode_uses_the_secure_prefix_and_reads_only_that_name() {
    let app = TestApp::spawn_with(false, |f| f.merge(("secure_cookies", true)).merge(("rate_limit_auth_max", 1000)))
        .await
        .unwrap();
    let email = unique_email("secure");
    let res = sign_up_raw(&app, &json!({"name": "Sec", "email": email, "password": PASSWORD})).await;
    let cookie = session_set_cookie(&res).expect("a session cookie");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    assert_eq!(cookie.name, "__Secure-better-auth.session_token");
    assert_eq!(cookie.value, expected_cookie_value(token));
    assert_eq!(cookie.attribute_set(), set(&["Max-Age=604800", "Path=/", "HttpOnly", "SameSite=Lax", "Secure"]));

    let prefixed = format!("__Secure-better-auth.session_token={}", cookie.value);
    assert_eq!(session_of(&app, &prefixed).await["user"]["id"], body["user"]["id"]);
    assert_eq!(
        session_of(&app, &cookie_for(token)).await,
        Value::Null,
        "the unprefixed name is not read in secure mode"
    );
    let res = app.client.get(app.url("/api/users/me/tag")).header("cookie", cookie_for(token)).send().await.unwrap();
    assert_eq!(json(res).await.0, 401);

    // Sign-out clears the prefixed names, with Secure.
    let res = app.client.post(app.url("/api/auth/sign-out")).header("cookie", &prefixed).json(&json!({})).send().await;
    let res = res.unwrap();
    assert_cleared(&parsed_cookies(&res), "__Secure-", true);
    assert_eq!(json(res).await, (200, json!({"success": true})));
}

#[tokio::test]
async fn same_site_none_and_a_cookie_domain_are_applied() {
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("secure_cookies", true)).merge(("cookie_same_site", "none")).merge(("cookie_domain", "mapquiz.test"))
    })
    .await
    .unwrap();
    let res = sign_up_raw(&app, &json!({"name": "Cross", "email": unique_email("cross"), "password": PASSWORD})).await;
    let cookie = session_set_cookie(&res).expect("a session cookie");
    assert_eq!(json(res).await.0, 200);
    assert_eq!(cookie.name, "__Secure-better-auth.session_token");
    assert_eq!(
        cookie.attribute_set(),
        set(&["Max-Age=604800", "Path=/", "HttpOnly", "SameSite=None", "Secure", "Domain=mapquiz.test"]),
        "{cookie:?}"
    );
}

#[tokio::test]
async fn no_domain_attribute_unless_configured() {
    let app = roomy().await;
    let res = sign_up_raw(&app, &json!({"name": "Dom", "email": unique_email("dom"), "password": PASSWORD})).await;
    let cookie = session_set_cookie(&res).unwrap();
    assert!(cookie.attributes.iter().all(|a| !a.to_ascii_lowercase().starts_with("domain")), "{cookie:?}");
}

// ---------------------------------------------------------------------------------------------------------
// get-session (§1.4.1, checklist 21, 30, 31)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_session_without_credentials_is_null() {
    let app = TestApp::spawn().await;
    let res = get_session_with_cookie(&app, None).await;
    assert!(parsed_cookies(&res).is_empty(), "nothing to clear");
    assert_eq!(json(res).await, (200, Value::Null));
    let (status, body) = json(get_session_with_cookie(&app, Some("better-auth.session_token=")).await).await;
    assert_eq!((status, body), (200, Value::Null));
}

async fn get_session_has_the_full_shape(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = sign_up_as(&app, "Gina", &unique_email("gina"), PASSWORD).await;
    let body = session_of(&app, &user.cookie).await;
    assert_eq!(keys(&body), set(&["session", "user"]), "{body}");
    let (s, u) = (&body["session"], &body["user"]);
    assert_eq!(keys(s), set(SESSION_KEYS), "{s}");
    assert_eq!(keys(u), set(USER_KEYS), "{u}");
    assert!(s["id"].is_string());
    assert_eq!(s["token"], user.token.as_str());
    assert_eq!(s["userId"], user.id.as_str());
    assert_eq!(s["ipAddress"], "127.0.0.1");
    assert_eq!(s["userAgent"], UA, "the user agent of the sign-up request");
    let created = ts_millis(&s["createdAt"]);
    ts_millis(&s["updatedAt"]);
    assert!((ts_millis(&s["expiresAt"]) - (created + 7 * DAY_MS)).abs() < 5_000, "sessions last 7 days: {s}");
    assert_eq!(u["id"], user.id.as_str());
    assert_eq!(u["name"], "Gina");
    assert_eq!(u["email"], user.email.as_str());
    assert_eq!(u["emailVerified"], false);
    assert_eq!(u["image"], Value::Null);
    assert_eq!(u["tag"], user.tag.as_str());
    ts_millis(&u["createdAt"]);
    ts_millis(&u["updatedAt"]);
}
on_both_backends!(get_session_has_the_full_shape);

#[tokio::test]
async fn a_tampered_or_foreign_signature_is_no_session() {
    let app = roomy().await;
    let user = app.sign_up("Hal").await;
    let signed = signed_token(&user.token);
    let (token, sig) = signed.rsplit_once('.').unwrap();
    // One character of the signature changed.
    let mut bad: Vec<char> = sig.chars().collect();
    bad[3] = if bad[3] == 'A' { 'B' } else { 'A' };
    let bad_sig: String = bad.into_iter().collect();
    let forged = format!("better-auth.session_token={}", encode_uri_component(&format!("{token}.{bad_sig}")));
    assert_eq!(session_of(&app, &forged).await, Value::Null);
    // Signed with another secret.
    let other = format!(
        "better-auth.session_token={}",
        encode_uri_component(&format!(
            "{token}.{}",
            signature_with("another-secret-0123456789-abcdefghijklmnop", token)
        ))
    );
    assert_eq!(session_of(&app, &other).await, Value::Null);
    // The raw token, unsigned, in the cookie.
    assert_eq!(session_of(&app, &format!("better-auth.session_token={token}")).await, Value::Null);
    // A correctly signed token that names no session.
    assert_eq!(session_of(&app, &cookie_for("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).await, Value::Null);
    // Truncated signature.
    let short = format!("better-auth.session_token={}", encode_uri_component(&format!("{token}.{}", &sig[..43])));
    assert_eq!(session_of(&app, &short).await, Value::Null);
    // The genuine cookie still works.
    assert_eq!(session_of(&app, &cookie_for(&user.token)).await["user"]["id"], user.id.as_str());
    let (status, _) =
        json(app.client.get(app.url("/api/users/me/tag")).header("cookie", &forged).send().await.unwrap()).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bearer_raw_and_signed_tokens_authenticate() {
    let app = roomy().await;
    let user = app.sign_up("Ivy").await;
    let signed = signed_token(&user.token);
    for credential in [user.token.clone(), signed.clone(), encode_uri_component(&signed)] {
        let auth = format!("Bearer {credential}");
        let (status, body) = json(get_with_auth(&app, "/api/auth/get-session", &auth).await).await;
        assert_eq!(status, 200);
        assert_eq!(body["user"]["id"], user.id.as_str(), "get-session with {auth}");
        let (status, body) = json(get_with_auth(&app, "/api/users/me/tag", &auth).await).await;
        assert_eq!((status, body), (200, json!({"tag": user.tag})), "/api/users/me/tag with {auth}");
    }
}

#[tokio::test]
async fn an_invalid_bearer_does_not_fall_back_to_the_cookie() {
    let app = roomy().await;
    let user = app.sign_up("Jay").await;
    let bad_bearer = "Bearer ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
    let res = app
        .client
        .get(app.url("/api/auth/get-session"))
        .header("cookie", &user.cookie)
        .header("authorization", bad_bearer)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert!((status, &body) == (200, &Value::Null) || status == 401, "no fallback to the cookie: {status} {body}");
    let res = app
        .client
        .get(app.url("/api/users/me/tag"))
        .header("cookie", &user.cookie)
        .header("authorization", bad_bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await, (401, json!({"error": "Non autorisé", "code": "unauthorized"})));
}

#[tokio::test]
async fn the_x_user_id_header_is_ignored() {
    let app = roomy().await;
    let user = app.sign_up("Kim").await;
    let res = app.client.get(app.url("/api/auth/get-session")).header("x-user-id", &user.id).send().await.unwrap();
    assert_eq!(json(res).await, (200, Value::Null));
    let res = app.client.get(app.url("/api/users/me/tag")).header("x-user-id", &user.id).send().await.unwrap();
    assert_eq!(json(res).await, (401, json!({"error": "Non autorisé", "code": "unauthorized"})));
}

// ---------------------------------------------------------------------------------------------------------
// Expiry and sliding refresh (§1.1.5, §1.4.1, checklist 32, 33)
// ---------------------------------------------------------------------------------------------------------

async fn an_expired_session_is_null_deleted_and_its_cookies_cleared(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Lea").await;
    let session = session_of(&app, &user.cookie).await; // also warms any session cache
    let session_id = session["session"]["id"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 60));
    let res = get_session_with_cookie(&app, Some(&user.cookie)).await;
    assert_cleared(&parsed_cookies(&res), "", false);
    assert_eq!(json(res).await, (200, Value::Null));
    // The protocol offers no HTTP way to see a deleted row: count it in the database.
    let rows = sql_count(&app, &format!("SELECT COUNT(*) FROM sessions WHERE id = {}", sql_str(&session_id))).await;
    assert_eq!(rows, 0, "the expired session row is deleted");
    let (status, _) = json(app.get_as(&user, "/api/users/me/tag").await).await;
    assert_eq!(status, 401);
}
on_both_backends!(an_expired_session_is_null_deleted_and_its_cookies_cleared);

#[tokio::test]
async fn an_expired_session_is_refused_on_application_routes_too() {
    let app = roomy().await;
    let user = app.sign_up("Max").await;
    assert_eq!(json(app.get_as(&user, "/api/users/me/tag").await).await.0, 200); // warms any cache
    app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    assert_eq!(json(app.get_as(&user, "/api/users/me/tag").await).await.0, 401);
    let (status, _) = json(get_with_auth(&app, "/api/users/me/tag", &user.bearer()).await).await;
    assert_eq!(status, 401);
}

async fn get_session_slides_the_expiry_after_one_day(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Ned").await;
    let first = session_of(&app, &user.cookie).await;
    let original = ts_millis(&first["session"]["expiresAt"]);

    // Younger than a day: validity only, no re-issued cookie.
    app.clock.advance(Duration::from_secs(23 * 3600));
    let res = get_session_with_cookie(&app, Some(&user.cookie)).await;
    assert_eq!(session_set_cookie(&res), None, "no refresh before one day");
    let (_, body) = json(res).await;
    assert_eq!(ts_millis(&body["session"]["expiresAt"]), original);

    // Older than a day: expiresAt moves to about now + 7 d and the cookie is re-issued.
    app.clock.advance(Duration::from_secs(3600 + 120));
    let res = get_session_with_cookie(&app, Some(&user.cookie)).await;
    let cookie = session_set_cookie(&res).expect("the cookie is re-issued");
    assert_eq!(cookie.value, expected_cookie_value(&user.token), "same session, same token");
    assert_eq!(cookie.attribute_set(), default_session_attributes());
    let (status, body) = json(res).await;
    assert_eq!(status, 200);
    let extended = ts_millis(&body["session"]["expiresAt"]);
    assert!((extended - (now_ms(&app) + 7 * DAY_MS)).abs() < 10_000, "expiresAt ≈ now + 7 d");
    assert!(extended > original + DAY_MS - 10_000);
    ts_millis(&body["session"]["updatedAt"]);

    // The extension is stored: the session outlives its original expiry.
    app.clock.advance(Duration::from_secs(6 * 24 * 3600 + 3600));
    assert!(now_ms(&app) > original);
    assert_eq!(session_of(&app, &user.cookie).await["user"]["id"], user.id.as_str());
}
on_both_backends!(get_session_slides_the_expiry_after_one_day);

#[tokio::test]
async fn disable_refresh_prevents_the_extension() {
    let app = roomy().await;
    let user = app.sign_up("Ola").await;
    let original = ts_millis(&session_of(&app, &user.cookie).await["session"]["expiresAt"]);
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    let res = app
        .client
        .get(app.url("/api/auth/get-session?disableRefresh=true&disableCookieCache=true"))
        .header("cookie", &user.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(session_set_cookie(&res), None, "no re-issued cookie with disableRefresh=true");
    let (status, body) = json(res).await;
    assert_eq!(status, 200);
    assert_eq!(ts_millis(&body["session"]["expiresAt"]), original, "not extended");
    // Without the flag it is extended.
    let body = session_of(&app, &user.cookie).await;
    assert!(ts_millis(&body["session"]["expiresAt"]) > original + DAY_MS);
}

#[tokio::test]
async fn other_requests_only_check_validity() {
    let app = roomy().await;
    let user = app.sign_up("Pia").await;
    let original = ts_millis(&session_of(&app, &user.cookie).await["session"]["expiresAt"]);
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    let res = app.get_as(&user, "/api/users/me/tag").await;
    assert_eq!(session_set_cookie(&res), None, "only get-session refreshes");
    assert_eq!(json(res).await.0, 200);
    let body = app
        .client
        .get(app.url("/api/auth/get-session?disableRefresh=true"))
        .header("cookie", &user.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(ts_millis(&json(body).await.1["session"]["expiresAt"]), original);
}

#[tokio::test]
async fn remember_me_false_lasts_one_day_without_max_age_and_is_never_extended() {
    let app = roomy().await;
    let user = app.sign_up("Quinn").await;
    let res = sign_in_body(&app, &json!({"email": user.email, "password": PASSWORD, "rememberMe": false})).await;
    let cookie = session_set_cookie(&res).expect("a session cookie");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    assert_eq!(cookie.value, expected_cookie_value(token));
    assert_eq!(cookie.attribute_set(), set(&["Path=/", "HttpOnly", "SameSite=Lax"]), "a session cookie: no Max-Age");

    let c = cookie_for(token);
    let res = get_session_with_cookie(&app, Some(&c)).await;
    assert_eq!(session_set_cookie(&res), None, "never extended, so never re-issued");
    let (_, first) = json(res).await;
    let expires = ts_millis(&first["session"]["expiresAt"]);
    assert!((expires - (now_ms(&app) + DAY_MS)).abs() < 10_000, "expires after 1 day: {first}");

    app.clock.advance(Duration::from_secs(20 * 3600));
    let res = get_session_with_cookie(&app, Some(&c)).await;
    assert_eq!(session_set_cookie(&res), None);
    let (_, body) = json(res).await;
    assert_eq!(ts_millis(&body["session"]["expiresAt"]), expires, "not extended");

    app.clock.advance(Duration::from_secs(4 * 3600 + 60));
    assert_eq!(session_of(&app, &c).await, Value::Null, "gone after one day");
    // The remembered session of the same user is unaffected.
    assert_eq!(session_of(&app, &user.cookie).await["user"]["id"], user.id.as_str());
}

// ---------------------------------------------------------------------------------------------------------
// Sign-out (§1.4.4, checklist 39, 40)
// ---------------------------------------------------------------------------------------------------------

async fn sign_out_deletes_the_session_and_clears_the_cookies(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Rui").await;
    assert!(session_of(&app, &user.cookie).await.is_object()); // warms any cache
    let res = app.post_as(&user, "/api/auth/sign-out", &json!({})).await;
    assert_cleared(&parsed_cookies(&res), "", false);
    assert_eq!(json(res).await, (200, json!({"success": true})));
    assert_eq!(session_of(&app, &user.cookie).await, Value::Null, "the same cookie no longer works");
    assert_eq!(json(app.get_as(&user, "/api/users/me/tag").await).await.0, 401);

    let res = app.post_as(&user, "/api/auth/sign-out", &json!({})).await;
    assert_cleared(&parsed_cookies(&res), "", false);
    let (status, body) = json(res).await;
    assert_auth_error(status, &body, 400, "FAILED_TO_GET_SESSION", "Failed to get session");
}
on_both_backends!(sign_out_deletes_the_session_and_clears_the_cookies);

#[tokio::test]
async fn sign_out_with_a_bearer_and_with_an_empty_body() {
    let app = roomy().await;
    let user = app.sign_up("Sam").await;
    let res = app.client.post(app.url("/api/auth/sign-out")).header("authorization", user.bearer()).send().await;
    assert_eq!(json(res.unwrap()).await, (200, json!({"success": true})));
    assert_eq!(session_of(&app, &user.cookie).await, Value::Null);
    // Without any credential.
    let res = app.client.post(app.url("/api/auth/sign-out")).json(&json!({})).send().await.unwrap();
    assert_cleared(&parsed_cookies(&res), "", false);
    let (status, body) = json(res).await;
    assert_auth_error(status, &body, 400, "FAILED_TO_GET_SESSION", "Failed to get session");
}

#[tokio::test]
async fn sign_out_ends_only_its_own_session() {
    let app = roomy().await;
    let user = app.sign_up("Tess").await;
    let second = sign_in_again(&app, &user).await;
    assert_eq!(json(app.post_as(&second, "/api/auth/sign-out", &json!({})).await).await.0, 200);
    assert_eq!(session_of(&app, &second.cookie).await, Value::Null);
    assert_eq!(session_of(&app, &user.cookie).await["user"]["id"], user.id.as_str());
}

// ---------------------------------------------------------------------------------------------------------
// Lockout (§1.4.6, checklist 29)
// ---------------------------------------------------------------------------------------------------------

async fn five_failures_lock_the_email_even_for_the_right_password(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Uma").await;
    for i in 0..5 {
        let (status, body) = json(sign_in_raw(&app, &user.email, &format!("wrong password {i}")).await).await;
        assert_auth_error(status, &body, 401, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1);
    }
    let res = sign_in_raw(&app, &user.email, PASSWORD).await;
    assert_eq!(session_cookie(&res), None, "no session while locked");
    assert_auth_429(res, 900).await;
    // The lock is per email (and case-insensitive): another account signs in.
    let (status, _) = json(sign_in_raw(&app, &user.email.to_uppercase(), PASSWORD).await).await;
    assert_eq!(status, 429);
    let other = app.sign_up("Vic").await;
    assert_eq!(json(sign_in_raw(&app, &other.email, PASSWORD).await).await.0, 200);
    // After the window, the right password works again.
    app.clock.advance(Duration::from_secs(15 * 60 + 5));
    let (status, body) = json(sign_in_raw(&app, &user.email, PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
}
on_both_backends!(five_failures_lock_the_email_even_for_the_right_password);

#[tokio::test]
async fn an_unknown_email_is_locked_too() {
    let app = roomy().await;
    let email = unique_email("ghost");
    for _ in 0..5 {
        assert_eq!(json(sign_in_raw(&app, &email, PASSWORD).await).await.0, 401);
    }
    assert_auth_429(sign_in_raw(&app, &email, PASSWORD).await, 900).await;
}

#[tokio::test]
async fn the_lockout_holds_until_the_window_ends() {
    let app = roomy().await;
    let user = app.sign_up("Wes").await;
    for _ in 0..5 {
        sign_in_raw(&app, &user.email, "wrong password").await;
    }
    app.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(json(sign_in_raw(&app, &user.email, PASSWORD).await).await.0, 429, "still locked after 10 min");
    app.clock.advance(Duration::from_secs(5 * 60 + 5));
    assert_eq!(json(sign_in_raw(&app, &user.email, PASSWORD).await).await.0, 200);
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_email_counter() {
    let app = roomy().await;
    let user = app.sign_up("Xia").await;
    for _ in 0..4 {
        assert_eq!(json(sign_in_raw(&app, &user.email, "wrong password").await).await.0, 401);
    }
    assert_eq!(json(sign_in_raw(&app, &user.email, PASSWORD).await).await.0, 200);
    for _ in 0..4 {
        assert_eq!(json(sign_in_raw(&app, &user.email, "wrong password").await).await.0, 401);
    }
    // Eight failures in the window, but the success in between reset the count to four.
    let (status, body) = json(sign_in_raw(&app, &user.email, PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn twenty_failures_from_one_ip_lock_that_ip() {
    // A trusted proxy (the test, on loopback) lets two client IPs be told apart.
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("rate_limit_auth_max", 10_000)).merge(("trusted_proxies", "127.0.0.1/32, ::1"))
    })
    .await
    .unwrap();
    let user = app.sign_up("Yan").await;
    let from = |ip: &'static str, email: String, password: &'static str| {
        app.client
            .post(app.url("/api/auth/sign-in/email"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    for i in 0..20 {
        let (status, body) =
            json(from("198.51.100.7", unique_email(&format!("spray{i}")), "wrong password").await.unwrap()).await;
        assert_auth_error(status, &body, 401, BAD_CREDENTIALS.0, BAD_CREDENTIALS.1);
    }
    // Every email had a single failure; the IP had twenty.
    assert_auth_429(from("198.51.100.7", user.email.clone(), PASSWORD).await.unwrap(), 900).await;
    let (status, body) = json(from("198.51.100.8", user.email.clone(), PASSWORD).await.unwrap()).await;
    assert_eq!(status, 200, "another client IP is not locked: {body}");
}

#[tokio::test]
async fn the_ip_threshold_is_configurable() {
    let app = TestApp::spawn_with(false, |f| f.merge(("rate_limit_auth_max", 10_000)).merge(("lockout_ip_max", 3)))
        .await
        .unwrap();
    let user = app.sign_up("Zed").await;
    for i in 0..3 {
        assert_eq!(json(sign_in_raw(&app, &unique_email(&format!("ip{i}")), "wrong password").await).await.0, 401);
    }
    assert_auth_429(sign_in_raw(&app, &user.email, PASSWORD).await, 900).await;
    app.clock.advance(Duration::from_secs(15 * 60 + 5));
    assert_eq!(json(sign_in_raw(&app, &user.email, PASSWORD).await).await.0, 200);
}

// ---------------------------------------------------------------------------------------------------------
// The auth rate limit (§1.1.3)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_auth_limit_covers_exactly_sign_in_and_sign_up() {
    let app = TestApp::spawn_with(false, |f| f.merge(("rate_limit_auth_max", 2))).await.unwrap();
    let user = app.sign_up("Abe").await; // 1
    assert_eq!(json(sign_in_raw(&app, &user.email, PASSWORD).await).await.0, 200); // 2
    assert_auth_429(sign_in_raw(&app, &user.email, PASSWORD).await, 10).await;
    let res = sign_up_raw(&app, &json!({"name": "Late", "email": unique_email("late"), "password": PASSWORD})).await;
    assert_auth_429(res, 10).await;
    let res = app.post_json("/api/auth/sign-in/social", &json!({"provider": "google"})).await;
    assert_eq!(res.status(), 429, "sign-in/* is covered");
    // get-session and the session routes are not.
    for _ in 0..5 {
        assert_eq!(session_of(&app, &user.cookie).await["user"]["id"], user.id.as_str());
    }
    let (status, _) = json(app.get_as(&user, "/api/auth/list-sessions").await).await;
    assert_eq!(status, 200);
    let res = app.post_as(&user, "/api/auth/sign-out", &json!({})).await;
    assert_eq!(json(res).await, (200, json!({"success": true})));
}

// ---------------------------------------------------------------------------------------------------------
// CORS and the origin check on auth routes (§1.1.1)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn preflight_on_sign_in_from_the_frontend() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/sign-in/email"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("http://localhost:5173"));
    assert_eq!(header(&res, "access-control-allow-credentials").as_deref(), Some("true"));
    assert_eq!(header(&res, "access-control-allow-methods").as_deref(), Some("GET, POST, PUT, PATCH, DELETE"));
    assert_eq!(header(&res, "access-control-allow-headers").as_deref(), Some("content-type, authorization"));
    assert_eq!(header(&res, "access-control-max-age").as_deref(), Some("600"));
    assert!(res.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn auth_writes_from_a_foreign_origin_are_refused_even_with_a_valid_cookie() {
    let app = roomy().await;
    let user = app.sign_up("Bea").await;
    for (path, body) in [
        ("/api/auth/sign-out", json!({})),
        ("/api/auth/sign-in/email", json!({"email": user.email, "password": PASSWORD})),
        ("/api/auth/update-user", json!({"name": "Hijacked"})),
    ] {
        let res = app
            .client
            .post(app.url(path))
            .header("origin", "https://evil.example")
            .header("cookie", &user.cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&res, "access-control-allow-origin"), None);
        assert_eq!(session_cookie(&res), None, "{path} set no session");
        assert_eq!(
            json(res).await,
            (403, json!({"code": "INVALID_ORIGIN", "message": "Invalid origin"})),
            "POST {path} from a foreign origin"
        );
    }
    // Nothing happened: still signed in, name unchanged.
    let session = session_of(&app, &user.cookie).await;
    assert_eq!(session["user"]["name"], "Bea");
}

// ---------------------------------------------------------------------------------------------------------
// Timestamps (§0.2, checklist 2)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_auth_timestamp_has_the_protocol_form() {
    let app = roomy().await;
    let res = sign_up_raw(&app, &json!({"name": "Tim", "email": unique_email("tim"), "password": PASSWORD})).await;
    let (_, up) = json(res).await;
    let cookie = cookie_for(up["token"].as_str().unwrap());
    let (_, session) = json(get_session_with_cookie(&app, Some(&cookie)).await).await;
    let (_, list) =
        json(app.client.get(app.url("/api/auth/list-sessions")).header("cookie", &cookie).send().await.unwrap()).await;
    fn walk(v: &Value, path: &str) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k.ends_with("At") {
                        assert!(x.as_str().is_some_and(is_timestamp), "{path}.{k} = {x}");
                    }
                    walk(x, &format!("{path}.{k}"));
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, path)),
            _ => {}
        }
    }
    walk(&up, "sign-up");
    walk(&session, "get-session");
    walk(&list, "list-sessions");
    assert!(list.as_array().is_some_and(|a| a.len() == 1), "{list}");
}
