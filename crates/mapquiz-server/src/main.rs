//! `mapquiz`: parse the command line, load the configuration, set up logging, run the command.

use clap::Parser;
use mapquiz_server::cli::{self, Cli, Command};
use mapquiz_server::config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => return cli::config_error(&e),
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Config = command {
        cli::print_config(&config);
        return ExitCode::SUCCESS;
    }
    if let Err(e) = mapquiz_server::telemetry::init(&config.log) {
        return cli::config_error(&mapquiz_server::config::ConfigError(vec![format!("`log_level`: {e}")]));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve | Command::Config => mapquiz_server::app::run(config).await,
            Command::Migrate { action } => cli::migrate(config, action).await,
            Command::SeedDemo { players, scores, days, seed } => {
                mapquiz_server::ops::seed::run(
                    config,
                    mapquiz_server::ops::seed::SeedPlan { players, scores, days, seed },
                )
                .await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "mapquiz stopped on an error");
            ExitCode::FAILURE
        }
    }
}
