//! Google sign-in (protocol §1.4.2, §1.4.3): the authorization URL with a single-use state and PKCE, and
//! the callback that turns the code into a session. Every callback outcome is a redirect.

use super::AuthRateLimit;
use super::body::AuthBody;
use super::crypto::{pkce_challenge, random_alphanumeric, random_identifier};
use super::oidc::{ExchangeError, Identity};
use super::redirect::{allowed_target, with_error};
use super::wire::answer;
use crate::audit::Action;
use crate::error::AuthError;
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use crate::users::tags;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mapquiz_domain::{DisplayName, Email, ImageUrl, new_id};
use mapquiz_store::{Account, NewUser, StoreError, User};
use serde::{Deserialize, Serialize};
use serde_json::json as j;
use url::Url;

/// The provider id stored on Google accounts.
const GOOGLE: &str = "google";
/// How long an authorization attempt may take, seconds.
const STATE_SECS: i64 = 600;
const STATE_PREFIX: &str = "oauth-state:";
/// Longest `loginHint` passed on (an email address fits); a longer one is dropped.
const MAX_LOGIN_HINT_LEN: usize = 320;
/// PKCE verifier length (RFC 7636 allows 43 to 128).
const VERIFIER_LEN: usize = 128;

/// What the callback needs from the start of the flow.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowState {
    code_verifier: String,
    callback_url: Url,
    error_url: Option<Url>,
    new_user_url: Option<Url>,
}

fn target(state: &AppState, body: &AuthBody, key: &str, refused: AuthError) -> Result<Option<Url>, AuthError> {
    body.str(key)?.map(|raw| allowed_target(&state.config, raw).ok_or(refused)).transpose()
}

/// The `redirect_uri` registered with Google: always the API's public URL.
fn redirect_uri(state: &AppState) -> String {
    format!("{}/api/auth/callback/google", state.config.auth.server_url.as_str().trim_end_matches('/'))
}

/// Starts a social sign-in: the URL to send the browser to.
#[utoipa::path(post, path = "/api/auth/sign-in/social", tag = "auth", request_body = super::requests::SocialSignInRequest,
    responses((status = 200, description = "`{url, redirect}`"), (status = 400, description = "VALIDATION_ERROR"),
              (status = 403, description = "INVALID_CALLBACKURL and its siblings"),
              (status = 404, description = "PROVIDER_NOT_FOUND")))]
pub(super) async fn sign_in_social(
    _: AuthRateLimit,
    State(state): State<AppState>,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let provider = body.str("provider")?.ok_or(AuthError::PROVIDER_REQUIRED)?;
    let google = state.auth.google.as_ref().filter(|_| provider == GOOGLE).ok_or(AuthError::PROVIDER_NOT_FOUND)?;
    let callback_url = target(&state, &body, "callbackURL", AuthError::INVALID_CALLBACKURL)?;
    let error_url = target(&state, &body, "errorCallbackURL", AuthError::INVALID_ERRORCALLBACKURL)?;
    let new_user_url = target(&state, &body, "newUserCallbackURL", AuthError::INVALID_NEWUSERCALLBACKURL)?;
    let disable_redirect = body.bool("disableRedirect", false)?;
    let login_hint = body.str("loginHint")?.filter(|h| h.len() <= MAX_LOGIN_HINT_LEN);

    let endpoints = google.endpoints().await.map_err(|e| {
        tracing::warn!(error = format!("{e:#}"), "identity provider unreachable");
        AuthError::UNAVAILABLE
    })?;
    let flow_state = random_identifier();
    let flow = FlowState {
        code_verifier: random_alphanumeric(VERIFIER_LEN),
        callback_url: callback_url.unwrap_or_else(|| state.config.auth.frontend_url.clone()),
        error_url,
        new_user_url,
    };
    let now = state.clock.now();
    let value = serde_json::to_string(&flow).map_err(anyhow::Error::from)?;
    state
        .store
        .put_verification(
            &format!("{STATE_PREFIX}{flow_state}"),
            &value,
            now.plus(chrono::Duration::seconds(STATE_SECS)),
            now,
        )
        .await?;
    let mut url = endpoints.authorization.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", google.client_id())
            .append_pair("state", &flow_state)
            .append_pair("scope", "openid email profile")
            .append_pair("redirect_uri", &redirect_uri(&state))
            .append_pair("code_challenge_method", "S256")
            .append_pair("code_challenge", &pkce_challenge(&flow.code_verifier))
            .append_pair("include_granted_scopes", "true");
        if let Some(hint) = login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    Ok(answer(&j!({"url": url.as_str(), "redirect": !disable_redirect}), HeaderMap::new()))
}

/// A 302 to `to`, with extra headers.
fn redirect(to: &Url, mut headers: HeaderMap) -> Response {
    if let Ok(location) = HeaderValue::from_str(to.as_str()) {
        headers.insert(header::LOCATION, location);
    }
    (StatusCode::FOUND, headers).into_response()
}

/// An error code from the provider, passed on only when it looks like one (it ends up in a URL we build).
fn provider_error(raw: &str) -> &str {
    let plausible = !raw.is_empty()
        && raw.len() <= 64
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if plausible { raw } else { "oauth_error" }
}

/// The provider sends the browser back here.
#[utoipa::path(get, path = "/api/auth/callback/google", tag = "auth",
    params(("code" = Option<String>, Query, description = "authorization code"),
           ("state" = Option<String>, Query, description = "the state of sign-in/social")),
    responses((status = 302, description = "to the callback URL with the session cookie, or to the error URL with `?error=`")))]
pub(super) async fn callback(
    State(state): State<AppState>,
    meta: RequestMeta,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthError> {
    let query = query.unwrap_or_default();
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    };
    let frontend = state.config.auth.frontend_url.clone();
    let fail = |to: &Url, code: &str| Ok(redirect(&with_error(to, code), HeaderMap::new()));

    let now = state.clock.now();
    let flow = match param("state").filter(|s| !s.is_empty() && s.len() <= 128) {
        Some(s) => state.store.take_verification(&format!("{STATE_PREFIX}{s}"), now).await?,
        None => None,
    };
    let Some(flow) = flow.and_then(|v| serde_json::from_str::<FlowState>(&v).ok()) else {
        return fail(&frontend, "please_restart_the_process");
    };
    let error_to = flow.error_url.clone().unwrap_or(frontend);
    if let Some(e) = param("error") {
        return fail(&error_to, provider_error(&e));
    }
    let Some(code) = param("code").filter(|c| !c.is_empty()) else { return fail(&error_to, "no_code") };
    let Some(google) = state.auth.google.as_ref() else { return fail(&error_to, "please_restart_the_process") };

    let identity = match google.exchange(&code, &flow.code_verifier, &redirect_uri(&state)).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "Google sign-in failed");
            let code = match e {
                ExchangeError::InvalidCode(_) => "invalid_code",
                ExchangeError::BadIdToken(_) => "unable_to_get_user_info",
            };
            return fail(&error_to, code);
        }
    };
    let Some(email) = identity.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
        return fail(&error_to, "email_not_found");
    };
    let (user, created) = match find_or_create(&state, &identity, &email).await? {
        Some(found) => found,
        None => return fail(&error_to, "account_not_linked"),
    };

    let (_, token) = state.auth.sessions.create(&user.id, true, &meta).await?;
    if created {
        state.audit.record(Action::SignUp, Some(&user.id), &meta, Some(j!({"method": GOOGLE}))).await;
    }
    state.audit.record(Action::SignIn, Some(&user.id), &meta, Some(j!({"method": GOOGLE}))).await;
    let mut headers = HeaderMap::new();
    state.auth.sessions.set_cookie(&mut headers, &token, true);
    let to = match (created, flow.new_user_url) {
        (true, Some(new_user)) => new_user,
        _ => flow.callback_url,
    };
    Ok(redirect(&to, headers))
}

/// The user this Google identity signs in as: by account, else by verified email (linking), else new.
/// `None` when an account with that email exists and the provider does not vouch for the address.
async fn find_or_create(state: &AppState, id: &Identity, email: &Email) -> Result<Option<(User, bool)>, StoreError> {
    let now = state.clock.now();
    let account = |user_id: &str| Account {
        id: new_id(),
        user_id: user_id.to_owned(),
        provider_id: GOOGLE.to_owned(),
        account_id: id.subject.clone(),
        password_hash: None,
        created_at: now,
        updated_at: now,
    };
    if let Some(existing) = state.store.account(GOOGLE, &id.subject).await? {
        return Ok(state.store.user_by_id(&existing.user_id).await?.map(|u| (u, false)));
    }
    if let Some(user) = state.store.user_by_email(email.as_str()).await? {
        if !id.email_verified {
            return Ok(None);
        }
        let user = if user.email_verified {
            user
        } else {
            // Nobody ever proved owning this address; the provider now does. Whoever registered it first
            // (perhaps to wait for its owner) loses the password and every session they held.
            let revoked = state.store.verify_email_and_drop_credentials(&user.id, now).await?;
            state.auth.sessions.evict(&revoked).await;
            tracing::info!(user_id = %user.id, sessions = revoked.len(), "unverified account taken over by its verified owner");
            state.store.user_by_id(&user.id).await?.ok_or(StoreError::NotFound)?
        };
        match state.store.link_account(&account(&user.id)).await {
            // A concurrent callback linked it first: same outcome.
            Ok(()) | Err(StoreError::Conflict("accounts_provider_account_key")) => return Ok(Some((user, false))),
            Err(e) => return Err(e),
        }
    }
    let name = id
        .name
        .as_deref()
        .and_then(DisplayName::from_claim)
        .or_else(|| DisplayName::from_claim(email.local_part()))
        .map_or_else(|| super::wire::FALLBACK_NAME.to_owned(), DisplayName::into_string);
    let user_id = new_id();
    let new_user = NewUser {
        id: user_id.clone(),
        name,
        email: email.as_str().to_owned(),
        email_verified: id.email_verified,
        image: id.picture.as_deref().and_then(|p| ImageUrl::parse(p).ok()).map(|i| i.as_str().to_owned()),
        tag: tags::draw().as_str().to_owned(),
        created_at: now,
    };
    match tags::create_user(&state.store, new_user, &account(&user_id)).await {
        Ok(user) => Ok(Some((user, true))),
        // Two first sign-ins at once: the other created the user; sign in as it.
        Err(StoreError::Conflict("accounts_provider_account_key" | "users_email_key")) => {
            Box::pin(find_or_create(state, id, email)).await
        }
        Err(e) => Err(e),
    }
}
