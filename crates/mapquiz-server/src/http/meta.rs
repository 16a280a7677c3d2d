//! Who is asking: the client IP (as the edge resolved it) and the `User-Agent`, for sessions and the audit.

use crate::http::client_ip::ClientIp;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};

/// Longest `User-Agent` kept; the rest is cut (a client chooses its length).
const USER_AGENT_MAX_CHARS: usize = 512;

/// The request's client IP and user agent.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ClientIp>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(USER_AGENT_MAX_CHARS).collect::<String>())
            .filter(|ua| !ua.is_empty());
        Ok(RequestMeta { ip, user_agent })
    }
}
