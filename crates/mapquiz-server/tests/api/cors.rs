//! CORS and the origin check (protocol §1.1.1, checklist 3–6).

use crate::support::{TestApp, header, json};
use serde_json::json;

const ALLOWED: &str = "http://127.0.0.1:5173";
const EVIL: &str = "https://evil.example";

#[tokio::test]
async fn preflight_from_an_allowed_origin() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/sign-in/email"))
        .header("origin", ALLOWED)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some(ALLOWED));
    assert_eq!(header(&res, "access-control-allow-credentials").as_deref(), Some("true"));
    assert_eq!(header(&res, "access-control-allow-methods").as_deref(), Some("GET, POST, PUT, PATCH, DELETE"));
    assert_eq!(header(&res, "access-control-allow-headers").as_deref(), Some("content-type, authorization"));
    assert_eq!(header(&res, "access-control-max-age").as_deref(), Some("600"));
    assert!(header(&res, "vary").unwrap().contains("Origin"));
    assert!(res.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn preflight_from_a_foreign_origin_gets_no_cors_headers() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/scores"))
        .header("origin", EVIL)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.headers().keys().all(|k| !k.as_str().starts_with("access-control-")), "{:?}", res.headers());
}

#[tokio::test]
async fn simple_requests_get_the_allow_origin_only_for_the_allowlist() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/health")).header("origin", ALLOWED).send().await.unwrap();
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some(ALLOWED));
    let res = app.client.get(app.url("/health")).header("origin", EVIL).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn foreign_origin_writes_are_refused_before_routing() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/api/scores"))
        .header("origin", EVIL)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await, (403, json!({"error": "Origine non autorisée", "code": "origin_not_allowed"})));

    let res = app.client.delete(app.url("/api/friends/remove")).header("origin", EVIL).send().await.unwrap();
    assert_eq!(json(res).await.0, 403);

    let res = app.client.post(app.url("/api/auth/sign-out")).header("origin", EVIL).send().await.unwrap();
    assert_eq!(json(res).await, (403, json!({"code": "INVALID_ORIGIN", "message": "Invalid origin"})));

    // Non-browser clients send no Origin: they pass the check (and here reach the 404).
    let res = app.client.post(app.url("/api/nothing")).send().await.unwrap();
    assert_eq!(json(res).await.0, 404);
    // Reads from a foreign origin are not refused; the browser simply cannot read them.
    assert_eq!(app.client.get(app.url("/api/openapi.json")).header("origin", EVIL).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_frontend_origin_is_always_allowed() {
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("frontend_url", "https://play.mapquiz.example/app"))
            .merge(("cors_origins", "http://other.example:8080"))
    })
    .await
    .unwrap();
    for origin in ["https://play.mapquiz.example", "http://other.example:8080"] {
        let res = app.client.get(app.url("/livez")).header("origin", origin).send().await.unwrap();
        assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some(origin));
    }
    let res = app.client.get(app.url("/livez")).header("origin", ALLOWED).send().await.unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None, "an explicit list replaces the defaults");
}
