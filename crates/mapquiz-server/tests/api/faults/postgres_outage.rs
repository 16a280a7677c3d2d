//! PostgreSQL stopped for 30 s under HTTP and game load (issue 15 item 3). The test runs its own server
//! ([`PostgresInstance`]) and stops it with `pg_ctl stop -m fast`, as an operator would: every HTTP request in
//! the outage answers 503 in the protocol's JSON within the request timeout, never 500 and never a hang;
//! sockets stay open, a game goes on (progress acknowledged and pushed at once) and the end that falls in the
//! outage is stored and announced once the database is back; the same server, never restarted, then serves
//! again, and every score, friend request and game it acknowledged is there.

use crate::lobbies::db_cut::{answer, codes, expect_end, rankings, two_player_game};
use crate::support::postgres_instance::PostgresInstance;
use crate::support::{TestApp, TestUser, base_figment, json};
use mapquiz_domain::LobbyId;
use mapquiz_server::config::Config;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the database is stopped, as the issue says.
const OUTAGE: Duration = Duration::from_secs(30);
/// The server's request timeout in this test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest any request may take, outage or not: the request timeout and some scheduling slack.
const ANSWER_BOUND: Duration = Duration::from_secs(4);
/// Longest a progress acknowledgement may take while the database is away: it never waits for it.
const ACK_BOUND: Duration = Duration::from_millis(500);
/// Pause between two requests of one load worker.
const PACE: Duration = Duration::from_millis(150);
/// Scores one user posts at most, so the history (at most 100 entries) shows every one of them.
const SCORES_PER_USER: usize = 90;

/// One HTTP request of the load: when it was sent, how long it took, and what it answered (0: no answer).
struct Sample {
    what: &'static str,
    sent: Instant,
    took: Duration,
    status: u16,
    body: Value,
}

/// What the load workers record, shared with the test.
#[derive(Default)]
struct Load {
    samples: Mutex<Vec<Sample>>,
    /// (user index, duration) of every score the server acknowledged: each post of a user has its own
    /// duration, and the history shows no id.
    scores: Mutex<Vec<(usize, u64)>>,
    /// Indexes of the targets whose friend request the server acknowledged.
    requests: Mutex<Vec<usize>>,
    stop: AtomicBool,
}

impl Load {
    /// Sends one request with a client-side bound well past [`ANSWER_BOUND`], so a hang is seen as one.
    async fn send(&self, what: &'static str, request: reqwest::RequestBuilder) -> (u16, Value) {
        let sent = Instant::now();
        let (status, body) = match request.timeout(ANSWER_BOUND * 3).send().await {
            Ok(res) => json(res).await,
            Err(e) => (0, json!(format!("no answer: {e}"))),
        };
        let sample = Sample { what, sent, took: sent.elapsed(), status, body: body.clone() };
        self.samples.lock().unwrap().push(sample);
        (status, body)
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }
}

/// Posts scores as `user` until stopped; each acknowledged one (200) is recorded.
async fn post_scores(app: Arc<AppRef>, load: Arc<Load>, index: usize, user: TestUser) {
    let mut n: u64 = 0;
    while load.running() && load.scores.lock().unwrap().iter().filter(|(i, _)| *i == index).count() < SCORES_PER_USER {
        n += 1;
        let body = json!({"score": n % 8, "totalQuestions": 7, "selectedRegions": ["Océanie"], "gameMode": "quiz",
            "duration": n});
        let request = app.client.post(app.url("/api/scores")).header("cookie", &user.cookie).json(&body);
        let (status, body) = load.send("POST /api/scores", request).await;
        if status == 200 {
            assert_eq!(body["score"]["duration"], n, "{body}");
            load.scores.lock().unwrap().push((index, n));
        }
        tokio::time::sleep(PACE).await;
    }
}

/// Reads the history, the stats and the friends list as `user`, in turn, until stopped.
async fn read(app: Arc<AppRef>, load: Arc<Load>, user: TestUser) {
    let routes = ["/api/scores/history?limit=5", "/api/scores/stats", "/api/friends/list"];
    let mut n = 0;
    while load.running() {
        let path = routes[n % routes.len()];
        n += 1;
        let what = match path {
            "/api/scores/stats" => "GET /api/scores/stats",
            "/api/friends/list" => "GET /api/friends/list",
            _ => "GET /api/scores/history",
        };
        load.send(what, app.client.get(app.url(path)).header("cookie", &user.cookie)).await;
        tokio::time::sleep(PACE).await;
    }
}

/// Sends friend requests from `sender` to each target in turn; a refused one (503) is sent again, and an
/// answer that it is already pending (it was stored before its answer was lost) counts as acknowledged.
async fn send_requests(app: Arc<AppRef>, load: Arc<Load>, sender: TestUser, targets: Vec<TestUser>) {
    let mut next = 0;
    while load.running() && next < targets.len() {
        let request = app
            .client
            .post(app.url("/api/friends/add"))
            .header("cookie", &sender.cookie)
            .json(&json!({"tag": targets[next].tag}));
        let (status, body) = load.send("POST /api/friends/add", request).await;
        if status == 200 || (status == 409 && body["code"] == "request_already_pending") {
            load.requests.lock().unwrap().push(next);
            next += 1;
        }
        tokio::time::sleep(PACE).await;
    }
}

/// What the load workers need of the app (the app itself stays with the test).
struct AppRef {
    address: std::net::SocketAddr,
    client: reqwest::Client,
}

impl AppRef {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }
}

/// The protocol's answer for a database that cannot be reached (§1.1.6).
fn unavailable() -> Value {
    json!({"error": "Service indisponible", "code": "service_unavailable"})
}

#[tokio::test]
async fn postgres_stopped_for_30_s_under_load_answers_503_keeps_games_and_loses_nothing() {
    let Some(pg) = PostgresInstance::start().await else { return };
    let db = TestDatabase::unmanaged(pg.url());
    let figment = base_figment(&db)
        .merge(("request_timeout_ms", REQUEST_TIMEOUT.as_millis() as u64))
        .merge(("database_acquire_timeout_ms", 1_000))
        .merge(("health_timeout_ms", 1_000))
        .merge(("lobby_progress_flush_ms", 200))
        .merge(("lobby_grace_ms", 120_000))
        .merge(("presence_grace_ms", 100))
        // The load comes from one address: the limits are another test's subject.
        .merge(("rate_limit_enabled", false));
    let app = TestApp::start(db, Config::from_figment(&figment).unwrap()).await;

    // The players, a bystander whose socket only has to stay up, and the HTTP load's users.
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bruno").await, app.sign_up("Chloe").await);
    app.befriend(&a, &b).await;
    let mut scorers = Vec::new();
    for name in ["Scorer one", "Scorer two"] {
        scorers.push(app.sign_up(name).await);
    }
    let reader = app.sign_up("Reader").await;
    let sender = app.sign_up("Sender").await;
    let mut targets = Vec::new();
    for n in 0..40 {
        targets.push(app.sign_up(&format!("Target {n}")).await);
    }
    let mut aws = app.ws(&a).await;
    let mut bws = app.ws(&b).await;
    let mut cws = app.ws(&c).await;
    let lobby = two_player_game(&mut aws, &mut bws, &b).await;
    answer(&lobby, (&mut aws, &a.id), &mut bws, &codes([0]), &[]).await;
    answer(&lobby, (&mut bws, &b.id), &mut aws, &codes([0]), &[]).await;

    // The HTTP load runs through the whole test: before, during and after the outage.
    let load = Arc::new(Load::default());
    let target = Arc::new(AppRef { address: app.address, client: reqwest::Client::new() });
    let mut workers = Vec::new();
    for (i, user) in scorers.iter().enumerate() {
        workers.push(tokio::spawn(post_scores(target.clone(), load.clone(), i, user.clone())));
    }
    workers.push(tokio::spawn(read(target.clone(), load.clone(), reader.clone())));
    workers.push(tokio::spawn(send_requests(target.clone(), load.clone(), sender.clone(), targets.clone())));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The database stops. Both players keep answering for 20 s and see each other at once; then Alice
    // finishes, and Bruno's last answer ends the game, whose end waits for its write.
    pg.stop().await;
    let down = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut frames = 0;
    for n in 2..=6 {
        let (entry, took) = answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..n), &[]).await;
        assert_eq!(entry["progress"], 100 * n / 7);
        let (_, took_b) = answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &[]).await;
        slowest = slowest.max(took).max(took_b);
        cws.settled().await;
        // Each answer: its reply and the progress pushed to both players; the bystander: a pong.
        frames += 3 + 3 + 1;
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let (_, took) = answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..7), &[]).await;
    let (_, took_b) = answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..6), &codes([6])).await;
    slowest = slowest.max(took).max(took_b);
    frames += 3 + 3;
    assert!(slowest < ACK_BOUND, "progress waited on the database: {slowest:?}");
    // Nothing else may come before the database is back: no end announced that is not stored.
    let rest = OUTAGE.saturating_sub(down.elapsed());
    assert!(rest > Duration::from_secs(3), "the game's part of the outage took too long: {:?}", down.elapsed());
    let quiet = rest - Duration::from_secs(1);
    tokio::join!(aws.silent_for(quiet), bws.silent_for(quiet));
    cws.settled().await;
    frames += 1;
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;

    // Back, on the same port; the same server carries on without a restart.
    let up = Instant::now();
    pg.start_again().await;
    let restarted = Instant::now();
    expect_end(&lobby, [&mut bws, &mut aws]).await;
    let ended_after = restarted.elapsed();
    let recovered = until_healthy(&app).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    load.stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }

    // Every request answered within the bound; in the outage, each with the protocol's 503; after it, 200.
    let samples = std::mem::take(&mut *load.samples.lock().unwrap());
    let (mut during, mut after) = (0, 0);
    for s in &samples {
        assert!(s.status != 0 && s.took < ANSWER_BOUND, "{} hung: {:?} {}", s.what, s.took, s.body);
        assert!(s.status != 500, "{} answered 500: {}", s.what, s.body);
        if s.sent >= down && s.sent + s.took <= up {
            assert_eq!((s.status, &s.body), (503, &unavailable()), "{} during the outage", s.what);
            during += 1;
        } else if s.sent >= recovered + Duration::from_secs(1) {
            assert!(s.status == 200, "{} after recovery: {} {}", s.what, s.status, s.body);
            after += 1;
        } else {
            assert!(matches!(s.status, 200 | 409 | 503), "{} around the outage: {} {}", s.what, s.status, s.body);
        }
    }
    assert!(during >= 30, "the load kept going during the outage: {during} requests");
    assert!(after >= 10, "the load was served again after the outage: {after} requests");

    // Nothing acknowledged is lost: the scores, the friend requests, the game and its players' lists.
    let acknowledged = std::mem::take(&mut *load.scores.lock().unwrap());
    for (i, user) in scorers.iter().enumerate() {
        let (status, history) = json(app.get_as(user, "/api/scores/history?limit=100").await).await;
        assert_eq!(status, 200, "{history}");
        let stored: BTreeSet<u64> =
            history.as_array().unwrap().iter().map(|s| s["duration"].as_u64().unwrap()).collect();
        let mine: Vec<u64> = acknowledged.iter().filter(|(j, _)| *j == i).map(|(_, n)| *n).collect();
        let lost: Vec<&u64> = mine.iter().filter(|n| !stored.contains(n)).collect();
        assert!(lost.is_empty(), "acknowledged scores lost: {lost:?}");
    }
    let requested = std::mem::take(&mut *load.requests.lock().unwrap());
    for &t in &requested {
        let (status, body) = json(app.get_as(&targets[t], "/api/friends/requests").await).await;
        assert_eq!(status, 200, "{body}");
        let senders: Vec<&Value> = body["friendRequests"].as_array().unwrap().iter().map(|r| &r["senderId"]).collect();
        assert_eq!(senders, vec![&json!(sender.id)], "the acknowledged request to target {t} is stored");
    }
    let expected = vec![(a.id.clone(), 1, 7), (b.id.clone(), 2, 6)];
    assert_eq!(rankings(&mut aws, &lobby).await, expected);
    let (status, games) = json(app.get_as(&b, "/api/games").await).await;
    assert_eq!(status, 200, "{games}");
    let game = &games["games"].as_array().unwrap()[..];
    assert_eq!(game.len(), 1, "{games}");
    assert_eq!(
        (game[0]["lobbyId"].as_str(), &game[0]["rank"], &game[0]["score"]),
        (Some(lobby.as_str()), &json!(2), &json!(6))
    );
    let row = app.state.store.load_lobby(&LobbyId::parse(&lobby).unwrap()).await.unwrap().unwrap();
    let lists = |id: &str| {
        let m = row.members.iter().find(|m| m.profile.id().as_str() == id).unwrap();
        (m.validated.clone(), m.incorrect.clone())
    };
    let owned = |codes: Vec<&str>| codes.into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(lists(&a.id), (owned(codes(0..7)), vec![]));
    assert_eq!(lists(&b.id), (owned(codes(0..6)), owned(codes([6]))));

    // The sockets opened before the outage are the ones still answering.
    for ws in [&mut aws, &mut bws, &mut cws] {
        ws.settled().await;
    }
    let statuses = |what: &str| {
        let mut counts = std::collections::BTreeMap::new();
        for s in samples.iter().filter(|s| s.what == what && s.sent >= down && s.sent + s.took <= up) {
            *counts.entry(s.status).or_insert(0) += 1;
        }
        counts
    };
    eprintln!(
        "PostgreSQL stopped {:?}: {} HTTP requests in all, {during} in the outage (all 503; {:?} scores, {:?} \
         history, {:?} stats, {:?} friends list, {:?} friend requests), {after} after recovery (all 200); \
         slowest answer {:?}; {} scores and {} friend requests acknowledged, all stored; {frames} socket frames \
         in the outage, slowest progress ack {slowest:?}; game end announced {ended_after:?} after restart; \
         healthy again {:?} after restart",
        up - down,
        samples.len(),
        statuses("POST /api/scores"),
        statuses("GET /api/scores/history"),
        statuses("GET /api/scores/stats"),
        statuses("GET /api/friends/list"),
        statuses("POST /api/friends/add"),
        samples.iter().map(|s| s.took).max().unwrap_or_default(),
        acknowledged.len(),
        requested.len(),
        recovered - restarted,
    );
}

/// Waits until `/health` answers 200 again (bounded); when it did.
async fn until_healthy(app: &TestApp) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get("/health").await.status() == 200 {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "the server did not recover without a restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
