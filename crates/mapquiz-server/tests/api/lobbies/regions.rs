//! Afrique and Asie games end (protocol §3.4, §6, §7): the web client counts entries, not codes (51 vs 49,
//! 47 vs 46) and sends repeated codes, yet the server derives everything from the distinct required codes, so
//! both games finish with the right scores and ranks.

use super::{app, friends_of_first};
use crate::support::lobbies::player;
use crate::support::on_both_backends;
use crate::support::ws::Ws;
use mapquiz_domain::Region;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// Codes the client's data gives to two features each (Somaliland, Sahara occidental, Chypre du Nord).
const SHARED: &[&str] = &["MAR", "SOM", "CYP"];

/// The region's answers in the client's order: every code once, and the shared ones a second time right
/// after, as two features of the client's map.
fn client_entries(region: Region) -> Vec<&'static str> {
    let mut entries = Vec::new();
    for &code in region.codes() {
        entries.push(code);
        if SHARED.contains(&code) {
            entries.push(code);
        }
    }
    entries
}

/// `update_player_progress` as the web client sends it: cumulative lists, its own score, and its
/// `totalQuestions` counting entries.
async fn client_progress(ws: &mut Ws, lobby: &str, validated: &[&str], incorrect: &[&str], entries: usize) -> Value {
    let payload = json!({
        "lobbyId": lobby, "validatedCountries": validated, "incorrectCountries": incorrect,
        "score": validated.len(), "totalQuestions": entries,
    });
    ws.lobby("update_player_progress", payload).await
}

/// One player's whole game, one answer per message; `wrong` codes are answered wrong. Every message is
/// accepted and seen by both players while the sender has codes left. The sender's last push.
async fn play_through(
    lobby: &str,
    me: (&mut Ws, &str),
    other: &mut Ws,
    entries: &[&'static str],
    wrong: &[&str],
    total: usize,
) -> Value {
    let (ws, id) = me;
    let (mut validated, mut incorrect) = (Vec::new(), Vec::new());
    let mut last = Value::Null;
    for &code in entries {
        if wrong.contains(&code) {
            incorrect.push(code)
        } else {
            validated.push(code)
        }
        let reply = client_progress(ws, lobby, &validated, &incorrect, entries.len()).await;
        ws.expect_success("update_player_progress", reply).await;
        let pushed = ws.expect_push("update_player_progress").await;
        assert_eq!(other.expect_push("update_player_progress").await, pushed);
        let distinct_right = validated.iter().collect::<BTreeSet<_>>().len();
        let distinct = distinct_right + incorrect.iter().collect::<BTreeSet<_>>().len();
        let entry = player(&pushed, id);
        assert_eq!(entry["score"], distinct_right, "the server's score counts distinct codes: {entry}");
        assert_eq!(entry["progress"], 100 * distinct / total, "{entry}");
        last = pushed;
    }
    last
}

async fn a_game_of(postgres: bool, region: &str, total: usize, entries_count: usize) {
    let Some(app) = app(postgres).await else { return };
    let region_id = Region::parse(region).unwrap();
    let entries = client_entries(region_id);
    assert_eq!((region_id.codes().len(), entries.len()), (total, entries_count), "protocol §6");
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let (mut aws, mut bws) = (app.ws(a).await, app.ws(b).await);
    let lobby = aws.create_lobby(&[region]).await;
    aws.invite(&lobby, b).await;
    bws.expect_push("lobby_invitation").await;
    bws.join(&lobby).await;
    bws.expect_update().await;
    aws.expect_update().await;
    let reply = aws.ready(&lobby, true).await;
    aws.expect_success("set_player_ready", reply).await;
    aws.expect_update().await;
    bws.expect_update().await;
    let reply = bws.ready(&lobby, true).await; // both ready: the game starts by itself
    bws.expect_success("set_player_ready", reply).await;
    bws.expect_update().await;
    aws.expect_update().await;
    for ws in [&mut aws, &mut bws] {
        let start = ws.expect_push("game_start").await;
        assert_eq!(start["totalQuestions"], total, "distinct codes, not the client's entries");
        assert_eq!(start["settings"]["selectedRegions"], json!([region]));
        assert_eq!(ws.expect_update().await["status"], "playing");
    }

    // A answers everything right, the repeated entries included: finished at 100, the game goes on.
    let last = play_through(&lobby, (&mut aws, &a.id), &mut bws, &entries, &[], total).await;
    let me = player(&last, &a.id);
    assert_eq!((&me["score"], &me["progress"]), (&json!(total), &json!(100)));
    // The client's stale shorter update: answered, ignored.
    let reply = client_progress(&mut aws, &lobby, &entries[..entries.len() - 1], &[], entries.len()).await;
    aws.expect_success("update_player_progress", reply).await;
    bws.silent_for(Duration::from_millis(50)).await;

    // B gets three wrong, among them a shared code; B's last answer ends the game.
    let wrong = [entries[0], entries[5], SHARED.iter().copied().find(|c| entries.contains(c)).unwrap()];
    play_through(&lobby, (&mut bws, &b.id), &mut aws, &entries, &wrong, total).await;
    for ws in [&mut aws, &mut bws] {
        let finished = ws.expect_update().await;
        assert_eq!(finished["status"], "finished");
        assert_eq!(player(&finished, &b.id)["incorrectCountries"].as_array().unwrap().len(), 3);
        assert_eq!(ws.expect_push("game_end").await, json!({"lobbyId": lobby}));
        ws.silent_for(Duration::from_millis(50)).await;
    }
    let reply = aws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let rankings = aws.expect_success("get_game_results", reply).await["rankings"].clone();
    let got: Vec<_> =
        rankings.as_array().unwrap().iter().map(|r| (r["id"].clone(), r["rank"].clone(), r["score"].clone())).collect();
    assert_eq!(got, [(json!(a.id), json!(1), json!(total)), (json!(b.id), json!(2), json!(total - 3))]);
}

async fn an_afrique_game_ends(postgres: bool) {
    a_game_of(postgres, "Afrique", 49, 51).await;
}

async fn an_asie_game_ends(postgres: bool) {
    a_game_of(postgres, "Asie", 46, 47).await;
}

on_both_backends!(an_afrique_game_ends, an_asie_game_ends);
