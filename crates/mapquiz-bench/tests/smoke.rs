//! Each scenario, briefly and with tiny counts, against the real server started in-process on port 0 with a
//! fresh SQLite file: the bench keeps compiling and working. Only what is not timing is asserted (work done,
//! no errors, nothing lost, files written); never latency or throughput.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use figment::Figment;
use mapquiz_bench::http::{Route, parse_mix};
use mapquiz_bench::summary::{Outputs, Summary};
use mapquiz_bench::{artillery, ceiling, finish, friends, http, lobbies, soak, ws_connect};
use mapquiz_domain::region::Region;
use mapquiz_server::app::App;
use mapquiz_server::config::Config;
use mapquiz_store::testing::TestDatabase;
use std::time::Duration;
use tokio::sync::oneshot;

/// A running server; stopped when dropped.
struct TestServer {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    _db: TestDatabase,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the app as a load run would have it: cheap hashing, no per-client limits; a short presence grace
/// and no fair-play floor so that the presence and lobby scenarios finish quickly.
async fn server() -> TestServer {
    let db = TestDatabase::sqlite();
    let figment = Figment::new()
        .merge(("database_url", db.url()))
        .merge(("host", "127.0.0.1"))
        .merge(("port", 0))
        .merge(("auth_secret", "bench-smoke-secret-0123456789-abcdefghijklmnopqrstuvwxyz"))
        .merge(("argon2_memory_kib", 1024))
        .merge(("argon2_iterations", 1))
        .merge(("rate_limit_enabled", false))
        .merge(("ws_rate_max", 1_000_000))
        .merge(("ws_abuse_max", 1_000_000))
        .merge(("presence_grace_ms", 50))
        .merge(("lobby_fair_play_floor_ms", 0));
    let config = Config::from_figment(&figment).expect("a valid configuration");
    let app = App::build(config).await.expect("the app builds");
    let url = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));
    TestServer { url, stop: Some(stop), _db: db }
}

/// Output files in a temp dir, checked after the summary is finished.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Files { dir: tempfile::tempdir().unwrap() }
    }

    fn outputs(&self) -> Outputs {
        Outputs { json: Some(self.dir.path().join("summary.json")), svg: Some(self.dir.path().join("summary.svg")) }
    }

    /// Prints and writes the summary (failing on a failed check) and checks both files.
    fn finish(&self, summary: &Summary) {
        finish(summary, &self.outputs()).expect("every check holds");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("summary.json")).unwrap()).unwrap();
        assert_eq!(json["scenario"], summary.scenario.as_str());
        assert_eq!(json["count"], summary.count);
        let svg = std::fs::read_to_string(self.dir.path().join("summary.svg")).unwrap();
        assert!(svg.contains("<svg"), "not an SVG: {svg:.200}");
    }
}

fn http_options(url: &str, mix: &str) -> http::Options {
    http::Options {
        url: url.to_owned(),
        mix: parse_mix(mix).unwrap(),
        connections: 4,
        duration: Duration::from_millis(800),
        warmup: Duration::from_millis(100),
        users: 3,
        rate: None,
        timeout: Duration::from_secs(10),
        server_pid: Some(std::process::id()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_every_route_closed_model() {
    let server = server().await;
    let names: Vec<String> = Route::ALL.iter().map(|r| format!("{}=1", r.name())).collect();
    let summary = http::run(http_options(&server.url, &names.join(","))).await.unwrap();
    assert!(summary.count > 0);
    assert_eq!(summary.error_total, 0, "{:?}", summary.errors);
    let scores = summary.checks.iter().find(|c| c.name.starts_with("scores:")).expect("the scores were checked");
    assert!(scores.ok, "{}", scores.name);
    assert!(summary.server.is_some(), "this process is the server: /proc is readable");
    Files::new().finish(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_open_model() {
    let server = server().await;
    let options = http::Options { rate: Some(200.0), ..http_options(&server.url, "history=3,stats=1,post-score=1") };
    let summary = http::run(options).await.unwrap();
    assert!(summary.count > 0);
    assert_eq!(summary.error_total, 0, "{:?}", summary.errors);
    Files::new().finish(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_against_the_ceiling_server() {
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, serve) = ceiling::bind("127.0.0.1", 0, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let serving = tokio::spawn(serve);
    let options = http::Options { server_pid: None, ..http_options(&format!("http://{addr}"), "livez") };
    let summary = http::run(options).await.unwrap();
    assert!(summary.count > 0);
    assert_eq!(summary.error_total, 0, "{:?}", summary.errors);
    Files::new().finish(&summary);
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artillery() {
    let server = server().await;
    let options = artillery::Options {
        url: server.url.clone(),
        arrival_rate: 10.0,
        duration: Duration::from_millis(600),
        users: 3,
        timeout: Duration::from_secs(10),
        server_pid: Some(std::process::id()),
    };
    let summary = artillery::run(options).await.unwrap();
    assert!(summary.count > 0);
    assert_eq!(summary.count % 4, 0, "each virtual user makes 4 requests");
    assert_eq!(summary.error_total, 0, "{:?}", summary.errors);
    Files::new().finish(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_connect() {
    let server = server().await;
    let options = ws_connect::Options {
        url: server.url.clone(),
        users: 3,
        sockets_per_user: 2,
        sockets: 5,
        hold: Duration::from_millis(100),
        concurrency: 4,
        source_ips: 2,
        server_pid: None,
    };
    let summary = ws_connect::run(options).await.unwrap();
    assert_eq!(summary.count, 5);
    assert_eq!(summary.error_total, 0, "{:?}", summary.errors);
    Files::new().finish(&summary);
}

#[test]
fn too_many_sockets_for_the_file_limit_is_a_clear_error() {
    let err = ws_connect::raise_file_limit(u64::MAX / 2).unwrap_err().to_string();
    assert!(err.contains("RLIMIT_NOFILE"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friends_both_kinds() {
    let server = server().await;
    let options = friends::Options {
        sender_url: server.url.clone(),
        receiver_url: server.url.clone(),
        kind: friends::Kind::Both,
        pairs: 2,
        rounds: 3,
        presence_rounds: 2,
        wait: Duration::from_secs(10),
        presence_grace: Duration::from_millis(50),
        server_pid: Some(std::process::id()),
    };
    let summary = friends::run(options).await.unwrap();
    assert_eq!(summary.count, 2 * 3 + 2 * 2 * 2, "every push arrived");
    assert_eq!(summary.error_total, 0, "{:?}", summary.errors);
    assert_eq!(summary.series.len(), 3);
    Files::new().finish(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lobbies() {
    let server = server().await;
    let interval = Duration::from_millis(20);
    let region = Region::Oceanie;
    let options = lobbies::Options {
        urls: vec![server.url.clone()],
        lobbies: 2,
        players: 2,
        interval,
        region,
        concurrency: 4,
        ramp: Duration::ZERO,
        server_pid: Some(std::process::id()),
        timeout: lobbies::game_timeout(region, interval, Duration::ZERO, Duration::from_secs(20)),
    };
    let summary = lobbies::run(options).await.unwrap();
    assert!(summary.count > 0);
    assert_eq!(summary.error_total, 0, "{:?}", summary.errors);
    Files::new().finish(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak() {
    let server = server().await;
    let tolerance = |absolute: f64| soak::growth::Tolerance { absolute, relative: 0.0 };
    let options = soak::Options {
        url: server.url.clone(),
        duration: Duration::from_secs(3),
        warmup: Some(Duration::from_millis(500)),
        sample_every: Duration::from_millis(100),
        lobbies: soak::LobbyLoad {
            lobbies: 2,
            players: 2,
            interval: Duration::from_millis(20),
            region: Region::Oceanie,
        },
        friends: soak::FriendLoad {
            pairs: 2,
            rounds: 3,
            presence_rounds: 1,
            presence_grace: Duration::from_millis(50),
        },
        http: soak::HttpLoad {
            mix: parse_mix("get-session=1,history=1,post-score=1").unwrap(),
            rate: 100.0,
            connections: 2,
            users: 3,
        },
        // Loose: a few seconds in the test process are all warm-up; the verdicts are only checked to be drawn.
        limits: soak::Limits {
            rss: soak::growth::Tolerance { absolute: 1024.0, relative: 0.0 },
            fds: tolerance(1000.0),
            tasks: tolerance(10_000.0),
            pool_in_use: tolerance(100.0),
        },
        server_pid: Some(std::process::id()),
    };
    let report = soak::run(options).await.unwrap();
    let loads: Vec<&str> = report.loads.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(loads, ["lobbies", "friends", "http"]);
    for load in &report.loads {
        assert!(load.rounds >= 1 && load.count > 0, "{load:?}");
        assert_eq!(load.failed_rounds, 0, "{load:?}");
    }
    assert!(report.samples.len() >= 10, "{} samples", report.samples.len());
    assert!(report.samples.iter().all(|s| s.rss_mib.is_some() && s.fds.is_some()), "this process is the server");
    assert!(report.samples.iter().any(|s| s.tasks.is_some_and(|t| t > 0.0)), "the server exports its alive tasks");
    assert!(report.samples.iter().all(|s| s.pool_idle.is_some()), "the pool is exported");
    let names: Vec<&str> = report.verdicts.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["server RSS", "open file descriptors", "tokio alive tasks", "pool connections in use"]);
    assert!(report.verdicts.iter().all(|v| !v.inconclusive), "{:?}", report.verdicts);

    let files = Files::new();
    let outputs = files.outputs();
    soak::finish(&report, &outputs).expect("every check holds");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outputs.json.unwrap()).unwrap()).unwrap();
    assert_eq!(json["summary"]["scenario"], "soak");
    assert_eq!(json["samples"].as_array().unwrap().len(), report.samples.len());
    let svg = std::fs::read_to_string(outputs.svg.unwrap()).unwrap();
    assert!(svg.contains("<svg") && svg.contains("tokio alive tasks"), "not the soak's SVG: {svg:.200}");
}
