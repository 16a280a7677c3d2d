//! Accounts and sessions under `/api/auth`, wire-compatible with Better Auth 1.3 (protocol §1.4): email
//! and password, Google (OpenID Connect), session management and TOTP two-factor.
//!
//! Every protected route of the server finds its user through [`CurrentUser`] (application routes) or
//! [`Auth::require`] (Better Auth routes), both backed by [`sessions::Sessions`].

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
pub mod sessions;
mod two_factor;
pub mod wire;

use crate::clock::DynClock;
use crate::config::Config;
use crate::error::{ApiError, AuthError};
use crate::http::client_ip::ClientIp;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mapquiz_store::DynStore;
use sessions::{Authenticated, Sessions};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Everything sign-in needs, built once at start-up.
pub struct Auth {
    pub sessions: Sessions,
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
        let cache =
            cache::SessionCache::new(a.session_cache_ttl, a.session_cache_capacity, config.redis_url.as_ref()).await?;
        let jar = cookies::CookieJar::new(a);
        Ok(Auth {
            sessions: Sessions::new(store.clone(), clock.clone(), cache, keys.clone(), jar),
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

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match state.auth.sessions.authenticate(&parts.headers).await? {
            Some(a) => Ok(CurrentUser(a)),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// The auth rate limit (protocol §1.1.3), as an extractor so it runs before the body is read.
pub struct AuthRateLimit;

impl FromRequestParts<AppState> for AuthRateLimit {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>().copied() else { return Ok(AuthRateLimit) };
        match state.limiters.check(&state.limiters.auth, ip) {
            Ok(()) => Ok(AuthRateLimit),
            Err(secs) => {
                metrics::counter!("http_rate_limited_total", "limit" => "auth").increment(1);
                Err(AuthError::too_many_requests(secs))
            }
        }
    }
}

/// The `/api/auth` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(email::get_session))
        .routes(routes!(email::ok))
        .routes(routes!(email::sign_up))
        .routes(routes!(email::sign_in))
        .routes(routes!(email::sign_out))
        .routes(routes!(google::sign_in_social))
        .routes(routes!(google::callback))
        .routes(routes!(account::list_sessions))
        .routes(routes!(account::revoke_session))
        .routes(routes!(account::revoke_other_sessions))
        .routes(routes!(account::revoke_sessions))
        .routes(routes!(account::update_user))
        .routes(routes!(account::change_password))
        .routes(routes!(two_factor::enable))
        .routes(routes!(two_factor::verify_totp))
        .routes(routes!(two_factor::verify_backup_code))
        .routes(routes!(two_factor::generate_backup_codes))
        .routes(routes!(two_factor::get_totp_uri))
        .routes(routes!(two_factor::disable))
}
