//! CORS by allowlist (protocol §1.1.1), and the origin check that refuses cross-site writes.
//!
//! Written here rather than with tower-http's `CorsLayer` because the protocol differs from it: preflights
//! answer 204 on any path, whatever the origin, and state-changing requests from a foreign origin are
//! refused with 403 before routing.

use crate::error::{ApiError, AuthError, is_auth_path};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
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
    pub fn allowed<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let origin_str = origin.to_str().ok()?;
        self.0.iter().any(|o| o == origin_str).then_some(origin)
    }
}

/// Adds the allow-origin headers for the `allowed` origin (if any) to every response, so that even a 429 or a 404
/// can be read by the web client.
pub fn decorate(headers: &mut HeaderMap, allowed: Option<HeaderValue>) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
}

/// After the rate limit: the answer to a preflight, or the refusal of a foreign-origin write on `/api`;
/// `None` lets the request through.
pub fn preflight_or_refusal(req: &Request, allowed: bool) -> Option<Response> {
    if req.method() == Method::OPTIONS {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if allowed {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
        }
        return Some(res);
    }
    let writes = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    let path = req.uri().path();
    if writes && !allowed && req.headers().contains_key(header::ORIGIN) && path.starts_with("/api/") {
        return Some(if is_auth_path(path) {
            AuthError::INVALID_ORIGIN.into_response()
        } else {
            ApiError::OriginNotAllowed.into_response()
        });
    }
    None
}
