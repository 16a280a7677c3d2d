//! Every Redis key and channel name the server uses, built here and nowhere else, from one configurable
//! prefix (`redis_key_prefix`, default `mapquiz:`), so that two deployments sharing a Redis never see each
//! other's events, nodes, sessions or sockets.
//!
//! **Redis Cluster.** A command or script touching several keys needs them in one hash slot. Redis hashes
//! only the part between the first `{` and the next `}` when there is one (a hash tag), so keys that must
//! live together carry the same `{…}`: the thing they belong to (a node, a user, a lobby). The prefix may
//! hold no brace, so the tag is always ours. Keys only ever used one at a time have no tag and spread over
//! the cluster.
//!
//! | Key | Type | Tag | Used by |
//! |---|---|---|---|
//! | `<p>bus` | pub/sub channel | (channels are not keys) | `bus::redis` |
//! | `<p>nodes` | set of node ids | none | `live::nodes` |
//! | `<p>node:{<node>}:alive`, `…:users`, `…:users:next` | string, sets | the node: `users:next` is renamed onto `users` | `live::nodes` |
//! | `<p>session:<token hash>`, `<p>session-evicted:<token hash>` | strings | none | `auth::cache` |
//! | `<p>user:{<user>}:sockets` | sorted set | the user (room for further per-user keys in its scripts) | `live::sockets` |
//! | `<p>user:{<user>}:quota:<limit>` | string (a counter expiring with its window) | the user | `http::shared_quota` |
//! | `<p>lobby:{<lobby>}:owner`, `…:fence` | (reserved) | the lobby: a lease and its fencing token change together | the lobby router, to come |
//!
//! **Adding keys.** One method per key, named after what it holds, documented in the table above. Keys of
//! one thing that a script or transaction uses together share that thing's tag, as a lobby's lease does
//! ([`RedisKeys::lobby_owner`], [`RedisKeys::lobby_fence`], both built by [`RedisKeys::lobby_key`]).

use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// The prefix of existing deployments: their keys keep their names.
pub const DEFAULT_PREFIX: &str = "mapquiz:";
/// Longest accepted prefix: it is repeated in every key.
pub const MAX_PREFIX_LEN: usize = 64;

/// The key builder for one deployment's prefix; cloning is cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisKeys {
    prefix: Arc<str>,
}

impl RedisKeys {
    /// Checks a prefix: 1 to [`MAX_PREFIX_LEN`] bytes, no whitespace or control character (keys are also read
    /// by operators in `redis-cli`), and no `{` or `}` (a brace would change which hash slot keys land in).
    pub fn parse(prefix: &str) -> Result<Self, String> {
        if prefix.is_empty() {
            return Err("must not be empty (the default is `mapquiz:`)".to_owned());
        }
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(format!("must be at most {MAX_PREFIX_LEN} bytes"));
        }
        if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace or control characters".to_owned());
        }
        if prefix.contains(['{', '}']) {
            return Err("must not contain `{` or `}` (they select the Redis Cluster hash slot)".to_owned());
        }
        Ok(RedisKeys { prefix: prefix.into() })
    }

    /// The prefix every key starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The pub/sub channel of the bus between nodes.
    pub fn bus_channel(&self) -> String {
        format!("{}bus", self.prefix)
    }

    /// The set of registered node ids.
    pub fn nodes(&self) -> String {
        format!("{}nodes", self.prefix)
    }

    /// A node's heartbeat (expires when the node stops beating).
    pub fn node_alive(&self, node: &str) -> String {
        self.node_key(node, "alive")
    }

    /// The users with a socket on a node.
    pub fn node_users(&self, node: &str) -> String {
        self.node_key(node, "users")
    }

    /// Where a node's next user list is written before it is renamed onto [`RedisKeys::node_users`]:
    /// RENAME needs both keys in one slot, hence the node's tag on both.
    pub fn node_users_next(&self, node: &str) -> String {
        self.node_key(node, "users:next")
    }

    fn node_key(&self, node: &str, what: &str) -> String {
        format!("{}node:{{{node}}}:{what}", self.prefix)
    }

    /// A cached validated session.
    pub fn session(&self, token_hash: &str) -> String {
        format!("{}session:{token_hash}", self.prefix)
    }

    /// The tombstone of an evicted session (a lookup racing the eviction must not cache it again).
    pub fn session_tombstone(&self, token_hash: &str) -> String {
        format!("{}session-evicted:{token_hash}", self.prefix)
    }

    /// The sockets a user holds on every node (the per-user limit across nodes).
    pub fn user_sockets(&self, user: &str) -> String {
        format!("{}user:{{{user}}}:sockets", self.prefix)
    }

    /// How many actions a user took in the open window of one per-user limit (`friend_requests`, `lobbies`).
    pub fn user_quota(&self, user: &str, limit: &str) -> String {
        format!("{}user:{{{user}}}:quota:{limit}", self.prefix)
    }

    /// Which node owns a lobby (its lease).
    pub fn lobby_owner(&self, lobby: &str) -> String {
        self.lobby_key(lobby, "owner")
    }

    /// The fencing token of a lobby's lease, bumped with each new owner.
    pub fn lobby_fence(&self, lobby: &str) -> String {
        self.lobby_key(lobby, "fence")
    }

    /// A key of one lobby, `<prefix>lobby:{<lobby id>}:<what>`: every key of one lobby shares its tag, so a
    /// script may use them together.
    pub fn lobby_key(&self, lobby: &str, what: &str) -> String {
        format!("{}lobby:{{{lobby}}}:{what}", self.prefix)
    }
}

impl Default for RedisKeys {
    fn default() -> Self {
        RedisKeys { prefix: DEFAULT_PREFIX.into() }
    }
}

impl fmt::Debug for RedisKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.prefix, f)
    }
}

/// Shown by `mapquiz config` as the prefix it was configured with.
impl Serialize for RedisKeys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.prefix)
    }
}

/// The part of `key` Redis Cluster hashes: the first non-empty `{…}`, or the whole key.
#[cfg(test)]
fn hashed_part(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_prefix_keeps_the_existing_names() {
        let k = RedisKeys::default();
        assert_eq!(k.bus_channel(), "mapquiz:bus");
        assert_eq!(k.nodes(), "mapquiz:nodes");
        assert_eq!(k.session("h"), "mapquiz:session:h");
        assert_eq!(k.session_tombstone("h"), "mapquiz:session-evicted:h");
    }

    #[test]
    fn keys_used_together_share_one_hash_slot() {
        let k = RedisKeys::parse("other:").unwrap();
        let node = "0198c2d4-7d6e-7cc1-a8b2-3f0e2b1c4d5e";
        assert_eq!(k.node_alive(node), format!("other:node:{{{node}}}:alive"));
        for key in [k.node_alive(node), k.node_users(node), k.node_users_next(node)] {
            assert_eq!(hashed_part(&key), node, "{key}");
        }
        assert_eq!(hashed_part(&k.user_sockets("u1")), "u1");
        assert_eq!(k.lobby_owner("l1"), "other:lobby:{l1}:owner");
        assert_eq!(k.lobby_fence("l1"), "other:lobby:{l1}:fence");
        assert_eq!(hashed_part(&k.lobby_owner("l1")), "l1");
        assert_eq!(hashed_part(&k.lobby_owner("l1")), hashed_part(&k.lobby_fence("l1")));
        assert_eq!(hashed_part(&k.session("h")), "other:session:h", "untagged keys spread over the cluster");
    }

    #[test]
    fn prefixes_are_checked() {
        assert_eq!(RedisKeys::parse("staging:").unwrap().prefix(), "staging:");
        assert!(RedisKeys::parse("a").is_ok());
        assert!(RedisKeys::parse(&"x".repeat(MAX_PREFIX_LEN)).is_ok());
        for bad in ["", "two words:", "tab\t", "new\nline", "{tag}:", "half{", "half}", &"x".repeat(MAX_PREFIX_LEN + 1)]
        {
            assert!(RedisKeys::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
