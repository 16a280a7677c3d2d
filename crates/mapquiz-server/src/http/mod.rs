//! The HTTP edge: the router and the middleware every request passes through.
//!
//! Request order (outermost first): request id → trace span → metrics → response rules → client IP →
//! CORS headers → global rate limit → preflight and origin check → path-segment check → timeout → route.

pub mod client_ip;
pub mod cors;
pub mod json;
pub mod meta;
pub mod metrics;
pub mod normalize;
pub mod query;
pub mod rate_limit;
pub mod request_id;

use crate::config::Role;
use crate::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;

/// Every route of the server, registered with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    routes_for(Role::All)
}

/// The routes a node of `role` serves: the probes and `/metrics` always, `GET /` on every role but `worker`,
/// the HTTP API on `api`, `/ws` on `realtime` (both on `all`). Anything else falls through to the JSON 404.
pub fn routes_for(role: Role) -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::with_openapi(crate::openapi::base());
    if role.serves_service_info() {
        routes = routes.merge(crate::health::service_info());
    }
    routes = routes.merge(crate::health::probes()).merge(crate::ops::metrics_routes());
    if role.serves_api() {
        routes = routes
            .merge(crate::ops::document_routes())
            .merge(crate::auth::routes::routes())
            .merge(crate::users::routes())
            .merge(crate::scores::routes())
            .merge(crate::bug_reports::routes())
            .merge(crate::leaderboards::routes())
            .merge(crate::friends::routes::routes())
            .merge(crate::lobbies::routes::routes());
    }
    if role.serves_realtime() {
        routes = routes.merge(crate::ws::routes());
    }
    if role.serves_api() {
        routes = routes.merge(crate::docs::routes());
    }
    routes
}

/// The complete application: `routes` (from [`routes`]) with the fallback and the middleware.
pub fn router(routes: Router<AppState>, state: AppState) -> Router {
    let http = &state.config.http;
    let timeout = http.request_timeout;
    // Each layer gets only its part of the state.
    let origins = cors::AllowedOrigins(http.cors_origins.as_slice().into());
    let trusted = client_ip::TrustedProxies(http.trusted_proxies.as_slice().into());
    routes
        .fallback(fallback)
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(from_fn(long_segments))
        .layer(from_fn_with_state(origins.clone(), cors::preflight_and_origin_check))
        .layer(from_fn_with_state(state.limiters.clone(), rate_limit::global))
        .layer(from_fn_with_state(origins, cors::decorate))
        .layer(from_fn_with_state(trusted, client_ip::layer))
        .layer(from_fn(normalize::layer))
        .layer(from_fn(metrics::layer))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(DefaultOnFailure::new().level(Level::ERROR)),
        )
        .layer(from_fn(request_id::layer))
        .with_state(state)
}

/// The request's span: route template (never the raw path or query, which may carry OAuth codes), method
/// and request id; `user_id` is filled in once authentication has run.
fn make_span(req: &Request) -> tracing::Span {
    let route = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("unmatched");
    let request_id = req.headers().get(request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", method = %req.method(), route, request_id, user_id = tracing::field::Empty)
}

async fn fallback(req: Request) -> Response {
    normalize::not_found(req.uri().path())
}

/// Path parameters longer than the limit can name nothing: 404 before any handler runs.
async fn long_segments(req: Request, next: axum::middleware::Next) -> Response {
    if req.uri().path().split('/').any(|s| s.len() > normalize::MAX_SEGMENT_LEN) {
        return normalize::not_found(req.uri().path());
    }
    next.run(req).await
}
