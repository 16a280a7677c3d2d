//! The real-time gateway at `/ws` (protocol §2): the upgrade and its checks here, one task pair per
//! connection in [`connection`], the features' message tables joined in [`messages`], the wire contract in
//! [`protocol`].

pub mod connection;
pub mod limits;
pub mod messages;
pub mod protocol;

use crate::error::{ApiError, json};
use crate::http::meta::RequestMeta;
use crate::state::AppState;
use crate::ws::limits::{UNAUTHENTICATED_RETRY_AFTER_SECS, UnauthenticatedSlot};
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The gateway route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

/// Initial read buffer and write batching threshold of one socket, bytes. tungstenite fills its read buffer
/// to this size (zeroed) on the first read, so every idle socket holds it: the client's messages are a few
/// hundred bytes, and a larger one is read in several steps (4 KiB here cost 3 KiB more per idle socket).
const SOCKET_BUFFER: usize = 1024;

/// Headers kept from the upgrade request: the credentials `authenticate` resolves later.
const CREDENTIAL_HEADERS: [HeaderName; 2] = [header::COOKIE, header::AUTHORIZATION];

/// Opens a WebSocket (JSON text frames; see protocol §2).
#[utoipa::path(get, path = "/ws", tag = "realtime",
    responses((status = 101, description = "switching protocols"),
              (status = 403, description = "origin_not_allowed"),
              (status = 426, description = "upgrade_required"),
              (status = 429, description = "rate_limited: over the global limit, or the client IP holds \
                                             ws_max_unauthenticated_per_ip sockets not yet authenticated and \
                                             this upgrade carries no valid session")))]
async fn upgrade(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| state.config.http.cors_origins.iter().any(|a| a == o));
        if !allowed {
            return ApiError::OriginNotAllowed.into_response();
        }
    }
    let Ok(ws) = ws else {
        return json(
            StatusCode::UPGRADE_REQUIRED,
            &serde_json::json!({"error": "Mise à niveau WebSocket requise", "code": "upgrade_required"}),
        );
    };
    if state.shutdown.is_cancelled() {
        return ApiError::Unavailable.into_response();
    }
    let mut credentials = HeaderMap::new();
    for name in CREDENTIAL_HEADERS {
        for value in headers.get_all(&name) {
            credentials.append(name.clone(), value.clone());
        }
    }
    let Ok(slot) = unauthenticated_slot(&state, &meta, &credentials).await else {
        metrics::counter!("http_rate_limited_total", "limit" => "ws_unauthenticated").increment(1);
        return ApiError::RateLimited { retry_after_secs: UNAUTHENTICATED_RETRY_AFTER_SECS }.into_response();
    };
    let request_id =
        headers.get(crate::http::request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let limit = state.config.realtime.max_message_bytes;
    // tungstenite's 128 KiB default buffers would cost ~150 KiB per idle socket; frames here are small and
    // the buffers grow on demand up to the message limit.
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_write_buffer_size(2 * limit + SOCKET_BUFFER)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| {
            // The connection's span carries the upgrade's request id; each message opens a child span.
            let span = tracing::info_span!("ws_connection", request_id, user_id = tracing::field::Empty);
            connection::run(state, socket, credentials, meta, slot).instrument(span)
        })
}

/// The new socket's place among its client IP's unauthenticated sockets (`None` when limits are off, or
/// when the IP is at its limit but the upgrade's credentials name a valid session: the cap is for sockets
/// nobody answers for, and a signed-in user behind the same address must still connect); `Err` to refuse.
async fn unauthenticated_slot(
    state: &AppState,
    meta: &RequestMeta,
    credentials: &HeaderMap,
) -> Result<Option<UnauthenticatedSlot>, ()> {
    if !state.limiters.config.enabled {
        return Ok(None);
    }
    if let Some(slot) = state.limiters.unauthenticated_sockets.acquire(meta.ip) {
        return Ok(Some(slot));
    }
    // Only looked up at the limit, so the common upgrade costs no session lookup. A store failure refuses:
    // the client retries after Retry-After.
    let signed_in =
        !credentials.is_empty() && matches!(state.auth.sessions.authenticate(credentials).await, Ok(Some(_)));
    if signed_in { Ok(None) } else { Err(()) }
}
