//! Two server processes (the real binary) sharing PostgreSQL and Redis: friend pushes and presence cross
//! nodes, and cutting Redis (a TCP proxy this test starts, never the machine's Redis) degrades delivery to
//! each node's own sockets without an error to any client, until Redis returns.
//!
//! Runs when `TEST_DATABASE_URL` and `TEST_REDIS_URL` are set (both required under `CI`).

use crate::support::friends::friend_request_id_at;
use crate::support::node::Node;
use crate::support::proxy::Proxy;
use crate::support::ws::Ws;
use crate::support::{TestUser, test_redis_url};
use mapquiz_store::testing::TestDatabase;
use serde_json::json;
use std::time::{Duration, Instant};

/// The presence grace the nodes run with.
const GRACE: Duration = Duration::from_millis(300);

/// A node with the presence grace of these tests, and `extra` settings (environment variables).
pub(crate) async fn start(database_url: &str, redis_url: &str, extra: &[(&str, &str)]) -> Node {
    let grace = GRACE.as_millis().to_string();
    let mut settings = vec![("MAPQUIZ_PRESENCE_GRACE_MS", grace.as_str())];
    settings.extend_from_slice(extra);
    Node::start(database_url, redis_url, &settings).await
}

#[tokio::test]
async fn friends_and_presence_cross_nodes_and_survive_a_redis_outage() {
    let Some(redis) = test_redis_url() else { return };
    let Some(db) = TestDatabase::new(true).await else { return };
    let (proxy, proxied) = Proxy::in_front_of_redis(&redis).await;
    let node_a = start(db.url(), &proxied, &[]).await;
    let node_b = start(db.url(), &proxied, &[]).await;
    node_a.wait_for_bus("connected").await;
    node_b.wait_for_bus("connected").await;

    let (_alice, mut alice_ws, bob, mut bob_ws) = friends_and_presence_cross_nodes(&node_a, &node_b).await;

    // Redis goes away. Nothing fails for the clients; events still reach sockets on the sender's node.
    proxy.cut();
    node_a.wait_for_bus("degraded").await;
    let carol = node_a.sign_up("Carol").await;
    let mut carol_ws = node_a.ws(&carol).await;
    let reply = alice_ws.request(json!({"type": "send_friend_request", "payload": {"receiverTag": carol.tag}})).await;
    assert_eq!(reply["type"], "send_friend_request_success", "{reply}");
    assert_eq!(carol_ws.recv().await, json!({"type": "friend_request_received"}), "local delivery goes on");
    let (status, body) = node_b.post_as(&bob, "/api/friends/add", json!({"tag": carol.tag})).await;
    assert_eq!(status, 200, "a request through the other node succeeds too: {body}");
    assert_eq!(bob_ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    assert_eq!(alice_ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));

    // Redis returns: cross-node delivery resumes. Carol (node A) keeps asking Dave (node B) until one
    // request's push arrives (the subscriber re-subscribes a moment after reconnecting).
    proxy.restore();
    node_a.wait_for_bus("connected").await;
    node_b.wait_for_bus("connected").await;
    let dave = node_b.sign_up("Dave").await;
    let mut dave_ws = node_b.ws(&dave).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = node_a.post_as(&carol, "/api/friends/add", json!({"tag": dave.tag})).await;
        assert_eq!(status, 200, "{body}");
        if let Ok(frame) = tokio::time::timeout(Duration::from_secs(1), dave_ws.recv()).await {
            assert_eq!(frame, json!({"type": "friend_request_received"}));
            break;
        }
        assert!(Instant::now() < deadline, "cross-node delivery never resumed: {}", node_a.log());
        let id = friend_request_id_at(&node_b.client, node_b.address, &dave, &carol).await;
        let (status, _) =
            node_b.post_as(&dave, &format!("/api/friends/requests/{id}"), json!({"action": "reject"})).await;
        assert_eq!(status, 200);
    }
    // Ours, not the Redis client's: fred itself logs a resubscription that timed out during the cut as an
    // error, and retries.
    let ours = |log: String| log.lines().any(|l| l.contains(" ERROR ") && !l.contains(" ERROR fred-"));
    assert!(!ours(node_a.log()) && !ours(node_b.log()), "{}\n{}", node_a.log(), node_b.log());
}

/// Alice (node A) and Bob (node B) become friends through pushes that cross nodes, and presence follows
/// Alice's sockets across both nodes. Returns Alice, her socket on node A, Bob and his socket on node B.
pub(crate) async fn friends_and_presence_cross_nodes(node_a: &Node, node_b: &Node) -> (TestUser, Ws, TestUser, Ws) {
    let alice = node_a.sign_up("Alice").await;
    let bob = node_b.sign_up("Bob").await;
    let mut bob_ws = node_b.ws(&bob).await;
    let mut alice_ws = node_a.ws(&alice).await;

    // A request sent through node A reaches Bob on node B; Bob accepts there and Alice hears it on node A.
    let (status, body) = node_a.post_as(&alice, "/api/friends/add", json!({"tag": bob.tag})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bob_ws.recv().await, json!({"type": "friend_request_received"}));
    let id = friend_request_id_at(&node_b.client, node_b.address, &bob, &alice).await;
    let reply = bob_ws
        .request(json!({"type": "respond_friend_request", "payload": {"requestId": id, "action": "accept"}}))
        .await;
    assert_eq!(reply["type"], "respond_friend_request_success", "{reply}");
    assert_eq!(
        alice_ws.recv().await,
        json!({"type": "friend_request_accepted", "payload": {"success": true, "acceptedBy": bob.id, "friendId": bob.id}})
    );

    // Presence across nodes: Alice also opens a socket on node B, then leaves node A: she is still held by
    // node B, so Bob hears nothing. When her last socket (on node B) closes, Bob sees her go offline.
    let alice_on_b = node_b.ws(&alice).await;
    alice_ws.close().await;
    bob_ws.silent_for(GRACE * 3).await;
    let (_, friends) = node_a.get_as(&bob, "/api/friends/list").await;
    assert_eq!(friends["friends"][0]["isOnline"], true, "{friends}");
    alice_on_b.close().await;
    bob_ws.expect_friend_status(&alice, false).await;
    // She comes back through node A: Bob (node B) sees her online.
    let alice_ws = node_a.ws(&alice).await;
    bob_ws.expect_friend_status(&alice, true).await;
    (alice, alice_ws, bob, bob_ws)
}

/// A node that dies (SIGKILL: no shutdown, its users never marked offline) no longer leaves them shown
/// online: once its heartbeat expires, a live node sweeps them offline and tells their friends.
#[tokio::test]
async fn a_dead_nodes_users_are_swept_offline_by_a_live_node() {
    let Some(redis) = test_redis_url() else { return };
    let Some(db) = TestDatabase::new(true).await else { return };
    let node_a = start(db.url(), &redis, &[]).await;
    let mut node_b = start(db.url(), &redis, &[]).await;
    let (_alice, mut alice_ws, bob, bob_ws) = friends_and_presence_cross_nodes(&node_a, &node_b).await;

    node_b.kill();
    drop(bob_ws);
    let killed = Instant::now();
    // The heartbeat expiry (15 s) and the next sweep (every 5 s), with a margin for a loaded machine.
    let deadline = killed + Duration::from_secs(40);
    let frame = loop {
        assert!(Instant::now() < deadline, "Bob is swept offline within 40 s");
        // Short waits: the socket's own read panics after 10 s of silence.
        if let Ok(frame) = tokio::time::timeout(Duration::from_secs(1), alice_ws.recv()).await
            && frame["type"] == "friend_status_change"
        {
            break frame;
        }
    };
    assert_eq!(frame["payload"]["friendId"], bob.id.as_str(), "{frame}");
    assert_eq!(frame["payload"]["isOnline"], false, "{frame}");
    let swept_after = killed.elapsed();
    assert!(swept_after > Duration::from_secs(10), "not before the dead node's heartbeat expired: {swept_after:?}");
    assert!(!node_a.log().contains("ERROR"), "{}", node_a.log());
}
