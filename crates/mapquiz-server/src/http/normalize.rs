//! Cross-cutting response rules: security headers (§1.1.2), `Cache-Control: no-store` on `/api`, the JSON
//! charset, and JSON bodies for the errors produced below the handlers (405 from the router, 503 from the
//! timeout, …).

use crate::error::{ApiError, AuthError, JSON_UTF8, is_auth_path};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Longest path segment (and so path parameter) served; longer ones are 404.
pub const MAX_SEGMENT_LEN: usize = 200;

/// The Content-Security-Policy of every response but the documentation page.
pub const CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

/// Built at compile time: inserting them costs no parsing or validation per response.
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 11] = [
    (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
    (HeaderName::from_static("origin-agent-cluster"), HeaderValue::from_static("?1")),
    (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer")),
    (
        HeaderName::from_static("strict-transport-security"),
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    ),
    (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
    (HeaderName::from_static("x-dns-prefetch-control"), HeaderValue::from_static("off")),
    (HeaderName::from_static("x-download-options"), HeaderValue::from_static("noopen")),
    (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("SAMEORIGIN")),
    (HeaderName::from_static("x-permitted-cross-domain-policies"), HeaderValue::from_static("none")),
    (HeaderName::from_static("x-xss-protection"), HeaderValue::from_static("0")),
];

/// The response rules, applied to everything the router and the edge produce for a request to `path`.
pub fn apply(mut res: Response, path: &str) -> Response {
    if res.status().is_client_error() || res.status().is_server_error() {
        res = with_json_body(res, path);
    }
    let h = res.headers_mut();
    // Room for the headers below at once, rather than growing the map step by step.
    h.reserve(SECURITY_HEADERS.len() + 4);
    if h.get(header::CONTENT_TYPE).is_some_and(|v| v == "application/json") {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    }
    // A handler may set its own CSP (the documentation page); everything else gets the strict one.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    for (name, value) in &SECURITY_HEADERS {
        h.insert(name.clone(), value.clone());
    }
    h.remove("x-powered-by");
    h.remove(header::SERVER);
    if path.starts_with("/api/") || path == "/api" {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The 404 for unknown routes, in the path's error shape.
pub fn not_found(path: &str) -> Response {
    if is_auth_path(path) { AuthError::NOT_FOUND.into_response() } else { ApiError::NotFound.into_response() }
}

/// Gives a JSON body to an error response that has none (status and headers such as `Allow` are kept).
fn with_json_body(res: Response, path: &str) -> Response {
    if res.headers().contains_key(header::CONTENT_TYPE) {
        return res;
    }
    let status = res.status();
    let auth = is_auth_path(path);
    let replacement = match status {
        StatusCode::NOT_FOUND => not_found(path),
        StatusCode::METHOD_NOT_ALLOWED if auth => AuthError::METHOD_NOT_ALLOWED.into_response(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed.into_response(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge.into_response(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType.into_response(),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            ApiError::Unavailable.into_response()
        }
        s if s.is_server_error() => ApiError::Internal(anyhow::anyhow!("{s} without a body")).into_response(),
        _ => ApiError::validation("Données invalides").into_response(),
    };
    let (mut parts, _) = res.into_parts();
    let (new_parts, body) = replacement.into_parts();
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, body)
}
