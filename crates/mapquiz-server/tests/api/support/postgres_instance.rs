//! A PostgreSQL server of the test's own (`initdb` + `pg_ctl` in a temp folder, on a free port) that the test
//! may stop and start again: the machine's shared PostgreSQL is never stopped.

use std::path::PathBuf;
use std::process::{Command, Output};

/// One throwaway PostgreSQL server, stopped (`-m immediate`) and removed on drop.
pub struct PostgresInstance {
    control: Control,
    _dir: tempfile::TempDir,
}

/// What `pg_ctl` needs, cheap to move onto a blocking thread.
#[derive(Clone)]
struct Control {
    root: PathBuf,
    port: u16,
    /// Whether the programs run as the `postgres` user (they refuse root).
    as_postgres: bool,
}

impl PostgresInstance {
    /// Initialises and starts a server, or `None` when `initdb` is not installed, except under `CI`, where
    /// a missing `initdb` fails the run (the fault tests are required there).
    pub async fn start() -> Option<PostgresInstance> {
        if Command::new("initdb").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI is set but initdb is not on PATH: the fault tests need it");
            return None;
        }
        let as_postgres = run_plain("id", &["-u"]).trim() == "0";
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            run_plain("chown", &["postgres:postgres", &dir.path().display().to_string()]);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let control = Control { root: dir.path().to_owned(), port, as_postgres };
        let data = control.data();
        // No fsync: the tests stop the server cleanly (`-m fast`), they never pull the power.
        blocking(control.clone(), move |c| {
            c.pg(&["initdb", "-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
            c.start();
        })
        .await;
        Some(PostgresInstance { control, _dir: dir })
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.control.port)
    }

    /// `pg_ctl stop -m fast`: sessions are ended and the server shuts down cleanly, as an operator stops it.
    pub async fn stop(&self) {
        blocking(self.control.clone(), |c| {
            c.pg(&["pg_ctl", "-D", &c.data(), "-m", "fast", "-w", "-t", "30", "stop"]);
        })
        .await;
    }

    /// Starts the server again on the same port and data, and waits until it accepts connections.
    pub async fn start_again(&self) {
        blocking(self.control.clone(), |c| c.start()).await;
    }
}

/// Runs `f` on a blocking thread: `pg_ctl` waits, and the server under test must keep running meanwhile.
async fn blocking(control: Control, f: impl FnOnce(&Control) + Send + 'static) {
    tokio::task::spawn_blocking(move || f(&control)).await.unwrap();
}

impl Control {
    fn data(&self) -> String {
        self.root.join("data").display().to_string()
    }

    fn log(&self) -> PathBuf {
        self.root.join("server.log")
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.root.display()
        );
        let log = self.log().display().to_string();
        self.pg(&["pg_ctl", "-D", &self.data(), "-l", &log, "-o", &options, "-w", "-t", "30", "start"]);
    }

    /// Runs a PostgreSQL program (as `postgres` when the test runs as root); its output, whatever its exit.
    fn run(&self, args: &[&str]) -> std::io::Result<Output> {
        if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).args(args).current_dir(&self.root).output()
        } else {
            Command::new(args[0]).args(&args[1..]).current_dir(&self.root).output()
        }
    }

    /// [`Control::run`], panicking with the program's output and the server's log unless it succeeds.
    fn pg(&self, args: &[&str]) {
        let output = self.run(args).unwrap_or_else(|e| panic!("{} could not run: {e}", args[0]));
        assert!(
            output.status.success(),
            "{} failed: {}{}\n{}",
            args[0],
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }
}

impl Drop for PostgresInstance {
    fn drop(&mut self) {
        // Best effort: the server may be stopped already, and a failed drop must not hide the test's panic.
        let _ = self.control.run(&["pg_ctl", "-D", &self.control.data(), "-m", "immediate", "-w", "stop"]);
    }
}

/// Runs a plain command and returns its standard output; panics unless it succeeds.
fn run_plain(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(output.status.success(), "{program} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
