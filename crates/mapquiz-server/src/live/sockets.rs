//! The per-user socket limit (protocol §2.4: 10 by default, one more closes the oldest with 1008) counted
//! across every node sharing Redis, not per node.
//!
//! Each user has one sorted set, `<prefix>user:{<user>}:sockets` ([`RedisKeys::user_sockets`]): a member per
//! socket on any node, named `<opened at, ms>:<node id>:<socket id>` with fixed-width numbers so that the
//! names sort oldest first, and scored by the time (Redis's clock) after which it stops counting. The node
//! holding a socket pushes that deadline [`ALIVE_FOR`] ahead at every heartbeat, so the sockets of a node
//! that died stop counting within [`ALIVE_FOR`] of its last heartbeat: a crash leaks no slot.
//!
//! Every change but a release is one Lua script on that one key, so the check and the add are atomic on a
//! Redis Cluster too: drop the expired members, add (or refresh) the given ones, then, while more than the
//! limit remain, remove the oldest and return them. The caller closes those sockets wherever they are
//! (through the bus: each node closes its own). "Opened at" is the opening node's clock; a skew between
//! nodes only changes which of two nearly simultaneous sockets counts as the older. A close event lost on
//! the way (pub/sub delivers at most once) heals at the holder's next heartbeat: it adds the still open
//! socket back, which puts the user over the limit again, and that socket, still the oldest, is let go again.
//!
//! While Redis cannot be reached the limit is this node's own (the hub's), logged once; the next heartbeat
//! that goes through counts the sockets opened meanwhile, closing the oldest if the user is then over it.

use crate::bus::{Bus, Event};
use crate::live::nodes::{ALIVE_FOR, HEARTBEAT_EVERY};
use crate::redis_keys::RedisKeys;
use fred::prelude::{Client, LuaInterface, SortedSetsInterface};
use futures_util::StreamExt;
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Users whose sockets one heartbeat refreshes at a time (fred pipelines them on its connections).
const HEARTBEAT_CONCURRENCY: usize = 64;

/// KEYS[1]: a user's sockets. ARGV[1]: the limit; ARGV[2]: how long (ms) the given members count from now;
/// ARGV[3..]: members to add or refresh. Returns the members removed to respect the limit, oldest first.
/// TIME in a script needs Redis 5 or newer (scripts replicate their effects, not themselves).
const SYNC_LUA: &str = r"
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
for i = 3, #ARGV do
  redis.call('ZADD', key, now + ttl, ARGV[i])
end
local over = redis.call('ZCARD', key) - tonumber(ARGV[1])
local evicted = {}
if over > 0 then
  local all = redis.call('ZRANGE', key, 0, -1)
  table.sort(all)
  for i = 1, over do
    evicted[i] = all[i]
  end
  redis.call('ZREM', key, unpack(evicted))
end
redis.call('PEXPIRE', key, ttl)
return evicted
";

/// A socket the limit let go: the node holding it closes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evicted {
    pub user: String,
    pub node: String,
    pub socket: u64,
}

/// This node's part of the count across nodes.
pub struct SocketSlots {
    client: Client,
    keys: RedisKeys,
    node: Arc<str>,
    max: usize,
    /// SHA-1 of [`SYNC_LUA`], for EVALSHA.
    sync_sha: String,
    /// This node's counted sockets, by user: (socket id, member name).
    held: Mutex<HashMap<String, Vec<(u64, String)>>>,
    /// The last Redis call failed: until a heartbeat goes through, opening and closing sockets skip Redis
    /// (each call would wait for the command timeout on a socket's path) and the hub's limit applies alone.
    failing: AtomicBool,
}

impl SocketSlots {
    /// The count of `node`'s sockets under `keys`, at most `max` per user, over a connected client.
    pub fn new(client: Client, keys: RedisKeys, node: Arc<str>, max: usize) -> Self {
        let mut sync_sha = String::with_capacity(40);
        for byte in Sha1::digest(SYNC_LUA.as_bytes()) {
            let _ = write!(sync_sha, "{byte:02x}");
        }
        SocketSlots {
            client,
            keys,
            node,
            max: max.max(1),
            sync_sha,
            held: Mutex::new(HashMap::new()),
            failing: AtomicBool::new(false),
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, Vec<(u64, String)>>> {
        // Every change is one insert or remove: the map stays consistent whatever a panicking holder did.
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a new socket of `user`; returns the sockets (on any node, this one included, possibly this very
    /// socket) to close so that the user holds no more than the limit.
    pub async fn acquire(&self, user: &str, socket: u64) -> Vec<Evicted> {
        let member = member_name(now_ms(), &self.node, socket);
        self.held().entry(user.to_owned()).or_default().push((socket, member.clone()));
        if self.failing.load(Ordering::Acquire) {
            return Vec::new();
        }
        match self.sync(user, vec![member]).await {
            Ok(evicted) => evicted,
            Err(e) => {
                self.failed(&e);
                Vec::new()
            }
        }
    }

    /// Stops counting a closed socket.
    pub async fn release(&self, user: &str, socket: u64) {
        let member = {
            let mut held = self.held();
            let Some(sockets) = held.get_mut(user) else { return };
            let member = sockets.iter().position(|(id, _)| *id == socket).map(|i| sockets.remove(i).1);
            if sockets.is_empty() {
                held.remove(user);
            }
            member
        };
        // Skipped while Redis fails: the member is no longer refreshed, so it expires by itself.
        let Some(member) = member else { return };
        if self.failing.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.client.zrem::<i64, _, _>(self.keys.user_sockets(user), member).await {
            self.failed(&e);
        }
    }

    /// Pushes the deadline of every socket this node holds ahead, counting again any that expired or was
    /// opened while Redis was unreachable; returns the sockets to close for users now over the limit.
    pub async fn heartbeat(&self) -> Vec<Evicted> {
        let snapshot: Vec<(String, Vec<String>)> = self
            .held()
            .iter()
            .map(|(user, sockets)| (user.clone(), sockets.iter().map(|(_, m)| m.clone()).collect()))
            .collect();
        let results: Vec<_> = futures_util::stream::iter(snapshot)
            .map(|(user, members)| async move {
                let result = self.sync(&user, members.clone()).await;
                (user, members, result)
            })
            .buffer_unordered(HEARTBEAT_CONCURRENCY)
            .collect()
            .await;
        if results.is_empty() {
            // Nothing was asked of Redis: whether it answers is still unknown.
            return Vec::new();
        }
        let mut evicted = Vec::new();
        let mut error = None;
        for (user, members, result) in results {
            match result {
                Ok(e) => evicted.extend(e),
                Err(e) => {
                    error = Some(e);
                    continue;
                }
            }
            // A socket released while its refresh was in flight may have been added back after the release
            // removed it: remove it again, now that the refresh is done.
            let gone: Vec<String> = {
                let held = self.held();
                let still = held.get(&user);
                members.into_iter().filter(|m| still.is_none_or(|s| !s.iter().any(|(_, h)| h == m))).collect()
            };
            if !gone.is_empty()
                && let Err(e) = self.client.zrem::<i64, _, _>(self.keys.user_sockets(&user), gone).await
            {
                error = Some(e);
            }
        }
        match error {
            Some(e) => self.failed(&e),
            None => {
                if self.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!("Redis reachable again: the per-user socket limit is counted across nodes");
                }
            }
        }
        evicted
    }

    /// Runs the script on `user`'s key with these members; returns the members it removed.
    async fn sync(&self, user: &str, members: Vec<String>) -> Result<Vec<Evicted>, fred::error::Error> {
        let key = self.keys.user_sockets(user);
        let mut args = Vec::with_capacity(members.len() + 2);
        args.push(self.max.to_string());
        args.push(ALIVE_FOR.as_millis().to_string());
        args.extend(members);
        let removed: Vec<String> = match self.client.evalsha(self.sync_sha.as_str(), key.as_str(), args.clone()).await {
            // Not in this server's script cache yet (first use, a restart, a failover): EVAL caches it.
            Err(e) if e.details().starts_with("NOSCRIPT") => self.client.eval(SYNC_LUA, key.as_str(), args).await?,
            other => other?,
        };
        Ok(removed.iter().filter_map(|m| parse_member(user, m)).collect())
    }

    /// Shutdown: the connection is about to close, so sockets closing from now on no longer ask Redis (their
    /// entries expire with this node's heartbeat).
    pub fn stop(&self) {
        self.failing.store(true, Ordering::Release);
    }

    fn failed(&self, e: &fred::error::Error) {
        if !self.failing.swap(true, Ordering::AcqRel) {
            tracing::warn!(error = %e, "Redis unreachable: the per-user socket limit is counted on this node only until it returns");
        }
    }
}

/// Asks the nodes holding these sockets (this one included) to close them with 1008.
pub fn close_evicted(bus: &Bus, evicted: Vec<Evicted>) {
    let mut by_holder: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for e in evicted {
        by_holder.entry((e.user, e.node)).or_default().push(e.socket);
    }
    for ((user, node), sockets) in by_holder {
        bus.publish(Event::CloseSockets { node, user, sockets });
    }
}

/// Until `stop`, every [`HEARTBEAT_EVERY`]: refreshes this node's sockets in the count and closes those it
/// puts over the limit.
pub async fn run_heartbeat(slots: Arc<SocketSlots>, bus: Arc<Bus>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        close_evicted(&bus, slots.heartbeat().await);
    }
}

/// A socket's member name: fixed widths, so that names sort by opening time (then node, then socket).
fn member_name(opened_ms: u64, node: &str, socket: u64) -> String {
    format!("{opened_ms:013}:{node}:{socket:020}")
}

/// The node and socket a member names (node ids hold no `:`).
fn parse_member(user: &str, member: &str) -> Option<Evicted> {
    let mut parts = member.splitn(3, ':');
    let (_opened, node, socket) = (parts.next()?, parts.next()?, parts.next()?);
    Some(Evicted { user: user.to_owned(), node: node.to_owned(), socket: socket.parse().ok()? })
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_sort_by_opening_time_and_name_their_socket() {
        let node = "0198c2d4-7d6e-7cc1-a8b2-3f0e2b1c4d5e";
        let mut names = [
            member_name(1_700_000_000_123, node, 12),
            member_name(999, "z", 1),
            member_name(1_700_000_000_123, node, 3),
        ];
        names.sort();
        assert_eq!(names[0], "0000000000999:z:00000000000000000001");
        assert!(names[1].ends_with(":00000000000000000003") && names[2].ends_with(":00000000000000000012"));
        assert_eq!(parse_member("u", &names[2]), Some(Evicted { user: "u".into(), node: node.into(), socket: 12 }));
        assert_eq!(parse_member("u", "garbage"), None);
    }
}
