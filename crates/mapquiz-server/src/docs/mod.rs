//! The documentation page at `GET /docs`: a page and its script and style, embedded in the binary and served
//! from here (it works offline, with no CDN and no inline script), rendering `/api/openapi.json` and the
//! WebSocket protocol document `/docs/websocket.json` generated from the protocol types ([`websocket`]).

pub mod websocket;

use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The documentation's own policy: its script, style and the documents it fetches come from this server only.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/docs.js");
const STYLE: &str = include_str!("assets/docs.css");

/// The documentation routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(style))
        .routes(routes!(ws_document))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The documentation page.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "HTML page rendering the API and WebSocket documents", content_type = "text/html")))]
async fn page() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// The page's script.
#[utoipa::path(get, path = "/docs/assets/docs.js", tag = "operations",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The page's style sheet.
#[utoipa::path(get, path = "/docs/assets/docs.css", tag = "operations",
    responses((status = 200, description = "CSS", content_type = "text/css")))]
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The WebSocket protocol, generated from the protocol types and this server's limits.
#[utoipa::path(get, path = "/docs/websocket.json", tag = "operations",
    responses((status = 200, description = "The WebSocket protocol: messages, frames, errors, limits, close codes")))]
async fn ws_document(State(state): State<AppState>) -> Response {
    crate::error::json(StatusCode::OK, &websocket::document(&state.config.realtime))
}
