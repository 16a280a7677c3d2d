//! The per-user socket limit (protocol §2.4: 10, one more closes the oldest with 1008) holds across nodes
//! sharing Redis: two server processes on one database and one Redis, a user's sockets spread over both,
//! and a node killed outright (its sockets never closed) stops counting within the heartbeat expiry. While
//! Redis is unreachable the limit falls back to each node's own count.
//!
//! The two-node test runs when `TEST_DATABASE_URL` and `TEST_REDIS_URL` are set (both required under `CI`).

use crate::support::node::Node;
use crate::support::proxy::Proxy;
use crate::support::ws::Ws;
use crate::support::{TestApp, TestUser, test_redis_url};
use fred::prelude::{Builder, Client, ClientLike, Config as RedisConfig, SortedSetsInterface};
use mapquiz_store::testing::TestDatabase;
use serde_json::json;
use std::time::{Duration, Instant};

/// The default limit, which these tests keep.
const LIMIT: usize = 10;
/// How long a killed node's sockets may still count: its heartbeat's expiry (15 s), then the next refresh
/// of the user's count by a live node (every 5 s), with a margin for a loaded machine.
const EXPIRY: Duration = Duration::from_secs(30);

/// A client of the test's Redis, to watch the count.
async fn redis_client(url: &str) -> Client {
    let client = Builder::from_config(RedisConfig::from_url(url).unwrap()).build().unwrap();
    client.init().await.unwrap();
    client
}

/// Members of the user's count in Redis (default prefix).
async fn counted(redis: &Client, user: &TestUser) -> i64 {
    redis.zcard(format!("mapquiz:user:{{{}}}:sockets", user.id)).await.unwrap()
}

/// Waits up to `within` until `count` members are counted for `user`.
async fn wait_counted(redis: &Client, user: &TestUser, count: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = counted(redis, user).await;
        if now == count {
            return;
        }
        assert!(Instant::now() < deadline, "{now} sockets counted, never {count}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every socket still answers a ping (none was closed).
async fn all_open(sockets: &mut [Ws]) {
    for ws in sockets {
        assert_eq!(ws.request(json!({"type": "ping"})).await, json!({"type": "pong"}));
    }
}

#[tokio::test]
async fn the_per_user_socket_limit_holds_across_nodes_and_a_dead_node_frees_its_slots() {
    let Some(redis_url) = test_redis_url() else { return };
    let Some(db) = TestDatabase::new(true).await else { return };
    let redis = redis_client(&redis_url).await;
    let mut node_a = Node::start(db.url(), &redis_url, &[]).await;
    let mut node_b = Node::start(db.url(), &redis_url, &[]).await;
    node_a.wait_for_bus("connected").await;
    node_b.wait_for_bus("connected").await;
    let ada = node_a.sign_up("Ada").await;

    // 6 sockets on node A, 4 on node B: the limit, across the two.
    let mut on_a = Vec::new();
    for _ in 0..6 {
        on_a.push(node_a.ws(&ada).await);
    }
    let mut on_b = Vec::new();
    for _ in 0..4 {
        on_b.push(node_b.ws(&ada).await);
    }
    assert_eq!(counted(&redis, &ada).await, LIMIT as i64);

    // The 11th, on node B, closes the oldest, which is on node A, with 1008; nothing else closes.
    on_b.push(node_b.ws(&ada).await);
    let mut oldest = on_a.remove(0);
    assert_eq!(oldest.closed().await, Some(1008));
    all_open(&mut on_a).await;
    all_open(&mut on_b).await;
    wait_counted(&redis, &ada, LIMIT as i64, Duration::from_secs(5)).await;

    // Closing one on node B frees a slot that a new socket on node A takes without closing anything.
    on_b.remove(0).close().await;
    wait_counted(&redis, &ada, LIMIT as i64 - 1, Duration::from_secs(5)).await;
    on_a.push(node_a.ws(&ada).await);
    for ws in on_a.iter_mut().chain(on_b.iter_mut()) {
        ws.silent_for(Duration::from_millis(200)).await;
    }
    all_open(&mut on_a).await;
    all_open(&mut on_b).await;
    assert_eq!(on_a.len() + on_b.len(), LIMIT);

    // The same from the other side: one more on node A closes the oldest left, on node A too.
    on_a.push(node_a.ws(&ada).await);
    let mut oldest = on_a.remove(0);
    assert_eq!(oldest.closed().await, Some(1008));

    // Node A dies without closing its sockets: they stop counting once its heartbeat expires, and node B
    // then holds the whole limit without closing anything.
    node_a.kill();
    let killed = Instant::now();
    wait_counted(&redis, &ada, on_b.len() as i64, EXPIRY).await;
    let freed_after = killed.elapsed();
    // Their deadline was at least 10 s away (15 s from a heartbeat at most 5 s old): nothing released them.
    assert!(freed_after > Duration::from_secs(5), "freed after {freed_after:?}, before their expiry");
    while on_b.len() < LIMIT {
        on_b.push(node_b.ws(&ada).await);
    }
    for ws in &mut on_b {
        ws.silent_for(Duration::from_millis(100)).await;
    }
    all_open(&mut on_b).await;
    // And the limit still holds: one more closes the oldest (node B's first).
    on_b.push(node_b.ws(&ada).await);
    assert_eq!(on_b.remove(0).closed().await, Some(1008));
    all_open(&mut on_b).await;
    let log = node_b.log();
    assert!(!log.contains("ERROR") && !log.contains("WARN"), "{log}");
    node_b.kill();
}

#[tokio::test]
async fn while_redis_is_unreachable_the_limit_is_counted_on_the_node() {
    let Some(redis_url) = test_redis_url() else { return };
    let (proxy, proxied) = Proxy::in_front_of_redis(&redis_url).await;
    let app =
        TestApp::spawn_with(false, |f| f.merge(("redis_url", proxied.as_str())).merge(("ws_max_sockets_per_user", 2)))
            .await
            .unwrap();
    let ada = app.sign_up("Ada").await;
    let mut first = app.ws(&ada).await;

    proxy.cut();
    let mut second = app.ws(&ada).await;
    let mut third = app.ws(&ada).await;
    assert_eq!(first.closed().await, Some(1008), "the node's own limit still applies");
    let mut fourth = app.ws(&ada).await;
    assert_eq!(second.closed().await, Some(1008));
    all_open(std::slice::from_mut(&mut third)).await;
    all_open(std::slice::from_mut(&mut fourth)).await;

    // Redis returns: the next heartbeat counts the sockets opened meanwhile.
    proxy.restore();
    let redis = redis_client(&redis_url).await;
    wait_counted(&redis, &ada, 2, Duration::from_secs(15)).await;
    all_open(&mut [third, fourth]).await;
}
