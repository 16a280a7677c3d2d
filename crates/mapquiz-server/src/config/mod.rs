//! Configuration: defaults → `mapquiz.toml` → environment (`MAPQUIZ_*`, plus the original server's names),
//! parsed once into a validated [`Config`]. Variables starting with `TEST_` are never read.

mod de;
mod raw;
pub mod secret;
mod validate;

pub use raw::{ORIGINAL_ENV, RawConfig};
pub use validate::ConfigError;

use crate::redis_keys::RedisKeys;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use ipnet::IpNet;
use mapquiz_store::{ConnectOptions, DatabaseUrl};
use secrecy::SecretString;
use serde::{Serialize, Serializer};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Development (the default) or production: production refuses unsafe settings and drops local exemptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Development,
    Production,
}

/// What one node runs: the whole server (the default), or one part of a split deployment whose nodes share
/// PostgreSQL and Redis. The README's "Roles" section lists exactly what each one starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every route and every background task: a complete server on its own
    All,
    /// Every HTTP route except /ws; no lobby actors, no background jobs
    Api,
    /// /ws and the live lobbies, with GET /, the probes and /metrics
    Realtime,
    /// The background jobs (maintenance, bug-report delivery), with the probes and /metrics only
    Worker,
}

impl Role {
    /// Every role, in the order the documentation lists them.
    pub const ALL: [Role; 4] = [Role::All, Role::Api, Role::Realtime, Role::Worker];

    /// The role's name in the configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Api => "api",
            Role::Realtime => "realtime",
            Role::Worker => "worker",
        }
    }

    /// The role named `name` (any case).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Serves the HTTP API: `/api/*`, the OpenAPI document and `/docs`.
    pub fn serves_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }

    /// Serves `/ws` and runs the live side: lobby actors (restored at start-up), the lobby writer, presence
    /// and the node heartbeat, and listens to the bus.
    pub fn serves_realtime(self) -> bool {
        matches!(self, Role::All | Role::Realtime)
    }

    /// Runs the background jobs: the maintenance scheduler and the bug-report delivery worker.
    pub fn runs_jobs(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }

    /// Answers `GET /` (the service description a client or a person may ask any public node for).
    pub fn serves_service_info(self) -> bool {
        self != Role::Worker
    }

    /// Needs Redis to work at all: an api node's pushes reach the sockets, which live on realtime nodes,
    /// only through the bus, and sessions revoked on one node must leave the other's cache.
    pub fn needs_redis(self) -> bool {
        matches!(self, Role::Api | Role::Realtime)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validated configuration the whole program reads.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub profile: Profile,
    /// What this node runs.
    pub role: Role,
    pub host: String,
    pub port: u16,
    pub database: DatabaseConfig,
    pub redis_url: Option<RedisUrl>,
    /// Names every Redis key and channel from `redis_key_prefix`, so deployments can share a Redis.
    pub redis_key_prefix: RedisKeys,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub realtime: RealtimeConfig,
    pub lobbies: LobbiesConfig,
    pub rate_limits: RateLimits,
    pub log: LogConfig,
    /// OpenTelemetry trace export, when turned on (needs a build with the `otel` feature).
    pub otlp: Option<OtlpConfig>,
    #[serde(serialize_with = "redacted_opt")]
    pub metrics_token: Option<SecretString>,
    pub github: GithubConfig,
    pub maintenance: MaintenanceConfig,
    /// Where the score-history labels and the leaderboard days, weeks and months are reckoned.
    #[serde(serialize_with = "tz_name")]
    pub time_zone: chrono_tz::Tz,
}

/// Where the data lives.
#[derive(Clone, Debug, Serialize)]
pub struct DatabaseConfig {
    #[serde(serialize_with = "redacted_db")]
    pub url: DatabaseUrl,
    pub max_connections: u32,
    pub min_connections: u32,
    #[serde(serialize_with = "millis")]
    pub acquire_timeout: Duration,
    #[serde(serialize_with = "millis")]
    pub sqlite_busy_timeout: Duration,
    pub run_migrations: bool,
}

impl DatabaseConfig {
    /// The store's connection options.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            url: self.url.clone(),
            max_connections: self.max_connections,
            min_connections: self.min_connections,
            acquire_timeout: self.acquire_timeout,
            sqlite_busy_timeout: self.sqlite_busy_timeout,
        }
    }
}

/// Where the signing secret comes from.
#[derive(Clone, Debug)]
pub enum AuthSecret {
    /// Set by the operator (`BETTER_AUTH_SECRET` / `MAPQUIZ_AUTH_SECRET`).
    Configured(SecretString),
    /// Outside production without a configured secret: generated once into this file and reused.
    File(PathBuf),
}

impl Serialize for AuthSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AuthSecret::Configured(_) => s.serialize_str(REDACTED),
            AuthSecret::File(p) => s.serialize_str(&format!("{REDACTED} (generated, kept in {})", p.display())),
        }
    }
}

/// Cookie `SameSite` policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

/// Sign-in and session settings.
#[derive(Clone, Debug, Serialize)]
pub struct AuthConfig {
    pub secret: AuthSecret,
    /// Where the web client lives: every sign-in redirect lands there.
    pub frontend_url: Url,
    /// The API's own public origin, used to build the OAuth `redirect_uri`.
    pub server_url: Url,
    pub secure_cookies: bool,
    pub same_site: SameSite,
    pub cookie_domain: Option<String>,
    pub google: Option<GoogleConfig>,
    /// How long a validated session is served from the cache before the store is asked again.
    #[serde(serialize_with = "secs")]
    pub session_cache_ttl: Duration,
    /// Sessions kept in the in-process cache, at most.
    pub session_cache_capacity: u64,
    pub lockout: Lockout,
    pub argon2: Argon2Params,
}

/// Failed sign-ins allowed per window before further attempts are refused.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Lockout {
    /// Per normalised email (whether or not the account exists); also wrong second-factor codes per user.
    pub email_max: u32,
    /// Per client IP.
    pub ip_max: u32,
    #[serde(serialize_with = "secs")]
    pub window: Duration,
}

/// Argon2id cost: memory in KiB, passes, lanes.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// Google sign-in credentials and where the provider lives.
#[derive(Clone, Debug, Serialize)]
pub struct GoogleConfig {
    pub client_id: String,
    #[serde(serialize_with = "redacted")]
    pub client_secret: SecretString,
    /// The OpenID Connect issuer; its discovery document gives the endpoints not set below.
    pub issuer: Url,
    pub authorization_url: Option<Url>,
    pub token_url: Option<Url>,
    pub jwks_url: Option<Url>,
}

/// HTTP edge settings.
#[derive(Clone, Debug, Serialize)]
pub struct HttpConfig {
    /// Allowed browser origins (serialised `scheme://host[:port]`), the frontend's included.
    pub cors_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub body_limit_bytes: usize,
    #[serde(serialize_with = "millis")]
    pub request_timeout: Duration,
    #[serde(serialize_with = "millis")]
    pub shutdown_timeout: Duration,
    #[serde(serialize_with = "millis")]
    pub health_timeout: Duration,
}

/// WebSocket gateway and presence settings (protocol §2.3, §2.4, §4.6).
#[derive(Clone, Debug, Serialize)]
pub struct RealtimeConfig {
    /// Largest text message (and frame); larger closes the socket with 1009.
    pub max_message_bytes: usize,
    /// Messages a socket may send per window (token bucket: the whole window's worth may come at once).
    pub rate_max: u32,
    #[serde(serialize_with = "secs")]
    pub rate_window: Duration,
    /// Messages per window past which the socket is closed with 1008.
    pub abuse_max: u32,
    /// Sockets one user may hold, on every node sharing Redis together (on this node alone without Redis, or
    /// while it is unreachable); one more closes the oldest with 1008.
    pub max_sockets_per_user: usize,
    /// Messages waiting to be written to one socket; a reader that falls further behind is disconnected.
    pub outgoing_queue: usize,
    #[serde(serialize_with = "millis")]
    pub ping_interval: Duration,
    /// Silence (no message, no pong) after which a socket is closed.
    #[serde(serialize_with = "millis")]
    pub idle_timeout: Duration,
    /// How often a bound socket checks that its session still exists (a revocation whose close event was
    /// lost while Redis was down still ends the socket within this, plus the session cache's TTL).
    #[serde(serialize_with = "millis")]
    pub session_check: Duration,
    /// How long after a user's last socket closes they are shown offline (a reload must not flicker).
    #[serde(serialize_with = "millis")]
    pub presence_grace: Duration,
}

/// Multiplayer lobbies: the rules' timers and fair-play marks (protocol §3.10), and the actors' plumbing.
#[derive(Clone, Debug, Serialize)]
pub struct LobbiesConfig {
    /// Disconnect grace of a member whose last socket closed (§3.8).
    #[serde(serialize_with = "millis")]
    pub grace: Duration,
    /// How long an empty lobby waits for a member before it is deleted.
    #[serde(serialize_with = "millis")]
    pub empty_ttl: Duration,
    /// How long a lobby none of whose members is connected lives.
    #[serde(serialize_with = "millis")]
    pub idle_ttl: Duration,
    /// How long an undelivered invitation is still delivered at the invitee's next connection (§3.9).
    #[serde(serialize_with = "millis")]
    pub invitation_ttl: Duration,
    /// Most members of one lobby.
    pub capacity: usize,
    /// Least average time per validated country; a faster game's result is flagged.
    #[serde(serialize_with = "millis")]
    pub fair_play_floor: Duration,
    /// Most new codes one progress update may add before the result is flagged.
    pub fair_play_max_new_codes: usize,
    /// Longest time a merged progress waits in the batched writer before it is stored.
    #[serde(serialize_with = "millis")]
    pub progress_flush: Duration,
    /// Commands one lobby's actor holds waiting; past it a command answers `Opération échouée`.
    pub mailbox: usize,
    /// Several nodes: how long a node's lease on a lobby lasts unless renewed (every third of it); a dead
    /// owner's lobbies move to another node after this.
    #[serde(serialize_with = "millis")]
    pub lease: Duration,
    /// Several nodes: how long a command handed to the lobby's owner waits for its answer before it
    /// answers `Opération échouée`.
    #[serde(serialize_with = "millis")]
    pub forward_timeout: Duration,
}

impl LobbiesConfig {
    /// The numbers the pure rules run with.
    pub fn rules(&self) -> mapquiz_domain::lobby::LobbyConfig {
        use mapquiz_domain::lobby::{FairPlayConfig, LobbyConfig};
        let defaults = LobbyConfig::default();
        LobbyConfig {
            capacity: self.capacity,
            disconnect_grace: self.grace,
            empty_lobby_ttl: self.empty_ttl,
            idle_ttl: self.idle_ttl,
            invitation_ttl: self.invitation_ttl,
            fair_play: FairPlayConfig {
                min_time_per_country: self.fair_play_floor,
                max_new_codes_per_update: self.fair_play_max_new_codes,
                ..defaults.fair_play
            },
        }
    }
}

/// The weekly maintenance jobs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MaintenanceConfig {
    /// Audit lines older than this many days are deleted by the `audit` job.
    pub audit_retention_days: u32,
}

/// A number of requests allowed per window, per client IP (or per user, for the per-user limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub max: u32,
    pub window_secs: u64,
}

/// Request rate limits.
#[derive(Clone, Debug, Serialize)]
pub struct RateLimits {
    pub enabled: bool,
    /// Loopback clients skip the global limit (never in production).
    pub exempt_loopback: bool,
    pub global: Quota,
    pub auth: Quota,
    pub bug_reports: Quota,
    /// Friend requests one user may send per window (HTTP and WebSocket together).
    pub friend_requests: Quota,
    /// Lobbies one user may create per window.
    pub lobbies_created: Quota,
    /// WebSockets one client IP may hold open before they authenticate (on this node).
    pub unauthenticated_sockets_per_ip: usize,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Logging settings.
#[derive(Clone, Debug, Serialize)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter (`info`, `mapquiz_server=debug,info`, …); `RUST_LOG` overrides it.
    pub level: String,
}

/// Where and how traces are exported (OTLP over HTTP, protobuf).
#[derive(Clone, Debug, Serialize)]
pub struct OtlpConfig {
    /// The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: Url,
    pub service_name: String,
    /// Share of root traces kept, 0.0 to 1.0 (children follow their parent's decision).
    pub sample_ratio: f64,
}

/// Where bug reports are delivered.
#[derive(Clone, Debug, Serialize)]
pub struct GithubConfig {
    #[serde(serialize_with = "redacted_opt")]
    pub token: Option<SecretString>,
    pub repo_owner: Option<String>,
    pub repo_name: Option<String>,
    pub api_url: Url,
}

impl Config {
    /// Loads from `mapquiz.toml` (or `file`, or `MAPQUIZ_CONFIG`) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with_role(file, None)
    }

    /// [`Config::load`] with the role `mapquiz serve --role` names, which beats the file and the environment.
    /// It goes through validation like any other source: a role's needs (PostgreSQL, Redis) are checked.
    pub fn load_with_role(file: Option<&Path>, role: Option<Role>) -> Result<Config, ConfigError> {
        let mut figment = figment(file)?;
        if let Some(role) = role {
            figment = figment.merge(("role", role.as_str()));
        }
        Config::from_figment(&figment)
    }

    /// Validates whatever `figment` holds: the tests build one by hand.
    pub fn from_figment(figment: &Figment) -> Result<Config, ConfigError> {
        let raw: RawConfig = figment.extract().map_err(ConfigError::from_figment)?;
        validate::validate(raw)
    }

    /// The configuration as TOML, secrets and database passwords redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
    }

    /// Whether the production profile is on.
    pub fn is_production(&self) -> bool {
        self.profile == Profile::Production
    }
}

/// The layered sources: defaults (in [`RawConfig`]) ← file ← original env names ← `MAPQUIZ_*`.
pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
    let explicit = file.map(Path::to_path_buf).or_else(|| std::env::var_os("MAPQUIZ_CONFIG").map(PathBuf::from));
    let path = explicit.clone().unwrap_or_else(|| PathBuf::from("mapquiz.toml"));
    if explicit.is_some() && !path.is_file() {
        return Err(ConfigError::single(format!("config file {} does not exist", path.display())));
    }
    let original = ORIGINAL_ENV.iter().map(|(var, _)| *var).collect::<Vec<_>>();
    let mut figment = Figment::new();
    if path.is_file() {
        figment = figment.merge(Toml::file_exact(path));
    }
    Ok(figment
        .merge(Env::raw().only(&original).map(|var| {
            ORIGINAL_ENV
                .iter()
                .find(|(name, _)| var.as_str().eq_ignore_ascii_case(name))
                .map(|(_, key)| (*key).into())
                .unwrap_or_else(|| var.into())
        }))
        .merge(Env::prefixed("MAPQUIZ_").filter(|key| key.as_str() != "config")))
}

const REDACTED: &str = "[redacted]";

fn redacted<S: Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(REDACTED)
}

fn redacted_opt<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

fn redacted_db<S: Serializer>(v: &DatabaseUrl, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.redacted())
}

/// The query parameter of a Sentinel URL that holds the Sentinel nodes' password.
const SENTINEL_PASSWORD: &str = "sentinelPassword";

/// A Redis URL; its passwords never reach `Debug`, logs or `mapquiz config`.
#[derive(Clone)]
pub struct RedisUrl(Url);

impl RedisUrl {
    /// The full URL, password included: only for connecting.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The URL with its passwords replaced: the server's, and a Sentinel URL's `sentinelPassword`.
    pub fn redacted(&self) -> String {
        let mut u = self.0.clone();
        if u.password().is_some() {
            let _ = u.set_password(Some(REDACTED));
        }
        if u.query_pairs().any(|(k, _)| k == SENTINEL_PASSWORD) {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == SENTINEL_PASSWORD { REDACTED.into() } else { v };
                    (k.into_owned(), v.into_owned())
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
        u.to_string()
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for RedisUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

fn tz_name<S: Serializer>(tz: &chrono_tz::Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis().try_into().unwrap_or(u64::MAX))
}
