//! From [`RawConfig`] to [`Config`]: every problem found, each naming its key and the expected form.

use super::{
    Argon2Params, AuthConfig, AuthSecret, Config, DatabaseConfig, GithubConfig, GoogleConfig, HttpConfig,
    LobbiesConfig, Lockout, LogConfig, LogFormat, MaintenanceConfig, OtlpConfig, Profile, Quota, RateLimits, RawConfig,
    RealtimeConfig, RedisUrl, Role, SameSite,
};
use crate::redis_keys::{DEFAULT_PREFIX, RedisKeys};
use ipnet::IpNet;
use mapquiz_store::DatabaseUrl;
use secrecy::ExposeSecret;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// The Redis URL schemes fred understands: one server, a Redis Cluster, or a primary found through Sentinel;
/// `rediss` for TLS.
const REDIS_SCHEMES: &[&str] =
    &["redis", "rediss", "redis-cluster", "rediss-cluster", "redis-sentinel", "rediss-sentinel"];

/// Shortest secret accepted in production: the cookie signature's HMAC key.
pub const MIN_SECRET_BYTES: usize = 32;

/// The configuration is unusable; one line per problem. The process exits 2.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl ConfigError {
    pub(crate) fn single(msg: String) -> Self {
        ConfigError(vec![msg])
    }

    pub(crate) fn from_figment(err: figment::Error) -> Self {
        ConfigError(
            err.into_iter()
                .map(|e| {
                    let key = e.path.last().cloned().unwrap_or_default();
                    let source = match &e.metadata {
                        Some(m) if m.name.contains("environment") => format!(" (from {})", env_names(&key)),
                        Some(m) => format!(" (from {})", m.name),
                        None => String::new(),
                    };
                    if key.is_empty() { format!("{}{source}", e.kind) } else { format!("`{key}`{source}: {}", e.kind) }
                })
                .collect(),
        )
    }
}

/// The environment variables that set `key` and are present now, e.g. `PORT` or `MAPQUIZ_PORT`.
fn env_names(key: &str) -> String {
    let mut names: Vec<String> =
        super::ORIGINAL_ENV.iter().filter(|(_, k)| *k == key).map(|(var, _)| (*var).to_owned()).collect();
    names.push(format!("MAPQUIZ_{}", key.to_ascii_uppercase()));
    let present: Vec<&String> = names.iter().filter(|n| std::env::var_os(n).is_some()).collect();
    let shown = if present.is_empty() { names.iter().collect() } else { present };
    shown.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" or ")
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// Collects problems instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, key: &str, msg: impl fmt::Display) {
        self.0.push(format!("`{key}`: {msg}"));
    }

    fn url(&mut self, key: &str, value: &str) -> Option<Url> {
        match Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            _ => {
                self.add(key, format!("{value:?} is not an http(s) URL (expected e.g. https://mapquiz.example)"));
                None
            }
        }
    }

    fn origin(&mut self, key: &str, value: &str) -> Option<String> {
        if value == "*" {
            self.add(key, "a wildcard is never allowed: list the origins (scheme://host[:port])");
            return None;
        }
        let url = self.url(key, value)?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            self.add(key, format!("{value:?} is not an origin (expected scheme://host[:port], no path)"));
            return None;
        }
        Some(url.origin().ascii_serialization())
    }

    fn positive(&mut self, key: &str, v: u64) -> Duration {
        if v == 0 {
            self.add(key, "must be greater than 0");
        }
        Duration::from_millis(v)
    }
}

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut p = Problems::default();

    let profile = match raw.env.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("production" | "prod") => Profile::Production,
        Some("development" | "dev") => Profile::Development,
        Some(other) => {
            p.add("env", format!("{other:?} is not a profile (expected development or production)"));
            Profile::Development
        }
        // NODE_ENV as the original's operators set it: only "production" matters.
        None if raw.node_env.as_deref() == Some("production") => Profile::Production,
        None => Profile::Development,
    };
    let prod = profile == Profile::Production;

    let database_url = raw.database_url.unwrap_or_else(|| "sqlite://mapquiz.db".to_owned());
    let database_url = DatabaseUrl::parse(&database_url).unwrap_or_else(|e| {
        p.add("database_url", e);
        DatabaseUrl::Sqlite("mapquiz.db".into())
    });
    if raw.database_max_connections == 0 {
        p.add("database_max_connections", "must be at least 1");
    }
    if raw.database_min_connections > raw.database_max_connections {
        p.add("database_min_connections", "must not exceed database_max_connections");
    }

    let redis_given = raw.redis_url.is_some();
    let redis_url = raw.redis_url.and_then(|r| match Url::parse(&r) {
        // fred's own parser catches what the scheme alone does not (a Sentinel URL without its service name);
        // its messages never repeat the URL, so no password reaches the error.
        Ok(u) if REDIS_SCHEMES.contains(&u.scheme()) => match fred::prelude::Config::from_url(u.as_str()) {
            // Without one of fred's TLS features a `rediss` URL would connect in plain text, with a warning.
            Ok(c) if u.scheme().starts_with("rediss") && !c.uses_tls() => {
                p.add("redis_url", "this build has no TLS for Redis (fred's `enable-rustls` feature)");
                None
            }
            Ok(_) => Some(RedisUrl(u)),
            Err(e) => {
                p.add("redis_url", format!("unusable Redis URL: {}", e.details()));
                None
            }
        },
        _ => {
            p.add(
                "redis_url",
                "expected redis://[user:password@]host[:port][/db], redis-cluster://host:port[?node=host:port…], \
                 redis-sentinel://host[:port][/db]?sentinelServiceName=name[&node=host:port…], or the same with \
                 rediss (TLS)",
            );
            None
        }
    });
    let redis_key_prefix =
        RedisKeys::parse(raw.redis_key_prefix.as_deref().unwrap_or(DEFAULT_PREFIX)).unwrap_or_else(|e| {
            p.add("redis_key_prefix", e);
            RedisKeys::default()
        });

    let role = match raw.role.as_deref() {
        None => Role::All,
        Some(name) => Role::parse(name).unwrap_or_else(|| {
            p.add("role", format!("{name:?} is not a role (expected all, api, realtime or worker)"));
            Role::All
        }),
    };
    // A split deployment is several processes sharing one database: a SQLite file is one process's.
    if role != Role::All && database_url.sqlite_path().is_some() {
        p.add(
            "role",
            format!(
                "`{role}` is one part of a deployment whose nodes share PostgreSQL and Redis; SQLite is one \
                 process's file: set DATABASE_URL to a postgres:// URL, or run role `all`"
            ),
        );
    }
    // Refused rather than warned about: without Redis, what an api node pushes (friend requests, sign-outs
    // closing sockets) never reaches the sockets on the realtime nodes, and a session revoked on one node
    // stays valid in another's cache. No such deployment works, and it would fail quietly.
    if role.needs_redis() && !redis_given {
        p.add(
            "role",
            format!(
                "`{role}` needs REDIS_URL: api nodes reach the sockets of realtime nodes (friend pushes, sign-outs) \
                 and share the session cache only through Redis; run role `all` for a single node"
            ),
        );
    }

    let secret = match raw.auth_secret {
        Some(s) if prod && s.expose_secret().len() < MIN_SECRET_BYTES => {
            p.add("auth_secret", format!("production needs at least {MIN_SECRET_BYTES} bytes (BETTER_AUTH_SECRET)"));
            AuthSecret::Configured(s)
        }
        Some(s) => AuthSecret::Configured(s),
        None if prod => {
            p.add(
                "auth_secret",
                format!("production needs a secret of at least {MIN_SECRET_BYTES} bytes (set BETTER_AUTH_SECRET)"),
            );
            AuthSecret::File(PathBuf::new())
        }
        None => {
            AuthSecret::File(raw.secret_file.map(PathBuf::from).unwrap_or_else(|| match database_url.sqlite_path() {
                Some(db) => db.with_extension("secret"),
                None => PathBuf::from("mapquiz.secret"),
            }))
        }
    };

    let frontend_url = match raw.frontend_url {
        Some(u) => p.url("frontend_url", &u),
        None if prod => {
            p.add("frontend_url", "production needs the web client's URL (MAPQUIZ_FRONTEND_URL)");
            None
        }
        None => Url::parse("http://localhost:5173").ok(),
    };
    let server_url = match (raw.server_url, raw.better_auth_url) {
        (Some(u), _) => p.url("server_url", &u),
        (None, Some(u)) => {
            p.url("better_auth_url", &u).and_then(|u| Url::parse(&u.origin().ascii_serialization()).ok())
        }
        (None, None) if prod => {
            p.add("server_url", "production needs the API's public URL (SERVER_URL), used in OAuth redirects");
            None
        }
        (None, None) => Url::parse("http://localhost:3000").ok(),
    };

    let secure_cookies = match raw.secure_cookies {
        Some(false) if prod => {
            p.add("secure_cookies", "cannot be off in production (cookies would travel without TLS)");
            false
        }
        Some(v) => v,
        None => prod,
    };
    let same_site = match raw.cookie_same_site.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("lax") => SameSite::Lax,
        Some("strict") => SameSite::Strict,
        Some("none") if !secure_cookies => {
            p.add("cookie_same_site", "None requires secure cookies (browsers drop SameSite=None without Secure)");
            SameSite::None
        }
        Some("none") => SameSite::None,
        Some(other) => {
            p.add("cookie_same_site", format!("{other:?} is not one of lax, strict, none"));
            SameSite::Lax
        }
    };
    let issuer = p.url("google_issuer", raw.google_issuer.as_deref().unwrap_or("https://accounts.google.com"));
    let authorization_url = raw.google_authorization_url.and_then(|u| p.url("google_authorization_url", &u));
    let token_url = raw.google_token_url.and_then(|u| p.url("google_token_url", &u));
    let jwks_url = raw.google_jwks_url.and_then(|u| p.url("google_jwks_url", &u));
    let google = match (raw.google_client_id, raw.google_client_secret, issuer) {
        (Some(client_id), Some(client_secret), Some(issuer)) => {
            Some(GoogleConfig { client_id, client_secret, issuer, authorization_url, token_url, jwks_url })
        }
        (None, None, _) | (Some(_), Some(_), None) => None,
        _ => {
            p.add("google_client_id", "set both GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET, or neither");
            None
        }
    };

    if raw.session_cache_capacity == 0 {
        p.add("session_cache_capacity", "must be at least 1");
    }
    for (key, v) in [("lockout_email_max", raw.lockout_email_max), ("lockout_ip_max", raw.lockout_ip_max)] {
        if v == 0 {
            p.add(key, "must be at least 1");
        }
    }
    let lockout = Lockout {
        email_max: raw.lockout_email_max,
        ip_max: raw.lockout_ip_max,
        window: p.positive("lockout_window_secs", raw.lockout_window_secs.saturating_mul(1000)),
    };
    let argon2 = Argon2Params {
        memory_kib: raw.argon2_memory_kib,
        iterations: raw.argon2_iterations,
        parallelism: raw.argon2_parallelism,
    };
    if let Err(e) = argon2::Params::new(argon2.memory_kib, argon2.iterations, argon2.parallelism, None) {
        p.add("argon2_memory_kib", format!("argon2 refuses these costs: {e} (memory ≥ 8 × parallelism KiB)"));
    }
    if prod && (argon2.memory_kib < 19_456 || argon2.iterations < 2) {
        p.add("argon2_memory_kib", "production needs at least 19456 KiB and 2 iterations");
    }

    let default_origins =
        if prod { vec![] } else { vec!["http://localhost:5173".into(), "http://127.0.0.1:5173".into()] };
    let mut cors_origins: Vec<String> = Vec::new();
    for o in raw.cors_origins.unwrap_or(default_origins) {
        if let Some(o) = p.origin("cors_origins", &o)
            && !cors_origins.contains(&o)
        {
            cors_origins.push(o);
        }
    }
    if let Some(front) = &frontend_url {
        let o = front.origin().ascii_serialization();
        if !cors_origins.contains(&o) {
            cors_origins.push(o);
        }
    }
    if prod && cors_origins.is_empty() {
        p.add("cors_origins", "production needs at least one allowed origin (MAPQUIZ_CORS_ORIGINS)");
    }

    let mut trusted_proxies = Vec::new();
    for entry in raw.trusted_proxies.unwrap_or_default() {
        match entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from)) {
            Ok(net) => trusted_proxies.push(net),
            Err(_) => p.add("trusted_proxies", format!("{entry:?} is not an IP address or CIDR (e.g. 10.0.0.0/8)")),
        }
    }
    if raw.body_limit_bytes < 1024 {
        p.add("body_limit_bytes", "must be at least 1024");
    }
    let http = HttpConfig {
        cors_origins,
        trusted_proxies,
        body_limit_bytes: raw.body_limit_bytes,
        request_timeout: p.positive("request_timeout_ms", raw.request_timeout_ms),
        shutdown_timeout: p.positive("shutdown_timeout_ms", raw.shutdown_timeout_ms),
        health_timeout: p.positive("health_timeout_ms", raw.health_timeout_ms),
    };

    if raw.ws_max_message_bytes < 1024 || raw.ws_max_message_bytes > 16 * 1024 * 1024 {
        p.add("ws_max_message_bytes", "must be between 1024 and 16777216");
    }
    for (key, v) in [
        ("ws_rate_max", raw.ws_rate_max as usize),
        ("ws_max_sockets_per_user", raw.ws_max_sockets_per_user),
        ("ws_outgoing_queue", raw.ws_outgoing_queue),
    ] {
        if v == 0 {
            p.add(key, "must be at least 1");
        }
    }
    if raw.ws_abuse_max < raw.ws_rate_max {
        p.add("ws_abuse_max", "must not be lower than ws_rate_max");
    }
    let realtime = RealtimeConfig {
        max_message_bytes: raw.ws_max_message_bytes,
        rate_max: raw.ws_rate_max,
        rate_window: p.positive("ws_rate_window_secs", raw.ws_rate_window_secs.saturating_mul(1000)),
        abuse_max: raw.ws_abuse_max,
        max_sockets_per_user: raw.ws_max_sockets_per_user,
        outgoing_queue: raw.ws_outgoing_queue,
        ping_interval: p.positive("ws_ping_interval_ms", raw.ws_ping_interval_ms),
        idle_timeout: p.positive("ws_idle_timeout_ms", raw.ws_idle_timeout_ms),
        session_check: p.positive("ws_session_check_ms", raw.ws_session_check_ms),
        presence_grace: Duration::from_millis(raw.presence_grace_ms),
    };
    if realtime.idle_timeout <= realtime.ping_interval {
        p.add("ws_idle_timeout_ms", "must be longer than ws_ping_interval_ms (a live client answers pings)");
    }

    for (key, v) in [
        ("lobby_capacity", raw.lobby_capacity),
        ("lobby_fair_play_max_new_codes", raw.lobby_fair_play_max_new_codes),
        ("lobby_mailbox", raw.lobby_mailbox),
    ] {
        if v == 0 {
            p.add(key, "must be at least 1");
        }
    }
    let lobbies = LobbiesConfig {
        grace: Duration::from_millis(raw.lobby_grace_ms),
        empty_ttl: Duration::from_millis(raw.lobby_empty_ttl_ms),
        idle_ttl: p.positive("lobby_idle_ttl_ms", raw.lobby_idle_ttl_ms),
        invitation_ttl: Duration::from_millis(raw.lobby_invitation_ttl_ms),
        capacity: raw.lobby_capacity,
        fair_play_floor: Duration::from_millis(raw.lobby_fair_play_floor_ms),
        fair_play_max_new_codes: raw.lobby_fair_play_max_new_codes,
        progress_flush: p.positive("lobby_progress_flush_ms", raw.lobby_progress_flush_ms),
        mailbox: raw.lobby_mailbox,
        lease: Duration::from_millis(raw.lobby_lease_ms),
        forward_timeout: p.positive("lobby_forward_timeout_ms", raw.lobby_forward_timeout_ms),
    };
    if lobbies.lease < Duration::from_millis(300) {
        p.add("lobby_lease_ms", "must be at least 300 (a lease is renewed every third of it)");
    }

    let mut quota = |key: &str, max: u32, window_secs: u64| {
        if max == 0 {
            p.add(key, "must be at least 1 (disable limits with rate_limit_enabled = false)");
        }
        if window_secs == 0 {
            p.add(key, "the window must be at least 1 second");
        }
        Quota { max, window_secs }
    };
    let rate_limits = RateLimits {
        enabled: raw.rate_limit_enabled,
        // In production nobody is exempt, whatever the setting says.
        exempt_loopback: !prod && raw.rate_limit_exempt_loopback.unwrap_or(true),
        global: quota(
            "rate_limit_global_max",
            raw.rate_limit_global_max.unwrap_or(if prod { 100 } else { 1000 }),
            raw.rate_limit_global_window_secs,
        ),
        auth: quota(
            "rate_limit_auth_max",
            raw.rate_limit_auth_max.unwrap_or(if prod { 3 } else { 30 }),
            raw.rate_limit_auth_window_secs,
        ),
        bug_reports: quota(
            "rate_limit_bug_reports_max",
            raw.rate_limit_bug_reports_max,
            raw.rate_limit_bug_reports_window_secs,
        ),
        friend_requests: quota(
            "rate_limit_friend_requests_max",
            raw.rate_limit_friend_requests_max,
            raw.rate_limit_friend_requests_window_secs,
        ),
        lobbies_created: quota(
            "rate_limit_lobbies_max",
            raw.rate_limit_lobbies_max,
            raw.rate_limit_lobbies_window_secs,
        ),
        unauthenticated_sockets_per_ip: raw.ws_max_unauthenticated_per_ip,
    };
    if raw.ws_max_unauthenticated_per_ip == 0 {
        p.add("ws_max_unauthenticated_per_ip", "must be at least 1 (disable limits with rate_limit_enabled = false)");
    }

    let format = match raw.log_format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") => {
            if prod {
                LogFormat::Json
            } else {
                LogFormat::Text
            }
        }
        Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            p.add("log_format", format!("{other:?} is not one of auto, text, json"));
            LogFormat::Text
        }
    };
    let level = raw.log_level.unwrap_or_else(|| "info".to_owned());
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&level) {
        p.add("log_level", format!("{level:?} is not a tracing filter ({e}); e.g. info or mapquiz_server=debug,info"));
    }

    let otlp = if raw.otel_enabled.unwrap_or(false) {
        if !cfg!(feature = "otel") {
            p.add("otel_enabled", "this build has no OpenTelemetry export (build with `--features otel`)");
        }
        if !(0.0..=1.0).contains(&raw.otel_sample_ratio) {
            p.add("otel_sample_ratio", "must be between 0.0 and 1.0");
        }
        let service_name = raw.otel_service_name.unwrap_or_else(|| "mapquiz-server".to_owned());
        p.url("otel_endpoint", raw.otel_endpoint.as_deref().unwrap_or("http://127.0.0.1:4318/v1/traces"))
            .map(|endpoint| OtlpConfig { endpoint, service_name, sample_ratio: raw.otel_sample_ratio })
    } else {
        None
    };

    let github_api_url = match raw.github_api_url {
        Some(u) => p.url("github_api_url", &u),
        None => Url::parse("https://api.github.com").ok(),
    };

    let time_zone = raw.time_zone.as_deref().unwrap_or("Europe/Paris").parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
        p.add("time_zone", "expected an IANA time zone name such as Europe/Paris or UTC");
        chrono_tz::Tz::Europe__Paris
    });

    // At least a day (the job runs weekly and must not empty the trail it protects); at most a century.
    if !(1..=36_500).contains(&raw.audit_retention_days) {
        p.add("audit_retention_days", "must be between 1 and 36500");
    }
    let maintenance = MaintenanceConfig { audit_retention_days: raw.audit_retention_days };

    let host = raw.host.unwrap_or_else(|| if prod { "0.0.0.0" } else { "127.0.0.1" }.to_owned());

    match (frontend_url, server_url, github_api_url) {
        (Some(frontend_url), Some(server_url), Some(api_url)) if p.0.is_empty() => Ok(Config {
            profile,
            role,
            host,
            port: raw.port,
            database: DatabaseConfig {
                url: database_url,
                max_connections: raw.database_max_connections,
                min_connections: raw.database_min_connections,
                acquire_timeout: Duration::from_millis(raw.database_acquire_timeout_ms),
                sqlite_busy_timeout: Duration::from_millis(raw.sqlite_busy_timeout_ms),
                run_migrations: raw.run_migrations,
            },
            redis_url,
            redis_key_prefix,
            auth: AuthConfig {
                secret,
                frontend_url,
                server_url,
                secure_cookies,
                same_site,
                cookie_domain: raw.cookie_domain,
                google,
                session_cache_ttl: Duration::from_secs(raw.session_cache_ttl_secs),
                session_cache_capacity: raw.session_cache_capacity,
                lockout,
                argon2,
            },
            http,
            realtime,
            lobbies,
            rate_limits,
            log: LogConfig { format, level },
            otlp,
            metrics_token: raw.metrics_token,
            github: GithubConfig {
                token: raw.github_token,
                repo_owner: raw.github_repo_owner,
                repo_name: raw.github_repo_name,
                api_url,
            },
            maintenance,
            time_zone,
        }),
        _ => Err(ConfigError(p.0)),
    }
}
