//! Configuration validation, through the same figment path as the binary.

use figment::Figment;
use mapquiz_server::config::{AuthSecret, Config, LogFormat, Profile, Role, SameSite};

fn load(pairs: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let mut f = Figment::new();
    for (k, v) in pairs {
        f = f.merge((*k, *v));
    }
    Config::from_figment(&f).map_err(|e| e.0)
}

fn errors(pairs: &[(&str, &str)]) -> String {
    load(pairs).expect_err("configuration refused").join("\n")
}

/// The errors for one numeric setting, given as a number so that validation (not parsing) refuses it.
fn number_errors(key: &str, value: u64) -> String {
    Config::from_figment(&Figment::new().merge((key, value))).expect_err("configuration refused").0.join("\n")
}

const PROD: &[(&str, &str)] = &[
    ("env", "production"),
    ("auth_secret", "0123456789abcdef0123456789abcdef"),
    ("frontend_url", "https://mapquiz.example"),
    ("server_url", "https://api.mapquiz.example"),
];

#[test]
fn defaults_serve_a_local_sqlite_file() {
    let c = load(&[]).unwrap();
    assert_eq!(c.profile, Profile::Development);
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3000));
    assert_eq!(c.database.url.sqlite_path().unwrap().to_str(), Some("mapquiz.db"));
    assert!(matches!(&c.auth.secret, AuthSecret::File(p) if p.to_str() == Some("mapquiz.secret")));
    assert_eq!(c.http.cors_origins, ["http://localhost:5173", "http://127.0.0.1:5173"]);
    assert_eq!(c.auth.frontend_url.as_str(), "http://localhost:5173/");
    assert_eq!(c.auth.server_url.as_str(), "http://localhost:3000/");
    assert!(!c.auth.secure_cookies);
    assert_eq!(c.auth.same_site, SameSite::Lax);
    assert_eq!((c.rate_limits.global.max, c.rate_limits.auth.max), (1000, 30));
    assert!(c.rate_limits.exempt_loopback);
    assert_eq!(c.http.body_limit_bytes, 1024 * 1024);
    assert_eq!(c.log.format, LogFormat::Text);
}

#[test]
fn production_tightens_the_defaults() {
    let c = load(PROD).unwrap();
    assert_eq!(c.profile, Profile::Production);
    assert_eq!(c.host, "0.0.0.0");
    assert!(c.auth.secure_cookies);
    assert_eq!((c.rate_limits.global.max, c.rate_limits.auth.max), (100, 3));
    assert!(!c.rate_limits.exempt_loopback);
    assert_eq!(c.http.cors_origins, ["https://mapquiz.example"], "no localhost origins in production");
    assert_eq!(c.log.format, LogFormat::Json);
    let c = load(&[PROD, &[("rate_limit_exempt_loopback", "true")]].concat()).unwrap();
    assert!(!c.rate_limits.exempt_loopback, "nobody is exempt in production");
}

#[test]
fn node_env_production_selects_the_production_profile() {
    let pairs: Vec<_> = PROD.iter().filter(|(k, _)| *k != "env").copied().chain([("node_env", "production")]).collect();
    assert_eq!(load(&pairs).unwrap().profile, Profile::Production);
    assert_eq!(load(&[("node_env", "test")]).unwrap().profile, Profile::Development);
}

#[test]
fn production_refuses_unsafe_settings_one_line_each() {
    let e = errors(&[("env", "production")]);
    assert!(e.contains("`auth_secret`") && e.contains("32 bytes"), "{e}");
    assert!(e.contains("`frontend_url`"), "{e}");
    assert!(e.contains("`server_url`"), "{e}");
    let short: Vec<_> = PROD.iter().map(|&(k, v)| if k == "auth_secret" { (k, "short") } else { (k, v) }).collect();
    assert!(errors(&short).contains("at least 32 bytes"));
    assert!(errors(&[PROD, &[("secure_cookies", "false")]].concat()).contains("`secure_cookies`"));
    let e = errors(&[PROD, &[("frontend_url", "")]].concat());
    assert!(e.contains("`frontend_url`") && e.contains("`cors_origins`"), "no allowed origin at all: {e}");
}

#[test]
fn malformed_values_name_the_key_and_the_expected_form() {
    assert!(errors(&[("port", "abc")]).contains("`port`"));
    assert!(errors(&[("database_url", "mysql://db/x")]).contains("`database_url`"));
    assert!(errors(&[("database_url", "sqlite::memory:")]).contains("in-memory"));
    assert!(errors(&[("cors_origins", "*")]).contains("wildcard"));
    assert!(errors(&[("cors_origins", "https://a.example/path")]).contains("not an origin"));
    assert!(errors(&[("trusted_proxies", "10.0.0.0/33")]).contains("`trusted_proxies`"));
    assert!(errors(&[("redis_url", "http://cache")]).contains("`redis_url`"));
    assert!(errors(&[("cookie_same_site", "none")]).contains("requires secure cookies"));
    assert!(errors(&[("cookie_same_site", "sometimes")]).contains("`cookie_same_site`"));
    assert!(errors(&[("log_format", "xml")]).contains("`log_format`"));
    assert!(errors(&[("google_client_id", "only-the-id")]).contains("GOOGLE_CLIENT_SECRET"));
    assert!(errors(&[("env", "staging")]).contains("`env`"));
    assert!(errors(&[("request_timeout_ms", "soon")]).contains("`request_timeout_ms`"));
    assert!(number_errors("request_timeout_ms", 0).contains("`request_timeout_ms`: must be greater than 0"));
    assert!(number_errors("body_limit_bytes", 100).contains("`body_limit_bytes`: must be at least 1024"));
    assert!(number_errors("database_max_connections", 0).contains("`database_max_connections`: must be at least 1"));
    assert!(number_errors("rate_limit_global_max", 0).contains("`rate_limit_global_max`: must be at least 1"));
    assert!(errors(&[("no_such_setting", "1")]).contains("no_such_setting"));
}

#[test]
fn lobby_leases_and_hand_overs_have_bounds() {
    let config = load(&[]).expect("defaults load");
    assert_eq!(config.lobbies.lease, std::time::Duration::from_secs(5));
    assert_eq!(config.lobbies.forward_timeout, std::time::Duration::from_secs(3));
    for lease in [0, 299] {
        let e = number_errors("lobby_lease_ms", lease);
        assert_eq!(e, "`lobby_lease_ms`: must be at least 300 (a lease is renewed every third of it)", "{lease}");
    }
    assert!(Config::from_figment(&Figment::new().merge(("lobby_lease_ms", 300u64))).is_ok());
    assert_eq!(number_errors("lobby_forward_timeout_ms", 0), "`lobby_forward_timeout_ms`: must be greater than 0");
}

#[test]
fn redis_may_be_one_server_a_cluster_or_a_sentinel_primary() {
    for url in [
        "redis://cache:6379/2",
        "rediss://:pw@cache.example:6380",
        "redis-cluster://10.0.0.1:7000?node=10.0.0.2:7000&node=10.0.0.3:7000",
        "rediss-cluster://user:pw@cache.example:7000",
        "redis-sentinel://sentinel:26379/1?sentinelServiceName=mymaster&node=sentinel2:26379",
        "rediss-sentinel://:pw@sentinel.example?sentinelServiceName=mymaster&sentinelPassword=s",
    ] {
        let c = load(&[("redis_url", url)]).unwrap_or_else(|e| panic!("{url} refused: {e:?}"));
        assert!(c.redis_url.is_some(), "{url}");
    }
    let e = errors(&[("redis_url", "redis-sentinel://sentinel:26379")]);
    assert!(e.contains("`redis_url`") && e.contains("unusable Redis URL"), "no service name: {e}");
    let e = errors(&[("redis_url", "redis-cluster://:hunter2@/")]);
    assert!(e.contains("`redis_url`") && !e.contains("hunter2"), "{e}");
}

#[test]
fn the_redis_key_prefix_defaults_to_the_existing_names_and_is_checked() {
    let c = load(&[]).unwrap();
    assert_eq!(c.redis_key_prefix.prefix(), "mapquiz:");
    assert_eq!(c.redis_key_prefix.bus_channel(), "mapquiz:bus");
    assert_eq!(load(&[("redis_key_prefix", "staging:")]).unwrap().redis_key_prefix.session("h"), "staging:session:h");
    assert_eq!(load(&[("redis_key_prefix", "")]).unwrap().redis_key_prefix.prefix(), "mapquiz:", "empty is unset");
    for bad in ["two words", "{tag}:", "x}", &"p".repeat(65)] {
        assert!(errors(&[("redis_key_prefix", bad)]).contains("`redis_key_prefix`"), "{bad:?} accepted");
    }
}

#[test]
fn the_server_url_falls_back_to_better_auth_urls_origin() {
    let c = load(&[("better_auth_url", "https://api.example:8443/api/auth")]).unwrap();
    assert_eq!(c.auth.server_url.as_str(), "https://api.example:8443/");
    let c = load(&[("better_auth_url", "https://a.example/x"), ("server_url", "https://b.example")]).unwrap();
    assert_eq!(c.auth.server_url.as_str(), "https://b.example/");
}

#[test]
fn redacted_output_hides_every_secret() {
    let c = load(&[
        ("auth_secret", "super-secret-value-0123456789abcdef"),
        ("database_url", "postgres://app:db-password@db.example/mapquiz"),
        ("redis_url", "redis-sentinel://:redis-password@cache:26379?sentinelServiceName=m&sentinelPassword=s-password"),
        ("metrics_token", "metrics-token-value"),
        ("github_token", "ghp_token_value"),
        ("google_client_id", "client-id"),
        ("google_client_secret", "google-secret-value"),
    ])
    .unwrap();
    let out = c.to_redacted_toml();
    for secret in [
        "super-secret-value",
        "db-password",
        "redis-password",
        "s-password",
        "metrics-token-value",
        "ghp_token",
        "google-secret",
    ] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        assert!(!format!("{c:?}").contains(secret), "{secret} leaked through Debug");
    }
    assert!(out.contains("client-id") && out.contains("db.example"), "{out}");
}

const PG: (&str, &str) = ("database_url", "postgres://mapquiz@db.internal/mapquiz");
const REDIS: (&str, &str) = ("redis_url", "redis://cache:6379");

#[test]
fn the_role_is_all_unless_named_and_a_wrong_name_is_refused() {
    assert_eq!(load(&[]).unwrap().role, Role::All);
    assert_eq!(load(&[("role", "")]).unwrap().role, Role::All, "an empty value means unset");
    assert_eq!(load(&[("role", "all")]).unwrap().role, Role::All);
    assert_eq!(load(&[PG, REDIS, ("role", "API")]).unwrap().role, Role::Api, "any case");
    assert_eq!(load(&[PG, REDIS, ("role", "realtime")]).unwrap().role, Role::Realtime);
    assert_eq!(load(&[PG, ("role", "worker")]).unwrap().role, Role::Worker);
    let e = errors(&[PG, REDIS, ("role", "frontend")]);
    assert!(
        e.contains("`role`") && e.contains("\"frontend\" is not a role (expected all, api, realtime or worker)"),
        "{e}"
    );
    assert!(load(&[PG, REDIS, ("role", "api")]).unwrap().to_redacted_toml().contains("role = \"api\""));
}

#[test]
fn split_roles_need_postgresql_and_the_pushing_ones_need_redis() {
    for role in ["api", "realtime", "worker"] {
        let e = errors(&[REDIS, ("role", role)]);
        assert!(
            e.contains(&format!("`role`: `{role}` is one part of a deployment")) && e.contains("postgres://"),
            "{e}"
        );
    }
    for role in ["api", "realtime"] {
        let e = errors(&[PG, ("role", role)]);
        assert!(e.contains(&format!("`role`: `{role}` needs REDIS_URL")), "{e}");
    }
    // A worker pushes nothing to sockets: PostgreSQL alone is enough. `all` runs anywhere.
    assert!(load(&[PG, ("role", "worker")]).is_ok());
    assert!(load(&[("role", "all")]).is_ok());
    // A malformed Redis URL is reported once, on its own key.
    let e = errors(&[PG, ("redis_url", "http://cache"), ("role", "api")]);
    assert!(e.contains("`redis_url`") && !e.contains("needs REDIS_URL"), "{e}");
}
