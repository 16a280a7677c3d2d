//! Request bodies of the Better Auth routes: read in the protocol's order (413 → 415 → 400) and answered in
//! Better Auth's error shape, then read field by field so that each rule gets its own error.

use crate::error::AuthError;
use crate::http::json::{BodyError, BodyLimit, read};
use axum::extract::{FromRef, FromRequest, Request};
use serde_json::{Map, Value};

/// A JSON object body; an empty body reads as `{}` (sign-out and the `revoke-*` routes may send none).
#[derive(Debug, Default)]
pub struct AuthBody(pub Map<String, Value>);

impl From<BodyError> for AuthError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => AuthError::PAYLOAD_TOO_LARGE,
            BodyError::UnsupportedMediaType => AuthError::UNSUPPORTED_MEDIA_TYPE,
            BodyError::InvalidJson => AuthError::INVALID_JSON,
            BodyError::Missing => AuthError::INVALID_BODY,
        }
    }
}

impl<S> FromRequest<S> for AuthBody
where
    BodyLimit: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        match read(&parts.headers, body, BodyLimit::from_ref(state).0).await? {
            None => Ok(AuthBody::default()),
            Some(Value::Object(map)) => Ok(AuthBody(map)),
            Some(_) => Err(AuthError::INVALID_BODY),
        }
    }
}

impl AuthBody {
    /// The string field `key`: `Ok(None)` when absent or null, an error when it is not a string.
    pub fn str(&self, key: &str) -> Result<Option<&str>, AuthError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(AuthError::INVALID_BODY),
        }
    }

    /// The boolean field `key`, `default` when absent or null.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, AuthError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(AuthError::INVALID_BODY),
        }
    }

    /// Whether the field is present (even as null).
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}
