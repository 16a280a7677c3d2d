//! Sessions: creating them, finding the one a request presents (cookie or bearer, through the cache),
//! sliding their expiry, and revoking them everywhere.

use crate::auth::cache::SessionCache;
use crate::auth::cookies::{self, CookieJar, SESSION_TOKEN};
use crate::auth::crypto::{Keys, TOKEN_LEN, random_alphanumeric, sha256_hex};
use crate::clock::DynClock;
use crate::http::meta::RequestMeta;
use axum::http::{HeaderMap, header};
use mapquiz_domain::new_id;
use mapquiz_store::{DynStore, Session, SessionSelector, SessionWithUser, StoreError, User};
use std::sync::{Arc, OnceLock};

/// How long a session lasts, and how long a `rememberMe:false` one lasts.
pub const SESSION_LIFETIME: chrono::Duration = chrono::Duration::days(7);
const SHORT_LIFETIME: chrono::Duration = chrono::Duration::days(1);
/// A remembered session older than this is extended by `get-session`.
const REFRESH_AFTER: chrono::Duration = chrono::Duration::days(1);
/// The cookie's `Max-Age`, seconds.
pub const COOKIE_MAX_AGE: u64 = 7 * 24 * 3600;
/// Longest credential read from a header; anything longer cannot be ours.
const MAX_CREDENTIAL_LEN: usize = 512;

/// What a request presents as its session.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential {
    /// Neither a bearer nor the session cookie.
    None,
    /// A token whose signature (if it carried one) is right.
    Token(String),
    /// Something that cannot be a valid session: bad signature, malformed bearer.
    Invalid,
}

/// A valid session, its user, and the token that presented it.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub session: Session,
    pub user: User,
    pub token: String,
}

/// What a token leads to.
pub enum Lookup {
    Missing,
    Expired(SessionWithUser),
    Valid(SessionWithUser),
}

/// Called with the token hashes of revoked sessions (the gateway closes their sockets on every node).
pub type RevocationHook = Arc<dyn Fn(&[String]) + Send + Sync>;

/// The session service.
pub struct Sessions {
    store: DynStore,
    clock: DynClock,
    cache: SessionCache,
    keys: Arc<Keys>,
    jar: CookieJar,
    on_revoke: OnceLock<RevocationHook>,
}

impl Sessions {
    /// The service over `store`, caching in `cache`.
    pub fn new(store: DynStore, clock: DynClock, cache: SessionCache, keys: Arc<Keys>, jar: CookieJar) -> Self {
        Sessions { store, clock, cache, keys, jar, on_revoke: OnceLock::new() }
    }

    /// Sets what runs after sessions are revoked (once; later calls are ignored).
    pub fn on_revoke(&self, hook: RevocationHook) {
        let _ = self.on_revoke.set(hook);
    }

    fn revoked(&self, token_hashes: &[String]) {
        if let Some(hook) = self.on_revoke.get() {
            hook(token_hashes);
        }
    }

    /// The cookie settings.
    pub fn jar(&self) -> &CookieJar {
        &self.jar
    }

    /// The credential of a request: `Authorization: Bearer` first (no fallback when it is bad), then the
    /// session cookie of this server's mode.
    pub fn credential(&self, headers: &HeaderMap) -> Credential {
        // Only a Bearer takes precedence; another scheme (Basic added by a proxy) leaves the cookie in charge.
        let bearer = headers.get(header::AUTHORIZATION).map(|auth| {
            auth.to_str().ok().and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
        });
        match bearer {
            Some(Some(token)) => return self.parse_credential(token, true),
            // Unreadable bytes, or the bare word "Bearer": a broken credential, not an absent one.
            Some(None)
                if headers.get(header::AUTHORIZATION).is_some_and(|v| {
                    v.to_str().map_or(true, |s| s.trim().to_ascii_lowercase().starts_with("bearer"))
                }) =>
            {
                return Credential::Invalid;
            }
            _ => {}
        }
        match self.jar.read(headers, SESSION_TOKEN) {
            Some(value) => self.parse_credential(value, false),
            None => Credential::None,
        }
    }

    /// `token.signature` (URL-encoded or not) with a right signature, or (bearer only) a raw token.
    fn parse_credential(&self, raw: &str, raw_token_allowed: bool) -> Credential {
        if raw.is_empty() || raw.len() > MAX_CREDENTIAL_LEN {
            return Credential::Invalid;
        }
        let Some(decoded) = cookies::decode_uri_component(raw) else { return Credential::Invalid };
        let token = if decoded.contains('.') {
            match self.keys.verify_signed(&decoded) {
                Some(token) => token,
                None => return Credential::Invalid,
            }
        } else if raw_token_allowed {
            &decoded
        } else {
            return Credential::Invalid;
        };
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Credential::Invalid;
        }
        Credential::Token(token.to_owned())
    }

    /// The session a token names, as of now.
    pub async fn lookup(&self, token: &str) -> Result<Lookup, StoreError> {
        let hash = sha256_hex(token);
        let found = match self.cache.get(&hash).await {
            Some(hit) => Some(hit),
            None => {
                let found = self.store.session_by_token_hash(&hash).await?;
                if let Some(s) = found.as_ref().filter(|s| s.session.expires_at > self.clock.now()) {
                    self.cache.put(s).await;
                }
                found
            }
        };
        Ok(match found {
            None => Lookup::Missing,
            Some(s) if s.session.expires_at <= self.clock.now() => Lookup::Expired(s),
            Some(s) => {
                tracing::Span::current().record("user_id", s.user.id.as_str());
                Lookup::Valid(s)
            }
        })
    }

    /// The valid session the request presents, if any. Only an unreachable store is an error.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Authenticated>, StoreError> {
        let Credential::Token(token) = self.credential(headers) else { return Ok(None) };
        Ok(match self.lookup(&token).await? {
            Lookup::Valid(s) => Some(Authenticated { session: s.session, user: s.user, token }),
            Lookup::Missing | Lookup::Expired(_) => None,
        })
    }

    /// Creates a session for `user_id`; returns it with its token (the only time the token exists in clear).
    pub async fn create(
        &self,
        user_id: &str,
        remember: bool,
        meta: &RequestMeta,
    ) -> Result<(Session, String), StoreError> {
        let now = self.clock.now();
        let token = random_alphanumeric(TOKEN_LEN);
        let session = Session {
            id: new_id(),
            token_hash: sha256_hex(&token),
            user_id: user_id.to_owned(),
            expires_at: now.plus(if remember { SESSION_LIFETIME } else { SHORT_LIFETIME }),
            remember,
            ip_address: Some(meta.ip.to_string()),
            user_agent: meta.user_agent.clone(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_session(&session).await?;
        Ok((session, token))
    }

    /// Extends a remembered session to now + 7 days once it is a day old (`get-session`'s sliding refresh);
    /// `None` when no refresh was due, `NotFound` when the session was revoked meanwhile.
    pub async fn refresh_if_due(&self, current: &SessionWithUser) -> Result<Option<SessionWithUser>, StoreError> {
        let now = self.clock.now();
        let s = &current.session;
        if !s.remember || s.expires_at.plus(-SESSION_LIFETIME).plus(REFRESH_AFTER) > now {
            return Ok(None);
        }
        let expires_at = now.plus(SESSION_LIFETIME);
        self.store.extend_session(&s.id, expires_at, now).await?;
        let mut refreshed = current.clone();
        refreshed.session.expires_at = expires_at;
        refreshed.session.updated_at = now;
        self.cache.put(&refreshed).await;
        Ok(Some(refreshed))
    }

    /// Deletes the selected sessions and evicts them from the cache on every node; returns how many.
    pub async fn revoke(&self, selector: &SessionSelector) -> Result<usize, StoreError> {
        let hashes = self.store.delete_sessions(selector).await?;
        self.cache.evict(&hashes).await;
        self.revoked(&hashes);
        Ok(hashes.len())
    }

    /// Drops these sessions (already deleted from the store) from the cache on every node.
    pub async fn evict(&self, token_hashes: &[String]) {
        self.cache.evict(token_hashes).await;
        self.revoked(token_hashes);
    }

    /// Drops the cached copies of the user's sessions (after a change to the user they carry).
    pub async fn forget_user(&self, user_id: &str) -> Result<(), StoreError> {
        let hashes = self.store.session_token_hashes(user_id).await?;
        self.cache.evict(&hashes).await;
        Ok(())
    }

    /// Adds the session cookie for `token` to `headers` (no `Max-Age` for a browser-session cookie).
    pub fn set_cookie(&self, headers: &mut HeaderMap, token: &str, remember: bool) {
        let value = cookies::encode_uri_component(&self.keys.signed(token));
        headers.append(header::SET_COOKIE, self.jar.set(SESSION_TOKEN, &value, remember.then_some(COOKIE_MAX_AGE)));
    }

    /// Closes the cache's connections.
    pub async fn close(&self) {
        self.cache.close().await;
    }
}
