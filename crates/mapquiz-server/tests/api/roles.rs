//! Roles in one binary (issue 13): which routes each role serves (the rest is the normal JSON 404), which
//! background work each runs (lobby actors and the node registry on realtime nodes, bug-report delivery on
//! workers), and a split deployment — one api node and one realtime node sharing PostgreSQL and Redis —
//! playing a whole game behind a real nginx that runs `deploy/mapquiz-locations.conf` verbatim.
//!
//! Roles other than `all` need PostgreSQL, and `api` and `realtime` need Redis: these tests run when
//! `TEST_DATABASE_URL` and `TEST_REDIS_URL` are set. The nginx test also needs nginx (Debian's package); all
//! three are required under `CI`.

use crate::support::lobbies::OCEANIE;
use crate::support::ws::{Ws, open};
use crate::support::{TestApp, TestUser, base_figment, json, sign_up_at, test_redis_url};
use axum::Router;
use axum::routing::post;
use figment::Figment;
use mapquiz_server::app::App;
use mapquiz_server::config::{Config, Role};
use mapquiz_server::state::AppState;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The 404 of a route this node does not serve: the same as for a path no node serves.
fn not_found() -> Value {
    json!({"error": "Route non trouvée", "code": "not_found"})
}

/// `figment` with `role` and Redis.
fn as_role(f: Figment, role: Role, redis: &str) -> Figment {
    f.merge(("role", role.as_str())).merge(("redis_url", redis))
}

/// A node of `role` on a fresh PostgreSQL database with Redis; `None` when either is not configured.
async fn first_node(role: Role, configure: impl FnOnce(Figment) -> Figment) -> Option<TestApp> {
    let redis = test_redis_url()?;
    TestApp::spawn_with(true, |f| configure(as_role(f, role, &redis))).await
}

/// Another node on the first one's database, Redis, secret and clock.
struct Node {
    address: SocketAddr,
    state: AppState,
    stop: CancellationToken,
}

impl Node {
    async fn start(first: &TestApp, role: Role, configure: impl FnOnce(Figment) -> Figment) -> Node {
        let redis = test_redis_url().expect("the first node had Redis");
        let config = Config::from_figment(&configure(as_role(base_figment(&first.db), role, &redis)))
            .expect("the node's configuration is valid");
        let app = App::build_with_clock(config, first.clock.clone()).await.expect("the node builds");
        let (address, state) = (app.local_addr(), app.state().clone());
        let stop = CancellationToken::new();
        tokio::spawn(app.serve(stop.clone().cancelled_owned()));
        Node { address, state, stop }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// `/health/detailed` of the server at `address`.
async fn detailed(client: &reqwest::Client, address: SocketAddr) -> Value {
    let (status, body) = json(client.get(format!("http://{address}/health/detailed")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    body
}

// ---- which routes answer ----

/// Asks every kind of route of a node of `role` and checks it answers exactly when the role serves it.
async fn serves_exactly_its_routes(role: Role) {
    let Some(app) = first_node(role, |f| f).await else { return };

    // Every role: the probes and /metrics; /health/detailed names the role.
    for path in ["/health", "/health/detailed", "/livez", "/readyz", "/metrics"] {
        assert_eq!(app.get(path).await.status(), 200, "{role}: {path}");
    }
    assert_eq!(detailed(&app.client, app.address).await["role"], role.as_str());

    // GET /: every role but the worker.
    let (status, body) = json(app.get("/").await).await;
    if role == Role::Worker {
        assert_eq!((status, body), (404, not_found()), "{role}: /");
    } else {
        assert_eq!((status, &body["message"]), (200, &json!("MapQuiz API")), "{role}: / {body}");
    }

    // The HTTP API: api and all. Each answers as it does for an anonymous caller, or 404 everywhere else.
    let api = [
        ("GET", "/api/openapi.json", json!(null)),
        ("GET", "/docs", json!(null)),
        ("GET", "/api/users", json!(null)),
        ("GET", "/api/scores/history", json!(null)),
        ("GET", "/api/leaderboards", json!(null)),
        ("GET", "/api/friends/list", json!(null)),
        ("GET", "/api/games", json!(null)),
        ("POST", "/api/bug-reports", json!({})),
        ("POST", "/api/friends/add", json!({"tag": "ABCDEFGH"})),
    ];
    for (method, path, body) in api {
        let req = app.client.request(method.parse().unwrap(), app.url(path));
        let req = if body.is_null() { req } else { req.json(&body) };
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        if role.serves_api() {
            assert_ne!(status, 404, "{role} serves {method} {path}");
        } else {
            let (status, body) = json(res).await;
            assert_eq!((status, body), (404, not_found()), "{role}: {method} {path}");
        }
    }
    // Better Auth's routes: served by api nodes; elsewhere the 404 of an unknown auth route (its own shape).
    let res = app.post_json("/api/auth/sign-up/email", &json!({"name": "Ana", "email": "ana@example.com"})).await;
    if role.serves_api() {
        assert_ne!(res.status(), 404, "{role} serves sign-up");
    } else {
        let (status, body) = json(res).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")), "{role}: sign-up");
    }

    // The WebSocket: realtime and all; elsewhere the upgrade is refused with the JSON 404.
    if role.serves_realtime() {
        Ws::connect(app.address, None).await.close().await;
    } else {
        match open(app.address, &[]).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 404, "{role}: /ws"),
            Err(e) => panic!("{role}: /ws refused oddly: {e}"),
            Ok(_) => panic!("{role} opened a WebSocket"),
        }
        let (status, body) = json(app.get("/ws").await).await;
        assert_eq!((status, body), (404, not_found()), "{role}: GET /ws");
    }
    app.stop().await.expect("the node stops cleanly");
}

#[tokio::test]
async fn role_all_serves_every_route() {
    serves_exactly_its_routes(Role::All).await;
}

#[tokio::test]
async fn role_api_serves_http_without_the_websocket() {
    serves_exactly_its_routes(Role::Api).await;
}

#[tokio::test]
async fn role_realtime_serves_the_websocket_and_the_probes() {
    serves_exactly_its_routes(Role::Realtime).await;
}

#[tokio::test]
async fn role_worker_serves_the_probes_and_metrics_only() {
    serves_exactly_its_routes(Role::Worker).await;
}

// ---- what runs where ----

/// Whether Redis holds `key` (one `EXISTS`, spoken in RESP over a plain socket).
async fn redis_has(redis: &str, key: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(redis).unwrap();
    let mut stream =
        tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap_or(6379))).await.unwrap();
    let command = format!("*2\r\n$6\r\nEXISTS\r\n${}\r\n{key}\r\n", key.len());
    stream.write_all(command.as_bytes()).await.unwrap();
    let mut reply = [0u8; 16];
    let n = stream.read(&mut reply).await.unwrap();
    match &reply[..n] {
        b":1\r\n" => true,
        b":0\r\n" => false,
        other => panic!("unexpected Redis reply {:?}", String::from_utf8_lossy(other)),
    }
}

/// Lobby actors (and their restore at start-up) and the node registry are the realtime node's; an api node
/// beside it runs none of them and still reaches its sockets through Redis.
#[tokio::test]
async fn only_realtime_nodes_run_lobbies_and_join_the_node_registry() {
    let Some(realtime) = first_node(Role::Realtime, |f| f).await else { return };
    let redis = test_redis_url().unwrap();
    let api = Node::start(&realtime, Role::Api, |f| f).await;
    let client = reqwest::Client::new();
    let alice = sign_up_at(&client, api.address, "Alice").await;
    let mut aws = Ws::signed_in(realtime.address, &alice).await;
    aws.create_lobby(&["Océanie"]).await;

    let realtime_health = detailed(&client, realtime.address).await;
    let api_health = detailed(&client, api.address).await;
    assert_eq!(realtime_health["checks"]["lobbies"]["live"], 1, "{realtime_health}");
    assert_eq!(api_health["checks"]["lobbies"]["live"], 0, "{api_health}");
    assert_eq!(api_health["checks"]["realtime"]["bus"], "connected", "the api node publishes: {api_health}");
    let alive =
        |health: &Value| format!("mapquiz:node:{{{}}}:alive", health["checks"]["realtime"]["nodeId"].as_str().unwrap());
    assert!(redis_has(&redis, &alive(&realtime_health)).await, "the realtime node beats");
    assert!(!redis_has(&redis, &alive(&api_health)).await, "an api node holds no users and stays out");

    // A restart: the realtime node restores the stored lobby; the api node never does.
    drop(aws);
    let realtime = realtime.restart().await;
    assert_eq!(detailed(&client, realtime.address).await["checks"]["lobbies"]["live"], 1);
    let second_api = Node::start(&realtime, Role::Api, |f| f).await;
    assert_eq!(detailed(&client, second_api.address).await["checks"]["lobbies"]["live"], 0);
    assert_eq!(api.state.realtime.lobbies.live(), 0);
}

/// A stand-in for GitHub's "create an issue" endpoint that counts what it receives.
async fn fake_github() -> (String, Arc<AtomicUsize>) {
    let issues = Arc::new(AtomicUsize::new(0));
    let counted = issues.clone();
    let app = Router::new().route(
        "/repos/{owner}/{repo}/issues",
        post(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let url = format!("https://github.com/mapquiz/reports/issues/{n}");
                (axum::http::StatusCode::CREATED, axum::Json(json!({"number": n, "html_url": url})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, issues)
}

/// A report stored through an api node waits for a worker: the api node never delivers it, the worker does.
#[tokio::test]
async fn bug_reports_are_delivered_by_the_worker_not_the_api_node() {
    let (github, issues) = fake_github().await;
    let delivering = |f: Figment| {
        f.merge(("github_token", "ghp_test_token_123"))
            .merge(("github_repo_owner", "mapquiz"))
            .merge(("github_repo_name", "reports"))
            .merge(("github_api_url", github.as_str()))
    };
    let Some(api) = first_node(Role::Api, delivering).await else { return };
    let report = json!({
        "title": "La carte ne charge pas",
        "description": "Après avoir choisi l'Europe, la carte reste vide.",
        "environment": {"browser": "Firefox", "browserVersion": "128.0", "operatingSystem": "Linux",
                        "deviceType": "desktop", "screenResolution": "1920x1080"}
    });
    let (status, created) = json(api.post_json("/api/bug-reports", &report).await).await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    api.state.bug_report_wakeup.notify_one();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(issues.load(Ordering::SeqCst), 0, "an api node runs no delivery worker");

    let _worker = Node::start(&api, Role::Worker, delivering).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = api.state.store.bug_report(&id).await.unwrap().unwrap();
        if stored.issue_number.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the worker did not deliver the report: {stored:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(issues.load(Ordering::SeqCst), 1);
}

// ---- the split behind a real nginx ----

/// nginx from `PATH` or Debian's `/usr/sbin`; `None` skips the test, except under `CI`, where it fails.
fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file());
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!("CI is set but nginx is not installed: `.ci/run` installs Debian's package (apt-get install nginx)");
    }
    found
}

/// Whether this process runs as root (its effective uid, from `/proc`): nginx then needs to be told to keep
/// its workers as root, since the temporary folder is root's alone.
fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)) == Some("0")
}

/// A temporary nginx on a free loopback port, run as the current user with everything (pid, logs, temporary
/// files) in its own folder, routing with the shipped `deploy/mapquiz-locations.conf`.
struct Nginx {
    child: Child,
    address: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    async fn start(binary: &Path, api: SocketAddr, realtime: SocketAddr) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let locations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/mapquiz-locations.conf");
        let locations = locations.canonicalize().expect("deploy/mapquiz-locations.conf exists");
        let d = dir.path().display();
        let user = if running_as_root() { "user root;" } else { "" };
        let conf = format!(
            r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
{user}
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream mapquiz_api {{
        server {api};
        keepalive 8;
    }}
    upstream mapquiz_realtime {{
        server {realtime};
    }}
    server {{
        listen 127.0.0.1:{port};
        include {locations};
    }}
}}
"#,
            locations = locations.display()
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let output = std::fs::File::create(dir.path().join("output.log")).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx { child, address: SocketAddr::from(([127, 0, 0, 1], port)), dir };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(res) = client.get(format!("http://{}/livez", nginx.address)).send().await
                && res.status() == 200
            {
                return nginx;
            }
            assert!(Instant::now() < deadline, "nginx did not come up: {}", nginx.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}\n{}", read("output.log"), read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM to the master, which stops its workers (a KILL would leave them holding the port).
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next frame that is not a presence change (friends come online as the test opens sockets).
async fn next_not_presence(ws: &mut Ws) -> Value {
    loop {
        let frame = ws.recv().await;
        if frame["type"] != "friend_status_change" {
            return frame;
        }
    }
}

/// nginx in front of one api node and one realtime node sharing PostgreSQL and Redis: two players sign up,
/// become friends over HTTP (the pushes cross from the api node to the realtime node's sockets through
/// Redis), and play a whole game over WebSockets routed to the realtime node; the api node then lists it,
/// and a sign-out on the api node closes the socket on the realtime node.
#[tokio::test]
async fn a_split_deployment_plays_a_game_behind_nginx() {
    let Some(binary) = nginx_binary() else { return };
    let behind_proxy = |f: Figment| f.merge(("trusted_proxies", "127.0.0.1"));
    let Some(api) = first_node(Role::Api, behind_proxy).await else { return };
    let realtime = Node::start(&api, Role::Realtime, behind_proxy).await;
    let nginx = Nginx::start(&binary, api.address, realtime.address).await;
    let (front, client) = (nginx.address, reqwest::Client::new());

    // HTTP reaches the api node, with nginx's request id carried through.
    let res = client.get(format!("http://{front}/health/detailed")).send().await.unwrap();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(request_id.len() == 32 && request_id.bytes().all(|b| b.is_ascii_hexdigit()), "{request_id}");
    assert_eq!(json(res).await.1["role"], "api");

    let alice = sign_up_at(&client, front, "Alice").await;
    let bruno = sign_up_at(&client, front, "Bruno").await;
    let mut aws = Ws::signed_in(front, &alice).await;
    let mut bws = Ws::signed_in(front, &bruno).await;
    assert_eq!(realtime.state.realtime.hub.user_count(), 2, "both sockets are on the realtime node");

    // Friends over HTTP, through the api node; each push reaches a socket on the realtime node.
    let post_as = |user: &TestUser, path: &str, body: Value| {
        client.post(format!("http://{front}{path}")).header("cookie", &user.cookie).json(&body).send()
    };
    let (status, body) = json(post_as(&alice, "/api/friends/add", json!({"tag": bruno.tag})).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(next_not_presence(&mut bws).await, json!({"type": "friend_request_received"}));
    let id = crate::support::friends::friend_request_id_at(&client, front, &bruno, &alice).await;
    let path = format!("/api/friends/requests/{id}");
    let (status, body) = json(post_as(&bruno, &path, json!({"action": "accept"})).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        next_not_presence(&mut aws).await,
        json!({"type": "friend_request_accepted", "payload": {"success": true, "acceptedBy": bruno.id, "friendId": bruno.id}})
    );

    // A whole game over the WebSockets: create, invite, join, ready, progress to the end.
    let lobby = aws.create_lobby(&["Océanie"]).await;
    let reply = aws.join(&lobby).await;
    aws.expect_success("join_lobby", reply).await;
    aws.expect_update().await;
    let reply = aws.invite(&lobby, &bruno).await;
    aws.expect_success("invite_to_lobby", reply).await;
    assert_eq!(bws.expect_push("lobby_invitation").await["lobbyId"], lobby.as_str());
    let reply = bws.join(&lobby).await;
    bws.expect_success("join_lobby", reply).await;
    bws.expect_update().await;
    aws.expect_update().await;
    let reply = aws.ready(&lobby, true).await;
    aws.expect_success("set_player_ready", reply).await;
    aws.expect_update().await;
    bws.expect_update().await;
    let reply = bws.ready(&lobby, true).await;
    bws.expect_success("set_player_ready", reply).await;
    for ws in [&mut aws, &mut bws] {
        ws.expect_update().await;
        assert_eq!(ws.expect_push("game_start").await["totalQuestions"], 7);
        assert_eq!(ws.expect_update().await["status"], "playing");
    }
    let reply = aws.progress(&lobby, OCEANIE, &[]).await;
    aws.expect_success("update_player_progress", reply).await;
    for ws in [&mut aws, &mut bws] {
        ws.expect_push("update_player_progress").await;
    }
    let reply = bws.progress(&lobby, &OCEANIE[..6], &[OCEANIE[6]]).await;
    bws.expect_success("update_player_progress", reply).await;
    for ws in [&mut bws, &mut aws] {
        ws.expect_push("update_player_progress").await;
        assert_eq!(ws.expect_update().await["status"], "finished");
        assert_eq!(ws.expect_push("game_end").await, json!({"lobbyId": lobby}));
    }

    // The api node lists the game the realtime node stored.
    let res = client.get(format!("http://{front}/api/games")).header("cookie", &alice.cookie).send().await.unwrap();
    let (status, history) = json(res).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["games"].as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!(history["games"][0]["lobbyId"], lobby.as_str());
    assert_eq!(history["games"][0]["rank"], 1, "{history}");

    // Signing out through the api node closes the session's socket on the realtime node.
    let (status, body) = json(post_as(&alice, "/api/auth/sign-out", json!({})).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(aws.closed().await, Some(1008));
    bws.close().await;
    let logs = nginx.logs();
    assert!(!logs.contains("[emerg]") && !logs.contains("[alert]"), "{logs}");
}
