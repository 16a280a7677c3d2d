//! The command line: `serve` (the default), `migrate`, `config`, `seed-demo`, `maintenance`, `backup`,
//! `restore`, `audit`, `import-original`.

use crate::config::{Config, ConfigError, Role};
use crate::ops::maintenance::Task;
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mapquiz_domain::Timestamp;
use mapquiz_store::DynStore;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Most audit lines `mapquiz audit` prints at once.
const AUDIT_LIMIT_MAX: u32 = 10_000;

/// MapQuiz Server: the HTTP API, sign-in and real-time games of the MapQuiz web client.
#[derive(Debug, Parser)]
#[command(name = "mapquiz", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file [default: ./mapquiz.toml when it exists; also MAPQUIZ_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (what runs when no command is given)
    ///
    /// A node runs the whole server (role `all`, the default) or one part of a split deployment whose nodes
    /// share PostgreSQL and Redis: `api` serves every HTTP route except /ws; `realtime` serves /ws and runs
    /// the live lobbies; `worker` runs the background jobs (maintenance, bug-report delivery). Every role
    /// answers /health, /health/detailed, /livez, /readyz and /metrics; a route a role does not serve
    /// answers 404. Roles other than `all` need PostgreSQL, and `api` and `realtime` need REDIS_URL.
    Serve(ServeArgs),
    /// Apply, revert or list database migrations
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the effective configuration, secrets redacted
    Config,
    /// Fill the database with demo players, friendships and solo games (for demos and load measurements)
    SeedDemo {
        /// Players to create
        #[arg(long, default_value_t = 1_000)]
        players: usize,
        /// Solo games to create, spread over the players
        #[arg(long, default_value_t = 10_000)]
        scores: usize,
        /// Games are dated over this many days before now
        #[arg(long, default_value_t = 60)]
        days: u32,
        /// Random seed (same seed, same data)
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Run maintenance jobs now (the server also runs each weekly)
    Maintenance {
        /// Which job; `all` runs every one in order
        #[arg(value_enum)]
        task: MaintenanceTask,
    },
    /// Write an online copy of the SQLite database to FILE (PostgreSQL: prints the pg_dump command)
    Backup {
        /// Where to write the copy
        file: PathBuf,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Replace the SQLite database with the copy in FILE; stop the server first
    Restore {
        /// A copy written by `mapquiz backup`
        file: PathBuf,
        /// Confirm, in the production profile, that the current data is replaced
        #[arg(long)]
        yes: bool,
    },
    /// Import the original MapQuiz server's players, Google links, live sessions, friends and solo games
    ///
    /// Reads the original's PostgreSQL database (never writing to it) into the configured database. Ids are
    /// kept, so a second run imports nothing twice; `--since` reads only what changed after a time, for a
    /// last catch-up just before switching. Exit status 3 when rows were skipped or in conflict (see the
    /// summary) unless `--accept-skips` is given.
    ImportOriginal {
        /// The original server's PostgreSQL URL (its DATABASE_URL)
        #[arg(long, value_name = "URL")]
        from: String,
        /// Read and check everything, report what would happen, write nothing
        #[arg(long)]
        dry_run: bool,
        /// Only rows created or updated at or after this time: RFC 3339 (2026-11-20T08:00:00Z) or an age (30m, 24h, 7d)
        #[arg(long, value_parser = parse_since)]
        since: Option<Since>,
        /// Succeed even when rows were skipped or in conflict
        #[arg(long)]
        accept_skips: bool,
        /// Also write the summary as JSON to FILE
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Print audit-trail entries, newest first
    Audit {
        /// Only entries of this user id
        #[arg(long)]
        user: Option<String>,
        /// Only entries at or after this time: RFC 3339 (2026-11-20T08:00:00Z) or an age (30m, 24h, 7d, 2w)
        #[arg(long, value_parser = parse_since)]
        since: Option<Since>,
        /// Entries to print, at most
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=i64::from(AUDIT_LIMIT_MAX)))]
        limit: u32,
    },
}

/// The options of `mapquiz serve`.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// What this node runs; beats `role` in the config file and MAPQUIZ_ROLE [default: all]
    #[arg(long, value_enum)]
    pub role: Option<Role>,
}

/// The jobs `mapquiz maintenance` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MaintenanceTask {
    /// Expired sessions and verifications, sign-in failures older than the lockout window
    Sessions,
    /// Rejected friend requests older than 30 days
    FriendRequests,
    /// Audit entries older than `audit_retention_days`
    Audit,
    /// Planner statistics: ANALYZE (PostgreSQL) or PRAGMA optimize (SQLite)
    Optimize,
    /// Every job above, in that order
    All,
}

impl MaintenanceTask {
    /// The jobs to run, in order.
    pub fn tasks(self) -> Vec<Task> {
        match self {
            MaintenanceTask::Sessions => vec![Task::Sessions],
            MaintenanceTask::FriendRequests => vec![Task::FriendRequests],
            MaintenanceTask::Audit => vec![Task::Audit],
            MaintenanceTask::Optimize => vec![Task::Optimize],
            MaintenanceTask::All => Task::ALL.to_vec(),
        }
    }
}

/// The `--since` of `mapquiz audit`: an instant, or an age counted back from now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    At(Timestamp),
    Ago(chrono::TimeDelta),
}

impl Since {
    /// The instant this names, `now` being now.
    pub fn instant(self, now: Timestamp) -> Timestamp {
        match self {
            Since::At(t) => t,
            Since::Ago(d) => now.plus(-d),
        }
    }
}

/// Parses an RFC 3339 time or an age: a whole number followed by `s`, `m`, `h`, `d` or `w`.
pub fn parse_since(s: &str) -> Result<Since, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Since::At(Timestamp::from_datetime(t.to_utc())));
    }
    let invalid = || format!("{s:?} is neither an RFC 3339 time (2026-11-20T08:00:00Z) nor an age (30m, 24h, 7d, 2w)");
    let split = s.len().checked_sub(1).filter(|&i| s.is_char_boundary(i)).ok_or_else(invalid)?;
    let (count, unit) = s.split_at(split);
    let count: i64 = count.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    // At most about 100 years back: past that it is a typo, and chrono's range is not far.
    let secs = count.checked_mul(seconds).filter(|s| (0..=3_200_000_000).contains(s)).ok_or_else(invalid)?;
    Ok(Since::Ago(chrono::TimeDelta::seconds(secs)))
}

/// Migration commands.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration
    Up,
    /// Revert the N most recent migrations (their tables and data are dropped)
    Down {
        /// How many migrations to revert
        #[arg(default_value_t = 1)]
        steps: usize,
        /// Revert every migration, leaving an empty database
        #[arg(long, conflicts_with = "steps")]
        all: bool,
        /// Confirm, in the production profile, that data may be dropped
        #[arg(long)]
        yes: bool,
    },
    /// List migrations and whether each is applied
    Status,
}

/// Reports an unusable configuration on standard error; exit status 2.
#[allow(clippy::print_stderr)] // before logging exists: the terminal is the only place to say it
pub fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("mapquiz: invalid configuration");
    for line in &e.0 {
        eprintln!("  {line}");
    }
    ExitCode::from(2)
}

/// `mapquiz config`.
#[allow(clippy::print_stdout)] // the command's output
pub fn print_config(config: &Config) {
    print!("{}", config.to_redacted_toml());
}

/// `mapquiz migrate …`.
#[allow(clippy::print_stdout)] // the command's output
pub async fn migrate(config: Config, action: MigrateAction) -> anyhow::Result<()> {
    if let MigrateAction::Down { yes: false, .. } = action
        && config.is_production()
    {
        anyhow::bail!("`migrate down` drops tables and their data; in production confirm with --yes");
    }
    let store = mapquiz_store::connect(&config.database.connect_options())
        .await
        .with_context(|| format!("cannot open the database {}", config.database.url.redacted()))?;
    let result = async {
        match action {
            MigrateAction::Up => {
                let applied = store.migrate_up().await?;
                if applied.is_empty() {
                    println!("up to date: nothing to apply");
                }
                for m in applied {
                    println!("applied  {:04} {}", m.version, m.description);
                }
            }
            MigrateAction::Down { steps, all, .. } => {
                let reverted = store.migrate_down(if all { usize::MAX } else { steps }).await?;
                if reverted.is_empty() {
                    println!("nothing to revert");
                }
                for m in reverted {
                    println!("reverted {:04} {}", m.version, m.description);
                }
            }
            MigrateAction::Status => {
                println!("database: {}", config.database.url.redacted());
                for m in store.migration_status().await? {
                    println!(
                        "{:04} {:<12} {}",
                        m.version,
                        if m.applied { "applied" } else { "pending" },
                        m.description
                    );
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

/// A command refused before it changed anything, with what to do instead: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Reports a refused command on standard error; exit status 2.
#[allow(clippy::print_stderr)] // the command's answer, for the operator at the terminal
pub fn refused(e: &Refused) -> ExitCode {
    eprintln!("mapquiz: {e}");
    ExitCode::from(2)
}

/// Writes one line of a command's output to standard output.
pub fn say(line: &str) -> std::io::Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")
}

/// Opens the configured database for an operator command.
async fn open(config: &Config) -> anyhow::Result<DynStore> {
    mapquiz_store::connect(&config.database.connect_options())
        .await
        .with_context(|| format!("cannot open the database {}", config.database.url.redacted()))
}

/// Opens the configured database for an operator command; refuses one with pending migrations (their
/// tables may be missing) rather than migrating it behind the operator's back.
pub async fn open_migrated(config: &Config) -> anyhow::Result<DynStore> {
    let store = open(config).await?;
    let pending = match store.migration_status().await {
        Ok(status) => status.iter().filter(|m| !m.applied).count(),
        Err(e) => {
            store.close().await;
            return Err(e).context("cannot read the migration status");
        }
    };
    if pending > 0 {
        store.close().await;
        anyhow::bail!("the database has {pending} pending migration(s): run `mapquiz migrate up` first");
    }
    Ok(store)
}

/// Opens the configured database for a command that fills it (`seed-demo`, `import-original`), applying
/// pending migrations first.
pub async fn open_and_migrate(config: &Config) -> anyhow::Result<DynStore> {
    let store = open(config).await?;
    if let Err(e) = store.migrate_up().await {
        store.close().await;
        return Err(e).context("cannot apply database migrations");
    }
    Ok(store)
}

/// `mapquiz audit`: one line per entry, newest first. Details never hold secrets; user agents are left out.
pub async fn audit(config: Config, user: Option<String>, since: Option<Since>, limit: u32) -> anyhow::Result<()> {
    let store = open_migrated(&config).await?;
    let now = Timestamp::from_datetime(chrono::Utc::now());
    let since = since.map_or(Timestamp::from_millis(0).unwrap_or(now), |s| s.instant(now));
    let result = async {
        let entries = store.audit_since(user.as_deref(), since, limit.min(AUDIT_LIMIT_MAX)).await?;
        for e in &entries {
            let details = e.details.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string);
            say(&format!(
                "{}  {}  user={}  target={}  ip={}  {details}",
                e.occurred_at.to_iso(),
                e.action,
                e.user_id.as_deref().unwrap_or("-"),
                e.target_id.as_deref().unwrap_or("-"),
                e.ip_address.as_deref().unwrap_or("-"),
            ))?;
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn since_is_a_time_or_an_age() {
        let now = Timestamp::from_millis(1_764_000_000_000).unwrap();
        let at = parse_since("2025-11-24T16:00:00+01:00").unwrap();
        assert_eq!(at.instant(now).to_iso(), "2025-11-24T15:00:00.000Z");
        assert_eq!(parse_since("90s").unwrap().instant(now).millis(), now.millis() - 90_000);
        assert_eq!(parse_since("7d").unwrap().instant(now).millis(), now.millis() - 7 * 86_400_000);
        assert_eq!(parse_since("2w").unwrap(), parse_since("14d").unwrap());
        for bad in ["", "d", "7", "7y", "-1d", "1.5h", "yesterday", "99999999999w", "7é"] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
    }
}
