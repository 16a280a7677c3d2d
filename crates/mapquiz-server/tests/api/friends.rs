//! Friends over HTTP and the WebSocket: sending (with the mutual auto-accept), responding, removing, the two
//! lists, the pushes each operation causes, and the races the store must survive (protocol §1.6, §2.7.1,
//! §2.7.2, §2.8, §4.1–4.5; checklist 45–51, 55).

use crate::support::auth::{is_tag, keys, roomy_app, set, sql_count, sql_str, ts_millis};
use crate::support::friends::assert_no_email;
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser, json, on_both_backends};
use serde_json::{Value, json};
use std::time::Duration;

/// Long enough for a push that was going to come to have come (the pushes of an operation are published
/// before its answer is sent).
const QUIET: Duration = Duration::from_millis(300);

const FRIEND_KEYS: &[&str] = &["id", "name", "image", "tag", "isOnline", "lastSeen"];
const REQUEST_KEYS: &[&str] = &["id", "senderId", "receiverId", "status", "createdAt", "updatedAt", "sender"];
const SENDER_KEYS: &[&str] = &["id", "name", "image", "tag"];

// ---------------------------------------------------------------------------------------------------------
// Expected bodies and frames
// ---------------------------------------------------------------------------------------------------------

fn err(code: &str, message: &str) -> Value {
    json!({"error": message, "code": code})
}

fn unauthorized() -> Value {
    err("unauthorized", "Non autorisé")
}

/// The answer to a request that is now pending.
fn sent(receiver: &TestUser) -> Value {
    json!({"success": true, "message": "Demande d'ami envoyée", "receiverId": receiver.id, "autoAccepted": false})
}

/// The answer to a request that met the receiver's pending one.
fn mutual(receiver: &TestUser) -> Value {
    json!({"success": true, "message": "Vous êtes maintenant amis", "receiverId": receiver.id, "autoAccepted": true})
}

fn done(message: &str) -> Value {
    json!({"success": true, "message": message})
}

fn received_push() -> Value {
    json!({"type": "friend_request_received"})
}

/// `friend_request_accepted` as its recipient sees it: `friend` is the recipient's new friend.
fn accepted_push(accepted_by: &TestUser, friend: &TestUser) -> Value {
    json!({"type": "friend_request_accepted", "payload": {"success": true, "acceptedBy": accepted_by.id, "friendId": friend.id}})
}

fn ws_error(message: &str) -> Value {
    json!({"type": "error", "message": message})
}

/// A well-formed tag that none of `users` has.
fn unused_tag(users: &[&TestUser]) -> String {
    ["ZZZZZZZZ", "YYYYYYYY", "XXXXXXXX", "WWWWWWWW"]
        .into_iter()
        .find(|t| users.iter().all(|u| u.tag != *t))
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

async fn add_body(app: &TestApp, user: &TestUser, body: &Value) -> (u16, Value) {
    let (status, body) = json(app.post_as(user, "/api/friends/add", body).await).await;
    assert_no_email(&body);
    (status, body)
}

async fn respond_body(app: &TestApp, user: &TestUser, request_id: &str, body: &Value) -> (u16, Value) {
    json(app.post_as(user, &format!("/api/friends/requests/{request_id}"), body).await).await
}

/// `DELETE /api/friends/remove` with `body` as JSON, or with no body at all.
async fn remove(app: &TestApp, user: &TestUser, body: Option<&Value>) -> (u16, Value) {
    let mut req = app.client.delete(app.url("/api/friends/remove")).header("cookie", &user.cookie);
    if let Some(body) = body {
        req = req.json(body);
    }
    json(req.send().await.expect("request sent")).await
}

/// The caller's friends list, its shape checked.
async fn friends_of(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let (status, body) = json(app.get_as(user, "/api/friends/list").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["friends"]), "{body}");
    assert_no_email(&body);
    let friends = body["friends"].as_array().unwrap_or_else(|| panic!("an array: {body}")).clone();
    for f in &friends {
        assert_eq!(keys(f), set(FRIEND_KEYS), "{f}");
        assert!(f["id"].is_string() && f["name"].as_str().is_some_and(|n| !n.is_empty()), "{f}");
        assert!(f["image"].is_null() || f["image"].is_string(), "{f}");
        assert!(is_tag(f["tag"].as_str().unwrap()), "{f}");
        assert!(f["isOnline"].is_boolean(), "{f}");
        if !f["lastSeen"].is_null() {
            ts_millis(&f["lastSeen"]);
        }
    }
    friends
}

/// The caller's incoming pending requests, their shape checked.
async fn requests_of(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let (status, body) = json(app.get_as(user, "/api/friends/requests").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["friendRequests"]), "{body}");
    assert_no_email(&body);
    let requests = body["friendRequests"].as_array().unwrap_or_else(|| panic!("an array: {body}")).clone();
    for r in &requests {
        assert_eq!(keys(r), set(REQUEST_KEYS), "{r}");
        assert_eq!(keys(&r["sender"]), set(SENDER_KEYS), "{r}");
        assert_eq!(r["status"], "pending", "{r}");
        assert_eq!(r["receiverId"], user.id.as_str(), "only incoming requests: {r}");
        assert_eq!(r["senderId"], r["sender"]["id"], "{r}");
        assert!(r["id"].as_str().is_some_and(|id| !id.is_empty()), "{r}");
        ts_millis(&r["createdAt"]);
        ts_millis(&r["updatedAt"]);
    }
    requests
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

fn sender_ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["senderId"].as_str().unwrap()).collect()
}

/// Rows of `friend_requests` between the two users (either direction), optionally of one status.
async fn stored_requests(app: &TestApp, a: &TestUser, b: &TestUser, status: Option<&str>) -> i64 {
    let (a, b) = (sql_str(&a.id), sql_str(&b.id));
    let status = status.map(|s| format!(" AND status = '{s}'")).unwrap_or_default();
    sql_count(
        app,
        &format!(
            "SELECT COUNT(*) FROM friend_requests WHERE ((sender_id = {a} AND receiver_id = {b}) \
             OR (sender_id = {b} AND receiver_id = {a})){status}"
        ),
    )
    .await
}

/// Rows of `friendships` between the two users (a friendship is stored in both directions).
async fn stored_friendships(app: &TestApp, a: &TestUser, b: &TestUser) -> i64 {
    let (a, b) = (sql_str(&a.id), sql_str(&b.id));
    sql_count(
        app,
        &format!(
            "SELECT COUNT(*) FROM friendships WHERE (user_id = {a} AND friend_id = {b}) \
             OR (user_id = {b} AND friend_id = {a})"
        ),
    )
    .await
}

/// Asserts that `a` and `b` are friends exactly once, with nothing pending between them.
async fn assert_friends_once(app: &TestApp, a: &TestUser, b: &TestUser) {
    for (me, other) in [(a, b), (b, a)] {
        let list = friends_of(app, me).await;
        assert_eq!(ids(&list), vec![other.id.as_str()], "{}'s friends: {list:?}", me.name);
        let pending = requests_of(app, me).await;
        assert!(pending.is_empty(), "{} has nothing pending: {pending:?}", me.name);
    }
    assert_eq!(stored_friendships(app, a, b).await, 2, "one friendship, stored in both directions");
    assert_eq!(stored_requests(app, a, b, Some("pending")).await, 0, "no pending request left");
}

/// Asserts that the socket still answers (an error must not have broken it).
async fn assert_usable(ws: &mut Ws) {
    assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
}

// ---------------------------------------------------------------------------------------------------------
// POST /api/friends/add (checklist 45, 46)
// ---------------------------------------------------------------------------------------------------------

async fn a_request_by_tag_is_sent_and_pushed_to_the_receiver(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bob").await, app.sign_up("Carol").await);
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;

    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push(), "exactly the bare push, no payload");
    b_ws.silent_for(QUIET).await;
    a_ws.silent_for(Duration::ZERO).await;

    let listed = requests_of(&app, &b).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_eq!(r["senderId"], a.id.as_str());
    assert_eq!(r["sender"], json!({"id": a.id, "name": "Alice", "image": null, "tag": a.tag}));
    assert_eq!(r["createdAt"], r["updatedAt"], "a new request: {r}");
    assert!(requests_of(&app, &a).await.is_empty(), "an outgoing request is not listed to its sender");
    assert!(friends_of(&app, &a).await.is_empty() && friends_of(&app, &b).await.is_empty(), "not friends yet");

    // Tag lookups trim and upper-case (§4.1).
    let padded = format!("  {}\t", c.tag.to_lowercase());
    assert_eq!(app.add_friend(&a, &padded).await, (200, sent(&c)));
    assert_eq!(sender_ids(&requests_of(&app, &c).await), vec![a.id.as_str()]);
    a_ws.silent_for(QUIET).await;
    b_ws.silent_for(Duration::ZERO).await;
}
on_both_backends!(a_request_by_tag_is_sent_and_pushed_to_the_receiver);

async fn add_errors_come_in_protocol_order(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bob").await, app.sign_up("Carol").await);
    let mut c_ws = app.ws(&c).await;
    let tag_required = (400, err("tag_required", "Le tag est requis"));
    let not_found = (404, err("user_not_found", "Utilisateur non trouvé"));
    let myself = (400, err("cannot_add_self", "Vous ne pouvez pas vous ajouter vous-même"));
    let already_friends = (409, err("already_friends", "Vous êtes déjà amis avec cet utilisateur"));
    let pending = (409, err("request_already_pending", "Une demande est déjà en attente"));

    // 1. empty or whitespace only (also: no `tag` key, or not a string).
    for body in [json!({"tag": "   "}), json!({"tag": ""}), json!({"tag": " \t\n "}), json!({}), json!({"tag": null})] {
        assert_eq!(add_body(&app, &a, &body).await, tag_required, "for {body}");
    }
    // 2. nobody has that tag (well-formed or not).
    let unknown = unused_tag(&[&a, &b, &c]);
    for tag in [unknown.as_str(), "not-a-tag", "ABC", "IIIIIIII"] {
        assert_eq!(app.add_friend(&a, tag).await, not_found, "for {tag:?}");
    }
    // 3. the caller's own tag, however typed.
    assert_eq!(app.add_friend(&a, &a.tag).await, myself);
    assert_eq!(app.add_friend(&a, &format!(" {} ", a.tag.to_lowercase())).await, myself);
    // 4. already friends, whichever side asks.
    app.befriend(&a, &b).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, already_friends);
    assert_eq!(app.add_friend(&b, &a.tag.to_lowercase()).await, already_friends);
    // 5. a pending request from the caller.
    assert_eq!(app.add_friend(&a, &c.tag).await, (200, sent(&c)));
    assert_eq!(c_ws.recv().await, received_push());
    assert_eq!(app.add_friend(&a, &c.tag).await, pending);
    assert_eq!(app.add_friend(&a, &c.tag.to_lowercase()).await, pending);
    c_ws.silent_for(QUIET).await;
    assert_eq!(requests_of(&app, &c).await.len(), 1, "a refused duplicate creates nothing");
    assert_eq!(stored_requests(&app, &a, &c, None).await, 1);
    // Earlier checks still win over later ones.
    assert_eq!(app.add_friend(&a, " ").await, tag_required);
    assert_eq!(app.add_friend(&a, &unknown).await, not_found);
}
on_both_backends!(add_errors_come_in_protocol_order);

#[tokio::test]
async fn every_friend_route_needs_credentials() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let b = app.sign_up("Bob").await;
    let cases = [
        app.post_json("/api/friends/add", &json!({"tag": b.tag})).await,
        app.get("/api/friends/list").await,
        app.get("/api/friends/requests").await,
        app.post_json("/api/friends/requests/some-id", &json!({"action": "accept"})).await,
        app.client.delete(app.url("/api/friends/remove")).json(&json!({"friendId": b.id})).send().await.unwrap(),
        app.client.delete(app.url("/api/friends/remove")).send().await.unwrap(),
    ];
    for res in cases {
        let url = res.url().clone();
        assert_eq!(json(res).await, (401, unauthorized()), "{url}");
    }
    // A tampered cookie is no credential either.
    let forged = TestUser { cookie: format!("{}x", a.cookie), ..a.clone() };
    assert_eq!(app.add_friend(&forged, &b.tag).await, (401, unauthorized()));
    assert!(requests_of(&app, &b).await.is_empty(), "nothing was sent");
}

// ---------------------------------------------------------------------------------------------------------
// The mutual request (checklist 47)
// ---------------------------------------------------------------------------------------------------------

async fn a_mutual_request_makes_friends_at_once(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;

    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push());
    let first = app.friend_request_id(&b, &a).await;

    assert_eq!(app.add_friend(&b, &a.tag.to_lowercase()).await, (200, mutual(&a)));
    // §2.8: each recipient's friendId is its new friend; acceptedBy is the user whose request accepted.
    assert_eq!(a_ws.recv().await, accepted_push(&b, &b));
    assert_eq!(b_ws.recv().await, accepted_push(&b, &a));
    a_ws.silent_for(QUIET).await;
    b_ws.silent_for(Duration::ZERO).await;

    assert_friends_once(&app, &a, &b).await;
    // A's request was accepted (not deleted, §4.2 rule 6), and no second request was created.
    assert_eq!(stored_requests(&app, &a, &b, None).await, 1);
    assert_eq!(stored_requests(&app, &a, &b, Some("accepted")).await, 1);
    assert_eq!(
        app.respond_to_friend_request(&b, &first, "accept").await,
        (409, err("request_already_processed", "Demande déjà traitée"))
    );
    assert_eq!(app.add_friend(&a, &b.tag).await.0, 409, "already friends");
}
on_both_backends!(a_mutual_request_makes_friends_at_once);

// ---------------------------------------------------------------------------------------------------------
// POST /api/friends/requests/:id (checklist 48, 49)
// ---------------------------------------------------------------------------------------------------------

async fn accepting_tells_the_sender_and_makes_friends(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push());
    let id = app.friend_request_id(&b, &a).await;

    assert_eq!(app.respond_to_friend_request(&b, &id, "accept").await, (200, done("Demande acceptée")));
    assert_eq!(a_ws.recv().await, accepted_push(&b, &b));
    a_ws.silent_for(QUIET).await;
    b_ws.silent_for(Duration::ZERO).await;

    let a_list = friends_of(&app, &a).await;
    assert_eq!(ids(&a_list), vec![b.id.as_str()]);
    assert_eq!(a_list[0]["name"], "Bob");
    assert_eq!(a_list[0]["tag"], b.tag.as_str());
    let b_list = friends_of(&app, &b).await;
    assert_eq!(ids(&b_list), vec![a.id.as_str()]);
    assert_eq!(b_list[0]["name"], "Alice");
    assert_friends_once(&app, &a, &b).await;

    // Answered once only, whichever answer comes second.
    let processed = (409, err("request_already_processed", "Demande déjà traitée"));
    assert_eq!(app.respond_to_friend_request(&b, &id, "accept").await, processed);
    assert_eq!(app.respond_to_friend_request(&b, &id, "reject").await, processed);
    a_ws.silent_for(QUIET).await;
    assert_friends_once(&app, &a, &b).await;
}
on_both_backends!(accepting_tells_the_sender_and_makes_friends);

async fn rejecting_pushes_nothing_and_allows_a_new_request(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push());
    let rejected = app.friend_request_id(&b, &a).await;

    assert_eq!(app.respond_to_friend_request(&b, &rejected, "reject").await, (200, done("Demande rejetée")));
    a_ws.silent_for(QUIET).await;
    b_ws.silent_for(Duration::ZERO).await;
    assert!(requests_of(&app, &b).await.is_empty(), "a rejected request is no longer listed");
    assert!(friends_of(&app, &a).await.is_empty() && friends_of(&app, &b).await.is_empty());
    assert_eq!(
        app.respond_to_friend_request(&b, &rejected, "accept").await,
        (409, err("request_already_processed", "Demande déjà traitée"))
    );

    // No cool-down: A asks again, and the new request replaces the rejected one (§4.2 rule 7).
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push());
    let again = app.friend_request_id(&b, &a).await;
    assert_ne!(again, rejected, "a new request");
    assert_eq!(stored_requests(&app, &a, &b, None).await, 1, "the rejected request was replaced");
    assert_eq!(
        app.respond_to_friend_request(&b, &rejected, "accept").await,
        (404, err("friend_request_not_found", "Demande d'ami non trouvée"))
    );
    assert_eq!(app.respond_to_friend_request(&b, &again, "accept").await, (200, done("Demande acceptée")));
    assert_eq!(a_ws.recv().await, accepted_push(&b, &b));
    assert_friends_once(&app, &a, &b).await;
}
on_both_backends!(rejecting_pushes_nothing_and_allows_a_new_request);

async fn after_a_rejection_the_other_side_may_ask(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut a_ws = app.ws(&a).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    let id = app.friend_request_id(&b, &a).await;
    assert_eq!(app.respond_to_friend_request(&b, &id, "reject").await, (200, done("Demande rejetée")));

    // A rejected request is not pending: B's request is a plain new one, not an auto-accept.
    assert_eq!(app.add_friend(&b, &a.tag).await, (200, sent(&a)));
    assert_eq!(a_ws.recv().await, received_push());
    assert_eq!(sender_ids(&requests_of(&app, &a).await), vec![b.id.as_str()]);
    assert!(requests_of(&app, &b).await.is_empty());
    assert!(friends_of(&app, &a).await.is_empty());
    assert_eq!(stored_requests(&app, &a, &b, None).await, 1, "the rejected request was replaced");
}
on_both_backends!(after_a_rejection_the_other_side_may_ask);

async fn respond_errors_come_in_protocol_order(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bob").await, app.sign_up("Carol").await);
    let mut a_ws = app.ws(&a).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    let id = app.friend_request_id(&b, &a).await;
    let invalid = (400, err("invalid_action", "Action invalide"));
    let not_found = (404, err("friend_request_not_found", "Demande d'ami non trouvée"));
    let forbidden = (403, err("forbidden", "Non autorisé"));
    let processed = (409, err("request_already_processed", "Demande déjà traitée"));
    let unknown_id = uuid::Uuid::now_v7().to_string();

    // 1. the action, before anything about the request.
    for body in [json!({"action": "maybe"}), json!({"action": "ACCEPT"}), json!({"action": ""}), json!({})] {
        assert_eq!(respond_body(&app, &b, &id, &body).await, invalid, "for {body}");
        assert_eq!(respond_body(&app, &c, &unknown_id, &body).await, invalid, "for {body} on an unknown id");
    }
    // 2. unknown request.
    assert_eq!(app.respond_to_friend_request(&b, &unknown_id, "accept").await, not_found);
    assert_eq!(app.respond_to_friend_request(&b, "not-even-an-id", "reject").await, not_found);
    // 3. not the receiver: a third user, and the sender itself.
    assert_eq!(app.respond_to_friend_request(&c, &id, "accept").await, forbidden);
    assert_eq!(app.respond_to_friend_request(&c, &id, "reject").await, forbidden);
    assert_eq!(app.respond_to_friend_request(&a, &id, "accept").await, forbidden);
    // None of the refusals touched the request.
    assert_eq!(ids(&requests_of(&app, &b).await), vec![id.as_str()]);
    assert!(friends_of(&app, &a).await.is_empty() && friends_of(&app, &c).await.is_empty());
    a_ws.silent_for(QUIET).await;

    // 4. already answered (and "not the receiver" still comes first).
    assert_eq!(app.respond_to_friend_request(&b, &id, "accept").await, (200, done("Demande acceptée")));
    assert_eq!(a_ws.recv().await, accepted_push(&b, &b));
    assert_eq!(app.respond_to_friend_request(&b, &id, "accept").await, processed);
    assert_eq!(app.respond_to_friend_request(&c, &id, "accept").await, forbidden);
    assert_eq!(respond_body(&app, &b, &id, &json!({"action": "maybe"})).await, invalid);
    a_ws.silent_for(QUIET).await;
    assert_friends_once(&app, &a, &b).await;
}
on_both_backends!(respond_errors_come_in_protocol_order);

// ---------------------------------------------------------------------------------------------------------
// Lists (checklist 51)
// ---------------------------------------------------------------------------------------------------------

async fn lists_have_their_exact_shapes_and_newest_first(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let a = app.sign_up("Alice").await;
    let (b, c, d) = (app.sign_up("Bob").await, app.sign_up("Carol").await, app.sign_up("Dave").await);
    let (f, g, h, i) =
        (app.sign_up("Frank").await, app.sign_up("Grace").await, app.sign_up("Heidi").await, app.sign_up("Ivan").await);
    assert!(friends_of(&app, &a).await.is_empty() && requests_of(&app, &a).await.is_empty());

    // Friendships made in the order B, C, D (the clock moves between them).
    for friend in [&b, &c, &d] {
        app.befriend(&a, friend).await;
        app.clock.advance(Duration::from_secs(2));
    }
    let list = friends_of(&app, &a).await;
    assert_eq!(ids(&list), vec![d.id.as_str(), c.id.as_str(), b.id.as_str()], "newest friendship first");
    for (entry, user) in list.iter().zip([&d, &c, &b]) {
        assert_eq!(entry["name"], user.name.as_str(), "{entry}");
        assert_eq!(entry["tag"], user.tag.as_str(), "{entry}");
        assert_eq!(entry["image"], Value::Null, "{entry}");
        assert_eq!(entry["isOnline"], false, "nobody has a socket: {entry}");
    }
    for friend in [&b, &c, &d] {
        assert_eq!(ids(&friends_of(&app, friend).await), vec![a.id.as_str()], "{}'s friends", friend.name);
    }

    // Incoming: from F, then G; an outgoing one to H and a rejected one from I are not listed.
    assert_eq!(app.add_friend(&f, &a.tag).await, (200, sent(&a)));
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(app.add_friend(&g, &a.tag).await, (200, sent(&a)));
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(app.add_friend(&a, &h.tag).await, (200, sent(&h)));
    assert_eq!(app.add_friend(&i, &a.tag).await, (200, sent(&a)));
    let from_i = app.friend_request_id(&a, &i).await;
    assert_eq!(app.respond_to_friend_request(&a, &from_i, "reject").await, (200, done("Demande rejetée")));

    let (status, body) = json(app.get_as(&a, "/api/friends/requests").await).await;
    assert_eq!(status, 200);
    assert!(!body.to_string().contains('@'), "no email address: {body}");
    let listed = requests_of(&app, &a).await;
    assert_eq!(sender_ids(&listed), vec![g.id.as_str(), f.id.as_str()], "newest first, only incoming pending");
    for (entry, sender) in listed.iter().zip([&g, &f]) {
        assert_eq!(entry["sender"], json!({"id": sender.id, "name": sender.name, "image": null, "tag": sender.tag}));
        assert_eq!(entry["createdAt"], entry["updatedAt"], "{entry}");
    }
    assert!(
        ts_millis(&listed[0]["createdAt"]) > ts_millis(&listed[1]["createdAt"]),
        "G's request is the newer: {listed:?}"
    );
    assert_eq!(sender_ids(&requests_of(&app, &h).await), vec![a.id.as_str()]);
    // The accepted requests of the friendships are not listed either.
    for friend in [&b, &c, &d] {
        assert!(requests_of(&app, friend).await.is_empty());
    }

    let (_, body) = json(app.get_as(&a, "/api/friends/list").await).await;
    assert!(!body.to_string().contains('@'), "no email address: {body}");
}
on_both_backends!(lists_have_their_exact_shapes_and_newest_first);

// ---------------------------------------------------------------------------------------------------------
// DELETE /api/friends/remove (checklist 50)
// ---------------------------------------------------------------------------------------------------------

async fn removing_a_friend_tells_them_once(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    // Sockets first, so that no presence push (§4.6) is involved: they become friends while both are online.
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;
    app.befriend(&a, &b).await;
    assert_eq!(b_ws.recv().await, received_push());
    assert_eq!(a_ws.recv().await, accepted_push(&b, &b));
    let ok = (200, done("Ami supprimé avec succès"));

    assert_eq!(remove(&app, &a, Some(&json!({"friendId": b.id}))).await, ok);
    assert_eq!(b_ws.recv().await, json!({"type": "friend_removed", "payload": {"friendId": a.id}}));
    assert!(friends_of(&app, &a).await.is_empty());
    assert!(friends_of(&app, &b).await.is_empty());
    assert_eq!(stored_friendships(&app, &a, &b).await, 0, "both directions deleted");

    // Again, from either side, and for an id that is nobody: still 200, and no push.
    assert_eq!(remove(&app, &a, Some(&json!({"friendId": b.id}))).await, ok);
    assert_eq!(remove(&app, &b, Some(&json!({"friendId": a.id}))).await, ok);
    assert_eq!(remove(&app, &a, Some(&json!({"friendId": "nobody"}))).await, ok);
    b_ws.silent_for(QUIET).await;
    a_ws.silent_for(Duration::ZERO).await;

    // They may become friends again; the earlier accepted request does not get in the way.
    assert_eq!(app.add_friend(&b, &a.tag).await, (200, sent(&a)));
    assert_eq!(a_ws.recv().await, received_push());
    let id = app.friend_request_id(&a, &b).await;
    assert_eq!(app.respond_to_friend_request(&a, &id, "accept").await, (200, done("Demande acceptée")));
    assert_eq!(b_ws.recv().await, accepted_push(&a, &a));
    assert_friends_once(&app, &a, &b).await;

    // B removes A this time (the id space-padded): A is told, B is not.
    assert_eq!(remove(&app, &b, Some(&json!({"friendId": format!(" {} ", a.id)}))).await, ok);
    assert_eq!(a_ws.recv().await, json!({"type": "friend_removed", "payload": {"friendId": b.id}}));
    assert!(friends_of(&app, &a).await.is_empty() && friends_of(&app, &b).await.is_empty());
    b_ws.silent_for(QUIET).await;
    a_ws.silent_for(Duration::ZERO).await;
}
on_both_backends!(removing_a_friend_tells_them_once);

async fn removing_needs_a_friend_id(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    app.befriend(&a, &b).await;
    let mut b_ws = app.ws(&b).await;
    let required = (400, err("friend_id_required", "ID d'ami requis"));

    assert_eq!(remove(&app, &a, None).await, required, "no body at all");
    for body in [json!({"friendId": ""}), json!({"friendId": "   "}), json!({}), json!({"friendId": null})] {
        assert_eq!(remove(&app, &a, Some(&body)).await, required, "for {body}");
    }
    b_ws.silent_for(QUIET).await;
    assert_friends_once(&app, &a, &b).await;
}
on_both_backends!(removing_needs_a_friend_id);

// ---------------------------------------------------------------------------------------------------------
// WebSocket messages (checklist 55, §2.7.1, §2.7.2)
// ---------------------------------------------------------------------------------------------------------

async fn ws_send_friend_request_checks_then_rules(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bob").await, app.sign_up("Carol").await);
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;
    let unknown = unused_tag(&[&a, &b, &c]);

    let cases = [
        (json!({"type": "send_friend_request"}), "receiverTag requis"),
        (json!({"type": "send_friend_request", "payload": {}}), "receiverTag requis"),
        (json!({"type": "send_friend_request", "payload": {"receiverTag": ""}}), "receiverTag requis"),
        (json!({"type": "send_friend_request", "payload": {"receiverTag": null}}), "receiverTag requis"),
        (json!({"type": "send_friend_request", "payload": {"tag": b.tag}}), "receiverTag requis"),
        (json!({"type": "send_friend_request", "payload": {"receiverTag": "   "}}), "Le tag est requis"),
        (json!({"type": "send_friend_request", "payload": {"receiverTag": unknown}}), "Utilisateur non trouvé"),
        (json!({"type": "send_friend_request", "payload": {"receiverTag": "nope"}}), "Utilisateur non trouvé"),
        (
            json!({"type": "send_friend_request", "payload": {"receiverTag": a.tag.to_lowercase()}}),
            "Vous ne pouvez pas vous ajouter vous-même",
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(a_ws.request(message.clone()).await, ws_error(expected), "for {message}");
        assert_usable(&mut a_ws).await;
    }

    let reply = a_ws
        .request(
            json!({"type": "send_friend_request", "payload": {"receiverTag": format!(" {} ", b.tag.to_lowercase())}}),
        )
        .await;
    assert_eq!(reply, json!({"type": "send_friend_request_success", "data": sent(&b)}));
    assert_eq!(b_ws.recv().await, received_push());
    assert_eq!(sender_ids(&requests_of(&app, &b).await), vec![a.id.as_str()]);

    let again = a_ws.send_friend_request(&b.tag).await;
    assert_eq!(again, ws_error("Une demande est déjà en attente"));
    assert_usable(&mut a_ws).await;

    app.befriend(&a, &c).await;
    assert_eq!(a_ws.recv().await, accepted_push(&c, &c), "C accepted over HTTP");
    let friends = a_ws.send_friend_request(&c.tag).await;
    assert_eq!(friends, ws_error("Vous êtes déjà amis avec cet utilisateur"));
    assert_usable(&mut a_ws).await;
    b_ws.silent_for(QUIET).await;
    assert_eq!(requests_of(&app, &b).await.len(), 1);
}
on_both_backends!(ws_send_friend_request_checks_then_rules);

async fn ws_mutual_request_replies_before_its_pushes(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push());

    b_ws.send(json!({"type": "send_friend_request", "payload": {"receiverTag": a.tag}})).await;
    assert_eq!(
        b_ws.recv().await,
        json!({"type": "send_friend_request_success", "data": mutual(&a)}),
        "the reply comes first"
    );
    assert_eq!(b_ws.recv().await, accepted_push(&b, &a), "then the push to the requester's own sockets");
    assert_eq!(a_ws.recv().await, accepted_push(&b, &b));
    a_ws.silent_for(QUIET).await;
    b_ws.silent_for(Duration::ZERO).await;
    assert_friends_once(&app, &a, &b).await;

    let again = a_ws.send_friend_request(&b.tag).await;
    assert_eq!(again, ws_error("Vous êtes déjà amis avec cet utilisateur"));
    assert_usable(&mut a_ws).await;
}
on_both_backends!(ws_mutual_request_replies_before_its_pushes);

async fn ws_respond_friend_request_checks_then_rules(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bob").await, app.sign_up("Carol").await);
    let mut a_ws = app.ws(&a).await;
    let mut b_ws = app.ws(&b).await;
    let mut c_ws = app.ws(&c).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push());
    let id = app.friend_request_id(&b, &a).await;
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let respond_msg = |payload: Value| json!({"type": "respond_friend_request", "payload": payload});

    let required = "requestId et action requis";
    let cases = [
        (json!({"type": "respond_friend_request"}), required),
        (respond_msg(json!({})), required),
        (respond_msg(json!({"requestId": id})), required),
        (respond_msg(json!({"action": "accept"})), required),
        (respond_msg(json!({"requestId": "", "action": "accept"})), required),
        (respond_msg(json!({"requestId": id, "action": ""})), required),
        (respond_msg(json!({"requestId": id, "action": "maybe"})), "Action invalide"),
        (respond_msg(json!({"requestId": unknown_id, "action": "maybe"})), "Action invalide"),
        (respond_msg(json!({"requestId": unknown_id, "action": "accept"})), "Demande d'ami non trouvée"),
    ];
    for (message, expected) in cases {
        assert_eq!(b_ws.request(message.clone()).await, ws_error(expected), "for {message}");
        assert_usable(&mut b_ws).await;
    }
    for ws in [&mut a_ws, &mut c_ws] {
        let reply = ws.respond_friend_request(&id, "accept").await;
        assert_eq!(reply, ws_error("Non autorisé"), "only the receiver answers");
        assert_usable(ws).await;
    }
    assert_eq!(ids(&requests_of(&app, &b).await), vec![id.as_str()], "still pending");

    let reply = b_ws.respond_friend_request(&id, "accept").await;
    assert_eq!(reply, json!({"type": "respond_friend_request_success", "data": done("Demande acceptée")}));
    assert_eq!(a_ws.recv().await, accepted_push(&b, &b));
    let twice = b_ws.respond_friend_request(&id, "reject").await;
    assert_eq!(twice, ws_error("Demande déjà traitée"));
    assert_usable(&mut b_ws).await;
    assert_friends_once(&app, &a, &b).await;

    // Rejecting over the socket: its own reply, and nothing for the sender.
    assert_eq!(app.add_friend(&c, &b.tag).await, (200, sent(&b)));
    assert_eq!(b_ws.recv().await, received_push());
    let from_c = app.friend_request_id(&b, &c).await;
    let reply = b_ws.respond_friend_request(&from_c, "reject").await;
    assert_eq!(reply, json!({"type": "respond_friend_request_success", "data": done("Demande rejetée")}));
    c_ws.silent_for(QUIET).await;
    a_ws.silent_for(Duration::ZERO).await;
    b_ws.silent_for(Duration::ZERO).await;
    assert!(requests_of(&app, &b).await.is_empty());
    assert!(friends_of(&app, &c).await.is_empty());
}
on_both_backends!(ws_respond_friend_request_checks_then_rules);

async fn pushes_reach_every_socket_of_the_recipient(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut a1 = app.ws(&a).await;
    let mut a2 = app.ws(&a).await;
    let mut b1 = app.ws(&b).await;
    let mut b2 = app.ws(&b).await;

    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    assert_eq!(b1.recv().await, received_push());
    assert_eq!(b2.recv().await, received_push());

    let id = app.friend_request_id(&b, &a).await;
    assert_eq!(app.respond_to_friend_request(&b, &id, "accept").await, (200, done("Demande acceptée")));
    assert_eq!(a1.recv().await, accepted_push(&b, &b));
    assert_eq!(a2.recv().await, accepted_push(&b, &b));

    assert_eq!(remove(&app, &a, Some(&json!({"friendId": b.id}))).await, (200, done("Ami supprimé avec succès")));
    let removed = json!({"type": "friend_removed", "payload": {"friendId": a.id}});
    assert_eq!(b1.recv().await, removed);
    assert_eq!(b2.recv().await, removed);

    for ws in [&mut a1, &mut a2, &mut b1, &mut b2] {
        ws.silent_for(QUIET).await;
    }
}
on_both_backends!(pushes_reach_every_socket_of_the_recipient);

// ---------------------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------------------

/// Sends `POST /api/friends/add` on its own task, so that many run at once.
fn spawn_add(app: &TestApp, user: &TestUser, tag: &str) -> tokio::task::JoinHandle<(u16, Value)> {
    let (client, url, cookie) = (app.client.clone(), app.url("/api/friends/add"), user.cookie.clone());
    let body = json!({"tag": tag});
    tokio::spawn(async move {
        let res = client.post(url).header("cookie", cookie).json(&body).send().await.expect("request sent");
        json(res).await
    })
}

async fn concurrent_identical_requests_make_one(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut b_ws = app.ws(&b).await;

    let tasks: Vec<_> = (0..200).map(|_| spawn_add(&app, &a, &b.tag)).collect();
    let answers: Vec<(u16, Value)> =
        futures_util::future::join_all(tasks).await.into_iter().map(|r| r.expect("task")).collect();
    let pending = (409, err("request_already_pending", "Une demande est déjà en attente"));
    let winners = answers.iter().filter(|a| **a == (200, sent(&b))).count();
    let losers = answers.iter().filter(|a| **a == pending).count();
    let others: Vec<_> = answers.iter().filter(|a| **a != (200, sent(&b)) && **a != pending).collect();
    assert!(others.is_empty(), "only the success and request_already_pending: {others:?}");
    assert_eq!((winners, losers), (1, 199));

    assert_eq!(b_ws.recv().await, received_push());
    b_ws.silent_for(QUIET).await;
    assert_eq!(sender_ids(&requests_of(&app, &b).await), vec![a.id.as_str()]);
    assert_eq!(stored_requests(&app, &a, &b, None).await, 1);
}
on_both_backends!(concurrent_identical_requests_make_one);

/// Fires A → B and B → A at once; asserts one plain request and one auto-accept, and friends exactly once.
async fn race_mutual_pair(app: &TestApp, a: &TestUser, b: &TestUser, round: usize) {
    let (from_a, from_b) = (spawn_add(app, a, &b.tag), spawn_add(app, b, &a.tag));
    let (from_a, from_b) = (from_a.await.expect("task"), from_b.await.expect("task"));
    // The pending-pair index admits one pending request for the pair in either direction, so exactly one
    // send creates it and the other meets it and accepts (§4.2 rules 6 and 7).
    let plain_then_auto = from_a == (200, sent(b)) && from_b == (200, mutual(a));
    let auto_then_plain = from_a == (200, mutual(b)) && from_b == (200, sent(a));
    assert!(
        plain_then_auto || auto_then_plain,
        "round {round}: one plain and one auto-accept: {from_a:?} / {from_b:?}"
    );
    assert_friends_once(app, a, b).await;
    // §4.2 rule 7: the answered requests of earlier rounds were replaced, only this round's remains.
    assert_eq!(stored_requests(app, a, b, None).await, 1, "round {round}");
    assert_eq!(stored_requests(app, a, b, Some("accepted")).await, 1, "round {round}");
}

async fn concurrent_mutual_requests_make_friends_once(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    for round in 0..10 {
        let a = app.sign_up(&format!("Left{round}")).await;
        let b = app.sign_up(&format!("Right{round}")).await;
        race_mutual_pair(&app, &a, &b, round).await;
    }
}
on_both_backends!(concurrent_mutual_requests_make_friends_once);

async fn repeated_mutual_races_on_one_pair(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    for round in 0..10 {
        race_mutual_pair(&app, &a, &b, round).await;
        // Each round starts from an answered request between the pair, which both sends must clear.
        assert_eq!(remove(&app, &a, Some(&json!({"friendId": b.id}))).await.0, 200);
        assert!(friends_of(&app, &a).await.is_empty());
    }
}
on_both_backends!(repeated_mutual_races_on_one_pair);

async fn concurrent_answers_to_one_request_count_once(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bob").await);
    let mut a_ws = app.ws(&a).await;
    assert_eq!(app.add_friend(&a, &b.tag).await, (200, sent(&b)));
    let id = app.friend_request_id(&b, &a).await;

    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let (client, cookie) = (app.client.clone(), b.cookie.clone());
            let url = app.url(&format!("/api/friends/requests/{id}"));
            let action = if n % 2 == 0 { "accept" } else { "reject" };
            tokio::spawn(async move {
                let res = client.post(url).header("cookie", cookie).json(&json!({"action": action})).send().await;
                (action, json(res.expect("request sent")).await)
            })
        })
        .collect();
    let answers: Vec<_> = futures_util::future::join_all(tasks).await.into_iter().map(|r| r.expect("task")).collect();
    let processed = (409, err("request_already_processed", "Demande déjà traitée"));
    let winners: Vec<_> = answers.iter().filter(|(_, answer)| answer.0 == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one answer counts: {answers:?}");
    assert!(answers.iter().all(|(_, answer)| answer.0 == 200 || *answer == processed), "{answers:?}");
    assert!(requests_of(&app, &b).await.is_empty());

    if winners[0].0 == "accept" {
        assert_eq!(winners[0].1, (200, done("Demande acceptée")));
        assert_eq!(a_ws.recv().await, accepted_push(&b, &b), "told once");
        a_ws.silent_for(QUIET).await;
        assert_friends_once(&app, &a, &b).await;
    } else {
        assert_eq!(winners[0].1, (200, done("Demande rejetée")));
        a_ws.silent_for(QUIET).await;
        assert!(friends_of(&app, &a).await.is_empty() && friends_of(&app, &b).await.is_empty());
        assert_eq!(stored_requests(&app, &a, &b, Some("rejected")).await, 1);
    }
}
on_both_backends!(concurrent_answers_to_one_request_count_once);

#[tokio::test]
async fn the_friends_list_is_capped() {
    use mapquiz_server::friends::routes::MAX_FRIENDS_LISTED;
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let now = app.state.clock.now();
    let many = MAX_FRIENDS_LISTED as usize + 5;
    let users: Vec<mapquiz_store::NewUser> = (0..many)
        .map(|i| mapquiz_store::NewUser {
            id: format!("friend-{i:05}"),
            name: format!("Friend {i}"),
            email: format!("friend-{i}@example.com"),
            email_verified: false,
            image: None,
            tag: mapquiz_server::users::tags::draw().as_str().to_owned(),
            created_at: now,
        })
        .collect();
    app.state.store.insert_users(&users).await.unwrap();
    for u in &users {
        app.state.store.add_friendship(&a.id, &u.id, now).await.unwrap();
    }
    let (status, body) = json(app.get_as(&a, "/api/friends/list").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["friends"].as_array().unwrap().len(), MAX_FRIENDS_LISTED as usize);
}
