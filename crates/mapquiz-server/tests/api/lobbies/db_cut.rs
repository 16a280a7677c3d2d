//! The database cut mid-game (protocol §3.11, issue 12 item 5), through the tests' TCP proxy in front of
//! PostgreSQL: progress is acknowledged and pushed while the database is away, kept by the batched writer
//! and stored once it is back; an end of game that falls in the cut is stored, then announced, when the
//! database answers again. PostgreSQL only (a SQLite file cannot be cut): skipped without `TEST_DATABASE_URL`.

use super::{GRACE, friends_of_first};
use crate::faults::behind_proxy;
use crate::support::lobbies::{OCEANIE, player};
use crate::support::proxy::Proxy;
use crate::support::ws::{WAIT, Ws};
use crate::support::{TestApp, TestUser};
use mapquiz_domain::lobby::{GameStatus, StoredLobby};
use mapquiz_domain::{LobbyId, UserId};
use mapquiz_server::config::Config;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Longest a progress acknowledgement may take while the database is away: it never waits for it.
const ACK_BOUND: Duration = Duration::from_millis(500);
/// The batched writer's period in these tests.
const FLUSH: Duration = Duration::from_millis(200);

/// A server on a fresh PostgreSQL database reached through a proxy the test can cut.
async fn app_behind_proxy() -> Option<(TestApp, Proxy)> {
    let (db, proxy, figment) = behind_proxy().await?;
    let figment = figment
        .merge(("lobby_grace_ms", GRACE.as_millis() as u64))
        .merge(("presence_grace_ms", 100))
        .merge(("lobby_progress_flush_ms", FLUSH.as_millis() as u64))
        .merge(("database_acquire_timeout_ms", 500));
    Some((TestApp::start(db, Config::from_figment(&figment).unwrap()).await, proxy))
}

/// Océanie's codes at `indexes`.
pub(crate) fn codes(indexes: impl IntoIterator<Item = usize>) -> Vec<&'static str> {
    indexes.into_iter().map(|i| OCEANIE[i]).collect()
}

/// A's lobby on Océanie with B invited and joined, and the game started by the host; its id.
pub(crate) async fn two_player_game(aws: &mut Ws, bws: &mut Ws, b: &TestUser) -> String {
    let lobby = aws.create_lobby(&["Océanie"]).await;
    let reply = aws.invite(&lobby, b).await;
    aws.expect_success("invite_to_lobby", reply).await;
    bws.expect_push("lobby_invitation").await;
    let reply = bws.join(&lobby).await;
    bws.expect_success("join_lobby", reply).await;
    bws.expect_update().await;
    aws.expect_update().await;
    let reply = aws.lobby("start_game", json!({"lobbyId": lobby})).await;
    aws.expect_success("start_game", reply).await;
    for ws in [aws, bws] {
        assert_eq!(ws.expect_push("game_start").await["totalQuestions"], 7);
        assert_eq!(ws.expect_update().await["status"], "playing");
    }
    lobby
}

/// `me` sends these cumulative lists on `ws`: acknowledged, then pushed to both players with the merged
/// entry. The pushed entry and how long the acknowledgement took.
pub(crate) async fn answer(
    lobby: &str,
    (ws, me): (&mut Ws, &str),
    other: &mut Ws,
    validated: &[&str],
    incorrect: &[&str],
) -> (Value, Duration) {
    let sent = Instant::now();
    let reply = ws.progress(lobby, validated, incorrect).await;
    let took = sent.elapsed();
    assert_eq!(ws.expect_success("update_player_progress", reply).await, json!({"success": true}));
    let mine = player(&ws.expect_push("update_player_progress").await, me).clone();
    let theirs = player(&other.expect_push("update_player_progress").await, me).clone();
    assert_eq!(mine, theirs, "both players see the same entry");
    assert_eq!(mine["score"], validated.len(), "{mine}");
    assert_eq!(mine["validatedCountries"], json!(validated), "{mine}");
    assert_eq!(mine["incorrectCountries"], json!(incorrect), "{mine}");
    (mine, took)
}

/// The stored lobby, read from the database.
async fn stored(app: &TestApp, lobby: &str) -> StoredLobby {
    app.state.store.load_lobby(&LobbyId::parse(lobby).unwrap()).await.unwrap().expect("the lobby is stored")
}

/// The stored lists of `user` in `lobby`.
fn stored_lists(lobby: &StoredLobby, user: &str) -> (Vec<String>, Vec<String>) {
    let m = lobby.members.iter().find(|m| m.profile.id().as_str() == user).expect("a stored member");
    (m.validated.clone(), m.incorrect.clone())
}

/// Polls the store until `user`'s stored lists are these (bounded by [`WAIT`]).
async fn until_stored(app: &TestApp, lobby: &str, user: &str, validated: &[&str], incorrect: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Some(l)) = app.state.store.load_lobby(&LobbyId::parse(lobby).unwrap()).await
            && stored_lists(&l, user) == (owned(validated), owned(incorrect))
        {
            return;
        }
        assert!(Instant::now() < deadline, "{user}'s progress was not stored within {WAIT:?}");
        tokio::time::sleep(FLUSH).await;
    }
}

fn owned(codes: &[&str]) -> Vec<String> {
    codes.iter().map(|c| (*c).to_owned()).collect()
}

/// The (id, rank, score) of every ranking of `get_game_results`, in order.
pub(crate) async fn rankings(ws: &mut Ws, lobby: &str) -> Vec<(String, u64, u64)> {
    let reply = ws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let results = ws.expect_success("get_game_results", reply).await;
    results["rankings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["rank"].as_u64().unwrap(), r["score"].as_u64().unwrap()))
        .collect()
}

/// The last progress of a game, which ends it: both players get the progress, the finished state, then
/// `game_end`, in that order.
pub(crate) async fn expect_end(lobby: &str, sockets: [&mut Ws; 2]) {
    for ws in sockets {
        let finished = ws.expect_update().await;
        assert_eq!(finished["status"], "finished", "{finished}");
        assert!(finished["players"].as_array().unwrap().iter().all(|p| p["status"] == "finished"), "{finished}");
        assert_eq!(ws.expect_push("game_end").await, json!({"lobbyId": lobby}));
    }
}

/// The stored game in the history of `user`: one game of 7 questions, players as (id, rank, score).
async fn stored_game(app: &TestApp, user: &str) -> Vec<(String, u32, u32)> {
    let games = app.state.store.games_of_user(&UserId::parse(user).unwrap(), 10, None).await.unwrap();
    assert_eq!(games.len(), 1, "one finished game stored");
    assert_eq!(games[0].total_questions, 7);
    assert!(games[0].players.iter().all(|p| p.completion_secs.is_some()), "both finished: {:?}", games[0].players);
    games[0].players.iter().map(|p| (p.profile.id().as_str().to_owned(), p.rank, p.score)).collect()
}

#[tokio::test]
async fn a_database_cut_mid_game_loses_no_progress_and_the_game_ends_right() {
    let Some((app, proxy)) = app_behind_proxy().await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let mut aws = app.ws(a).await;
    let mut bws = app.ws(b).await;
    let lobby = two_player_game(&mut aws, &mut bws, b).await;
    answer(&lobby, (&mut aws, &a.id), &mut bws, &codes([0]), &[]).await;
    answer(&lobby, (&mut bws, &b.id), &mut aws, &codes([0]), &[]).await;
    until_stored(&app, &lobby, &b.id, &codes([0]), &[]).await;

    // The database goes away for a few seconds; both players keep answering and see each other at once.
    proxy.cut();
    assert!(app.state.store.load_lobby(&LobbyId::parse(&lobby).unwrap()).await.is_err(), "the database is cut");
    let cut = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 2..=5 {
        let (entry, took) = answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..n), &[]).await;
        assert_eq!(entry["progress"], 100 * n / 7);
        slowest = slowest.max(took);
        if n <= 3 {
            let incorrect = if n == 3 { codes([6]) } else { vec![] };
            let (_, took) = answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &incorrect).await;
            slowest = slowest.max(took);
        }
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    assert!(cut.elapsed() >= Duration::from_secs(3), "the cut lasted a few seconds");
    assert!(slowest < ACK_BOUND, "progress waited on the database: {slowest:?}");
    assert!(app.state.realtime.lobbies.flush_progress().await.is_err(), "still cut: nothing could be stored");

    // Back: what was acknowledged during the cut is stored by the writer, before the game ends.
    proxy.restore();
    until_stored(&app, &lobby, &a.id, &codes(0..5), &[]).await;
    until_stored(&app, &lobby, &b.id, &codes(0..3), &codes([6])).await;

    // The players finish: A with everything right, B with one wrong; B's last answer ends the game.
    answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..7), &[]).await;
    for n in 4..=6 {
        answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &codes([6])).await;
    }
    expect_end(&lobby, [&mut bws, &mut aws]).await;
    let expected = vec![(a.id.clone(), 1, 7), (b.id.clone(), 2, 6)];
    assert_eq!(rankings(&mut aws, &lobby).await, expected);
    assert_eq!(rankings(&mut bws, &lobby).await, expected);

    // The stored rows: the lobby finished with both players' lists, and the results in the history.
    let row = stored(&app, &lobby).await;
    assert_eq!(row.status, GameStatus::Finished);
    assert_eq!(stored_lists(&row, &a.id), (owned(&codes(0..7)), vec![]));
    assert_eq!(stored_lists(&row, &b.id), (owned(&codes(0..6)), owned(&codes([6]))));
    let stored_expected: Vec<(String, u32, u32)> = vec![(a.id.clone(), 1, 7), (b.id.clone(), 2, 6)];
    assert_eq!(stored_game(&app, &b.id).await, stored_expected);

    // A fresh server on the same database gives the same results.
    drop((aws, bws));
    let app = app.restart().await;
    let mut bws = app.ws_with_pushes(b).await;
    assert_eq!(bws.expect_update().await["status"], "finished");
    assert_eq!(rankings(&mut bws, &lobby).await, expected);
    drop(proxy);
}

#[tokio::test]
async fn a_game_that_ends_while_the_database_is_cut_ends_when_it_is_back() {
    a_game_ends_after_the_outage(Proxy::cut).await;
}

#[tokio::test]
async fn a_game_that_ends_while_the_database_hangs_ends_when_it_answers() {
    a_game_ends_after_the_outage(Proxy::stall).await;
}

/// Both players finish during an outage (`outage`: connections refused, or accepted and never answered).
async fn a_game_ends_after_the_outage(outage: fn(&Proxy)) {
    let Some((app, proxy)) = app_behind_proxy().await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let mut aws = app.ws(a).await;
    let mut bws = app.ws(b).await;
    let lobby = two_player_game(&mut aws, &mut bws, b).await;
    for n in 1..=6 {
        answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..n), &[]).await;
        answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..n), &[]).await;
    }

    // The outage: both finish; the progress is acknowledged and pushed at once, but the end waits for its
    // write.
    outage(&proxy);
    let (entry, took) = answer(&lobby, (&mut aws, &a.id), &mut bws, &codes(0..7), &[]).await;
    assert_eq!(entry["progress"], 100);
    let (entry, took_last) = answer(&lobby, (&mut bws, &b.id), &mut aws, &codes(0..6), &codes([6])).await;
    assert_eq!(entry["progress"], 100);
    assert!(took.max(took_last) < ACK_BOUND, "progress waited on the database: {took:?} {took_last:?}");
    // Longer than the actor's patience for a write nothing has revealed yet (`PERSIST_PATIENCE`, 3 s):
    // this write came after the reply, so it must not give up.
    aws.silent_for(Duration::from_secs(4)).await;
    bws.silent_for(Duration::from_millis(10)).await;
    assert!(app.state.store.games_of_user(&UserId::parse(&a.id).unwrap(), 10, None).await.is_err(), "still cut");

    // Back: the results are stored, then the end is announced, once.
    let back = Instant::now();
    proxy.restore();
    expect_end(&lobby, [&mut bws, &mut aws]).await;
    assert!(
        back.elapsed() < Duration::from_secs(5),
        "the end waited {:?} after the database came back",
        back.elapsed()
    );
    let expected = vec![(a.id.clone(), 1, 7), (b.id.clone(), 2, 6)];
    assert_eq!(rankings(&mut bws, &lobby).await, expected);
    let stored_expected: Vec<(String, u32, u32)> = vec![(a.id.clone(), 1, 7), (b.id.clone(), 2, 6)];
    assert_eq!(stored_game(&app, &a.id).await, stored_expected);
    let row = stored(&app, &lobby).await;
    assert_eq!(row.status, GameStatus::Finished);
    assert_eq!(stored_lists(&row, &b.id), (owned(&codes(0..6)), owned(&codes([6]))));
    aws.silent_for(Duration::from_millis(300)).await;
    bws.silent_for(Duration::from_millis(10)).await;
}
