//! The serde form of replies and pushes against the shapes of protocol §0.5, §0.6, §2.7 and §2.8.

use super::support::*;
use crate::Region;
use crate::lobby::*;
use serde_json::{Value, json};

fn frame(effects: &[Effect], kind: &str) -> Value {
    pushes(effects, kind)[0].1.envelope().unwrap()
}

#[test]
fn create_lobby_success_has_the_lobby_and_its_host_and_no_email() {
    let t = Table::new(&[Region::Europe, Region::Oceanie]);
    let created = Reply::Created(Box::new(Created {
        success: true,
        lobby_id: t.lobby.id().clone(),
        host_id: uid("host"),
        settings: t.lobby.settings().clone(),
        lobby: CreatedLobby {
            id: t.lobby.id().clone(),
            name: t.lobby.name().clone(),
            host_id: uid("host"),
            status: GameStatus::Waiting,
            settings: t.lobby.settings().clone(),
            created_at: at(0),
        },
        players: vec![CreatedPlayer { profile: profile("host"), status: PlayerStatus::Joined }],
    }));
    let settings = json!({"selectedRegions": ["Europe", "Océanie"], "gameMode": "quiz"});
    assert_eq!(
        serde_json::to_value(&created).unwrap(),
        json!({
            "success": true, "lobbyId": "lobby-1", "hostId": "host", "settings": settings,
            "lobby": {"id": "lobby-1", "name": "Lobby de Host", "hostId": "host", "status": "waiting",
                      "settings": settings, "createdAt": "2025-08-11T15:46:50.000Z"},
            "players": [{"id": "host", "name": "Host", "image": null, "tag": "TAG4", "status": "joined"}]
        })
    );
}

#[test]
fn simple_replies_have_their_exact_data() {
    let lobby_id = crate::LobbyId::parse("l").unwrap();
    let cases = [
        (Reply::Success, json!({"success": true})),
        (Reply::SuccessMessage(LEFT_MESSAGE), json!({"success": true, "message": "Lobby quitté"})),
        (Reply::SuccessMessage(INVITED_MESSAGE), json!({"success": true, "message": "Invitation envoyée"})),
        (
            Reply::SuccessMessage(ALREADY_MEMBER_MESSAGE),
            json!({"success": true, "message": "Joueur déjà dans le lobby"}),
        ),
        (Reply::LobbyState { lobby_id: lobby_id.clone(), state: None }, json!({"lobbyId": "l", "lobbyState": null})),
        (
            Reply::GameState { lobby_id: lobby_id.clone(), state: None },
            json!({"lobbyId": "l", "gameState": null, "message": "Aucun état de jeu disponible"}),
        ),
        (
            Reply::PlayerRemoved { lobby_id: lobby_id.clone(), player_id: uid("bob") },
            json!({"lobbyId": "l", "playerId": "bob", "message": "Joueur supprimé avec succès"}),
        ),
    ];
    for (reply, expected) in cases {
        assert_eq!(serde_json::to_value(&reply).unwrap(), expected);
    }
}

#[test]
fn game_start_uses_data_and_lobby_update_carries_full_players() {
    let mut t = Table::new(&[Region::Oceanie]);
    let effects = t.ready("host", true);
    let settings = json!({"selectedRegions": ["Océanie"], "gameMode": "quiz"});
    assert_eq!(
        frame(&effects, "game_start"),
        json!({"type": "game_start", "data": {
            "lobbyId": "lobby-1", "startTime": "2025-08-11T15:46:50.000Z", "totalQuestions": 7, "settings": settings,
            "gameState": {"startTime": "2025-08-11T15:46:50.000Z", "currentQuestion": 0, "totalQuestions": 7,
                          "currentCountry": null, "settings": settings}
        }})
    );
    t.tick(3_000);
    let effects = t.progress("host", &["AUS"], &["FJI"]);
    assert_eq!(
        frame(&effects, "update_player_progress"),
        json!({"type": "update_player_progress", "payload": {"lobbyId": "lobby-1", "players": [
            {"id": "host", "name": "Host", "score": 1, "progress": 28,
             "validatedCountries": ["AUS"], "incorrectCountries": ["FJI"]}
        ]}})
    );
    let effects = t.join("host");
    assert_eq!(
        frame(&effects, "lobby_update"),
        json!({"type": "lobby_update", "payload": {
            "lobbyId": "lobby-1", "name": "Lobby de Host", "status": "playing", "hostId": "host", "settings": settings,
            "players": [{"id": "host", "name": "Host", "image": null, "tag": "TAG4", "status": "playing",
                         "score": 1, "progress": 28, "validatedCountries": ["AUS"], "incorrectCountries": ["FJI"],
                         "connected": true}]
        }})
    );
}

#[test]
fn end_restart_leave_and_kick_pushes_have_their_exact_payloads() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob", "carol"]);
    t.tick(12_345);
    t.progress("bob", &OCEANIE, &[]);
    t.progress("carol", &OCEANIE[..6], &OCEANIE[6..]);
    let effects = t.progress("host", &OCEANIE, &[]);
    assert_eq!(frame(&effects, "game_end"), json!({"type": "game_end", "payload": {"lobbyId": "lobby-1"}}));
    let effects = t.ok(Command::GetResults { user: uid("host") });
    assert_eq!(
        serde_json::to_value(reply(&effects)).unwrap(),
        json!({"lobbyId": "lobby-1", "hostId": "host", "rankings": [
            {"id": "host", "name": "Host", "score": 7, "rank": 1, "completionTime": 12},
            {"id": "bob", "name": "Bob", "score": 7, "rank": 1, "completionTime": 12},
            {"id": "carol", "name": "Carol", "score": 6, "rank": 3, "completionTime": 12}
        ]})
    );
    let effects = t.ok(Command::Restart { by: uid("host") });
    assert_eq!(
        frame(&effects, "game_restarted"),
        json!({"type": "game_restarted", "payload": {
            "lobbyId": "lobby-1", "message": "Partie remise à zéro, retour au lobby d'attente."}})
    );
    let effects = t.leave("carol");
    assert_eq!(
        frame(&effects, "player_left_game"),
        json!({"type": "player_left_game", "payload": {
            "lobbyId": "lobby-1", "playerId": "carol", "playerName": "Carol", "timestamp": T0 + 12_345}})
    );
    let effects = t.ok(Command::Kick { by: uid("host"), player: uid("bob") });
    assert_eq!(
        frame(&effects, "player_removed"),
        json!({"type": "player_removed", "payload": {
            "lobbyId": "lobby-1", "message": "Vous avez été expulsé du lobby par l'hôte"}})
    );
    let invite = t.invite_cmd("host", "dave", true);
    let effects = t.ok(invite);
    assert_eq!(
        frame(&effects, "lobby_invitation"),
        json!({"type": "lobby_invitation", "payload": {
            "lobbyId": "lobby-1", "hostId": "host", "hostName": "Host", "lobbyName": "Lobby de Host",
            "inviterId": "host", "inviterName": "Host"}})
    );
}

#[test]
fn a_blank_stored_name_is_shown_as_joueur() {
    let p = PublicProfile::new(uid("x"), "  ", None, "ABCDEFGH".into());
    assert_eq!(p.name(), "Joueur");
}

#[test]
fn no_lobby_error_mentions_disconnection() {
    use LobbyError::*;
    let all = [
        MissingLobbyId,
        MissingPlayerId,
        MissingFriendId,
        InvalidName,
        InvalidSettings,
        InvalidStatus,
        InvalidProgress,
        NotFound,
        NotInvited,
        AlreadyStarted,
        Full,
        NotAMember,
        NotAllowedToInvite,
        NotAFriend,
        OnlyHostSettings,
        OnlyHostStart,
        NoRegionSelected,
        AlreadyFinished,
        OnlyHostRestart,
        KickLobbyNotFound,
        KickOnlyHost,
        KickSelf,
        ResultsLobbyNotFound,
        ResultsNotAMember,
        ResultsNotFinished,
    ];
    for e in all {
        let message = e.to_string();
        assert!(!message.contains("déconnecté"), "{message}");
        assert_eq!(message.contains("pas encore terminée"), e == ResultsNotFinished);
    }
}

/// Commands cross between nodes as JSON (the node that owns a lobby applies them): every kind comes back
/// equal, and lists beyond the limits are refused on the way in as they are from a client.
#[test]
fn commands_round_trip_between_nodes() {
    let lists = ProgressLists::new(vec!["FRA".into()], vec!["DEU".into(), "ITA".into()]).unwrap();
    let settings = SettingsUpdate { regions: vec![Region::Oceanie, Region::AmeriqueDuNord], mode: None };
    let commands = [
        Command::Join { player: profile("a") },
        Command::Leave { user: uid("a") },
        Command::Invite(InviteRequest {
            by: uid("a"),
            friend: uid("b"),
            is_friend: true,
            friend_online: false,
            invitation: crate::InvitationId::parse("inv-1").unwrap(),
        }),
        Command::UpdateSettings { by: uid("a"), settings: Ok(settings) },
        Command::UpdateSettings { by: uid("a"), settings: Err(LobbyError::InvalidSettings) },
        Command::SetReady { user: uid("a"), ready: Ok(true) },
        Command::Start { by: uid("a") },
        Command::Progress { user: uid("a"), lists: Ok(lists) },
        Command::GetLobbyState { user: uid("a") },
        Command::GetGameState { user: uid("a") },
        Command::GetResults { user: uid("a") },
        Command::Restart { by: uid("a") },
        Command::Kick { by: uid("a"), player: uid("b") },
        Command::Connected { user: uid("a") },
        Command::Dropped { user: uid("a") },
        Command::TimerFired(Timer::Grace(uid("a"))),
    ];
    for command in commands {
        let text = serde_json::to_string(&command).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), command, "{text}");
    }
    let too_many =
        json!({"Progress": {"user": "a", "lists": {"Ok": {"validated": vec!["FRA"; 501], "incorrect": []}}}});
    assert!(serde_json::from_value::<Command>(too_many).is_err());
    let bad_region = json!({"UpdateSettings": {"by": "a", "settings": {"Ok": {"regions": ["Mars"], "mode": null}}}});
    assert!(serde_json::from_value::<Command>(bad_region).is_err());
}
