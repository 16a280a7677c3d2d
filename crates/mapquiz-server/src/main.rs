//! `mapquiz`: parse the command line, load the configuration, set up logging, run the command.

use clap::Parser;
use mapquiz_server::cli::{self, Cli, Command, ServeArgs};
use mapquiz_server::config::Config;
use std::process::ExitCode;

/// mimalloc rather than the system allocator: cheaper per allocation, and it hands freed memory back to the
/// system within milliseconds, so the resident size falls back once a load has passed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(|| Command::Serve(ServeArgs::default()));
    let role = match &command {
        Command::Serve(args) => args.role,
        _ => None,
    };
    let config = match Config::load_with_role(cli.config.as_deref(), role) {
        Ok(config) => config,
        Err(e) => return cli::config_error(&e),
    };
    if let Command::Config = command {
        cli::print_config(&config);
        return ExitCode::SUCCESS;
    }
    let telemetry = match mapquiz_server::telemetry::init(&config.log, config.otlp.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            return cli::config_error(&mapquiz_server::config::ConfigError(vec![format!("`log_level`: {e}")]));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve(_) | Command::Config => mapquiz_server::app::run(config).await,
            Command::Migrate { action } => cli::migrate(config, action).await,
            Command::SeedDemo { players, scores, days, seed } => {
                mapquiz_server::ops::seed::run(
                    config,
                    mapquiz_server::ops::seed::SeedPlan { players, scores, days, seed },
                )
                .await
            }
            Command::Maintenance { task } => mapquiz_server::ops::maintenance::run_cli(config, &task.tasks()).await,
            Command::Backup { file, force } => mapquiz_server::ops::backup::backup(config, file, force).await,
            Command::Restore { file, yes } => mapquiz_server::ops::backup::restore(config, file, yes).await,
            Command::Audit { user, since, limit } => cli::audit(config, user, since, limit).await,
            Command::ImportOriginal { from, dry_run, since, accept_skips, report } => {
                let now = mapquiz_domain::Timestamp::from_datetime(chrono::Utc::now());
                let since = since.map(|s| s.instant(now));
                let args = mapquiz_server::import::ImportArgs { from, dry_run, since, accept_skips, report };
                mapquiz_server::import::run(config, args).await
            }
        }
    });
    // The exporter's thread flushes what the runtime's last tasks recorded.
    drop(runtime);
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<cli::Refused>() => e.downcast_ref::<cli::Refused>().map_or(ExitCode::from(2), cli::refused),
        Err(e) if e.is::<mapquiz_server::import::RowsLeftOut>() => {
            tracing::warn!("{e}");
            ExitCode::from(3)
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "mapquiz stopped on an error");
            ExitCode::FAILURE
        }
    }
}
