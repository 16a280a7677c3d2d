//! The gateway's connection lifecycle (protocol §2.1–2.5): open, authentication, envelope errors, limits.

use crate::support::auth::sign_in_again;
use crate::support::ws::{WAIT, Ws, eventually, open};
use crate::support::{TestApp, json};
use futures_util::{SinkExt, StreamExt};
use mapquiz_server::bus::Event;
use mapquiz_server::ws::protocol::{Frame, pong};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn open_authenticate_twice_and_ping() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let mut ws = Ws::connect(app.address, Some(&a.cookie)).await;
    assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    ws.authenticate(&a.id).await;
    ws.authenticate(&a.id).await;
    assert_eq!(app.state.realtime.hub.socket_count(), 1, "registered once");
}

#[tokio::test]
async fn a_plain_get_is_426_and_a_foreign_origin_403() {
    let app = TestApp::spawn().await;
    let (status, body) = json(app.get("/ws").await).await;
    assert_eq!(status, 426);
    assert_eq!(body, json!({"error": "Mise à niveau WebSocket requise", "code": "upgrade_required"}));
    match open(app.address, &[("origin", "https://evil.example")]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("expected a 403 refusal, got {:?}", other.map(|_| ())),
    }
    let mut ws = open(app.address, &[("origin", "http://localhost:5173")]).await.expect("allowlisted origin");
    assert_eq!(ws.recv().await["type"], "connected");
}

#[tokio::test]
async fn envelope_errors_keep_the_socket_usable() {
    let app = TestApp::spawn().await;
    let mut ws = Ws::connect(app.address, None).await;
    for (sent, message) in [
        ("not json", "Message JSON invalide"),
        ("[]", "Message invalide"),
        ("{}", "Type de message requis"),
        (r#"{"type":"foo"}"#, "Type de message non supporté: foo"),
        (r#"{"type":"set_player_absent"}"#, "Type de message non supporté: set_player_absent"),
        (
            r#"{"type":"send_friend_request","payload":{"receiverTag":"X"}}"#,
            "Non authentifié - veuillez vous connecter",
        ),
    ] {
        ws.send_text(sent).await;
        assert_eq!(ws.recv().await, json!({"type": "error", "message": message}), "for {sent}");
    }
    assert_eq!(
        ws.request(json!({"type": "authenticate"})).await,
        json!({"type": "authentication_failed", "message": "Session invalide"})
    );
    assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009_and_binary_with_1003() {
    let app = TestApp::spawn().await;
    let mut ws = Ws::connect(app.address, None).await;
    ws.send_text(&format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(100 * 1024))).await;
    assert_eq!(ws.closed().await, Some(1009));
    let mut ws = Ws::connect(app.address, None).await;
    use futures_util::SinkExt;
    ws.stream.send(tokio_tungstenite::tungstenite::Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(ws.closed().await, Some(1003));
}

#[tokio::test]
async fn sign_out_closes_that_session_s_sockets_with_1008() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let mut ws = app.ws(&a).await;
    let res = app.client.post(app.url("/api/auth/sign-out")).header("cookie", &a.cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(ws.closed().await, Some(1008));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(app.state.realtime.hub.socket_count(), 0);
}

const PING: &str = r#"{"type":"ping"}"#;
const TOO_MANY: &str = "Trop de messages, veuillez ralentir";

fn pings(n: usize) -> Vec<String> {
    vec![PING.to_owned(); n]
}

/// Open connections (authenticated or not) as the server counts them.
fn open_connections(app: &TestApp) -> usize {
    app.state.ws_connections.load(Ordering::Relaxed)
}

#[tokio::test]
async fn a_bearer_token_on_the_upgrade_authenticates() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let mut ws = open(app.address, &[("authorization", &a.bearer())]).await.expect("the upgrade succeeds");
    assert_eq!(ws.recv().await["type"], "connected");
    ws.authenticate(&a.id).await;
    assert!(app.state.realtime.hub.holds(&a.id));
    assert_eq!(app.state.realtime.hub.socket_count(), 1);
}

#[tokio::test]
async fn invalid_credentials_do_not_refuse_the_upgrade() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    // A tampered signature, then a bearer token that is no session.
    let (name, value) = a.cookie.split_once('=').unwrap();
    let tampered = format!("{name}={}x", &value[..value.len() - 1]);
    for header in [("cookie", tampered.as_str()), ("authorization", "Bearer not-a-session-token")] {
        let mut ws = open(app.address, &[header]).await.expect("an invalid credential does not refuse the upgrade");
        assert_eq!(ws.recv().await["type"], "connected", "with {header:?}");
        assert_eq!(
            ws.request(json!({"type": "authenticate", "payload": {"userId": a.id}})).await,
            json!({"type": "authentication_failed", "message": "Session invalide"}),
            "the claimed userId is never trusted"
        );
        assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}), "the socket stays usable");
        assert_eq!(
            ws.send_friend_request("ZZZZZZZZ").await,
            json!({"type": "error", "message": "Non authentifié - veuillez vous connecter"})
        );
    }
    assert_eq!(app.state.realtime.hub.socket_count(), 0, "nothing registered");
}

#[tokio::test]
async fn a_first_message_authenticates_implicitly_without_an_authenticated_frame() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let mut ws = Ws::connect(app.address, Some(&a.cookie)).await;
    assert_eq!(
        ws.send_friend_request("ZZZZZZZZ").await,
        json!({"type": "error", "message": "Utilisateur non trouvé"}),
        "the message is processed, with no authenticated frame before its answer"
    );
    assert_eq!(app.state.realtime.hub.socket_count(), 1, "the socket registered");
    assert!(app.state.realtime.hub.holds(&a.id));
    ws.authenticate(&a.id).await;
    assert_eq!(app.state.realtime.hub.socket_count(), 1, "registered once");
    ws.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn past_the_rate_the_excess_is_dropped_with_one_warning() {
    let app =
        TestApp::spawn_with(false, |f| f.merge(("ws_rate_max", 5)).merge(("ws_rate_window_secs", 10))).await.unwrap();
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    let mut ws = app.ws(&a).await;
    // `authenticate` and the registration's ping took two tokens: three pings pass, then three friend
    // requests that must not run.
    let mut batch = pings(3);
    batch.extend(std::iter::repeat_n(
        json!({"type": "send_friend_request", "payload": {"receiverTag": b.tag}}).to_string(),
        3,
    ));
    batch.push(PING.to_owned());
    ws.send_batch(&batch).await;
    for _ in 0..3 {
        assert_eq!(ws.recv().await, json!({"type": "pong"}));
    }
    assert_eq!(ws.recv().await, json!({"type": "error", "message": TOO_MANY}));
    ws.silent_for(Duration::from_millis(500)).await;
    let (status, body) = json(app.get_as(&b, "/api/friends/requests").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["friendRequests"], json!([]), "the dropped friend requests were not executed");
}

#[tokio::test]
async fn eight_pings_against_a_rate_of_five_get_five_pongs_and_one_error() {
    let app =
        TestApp::spawn_with(false, |f| f.merge(("ws_rate_max", 5)).merge(("ws_rate_window_secs", 10))).await.unwrap();
    let mut ws = Ws::connect(app.address, None).await;
    ws.send_batch(&pings(8)).await;
    let mut frames = Vec::new();
    for _ in 0..6 {
        frames.push(ws.recv().await);
    }
    let mut expected = vec![json!({"type": "pong"}); 5];
    expected.push(json!({"type": "error", "message": TOO_MANY}));
    assert_eq!(frames, expected);
    ws.silent_for(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn flooding_past_the_abuse_ceiling_closes_with_1008() {
    let app = TestApp::spawn_with(false, |f| f.merge(("ws_rate_max", 5)).merge(("ws_abuse_max", 20))).await.unwrap();
    let mut ws = Ws::connect(app.address, None).await;
    ws.send_batch(&pings(30)).await;
    let (frames, code) = ws.frames_until_close().await;
    assert_eq!(code, Some(1008));
    // Whether the replies queued before the close still go out is the subject of
    // `replies_queued_before_a_close_are_still_sent`; here only what may arrive is checked.
    let mut expected = vec![json!({"type": "pong"}); 5];
    expected.push(json!({"type": "error", "message": TOO_MANY}));
    assert!(expected.starts_with(&frames), "{frames:?}");
    assert!(eventually(|| open_connections(&app) == 0).await, "the connection is gone");
}

/// The production runtime is multi-threaded, so is this test's: the lost replies are not an artefact of a
/// single-threaded test runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_queued_before_a_close_are_still_sent() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    let mut ws = app.ws(&a).await;
    // Two messages the server executes and answers, then a binary frame that closes the socket (1003).
    let request = json!({"type": "send_friend_request", "payload": {"receiverTag": b.tag}});
    ws.stream.feed(Message::text(request.to_string())).await.unwrap();
    ws.stream.feed(Message::text(PING)).await.unwrap();
    ws.stream.feed(Message::binary(vec![1, 2, 3])).await.unwrap();
    ws.stream.flush().await.unwrap();
    let (frames, code) = ws.frames_until_close().await;
    assert_eq!(code, Some(1003));
    let (_, requests) = json(app.get_as(&b, "/api/friends/requests").await).await;
    assert_eq!(requests["friendRequests"].as_array().unwrap().len(), 1, "the friend request was executed");
    assert_eq!(
        frames,
        vec![
            json!({"type": "send_friend_request_success", "data": {
                "success": true, "message": "Demande d'ami envoyée", "receiverId": b.id, "autoAccepted": false}}),
            json!({"type": "pong"}),
        ],
        "every executed message is answered before the close frame"
    );
}

#[tokio::test]
async fn the_default_rate_allows_one_hundred_messages_then_warns() {
    let app = TestApp::spawn().await;
    let mut ws = Ws::connect(app.address, None).await;
    ws.send_batch(&pings(102)).await;
    for i in 0..100 {
        assert_eq!(ws.recv().await, json!({"type": "pong"}), "message {i}");
    }
    assert_eq!(ws.recv().await, json!({"type": "error", "message": TOO_MANY}), "the 101st message");
    ws.silent_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn replies_come_in_request_order_and_before_the_pushes_they_cause() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.sign_up("Alice").await, app.sign_up("Bruno").await);
    // B has a pending request to A: A's request to B is then auto-accepted, which pushes to both.
    let (status, _) = json(app.post_as(&b, "/api/friends/add", &json!({"tag": a.tag})).await).await;
    assert_eq!(status, 200);
    let mut ws = Ws::connect(app.address, Some(&a.cookie)).await;
    let sent: Vec<String> = [
        json!({"type": "ping"}),
        json!({"type": "first_unknown"}),
        json!({"type": "authenticate"}),
        json!({"type": "ping"}),
        json!({"type": "send_friend_request", "payload": {"receiverTag": "ZZZZZZZZ"}}),
        json!({"type": "second_unknown"}),
        json!({"type": "send_friend_request", "payload": {"receiverTag": b.tag}}),
        json!({"type": "ping"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    ws.send_batch(&sent).await;
    let mut frames = Vec::new();
    for _ in 0..9 {
        frames.push(ws.recv().await);
    }
    assert_eq!(
        frames,
        vec![
            json!({"type": "pong"}),
            json!({"type": "error", "message": "Type de message non supporté: first_unknown"}),
            json!({"type": "authenticated", "data": {"userId": a.id}}),
            json!({"type": "pong"}),
            json!({"type": "error", "message": "Utilisateur non trouvé"}),
            json!({"type": "error", "message": "Type de message non supporté: second_unknown"}),
            json!({"type": "send_friend_request_success", "data": {
                "success": true, "message": "Vous êtes maintenant amis", "receiverId": b.id, "autoAccepted": true}}),
            json!({"type": "friend_request_accepted", "payload": {"success": true, "acceptedBy": a.id, "friendId": b.id}}),
            json!({"type": "pong"}),
        ]
    );
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_when_idle() {
    let app = TestApp::spawn_with(false, |f| f.merge(("ws_ping_interval_ms", 100)).merge(("ws_idle_timeout_ms", 400)))
        .await
        .unwrap();
    let a = app.sign_up("Alice").await;
    // tungstenite answers ping frames only while the client reads: this one reads nothing after `authenticated`.
    let mut ws = app.ws(&a).await;
    assert_eq!(open_connections(&app), 1);
    assert!(eventually(|| open_connections(&app) == 0).await, "the silent connection is closed");
    assert_eq!(app.state.realtime.hub.socket_count(), 0);
    // What the client finds when it reads again: heartbeats, then the close (1001) or the end of the stream.
    let (frames, code) = ws.frames_until_close().await;
    assert_eq!(frames, Vec::<Value>::new());
    assert!(matches!(code, None | Some(1001)), "closed with {code:?}");
}

#[tokio::test]
async fn a_client_that_reads_answers_heartbeats_and_stays_open() {
    let app = TestApp::spawn_with(false, |f| f.merge(("ws_ping_interval_ms", 100)).merge(("ws_idle_timeout_ms", 400)))
        .await
        .unwrap();
    let mut ws = Ws::connect(app.address, None).await;
    // Read (and so answer pings) for three idle timeouts without sending anything.
    let mut heartbeats = 0;
    let reading = async {
        while let Some(message) = ws.stream.next().await {
            match message.expect("the socket stays open") {
                Message::Ping(_) => heartbeats += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("the server closed a socket that answers its pings");
    };
    let _ = tokio::time::timeout(Duration::from_millis(1200), reading).await;
    assert!(heartbeats > 0, "the server sends ping frames");
    assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    assert_eq!(open_connections(&app), 1);
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_disconnected_and_the_others_keep_everything() {
    let app = TestApp::spawn_with(false, |f| f.merge(("ws_outgoing_queue", 8))).await.unwrap();
    let (slow, fast) = (app.sign_up("Slow").await, app.sign_up("Fast").await);
    let mut slow_ws = app.ws(&slow).await;
    let mut fast_ws = app.ws(&fast).await;
    // The fast client reads everything until the marker frame, in its own task.
    let fast_reader = tokio::spawn(async move {
        let mut received = 0usize;
        loop {
            match tokio::time::timeout(WAIT, fast_ws.stream.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == r#"{"type":"pong"}"# => return (received, fast_ws),
                Ok(Some(Ok(Message::Text(_)))) => received += 1,
                Ok(Some(Ok(_))) => {}
                other => panic!("the fast reader lost its socket: {other:?}"),
            }
        }
    });
    // Large frames, paced so that every writer gets to run: only the kernel buffers of the socket that
    // is not read can fill up, and then its queue.
    let big = Frame::from(format!(r#"{{"type":"big","pad":"{}"}}"#, "x".repeat(32 * 1024)));
    let users = vec![slow.id.clone(), fast.id.clone()];
    let mut pushed = 0usize;
    while app.state.realtime.hub.holds(&slow.id) && pushed < 2000 {
        app.state.realtime.bus.publish(Event::to_users(users.clone(), &big));
        pushed += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!app.state.realtime.hub.holds(&slow.id), "the slow reader is still attached after {pushed} frames");
    app.state.realtime.bus.publish(Event::to_user(&fast.id, &pong()));
    let (received, _fast_ws) = fast_reader.await.unwrap();
    assert_eq!(received, pushed, "the reading client got every frame");
    assert!(app.state.realtime.hub.holds(&fast.id));
    assert!(eventually(|| open_connections(&app) == 1).await, "the slow connection is gone, not buffered");
    let (_, code) = slow_ws.frames_until_close().await;
    assert!(matches!(code, None | Some(1008)), "closed with {code:?}");
}

#[tokio::test]
async fn one_socket_past_the_per_user_limit_closes_the_oldest_with_1008() {
    let app = TestApp::spawn_with(false, |f| f.merge(("ws_max_sockets_per_user", 2))).await.unwrap();
    let a = app.sign_up("Alice").await;
    let mut oldest = app.ws(&a).await;
    let mut middle = app.ws(&a).await;
    let mut newest = app.ws(&a).await;
    assert_eq!(oldest.closed().await, Some(1008));
    assert_eq!(app.state.realtime.hub.socket_count(), 2);
    assert!(app.state.realtime.hub.holds(&a.id));
    for ws in [&mut middle, &mut newest] {
        assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    }
    app.state.realtime.bus.publish(Event::to_user(&a.id, &pong()));
    assert_eq!(middle.recv().await, json!({"type": "pong"}), "pushes still reach the remaining sockets");
    assert_eq!(newest.recv().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn pushes_reach_every_socket_of_the_user_and_one_close_keeps_the_user() {
    let app = TestApp::spawn().await;
    let (a, b, c) = (app.sign_up("Alice").await, app.sign_up("Bruno").await, app.sign_up("Chloe").await);
    let mut first = app.ws(&a).await;
    let mut second = app.ws(&a).await;
    let (status, _) = json(app.post_as(&b, "/api/friends/add", &json!({"tag": a.tag})).await).await;
    assert_eq!(status, 200);
    assert_eq!(first.recv().await, json!({"type": "friend_request_received"}));
    assert_eq!(second.recv().await, json!({"type": "friend_request_received"}));
    first.close().await;
    assert!(eventually(|| app.state.realtime.hub.socket_count() == 1).await);
    assert!(app.state.realtime.hub.holds(&a.id), "A keeps a socket");
    let (status, _) = json(app.post_as(&c, "/api/friends/add", &json!({"tag": a.tag})).await).await;
    assert_eq!(status, 200);
    assert_eq!(second.recv().await, json!({"type": "friend_request_received"}));
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_1001() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let mut authenticated = app.ws(&a).await;
    let mut anonymous = Ws::connect(app.address, None).await;
    app.stop().await.unwrap();
    assert_eq!(authenticated.closed().await, Some(1001));
    assert_eq!(anonymous.closed().await, Some(1001));
}

#[tokio::test]
async fn revoking_the_other_sessions_closes_their_sockets_only() {
    let app = TestApp::spawn().await;
    let here = app.sign_up("Alice").await;
    let elsewhere = sign_in_again(&app, &here).await;
    let mut mine = app.ws(&here).await;
    let mut other = app.ws(&elsewhere).await;
    assert_eq!(app.state.realtime.hub.socket_count(), 2);
    let (status, body) = json(app.post_as(&here, "/api/auth/revoke-other-sessions", &json!({})).await).await;
    assert_eq!((status, body), (200, json!({"status": true})));
    assert_eq!(other.closed().await, Some(1008));
    assert!(eventually(|| app.state.realtime.hub.socket_count() == 1).await);
    assert_eq!(mine.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    mine.authenticate(&here.id).await;
}

#[tokio::test]
async fn a_session_that_expires_while_the_socket_is_open_ends_it() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let mut ws = app.ws(&a).await;
    app.clock.advance(Duration::from_secs(8 * 86_400));
    let reply = ws.send_friend_request("ZZZZZZZZ").await;
    assert_eq!(reply, json!({"type": "error", "message": "Non authentifié - veuillez vous connecter"}));
    assert_eq!(ws.closed().await, Some(1008));
}

#[tokio::test]
async fn a_session_extended_since_the_socket_opened_keeps_it() {
    let app = TestApp::spawn().await;
    let a = app.sign_up("Alice").await;
    let mut ws = app.ws(&a).await;
    // Six days on, get-session slides the expiry a week ahead; two more days pass the old expiry only.
    app.clock.advance(Duration::from_secs(6 * 86_400));
    let res = app.get_as(&a, "/api/auth/get-session").await;
    assert_eq!(res.status(), 200);
    app.clock.advance(Duration::from_secs(2 * 86_400));
    let reply = ws.send_friend_request("ZZZZZZZZ").await;
    assert_eq!(reply, json!({"type": "error", "message": "Utilisateur non trouvé"}));
}

#[tokio::test]
async fn a_session_deleted_without_a_close_event_still_ends_its_socket() {
    // As when the sign-out happened on another node while Redis was down: the row is gone, no event came.
    let app =
        TestApp::spawn_with(false, |f| f.merge(("ws_session_check_ms", 200)).merge(("session_cache_ttl_secs", 0)))
            .await
            .unwrap();
    let a = app.sign_up("Alice").await;
    let mut ws = app.ws(&a).await;
    let deleted = app
        .state
        .store
        .delete_sessions(&mapquiz_store::SessionSelector::AllOfUser { user_id: a.id.clone(), except: None })
        .await
        .unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(ws.closed().await, Some(1008));
}
