//! Accounts and sessions under `/api/auth`, wire-compatible with Better Auth 1.3 (protocol §1.4): email
//! and password, Google (OpenID Connect), session management and TOTP two-factor.
//!
//! Every protected route of the server finds its user through [`CurrentUser`] (application routes) or
//! [`Auth::require`] (Better Auth routes), both backed by [`sessions::Sessions`]. The services here take only
//! what they use; the Better Auth handlers ([`routes`]) are the only part that reads the application state.

mod account;
pub mod body;
pub mod cache;
pub mod cookies;
pub mod crypto;
mod email;
mod google;
pub mod lockout;
pub mod oidc;
pub mod password;
mod redirect;
mod requests;
pub mod routes;
pub mod sessions;
mod two_factor;
pub mod wire;

use crate::clock::DynClock;
use crate::config::Config;
use crate::error::{ApiError, AuthError};
use crate::http::client_ip::ClientIp;
use crate::http::rate_limit::Limiters;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use mapquiz_store::DynStore;
use sessions::{Authenticated, Sessions};
use std::sync::Arc;

/// Everything sign-in needs, built once at start-up.
pub struct Auth {
    /// Shared with the extractors and the gateway, which need nothing else of the auth services.
    pub sessions: Arc<Sessions>,
    pub hasher: password::Hasher,
    pub keys: Arc<crypto::Keys>,
    pub lockouts: lockout::Lockouts,
    /// Google sign-in, when configured.
    pub google: Option<oidc::Provider>,
}

impl Auth {
    /// Builds the services (computes the dummy hash, connects the Redis cache when configured).
    pub async fn new(
        config: &Config,
        secret: &secrecy::SecretString,
        store: DynStore,
        clock: DynClock,
    ) -> anyhow::Result<Self> {
        let keys = Arc::new(crypto::Keys::new(secret));
        let a = &config.auth;
        let redis = config.redis_url.as_ref().map(|url| (url, &config.redis_key_prefix));
        let cache = cache::SessionCache::new(a.session_cache_ttl, a.session_cache_capacity, redis).await?;
        let jar = cookies::CookieJar::new(a);
        Ok(Auth {
            sessions: Arc::new(Sessions::new(store.clone(), clock.clone(), cache, keys.clone(), jar)),
            hasher: password::Hasher::new(a.argon2).await?,
            keys,
            lockouts: lockout::Lockouts::new(store, clock, a.lockout),
            google: a.google.clone().map(oidc::Provider::new).transpose()?,
        })
    }

    /// The signed-in user of an application route that reads its body first (the protocol checks the JSON
    /// before the credentials), or 401 `unauthorized`.
    pub async fn require_api(&self, headers: &axum::http::HeaderMap) -> Result<Authenticated, ApiError> {
        self.sessions.authenticate(headers).await?.ok_or(ApiError::Unauthorized)
    }

    /// The signed-in user of a Better Auth route, or 401 `UNAUTHORIZED`.
    pub async fn require(&self, headers: &axum::http::HeaderMap) -> Result<Authenticated, AuthError> {
        self.sessions.authenticate(headers).await?.ok_or(AuthError::UNAUTHORIZED)
    }
}

/// The signed-in user of an application route; rejects with 401 `unauthorized` (503 when the store is down).
pub struct CurrentUser(pub Authenticated);

impl<S> FromRequestParts<S> for CurrentUser
where
    Arc<Sessions>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Arc::<Sessions>::from_ref(state).authenticate(&parts.headers).await? {
            Some(a) => Ok(CurrentUser(a)),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// The auth rate limit (protocol §1.1.3), as an extractor so it runs before the body is read.
pub struct AuthRateLimit;

impl<S> FromRequestParts<S> for AuthRateLimit
where
    Arc<Limiters>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>().copied() else { return Ok(AuthRateLimit) };
        let limiters = Arc::<Limiters>::from_ref(state);
        match limiters.check(&limiters.auth, ip) {
            Ok(()) => Ok(AuthRateLimit),
            Err(secs) => {
                metrics::counter!("http_rate_limited_total", "limit" => "auth").increment(1);
                Err(AuthError::too_many_requests(secs))
            }
        }
    }
}
