//! Several `mapquiz serve` processes sharing PostgreSQL and Redis (issue 13): a lobby whose players are on
//! different nodes runs on one of them, commands from the others are handed to it; when that node dies
//! (SIGKILL) its lease expires and the lobby resumes on another node, restored from the store; a node paused
//! past its lease (SIGSTOP) cannot write over its successor when it wakes up; a node stopped with SIGTERM
//! hands its lobbies back at once. Needs PostgreSQL and Redis (`TEST_DATABASE_URL`, `TEST_REDIS_URL`).

use super::db_cut::{answer, codes, rankings, two_player_game};
use super::kill9::{Server, befriend};
use crate::support::lobbies::player;
use crate::support::ws::Ws;
use crate::support::{TestUser, sign_up_at, test_redis_url};
use mapquiz_domain::LobbyId;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::time::timeout;

/// The lease the nodes run with: short, so a dead owner's lobbies move quickly.
pub(crate) const LEASE: Duration = Duration::from_millis(1_500);
/// How long a handed-over command waits for the owner.
pub(crate) const FORWARD: Duration = Duration::from_millis(1_000);

/// A node of a test cluster on `db` and Redis.
pub(crate) async fn node(dir: &Path, db: &TestDatabase, redis: &str) -> Server {
    let more = [
        ("REDIS_URL", redis.to_owned()),
        ("MAPQUIZ_LOBBY_LEASE_MS", LEASE.as_millis().to_string()),
        ("MAPQUIZ_LOBBY_FORWARD_TIMEOUT_MS", FORWARD.as_millis().to_string()),
    ];
    Server::start_with(dir, db.url(), Duration::from_secs(30), &more).await
}

/// Makes `a` and `b` friends, then lets the friendship's pushes (which cross Redis to the other nodes) land
/// before any socket opens: a socket opened first would read them before its own first reply.
async fn befriend_settled(client: &reqwest::Client, address: SocketAddr, a: &TestUser, b: &TestUser) {
    befriend(client, address, a, b).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Alice, on one node, hosting a two-player game (Océanie) with Bruno, on another; friends made through a
/// third address.
pub(crate) struct Duel {
    pub(crate) a: TestUser,
    pub(crate) aws: Ws,
    pub(crate) b: TestUser,
    pub(crate) bws: Ws,
    pub(crate) lobby: String,
}

pub(crate) async fn duel(a_at: SocketAddr, b_at: SocketAddr, befriend_at: SocketAddr) -> Duel {
    let client = reqwest::Client::new();
    let a = sign_up_at(&client, a_at, "Alice").await;
    let b = sign_up_at(&client, b_at, "Bruno").await;
    befriend_settled(&client, befriend_at, &a, &b).await;
    let mut aws = Ws::signed_in(a_at, &a).await;
    let mut bws = Ws::signed_in(b_at, &b).await;
    let lobby = two_player_game(&mut aws, &mut bws, &b).await;
    Duel { a, aws, b, bws, lobby }
}

/// PostgreSQL and Redis, or `None` (skipped) outside CI.
pub(crate) async fn cluster_services() -> Option<(TestDatabase, String)> {
    let redis = test_redis_url()?;
    let db = TestDatabase::new(true).await?;
    Some((db, redis))
}

/// Sends these lists as progress until they are accepted (commands answer `Opération échouée` while the
/// lobby's dead owner still holds its lease), skipping pushes; the time it took.
async fn progress_until_accepted(ws: &mut Ws, lobby: &str, validated: &[&str], within: Duration) -> Duration {
    lists_until_accepted(ws, lobby, (validated, &[]), within).await
}

/// [`progress_until_accepted`] with both lists.
pub(crate) async fn lists_until_accepted(
    ws: &mut Ws,
    lobby: &str,
    (validated, incorrect): (&[&str], &[&str]),
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        ws.send(json!({"type": "update_player_progress", "payload": {
            "lobbyId": lobby, "validatedCountries": validated, "incorrectCountries": incorrect,
            "score": validated.len(), "totalQuestions": 7}}))
            .await;
        loop {
            let frame = ws.recv_lobby().await;
            match frame["type"].as_str() {
                Some("update_player_progress_success") => return started.elapsed(),
                Some("error") => {
                    assert_eq!(frame["message"], "Opération échouée", "{frame}");
                    break;
                }
                _ => {}
            }
        }
        assert!(started.elapsed() < within, "no progress accepted within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `get_lobby_state` on `ws`, skipping the pushes before its reply: the member's `LobbyState`.
pub(crate) async fn lobby_state(ws: &mut Ws, lobby: &str) -> Value {
    ws.send(json!({"type": "get_lobby_state", "payload": {"lobbyId": lobby}})).await;
    loop {
        let frame = ws.recv_lobby().await;
        if frame["type"] == "get_lobby_state_success" {
            return frame["data"]["lobbyState"].clone();
        }
    }
}

/// Frames on `ws` until `game_end` (bounded): the last `LobbyState` seen before it.
pub(crate) async fn until_game_end(ws: &mut Ws, lobby: &str) -> Value {
    let mut last = Value::Null;
    loop {
        let frame = timeout(Duration::from_secs(10), ws.recv_lobby()).await.expect("game_end within 10 s");
        match frame["type"].as_str() {
            Some("lobby_update") => last = frame["payload"].clone(),
            Some("game_end") => {
                assert_eq!(frame["payload"], json!({"lobbyId": lobby}));
                return last;
            }
            _ => {}
        }
    }
}

/// A fresh socket for `user` on `address` that re-joins `lobby` as the page does after a reload; the
/// `join_lobby` reply must succeed (retried while the lobby moves to its new owner).
async fn rejoin(address: SocketAddr, user: &TestUser, lobby: &str) -> Ws {
    // Not `signed_in`: the lobby's pushes (the member shown connected again) may come before any pong.
    let mut ws = Ws::connect(address, Some(&user.cookie)).await;
    ws.authenticate(&user.id).await;
    let started = Instant::now();
    loop {
        ws.send(json!({"type": "join_lobby", "payload": {"lobbyId": lobby}})).await;
        loop {
            let frame = ws.recv_lobby().await;
            match frame["type"].as_str() {
                Some("join_lobby_success") => return ws,
                Some("error") => break,
                _ => {}
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the lobby did not come back within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two players on different nodes play; the owner node is killed with SIGKILL mid-game; the game resumes
/// on a surviving node within the lease (plus a hand-over timeout) and ends with the right results.
#[tokio::test]
async fn a_game_across_nodes_survives_the_owner_killed() {
    let Some((db, redis)) = cluster_services().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let owner = node(dir.path(), &db, &redis).await;
    let second = node(dir.path(), &db, &redis).await;
    let third = node(dir.path(), &db, &redis).await;
    let Duel { a, mut aws, b, mut bws, lobby } = duel(owner.address, second.address, third.address).await;
    for n in 1..=2 {
        answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..n), &[]).await;
        answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &[]).await;
    }
    let (_, handed_over) = answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..3), &[]).await;
    assert!(handed_over < FORWARD, "a handed-over command answers well within the timeout: {handed_over:?}");

    // The owner dies. B's next progress is accepted once the lease expired and the second node took over.
    owner.kill9();
    drop(aws);
    let killed = Instant::now();
    let resumed = progress_until_accepted(&mut bws, &lobby, &codes(0..4), Duration::from_secs(15)).await;
    assert!(killed.elapsed() < LEASE + FORWARD * 3, "resumed {:?} after the kill", killed.elapsed());
    eprintln!("SIGKILL of the owner → next accepted progress: {resumed:?} (lease {LEASE:?})");

    // A reloads the page on the third node: the lobby is as the store had it, with B's last progress.
    // A finishes with everything right; B's last answer is wrong, which ends the game.
    let mut aws = rejoin(third.address, &a, &lobby).await;
    let within = Duration::from_secs(10);
    for n in 3..=7 {
        progress_until_accepted(&mut aws, &lobby, &codes(0..n), within).await;
    }
    for n in 5..=6 {
        progress_until_accepted(&mut bws, &lobby, &codes(0..n), within).await;
    }
    lists_until_accepted(&mut bws, &lobby, (&codes(0..6), &codes([6])), within).await;
    let a_end = until_game_end(&mut aws, &lobby).await;
    let b_end = until_game_end(&mut bws, &lobby).await;
    for end in [&a_end, &b_end] {
        assert_eq!(end["status"], "finished", "{end}");
        assert_eq!(player(end, &b.id)["score"], 6, "B's acknowledged progress survived the kill: {end}");
    }
    let expected = vec![(a.id.clone(), 1, 7), (b.id.clone(), 2, 6)];
    assert_eq!(rankings(&mut aws, &lobby).await, expected);
    assert_eq!(rankings(&mut bws, &lobby).await, expected);
}

/// The owner paused (SIGSTOP) past its lease: the lobby moves on, and when the old owner wakes up (SIGCONT)
/// its actor's writes are refused by the store's fencing token, so the stored game is the new owner's.
#[tokio::test]
async fn a_paused_owner_cannot_write_over_its_successor() {
    let Some((db, redis)) = cluster_services().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let owner = node(dir.path(), &db, &redis).await;
    let second = node(dir.path(), &db, &redis).await;
    let Duel { a, mut aws, b: _, mut bws, lobby } = duel(owner.address, second.address, second.address).await;
    answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..1), &[]).await;

    // The owner freezes with a command of A's waiting in its socket: the lobby moves to the second node.
    owner.signal("STOP");
    aws.send(json!({"type": "update_player_progress", "payload": {"lobbyId": lobby,
        "validatedCountries": codes(0..5), "incorrectCountries": [], "score": 5, "totalQuestions": 7}}))
        .await;
    progress_until_accepted(&mut bws, &lobby, &codes(0..2), Duration::from_secs(15)).await;
    let mut aws2 = rejoin(second.address, &a, &lobby).await;
    progress_until_accepted(&mut aws2, &lobby, &codes(0..2), Duration::from_secs(10)).await;

    // The old owner wakes up and runs A's waiting command in its stale actor before it notices the lost
    // lease: whatever it does, the stored lobby ends up as the new owner holds it, never as the old one.
    owner.signal("CONT");
    tokio::time::sleep(LEASE * 2).await;
    let live = lobby_state(&mut bws, &lobby).await;
    let live_lists = player(&live, &a.id)["validatedCountries"].clone();
    let lobby_id = LobbyId::parse(&lobby).unwrap();
    let store = mapquiz_store::connect(&mapquiz_store::ConnectOptions::new(db.database_url())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stored = store.load_lobby(&lobby_id).await.unwrap().expect("stored");
        let a_stored = stored.members.iter().find(|m| m.profile.id().as_str() == a.id).unwrap();
        if json!(a_stored.validated) == live_lists {
            break;
        }
        assert!(Instant::now() < deadline, "stored {:?}, the owner holds {live_lists}", a_stored.validated);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // It noticed by its renewal, by its own clock, or by a fenced write, whichever came first.
    let log = owner.log_text();
    let noticed = ["lease lost", "lease not renewed in time", "another node owns the lobby"];
    assert!(noticed.iter().any(|n| log.contains(n)), "the old owner noticed:\n{log}");
    drop((aws, aws2, owner, second));
}

/// SIGTERM of the owner (a rolling deploy): it gives its leases back as it stops, so the lobby resumes on
/// another node at once instead of after the lease.
#[tokio::test]
async fn sigterm_hands_the_lobbies_over_at_once() {
    let Some((db, redis)) = cluster_services().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let owner = node(dir.path(), &db, &redis).await;
    let second = node(dir.path(), &db, &redis).await;
    let Duel { a, mut aws, b: _, mut bws, lobby } = duel(owner.address, second.address, second.address).await;
    answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..2), &[]).await;

    owner.signal("TERM");
    let stopping = Instant::now();
    assert_eq!(aws.closed().await, Some(1001), "the stopping node closes its sockets with 1001");
    // The page reconnects to another node at once and plays on.
    let mut aws = rejoin(second.address, &a, &lobby).await;
    progress_until_accepted(&mut aws, &lobby, &codes(0..3), Duration::from_secs(10)).await;
    let resumed = stopping.elapsed();
    eprintln!("SIGTERM of the owner → play resumed on another node: {resumed:?}");
    let status = owner.exited(Duration::from_secs(15)).await;
    assert!(status.success(), "a clean stop: {status}");
    // Once the old node is gone the lobby runs on the second node without waiting for a lease to expire.
    let started = Instant::now();
    progress_until_accepted(&mut aws, &lobby, &codes(0..4), Duration::from_secs(10)).await;
    assert!(started.elapsed() < LEASE, "the stopping node gave its lease back ({:?})", started.elapsed());
    let state = lobby_state(&mut aws, &lobby).await;
    assert_eq!(player(&state, &a.id)["score"], 4, "{state}");
    drop((bws, second));
}

/// A rolling deploy during a game: each of the three nodes in turn is stopped (SIGTERM) and started again;
/// players on the stopping node reconnect to another and play on, and the game ends with the right results.
#[tokio::test]
async fn a_rolling_restart_of_every_node_during_a_game() {
    let Some((db, redis)) = cluster_services().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Some(node(dir.path(), &db, &redis).await));
    }
    let address = |nodes: &[Option<Server>], i: usize| nodes[i].as_ref().unwrap().address;
    let Duel { a, mut aws, b, mut bws, lobby } = duel(address(&nodes, 0), address(&nodes, 1), address(&nodes, 2)).await;
    let (mut a_on, mut b_on) = (0, 1);
    let within = Duration::from_secs(10);
    let (mut a_codes, mut b_codes) = (0, 0);
    for stopping in 0..3 {
        a_codes += 1;
        progress_until_accepted(&mut aws, &lobby, &codes(0..a_codes), within).await;
        b_codes += 1;
        progress_until_accepted(&mut bws, &lobby, &codes(0..b_codes), within).await;

        let server = nodes[stopping].take().unwrap();
        server.signal("TERM");
        let stopped = Instant::now();
        let next = (stopping + 1) % 3;
        if a_on == stopping {
            assert_eq!(aws.closed().await, Some(1001));
            aws = rejoin(address(&nodes, next), &a, &lobby).await;
            a_on = next;
        }
        if b_on == stopping {
            assert_eq!(bws.closed().await, Some(1001));
            bws = rejoin(address(&nodes, next), &b, &lobby).await;
            b_on = next;
        }
        a_codes += 1;
        progress_until_accepted(&mut aws, &lobby, &codes(0..a_codes), within).await;
        eprintln!("node {stopping} stopped: play went on after {:?}", stopped.elapsed());
        assert!(server.exited(Duration::from_secs(15)).await.success());
        nodes[stopping] = Some(node(dir.path(), &db, &redis).await);
    }

    // A finishes (everything right), B ends the game with one wrong answer.
    for n in a_codes + 1..=7 {
        progress_until_accepted(&mut aws, &lobby, &codes(0..n), within).await;
    }
    for n in b_codes + 1..=6 {
        progress_until_accepted(&mut bws, &lobby, &codes(0..n), within).await;
    }
    lists_until_accepted(&mut bws, &lobby, (&codes(0..6), &codes([6])), within).await;
    until_game_end(&mut aws, &lobby).await;
    until_game_end(&mut bws, &lobby).await;
    let expected = vec![(a.id.clone(), 1, 7), (b.id.clone(), 2, 6)];
    assert_eq!(rankings(&mut aws, &lobby).await, expected);
    assert_eq!(rankings(&mut bws, &lobby).await, expected);
}

/// Redis cut for a few seconds mid-game (through the tests' proxy): a command handed to another node gets a
/// clear error, the owner's own players play on, nothing is corrupted, and play across nodes comes back on
/// its own once Redis answers (the lobby may move to the other node: its lease expired meanwhile).
#[tokio::test]
async fn a_redis_cut_mid_game_gives_clear_errors_and_recovers() {
    let Some((db, redis)) = cluster_services().await else { return };
    let (proxy, through) = crate::support::proxy::Proxy::in_front_of_redis(&redis).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = node(dir.path(), &db, &through).await;
    let second = node(dir.path(), &db, &through).await;
    let Duel { a, mut aws, b, mut bws, lobby } = duel(owner.address, second.address, second.address).await;
    answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..1), &[]).await;
    answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..1), &[]).await;

    proxy.cut();
    // A, on the owner's node, plays on while its lease lasts: the lobby runs there and writes to the
    // database. (Asked first: B's refusal below may take the hand-over's timeout, past the lease.)
    let reply = aws.progress(&lobby, &codes(0..2), &[]).await;
    assert_eq!(reply["type"], "update_player_progress_success", "{reply}");
    // B's command cannot reach the owner: a clear error, not a hang.
    bws.send(json!({"type": "update_player_progress", "payload": {"lobbyId": lobby,
        "validatedCountries": codes(0..2), "incorrectCountries": [], "score": 2, "totalQuestions": 7}}))
        .await;
    let refused = loop {
        let frame = timeout(FORWARD * 4, bws.recv_lobby()).await.expect("an answer while Redis is cut");
        if frame["type"] == "error" || frame["type"] == "update_player_progress_success" {
            break frame;
        }
    };
    assert_eq!(refused, json!({"type": "error", "message": "Opération échouée"}));
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();

    // Back: both play to the end, wherever the lobby runs now.
    let within = Duration::from_secs(15);
    for n in 2..=7 {
        progress_until_accepted(&mut bws, &lobby, &codes(0..n), within).await;
    }
    for n in 3..=6 {
        progress_until_accepted(&mut aws, &lobby, &codes(0..n), within).await;
    }
    lists_until_accepted(&mut aws, &lobby, (&codes(0..6), &codes([6])), within).await;
    until_game_end(&mut bws, &lobby).await;
    let expected = vec![(b.id.clone(), 1, 7), (a.id.clone(), 2, 6)];
    assert_eq!(rankings(&mut bws, &lobby).await, expected);
    drop((aws, owner, second, proxy));
}

/// Sends `{type: kind, payload}` and answers the `<kind>_success` data, skipping the pushes before it.
async fn succeed(ws: &mut Ws, kind: &str, payload: Value) -> Value {
    ws.send(json!({"type": kind, "payload": payload})).await;
    loop {
        let frame = ws.recv_lobby().await;
        if frame["type"] == format!("{kind}_success") {
            return frame["data"].clone();
        }
        assert_ne!(frame["type"], "error", "{kind}: {frame}");
    }
}

/// Frames on `ws` until the push `kind` (bounded by the socket's wait).
async fn until_push(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let frame = ws.recv_lobby().await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// Four players on three nodes play a whole game: the host's node runs the lobby, the others' invitations,
/// joins, readiness and progress are handed to it, and every push reaches every player wherever they are.
#[tokio::test]
async fn four_players_on_three_nodes_play_a_whole_game() {
    let Some((db, redis)) = cluster_services().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(dir.path(), &db, &redis).await);
    }
    let on = [0, 1, 2, 1];
    let mut users = Vec::new();
    for (name, n) in ["Alice", "Bruno", "Chloe", "Driss"].into_iter().zip(on) {
        users.push(sign_up_at(&client, nodes[n].address, name).await);
    }
    for guest in &users[1..] {
        befriend(&client, nodes[2].address, &users[0], guest).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut sockets = Vec::new();
    for (user, n) in users.iter().zip(on) {
        sockets.push(Ws::signed_in(nodes[n].address, user).await);
    }

    let lobby = sockets[0].create_lobby(&["Océanie"]).await;
    for guest in &users[1..] {
        succeed(&mut sockets[0], "invite_to_lobby", json!({"lobbyId": lobby, "friendId": guest.id})).await;
    }
    for ws in &mut sockets[1..] {
        until_push(ws, "lobby_invitation").await;
        succeed(ws, "join_lobby", json!({"lobbyId": lobby})).await;
    }
    for ws in &mut sockets {
        succeed(ws, "set_player_ready", json!({"lobbyId": lobby, "ready": true})).await;
    }
    for ws in &mut sockets {
        assert_eq!(until_push(ws, "game_start").await["data"]["totalQuestions"], 7);
    }

    // Right answers per player; the rest of the seven are wrong. Alice and Driss tie.
    let right = [7, 6, 5, 7];
    let within = Duration::from_secs(10);
    for step in 1..=7 {
        for (ws, r) in sockets.iter_mut().zip(right) {
            let validated = codes(0..step.min(r));
            let incorrect = codes(r..step.max(r));
            lists_until_accepted(ws, &lobby, (&validated, &incorrect), within).await;
        }
    }
    for ws in &mut sockets {
        let end = until_game_end(ws, &lobby).await;
        assert_eq!(end["status"], "finished", "{end}");
    }
    let (a, b, c, d) = (&users[0].id, &users[1].id, &users[2].id, &users[3].id);
    let expected = vec![(a.clone(), 1, 7), (d.clone(), 1, 7), (b.clone(), 3, 6), (c.clone(), 4, 5)];
    for ws in &mut sockets {
        assert_eq!(rankings(ws, &lobby).await, expected);
    }
}
