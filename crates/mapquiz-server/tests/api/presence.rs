//! Presence (protocol §4.6, checklist 52–54): online with the first authenticated socket, offline after the
//! presence delay once the last one closes, `friend_status_change` to connected friends only, and every flag
//! reset when the server starts.

use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser, base_figment, json, on_both_backends};
use mapquiz_server::config::Config;
use mapquiz_store::ConnectOptions;
use serde_json::{Value, json};
use std::time::Duration;

/// The presence delay the tests run with.
const GRACE: Duration = Duration::from_millis(300);

async fn app_with_grace(postgres: bool, grace: Duration) -> Option<TestApp> {
    let ms = u64::try_from(grace.as_millis()).unwrap();
    TestApp::spawn_with(postgres, |f| f.merge(("presence_grace_ms", ms))).await
}

/// `friend` as `user`'s friends list shows them.
async fn listed_friend(app: &TestApp, user: &TestUser, friend: &TestUser) -> Value {
    let (status, body) = json(app.get_as(user, "/api/friends/list").await).await;
    assert_eq!(status, 200, "{body}");
    body["friends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == friend.id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{} is not in {}'s list: {body}", friend.name, user.name))
}

async fn online_then_offline_after_the_delay(postgres: bool) {
    let Some(app) = app_with_grace(postgres, GRACE).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    app.befriend(&a, &b).await;
    assert_eq!(listed_friend(&app, &b, &a).await["isOnline"], false);
    let mut bws = app.ws(&b).await;

    // A's first socket: B is told once, and the list agrees.
    let mut first = app.ws(&a).await;
    let since = bws.expect_friend_status(&a, true).await;
    let listed = listed_friend(&app, &b, &a).await;
    assert_eq!(listed["isOnline"], true);
    assert_eq!(listed["lastSeen"], since.as_str());

    // A second socket, and a second `authenticate` on either: nothing more.
    let mut second = app.ws(&a).await;
    first.authenticate(&a.id).await;
    second.authenticate(&a.id).await;
    bws.silent_for(GRACE + Duration::from_millis(200)).await;

    // Closing one of two sockets changes nothing.
    first.close().await;
    bws.silent_for(GRACE + Duration::from_millis(300)).await;
    assert_eq!(listed_friend(&app, &b, &a).await["isOnline"], true);

    // The last one: offline, but only once the delay has passed.
    second.close().await;
    bws.silent_for(GRACE - Duration::from_millis(100)).await;
    bws.expect_friend_status(&a, false).await;
    assert_eq!(listed_friend(&app, &b, &a).await["isOnline"], false);
    assert!(!app.state.realtime.hub.holds(&a.id));
    bws.silent_for(Duration::from_millis(200)).await;
}

on_both_backends!(online_then_offline_after_the_delay);

#[tokio::test]
async fn implicit_authentication_also_brings_the_user_online() {
    let app = app_with_grace(false, GRACE).await.unwrap();
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    app.befriend(&a, &b).await;
    let mut bws = app.ws(&b).await;
    let mut aws = Ws::connect(app.address, Some(&a.cookie)).await;
    assert_eq!(
        aws.send_friend_request(&b.tag).await,
        json!({"type": "error", "message": "Vous êtes déjà amis avec cet utilisateur"})
    );
    bws.expect_friend_status(&a, true).await;
    aws.authenticate(&a.id).await;
    bws.silent_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_reconnection_within_the_delay_is_invisible() {
    // A wider delay than elsewhere: the reconnection must land inside it even on a slow machine.
    let grace = Duration::from_millis(1000);
    let app = app_with_grace(false, grace).await.unwrap();
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    app.befriend(&a, &b).await;
    let mut bws = app.ws(&b).await;
    let aws = app.ws(&a).await;
    bws.expect_friend_status(&a, true).await;

    aws.close().await;
    let aws = app.ws(&a).await;
    bws.silent_for(grace + Duration::from_millis(300)).await;
    assert_eq!(listed_friend(&app, &b, &a).await["isOnline"], true);

    // The same close without a reconnection is announced: the silence above was the reconnection's doing.
    aws.close().await;
    bws.expect_friend_status(&a, false).await;
}

#[tokio::test]
async fn only_connected_friends_are_told() {
    let app = app_with_grace(false, GRACE).await.unwrap();
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    let (stranger, offline) = (app.sign_up("Chloe").await, app.sign_up("Dora").await);
    app.befriend(&a, &b).await;
    app.befriend(&a, &offline).await;
    let mut bws = app.ws(&b).await;
    let mut sws = app.ws(&stranger).await;

    let mut aws = app.ws(&a).await;
    bws.expect_friend_status(&a, true).await;
    sws.silent_for(Duration::from_millis(300)).await;

    // The friend who was offline is not told afterwards (nothing is queued); A hears of them.
    let mut dws = app.ws(&offline).await;
    aws.expect_friend_status(&offline, true).await;
    dws.silent_for(Duration::from_millis(300)).await;
    bws.silent_for(Duration::from_millis(100)).await;
    sws.silent_for(Duration::from_millis(100)).await;
    assert_eq!(listed_friend(&app, &offline, &a).await["isOnline"], true, "the list shows it");

    // A goes offline: the connected friends are told, the stranger is not.
    aws.close().await;
    bws.expect_friend_status(&a, false).await;
    dws.expect_friend_status(&a, false).await;
    sws.silent_for(GRACE).await;
}

async fn a_restart_resets_every_flag(postgres: bool) {
    // A delay longer than the test, so that only the restart can turn the flags off.
    let long = Duration::from_secs(600);
    let Some(first) = app_with_grace(postgres, long).await else { return };
    let (a, b) = (first.sign_up("Alice").await, first.sign_up("Bruno").await);
    first.befriend(&a, &b).await;
    let mut bws = first.ws(&b).await;
    let _aws = first.ws(&a).await;
    bws.expect_friend_status(&a, true).await;
    assert_eq!(listed_friend(&first, &b, &a).await["isOnline"], true);
    let before = listed_friend(&first, &b, &a).await["lastSeen"].clone();

    // Keep the database, stop the server with the flags still on.
    let mut first = first;
    let db = std::mem::replace(&mut first.db, mapquiz_store::testing::TestDatabase::sqlite());
    first.stop().await.unwrap();
    let store = mapquiz_store::connect(&ConnectOptions::new(db.database_url())).await.unwrap();
    let stored: Vec<bool> = store.friends(&b.id, 10).await.unwrap().iter().map(|f| f.user.is_online).collect();
    let both: Vec<bool> = store.friends(&a.id, 10).await.unwrap().iter().map(|f| f.user.is_online).collect();
    store.close().await;
    assert_eq!((stored, both), (vec![true], vec![true]), "the stopped server left both users online");

    let config = Config::from_figment(&base_figment(&db).merge(("presence_grace_ms", 600_000))).unwrap();
    let second = TestApp::start(db, config).await;
    for (viewer, friend) in [(&b, &a), (&a, &b)] {
        let listed = listed_friend(&second, viewer, friend).await;
        assert_eq!(listed["isOnline"], false, "{listed}");
        if friend.id == a.id {
            assert_eq!(listed["lastSeen"], before, "lastSeen is left as it was");
        }
    }
    // The stored flag really is off: A's next socket is a transition, announced to B.
    let mut bws = second.ws(&b).await;
    let _aws = second.ws(&a).await;
    bws.expect_friend_status(&a, true).await;
}

on_both_backends!(a_restart_resets_every_flag);

#[tokio::test]
async fn a_flag_turned_off_under_a_connected_user_is_repaired() {
    // As when another node decided alone while Redis was down: the store says offline, this node holds A.
    let app = app_with_grace(false, GRACE).await.unwrap();
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    app.befriend(&a, &b).await;
    let mut bws = app.ws(&b).await;
    let _aws = app.ws(&a).await;
    bws.expect_friend_status(&a, true).await;
    let now = app.state.clock.now();
    assert!(app.state.store.set_offline(&a.id, now).await.unwrap());
    assert_eq!(listed_friend(&app, &b, &a).await["isOnline"], false);
    // The next heartbeat (every 5 s) puts the flag back and tells B.
    bws.expect_friend_status(&a, true).await;
    assert_eq!(listed_friend(&app, &b, &a).await["isOnline"], true);
}
