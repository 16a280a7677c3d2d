//! Email and password accounts, and the session itself: `sign-up/email`, `sign-in/email`, `sign-out`,
//! `get-session` and `ok` (protocol §1.4.1, §1.4.4–§1.4.6).

use super::body::AuthBody;
use super::redirect::allowed_target;
use super::sessions::{Credential, Lookup};
use super::wire::{SessionAndUser, SessionBody, TokenAndUser, UserBody, answer};
use super::{AuthRateLimit, two_factor};
use crate::audit::Action;
use crate::error::{AuthError, json};
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use crate::users::tags;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mapquiz_domain::{DisplayName, Email, ImageUrl, Password, new_id};
use mapquiz_store::{Account, FailureScope, NewUser, SessionSelector, StoreError, User};
use serde::Serialize;
use serde_json::json as j;

/// The provider id of email-and-password accounts.
pub const CREDENTIAL: &str = "credential";
/// Longest password ever checked, bytes: anything longer is wrong without hashing a megabyte (the dummy
/// hash still runs, so timing stays the same). Valid passwords are at most 128 characters.
const MAX_PASSWORD_BYTES: usize = 1024;

/// The Better Auth user object of `user`, giving it a tag first if it has none.
pub(super) async fn user_body(state: &AppState, user: &User) -> Result<UserBody, StoreError> {
    let tag = tags::ensure(&state.store, user, state.clock.now()).await?;
    Ok(UserBody::new(user, &tag))
}

/// The session, or `null`.
#[utoipa::path(get, path = "/api/auth/get-session", tag = "auth",
    params(("disableRefresh" = Option<String>, Query, description = "`true`: do not extend the session; any other value is ignored"),
           ("disableCookieCache" = Option<String>, Query, description = "accepted, no effect")),
    responses((status = 200, description = "`{session, user}` for a valid session, else `null`")))]
pub(super) async fn get_session(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, AuthError> {
    let disable_refresh = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "disableRefresh" && v == "true");
    let sessions = &state.auth.sessions;
    let Credential::Token(token) = sessions.credential(&headers) else {
        return Ok(answer(&serde_json::Value::Null, HeaderMap::new()));
    };
    let mut out = HeaderMap::new();
    let current = match sessions.lookup(&token).await? {
        Lookup::Missing => return Ok(answer(&serde_json::Value::Null, out)),
        Lookup::Expired(expired) => {
            sessions.revoke(&SessionSelector::Token { token_hash: expired.session.token_hash }).await?;
            sessions.jar().clear_session(&mut out);
            return Ok(answer(&serde_json::Value::Null, out));
        }
        Lookup::Valid(current) => current,
    };
    let current = match disable_refresh {
        true => current,
        false => match sessions.refresh_if_due(&current).await {
            Ok(Some(refreshed)) => {
                sessions.set_cookie(&mut out, &token, true);
                refreshed
            }
            Ok(None) => current,
            // Signed out by another request while this one was extending it.
            Err(StoreError::NotFound) => return Ok(answer(&serde_json::Value::Null, out)),
            Err(e) => return Err(e.into()),
        },
    };
    let body = SessionAndUser {
        session: SessionBody::new(&current.session, Some(&token)),
        user: user_body(&state, &current.user).await?,
    };
    Ok(answer(&body, out))
}

/// Better Auth's liveness route.
#[utoipa::path(get, path = "/api/auth/ok", tag = "auth", responses((status = 200, description = "`{\"ok\":true}`")))]
pub(super) async fn ok() -> Response {
    json(StatusCode::OK, &j!({"ok": true}))
}

/// Reads and checks `callbackURL`: `Ok(None)` when absent.
fn callback_url(state: &AppState, body: &AuthBody) -> Result<Option<url::Url>, AuthError> {
    match body.str("callbackURL")? {
        None => Ok(None),
        Some(raw) => allowed_target(&state.config, raw).map(Some).ok_or(AuthError::INVALID_CALLBACKURL),
    }
}

/// Creates an account with a password and signs it in.
#[utoipa::path(post, path = "/api/auth/sign-up/email", tag = "auth", request_body = super::requests::SignUpRequest,
    responses((status = 200, description = "`{token, user}` and the session cookie"),
              (status = 400, description = "INVALID_EMAIL, INVALID_PASSWORD, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG, VALIDATION_ERROR"),
              (status = 403, description = "INVALID_CALLBACKURL: callbackURL is not the frontend's origin or a relative path"),
              (status = 422, description = "USER_ALREADY_EXISTS"), (status = 429, description = "TOO_MANY_REQUESTS")))]
pub(super) async fn sign_up(
    _: AuthRateLimit,
    State(state): State<AppState>,
    meta: RequestMeta,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let email = body.str("email")?.and_then(|e| Email::parse(e).ok()).ok_or(AuthError::INVALID_EMAIL)?;
    let password =
        Password::parse(body.str("password")?.ok_or(AuthError::INVALID_PASSWORD)?).map_err(AuthError::from)?;
    let name = body.str("name")?.and_then(|n| DisplayName::parse(n).ok()).ok_or(AuthError::INVALID_NAME)?;
    let image = body.str("image")?.map(ImageUrl::parse).transpose().map_err(|_| AuthError::INVALID_IMAGE)?;
    callback_url(&state, &body)?;
    let remember = body.bool("rememberMe", true)?;

    // Hashed before the existence check, so that a taken email answers in the same time as a new one.
    let hash = state.auth.hasher.hash(password.expose()).await?;
    if state.store.user_by_email(email.as_str()).await?.is_some() {
        return Err(AuthError::USER_ALREADY_EXISTS);
    }
    let now = state.clock.now();
    let user_id = new_id();
    let new_user = NewUser {
        id: user_id.clone(),
        name: name.into_string(),
        email: email.as_str().to_owned(),
        email_verified: false,
        image: image.map(|i| i.as_str().to_owned()),
        tag: tags::draw().as_str().to_owned(),
        created_at: now,
    };
    let account = Account {
        id: new_id(),
        user_id: user_id.clone(),
        provider_id: CREDENTIAL.to_owned(),
        account_id: user_id,
        password_hash: Some(hash),
        created_at: now,
        updated_at: now,
    };
    let user = match tags::create_user(&state.store, new_user, &account).await {
        Err(StoreError::Conflict("users_email_key")) => return Err(AuthError::USER_ALREADY_EXISTS),
        other => other?,
    };
    let (_, token) = state.auth.sessions.create(&user.id, remember, &meta).await?;
    state.audit.record(Action::SignUp, Some(&user.id), &meta, Some(j!({"method": "email"}))).await;
    let mut out = HeaderMap::new();
    state.auth.sessions.set_cookie(&mut out, &token, remember);
    Ok(answer(&TokenAndUser { token: Some(token), user: user_body(&state, &user).await? }, out))
}

#[derive(Serialize)]
struct SignInAnswer {
    redirect: bool,
    token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    user: UserBody,
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/auth/sign-in/email", tag = "auth", request_body = super::requests::SignInRequest,
    responses((status = 200, description = "`{redirect, token, url?, user}` and the session cookie, or `{twoFactorRedirect:true}`"),
              (status = 400, description = "INVALID_EMAIL"), (status = 401, description = "INVALID_EMAIL_OR_PASSWORD"),
              (status = 403, description = "INVALID_CALLBACKURL: callbackURL is not the frontend's origin or a relative path"),
              (status = 429, description = "TOO_MANY_REQUESTS (rate limit or lockout)")))]
pub(super) async fn sign_in(
    _: AuthRateLimit,
    State(state): State<AppState>,
    meta: RequestMeta,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let email = body.str("email")?.and_then(|e| Email::parse(e).ok()).ok_or(AuthError::INVALID_EMAIL)?;
    let password = body.str("password")?.ok_or(AuthError::INVALID_PASSWORD)?;
    let callback = callback_url(&state, &body)?;
    let remember = body.bool("rememberMe", true)?;

    let lockouts = &state.auth.lockouts;
    let ip = meta.ip.to_string();
    if let Some(secs) = lockouts.locked(FailureScope::Ip, &ip).await? {
        return Err(AuthError::too_many_requests(secs));
    }
    if let Err(secs) = lockouts.begin(FailureScope::Email, email.as_str()).await? {
        return Err(AuthError::too_many_requests(secs));
    }

    let user = state.store.user_by_email(email.as_str()).await?;
    let account = match &user {
        Some(u) => state.store.account_of_user(&u.id, CREDENTIAL).await?,
        None => None,
    };
    let hash =
        account.as_ref().and_then(|a| a.password_hash.as_deref()).filter(|_| password.len() <= MAX_PASSWORD_BYTES);
    // Always one argon2 verification (a dummy one without a password), so timing says nothing.
    let verified = state.auth.hasher.verify(password, hash).await?;
    let user = match user {
        Some(user) if verified => user,
        other => {
            let user_id = other.map(|u| u.id);
            let locked_email = lockouts.failed(FailureScope::Email, email.as_str()).await?;
            let locked_ip = lockouts.record_failure(FailureScope::Ip, &ip).await?;
            let failure = Some(j!({"method": "email"}));
            state.audit.record(Action::SignInFailed, user_id.as_deref(), &meta, failure).await;
            if locked_email || locked_ip {
                let scope = if locked_email { "email" } else { "ip" };
                state.audit.record(Action::Lockout, user_id.as_deref(), &meta, Some(j!({"scope": scope}))).await;
            }
            return Err(AuthError::INVALID_EMAIL_OR_PASSWORD);
        }
    };
    lockouts.succeeded(FailureScope::Email, email.as_str()).await?;

    if state.store.two_factor(&user.id).await?.is_some_and(|tf| tf.enabled) {
        return two_factor::begin_pending_sign_in(&state, &user, remember).await;
    }
    let (_, token) = state.auth.sessions.create(&user.id, remember, &meta).await?;
    state.audit.record(Action::SignIn, Some(&user.id), &meta, Some(j!({"method": "email"}))).await;
    let mut out = HeaderMap::new();
    state.auth.sessions.set_cookie(&mut out, &token, remember);
    if let Some(location) = callback.as_ref().and_then(|u| HeaderValue::from_str(u.as_str()).ok()) {
        out.insert(header::LOCATION, location);
    }
    let body = SignInAnswer {
        redirect: callback.is_some(),
        token,
        url: callback.map(String::from),
        user: user_body(&state, &user).await?,
    };
    Ok(answer(&body, out))
}

/// Ends the session the request presents.
#[utoipa::path(post, path = "/api/auth/sign-out", tag = "auth",
    request_body(content = super::requests::EmptyRequest, description = "none, or an object (not read)"),
    responses((status = 200, description = "`{success:true}`, cookies cleared"),
              (status = 400, description = "FAILED_TO_GET_SESSION (cookies cleared all the same)")))]
pub(super) async fn sign_out(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    _body: AuthBody,
) -> Result<Response, AuthError> {
    let sessions = &state.auth.sessions;
    let mut out = HeaderMap::new();
    sessions.jar().clear_session(&mut out);
    let session = match sessions.credential(&headers) {
        Credential::Token(token) => match sessions.lookup(&token).await? {
            Lookup::Valid(s) => Some(s),
            Lookup::Expired(s) => {
                sessions.revoke(&SessionSelector::Token { token_hash: s.session.token_hash }).await?;
                None
            }
            Lookup::Missing => None,
        },
        Credential::None | Credential::Invalid => None,
    };
    let Some(session) = session else {
        let mut res = AuthError::FAILED_TO_GET_SESSION.into_response();
        res.headers_mut().extend(out);
        return Ok(res);
    };
    sessions.revoke(&SessionSelector::Token { token_hash: session.session.token_hash }).await?;
    state.audit.record(Action::SignOut, Some(&session.user.id), &meta, None).await;
    Ok(answer(&j!({"success": true}), out))
}

/// Checks the signed-in user's password again (sensitive changes), under the same per-email lockout as
/// sign-in: a stolen session is not a way to guess the password.
pub(super) async fn recheck_password(
    state: &AppState,
    user: &User,
    password: Option<&str>,
    meta: &RequestMeta,
) -> Result<(), AuthError> {
    let password = password.ok_or(AuthError::INVALID_PASSWORD)?;
    let lockouts = &state.auth.lockouts;
    if let Err(secs) = lockouts.begin(FailureScope::Email, &user.email).await? {
        return Err(AuthError::too_many_requests(secs));
    }
    let account = state.store.account_of_user(&user.id, CREDENTIAL).await?;
    let hash =
        account.as_ref().and_then(|a| a.password_hash.as_deref()).filter(|_| password.len() <= MAX_PASSWORD_BYTES);
    if state.auth.hasher.verify(password, hash).await? {
        lockouts.succeeded(FailureScope::Email, &user.email).await?;
        return Ok(());
    }
    if lockouts.failed(FailureScope::Email, &user.email).await? {
        state.audit.record(Action::Lockout, Some(&user.id), meta, Some(j!({"scope": "email"}))).await;
    }
    Err(AuthError::INVALID_PASSWORD)
}
