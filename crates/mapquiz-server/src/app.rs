//! The application's life: build (store, migrations, state, listener), serve, drain and close.

use crate::audit::Audit;
use crate::auth::Auth;
use crate::clock::{DynClock, SystemClock};
use crate::config::{Config, secret};
use crate::http::rate_limit::Limiters;
use crate::http::shared_quota::SharedQuotas;
use crate::live::Realtime;
use crate::scores::writer::ScoreWriter;
use crate::state::{AppState, Inner};
use anyhow::Context;
use axum::serve::ListenerExt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How often idle rate-limit entries are dropped.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);
/// How often the histograms' sample buffers are folded into their summaries. Each recorded value waits in a
/// buffer until then (8 bytes each): at 80,000 requests a second, 30 s of them held 20 MB.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(1);
/// Every this many housekeeping ticks (10 minutes), rows that can no longer matter are deleted: expired
/// sessions, OAuth states and locks, and failed sign-ins older than the lockout window. Each delete is
/// idempotent, so nodes sharing a database may all run it.
const PRUNE_EVERY_TICKS: u64 = 20;

/// A built application, bound to its port and ready to serve.
pub struct App {
    listener: TcpListener,
    routes: axum::Router<AppState>,
    state: AppState,
}

impl App {
    /// Opens the store, runs migrations (unless turned off), builds the state and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`App::build`] with another clock (tests move time with [`crate::clock::ManualClock`]).
    pub async fn build_with_clock(config: Config, clock: DynClock) -> anyhow::Result<App> {
        let started_at = Instant::now();
        let auth_secret = secret::resolve(&config.auth.secret).context("cannot read or create the auth secret file")?;
        let store = mapquiz_store::connect(&config.database.connect_options())
            .await
            .with_context(|| format!("cannot open the database {}", config.database.url.redacted()))?;
        if config.database.run_migrations {
            let applied = store.migrate_up().await.context("cannot apply database migrations")?;
            if !applied.is_empty() {
                tracing::info!(count = applied.len(), "applied database migrations");
            }
        }
        let auth = Auth::new(&config, &auth_secret, store.clone(), clock.clone()).await?;
        let realtime = Realtime::start(&config, store.clone(), clock.clone()).await?;
        // Only the nodes that run lobby actors bring them back: an actor restored on an api or worker node
        // would run the lobby's timers (grace, empty lobby) beside the realtime node's own copy.
        if config.role.serves_realtime() {
            let restored = realtime.lobbies.restore_all().await.context("cannot restore the stored lobbies")?;
            if restored > 0 {
                tracing::info!(count = restored, "restored stored lobbies");
            }
        }
        auth.sessions.on_revoke(realtime.revocation_hook());
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        // The router holds this role's routes; the OpenAPI document always describes the whole service, which
        // is what a client of the deployment sees whichever node answers it.
        let (routes, _) = crate::http::routes_for(config.role).split_for_parts();
        let (_, openapi) = crate::http::routes().split_for_parts();
        let openapi = crate::openapi::complete(openapi);
        let openapi_json = openapi.to_json().context("cannot render the OpenAPI document")?;
        let score_writer = ScoreWriter::start(store.clone());
        let state = AppState::new(Inner {
            limiters: Arc::new(Limiters::new(config.rate_limits.clone()).shared(
                realtime.redis().map(|client| SharedQuotas::new(client.clone(), config.redis_key_prefix.clone())),
            )),
            config,
            audit: Audit::new(store.clone(), clock.clone()),
            store,
            clock,
            auth,
            auth_secret,
            metrics: crate::ops::metrics::recorder(),
            realtime,
            started_at,
            ready: AtomicBool::new(false),
            ws_connections: AtomicUsize::new(0),
            shutdown: CancellationToken::new(),
            openapi_json,
            bug_report_wakeup: Arc::new(tokio::sync::Notify::new()),
            score_writer,
        });
        // Start-up is complete: /readyz may now answer ready (while the database answers).
        state.ready.store(true, Ordering::Release);
        Ok(App { listener, routes, state })
    }

    /// The bound address (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The application state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Wraps the routes (inside the edge middleware) with `wrap`: the test harness adds an observer of every
    /// request and its response this way; the server itself never calls it.
    pub fn wrap_routes(
        mut self,
        wrap: impl FnOnce(axum::Router<AppState>, &AppState) -> axum::Router<AppState>,
    ) -> App {
        self.routes = wrap(self.routes, &self.state);
        self
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish within the
    /// configured deadline, and closes the store.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let App { listener, routes, state } = self;
        let token = state.shutdown.clone();
        tokio::spawn({
            let state = state.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections, draining in-flight requests");
                state.ready.store(false, Ordering::Release);
                state.shutdown.cancel();
            }
        });
        // Every role keeps its own memory flat and prunes expired rows (idempotent, so any node may).
        tokio::spawn(housekeeping(state.clone()));
        let role = state.config.role;
        if role.serves_realtime() {
            tokio::spawn(state.realtime.presence.clone().run_heartbeat(token.clone()));
            tokio::spawn(state.realtime.socket_heartbeat(token.clone()));
            tokio::spawn(state.realtime.lobbies.clone().run());
        }
        let bug_reports = if role.runs_jobs() {
            // Its own task beside housekeeping: an ANALYZE of a large database must not hold up the 30-second
            // upkeep.
            tokio::spawn(crate::ops::maintenance::scheduler(state.clone()));
            Some(tokio::spawn(crate::bug_reports::worker::run(state.clone())))
        } else {
            None
        };

        let deadline = state.config.http.shutdown_timeout;
        let router = crate::http::router(routes, state.clone());
        // Real-time frames are small and latency-bound: Nagle's algorithm would hold each one back for the
        // peer's delayed ACK (~40 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(token.clone().cancelled_owned());
        tokio::select! {
            served = server => served.context("the HTTP server failed")?,
            () = async { token.cancelled().await; tokio::time::sleep(deadline).await } => {
                tracing::warn!(deadline_ms = deadline.as_millis() as u64, "requests still running at the shutdown deadline were dropped");
            }
        }
        // A delivery under way is let finish (bounded by its HTTP timeout) so it is recorded before the store
        // closes: an issue created but not recorded would be created again.
        if let Some(bug_reports) = bug_reports
            && tokio::time::timeout(Duration::from_secs(25), bug_reports).await.is_err()
        {
            tracing::warn!("the bug-report worker did not stop in time");
        }
        // Before the store closes: the progress the writer still holds is stored.
        state.realtime.lobbies.close().await;
        state.realtime.close().await;
        state.auth.sessions.close().await;
        state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Periodic upkeep that keeps memory flat: drain histogram buffers, forget idle rate-limit clients.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut upkeep = tokio::time::interval(METRICS_UPKEEP_EVERY);
    upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = upkeep.tick() => state.metrics.run_upkeep(),
            _ = tick.tick() => {
                state.limiters.housekeeping();
                ticks += 1;
                if ticks.is_multiple_of(PRUNE_EVERY_TICKS) {
                    prune_expired(&state).await;
                }
            }
        }
    }
}

async fn prune_expired(state: &AppState) {
    let now = state.clock.now();
    let window = chrono::Duration::from_std(state.config.auth.lockout.window).unwrap_or(chrono::Duration::hours(1));
    match state.store.prune_auth_failures(now.plus(-window)).await {
        Ok(n) => tracing::debug!(deleted = n, "pruned old sign-in failures"),
        Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot prune sign-in failures"),
    }
    match state.store.prune_expired(now).await {
        Ok((sessions, values)) => tracing::debug!(sessions, values, "pruned expired sessions and values"),
        Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot prune expired sessions"),
    }
}

/// `mapquiz serve`: build, log the address and role, serve until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (backend, profile, role) = (config.database.url.backend(), config.profile, config.role);
    let app = App::build(config).await?;
    tracing::info!(address = %app.local_addr(), %backend, ?profile, %role, "MapQuiz Server listening");
    app.serve(shutdown_signal()).await
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
