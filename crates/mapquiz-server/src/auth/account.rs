//! Session management and profile (protocol §1.4.7): list and revoke sessions, update the user, change the
//! password. Every change that affects a cached session evicts it on every node.

use super::body::AuthBody;
use super::crypto::sha256_hex;
use super::email::{recheck_password, user_body};
use super::wire::{SessionBody, Status, TokenAndUser, answer};
use crate::audit::Action;
use crate::error::AuthError;
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use mapquiz_domain::{DisplayName, ImageUrl, Password};
use mapquiz_store::SessionSelector;
use serde_json::json as j;

/// The caller's live sessions.
#[utoipa::path(get, path = "/api/auth/list-sessions", tag = "auth",
    responses((status = 200, description = "Array of session objects; `token` only for the current one"),
              (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn list_sessions(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AuthError> {
    let auth = state.auth.require(&headers).await?;
    let now = state.clock.now();
    let sessions: Vec<SessionBody> = state
        .store
        .sessions_of_user(&auth.user.id)
        .await?
        .iter()
        .filter(|s| s.expires_at > now)
        .map(|s| SessionBody::new(s, (s.id == auth.session.id).then_some(auth.token.as_str())))
        .collect();
    Ok(answer(&sessions, HeaderMap::new()))
}

async fn revoke(
    state: &AppState,
    meta: &RequestMeta,
    user_id: &str,
    selector: SessionSelector,
    scope: &str,
) -> Result<Response, AuthError> {
    let count = state.auth.sessions.revoke(&selector).await?;
    if count > 0 {
        let details = Some(j!({"scope": scope, "count": count}));
        state.audit.record(Action::SessionRevoked, Some(user_id), meta, details).await;
    }
    Ok(answer(&Status { status: true }, HeaderMap::new()))
}

/// Revokes one of the caller's sessions, named by its token or its id.
#[utoipa::path(post, path = "/api/auth/revoke-session", tag = "auth", request_body = super::requests::RevokeSessionRequest,
    responses((status = 200, description = "`{status:true}`"), (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn revoke_session(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = state.auth.require(&headers).await?;
    let (token, id) = (body.str("token")?, body.str("id")?);
    let user_id = auth.user.id.clone();
    let selector = match (token, id) {
        (Some(token), _) => SessionSelector::TokenHash { user_id: user_id.clone(), token_hash: sha256_hex(token) },
        (None, Some(id)) => SessionSelector::Id { user_id: user_id.clone(), id: id.to_owned() },
        (None, None) => return Err(AuthError::INVALID_BODY),
    };
    revoke(&state, &meta, &user_id, selector, "one").await
}

/// Revokes every session of the caller but this one.
#[utoipa::path(post, path = "/api/auth/revoke-other-sessions", tag = "auth",
    request_body(content = super::requests::EmptyRequest, description = "none, or an object (not read)"),
    responses((status = 200, description = "`{status:true}`"), (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn revoke_other_sessions(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    _body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = state.auth.require(&headers).await?;
    let selector = SessionSelector::AllOfUser { user_id: auth.user.id.clone(), except: Some(auth.session.id) };
    revoke(&state, &meta, &auth.user.id, selector, "others").await
}

/// Revokes every session of the caller, this one included.
#[utoipa::path(post, path = "/api/auth/revoke-sessions", tag = "auth",
    request_body(content = super::requests::EmptyRequest, description = "none, or an object (not read)"),
    responses((status = 200, description = "`{status:true}`"), (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn revoke_sessions(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    _body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = state.auth.require(&headers).await?;
    let selector = SessionSelector::AllOfUser { user_id: auth.user.id.clone(), except: None };
    revoke(&state, &meta, &auth.user.id, selector, "all").await
}

/// Changes the caller's name and/or image.
#[utoipa::path(post, path = "/api/auth/update-user", tag = "auth", request_body = super::requests::UpdateUserRequest,
    responses((status = 200, description = "`{status:true}`"), (status = 400, description = "VALIDATION_ERROR"),
              (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn update_user(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = state.auth.require(&headers).await?;
    let name = body.str("name")?.map(|n| DisplayName::parse(n).map_err(|_| AuthError::INVALID_NAME)).transpose()?;
    let image = match body.has("image") {
        false => None,
        true => Some(body.str("image")?.map(|i| ImageUrl::parse(i).map_err(|_| AuthError::INVALID_IMAGE)).transpose()?),
    };
    if name.is_none() && image.is_none() {
        return Err(AuthError::INVALID_BODY);
    }
    let image = image.as_ref().map(|i| i.as_ref().map(ImageUrl::as_str));
    state.store.update_profile(&auth.user.id, name.as_ref().map(DisplayName::as_str), image, state.clock.now()).await?;
    state.auth.sessions.forget_user(&auth.user.id).await?;
    state.audit.record(Action::ProfileUpdated, Some(&auth.user.id), &meta, None).await;
    Ok(answer(&Status { status: true }, HeaderMap::new()))
}

/// Changes the caller's password; optionally signs every other session out.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth", request_body = super::requests::ChangePasswordRequest,
    responses((status = 200, description = "`{token, user}`; `token` is a new session's when others were revoked"),
              (status = 400, description = "INVALID_PASSWORD, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG"),
              (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn change_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = state.auth.require(&headers).await?;
    let current = body.str("currentPassword")?;
    let new = Password::parse(body.str("newPassword")?.ok_or(AuthError::INVALID_PASSWORD)?)?;
    let revoke_others = body.bool("revokeOtherSessions", false)?;
    recheck_password(&state, &auth.user, current, &meta).await?;
    let hash = state.auth.hasher.hash(new.expose()).await?;
    state.store.set_password_hash(&auth.user.id, &hash, state.clock.now()).await?;
    let mut out = HeaderMap::new();
    let token = if revoke_others {
        // Every session goes, this one included, and a fresh one replaces it: whoever knew the old password
        // and held a session is out.
        state.auth.sessions.revoke(&SessionSelector::AllOfUser { user_id: auth.user.id.clone(), except: None }).await?;
        let (_, token) = state.auth.sessions.create(&auth.user.id, auth.session.remember, &meta).await?;
        state.auth.sessions.set_cookie(&mut out, &token, auth.session.remember);
        Some(token)
    } else {
        None
    };
    let details = Some(j!({"revokedOthers": revoke_others}));
    state.audit.record(Action::PasswordChanged, Some(&auth.user.id), &meta, details).await;
    Ok(answer(&TokenAndUser { token, user: user_body(&state, &auth.user).await? }, out))
}
