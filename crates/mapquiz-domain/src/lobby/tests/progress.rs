//! Progress rules and fair play (§2.7.10, §3.4, issue 12 item 4).

use super::support::*;
use crate::Region;
use crate::lobby::*;
use std::time::Duration;

#[test]
fn progress_checks_come_in_the_protocol_order() {
    let mut t = Table::new(&[Region::Oceanie]);
    let invalid = |user: &str| Command::Progress { user: uid(user), lists: Err(LobbyError::InvalidProgress) };
    assert_eq!(t.err(invalid("stranger")), LobbyError::NotAMember);
    assert_eq!(t.err(invalid("host")), LobbyError::InvalidProgress);
    // Waiting: a benign, ignored update.
    assert_eq!(kinds(&t.progress("host", &["AUS"], &[])), ["reply"]);
    assert_eq!(t.member("host").score(), 0);
}

#[test]
fn list_shapes_are_checked() {
    let parse = |v: serde_json::Value| ProgressLists::parse(Some(&v), None);
    assert!(parse(serde_json::json!(["AUS", "FJI"])).is_ok());
    assert!(ProgressLists::parse(None, Some(&serde_json::Value::Null)).is_ok(), "missing counts as []");
    assert_eq!(parse(serde_json::json!("AUS")), Err(LobbyError::InvalidProgress));
    assert_eq!(parse(serde_json::json!([1])), Err(LobbyError::InvalidProgress));
    assert_eq!(parse(serde_json::json!([""])), Err(LobbyError::InvalidProgress));
    assert_eq!(parse(serde_json::json!(["ABCDEFGHI"])), Err(LobbyError::InvalidProgress));
    assert!(parse(serde_json::json!(vec!["AUS"; 500])).is_ok());
    assert_eq!(parse(serde_json::json!(vec!["AUS"; 501])), Err(LobbyError::InvalidProgress));
}

#[test]
fn merge_keeps_first_classification_and_counts_a_code_in_both_lists_as_incorrect() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    let effects = t.progress("bob", &["AUS", "FJI"], &["FJI", "NCL"]);
    assert_eq!(kinds(&effects), ["record", "reply", "push:update_player_progress"]);
    let bob = t.member("bob");
    assert_eq!((bob.validated.clone(), bob.incorrect.clone()), (vec!["AUS"], vec!["FJI", "NCL"]));
    // A later claim that NCL was right changes nothing; AUS stays validated.
    t.progress("bob", &["AUS", "NCL", "NZL"], &["AUS"]);
    let bob = t.member("bob");
    assert_eq!(bob.validated, ["AUS", "NZL"]);
    assert_eq!(bob.incorrect, ["FJI", "NCL"]);
    assert_eq!((bob.score(), bob.progress(7)), (2, 57));
    let Effect::RecordProgress(row) = &t.progress("bob", &["PNG"], &[])[0] else { panic!("a progress row") };
    assert_eq!((row.score, row.progress, row.status), (3, 71, PlayerStatus::Playing));
    assert_eq!(row.lobby, *t.lobby.id());
}

#[test]
fn the_client_score_is_never_trusted_and_out_of_region_codes_are_ignored_and_reported_once() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&[]);
    let effects = t.progress("host", &["AUS", "FRA", "ATF"], &[]);
    assert_eq!(t.member("host").score(), 1);
    let reported: Vec<_> = audits(&effects).into_iter().cloned().collect();
    assert_eq!(reported, [AuditEntry::IgnoredCodes { user: uid("host"), codes: vec!["FRA".into(), "ATF".into()] }]);
    // The cumulative list repeats them: not reported again.
    let effects = t.progress("host", &["AUS", "FRA", "ATF", "FJI"], &[]);
    assert!(audits(&effects).is_empty());
    assert_eq!(t.member("host").score(), 2);
}

#[test]
fn a_stale_shorter_final_update_changes_nothing_and_is_not_an_error() {
    let mut t = Table::new(&[Region::Oceanie]);
    t.start_with(&["bob"]);
    t.tick(15_000);
    let effects = t.progress("bob", &OCEANIE, &[]);
    assert_eq!(t.member("bob").status, PlayerStatus::Finished);
    assert_eq!(t.member("bob").completion_secs, Some(15));
    assert_eq!(pushes(&effects, "game_end").len(), 0, "the host still plays");
    // The client's quirk: 7/7 then 6/7.
    assert_eq!(kinds(&t.progress("bob", &OCEANIE[..6], &[])), ["reply"]);
    let bob = t.member("bob");
    assert_eq!((bob.score(), bob.progress(7), bob.status), (7, 100, PlayerStatus::Finished));
    // After the end too.
    t.progress("host", &OCEANIE, &[]);
    assert_eq!(t.lobby.status(), GameStatus::Finished);
    assert_eq!(kinds(&t.progress("host", &OCEANIE[..6], &[])), ["reply"]);
}

/// Plays a whole region the way the client does: one answer per update, cumulative lists, two seconds apart.
fn play_region(region: Region) -> Table {
    let mut t = Table::new(&[region]);
    t.start_with(&[]);
    let codes = region.codes();
    for n in 1..=codes.len() {
        t.tick(2_000);
        let (validated, incorrect) = codes[..n].split_at(n / 2);
        t.progress("host", validated, incorrect);
    }
    t
}

#[test]
fn afrique_and_asie_games_finish_on_distinct_codes() {
    for (region, total) in [(Region::Afrique, 49), (Region::Asie, 46)] {
        let t = play_region(region);
        assert_eq!(t.lobby.game().unwrap().total(), total);
        assert_eq!(t.lobby.status(), GameStatus::Finished, "{region} ends");
        assert_eq!(t.member("host").progress(total), 100);
    }
}

#[test]
fn too_many_new_codes_in_one_update_flag_the_result_but_the_game_goes_on() {
    let mut t = Table::new(&[Region::Europe]);
    t.start_with(&["bob"]);
    t.tick(60_000);
    let eleven: Vec<&str> = Region::Europe.codes()[..11].to_vec();
    let effects = t.progress("bob", &eleven, &[]);
    assert!(t.member("bob").flagged);
    assert_eq!(
        audits(&effects)[0],
        &AuditEntry::Flagged { user: uid("bob"), reason: FlagReason::Burst { new_codes: 11 } }
    );
    t.tick(600_000);
    let effects = t.progress("bob", Region::Europe.codes(), &[]);
    assert!(audits(&effects).is_empty(), "flagged once");
    t.leave("host");
    assert_eq!(t.lobby.status(), GameStatus::Finished, "the game still ends normally");
    assert_eq!(t.lobby.rankings()[0].score, 39);
    assert!(t.member("bob").flagged);
}

#[test]
fn ten_new_codes_in_one_update_are_not_a_burst() {
    let mut t = Table::new(&[Region::Europe]);
    t.start_with(&[]);
    t.tick(60_000);
    t.progress("host", &Region::Europe.codes()[..10], &[]);
    assert!(!t.member("host").flagged);
}

#[test]
fn validating_faster_than_the_floor_flags_at_the_end_and_wrong_answers_do_not_count() {
    let fair = FairPlayConfig { max_new_codes_per_update: 100, ..FairPlayConfig::default() };
    let config = LobbyConfig { fair_play: fair, ..LobbyConfig::default() };

    // 7 validated in 7 s: 1 s each, under 1.5 s.
    let mut t = Table::with_config(&[Region::Oceanie], config);
    t.start_with(&[]);
    t.tick(7_000);
    let effects = t.progress("host", &OCEANIE, &[]);
    assert_eq!(t.lobby.status(), GameStatus::Finished);
    let flagged = audits(&effects).into_iter().cloned().collect::<Vec<_>>();
    let reason = FlagReason::TooFast { avg_ms_per_country: 1_000, validated: 7 };
    assert_eq!(flagged, [AuditEntry::Flagged { user: uid("host"), reason }]);
    let Some(Effect::Persist(Change::FinishGame { results, .. })) =
        effects.iter().find(|e| matches!(e, Effect::Persist(Change::FinishGame { .. })))
    else {
        panic!()
    };
    assert!(results[0].flagged);

    // 5 validated in 8 s (1.6 s each), then two skipped at once: skips neither help nor hurt.
    let mut t = Table::with_config(&[Region::Oceanie], config);
    t.start_with(&[]);
    t.tick(8_000);
    t.progress("host", &OCEANIE[..5], &[]);
    t.tick(100);
    t.progress("host", &OCEANIE[..5], &OCEANIE[5..]);
    assert_eq!(t.lobby.status(), GameStatus::Finished);
    assert!(!t.member("host").flagged);

    // Fewer validated countries than the sample: not judged.
    let mut t = Table::with_config(&[Region::Oceanie], config);
    t.start_with(&[]);
    t.tick(1_000);
    t.progress("host", &OCEANIE[..4], &OCEANIE[4..]);
    assert!(!t.member("host").flagged);
}

#[test]
fn the_floor_is_configurable() {
    let fair = FairPlayConfig { min_time_per_country: Duration::from_millis(500), ..FairPlayConfig::default() };
    let mut t = Table::with_config(&[Region::Oceanie], LobbyConfig { fair_play: fair, ..LobbyConfig::default() });
    t.start_with(&[]);
    t.tick(7_000);
    t.progress("host", &OCEANIE, &[]);
    assert!(!t.member("host").flagged);
}
