//! A database that answers slowly (issue 15 item 3): the tests' proxy in front of PostgreSQL holds every
//! chunk for longer than the request timeout. Requests (most of them queued for the pool's few connections)
//! answer the protocol's 503 when the request timeout fires, not later;
//! the work they leave behind does not pile up (the runtime's live tasks come back to where they were after
//! each wave, the pool never grows past its bound); and the server answers normally again as soon as the
//! database is fast again, on the same connections, without a restart.

use super::behind_proxy;
use crate::support::{TestApp, TestUser, json};
use mapquiz_server::config::Config;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The server's request timeout in this test.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1_000);
/// Longest a request may take while the database is slow: the request timeout and scheduling slack.
const ANSWER_BOUND: Duration = Duration::from_millis(2_500);
/// How long the proxy holds each chunk: a query's round trip takes twice that, far past the timeout.
const DELAY: Duration = Duration::from_secs(2);
/// The pool's bound in this test.
const POOL: u32 = 4;
/// Concurrent requests per wave, and waves.
const CONCURRENCY: usize = 50;
const WAVES: usize = 3;
/// Live tasks a wave may leave behind once it settled: none, give or take a timer of the server's.
const LEFT_BEHIND: usize = 2;

/// Tasks alive on this test's runtime: the server's, the proxy's and the clients'.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

/// The routes a wave reads, in turn.
const ROUTES: [&str; 4] = ["/api/scores/history?limit=5", "/api/scores/stats", "/api/friends/list", "/health"];

/// `CONCURRENCY` requests at once, each on its own connection (no keep-alive, so no idle connection keeps a
/// task alive after the wave): each answer's status, body and duration, and the most tasks and pool
/// connections seen meanwhile.
async fn wave(app: &TestApp, user: &TestUser) -> (Vec<(u16, Value, Duration)>, usize, u32) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut requests = Vec::new();
    for n in 0..CONCURRENCY {
        let request = client.get(app.url(ROUTES[n % ROUTES.len()])).header("cookie", &user.cookie);
        requests.push(tokio::spawn(async move {
            let sent = Instant::now();
            match request.timeout(ANSWER_BOUND * 4).send().await {
                Ok(res) => {
                    let (status, body) = json(res).await;
                    (status, body, sent.elapsed())
                }
                Err(e) => (0, json!(format!("no answer: {e}")), sent.elapsed()),
            }
        }));
    }
    let (mut peak_tasks, mut peak_pool) = (0, 0);
    while !requests.iter().all(|r| r.is_finished()) {
        peak_tasks = peak_tasks.max(alive_tasks());
        peak_pool = peak_pool.max(app.state.store.pool_stats().size);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut answers = Vec::new();
    for r in requests {
        answers.push(r.await.unwrap());
    }
    (answers, peak_tasks, peak_pool)
}

/// Waits (bounded: the slow queries cut by the timeout finish their round trip first) until the live tasks
/// are at most `most`; how many there are then, and how long it took.
async fn settle(most: usize) -> (usize, Duration) {
    let started = Instant::now();
    let deadline = started + DELAY * 5;
    while alive_tasks() > most && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (alive_tasks(), started.elapsed())
}

#[tokio::test]
async fn a_slow_database_is_cut_by_the_request_timeout_without_piling_up_work() {
    let Some((db, proxy, figment)) = behind_proxy().await else { return };
    let figment = figment
        .merge(("request_timeout_ms", REQUEST_TIMEOUT.as_millis() as u64))
        // Longer than the request timeout: requests queue for the pool, and the request timeout must cut them.
        .merge(("database_acquire_timeout_ms", 5_000))
        .merge(("database_max_connections", POOL))
        .merge(("rate_limit_enabled", false));
    let app = TestApp::start(db, Config::from_figment(&figment).unwrap()).await;
    let user = app.sign_up("Alice").await;
    let (answers, _, _) = wave(&app, &user).await;
    assert!(answers.iter().all(|(s, _, _)| *s == 200), "a fast database serves every request");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = alive_tasks();

    proxy.slow(DELAY);
    let unavailable = json!({"error": "Service indisponible", "code": "service_unavailable"});
    let (mut slowest, mut peak_tasks, mut peak_pool, mut refused) = (Duration::ZERO, 0, 0, 0);
    let mut after_waves = Vec::new();
    for _ in 0..WAVES {
        let (answers, tasks, pool) = wave(&app, &user).await;
        for (n, (status, body, took)) in answers.iter().enumerate() {
            assert!(*took < ANSWER_BOUND, "an answer past the request timeout: {took:?} {status} {body}");
            assert_eq!((*status, body), (503, &unavailable), "the timeout's answer to {}", ROUTES[n % ROUTES.len()]);
            slowest = slowest.max(*took);
            refused += 1;
        }
        peak_tasks = peak_tasks.max(tasks);
        peak_pool = peak_pool.max(pool);
        let (left, took) = settle(baseline).await;
        assert!(left <= baseline + LEFT_BEHIND, "work piled up: {left} live tasks after a wave, {baseline} before");
        after_waves.push((left, took));
    }
    assert!(peak_pool <= POOL, "the pool grew past its bound: {peak_pool}");
    // Each request in flight holds its client task, its connection's task and its own: a few per request.
    assert!(peak_tasks <= baseline + 4 * CONCURRENCY, "{peak_tasks} live tasks at the peak, {baseline} at rest");

    // Fast again: the same server answers normally, within a bound.
    proxy.slow(Duration::ZERO);
    let fast = Instant::now();
    loop {
        let (status, _) = json(app.get_as(&user, "/api/scores/stats").await).await;
        if status == 200 {
            break;
        }
        assert!(fast.elapsed() < DELAY * 4, "the server did not recover once the database was fast again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = fast.elapsed();
    let (answers, _, _) = wave(&app, &user).await;
    assert!(answers.iter().all(|(s, _, _)| *s == 200), "every request served once the database is fast again");
    let (end, _) = settle(baseline).await;
    assert!(end <= baseline + LEFT_BEHIND, "{end} live tasks at the end, {baseline} at the start");
    eprintln!(
        "slow database ({DELAY:?} per chunk, request timeout {REQUEST_TIMEOUT:?}): {refused} requests in {WAVES} \
         waves of {CONCURRENCY}, all 503 within {slowest:?}; live tasks {baseline} at rest, {peak_tasks} at the \
         peak, {after_waves:?} after each wave (and how long the wave took to drain), {end} at the end; pool at most {peak_pool} of {POOL}; recovered \
         {recovered:?} after the delay was lifted"
    );
}
