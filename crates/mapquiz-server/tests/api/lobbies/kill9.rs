//! The real `mapquiz` binary killed with SIGKILL mid-game and started again on the same database (issue 12
//! item 6, protocol §3.8 and §3.11): players who reconnect and re-join find their status, score, progress
//! and lists as the batched writer last stored them, and the game goes on to its end with the right
//! results, which survive a second kill.

use super::db_cut::{answer, codes, rankings, two_player_game};
use crate::support::friends::friend_request_id_at;
use crate::support::lobbies::player;
use crate::support::ws::Ws;
use crate::support::{TEST_SECRET, TestUser, json as body, on_both_backends, sign_up_at};
use mapquiz_store::testing::TestDatabase;
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tokio::time::timeout;

/// The batched writer's period the binary runs with.
const FLUSH: Duration = Duration::from_millis(200);
/// How long a started binary may take to answer `/health`.
const START: Duration = Duration::from_secs(30);

/// A running `mapquiz serve`, killed (SIGKILL) when dropped, so no test leaves one behind.
pub(crate) struct Server {
    child: Child,
    pub(crate) address: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts the binary in `dir` on `database_url` and a free port, and waits until `/health` answers.
    async fn start(dir: &Path, database_url: &str) -> Server {
        // Long enough for both players to come back before anyone counts as away.
        Self::start_with_grace(dir, database_url, Duration::from_secs(30)).await
    }

    /// [`Server::start`] with this disconnect grace.
    async fn start_with_grace(dir: &Path, database_url: &str, grace: Duration) -> Server {
        Self::start_with(dir, database_url, grace, &[]).await
    }

    /// [`Server::start`] with this disconnect grace and these more variables (several nodes: `REDIS_URL`).
    pub(super) async fn start_with(dir: &Path, database_url: &str, grace: Duration, more: &[(&str, String)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join(format!("mapquiz-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .envs([
                ("DATABASE_URL", database_url),
                ("MAPQUIZ_HOST", "127.0.0.1"),
                ("MAPQUIZ_PORT", &port.to_string()),
                ("MAPQUIZ_AUTH_SECRET", TEST_SECRET),
                ("MAPQUIZ_ARGON2_MEMORY_KIB", "1024"),
                ("MAPQUIZ_ARGON2_ITERATIONS", "1"),
                ("MAPQUIZ_PRESENCE_GRACE_MS", "100"),
                ("MAPQUIZ_LOBBY_PROGRESS_FLUSH_MS", &FLUSH.as_millis().to_string()),
                ("MAPQUIZ_LOBBY_GRACE_MS", &grace.as_millis().to_string()),
            ])
            .envs(more.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("mapquiz starts");
        let mut server = Server { child, address: SocketAddr::from(([127, 0, 0, 1], port)), log };
        server.until_healthy().await;
        server
    }

    async fn until_healthy(&mut self) {
        let client = reqwest::Client::new();
        let url = format!("http://{}/health", self.address);
        let started = Instant::now();
        loop {
            if let Ok(res) = client.get(&url).timeout(Duration::from_secs(2)).send().await
                && res.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("mapquiz exited ({status}) before answering:\n{}", self.log_text());
            }
            assert!(started.elapsed() < START, "mapquiz did not answer within {START:?}:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`) to the process.
    pub(super) fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    /// Waits for the process to exit by itself (after SIGTERM), within `within`.
    pub(super) async fn exited(mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "mapquiz did not stop within {within:?}:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and the process reaped: nothing runs at shutdown, no last flush.
    pub(super) fn kill9(mut self) {
        self.child.kill().expect("SIGKILL sent");
        let status = self.child.wait().expect("the child is reaped");
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "killed by SIGKILL");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes `a` and `b` friends through the server at `address` (request, then accept).
pub(super) async fn befriend(client: &reqwest::Client, address: SocketAddr, a: &TestUser, b: &TestUser) {
    let url = format!("http://{address}/api/friends/add");
    let res = client.post(url).header("cookie", &a.cookie).json(&json!({"tag": b.tag})).send().await.unwrap();
    let (status, reply) = body(res).await;
    assert_eq!(status, 200, "{reply}");
    let id = friend_request_id_at(client, address, b, a).await;
    let url = format!("http://{address}/api/friends/requests/{id}");
    let res = client.post(url).header("cookie", &b.cookie).json(&json!({"action": "accept"})).send().await.unwrap();
    let (status, reply) = body(res).await;
    assert_eq!(status, 200, "{reply}");
}

/// A socket for `user` after a restart: authenticated, shown connected to the members online, then the
/// page's `join_lobby`; the `LobbyState` that join answers with.
async fn come_back(
    address: SocketAddr,
    user: &TestUser,
    lobby: &str,
    others: &mut [&mut Ws],
) -> (Ws, serde_json::Value) {
    let mut ws = Ws::connect(address, Some(&user.cookie)).await;
    ws.authenticate(&user.id).await;
    assert_eq!(player(&ws.expect_update().await, &user.id)["connected"], true);
    for other in others.iter_mut() {
        other.expect_update().await;
    }
    let reply = ws.join(lobby).await;
    assert_eq!(ws.expect_success("join_lobby", reply).await, json!({"success": true}));
    let state = ws.expect_update().await;
    for other in others.iter_mut() {
        other.expect_update().await;
    }
    (ws, state)
}

async fn a_game_survives_kill_9_of_the_server(postgres: bool) {
    let Some(db) = TestDatabase::new(postgres).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path(), db.url()).await;
    let a = sign_up_at(&client, server.address, "Alice").await;
    let b = sign_up_at(&client, server.address, "Bruno").await;
    befriend(&client, server.address, &a, &b).await;
    let mut aws = Ws::signed_in(server.address, &a).await;
    let mut bws = Ws::signed_in(server.address, &b).await;
    let lobby = two_player_game(&mut aws, &mut bws, &b).await;

    // Part of the game: A three right and one wrong, B two right; then long enough for the writer to store it.
    for n in 1..=3 {
        answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..n), &[]).await;
    }
    answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..3), &codes([3])).await;
    for n in 1..=2 {
        answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &[]).await;
    }
    tokio::time::sleep(FLUSH * 4).await;
    server.kill9();
    drop((aws, bws));

    // The same database, a new process: both players come back and find the game as it was.
    let server = Server::start(dir.path(), db.url()).await;
    let (mut aws, state) = come_back(server.address, &a, &lobby, &mut []).await;
    assert_eq!(state["status"], "playing", "{state}");
    assert_eq!(state["hostId"], a.id.as_str());
    assert_eq!(
        player(&state, &a.id),
        &json!({"id": a.id, "name": "Alice", "image": null, "tag": a.tag, "status": "playing", "score": 3,
                "progress": 57, "validatedCountries": codes(0..3), "incorrectCountries": codes([3]),
                "connected": true})
    );
    assert_eq!(
        player(&state, &b.id),
        &json!({"id": b.id, "name": "Bruno", "image": null, "tag": b.tag, "status": "playing", "score": 2,
                "progress": 28, "validatedCountries": codes(0..2), "incorrectCountries": [], "connected": false})
    );
    let (mut bws, state) = come_back(server.address, &b, &lobby, &mut [&mut aws]).await;
    let me = player(&state, &b.id);
    assert_eq!((&me["status"], &me["score"], &me["connected"]), (&json!("playing"), &json!(2), &json!(true)));
    assert_eq!(me["validatedCountries"], json!(codes(0..2)));

    // The game goes on to its end: A finishes with one wrong, B with everything right, which ends it.
    for last in 4..=6 {
        let validated: Vec<&str> = codes((0..3).chain(4..=last));
        answer(&lobby, (&mut aws, &a.id), &mut bws, &validated, &codes([3])).await;
    }
    for n in 3..=7 {
        answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &[]).await;
    }
    for ws in [&mut bws, &mut aws] {
        let finished = ws.expect_update().await;
        assert_eq!(finished["status"], "finished", "{finished}");
        assert_eq!(ws.expect_push("game_end").await, json!({"lobbyId": lobby}));
    }
    let reply = aws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let results = aws.expect_success("get_game_results", reply).await;
    assert!(results["rankings"].as_array().unwrap().iter().all(|r| r["completionTime"].is_u64()), "{results}");
    let expected = vec![(b.id.clone(), 1, 7), (a.id.clone(), 2, 6)];
    assert_eq!(rankings(&mut aws, &lobby).await, expected);

    // The results were stored before game_end: a second kill does not lose them.
    server.kill9();
    drop((aws, bws));
    let server = Server::start(dir.path(), db.url()).await;
    let (mut bws, state) = come_back(server.address, &b, &lobby, &mut []).await;
    assert_eq!(state["status"], "finished", "{state}");
    assert_eq!(rankings(&mut bws, &lobby).await, expected);
    drop(server);
}

on_both_backends!(a_game_survives_kill_9_of_the_server);

async fn restored_grace_timers_run_from_start_up(postgres: bool) {
    let Some(db) = TestDatabase::new(postgres).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path(), db.url()).await;
    let a = sign_up_at(&client, server.address, "Alice").await;
    let b = sign_up_at(&client, server.address, "Bruno").await;
    befriend(&client, server.address, &a, &b).await;
    let mut aws = Ws::signed_in(server.address, &a).await;
    let mut bws = Ws::signed_in(server.address, &b).await;
    let lobby = two_player_game(&mut aws, &mut bws, &b).await;
    for n in 1..=2 {
        answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..n), &[]).await;
    }
    for n in 1..=3 {
        answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &[]).await;
    }
    tokio::time::sleep(FLUSH * 4).await;
    server.kill9();
    drop((aws, bws));

    // Only A comes back. B's grace started when the lobby was restored: past it, B is away and no longer
    // blocks the end, so A's last answer ends the game.
    let grace = Duration::from_secs(1);
    let server = Server::start_with_grace(dir.path(), db.url(), grace).await;
    let (mut aws, state) = come_back(server.address, &a, &lobby, &mut []).await;
    assert_eq!(player(&state, &a.id)["score"], 2);
    assert_eq!(player(&state, &b.id)["score"], 3);
    tokio::time::sleep(grace * 2).await;
    // What B's grace expiry pushed, if anything, is a state where B is still a member, disconnected.
    while let Ok(frame) = timeout(Duration::from_millis(300), aws.recv_lobby()).await {
        assert_eq!(frame["type"], "lobby_update", "{frame}");
        assert_eq!(player(&frame["payload"], &b.id)["connected"], false, "{frame}");
    }
    let mut others = Vec::new();
    for n in 3..=6 {
        let reply = aws.progress(&lobby, &codes(0..n), &[]).await;
        aws.expect_success("update_player_progress", reply).await;
        others.push(aws.expect_push("update_player_progress").await);
    }
    let reply = aws.progress(&lobby, &codes(0..7), &[]).await;
    aws.expect_success("update_player_progress", reply).await;
    assert_eq!(player(&aws.expect_push("update_player_progress").await, &a.id)["score"], 7);
    assert_eq!(aws.expect_update().await["status"], "finished");
    assert_eq!(aws.expect_push("game_end").await, json!({"lobbyId": lobby}));
    assert!(others.iter().all(|p| player(p, &b.id)["score"] == 3), "B's progress kept while away");

    let reply = aws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let results = aws.expect_success("get_game_results", reply).await;
    let rankings = results["rankings"].as_array().unwrap();
    assert_eq!(
        rankings.iter().map(|r| (r["id"].clone(), r["rank"].clone(), r["score"].clone())).collect::<Vec<_>>(),
        [(json!(a.id), json!(1), json!(7)), (json!(b.id), json!(2), json!(3))]
    );
    assert!(rankings[0]["completionTime"].is_u64() && rankings[1]["completionTime"].is_null(), "{results}");
    drop(server);
}

on_both_backends!(restored_grace_timers_run_from_start_up);
