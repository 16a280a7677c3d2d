//! The edge: what every request passes through before and after its route, in one middleware.
//!
//! In order: request id → log span → client IP → global rate limit → preflight and origin check →
//! path-segment check → (timeout → route); then on the way out, whatever answered: the response rules
//! (JSON error bodies, security headers), the CORS headers, the request id, the metrics, and a log line.
//!
//! One layer rather than one per concern: each `from_fn` layer costs a boxed future and a clone of the
//! service below it on every request, which on the cheapest routes was a visible part of their cost.
//!
//! The log line: failures (5xx) at ERROR and requests slower than [`SLOW_REQUEST`] at WARN always; every
//! other request at DEBUG (`RUST_LOG=mapquiz_server::http=debug` for an access log). The metrics already
//! count and time every request: a line per request at INFO cost about a fifth of the cheapest routes'
//! throughput and told an operator nothing the metrics do not.

use super::client_ip::{self, ClientIp, TrustedProxies};
use super::cors::{self, AllowedOrigins};
use super::rate_limit::{self, Limiters};
use super::{metrics, normalize, request_id};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// A request taking longer than this is logged at WARN whatever its status.
pub const SLOW_REQUEST: Duration = Duration::from_secs(1);

/// What the edge needs of the configuration and state.
pub struct Edge {
    pub origins: AllowedOrigins,
    pub trusted: TrustedProxies,
    pub limiters: Arc<Limiters>,
}

/// The middleware (see the module's documentation).
pub async fn layer(State(edge): State<Arc<Edge>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id::resolve(req.headers());
    req.headers_mut().insert(request_id::HEADER, id.clone());
    // Kept for the way out (the request itself goes to the route): cheap clones of shared buffers.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map(MatchedPath::as_str);
    let span = span(&method, route, &id);
    let ip = client_ip::of(&req, &edge.trusted);
    req.extensions_mut().insert(ip);
    let origin = edge.origins.allowed(req.headers()).cloned();
    let res = match before_routing(&edge, &req, ip, origin.is_some()) {
        Some(answer) => answer,
        None => next.run(req).instrument(span.clone()).await,
    };
    let mut res = normalize::apply(res, uri.path());
    cors::decorate(res.headers_mut(), origin);
    res.headers_mut().insert(request_id::HEADER, id);
    let took = started.elapsed();
    let status = res.status();
    metrics::record(&method, route, status, took);
    let millis = took.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(parent: &span, status = status.as_u16(), millis, "request failed");
    } else if took >= SLOW_REQUEST {
        tracing::warn!(parent: &span, status = status.as_u16(), millis, "slow request");
    } else {
        tracing::debug!(parent: &span, status = status.as_u16(), millis, "request served");
    }
    res
}

/// The answers given without routing: over the global rate limit, a preflight or a foreign-origin write, a
/// path segment too long to name anything.
fn before_routing(edge: &Edge, req: &Request, ip: ClientIp, origin_allowed: bool) -> Option<Response> {
    let path = req.uri().path();
    rate_limit::global(&edge.limiters, path, ip)
        .or_else(|| cors::preflight_or_refusal(req, origin_allowed))
        .or_else(|| path.split('/').any(|s| s.len() > normalize::MAX_SEGMENT_LEN).then(|| normalize::not_found(path)))
}

/// The request's span: route template (never the raw path or query, which may carry OAuth codes), method
/// and request id; `user_id` is filled in once authentication has run.
fn span(method: &Method, route: Option<&str>, id: &HeaderValue) -> tracing::Span {
    let route = route.unwrap_or("unmatched");
    let request_id = id.to_str().unwrap_or("");
    tracing::info_span!("request", %method, route, request_id, user_id = tracing::field::Empty)
}
