//! Which users each live node holds, kept in Redis when several nodes share the database, so that a user is
//! shown offline only when no node holds them and a node starting never resets another node's users.
//!
//! Keys: `mapquiz:nodes` (set of node ids), `mapquiz:node:<id>:alive` (heartbeat, expires), and
//! `mapquiz:node:<id>:users` (the users with a socket on that node).

use crate::bus::redis::builder;
use crate::config::RedisUrl;
use anyhow::Context;
use fred::prelude::{Client, ClientLike, Expiration, KeysInterface, SetsInterface};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often a node says it is alive and re-asserts the users it holds.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A node that has not beaten for this long is dead.
const ALIVE_FOR_SECS: i64 = 15;
/// A dead node's user list is kept this long (for an operator's inspection), then expires.
const USERS_KEPT_SECS: i64 = 3600;
const NODES: &str = "mapquiz:nodes";

fn alive_key(id: &str) -> String {
    format!("mapquiz:node:{id}:alive")
}

fn users_key(id: &str) -> String {
    format!("mapquiz:node:{id}:users")
}

/// This node's entry in the registry.
pub struct Nodes {
    client: Client,
    id: Arc<str>,
    /// The last heartbeat went through; while it does not, single updates are skipped (each would wait for
    /// the command timeout on a request's path) and the next good heartbeat rewrites the whole list.
    healthy: AtomicBool,
}

type RedisResult<T> = Result<T, fred::error::Error>;

impl Nodes {
    /// Connects; the node is registered by its first [`Nodes::heartbeat`].
    pub async fn connect(url: &RedisUrl, id: Arc<str>) -> anyhow::Result<Self> {
        let client = builder(url)?.build().context("cannot build the Redis client")?;
        client.init().await.with_context(|| format!("cannot connect to Redis at {}", url.redacted()))?;
        Ok(Nodes { client, id, healthy: AtomicBool::new(true) })
    }

    /// Says this node is alive and holds exactly `users`: the list is replaced in one step (written aside,
    /// then renamed), so an entry a failed [`Nodes::release`] left behind lasts one heartbeat at most.
    pub async fn heartbeat(&self, users: &[String]) -> RedisResult<()> {
        let beat = async {
            let expire = Some(Expiration::EX(ALIVE_FOR_SECS));
            self.client.set::<(), _, _>(alive_key(&self.id), 1, expire, None, false).await?;
            self.client.sadd::<i64, _, _>(NODES, &*self.id).await?;
            let key = users_key(&self.id);
            if users.is_empty() {
                self.client.del::<i64, _>(&key).await?;
            } else {
                let next = format!("{key}:next");
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
        self.client.sadd::<i64, _, _>(users_key(&self.id), user_ids.to_vec()).await.map(drop)
    }

    /// Records that this node no longer holds these users.
    pub async fn release(&self, user_ids: &[String]) -> RedisResult<()> {
        if user_ids.is_empty() || !self.healthy.load(Ordering::Acquire) {
            return Ok(());
        }
        self.client.srem::<i64, _, _>(users_key(&self.id), user_ids.to_vec()).await.map(drop)
    }

    /// The other nodes whose heartbeat is current; forgets the dead ones.
    async fn live_others(&self) -> RedisResult<Vec<String>> {
        let ids: Vec<String> = self.client.smembers(NODES).await?;
        let mut live = Vec::new();
        for id in ids.into_iter().filter(|id| **id != *self.id) {
            if self.client.exists::<i64, _>(alive_key(&id)).await? > 0 {
                live.push(id);
            } else {
                self.client.srem::<i64, _, _>(NODES, &id).await?;
            }
        }
        Ok(live)
    }

    /// Whether another live node holds `user_id`.
    pub async fn held_elsewhere(&self, user_id: &str) -> RedisResult<bool> {
        for id in self.live_others().await? {
            if self.client.sismember::<bool, _, _>(users_key(&id), user_id).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every user another live node holds.
    pub async fn held_by_others(&self) -> RedisResult<Vec<String>> {
        let mut all = HashSet::new();
        for id in self.live_others().await? {
            let users: Vec<String> = self.client.smembers(users_key(&id)).await?;
            all.extend(users);
        }
        Ok(all.into_iter().collect())
    }

    /// Leaves the registry (clean shutdown) and closes the connection.
    pub async fn leave(&self) {
        let _ = self.client.del::<i64, _>(vec![alive_key(&self.id), users_key(&self.id)]).await;
        let _ = self.client.srem::<i64, _, _>(NODES, &*self.id).await;
        let _ = self.client.quit().await;
    }
}
