//! The OpenAPI 3.1 document: the base here, every route adds itself where it is declared.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MapQuiz Server",
        description = "HTTP API of the MapQuiz geography quiz: accounts, friends, scores and the real-time \
                       WebSocket gateway at /ws. Application errors are {\"error\", \"code\"}; errors under \
                       /api/auth are Better Auth's {\"code\", \"message\"}."
    ),
    components(schemas(ApiErrorBody, AuthErrorBody)),
    tags(
        (name = "service", description = "What the server is and whether it is healthy"),
        (name = "operations", description = "Metrics and API documentation"),
        (name = "auth", description = "Better Auth compatible accounts, sessions and two-factor"),
        (name = "users", description = "Players: search, lookups by id and tag"),
        (name = "scores", description = "Solo games: saving, history, totals"),
        (name = "leaderboards", description = "Best solo quiz per player, by set of regions and period"),
        (name = "friends", description = "Friend requests and friends; pushes go out over the WebSocket"),
        (name = "games", description = "Finished multiplayer games of the caller"),
        (name = "bug-reports", description = "Bug reports: stored at once, then delivered as GitHub issues"),
        (name = "realtime", description = "The WebSocket gateway; its messages are documented at /docs"),
    )
)]
struct Base;

/// The document's base: title, description, tags, the two error shapes.
pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// An application error (protocol.md §1.1.3): a French message the client may show, and a stable code.
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used: errors are built by `ApiError`
pub struct ApiErrorBody {
    error: String,
    code: String,
}

/// An error under /api/auth, in Better Auth's shape: an upper-case code and an English message.
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used: errors are built by `AuthError`
pub struct AuthErrorBody {
    code: String,
    message: String,
}

/// Paths the global rate limit never applies to (`rate_limit::UNLIMITED_PATHS`, the probes and /metrics).
fn globally_limited(path: &str) -> bool {
    !crate::http::rate_limit::UNLIMITED_PATHS.contains(&path)
}

/// Routes whose body may be left out (the client sends none); when sent, it must still be a JSON object.
const OPTIONAL_BODIES: &[&str] =
    &["/api/auth/sign-out", "/api/auth/revoke-other-sessions", "/api/auth/revoke-sessions"];

/// Adds to every operation the statuses that come from below or around its handler, which its own annotation
/// does not list: 429 from the global rate limit, 503 from the request timeout or an unreachable database,
/// and on operations with a body 400 (invalid JSON), 413 (too large) and 415 (not JSON). Error responses
/// documented without a body get the error shape of their path, so that schema checks cover them too.
pub fn complete(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for (path, item) in doc.paths.paths.iter_mut() {
        let auth = crate::error::is_auth_path(path);
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
        for op in operations.into_iter().flatten() {
            if globally_limited(path) {
                add(op, "429", "rate_limited / TOO_MANY_REQUESTS: over a rate limit (Retry-After says when to retry)");
            }
            add(op, "503", "service_unavailable: the database is unreachable, or the request timed out");
            if let Some(RefOr::T(body)) = op.request_body.as_mut().filter(|_| OPTIONAL_BODIES.contains(&path.as_str()))
            {
                body.required = Some(Required::False);
            }
            if op.request_body.is_some() {
                add(op, "400", "invalid_json / INVALID_JSON, or a field refused (the code names it)");
                add(op, "413", "payload_too_large / PAYLOAD_TOO_LARGE: the body is over body_limit_bytes");
                add(op, "415", "unsupported_media_type / UNSUPPORTED_MEDIA_TYPE: the body is not application/json");
            }
            // Under /api/auth a 503 comes in either shape (the timeout layer answers in the application's), so
            // it is left without a schema there.
            if !(path.starts_with("/api/") || path == "/ws") {
                continue;
            }
            for (status, response) in op.responses.responses.iter_mut() {
                let error = status.starts_with('4') || status.starts_with('5');
                if let (true, RefOr::T(response)) = (error && (status != "503" || !auth), response)
                    && response.content.is_empty()
                {
                    let schema = if auth { "AuthErrorBody" } else { "ApiErrorBody" };
                    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
                    response.content.insert("application/json".to_owned(), RefOr::T(content));
                }
            }
        }
    }
    doc
}

/// Adds the response `status` with `description`, unless the operation already documents it.
fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
}

/// This document, as JSON.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn document(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(crate::error::JSON_UTF8))],
        state.openapi_json.clone(),
    )
        .into_response()
}
