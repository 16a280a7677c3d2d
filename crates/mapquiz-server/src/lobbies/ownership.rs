//! Which node runs a lobby's actor. On one node, this one, always ([`SoleNode`]). With Redis, the node that
//! holds the lobby's lease ([`RedisLeases`]): a key that names the owner and its fencing token, expiring
//! unless the owner renews it. A node that loses its lease (it paused, or Redis lost the key) stops its
//! actor; the fencing token its writes carry makes the store refuse them once a newer owner has claimed
//! the lobby, so an owner that wakes up late can never write over its successor.
//!
//! Keys ([`RedisKeys`]), one hash tag per lobby so that a script touching both lives on one Redis Cluster
//! slot: `<prefix>lobby:{<id>}:owner` = `"<node> <token>"` (expires), `<prefix>lobby:{<id>}:fence` = the
//! last token given (an ever-growing counter, deleted with the lobby).

use crate::redis_keys::RedisKeys;
use async_trait::async_trait;
use fred::prelude::{Client, LuaInterface};
use mapquiz_domain::LobbyId;
use std::sync::Arc;
use std::time::Duration;

/// Who runs a lobby's actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This node, with the fencing token its writes carry (`None` on one node).
    Here(Option<u64>),
    /// Another node, by id.
    There(Arc<str>),
}

/// The ownership could not be read or taken (Redis is away).
#[derive(Debug, thiserror::Error)]
#[error("lobby ownership unavailable: {0}")]
pub struct OwnershipError(String);

/// How lobbies are owned.
#[async_trait]
pub trait Ownership: Send + Sync {
    /// Takes the lobby for this node if nobody holds it, or says who does.
    async fn take(&self, lobby: &LobbyId) -> Result<Owner, OwnershipError>;

    /// Keeps the leases of `held` (lobby, token): which were extended, and which are lost for sure (another
    /// node holds it, or it expired). After a Redis failure neither: the next round tries again, and a lease
    /// not renewed in time runs out on this node too ([`Ownership::lease`]).
    async fn renew(&self, held: &[(LobbyId, u64)]) -> Renewal;

    /// How long a lease lasts from the moment it was asked for or renewed (`None`: no leases, one node).
    fn lease(&self) -> Option<Duration>;

    /// Gives the lease back, if still held with `fence`; `deleted` also forgets the lobby's token counter.
    async fn release(&self, lobby: &LobbyId, fence: u64, deleted: bool);

    /// Whether leases exist at all (several nodes).
    fn is_shared(&self) -> bool;
}

/// What a round of renewals did.
#[derive(Debug, Default)]
pub struct Renewal {
    pub renewed: Vec<LobbyId>,
    pub lost: Vec<LobbyId>,
}

/// One node: every lobby is this node's, without a fence.
pub struct SoleNode;

#[async_trait]
impl Ownership for SoleNode {
    async fn take(&self, _lobby: &LobbyId) -> Result<Owner, OwnershipError> {
        Ok(Owner::Here(None))
    }

    async fn renew(&self, _held: &[(LobbyId, u64)]) -> Renewal {
        Renewal::default()
    }

    fn lease(&self) -> Option<Duration> {
        None
    }

    async fn release(&self, _lobby: &LobbyId, _fence: u64, _deleted: bool) {}

    fn is_shared(&self) -> bool {
        false
    }
}

/// Takes the lease when free (a new token from the counter) and answers the holder as `"<node> <token>"`.
const ACQUIRE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder then return holder end
local token = redis.call('INCR', KEYS[2])
holder = ARGV[1] .. ' ' .. token
redis.call('SET', KEYS[1], holder, 'PX', ARGV[2])
return holder
";

/// Extends the lease if `ARGV[1]` still holds it: 1, else 0.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// Deletes the lease if `ARGV[1]` still holds it, and the counter when `ARGV[2]` is 1.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return 1
";

/// Leases in Redis.
pub struct RedisLeases {
    client: Client,
    keys: RedisKeys,
    node: Arc<str>,
    ttl: Duration,
}

impl RedisLeases {
    /// Leases through `client` (connected), lasting `ttl` unless renewed. The scripts are sent with EVAL
    /// each time: a few lines, and no script cache can be missing after a Redis restart or on a new cluster
    /// node.
    pub fn new(client: Client, keys: RedisKeys, node: Arc<str>, ttl: Duration) -> Self {
        RedisLeases { client, keys, node, ttl }
    }

    /// The lease's two keys, sharing the lobby's hash tag.
    fn keys(&self, lobby: &LobbyId) -> Vec<String> {
        vec![self.keys.lobby_owner(lobby.as_str()), self.keys.lobby_fence(lobby.as_str())]
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    fn holder(&self, fence: u64) -> String {
        format!("{} {fence}", self.node)
    }
}

#[async_trait]
impl Ownership for RedisLeases {
    async fn take(&self, lobby: &LobbyId) -> Result<Owner, OwnershipError> {
        let holder: String = self
            .client
            .eval(ACQUIRE, self.keys(lobby), vec![self.node.to_string(), self.ttl_ms().to_string()])
            .await
            .map_err(|e| OwnershipError(e.to_string()))?;
        let Some((node, token)) = holder.rsplit_once(' ') else {
            return Err(OwnershipError(format!("unreadable lease holder {holder:?}")));
        };
        let token: u64 = token.parse().map_err(|_| OwnershipError(format!("unreadable lease token {token:?}")))?;
        Ok(if node == &*self.node { Owner::Here(Some(token)) } else { Owner::There(node.into()) })
    }

    async fn renew(&self, held: &[(LobbyId, u64)]) -> Renewal {
        let mut renewal = Renewal::default();
        let ttl = self.ttl_ms().to_string();
        for (lobby, fence) in held {
            let renewed: Result<i64, _> =
                self.client.eval(RENEW, self.keys(lobby), vec![self.holder(*fence), ttl.clone()]).await;
            match renewed {
                Ok(1) => renewal.renewed.push(lobby.clone()),
                Ok(_) => renewal.lost.push(lobby.clone()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew lobby leases; trying again at the next round");
                    break;
                }
            }
        }
        renewal
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.ttl)
    }

    async fn release(&self, lobby: &LobbyId, fence: u64, deleted: bool) {
        let args = vec![self.holder(fence), if deleted { "1" } else { "0" }.to_owned()];
        let released: Result<i64, _> = self.client.eval(RELEASE, self.keys(lobby), args).await;
        if let Err(e) = released {
            tracing::warn!(lobby_id = %lobby, error = %e, "cannot release a lobby lease; it expires by itself");
        }
    }

    fn is_shared(&self) -> bool {
        true
    }
}
