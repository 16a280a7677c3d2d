//! CORS by allowlist (protocol §1.1.1), and the origin check that refuses cross-site writes.
//!
//! Written here rather than with tower-http's `CorsLayer` because the protocol differs from it: preflights
//! answer 204 on any path, whatever the origin, and state-changing requests from a foreign origin are
//! refused with 403 before routing.

use crate::error::{ApiError, AuthError, is_auth_path};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS: &str = "content-type, authorization";
const MAX_AGE: &str = "600";

/// The allowlisted browser origins (serialised `scheme://host[:port]`): all that the CORS layers need.
#[derive(Clone, Debug)]
pub struct AllowedOrigins(pub Arc<[String]>);

impl AllowedOrigins {
    /// The request's `Origin` when it is on the allowlist.
    fn allowed<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let origin_str = origin.to_str().ok()?;
        self.0.iter().any(|o| o == origin_str).then_some(origin)
    }
}

/// Outer layer: adds the allow-origin headers to every response for an allowlisted origin, so that even
/// a 429 or a 404 can be read by the web client.
pub async fn decorate(State(origins): State<AllowedOrigins>, req: Request, next: Next) -> Response {
    let allowed = origins.allowed(req.headers()).cloned();
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    res
}

/// Inner layer (after the rate limit): answers preflights and refuses foreign-origin writes on `/api`.
pub async fn preflight_and_origin_check(State(origins): State<AllowedOrigins>, req: Request, next: Next) -> Response {
    let allowed = origins.allowed(req.headers()).is_some();
    if req.method() == Method::OPTIONS {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if allowed {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
        }
        return res;
    }
    let writes = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    let path = req.uri().path();
    if writes && !allowed && req.headers().contains_key(header::ORIGIN) && path.starts_with("/api/") {
        return if is_auth_path(path) {
            AuthError::INVALID_ORIGIN.into_response()
        } else {
            ApiError::OriginNotAllowed.into_response()
        };
    }
    next.run(req).await
}
