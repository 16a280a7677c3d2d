//! Everything a handler may need, passed by axum's `State`: no globals.
//!
//! This module sits above the services it holds: none of them takes the whole state. An extractor names the
//! part it reads (its substate, through axum's `FromRef`), a middleware layer is given its part when the
//! router is built, and a service is built from the few services it uses.

use crate::audit::Audit;
use crate::auth::Auth;
use crate::auth::sessions::Sessions;
use crate::clock::DynClock;
use crate::config::Config;
use crate::http::json::BodyLimit;
use crate::http::rate_limit::Limiters;
use crate::live::Realtime;
use axum::extract::FromRef;
use mapquiz_store::DynStore;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Shared application state; cloning is cheap.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The fields behind [`AppState`].
pub struct Inner {
    pub config: Config,
    pub store: DynStore,
    /// "Now" for every rule that depends on time (injectable for tests).
    pub clock: DynClock,
    /// The audit trail, over `store` and `clock`.
    pub audit: Audit,
    /// Sessions, password hashing, lockouts, Google.
    pub auth: Auth,
    /// The resolved signing secret (configured, or generated beside the database outside production).
    pub auth_secret: SecretString,
    pub metrics: PrometheusHandle,
    /// Sockets, bus, presence.
    pub realtime: Realtime,
    pub limiters: Arc<Limiters>,
    pub started_at: Instant,
    /// Start-up finished and shutdown not begun.
    pub ready: AtomicBool,
    /// Open WebSocket connections on this node.
    pub ws_connections: AtomicUsize,
    /// Cancelled when shutdown begins: long-lived tasks and sockets watch it.
    pub shutdown: CancellationToken,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
    /// Wakes the bug-report delivery worker as soon as a report is stored.
    pub bug_report_wakeup: Arc<tokio::sync::Notify>,
    /// Group-commits the solo games players save.
    pub score_writer: crate::scores::writer::ScoreWriter,
}

impl AppState {
    /// Wraps the fields.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// Whether `/readyz` may answer ready (the database is checked separately).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.shutdown.is_cancelled()
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for Arc<Sessions> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.sessions.clone()
    }
}

impl FromRef<AppState> for Arc<Limiters> {
    fn from_ref(state: &AppState) -> Self {
        state.limiters.clone()
    }
}

impl FromRef<AppState> for BodyLimit {
    fn from_ref(state: &AppState) -> Self {
        BodyLimit(state.config.http.body_limit_bytes)
    }
}
