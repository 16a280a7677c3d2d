//! Routing and cross-cutting response rules (protocol §1.1.2, §1.1.4; checklist 1, 7, 12).

use crate::support::{TestApp, header, json};
use serde_json::json;

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let app = TestApp::spawn().await;
    let not_found = json!({"error": "Route non trouvée", "code": "not_found"});
    assert_eq!(json(app.get("/api/non-existent-endpoint").await).await, (404, not_found.clone()));
    let res = app.client.post(app.url("/api///malformed//path")).send().await.unwrap();
    assert_eq!(json(res).await, (404, not_found.clone()));
    assert_eq!(json(app.get("/health/").await).await, (404, not_found.clone()), "no trailing-slash alias");
    assert_eq!(json(app.get("//health").await).await, (404, not_found.clone()), "no doubled slash");
    let long = format!("/api/users/{}", "x".repeat(201));
    assert_eq!(json(app.get(&long).await).await, (404, not_found));
}

#[tokio::test]
async fn unknown_auth_routes_answer_in_better_auths_shape() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/auth/does-not-exist").await;
    assert_eq!(json(res).await, (404, json!({"code": "NOT_FOUND", "message": "Not Found"})));
}

#[tokio::test]
async fn wrong_method_is_json_405_with_allow() {
    let app = TestApp::spawn().await;
    let res = app.client.delete(app.url("/health")).send().await.unwrap();
    let allow = header(&res, "allow").unwrap();
    assert!(allow.contains("GET"), "{allow}");
    assert_eq!(json(res).await, (405, json!({"error": "Méthode non autorisée", "code": "method_not_allowed"})));
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::spawn().await;
    for res in [
        app.get("/health").await,
        app.get("/api/nothing").await,
        app.client.delete(app.url("/livez")).send().await.unwrap(),
    ] {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert_eq!(h["strict-transport-security"], "max-age=31536000; includeSubDomains");
        assert_eq!(h["x-xss-protection"], "0");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
        );
        assert!(!h.contains_key("x-powered-by"));
        assert!(!h.contains_key("server"));
        assert!(h.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn api_responses_are_never_cached() {
    let app = TestApp::spawn().await;
    assert_eq!(header(&app.get("/api/nothing").await, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&app.get("/api/openapi.json").await, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&app.get("/health").await, "cache-control"), None);
}

#[tokio::test]
async fn a_get_with_a_json_content_type_and_no_body_is_accepted() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/health")).header("content-type", "application/json").send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn request_ids_are_echoed_only_when_plain() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/livez")).header("x-request-id", "lb-1234.abc").send().await.unwrap();
    assert_eq!(header(&res, "x-request-id").as_deref(), Some("lb-1234.abc"));
    let res = app.client.get(app.url("/livez")).header("x-request-id", "evil\tinjected").send().await.unwrap();
    let id = header(&res, "x-request-id").unwrap();
    assert_ne!(id, "evil\tinjected");
    assert_eq!(id.len(), 36, "a fresh UUID replaces it");
}
