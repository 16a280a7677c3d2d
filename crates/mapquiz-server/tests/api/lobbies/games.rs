//! Whole games message by message, as the web client plays them (protocol §2.7, §3.3–§3.6, §7): create,
//! invite, join (re-sent after every authentication), ready, auto-start, progress with the stale final
//! update, end and results, "Rejouer"; and a game that survives a server restart.

use super::{app, friends_of_first};
use crate::support::is_timestamp;
use crate::support::lobbies::{OCEANIE, player, player_ids};
use crate::support::on_both_backends;
use crate::support::ws::Ws;
use mapquiz_domain::UserId;
use serde_json::{Value, json};
use std::time::Duration;

/// The first `n` codes of Océanie.
fn first(n: usize) -> Vec<&'static str> {
    OCEANIE[..n].to_vec()
}

async fn two_players_play_a_whole_game(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let mut bws = app.ws(b).await;
    let mut aws = app.ws(a).await;
    aws.authenticate(&a.id).await; // the client authenticates twice (§7 quirk 1)

    // Create: the reply's exact shape, with the default name and the settings normalised.
    let reply = aws
        .lobby(
            "create_lobby",
            json!({"settings": {"selectedRegions": ["Océanie", "Océanie"], "gameMode": "quiz", "maxPlayers": 4}}),
        )
        .await;
    let data = aws.expect_success("create_lobby", reply).await;
    let lobby = data["lobbyId"].as_str().unwrap().to_owned();
    let settings = json!({"selectedRegions": ["Océanie"], "gameMode": "quiz"});
    assert_eq!(data["success"], true);
    assert_eq!(data["hostId"], a.id.as_str());
    assert_eq!(data["settings"], settings);
    assert_eq!(data["lobby"]["id"], lobby.as_str());
    assert_eq!(data["lobby"]["name"], "Lobby de Alice");
    assert_eq!(data["lobby"]["status"], "waiting");
    assert!(is_timestamp(data["lobby"]["createdAt"].as_str().unwrap()), "{data}");
    assert_eq!(
        data["players"],
        json!([{"id": a.id, "name": "Alice", "image": null, "tag": a.tag, "status": "joined"}])
    );

    // The lobby page mounts and joins: an idempotent join, then the state.
    let reply = aws.join(&lobby).await;
    assert_eq!(aws.expect_success("join_lobby", reply).await, json!({"success": true}));
    let state = aws.expect_update().await;
    assert_eq!(state["lobbyId"], lobby.as_str());
    assert_eq!(state["hostId"], a.id.as_str());
    assert_eq!(state["status"], "waiting");
    assert_eq!(state["settings"], settings);
    assert_eq!(
        state["players"],
        json!([{"id": a.id, "name": "Alice", "image": null, "tag": a.tag, "status": "joined", "score": 0,
                "progress": 0, "validatedCountries": [], "incorrectCountries": [], "connected": true}])
    );

    // Invite the online friend: pushed at once.
    let reply = aws.invite(&lobby, b).await;
    assert_eq!(
        aws.expect_success("invite_to_lobby", reply).await,
        json!({"success": true, "message": "Invitation envoyée"})
    );
    let invitation = bws.expect_push("lobby_invitation").await;
    assert_eq!(
        invitation,
        json!({"lobbyId": lobby, "hostId": a.id, "hostName": "Alice", "lobbyName": "Lobby de Alice",
               "inviterId": a.id, "inviterName": "Alice"})
    );

    // B joins; both see two players. B's page re-authenticates and joins again: nothing changes.
    let reply = bws.join(&lobby).await;
    assert_eq!(bws.expect_success("join_lobby", reply).await, json!({"success": true}));
    assert_eq!(player_ids(&bws.expect_update().await), [a.id.clone(), b.id.clone()]);
    assert_eq!(player_ids(&aws.expect_update().await), [a.id.clone(), b.id.clone()]);
    bws.authenticate(&b.id).await;
    let reply = bws.join(&lobby).await;
    bws.expect_success("join_lobby", reply).await;
    bws.expect_update().await;
    aws.expect_update().await;
    let reply = aws.invite(&lobby, b).await;
    assert_eq!(
        aws.expect_success("invite_to_lobby", reply).await,
        json!({"success": true, "message": "Joueur déjà dans le lobby"})
    );

    // Ready, twice for A (a benign repeat), then B by status: the game starts by itself, once.
    for _ in 0..2 {
        let reply = aws.ready(&lobby, true).await;
        assert_eq!(aws.expect_success("set_player_ready", reply).await, json!({"success": true}));
        assert_eq!(player(&aws.expect_update().await, &a.id)["status"], "ready");
        bws.expect_update().await;
    }
    let reply = bws.lobby("update_player_status", json!({"lobbyId": lobby, "status": "ready"})).await;
    bws.expect_success("update_player_status", reply).await;
    for ws in [&mut bws, &mut aws] {
        let both_ready = ws.expect_update().await;
        assert_eq!(both_ready["status"], "waiting");
        let start = ws.expect_push("game_start").await;
        assert_eq!(start["lobbyId"], lobby.as_str());
        assert_eq!(start["totalQuestions"], 7);
        assert_eq!(start["settings"], settings);
        let start_time = start["startTime"].as_str().unwrap();
        assert!(is_timestamp(start_time));
        assert_eq!(
            start["gameState"],
            json!({"startTime": start_time, "currentQuestion": 0, "totalQuestions": 7, "currentCountry": null, "settings": settings})
        );
        let playing = ws.expect_update().await;
        assert_eq!(playing["status"], "playing");
        assert!(playing["players"].as_array().unwrap().iter().all(|p| p["status"] == "playing" && p["score"] == 0));
    }
    let reply = aws.ready(&lobby, false).await; // a late click while playing: ignored
    aws.expect_success("set_player_ready", reply).await;

    // The race: A answers everything (one wrong), then sends the stale shorter update; B is slower.
    for n in 1..=7 {
        let (validated, incorrect) = if n == 7 { (first(6), vec![OCEANIE[6]]) } else { (first(n), vec![]) };
        let reply = aws.progress(&lobby, &validated, &incorrect).await;
        assert_eq!(aws.expect_success("update_player_progress", reply).await, json!({"success": true}));
        for ws in [&mut aws, &mut bws] {
            let pushed = ws.expect_push("update_player_progress").await;
            assert_eq!(pushed["lobbyId"], lobby.as_str());
            let me = player(&pushed, &a.id);
            assert_eq!(me["score"], validated.len());
            assert_eq!(me["progress"], 100 * n / 7);
            assert_eq!(me["validatedCountries"], json!(validated));
            assert_eq!(me.as_object().unwrap().len(), 6, "ProgressEntry: {me}");
        }
    }
    let reply = aws.progress(&lobby, &first(6), &[]).await; // stale and shorter (§7 quirk 5)
    aws.expect_success("update_player_progress", reply).await;
    for n in 1..=6 {
        let reply = bws.progress(&lobby, &first(n), &[]).await;
        bws.expect_success("update_player_progress", reply).await;
        bws.expect_push("update_player_progress").await;
        aws.expect_push("update_player_progress").await;
    }
    // B's last answer ends the game: progress, then the finished state, then game_end.
    let reply = bws.progress(&lobby, OCEANIE, &[]).await;
    bws.expect_success("update_player_progress", reply).await;
    for ws in [&mut bws, &mut aws] {
        assert_eq!(player(&ws.expect_push("update_player_progress").await, &b.id)["score"], 7);
        let finished = ws.expect_update().await;
        assert_eq!(finished["status"], "finished");
        assert!(
            finished["players"].as_array().unwrap().iter().all(|p| p["status"] == "finished" && p["progress"] == 100)
        );
        assert_eq!(ws.expect_push("game_end").await, json!({"lobbyId": lobby}));
    }
    let reply = bws.progress(&lobby, &first(5), &[]).await; // stale, after the end: still no error
    bws.expect_success("update_player_progress", reply).await;

    // Results: shared shape, ranks by score, completion times in whole seconds.
    let reply = aws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let results = aws.expect_success("get_game_results", reply).await;
    assert_eq!(results["lobbyId"], lobby.as_str());
    assert_eq!(results["hostId"], a.id.as_str());
    let rankings = results["rankings"].as_array().unwrap();
    assert_eq!(rankings.len(), 2);
    assert_eq!((&rankings[0]["id"], &rankings[0]["rank"], &rankings[0]["score"]), (&json!(b.id), &json!(1), &json!(7)));
    assert_eq!((&rankings[1]["id"], &rankings[1]["rank"], &rankings[1]["score"]), (&json!(a.id), &json!(2), &json!(6)));
    assert!(rankings.iter().all(|r| r["completionTime"].is_u64() && r["name"].is_string()), "{results}");
    let reply = bws.lobby("get_game_state", json!({"lobbyId": lobby})).await;
    let game = bws.expect_success("get_game_state", reply).await;
    assert_eq!(game["gameState"]["status"], "finished");
    assert_eq!(game["gameState"]["totalQuestions"], 7);

    // Stored before game_end: the history has the game, for both players.
    let history = app.state.store.games_of_user(&UserId::parse(&a.id).unwrap(), 10, None).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].players.len(), 2);
    assert_eq!(history[0].players[0].score, 7);

    // "Rejouer": back to the waiting room, everyone joined with nothing answered.
    let reply = aws.lobby("restart_game", json!({"lobbyId": lobby})).await;
    assert_eq!(aws.expect_success("restart_game", reply).await, json!({"success": true}));
    for ws in [&mut aws, &mut bws] {
        let waiting = ws.expect_update().await;
        assert_eq!(waiting["status"], "waiting");
        for p in waiting["players"].as_array().unwrap() {
            assert_eq!((&p["status"], &p["score"], &p["progress"]), (&json!("joined"), &json!(0), &json!(0)));
            assert_eq!((&p["validatedCountries"], &p["incorrectCountries"]), (&json!([]), &json!([])));
        }
        assert_eq!(
            ws.expect_push("game_restarted").await,
            json!({"lobbyId": lobby, "message": "Partie remise à zéro, retour au lobby d'attente."})
        );
    }
    let reply = aws.lobby("restart_game", json!({"lobbyId": lobby})).await; // while waiting: benign
    aws.expect_success("restart_game", reply).await;
    aws.silent_for(Duration::from_millis(100)).await;
    bws.silent_for(Duration::from_millis(100)).await;
}

on_both_backends!(two_players_play_a_whole_game);

/// Plays `ws`'s side of a game to `n` validated answers, expecting every push on `others` too.
async fn answer(lobby: &str, ws: &mut Ws, me: &str, n: usize, others: &mut [&mut Ws]) -> Value {
    let reply = ws.progress(lobby, &first(n), &[]).await;
    ws.expect_success("update_player_progress", reply).await;
    let pushed = ws.expect_push("update_player_progress").await;
    assert_eq!(player(&pushed, me)["score"], n);
    for other in others.iter_mut() {
        other.expect_push("update_player_progress").await;
    }
    pushed
}

async fn a_game_goes_on_after_a_server_restart(postgres: bool) {
    let Some(first_app) = app(postgres).await else { return };
    let users = friends_of_first(&first_app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let mut aws = first_app.ws(a).await;
    let mut bws = first_app.ws(b).await;
    let lobby = aws.create_lobby(&["Océanie"]).await;
    aws.invite(&lobby, b).await;
    bws.expect_push("lobby_invitation").await;
    bws.join(&lobby).await;
    bws.expect_update().await;
    aws.expect_update().await;
    let reply = aws.lobby("start_game", json!({"lobbyId": lobby})).await;
    aws.expect_success("start_game", reply).await;
    for ws in [&mut aws, &mut bws] {
        ws.expect_push("game_start").await;
        ws.expect_update().await;
    }
    answer(&lobby, &mut aws, &a.id, 3, &mut [&mut bws]).await;
    answer(&lobby, &mut bws, &b.id, 2, &mut [&mut aws]).await;

    // The server stops (the writer stores what it holds) and a new one starts on the same database.
    drop((aws, bws));
    let app = first_app.restart().await;

    // A reconnects: shown connected to the members online (A alone), then the page re-joins and finds
    // the game as it was.
    let mut aws = app.ws_with_pushes(a).await;
    let back = aws.expect_update().await;
    assert_eq!(back["status"], "playing");
    assert_eq!((&player(&back, &a.id)["connected"], &player(&back, &b.id)["connected"]), (&json!(true), &json!(false)));
    let reply = aws.join(&lobby).await;
    aws.expect_success("join_lobby", reply).await;
    let state = aws.expect_update().await;
    let me = player(&state, &a.id);
    assert_eq!(
        (&me["status"], &me["score"], &me["validatedCountries"]),
        (&json!("playing"), &json!(3), &json!(first(3)))
    );
    assert_eq!(player(&state, &b.id)["validatedCountries"], json!(first(2)));
    let mut bws = app.ws_with_pushes(b).await;
    bws.expect_update().await;
    aws.expect_update().await;
    let reply = bws.join(&lobby).await;
    bws.expect_success("join_lobby", reply).await;
    bws.expect_update().await;
    aws.expect_update().await;

    // The game goes on to its end with the right results.
    for n in 4..=7 {
        answer(&lobby, &mut aws, &a.id, n, &mut [&mut bws]).await;
    }
    for n in 3..=6 {
        answer(&lobby, &mut bws, &b.id, n, &mut [&mut aws]).await;
    }
    let reply = bws.progress(&lobby, OCEANIE, &[]).await;
    bws.expect_success("update_player_progress", reply).await;
    for ws in [&mut bws, &mut aws] {
        ws.expect_push("update_player_progress").await;
        assert_eq!(ws.expect_update().await["status"], "finished");
        ws.expect_push("game_end").await;
    }
    let reply = bws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let rankings = bws.expect_success("get_game_results", reply).await["rankings"].clone();
    assert_eq!(
        rankings.as_array().unwrap().iter().map(|r| (r["rank"].clone(), r["score"].clone())).collect::<Vec<_>>(),
        [(json!(1), json!(7)), (json!(1), json!(7))]
    );
}

on_both_backends!(a_game_goes_on_after_a_server_restart);
