//! A request id on every request and response (`x-request-id`), carried into the request's log span.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The header name, as load balancers and tracing tools use it.
pub const HEADER: &str = "x-request-id";

/// An id from upstream (a proxy) is kept when it is short and plain, so that logs can be joined; anything
/// else is replaced, so that a client cannot inject text into log lines.
fn acceptable(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len()) && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Sets the id on the request (the log span reads it from there) and echoes it on the response.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(HEADER) {
        Some(v) if acceptable(v) => v.clone(),
        _ => HeaderValue::from_str(&mapquiz_domain::new_id()).unwrap_or(HeaderValue::from_static("invalid")),
    };
    req.headers_mut().insert(HEADER, id.clone());
    let mut res = next.run(req).await;
    res.headers_mut().insert(HEADER, id);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_kept() {
        assert!(acceptable(&HeaderValue::from_static("abc-123_x.y")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("a b")));
        assert!(!acceptable(&HeaderValue::from_str(&"a".repeat(65)).unwrap()));
    }
}
