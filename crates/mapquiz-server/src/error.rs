//! The two error shapes of protocol §0.4 and the one place that maps failures onto them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mapquiz_store::StoreError;
use serde::Serialize;
use std::sync::Arc;

/// A failure on an application route (`/api/*` outside `/api/auth`, the service routes, the `/ws` upgrade),
/// answered as `{"error": "<French>", "code": "<snake_case>"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed: {message}")]
    Validation { message: String, details: Vec<String> },
    #[error("invalid JSON body")]
    InvalidJson,
    #[error("unauthorized")]
    Unauthorized,
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("route not found")]
    NotFound,
    #[error("user not found")]
    UserNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("service unavailable")]
    Unavailable,
    /// A feature's own rule (friends, lobbies), with the status, code and message protocol.md gives it.
    #[error("{code}: {message}")]
    Rule { status: StatusCode, code: &'static str, message: String },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize)]
struct AppErrorBody<'a> {
    error: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    details: &'a [String],
}

impl ApiError {
    /// A validation failure with the route's French message (it contains "invalide").
    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation { message: message.into(), details: Vec::new() }
    }

    /// Status, stable code and French message.
    pub fn parts(&self) -> (StatusCode, &'static str, &str) {
        match self {
            ApiError::Validation { message, .. } => (StatusCode::BAD_REQUEST, "validation_failed", message),
            ApiError::InvalidJson => (StatusCode::BAD_REQUEST, "invalid_json", "JSON invalide"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Non autorisé"),
            ApiError::OriginNotAllowed => (StatusCode::FORBIDDEN, "origin_not_allowed", "Origine non autorisée"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Route non trouvée"),
            ApiError::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found", "Utilisateur non trouvé"),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Méthode non autorisée")
            }
            ApiError::PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "Requête trop volumineuse")
            }
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Type de contenu non supporté")
            }
            ApiError::RateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Trop de requêtes, veuillez réessayer plus tard")
            }
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "Service indisponible"),
            ApiError::Rule { status, code, message } => (*status, code, message),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Erreur interne du serveur"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            // The chain goes to the log, never to the client.
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let (status, code, error) = self.parts();
        let details = match &self {
            ApiError::Validation { details, .. } => details.as_slice(),
            _ => &[],
        };
        let mut res = json(status, &AppErrorBody { error, code, details });
        if let ApiError::RateLimited { retry_after_secs } = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        res
    }
}

/// Counts a failed database operation (`db_errors_total`).
pub fn count_store_error(e: &StoreError) {
    let kind = if e.is_unavailable() { "unavailable" } else { "other" };
    metrics::counter!("db_errors_total", "kind" => kind).increment(1);
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::from(Arc::new(e))
    }
}

/// A failure shared by the requests of a group commit.
impl From<Arc<StoreError>> for ApiError {
    fn from(e: Arc<StoreError>) -> Self {
        count_store_error(&e);
        if e.is_unavailable() {
            tracing::warn!(error = format!("{e:#}"), "database unavailable");
            ApiError::Unavailable
        } else {
            ApiError::Internal(e.into())
        }
    }
}

/// A failure under `/api/auth`, answered in Better Auth 1.3's `{"code": "<UPPER>", "message": "<English>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
    /// Seconds, for 429 answers (sent as `Retry-After` and `X-Retry-After`).
    pub retry_after_secs: Option<u64>,
}

impl AuthError {
    /// Unknown path under `/api/auth`.
    pub const NOT_FOUND: AuthError = AuthError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not Found");
    /// State-changing request from a foreign origin.
    pub const INVALID_ORIGIN: AuthError = AuthError::new(StatusCode::FORBIDDEN, "INVALID_ORIGIN", "Invalid origin");
    /// Method not allowed on a known path.
    pub const METHOD_NOT_ALLOWED: AuthError =
        AuthError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Method not allowed");
    /// No valid session where one is needed.
    pub const UNAUTHORIZED: AuthError = AuthError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized");
    /// Sign-out without a session.
    pub const FAILED_TO_GET_SESSION: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "FAILED_TO_GET_SESSION", "Failed to get session");
    /// Malformed email address.
    pub const INVALID_EMAIL: AuthError = AuthError::new(StatusCode::BAD_REQUEST, "INVALID_EMAIL", "Invalid email");
    /// Missing or wrong password where the caller is already known.
    pub const INVALID_PASSWORD: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "INVALID_PASSWORD", "Invalid password");
    /// Password under 8 characters.
    pub const PASSWORD_TOO_SHORT: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "PASSWORD_TOO_SHORT", "Password too short");
    /// Password over 128 characters.
    pub const PASSWORD_TOO_LONG: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "PASSWORD_TOO_LONG", "Password too long");
    /// Name empty, too long or with control characters.
    pub const INVALID_NAME: AuthError = AuthError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid name");
    /// Image value unusable.
    pub const INVALID_IMAGE: AuthError = AuthError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid image");
    /// A body that does not have the route's shape.
    pub const INVALID_BODY: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid request body");
    /// Sign-up with an email already in use.
    pub const USER_ALREADY_EXISTS: AuthError =
        AuthError::new(StatusCode::UNPROCESSABLE_ENTITY, "USER_ALREADY_EXISTS", "User already exists");
    /// Every failed password sign-in, whatever the reason.
    pub const INVALID_EMAIL_OR_PASSWORD: AuthError =
        AuthError::new(StatusCode::UNAUTHORIZED, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    /// Wrong, replayed or consumed second-factor code.
    pub const INVALID_CODE: AuthError = AuthError::new(StatusCode::UNAUTHORIZED, "INVALID_CODE", "Invalid code");
    /// Two-factor routes for an account without two-factor settings.
    pub const TWO_FACTOR_NOT_ENABLED: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "TWO_FACTOR_NOT_ENABLED", "Two factor isn't enabled");
    /// Unknown or unconfigured social provider.
    pub const PROVIDER_NOT_FOUND: AuthError =
        AuthError::new(StatusCode::NOT_FOUND, "PROVIDER_NOT_FOUND", "Provider not found");
    /// Social sign-in without a provider.
    pub const PROVIDER_REQUIRED: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid body parameters: provider is required");
    /// `callbackURL` outside the allowlist.
    pub const INVALID_CALLBACKURL: AuthError =
        AuthError::new(StatusCode::FORBIDDEN, "INVALID_CALLBACKURL", "Invalid callbackURL");
    /// `errorCallbackURL` outside the allowlist.
    pub const INVALID_ERRORCALLBACKURL: AuthError =
        AuthError::new(StatusCode::FORBIDDEN, "INVALID_ERRORCALLBACKURL", "Invalid errorCallbackURL");
    /// `newUserCallbackURL` outside the allowlist.
    pub const INVALID_NEWUSERCALLBACKURL: AuthError =
        AuthError::new(StatusCode::FORBIDDEN, "INVALID_NEWUSERCALLBACKURL", "Invalid newUserCallbackURL");
    /// `two-factor/enable` while two-factor is on (turning it off first needs the password too).
    pub const TWO_FACTOR_ALREADY_ENABLED: AuthError =
        AuthError::new(StatusCode::BAD_REQUEST, "TWO_FACTOR_ALREADY_ENABLED", "Two factor is already enabled");
    /// Body over the size limit.
    pub const PAYLOAD_TOO_LARGE: AuthError =
        AuthError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Payload too large");
    /// Non-JSON body.
    pub const UNSUPPORTED_MEDIA_TYPE: AuthError =
        AuthError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type");
    /// Unparsable JSON body.
    pub const INVALID_JSON: AuthError = AuthError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", "Invalid JSON body");
    /// The database is unreachable.
    pub const UNAVAILABLE: AuthError =
        AuthError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Service unavailable");
    /// Anything unexpected (details in the log).
    pub const INTERNAL: AuthError =
        AuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", "Internal server error");

    /// An error with no retry hint.
    pub const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        AuthError { status, code, message, retry_after_secs: None }
    }

    /// 429 with the retry hint.
    pub const fn too_many_requests(retry_after_secs: u64) -> Self {
        AuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "TOO_MANY_REQUESTS",
            message: "Too many requests. Please try again later.",
            retry_after_secs: Some(retry_after_secs),
        }
    }
}

impl From<mapquiz_domain::PasswordError> for AuthError {
    fn from(e: mapquiz_domain::PasswordError) -> Self {
        match e {
            mapquiz_domain::PasswordError::TooShort => AuthError::PASSWORD_TOO_SHORT,
            mapquiz_domain::PasswordError::TooLong => AuthError::PASSWORD_TOO_LONG,
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        count_store_error(&e);
        if e.is_unavailable() {
            tracing::warn!(error = format!("{e:#}"), "database unavailable");
            AuthError::UNAVAILABLE
        } else {
            tracing::error!(error = format!("{e:#}"), "internal error");
            AuthError::INTERNAL
        }
    }
}

impl From<anyhow::Error> for AuthError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<StoreError>() {
            Ok(store) => store.into(),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                AuthError::INTERNAL
            }
        }
    }
}

#[derive(Serialize)]
struct AuthErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut res = json(self.status, &AuthErrorBody { code: self.code, message: self.message });
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res.headers_mut().insert("x-retry-after", HeaderValue::from(secs));
        }
        res
    }
}

/// True for paths answered in Better Auth's error shape.
pub fn is_auth_path(path: &str) -> bool {
    path == "/api/auth" || path.starts_with("/api/auth/")
}

/// The protocol's JSON response: serialised body and `application/json; charset=utf-8`.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8))], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            let body = br#"{"error":"Erreur interne du serveur","code":"internal_error"}"#.as_slice();
            (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8))], body)
                .into_response()
        }
    }
}

/// The media type of every JSON answer.
pub const JSON_UTF8: &str = "application/json; charset=utf-8";
