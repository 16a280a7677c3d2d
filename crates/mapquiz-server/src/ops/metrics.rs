//! The Prometheus registry: installed once per process, rendered at `GET /metrics`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use std::sync::OnceLock;

/// Latency buckets (seconds) for `http_request_duration_seconds`.
const HTTP_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder handle; the first call installs it (tests start many apps in one process).
pub fn recorder() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("http_request_duration_seconds".into()), HTTP_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!("http_requests_total", "HTTP requests by method, route template and status");
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request duration by method, route template and status"
    );
    metrics::describe_counter!("http_rate_limited_total", "Requests refused by a rate limit, by limit");
    metrics::describe_gauge!("ws_connections", "Open WebSocket connections on this node");
    metrics::describe_counter!("ws_messages_received_total", "WebSocket messages received, by type");
    metrics::describe_counter!("ws_messages_sent_total", "WebSocket frames queued to sockets, by type");
    metrics::describe_counter!("ws_messages_dropped_total", "WebSocket messages dropped by the rate limit");
    metrics::describe_counter!(
        "ws_slow_consumers_disconnected_total",
        "Sockets disconnected because their send queue overflowed or a write stalled"
    );
    metrics::describe_gauge!("realtime_sockets", "Authenticated sockets on this node");
    metrics::describe_gauge!("realtime_users", "Users with at least one socket on this node");
    metrics::describe_gauge!("db_pool_connections", "Database pool connections, by state (in_use, idle)");
    metrics::describe_counter!("db_errors_total", "Failed database operations, by kind (unavailable, other)");
    metrics::describe_counter!("session_cache_requests_total", "Session cache lookups, by result (hit, miss, error)");
    metrics::describe_gauge!("process_resident_memory_bytes", metrics::Unit::Bytes, "Resident memory of the process");
    metrics::describe_gauge!("tokio_alive_tasks", "Tasks alive on this node's Tokio runtime");
    metrics::describe_counter!("job_runs_total", "Maintenance job runs, by job and result (ok, failed)");
    metrics::describe_counter!("bus_publish_failures_total", "Events that could not be published to the other nodes");
    describe_lobbies();
}

fn describe_lobbies() {
    metrics::describe_gauge!("lobbies_live", "Live lobbies on this node, by status");
    metrics::describe_gauge!("lobby_players_in_games", "Members of this node's lobbies that are playing a game");
    metrics::describe_counter!("lobby_commands_total", "Lobby commands, by type and outcome (ok, refused, failed)");
    metrics::describe_counter!("lobby_commands_failed_total", "Lobby commands refused because their write failed");
    metrics::describe_counter!(
        "lobby_mailbox_full_total",
        "Lobby commands refused because the actor's mailbox was full"
    );
    metrics::describe_counter!("lobby_suspicious_input_total", "Suspicious progress input, by kind");
    metrics::describe_counter!("lobby_write_failures_total", "Failed write-through lobby writes (each try)");
    metrics::describe_histogram!(
        "lobby_game_duration_seconds",
        metrics::Unit::Seconds,
        "Length of finished multiplayer games"
    );
    metrics::describe_histogram!(
        "lobby_write_seconds",
        metrics::Unit::Seconds,
        "Duration of one lobby writer transaction (a group of lobbies' changes and progress)"
    );
    metrics::describe_histogram!("lobby_write_group_size", "Lobbies whose changes one group commit stored");
    metrics::describe_histogram!("lobby_progress_batch_size", "Players' progress rows one write stored");
}

/// Gauges read at scrape time: the pool, this node's sockets, the process's memory and tasks.
fn sample(state: &AppState) {
    let pool = state.store.pool_stats();
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("realtime_sockets").set(state.realtime.hub.socket_count() as f64);
    metrics::gauge!("realtime_users").set(state.realtime.hub.user_count() as f64);
    if let Some(m) = memory_stats::memory_stats() {
        metrics::gauge!("process_resident_memory_bytes").set(m.physical_mem as f64);
    }
    // A task leak (a socket's or a lobby's task that never ends) shows here before it shows in memory.
    let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    metrics::gauge!("tokio_alive_tasks").set(tasks as f64);
}

/// Compares without leaking, through timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Prometheus text exposition of every metric; needs `Authorization: Bearer <metrics_token>` when one is set.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "A metrics token is configured and was not presented"),
    ))]
pub(crate) async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(presented.as_bytes(), token.expose_secret().as_bytes()) {
            return ApiError::Unauthorized.into_response();
        }
    }
    sample(&state);
    let body = state.metrics.render();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        body,
    )
        .into_response()
}
