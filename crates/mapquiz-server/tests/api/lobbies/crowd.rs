//! Fifty invited players joining one lobby at the same instant (protocol §2.7.4, §3.3): the lobby's actor
//! takes the joins one at a time, so exactly as many join as the capacity leaves room for, the others are
//! told `Le lobby est complet`, and every member ends up seeing the same complete list.

use super::GRACE;
use crate::support::lobbies::{assert_error, player_ids};
use crate::support::on_both_backends;
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser};
use futures_util::future::join_all;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

/// Players joining at once.
const CROWD: usize = 50;

/// An app whose lobbies hold `capacity` members (`None`: the default, 10), with room for many sign-ups.
async fn crowd_app(postgres: bool, capacity: Option<usize>) -> Option<TestApp> {
    TestApp::spawn_with(postgres, |f| {
        let f = f
            .merge(("lobby_grace_ms", GRACE.as_millis() as u64))
            .merge(("rate_limit_auth_max", 10_000))
            .merge(("rate_limit_global_max", 1_000_000));
        match capacity {
            Some(capacity) => f.merge(("lobby_capacity", capacity)),
            None => f,
        }
    })
    .await
}

/// The host's lobby with [`CROWD`] invited friends, each with a socket, none joined yet.
async fn invited_crowd(app: &TestApp) -> (String, Ws, Vec<TestUser>, Vec<Ws>) {
    let host = app.sign_up("Hote").await;
    let mut guests = Vec::new();
    for i in 0..CROWD {
        let guest = app.sign_up(&format!("Joueur {i}")).await;
        app.befriend(&host, &guest).await;
        guests.push(guest);
    }
    let mut hws = app.ws(&host).await;
    let lobby = hws.create_lobby(&["Europe"]).await;
    let mut gws = Vec::new();
    for guest in &guests {
        let mut ws = app.ws(guest).await;
        let reply = hws.invite(&lobby, guest).await;
        hws.expect_success("invite_to_lobby", reply).await;
        ws.expect_push("lobby_invitation").await;
        gws.push(ws);
    }
    (lobby, hws, guests, gws)
}

/// Every socket in `members` reads `lobby_update`s until one lists `count` players (earlier joins' updates
/// come first), then hears nothing more; the final lists, one per socket.
async fn final_lists(members: &mut [&mut Ws], count: usize) -> Vec<Vec<String>> {
    let mut lists = Vec::new();
    for ws in members.iter_mut() {
        let list = loop {
            let state = ws.expect_update().await;
            let ids = player_ids(&state);
            assert!(ids.len() <= count, "never more members than joined: {}", ids.len());
            if ids.len() == count {
                break ids;
            }
        };
        lists.push(list);
    }
    for ws in members.iter_mut() {
        ws.silent_for(Duration::from_millis(50)).await;
    }
    lists
}

/// All [`CROWD`] send `join_lobby` together; checks the outcome for a lobby of `capacity` members.
async fn joins_at_once(postgres: bool, capacity: Option<usize>) {
    let Some(app) = crowd_app(postgres, capacity).await else { return };
    let (lobby, mut hws, guests, mut gws) = invited_crowd(&app).await;
    let room = capacity.unwrap_or(10) - 1;
    let expected_joins = room.min(CROWD);

    let replies = join_all(gws.iter_mut().map(|ws| ws.join(&lobby))).await;
    let mut joined = Vec::new();
    let mut refused = Vec::new();
    for (i, reply) in replies.into_iter().enumerate() {
        if reply["type"] == "join_lobby_success" {
            assert_eq!(reply["data"], json!({"success": true}));
            joined.push(i);
        } else {
            assert_error(&reply, "Le lobby est complet");
            refused.push(i);
        }
    }
    assert_eq!(joined.len(), expected_joins, "exactly as many joins as there is room for");
    assert_eq!(refused.len(), CROWD - expected_joins);

    // The host and every new member converge on the same list: the host first, then the joiners.
    let count = expected_joins + 1;
    let mut members: Vec<&mut Ws> = vec![&mut hws];
    let joined_set: BTreeSet<usize> = joined.iter().copied().collect();
    let (mut in_lobby, mut outside): (Vec<_>, Vec<_>) =
        gws.iter_mut().enumerate().partition(|(i, _)| joined_set.contains(i));
    members.extend(in_lobby.iter_mut().map(|(_, ws)| &mut **ws));
    let lists = final_lists(&mut members, count).await;
    let want: BTreeSet<String> = joined.iter().map(|&i| guests[i].id.clone()).collect();
    for list in &lists {
        assert_eq!(list, &lists[0], "every member sees the same order");
        assert_eq!(list.iter().skip(1).cloned().collect::<BTreeSet<_>>(), want);
        assert_eq!(list.len(), count, "no one twice");
    }
    // The refused hear nothing of the lobby, and are still refused while it is full.
    for (_, ws) in outside.iter_mut() {
        ws.silent_for(Duration::from_millis(20)).await;
    }
    if let Some((_, ws)) = outside.first_mut() {
        assert_error(&ws.join(&lobby).await, "Le lobby est complet");
        let reply = ws.lobby("get_lobby_state", json!({"lobbyId": lobby})).await;
        assert_eq!(reply["data"], json!({"lobbyId": lobby, "lobbyState": null}), "not a member");
    }
    let reply = hws.lobby("get_lobby_state", json!({"lobbyId": lobby})).await;
    assert_eq!(player_ids(&reply["data"]["lobbyState"]), lists[0]);
}

async fn fifty_join_at_once_in_a_roomy_lobby(postgres: bool) {
    joins_at_once(postgres, Some(64)).await;
}

async fn fifty_join_at_once_and_the_capacity_holds(postgres: bool) {
    joins_at_once(postgres, None).await;
}

on_both_backends!(fifty_join_at_once_in_a_roomy_lobby, fifty_join_at_once_and_the_capacity_holds);
