//! An observer the harness puts around every in-process app's routes (inside the edge middleware): a response
//! body that shows an email address other than the caller's own is turned into a 500 naming the leak, so the
//! test that made the request fails, and is recorded for the secrets audit (protocol §1.5: no addresses, ever,
//! but one's own). The caller's own address is the one of the session the request carries, the one a sign-up
//! or sign-in names in its body, or the one of the session the response sets.

use crate::support::logs;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mapquiz_server::state::AppState;
use std::collections::BTreeSet;

/// Request bodies read for the addresses they name are this small (sign-up and sign-in bodies are).
const REQUEST_LIMIT: usize = 64 * 1024;

/// The observer around `routes`.
pub fn observe(routes: axum::Router<AppState>, state: &AppState) -> axum::Router<AppState> {
    routes.layer(axum::middleware::from_fn_with_state(state.clone(), check))
}

async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let path = request.uri().path().to_owned();
    // Only a sign-up or sign-in names its caller in the body; other bodies are left to stream untouched.
    let (request, named) = if path.starts_with("/api/auth/sign-") {
        let (parts, body) = request.into_parts();
        let bytes = to_bytes(body, REQUEST_LIMIT).await.unwrap_or_default();
        let named = emails_in(&String::from_utf8_lossy(&bytes));
        (Request::from_parts(parts, Body::from(bytes)), named)
    } else {
        (request, BTreeSet::new())
    };
    let response = next.run(request).await;
    // The API's own documentation shows example addresses; it is the same for every caller and holds no user's.
    if path == "/api/openapi.json" || path.starts_with("/docs") {
        return response;
    }
    let textual = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/"));
    if !textual {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let shown = emails_in(&String::from_utf8_lossy(&bytes));
    if !shown.is_empty() {
        let mut own = named;
        own.extend(email_of(&state, &headers).await);
        own.extend(email_of(&state, &cookies_set(&parts.headers)).await);
        let foreign: Vec<&String> = shown.difference(&own).collect();
        if !foreign.is_empty() {
            let leak =
                format!("{} {path} showed {foreign:?} to a caller whose own addresses are {own:?}", parts.status);
            logs::record_leak(&leak);
            let body = serde_json::json!({"error": format!("privacy check: {leak}"), "code": "privacy_violation"});
            return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The address of the user whose session `headers` carry, if any.
async fn email_of(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let auth = state.auth.sessions.authenticate(headers).await.ok()??;
    Some(auth.user.email.to_lowercase())
}

/// A `Cookie` header made of the session cookies a response sets.
fn cookies_set(response: &HeaderMap) -> HeaderMap {
    let pairs: Vec<&str> = response
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .filter(|pair| pair.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
        .collect();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&pairs.join("; ")) {
        headers.insert(header::COOKIE, value);
    }
    headers
}

/// Every email address in `text`, lower-cased.
pub fn emails_in(text: &str) -> BTreeSet<String> {
    let local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at].rfind(|c: char| !local(c)).map_or(0, |i| i + 1);
        let end = text[at + 1..].find(|c: char| !domain(c)).map_or(text.len(), |i| at + 1 + i);
        let (name, host) = (&text[start..at], text[at + 1..end].trim_end_matches('.'));
        if !name.is_empty() && host.contains('.') && !host.starts_with('.') {
            found.insert(format!("{name}@{host}").to_lowercase());
        }
    }
    found
}

#[test]
fn addresses_are_found_wherever_a_body_puts_them() {
    let found = |text: &str| emails_in(text).into_iter().collect::<Vec<_>>();
    assert_eq!(found(r#"{"email":"Ada.Lovelace+maps@Example.COM"}"#), ["ada.lovelace+maps@example.com"]);
    assert_eq!(found("a@b.fr, c-d@e.co.uk."), ["a@b.fr", "c-d@e.co.uk"]);
    assert!(found("no address: @ alone, user@localhost, @example.com, x@.com").is_empty());
    assert_eq!(found("<p>bob@example.org</p>"), ["bob@example.org"]);
}
