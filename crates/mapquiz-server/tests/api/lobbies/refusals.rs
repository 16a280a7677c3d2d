//! Every refusal of the §3.2 authorisation table and the required-field errors, with their exact French
//! strings, and the benign repeats of §2.9 that must never be an `error`.

use super::{app, friends_of_first};
use crate::support::lobbies::assert_error;
use crate::support::on_both_backends;
use crate::support::ws::Ws;
use serde_json::json;

/// A sends `kind` with `payload` and must get exactly `message` as an error.
async fn refused(ws: &mut Ws, kind: &str, payload: serde_json::Value, message: &str) {
    let reply = ws.lobby(kind, payload).await;
    assert_error(&reply, message);
}

async fn every_refusal_has_its_exact_string(postgres: bool) {
    let Some(app) = app(postgres).await else { return };
    // A hosts; B is A's friend and a member; C is A's friend, not invited; D is nobody's friend.
    let users = friends_of_first(&app, &["Alice", "Bruno", "Chloe"]).await;
    let (a, b, c) = (&users[0], &users[1], &users[2]);
    let d = app.sign_up("Denis").await;
    let mut aws = app.ws(a).await;
    let mut bws = app.ws(b).await;
    let mut cws = app.ws(c).await;
    let lobby = aws.create_lobby(&["Océanie"]).await;
    aws.invite(&lobby, b).await;
    bws.expect_push("lobby_invitation").await;
    bws.join(&lobby).await;
    bws.expect_update().await;
    aws.expect_update().await;
    let unknown = "0198a1f2-7c3e-7b21-9d4e-5f6a7b8c9d0e";
    let id = |lobby: &str| json!({"lobbyId": lobby});

    // Required fields come first, whatever else is wrong.
    for &kind in crate::ws_fuzz::shapes::LOBBY_MESSAGE_TYPES {
        refused(&mut cws, kind, json!({}), "lobbyId requis").await;
        refused(&mut cws, kind, json!({"lobbyId": ""}), "lobbyId requis").await;
        refused(&mut cws, kind, json!({"lobbyId": 42}), "lobbyId requis").await;
    }
    refused(&mut aws, "invite_to_lobby", id(&lobby), "friendId requis").await;
    refused(&mut aws, "remove_player", id(&lobby), "playerId requis").await;

    // Unknown lobby.
    for kind in [
        "join_lobby",
        "update_lobby_settings",
        "set_player_ready",
        "start_game",
        "update_player_progress",
        "restart_game",
    ] {
        refused(&mut cws, kind, id(unknown), "Lobby non trouvé").await;
    }
    refused(&mut aws, "invite_to_lobby", json!({"lobbyId": unknown, "friendId": c.id}), "Lobby non trouvé").await;
    refused(&mut cws, "get_game_results", id(unknown), "Impossible de récupérer les résultats: Lobby non trouvé").await;
    refused(
        &mut cws,
        "remove_player",
        json!({"lobbyId": unknown, "playerId": a.id}),
        "Impossible de supprimer le joueur: Lobby non trouvé",
    )
    .await;

    // Not invited, not a member, not the host.
    refused(&mut cws, "join_lobby", id(&lobby), "Vous n'êtes pas autorisé à rejoindre ce lobby").await;
    refused(
        &mut cws,
        "invite_to_lobby",
        json!({"lobbyId": lobby, "friendId": a.id}),
        "Non autorisé à inviter des joueurs dans ce lobby",
    )
    .await;
    refused(
        &mut aws,
        "invite_to_lobby",
        json!({"lobbyId": lobby, "friendId": d.id}),
        "Vous ne pouvez inviter que vos amis",
    )
    .await;
    refused(
        &mut bws,
        "update_lobby_settings",
        json!({"lobbyId": lobby, "settings": {"selectedRegions": ["Europe"]}}),
        "Seul l'hôte peut modifier les paramètres du lobby",
    )
    .await;
    refused(&mut cws, "set_player_ready", json!({"lobbyId": lobby, "ready": true}), "Vous n'êtes pas dans ce lobby")
        .await;
    refused(
        &mut cws,
        "update_player_status",
        json!({"lobbyId": lobby, "status": "ready"}),
        "Vous n'êtes pas dans ce lobby",
    )
    .await;
    refused(&mut cws, "update_player_progress", id(&lobby), "Vous n'êtes pas dans ce lobby").await;
    refused(&mut bws, "start_game", id(&lobby), "Seul l'hôte peut démarrer la partie").await;
    refused(&mut bws, "restart_game", id(&lobby), "Seul l'hôte peut redémarrer la partie").await;
    refused(
        &mut bws,
        "remove_player",
        json!({"lobbyId": lobby, "playerId": a.id}),
        "Impossible de supprimer le joueur: Seul l'hôte peut supprimer des joueurs",
    )
    .await;
    refused(
        &mut aws,
        "remove_player",
        json!({"lobbyId": lobby, "playerId": a.id}),
        "Impossible de supprimer le joueur: L'hôte ne peut pas se supprimer lui-même",
    )
    .await;
    refused(
        &mut cws,
        "get_game_results",
        id(&lobby),
        "Impossible de récupérer les résultats: Vous n'êtes pas dans ce lobby",
    )
    .await;
    refused(
        &mut bws,
        "get_game_results",
        id(&lobby),
        "Impossible de récupérer les résultats: La partie n'est pas encore terminée",
    )
    .await;

    // Validation, after the lobby checks.
    refused(&mut bws, "set_player_ready", json!({"lobbyId": lobby, "ready": "yes"}), "Statut invalide").await;
    refused(&mut bws, "update_player_status", json!({"lobbyId": lobby, "status": "playing"}), "Statut invalide").await;
    refused(
        &mut aws,
        "update_lobby_settings",
        json!({"lobbyId": lobby, "settings": {"selectedRegions": ["Atlantide"]}}),
        "Paramètres de lobby invalides",
    )
    .await;
    refused(
        &mut aws,
        "create_lobby",
        json!({"name": 7, "settings": {"selectedRegions": ["Europe"]}}),
        "Nom de lobby invalide",
    )
    .await;
    refused(&mut aws, "create_lobby", json!({"settings": {"selectedRegions": []}}), "Paramètres de lobby invalides")
        .await;

    // No region selected (mid-edit is allowed), then no start.
    let reply =
        aws.lobby("update_lobby_settings", json!({"lobbyId": lobby, "settings": {"selectedRegions": []}})).await;
    aws.expect_success("update_lobby_settings", reply).await;
    assert_eq!(aws.expect_update().await["settings"], json!({"selectedRegions": [], "gameMode": "quiz"}));
    bws.expect_update().await;
    refused(&mut aws, "start_game", id(&lobby), "Aucune région sélectionnée").await;

    // Benign repeats (§2.9): success, never an error.
    let reply = cws.leave(unknown).await;
    assert_eq!(reply, json!({"type": "leave_lobby_success", "data": {"success": true, "message": "Lobby quitté"}}));
    let reply = cws.leave(&lobby).await;
    assert_eq!(reply, json!({"type": "leave_lobby_success", "data": {"success": true, "message": "Lobby quitté"}}));
    let reply = cws.lobby("get_lobby_state", id(unknown)).await;
    assert_eq!(reply, json!({"type": "get_lobby_state_success", "data": {"lobbyId": unknown, "lobbyState": null}}));
    let reply = cws.lobby("get_lobby_state", id(&lobby)).await;
    assert_eq!(reply, json!({"type": "get_lobby_state_success", "data": {"lobbyId": lobby, "lobbyState": null}}));
    let reply = cws.lobby("get_game_state", id(&lobby)).await;
    assert_eq!(
        reply,
        json!({"type": "get_game_state_success", "data": {"lobbyId": lobby, "gameState": null, "message": "Aucun état de jeu disponible"}})
    );
    let reply = aws.lobby("remove_player", json!({"lobbyId": lobby, "playerId": c.id})).await;
    assert_eq!(
        reply,
        json!({"type": "remove_player_success", "data": {"lobbyId": lobby, "playerId": c.id, "message": "Joueur supprimé avec succès"}})
    );

    // Started, then finished: a newcomer may no longer join or be invited; the host cannot start again.
    let reply = aws
        .lobby("update_lobby_settings", json!({"lobbyId": lobby, "settings": {"selectedRegions": ["Océanie"]}}))
        .await;
    aws.expect_success("update_lobby_settings", reply).await;
    aws.expect_update().await;
    bws.expect_update().await;
    aws.invite(&lobby, c).await;
    cws.expect_push("lobby_invitation").await;
    let reply = aws.lobby("start_game", id(&lobby)).await;
    aws.expect_success("start_game", reply).await;
    for ws in [&mut aws, &mut bws] {
        ws.expect_push("game_start").await;
        ws.expect_update().await;
    }
    let reply = aws.lobby("start_game", id(&lobby)).await; // while playing: no second start
    aws.expect_success("start_game", reply).await;
    refused(&mut cws, "join_lobby", id(&lobby), "La partie a déjà commencé").await;
    refused(&mut aws, "invite_to_lobby", json!({"lobbyId": lobby, "friendId": c.id}), "La partie a déjà commencé")
        .await;
    refused(
        &mut aws,
        "update_lobby_settings",
        json!({"lobbyId": lobby, "settings": {"selectedRegions": ["Europe"]}}),
        "La partie a déjà commencé",
    )
    .await;
    let all = crate::support::lobbies::OCEANIE;
    let reply = aws.progress(&lobby, all, &[]).await;
    aws.expect_success("update_player_progress", reply).await;
    aws.expect_push("update_player_progress").await;
    bws.expect_push("update_player_progress").await;
    let reply = bws.progress(&lobby, all, &[]).await;
    bws.expect_success("update_player_progress", reply).await;
    for ws in [&mut aws, &mut bws] {
        ws.expect_push("update_player_progress").await;
        assert_eq!(ws.expect_update().await["status"], "finished");
        ws.expect_push("game_end").await;
    }
    refused(&mut aws, "start_game", id(&lobby), "La partie est déjà terminée").await;
}

on_both_backends!(every_refusal_has_its_exact_string);

async fn a_full_lobby_refuses_one_more(postgres: bool) {
    let Some(app) = crate::support::TestApp::spawn_with(postgres, |f| f.merge(("lobby_capacity", 2))).await else {
        return;
    };
    let users = friends_of_first(&app, &["Alice", "Bruno", "Chloe"]).await;
    let mut sockets = Vec::new();
    for u in &users {
        sockets.push(app.ws(u).await);
    }
    let lobby = sockets[0].create_lobby(&["Europe"]).await;
    for (i, u) in users.iter().enumerate().skip(1) {
        let reply = sockets[0].invite(&lobby, u).await;
        sockets[0].expect_success("invite_to_lobby", reply).await;
        sockets[i].expect_push("lobby_invitation").await;
    }
    let reply = sockets[1].join(&lobby).await;
    sockets[1].expect_success("join_lobby", reply).await;
    let reply = sockets[2].join(&lobby).await;
    assert_error(&reply, "Le lobby est complet");
}

on_both_backends!(a_full_lobby_refuses_one_more);
