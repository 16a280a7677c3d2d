//! The friend routes (protocol §1.6).

use super::{Done, SentBody};
use crate::auth::CurrentUser;
use crate::error::{ApiError, json};
use crate::http::json::{JsonBody, read};
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use crate::users::{ListedUser, PublicUser, listed, public};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mapquiz_domain::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most friends listed (the client shows them all; the bound keeps one answer small).
pub const MAX_FRIENDS_LISTED: u32 = 1000;
/// Most pending requests listed.
pub const MAX_REQUESTS_LISTED: u32 = 200;

/// The friend routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add))
        .routes(routes!(list))
        .routes(routes!(requests))
        .routes(routes!(respond))
        .routes(routes!(remove))
}

fn string_field<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Sends a friend request by tag (a mutual request makes friends at once).
/// The body of `POST /api/friends/add` (schema only).
#[derive(ToSchema)]
#[allow(dead_code)] // the field exists for its schema
pub struct AddRequest {
    /// The friend's tag; blank is tag_required.
    tag: String,
}

/// The body of `POST /api/friends/requests/{id}` (schema only).
#[derive(ToSchema)]
#[schema(example = json!({"action": "accept"}))]
#[allow(dead_code)] // the field exists for its schema
pub struct RespondRequest {
    action: RespondAction,
}

/// What to do with a friend request.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // schema only
pub enum RespondAction {
    Accept,
    Reject,
}

/// The body of `DELETE /api/friends/remove` (schema only).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // the field exists for its schema
pub struct RemoveRequest {
    /// Blank is friend_id_required.
    friend_id: String,
}

#[utoipa::path(post, path = "/api/friends/add", tag = "friends", request_body = AddRequest,
    responses((status = 200, body = SentBody), (status = 400, description = "tag_required, cannot_add_self"),
              (status = 404, description = "user_not_found"),
              (status = 409, description = "already_friends, request_already_pending"),
              (status = 429, description = "rate_limited: over rate_limit_friend_requests_max per window \
                                             (with Retry-After)"),
              (status = 401, description = "unauthorized")))]
async fn add(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let me = state.auth.require_api(&headers).await?;
    let outcome = super::send_request(&state, &me.user, string_field(&body, "tag"), &meta).await?;
    state.realtime.bus.publish_all(outcome.events);
    Ok(json(StatusCode::OK, &outcome.body))
}

/// The caller's friends, newest friendship first.
#[derive(Serialize, ToSchema)]
struct FriendList {
    friends: Vec<ListedUser>,
}

/// The caller's friends with their presence.
#[utoipa::path(get, path = "/api/friends/list", tag = "friends",
    responses((status = 200, body = FriendList), (status = 401, description = "unauthorized")))]
async fn list(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Response, ApiError> {
    let mut friends = Vec::new();
    for f in state.store.friends(&me.user.id, MAX_FRIENDS_LISTED).await? {
        friends.push(listed(&state, &f.user).await?);
    }
    Ok(json(StatusCode::OK, &FriendList { friends }))
}

/// An incoming pending request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RequestBody {
    id: String,
    sender_id: String,
    receiver_id: String,
    status: &'static str,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
    sender: PublicUser,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RequestList {
    friend_requests: Vec<RequestBody>,
}

/// The requests the caller received and has not answered, newest first.
#[utoipa::path(get, path = "/api/friends/requests", tag = "friends",
    responses((status = 200, body = RequestList), (status = 401, description = "unauthorized")))]
async fn requests(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Response, ApiError> {
    let mut friend_requests = Vec::new();
    for r in state.store.incoming_friend_requests(&me.user.id, MAX_REQUESTS_LISTED).await? {
        friend_requests.push(RequestBody {
            sender: public(&state, &r.sender).await?,
            id: r.request.id,
            sender_id: r.request.sender_id,
            receiver_id: r.request.receiver_id,
            status: r.request.status.as_str(),
            created_at: r.request.created_at,
            updated_at: r.request.updated_at,
        });
    }
    Ok(json(StatusCode::OK, &RequestList { friend_requests }))
}

/// Accepts or rejects a request the caller received.
#[utoipa::path(post, path = "/api/friends/requests/{id}", tag = "friends", request_body = RespondRequest,
    params(("id" = String, Path, description = "the request id")),
    responses((status = 200, body = Done), (status = 400, description = "invalid_action"),
              (status = 403, description = "forbidden"), (status = 404, description = "friend_request_not_found"),
              (status = 409, description = "request_already_processed"), (status = 401, description = "unauthorized")))]
async fn respond(
    State(state): State<AppState>,
    Path(id): Path<String>,
    meta: RequestMeta,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let me = state.auth.require_api(&headers).await?;
    let outcome = super::respond(&state, &me.user, &id, string_field(&body, "action"), &meta).await?;
    state.realtime.bus.publish_all(outcome.events);
    Ok(json(StatusCode::OK, &outcome.body))
}

/// Ends a friendship (both directions); succeeds also when there was none.
#[utoipa::path(delete, path = "/api/friends/remove", tag = "friends", request_body = RemoveRequest,
    responses((status = 200, body = Done), (status = 400, description = "friend_id_required"),
              (status = 401, description = "unauthorized")))]
async fn remove(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The body is optional here: a missing one is a missing friendId, not a malformed request.
    let body = read(&headers, body, state.config.http.body_limit_bytes).await?.unwrap_or(Value::Null);
    let me = state.auth.require_api(&headers).await?;
    let friend_id = string_field(&body, "friendId").trim();
    if friend_id.is_empty() {
        return Err(ApiError::Rule {
            status: StatusCode::BAD_REQUEST,
            code: "friend_id_required",
            message: "ID d'ami requis".to_owned(),
        });
    }
    let outcome = super::remove(&state, &me.user, friend_id, &meta).await?;
    state.realtime.bus.publish_all(outcome.events);
    Ok(json(StatusCode::OK, &outcome.body))
}
