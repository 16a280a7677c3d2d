//! `mapquiz import-original` (issue 16), black box: the real binary reads a PostgreSQL database in the original
//! implementation's schema ([`source`], filled by [`fixture`]) and writes into a target the binary is configured
//! with (SQLite or PostgreSQL: every test runs on both). The tests read its `--report` JSON and exit status,
//! then start the server on the target and check through HTTP that players find their sessions, friends,
//! requests, scores and leaderboards ([`served`]); [`modes`] covers `--since`, `--dry-run`, exit statuses and
//! failures. Each test has its own source and target databases, so they run in parallel.

mod fixture;
mod modes;
mod served;
mod source;

use crate::support::oidc_provider::{Identity, OidcProvider};
use crate::support::{TestApp, base_figment, json, session_cookie};
use figment::Figment;
use fixture::Newcomer;
use mapquiz_server::config::Config;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "test-client";
const CLIENT_SECRET: &str = "test-secret";
/// How long one import may take before the test gives up on it (the fixture is a few dozen rows).
const IMPORT_DEADLINE: Duration = Duration::from_secs(120);

/// What one run of the binary did.
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The `--report` file, parsed, if one was written.
    pub report: Option<Value>,
}

impl Run {
    /// Asserts the exit status, showing what the binary said otherwise.
    pub fn assert_exit(&self, code: i32) {
        assert_eq!(self.code, Some(code), "{:?}\nstdout:\n{}\nstderr:\n{}", self.args, self.stdout, self.stderr);
    }

    /// The report; panics (with the binary's output) when none was written.
    pub fn report(&self) -> &Value {
        self.report.as_ref().unwrap_or_else(|| {
            panic!("no --report written by {:?}\nstdout:\n{}\nstderr:\n{}", self.args, self.stdout, self.stderr)
        })
    }

    /// The report's `tables` line for `table`.
    pub fn line(&self, table: &str) -> &Value {
        let tables = self.report()["tables"].as_array().unwrap_or_else(|| panic!("tables: {}", self.report()));
        tables.iter().find(|t| t["table"] == table).unwrap_or_else(|| panic!("no {table} line: {}", self.report()))
    }

    /// The report's `tables`, each line reduced to the documented keys ([`documented`]).
    pub fn documented_tables(&self) -> Value {
        let tables = self.report()["tables"].as_array().unwrap_or_else(|| panic!("tables: {}", self.report()));
        Value::Array(tables.iter().map(documented).collect())
    }

    /// Asserts none of `secrets` shows in the output or the report (session tokens are credentials).
    pub fn assert_reveals_none(&self, secrets: &[&str]) {
        let report = self.report.as_ref().map(Value::to_string).unwrap_or_default();
        for secret in secrets {
            for (what, text) in [("stdout", &self.stdout), ("stderr", &self.stderr), ("report", &report)] {
                assert!(!text.contains(secret), "{what} shows a secret ({secret}):\n{text}");
            }
        }
    }
}

/// Runs `mapquiz import-original <args> --report <file>` with only `DATABASE_URL=<target>` and `PATH` set.
pub async fn import_original(target: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let mut full: Vec<String> =
        std::iter::once("import-original").chain(args.iter().copied()).map(str::to_owned).collect();
    full.extend(["--report".to_owned(), report_path.display().to_string()]);
    // Output goes to files, not pipes, so a chatty import never blocks on a full pipe while we poll it.
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .args(&full)
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", target)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("mapquiz starts");
    // Polled, not waited for: the test's runtime keeps serving (a stand-in provider, an app) meanwhile.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > IMPORT_DEADLINE {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "{full:?} still running after {IMPORT_DEADLINE:?}:\n{}",
                std::fs::read_to_string(&err_path).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let report = std::fs::read_to_string(&report_path)
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{text}")));
    Run {
        args: full,
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        report,
    }
}

/// `import_original` from `source` into `target`, with `flags`.
pub async fn import(target: &TestDatabase, source: &str, flags: &[&str]) -> Run {
    let args: Vec<&str> = ["--from", source].into_iter().chain(flags.iter().copied()).collect();
    import_original(target.url(), &args).await
}

/// `line` reduced to the keys of the documented report format (the feature may add its own, such as
/// `repaired_rows`; they are not part of the interface these tests hold it to).
pub fn documented(line: &Value) -> Value {
    const KEYS: [&str; 9] =
        ["table", "read", "imported", "updated", "already_imported", "repaired", "skipped", "conflicts", "left_behind"];
    Value::Object(KEYS.iter().filter_map(|k| Some(((*k).to_owned(), line.get(*k)?.clone()))).collect())
}

/// Asserts the report is `expected`: `dry_run`, `since`, `not_imported`, and each table's line in order
/// (compared one by one, so a failure names its table). Keys beyond the documented ones are not judged.
pub fn assert_report(run: &Run, expected: &Value) {
    let actual = run.report();
    let tables = |v: &Value| v["tables"].as_array().cloned().unwrap_or_default();
    let names = |v: &Value| tables(v).iter().map(|t| t["table"].clone()).collect::<Vec<_>>();
    assert_eq!(names(actual), names(expected), "the tables, in order: {actual:#}");
    for (a, e) in tables(actual).iter().zip(tables(expected).iter()) {
        assert_eq!(documented(a), *e, "the {} line (expected right)\nstderr:\n{}", e["table"], run.stderr);
    }
    for key in ["dry_run", "since", "not_imported"] {
        assert_eq!(actual[key], expected[key], "{key} in {actual:#}");
    }
}

/// The stand-in Google settings the app of google.rs uses.
pub fn with_google(figment: Figment, idp: &OidcProvider) -> Figment {
    figment
        .merge(("google_client_id", CLIENT_ID))
        .merge(("google_client_secret", CLIENT_SECRET))
        .merge(("google_issuer", idp.issuer()))
        .merge(("server_url", "https://api.mapquiz.example"))
}

/// Starts the server on `db` (with Google when `idp` is given), as an operator would after the import.
pub async fn serve(db: TestDatabase, idp: Option<&OidcProvider>) -> TestApp {
    let figment = match idp {
        Some(idp) => with_google(base_figment(&db), idp),
        None => base_figment(&db),
    };
    TestApp::start(db, Config::from_figment(&figment).expect("a valid configuration")).await
}

/// A whole Google sign-in through the stand-in provider; returns the session cookie (panics on failure).
pub async fn google_sign_in(app: &TestApp, idp: &OidcProvider, identity: Identity) -> String {
    let (status, body) = json(app.post_json("/api/auth/sign-in/social", &json!({"provider": "google"})).await).await;
    assert_eq!(status, 200, "{body}");
    let auth = idp.authorize(body["url"].as_str().expect("an authorization url"), identity);
    let url = url::Url::parse_with_params(
        &app.url("/api/auth/callback/google"),
        [("code", auth.code.as_str()), ("state", auth.state.as_str())],
    )
    .unwrap();
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 302, "the callback redirects");
    let cookie = session_cookie(&res);
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    cookie.unwrap_or_else(|| panic!("no session after the Google sign-in (to {location:?})"))
}

/// `GET path` with `cookie`: status and JSON body.
pub async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, Value) {
    json(app.client.get(app.url(path)).header("cookie", cookie).send().await.expect("request sent")).await
}

/// A target the new server has already run on, where a player signed in with Google before the import.
pub async fn target_with_newcomer(postgres: bool, idp: &OidcProvider) -> Option<(TestDatabase, Newcomer)> {
    let db = TestDatabase::new(postgres).await?;
    let mut app = serve(db, Some(idp)).await;
    let identity = Identity::fresh();
    let cookie = google_sign_in(&app, idp, identity.clone()).await;
    let session = crate::support::auth::session_of(&app, &cookie).await;
    let newcomer = Newcomer {
        id: session["user"]["id"].as_str().unwrap().to_owned(),
        email: session["user"]["email"].as_str().unwrap().to_owned(),
        tag: session["user"]["tag"].as_str().unwrap().to_owned(),
        token: session["session"]["token"].as_str().unwrap().to_owned(),
        sub: identity.sub,
    };
    let db = std::mem::replace(&mut app.db, TestDatabase::sqlite());
    app.stop().await.unwrap();
    Some((db, newcomer))
}

/// A fresh target migrated by `mapquiz migrate up` and nothing else: no user at all.
pub async fn migrated_target(postgres: bool) -> Option<TestDatabase> {
    let db = TestDatabase::new(postgres).await?;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
        .args(["migrate", "up"])
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", db.url())
        .output()
        .expect("mapquiz migrate runs");
    assert!(out.status.success(), "migrate up: {}", String::from_utf8_lossy(&out.stderr));
    Some(db)
}

/// The target's tables the import writes, with their row counts (`SELECT COUNT(*)`, either backend).
pub async fn target_counts(db: &TestDatabase) -> Vec<(&'static str, i64)> {
    use sqlx::Connection as _;
    const TABLES: [&str; 7] =
        ["users", "accounts", "sessions", "friendships", "friend_requests", "game_scores", "score_bests"];
    let mut counts = Vec::new();
    for table in TABLES {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        let n: i64 = if db.url().starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.expect("connect to the target");
            let n = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
            conn.close().await.ok();
            n
        } else {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.expect("open the target");
            let n = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
            conn.close().await.ok();
            n
        };
        counts.push((table, n));
    }
    counts
}

/// The target's store, opened beside any server (closed by the caller).
pub async fn open_store(db: &TestDatabase) -> mapquiz_store::DynStore {
    mapquiz_store::connect(&mapquiz_store::ConnectOptions::new(db.database_url())).await.expect("open the target")
}
