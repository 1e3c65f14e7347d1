//! The `mortar` server: configuration, the axum router (web app, REST API,
//! site assets) and the process life cycle. Integration tests start it
//! through [`run`] on a listener bound to port 0.

pub mod api;
mod assets;
pub mod auth;
pub mod config;
pub mod connection;
mod error;
mod guard;
mod rpc;
pub mod run_cli;
pub mod secrets;
mod tenants;
pub mod validate_cli;

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use engine::executor::Executor;
use engine::executor::SecretSource;
use engine::logs::LogPipeline;
use engine::secret_store::SecretStore;
use engine::storage::Storage;
use engine::store::Store;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;

use crate::config::ServeArgs;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub storage: Storage,
    pub logs: Arc<LogPipeline>,
    pub executor: Executor,
    /// The namespace secrets: list, set (with who set it) and delete, for
    /// the secrets API and page; the executor reads the same object, so a
    /// change made through it is seen by the next task at once.
    pub secrets: SecretStore,
    /// The Databricks connection tasks use unless they name their own.
    pub databricks: Option<DefaultConnection>,
    pub plans: Plans,
    /// The largest FILE input upload, in bytes (`--max-upload`).
    pub max_upload: u64,
    /// How long a request's head may take, and an idle connection last
    /// (`--header-timeout`).
    pub header_timeout: std::time::Duration,
    /// The host names it answers to besides the loopback ones.
    pub hosts: guard::Hosts,
    /// Logins: the setup link, the lockout.
    pub auth: Arc<auth::Auth>,
}

pub use engine::plan::Plans;

/// The default Databricks connection and where it came from.
#[derive(Clone, Debug)]
pub struct DefaultConnection {
    pub connection: engine::databricks::Connection,
    /// The emulator inside this process, not a real workspace.
    pub embedded: bool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The name the browser bundle's files carry: `pkg/mortar.js`,
/// `pkg/mortar_bg.wasm`, `pkg/mortar.css`.
pub const OUTPUT_NAME: &str = "mortar";

impl AppState {
    /// The state of a server whose data lives in `data_dir`; starts the log
    /// writer, so it must be called inside the tokio runtime.
    pub fn new(
        store: Store,
        data_dir: &Path,
        secrets: SecretSource,
        databricks: Option<DefaultConnection>,
    ) -> Self {
        Self::with_limits(
            store,
            data_dir,
            secrets,
            databricks,
            &config::LimitArgs::default(),
            engine::executor::ServerVariables::default(),
        )
    }

    /// As [`AppState::new`], with the bounds set on the command line.
    pub fn with_limits(
        store: Store,
        data_dir: &Path,
        secrets: SecretSource,
        databricks: Option<DefaultConnection>,
        limits: &config::LimitArgs,
        variables: engine::executor::ServerVariables,
    ) -> Self {
        Self::for_node(
            store,
            &data_dir.join("storage"),
            secrets,
            databricks,
            limits,
            variables,
            None,
        )
    }

    /// As [`AppState::with_limits`], for a node of a deployment (its roles
    /// decide whether it runs what it launches) with internal storage in
    /// `storage_dir`.
    pub fn for_node(
        store: Store,
        storage_dir: &Path,
        secrets: SecretSource,
        databricks: Option<DefaultConnection>,
        limits: &config::LimitArgs,
        variables: engine::executor::ServerVariables,
        node: Option<engine::cluster::NodeSettings>,
    ) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name(OUTPUT_NAME)
            .site_pkg_dir("pkg")
            .build();
        let (logs, _writer) = LogPipeline::with_max_line(store.clone(), limits.max_log_line);
        let storage = Storage::new(storage_dir.to_owned());
        let plans = Plans::default();
        let services = engine::task::Services {
            store: store.clone(),
            storage: storage.clone(),
            logs: logs.sender(),
        };
        let runners = runners(
            databricks.as_ref(),
            limits.allowed_hosts.clone().unwrap_or_default(),
        );
        let namespace_secrets = SecretStore::new(store.clone());
        let settings = engine::executor::Settings {
            variables,
            render_limits: limits.render_limits(),
            namespace_secrets: Some(namespace_secrets.clone()),
            node,
            plans: plans.clone(),
        };
        let executor = Executor::with_settings(services, runners, secrets, settings);
        Self {
            leptos_options,
            store,
            storage,
            logs: Arc::new(logs),
            executor,
            secrets: namespace_secrets,
            databricks,
            plans,
            max_upload: limits.max_upload,
            header_timeout: std::time::Duration::from_secs(limits.header_timeout),
            hosts: guard::Hosts::default(),
            auth: Arc::new(auth::Auth::default()),
        }
    }

    /// Resumes the executions that were under way when Mortar stopped.
    pub async fn recover(&self) -> anyhow::Result<usize> {
        // The plans of the flow revisions those executions ran, read first:
        // `recover` looks them up without waiting.
        let mut plans = std::collections::HashMap::new();
        for id in self.store.unfinished_executions().await? {
            let Some(execution) = self.store.get_execution(&id).await? else {
                continue;
            };
            let key = (
                execution.namespace.clone(),
                execution.flow_id.clone(),
                execution.flow_revision,
            );
            if plans.contains_key(&key) {
                continue;
            }
            let source = self
                .store
                .flow_revision_source(&key.0, &key.1, key.2)
                .await?;
            if let Some(plan) = source.and_then(|s| {
                self.plans
                    .get(key.0.as_str(), key.1.as_str(), key.2, &s)
                    .ok()
            }) {
                plans.insert(key, plan);
            }
        }
        Ok(self
            .executor
            .recover(|e| {
                plans
                    .get(&(e.namespace.clone(), e.flow_id.clone(), e.flow_revision))
                    .cloned()
            })
            .await?)
    }
}

/// `mortar serve`: opens the store, binds, prints `listening on …`, serves
/// until SIGINT or SIGTERM.
pub async fn serve_main(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = match secrets::open_store(&args.data_dir, &args.key).await {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let databricks = match databricks_connection(
        &args.databricks,
        Some(&args.data_dir.join("emulator")),
    )
    .await
    {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            return Ok(config::config_error(format_args!(
                "--listen {}: {error}",
                args.listen
            )));
        }
    };
    tracing::info!(host = %databricks.default.connection.host, embedded = databricks.default.embedded, "default Databricks connection");
    let address = listener.local_addr()?;
    tracing::info!(data_dir = %args.data_dir.display(), "store open");
    let shutdown = shutdown_signal();
    // Scripts and tests wait for this exact line on stdout.
    println!("listening on http://{address}");
    let variables = match args.variables.load(Some(format!("http://{address}/"))) {
        Ok(variables) => variables,
        Err(message) => return Ok(config::config_error(message)),
    };
    let roles = match engine::cluster::Roles::parse(&args.node.roles) {
        Ok(roles) => roles,
        Err(message) => return Ok(config::config_error(message)),
    };
    if roles != engine::cluster::Roles::ALL && !store.is_postgres() {
        return Ok(config::config_error(
            "--roles: nodes with some of the roles share a PostgreSQL database; give --database postgres://… (one node on SQLite runs every role)",
        ));
    }
    let node = engine::cluster::NodeSettings::new(roles);
    let storage_dir = args
        .node
        .storage_dir
        .clone()
        .unwrap_or_else(|| args.data_dir.join("storage"));
    let mut state = AppState::for_node(
        store.clone(),
        &storage_dir,
        secrets::from_env(std::env::vars()),
        Some(databricks.default.clone()),
        &args.limits,
        variables,
        Some(node.clone()),
    );
    state.hosts = guard::Hosts::new(args.variables.url.as_deref(), Some(address));
    // Every secret decrypts now, or the server says so before it runs
    // anything.
    state.secrets.refresh().await?;
    let public_url = args
        .variables
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    state.auth = Arc::new(auth::Auth::new(public_url.starts_with("https://")));
    if store.count_users().await? == 0 {
        let secret = auth::new_setup_token(&store).await?;
        // On stdout, beside `listening on`: the one line a first user needs.
        println!(
            "setup: no user exists yet; open {}/setup?token={secret} within 30 minutes to create the first admin (or run `mortar users add NAME --role admin --password-stdin`)",
            public_url.trim_end_matches('/')
        );
    }
    // One node on SQLite takes back everything under way (its previous
    // process is gone); on PostgreSQL, executors claim what no live node
    // runs.
    if !store.is_postgres() {
        let resumed = state.recover().await?;
        if resumed > 0 {
            tracing::info!(resumed, "resumed the executions that were under way");
        }
    }
    let logs = state.logs.sender();
    let executor = state.executor.clone();
    let stop_scheduler = tokio_util::sync::CancellationToken::new();
    let cluster = engine::cluster::run(
        store.clone(),
        executor.clone(),
        state.logs.clone(),
        node.clone(),
        stop_scheduler.clone(),
    )
    .await?;
    tracing::info!(node = %node.id, roles = %roles.names().join(","), database = %if store.is_postgres() { "postgres" } else { "sqlite" }, "node registered");
    let (scheduler, flow_triggers) = if roles.scheduler {
        (
            Some(engine::scheduler::spawn(
                store.clone(),
                executor.clone(),
                stop_scheduler.clone(),
            )),
            Some(engine::flow_triggers::spawn(
                store.clone(),
                executor.clone(),
                stop_scheduler.clone(),
            )),
        )
    } else {
        (None, None)
    };
    if roles.web {
        run(listener, state, shutdown).await?;
    } else {
        run_health_only(listener, state, shutdown).await?;
    }
    stop_scheduler.cancel();
    for task in [scheduler, flow_triggers].into_iter().flatten() {
        let _ = task.await;
    }
    let _ = cluster.await;
    // Running executions stop where they are; their release lets another
    // node (or the next start) resume them at once.
    executor.shutdown().await;
    if let Err(error) = store.stop_node(&node.id).await {
        tracing::warn!(%error, "cannot mark this node stopped; its executions wait for its lease to end");
    }
    logs.flush().await;
    if let Some(embedded) = databricks.embedded {
        embedded.shutdown().await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Serves the app on `listener` until `shutdown` completes, then lets
/// in-flight requests finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = state.header_timeout;
    // Tenant paths are rewritten before routing (a layer on the router
    // would run after it).
    let app = tower::Layer::layer(&axum::middleware::from_fn(tenants::strip), router(state));
    serve_on(listener, app, header_timeout, shutdown).await
}

/// Serves only `GET /api/v1/health` (what a load balancer or an
/// orchestrator probes): a node without the web role.
pub async fn run_health_only(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = state.header_timeout;
    let app = Router::new()
        .nest("/api/v1", api::health_router())
        .with_state(state);
    serve_on(listener, app, header_timeout, shutdown).await
}

async fn serve_on<S>(
    listener: TcpListener,
    app: S,
    header_timeout: std::time::Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: tower::Service<
            axum::http::Request<axum::body::Body>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    // Out of file descriptors and the like: wait, as
                    // axum::serve does, rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Pages stream in chunks: with Nagle's algorithm on, a chunk written
        // while the previous one waits for its (delayed) ACK stalls ~40 ms.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
        }
        let peer = tcp.peer_addr().ok();
        let service =
            app.clone()
                .map_request(move |request: axum::http::Request<hyper::body::Incoming>| {
                    let mut request = request.map(axum::body::Body::new);
                    if let Some(peer) = peer {
                        request
                            .extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        request
                            .extensions_mut()
                            .insert(engine::auth::Address(peer.ip()));
                    }
                    request
                });
        // The timer starts when the connection waits for a request head, so
        // it also closes a keep-alive connection left idle.
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(
                TokioIo::new(tcp),
                hyper_util::service::TowerToHyperService::new(service),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    // Requests under way finish; live streams end with the executions'
    // shutdown. Past 10 s the rest are dropped.
    if tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open 10 s after the shutdown signal were dropped");
    }
    Ok(())
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let context = state.clone();
    let options = state.leptos_options.clone();
    Router::new()
        .route(
            "/login",
            axum::routing::get(auth::pages::login_page).post(auth::pages::login),
        )
        .route(
            "/setup",
            axum::routing::get(auth::pages::setup_page).post(auth::pages::setup),
        )
        .route("/logout", axum::routing::post(auth::pages::logout))
        .nest("/api/v1", api::router())
        .leptos_routes_with_context(
            &state,
            routes,
            // Server functions take what they need from the context: the
            // store, the executor, internal storage and the log pipeline.
            move || {
                provide_context(context.store.clone());
                provide_context(context.executor.clone());
                provide_context(context.storage.clone());
                provide_context(context.logs.clone());
                provide_context(context.secrets.clone());
            },
            move || app::shell(options.clone()),
        )
        .fallback(assets::asset_or_not_found)
        .layer(axum::middleware::from_fn(rpc::client_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.hosts.clone(),
            guard::check,
        ))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// Every task type this server runs: the core tasks and the Databricks
/// tasks on the default connection, which may call other workspaces on
/// `allowed` (`--allowed-hosts`).
pub fn runners(
    databricks: Option<&DefaultConnection>,
    allowed: engine::base_url::AllowedHosts,
) -> engine::task::Runners {
    let warehouse = std::env::var("DATABRICKS_WAREHOUSE_ID")
        .ok()
        .filter(|w| !w.trim().is_empty());
    engine::task::Runners::new(engine::task::databricks::Databricks::new(
        databricks.map(|d| d.connection.clone()),
        warehouse,
        Default::default(),
        allowed,
    ))
}

/// The default connection, and the embedded emulator behind it when no
/// Databricks is configured (keep it alive as long as it is used).
pub struct ResolvedDatabricks {
    pub default: DefaultConnection,
    pub embedded: Option<emulator::EmulatorHandle>,
}

/// Reads the DATABRICKS_* settings; with none, starts the emulator inside
/// this process (its files under `emulator_dir`, or in memory). A bad
/// setting is reported as a configuration error (exit status 2).
pub async fn databricks_connection(
    args: &config::DatabricksArgs,
    emulator_dir: Option<&Path>,
) -> Result<ResolvedDatabricks, ExitCode> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let configured = connection::resolve(|name| std::env::var(name).ok(), home.as_deref())
        .map_err(config::config_error)?;
    if let Some(connection) = configured {
        return Ok(ResolvedDatabricks {
            default: DefaultConnection {
                connection,
                embedded: false,
            },
            embedded: None,
        });
    }
    if !(args.emulator_time_scale.is_finite() && args.emulator_time_scale >= 0.0) {
        return Err(config::config_error(format_args!(
            "--emulator-time-scale {}: use a number >= 0",
            args.emulator_time_scale
        )));
    }
    let config = emulator::EmulatorConfig {
        data_dir: emulator_dir.map(Path::to_owned),
        time_scale: args.emulator_time_scale,
        ..Default::default()
    };
    let handle = emulator::Emulator::start(config).await.map_err(|error| {
        config::config_error(format_args!(
            "the embedded Databricks emulator cannot start: {error}"
        ))
    })?;
    let connection = engine::databricks::Connection {
        host: handle.url(),
        auth: engine::databricks::Auth::Token(engine::secret::Secret::new(handle.token())),
    };
    Ok(ResolvedDatabricks {
        default: DefaultConnection {
            connection,
            embedded: true,
        },
        embedded: Some(handle),
    })
}

/// `mortar emulator`: serves the Databricks emulator until SIGINT or
/// SIGTERM; prints `listening on …` (and the token it made, if it made one).
pub async fn emulator_main(args: emulator::EmulatorArgs) -> anyhow::Result<ExitCode> {
    let config = match args.into_config() {
        Ok(config) => config,
        Err(error) => return Ok(config::config_error(error)),
    };
    let listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            return Ok(config::config_error(format_args!(
                "--listen {}: {error}",
                config.listen
            )));
        }
    };
    emulator::Emulator::serve_with_ready(
        listener,
        config,
        shutdown_signal(),
        |url, token, generated| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {url}");
            if generated {
                let _ = writeln!(out, "token: {token}");
            }
            let _ = out.flush();
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT (Ctrl+C) or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled: a signal that
/// arrives between `listening on` and the first poll still stops the server
/// cleanly instead of killing it.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                    _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
                    _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
                },
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(%error, "cannot listen for signals; stop with SIGKILL");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
