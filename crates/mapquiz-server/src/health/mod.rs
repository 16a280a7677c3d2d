//! Service routes (protocol §1.3): what the server is, whether it is alive, ready and healthy.

use crate::error::json;
use crate::lobbies::tally::LiveCounts;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use mapquiz_domain::Timestamp;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `GET /`, the service description (every role but `worker`).
pub fn service_info() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(root))
}

/// The health and readiness probes, which every role answers.
pub fn probes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(health_detailed))
        .routes(routes!(livez))
        .routes(routes!(readyz))
}

/// Pings the database within the configured bound; a store that does not answer in time is down.
async fn database_check(state: &AppState) -> (bool, Duration) {
    let started = Instant::now();
    let ok = match tokio::time::timeout(state.config.http.health_timeout, state.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = format!("{e:#}"), "health check: database error");
            false
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer in time");
            false
        }
    };
    (ok, started.elapsed())
}

fn now_iso() -> String {
    Timestamp::from_datetime(chrono::Utc::now()).to_iso()
}

/// Where the API lives.
#[derive(Serialize, ToSchema)]
pub struct Endpoints {
    #[schema(example = "/api")]
    api: &'static str,
    #[schema(example = "/ws")]
    websocket: &'static str,
    #[schema(example = "/health")]
    health: &'static str,
}

/// What this server is.
#[derive(Serialize, ToSchema)]
pub struct ServiceInfo {
    #[schema(example = "MapQuiz API")]
    message: &'static str,
    version: &'static str,
    endpoints: Endpoints,
}

/// Service information.
#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, body = ServiceInfo)))]
async fn root() -> Response {
    json(
        StatusCode::OK,
        &ServiceInfo {
            message: "MapQuiz API",
            version: env!("CARGO_PKG_VERSION"),
            endpoints: Endpoints { api: "/api", websocket: "/ws", health: "/health" },
        },
    )
}

/// Health in one line.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `error`.
    status: &'static str,
    /// `connected` or `disconnected`.
    database: &'static str,
    timestamp: String,
}

/// Checks the database (time-bounded): 200 when it answers, 503 otherwise.
#[utoipa::path(get, path = "/health", tag = "service", responses(
    (status = 200, description = "The database answers", body = Health),
    (status = 503, description = "The database does not answer", body = Health),
))]
async fn health(State(state): State<AppState>) -> Response {
    let (ok, _) = database_check(&state).await;
    let (status, body) = if ok {
        (StatusCode::OK, Health { status: "ok", database: "connected", timestamp: now_iso() })
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Health { status: "error", database: "disconnected", timestamp: now_iso() })
    };
    json(status, &body)
}

/// The database check.
#[derive(Serialize, ToSchema)]
pub struct DatabaseCheck {
    status: &'static str,
    /// Milliseconds the check took.
    #[serde(rename = "responseTime")]
    response_time: u64,
}

/// Process memory.
#[derive(Serialize, ToSchema)]
pub struct MemoryCheck {
    /// Resident set size, bytes.
    rss: u64,
}

/// Every check of the detailed health answer.
#[derive(Serialize, ToSchema)]
pub struct Checks {
    database: DatabaseCheck,
    memory: MemoryCheck,
    /// Seconds since start.
    uptime: f64,
    /// Milliseconds spent building this answer.
    #[serde(rename = "responseTime")]
    response_time: u64,
    /// Open WebSocket connections on this node.
    #[serde(rename = "wsConnections")]
    ws_connections: usize,
    realtime: RealtimeCheck,
    lobbies: LobbiesCheck,
}

/// The live lobbies of this node (their actors), by status.
#[derive(Serialize, ToSchema)]
pub struct LobbiesCheck {
    /// Every live lobby.
    live: usize,
    #[serde(rename = "byStatus")]
    by_status: LiveCounts,
}

/// The real-time side of this node.
#[derive(Serialize, ToSchema)]
pub struct RealtimeCheck {
    /// `local` (no Redis), `connected`, or `degraded` (Redis unreachable: events reach this node only).
    bus: &'static str,
    /// Authenticated sockets on this node.
    sockets: usize,
    /// Users with at least one socket on this node.
    users: usize,
    /// This node's id among the nodes sharing Redis.
    #[serde(rename = "nodeId")]
    node_id: String,
}

/// Detailed health.
#[derive(Serialize, ToSchema)]
pub struct DetailedHealth {
    status: &'static str,
    timestamp: String,
    /// What this node runs: `all`, `api`, `realtime` or `worker`.
    #[schema(example = "all")]
    role: &'static str,
    checks: Checks,
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

fn lobbies_check(state: &AppState) -> LobbiesCheck {
    let by_status = state.realtime.lobbies.live_by_status();
    LobbiesCheck { live: by_status.waiting + by_status.playing + by_status.finished, by_status }
}

/// Database, memory, uptime, connections and live lobbies: 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/health/detailed", tag = "service", responses(
    (status = 200, body = DetailedHealth),
    (status = 503, body = DetailedHealth),
))]
async fn health_detailed(State(state): State<AppState>) -> Response {
    let started = Instant::now();
    let (ok, db_time) = database_check(&state).await;
    let body = DetailedHealth {
        status: if ok { "ok" } else { "error" },
        timestamp: now_iso(),
        role: state.config.role.as_str(),
        checks: Checks {
            database: DatabaseCheck {
                status: if ok { "connected" } else { "disconnected" },
                response_time: millis(db_time),
            },
            memory: MemoryCheck { rss: memory_stats::memory_stats().map_or(0, |m| m.physical_mem as u64) },
            uptime: state.started_at.elapsed().as_secs_f64(),
            response_time: millis(started.elapsed()),
            ws_connections: state.ws_connections.load(Ordering::Relaxed),
            realtime: RealtimeCheck {
                bus: state.realtime.bus.status(),
                sockets: state.realtime.hub.socket_count(),
                users: state.realtime.hub.user_count(),
                node_id: state.realtime.node_id.to_string(),
            },
            lobbies: lobbies_check(&state),
        },
    };
    json(if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, &body)
}

/// A probe answer.
#[derive(Serialize, ToSchema)]
pub struct Probe {
    status: &'static str,
}

/// Liveness: 200 while the process serves HTTP.
#[utoipa::path(get, path = "/livez", tag = "service", responses((status = 200, body = Probe)))]
async fn livez() -> Response {
    json(StatusCode::OK, &Probe { status: "ok" })
}

/// Readiness: 200 once start-up is complete and the database answers; 503 before, during shutdown, or
/// while the database is down.
#[utoipa::path(get, path = "/readyz", tag = "service", responses(
    (status = 200, body = Probe),
    (status = 503, body = Probe),
))]
async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_ready() && database_check(&state).await.0 {
        json(StatusCode::OK, &Probe { status: "ready" })
    } else {
        json(StatusCode::SERVICE_UNAVAILABLE, &Probe { status: "not_ready" })
    }
}
