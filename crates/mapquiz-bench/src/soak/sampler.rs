//! The once-a-second reading of the server's resources: RSS and open descriptors from `/proc`, alive tasks
//! and the database pool from its `/metrics`.

use crate::client::Server;
use crate::procstat;
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// One reading; a field is `None` when its source could not be read that time.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// Seconds since the soak started.
    pub t: f64,
    /// Resident set size, MiB (`/proc/<pid>/status`).
    pub rss_mib: Option<f64>,
    /// Entries of `/proc/<pid>/fd`.
    pub fds: Option<f64>,
    /// `tokio_alive_tasks` from `/metrics`.
    pub tasks: Option<f64>,
    /// `db_pool_connections{state="in_use"}` from `/metrics`.
    pub pool_in_use: Option<f64>,
    /// `db_pool_connections{state="idle"}` from `/metrics`.
    pub pool_idle: Option<f64>,
}

/// Samples until stopped.
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Starts sampling every `every`, times counted from `epoch`.
    pub fn start(server: Server, pid: Option<u32>, every: Duration, epoch: Instant) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(every);
            // A late tick (a busy machine) is taken late, not made up in a burst: the times are the real ones.
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => samples.push(read(&server, pid, epoch, every).await),
                }
            }
            samples
        });
        Sampler { stop, task }
    }

    /// Stops and returns the samples.
    pub async fn finish(self) -> Vec<Sample> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

async fn read(server: &Server, pid: Option<u32>, epoch: Instant, timeout: Duration) -> Sample {
    let t = epoch.elapsed().as_secs_f64();
    let key = pid.map(|p| p.to_string());
    let rss_mib = key.as_deref().and_then(procstat::sample).map(|s| crate::mib(s.rss));
    let fds = key.as_deref().and_then(|p| std::fs::read_dir(format!("/proc/{p}/fd")).ok()).map(|d| d.count() as f64);
    let text = tokio::time::timeout(timeout, server.metrics()).await.ok().and_then(Result::ok);
    let text = text.as_deref().unwrap_or("");
    Sample {
        t,
        rss_mib,
        fds,
        tasks: gauge(text, "tokio_alive_tasks", None),
        pool_in_use: gauge(text, "db_pool_connections", Some("state=\"in_use\"")),
        pool_idle: gauge(text, "db_pool_connections", Some("state=\"idle\"")),
    }
}

/// A gauge's value in a Prometheus text exposition, the sample whose labels hold `label` when given.
pub fn gauge(text: &str, name: &str, label: Option<&str>) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let matches = match label {
            None => rest.starts_with(' ') || rest.starts_with('{'),
            Some(label) => rest.starts_with('{') && rest.split('}').next().is_some_and(|ls| ls.contains(label)),
        };
        if !matches {
            return None;
        }
        l.rsplit(' ').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_are_read_by_name_and_label() {
        let text = "# TYPE db_pool_connections gauge\ndb_pool_connections{state=\"in_use\"} 3\n\
                    db_pool_connections{state=\"idle\"} 7\ntokio_alive_tasks 42\ntokio_alive_tasks_x 1\n";
        assert_eq!(gauge(text, "tokio_alive_tasks", None), Some(42.0));
        assert_eq!(gauge(text, "db_pool_connections", Some("state=\"idle\"")), Some(7.0));
        assert_eq!(gauge(text, "db_pool_connections", Some("state=\"in_use\"")), Some(3.0));
        assert_eq!(gauge(text, "missing", None), None);
    }
}
