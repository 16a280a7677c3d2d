//! The validated-session cache: in-process (moka) on a single node, Redis when several nodes share the
//! database, so that evicting a session on sign-out or revocation evicts it for every node at once.
//!
//! The cache only ever saves a database read: a miss or a Redis failure falls back to the store, and every
//! write that revokes or changes a session evicts its entry. Eviction also leaves a tombstone for one TTL:
//! a lookup that read the row just before the revocation must not put it back into the cache afterwards.
//!
//! In Redis the keys are `<prefix>session:<token hash>` and `<prefix>session-evicted:<token hash>`
//! ([`RedisKeys`]). Every command names one key, so the sessions spread over a Redis Cluster's slots.

use crate::config::RedisUrl;
use crate::redis_keys::RedisKeys;
use anyhow::Context;
use fred::prelude::{Builder, Client, ClientLike, Config as RedisConfig, Expiration, KeysInterface, ReconnectPolicy};
use futures_util::future::try_join_all;
use mapquiz_store::SessionWithUser;
use std::time::Duration;

/// Bound on one Redis command: a slow cache must not slow sign-in down more than this.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// Where validated sessions are kept, by token hash.
pub enum SessionCache {
    /// Caching turned off (`session_cache_ttl_secs = 0`).
    Off,
    /// This process only.
    Local { sessions: moka::future::Cache<String, SessionWithUser>, evicted: moka::future::Cache<String, ()> },
    /// Shared by every node.
    Redis { client: Client, ttl: Duration, keys: RedisKeys },
}

impl SessionCache {
    /// In-process, or in Redis (under the keys of that prefix) when `redis` is given.
    pub async fn new(ttl: Duration, capacity: u64, redis: Option<(&RedisUrl, &RedisKeys)>) -> anyhow::Result<Self> {
        if ttl.is_zero() {
            return Ok(SessionCache::Off);
        }
        let Some((url, keys)) = redis else {
            return Ok(SessionCache::Local {
                sessions: moka::future::Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
                evicted: moka::future::Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
            });
        };
        let config = RedisConfig::from_url(url.expose().as_str()).context("unusable Redis URL")?;
        let client = Builder::from_config(config)
            .with_performance_config(|p| p.default_command_timeout = REDIS_COMMAND_TIMEOUT)
            .with_connection_config(|c| c.connection_timeout = Duration::from_secs(5))
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build()
            .context("cannot build the Redis client")?;
        client.init().await.with_context(|| format!("cannot connect to Redis at {}", url.redacted()))?;
        Ok(SessionCache::Redis { client, ttl, keys: keys.clone() })
    }

    /// The cached session for this token hash.
    pub async fn get(&self, token_hash: &str) -> Option<SessionWithUser> {
        let found = self.lookup(token_hash).await;
        if !matches!(self, SessionCache::Off) {
            let result = if found.is_some() { "hit" } else { "miss" };
            metrics::counter!("session_cache_requests_total", "result" => result).increment(1);
        }
        found
    }

    async fn lookup(&self, token_hash: &str) -> Option<SessionWithUser> {
        match self {
            SessionCache::Off => None,
            SessionCache::Local { sessions, .. } => sessions.get(token_hash).await,
            SessionCache::Redis { client, keys, .. } => {
                match client.get::<Option<String>, _>(keys.session(token_hash)).await {
                    Ok(Some(json)) => serde_json::from_str(&json).ok(),
                    Ok(None) => None,
                    Err(e) => {
                        metrics::counter!("session_cache_requests_total", "result" => "error").increment(1);
                        tracing::warn!(error = %e, "session cache read failed; asking the database");
                        None
                    }
                }
            }
        }
    }

    /// Caches a validated session.
    pub async fn put(&self, value: &SessionWithUser) {
        match self {
            SessionCache::Off => {}
            SessionCache::Local { sessions, evicted } => {
                let hash = &value.session.token_hash;
                if evicted.contains_key(hash) {
                    return;
                }
                sessions.insert(hash.clone(), value.clone()).await;
                // Evicted between the check and the insert: undo.
                if evicted.contains_key(hash) {
                    sessions.invalidate(hash).await;
                }
            }
            SessionCache::Redis { client, ttl, keys } => {
                let Ok(json) = serde_json::to_string(value) else { return };
                let hash = &value.session.token_hash;
                let (key, tombstone) = (keys.session(hash), keys.session_tombstone(hash));
                let expire = Expiration::EX(i64::try_from(ttl.as_secs().max(1)).unwrap_or(60));
                let written = async {
                    if client.exists::<i64, _>(&tombstone).await? > 0 {
                        return Ok(());
                    }
                    client.set::<(), _, _>(&key, json, Some(expire), None, false).await?;
                    if client.exists::<i64, _>(&tombstone).await? > 0 {
                        client.del::<i64, _>(&key).await?;
                    }
                    Ok::<(), fred::error::Error>(())
                }
                .await;
                if let Err(e) = written {
                    tracing::warn!(error = %e, "session cache write failed");
                }
            }
        }
    }

    /// Forgets these sessions, on every node.
    pub async fn evict(&self, token_hashes: &[String]) {
        match self {
            SessionCache::Off => {}
            SessionCache::Local { sessions, evicted } => {
                for hash in token_hashes {
                    evicted.insert(hash.clone(), ()).await;
                    sessions.invalidate(hash).await;
                }
            }
            SessionCache::Redis { client, ttl, keys } if !token_hashes.is_empty() => {
                let expire = i64::try_from(ttl.as_secs().max(1)).unwrap_or(60);
                // One key per command, sent together: on a Redis Cluster the sessions live in different slots
                // (a DEL of several would be refused with CROSSSLOT). Every tombstone is down before any entry
                // goes, as before.
                let evicted = async {
                    try_join_all(token_hashes.iter().map(|hash| {
                        let tombstone = keys.session_tombstone(hash);
                        client.set::<(), _, _>(tombstone, 1, Some(Expiration::EX(expire)), None, false)
                    }))
                    .await?;
                    try_join_all(token_hashes.iter().map(|hash| client.del::<i64, _>(keys.session(hash)))).await
                }
                .await;
                if let Err(e) = evicted {
                    // Entries expire within the TTL anyway; say loudly that until then they may be served.
                    tracing::error!(error = %e, "session cache eviction failed: revoked sessions may be served until the cache TTL");
                }
            }
            SessionCache::Redis { .. } => {}
        }
    }

    /// Closes the Redis connection, if any.
    pub async fn close(&self) {
        if let SessionCache::Redis { client, .. } = self {
            let _ = client.quit().await;
        }
    }
}
