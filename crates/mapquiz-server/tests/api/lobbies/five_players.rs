//! A full five-player game message by message (protocol §2.7, §2.8, §3.3–§3.6): every join seen by every
//! member, every ready, one auto-start, every `update_player_progress` seen by all five, ranks with ties,
//! `game_end` exactly once on every socket, and the stale updates after the end ignored.

use super::{app, friends_of_first};
use crate::support::lobbies::{OCEANIE, player, player_ids};
use crate::support::ws::Ws;
use crate::support::{json, on_both_backends};
use serde_json::json;
use std::time::Duration;

/// How many of the seven Océanie codes each player gets right (the rest wrong): ties at 7 and at 6.
const RIGHT: [usize; 5] = [7, 7, 6, 6, 4];
/// The ranks those scores give: 1 + the number of strictly higher scores.
const RANKS: [u32; 5] = [1, 1, 3, 3, 5];

/// A player's cumulative lists after `n` answers, `right` of all seven being right.
fn lists(n: usize, right: usize) -> (Vec<&'static str>, Vec<&'static str>) {
    (OCEANIE[..n.min(right)].to_vec(), OCEANIE[right.min(n)..n].to_vec())
}

async fn five_players_play_a_whole_game(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno", "Chloe", "David", "Emma"]).await;
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let mut wss: Vec<Ws> = Vec::new();
    for user in &users {
        wss.push(app.ws(user).await);
    }
    let lobby = wss[0].create_lobby(&["Océanie"]).await;

    // Invitations and joins, one at a time: every member sees each newcomer, in join order.
    for i in 1..5 {
        let reply = wss[0].invite(&lobby, &users[i]).await;
        assert_eq!(
            wss[0].expect_success("invite_to_lobby", reply).await,
            json!({"success": true, "message": "Invitation envoyée"})
        );
        assert_eq!(wss[i].expect_push("lobby_invitation").await["lobbyId"], lobby.as_str());
        let reply = wss[i].join(&lobby).await;
        assert_eq!(wss[i].expect_success("join_lobby", reply).await, json!({"success": true}));
        for ws in &mut wss[..=i] {
            let state = ws.expect_update().await;
            assert_eq!(player_ids(&state), ids[..=i]);
            assert_eq!(state["hostId"], ids[0].as_str());
        }
    }
    for ws in &mut wss[1..] {
        ws.silent_for(Duration::from_millis(50)).await;
    }

    // Everyone readies; the last ready starts the game by itself: ready state, game_start, playing.
    for i in 0..5 {
        let reply = wss[i].ready(&lobby, true).await;
        wss[i].expect_success("set_player_ready", reply).await;
        for ws in &mut wss {
            let state = ws.expect_update().await;
            assert_eq!(state["status"], "waiting");
            assert_eq!(player(&state, &ids[i])["status"], "ready");
        }
    }
    for ws in &mut wss {
        let start = ws.expect_push("game_start").await;
        assert_eq!((&start["lobbyId"], &start["totalQuestions"]), (&json!(lobby), &json!(7)));
        let playing = ws.expect_update().await;
        assert_eq!(playing["status"], "playing");
        assert_eq!(player_ids(&playing), ids);
        assert!(playing["players"].as_array().unwrap().iter().all(|p| p["status"] == "playing"), "{playing}");
    }

    // Seven rounds, each player answering once per round; every push reaches all five and carries
    // everyone's standing so far.
    let mut answered = [0usize; 5];
    for round in 1..=7 {
        if round == 7 {
            // Completion times are whole seconds from the start: the last answers come 2 s in.
            app.clock.advance(Duration::from_secs(2));
        }
        for i in 0..5 {
            let (validated, incorrect) = lists(round, RIGHT[i]);
            let reply = wss[i].progress(&lobby, &validated, &incorrect).await;
            assert_eq!(wss[i].expect_success("update_player_progress", reply).await, json!({"success": true}));
            answered[i] = round;
            for ws in &mut wss {
                let pushed = ws.expect_push("update_player_progress").await;
                assert_eq!(pushed["lobbyId"], lobby.as_str());
                assert_eq!(player_ids(&pushed), ids, "every player in every push");
                for (j, id) in ids.iter().enumerate() {
                    let (v, x) = lists(answered[j], RIGHT[j]);
                    let entry = player(&pushed, id);
                    assert_eq!(entry["score"], v.len(), "{pushed}");
                    assert_eq!(entry["progress"], 100 * answered[j] / 7, "{pushed}");
                    assert_eq!((&entry["validatedCountries"], &entry["incorrectCountries"]), (&json!(v), &json!(x)));
                }
            }
        }
    }

    // Emma's last answer ended the game: the finished state, then game_end, on every socket.
    for ws in &mut wss {
        let finished = ws.expect_update().await;
        assert_eq!(finished["status"], "finished");
        for (j, id) in ids.iter().enumerate() {
            let p = player(&finished, id);
            assert_eq!(
                (&p["status"], &p["progress"], &p["score"]),
                (&json!("finished"), &json!(100), &json!(RIGHT[j]))
            );
        }
        assert_eq!(ws.expect_push("game_end").await, json!({"lobbyId": lobby}));
    }

    // The client's stale, shorter final update from everyone: answered, changes nothing, pushes nothing.
    for i in 0..5 {
        let (validated, _) = lists(5, RIGHT[i]);
        let reply = wss[i].progress(&lobby, &validated, &[]).await;
        wss[i].expect_success("update_player_progress", reply).await;
    }
    for ws in &mut wss {
        ws.silent_for(Duration::from_millis(150)).await; // game_end came once
    }

    // Results: shared ranks, by rank then completion time then join order.
    let reply = wss[3].lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let results = wss[3].expect_success("get_game_results", reply).await;
    let rankings = results["rankings"].as_array().unwrap();
    let got: Vec<_> = rankings.iter().map(|r| (r["id"].clone(), r["rank"].clone(), r["score"].clone())).collect();
    let want: Vec<_> = (0..5).map(|i| (json!(ids[i]), json!(RANKS[i]), json!(RIGHT[i]))).collect();
    assert_eq!(got, want, "{results}");
    for r in rankings {
        assert!(r["completionTime"].as_u64().is_some_and(|t| t >= 2), "{r}");
    }
    let (status, history) = json(app.get_as(&users[4], "/api/games").await).await;
    assert_eq!(status, 200, "{history}");
    let game = &history["games"][0];
    assert_eq!((&game["rank"], &game["score"], game["players"].as_array().unwrap().len()), (&json!(5), &json!(4), 5));
}

on_both_backends!(five_players_play_a_whole_game);
