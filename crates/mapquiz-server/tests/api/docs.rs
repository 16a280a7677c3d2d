//! The API documentation: the OpenAPI document covers the routes the server serves (and the protocol's route
//! table), and `/docs` works offline under its own CSP.

use crate::support::{TestApp, header, json};
use serde_json::Value;

/// Every route of protocol.md's route table (§1.2) and the operational ones, as `METHOD path`.
const EXPECTED: &[&str] = &[
    "GET /",
    "GET /health",
    "GET /health/detailed",
    "GET /livez",
    "GET /readyz",
    "GET /metrics",
    "GET /api/openapi.json",
    "GET /docs",
    "GET /api/auth/get-session",
    "POST /api/auth/sign-up/email",
    "POST /api/auth/sign-in/email",
    "POST /api/auth/sign-in/social",
    "GET /api/auth/callback/google",
    "POST /api/auth/sign-out",
    "GET /api/users",
    "GET /api/users/{id}",
    "GET /api/users/tag/{tag}",
    "GET /api/users/me/tag",
    "POST /api/friends/add",
    "GET /api/friends/list",
    "GET /api/friends/requests",
    "POST /api/friends/requests/{id}",
    "DELETE /api/friends/remove",
    "POST /api/scores",
    "GET /api/scores/history",
    "GET /api/scores/stats",
    "GET /api/leaderboards",
    "GET /api/games",
    "POST /api/bug-reports",
    "GET /ws",
];

async fn documented(app: &TestApp) -> Vec<(String, String)> {
    let (status, doc) = json(app.get("/api/openapi.json").await).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true), "OpenAPI 3.1");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn every_documented_route_is_served_and_every_protocol_route_documented() {
    let app = TestApp::spawn().await;
    let ops = documented(&app).await;
    for expected in EXPECTED {
        let (method, path) = expected.split_once(' ').unwrap();
        assert!(ops.iter().any(|(m, p)| m == method && p == path), "{expected} is not in the OpenAPI document");
    }
    for (method, path) in &ops {
        let concrete = path.replace("{id}", "some-id").replace("{tag}", "ABCDEFGH");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        // The fallback's 404 and the router's 405 mean the route is not served as documented.
        assert_ne!(status, 405, "{method} {path} is documented but not served for that method");
        let fallback = body["code"] == "not_found" || body["code"] == "NOT_FOUND" && body["message"] == "Not Found";
        assert!(!(status == 404 && fallback), "{method} {path} is documented but not served: {body}");
    }
}

#[tokio::test]
async fn the_docs_page_is_self_contained_and_has_its_own_csp() {
    let app = TestApp::spawn().await;
    let res = app.get("/docs").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    let csp = header(&res, "content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    for asset in ["/docs/assets/docs.js", "/docs/assets/docs.css"] {
        assert!(html.contains(asset), "the page loads {asset}");
        let res = app.get(asset).await;
        assert_eq!(res.status(), 200, "{asset}");
        assert_eq!(header(&res, "content-security-policy").as_deref(), Some(csp.as_str()), "{asset}");
        let text = res.text().await.unwrap();
        assert!(!text.contains("http://") && !text.contains("https://"), "{asset} names no external URL");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "no external URL in the page");
    assert!(!html.contains("<style") && !html.contains(" style="), "no inline style");
    let handler = html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(!handler, "no inline event handler");
    for script in html.match_indices("<script").map(|(i, _)| &html[i..]) {
        assert!(script.starts_with("<script src="), "every script is a file: {}", &script[..40]);
    }
    // Everything else keeps the protocol's policy.
    let other = header(&app.get("/health").await, "content-security-policy").unwrap();
    assert_ne!(other, csp);
    assert!(other.starts_with("default-src 'self'"), "{other}");
}

#[tokio::test]
async fn the_websocket_document_comes_from_the_protocol_types_and_the_limits() {
    let app = TestApp::spawn_with(false, |f| f.merge(("ws_rate_max", 42))).await.unwrap();
    let (status, doc) = json(app.get("/docs/websocket.json").await).await;
    assert_eq!(status, 200);
    let types: Vec<&str> =
        doc["clientMessages"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    for t in ["ping", "authenticate", "send_friend_request", "respond_friend_request"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let frames = doc["serverFrames"].as_array().unwrap();
    let connected = frames.iter().find(|f| f["type"] == "connected").unwrap();
    assert_eq!(connected["example"]["data"]["message"], "Connexion WebSocket établie");
    for t in [
        "authenticated",
        "authentication_failed",
        "pong",
        "error",
        "friend_request_received",
        "friend_request_accepted",
        "friend_removed",
        "friend_status_change",
    ] {
        assert!(frames.iter().any(|f| f["type"] == t), "{t} frame documented");
    }
    let errors = doc["errors"].to_string();
    for m in [
        "Message JSON invalide",
        "Trop de messages, veuillez ralentir",
        "Une demande est déjà en attente",
        "Type de message non supporté: <type>",
    ] {
        assert!(errors.contains(m), "{m}");
    }
    let rate = doc["limits"].as_array().unwrap().iter().find(|l| l["name"] == "message rate per socket").unwrap();
    assert_eq!(rate["value"], "42 per 10 s", "the configured limit");
    assert!(doc["closeCodes"].as_array().unwrap().iter().any(|c| c["code"] == 1009));
}

/// The statuses schemathesis (`.ci/schemathesis`) holds the server to, checked here without Python: every
/// operation documents the 429 of the global limit (the probes and /metrics excepted) and the 503 of the
/// timeout and the database; every operation with a body documents 400, 413 and 415 and describes the body;
/// every error response of the API has the error shape of its path; every `$ref` resolves.
#[tokio::test]
async fn every_operation_documents_the_statuses_that_come_from_around_its_handler() {
    let app = TestApp::spawn().await;
    let (_, doc) = json(app.get("/api/openapi.json").await).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"].as_object().unwrap();
            let unlimited = ["/livez", "/readyz", "/metrics"].contains(&path.as_str());
            assert_eq!(responses.contains_key("429"), !unlimited, "{name}: 429");
            assert!(responses.contains_key("503"), "{name}: 503");
            if !op["requestBody"].is_null() {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{name}: {status}");
                }
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                assert!(schema.is_object(), "{name}: the body has a schema");
            }
            let auth = path.starts_with("/api/auth/");
            for (status, response) in responses {
                let error = status.starts_with('4') || (status.starts_with('5') && !auth);
                if error && (path.starts_with("/api/") || path == "/ws") {
                    let shape = if auth { "AuthErrorBody" } else { "ApiErrorBody" };
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema.as_str(),
                        Some(format!("#/components/schemas/{shape}").as_str()),
                        "{name} {status}"
                    );
                }
            }
        }
    }
    // Every application route that reads a body says what the body is.
    for (method, path) in [
        ("post", "/api/scores"),
        ("post", "/api/friends/add"),
        ("post", "/api/friends/requests/{id}"),
        ("delete", "/api/friends/remove"),
        ("post", "/api/bug-reports"),
        ("post", "/api/auth/sign-up/email"),
        ("post", "/api/auth/sign-in/email"),
        ("post", "/api/auth/change-password"),
    ] {
        assert!(doc["paths"][path][method]["requestBody"].is_object(), "{method} {path}: request body");
    }
    // Routes the client calls without a body keep it optional.
    for path in ["/api/auth/sign-out", "/api/auth/revoke-sessions", "/api/auth/revoke-other-sessions"] {
        assert_eq!(doc["paths"][path]["post"]["requestBody"]["required"], false, "{path}");
    }
    let text = doc.to_string();
    for (i, _) in text.match_indices("\"#/components/schemas/") {
        let rest = &text[i + 22..];
        let name = &rest[..rest.find('"').unwrap()];
        assert!(schemas.contains_key(name), "$ref to {name} resolves");
    }
}

/// The documented body rules hold on the wire: what the schema refuses the server refuses, with the protocol's
/// errors (a sample of the cases schemathesis generates by the thousand).
#[tokio::test]
async fn bodies_outside_their_documented_schema_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.sign_up("Schema").await;
    let cases = [
        (
            "/api/scores",
            serde_json::json!({"score": 1, "totalQuestions": 2, "selectedRegions": ["Europe", "Europe"]}),
            "validation_failed",
        ),
        (
            "/api/scores",
            serde_json::json!({"score": 1, "totalQuestions": 501, "selectedRegions": ["Europe"]}),
            "validation_failed",
        ),
        (
            "/api/scores",
            serde_json::json!({"score": 1, "totalQuestions": 2, "selectedRegions": ["Europe"], "gameMode": "x"}),
            "validation_failed",
        ),
        ("/api/friends/requests/some-id", serde_json::json!({"action": "maybe"}), "invalid_action"),
        (
            "/api/bug-reports",
            serde_json::json!({"title": "T", "description": "court", "environment": {}}),
            "validation_failed",
        ),
    ];
    for (path, body, code) in cases {
        let res = app.client.post(app.url(path)).header("cookie", &user.cookie).json(&body).send().await.unwrap();
        let (status, answer) = json(res).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["code"], code, "{path} {body}");
    }
    let res = app
        .client
        .post(app.url("/api/auth/revoke-sessions"))
        .header("cookie", &user.cookie)
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    let (status, answer) = json(res).await;
    assert_eq!((status, answer["code"].as_str()), (400, Some("VALIDATION_ERROR")), "a body that is not an object");
}
