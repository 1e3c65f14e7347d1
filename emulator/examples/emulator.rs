//! Runs the emulator exactly as `mortar emulator` does: parses
//! `EmulatorArgs`, prints `listening on http://HOST:PORT` (and `token: T`
//! when it generated one) once serving, stops on SIGINT or SIGTERM.

use std::io::Write;

use clap::Parser;
use emulator::{Emulator, EmulatorArgs};

#[derive(Parser)]
#[command(
    name = "emulator",
    about = "A local Databricks workspace speaking the real REST API"
)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Cli::parse().args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", config.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let served = Emulator::serve_with_ready(
        listener,
        config,
        shutdown_signal(),
        |url, token, generated| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {url}");
            if generated {
                let _ = writeln!(out, "token: {token}");
            }
            let _ = out.flush();
        },
    )
    .await;
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers now (before "listening on" is
/// printed, so a signal sent right after it is never missed) and returns
/// the future that resolves on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            match handlers {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
