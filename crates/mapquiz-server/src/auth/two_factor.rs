//! TOTP two-factor (protocol §1.4.7): enabling with the password, verifying codes (each time step at most
//! once per account), backup codes (each at most once), and the pending sign-in that a second factor ends.

use super::body::AuthBody;
use super::cookies::{self, TWO_FACTOR};
use super::crypto::random_identifier;
use super::email::{recheck_password, user_body};
use super::sessions::Authenticated;
use super::wire::{Status, TokenAndUser, answer};
use crate::audit::Action;
use crate::error::AuthError;
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use mapquiz_store::{FailureScope, TwoFactor, User};
use serde::{Deserialize, Serialize};
use serde_json::json as j;
use totp_rs::{Algorithm, TOTP};

/// Issuer shown by authenticator apps.
const ISSUER: &str = "MapQuiz";
/// Seconds per TOTP step.
const STEP_SECS: u64 = 30;
/// Steps accepted on either side of the current one (clock drift).
const SKEW_STEPS: i64 = 1;
/// Backup codes handed out at a time.
const BACKUP_CODES: usize = 10;
/// How long a pending second-factor sign-in lasts, seconds.
const PENDING_SECS: u64 = 600;
const PENDING_PREFIX: &str = "two-factor:";

/// What a pending sign-in remembers between the password and the code.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    user_id: String,
    remember: bool,
}

/// After the right password on an account with 2FA: no session yet, a signed 10-minute cookie instead.
pub(super) async fn begin_pending_sign_in(
    state: &AppState,
    user: &User,
    remember: bool,
) -> Result<Response, AuthError> {
    let id = random_identifier();
    let now = state.clock.now();
    let value = serde_json::to_string(&Pending { user_id: user.id.clone(), remember }).map_err(anyhow::Error::from)?;
    let expires = now.plus(chrono::Duration::seconds(PENDING_SECS as i64));
    state.store.put_verification(&format!("{PENDING_PREFIX}{id}"), &value, expires, now).await?;
    let mut out = HeaderMap::new();
    // The cookie carries the prefixed identifier, so it can never pass for a session cookie or vice versa.
    let signed = cookies::encode_uri_component(&state.auth.keys.signed(&format!("{PENDING_PREFIX}{id}")));
    out.append(header::SET_COOKIE, state.auth.sessions.jar().set(TWO_FACTOR, &signed, Some(PENDING_SECS)));
    Ok(answer(&j!({"twoFactorRedirect": true}), out))
}

/// Who a verification is for: a pending sign-in (cookie), or the signed-in user confirming their setup.
enum Subject {
    Pending { id: String, pending: Pending },
    Session(Box<Authenticated>),
}

impl Subject {
    fn user_id(&self) -> &str {
        match self {
            Subject::Pending { pending, .. } => &pending.user_id,
            Subject::Session(a) => &a.user.id,
        }
    }
}

async fn subject(state: &AppState, headers: &HeaderMap) -> Result<Subject, AuthError> {
    let jar = state.auth.sessions.jar();
    let pending_id = jar
        .read(headers, TWO_FACTOR)
        .and_then(cookies::decode_uri_component)
        .and_then(|signed| state.auth.keys.verify_signed(&signed).map(str::to_owned))
        .and_then(|value| value.strip_prefix(PENDING_PREFIX).map(str::to_owned));
    if let Some(id) = pending_id
        && let Some(value) = state.store.peek_verification(&format!("{PENDING_PREFIX}{id}"), state.clock.now()).await?
    {
        let pending = serde_json::from_str(&value).map_err(anyhow::Error::from)?;
        return Ok(Subject::Pending { id, pending });
    }
    state.auth.require(headers).await.map(|a| Subject::Session(Box::new(a)))
}

fn totp(secret: Vec<u8>) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECS, secret)
}

/// The step (`unix seconds / 30`) within ±1 of now whose code is `code`, if any.
fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret.to_vec());
    let current = i64::try_from(now_secs / STEP_SECS).ok()?;
    (current - SKEW_STEPS..=current + SKEW_STEPS)
        .find(|step| u64::try_from(*step).is_ok_and(|s| totp.generate(s * STEP_SECS) == code))
}

/// `otpauth://totp/MapQuiz:<email>?secret=…&issuer=MapQuiz&digits=6&period=30`.
fn totp_uri(email: &str, secret: &[u8]) -> String {
    let encoded = totp_rs::Secret::Raw(secret.to_vec()).to_encoded().to_string();
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={encoded}&issuer={ISSUER}&digits=6&period={STEP_SECS}",
        cookies::encode_uri_component(email).replace("%40", "@")
    )
}

/// Ten codes like `AbCdE-12345`, and their keyed hashes for the store.
fn new_backup_codes(state: &AppState) -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..BACKUP_CODES)
        .map(|_| {
            let raw = super::crypto::random_alphanumeric(10);
            format!("{}-{}", &raw[..5], &raw[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| state.auth.keys.code_hash(c)).collect();
    (codes, hashes)
}

/// The signed-in user, after checking their password again.
async fn with_password(
    state: &AppState,
    headers: &HeaderMap,
    body: &AuthBody,
    meta: &RequestMeta,
) -> Result<Authenticated, AuthError> {
    let auth = state.auth.require(headers).await?;
    recheck_password(state, &auth.user, body.str("password")?, meta).await?;
    Ok(auth)
}

async fn settings(state: &AppState, user_id: &str) -> Result<TwoFactor, AuthError> {
    state.store.two_factor(user_id).await?.ok_or(AuthError::TWO_FACTOR_NOT_ENABLED)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Enabled {
    #[serde(rename = "totpURI")]
    totp_uri: String,
    backup_codes: Vec<String>,
}

/// Starts two-factor setup: a new secret and backup codes; active after the first `verify-totp`.
#[utoipa::path(post, path = "/api/auth/two-factor/enable", tag = "auth", request_body = super::requests::PasswordRequest,
    responses((status = 200, description = "`{totpURI, backupCodes}`"), (status = 400, description = "INVALID_PASSWORD"),
              (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn enable(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = with_password(&state, &headers, &body, &meta).await?;
    // Re-enrolling would switch the second factor off until the new secret is confirmed.
    if state.store.two_factor(&auth.user.id).await?.is_some_and(|tf| tf.enabled) {
        return Err(AuthError::TWO_FACTOR_ALREADY_ENABLED);
    }
    let secret: [u8; 20] = super::crypto::random_bytes();
    let (codes, hashes) = new_backup_codes(&state);
    let sealed = state.auth.keys.encrypt(&secret)?;
    state.store.reset_two_factor(&auth.user.id, &sealed, &hashes, state.clock.now()).await?;
    Ok(answer(&Enabled { totp_uri: totp_uri(&auth.user.email, &secret), backup_codes: codes }, HeaderMap::new()))
}

/// Completes a pending sign-in, or (with a session) activates two-factor.
async fn complete(
    state: &AppState,
    subject: Subject,
    meta: &RequestMeta,
    enabled_before: bool,
) -> Result<Response, AuthError> {
    state.auth.lockouts.succeeded(FailureScope::TwoFactor, subject.user_id()).await?;
    let mut out = HeaderMap::new();
    match subject {
        Subject::Pending { id, pending } => {
            // Single use: of two concurrent completions, one wins.
            if state.store.take_verification(&format!("{PENDING_PREFIX}{id}"), state.clock.now()).await?.is_none() {
                return Err(AuthError::UNAUTHORIZED);
            }
            let user = state.store.user_by_id(&pending.user_id).await?.ok_or(AuthError::UNAUTHORIZED)?;
            let (_, token) = state.auth.sessions.create(&user.id, pending.remember, meta).await?;
            state.auth.sessions.set_cookie(&mut out, &token, pending.remember);
            out.append(header::SET_COOKIE, state.auth.sessions.jar().clear(TWO_FACTOR));
            state.audit.record(Action::SignIn, Some(&user.id), meta, Some(j!({"method": "two_factor"}))).await;
            Ok(answer(&TokenAndUser { token: Some(token), user: user_body(state, &user).await? }, out))
        }
        Subject::Session(auth) => {
            if !enabled_before {
                state.store.enable_two_factor(&auth.user.id, state.clock.now()).await?;
                state.audit.record(Action::TwoFactorEnabled, Some(&auth.user.id), meta, None).await;
            }
            Ok(answer(
                &TokenAndUser { token: Some(auth.token.clone()), user: user_body(state, &auth.user).await? },
                out,
            ))
        }
    }
}

/// Counts a wrong code (audited) and answers `INVALID_CODE`.
async fn wrong_code(state: &AppState, user_id: &str, meta: &RequestMeta) -> AuthError {
    let failure = Some(j!({"method": "two_factor"}));
    state.audit.record(Action::SignInFailed, Some(user_id), meta, failure).await;
    match state.auth.lockouts.failed(FailureScope::TwoFactor, user_id).await {
        Ok(true) => {
            state.audit.record(Action::Lockout, Some(user_id), meta, Some(j!({"scope": "two_factor"}))).await;
            AuthError::INVALID_CODE
        }
        Ok(false) => AuthError::INVALID_CODE,
        Err(e) => e.into(),
    }
}

/// The subject, its settings, and the code from the body, after the lockout check.
async fn prepare(
    state: &AppState,
    headers: &HeaderMap,
    body: &AuthBody,
) -> Result<(Subject, TwoFactor, String), AuthError> {
    let subject = subject(state, headers).await?;
    let code = body.str("code")?.map(|c| c.trim().to_owned()).ok_or(AuthError::INVALID_CODE)?;
    if let Err(secs) = state.auth.lockouts.begin(FailureScope::TwoFactor, subject.user_id()).await? {
        return Err(AuthError::too_many_requests(secs));
    }
    let tf = settings(state, subject.user_id()).await?;
    if matches!(subject, Subject::Pending { .. }) && !tf.enabled {
        return Err(AuthError::TWO_FACTOR_NOT_ENABLED);
    }
    Ok((subject, tf, code))
}

/// Verifies a TOTP code.
#[utoipa::path(post, path = "/api/auth/two-factor/verify-totp", tag = "auth", request_body = super::requests::CodeRequest,
    responses((status = 200, description = "`{token, user}`"), (status = 401, description = "INVALID_CODE or UNAUTHORIZED"),
              (status = 429, description = "TOO_MANY_REQUESTS after 5 wrong codes")))]
pub(super) async fn verify_totp(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let (subject, tf, code) = prepare(&state, &headers, &body).await?;
    let secret = state.auth.keys.decrypt(&tf.secret)?;
    let now_secs = u64::try_from(state.clock.now().millis() / 1000).unwrap_or(0);
    let Some(step) = matching_step(&secret, &code, now_secs) else {
        return Err(wrong_code(&state, subject.user_id(), &meta).await);
    };
    // Each step at most once per account: a code seen by someone else is worthless.
    if !state.store.use_totp_step(subject.user_id(), step, state.clock.now()).await? {
        return Err(wrong_code(&state, subject.user_id(), &meta).await);
    }
    complete(&state, subject, &meta, tf.enabled).await
}

/// Verifies (and consumes) a backup code.
#[utoipa::path(post, path = "/api/auth/two-factor/verify-backup-code", tag = "auth", request_body = super::requests::CodeRequest,
    responses((status = 200, description = "`{token, user}`"), (status = 401, description = "INVALID_CODE or UNAUTHORIZED")))]
pub(super) async fn verify_backup_code(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let (subject, tf, code) = prepare(&state, &headers, &body).await?;
    if !tf.enabled {
        return Err(AuthError::TWO_FACTOR_NOT_ENABLED);
    }
    let hash = state.auth.keys.code_hash(&code);
    let remaining: Vec<String> = tf.backup_codes.iter().filter(|h| **h != hash).cloned().collect();
    let now = state.clock.now();
    if remaining.len() == tf.backup_codes.len()
        || !state.store.swap_backup_codes(subject.user_id(), &tf.backup_codes, &remaining, now).await?
    {
        return Err(wrong_code(&state, subject.user_id(), &meta).await);
    }
    complete(&state, subject, &meta, true).await
}

/// Replaces the backup codes.
#[utoipa::path(post, path = "/api/auth/two-factor/generate-backup-codes", tag = "auth", request_body = super::requests::PasswordRequest,
    responses((status = 200, description = "`{status:true, backupCodes}`"), (status = 400, description = "INVALID_PASSWORD"),
              (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn generate_backup_codes(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = with_password(&state, &headers, &body, &meta).await?;
    let tf = settings(&state, &auth.user.id).await?;
    let (codes, hashes) = new_backup_codes(&state);
    if !state.store.swap_backup_codes(&auth.user.id, &tf.backup_codes, &hashes, state.clock.now()).await? {
        // A code was used meanwhile; the caller can simply ask again.
        return Err(AuthError::INVALID_CODE);
    }
    Ok(answer(&j!({"status": true, "backupCodes": codes}), HeaderMap::new()))
}

/// The `otpauth://` URI again (to add another device).
#[utoipa::path(post, path = "/api/auth/two-factor/get-totp-uri", tag = "auth", request_body = super::requests::PasswordRequest,
    responses((status = 200, description = "`{totpURI}`"), (status = 400, description = "INVALID_PASSWORD"),
              (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn get_totp_uri(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = with_password(&state, &headers, &body, &meta).await?;
    let tf = settings(&state, &auth.user.id).await?;
    let secret = state.auth.keys.decrypt(&tf.secret)?;
    Ok(answer(&j!({"totpURI": totp_uri(&auth.user.email, &secret)}), HeaderMap::new()))
}

/// Turns two-factor off.
#[utoipa::path(post, path = "/api/auth/two-factor/disable", tag = "auth", request_body = super::requests::PasswordRequest,
    responses((status = 200, description = "`{status:true}`"), (status = 400, description = "INVALID_PASSWORD"),
              (status = 401, description = "UNAUTHORIZED")))]
pub(super) async fn disable(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: AuthBody,
) -> Result<Response, AuthError> {
    let auth = with_password(&state, &headers, &body, &meta).await?;
    if state.store.delete_two_factor(&auth.user.id).await? {
        state.audit.record(Action::TwoFactorDisabled, Some(&auth.user.id), &meta, None).await;
    }
    Ok(answer(&Status { status: true }, HeaderMap::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s → 94287082 (8 digits; 287082 for 6).
        let t = totp(b"12345678901234567890".to_vec());
        assert_eq!(t.generate(59), "287082");
        assert_eq!(matching_step(b"12345678901234567890", "287082", 59), Some(1));
        assert_eq!(matching_step(b"12345678901234567890", "287082", 59 + 30), Some(1), "one step late");
        assert_eq!(matching_step(b"12345678901234567890", "287082", 59 + 60), None, "two steps late");
        assert_eq!(matching_step(b"12345678901234567890", "28708", 59), None);
    }

    #[test]
    fn uri_has_the_protocol_form() {
        let uri = totp_uri("a@b.example", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/MapQuiz:a@b.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=MapQuiz&digits=6&period=30"
        );
    }
}
