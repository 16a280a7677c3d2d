//! Service routes (protocol §1.3, checklist 17–20).

use crate::support::{TestApp, is_timestamp, json, on_both_backends};
use serde_json::json;

on_both_backends!(health_reports_a_connected_database, detailed_health_has_every_check, probes_answer);

#[tokio::test]
async fn root_describes_the_service() {
    let app = TestApp::spawn().await;
    let (status, body) = json(app.get("/").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["message"], "MapQuiz API");
    assert_eq!(body["endpoints"], json!({"api": "/api", "websocket": "/ws", "health": "/health"}));
    assert!(body["version"].as_str().is_some_and(|v| !v.is_empty()));
}

async fn health_reports_a_connected_database(pg: bool) {
    let Some(app) = TestApp::spawn_on(pg).await else { return };
    let res = app.get("/health").await;
    assert_eq!(res.headers()["content-type"], "application/json; charset=utf-8");
    let (status, body) = json(res).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "connected");
    assert!(is_timestamp(body["timestamp"].as_str().unwrap()), "{body}");
}

async fn detailed_health_has_every_check(pg: bool) {
    let Some(app) = TestApp::spawn_on(pg).await else { return };
    let (status, body) = json(app.get("/health/detailed").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert!(is_timestamp(body["timestamp"].as_str().unwrap()));
    let checks = &body["checks"];
    assert_eq!(checks["database"]["status"], "connected");
    assert!(checks["database"]["responseTime"].is_u64());
    assert!(checks["memory"]["rss"].as_u64().unwrap() > 1_000_000, "rss in bytes: {checks}");
    assert!(checks["uptime"].as_f64().unwrap() >= 0.0);
    assert!(checks["responseTime"].is_u64());
    assert_eq!(checks["wsConnections"], 0, "no socket is open");
    assert_eq!(checks["lobbies"], json!({"live": 0, "byStatus": {"waiting": 0, "playing": 0, "finished": 0}}));
}

async fn probes_answer(pg: bool) {
    let Some(app) = TestApp::spawn_on(pg).await else { return };
    assert_eq!(json(app.get("/livez").await).await, (200, json!({"status": "ok"})));
    assert_eq!(json(app.get("/readyz").await).await, (200, json!({"status": "ready"})));
}

#[tokio::test]
async fn readiness_drops_when_shutdown_begins() {
    let app = TestApp::spawn().await;
    app.state.shutdown.cancel();
    assert!(!app.state.is_ready());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn head_is_answered_for_get_routes() {
    let app = TestApp::spawn().await;
    let res = app.client.head(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_sqlite_file_is_created_where_configured() {
    let app = TestApp::spawn().await;
    let path = app.db.database_url().sqlite_path().unwrap().to_owned();
    assert!(path.exists(), "the database file is created");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = TestApp::spawn().await;
    app.get("/livez").await;
    app.get("/api/some-path-that-is-not-a-route").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("http_requests_total{method=\"GET\",route=\"/livez\",status=\"200\"}"), "{text}");
    assert!(text.contains("route=\"unmatched\""), "unknown paths share one label");
    assert!(!text.contains("some-path-that-is-not-a-route"), "raw paths never become labels");
    assert!(text.contains("http_request_duration_seconds_bucket"), "latency is a histogram");
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app = TestApp::spawn_with(false, |f| f.merge(("metrics_token", "scrape-me"))).await.unwrap();
    assert_eq!(json(app.get("/metrics").await).await.0, 401);
    let res = app.client.get(app.url("/metrics")).bearer_auth("scrape-me").send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_openapi_document_lists_the_routes() {
    let app = TestApp::spawn().await;
    let (status, doc) = json(app.get("/api/openapi.json").await).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/", "/health", "/health/detailed", "/livez", "/readyz", "/metrics", "/api/openapi.json"] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}
