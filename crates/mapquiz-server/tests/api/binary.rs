//! The `mapquiz` binary itself: exit codes, environment handling, migrations, graceful shutdown.

use mapquiz_store::testing::TestDatabase;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `mapquiz args…` in `dir` with only `env` set (the test's own environment is not inherited).
fn mapquiz(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("mapquiz runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_malformed_value_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = mapquiz(dir.path(), &["config"], &[("PORT", "abc")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`port`") && err.contains("PORT"), "{err}");

    let out = mapquiz(dir.path(), &["serve"], &[("MAPQUIZ_ENV", "production")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("auth_secret"), "{}", stderr(&out));
    assert!(!dir.path().join("mapquiz.db").exists(), "nothing is created when the configuration is refused");
}

#[test]
fn config_layers_file_original_names_and_mapquiz_variables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("custom.toml"), "port = 4000\nlog_level = \"debug\"\n").unwrap();
    let out = mapquiz(dir.path(), &["--config", "custom.toml", "config"], &[]);
    assert!(stdout(&out).contains("port = 4000"), "{}", stdout(&out));
    let out = mapquiz(dir.path(), &["--config", "custom.toml", "config"], &[("PORT", "5000")]);
    assert!(stdout(&out).contains("port = 5000"), "env beats the file");
    let out =
        mapquiz(dir.path(), &["--config", "custom.toml", "config"], &[("PORT", "5000"), ("MAPQUIZ_PORT", "6000")]);
    assert!(stdout(&out).contains("port = 6000"), "MAPQUIZ_* beats the original names");
    let out = mapquiz(dir.path(), &["--config", "missing.toml", "config"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn test_variables_are_never_configuration_and_secrets_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let out = mapquiz(
        dir.path(),
        &["config"],
        &[
            ("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1/never"),
            ("TEST_REDIS_URL", "redis://127.0.0.1:1"),
            ("BETTER_AUTH_SECRET", "the-better-auth-secret-0123456789abcdef"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("sqlite://mapquiz.db") && !text.contains("never"), "{text}");
    assert!(!text.contains("127.0.0.1:1"), "{text}");
    assert!(!text.contains("the-better-auth-secret") && text.contains("[redacted]"), "{text}");
    assert!(!dir.path().join("mapquiz.secret").exists(), "`config` writes nothing");
}

#[test]
fn help_is_available_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["migrate", "down", "--help"],
        &["config", "--help"],
    ] {
        let out = mapquiz(dir.path(), args, &[]);
        assert!(out.status.success() && stdout(&out).contains("Usage"), "{args:?}");
    }
}

async fn migrate_commands_round_trip(pg: bool) {
    let Some(db) = TestDatabase::new(pg).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url())];
    let status = stdout(&mapquiz(dir.path(), &["migrate", "status"], &env));
    assert_eq!(status.matches("pending").count(), 9, "{status}");
    let up = mapquiz(dir.path(), &["migrate", "up"], &env);
    assert!(up.status.success(), "{}", stderr(&up));
    assert_eq!(stdout(&up).matches("applied").count(), 9);
    let down = stdout(&mapquiz(dir.path(), &["migrate", "down"], &env));
    assert!(down.contains("reverted 0009"), "{down}");
    let down = stdout(&mapquiz(dir.path(), &["migrate", "down", "--all"], &env));
    assert_eq!(down.matches("reverted").count(), 8, "{down}");
    assert!(stdout(&mapquiz(dir.path(), &["migrate", "down"], &env)).contains("nothing to revert"));
    assert!(mapquiz(dir.path(), &["migrate", "up"], &env).status.success());
    let status = stdout(&mapquiz(dir.path(), &["migrate", "status"], &env));
    assert_eq!(status.matches("applied").count(), 9, "{status}");
}
crate::support::on_both_backends!(migrate_commands_round_trip);

#[test]
fn migrate_down_in_production_needs_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("MAPQUIZ_ENV", "production"),
        ("BETTER_AUTH_SECRET", "0123456789abcdef0123456789abcdef"),
        ("MAPQUIZ_FRONTEND_URL", "https://mapquiz.example"),
        ("SERVER_URL", "https://api.mapquiz.example"),
    ];
    let out = mapquiz(dir.path(), &["migrate", "down", "--all"], &env);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
}

#[test]
fn serve_documents_the_roles_and_its_role_flag_beats_the_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&mapquiz(dir.path(), &["serve", "--help"], &[]));
    for text in ["--role <ROLE>", "all", "api", "realtime", "worker", "MAPQUIZ_ROLE", "/ws"] {
        assert!(help.contains(text), "{text} in:\n{help}");
    }
    // Each source is read and validated: on SQLite every split role is refused, naming the role it got.
    std::fs::write(dir.path().join("node.toml"), "role = \"worker\"\n").unwrap();
    let refused = |args: &[&str], env: &[(&str, &str)]| {
        let out = mapquiz(dir.path(), args, env);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        stderr(&out)
    };
    assert!(refused(&["--config", "node.toml", "serve"], &[]).contains("`worker` is one part"));
    let e = refused(&["--config", "node.toml", "serve"], &[("MAPQUIZ_ROLE", "realtime")]);
    assert!(e.contains("`realtime` is one part"), "the environment beats the file: {e}");
    let e = refused(&["--config", "node.toml", "serve", "--role", "api"], &[("MAPQUIZ_ROLE", "realtime")]);
    assert!(e.contains("`api` is one part") && !e.contains("`realtime`"), "--role beats both: {e}");
    let e = refused(&["serve"], &[("MAPQUIZ_ROLE", "everything")]);
    assert!(e.contains("`role`") && e.contains("expected all, api, realtime or worker"), "{e}");
    let e = refused(&["serve", "--role", "everything"], &[]);
    assert!(e.contains("possible values: all, api, realtime, worker"), "{e}");
    assert!(!dir.path().join("mapquiz.db").exists(), "nothing is created when the role is refused");
}

/// A worker node needs PostgreSQL and nothing else; it says its role when it starts and in /health/detailed.
#[tokio::test]
async fn a_worker_node_says_its_role_at_start_up() {
    let Some(db) = TestDatabase::new(true).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .args(["serve", "--role", "worker"])
        .current_dir(dir.path())
        .env_clear()
        .envs([("DATABASE_URL", db.url()), ("PORT", port.as_str()), ("MAPQUIZ_LOG_FORMAT", "json")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let body = loop {
        if let Ok(res) = client.get(format!("http://127.0.0.1:{port}/health/detailed")).send().await {
            break res.text().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the worker never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(body.contains("\"role\":\"worker\""), "{body}");
    let res = client.get(format!("http://127.0.0.1:{port}/api/users")).send().await.unwrap();
    assert_eq!(res.status(), 404, "a worker serves no API");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    let listening = logs.lines().find(|l| l.contains("MapQuiz Server listening")).unwrap_or_else(|| panic!("{logs}"));
    assert!(listening.contains("\"role\":\"worker\""), "{listening}");
}

#[tokio::test]
async fn serve_answers_quickly_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .current_dir(dir.path())
        .env_clear()
        .env("PORT", &port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/health");
    let body = loop {
        if let Ok(res) = client.get(&url).send().await {
            break res.text().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the server never answered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(body.contains("\"database\":\"connected\""), "{body}");
    assert!(dir.path().join("mapquiz.db").exists(), "the default database file is created");
    assert!(dir.path().join("mapquiz.secret").exists(), "a development secret is generated beside it");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
}
