//! Maintenance jobs, backups, restores and the audit listing, through the real `mapquiz` binary; and the
//! in-process scheduler, which runs a due job once under its lease.

use crate::support::{TestApp, on_both_backends};
use mapquiz_domain::Timestamp;
use mapquiz_server::clock::Clock as _;
use mapquiz_server::ops::maintenance::{JOB_INTERVAL, Task, run_due};
use mapquiz_store::testing::TestDatabase;
use mapquiz_store::{AuditEntry, ConnectOptions, DatabaseUrl, DynStore, FailureScope, NewUser, RequestStatus, Session};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

on_both_backends!(each_task_prunes_what_it_should, audit_lists_by_user_and_since, scheduler_runs_due_jobs_once);

/// Runs `mapquiz args…` in `dir` with only `env` set.
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

/// Runs the command and requires exit status 0; returns its standard output.
fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = mapquiz(dir, args, env);
    assert!(out.status.success(), "{args:?}: {}{}", stdout(&out), stderr(&out));
    stdout(&out)
}

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

fn ago(d: chrono::TimeDelta) -> Timestamp {
    now().plus(-d)
}

async fn open(url: DatabaseUrl) -> DynStore {
    mapquiz_store::connect(&ConnectOptions::new(url)).await.unwrap()
}

async fn users(store: &DynStore, ids: &[&str]) {
    let users: Vec<_> = ids
        .iter()
        .map(|id| NewUser {
            id: (*id).into(),
            name: format!("Joueur {id}"),
            email: format!("{id}@example.com"),
            email_verified: true,
            image: None,
            tag: format!("{:Q<8}", id.to_uppercase()),
            created_at: now(),
        })
        .collect();
    store.insert_users(&users).await.unwrap();
}

fn session(id: &str, user: &str, expires_at: Timestamp) -> Session {
    Session {
        id: id.into(),
        token_hash: format!("hash-{id}"),
        user_id: user.into(),
        expires_at,
        remember: true,
        ip_address: None,
        user_agent: None,
        created_at: ago(chrono::TimeDelta::days(2)),
        updated_at: ago(chrono::TimeDelta::days(2)),
    }
}

fn entry(id: &str, at: Timestamp, user: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        occurred_at: at,
        action: "sign_in".into(),
        user_id: user.map(Into::into),
        target_id: Some("target-1".into()),
        ip_address: Some("203.0.113.9".into()),
        user_agent: Some("SecretBrowser/1.0".into()),
        details: Some(json!({ "method": "credential" })),
    }
}

async fn each_task_prunes_what_it_should(pg: bool) {
    let Some(db) = TestDatabase::new(pg).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url())];
    let day = chrono::TimeDelta::days(1);

    let out = mapquiz(dir.path(), &["maintenance", "all"], &env);
    assert_eq!(out.status.code(), Some(1), "an unmigrated database is refused");
    assert!(stderr(&out).contains("migrate up"), "{}", stderr(&out));

    let store = open(db.database_url()).await;
    store.migrate_up().await.unwrap();
    users(&store, &["alice", "bob", "carol"]).await;
    store.create_session(&session("gone", "alice", ago(chrono::TimeDelta::hours(1)))).await.unwrap();
    store.create_session(&session("live", "alice", now().plus(day))).await.unwrap();
    store.put_verification("old-state", "v", ago(chrono::TimeDelta::hours(1)), ago(day)).await.unwrap();
    store.put_verification("new-state", "v", now().plus(day), now()).await.unwrap();
    store.record_auth_failure(FailureScope::Email, "alice@example.com", ago(day)).await.unwrap();
    store.record_auth_failure(FailureScope::Email, "alice@example.com", now()).await.unwrap();
    store.send_friend_request("alice", "bob", "old", ago(day * 40)).await.unwrap();
    store.respond_friend_request("old", "bob", false, ago(day * 31)).await.unwrap();
    store.send_friend_request("carol", "bob", "recent", ago(day * 40)).await.unwrap();
    store.respond_friend_request("recent", "bob", false, ago(day * 29)).await.unwrap();
    store.append_audit(&entry("a181", ago(day * 181), Some("alice"))).await.unwrap();
    store.append_audit(&entry("a179", ago(day * 179), Some("alice"))).await.unwrap();

    let out = ok(dir.path(), &["maintenance", "sessions"], &env);
    assert_eq!(
        out.trim(),
        "sessions: deleted 1 expired sessions, 1 expired verifications, 1 sign-in failures older than the lockout \
         window"
    );
    assert!(store.session_by_token_hash("hash-gone").await.unwrap().is_none());
    assert!(store.session_by_token_hash("hash-live").await.unwrap().is_some());
    assert_eq!(store.peek_verification("new-state", now()).await.unwrap().as_deref(), Some("v"));
    let failures = store.recent_auth_failures(FailureScope::Email, "alice@example.com", ago(day * 2), 10).await;
    assert_eq!(failures.unwrap().len(), 1);

    let out = ok(dir.path(), &["maintenance", "friend-requests"], &env);
    assert_eq!(out.trim(), "friend-requests: deleted 1 rejected friend requests older than 30 days");
    assert_eq!(store.friend_request("old").await.unwrap(), None);
    assert_eq!(store.friend_request("recent").await.unwrap().unwrap().status, RequestStatus::Rejected);

    let out = ok(dir.path(), &["maintenance", "audit"], &env);
    assert_eq!(out.trim(), "audit: deleted 1 audit entries older than 180 days");
    let ids: Vec<String> = store.audit_trail(Some("alice"), 10).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["a179"]);
    let shorter = [("DATABASE_URL", db.url()), ("MAPQUIZ_AUDIT_RETENTION_DAYS", "170")];
    assert!(
        ok(dir.path(), &["maintenance", "audit"], &shorter).contains("deleted 1 audit entries older than 170 days")
    );
    let out = mapquiz(dir.path(), &["maintenance", "audit"], &[("MAPQUIZ_AUDIT_RETENTION_DAYS", "0")]);
    assert_eq!(out.status.code(), Some(2), "a retention under a day is refused");
    assert!(stderr(&out).contains("audit_retention_days"), "{}", stderr(&out));

    let out = ok(dir.path(), &["maintenance", "optimize"], &env);
    assert_eq!(out.trim(), if pg { "optimize: ran ANALYZE" } else { "optimize: ran PRAGMA optimize" });

    let out = ok(dir.path(), &["maintenance", "all"], &env);
    let names: Vec<&str> = out.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(names, ["sessions", "friend-requests", "audit", "optimize"], "{out}");
    assert!(out.contains("deleted 0 expired sessions"), "{out}");

    // Each run is audited, with actor cli, and recorded as the job's last run.
    let runs = store.audit_since(None, ago(chrono::TimeDelta::minutes(5)), 100).await.unwrap();
    let runs: Vec<_> = runs.iter().filter(|e| e.action == "maintenance").collect();
    assert_eq!(runs.len(), 9, "5 single runs and 4 in `all`");
    let newest = runs[0].details.as_ref().unwrap();
    assert_eq!(newest["task"], "optimize");
    assert_eq!(newest["actor"], "cli");
    assert!(newest["result"].as_str().unwrap().starts_with("optimize: ran"));
    for task in Task::ALL {
        let last = store.last_run(task.job()).await.unwrap().expect("recorded");
        assert!(last <= now() && ago(chrono::TimeDelta::minutes(5)) <= last, "{task:?}");
    }
    store.close().await;
}

#[tokio::test]
async fn backup_then_restore_round_trip() {
    let db = TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url())];
    let database = db.database_url().sqlite_path().unwrap().to_owned();

    let out = mapquiz(dir.path(), &["backup", "copy.db"], &env);
    assert_eq!(out.status.code(), Some(1), "no database yet");
    assert!(!database.exists(), "backing up never creates the database");

    let store = open(db.database_url()).await;
    store.migrate_up().await.unwrap();
    users(&store, &["alice"]).await;
    // Taken while the store is open, its last writes still in the WAL: the online case.
    let out = ok(dir.path(), &["backup", "copy.db"], &env);
    assert!(out.contains("written to copy.db"), "{out}");
    let copy = dir.path().join("copy.db");
    let size = std::fs::metadata(&copy).unwrap().len();

    let mut wal = database.clone().into_os_string();
    wal.push("-wal");
    let out = mapquiz(dir.path(), &["backup", "--force", wal.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(1), "never over the database's own WAL");
    assert!(stderr(&out).contains("one of its files"), "{}", stderr(&out));

    let out = mapquiz(dir.path(), &["backup", "copy.db"], &env);
    assert_eq!(out.status.code(), Some(1), "an existing file is kept");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);

    // Changes after the backup: they are gone after the restore.
    users(&store, &["bob"]).await;
    store.close().await;
    ok(dir.path(), &["backup", "--force", "later.db"], &env);

    std::fs::write(dir.path().join("notes.db"), "not a database, only text long enough to look like a header").unwrap();
    let out = mapquiz(dir.path(), &["restore", "notes.db"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a MapQuiz SQLite database"), "{}", stderr(&out));
    let out = mapquiz(dir.path(), &["restore", "missing.db"], &env);
    assert_eq!(out.status.code(), Some(1));

    let out = ok(dir.path(), &["restore", "copy.db"], &env);
    assert!(out.contains("no server is running") && out.contains("migration 0009"), "{out}");
    // The replaced database is moved aside, not deleted: it still has bob.
    let kept: Vec<_> = std::fs::read_dir(database.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.contains(".pre-restore-") && !name.ends_with("-wal") && !name.ends_with("-shm")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(out.contains("kept as"), "{out}");
    let aside = open(DatabaseUrl::Sqlite(kept[0].clone())).await;
    assert!(aside.user_by_id("bob").await.unwrap().is_some(), "nothing of the replaced database is lost");
    aside.close().await;
    for suffix in ["-wal", "-shm"] {
        let mut stale = database.clone().into_os_string();
        stale.push(suffix);
        assert!(!Path::new(&stale).exists(), "no stale {suffix} is left beside the restored file");
    }
    assert!(
        std::fs::read_dir(database.parent().unwrap()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")),
        "no temporary file is left"
    );

    let store = open(db.database_url()).await;
    assert!(store.user_by_id("alice").await.unwrap().is_some());
    assert!(store.user_by_id("bob").await.unwrap().is_none(), "the copy predates bob");
    let trail = store.audit_trail(None, 10).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    // The backup's own line was written after the copy was taken: only the restore is in it.
    assert_eq!(actions, ["restore"], "the restore is audited on the restored database");
    assert_eq!(trail[0].details.as_ref().unwrap()["actor"], "cli");
    assert_eq!(trail[0].details.as_ref().unwrap()["file"], "copy.db");
    store.close().await;

    // The later backup still has bob: restoring it brings him back.
    ok(dir.path(), &["restore", "later.db"], &env);
    let store = open(db.database_url()).await;
    assert!(store.user_by_id("bob").await.unwrap().is_some());
    store.close().await;
}

#[tokio::test]
async fn restore_in_production_needs_confirmation() {
    let db = TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let store = open(db.database_url()).await;
    store.migrate_up().await.unwrap();
    store.close().await;
    let env = [("DATABASE_URL", db.url())];
    ok(dir.path(), &["backup", "copy.db"], &env);
    let production = [
        ("DATABASE_URL", db.url()),
        ("MAPQUIZ_ENV", "production"),
        ("BETTER_AUTH_SECRET", "0123456789abcdef0123456789abcdef"),
        ("MAPQUIZ_FRONTEND_URL", "https://mapquiz.example"),
        ("SERVER_URL", "https://api.mapquiz.example"),
    ];
    let out = mapquiz(dir.path(), &["restore", "copy.db"], &production);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    ok(dir.path(), &["restore", "--yes", "copy.db"], &production);
}

#[test]
fn postgres_backup_points_to_pg_dump_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    // Refused before connecting: no server needs to answer at this address.
    let env = [("DATABASE_URL", "postgres://mapquiz:s3cret-pw@db.internal:5432/mapquiz")];
    let out = mapquiz(dir.path(), &["backup", "dump.pgc"], &env);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("pg_dump") && err.contains("--file dump.pgc"), "{err}");
    assert!(err.contains("postgres://mapquiz@db.internal:5432/mapquiz"), "the URL, with no password: {err}");
    assert!(!err.contains("s3cret-pw") && !err.contains("redacted"), "{err}");
    assert!(!dir.path().join("dump.pgc").exists());

    let out = mapquiz(dir.path(), &["restore", "dump.pgc"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("pg_restore") && !stderr(&out).contains("s3cret-pw"), "{}", stderr(&out));
}

#[tokio::test]
async fn postgres_backup_names_the_configured_database() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = mapquiz(dir.path(), &["backup", "dump.pgc"], &[("DATABASE_URL", db.url())]);
    assert_eq!(out.status.code(), Some(2));
    let name = db.url().rsplit('/').next().unwrap();
    assert!(stderr(&out).contains("pg_dump") && stderr(&out).contains(name), "{}", stderr(&out));
}

async fn audit_lists_by_user_and_since(pg: bool) {
    let Some(db) = TestDatabase::new(pg).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url())];
    let store = open(db.database_url()).await;
    store.migrate_up().await.unwrap();
    let (old, recent) = (ago(chrono::TimeDelta::days(10)), ago(chrono::TimeDelta::hours(1)));
    store.append_audit(&entry("e1", old, Some("u1"))).await.unwrap();
    store.append_audit(&entry("e2", recent, Some("u1"))).await.unwrap();
    store.append_audit(&entry("e3", recent.plus(chrono::TimeDelta::seconds(1)), Some("u2"))).await.unwrap();
    store.close().await;

    let out = ok(dir.path(), &["audit"], &env);
    assert_eq!(out.lines().count(), 3, "{out}");
    let first = out.lines().next().unwrap();
    assert!(first.starts_with(&recent.plus(chrono::TimeDelta::seconds(1)).to_iso()), "newest first: {out}");
    assert!(first.contains("sign_in") && first.contains("user=u2") && first.contains("target=target-1"), "{first}");
    assert!(first.contains("ip=203.0.113.9") && first.contains(r#"{"method":"credential"}"#), "{first}");
    assert!(!out.contains("SecretBrowser"), "user agents are left out");

    let out = ok(dir.path(), &["audit", "--user", "u1"], &env);
    let times: Vec<&str> = out.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(times, [recent.to_iso(), old.to_iso()]);
    let out = ok(dir.path(), &["audit", "--user", "u1", "--since", "2d"], &env);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with(&recent.to_iso()), "{out}");
    let since = ago(chrono::TimeDelta::days(3)).datetime().to_rfc3339();
    assert_eq!(ok(dir.path(), &["audit", "--since", &since], &env).lines().count(), 2);
    assert_eq!(ok(dir.path(), &["audit", "--since", "30d", "--limit", "1"], &env).lines().count(), 1);
    assert_eq!(ok(dir.path(), &["audit", "--user", "nobody"], &env), "");

    for bad in [&["audit", "--since", "yesterday"][..], &["audit", "--limit", "0"], &["audit", "--since", "5y"]] {
        assert_eq!(mapquiz(dir.path(), bad, &env).status.code(), Some(2), "{bad:?}");
    }

    // Maintenance, backup and restore lines are listed like any other.
    ok(dir.path(), &["maintenance", "sessions"], &env);
    let out = ok(dir.path(), &["audit", "--since", "1m"], &env);
    assert!(out.contains("maintenance") && out.contains(r#""actor":"cli""#), "{out}");
}

async fn scheduler_runs_due_jobs_once(pg: bool) {
    let Some(app) = TestApp::spawn_on(pg).await else { return };
    let store = app.state.store.clone();
    let node: &str = &app.state.realtime.node_id;
    users(&store, &["alice"]).await;
    let expired = app.clock.now().plus(-chrono::TimeDelta::minutes(1));
    store.create_session(&session("gone", "alice", expired)).await.unwrap();

    let reports = run_due(&app.state).await;
    assert_eq!(reports.len(), 4, "never run: every job is due: {reports:?}");
    assert!(reports[0].starts_with("sessions: deleted 1 expired sessions"), "{reports:?}");
    assert!(store.session_by_token_hash("hash-gone").await.unwrap().is_none());
    let first_run = store.last_run(Task::Sessions.job()).await.unwrap().expect("recorded");
    for task in Task::ALL {
        assert!(store.last_run(task.job()).await.unwrap().is_some(), "{task:?}");
        // Released: another node could take it at once (it has nothing to do until next week).
        assert!(store.try_lease(task.job(), "probe", app.clock.now(), app.clock.now()).await.unwrap());
    }
    let audited = store.audit_since(None, first_run.plus(-chrono::TimeDelta::minutes(1)), 10).await.unwrap();
    let audited: Vec<_> = audited.iter().filter(|e| e.action == "maintenance").collect();
    assert_eq!(audited.len(), 4);
    for e in &audited {
        let details = e.details.as_ref().unwrap();
        assert_eq!((details["actor"].as_str(), details["node"].as_str()), (Some("scheduler"), Some(node)));
    }

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"job_runs_total{job="sessions",result="ok"}"#), "job runs are counted");
    assert!(run_due(&app.state).await.is_empty(), "ran once: nothing is due again this week");
    app.clock.advance((JOB_INTERVAL - chrono::TimeDelta::minutes(1)).to_std().unwrap());
    assert!(run_due(&app.state).await.is_empty(), "not yet a week");

    // A week later every job is due again, but another node holds the audit job's lease: it is skipped.
    app.clock.advance(std::time::Duration::from_secs(120));
    let now = app.clock.now();
    assert!(
        store.try_lease(Task::Audit.job(), "other-node", now.plus(chrono::TimeDelta::hours(1)), now).await.unwrap()
    );
    let reports = run_due(&app.state).await;
    let names: Vec<&str> = reports.iter().map(|r| r.split(':').next().unwrap()).collect();
    assert_eq!(names, ["sessions", "friend-requests", "optimize"], "{reports:?}");
    let audit_last = store.last_run(Task::Audit.job()).await.unwrap().unwrap();
    assert!(audit_last < now, "the audit job did not run here");
    assert!(store.last_run(Task::Sessions.job()).await.unwrap().unwrap() >= now);
    assert!(matches!(store.finish_lease(Task::Audit.job(), node, now).await, Ok(false)), "the lease stays the other's");
    app.stop().await.unwrap();
}
