//! How `mapquiz import-original` runs: `--since` reads only what changed, `--dry-run` counts without writing,
//! the exit status tells skips apart from success, and failures are clear without leaking the source's
//! password.

use super::fixture::{Clean, Fixture, TABLES};
use super::source::{OriginalDb, iso, utc_now};
use super::{assert_report, get, import, import_original, migrated_target, open_store, serve, target_counts};
use crate::support::auth::{cookie_for, session_of};
use crate::support::on_both_backends;
use mapquiz_domain::Timestamp;
use mapquiz_store::UserSearch;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(
    since_reads_only_rows_changed_after_it,
    a_dry_run_reports_what_the_real_run_does_and_writes_nothing,
    skips_and_conflicts_exit_3_unless_accepted,
    a_clean_source_exits_0_even_with_rows_left_behind,
    an_unreachable_source_exits_1_without_showing_its_password,
);

async fn since_reads_only_rows_changed_after_it(postgres: bool) {
    let Some(source) = OriginalDb::create().await else { return };
    let Some(db) = migrated_target(postgres).await else { return };
    let fx = Fixture::seed(&source, None).await;
    let first = import(&db, source.url(), &["--accept-skips"]).await;
    first.assert_exit(0);
    assert_report(&first, &fx.expected_report(false));

    // The original stays in use after the first import; the next run catches up from a time between.
    let since = utc_now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let added = fx.play_on(&source, utc_now()).await;
    let run = import(&db, source.url(), &["--since", &iso(since)]).await;
    run.assert_exit(0);
    assert_eq!(
        run.documented_tables(),
        Fixture::expected_tables_since_play_on(false),
        "only the changed rows are read"
    );
    let echoed = run.report()["since"].as_str().unwrap_or_else(|| panic!("since is echoed: {}", run.report()));
    let echoed = chrono::DateTime::parse_from_rfc3339(echoed).unwrap_or_else(|e| panic!("{echoed}: {e}"));
    assert_eq!(echoed.timestamp_millis(), since.and_utc().timestamp_millis(), "the instant asked for");
    // An age works as well: every other row of the fixture is more than an hour old.
    let rerun = import(&db, source.url(), &["--since", "1h"]).await;
    rerun.assert_exit(0);
    assert_eq!(rerun.documented_tables(), Fixture::expected_tables_since_play_on(true), "--since 1h");

    let app = serve(db, None).await;
    let nina = cookie_for(&added.nina_live.token);
    assert_eq!(session_of(&app, &nina).await["user"]["id"], added.nina.id.as_str(), "Nina's session came along");
    let (_, tom) = get(&app, &nina, &format!("/api/users/{}", fx.tom.id)).await;
    assert_eq!(tom["user"]["name"], "Tommy", "Tom's new name replaced the imported one: {tom}");
    let ada = cookie_for(&fx.ada_live.token);
    let (_, friends) = get(&app, &ada, "/api/friends/list").await;
    let mut ids: Vec<&str> = friends["friends"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut expected = vec![&fx.bob.id, &fx.carol.id, &fx.erin.id, &fx.frank.id, &added.nina.id];
    expected.sort_unstable();
    assert_eq!(ids, expected, "Nina and Frank joined Ada's friends: {friends}");
    let (_, requests) = get(&app, &ada, "/api/friends/requests").await;
    assert_eq!(requests["friendRequests"], json!([]), "Frank's request, accepted since, is no longer pending");
    let accepted = app.state.store.friend_request(&fx.frank_to_ada.id).await.unwrap().map(|r| r.status.as_str());
    assert_eq!(accepted, Some("accepted"));
    let (_, requests) = get(&app, &cookie_for(&fx.bob_live.token), "/api/friends/requests").await;
    let ids: Vec<&Value> = requests["friendRequests"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, vec![&json!(added.nina_to_bob.id)], "Bob has Nina's request: {requests}");
    let (_, history) = get(&app, &nina, "/api/scores/history").await;
    assert_eq!(
        history,
        json!([{"score": 10, "duration": 30, "selectedRegions": ["Europe"], "date": history[0]["date"],
                "createdAt": iso(added.nina_quiz.created_at)}]),
        "Nina's quiz"
    );
    let (_, board) = get(&app, &nina, "/api/leaderboards?regions=Europe").await;
    let on_board: Vec<&Value> = board["entries"].as_array().unwrap().iter().map(|e| &e["user"]["id"]).collect();
    assert!(on_board.contains(&&json!(added.nina.id)), "Nina's quiz is on the Europe board: {board}");
    assert_eq!(on_board.len(), 3, "Nina, Bob and Ada, each once: {board}");
}

async fn a_dry_run_reports_what_the_real_run_does_and_writes_nothing(postgres: bool) {
    let Some(source) = OriginalDb::create().await else { return };
    let Some(db) = migrated_target(postgres).await else { return };
    let fx = Fixture::seed(&source, None).await;
    let empty = target_counts(&db).await;
    assert!(empty.iter().all(|(_, n)| *n == 0), "a migrated target is empty: {empty:?}");

    let dry = import(&db, source.url(), &["--dry-run"]).await;
    dry.assert_exit(3);
    assert_report(&dry, &fx.expected_report(true));
    assert_eq!(target_counts(&db).await, empty, "a dry run writes no row");
    let store = open_store(&db).await;
    let everyone = UserSearch { exclude_id: String::new(), prefix: None, after: None, limit: 100 };
    assert_eq!(store.search_users(&everyone).await.unwrap(), vec![], "no user after a dry run");
    let epoch = Timestamp::from_millis(0).unwrap();
    let audit = store.audit_since(None, epoch, 100).await.unwrap();
    assert!(audit.is_empty(), "a dry run is not audited: {audit:?}");
    store.close().await;

    let real = import(&db, source.url(), &[]).await;
    real.assert_exit(3);
    assert_report(&real, &fx.expected_report(false));
    assert_eq!(real.documented_tables(), dry.documented_tables(), "the dry run counted what the real run did");
    assert_eq!(real.report()["not_imported"], dry.report()["not_imported"]);
    let written = target_counts(&db).await;
    assert!(written.iter().all(|(_, n)| *n > 0), "the real run wrote every table: {written:?}");
}

async fn skips_and_conflicts_exit_3_unless_accepted(postgres: bool) {
    let Some(source) = OriginalDb::create().await else { return };
    let fx = Fixture::seed(&source, None).await;
    let Some(refused) = migrated_target(postgres).await else { return };
    let Some(accepted) = migrated_target(postgres).await else { return };

    let run = import(&refused, source.url(), &[]).await;
    run.assert_exit(3);
    assert_report(&run, &fx.expected_report(false));
    assert!(!run.stderr.trim().is_empty(), "the operator is told why the status is 3");
    let store = open_store(&refused).await;
    assert!(store.user_by_id(&fx.ada.id).await.unwrap().is_some(), "the data is imported all the same");
    store.close().await;

    let run = import(&accepted, source.url(), &["--accept-skips"]).await;
    run.assert_exit(0);
    assert_report(&run, &fx.expected_report(false));
}

async fn a_clean_source_exits_0_even_with_rows_left_behind(postgres: bool) {
    let Some(source) = OriginalDb::create().await else { return };
    let Some(db) = migrated_target(postgres).await else { return };
    let clean = Clean::seed(&source).await;
    let run = import(&db, source.url(), &[]).await;
    run.assert_exit(0);
    assert_report(&run, &Clean::expected_report());

    // Everything already imported, the expired session and the old rejection still left behind: still 0.
    let again = import(&db, source.url(), &[]).await;
    again.assert_exit(0);
    let first = Clean::expected_report();
    for (i, table) in TABLES.iter().enumerate() {
        let line = again.line(table);
        let was = &first["tables"][i];
        assert_eq!((&line["imported"], &line["already_imported"]), (&json!(0), &was["imported"]), "{table}: {line}");
    }

    let app = serve(db, None).await;
    let zoe = session_of(&app, &cookie_for(&clean.zoe_live.token)).await;
    assert_eq!(zoe["user"]["id"], clean.zoe.id.as_str(), "{zoe}");
}

async fn an_unreachable_source_exits_1_without_showing_its_password(postgres: bool) {
    let Some(db) = TestDatabase::new(postgres).await else { return };
    // Nothing listens on port 1 of the loopback: the connection is refused at once.
    let password = "N0t-Th1s-Pa55word";
    let from = format!("postgres://mapquiz_import:{password}@127.0.0.1:1/mapquiz_original");
    let run = import_original(db.url(), &["--from", &from]).await;
    run.assert_exit(1);
    let said = run.stderr.to_lowercase();
    assert!(
        ["original", "source", "--from"].iter().any(|w| said.contains(w)),
        "the message says the source is what failed:\n{}",
        run.stderr
    );
    run.assert_reveals_none(&[password]);
}

/// Usage the binary must refuse before touching any database: no source, a `--since` that is neither a time
/// nor an age, a source that is not PostgreSQL (the original only ever ran on PostgreSQL).
#[tokio::test]
async fn refused_usage_exits_2() {
    let target = TestDatabase::sqlite();
    let file = target.url().strip_prefix("sqlite://").unwrap().to_owned();
    let elsewhere = format!("sqlite://{file}.original");
    for args in
        [&[][..], &["--from", "postgres://127.0.0.1:1/x", "--since", "yesterday"], &["--from", elsewhere.as_str()]]
    {
        let run = import_original(target.url(), args).await;
        run.assert_exit(2);
        assert!(!run.stderr.trim().is_empty(), "{args:?} says why");
        assert_eq!(run.report, None, "{args:?} writes no report");
    }
    assert!(!std::path::Path::new(&file).exists(), "the target was not created");
}
