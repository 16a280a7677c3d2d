//! The per-user limits counted across every node sharing Redis: one counter per user and limit,
//! `<prefix>user:{<user>}:quota:<limit>` ([`RedisKeys::user_quota`]), created by the window's first action
//! and expiring with the window, so the fixed window of [`super::rate_limit::UserQuota`] holds for the whole
//! deployment. Check and count are one script, atomic even against a Redis Cluster (one key).
//!
//! While Redis fails, each node counts alone (a user could then act once per node per quota), logged once;
//! the next call that goes through counts in Redis again.

use crate::config::Quota;
use crate::redis_keys::RedisKeys;
use fred::prelude::{Client, LuaInterface};
use sha1::{Digest, Sha1};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// KEYS[1]: the user's counter for one limit. ARGV[1]: the window (ms); ARGV[2]: the quota. Returns -1 when the
/// action is counted, otherwise the milliseconds left in the window (a refused action is not counted).
const COUNT_LUA: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[2]) then
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then return left end
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
if redis.call('INCR', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return -1
";

/// The counters in Redis.
pub struct SharedQuotas {
    client: Client,
    keys: RedisKeys,
    /// SHA-1 of [`COUNT_LUA`], for EVALSHA.
    sha: String,
    /// The last call failed (logged once until one goes through).
    failing: AtomicBool,
}

impl SharedQuotas {
    /// Counters under `keys`, over a connected client.
    pub fn new(client: Client, keys: RedisKeys) -> Self {
        let mut sha = String::with_capacity(40);
        for byte in Sha1::digest(COUNT_LUA.as_bytes()) {
            let _ = write!(sha, "{byte:02x}");
        }
        SharedQuotas { client, keys, sha, failing: AtomicBool::new(false) }
    }

    /// Counts one action of `user` against `quota` (named `limit`): `Some(Ok(()))` when allowed,
    /// `Some(Err(seconds left in the window))` past it, `None` when Redis could not answer (the caller counts
    /// locally).
    pub async fn check(&self, limit: &str, user: &str, quota: Quota) -> Option<Result<(), u64>> {
        let key = self.keys.user_quota(user, limit);
        let window_ms = quota.window_secs.max(1).saturating_mul(1000);
        let args = vec![window_ms.to_string(), quota.max.to_string()];
        let answer: Result<i64, fred::error::Error> =
            match self.client.evalsha(self.sha.as_str(), key.as_str(), args.clone()).await {
                // Not in this server's script cache yet (first use, a restart, a failover): EVAL caches it.
                Err(e) if e.details().starts_with("NOSCRIPT") => self.client.eval(COUNT_LUA, key.as_str(), args).await,
                other => other,
            };
        match answer {
            Ok(left_ms) => {
                if self.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!("per-user limits are counted across nodes again");
                }
                if left_ms < 0 {
                    return Some(Ok(()));
                }
                let left_ms = u64::try_from(left_ms).unwrap_or(0);
                // Whole seconds, rounded up, never 0 (as every Retry-After here).
                Some(Err(left_ms.div_ceil(1000).max(1)))
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "per-user limits fall back to this node's own count while Redis fails");
                }
                None
            }
        }
    }
}
