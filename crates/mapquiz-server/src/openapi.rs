//! The OpenAPI 3.1 document: the base here, every route adds itself where it is declared.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MapQuiz Server",
        description = "HTTP API of the MapQuiz geography quiz: accounts, friends, scores and the real-time \
                       WebSocket gateway at /ws. Application errors are {\"error\", \"code\"}; errors under \
                       /api/auth are Better Auth's {\"code\", \"message\"}."
    ),
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

/// The document's base: title, description, tags.
pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
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
