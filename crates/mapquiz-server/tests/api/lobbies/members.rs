//! Who is in a lobby (protocol §2.7.5, §2.7.15, §3.7–§3.9): the host leaving (transfer), a kick (the
//! invitation revoked, a rejoin refused), a disconnection whose grace expiry ends a game, an invitation to
//! an offline friend delivered when they connect, and concurrent readies starting exactly one game.

use super::{GRACE, app, friends_of_first};
use crate::support::lobbies::{OCEANIE, assert_error, player, player_ids};
use crate::support::on_both_backends;
use mapquiz_domain::LobbyId;
use serde_json::json;
use std::time::Duration;

async fn the_host_leaves_and_the_role_moves_on(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let (mut aws, mut bws) = (app.ws(a).await, app.ws(b).await);
    let lobby = aws.create_lobby(&["Europe"]).await;
    aws.invite(&lobby, b).await;
    bws.expect_push("lobby_invitation").await;
    bws.join(&lobby).await;
    bws.expect_update().await;
    aws.expect_update().await;

    let reply = aws.leave(&lobby).await;
    assert_eq!(reply, json!({"type": "leave_lobby_success", "data": {"success": true, "message": "Lobby quitté"}}));
    let left = bws.expect_push("player_left_game").await;
    assert_eq!(
        (&left["lobbyId"], &left["playerId"], &left["playerName"]),
        (&json!(lobby), &json!(a.id), &json!("Alice"))
    );
    assert!(left["timestamp"].is_i64());
    let state = bws.expect_update().await;
    assert_eq!(state["hostId"], b.id.as_str());
    assert_eq!(player_ids(&state), [b.id.as_str()]);
    assert_eq!(aws.leave(&lobby).await["type"], "leave_lobby_success", "a second leave is benign");
    aws.silent_for(Duration::from_millis(100)).await;

    // Still invited: the former host comes back as an ordinary member.
    let reply = aws.join(&lobby).await;
    aws.expect_success("join_lobby", reply).await;
    assert_eq!(aws.expect_update().await["hostId"], b.id.as_str());
    bws.expect_update().await;
}

on_both_backends!(the_host_leaves_and_the_role_moves_on);

async fn a_kicked_player_cannot_come_back(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let (mut aws, mut bws) = (app.ws(a).await, app.ws(b).await);
    let lobby = aws.create_lobby(&["Europe"]).await;
    aws.invite(&lobby, b).await;
    bws.expect_push("lobby_invitation").await;
    bws.join(&lobby).await;
    bws.expect_update().await;
    aws.expect_update().await;

    let reply = aws.lobby("remove_player", json!({"lobbyId": lobby, "playerId": b.id})).await;
    assert_eq!(
        aws.expect_success("remove_player", reply).await,
        json!({"lobbyId": lobby, "playerId": b.id, "message": "Joueur supprimé avec succès"})
    );
    assert_eq!(player_ids(&aws.expect_update().await), [a.id.as_str()]);
    assert_eq!(
        bws.expect_push("player_removed").await,
        json!({"lobbyId": lobby, "message": "Vous avez été expulsé du lobby par l'hôte"})
    );
    assert_error(&bws.join(&lobby).await, "Vous n'êtes pas autorisé à rejoindre ce lobby");
    // The audit line is written beside the lobby, not before its reply.
    let mut audited = false;
    for _ in 0..100 {
        let audit = app.state.store.audit_trail(Some(&a.id), 20).await.unwrap();
        audited = audit.iter().any(|e| e.action == "lobby_player_kicked" && e.target_id.as_deref() == Some(&b.id));
        if audited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(audited, "the kick is in the audit trail");
}

on_both_backends!(a_kicked_player_cannot_come_back);

async fn a_disconnected_player_past_the_grace_no_longer_blocks_the_end(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let (mut aws, mut bws) = (app.ws(a).await, app.ws(b).await);
    let lobby = aws.create_lobby(&["Océanie"]).await;
    aws.invite(&lobby, b).await;
    bws.expect_push("lobby_invitation").await;
    bws.join(&lobby).await;
    bws.expect_update().await;
    aws.expect_update().await;
    aws.ready(&lobby, true).await;
    aws.expect_update().await;
    bws.expect_update().await;
    bws.ready(&lobby, true).await;
    for ws in [&mut bws, &mut aws] {
        ws.expect_update().await;
        ws.expect_push("game_start").await;
        ws.expect_update().await;
    }
    let reply = bws.progress(&lobby, &OCEANIE[..2], &[]).await;
    bws.expect_success("update_player_progress", reply).await;
    bws.expect_push("update_player_progress").await;
    aws.expect_push("update_player_progress").await;
    app.flush_progress().await;
    let stored = app.state.store.load_lobby(&LobbyId::parse(&lobby).unwrap()).await.unwrap().unwrap();
    let b_stored = stored.members.iter().find(|m| m.profile.id().as_str() == b.id).unwrap();
    assert_eq!(b_stored.validated, ["AUS", "FJI"], "progress stored by the writer");

    // B's page dies: shown disconnected at once; the game waits for B during the grace period.
    bws.close().await;
    assert_eq!(player(&aws.expect_update().await, &b.id)["connected"], false);
    let reply = aws.progress(&lobby, OCEANIE, &[]).await;
    aws.expect_success("update_player_progress", reply).await;
    aws.expect_push("update_player_progress").await;
    // The grace expires: B is away, and the game ends with both results.
    tokio::time::sleep(GRACE).await;
    let finished = aws.expect_update().await;
    assert_eq!(finished["status"], "finished");
    aws.expect_push("game_end").await;
    let reply = aws.lobby("get_game_results", json!({"lobbyId": lobby})).await;
    let rankings = aws.expect_success("get_game_results", reply).await["rankings"].clone();
    assert_eq!(rankings[0]["id"], a.id.as_str());
    assert_eq!(
        (&rankings[1]["id"], &rankings[1]["score"], &rankings[1]["completionTime"]),
        (&json!(b.id), &json!(2), &json!(null))
    );
}

on_both_backends!(a_disconnected_player_past_the_grace_no_longer_blocks_the_end);

async fn an_offline_friend_gets_the_invitation_when_they_connect(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno"]).await;
    let (a, b) = (&users[0], &users[1]);
    let mut aws = app.ws(a).await;
    let lobby = aws.create_lobby(&["Europe"]).await;
    let reply = aws.invite(&lobby, b).await;
    assert_eq!(aws.expect_success("invite_to_lobby", reply).await["message"], "Invitation envoyée");

    let mut bws = app.ws_with_pushes(b).await;
    let invitation = bws.expect_push("lobby_invitation").await;
    assert_eq!((&invitation["lobbyId"], &invitation["inviterName"]), (&json!(lobby), &json!("Alice")));
    bws.settled().await;
    // Delivered once: the next connection brings nothing.
    let mut again = app.ws(b).await;
    again.silent_for(Duration::from_millis(150)).await;
    let reply = bws.join(&lobby).await;
    bws.expect_success("join_lobby", reply).await;
}

on_both_backends!(an_offline_friend_gets_the_invitation_when_they_connect);

async fn concurrent_readies_start_exactly_one_game(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    let users = friends_of_first(&app, &["Alice", "Bruno", "Chloe", "Denis", "Emma"]).await;
    let mut sockets = Vec::new();
    for u in &users {
        sockets.push(app.ws(u).await);
    }
    let lobby = sockets[0].create_lobby(&["Océanie"]).await;
    for (i, u) in users.iter().enumerate().skip(1) {
        sockets[0].invite(&lobby, u).await;
        sockets[i].expect_push("lobby_invitation").await;
    }
    for ws in &mut sockets[1..] {
        ws.join(&lobby).await;
    }
    // Everyone readies at once.
    let ready = json!({"type": "set_player_ready", "payload": {"lobbyId": lobby, "ready": true}}).to_string();
    for ws in &mut sockets {
        ws.send_batch(std::slice::from_ref(&ready)).await;
    }
    for ws in &mut sockets {
        let mut starts = 0;
        loop {
            let frame = ws.recv_lobby().await;
            if frame["type"] == "game_start" {
                starts += 1;
            }
            if frame["type"] == "lobby_update" && frame["payload"]["status"] == "playing" {
                break;
            }
        }
        ws.silent_for(Duration::from_millis(100)).await;
        assert_eq!(starts, 1);
    }
}

on_both_backends!(concurrent_readies_start_exactly_one_game);
