//! Settings as they are written: every key of `mapquiz.toml` and of the `MAPQUIZ_*` variables.

use super::de;
use secrecy::SecretString;
use serde::Deserialize;

/// The variables operators of the original server already set, and the key each one fills.
pub const ORIGINAL_ENV: &[(&str, &str)] = &[
    ("NODE_ENV", "node_env"),
    ("DATABASE_URL", "database_url"),
    ("REDIS_URL", "redis_url"),
    ("PORT", "port"),
    ("HOST", "host"),
    ("BETTER_AUTH_SECRET", "auth_secret"),
    ("BETTER_AUTH_URL", "better_auth_url"),
    ("SERVER_URL", "server_url"),
    ("GOOGLE_CLIENT_ID", "google_client_id"),
    ("GOOGLE_CLIENT_SECRET", "google_client_secret"),
    ("GITHUB_TOKEN", "github_token"),
    ("GITHUB_REPO_OWNER", "github_repo_owner"),
    ("GITHUB_REPO_NAME", "github_repo_name"),
];

/// Unvalidated settings; [`super::Config::from_raw`] turns them into a [`super::Config`].
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    #[serde(deserialize_with = "de::opt_string")]
    pub env: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub node_env: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub role: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub host: Option<String>,
    pub port: u16,

    #[serde(deserialize_with = "de::opt_string")]
    pub database_url: Option<String>,
    pub database_max_connections: u32,
    pub database_min_connections: u32,
    pub database_acquire_timeout_ms: u64,
    pub sqlite_busy_timeout_ms: u64,
    #[serde(deserialize_with = "de::bool_default_true")]
    pub run_migrations: bool,
    #[serde(deserialize_with = "de::opt_string")]
    pub redis_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub redis_key_prefix: Option<String>,

    #[serde(deserialize_with = "de::opt_secret")]
    pub auth_secret: Option<SecretString>,
    #[serde(deserialize_with = "de::opt_string")]
    pub secret_file: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub frontend_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub server_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub better_auth_url: Option<String>,
    #[serde(deserialize_with = "de::opt_bool")]
    pub secure_cookies: Option<bool>,
    #[serde(deserialize_with = "de::opt_string")]
    pub cookie_same_site: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub cookie_domain: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub google_client_id: Option<String>,
    #[serde(deserialize_with = "de::opt_secret")]
    pub google_client_secret: Option<SecretString>,
    #[serde(deserialize_with = "de::opt_string")]
    pub google_issuer: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub google_authorization_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub google_token_url: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub google_jwks_url: Option<String>,

    pub session_cache_ttl_secs: u64,
    pub session_cache_capacity: u64,
    pub lockout_email_max: u32,
    pub lockout_ip_max: u32,
    pub lockout_window_secs: u64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    #[serde(deserialize_with = "de::opt_string")]
    pub time_zone: Option<String>,

    #[serde(deserialize_with = "de::opt_list")]
    pub cors_origins: Option<Vec<String>>,
    #[serde(deserialize_with = "de::opt_list")]
    pub trusted_proxies: Option<Vec<String>>,
    pub body_limit_bytes: usize,
    pub request_timeout_ms: u64,
    pub shutdown_timeout_ms: u64,
    pub health_timeout_ms: u64,

    #[serde(deserialize_with = "de::bool_default_true")]
    pub rate_limit_enabled: bool,
    #[serde(deserialize_with = "de::opt_bool")]
    pub rate_limit_exempt_loopback: Option<bool>,
    pub rate_limit_global_max: Option<u32>,
    pub rate_limit_global_window_secs: u64,
    pub rate_limit_auth_max: Option<u32>,
    pub rate_limit_auth_window_secs: u64,
    pub rate_limit_bug_reports_max: u32,
    pub rate_limit_bug_reports_window_secs: u64,
    pub rate_limit_friend_requests_max: u32,
    pub rate_limit_friend_requests_window_secs: u64,
    pub rate_limit_lobbies_max: u32,
    pub rate_limit_lobbies_window_secs: u64,
    pub ws_max_unauthenticated_per_ip: usize,

    pub ws_max_message_bytes: usize,
    pub ws_rate_max: u32,
    pub ws_rate_window_secs: u64,
    pub ws_abuse_max: u32,
    pub ws_max_sockets_per_user: usize,
    pub ws_outgoing_queue: usize,
    pub ws_ping_interval_ms: u64,
    pub ws_idle_timeout_ms: u64,
    pub ws_session_check_ms: u64,
    pub presence_grace_ms: u64,

    pub lobby_grace_ms: u64,
    pub lobby_empty_ttl_ms: u64,
    pub lobby_idle_ttl_ms: u64,
    pub lobby_invitation_ttl_ms: u64,
    pub lobby_capacity: usize,
    pub lobby_fair_play_floor_ms: u64,
    pub lobby_fair_play_max_new_codes: usize,
    pub lobby_progress_flush_ms: u64,
    pub lobby_mailbox: usize,
    pub lobby_lease_ms: u64,
    pub lobby_forward_timeout_ms: u64,

    pub audit_retention_days: u32,

    #[serde(deserialize_with = "de::opt_bool")]
    pub otel_enabled: Option<bool>,
    #[serde(deserialize_with = "de::opt_string")]
    pub otel_endpoint: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub otel_service_name: Option<String>,
    pub otel_sample_ratio: f64,

    #[serde(deserialize_with = "de::opt_string")]
    pub log_format: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub log_level: Option<String>,
    #[serde(deserialize_with = "de::opt_secret")]
    pub metrics_token: Option<SecretString>,

    #[serde(deserialize_with = "de::opt_secret")]
    pub github_token: Option<SecretString>,
    #[serde(deserialize_with = "de::opt_string")]
    pub github_repo_owner: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub github_repo_name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub github_api_url: Option<String>,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            env: None,
            node_env: None,
            role: None,
            host: None,
            port: 3000,
            database_url: None,
            database_max_connections: 10,
            database_min_connections: 0,
            database_acquire_timeout_ms: 5_000,
            sqlite_busy_timeout_ms: 5_000,
            run_migrations: true,
            redis_url: None,
            redis_key_prefix: None,
            auth_secret: None,
            secret_file: None,
            frontend_url: None,
            server_url: None,
            better_auth_url: None,
            secure_cookies: None,
            cookie_same_site: None,
            cookie_domain: None,
            google_client_id: None,
            google_client_secret: None,
            google_issuer: None,
            google_authorization_url: None,
            google_token_url: None,
            google_jwks_url: None,
            session_cache_ttl_secs: 60,
            session_cache_capacity: 100_000,
            lockout_email_max: 5,
            lockout_ip_max: 20,
            lockout_window_secs: 900,
            // OWASP's first argon2id recommendation: 19 MiB, 2 passes, 1 lane.
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            time_zone: None,
            cors_origins: None,
            trusted_proxies: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout_ms: 30_000,
            shutdown_timeout_ms: 10_000,
            health_timeout_ms: 2_000,
            rate_limit_enabled: true,
            rate_limit_exempt_loopback: None,
            rate_limit_global_max: None,
            rate_limit_global_window_secs: 60,
            rate_limit_auth_max: None,
            rate_limit_auth_window_secs: 10,
            rate_limit_bug_reports_max: 10,
            rate_limit_bug_reports_window_secs: 3600,
            rate_limit_friend_requests_max: 100,
            rate_limit_friend_requests_window_secs: 3600,
            rate_limit_lobbies_max: 30,
            rate_limit_lobbies_window_secs: 3600,
            ws_max_unauthenticated_per_ip: 50,
            ws_max_message_bytes: 64 * 1024,
            ws_rate_max: 100,
            ws_rate_window_secs: 10,
            ws_abuse_max: 1000,
            ws_max_sockets_per_user: 10,
            ws_outgoing_queue: 256,
            ws_ping_interval_ms: 25_000,
            ws_idle_timeout_ms: 60_000,
            ws_session_check_ms: 60_000,
            presence_grace_ms: 5_000,
            lobby_grace_ms: 30_000,
            lobby_empty_ttl_ms: 180_000,
            lobby_idle_ttl_ms: 30 * 60_000,
            lobby_invitation_ttl_ms: 60 * 60_000,
            lobby_capacity: 10,
            lobby_fair_play_floor_ms: 1_500,
            lobby_fair_play_max_new_codes: 10,
            lobby_progress_flush_ms: 1_000,
            lobby_mailbox: 128,
            lobby_lease_ms: 5_000,
            lobby_forward_timeout_ms: 3_000,
            audit_retention_days: 180,
            otel_enabled: None,
            otel_endpoint: None,
            otel_service_name: None,
            otel_sample_ratio: 1.0,
            log_format: None,
            log_level: None,
            metrics_token: None,
            github_token: None,
            github_repo_owner: None,
            github_repo_name: None,
            github_api_url: None,
        }
    }
}
