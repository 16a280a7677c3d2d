//! Better Auth's response objects (protocol §1.4.1), built from the store's rows.

use crate::error::json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mapquiz_domain::Timestamp;
use mapquiz_store::{Session, User};
use serde::Serialize;

/// What a user whose stored name is empty is called (the client needs a first letter).
pub const FALLBACK_NAME: &str = "Joueur";

/// The caller's own user object (the only place an email is ever sent).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub tag: String,
}

impl UserBody {
    /// The user as Better Auth shows it; `tag` must have been ensured by the caller.
    pub fn new(user: &User, tag: &str) -> Self {
        UserBody {
            id: user.id.clone(),
            name: display_name(&user.name).to_owned(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            image: user.image.clone(),
            created_at: user.created_at,
            updated_at: user.updated_at,
            tag: tag.to_owned(),
        }
    }
}

/// A session object; `token` is known only for the session making the request (tokens are stored hashed).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionBody {
    pub id: String,
    pub expires_at: Timestamp,
    pub token: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
}

impl SessionBody {
    /// The session, with its token when the caller presented it.
    pub fn new(session: &Session, token: Option<&str>) -> Self {
        SessionBody {
            id: session.id.clone(),
            expires_at: session.expires_at,
            token: token.map(str::to_owned),
            created_at: session.created_at,
            updated_at: session.updated_at,
            ip_address: session.ip_address.clone(),
            user_agent: session.user_agent.clone(),
            user_id: session.user_id.clone(),
        }
    }
}

/// `get-session`'s answer.
#[derive(Serialize)]
pub struct SessionAndUser {
    pub session: SessionBody,
    pub user: UserBody,
}

/// `{token, user}`: sign-up, two-factor completion, change-password.
#[derive(Serialize)]
pub struct TokenAndUser {
    pub token: Option<String>,
    pub user: UserBody,
}

/// `{"status": true}`.
#[derive(Serialize)]
pub struct Status {
    pub status: bool,
}

/// The stored name, or [`FALLBACK_NAME`] when it is empty.
pub fn display_name(name: &str) -> &str {
    if name.trim().is_empty() { FALLBACK_NAME } else { name }
}

/// A 200 JSON answer with extra headers (cookies, `Location`).
pub fn answer<T: Serialize>(body: &T, headers: HeaderMap) -> Response {
    let mut res = json(StatusCode::OK, body);
    res.headers_mut().extend(headers);
    res
}
