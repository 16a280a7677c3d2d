//! Better Auth's cookies (protocol §1.1.5): names, `Set-Cookie` lines, and reading the `Cookie` header.

use crate::config::{AuthConfig, SameSite};
use axum::http::{HeaderMap, HeaderValue, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The session token cookie.
pub const SESSION_TOKEN: &str = "better-auth.session_token";
/// Better Auth's cached session data (never set here, cleared on sign-out).
pub const SESSION_DATA: &str = "better-auth.session_data";
/// Better Auth's "don't remember me" marker (cleared on sign-out).
pub const DONT_REMEMBER: &str = "better-auth.dont_remember";
/// The pending second-factor sign-in.
pub const TWO_FACTOR: &str = "better-auth.two_factor";

/// What `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// JavaScript's `encodeURIComponent`.
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// Percent-decodes, or `None` when the result is not UTF-8.
pub fn decode_uri_component(s: &str) -> Option<String> {
    percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned())
}

/// How this server writes its cookies.
#[derive(Clone, Debug)]
pub struct CookieJar {
    secure: bool,
    same_site: SameSite,
    domain: Option<String>,
}

impl CookieJar {
    /// From the auth configuration.
    pub fn new(config: &AuthConfig) -> Self {
        CookieJar { secure: config.secure_cookies, same_site: config.same_site, domain: config.cookie_domain.clone() }
    }

    /// The cookie's name in this server's mode (`__Secure-` prefix with secure cookies).
    pub fn name(&self, base: &str) -> String {
        if self.secure { format!("__Secure-{base}") } else { base.to_owned() }
    }

    /// A `Set-Cookie` value; `max_age: None` makes a browser-session cookie.
    pub fn set(&self, base: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut line = format!("{}={}", self.name(base), value);
        if let Some(secs) = max_age {
            line.push_str(&format!("; Max-Age={secs}"));
        }
        line.push_str("; Path=/; HttpOnly; SameSite=");
        line.push_str(match self.same_site {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        });
        if self.secure {
            line.push_str("; Secure");
        }
        if let Some(domain) = &self.domain {
            line.push_str("; Domain=");
            line.push_str(domain);
        }
        // Names and attributes are ours and values are URL-encoded: always a valid header value.
        HeaderValue::from_str(&line).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }

    /// A `Set-Cookie` that deletes the cookie.
    pub fn clear(&self, base: &str) -> HeaderValue {
        self.set(base, "", Some(0))
    }

    /// Appends the three cookies' deletions (sign-out, expired session).
    pub fn clear_session(&self, headers: &mut HeaderMap) {
        for base in [SESSION_TOKEN, SESSION_DATA, DONT_REMEMBER] {
            headers.append(header::SET_COOKIE, self.clear(base));
        }
    }

    /// The raw (still URL-encoded) value of this server's cookie `base` in the request, if sent.
    pub fn read<'h>(&self, headers: &'h HeaderMap, base: &str) -> Option<&'h str> {
        let name = self.name(base);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find_map(|(n, v)| (n.trim() == name).then_some(v.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_uri_component_matches_javascript() {
        assert_eq!(encode_uri_component("ab+/=.c"), "ab%2B%2F%3D.c");
        assert_eq!(encode_uri_component("-_.!~*'()"), "-_.!~*'()");
        assert_eq!(decode_uri_component("ab%2B%2F%3D").as_deref(), Some("ab+/="));
    }

    fn jar(secure: bool, same_site: SameSite, domain: Option<&str>) -> CookieJar {
        CookieJar { secure, same_site, domain: domain.map(str::to_owned) }
    }

    #[test]
    fn set_cookie_lines_are_exact() {
        let plain = jar(false, SameSite::Lax, None);
        assert_eq!(
            plain.set(SESSION_TOKEN, "v", Some(604_800)),
            "better-auth.session_token=v; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(plain.clear(DONT_REMEMBER), "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
        let secure = jar(true, SameSite::None, Some("example.com"));
        assert_eq!(
            secure.set(SESSION_TOKEN, "v", None),
            "__Secure-better-auth.session_token=v; Path=/; HttpOnly; SameSite=None; Secure; Domain=example.com"
        );
    }

    #[test]
    fn reads_only_the_name_of_its_mode() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; better-auth.session_token=plain; __Secure-better-auth.session_token=sec"),
        );
        assert_eq!(jar(false, SameSite::Lax, None).read(&h, SESSION_TOKEN), Some("plain"));
        assert_eq!(jar(true, SameSite::Lax, None).read(&h, SESSION_TOKEN), Some("sec"));
        assert_eq!(jar(false, SameSite::Lax, None).read(&h, TWO_FACTOR), None);
    }
}
