//! HTTP request metrics, labelled by method, route template (never the raw path) and status.

use axum::http::{Method, StatusCode};
use metrics::{Label, SharedString};
use std::sync::Arc;
use std::time::Duration;

/// Records `http_requests_total` and `http_request_duration_seconds` for one answered request; `route` is
/// `None` for unmatched paths, which share one label so that scanners cannot grow the series count.
pub fn record(method: &Method, route: Option<&str>, status: StatusCode, took: Duration) {
    // Static or shared label values: the two series below clone them without copying the text.
    let route = route.map_or(SharedString::const_str("unmatched"), |r| SharedString::from(Arc::<str>::from(r)));
    let labels = [
        Label::new("method", SharedString::const_str(method_label(method))),
        Label::new("route", route),
        Label::new("status", status_label(status)),
    ];
    metrics::counter!("http_requests_total", labels.to_vec()).increment(1);
    metrics::histogram!("http_request_duration_seconds", Vec::from(labels)).record(took.as_secs_f64());
}

/// The standard methods by name; any other shares one label, for the same reason as unmatched paths.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The status code as text, without an allocation for the usual ones.
fn status_label(status: StatusCode) -> SharedString {
    let usual = match status.as_u16() {
        200 => "200",
        204 => "204",
        302 => "302",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => return SharedString::from_owned(status.as_str().to_owned()),
    };
    SharedString::const_str(usual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_every_status_and_bound_the_methods() {
        for code in [200u16, 201, 404, 418, 503] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_label(status).as_ref(), code.to_string());
        }
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }
}
