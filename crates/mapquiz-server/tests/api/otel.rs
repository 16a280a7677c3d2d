//! OpenTelemetry export: with the `otel` feature, the real binary sends its spans to a collector (a stand-in
//! started here, receiving OTLP/HTTP); without it, turning export on is a configuration error.

use std::process::Command;

#[cfg(feature = "otel")]
#[tokio::test]
async fn spans_reach_the_collector_and_are_flushed_at_shutdown() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// Each request's content type and body.
    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let received: Received = Arc::default();
    let sink = received.clone();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                sink.lock().unwrap().push((ct, body.to_vec()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .envs([
            ("PORT", port.to_string().as_str()),
            ("HOST", "127.0.0.1"),
            ("MAPQUIZ_OTEL_ENABLED", "true"),
            ("MAPQUIZ_OTEL_ENDPOINT", endpoint.as_str()),
            ("MAPQUIZ_OTEL_SERVICE_NAME", "mapquiz-under-test"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(&url).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    // A graceful stop flushes the batch that the 5 s export timer has not sent yet.
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "the collector received the spans");
    let (ct, body) = &got[0];
    assert_eq!(ct, "application/x-protobuf");
    let all: Vec<u8> = got.iter().flat_map(|(_, b)| b.clone()).collect();
    let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"mapquiz-under-test"), "the service name is the resource's");
    assert!(contains(b"request"), "the request span is exported");
    assert!(contains(b"/health"), "with its route template");
    assert!(!body.is_empty());
}

#[cfg(not(feature = "otel"))]
#[test]
fn turning_export_on_without_the_feature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("MAPQUIZ_OTEL_ENABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("otel_enabled"));
}
