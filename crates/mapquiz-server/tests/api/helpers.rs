//! The harness: [`TestApp::spawn`] starts the app in-process on port 0 with a fresh database.

use figment::Figment;
use mapquiz_server::app::App;
use mapquiz_server::config::Config;
use mapquiz_server::state::AppState;
use mapquiz_store::testing::TestDatabase;
use serde_json::Value;
use std::net::SocketAddr;
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
        let app = App::build(config).await.expect("the app builds");
        let address = app.local_addr();
        let state = app.state().clone();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(app.serve(stop.clone().cancelled_owned()));
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client");
        TestApp { address, client, state, db, stop, handle: Some(handle) }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
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

/// Status and JSON body of a response.
pub async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}")))
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
