//! Bug reports (protocol §1.8, checklist 62–64): stored first and answered 201, then delivered as a GitHub
//! issue by the background worker, against a stand-in GitHub API started in the test: its failures, the
//! back-off, abandonment after 7 days, and a restart between a failure and the success.

use crate::support::{TestApp, base_figment, header, json, on_both_backends};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use figment::Figment;
use mapquiz_domain::bug_reports::ZERO_WIDTH_SPACE;
use mapquiz_server::config::Config;
use mapquiz_store::{BugReport, DeliveryStatus};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

const CHROME_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                         Chrome/120.0.6099.130 Safari/537.36";

/// One request the stand-in received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Default)]
struct GithubState {
    /// Statuses to answer, in order; once used up, 201.
    script: VecDeque<u16>,
    received: Vec<Received>,
}

/// A stand-in for GitHub's "create an issue" endpoint: records every request and answers from a script.
struct FakeGithub {
    address: SocketAddr,
    state: Arc<Mutex<GithubState>>,
    task: JoinHandle<()>,
}

async fn create_issue(
    State(state): State<Arc<Mutex<GithubState>>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut s = state.lock().unwrap();
    let body = serde_json::from_str(&body).unwrap_or(Value::Null);
    s.received.push(Received { path: uri.path().to_owned(), headers, body });
    let status = s.script.pop_front().unwrap_or(201);
    let number = s.received.len() as i64 + 41;
    if status == 201 {
        let url = format!("https://github.com/mapquiz/reports/issues/{number}");
        (StatusCode::CREATED, axum::Json(json!({"number": number, "html_url": url, "id": 9_000 + number})))
            .into_response()
    } else {
        let status = StatusCode::from_u16(status).unwrap();
        (status, axum::Json(json!({"message": "Server Error"}))).into_response()
    }
}

impl FakeGithub {
    /// Answers `script` in order, then 201 to everything.
    async fn start(script: &[u16]) -> FakeGithub {
        let state = Arc::new(Mutex::new(GithubState { script: script.iter().copied().collect(), received: vec![] }));
        let app = Router::new().route("/repos/{owner}/{repo}/issues", post(create_issue)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGithub { address, state, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Makes every later request fail with `status`.
    fn fail_always(&self, status: u16) {
        self.state.lock().unwrap().script = std::iter::repeat_n(status, 1_000).collect();
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The settings that turn delivery on, pointed at `github`.
fn delivering(f: Figment, github: &FakeGithub) -> Figment {
    f.merge(("github_token", "ghp_test_token_123"))
        .merge(("github_repo_owner", "mapquiz"))
        .merge(("github_repo_name", "reports"))
        .merge(("github_api_url", github.url()))
}

fn valid_report() -> Value {
    json!({
        "title": "La carte ne charge pas",
        "description": "Après avoir choisi l'Europe, la carte reste vide.",
        "environment": {"browser": "Chrome", "browserVersion": "120.0", "operatingSystem": "Windows",
                        "deviceType": "desktop", "screenResolution": "1920x1080"}
    })
}

async fn post_report(app: &TestApp, body: &Value) -> (u16, Value) {
    json(app.post_json("/api/bug-reports", body).await).await
}

/// Posts a valid report and returns its id.
async fn report_id(app: &TestApp, body: &Value) -> String {
    let (status, created) = post_report(app, body).await;
    assert_eq!(status, 201, "{created}");
    created["data"]["id"].as_str().unwrap().to_owned()
}

async fn stored(app: &TestApp, id: &str) -> BugReport {
    app.state.store.bug_report(id).await.unwrap().expect("the report is stored")
}

/// Waits (10 s at most) until the stored report satisfies `done`.
async fn until(app: &TestApp, id: &str, what: &str, done: impl Fn(&BugReport) -> bool) -> BugReport {
    for _ in 0..500 {
        let r = stored(app, id).await;
        if done(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen: {:?}", stored(app, id).await);
}

/// Moves the app's clock and wakes its worker, as if the wait had passed.
fn time_passes(app: &TestApp, by: Duration) {
    app.clock.advance(by);
    app.state.bug_report_wakeup.notify_one();
}

/// Gives the worker a moment, to show that something does not happen.
async fn settle(app: &TestApp) {
    app.state.bug_report_wakeup.notify_one();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

// ---- the route ----

async fn a_valid_report_is_stored_without_a_token(postgres: bool) {
    let Some(app) = TestApp::spawn_on(postgres).await else { return };
    let (status, body) = post_report(&app, &valid_report()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({"success": true, "message": "Rapport de bug enregistré",
               "data": {"id": id, "title": "La carte ne charge pas", "issueNumber": null, "issueUrl": null}})
    );
    assert_eq!(id.len(), 36, "a UUID: {id}");
    settle(&app).await;
    let r = stored(&app, &id).await;
    assert_eq!((r.delivery_status, r.attempts, r.last_error.as_deref()), (DeliveryStatus::Pending, 0, None));
    assert_eq!(r.reporter_id, None, "anonymous");
    assert_eq!(r.environment, valid_report()["environment"]);
    assert_eq!(r.url.as_deref(), Some("/api/bug-reports"), "no url and no Referer");
    let counts = app.state.store.bug_report_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered), (1, 0), "kept for when a token is configured");
    // The trailing-slash alias of the original.
    assert_eq!(json(app.post_json("/api/bug-reports/", &valid_report()).await).await.0, 201);
}

on_both_backends!(a_valid_report_is_stored_without_a_token);

#[tokio::test]
async fn each_rule_has_its_french_detail() {
    let app = TestApp::spawn_with(false, |f| f.merge(("rate_limit_bug_reports_max", 100))).await.unwrap();
    let with = |key: &str, value: Value| {
        let mut b = valid_report();
        if value.is_null() {
            b.as_object_mut().unwrap().remove(key);
        } else {
            b[key] = value;
        }
        b
    };
    let failed = |details: &[&str]| {
        (400, json!({"error": "Données invalides", "code": "validation_failed", "details": details}))
    };
    // Checklist 63.
    assert_eq!(
        post_report(&app, &with("description", json!("123456789"))).await,
        failed(&["La description doit contenir au moins 10 caractères"])
    );
    assert_eq!(post_report(&app, &with("environment", Value::Null)).await, failed(&["L'environnement est requis"]));
    assert_eq!(post_report(&app, &with("environment", json!("Chrome"))).await, failed(&["L'environnement est requis"]));
    assert_eq!(post_report(&app, &with("title", json!(""))).await, failed(&["Le titre est requis"]));
    assert_eq!(post_report(&app, &with("title", json!("t".repeat(201)))).await, failed(&["Le titre est trop long"]));
    assert_eq!(
        post_report(&app, &with("description", json!("d".repeat(10_001)))).await,
        failed(&["La description est trop longue"])
    );
    assert_eq!(post_report(&app, &with("location", json!("l".repeat(2_001)))).await, failed(&["Champ trop long"]));
    assert_eq!(
        post_report(&app, &with("environment", json!({"browser": "b".repeat(2_001)}))).await,
        failed(&["Champ trop long"])
    );
    // Every failure at once, one line per rule.
    assert_eq!(
        post_report(&app, &json!({"title": "", "description": "court", "url": "u".repeat(2_001)})).await,
        failed(&[
            "Le titre est requis",
            "La description doit contenir au moins 10 caractères",
            "L'environnement est requis",
            "Champ trop long"
        ])
    );
    // Cross-cutting answers come first.
    let res = app
        .client
        .post(app.url("/api/bug-reports"))
        .header("content-type", "application/json")
        .body("{ invalid")
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await, (400, json!({"error": "JSON invalide", "code": "invalid_json"})));
    let res = app.client.post(app.url("/api/bug-reports")).send().await.unwrap();
    assert_eq!(json(res).await, (400, json!({"error": "Données invalides", "code": "validation_failed"})));
    let res = app.client.post(app.url("/api/bug-reports")).body("title=x").send().await.unwrap();
    assert_eq!(json(res).await.0, 415);
    // At the limits exactly: accepted.
    let mut edge = with("title", json!("t".repeat(200)));
    edge["url"] = json!("u".repeat(2_000));
    edge["description"] = json!("0123456789");
    assert_eq!(post_report(&app, &edge).await.0, 201);
    assert_eq!(app.state.store.bug_report_counts().await.unwrap().pending, 1, "only the valid one was stored");
}

#[tokio::test]
async fn a_session_attaches_the_reporter_and_bad_credentials_are_anonymous() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("Alice").await;
    let (status, body) = json(app.post_as(&alice, "/api/bug-reports", &valid_report()).await).await;
    assert_eq!(status, 201, "{body}");
    let r = stored(&app, body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(r.reporter_id.as_deref(), Some(alice.id.as_str()));

    let bearer = app
        .client
        .post(app.url("/api/bug-reports"))
        .header("authorization", alice.bearer())
        .json(&valid_report())
        .send()
        .await
        .unwrap();
    let (status, body) = json(bearer).await;
    assert_eq!(status, 201);
    assert_eq!(stored(&app, body["data"]["id"].as_str().unwrap()).await.reporter_id, Some(alice.id.clone()));

    // A forged cookie and a wrong bearer: anonymous reports, never 401.
    let forged = alice.cookie.replace("%3D", "%3E");
    for (name, value) in [("cookie", forged.as_str()), ("authorization", "Bearer not-a-session")] {
        let res = app
            .client
            .post(app.url("/api/bug-reports"))
            .header(name, value)
            .json(&valid_report())
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 201, "{name}: {body}");
        assert_eq!(stored(&app, body["data"]["id"].as_str().unwrap()).await.reporter_id, None, "{name}");
    }
}

#[tokio::test]
async fn referer_and_user_agent_fill_in_missing_fields() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/api/bug-reports"))
        .header("referer", "http://localhost:5173/jeu?region=Europe")
        .header("user-agent", CHROME_UA)
        .json(&valid_report())
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 201);
    let r = stored(&app, body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(r.url.as_deref(), Some("http://localhost:5173/jeu?region=Europe"));
    assert_eq!(r.user_agent.as_deref(), Some(CHROME_UA));

    // What the client sent wins over the headers.
    let mut explicit = valid_report();
    explicit["url"] = json!("http://localhost:5173/entrainement");
    explicit["userAgent"] = json!("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0");
    let res = app
        .client
        .post(app.url("/api/bug-reports"))
        .header("referer", "http://localhost:5173/jeu")
        .header("user-agent", CHROME_UA)
        .json(&explicit)
        .send()
        .await
        .unwrap();
    let (_, body) = json(res).await;
    let r = stored(&app, body["data"]["id"].as_str().unwrap()).await;
    assert_eq!(r.url.as_deref(), Some("http://localhost:5173/entrainement"));
    assert!(r.user_agent.unwrap().contains("Firefox/121.0"));
}

#[tokio::test]
async fn the_per_ip_limit_answers_429_before_reading_the_body() {
    let app = TestApp::spawn_with(false, |f| f.merge(("rate_limit_bug_reports_max", 2))).await.unwrap();
    for _ in 0..2 {
        assert_eq!(post_report(&app, &valid_report()).await.0, 201);
    }
    let res = app
        .client
        .post(app.url("/api/bug-reports"))
        .header("content-type", "application/json")
        .body("{ not even JSON")
        .send()
        .await
        .unwrap();
    let retry: u64 = header(&res, "retry-after").expect("Retry-After").parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert_eq!(
        json(res).await,
        (429, json!({"error": "Trop de requêtes, veuillez réessayer plus tard", "code": "rate_limited"}))
    );
    // The limit is this route's own: the rest of the API still answers.
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.state.store.bug_report_counts().await.unwrap().pending, 2);
}

// ---- delivery ----

async fn a_report_becomes_an_issue(postgres: bool) {
    let github = FakeGithub::start(&[]).await;
    let Some(app) = TestApp::spawn_with(postgres, |f| delivering(f, &github)).await else { return };
    let alice = app.sign_up("Alice").await;
    let mut body = valid_report();
    body["title"] = json!("Carte vide @devs");
    body["description"] = json!("La carte reste vide. Ping @octocat pour info.");
    body["stepsToReproduce"] = json!("1. Choisir l'Europe\n2. Lancer le quiz");
    body["location"] = json!("Quiz Europe");
    body["url"] = json!("https://mapquiz.example/jeu/abc?token=SECRET1&region=Europe&id=42&key=SECRET2");
    body["userAgent"] = json!(CHROME_UA);
    let (status, created) = json(app.post_as(&alice, "/api/bug-reports", &body).await).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["issueNumber"], Value::Null, "the answer does not wait for GitHub");
    let id = created["data"]["id"].as_str().unwrap();

    let r = until(&app, id, "delivery", |r| r.delivery_status == DeliveryStatus::Delivered).await;
    assert_eq!(r.issue_number, Some(42));
    assert_eq!(r.issue_url.as_deref(), Some("https://github.com/mapquiz/reports/issues/42"));
    assert_eq!((r.attempts, r.next_attempt_at, r.last_error), (1, None, None));

    let received = github.received();
    assert_eq!(received.len(), 1, "exactly one issue");
    let req = &received[0];
    assert_eq!(req.path, "/repos/mapquiz/reports/issues");
    let h = |name: &str| req.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h("authorization").as_deref(), Some("Bearer ghp_test_token_123"));
    assert_eq!(h("accept").as_deref(), Some("application/vnd.github+json"));
    assert_eq!(h("user-agent").as_deref(), Some("mapquiz-server"));
    assert!(h("content-type").unwrap().starts_with("application/json"));
    let z = ZERO_WIDTH_SPACE;
    assert_eq!(req.body["title"], format!("[Bug Report] Carte vide @{z}devs"));
    assert_eq!(req.body["labels"], json!(["bug", "user-reported", "needs-triage"]));
    let md = req.body["body"].as_str().unwrap();
    for section in [
        "## Description",
        "## Étapes de reproduction",
        "## Localisation",
        "## Informations techniques",
        "## Utilisateur",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains(&format!("Ping @{z}octocat pour info.")), "{md}");
    assert!(!md.contains("@octocat"), "the mention is neutralised");
    assert!(md.contains("1. Choisir l'Europe\n2. Lancer le quiz"));
    assert!(md.contains("Quiz Europe"));
    assert!(md.contains("`https://mapquiz.example/jeu/abc?region=Europe`"), "{md}");
    assert!(!md.contains("SECRET") && !md.contains("id=42"), "the URL is anonymised");
    assert!(md.contains("User-Agent : Chrome/120 on Windows"), "{md}");
    assert!(!md.contains("AppleWebKit"), "the user agent is reduced");
    assert!(md.contains("Chrome 120.0") && md.contains("1920x1080"));
    assert!(md.contains(&format!("- Nom : Alice\n- Identifiant : `{}`", alice.id)), "{md}");
    assert!(!md.contains(&alice.email), "never an email address");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("bug_reports_delivered_total"), "{metrics}");
    assert!(metrics.contains("bug_reports_pending"), "{metrics}");
}

on_both_backends!(a_report_becomes_an_issue);

async fn a_failure_is_retried_after_the_back_off(postgres: bool) {
    let github = FakeGithub::start(&[500, 503]).await;
    let Some(app) = TestApp::spawn_with(postgres, |f| delivering(f, &github)).await else { return };
    let id = report_id(&app, &valid_report()).await;

    // Checklist 64: GitHub fails, the player already has their 201, and the report waits a minute.
    let r = until(&app, &id, "a first failure", |r| r.attempts == 1).await;
    assert_eq!(r.delivery_status, DeliveryStatus::Pending);
    assert!(r.last_error.as_deref().unwrap().contains("500"), "{:?}", r.last_error);
    let wait = r.next_attempt_at.unwrap().millis() - app.state.clock.now().millis();
    assert!((55_000..=60_000).contains(&wait), "1 minute, got {wait} ms");
    settle(&app).await;
    assert_eq!(github.received().len(), 1, "no retry before the back-off ends");

    time_passes(&app, Duration::from_secs(61));
    let r = until(&app, &id, "a second failure", |r| r.attempts == 2).await;
    assert!(r.last_error.as_deref().unwrap().contains("503"));
    let wait = r.next_attempt_at.unwrap().millis() - app.state.clock.now().millis();
    assert!((115_000..=120_000).contains(&wait), "2 minutes, got {wait} ms");
    time_passes(&app, Duration::from_secs(61));
    settle(&app).await;
    assert_eq!(github.received().len(), 2, "the second wait is longer");

    time_passes(&app, Duration::from_secs(60));
    let r = until(&app, &id, "the issue", |r| r.delivery_status == DeliveryStatus::Delivered).await;
    assert_eq!((r.attempts, r.issue_number, r.last_error), (3, Some(44), None));
    settle(&app).await;
    assert_eq!(github.received().len(), 3, "delivered once, then never again");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("bug_reports_delivery_failures_total"), "{metrics}");
}

on_both_backends!(a_failure_is_retried_after_the_back_off);

#[tokio::test]
async fn delivery_is_abandoned_after_seven_days_and_the_report_kept() {
    let github = FakeGithub::start(&[]).await;
    github.fail_always(502);
    let app = TestApp::spawn_with(false, |f| delivering(f, &github)).await.unwrap();
    let id = report_id(&app, &valid_report()).await;
    until(&app, &id, "a first failure", |r| r.attempts == 1).await;
    time_passes(&app, Duration::from_secs(6 * 86_400));
    until(&app, &id, "a retry within the week", |r| r.attempts == 2).await;
    time_passes(&app, Duration::from_secs(86_400));
    let r = until(&app, &id, "abandonment", |r| r.delivery_status == DeliveryStatus::Abandoned).await;
    assert_eq!((r.attempts, r.next_attempt_at), (3, None));
    assert!(r.last_error.as_deref().unwrap().contains("502"));
    time_passes(&app, Duration::from_secs(86_400));
    settle(&app).await;
    assert_eq!(github.received().len(), 3, "no attempt after abandonment");
    let counts = app.state.store.bug_report_counts().await.unwrap();
    assert_eq!((counts.pending, counts.abandoned), (0, 1));
}

async fn a_restart_between_failure_and_success_delivers_once(postgres: bool) {
    let github = FakeGithub::start(&[500]).await;
    let Some(first) = TestApp::spawn_with(postgres, |f| delivering(f, &github)).await else { return };
    let id = report_id(&first, &valid_report()).await;
    until(&first, &id, "a first failure", |r| r.attempts == 1).await;

    // Stop the server with the report pending, and start a new one on the same database.
    let mut first = first;
    let db = std::mem::replace(&mut first.db, mapquiz_store::testing::TestDatabase::sqlite());
    first.stop().await.unwrap();
    let config = Config::from_figment(&delivering(base_figment(&db), &github)).unwrap();
    let second = TestApp::start(db, config).await;
    let r = stored(&second, &id).await;
    assert_eq!((r.delivery_status, r.attempts), (DeliveryStatus::Pending, 1), "the report survived the restart");

    time_passes(&second, Duration::from_secs(61));
    let r =
        until(&second, &id, "delivery by the new process", |r| r.delivery_status == DeliveryStatus::Delivered).await;
    assert_eq!((r.attempts, r.issue_number), (2, Some(43)));
    time_passes(&second, Duration::from_secs(3_600));
    settle(&second).await;
    assert_eq!(github.received().len(), 2, "one failure, one issue: delivered exactly once");
}

on_both_backends!(a_restart_between_failure_and_success_delivers_once);

#[tokio::test]
async fn without_a_repository_nothing_is_sent() {
    let github = FakeGithub::start(&[]).await;
    // A token but no repository name: delivery stays off.
    let app = TestApp::spawn_with(false, |f| {
        f.merge(("github_token", "t")).merge(("github_repo_owner", "o")).merge(("github_api_url", github.url()))
    })
    .await
    .unwrap();
    let id = report_id(&app, &valid_report()).await;
    time_passes(&app, Duration::from_secs(3_600));
    settle(&app).await;
    assert!(github.received().is_empty());
    assert_eq!(stored(&app, &id).await.delivery_status, DeliveryStatus::Pending);
}
