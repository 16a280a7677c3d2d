//! Disconnect grace, idle and empty-lobby timers, and restore after a restart (§3.8, §3.10, §3.11).

use super::support::*;
use crate::Region;
use crate::lobby::*;

#[test]
fn grace_expiry_in_a_waiting_lobby_removes_the_member_as_a_leave_does() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    t.ok(Command::Dropped { user: uid("host") });
    assert_eq!(t.lobby.next_deadline(), Some(at(30_000)));
    assert!(t.advance(29_999).is_empty());
    let effects = t.advance(1);
    assert_eq!(
        kinds(&effects),
        ["persist:RemoveMember", "persist:TransferHost", "push:player_left_game", "push:lobby_update", "audit"],
        "no reply: nobody asked"
    );
    assert_eq!(t.member_names(), ["bob"]);
    assert_eq!(t.lobby.host().as_str(), "bob");
    assert!(t.lobby.authorized().contains(&uid("host")), "the invitation is kept");
    t.join("host");
}

#[test]
fn reconnecting_within_the_grace_cancels_it_and_a_late_timer_does_nothing() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    t.ok(Command::Dropped { user: uid("bob") });
    t.tick(10_000);
    t.ok(Command::Connected { user: uid("bob") });
    t.tick(30_000);
    assert!(t.lobby.due_timers(t.now).is_empty());
    assert!(t.ok(Command::TimerFired(Timer::Grace(uid("bob")))).is_empty());
    assert!(t.ok(Command::TimerFired(Timer::EmptyLobby)).is_empty());
    assert!(t.ok(Command::TimerFired(Timer::Idle)).is_empty());
    assert_eq!(t.member_names(), ["host", "bob"]);
}

#[test]
fn a_disconnected_player_past_the_grace_no_longer_blocks_the_end_and_is_ranked() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.progress("bob", &OCEANIE[..3], &[]);
    t.tick(50_000);
    t.ok(Command::Dropped { user: uid("bob") });
    t.tick(5_000);
    t.progress("host", &OCEANIE, &[]);
    assert_eq!(t.lobby.status(), GameStatus::Playing, "bob is still within the grace");
    let effects = t.advance(25_000);
    assert_eq!(kinds(&effects), ["persist:FinishGame", "push:lobby_update", "push:game_end"]);
    assert_eq!(t.lobby.status(), GameStatus::Finished);
    let ranks: Vec<(&str, u32, Option<u32>)> =
        t.lobby.rankings().iter().map(|r| (r.id.as_str(), r.rank, r.completion_time)).collect();
    assert_eq!(ranks, [("host", 1, Some(55)), ("bob", 2, None)]);
}

#[test]
fn an_away_player_who_returns_must_finish() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob", "carol"]);
    t.ok(Command::Dropped { user: uid("bob") });
    t.advance(30_000);
    assert!(t.member("bob").away);
    t.join("bob");
    assert!(!t.member("bob").away);
    t.progress("host", &OCEANIE, &[]);
    t.progress("carol", &OCEANIE, &[]);
    assert_eq!(t.lobby.status(), GameStatus::Playing, "bob is back and has not finished");
    t.progress("bob", &[], &OCEANIE);
    assert_eq!(t.lobby.status(), GameStatus::Finished);
}

#[test]
fn the_host_disconnecting_past_the_grace_hands_over_the_role_in_game_and_after() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.ok(Command::Dropped { user: uid("host") });
    let effects = t.advance(30_000);
    assert_eq!(kinds(&effects), ["persist:TransferHost", "push:lobby_update", "audit"]);
    assert_eq!(t.lobby.host().as_str(), "bob");
    assert_eq!(t.member_names(), ["host", "bob"], "the former host stays a member in a game");

    // Finished lobby: the new host can restart; the away former host is dropped by it.
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.progress("host", &OCEANIE, &[]);
    t.progress("bob", &OCEANIE, &[]);
    t.ok(Command::Dropped { user: uid("host") });
    let effects = t.advance(30_000);
    assert!(matches!(audits(&effects)[0], AuditEntry::HostTransferred { reason: TransferReason::GraceExpired, .. }));
    t.ok(Command::Restart { by: uid("bob") });
    assert_eq!(t.member_names(), ["bob"]);
}

#[test]
fn a_lonely_host_past_the_grace_keeps_the_role() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&[]);
    t.progress("host", &OCEANIE[..2], &[]);
    t.ok(Command::Dropped { user: uid("host") });
    let effects = t.advance(30_000);
    assert_eq!(kinds(&effects), ["persist:FinishGame", "push:lobby_update", "push:game_end"]);
    assert_eq!(t.lobby.host().as_str(), "host");
}

#[test]
fn a_lobby_nobody_is_connected_to_is_deleted_after_the_idle_time() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.ok(Command::Dropped { user: uid("host") });
    t.tick(1_000);
    t.ok(Command::Dropped { user: uid("bob") });
    assert_eq!(t.lobby.next_deadline(), Some(at(30_000)));
    t.advance(30_000);
    t.advance(1_000);
    assert_eq!(t.lobby.status(), GameStatus::Finished);
    // The idle time counts from the moment the last member disconnected (1 s in).
    assert!(t.advance(1_000 + 30 * 60 * 1000 - 32_000 - 1).is_empty());
    assert_eq!(kinds(&t.advance(1)), ["persist:DeleteLobby", "dispose"], "30 min after the last one left");
}

#[test]
fn a_connection_cancels_the_idle_deletion() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&[]);
    t.ok(Command::Dropped { user: uid("host") });
    t.advance(60_000);
    t.ok(Command::Connected { user: uid("host") });
    assert_eq!(t.lobby.next_deadline(), None);
    assert!(t.advance(60 * 60 * 1000).is_empty());
    assert!(!t.lobby.is_deleted());
}

fn stored_member(name: &str, status: PlayerStatus, validated: &[&str], joined: i64) -> StoredMember {
    StoredMember {
        profile: profile(name),
        status,
        validated: validated.iter().map(|s| (*s).to_owned()).collect(),
        incorrect: vec![],
        completion_secs: None,
        flagged: false,
        joined_at: at(joined),
    }
}

fn stored_game(members: Vec<StoredMember>) -> StoredLobby {
    StoredLobby {
        id: crate::LobbyId::parse("lobby-1").unwrap(),
        name: "Soirée".into(),
        host: uid("host"),
        status: GameStatus::Playing,
        settings: settings(&[Region::Oceanie]),
        authorized: ids(&["host", "bob"]),
        start_time: Some(at(0)),
        required_codes: OCEANIE.iter().map(|s| (*s).to_owned()).collect(),
        created_at: at(-1_000),
        members,
        invitations: vec![],
        results: vec![],
    }
}

#[test]
fn a_restored_game_goes_on_with_progress_intact_and_timers_from_start_up() {
    let members = vec![
        stored_member("bob", PlayerStatus::Playing, &["FJI", "AUS", "FRA"], 10),
        stored_member("host", PlayerStatus::Playing, &["NZL"], 0),
    ];
    let now = at(600_000);
    let (mut lobby, effects) = Lobby::restore(stored_game(members), LobbyConfig::default(), now);
    assert!(effects.is_empty(), "nothing to repair, nothing pushed");
    assert_eq!(lobby.members().iter().map(|m| m.id().as_str()).collect::<Vec<_>>(), ["host", "bob"]);
    assert!(lobby.members().iter().all(|m| !m.connected && m.grace_until == Some(at(630_000))));
    assert_eq!(lobby.member(&uid("bob")).unwrap().validated, ["FJI", "AUS"], "codes outside the game dropped");
    assert_eq!(lobby.next_deadline(), Some(at(630_000)));

    let effects = lobby.apply(Command::Join { player: profile("bob") }, now).unwrap();
    let Event::LobbyUpdate(state) = pushes(&effects, "lobby_update")[0].1 else { panic!() };
    assert_eq!((state.status, state.players[1].score, state.players[1].progress), (GameStatus::Playing, 2, 28));
    let lists = ProgressLists::new(OCEANIE.iter().map(|s| (*s).to_owned()).collect(), vec![]);
    lobby.apply(Command::Progress { user: uid("bob"), lists: lists.clone() }, now).unwrap();
    lobby.apply(Command::Join { player: profile("host") }, now).unwrap();
    let effects = lobby.apply(Command::Progress { user: uid("host"), lists }, now).unwrap();
    assert_eq!(pushes(&effects, "game_end").len(), 1, "the game finishes after the restart");
}

#[test]
fn a_restored_game_whose_players_had_all_finished_ends_without_pushing() {
    let members = vec![stored_member("host", PlayerStatus::Playing, &OCEANIE, 0)];
    let (lobby, effects) = Lobby::restore(stored_game(members), LobbyConfig::default(), at(90_000));
    assert_eq!(kinds(&effects), ["persist:FinishGame"]);
    assert_eq!(lobby.status(), GameStatus::Finished);
    assert_eq!(lobby.rankings()[0].completion_time, Some(90));
}

#[test]
fn restore_repairs_a_host_who_is_not_a_member_and_schedules_empty_deletion() {
    let mut stored = stored_game(vec![stored_member("bob", PlayerStatus::Playing, &[], 5)]);
    stored.host = uid("gone");
    let (lobby, effects) = Lobby::restore(stored, LobbyConfig::default(), at(0));
    assert_eq!(kinds(&effects), ["persist:TransferHost"]);
    assert_eq!(lobby.host().as_str(), "bob");

    let (lobby, effects) = Lobby::restore(stored_game(vec![]), LobbyConfig::default(), at(0));
    assert_eq!(kinds(&effects), ["persist:ResetEmpty"]);
    assert_eq!(lobby.status(), GameStatus::Waiting);
    assert_eq!(lobby.next_deadline(), Some(at(180_000)));
}

#[test]
fn restore_keeps_a_finished_games_results_and_pending_invitations() {
    let mut stored = stored_game(vec![
        stored_member("host", PlayerStatus::Finished, &OCEANIE, 0),
        stored_member("bob", PlayerStatus::Playing, &OCEANIE[..2], 1),
    ]);
    stored.status = GameStatus::Finished;
    stored.results = vec![
        StoredResult { user: uid("host"), name: "Host".into(), score: 7, completion_secs: Some(30) },
        StoredResult { user: uid("bob"), name: "Bob".into(), score: 2, completion_secs: None },
    ];
    let (mut lobby, effects) = Lobby::restore(stored, LobbyConfig::default(), at(100_000));
    assert!(effects.is_empty());
    let effects = lobby.apply(Command::GetResults { user: uid("bob") }, at(100_000)).unwrap();
    let Reply::Results { rankings, .. } = reply(&effects) else { panic!() };
    assert_eq!(rankings.iter().map(|r| r.rank).collect::<Vec<_>>(), [1, 2]);
    lobby.apply(Command::Restart { by: uid("host") }, at(100_000)).unwrap();
    assert_eq!(lobby.status(), GameStatus::Waiting, "restart works after a server restart");

    let mut stored = stored_game(vec![stored_member("host", PlayerStatus::Joined, &[], 0)]);
    stored.status = GameStatus::Waiting;
    stored.invitations = vec![StoredInvitation {
        row: InvitationRow {
            id: crate::InvitationId::parse("inv").unwrap(),
            inviter: uid("host"),
            invitee: uid("bob"),
            created_at: at(0),
            delivered: false,
        },
        inviter_name: "Host".into(),
    }];
    let (mut lobby, _) = Lobby::restore(stored, LobbyConfig::default(), at(1_000));
    let effects = lobby.apply(Command::Connected { user: uid("bob") }, at(2_000)).unwrap();
    assert_eq!(kinds(&effects), ["persist:InvitationEnded", "push:lobby_invitation"]);
}
