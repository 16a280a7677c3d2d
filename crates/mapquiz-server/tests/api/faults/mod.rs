//! Faults under a running server (issue 15 item 3). Here: the database going away, `/health` says so within
//! its time bound, and the server recovers by itself when the database is back. The machine's PostgreSQL is
//! never stopped: the test puts a TCP proxy of its own in front of it and cuts that. One file per fault: a
//! PostgreSQL of the test's own stopped for 30 s under load ([`postgres_outage`]), SQLite on a full disk
//! ([`sqlite_full_disk`]), a database that answers slowly ([`slow_database`]), Redis gone under a game
//! across two nodes ([`redis_games`]).

mod postgres_outage;
mod redis_games;
mod slow_database;
mod sqlite_full_disk;

use crate::support::proxy::Proxy;
use crate::support::{TestApp, base_figment, json};
use mapquiz_server::config::Config;
use mapquiz_store::testing::TestDatabase;
use std::time::{Duration, Instant};

/// A fresh PostgreSQL database reached through a new proxy, and the figment pointing at it.
pub(crate) async fn behind_proxy() -> Option<(TestDatabase, Proxy, figment::Figment)> {
    let db = TestDatabase::postgres().await?;
    let mut url = url::Url::parse(db.url()).unwrap();
    let upstream = (url.host_str().unwrap().to_owned(), url.port().unwrap_or(5432));
    let upstream = tokio::net::lookup_host(upstream).await.unwrap().next().unwrap();
    let proxy = Proxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.address.port())).unwrap();
    let figment = base_figment(&db).merge(("database_url", url.as_str()));
    Some((db, proxy, figment))
}

#[tokio::test]
async fn postgres_outage_is_reported_within_the_bound_and_recovered_from() {
    let Some((db, proxy, figment)) = behind_proxy().await else { return };
    let figment = figment.merge(("health_timeout_ms", 1000)).merge(("database_acquire_timeout_ms", 1000));
    let app = TestApp::start(db, Config::from_figment(&figment).unwrap()).await;
    assert_eq!(json(app.get("/health").await).await.0, 200);

    proxy.cut();
    let started = Instant::now();
    let (status, body) = json(app.get("/health").await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "error");
    assert_eq!(body["database"], "disconnected");
    assert!(started.elapsed() < Duration::from_secs(3), "answered within the bound: {:?}", started.elapsed());
    assert_eq!(json(app.get("/readyz").await).await.0, 503);
    assert_eq!(json(app.get("/health/detailed").await).await.1["checks"]["database"]["status"], "disconnected");
    assert_eq!(app.get("/livez").await.status(), 200, "alive all the same");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if app.get("/health").await.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover without a restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(json(app.get("/readyz").await).await.0, 200);
}

#[tokio::test]
async fn a_request_stuck_on_the_database_is_cut_by_the_request_timeout() {
    let Some((db, proxy, figment)) = behind_proxy().await else { return };
    // The health check would wait 10 s; the request timeout (500 ms) must answer first, in JSON.
    let figment = figment
        .merge(("request_timeout_ms", 500))
        .merge(("health_timeout_ms", 10_000))
        .merge(("database_acquire_timeout_ms", 10_000));
    let app = TestApp::start(db, Config::from_figment(&figment).unwrap()).await;
    assert_eq!(json(app.get("/health").await).await.0, 200);

    proxy.stall();
    let started = Instant::now();
    let (status, body) = json(app.get("/health").await).await;
    assert_eq!(
        (status, body),
        (503, serde_json::json!({"error": "Service indisponible", "code": "service_unavailable"}))
    );
    assert!(started.elapsed() < Duration::from_secs(3), "cut at the request timeout: {:?}", started.elapsed());
    proxy.restore();
}
