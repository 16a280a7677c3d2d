//! After an import, the server on the target: the original's players are signed in with their old cookies,
//! and find their profile, friends, requests, scores and leaderboards; Google sign-in finds their accounts; the
//! rows the report skipped are nowhere; a second run changes nothing.

use super::fixture::{Fixture, TABLES};
use super::source::{GameScore, OriginalDb, iso};
use super::{
    CLIENT_ID, CLIENT_SECRET, Run, assert_report, get, google_sign_in, import, open_store, serve, target_counts,
    target_with_newcomer,
};
use crate::support::auth::{cookie_for, is_tag, session_of};
use crate::support::oidc_provider::{Identity, OidcProvider};
use crate::support::{TestApp, on_both_backends};
use mapquiz_domain::Timestamp;
use mapquiz_store::RequestStatus;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use std::collections::BTreeSet;

on_both_backends!(
    an_import_keeps_players_signed_in_with_their_friends_and_scores,
    a_google_sign_in_with_an_imported_subject_lands_on_the_imported_user,
    a_second_run_imports_nothing_twice,
);

/// A source seeded with the fixture, colliding with a newcomer of the target, imported once with
/// `--accept-skips`: exit 0 and exactly the expected report.
struct Imported {
    source: OriginalDb,
    fx: Fixture,
    idp: OidcProvider,
    db: TestDatabase,
    /// Just before the run started.
    started: Timestamp,
}

async fn imported(postgres: bool) -> Option<Imported> {
    let source = OriginalDb::create().await?;
    let idp = OidcProvider::start(CLIENT_ID, CLIENT_SECRET).await;
    let (db, newcomer) = target_with_newcomer(postgres, &idp).await?;
    let fx = Fixture::seed(&source, Some(&newcomer)).await;
    let started = Timestamp::from_datetime(chrono::Utc::now());
    let run = import(&db, source.url(), &["--accept-skips"]).await;
    run.assert_exit(0);
    assert_report(&run, &fx.expected_report(false));
    assert_reveals_no_token(&run, &fx);
    Some(Imported { source, fx, idp, db, started })
}

/// The import never prints or reports a session token of the original (they are credentials).
fn assert_reveals_no_token(run: &Run, fx: &Fixture) {
    let sessions =
        [&fx.ada_live, &fx.ada_expired, &fx.bob_live, &fx.carol_live, &fx.ivan_live, &fx.erin_live, &fx.tom_live];
    run.assert_reveals_none(&sessions.map(|s| s.token.as_str()));
}

async fn an_import_keeps_players_signed_in_with_their_friends_and_scores(postgres: bool) {
    let Some(Imported { fx, idp, db, started, .. }) = imported(postgres).await else { return };

    // Presence as the import left it, read before a server starts (its start-up reset would hide it).
    let store = open_store(&db).await;
    for (user, what) in [(&fx.ada, "Ada"), (&fx.dave, "Dave")] {
        let stored = store.user_by_id(&user.id).await.unwrap().unwrap_or_else(|| panic!("{what} was imported"));
        assert!(!stored.is_online, "{what} was left online by the original and is imported offline");
        assert_eq!(stored.last_seen.map(Timestamp::to_iso), Some(iso(user.last_seen)), "{what}'s lastSeen is kept");
    }
    store.close().await;

    let app = serve(db, Some(&idp)).await;
    assert_world(&app, &fx).await;

    let trail = app.state.store.audit_since(None, started, 100).await.unwrap();
    let imports = trail.iter().filter(|e| e.action == "import_original").count();
    assert_eq!(imports, 1, "one audit entry for the run: {:?}", trail.iter().map(|e| &e.action).collect::<Vec<_>>());
}

async fn a_google_sign_in_with_an_imported_subject_lands_on_the_imported_user(postgres: bool) {
    let Some(Imported { fx, idp, db, .. }) = imported(postgres).await else { return };
    let app = serve(db, Some(&idp)).await;
    let users = user_count(&app).await;
    let newcomer = fx.newcomer.clone().unwrap();

    let sign_in = |sub: &str, email: &str, name: &str| Identity {
        sub: sub.to_owned(),
        email: Some(email.to_owned()),
        email_verified: true,
        name: name.to_owned(),
        picture: None,
    };
    // Bob's Google address changed since the original: only the imported account (by subject) can find him.
    for (identity, expected) in [
        (sign_in(&fx.ada_sub, "ada.lovelace@example.com", "Ada Lovelace"), &fx.ada.id),
        (sign_in(&fx.bob_sub, "bob.new-address@gmail.test", "Bob"), &fx.bob.id),
        // Tom's original account had the newcomer's subject: it stayed the newcomer's.
        (sign_in(&newcomer.sub, &newcomer.email, "Grace Hopper"), &newcomer.id),
    ] {
        let cookie = google_sign_in(&app, &idp, identity.clone()).await;
        let session = session_of(&app, &cookie).await;
        assert_eq!(session["user"]["id"], expected.as_str(), "subject {} signs in as {expected}", identity.sub);
    }
    assert_eq!(user_count(&app).await, users, "no user was created");
    assert_eq!(app.state.store.account_of_user(&fx.tom.id, "google").await.unwrap(), None, "Tom's was not linked");
}

async fn a_second_run_imports_nothing_twice(postgres: bool) {
    let Some(Imported { source, fx, idp, db, .. }) = imported(postgres).await else { return };
    let first = fx.expected_report(false);
    let rows = target_counts(&db).await;

    // What was skipped or in conflict still is: without --accept-skips the status says so again.
    let again = import(&db, source.url(), &[]).await;
    again.assert_exit(3);
    for (i, table) in TABLES.iter().enumerate() {
        let (was, now) = (&first["tables"][i], again.line(table));
        let done = was["imported"].as_i64().unwrap() + was["updated"].as_i64().unwrap();
        assert_eq!(
            (&now["read"], &now["imported"], &now["updated"], &now["already_imported"]),
            (&was["read"], &json!(0), &json!(0), &json!(done)),
            "{table}: read, imported, updated, already_imported in {now}"
        );
        for reasons in ["skipped", "conflicts", "left_behind"] {
            assert_eq!(now[reasons], was[reasons], "{table}: the same {reasons} on a second run");
        }
    }
    assert_reveals_no_token(&again, &fx);
    assert_eq!(target_counts(&db).await, rows, "no row was added");

    // The players see exactly what they saw after the first run: nothing doubled.
    let app = serve(db, Some(&idp)).await;
    assert_world(&app, &fx).await;
}

async fn user_count(app: &TestApp) -> i64 {
    crate::support::auth::sql_count(app, "SELECT COUNT(*) FROM users").await
}

/// Everything a player of the fixture can see after one import (or several), through HTTP, and through the
/// store where the protocol has no route (the other side of a request, a user without a session).
async fn assert_world(app: &TestApp, fx: &Fixture) {
    assert_sessions(app, fx).await;
    assert_profiles(app, fx).await;
    assert_friends_and_requests(app, fx).await;
    assert_scores(app, fx).await;
    assert_leaderboards(app, fx).await;
}

async fn assert_sessions(app: &TestApp, fx: &Fixture) {
    let newcomer = fx.newcomer.as_ref().unwrap();
    let ada = session_of(app, &cookie_for(&fx.ada_live.token)).await;
    let user = &ada["user"];
    assert_eq!(
        json!([user["id"], user["email"], user["tag"], user["name"], user["emailVerified"], user["image"]]),
        json!([fx.ada.id, "ada.lovelace@example.com", "ADAL2345", "Ada Lovelace", true, fx.ada.image]),
        "Ada's old cookie signs her in, with her id, lower-cased email and kept tag: {ada}"
    );
    assert_eq!(user["createdAt"], iso(fx.ada.created_at), "{ada}");
    assert_eq!(ada["session"]["userId"], fx.ada.id.as_str());
    for (session, owner) in [(&fx.bob_live, &fx.bob), (&fx.carol_live, &fx.carol), (&fx.tom_live, &fx.tom)] {
        let body = session_of(app, &cookie_for(&session.token)).await;
        assert_eq!(body["user"]["id"], owner.id.as_str(), "{}'s session: {body}", owner.name);
    }
    for (session, why) in [(&fx.ada_expired, "expired"), (&fx.ivan_live, "of a skipped user")] {
        assert_eq!(session_of(app, &cookie_for(&session.token)).await, Value::Null, "a session {why}");
    }
    // Erin's original token was the newcomer's: it still opens the newcomer's session, not Erin's.
    let theirs = session_of(app, &cookie_for(&fx.erin_live.token)).await;
    assert_eq!(theirs["user"]["id"], newcomer.id.as_str(), "{theirs}");
}

/// GET /api/users/:id as Ada: (status, user).
async fn profile(app: &TestApp, fx: &Fixture, id: &str) -> (u16, Value) {
    let (status, body) = get(app, &cookie_for(&fx.ada_live.token), &format!("/api/users/{id}")).await;
    (status, body["user"].clone())
}

async fn assert_profiles(app: &TestApp, fx: &Fixture) {
    let newcomer = fx.newcomer.as_ref().unwrap();
    let mut tags = BTreeSet::from([newcomer.tag.clone()]);
    for u in [&fx.ada, &fx.bob, &fx.carol, &fx.dave, &fx.erin, &fx.frank, &fx.amelie, &fx.heidi, &fx.judy, &fx.tom] {
        let (status, user) = profile(app, fx, &u.id).await;
        assert_eq!(status, 200, "{} was imported under their id: {user}", u.name);
        assert_eq!(user["isOnline"], false, "{user}");
        let tag = user["tag"].as_str().unwrap().to_owned();
        assert!(is_tag(&tag), "{user}");
        assert!(tags.insert(tag), "tags are unique: {user}");
        match u.tag.as_deref() {
            Some(kept) if u.id != fx.dave.id && u.id != fx.carol.id => assert_eq!(user["tag"], kept, "{user}"),
            _ => {}
        }
    }
    for (user, name, why) in [
        (&fx.erin, "Erin".to_owned(), "padding and control characters removed"),
        (&fx.frank, "frank.the.tank".to_owned(), "a blank name becomes the email's local part"),
        (&fx.amelie, "Amélie".repeat(10).chars().take(50).collect(), "cut to 50 characters"),
    ] {
        assert_eq!(profile(app, fx, &user.id).await.1["name"], name.as_str(), "{why}");
    }
    assert_eq!(profile(app, fx, &fx.heidi.id).await.1["image"], Value::Null, "a javascript: image is dropped");
    assert_eq!(profile(app, fx, &fx.ada.id).await.1["image"], json!(fx.ada.image), "an https image is kept");
    for (skipped, why) in
        [(&fx.ivan, "invalid email"), (&fx.judy_again, "email differs only by case"), (&fx.mallory, "email taken")]
    {
        assert_eq!(profile(app, fx, &skipped.id).await.0, 404, "{} ({why}) is not imported", skipped.name);
    }
    let store = &app.state.store;
    let judy = store.user_by_email("judy@example.com").await.unwrap().map(|u| u.id);
    assert_eq!(judy, Some(fx.judy.id.clone()), "the first Judy has the address");
    let newcomers = store.user_by_email(&newcomer.email).await.unwrap().map(|u| (u.id, u.tag));
    assert_eq!(newcomers, Some((newcomer.id.clone(), Some(newcomer.tag.clone()))), "the newcomer is untouched");
}

/// The ids of `list[*][key]`, as a set.
fn ids(list: &Value, key: &str) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&String]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).clone()).collect()
}

async fn assert_friends_and_requests(app: &TestApp, fx: &Fixture) {
    for (session, expected) in [
        (&fx.ada_live, set(&[&fx.bob.id, &fx.carol.id, &fx.erin.id])),
        (&fx.bob_live, set(&[&fx.ada.id])),
        (&fx.carol_live, set(&[&fx.ada.id])),
        (&fx.tom_live, set(&[&fx.frank.id])),
    ] {
        let (status, body) = get(app, &cookie_for(&session.token), "/api/friends/list").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(ids(&body["friends"], "id"), expected, "friends of {}: {body}", session.user_id);
        assert!(body["friends"].as_array().unwrap().iter().all(|f| f["isOnline"] == false), "{body}");
    }
    let store = &app.state.store;
    // The lone Ada → Erin row became a whole friendship; Amélie's friendship with herself was dropped.
    assert!(store.are_friends(&fx.erin.id, &fx.ada.id).await.unwrap(), "Erin sees Ada as a friend");
    assert!(store.friend_ids(&fx.amelie.id).await.unwrap().is_empty(), "Amélie has no friend");

    let (_, ada) = get(app, &cookie_for(&fx.ada_live.token), "/api/friends/requests").await;
    let incoming = ada["friendRequests"].as_array().unwrap_or_else(|| panic!("{ada}"));
    assert_eq!(incoming.len(), 1, "only Frank's pending request reaches Ada: {ada}");
    assert_eq!(
        json!([incoming[0]["id"], incoming[0]["senderId"], incoming[0]["status"], incoming[0]["createdAt"]]),
        json!([fx.frank_to_ada.id, fx.frank.id, "pending", iso(fx.frank_to_ada.created_at)]),
        "{ada}"
    );
    let (_, bob) = get(app, &cookie_for(&fx.bob_live.token), "/api/friends/requests").await;
    assert_eq!(bob["friendRequests"], json!([]), "Erin's request of unknown status is not imported: {bob}");
    let amelie = store.incoming_friend_requests(&fx.amelie.id, 10).await.unwrap();
    let amelie: Vec<_> = amelie.iter().map(|r| r.request.id.clone()).collect();
    assert_eq!(amelie, vec![fx.ada_to_amelie.id.clone()], "Ada's request, not its later mirror, is pending");

    for (request, expected) in [
        (&fx.bob_to_ada, Some(RequestStatus::Accepted)),
        (&fx.carol_to_ada, Some(RequestStatus::Accepted)),
        (&fx.heidi_to_ada, Some(RequestStatus::Rejected)),
        (&fx.ada_to_amelie, Some(RequestStatus::Pending)),
        (&fx.amelie_to_ada, None),
        (&fx.tom_to_ada, None),
        (&fx.ivan_to_ada, None),
        (&fx.amelie_to_amelie, None),
        (&fx.erin_to_bob, None),
    ] {
        let stored = store.friend_request(&request.id).await.unwrap();
        let seen = stored.as_ref().map(|r| (r.sender_id.as_str(), r.receiver_id.as_str(), r.status));
        let wanted = expected.map(|s| (request.sender_id.as_str(), request.receiver_id.as_str(), s));
        assert_eq!(seen, wanted, "request {} ({}), kept under its id or not at all", request.id, request.status);
    }
}

/// A history entry for `s` as imported: `duration` null shown as 0, duplicate regions once.
fn history_entry(s: &GameScore, duration: i32) -> Value {
    let mut regions = s.selected_regions.clone().unwrap();
    regions.sort();
    regions.dedup();
    json!({"score": s.score, "duration": duration, "selectedRegions": regions, "createdAt": iso(s.created_at)})
}

/// The caller's history with `date` dropped (a label in the configured time zone) and regions sorted (their
/// order within a game is not the subject here).
async fn history(app: &TestApp, token: &str) -> Value {
    let (status, body) = get(app, &cookie_for(token), "/api/scores/history?limit=100").await;
    assert_eq!(status, 200, "{body}");
    let entries = body.as_array().unwrap_or_else(|| panic!("a bare array: {body}"));
    Value::Array(
        entries
            .iter()
            .map(|e| {
                let mut regions: Vec<String> =
                    e["selectedRegions"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
                regions.sort();
                json!({"score": e["score"], "duration": e["duration"], "selectedRegions": regions, "createdAt": e["createdAt"]})
            })
            .collect(),
    )
}

async fn assert_scores(app: &TestApp, fx: &Fixture) {
    let ada: Vec<Value> = fx.ada_scores.iter().map(|s| history_entry(s, s.duration.unwrap())).collect();
    assert_eq!(history(app, &fx.ada_live.token).await, json!(ada), "Ada's five games, oldest first");
    // Bob's durations were negative, over a day, and missing: none is kept, and the history shows 0.
    let bob: Vec<Value> = fx.bob_scores.iter().map(|s| history_entry(s, 0)).collect();
    assert_eq!(history(app, &fx.bob_live.token).await, json!(bob), "Bob's three games");
    let tom: Vec<Value> = fx.tom_scores.iter().map(|s| history_entry(s, s.duration.unwrap())).collect();
    assert_eq!(history(app, &fx.tom_live.token).await, json!(tom), "Tom's training games");
    assert_eq!(history(app, &fx.carol_live.token).await, json!([]), "none of Carol's broken games");

    for (token, expected) in [
        (&fx.ada_live.token, json!({"totalGames": 5, "bestScore": 15, "averageScore": 8, "totalScore": 40})),
        (&fx.bob_live.token, json!({"totalGames": 3, "bestScore": 10, "averageScore": 8, "totalScore": 23})),
        (&fx.carol_live.token, json!({"totalGames": 0, "bestScore": 0, "averageScore": 0, "totalScore": 0})),
    ] {
        assert_eq!(get(app, &cookie_for(token), "/api/scores/stats").await, (200, expected));
    }
}

/// `[[rank, user id, score, totalQuestions, duration, achievedAt], …]` of a global all-time board.
async fn board(app: &TestApp, fx: &Fixture, regions: &str) -> Value {
    let path = format!(
        "/api/leaderboards?regions={}",
        url::form_urlencoded::byte_serialize(regions.as_bytes()).collect::<String>()
    );
    let (status, body) = get(app, &cookie_for(&fx.ada_live.token), &path).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["entries"].as_array().unwrap_or_else(|| panic!("{body}"));
    Value::Array(
        entries
            .iter()
            .map(|e| {
                json!([e["rank"], e["user"]["id"], e["score"], e["totalQuestions"], e["duration"], e["achievedAt"]])
            })
            .collect(),
    )
}

async fn assert_leaderboards(app: &TestApp, fx: &Fixture) {
    let (ada, bob) = (&fx.ada_scores, &fx.bob_scores);
    assert_eq!(
        board(app, fx, "Europe").await,
        json!([
            [1, fx.bob.id, 10, 10, null, iso(bob[1].created_at)],
            [2, fx.ada.id, 9, 10, 90, iso(ada[3].created_at)],
        ]),
        "each player's best quiz on Europe (Ada's had Europe twice)"
    );
    assert_eq!(
        board(app, fx, "Europe,Asie").await,
        json!([[1, fx.ada.id, 15, 20, 300, iso(ada[1].created_at)]]),
        "a board per set of regions"
    );
    assert_eq!(
        board(app, fx, "Océanie").await,
        json!([[1, fx.ada.id, 3, 7, 60, iso(ada[4].created_at)]]),
        "the game of unknown mode counts as a quiz"
    );
    assert_eq!(board(app, fx, "Afrique").await, json!([]), "Ada's training game is on no board");
    assert_eq!(board(app, fx, "Asie").await, json!([]), "nor are Tom's");
}
