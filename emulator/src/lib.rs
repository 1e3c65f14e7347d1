//! A local Databricks workspace speaking the real REST API (see
//! `../shared/databricks-api.md`), so the official Python SDK and Airflow's
//! provider work against it unchanged.
//!
//! Entry points: [`Emulator::start`] (bind, serve in the background, return a
//! handle) and [`Emulator::serve`] (for callers that own the listener).
//! [`EmulatorArgs`] is the `mortar emulator` command line.
//!
//! Invariants: no lock is ever held across an `.await`; every background task
//! (cluster and run life cycles, statements) is owned by one `TaskTracker` and
//! stops when the emulator shuts down; bad input answers an error envelope and
//! never panics.

mod app;
mod auth;
mod clock;
mod clusters;
mod commands;
mod dbfs;
mod error;
mod faults;
mod files;
mod fs;
mod genie;
mod jobs;
mod lakebase;
mod lenient;
mod proxy;
mod runner;
mod sample;
mod sandbox;
mod shard;
mod sql;
mod sql_gateway;
mod statements;
mod thrift;
mod unity;
mod warehouses;
mod workspace;
mod zerobus;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use faults::{FaultRule, FaultStatus};

/// Everything an emulator needs to start. `Default` is an in-memory
/// workspace on a random local port with one generated token.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Personal access tokens accepted as `Bearer`. Empty: one `dapi…`
    /// token is generated (see [`EmulatorHandle::token`]).
    pub tokens: Vec<String>,
    /// OAuth M2M service principals as (client id, client secret).
    pub oauth_clients: Vec<(String, String)>,
    /// Multiplies every simulated duration: 1.0 starts a cluster in a few
    /// seconds, 0.001 in milliseconds, 0 makes transitions immediate.
    pub time_scale: f64,
    /// Where DBFS and volume files are kept; `None` keeps them in memory.
    pub data_dir: Option<PathBuf>,
    /// Fault rules active from the start.
    pub faults: Vec<FaultRule>,
    /// A PostgreSQL server (a URL whose user may create roles) that Lakebase
    /// endpoints are: a credential makes the caller a role of it.
    pub lakebase_postgres: Option<String>,
    /// Where to write the certificate of the CA behind the HTTPS proxy.
    pub ca_cert: Option<PathBuf>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: Vec::new(),
            oauth_clients: Vec::new(),
            time_scale: 1.0,
            data_dir: None,
            faults: Vec::new(),
            lakebase_postgres: None,
            ca_cert: None,
        }
    }
}

/// The `mortar emulator` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// A personal access token to accept (repeatable). Without one, a token is generated and printed.
    #[arg(long = "token", value_name = "T")]
    pub tokens: Vec<String>,
    /// An OAuth M2M client as ID:SECRET (repeatable).
    #[arg(long = "oauth-client", value_name = "ID:SECRET")]
    pub oauth_clients: Vec<String>,
    /// Multiplies simulated durations: 1 = a cluster starts in seconds, 0.001 = milliseconds, 0 = at once.
    #[arg(long, default_value = "1")]
    pub time_scale: String,
    /// Keep DBFS and volume files in this directory instead of memory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Share of requests (0..1) answered with --fault-status.
    #[arg(long)]
    pub fault_rate: Option<String>,
    /// Status of injected faults: 429, 500, 503 or drop.
    #[arg(long, default_value = "503")]
    pub fault_status: String,
    /// A PostgreSQL server, postgres://user@host:port/db with a user that
    /// may create roles, that Lakebase endpoints hand out.
    #[arg(long, value_name = "URL")]
    pub lakebase_postgres: Option<String>,
    /// Write the certificate of the emulator's CA here. Clients that
    /// trust it can reach the emulator as https://<any host> through
    /// HTTPS_PROXY=<the emulator's URL>.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// A flag value that does not make sense; the message names the flag.
#[derive(Debug, thiserror::Error)]
#[error("--{flag}: {message}")]
pub struct ArgsError {
    pub flag: &'static str,
    pub message: String,
}

impl EmulatorArgs {
    /// Checks every value and builds the configuration.
    pub fn into_config(self) -> Result<EmulatorConfig, ArgsError> {
        let bad = |flag, message: String| ArgsError { flag, message };
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            bad(
                "listen",
                format!("`{}` is not an address like 127.0.0.1:8080", self.listen),
            )
        })?;
        let mut oauth_clients = Vec::new();
        for c in &self.oauth_clients {
            match c.split_once(':') {
                Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                    oauth_clients.push((id.to_owned(), secret.to_owned()))
                }
                _ => return Err(bad("oauth-client", format!("`{c}` is not ID:SECRET"))),
            }
        }
        if let Some(t) = self
            .tokens
            .iter()
            .find(|t| t.trim().is_empty() || t.contains(char::is_whitespace))
        {
            return Err(bad(
                "token",
                format!("`{t}` is empty or contains whitespace"),
            ));
        }
        let time_scale: f64 = match self.time_scale.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => x,
            _ => {
                return Err(bad(
                    "time-scale",
                    format!("`{}` is not a number >= 0", self.time_scale),
                ));
            }
        };
        let status: FaultStatus = self
            .fault_status
            .parse()
            .map_err(|e: String| bad("fault-status", e))?;
        let mut faults = Vec::new();
        if let Some(rate) = &self.fault_rate {
            let rate = match rate.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    return Err(bad(
                        "fault-rate",
                        format!("`{rate}` is not a number between 0 and 1"),
                    ));
                }
            };
            faults.push(FaultRule {
                path: "/api/**".to_owned(),
                method: None,
                rate,
                status: Some(status),
                retry_after_seconds: Some(1),
                latency_ms: None,
            });
        }
        Ok(EmulatorConfig {
            listen,
            tokens: self.tokens,
            oauth_clients,
            time_scale,
            data_dir: self.data_dir,
            faults,
            lakebase_postgres: self.lakebase_postgres,
            ca_cert: self.ca_cert,
        })
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid fault rule: {0}")]
    Fault(String),
    #[error("the embedded SQL engine failed to start: {0}")]
    Sql(String),
    #[error("the emulator's certificate authority: {0}")]
    Tls(String),
    #[error("cannot write the CA certificate to {path}: {source}")]
    CaCert {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// The emulator's entry points.
pub struct Emulator;

impl Emulator {
    /// Binds `config.listen`, serves in the background and returns a handle.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let state = app::State::new(config, url.clone()).await?;
        let token = state.first_token();
        let ca_pem = state.authority.ca_pem().to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Ok(EmulatorHandle {
            url,
            token,
            ca_pem,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Serves on a listener the caller owns until `shutdown` resolves, then
    /// stops the background work and returns.
    pub async fn serve(
        listener: tokio::net::TcpListener,
        config: EmulatorConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EmulatorError> {
        let addr = listener.local_addr()?;
        let state = app::State::new(config, format!("http://{addr}")).await?;
        app::serve(listener, state, shutdown).await
    }

    /// Like [`Emulator::serve`], but also reports the URL and the token
    /// that works once serving (what `mortar emulator` prints).
    pub async fn serve_with_ready(
        listener: tokio::net::TcpListener,
        config: EmulatorConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
        ready: impl FnOnce(&str, &str, bool),
    ) -> Result<(), EmulatorError> {
        let addr = listener.local_addr()?;
        let generated = config.tokens.is_empty();
        let url = format!("http://{addr}");
        let state = app::State::new(config, url.clone()).await?;
        ready(&url, &state.first_token(), generated);
        app::serve(listener, state, shutdown).await
    }
}

/// A running emulator. Dropping it without [`EmulatorHandle::shutdown`]
/// also stops it.
pub struct EmulatorHandle {
    url: String,
    token: String,
    ca_pem: String,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), EmulatorError>>>,
}

impl EmulatorHandle {
    /// Base URL such as `http://127.0.0.1:PORT` (the Databricks host).
    pub fn url(&self) -> String {
        self.url.clone()
    }
    /// A personal access token the emulator accepts.
    pub fn token(&self) -> &str {
        &self.token
    }
    /// The certificate (PEM) of the CA behind the HTTPS proxy: trust it
    /// and set HTTPS_PROXY to [`EmulatorHandle::url`] to reach the
    /// emulator as `https://<any host>`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Stops serving and waits for the background work to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take()
            && let Ok(Err(e)) = task.await
        {
            tracing::warn!(error = %e, "emulator stopped with an error");
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Shared by the modules: the state every handler sees.
pub(crate) type Shared = Arc<app::State>;
