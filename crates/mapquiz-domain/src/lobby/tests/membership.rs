//! Joining, leaving, invitations, kicks, connections and the host role (§2.7.4–§2.7.6, §2.7.15, §3.7–§3.9).

use super::support::*;
use crate::Region;
use crate::lobby::*;

#[test]
fn create_makes_the_caller_host_and_only_member_and_stores_first() {
    let new = NewLobby {
        id: crate::LobbyId::parse("l").unwrap(),
        host: profile("host"),
        name: LobbyName::parse(None, "Host").unwrap(),
        settings: settings(&[Region::Europe]),
    };
    let (lobby, effects) = Lobby::create(new, LobbyConfig::default(), at(0));
    assert_eq!(kinds(&effects), ["persist:CreateLobby", "reply"]);
    assert_eq!(lobby.status(), GameStatus::Waiting);
    assert_eq!(lobby.host().as_str(), "host");
    assert_eq!(lobby.authorized(), ids(&["host"]).as_slice());
    assert_eq!(lobby.name().as_str(), "Lobby de Host");
    let Reply::Created(created) = reply(&effects) else { panic!("create reply") };
    assert_eq!(created.lobby.id, created.lobby_id);
    assert_eq!(created.players.len(), 1);
    assert_eq!(created.players[0].status, PlayerStatus::Joined);
}

#[test]
fn a_newcomer_must_be_invited_and_the_lobby_waiting_and_not_full() {
    let mut t = Table::new(&[Region::Oceanie]);
    assert_eq!(t.err(Command::Join { player: profile("stranger") }), LobbyError::NotInvited);
    assert!(LobbyError::NotInvited.to_string().contains("pas autorisé"));

    let effects = t.add("bob");
    assert_eq!(kinds(&effects), ["persist:AddMember", "reply", "push:lobby_update"]);
    assert_eq!(reply(&effects), &Reply::Success);
    let (audience, _) = pushes(&effects, "lobby_update")[0];
    assert_eq!(audience.users(), ids(&["host", "bob"]).as_slice());

    let invite = t.invite_cmd("host", "carol", false);
    t.ok(invite);
    t.ready("host", true);
    t.ready("bob", true);
    assert_eq!(t.lobby.status(), GameStatus::Playing);
    assert_eq!(t.err(Command::Join { player: profile("carol") }), LobbyError::AlreadyStarted);
}

#[test]
fn the_eleventh_member_is_refused() {
    let mut t = Table::new(&[Region::Europe]);
    for i in 1..10 {
        t.add(&format!("p{i}"));
    }
    assert_eq!(t.lobby.members().len(), 10);
    let invite = t.invite_cmd("host", "late", true);
    t.ok(invite);
    assert_eq!(t.err(Command::Join { player: profile("late") }), LobbyError::Full);
}

#[test]
fn a_members_join_is_idempotent_and_keeps_progress_in_any_status() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.progress("bob", &["AUS", "FJI"], &["NCL"]);
    t.ok(Command::Dropped { user: uid("bob") });
    let effects = t.join("bob");
    assert_eq!(kinds(&effects), ["reply", "push:lobby_update"], "no write: nothing stored changed");
    let bob = t.member("bob");
    assert_eq!((bob.status, bob.score(), bob.connected, bob.grace_until), (PlayerStatus::Playing, 2, true, None));
    assert_eq!(bob.incorrect, ["NCL"]);
    let Event::LobbyUpdate(state) = pushes(&effects, "lobby_update")[0].1 else { panic!() };
    assert_eq!(state.players[1].validated_countries, ["AUS", "FJI"], "the client restores its game from these");
}

#[test]
fn leaving_twice_is_benign_and_the_user_stays_invited() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    let effects = t.leave("bob");
    assert_eq!(kinds(&effects), ["persist:RemoveMember", "reply", "push:player_left_game", "push:lobby_update"]);
    assert_eq!(reply(&effects), &Reply::SuccessMessage(LEFT_MESSAGE));
    let Event::PlayerLeftGame(left) = pushes(&effects, "player_left_game")[0].1 else { panic!() };
    assert_eq!((left.player_name.as_str(), left.timestamp), ("Bob", at(0).millis()));
    assert_eq!(pushes(&effects, "player_left_game")[0].0.users(), ids(&["host"]).as_slice());

    assert_eq!(kinds(&t.leave("bob")), ["reply"], "a second leave is a benign repeat");
    assert_eq!(kinds(&t.join("bob")), ["persist:AddMember", "reply", "push:lobby_update"], "still invited");
}

#[test]
fn the_host_leaving_hands_the_role_to_the_earliest_connected_member() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    t.add("carol");
    t.add("dave");
    t.ok(Command::Dropped { user: uid("bob") });
    let effects = t.leave("host");
    assert_eq!(t.lobby.host().as_str(), "carol", "bob joined first but is disconnected");
    assert_eq!(
        kinds(&effects),
        [
            "persist:RemoveMember",
            "persist:TransferHost",
            "reply",
            "push:player_left_game",
            "push:lobby_update",
            "audit"
        ]
    );
    let Event::LobbyUpdate(state) = pushes(&effects, "lobby_update")[0].1 else { panic!() };
    assert_eq!(state.host_id.as_str(), "carol");
    assert!(matches!(audits(&effects)[0], AuditEntry::HostTransferred { reason: TransferReason::Left, .. }));

    // Nobody connected: the earliest-joined member.
    t.ok(Command::Dropped { user: uid("dave") });
    t.ok(Command::Dropped { user: uid("carol") });
    t.leave("carol");
    assert_eq!(t.lobby.host().as_str(), "bob");
    // A former host who returns is an ordinary member.
    t.join("host");
    assert_eq!(t.lobby.host().as_str(), "bob");
}

#[test]
fn the_last_departure_resets_the_lobby_and_schedules_its_deletion() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.leave("bob");
    let effects = t.leave("host");
    assert_eq!(kinds(&effects), ["persist:RemoveMember", "persist:ResetEmpty", "reply"], "nobody left to tell");
    assert_eq!(t.lobby.status(), GameStatus::Waiting);
    assert_eq!(t.lobby.game(), None, "no results are stored");
    assert_eq!(t.lobby.next_deadline(), Some(at(180_000)));

    // An invited user joins within 180 s and becomes host; the deletion is cancelled.
    t.tick(179_000);
    let effects = t.join("bob");
    assert_eq!(kinds(&effects), ["persist:AddMember", "persist:TransferHost", "reply", "push:lobby_update"]);
    assert_eq!(t.lobby.host().as_str(), "bob");
    assert_eq!(t.lobby.next_deadline(), None);
}

#[test]
fn an_empty_lobby_is_deleted_after_180_s_and_then_answers_not_found() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.leave("host");
    assert!(t.advance(179_999).is_empty());
    assert_eq!(kinds(&t.advance(1)), ["persist:DeleteLobby", "dispose"]);
    assert!(t.lobby.is_deleted());
    assert_eq!(t.lobby.next_deadline(), None);
    assert_eq!(t.err(Command::Join { player: profile("host") }), LobbyError::NotFound);
    assert_eq!(reply(&t.leave("host")), &Reply::SuccessMessage(LEFT_MESSAGE));
    assert_eq!(t.err(Command::Kick { by: uid("host"), player: uid("bob") }), LobbyError::KickLobbyNotFound);
    assert_eq!(t.err(Command::GetResults { user: uid("host") }), LobbyError::ResultsLobbyNotFound);
    let effects = t.ok(Command::GetLobbyState { user: uid("host") });
    assert!(matches!(reply(&effects), Reply::LobbyState { state: None, .. }));
    let effects = t.ok(Command::GetGameState { user: uid("host") });
    assert!(matches!(reply(&effects), Reply::GameState { state: None, .. }));
}

#[test]
fn invitation_refusals_follow_the_protocol_order() {
    let mut t = Table::new(&[Region::Oceanie]);
    let invite = |by: &str, friend: &str, is_friend: bool| {
        Command::Invite(InviteRequest {
            by: uid(by),
            friend: uid(friend),
            is_friend,
            friend_online: false,
            invitation: crate::InvitationId::parse("i").unwrap(),
        })
    };
    assert_eq!(t.err(invite("stranger", "bob", false)), LobbyError::NotAllowedToInvite);
    assert_eq!(t.err(invite("host", "bob", false)), LobbyError::NotAFriend);
    t.add("carol");
    // Any member may invite their own friends.
    assert_eq!(reply(&t.ok(invite("carol", "bob", true))), &Reply::SuccessMessage(INVITED_MESSAGE));
    assert_eq!(reply(&t.ok(invite("host", "carol", true))), &Reply::SuccessMessage(ALREADY_MEMBER_MESSAGE));
    t.ready("host", true);
    t.ready("carol", true);
    assert_eq!(t.err(invite("host", "dave", true)), LobbyError::AlreadyStarted);
}

#[test]
fn an_online_friend_gets_the_invitation_now_naming_host_and_inviter() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("carol");
    let invite = t.invite_cmd("carol", "bob", true);
    let effects = t.ok(invite);
    assert_eq!(kinds(&effects), ["persist:Invite", "reply", "push:lobby_invitation"]);
    let (audience, Event::LobbyInvitation(push)) = pushes(&effects, "lobby_invitation")[0] else { panic!() };
    assert_eq!(audience, &Audience::User(uid("bob")));
    assert_eq!((push.host_id.as_str(), push.host_name.as_str()), ("host", "Host"));
    assert_eq!((push.inviter_id.as_str(), push.inviter_name.as_str()), ("carol", "Carol"));
    assert!(t.lobby.authorized().contains(&uid("bob")));
    // Delivered already: connecting later does not repeat it.
    assert!(t.ok(Command::Connected { user: uid("bob") }).is_empty());
}

#[test]
fn an_offline_friend_gets_the_invitation_once_at_their_next_connection() {
    let mut t = Table::new(&[Region::Oceanie]);
    let invite = t.invite_cmd("host", "bob", false);
    assert_eq!(kinds(&t.ok(invite)), ["persist:Invite", "reply"]);
    t.tick(59 * 60 * 1000);
    let effects = t.ok(Command::Connected { user: uid("bob") });
    assert_eq!(kinds(&effects), ["persist:InvitationEnded", "push:lobby_invitation"]);
    assert!(t.ok(Command::Connected { user: uid("bob") }).is_empty(), "delivered once");
}

#[test]
fn an_invitation_older_than_an_hour_or_replaced_or_used_is_not_delivered() {
    let mut t = Table::new(&[Region::Oceanie]);
    let invite = t.invite_cmd("host", "bob", false);
    t.ok(invite);
    t.tick(60 * 60 * 1000);
    assert_eq!(kinds(&t.ok(Command::Connected { user: uid("bob") })), ["persist:InvitationEnded"]);

    // A newer invitation replaces the older one: one delivery.
    t.add("carol");
    let first = t.invite_cmd("host", "dave", false);
    t.ok(first);
    let second = t.invite_cmd("carol", "dave", false);
    t.ok(second);
    let effects = t.ok(Command::Connected { user: uid("dave") });
    let (_, Event::LobbyInvitation(push)) = pushes(&effects, "lobby_invitation")[0] else { panic!() };
    assert_eq!(push.inviter_id.as_str(), "carol");

    // Joining ends a pending invitation.
    let invite = t.invite_cmd("host", "erin", false);
    t.ok(invite);
    t.join("erin");
    t.leave("erin");
    assert!(t.ok(Command::Connected { user: uid("erin") }).is_empty());
}

#[test]
fn kick_refusals_and_benign_repeat() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    let kick = |by: &str, player: &str| Command::Kick { by: uid(by), player: uid(player) };
    assert_eq!(t.err(kick("bob", "host")), LobbyError::KickOnlyHost);
    assert_eq!(t.err(kick("host", "host")), LobbyError::KickSelf);
    assert!(LobbyError::KickOnlyHost.to_string().starts_with("Impossible de supprimer le joueur: "));
    let effects = t.ok(kick("host", "nobody"));
    assert_eq!(kinds(&effects), ["persist:Kick", "reply"], "benign: no push");
    assert_eq!(reply(&effects), &Reply::PlayerRemoved { lobby_id: t.lobby.id().clone(), player_id: uid("nobody") });
}

#[test]
fn a_kicked_player_is_told_loses_the_invitation_and_cannot_rejoin() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    t.add("carol");
    let effects = t.ok(Command::Kick { by: uid("host"), player: uid("bob") });
    assert_eq!(kinds(&effects), ["persist:Kick", "reply", "push:lobby_update", "push:player_removed", "audit"]);
    assert_eq!(pushes(&effects, "lobby_update")[0].0.users(), ids(&["host", "carol"]).as_slice());
    assert_eq!(pushes(&effects, "player_removed")[0].0, &Audience::User(uid("bob")));
    assert!(matches!(&effects[0], Effect::Persist(Change::Kick { was_member: true, .. })));
    assert!(!t.lobby.authorized().contains(&uid("bob")));
    assert_eq!(t.err(Command::Join { player: profile("bob") }), LobbyError::NotInvited);
    // Invited again, they may.
    t.add("bob");
    assert_eq!(t.member_names(), ["host", "carol", "bob"]);
}

#[test]
fn kicking_the_last_unfinished_player_ends_the_game() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.tick(60_000);
    t.progress("host", &OCEANIE, &[]);
    let effects = t.ok(Command::Kick { by: uid("host"), player: uid("bob") });
    assert_eq!(
        kinds(&effects),
        [
            "persist:Kick",
            "reply",
            "push:lobby_update",
            "push:player_removed",
            "audit",
            "persist:FinishGame",
            "push:lobby_update",
            "push:game_end"
        ]
    );
    assert_eq!(t.lobby.status(), GameStatus::Finished);
}

#[test]
fn connection_changes_push_an_update_only_when_the_flag_changes() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    let effects = t.ok(Command::Dropped { user: uid("bob") });
    assert_eq!(kinds(&effects), ["push:lobby_update"]);
    assert!(!t.member("bob").connected);
    assert_eq!(t.member("bob").grace_until, Some(at(30_000)));
    assert!(t.ok(Command::Dropped { user: uid("bob") }).is_empty());
    assert_eq!(kinds(&t.ok(Command::Connected { user: uid("bob") })), ["push:lobby_update"]);
    assert_eq!(t.member("bob").grace_until, None);
    assert!(t.ok(Command::Connected { user: uid("bob") }).is_empty());
    assert!(t.ok(Command::Connected { user: uid("stranger") }).is_empty());
}
