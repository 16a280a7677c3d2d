//! The request bodies of the Better Auth routes, as OpenAPI schemas only: the handlers read bodies field by
//! field (`AuthBody`) so that each rule keeps Better Auth's own error. Lengths are the domain's; rules JSON
//! Schema cannot say (email syntax, allowed callback URLs, the stored password) are in the descriptions.
#![allow(dead_code)] // the fields exist for their schemas

use utoipa::ToSchema;

/// `POST /api/auth/sign-up/email`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse", "name": "Ada"}))]
pub struct SignUpRequest {
    /// An address (trimmed and lower-cased); INVALID_EMAIL otherwise.
    email: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// Trimmed, 1 to 50 characters, no control characters.
    #[schema(min_length = 1, max_length = 50)]
    name: String,
    /// http(s) or data URL of an avatar.
    image: Option<String>,
    /// Where the client goes next: the frontend's origin or a relative path.
    #[serde(rename = "callbackURL")]
    callback_url: Option<String>,
    /// Default true: a persistent cookie.
    remember_me: Option<bool>,
}

/// `POST /api/auth/sign-in/email`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse"}))]
pub struct SignInRequest {
    email: String,
    password: String,
    #[serde(rename = "callbackURL")]
    callback_url: Option<String>,
    remember_me: Option<bool>,
}

/// `POST /api/auth/sign-in/social`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SocialSignInRequest {
    /// `google`; any other is PROVIDER_NOT_FOUND.
    provider: String,
    #[serde(rename = "callbackURL")]
    callback_url: Option<String>,
    #[serde(rename = "errorCallbackURL")]
    error_callback_url: Option<String>,
    #[serde(rename = "newUserCallbackURL")]
    new_user_callback_url: Option<String>,
    disable_redirect: Option<bool>,
    login_hint: Option<String>,
}

/// `POST /api/auth/revoke-session`: `token` or, failing it, `id`.
#[derive(ToSchema)]
pub struct RevokeSessionRequest {
    token: Option<String>,
    id: Option<String>,
}

/// A body the route accepts and does not read (`{}` or none).
#[derive(ToSchema)]
pub struct EmptyRequest {}

/// `POST /api/auth/update-user`: only the fields present change.
#[derive(ToSchema)]
pub struct UpdateUserRequest {
    /// Trimmed, 1 to 50 characters, no control characters.
    #[schema(min_length = 1, max_length = 50)]
    name: Option<String>,
    /// http(s) or data URL; null removes the avatar.
    image: Option<String>,
}

/// `POST /api/auth/change-password`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    current_password: String,
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
    revoke_other_sessions: Option<bool>,
}

/// The two-factor routes that re-check the caller's password.
#[derive(ToSchema)]
pub struct PasswordRequest {
    password: String,
}

/// `POST /api/auth/two-factor/verify-totp` and `verify-backup-code`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeRequest {
    code: String,
}
