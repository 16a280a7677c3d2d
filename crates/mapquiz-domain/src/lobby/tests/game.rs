//! Ready, settings, start, end, results and restart (§2.7.7–§2.7.9, §2.7.11–§2.7.14, §3.3, §3.6).

use super::support::*;
use crate::lobby::*;
use crate::{Region, scores::GameMode};

fn settings_cmd(by: &str, regions: &[Region]) -> Command {
    Command::UpdateSettings { by: uid(by), settings: Ok(SettingsUpdate { regions: regions.to_vec(), mode: None }) }
}

#[test]
fn a_single_member_lobby_starts_when_its_host_is_ready() {
    let mut t = Table::new(&[Region::Oceanie]);
    let effects = t.ready("host", true);
    assert_eq!(
        kinds(&effects),
        [
            "persist:SetMemberStatus",
            "reply",
            "push:lobby_update",
            "persist:StartGame",
            "push:game_start",
            "push:lobby_update"
        ]
    );
    assert_eq!(t.lobby.status(), GameStatus::Playing);
    assert_eq!(t.member("host").status, PlayerStatus::Playing);
    let Event::GameStart(start) = pushes(&effects, "game_start")[0].1 else { panic!() };
    assert_eq!((start.total_questions, start.start_time), (7, at(0)));
    let Event::LobbyUpdate(state) = pushes(&effects, "lobby_update")[1].1 else { panic!() };
    assert_eq!(state.status, GameStatus::Playing);
}

#[test]
fn the_game_waits_for_every_member_including_those_in_grace() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    t.ready("host", true);
    t.ok(Command::Dropped { user: uid("bob") });
    assert_eq!(t.lobby.status(), GameStatus::Waiting);
    // Ready again is a benign repeat: success and an update, no write.
    assert_eq!(kinds(&t.ready("host", true)), ["reply", "push:lobby_update"]);
    t.ready("bob", true);
    assert_eq!(t.lobby.status(), GameStatus::Playing);
}

#[test]
fn start_pushes_once_and_resets_every_member() {
    let mut t = Table::new(&[Region::Asie]);
    let effects = t.start_with(&["bob", "carol"]);
    assert_eq!(pushes(&effects, "game_start").len(), 1);
    let Event::GameStart(start) = pushes(&effects, "game_start")[0].1 else { panic!() };
    assert_eq!(start.total_questions, 46, "distinct codes, not the client's 47 entries");
    assert!(t.lobby.members().iter().all(|m| m.status == PlayerStatus::Playing && m.score() == 0));
    // Readiness after the start is a benign late click.
    assert_eq!(kinds(&t.ready("bob", false)), ["reply"]);
    assert_eq!(t.member("bob").status, PlayerStatus::Playing);
}

#[test]
fn status_checks_come_in_the_protocol_order() {
    let mut t = Table::new(&[Region::Oceanie]);
    let stranger_invalid = Command::SetReady { user: uid("stranger"), ready: Err(LobbyError::InvalidStatus) };
    assert_eq!(t.err(stranger_invalid), LobbyError::NotAMember);
    let invalid = Command::SetReady { user: uid("host"), ready: Err(LobbyError::InvalidStatus) };
    assert_eq!(t.err(invalid), LobbyError::InvalidStatus);
    assert_eq!(parse_status(Some(&serde_json::json!("banana"))), Err(LobbyError::InvalidStatus));
    assert_eq!(parse_status(Some(&serde_json::json!("ready"))), Ok(true));
    assert_eq!(parse_ready(Some(&serde_json::json!(false))), Ok(false));
    assert_eq!(parse_ready(Some(&serde_json::json!("true"))), Err(LobbyError::InvalidStatus));
}

#[test]
fn settings_are_the_hosts_while_waiting_and_may_be_emptied_mid_edit() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    assert_eq!(t.err(settings_cmd("bob", &[Region::Europe])), LobbyError::OnlyHostSettings);
    let invalid = Command::UpdateSettings { by: uid("host"), settings: Err(LobbyError::InvalidSettings) };
    assert_eq!(t.err(invalid), LobbyError::InvalidSettings);

    let effects = t.ok(settings_cmd("host", &[]));
    assert_eq!(kinds(&effects), ["persist:SetSettings", "reply", "push:lobby_update"]);
    assert_eq!(t.lobby.settings().mode, GameMode::Quiz, "a missing gameMode keeps the mode");
    t.ready("host", true);
    t.ready("bob", true);
    assert_eq!(t.lobby.status(), GameStatus::Waiting, "no region: no start");
    let effects = t.ok(settings_cmd("host", &[Region::AmeriqueDuSud]));
    assert_eq!(pushes(&effects, "game_start").len(), 1, "a settings change re-evaluates auto-start");
    assert_eq!(t.err(settings_cmd("host", &[Region::Europe])), LobbyError::AlreadyStarted);
}

#[test]
fn start_game_refusals_and_the_benign_repeat() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.add("bob");
    assert_eq!(t.err(Command::Start { by: uid("bob") }), LobbyError::OnlyHostStart);
    t.ok(settings_cmd("host", &[]));
    assert_eq!(t.err(Command::Start { by: uid("host") }), LobbyError::NoRegionSelected);
    t.ok(settings_cmd("host", &[Region::Oceanie]));
    let effects = t.ok(Command::Start { by: uid("host") });
    assert_eq!(kinds(&effects), ["persist:StartGame", "reply", "push:game_start", "push:lobby_update"]);
    assert_eq!(kinds(&t.ok(Command::Start { by: uid("host") })), ["reply"], "no second start");
    t.progress("host", &OCEANIE, &[]);
    t.progress("bob", &OCEANIE, &[]);
    assert_eq!(t.err(Command::Start { by: uid("host") }), LobbyError::AlreadyFinished);
}

#[test]
fn the_last_finisher_ends_the_game_with_stored_results_then_pushes() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob", "carol"]);
    t.tick(20_500);
    t.progress("bob", &OCEANIE, &[]);
    t.tick(10_000);
    t.progress("host", &OCEANIE[..5], &OCEANIE[5..]);
    t.tick(10_000);
    let effects = t.progress("carol", &OCEANIE, &[]);
    assert_eq!(
        kinds(&effects),
        ["record", "reply", "push:update_player_progress", "persist:FinishGame", "push:lobby_update", "push:game_end"]
    );
    let Some(Effect::Persist(Change::FinishGame { total_questions, results, game_started_at })) =
        effects.iter().find(|e| matches!(e, Effect::Persist(Change::FinishGame { .. })))
    else {
        panic!()
    };
    assert_eq!((*total_questions, *game_started_at), (7, at(0)));
    let summary: Vec<(&str, u32, u32, Option<u32>)> =
        results.iter().map(|r| (r.user.as_str(), r.score, r.position, r.completion_secs)).collect();
    assert_eq!(summary, [("bob", 7, 1, Some(20)), ("carol", 7, 1, Some(40)), ("host", 5, 3, Some(30))]);

    let effects = t.ok(Command::GetResults { user: uid("carol") });
    let Reply::Results { rankings, host_id, .. } = reply(&effects) else { panic!() };
    assert_eq!(host_id.as_str(), "host");
    assert_eq!(rankings.iter().map(|r| r.rank).collect::<Vec<_>>(), [1, 1, 3]);
}

#[test]
fn results_refusals() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    let err = t.err(Command::GetResults { user: uid("bob") });
    assert_eq!(err, LobbyError::ResultsNotFinished);
    assert!(err.to_string().contains("pas encore terminée"));
    assert_eq!(t.err(Command::GetResults { user: uid("stranger") }), LobbyError::ResultsNotAMember);
}

#[test]
fn state_queries_answer_members_and_null_for_others() {
    let mut t = Table::new(&[Region::Oceanie]);
    let effects = t.ok(Command::GetGameState { user: uid("host") });
    let Reply::GameState { state: Some(state), .. } = reply(&effects) else { panic!() };
    assert_eq!((state.start_time, state.total_questions), (None, None), "null while waiting");
    t.start_with(&[]);
    t.tick(1_000);
    let effects = t.ok(Command::GetGameState { user: uid("host") });
    assert_eq!(kinds(&effects), ["reply"], "never a broadcast");
    let Reply::GameState { state: Some(state), .. } = reply(&effects) else { panic!() };
    assert_eq!((state.start_time, state.total_questions), (Some(at(0)), Some(7)));
    let effects = t.ok(Command::GetLobbyState { user: uid("stranger") });
    assert!(matches!(reply(&effects), Reply::LobbyState { state: None, .. }));
    let effects = t.ok(Command::GetLobbyState { user: uid("host") });
    assert!(matches!(reply(&effects), Reply::LobbyState { state: Some(_), .. }));
}

#[test]
fn restart_is_the_hosts_resets_everyone_and_drops_away_members() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["away", "bob"]);
    t.progress("bob", &OCEANIE[..3], &[]);
    t.ok(Command::Dropped { user: uid("away") });
    t.advance(30_000);
    assert!(t.member("away").away);
    assert_eq!(t.err(Command::Restart { by: uid("bob") }), LobbyError::OnlyHostRestart);

    let effects = t.ok(Command::Restart { by: uid("host") });
    assert_eq!(kinds(&effects), ["persist:RestartGame", "reply", "push:lobby_update", "push:game_restarted"]);
    assert!(matches!(&effects[0], Effect::Persist(Change::RestartGame { removed }) if *removed == ids(&["away"])));
    assert_eq!(t.member_names(), ["host", "bob"]);
    assert_eq!(t.lobby.status(), GameStatus::Waiting);
    let bob = t.member("bob");
    assert_eq!((bob.status, bob.score(), bob.validated.len()), (PlayerStatus::Joined, 0, 0));
    assert_eq!(t.lobby.game(), None);
    assert_eq!(kinds(&t.ok(Command::Restart { by: uid("host") })), ["reply"], "a repeat while waiting");
    // The game can be played again.
    t.ready("host", true);
    t.ready("bob", true);
    assert_eq!(t.lobby.status(), GameStatus::Playing);
}

#[test]
fn restart_after_a_finished_game_clears_the_rankings() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&[]);
    t.progress("host", &OCEANIE, &[]);
    assert_eq!(t.lobby.rankings().len(), 1);
    t.ok(Command::Restart { by: uid("host") });
    assert!(t.lobby.rankings().is_empty());
    assert_eq!(t.err(Command::GetResults { user: uid("host") }), LobbyError::ResultsNotFinished);
}
