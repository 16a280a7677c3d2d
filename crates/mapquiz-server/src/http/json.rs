//! Reading JSON request bodies in the protocol's order of checks: 413 (size) → 415 (media type) →
//! 400 `invalid_json` → (authentication, then validation, in the handler).

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

/// The largest request body read, bytes: all that the body extractors take from the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    UnsupportedMediaType,
    InvalidJson,
    Missing,
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => ApiError::PayloadTooLarge,
            BodyError::UnsupportedMediaType => ApiError::UnsupportedMediaType,
            BodyError::InvalidJson => ApiError::InvalidJson,
            BodyError::Missing => ApiError::validation("Données invalides"),
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads at most `limit` bytes and parses them; `Ok(None)` for an empty body.
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Option<Value>, BodyError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(BodyError::TooLarge),
        Err(_) => return Err(BodyError::InvalidJson),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json(headers) {
        return Err(BodyError::UnsupportedMediaType);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|_| BodyError::InvalidJson)
}

/// A required JSON body, parsed but not yet validated (validation comes after authentication).
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S> FromRequest<S> for JsonBody
where
    BodyLimit: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        match read(&parts.headers, body, BodyLimit::from_ref(state).0).await? {
            Some(value) => Ok(JsonBody(value)),
            None => Err(BodyError::Missing.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        h
    }

    #[tokio::test]
    async fn checks_come_in_the_protocol_order() {
        let json = headers(Some("application/json; charset=utf-8"));
        let big = "x".repeat(2048);
        assert_eq!(read(&headers(Some("text/plain")), Body::from(big), 1024).await, Err(BodyError::TooLarge));
        assert_eq!(
            read(&headers(Some("text/plain")), Body::from("{}"), 1024).await,
            Err(BodyError::UnsupportedMediaType)
        );
        assert_eq!(read(&headers(None), Body::from("{}"), 1024).await, Err(BodyError::UnsupportedMediaType));
        assert_eq!(read(&json, Body::from("{ invalid json"), 1024).await, Err(BodyError::InvalidJson));
        assert_eq!(read(&json, Body::from(" \n"), 1024).await, Ok(None));
        assert_eq!(read(&headers(None), Body::empty(), 1024).await, Ok(None), "GET with no body needs no type");
        assert_eq!(read(&json, Body::from(r#"{"a":1}"#), 1024).await, Ok(Some(serde_json::json!({"a": 1}))));
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_unread() {
        let mut h = headers(Some("application/json"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5000000"));
        assert_eq!(read(&h, Body::from("{}"), 1024).await, Err(BodyError::TooLarge));
    }
}
