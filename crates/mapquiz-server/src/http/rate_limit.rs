//! Per-client-IP rate limits (protocol §1.1.3), on governor's GCRA: memory per tracked client is a few
//! words, and idle clients are forgotten by [`Limiters::housekeeping`].

use crate::config::{Quota, RateLimits};
use crate::error::{ApiError, AuthError, is_auth_path};
use crate::http::client_ip::ClientIp;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

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
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The server's limiters.
pub struct Limiters {
    pub config: RateLimits,
    pub global: Limiter,
    pub auth: Limiter,
    pub bug_reports: Limiter,
}

impl Limiters {
    /// Limiters for the configured quotas.
    pub fn new(config: RateLimits) -> Self {
        Limiters {
            global: Limiter::new(config.global),
            auth: Limiter::new(config.auth),
            bug_reports: Limiter::new(config.bug_reports),
            config,
        }
    }

    /// Forgets clients whose quota has fully refilled; run periodically.
    pub fn housekeeping(&self) {
        self.global.housekeeping();
        self.auth.housekeeping();
        self.bug_reports.housekeeping();
    }

    /// Checks `limiter` for the request's client, unless limits are off.
    pub fn check(&self, limiter: &Limiter, ip: IpAddr) -> Result<(), u64> {
        if !self.config.enabled { Ok(()) } else { limiter.check(ip) }
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
    fn ipv6_clients_share_their_64() {
        let l = Limiter::new(Quota { max: 1, window_secs: 60 });
        assert!(l.check("2001:db8::1".parse().unwrap()).is_ok());
        assert!(l.check("2001:db8::2".parse().unwrap()).is_err());
        assert!(l.check("2001:db8:0:1::1".parse().unwrap()).is_ok());
    }
}
