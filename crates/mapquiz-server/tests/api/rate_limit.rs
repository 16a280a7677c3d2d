//! The global rate limit (protocol §1.1.3, checklist 8).

use crate::support::{TestApp, header, json};
use serde_json::json;

async fn limited_app(extra: impl FnOnce(figment::Figment) -> figment::Figment) -> TestApp {
    TestApp::spawn_with(false, |f| {
        extra(f.merge(("rate_limit_global_max", 3)).merge(("rate_limit_exempt_loopback", false)))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn exceeding_the_global_limit_gets_429_with_retry_after() {
    let app = limited_app(|f| f).await;
    for _ in 0..3 {
        assert_eq!(app.get("/health").await.status(), 200);
    }
    let res = app.get("/api/anything").await;
    let retry: u64 = header(&res, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        json(res).await,
        (429, json!({"error": "Trop de requêtes, veuillez réessayer plus tard", "code": "rate_limited"}))
    );
    let res = app.get("/api/auth/get-session").await;
    assert!(header(&res, "x-retry-after").is_some());
    assert_eq!(
        json(res).await,
        (429, json!({"code": "TOO_MANY_REQUESTS", "message": "Too many requests. Please try again later."}))
    );
    // Probes and scrapes are outside the limit.
    assert_eq!(app.get("/livez").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/metrics").await.status(), 200);
}

#[tokio::test]
async fn a_429_from_an_allowed_origin_is_readable_by_the_client() {
    let app = limited_app(|f| f).await;
    for _ in 0..3 {
        app.get("/health").await;
    }
    let res = app.client.get(app.url("/health")).header("origin", "http://localhost:5173").send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("http://localhost:5173"));
}

#[tokio::test]
async fn loopback_is_exempt_outside_production_by_default() {
    let app = TestApp::spawn_with(false, |f| f.merge(("rate_limit_global_max", 3))).await.unwrap();
    for _ in 0..10 {
        assert_eq!(app.get("/health").await.status(), 200);
    }
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Untrusted peer: X-Forwarded-For cannot buy a fresh bucket.
    let app = limited_app(|f| f).await;
    for i in 0..3 {
        let res = app.client.get(app.url("/health")).header("x-forwarded-for", format!("198.51.100.{i}")).send().await;
        assert_eq!(res.unwrap().status(), 200);
    }
    let res = app.client.get(app.url("/health")).header("x-forwarded-for", "198.51.100.200").send().await.unwrap();
    assert_eq!(res.status(), 429, "no request header can bypass the limit");

    // Trusted proxy (the test itself, on loopback): each forwarded client has its own bucket.
    let app = limited_app(|f| f.merge(("trusted_proxies", "127.0.0.1/32, ::1"))).await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..3 {
            let res = app.client.get(app.url("/health")).header("x-forwarded-for", client).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
        let res = app.client.get(app.url("/health")).header("x-forwarded-for", client).send().await.unwrap();
        assert_eq!(res.status(), 429);
    }
}

#[tokio::test]
async fn limits_can_be_turned_off() {
    let app = limited_app(|f| f.merge(("rate_limit_enabled", false))).await;
    for _ in 0..10 {
        assert_eq!(app.get("/health").await.status(), 200);
    }
}
