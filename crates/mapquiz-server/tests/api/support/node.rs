//! One `mapquiz serve` process (the real binary) for the tests that run several nodes side by side: it can
//! be killed like a crashed machine (SIGKILL, no shutdown), which an in-process app cannot.

use crate::support::ws::Ws;
use crate::support::{TEST_SECRET, TestUser, json, sign_up_at};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node.
pub struct Node {
    child: Child,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Node {
    /// Starts a node on `database_url` and `redis_url` with the test defaults, `extra` settings on top (as
    /// environment variables), and waits until it serves.
    pub async fn start(database_url: &str, redis_url: &str, extra: &[(&str, &str)]) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mapquiz"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .envs([
                ("DATABASE_URL", database_url),
                ("REDIS_URL", redis_url),
                ("HOST", "127.0.0.1"),
                ("PORT", &port.to_string()),
                ("BETTER_AUTH_SECRET", TEST_SECRET),
                ("MAPQUIZ_ARGON2_MEMORY_KIB", "1024"),
                ("MAPQUIZ_ARGON2_ITERATIONS", "1"),
                ("MAPQUIZ_LOG_LEVEL", "warn"),
            ])
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mapquiz starts");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let node = Node { child, address, client: reqwest::Client::new(), dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while node.client.get(node.url("/livez")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the node did not start: {}", node.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        node
    }

    /// `http://<address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// What the node logged so far (warnings and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    pub async fn sign_up(&self, name: &str) -> TestUser {
        sign_up_at(&self.client, self.address, name).await
    }

    pub async fn post_as(&self, user: &TestUser, path: &str, body: Value) -> (u16, Value) {
        json(self.client.post(self.url(path)).header("cookie", &user.cookie).json(&body).send().await.unwrap()).await
    }

    pub async fn get_as(&self, user: &TestUser, path: &str) -> (u16, Value) {
        json(self.client.get(self.url(path)).header("cookie", &user.cookie).send().await.unwrap()).await
    }

    /// `GET /api/auth/get-session` with this cookie: the body (`null` without a session).
    pub async fn get_session(&self, cookie: &str) -> Value {
        let res = self.client.get(self.url("/api/auth/get-session")).header("cookie", cookie).send().await.unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A socket for `user` on this node, authenticated and registered.
    pub async fn ws(&self, user: &TestUser) -> Ws {
        Ws::signed_in(self.address, user).await
    }

    /// `checks.realtime.bus` of `/health/detailed`.
    pub async fn bus(&self) -> String {
        let (_, body) = json(self.client.get(self.url("/health/detailed")).send().await.unwrap()).await;
        body["checks"]["realtime"]["bus"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until `checks.realtime.bus` is `state`.
    pub async fn wait_for_bus(&self, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.bus().await != state {
            assert!(Instant::now() < deadline, "the bus never became {state}: {}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the process (SIGKILL): no shutdown, nothing cleaned up, like a machine that died.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
