//! What operators see: the metrics after a scripted workload, and the audit rows of friend changes.

use crate::support::ws::Ws;
use crate::support::{TestApp, json};
use serde_json::json;

/// The value of the first sample line of `/metrics` that starts with `series` (a name and its labels).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_after_a_scripted_workload() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    let mut ws = app.ws(&a).await;
    assert_eq!(ws.request(json!({"type": "frobnicate"})).await["type"], "error");
    ws.send_text("not json").await;
    assert_eq!(ws.recv().await["type"], "error");
    let reply = ws.send_friend_request(&b.tag).await;
    assert_eq!(reply["type"], "send_friend_request_success");
    let (status, _) = json(app.get_as(&b, &format!("/api/users/{}", a.id)).await).await;
    assert_eq!(status, 200);
    let (status, _) = json(app.get_as(&b, "/api/friends/requests").await).await;
    assert_eq!(status, 200);

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let m = res.text().await.unwrap();
    for series in [
        r#"ws_messages_received_total{type="ping"}"#,
        r#"ws_messages_received_total{type="authenticate"}"#,
        r#"ws_messages_received_total{type="send_friend_request"}"#,
        r#"ws_messages_received_total{type="unknown"}"#,
        r#"ws_messages_received_total{type="invalid"}"#,
        r#"ws_messages_sent_total{type="connected"}"#,
        r#"ws_messages_sent_total{type="pong"}"#,
        r#"ws_messages_sent_total{type="send_friend_request_success"}"#,
        r#"ws_messages_sent_total{type="error"}"#,
        r#"friend_requests_total{outcome="sent"}"#,
        r#"session_cache_requests_total{result="hit"}"#,
        r#"db_pool_connections{state="idle"}"#,
        r#"db_pool_connections{state="in_use"}"#,
        "process_resident_memory_bytes",
        "realtime_sockets",
        "ws_connections",
    ] {
        let v = sample(&m, series).unwrap_or_else(|| panic!("{series} missing from /metrics:\n{m}"));
        if !series.starts_with("db_pool") && !series.starts_with("ws_connections") && !series.starts_with("realtime") {
            assert!(v > 0.0, "{series} = {v}");
        }
    }
    assert!(sample(&m, "process_resident_memory_bytes").unwrap() > 1e6);
    // Route templates, never raw paths: a user id never becomes a label.
    assert!(m.contains(r#"route="/api/users/{id}""#), "templated route label");
    assert!(!m.contains(&a.id), "no id in any label");
    drop(ws);
}

#[tokio::test]
async fn friend_changes_are_audited_with_their_target() {
    let app = TestApp::spawn().await;
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bruno").await, app.sign_up("Chloe").await);
    // Over HTTP: sent, accepted, removed.
    app.befriend(&a, &b).await;
    let res = app
        .client
        .delete(app.url("/api/friends/remove"))
        .header("cookie", &a.cookie)
        .json(&json!({"friendId": b.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Over the WebSocket: sent, then rejected.
    let mut cws = Ws::connect(app.address, Some(&c.cookie)).await;
    cws.authenticate(&c.id).await;
    let reply = cws.send_friend_request(&a.tag).await;
    assert_eq!(reply["type"], "send_friend_request_success");
    let (_, list) = json(app.get_as(&a, "/api/friends/requests").await).await;
    let id = list["friendRequests"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        json(app.post_as(&a, &format!("/api/friends/requests/{id}"), &json!({"action": "reject"})).await).await;
    assert_eq!(status, 200);

    let trail = |user: String| {
        let store = app.state.store.clone();
        async move {
            let mut rows: Vec<(String, Option<String>)> = store
                .audit_trail(Some(&user), 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.action.starts_with("friend_"))
                .filter(|e| e.user_id.as_deref() == Some(user.as_str()))
                .map(|e| (e.action, e.target_id))
                .collect();
            rows.reverse();
            rows
        }
    };
    assert_eq!(
        trail(a.id.clone()).await,
        vec![
            ("friend_request_sent".to_owned(), Some(b.id.clone())),
            ("friend_removed".to_owned(), Some(b.id.clone())),
            ("friend_request_rejected".to_owned(), Some(c.id.clone())),
        ]
    );
    assert_eq!(trail(b.id.clone()).await, vec![("friend_request_accepted".to_owned(), Some(a.id.clone()))]);
    assert_eq!(trail(c.id.clone()).await, vec![("friend_request_sent".to_owned(), Some(a.id.clone()))]);
    let entries = app.state.store.audit_trail(Some(&c.id), 100).await.unwrap();
    let sent = entries.iter().find(|e| e.action == "friend_request_sent").unwrap();
    assert_eq!(sent.ip_address.as_deref(), Some("127.0.0.1"), "the socket's client IP is recorded");
}
