//! Two server processes (the real binary) sharing PostgreSQL and Redis: friend pushes and presence cross
//! nodes, and cutting Redis (a TCP proxy this test starts, never the machine's Redis) degrades delivery to
//! each node's own sockets without an error to any client, until Redis returns.
//!
//! Runs when `TEST_DATABASE_URL` and `TEST_REDIS_URL` are set (both required under `CI`).

use crate::support::friends::friend_request_id_at;
use crate::support::proxy::Proxy;
use crate::support::ws::Ws;
use crate::support::{TEST_SECRET, TestUser, json, sign_up_at, test_redis_url};
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The presence grace the nodes run with.
const GRACE: Duration = Duration::from_millis(300);

/// One `mapquiz serve` process.
struct Node {
    child: Child,
    address: SocketAddr,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start(database_url: &str, redis_url: &str) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
        let grace = GRACE.as_millis().to_string();
        let child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .envs([
                ("DATABASE_URL", database_url),
                ("REDIS_URL", redis_url),
                ("HOST", "127.0.0.1"),
                ("PORT", &port.to_string()),
                ("BETTER_AUTH_SECRET", TEST_SECRET),
                ("MAPQUIZ_ARGON2_MEMORY_KIB", "1024"),
                ("MAPQUIZ_ARGON2_ITERATIONS", "1"),
                ("MAPQUIZ_PRESENCE_GRACE_MS", &grace),
                ("MAPQUIZ_LOG_LEVEL", "warn"),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mapquiz starts");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let node = Node { child, address, client: reqwest::Client::new(), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while node.client.get(node.url("/livez")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the node did not start: {}", node.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        node
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("node.log")).unwrap_or_default()
    }

    async fn sign_up(&self, name: &str) -> TestUser {
        sign_up_at(&self.client, self.address, name).await
    }

    async fn post_as(&self, user: &TestUser, path: &str, body: Value) -> (u16, Value) {
        json(self.client.post(self.url(path)).header("cookie", &user.cookie).json(&body).send().await.unwrap()).await
    }

    async fn get_as(&self, user: &TestUser, path: &str) -> (u16, Value) {
        json(self.client.get(self.url(path)).header("cookie", &user.cookie).send().await.unwrap()).await
    }

    async fn ws(&self, user: &TestUser) -> Ws {
        Ws::signed_in(self.address, user).await
    }

    /// `checks.realtime.bus` of `/health/detailed`.
    async fn bus(&self) -> String {
        let (_, body) = json(self.client.get(self.url("/health/detailed")).send().await.unwrap()).await;
        body["checks"]["realtime"]["bus"].as_str().unwrap_or_default().to_owned()
    }

    async fn wait_for_bus(&self, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.bus().await != state {
            assert!(Instant::now() < deadline, "the bus never became {state}: {}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn friends_and_presence_cross_nodes_and_survive_a_redis_outage() {
    let Some(redis) = test_redis_url() else { return };
    let Some(db) = TestDatabase::new(true).await else { return };
    let upstream = url::Url::parse(&redis).unwrap();
    let upstream = tokio::net::lookup_host((upstream.host_str().unwrap(), upstream.port().unwrap_or(6379)))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(upstream).await;
    let proxied = format!("redis://{}", proxy.address);
    let node_a = Node::start(db.url(), &proxied).await;
    let node_b = Node::start(db.url(), &proxied).await;
    node_a.wait_for_bus("connected").await;
    node_b.wait_for_bus("connected").await;

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
    let mut alice_ws = node_a.ws(&alice).await;
    bob_ws.expect_friend_status(&alice, true).await;

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
    assert!(!node_a.log().contains("ERROR") && !node_b.log().contains("ERROR"), "{}\n{}", node_a.log(), node_b.log());
}
