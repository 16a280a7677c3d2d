//! Where sign-in may send the browser: relative paths on the frontend, or absolute URLs on an allowed origin.

use crate::config::Config;
use url::Url;

/// Longest callback URL accepted: it is stored with the OAuth state, so a client must not choose its size.
pub const MAX_URL_LEN: usize = 2048;

/// The absolute URL `raw` designates, if it is acceptable: a relative path (resolved against the frontend
/// URL) or an absolute http(s) URL whose origin is in the CORS allowlist. Anything else (another origin,
/// `//host`, `javascript:`) is refused: an open redirect would hand sessions to phishing pages.
pub fn allowed_target(config: &Config, raw: &str) -> Option<Url> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_LEN || raw.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    if raw.starts_with('/') {
        if raw.starts_with("//") {
            return None;
        }
        return config.auth.frontend_url.join(raw).ok();
    }
    let url = Url::parse(raw).ok()?;
    let origin = url.origin().ascii_serialization();
    (matches!(url.scheme(), "http" | "https") && config.http.cors_origins.contains(&origin)).then_some(url)
}

/// `target` with `error=<code>` added to its query.
pub fn with_error(target: &Url, code: &str) -> Url {
    let mut url = target.clone();
    url.query_pairs_mut().append_pair("error", code);
    url
}
