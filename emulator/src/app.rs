//! The shared state, the router and the serve loop.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::lenient::MAX_JSON_BODY;
use crate::shard::Sharded;
use crate::{
    EmulatorConfig, EmulatorError, Shared, auth, clusters, dbfs, faults, files, jobs, sample,
};
use crate::{statements, warehouses, workspace};

pub(crate) struct State {
    pub url: String,
    pub workspace_id: i64,
    pub clock: Clock,
    pub tokens: HashSet<String>,
    first_token: String,
    pub oauth_clients: HashMap<String, String>,
    pub oauth_tokens: Sharded<String, (Instant, String)>,
    pub faults: RwLock<Vec<faults::Compiled>>,
    pub clusters: Sharded<String, clusters::Cluster>,
    pub fs: crate::fs::Fs,
    pub workspace: workspace::Workspace,
    pub warehouses: Sharded<String, warehouses::Warehouse>,
    pub statements: Sharded<String, statements::Statement>,
    /// Approximate bytes of statement results kept (see statements::shrink).
    pub result_bytes: std::sync::atomic::AtomicUsize,
    /// Approximate number of statements kept (see statements::sweep).
    pub statement_count: std::sync::atomic::AtomicUsize,
    pub sql: crate::sql::Engine,
    pub jobs: Sharded<i64, jobs::Job>,
    pub runs: Sharded<i64, jobs::Run>,
    pub idempotency: Sharded<String, i64>,
    /// Task run id -> its parent run id (runs/get-output takes task runs).
    pub task_runs: Sharded<i64, i64>,
    pub dbfs_handles: Sharded<i64, dbfs::Handle>,
    /// Command Execution API 1.2: contexts and their commands, by id.
    pub contexts: Sharded<String, crate::commands::Context>,
    pub commands: Sharded<String, crate::commands::Command>,
    /// Unity Catalog: catalogs, schemas, tables, volumes, grants.
    pub unity: crate::unity::Unity,
    /// Genie's messages, by id.
    pub genie: Sharded<String, crate::genie::Message>,
    /// The CA behind the HTTPS proxy (proxy.rs).
    pub authority: crate::proxy::Authority,
    /// The SQL gateway's (Thrift) sessions and operations, by handle guid.
    pub sql_sessions: Sharded<String, crate::sql_gateway::Session>,
    pub sql_operations: Sharded<String, crate::sql_gateway::Operation>,
    /// The `run:task` keys `emulator_fail_once` has failed once.
    pub failed_once: Sharded<String, ()>,
    /// `--lakebase-postgres`: the server Lakebase endpoints are.
    pub lakebase: Option<String>,
    pub tasks: TaskTracker,
    pub cancel: CancellationToken,
    next_id: AtomicI64,
}

impl State {
    pub async fn new(config: EmulatorConfig, url: String) -> Result<Shared, EmulatorError> {
        let mut tokens: Vec<String> = config.tokens.clone();
        if tokens.is_empty() {
            tokens.push(format!("dapi{}", uuid::Uuid::new_v4().simple()));
        }
        let first_token = tokens[0].clone();
        let compiled = faults::compile(&config.faults).map_err(EmulatorError::Fault)?;
        let fs = crate::fs::Fs::open(config.data_dir.clone())?;
        let authority = crate::proxy::Authority::new()?;
        if let Some(path) = &config.ca_cert {
            std::fs::write(path, authority.ca_pem()).map_err(|source| EmulatorError::CaCert {
                path: path.clone(),
                source,
            })?;
        }
        let sql = crate::sql::Engine::open()
            .await
            .map_err(|e| EmulatorError::Sql(e.to_string()))?;
        let state = Arc::new(State {
            url,
            workspace_id: 1234567890123456,
            clock: Clock::new(config.time_scale),
            tokens: tokens.into_iter().collect(),
            first_token,
            oauth_clients: config.oauth_clients.into_iter().collect(),
            oauth_tokens: Sharded::new(),
            faults: RwLock::new(compiled),
            clusters: Sharded::new(),
            fs,
            workspace: workspace::Workspace::new(),
            warehouses: Sharded::new(),
            statements: Sharded::new(),
            result_bytes: std::sync::atomic::AtomicUsize::new(0),
            statement_count: std::sync::atomic::AtomicUsize::new(0),
            sql,
            jobs: Sharded::new(),
            runs: Sharded::new(),
            idempotency: Sharded::new(),
            task_runs: Sharded::new(),
            dbfs_handles: Sharded::new(),
            contexts: Sharded::new(),
            commands: Sharded::new(),
            unity: crate::unity::new(),
            genie: Sharded::new(),
            authority,
            sql_sessions: Sharded::new(),
            sql_operations: Sharded::new(),
            failed_once: Sharded::new(),
            lakebase: config.lakebase_postgres.clone(),
            tasks: TaskTracker::new(),
            cancel: CancellationToken::new(),
            next_id: AtomicI64::new(1),
        });
        sample::seed(&state);
        sample::seed_tables(&state).await;
        spawn_sweeper(&state);
        Ok(state)
    }

    pub fn first_token(&self) -> String {
        self.first_token.clone()
    }

    /// A fresh numeric id (jobs, runs, handles), unique in this emulator.
    pub fn next_id(&self) -> i64 {
        // Ids look like the service's (large, not 1, 2, 3) so a client that
        // confuses job and run ids is caught.
        1_000_000 + self.next_id.fetch_add(1, Ordering::Relaxed) * 7
    }

    /// Runs a background task owned by the emulator; it is cancelled at
    /// shutdown.
    pub fn spawn(self: &Arc<Self>, fut: impl Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => (),
                _ = fut => (),
            }
        });
    }
}

/// Forgets what the service would have forgotten (finished statements,
/// idle DBFS handles, expired OAuth tokens), so memory stays flat under a
/// long soak. Runs once a minute, off the request path.
fn spawn_sweeper(state: &Shared) {
    // A weak reference: the sweeper must not keep the state alive.
    let weak = Arc::downgrade(state);
    state.spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let Some(st) = weak.upgrade() else { return };
            statements::sweep(&st);
            dbfs::sweep(&st);
            crate::commands::sweep(&st);
            crate::sql_gateway::sweep(&st);
            // Genie's conversations are kept a day (of the emulator's clock).
            let day_ago = st.clock.now_ms() - 24 * 3600 * 1000;
            st.genie.retain(|m| m.created > day_ago);
            let now = Instant::now();
            st.oauth_tokens.retain(|(expiry, _)| *expiry > now);
        }
    });
}

pub(crate) fn router(state: Shared) -> Router {
    let mut r = Router::new()
        .route("/.well-known/databricks-config", get(auth::host_metadata))
        .route(
            "/oidc/.well-known/oauth-authorization-server",
            get(auth::discovery),
        )
        .route("/oidc/v1/token", post(auth::token))
        .route("/api/2.0/preview/scim/v2/Me", get(auth::me))
        .route("/emulator/ca.pem", get(crate::proxy::ca_pem))
        .route(
            "/emulator/faults",
            get(faults_get)
                .put(faults_put)
                .post(faults_put)
                .delete(faults_delete),
        );
    for v in ["2.0", "2.1"] {
        r = r.merge(clusters::routes(v));
    }
    for v in ["2.0", "2.1", "2.2"] {
        r = r.merge(jobs::routes(v));
    }
    r = r
        .merge(dbfs::routes())
        .merge(files::routes())
        .merge(workspace::routes())
        .merge(warehouses::routes())
        .merge(statements::routes())
        .merge(crate::sql_gateway::routes())
        .merge(crate::commands::routes())
        .merge(crate::unity::routes(&state))
        .merge(crate::genie::routes())
        .merge(crate::lakebase::routes())
        .merge(crate::zerobus::routes());
    r.fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::layer,
        ))
        .layer(axum::middleware::from_fn(log))
        .with_state(state)
}

/// One debug event per request (RUST_LOG=emulator=debug shows them).
async fn log(req: Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    resp
}

async fn not_found(req: Request) -> Response {
    let msg = format!("No API found for '{} {}'", req.method(), req.uri().path());
    ApiError::new(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", msg).into_response()
}

async fn faults_get(AxState(state): AxState<Shared>) -> Response {
    let rules: Vec<crate::FaultRule> = state
        .faults
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|c| c.rule.clone())
        .collect();
    axum::Json(serde_json::json!({ "rules": rules })).into_response()
}

/// Replaces the rules. Accepts a list, `{"rules": [...]}` or one rule.
async fn faults_put(AxState(state): AxState<Shared>, body: axum::body::Bytes) -> Response {
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return ApiError::malformed(format!("Invalid JSON: {e}")).into_response(),
    };
    let list = match value {
        serde_json::Value::Object(mut m) if m.contains_key("rules") => {
            m.remove("rules").unwrap_or_default()
        }
        v @ serde_json::Value::Object(_) => serde_json::Value::Array(vec![v]),
        v => v,
    };
    let rules: Vec<crate::FaultRule> = match serde_json::from_value(list) {
        Ok(r) => r,
        Err(e) => return ApiError::invalid(format!("Invalid fault rules: {e}")).into_response(),
    };
    match faults::compile(&rules) {
        Ok(c) => {
            *state.faults.write().unwrap_or_else(|e| e.into_inner()) = c;
            axum::Json(serde_json::json!({ "rules": rules })).into_response()
        }
        Err(e) => ApiError::invalid(e).into_response(),
    }
}

async fn faults_delete(AxState(state): AxState<Shared>) -> Response {
    state
        .faults
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    axum::Json(serde_json::json!({})).into_response()
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    // The same API answers plain requests and, through CONNECT, requests
    // inside a TLS tunnel (proxy.rs).
    let tunnel = crate::proxy::Tunnel {
        state: state.clone(),
        api: router(state.clone()),
    };
    let app = router(state.clone()).layer(axum::middleware::from_fn_with_state(
        tunnel,
        crate::proxy::connect,
    ));
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    state.cancel.cancel();
    state.tasks.close();
    state.tasks.wait().await;
    result.map_err(EmulatorError::Io)
}
