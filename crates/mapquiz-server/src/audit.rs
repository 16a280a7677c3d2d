//! The audit trail: security-relevant actions, with who, from where and when. Never secrets.

use crate::http::meta::RequestMeta;
use crate::state::AppState;
use mapquiz_domain::new_id;
use mapquiz_store::AuditEntry;
use serde_json::Value;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    SignUp,
    SignIn,
    SignInFailed,
    SignOut,
    Lockout,
    PasswordChanged,
    TwoFactorEnabled,
    TwoFactorDisabled,
    SessionRevoked,
    ProfileUpdated,
}

impl Action {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignUp => "sign_up",
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SignOut => "sign_out",
            Action::Lockout => "lockout",
            Action::PasswordChanged => "password_changed",
            Action::TwoFactorEnabled => "two_factor_enabled",
            Action::TwoFactorDisabled => "two_factor_disabled",
            Action::SessionRevoked => "session_revoked",
            Action::ProfileUpdated => "profile_updated",
        }
    }
}

/// Appends a line. A failure to write it is logged, not returned: the action itself already happened.
pub async fn record(
    state: &AppState,
    action: Action,
    user_id: Option<&str>,
    meta: &RequestMeta,
    details: Option<Value>,
) {
    let entry = AuditEntry {
        id: new_id(),
        occurred_at: state.clock.now(),
        action: action.as_str().to_owned(),
        user_id: user_id.map(str::to_owned),
        target_id: None,
        ip_address: Some(meta.ip.to_string()),
        user_agent: meta.user_agent.clone(),
        details,
    };
    if let Err(e) = state.store.append_audit(&entry).await {
        tracing::error!(error = format!("{e:#}"), action = action.as_str(), "cannot write the audit trail");
    }
}
