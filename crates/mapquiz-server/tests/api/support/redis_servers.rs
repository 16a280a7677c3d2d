//! Throwaway Redis deployments a test starts from the machine's `redis-server` and `redis-cli`, on free
//! loopback ports, in a temporary folder, and kills when it drops them: a 3-primary Redis Cluster, and a
//! primary watched by one Sentinel. The machine's own Redis is never touched.
//!
//! Without `redis-server` or `redis-cli` the tests that need them are skipped, except under `CI`, where
//! that fails the run.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a deployment may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `redis-server` and `redis-cli` can be run; `false` skips the caller, except under `CI`.
fn tools_available() -> bool {
    let runs = |tool: &str| Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if runs("redis-server") && runs("redis-cli") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but redis-server or redis-cli cannot be run: the Redis Cluster and Sentinel tests need them \
         (Debian: apt-get install redis-server)"
    );
    false
}

/// A loopback port nobody listens on, whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// One `redis-server` child, its output in `<dir>/redis-<port>.log`.
fn spawn(dir: &Path, port: u16, args: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join(format!("redis-{port}.log"))).unwrap();
    Command::new("redis-server")
        .args(args)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts")
}

/// `redis-cli -p <port> <args>`.
fn cli(port: u16, args: &[&str]) -> Output {
    Command::new("redis-cli").args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args).output().unwrap()
}

/// Polls `ready` every 50 ms; panics with `what` after [`START_TIMEOUT`].
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + START_TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn answers(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Children killed, then reaped, on drop.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Redis Cluster of three primaries and no replicas.
pub struct RedisCluster {
    pub ports: Vec<u16>,
    _children: Children,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts the three servers, joins them, and waits for `cluster_state:ok` on each; `None` when the Redis
    /// tools are missing (outside CI).
    pub async fn start() -> Option<RedisCluster> {
        if !tools_available() {
            return None;
        }
        Some(tokio::task::spawn_blocking(Self::start_blocking).await.unwrap())
    }

    fn start_blocking() -> RedisCluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let children = Children(
            ports
                .iter()
                .map(|&port| {
                    let conf = dir.path().join(format!("nodes-{port}.conf"));
                    let conf = conf.to_str().unwrap();
                    spawn(dir.path(), port, &["--cluster-enabled", "yes", "--cluster-config-file", conf])
                })
                .collect(),
        );
        for &port in &ports {
            wait_until(&format!("redis-server did not start on {port}"), || answers(port));
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(created.status.success(), "redis-cli --cluster create failed: {created:?}");
        for &port in &ports {
            wait_until(&format!("the cluster never became ok on {port}"), || {
                String::from_utf8_lossy(&cli(port, &["cluster", "info"]).stdout).contains("cluster_state:ok")
            });
        }
        RedisCluster { ports, _children: children, _dir: dir }
    }

    /// `redis-cluster://127.0.0.1:<first port>`: the client finds the other primaries itself.
    pub fn url(&self) -> String {
        format!("redis-cluster://127.0.0.1:{}", self.ports[0])
    }
}

/// A standalone primary and one Sentinel watching it as `mymaster`.
pub struct RedisSentinel {
    pub primary_port: u16,
    pub sentinel_port: u16,
    _children: Children,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    /// The Sentinel's name for the primary.
    pub const SERVICE: &str = "mymaster";

    /// Starts both and waits until the Sentinel names the primary; `None` when the Redis tools are missing
    /// (outside CI).
    pub async fn start() -> Option<RedisSentinel> {
        if !tools_available() {
            return None;
        }
        Some(tokio::task::spawn_blocking(Self::start_blocking).await.unwrap())
    }

    fn start_blocking() -> RedisSentinel {
        let dir = tempfile::tempdir().unwrap();
        let (primary_port, sentinel_port) = (free_port(), free_port());
        let mut children = Children(vec![spawn(dir.path(), primary_port, &[])]);
        wait_until("the primary did not start", || answers(primary_port));
        // A Sentinel rewrites its configuration file, so it gets one of its own.
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "sentinel monitor {service} 127.0.0.1 {primary_port} 1\nsentinel down-after-milliseconds {service} 5000\n",
                service = Self::SERVICE
            ),
        )
        .unwrap();
        children.0.push(spawn(dir.path(), sentinel_port, &[conf.to_str().unwrap(), "--sentinel"]));
        wait_until("the sentinel never named the primary", || {
            let out = cli(sentinel_port, &["sentinel", "get-master-addr-by-name", Self::SERVICE]);
            String::from_utf8_lossy(&out.stdout).contains(&primary_port.to_string())
        });
        RedisSentinel { primary_port, sentinel_port, _children: children, _dir: dir }
    }

    /// `redis-sentinel://127.0.0.1:<sentinel port>?sentinelServiceName=mymaster`.
    pub fn url(&self) -> String {
        format!("redis-sentinel://127.0.0.1:{}?sentinelServiceName={}", self.sentinel_port, Self::SERVICE)
    }
}
