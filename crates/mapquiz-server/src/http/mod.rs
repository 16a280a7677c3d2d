//! The HTTP edge: the router and the middleware every request passes through.
//!
//! Every request passes through the edge (request id, log span, client IP, rate limit, CORS, response
//! rules, metrics; see [`edge`]), then the timeout, then its route.

pub mod client_ip;
pub mod cors;
pub mod edge;
pub mod json;
pub mod meta;
pub mod metrics;
pub mod normalize;
pub mod query;
pub mod rate_limit;
pub mod request_id;
pub mod shared_quota;

use crate::config::Role;
use crate::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use std::sync::Arc;
use tower_http::timeout::TimeoutLayer;
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

/// The complete application: `routes` (from [`routes`]) with the fallback, the timeout and the edge (see
/// [`edge`]).
pub fn router(routes: Router<AppState>, state: AppState) -> Router {
    let http = &state.config.http;
    let timeout = http.request_timeout;
    let edge = edge::Edge {
        origins: cors::AllowedOrigins(http.cors_origins.as_slice().into()),
        trusted: client_ip::TrustedProxies(http.trusted_proxies.as_slice().into()),
        limiters: state.limiters.clone(),
    };
    routes
        .fallback(fallback)
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(from_fn_with_state(Arc::new(edge), edge::layer))
        .with_state(state)
}

async fn fallback(req: Request) -> Response {
    normalize::not_found(req.uri().path())
}
