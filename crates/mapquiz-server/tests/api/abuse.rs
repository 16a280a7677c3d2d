//! Abuse limits (issue 15): per-user quotas on friend requests and lobbies created, the per-IP cap on
//! sockets that are not authenticated, and a login storm against the real binary (the lockout engages, and
//! the argon2 workers bound memory while hundreds of sign-ins wait).

use crate::support::proxy::Proxy;
use crate::support::ws::{Ws, eventually, open};
use crate::support::{PASSWORD, TestApp, base_figment, header, json, on_both_backends, session_cookie, test_redis_url};
use figment::Figment;
use futures_util::future::join_all;
use mapquiz_server::app::App;
use mapquiz_server::config::Config;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const RATE_LIMITED: &str = "Trop de requêtes, veuillez réessayer plus tard";
const TOO_MANY_FRIEND_REQUESTS: &str = "Trop de demandes d'ami, veuillez réessayer plus tard";
const TOO_MANY_LOBBIES: &str = "Trop de lobbies créés, veuillez réessayer plus tard";
const TOO_MANY_SIGN_INS: (&str, &str) = ("TOO_MANY_REQUESTS", "Too many requests. Please try again later.");

// ---------------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------------

#[test]
fn the_limits_are_configured_and_a_zero_is_refused() {
    let config = Config::from_figment(&Figment::new()).unwrap();
    let limits = &config.rate_limits;
    assert_eq!((limits.friend_requests.max, limits.friend_requests.window_secs), (100, 3600));
    assert_eq!((limits.lobbies_created.max, limits.lobbies_created.window_secs), (30, 3600));
    assert_eq!(limits.unauthenticated_sockets_per_ip, 50);
    for key in ["rate_limit_friend_requests_max", "rate_limit_lobbies_max", "ws_max_unauthenticated_per_ip"] {
        let errors = Config::from_figment(&Figment::new().merge((key, 0))).expect_err("refused").0.join("\n");
        assert!(errors.contains(&format!("`{key}`: must be at least 1")), "{errors}");
    }
    for key in ["rate_limit_friend_requests_window_secs", "rate_limit_lobbies_window_secs"] {
        assert!(Config::from_figment(&Figment::new().merge((key, 0))).is_err(), "{key} = 0");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_new_429s() {
    let app = TestApp::spawn().await;
    let (status, doc) = json(app.get("/api/openapi.json").await).await;
    assert_eq!(status, 200);
    for (path, method) in [("/api/friends/add", "post"), ("/ws", "get")] {
        let description = doc["paths"][path][method]["responses"]["429"]["description"].as_str();
        assert!(description.is_some_and(|d| d.contains("rate_limited")), "{method} {path}: {description:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Friend requests per user
// ---------------------------------------------------------------------------------------------------------

async fn friend_requests_past_the_quota_are_refused_on_both_transports(postgres: bool) {
    let configure = |f: Figment| {
        f.merge(("rate_limit_friend_requests_max", 3)).merge(("rate_limit_friend_requests_window_secs", 3600))
    };
    let Some(app) = TestApp::spawn_with(postgres, configure).await else { return };
    let alice = app.sign_up("Alice").await;
    let mut others = Vec::new();
    for name in ["Bea", "Carl", "Dina", "Emil", "Fay"] {
        others.push(app.sign_up(name).await);
    }
    let mut ws = app.ws(&alice).await;

    // Three sends, over both transports, share one quota.
    assert_eq!(app.add_friend(&alice, &others[0].tag).await.0, 200);
    assert_eq!(ws.send_friend_request(&others[1].tag).await["type"], "send_friend_request_success");
    assert_eq!(app.add_friend(&alice, &others[2].tag).await.0, 200);

    let res = app.post_as(&alice, "/api/friends/add", &json!({"tag": others[3].tag})).await;
    let retry: u64 = header(&res, "retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&retry), "until the hour-long window ends: {retry}");
    assert_eq!(json(res).await, (429, json!({"error": RATE_LIMITED, "code": "rate_limited"})));
    assert_eq!(
        ws.send_friend_request(&others[4].tag).await,
        json!({"type": "error", "message": TOO_MANY_FRIEND_REQUESTS})
    );

    // Nothing was written for the refused sends, and the socket is still usable.
    for refused in &others[3..] {
        let (status, body) = json(app.get_as(refused, "/api/friends/requests").await).await;
        assert_eq!((status, body), (200, json!({"friendRequests": []})), "no request reached {}", refused.name);
    }
    assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));

    // The quota is the sender's: another user still sends, and the limited one may still answer requests.
    let (status, body) = app.add_friend(&others[3], &alice.tag).await;
    assert_eq!(status, 200, "{body}");
    let request = app.friend_request_id(&alice, &others[3]).await;
    assert_eq!(app.respond_to_friend_request(&alice, &request, "accept").await.0, 200);
}

async fn friend_requests_are_not_counted_with_limits_off(postgres: bool) {
    let configure = |f: Figment| f.merge(("rate_limit_friend_requests_max", 1)).merge(("rate_limit_enabled", false));
    let Some(app) = TestApp::spawn_with(postgres, configure).await else { return };
    let alice = app.sign_up("Alice").await;
    for name in ["Bea", "Carl", "Dina"] {
        let other = app.sign_up(name).await;
        assert_eq!(app.add_friend(&alice, &other.tag).await.0, 200);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Lobbies per user
// ---------------------------------------------------------------------------------------------------------

async fn lobbies_past_the_quota_are_refused(postgres: bool) {
    let configure = |f: Figment| f.merge(("rate_limit_lobbies_max", 2)).merge(("rate_limit_lobbies_window_secs", 600));
    let Some(app) = TestApp::spawn_with(postgres, configure).await else { return };
    let alice = app.sign_up("Alice").await;
    let bob = app.sign_up("Bob").await;
    let mut aws = app.ws(&alice).await;
    aws.create_lobby(&["Europe"]).await;
    aws.create_lobby(&["Afrique"]).await;

    let create = json!({"settings": {"selectedRegions": ["Asie"]}});
    assert_eq!(aws.lobby("create_lobby", create.clone()).await, json!({"type": "error", "message": TOO_MANY_LOBBIES}));
    // An invalid payload is refused for what it is, before the quota.
    let invalid = aws.lobby("create_lobby", json!({"settings": {"selectedRegions": []}})).await;
    assert_eq!(invalid, json!({"type": "error", "message": "Paramètres de lobby invalides"}));
    // Another socket of the same user shares the quota; another user has their own.
    let mut second = app.ws(&alice).await;
    assert_eq!(second.lobby("create_lobby", create).await["message"], TOO_MANY_LOBBIES);
    let mut bws = app.ws(&bob).await;
    bws.create_lobby(&["Asie"]).await;
}

// ---------------------------------------------------------------------------------------------------------
// Across nodes sharing Redis
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn per_user_quotas_hold_across_nodes_sharing_redis() {
    let Some(redis_url) = test_redis_url() else { return };
    // A prefix of its own: the shared Redis also serves other tests.
    let prefix = format!("test-{}-abuse:", uuid::Uuid::now_v7().simple());
    let with = move |f: Figment| {
        f.merge(("redis_url", redis_url.as_str()))
            .merge(("redis_key_prefix", prefix.as_str()))
            .merge(("rate_limit_friend_requests_max", 2))
            .merge(("rate_limit_lobbies_max", 1))
    };
    let a = TestApp::spawn_with(false, with.clone()).await.unwrap();
    let config = Config::from_figment(&with(base_figment(&a.db))).unwrap();
    let b = App::build_with_clock(config, a.clock.clone()).await.unwrap();
    let b_address = b.local_addr();
    let stop_b = CancellationToken::new();
    tokio::spawn(b.serve(stop_b.clone().cancelled_owned()));
    let _stop_b = stop_b.drop_guard();

    let alice = a.sign_up("Alice").await;
    let others = [a.sign_up("Bea").await, a.sign_up("Carl").await, a.sign_up("Dina").await];
    let mut on_a = a.ws(&alice).await;
    let mut on_b = Ws::signed_in(b_address, &alice).await;

    // Friend requests: one through node A's HTTP, one through node B's socket, the third refused on either.
    assert_eq!(a.add_friend(&alice, &others[0].tag).await.0, 200);
    assert_eq!(on_b.send_friend_request(&others[1].tag).await["type"], "send_friend_request_success");
    assert_eq!(on_a.send_friend_request(&others[2].tag).await["message"], TOO_MANY_FRIEND_REQUESTS);
    let res = a.client.post(format!("http://{b_address}/api/friends/add")).header("cookie", &alice.cookie);
    let res = res.json(&json!({"tag": others[2].tag})).send().await.unwrap();
    assert!(header(&res, "retry-after").is_some());
    assert_eq!(json(res).await.0, 429, "node B counts node A's request");

    // Lobbies: one created on node A, none more on node B.
    on_a.create_lobby(&["Europe"]).await;
    let refused = on_b.lobby("create_lobby", json!({"settings": {"selectedRegions": ["Asie"]}})).await;
    assert_eq!(refused, json!({"type": "error", "message": TOO_MANY_LOBBIES}));
}

#[tokio::test]
async fn while_redis_fails_each_node_counts_the_quota_alone() {
    let Some(redis_url) = test_redis_url() else { return };
    let (proxy, proxied) = Proxy::in_front_of_redis(&redis_url).await;
    let prefix = format!("test-{}-abuse:", uuid::Uuid::now_v7().simple());
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("redis_url", proxied.as_str()))
            .merge(("redis_key_prefix", prefix.as_str()))
            .merge(("rate_limit_friend_requests_max", 3))
    })
    .await
    .unwrap();
    let (alice, bob) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    // Sending to Bob again is "already pending" (409): a send the quota let through, counted.
    let send = || async { app.add_friend(&alice, &bob.tag).await.0 };
    assert_eq!(send().await, 200, "counted in Redis: 1 of 3");

    proxy.cut();
    for _ in 0..3 {
        assert_eq!(send().await, 409, "counted on the node: Redis is unreachable");
    }
    assert_eq!(send().await, 429, "the node's own count is full");

    // Redis returns: the count there (1) applies again, so two more sends pass, then the quota holds.
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match send().await {
            429 => assert!(Instant::now() < deadline, "Redis never counted again"),
            status => break assert_eq!(status, 409),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(send().await, 409, "3 of 3 in Redis");
    assert_eq!(send().await, 429);
}

// ---------------------------------------------------------------------------------------------------------
// Unauthenticated sockets per client IP
// ---------------------------------------------------------------------------------------------------------

/// Opens `/ws` as the client `ip` (forwarded by the test, a trusted proxy), with a session cookie or none.
async fn open_as(app: &TestApp, ip: &str, cookie: Option<&str>) -> Result<Ws, u16> {
    let mut headers = vec![("x-forwarded-for", ip)];
    headers.extend(cookie.map(|c| ("cookie", c)));
    match open(app.address, &headers).await {
        Ok(mut ws) => {
            assert_eq!(ws.recv().await["type"], "connected");
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
            assert!(retry.is_some_and(|r: u64| r >= 1), "a refusal carries Retry-After: {res:?}");
            let body: Value = serde_json::from_slice(res.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body, json!({"error": RATE_LIMITED, "code": "rate_limited"}));
            Err(res.status().as_u16())
        }
        Err(e) => panic!("the upgrade failed otherwise: {e}"),
    }
}

fn held(app: &TestApp, ip: &str) -> usize {
    app.state.limiters.unauthenticated_sockets.held(ip.parse::<IpAddr>().unwrap())
}

#[tokio::test]
async fn unauthenticated_sockets_are_capped_per_client_ip() {
    const MAX: usize = 3;
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("ws_max_unauthenticated_per_ip", MAX)).merge(("trusted_proxies", "127.0.0.1/32, ::1"))
    })
    .await
    .unwrap();
    let alice = app.sign_up("Alice").await;
    let crowded = "198.51.100.10";

    let mut anonymous = Vec::new();
    for _ in 0..MAX {
        anonymous.push(open_as(&app, crowded, None).await.expect("under the cap"));
    }
    // An anonymous socket stays open and usable (authentication fails, ping works): it keeps its slot.
    let failed = anonymous[0].request(json!({"type": "authenticate"})).await;
    assert_eq!(failed["type"], "authentication_failed");
    assert_eq!(held(&app, crowded), MAX);
    for _ in 0..3 {
        assert_eq!(open_as(&app, crowded, None).await.err(), Some(429), "past the cap");
    }
    // A malformed credential is no session: still refused.
    let forged = "better-auth.session_token=forged.value";
    assert_eq!(open_as(&app, crowded, Some(forged)).await.err(), Some(429));

    // Another client IP has its own count.
    let mut elsewhere = open_as(&app, "198.51.100.11", None).await.expect("another IP is accepted");
    assert_eq!(elsewhere.request(json!({"type": "ping"})).await, json!({"type": "pong"}));

    // A signed-in user behind the crowded address still connects, and their socket works.
    let mut signed_in = open_as(&app, crowded, Some(&alice.cookie)).await.expect("a valid session is let in");
    signed_in.authenticate(&alice.id).await;
    assert_eq!(held(&app, crowded), MAX, "it took no slot");

    // Closing an anonymous socket gives its slot back.
    anonymous.pop().unwrap().close().await;
    assert!(eventually(|| held(&app, crowded) == MAX - 1).await);
    anonymous.push(open_as(&app, crowded, None).await.expect("a slot came free"));
    assert_eq!(open_as(&app, crowded, None).await.err(), Some(429));
}

#[tokio::test]
async fn a_socket_gives_its_slot_back_when_it_authenticates() {
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("ws_max_unauthenticated_per_ip", 2)).merge(("trusted_proxies", "127.0.0.1/32, ::1"))
    })
    .await
    .unwrap();
    let alice = app.sign_up("Alice").await;
    let ip = "198.51.100.20";
    // Sockets carrying a session count while they are not yet bound to it.
    let mut first = open_as(&app, ip, Some(&alice.cookie)).await.unwrap();
    let mut second = open_as(&app, ip, Some(&alice.cookie)).await.unwrap();
    assert_eq!(held(&app, ip), 2);
    assert_eq!(open_as(&app, ip, None).await.err(), Some(429));
    // Explicit authentication frees one slot, implicit authentication (any other message) the other.
    first.authenticate(&alice.id).await;
    let reply = second.request(json!({"type": "send_friend_request", "payload": {"receiverTag": alice.tag}})).await;
    assert_eq!(reply["message"], "Vous ne pouvez pas vous ajouter vous-même", "handled as alice");
    assert_eq!(held(&app, ip), 0);
    let _a = open_as(&app, ip, None).await.expect("both slots are free");
    let _b = open_as(&app, ip, None).await.expect("both slots are free");
    assert_eq!(open_as(&app, ip, None).await.err(), Some(429));
}

#[tokio::test]
async fn the_socket_cap_is_off_with_the_other_limits() {
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("ws_max_unauthenticated_per_ip", 1))
            .merge(("rate_limit_enabled", false))
            .merge(("trusted_proxies", "127.0.0.1/32, ::1"))
    })
    .await
    .unwrap();
    let mut sockets = Vec::new();
    for _ in 0..5 {
        sockets.push(open_as(&app, "198.51.100.30", None).await.expect("no cap with limits off"));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Login storm against the real binary
// ---------------------------------------------------------------------------------------------------------

/// The production argon2 memory cost (KiB), the binary's default.
const PRODUCTION_MEMORY_KIB: u64 = 19_456;
/// Sign-ins against the one account, each from its own client IP.
const STORM_ON_ACCOUNT: usize = 200;
/// Sign-ins with unknown emails in the same burst, each from its own IP: every one of them reaches argon2
/// (the dummy hash is verified so that unknown emails take as long), which is what loads the queue.
const STORM_SPRAY: usize = 100;
/// Allowance over the RSS measured just before the storm and the workers' buffers: the storm's 300 open
/// connections, their requests and the queued jobs, the runtime's and the database pool's growth. Without
/// the bounded workers, 300 concurrent hashes would need 300 × 19 MiB ≈ 5.7 GiB.
const RSS_MARGIN_KIB: u64 = 64 * 1024;
const SECRET: &str = "storm-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

/// A `/proc/<pid>/status` field, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in {status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A sign-in as client `ip`: the status, the body, `Retry-After` and whether a session cookie was set.
async fn sign_in_from(
    client: &reqwest::Client,
    base: &str,
    ip: &str,
    email: &str,
    password: &str,
) -> (u16, Value, Option<u64>, bool) {
    let res = client
        .post(format!("{base}/api/auth/sign-in/email"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let retry = header(&res, "retry-after").map(|v| v.parse().unwrap());
    let cookie = session_cookie(&res).is_some();
    let (status, body) = json(res).await;
    (status, body, retry, cookie)
}

/// Client IP number `i` of a /16 for the test (10.<a>.<b>.<c> never collides between the two groups).
fn client_ip(group: u8, i: usize) -> String {
    format!("10.{group}.{}.{}", i / 250, i % 250 + 1)
}

#[allow(clippy::print_stderr)] // the storm's figures, for RELIABILITY.md
async fn a_login_storm_locks_the_account_and_argon2_bounds_memory(postgres: bool) {
    // The lockout counters live in the database: both backends take the concurrent attempts.
    let Some(db) = TestDatabase::new(postgres).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    // The production argon2 cost is the binary's default: no MAPQUIZ_ARGON2_* here.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", &port)
        .env("DATABASE_URL", db.url())
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("MAPQUIZ_TRUSTED_PROXIES", "127.0.0.1/32")
        .env("MAPQUIZ_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client.get(format!("{base}/livez")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let email = format!("storm-{}@example.com", uuid::Uuid::now_v7().simple());
    let res = client
        .post(format!("{base}/api/auth/sign-up/email"))
        .header("x-forwarded-for", "10.255.0.1")
        .json(&json!({"name": "Victim", "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let workers = std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(2);
    let rss_before = status_kib(pid, "VmRSS:");

    // Sample the resident set while the storm runs (VmHWM, the kernel's own peak, is read after).
    let peak_sampled = Arc::new(AtomicU64::new(rss_before));
    let sampling = {
        let peak = peak_sampled.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let storm_started = Instant::now();
    let on_account = (0..STORM_ON_ACCOUNT).map(|i| {
        let (client, base, email) = (client.clone(), base.clone(), email.clone());
        tokio::spawn(async move { sign_in_from(&client, &base, &client_ip(1, i), &email, "wrong password 123").await })
    });
    let spray = (0..STORM_SPRAY).map(|i| {
        let (client, base) = (client.clone(), base.clone());
        let unknown = format!("nobody-{i}-{}@example.com", uuid::Uuid::now_v7().simple());
        tokio::spawn(
            async move { sign_in_from(&client, &base, &client_ip(2, i), &unknown, "wrong password 123").await },
        )
    });
    let (on_account, spray): (Vec<_>, Vec<_>) =
        tokio::join!(join_all(on_account.collect::<Vec<_>>()), join_all(spray.collect::<Vec<_>>()));
    let storm_took = storm_started.elapsed();
    sampling.abort();
    let peak_hwm = status_kib(pid, "VmHWM:");
    let peak_sampled = peak_sampled.load(Ordering::Relaxed);

    // The lockout: at most `lockout_email_max` (5) guesses are checked, every other one is refused with 429,
    // whichever IP it comes from.
    let on_account: Vec<_> = on_account.into_iter().map(|r| r.unwrap()).collect();
    let checked = on_account.iter().filter(|a| a.0 == 401).count();
    let locked_out: Vec<_> = on_account.iter().filter(|a| a.0 == 429).collect();
    // Each attempt is recorded before it is counted, so when hundreds arrive at once most see the others and
    // the lock may even engage before any guess is checked (seen on PostgreSQL): at most 5, never more.
    assert!(checked <= 5, "{checked} guesses reached the password check");
    assert_eq!(checked + locked_out.len(), STORM_ON_ACCOUNT, "only 401 and 429: {on_account:?}");
    for (_, body, retry, cookie) in &locked_out {
        assert_eq!(body, &json!({"code": TOO_MANY_SIGN_INS.0, "message": TOO_MANY_SIGN_INS.1}));
        assert!(retry.is_some_and(|r| (1..=900).contains(&r)), "Retry-After within the 15-minute window: {retry:?}");
        assert!(!cookie);
    }
    // Password spraying from many IPs is not locked per IP (one failure each) and every guess is checked.
    let spray: Vec<_> = spray.into_iter().map(|r| r.unwrap()).collect();
    assert!(spray.iter().all(|a| a.0 == 401 && a.1["code"] == "INVALID_EMAIL_OR_PASSWORD"), "{spray:?}");

    // The right password from a fresh IP is refused while the lock lasts, with no session.
    let (status, body, retry, cookie) = sign_in_from(&client, &base, "10.3.0.1", &email, PASSWORD).await;
    assert_eq!((status, body), (429, json!({"code": TOO_MANY_SIGN_INS.0, "message": TOO_MANY_SIGN_INS.1})));
    assert!(retry.is_some() && !cookie);

    // Memory: the hashes ran on the bounded workers, so the peak stays within their buffers plus the margin.
    let bound = rss_before + workers * PRODUCTION_MEMORY_KIB + RSS_MARGIN_KIB;
    eprintln!(
        "login storm on {}: {} sign-ins ({STORM_ON_ACCOUNT} on one account from as many IPs, {STORM_SPRAY} unknown \
         emails) in {storm_took:?}; on the account {checked} checked (401), {} locked out (429); spray {} × 401; \
         {workers} argon2 workers at {PRODUCTION_MEMORY_KIB} KiB; RSS before {rss_before} KiB, peak sampled \
         {peak_sampled} KiB, VmHWM {peak_hwm} KiB, bound {bound} KiB",
        if postgres { "PostgreSQL" } else { "SQLite" },
        STORM_ON_ACCOUNT + STORM_SPRAY,
        locked_out.len(),
        spray.len(),
    );
    // The kernel folds per-thread RSS counters in lazily, so a sample may read a little over VmHWM.
    let peak = peak_hwm.max(peak_sampled);
    assert!(peak <= bound, "peak RSS {peak} KiB over the bound {bound} KiB");

    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_backends!(
    friend_requests_past_the_quota_are_refused_on_both_transports,
    friend_requests_are_not_counted_with_limits_off,
    lobbies_past_the_quota_are_refused,
    a_login_storm_locks_the_account_and_argon2_bounds_memory,
);
