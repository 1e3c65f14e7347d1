//! `mortar`: one binary for the web app, the REST API, the executor and the
//! embedded Databricks emulator.

use std::process::ExitCode;

use clap::Parser;
use server::config::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return server::config::exit_on_usage_error(error),
    };
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mortar: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => server::serve_main(args).await,
            Command::Run(args) => server::run_cli::run_main(args).await,
            Command::Emulator(args) => server::emulator_main(args).await,
            Command::Validate(args) => Ok(server::validate_cli::validate_main(&args)),
            Command::Schema => Ok(server::validate_cli::schema_main()),
            Command::Users(args) => server::auth::users_cli::users_main(args).await,
            Command::Secrets(command) => server::secrets::secrets_main(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("mortar: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr so that stdout carries only what scripts read
/// (`listening on …`). `RUST_LOG` overrides the default level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
