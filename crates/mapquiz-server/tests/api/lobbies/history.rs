//! The game history, `GET /api/games` (issue 12 item 8): the caller's finished multiplayer games, newest
//! first, with every player's public fields and result, paged by an opaque cursor; and `/health/detailed`
//! counting the live lobbies.

use super::{app, friends_of_first};
use crate::support::auth::keys;
use crate::support::friends::assert_no_email;
use crate::support::lobbies::OCEANIE;
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser, is_timestamp, json, on_both_backends};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// Sends one progress message and takes the progress push on every socket (the sender's included).
async fn answer(lobby: &str, ws: &mut Ws, validated: &[&str], incorrect: &[&str], all: &mut [&mut Ws]) {
    let reply = ws.progress(lobby, validated, incorrect).await;
    ws.expect_success("update_player_progress", reply).await;
    ws.expect_push("update_player_progress").await;
    for other in all.iter_mut() {
        other.expect_push("update_player_progress").await;
    }
}

/// Host A and guest B, already in `lobby` (waiting), play one Océanie game: A validates everything, B gets
/// `b_right` right and the rest wrong, `secs` seconds after the start. Ends with both seeing `game_end`.
async fn play(app: &TestApp, lobby: &str, aws: &mut Ws, bws: &mut Ws, b_right: usize, secs: u64) {
    let reply = aws.lobby("start_game", json!({"lobbyId": lobby})).await;
    aws.expect_success("start_game", reply).await;
    for ws in [&mut *aws, &mut *bws] {
        ws.expect_push("game_start").await;
        ws.expect_update().await;
    }
    answer(lobby, aws, OCEANIE, &[], &mut [&mut *bws]).await;
    app.clock.advance(Duration::from_secs(secs));
    let (right, wrong) = OCEANIE.split_at(b_right);
    answer(lobby, bws, right, wrong, &mut [&mut *aws]).await;
    for ws in [&mut *aws, &mut *bws] {
        assert_eq!(ws.expect_update().await["status"], "finished");
        ws.expect_push("game_end").await;
    }
}

/// `GET /api/games` with `query` as `user`: status and body, which never carries an email.
async fn games(app: &TestApp, user: &TestUser, query: &str) -> (u16, Value) {
    let (status, body) = json(app.get_as(user, &format!("/api/games{query}")).await).await;
    assert_no_email(&body);
    (status, body)
}

/// `/health/detailed`'s lobby check, once `ready` holds or after a second (the actor counts its lobby just
/// after queueing the pushes the test waited for).
async fn live_lobbies(app: &TestApp, ready: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..50 {
        let (status, health) = json(app.get("/health/detailed").await).await;
        assert_eq!(status, 200, "{health}");
        last = health["checks"]["lobbies"].clone();
        if ready(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    last
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn the_history_lists_finished_games_newest_first(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno", "Chloe"]).await;
    let (a, b, c) = (&users[0], &users[1], &users[2]);
    let (mut aws, mut bws) = (app.ws(a).await, app.ws(b).await);
    let lobby = aws.create_lobby(&["Océanie"]).await;
    aws.invite(&lobby, b).await;
    bws.expect_push("lobby_invitation").await;
    bws.join(&lobby).await;
    bws.expect_update().await;
    aws.expect_update().await;

    // Nothing finished yet: an empty page, and the live lobby counted as waiting.
    assert_eq!(games(&app, a, "").await, (200, json!({"games": [], "nextCursor": null})));
    assert_eq!(
        live_lobbies(&app, |l| l["live"] == 1).await,
        json!({"live": 1, "byStatus": {"waiting": 1, "playing": 0, "finished": 0}})
    );

    // Game 1: A wins alone; B (5 right, 2 wrong) finishes 12 s after the start. Then "Rejouer" and game 2,
    // a tie at 7, B finishing 30 s after its start.
    play(&app, &lobby, &mut aws, &mut bws, 5, 12).await;
    let reply = aws.lobby("restart_game", json!({"lobbyId": lobby})).await;
    aws.expect_success("restart_game", reply).await;
    for ws in [&mut aws, &mut bws] {
        ws.expect_update().await;
        ws.expect_push("game_restarted").await;
    }
    app.clock.advance(Duration::from_secs(5));
    play(&app, &lobby, &mut aws, &mut bws, 7, 30).await;
    assert_eq!(
        live_lobbies(&app, |l| l["byStatus"]["finished"] == 1).await,
        json!({"live": 1, "byStatus": {"waiting": 0, "playing": 0, "finished": 1}})
    );

    // B's view: both games, newest first, each with both players' public fields and results.
    let (status, page) = games(&app, b, "").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["nextCursor"], Value::Null);
    let list = page["games"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{page}");
    let (newest, oldest) = (&list[0], &list[1]);
    let game_keys = set(&[
        "lobbyId",
        "lobbyName",
        "regions",
        "gameMode",
        "startTime",
        "duration",
        "totalQuestions",
        "rank",
        "score",
        "completionTime",
        "players",
    ]);
    for game in list {
        assert_eq!(keys(game), game_keys, "{game}");
        assert_eq!(game["lobbyId"], lobby.as_str());
        assert_eq!(game["lobbyName"], "Lobby de Alice");
        assert_eq!(game["regions"], json!(["Océanie"]));
        assert_eq!(game["gameMode"], "quiz");
        assert_eq!(game["totalQuestions"], 7);
        assert!(is_timestamp(game["startTime"].as_str().unwrap()), "{game}");
        for p in game["players"].as_array().unwrap() {
            assert_eq!(keys(p), set(&["id", "name", "image", "tag", "rank", "score", "completionTime"]), "{p}");
        }
    }
    assert!(newest["startTime"].as_str().unwrap() > oldest["startTime"].as_str().unwrap(), "{page}");
    assert!(newest["duration"].as_u64().unwrap() >= 30, "{newest}");
    assert!((12..30).contains(&oldest["duration"].as_u64().unwrap()), "{oldest}");

    // Game 1 from B's side: second, 5 points, finished at 12 s; A first with 7.
    assert_eq!((&oldest["rank"], &oldest["score"]), (&json!(2), &json!(5)));
    assert!(oldest["completionTime"].as_u64().unwrap() >= 12, "{oldest}");
    assert_eq!(
        oldest["players"][0],
        json!({"id": a.id, "name": "Alice", "image": null, "tag": a.tag, "rank": 1, "score": 7,
               "completionTime": oldest["players"][0]["completionTime"]})
    );
    assert!(oldest["players"][0]["completionTime"].as_u64().unwrap() < 12, "{oldest}");
    assert_eq!(
        (&oldest["players"][1]["id"], &oldest["players"][1]["name"], &oldest["players"][1]["tag"]),
        (&json!(b.id), &json!("Bruno"), &json!(b.tag))
    );
    // Game 2: a tie shares rank 1; the earlier finisher is listed first.
    assert_eq!((&newest["rank"], &newest["score"]), (&json!(1), &json!(7)));
    let ranked: Vec<_> =
        newest["players"].as_array().unwrap().iter().map(|p| (p["id"].clone(), p["rank"].clone())).collect();
    assert_eq!(ranked, [(json!(a.id), json!(1)), (json!(b.id), json!(1))]);

    // A sees the same games with A's own result.
    let (_, a_page) = games(&app, a, "").await;
    assert_eq!(a_page["games"][1]["rank"], 1);
    assert_eq!(a_page["games"][1]["score"], 7);
    assert_eq!(a_page["games"][1]["players"], oldest["players"]);

    // Pages of one: the cursor leads from the newest to the oldest, then the end.
    let (status, first) = games(&app, b, "?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(first["games"], json!([newest]));
    let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();
    let (status, second) = games(&app, b, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["games"], json!([oldest]));
    assert_eq!(second["nextCursor"], Value::Null, "no game follows");
    assert_eq!(games(&app, b, "?limit=2").await.1["nextCursor"], Value::Null, "exactly two games");

    // Someone who never played has none; a stranger's history does not leak another's games.
    assert_eq!(games(&app, c, "").await, (200, json!({"games": [], "nextCursor": null})));
}

async fn the_history_refuses_bad_parameters_and_strangers(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let a = app.sign_up("Alice").await;

    let (status, body) = json(app.get("/api/games").await).await;
    assert_eq!((status, body), (401, json!({"error": "Non autorisé", "code": "unauthorized"})));

    for query in ["?limit=0", "?limit=51", "?limit=x", "?limit=-3", "?limit="] {
        let (status, body) = games(&app, &a, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!((&body["code"], &body["error"]), (&json!("validation_failed"), &json!("Paramètre limit invalide")));
    }
    for query in ["?cursor=%%%", "?cursor=", "?cursor=bm8gc2VwYXJhdG9y", "?cursor=eDpsb2JieQ"] {
        let (status, body) = games(&app, &a, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!((&body["code"], &body["error"]), (&json!("validation_failed"), &json!("Paramètre cursor invalide")));
    }
    for query in ["?limit=1", "?limit=50", "?limit=20&cursor=MTc1NDkyNzIxMDEyMzpzb21lLWxvYmJ5"] {
        assert_eq!(games(&app, &a, query).await, (200, json!({"games": [], "nextCursor": null})), "{query}");
    }
}

on_both_backends!(the_history_lists_finished_games_newest_first, the_history_refuses_bad_parameters_and_strangers);
