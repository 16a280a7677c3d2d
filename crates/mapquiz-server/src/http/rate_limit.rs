//! Per-client-IP rate limits (protocol §1.1.3), on governor's GCRA: memory per tracked client is a few
//! words, and idle clients are forgotten by [`Limiters::housekeeping`]. Also the per-user quotas (friend
//! requests, lobbies created: [`UserQuota`]) and the per-IP count of unauthenticated sockets
//! ([`UnauthenticatedSockets`]), all switched off with the other limits by `rate_limit_enabled = false`.

use crate::config::{Quota, RateLimits};
use crate::error::{ApiError, AuthError, is_auth_path};
use crate::http::client_ip::ClientIp;
use crate::http::shared_quota::SharedQuotas;
use crate::ws::limits::UnauthenticatedSockets;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Paths outside the global limit: probes and scrapes must keep working under load.
pub(crate) const UNLIMITED_PATHS: &[&str] = &["/livez", "/readyz", "/metrics"];

/// One keyed limiter.
pub struct Limiter {
    inner: DefaultKeyedRateLimiter<IpAddr>,
}

impl Limiter {
    /// A limiter allowing `quota.max` requests per `quota.window_secs`, refilled evenly.
    pub fn new(quota: Quota) -> Self {
        let max = NonZeroU32::new(quota.max).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs(quota.window_secs.max(1)) / max.get();
        let q = governor::Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| governor::Quota::per_second(max))
            .allow_burst(max);
        Limiter { inner: RateLimiter::keyed(q) }
    }

    /// `Err(seconds to wait)` when `ip` is over its quota.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.inner.check_key(&key(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Whole seconds, rounded up, never 0: `Retry-After: 0` would invite an immediate retry.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.inner.len()
    }

    fn housekeeping(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

/// IPv6 clients are limited per /64: one subscriber usually owns a whole /64 and could rotate through it.
pub(crate) fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// A per-user quota: at most `max` actions in a fixed window that opens with the user's first action. A
/// fixed window (rather than the even refill of [`Limiter`]) is what the setting says, "so many per window",
/// and tells the refused user exactly when they may act again.
pub struct UserQuota {
    quota: Quota,
    windows: Mutex<HashMap<String, Window>>,
}

/// One user's open window.
struct Window {
    opened: Instant,
    count: u32,
}

impl UserQuota {
    /// A quota of `quota.max` actions per `quota.window_secs`.
    pub fn new(quota: Quota) -> Self {
        UserQuota { quota, windows: Mutex::new(HashMap::new()) }
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.quota.window_secs.max(1))
    }

    fn windows(&self) -> MutexGuard<'_, HashMap<String, Window>> {
        // The map holds plain counters: a panic elsewhere cannot leave it inconsistent.
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one action of `user` at `now`; `Err(seconds until the window ends)` past the quota (a refused
    /// action is not counted).
    pub fn check(&self, user: &str, now: Instant) -> Result<(), u64> {
        let window = self.window();
        let mut windows = self.windows();
        let w = windows.entry(user.to_owned()).or_insert(Window { opened: now, count: 0 });
        if now.saturating_duration_since(w.opened) >= window {
            *w = Window { opened: now, count: 0 };
        }
        if w.count >= self.quota.max {
            let left = window.saturating_sub(now.saturating_duration_since(w.opened));
            return Err((left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1));
        }
        w.count += 1;
        Ok(())
    }

    /// Users with an open window.
    pub fn tracked(&self) -> usize {
        self.windows().len()
    }

    fn housekeeping(&self, now: Instant) {
        let window = self.window();
        let mut windows = self.windows();
        windows.retain(|_, w| now.saturating_duration_since(w.opened) < window);
        windows.shrink_to_fit();
    }
}

/// The server's limiters.
pub struct Limiters {
    pub config: RateLimits,
    pub global: Limiter,
    pub auth: Limiter,
    pub bug_reports: Limiter,
    /// Friend requests sent, per user (HTTP and WebSocket).
    pub friend_requests: UserQuota,
    /// Lobbies created, per user.
    pub lobbies_created: UserQuota,
    /// Open sockets not yet authenticated, per client IP.
    pub unauthenticated_sockets: UnauthenticatedSockets,
    /// With Redis: the per-user quotas counted across nodes (the local ones stand in while it fails).
    shared: Option<SharedQuotas>,
}

impl Limiters {
    /// Limiters for the configured quotas.
    pub fn new(config: RateLimits) -> Self {
        Limiters {
            global: Limiter::new(config.global),
            auth: Limiter::new(config.auth),
            bug_reports: Limiter::new(config.bug_reports),
            friend_requests: UserQuota::new(config.friend_requests),
            lobbies_created: UserQuota::new(config.lobbies_created),
            unauthenticated_sockets: UnauthenticatedSockets::new(config.unauthenticated_sockets_per_ip),
            shared: None,
            config,
        }
    }

    /// Counts the per-user quotas in Redis, across the nodes sharing it.
    pub fn shared(mut self, shared: Option<SharedQuotas>) -> Self {
        self.shared = shared;
        self
    }

    /// Forgets clients whose quota has fully refilled; run periodically.
    pub fn housekeeping(&self) {
        self.global.housekeeping();
        self.auth.housekeeping();
        self.bug_reports.housekeeping();
        let now = Instant::now();
        self.friend_requests.housekeeping(now);
        self.lobbies_created.housekeeping(now);
    }

    /// Checks `limiter` for the request's client, unless limits are off.
    pub fn check(&self, limiter: &Limiter, ip: IpAddr) -> Result<(), u64> {
        if !self.config.enabled { Ok(()) } else { limiter.check(ip) }
    }

    /// Counts one action of `user` against `quota`, unless limits are off; `Err(seconds to wait)` past it.
    /// `limit` names the quota in Redis and in `user_rate_limited_total`.
    pub async fn check_user(&self, quota: &UserQuota, limit: &'static str, user: &str) -> Result<(), u64> {
        if !self.config.enabled {
            return Ok(());
        }
        let verdict = match &self.shared {
            Some(shared) => match shared.check(limit, user, quota.quota).await {
                Some(verdict) => verdict,
                None => quota.check(user, Instant::now()),
            },
            None => quota.check(user, Instant::now()),
        };
        verdict.inspect_err(|_| {
            metrics::counter!("user_rate_limited_total", "limit" => limit).increment(1);
        })
    }
}

/// The 429 answer in the path's error shape.
pub fn too_many_requests(path: &str, retry_after_secs: u64) -> Response {
    if is_auth_path(path) {
        AuthError::too_many_requests(retry_after_secs).into_response()
    } else {
        ApiError::RateLimited { retry_after_secs }.into_response()
    }
}

/// The global limit, on every request but the probes: the 429 when `ip` is over it.
pub fn global(limiters: &Limiters, path: &str, ClientIp(ip): ClientIp) -> Option<Response> {
    if UNLIMITED_PATHS.contains(&path) || (limiters.config.exempt_loopback && ip.is_loopback()) {
        return None;
    }
    let secs = limiters.check(&limiters.global, ip).err()?;
    metrics::counter!("http_rate_limited_total", "limit" => "global").increment(1);
    Some(too_many_requests(path, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_a_positive_wait() {
        let l = Limiter::new(Quota { max: 3, window_secs: 60 });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
        }
        let wait = l.check(ip).unwrap_err();
        assert!((1..=20).contains(&wait), "one token every 20 s, got {wait}");
        assert!(l.check("192.0.2.2".parse().unwrap()).is_ok(), "other clients are unaffected");
    }

    #[test]
    fn a_user_quota_opens_a_window_at_the_first_action_and_refuses_past_it() {
        let q = UserQuota::new(Quota { max: 2, window_secs: 60 });
        let t0 = Instant::now();
        assert!(q.check("alice", t0).is_ok());
        assert!(q.check("alice", t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(q.check("alice", t0 + Duration::from_secs(20)), Err(40), "until the window opened at t0 ends");
        assert_eq!(q.check("alice", t0 + Duration::from_millis(59_500)), Err(1), "rounded up, never 0");
        assert!(q.check("bob", t0 + Duration::from_secs(20)).is_ok(), "other users are unaffected");
        assert!(q.check("alice", t0 + Duration::from_secs(60)).is_ok(), "a new window");
        q.housekeeping(t0 + Duration::from_secs(100));
        assert_eq!(q.tracked(), 1, "bob's window ended, alice's is open");
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let l = Limiter::new(Quota { max: 1, window_secs: 60 });
        assert!(l.check("2001:db8::1".parse().unwrap()).is_ok());
        assert!(l.check("2001:db8::2".parse().unwrap()).is_err());
        assert!(l.check("2001:db8:0:1::1".parse().unwrap()).is_ok());
    }
}
