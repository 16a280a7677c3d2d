//! A request id on every request and response (`x-request-id`), carried into the request's log span.

use axum::http::{HeaderMap, HeaderValue};

/// The header name, as load balancers and tracing tools use it.
pub const HEADER: &str = "x-request-id";

/// An id from upstream (a proxy) is kept when it is short and plain, so that logs can be joined; anything
/// else is replaced, so that a client cannot inject text into log lines.
fn acceptable(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len()) && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The request's id: upstream's when acceptable, else a new one.
pub fn resolve(headers: &HeaderMap) -> HeaderValue {
    match headers.get(HEADER) {
        Some(v) if acceptable(v) => v.clone(),
        _ => HeaderValue::from_str(&mapquiz_domain::new_id()).unwrap_or(HeaderValue::from_static("invalid")),
    }
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
