//! The audit trail: security-relevant actions, with who, from where and when. Never secrets.

use crate::clock::DynClock;
use crate::http::meta::RequestMeta;
use mapquiz_domain::{Timestamp, new_id};
use mapquiz_store::{AuditEntry, DynStore};
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
    FriendRequestSent,
    FriendRequestAccepted,
    FriendRequestRejected,
    FriendRemoved,
    /// A maintenance job ran (`mapquiz maintenance` or the scheduler).
    Maintenance,
    /// `mapquiz backup` wrote a copy of the database.
    Backup,
    /// `mapquiz restore` replaced the database with a copy.
    Restore,
    /// `mapquiz import-original` imported the original server's data.
    ImportOriginal,
    /// A lobby's host removed a player.
    LobbyPlayerKicked,
    /// A lobby's host role moved (the host left, or stayed away past the grace period).
    LobbyHostTransferred,
    /// A progress update carried codes outside the game's required set (protocol §3.4).
    LobbySuspiciousInput,
    /// A game result got the fair-play `flagged` mark.
    LobbyResultFlagged,
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
            Action::FriendRequestSent => "friend_request_sent",
            Action::FriendRequestAccepted => "friend_request_accepted",
            Action::FriendRequestRejected => "friend_request_rejected",
            Action::FriendRemoved => "friend_removed",
            Action::Maintenance => "maintenance",
            Action::Backup => "backup",
            Action::Restore => "restore",
            Action::ImportOriginal => "import_original",
            Action::LobbyPlayerKicked => "lobby_player_kicked",
            Action::LobbyHostTransferred => "lobby_host_transferred",
            Action::LobbySuspiciousInput => "lobby_suspicious_input",
            Action::LobbyResultFlagged => "lobby_result_flagged",
        }
    }
}

/// The audit service: built from the store and the clock alone, so anything that acts for a user (a route,
/// a socket, a lobby actor) can hold a copy. Cloning is cheap.
#[derive(Clone)]
pub struct Audit {
    store: DynStore,
    clock: DynClock,
}

impl Audit {
    /// Writes to `store`, dated by `clock`.
    pub fn new(store: DynStore, clock: DynClock) -> Self {
        Audit { store, clock }
    }

    /// Appends a line. A failure to write it is logged, not returned: the action itself already happened.
    pub async fn record(&self, action: Action, user_id: Option<&str>, meta: &RequestMeta, details: Option<Value>) {
        self.record_on(action, user_id, None, meta, details).await;
    }

    /// [`Audit::record`] for an action on another user (`target_id`): a friend request, a removal, a kick.
    pub async fn record_on(
        &self,
        action: Action,
        user_id: Option<&str>,
        target_id: Option<&str>,
        meta: &RequestMeta,
        details: Option<Value>,
    ) {
        let origin = (Some(meta.ip.to_string()), meta.user_agent.clone());
        self.write_line(action, user_id, target_id, origin, details).await;
    }
}

impl Audit {
    /// Appends a line for an action no request carries (a lobby's timer, its actor's decisions): no IP, no
    /// user agent. A failure to write it is logged, not returned.
    pub async fn record_unattended(
        &self,
        action: Action,
        user_id: Option<&str>,
        target_id: Option<&str>,
        details: Option<Value>,
    ) {
        self.write_line(action, user_id, target_id, (None, None), details).await;
    }

    /// Builds the line, stamped now, with the request's origin (IP address, user agent) when there is one.
    async fn write_line(
        &self,
        action: Action,
        user_id: Option<&str>,
        target_id: Option<&str>,
        (ip_address, user_agent): (Option<String>, Option<String>),
        details: Option<Value>,
    ) {
        let entry = AuditEntry {
            id: new_id(),
            occurred_at: self.clock.now(),
            action: action.as_str().to_owned(),
            user_id: user_id.map(str::to_owned),
            target_id: target_id.map(str::to_owned),
            ip_address,
            user_agent,
            details,
        };
        append(&self.store, &entry).await;
    }
}

/// Who runs an action that no HTTP request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// An operator, through the `mapquiz` command line.
    Cli,
    /// The in-process scheduler of a server node.
    Scheduler,
}

impl Actor {
    /// The stored name, in `details.actor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Cli => "cli",
            Actor::Scheduler => "scheduler",
        }
    }
}

/// Appends a line for an operator or scheduler action, which runs with a store but without the audit service
/// (the command line): no user, no IP; `details` gains `actor`. A failure to write it is logged, not returned.
pub async fn record_system(store: &DynStore, now: Timestamp, action: Action, actor: Actor, details: Value) {
    let mut details = details;
    if let Value::Object(map) = &mut details {
        map.insert("actor".to_owned(), Value::from(actor.as_str()));
    }
    let entry = AuditEntry {
        id: new_id(),
        occurred_at: now,
        action: action.as_str().to_owned(),
        user_id: None,
        target_id: None,
        ip_address: None,
        user_agent: None,
        details: Some(details),
    };
    append(store, &entry).await;
}

/// Writes `entry`; a failure is logged, not returned: the action itself already happened.
async fn append(store: &DynStore, entry: &AuditEntry) {
    if let Err(e) = store.append_audit(entry).await {
        tracing::error!(error = format!("{e:#}"), action = entry.action.as_str(), "cannot write the audit trail");
    }
}
