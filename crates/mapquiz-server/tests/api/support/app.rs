//! The harness: [`TestApp::spawn`] starts the app in-process on port 0 with a fresh database.

use figment::Figment;
use mapquiz_server::app::App;
use mapquiz_server::clock::ManualClock;
use mapquiz_server::config::Config;
use mapquiz_server::state::AppState;
use mapquiz_store::testing::TestDatabase;
use serde_json::{Value, json as j};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use mapquiz_store::on_both_backends;

/// A 32-byte-plus secret, so no secret file is written.
pub const TEST_SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

/// A running application.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db: TestDatabase,
    /// The app's clock: `clock.advance(d)` moves the server's "now" forward.
    pub clock: Arc<ManualClock>,
    stop: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The base figment every test app uses; tests merge their own settings on top.
pub fn base_figment(db: &TestDatabase) -> Figment {
    Figment::new()
        .merge(("database_url", db.url()))
        .merge(("host", "127.0.0.1"))
        .merge(("port", 0))
        .merge(("auth_secret", TEST_SECRET))
        // Cheap hashing keeps the suite fast; the production cost is measured by the benchmark.
        .merge(("argon2_memory_kib", 1024))
        .merge(("argon2_iterations", 1))
}

impl TestApp {
    /// On SQLite, default settings.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(false, |f| f).await.expect("SQLite is always available")
    }

    /// On the chosen backend (`None`: PostgreSQL asked for and not configured).
    pub async fn spawn_on(postgres: bool) -> Option<TestApp> {
        Self::spawn_with(postgres, |f| f).await
    }

    /// With settings adjusted by `configure`.
    pub async fn spawn_with(postgres: bool, configure: impl FnOnce(Figment) -> Figment) -> Option<TestApp> {
        let db = TestDatabase::new(postgres).await?;
        let config = Config::from_figment(&configure(base_figment(&db))).expect("test configuration is valid");
        Some(Self::start(db, config).await)
    }

    /// Starts the app on `db` with a ready-made configuration.
    pub async fn start(db: TestDatabase, config: Config) -> TestApp {
        crate::support::logs::capture();
        let clock = ManualClock::new();
        let app = App::build_with_clock(config, clock.clone())
            .await
            .expect("the app builds")
            .wrap_routes(crate::support::privacy::observe);
        let address = app.local_addr();
        let state = app.state().clone();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(app.serve(stop.clone().cancelled_owned()));
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client");
        TestApp { address, client, state, db, clock, stop, handle: Some(handle) }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// POSTs `body` as JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        crate::support::logs::remember_in(body);
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    /// Signs up a new user named `name` with a unique email and [`PASSWORD`]; panics unless it succeeds.
    pub async fn sign_up(&self, name: &str) -> TestUser {
        sign_up_at(&self.client, self.address, name).await
    }

    /// GET with the user's session cookie.
    pub async fn get_as(&self, user: &TestUser, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header("cookie", &user.cookie).send().await.expect("request sent")
    }

    /// POST JSON with the user's session cookie.
    pub async fn post_as(&self, user: &TestUser, path: &str, body: &Value) -> reqwest::Response {
        crate::support::logs::remember_in(body);
        self.client.post(self.url(path)).header("cookie", &user.cookie).json(body).send().await.expect("request sent")
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        match self.handle.take() {
            Some(h) => h.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The Redis server the tests may use; `None` skips the Redis tests, except under `CI`, where a missing URL
/// fails the run.
pub fn test_redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TEST_REDIS_URL is not: the Redis tests are required in CI")
        }
        _ => None,
    }
}

/// Signs up a new user on the server at `address` (any node); panics unless it succeeds.
pub async fn sign_up_at(client: &reqwest::Client, address: SocketAddr, name: &str) -> TestUser {
    let email = format!("{}-{}@example.com", name.to_lowercase().replace(' ', "-"), uuid::Uuid::now_v7().simple());
    let res = client
        .post(format!("http://{address}/api/auth/sign-up/email"))
        .json(&j!({"name": name, "email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("request sent");
    TestUser::signed_up(name, email, res).await
}

/// The password [`TestApp::sign_up`] uses.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-up user and the credentials the server gave it.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub tag: String,
    /// The raw session token (from the response body).
    pub token: String,
    /// `better-auth.session_token=<signed value>`, ready for a `Cookie` header.
    pub cookie: String,
}

impl TestUser {
    /// The user a sign-up response answered for `name` and `email`; panics unless the sign-up succeeded.
    pub async fn signed_up(name: &str, email: String, res: reqwest::Response) -> TestUser {
        let cookie = session_cookie(&res).expect("sign-up sets the session cookie");
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "sign-up failed: {body}");
        crate::support::logs::remember("email", &email);
        TestUser {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            name: name.to_owned(),
            email,
            tag: body["user"]["tag"].as_str().unwrap().to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
            cookie,
        }
    }

    /// `Bearer <raw token>`, for an `Authorization` header.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// The `name=value` pair of the session cookie the response sets (non-empty value), if any.
pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookies(res)
        .into_iter()
        .find_map(|c| {
            let pair = c.split(';').next()?.trim().to_owned();
            let (name, value) = pair.split_once('=')?;
            (name.ends_with("better-auth.session_token") && !value.is_empty()).then_some(pair)
        })
        .inspect(|pair| crate::support::logs::remember_cookie(pair))
}

/// Every `Set-Cookie` header of the response.
pub fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("ASCII cookie").to_owned()).collect()
}

/// Status and JSON body of a response.
pub async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    crate::support::logs::remember_in(&body);
    (status, body)
}

/// The header as a string, if present.
pub fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).map(|v| v.to_str().expect("ASCII header").to_owned())
}

/// Whether `s` is a protocol timestamp (`2025-08-11T15:46:50.000Z`).
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}
