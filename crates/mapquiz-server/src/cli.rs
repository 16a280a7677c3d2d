//! The command line: `serve` (the default), `migrate`, `config`, `seed-demo`.

use crate::config::{Config, ConfigError};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    Serve,
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
