//! Sign-in with Google (protocol §1.4.2, §1.4.3, checklist 35–38), end to end against the test identity
//! provider of [`crate::support::oidc_provider`]: the authorization URL, the callback's every outcome,
//! account linking, and the session it opens.

use crate::support::oidc_provider::{Fault, Identity, OidcProvider};
use crate::support::{TestApp, json, on_both_backends, session_cookie, set_cookies};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const CLIENT_ID: &str = "test-client";
const CLIENT_SECRET: &str = "test-secret";
/// The API's public origin, as configured (`server_url`).
const SERVER_URL: &str = "https://api.mapquiz.example";
const REDIRECT_URI: &str = "https://api.mapquiz.example/api/auth/callback/google";
/// The default frontend URL: where every sign-in lands.
const FRONTEND: &str = "http://localhost:5173/";
const USER_AGENT: &str = "Mozilla/5.0 (MapQuiz test browser)";
const TAG_ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// An app with Google configured to use a local identity provider.
struct Google {
    app: TestApp,
    idp: OidcProvider,
}

impl Google {
    async fn spawn(postgres: bool) -> Option<Google> {
        let idp = OidcProvider::start(CLIENT_ID, CLIENT_SECRET).await;
        let issuer = idp.issuer();
        let app = TestApp::spawn_with(postgres, |f| {
            f.merge(("google_client_id", CLIENT_ID))
                .merge(("google_client_secret", CLIENT_SECRET))
                .merge(("google_issuer", issuer))
                .merge(("server_url", SERVER_URL))
        })
        .await?;
        Some(Google { app, idp })
    }

    /// `POST /api/auth/sign-in/social` with `body`.
    async fn social(&self, body: &Value) -> (u16, Value) {
        json(self.app.post_json("/api/auth/sign-in/social", body).await).await
    }

    /// Starts a sign-in; returns the authorization URL.
    async fn begin(&self, body: &Value) -> String {
        let (status, answer) = self.social(body).await;
        assert_eq!(status, 200, "{answer}");
        answer["url"].as_str().expect("a url").to_owned()
    }

    /// The browser comes back: `GET /api/auth/callback/google?<query>`.
    async fn callback(&self, query: &[(&str, &str)]) -> reqwest::Response {
        let url = url::Url::parse_with_params(&self.app.url("/api/auth/callback/google"), query).unwrap();
        self.app.client.get(url).header("user-agent", USER_AGENT).send().await.unwrap()
    }

    /// A whole sign-in: start with `body`, consent as `identity`, come back with the code.
    async fn sign_in(&self, identity: Identity, body: &Value) -> reqwest::Response {
        let url = self.begin(body).await;
        let auth = self.idp.authorize(&url, identity);
        self.callback(&[("code", &auth.code), ("state", &auth.state)]).await
    }

    /// A whole sign-in during which the provider misbehaves.
    async fn sign_in_with_fault(&self, identity: Identity, fault: Fault) -> reqwest::Response {
        let url = self.begin(&json!({"provider": "google"})).await;
        let auth = self.idp.authorize_with_fault(&url, identity, fault);
        self.callback(&[("code", &auth.code), ("state", &auth.state)]).await
    }

    /// `get-session` with a `Cookie` header.
    async fn session(&self, cookie: &str) -> Value {
        let res = self.app.client.get(self.app.url("/api/auth/get-session")).header("cookie", cookie).send().await;
        let (status, body) = json(res.unwrap()).await;
        assert_eq!(status, 200);
        body
    }
}

/// The `Location` of a 302 with an empty body: (the URL without its query, the query pairs).
async fn redirect(res: reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(res.status(), 302, "every callback outcome is a redirect");
    let location = res.headers().get("location").expect("a Location").to_str().unwrap().to_owned();
    assert!(res.text().await.unwrap().is_empty(), "a redirect has no body");
    let mut url = url::Url::parse(&location).unwrap_or_else(|e| panic!("Location {location:?} is not absolute: {e}"));
    let pairs = url.query_pairs().into_owned().collect();
    url.set_query(None);
    (url.to_string(), pairs)
}

/// A failed callback: 302 to `target` with `error=<error>` added to its query, and no session.
async fn assert_error(res: reqwest::Response, target: &str, error: &str) {
    assert_eq!(session_cookie(&res), None, "no session on error");
    let (base, pairs) = redirect(res).await;
    let mut expected = url::Url::parse(target).unwrap();
    let mut want: Vec<(String, String)> = expected.query_pairs().into_owned().collect();
    want.push(("error".into(), error.into()));
    expected.set_query(None);
    assert_eq!((base, pairs), (expected.to_string(), want));
}

/// A successful callback: 302 to `target` (no `error`) with a session cookie, returned.
async fn assert_signed_in(res: reqwest::Response, target: &str) -> String {
    let cookie = session_cookie(&res).expect("a session cookie");
    let full = set_cookies(&res).into_iter().find(|c| c.starts_with(&cookie)).unwrap();
    assert_eq!(&full[cookie.len()..], "; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax");
    let (base, pairs) = redirect(res).await;
    let mut expected = url::Url::parse(target).unwrap();
    let want: Vec<(String, String)> = expected.query_pairs().into_owned().collect();
    expected.set_query(None);
    assert_eq!((base, pairs), (expected.to_string(), want));
    cookie
}

fn params(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

on_both_backends!(
    sign_in_social_answers_the_authorization_url,
    disable_redirect_answers_redirect_false,
    only_a_configured_google_is_a_provider,
    provider_is_required,
    callback_urls_must_be_relative_or_allowed,
    a_new_user_signs_in_and_gets_a_session,
    the_name_claim_is_trimmed_cut_or_replaced,
    a_new_user_goes_to_the_new_user_url_and_a_returning_user_to_the_callback_url,
    a_relative_callback_url_is_resolved_against_the_frontend,
    a_state_is_single_use,
    a_state_lives_ten_minutes,
    an_unknown_or_missing_state_restarts_the_process,
    the_providers_error_is_passed_on,
    a_callback_without_code_is_refused,
    a_refused_token_exchange_is_invalid_code,
    an_id_token_that_does_not_verify_is_refused,
    an_id_token_without_email_is_refused,
    a_verified_email_links_the_existing_account,
    an_unverified_email_does_not_link,
    errors_land_on_the_error_callback_url,
    google_sign_in_skips_the_second_factor,
    google_sign_in_is_audited,
);

async fn sign_in_social_answers_the_authorization_url(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let res = g.app.post_json("/api/auth/sign-in/social", &json!({"provider": "google"})).await;
    assert!(set_cookies(&res).is_empty(), "no cookie is set");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], true);
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    let url = body["url"].as_str().unwrap();
    let parsed = url::Url::parse(url).unwrap();
    assert_eq!(format!("{}{}", parsed.origin().ascii_serialization(), parsed.path()), g.idp.authorization_endpoint());

    let p = params(url);
    assert_eq!(p["response_type"], "code");
    assert_eq!(p["client_id"], CLIENT_ID);
    assert_eq!(p["state"].len(), 32, "{}", p["state"]);
    assert_eq!(p["scope"], "openid email profile");
    assert_eq!(p["redirect_uri"], REDIRECT_URI);
    assert_eq!(p["code_challenge_method"], "S256");
    let challenge = &p["code_challenge"];
    assert_eq!(challenge.len(), 43, "base64url of a SHA-256, unpadded: {challenge}");
    assert!(challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{challenge}");
    assert_eq!(p["include_granted_scopes"], "true");

    // Every start has its own state and verifier.
    let other = params(&g.begin(&json!({"provider": "google"})).await);
    assert_ne!(other["state"], p["state"]);
    assert_ne!(other["code_challenge"], p["code_challenge"]);
}

async fn disable_redirect_answers_redirect_false(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let (status, body) = g.social(&json!({"provider": "google", "disableRedirect": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], false);
    assert_eq!(params(body["url"].as_str().unwrap())["state"].len(), 32);
}

async fn only_a_configured_google_is_a_provider(postgres: bool) {
    let not_found = (404, json!({"code": "PROVIDER_NOT_FOUND", "message": "Provider not found"}));
    let Some(g) = Google::spawn(postgres).await else { return };
    assert_eq!(g.social(&json!({"provider": "github"})).await, not_found);

    let Some(unconfigured) = TestApp::spawn_on(postgres).await else { return };
    let res = unconfigured.post_json("/api/auth/sign-in/social", &json!({"provider": "google"})).await;
    assert_eq!(json(res).await, not_found);
}

async fn provider_is_required(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    for body in [json!({}), json!({"callbackURL": "/play"}), json!({"provider": null})] {
        let (status, answer) = g.social(&body).await;
        assert_eq!((status, &answer["code"]), (400, &json!("VALIDATION_ERROR")), "{body} → {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
}

async fn callback_urls_must_be_relative_or_allowed(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    for (key, code, message) in [
        ("callbackURL", "INVALID_CALLBACKURL", "Invalid callbackURL"),
        ("errorCallbackURL", "INVALID_ERRORCALLBACKURL", "Invalid errorCallbackURL"),
        ("newUserCallbackURL", "INVALID_NEWUSERCALLBACKURL", "Invalid newUserCallbackURL"),
    ] {
        for bad in ["https://evil.example/", "//evil.example/path", "javascript:alert(1)"] {
            let answer = g.social(&json!({"provider": "google", key: bad})).await;
            assert_eq!(answer, (403, json!({"code": code, "message": message})), "{key}: {bad}");
        }
        for good in ["/play", "http://localhost:5173/game", "http://127.0.0.1:5173/game"] {
            let (status, answer) = g.social(&json!({"provider": "google", key: good})).await;
            assert_eq!(status, 200, "{key}: {good} → {answer}");
        }
    }
}

async fn a_new_user_signs_in_and_gets_a_session(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let identity = Identity::fresh();
    let url = g.begin(&json!({"provider": "google"})).await;
    let auth = g.idp.authorize(&url, identity.clone());
    let res = g.callback(&[("code", &auth.code), ("state", &auth.state)]).await;
    let cookie = assert_signed_in(res, FRONTEND).await;

    // The token exchange as §1.4.3 describes it (the provider checked the PKCE verifier against the challenge).
    let requests = g.idp.token_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let form = &requests[0];
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], auth.code);
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    let verifier = &form["code_verifier"];
    assert_eq!(verifier.len(), 128, "{verifier}");
    assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)), "{verifier}");

    let session = g.session(&cookie).await;
    let user = &session["user"];
    assert_eq!(user["email"], identity.email.clone().unwrap().as_str());
    assert_eq!(user["name"], "Grace Hopper");
    assert_eq!(user["image"], identity.picture.clone().unwrap().as_str());
    assert_eq!(user["emailVerified"], true);
    let tag = user["tag"].as_str().unwrap();
    assert!(tag.len() == 8 && tag.chars().all(|c| TAG_ALPHABET.contains(c)), "{tag}");
    assert_eq!(session["session"]["userId"], user["id"]);
    assert_eq!(session["session"]["ipAddress"], "127.0.0.1");
    assert_eq!(session["session"]["userAgent"], USER_AGENT);
    let token = session["session"]["token"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("better-auth.session_token={token}")), "{cookie} is for {token}");
    let account = g.app.state.store.account("google", &identity.sub).await.unwrap().expect("a google account");
    assert_eq!(account.user_id, user["id"].as_str().unwrap());
}

async fn the_name_claim_is_trimmed_cut_or_replaced(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let long = "Ω".repeat(60);
    let blank = Identity { name: "   ".into(), picture: None, email_verified: false, ..Identity::fresh() };
    for (identity, name) in [
        (Identity { name: "  Grace  ".into(), ..Identity::fresh() }, "Grace".to_owned()),
        (Identity { name: long.clone(), ..Identity::fresh() }, "Ω".repeat(50)),
        (blank.clone(), blank.email.clone().unwrap().split('@').next().unwrap().to_owned()),
    ] {
        let cookie =
            assert_signed_in(g.sign_in(identity.clone(), &json!({"provider": "google"})).await, FRONTEND).await;
        let user = g.session(&cookie).await["user"].clone();
        assert_eq!(user["name"], name.as_str(), "claim {:?}", identity.name);
        if identity.sub == blank.sub {
            assert_eq!(user["image"], Value::Null, "no picture");
            assert_eq!(user["emailVerified"], false);
        }
    }
}

async fn a_new_user_goes_to_the_new_user_url_and_a_returning_user_to_the_callback_url(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let identity = Identity::fresh();
    let body = json!({"provider": "google", "callbackURL": "/home", "newUserCallbackURL": "/welcome"});
    let first = assert_signed_in(g.sign_in(identity.clone(), &body).await, "http://localhost:5173/welcome").await;
    let second = assert_signed_in(g.sign_in(identity.clone(), &body).await, "http://localhost:5173/home").await;
    let (a, b) = (g.session(&first).await, g.session(&second).await);
    assert_eq!(a["user"]["id"], b["user"]["id"], "the same user");
    assert_ne!(a["session"]["id"], b["session"]["id"], "a new session");
    // Without a new-user URL, a new user goes to the callback URL.
    let res = g.sign_in(Identity::fresh(), &json!({"provider": "google", "callbackURL": "/home"})).await;
    assert_signed_in(res, "http://localhost:5173/home").await;
}

async fn a_relative_callback_url_is_resolved_against_the_frontend(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let res = g.sign_in(Identity::fresh(), &json!({"provider": "google", "callbackURL": "/play?mode=quiz"})).await;
    assert_signed_in(res, "http://localhost:5173/play?mode=quiz").await;
    let res =
        g.sign_in(Identity::fresh(), &json!({"provider": "google", "callbackURL": "http://127.0.0.1:5173/x"})).await;
    assert_signed_in(res, "http://127.0.0.1:5173/x").await;
}

async fn a_state_is_single_use(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let url = g.begin(&json!({"provider": "google"})).await;
    let identity = Identity::fresh();
    let auth = g.idp.authorize(&url, identity.clone());
    assert_signed_in(g.callback(&[("code", &auth.code), ("state", &auth.state)]).await, FRONTEND).await;
    // The same state again, even with a fresh, valid code for it.
    let again = g.idp.authorize(&url, identity);
    let res = g.callback(&[("code", &again.code), ("state", &again.state)]).await;
    assert_error(res, FRONTEND, "please_restart_the_process").await;
    assert_eq!(g.idp.token_requests().len(), 1, "the replay never reaches the token endpoint");
}

async fn a_state_lives_ten_minutes(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let url = g.begin(&json!({"provider": "google"})).await;
    let auth = g.idp.authorize(&url, Identity::fresh());
    g.app.clock.advance(Duration::from_secs(11 * 60));
    let res = g.callback(&[("code", &auth.code), ("state", &auth.state)]).await;
    assert_error(res, FRONTEND, "please_restart_the_process").await;
    assert!(g.idp.token_requests().is_empty());

    // Nine minutes is fine.
    let url = g.begin(&json!({"provider": "google"})).await;
    let auth = g.idp.authorize(&url, Identity::fresh());
    g.app.clock.advance(Duration::from_secs(9 * 60));
    assert_signed_in(g.callback(&[("code", &auth.code), ("state", &auth.state)]).await, FRONTEND).await;
}

async fn an_unknown_or_missing_state_restarts_the_process(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let url = g.begin(&json!({"provider": "google"})).await;
    let auth = g.idp.authorize(&url, Identity::fresh());
    let unknown = "A".repeat(32);
    assert_error(
        g.callback(&[("code", &auth.code), ("state", &unknown)]).await,
        FRONTEND,
        "please_restart_the_process",
    )
    .await;
    assert_error(g.callback(&[("code", &auth.code)]).await, FRONTEND, "please_restart_the_process").await;
    assert!(g.idp.token_requests().is_empty());
}

async fn the_providers_error_is_passed_on(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let url = g.begin(&json!({"provider": "google"})).await;
    let state = params(&url)["state"].clone();
    assert_error(g.callback(&[("error", "access_denied"), ("state", &state)]).await, FRONTEND, "access_denied").await;
    // The state was consumed by that answer.
    let auth = g.idp.authorize(&url, Identity::fresh());
    let res = g.callback(&[("code", &auth.code), ("state", &auth.state)]).await;
    assert_error(res, FRONTEND, "please_restart_the_process").await;
}

async fn a_callback_without_code_is_refused(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let url = g.begin(&json!({"provider": "google"})).await;
    let state = params(&url)["state"].clone();
    assert_error(g.callback(&[("state", &state)]).await, FRONTEND, "no_code").await;
}

async fn a_refused_token_exchange_is_invalid_code(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    // A code the provider never issued.
    let url = g.begin(&json!({"provider": "google"})).await;
    let state = params(&url)["state"].clone();
    assert_error(g.callback(&[("code", "forged-code"), ("state", &state)]).await, FRONTEND, "invalid_code").await;
    // An issued code the provider refuses all the same.
    let res = g.sign_in_with_fault(Identity::fresh(), Fault::RefuseExchange).await;
    assert_error(res, FRONTEND, "invalid_code").await;
    assert_eq!(g.idp.token_requests().len(), 2);
}

async fn an_id_token_that_does_not_verify_is_refused(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    for fault in [Fault::ForeignKey, Fault::WrongAudience, Fault::WrongIssuer, Fault::Expired] {
        let identity = Identity::fresh();
        let res = g.sign_in_with_fault(identity.clone(), fault).await;
        assert_eq!(session_cookie(&res), None, "{fault:?}");
        let (base, pairs) = redirect(res).await;
        assert_eq!(
            (base.as_str(), pairs),
            (FRONTEND, vec![("error".into(), "unable_to_get_user_info".into())]),
            "{fault:?}"
        );
        let email = identity.email.unwrap();
        assert_eq!(g.app.state.store.user_by_email(&email).await.unwrap(), None, "{fault:?}: no user created");
    }
}

async fn an_id_token_without_email_is_refused(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let identity = Identity { email: None, ..Identity::fresh() };
    let res = g.sign_in(identity.clone(), &json!({"provider": "google"})).await;
    assert_error(res, FRONTEND, "email_not_found").await;
    assert_eq!(g.app.state.store.account("google", &identity.sub).await.unwrap(), None);
}

async fn a_verified_email_links_the_existing_account(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let ada = g.app.sign_up("Ada").await;
    let identity = Identity::new(&ada.email.to_uppercase());
    let body = json!({"provider": "google", "callbackURL": "/home", "newUserCallbackURL": "/welcome"});
    let cookie = assert_signed_in(g.sign_in(identity.clone(), &body).await, "http://localhost:5173/home").await;
    assert_eq!(g.session(&cookie).await["user"]["id"], ada.id.as_str(), "the existing user, not a new one");
    let account = g.app.state.store.account("google", &identity.sub).await.unwrap().expect("the account is linked");
    assert_eq!(account.user_id, ada.id);

    // Later sign-ins find the user by the Google subject, whatever the email says now.
    let moved = Identity { email: Some(format!("moved-{}@gmail.test", uuid::Uuid::now_v7().simple())), ..identity };
    let cookie = assert_signed_in(g.sign_in(moved, &body).await, "http://localhost:5173/home").await;
    assert_eq!(g.session(&cookie).await["user"]["id"], ada.id.as_str());
    // The address was never verified before Google vouched for it: whoever registered it first (perhaps to
    // wait for its owner) loses the password and the sessions they held.
    let res = g
        .app
        .post_json("/api/auth/sign-in/email", &json!({"email": ada.email, "password": crate::support::PASSWORD}))
        .await;
    assert_eq!(
        json(res).await,
        (401, json!({"code":"INVALID_EMAIL_OR_PASSWORD","message":"Invalid email or password"}))
    );
    let (_, old) = json(g.app.get_as(&ada, "/api/auth/get-session").await).await;
    assert_eq!(old, serde_json::Value::Null, "the sign-up session was revoked");
    assert_eq!(g.session(&cookie).await["user"]["emailVerified"], true);
}

async fn an_unverified_email_does_not_link(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let ada = g.app.sign_up("Ada").await;
    let identity = Identity { email_verified: false, ..Identity::new(&ada.email) };
    let res = g.sign_in(identity.clone(), &json!({"provider": "google"})).await;
    assert_error(res, FRONTEND, "account_not_linked").await;
    assert_eq!(g.app.state.store.account("google", &identity.sub).await.unwrap(), None);
    assert_eq!(g.app.state.store.account_of_user(&ada.id, "google").await.unwrap(), None);
}

async fn errors_land_on_the_error_callback_url(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let body = json!({"provider": "google", "errorCallbackURL": "/oops?from=google", "callbackURL": "/home"});
    let url = g.begin(&body).await;
    let state = params(&url)["state"].clone();
    let res = g.callback(&[("error", "access_denied"), ("state", &state)]).await;
    assert_error(res, "http://localhost:5173/oops?from=google", "access_denied").await;

    let ada = g.app.sign_up("Ada").await;
    let unverified = Identity { email_verified: false, ..Identity::new(&ada.email) };
    let res = g.sign_in(unverified, &body).await;
    assert_error(res, "http://localhost:5173/oops?from=google", "account_not_linked").await;

    let url = g.begin(&json!({"provider": "google", "errorCallbackURL": "http://127.0.0.1:5173/err"})).await;
    let state = params(&url)["state"].clone();
    assert_error(g.callback(&[("state", &state)]).await, "http://127.0.0.1:5173/err", "no_code").await;

    // Success ignores the error URL.
    assert_signed_in(g.sign_in(Identity::fresh(), &body).await, "http://localhost:5173/home").await;
}

async fn google_sign_in_skips_the_second_factor(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let ada = g.app.sign_up("Ada").await;
    crate::two_factor::activate(&g.app, &ada).await;
    crate::two_factor::sign_in_pending(&g.app, &ada).await;

    let res = g.sign_in(Identity::new(&ada.email), &json!({"provider": "google"})).await;
    assert!(set_cookies(&res).iter().all(|c| !c.starts_with("better-auth.two_factor=")), "no pending sign-in");
    let cookie = assert_signed_in(res, FRONTEND).await;
    assert_eq!(g.session(&cookie).await["user"]["id"], ada.id.as_str());
}

async fn google_sign_in_is_audited(postgres: bool) {
    let Some(g) = Google::spawn(postgres).await else { return };
    let identity = Identity::fresh();
    let cookie = assert_signed_in(g.sign_in(identity, &json!({"provider": "google"})).await, FRONTEND).await;
    let user_id = g.session(&cookie).await["user"]["id"].as_str().unwrap().to_owned();
    let trail = g.app.state.store.audit_trail(Some(&user_id), 50).await.unwrap();
    let sign_in = trail
        .iter()
        .find(|e| e.action == "sign_in")
        .unwrap_or_else(|| panic!("a sign_in line: {:?}", trail.iter().map(|e| &e.action).collect::<Vec<_>>()));
    assert_eq!(sign_in.user_id.as_deref(), Some(user_id.as_str()));
    assert_eq!(sign_in.details.as_ref().and_then(|d| d.get("method")), Some(&json!("google")), "{sign_in:?}");
    assert_eq!(sign_in.ip_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(sign_in.user_agent.as_deref(), Some(USER_AGENT));
    let text = serde_json::to_string(&trail).unwrap();
    let token = cookie.split_once('=').unwrap().1.split("%2E").next().unwrap().split('.').next().unwrap();
    assert!(!text.contains(token), "no session token in the audit trail");
}
