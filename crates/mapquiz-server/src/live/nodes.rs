//! Which users each live node holds, kept in Redis when several nodes share the database, so that a user is
//! shown offline only when no node holds them and a node starting never resets another node's users.
//!
//! Keys (see [`RedisKeys`]): `<prefix>nodes` (set of node ids), `<prefix>node:{<id>}:alive` (heartbeat,
//! expires), and `<prefix>node:{<id>}:users` (the users with a socket on that node). A node's keys share its
//! hash tag: the user list is written aside and renamed into place, and RENAME needs both keys in one slot
//! on a Redis Cluster.

use crate::redis_keys::RedisKeys;
use fred::prelude::{Client, Expiration, KeysInterface, SetsInterface};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a node says it is alive and re-asserts the users it holds.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A node that has not beaten for this long is dead.
pub const ALIVE_FOR: Duration = Duration::from_secs(15);
/// A dead node's user list is kept this long (for an operator's inspection), then expires; so does the set
/// of node ids once no node beats any more.
const USERS_KEPT_SECS: i64 = 3600;

/// This node's entry in the registry.
pub struct Nodes {
    client: Client,
    keys: RedisKeys,
    id: Arc<str>,
    /// The last heartbeat went through; while it does not, single updates are skipped (each would wait for
    /// the command timeout on a request's path) and the next good heartbeat rewrites the whole list.
    healthy: AtomicBool,
}

type RedisResult<T> = Result<T, fred::error::Error>;

impl Nodes {
    /// The registry over a connected client; the node is registered by its first [`Nodes::heartbeat`].
    pub fn new(client: Client, keys: RedisKeys, id: Arc<str>) -> Self {
        Nodes { client, keys, id, healthy: AtomicBool::new(true) }
    }

    /// Says this node is alive and holds exactly `users`: the list is replaced in one step (written aside,
    /// then renamed), so an entry a failed [`Nodes::release`] left behind lasts one heartbeat at most.
    pub async fn heartbeat(&self, users: &[String]) -> RedisResult<()> {
        let beat = async {
            let expire = Some(Expiration::EX(secs(ALIVE_FOR)));
            self.client.set::<(), _, _>(self.keys.node_alive(&self.id), 1, expire, None, false).await?;
            let nodes = self.keys.nodes();
            self.client.sadd::<i64, _, _>(&nodes, &*self.id).await?;
            self.client.expire::<i64, _>(&nodes, USERS_KEPT_SECS, None).await?;
            let key = self.keys.node_users(&self.id);
            if users.is_empty() {
                self.client.del::<i64, _>(&key).await?;
            } else {
                let next = self.keys.node_users_next(&self.id);
                self.client.del::<i64, _>(&next).await?;
                self.client.sadd::<i64, _, _>(&next, users.to_vec()).await?;
                self.client.rename::<(), _, _>(&next, &key).await?;
                self.client.expire::<i64, _>(&key, USERS_KEPT_SECS, None).await?;
            }
            Ok(())
        };
        let result = beat.await;
        self.healthy.store(result.is_ok(), Ordering::Release);
        result
    }

    /// Records that this node holds these users (skipped while Redis is failing: the next heartbeat does it).
    pub async fn hold(&self, user_ids: &[String]) -> RedisResult<()> {
        if user_ids.is_empty() || !self.healthy.load(Ordering::Acquire) {
            return Ok(());
        }
        self.client.sadd::<i64, _, _>(self.keys.node_users(&self.id), user_ids.to_vec()).await.map(drop)
    }

    /// Records that this node no longer holds these users.
    pub async fn release(&self, user_ids: &[String]) -> RedisResult<()> {
        if user_ids.is_empty() || !self.healthy.load(Ordering::Acquire) {
            return Ok(());
        }
        self.client.srem::<i64, _, _>(self.keys.node_users(&self.id), user_ids.to_vec()).await.map(drop)
    }

    /// The other nodes whose heartbeat is current; forgets the dead ones.
    async fn live_others(&self) -> RedisResult<Vec<String>> {
        let nodes = self.keys.nodes();
        let ids: Vec<String> = self.client.smembers(&nodes).await?;
        let mut live = Vec::new();
        for id in ids.into_iter().filter(|id| **id != *self.id) {
            if self.client.exists::<i64, _>(self.keys.node_alive(&id)).await? > 0 {
                live.push(id);
            } else {
                self.client.srem::<i64, _, _>(&nodes, &id).await?;
            }
        }
        Ok(live)
    }

    /// Whether another live node holds `user_id`.
    pub async fn held_elsewhere(&self, user_id: &str) -> RedisResult<bool> {
        for id in self.live_others().await? {
            if self.client.sismember::<bool, _, _>(self.keys.node_users(&id), user_id).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every user another live node holds.
    pub async fn held_by_others(&self) -> RedisResult<Vec<String>> {
        let mut all = HashSet::new();
        for id in self.live_others().await? {
            let users: Vec<String> = self.client.smembers(self.keys.node_users(&id)).await?;
            all.extend(users);
        }
        Ok(all.into_iter().collect())
    }

    /// Leaves the registry (clean shutdown); the connection is closed by its owner.
    pub async fn leave(&self) {
        // One DEL for both keys: they share the node's hash slot.
        let own = vec![self.keys.node_alive(&self.id), self.keys.node_users(&self.id)];
        let _ = self.client.del::<i64, _>(own).await;
        let _ = self.client.srem::<i64, _, _>(self.keys.nodes(), &*self.id).await;
    }
}

/// Whole seconds, for EXPIRE and SET EX.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
