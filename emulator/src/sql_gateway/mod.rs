//! The SQL warehouses' and clusters' Thrift endpoint: TCLIService (HiveServer2
//! with Databricks' extensions) over HTTP, what the Databricks SQL connector,
//! `dbsqlcli`, the JDBC and ODBC drivers and Airflow's DatabricksSqlHook
//! speak. A binary-protocol call is POSTed to the warehouse's HTTP path
//! (`/sql/1.0/warehouses/{id}`, or a cluster's
//! `/sql/protocolv1/o/{org}/{cluster}`) with the usual bearer token.
//!
//! Served: OpenSession, CloseSession, ExecuteStatement (with direct
//! results), GetOperationStatus, GetResultSetMetadata, FetchResults,
//! CancelOperation, CloseOperation, GetInfo, and the metadata operations
//! GetCatalogs, GetSchemas, GetTables and GetColumns (metadata.rs). Statements run on the same
//! SQL engine and Unity Catalog as the Statement Execution API; results are
//! column-based row sets (no Arrow, no cloud fetch), which every client
//! accepts. Field ids are TCLIService.thrift's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use thrift::protocol::TType;
use tokio_util::sync::CancellationToken;

mod metadata;
mod rowset;

use crate::Shared;
use crate::sql::Rows;
use crate::thrift::{Struct, Value};

/// How long ExecuteStatement waits for a result before answering with a
/// running operation the client then polls (the service waits a few
/// seconds too).
const DIRECT_WAIT: Duration = Duration::from_secs(5);
/// How long GetOperationStatus waits for a running statement to end.
const STATUS_HOLD: Duration = Duration::from_secs(1);
/// Rows per fetch when the client does not say.
const DEFAULT_FETCH: usize = 10_000;

// TCLIService's enums, as numbered in the IDL.
const SUCCESS: i32 = 0;
const ERROR: i32 = 3;
const INVALID_HANDLE: i32 = 4;
const COLUMN_BASED_SET: i32 = 1;
const EXECUTE_STATEMENT: i32 = 0;
const GET_CATALOGS: i32 = 2;
const GET_SCHEMAS: i32 = 3;
const GET_TABLES: i32 = 4;
const GET_COLUMNS: i32 = 6;
const SPARK_CLI_SERVICE_PROTOCOL_V7: i32 = 0xA507;
const FETCH_FIRST: i64 = 4;

/// What a session runs on.
#[derive(Debug, Clone)]
enum Target {
    Warehouse(String),
    Cluster(String),
}

#[derive(Clone)]
pub(crate) struct Session {
    target: Target,
    last_used: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpState {
    Pending = 7,
    Running = 1,
    Finished = 2,
    Canceled = 3,
    Error = 5,
}

impl OpState {
    fn running(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

#[derive(Clone)]
pub(crate) struct Operation {
    state: OpState,
    rows: Option<Arc<Rows>>,
    /// The next row FetchResults gives.
    offset: usize,
    error: Option<(String, &'static str)>,
    cancel: CancellationToken,
    started_ms: i64,
    completed_ms: i64,
    last_used: Instant,
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/sql/1.0/warehouses/{id}", post(warehouse))
        .route("/sql/1.0/endpoints/{id}", post(warehouse))
        .route("/sql/protocolv1/o/{org}/{cluster}", post(cluster))
}

async fn warehouse(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    serve(state, Target::Warehouse(id), body).await
}

async fn cluster(
    State(state): State<Shared>,
    Path((_org, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    serve(state, Target::Cluster(id), body).await
}

async fn serve(state: Shared, target: Target, body: Bytes) -> Response {
    let call = match crate::thrift::read_call(&body) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("This is a Thrift (TCLIService, binary protocol) endpoint: {e}"),
            )
                .into_response();
        }
    };
    let req = call.args.child(1).cloned().unwrap_or_default();
    let response = match call.method.as_str() {
        "OpenSession" => open_session(&state, target, &req),
        "CloseSession" => close_session(&state, &req),
        "ExecuteStatement" => execute(&state, &req).await,
        "GetOperationStatus" => {
            // Held while the statement runs, as the service holds it, so
            // a client polling without a pause does not spin.
            wait_while_running(&state, &req, STATUS_HOLD).await;
            with_op(&state, &req, |op| status_of(op))
        }
        "GetResultSetMetadata" => with_op(&state, &req, |op| metadata_of(op)),
        "FetchResults" => fetch(&state, &req),
        "CancelOperation" => cancel(&state, &req),
        "CloseOperation" => close_operation(&state, &req),
        "GetInfo" => get_info(&req),
        "GetCatalogs" | "GetSchemas" | "GetTables" | "GetColumns" => {
            metadata_operation(&state, &call.method, &req).await
        }
        other => {
            let text = format!("The emulator's SQL gateway does not serve {other}.");
            return thrift_body(crate::thrift::exception(other, call.seq, 1, &text));
        }
    };
    thrift_body(crate::thrift::reply(&call, response))
}

fn thrift_body(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-thrift")], bytes).into_response()
}

fn ok() -> Value {
    Value::Struct(Struct::new().with(1, Value::I32(SUCCESS)))
}

/// A response holding only a failed TStatus.
fn failed(code: i32, message: &str, sql_state: Option<&str>) -> Struct {
    let mut status = Struct::new()
        .with(1, Value::I32(code))
        .with(5, Value::str(message))
        .with(6, Value::str(message));
    if let Some(s) = sql_state {
        status = status.with(3, Value::str(s));
    }
    Struct::new().with(1, Value::Struct(status))
}

/// A fresh THandleIdentifier (guid, secret) and the guid as a key.
fn new_handle() -> (Value, String) {
    let guid = uuid::Uuid::new_v4();
    let secret = uuid::Uuid::new_v4();
    let id = Struct::new()
        .with(1, Value::Binary(guid.as_bytes().to_vec()))
        .with(2, Value::Binary(secret.as_bytes().to_vec()));
    (Value::Struct(id), guid.simple().to_string())
}

/// The key of the handle in field `field` of `req` (a session or an
/// operation handle, whose field 1 is the THandleIdentifier).
fn key_of(req: &Struct, field: i16) -> Option<String> {
    let guid = req.child(field)?.child(1)?.bytes(1)?;
    uuid::Uuid::from_slice(guid).ok().map(|u| u.simple().to_string())
}

const NO_SESSION: &str = "Invalid SessionHandle: no such session";
const NO_OPERATION: &str = "Invalid OperationHandle: no such operation";

/// The target of the session the request names (field 1), marked used.
fn session_of(state: &Shared, req: &Struct) -> Option<Target> {
    let key = key_of(req, 1)?;
    state.sql_sessions.update(&key, |s| {
        s.last_used = Instant::now();
        s.target.clone()
    })
}

/// Keeps a new operation in `state` (with `rows` when it is ready at
/// once) and gives its handle and key.
fn add_operation(state: &Shared, op_state: OpState, rows: Option<Rows>, cancel: CancellationToken) -> (Value, String) {
    let (handle, key) = new_handle();
    let now = state.clock.now_ms();
    let finished = op_state == OpState::Finished;
    state.sql_operations.insert(
        key.clone(),
        Operation {
            state: op_state,
            rows: rows.map(Arc::new),
            offset: 0,
            error: None,
            cancel,
            started_ms: now,
            completed_ms: if finished { now } else { 0 },
            last_used: Instant::now(),
        },
    );
    (handle, key)
}

fn open_session(state: &Shared, target: Target, _req: &Struct) -> Struct {
    let exists = match &target {
        Target::Warehouse(id) => crate::statements::wake_warehouse(state, id),
        Target::Cluster(id) => crate::commands::running(state, id).map_err(|e| e.message),
    };
    if let Err(message) = exists {
        return failed(ERROR, &message, None);
    }
    let (handle, key) = new_handle();
    state.sql_sessions.insert(key, Session { target, last_used: Instant::now() });
    Struct::new()
        .with(1, ok())
        .with(2, Value::I32(SPARK_CLI_SERVICE_PROTOCOL_V7))
        .with(3, Value::Struct(Struct::new().with(1, handle)))
        .with(4, Value::Map(TType::String, TType::String, Vec::new()))
        .with(1285, Value::Bool(true))
}

fn close_session(state: &Shared, req: &Struct) -> Struct {
    match key_of(req, 1).and_then(|k| state.sql_sessions.remove(&k)) {
        Some(_) => Struct::new().with(1, ok()),
        None => failed(INVALID_HANDLE, NO_SESSION, None),
    }
}

async fn execute(state: &Shared, req: &Struct) -> Struct {
    let Some(target) = session_of(state, req) else {
        return failed(INVALID_HANDLE, NO_SESSION, None);
    };
    let Some(sql) = req.text(2).filter(|s| !s.trim().is_empty()) else {
        return failed(ERROR, "ExecuteStatement needs a statement.", Some("42000"));
    };
    let run_async = req.bool(4).unwrap_or(false);
    let cancel = CancellationToken::new();
    let (handle, key) = add_operation(state, OpState::Pending, None, cancel.clone());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let (st, k) = (state.clone(), key.clone());
    state.spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = run(&st, &k, &target, &sql) => {}
        }
        let _ = done_tx.send(());
    });
    if run_async {
        let _ = tokio::time::timeout(DIRECT_WAIT, done_rx).await;
    } else {
        let _ = done_rx.await;
    }
    answer(state, &key, handle, EXECUTE_STATEMENT, req)
}

/// A metadata operation: its rows are ready at once.
async fn metadata_operation(state: &Shared, method: &str, req: &Struct) -> Struct {
    if session_of(state, req).is_none() {
        return failed(INVALID_HANDLE, NO_SESSION, None);
    }
    let Some(rows) = metadata::rows(state, method, req).await else {
        return failed(ERROR, &format!("{method} is not a metadata operation"), None);
    };
    let kind = match method {
        "GetCatalogs" => GET_CATALOGS,
        "GetSchemas" => GET_SCHEMAS,
        "GetTables" => GET_TABLES,
        _ => GET_COLUMNS,
    };
    let (handle, key) = add_operation(state, OpState::Finished, Some(rows), CancellationToken::new());
    answer(state, &key, handle, kind, req)
}

/// The answer to a request that started an operation (TExecuteStatementResp
/// and the metadata operations' responses share its fields): the handle,
/// and the direct results when asked for (field 1281): the status and, once
/// finished, the metadata and the first rows.
fn answer(state: &Shared, key: &str, handle: Value, kind: i32, req: &Struct) -> Struct {
    let op_handle = Struct::new()
        .with(1, handle)
        .with(2, Value::I32(kind))
        .with(3, Value::Bool(true));
    let mut resp = Struct::new().with(1, ok()).with(2, Value::Struct(op_handle));
    if let Some(direct) = req.child(1281) {
        let max_rows = direct.int(1).and_then(|n| usize::try_from(n).ok()).filter(|n| *n > 0);
        let results = state.sql_operations.update(&key.to_owned(), |op| {
            let mut d = Struct::new().with(1, Value::Struct(status_of(op)));
            if op.state == OpState::Finished {
                d = d
                    .with(2, Value::Struct(metadata_of(op)))
                    .with(3, Value::Struct(next_rows(op, max_rows.unwrap_or(DEFAULT_FETCH))));
            }
            d
        });
        if let Some(d) = results {
            resp = resp.with(1281, Value::Struct(d));
        }
    }
    resp
}

/// Runs the statement on its warehouse (started if need be) or cluster and
/// records the result in the operation.
async fn run(state: &Shared, key: &str, target: &Target, sql: &str) {
    let set = |f: &dyn Fn(&mut Operation)| {
        state.sql_operations.update(&key.to_owned(), |op| f(op));
    };
    let ready = match target {
        Target::Warehouse(id) => crate::statements::warehouse_ready(state, id).await,
        Target::Cluster(id) => crate::commands::running(state, id).map_err(|e| e.message),
    };
    if let Err(message) = ready {
        let now = state.clock.now_ms();
        set(&|op| {
            op.state = OpState::Error;
            op.error = Some((message.clone(), "58000"));
            op.completed_ms = now;
        });
        return;
    }
    set(&|op| op.state = OpState::Running);
    crate::statements::query_time(state, sql).await;
    let result = crate::unity::run_sql(state, sql, &[]).await;
    let now = state.clock.now_ms();
    let outcome = result.map(Arc::new);
    set(&|op| {
        if op.state != OpState::Canceled {
            match &outcome {
                Ok(rows) => {
                    op.state = OpState::Finished;
                    op.rows = Some(rows.clone());
                }
                Err(e) => {
                    op.state = OpState::Error;
                    op.error = Some((e.message.clone(), e.sql_state));
                }
            }
            op.completed_ms = now;
        }
    });
}

/// Runs `f` on the operation named by the request's handle (field 1).
fn with_op(state: &Shared, req: &Struct, f: impl FnOnce(&mut Operation) -> Struct) -> Struct {
    let found = key_of(req, 1).and_then(|k| {
        state.sql_operations.update(&k, |op| {
            op.last_used = Instant::now();
            f(op)
        })
    });
    found.unwrap_or_else(|| failed(INVALID_HANDLE, NO_OPERATION, None))
}

/// A TGetOperationStatusResp.
fn status_of(op: &Operation) -> Struct {
    let mut s = Struct::new()
        .with(1, ok())
        .with(2, Value::I32(op.state as i32))
        .with(7, Value::I64(op.started_ms))
        .with(9, Value::Bool(true));
    if op.completed_ms > 0 {
        s = s.with(8, Value::I64(op.completed_ms));
    }
    if let Some((message, sql_state)) = &op.error {
        s = s
            .with(3, Value::str(*sql_state))
            .with(5, Value::str(message.clone()))
            .with(1281, Value::str(message.clone()));
    }
    s
}

/// A TGetResultSetMetadataResp: the columns and their types.
fn metadata_of(op: &Operation) -> Struct {
    if op.state != OpState::Finished {
        return not_finished(op);
    }
    let columns = op.rows.as_ref().map_or(&[][..], |r| &r.columns[..]);
    let schema = rowset::schema(columns);
    Struct::new()
        .with(1, ok())
        .with(2, Value::Struct(schema))
        .with(1281, Value::I32(COLUMN_BASED_SET))
        .with(1282, Value::Bool(false))
        .with(1287, Value::Bool(false))
}

fn not_finished(op: &Operation) -> Struct {
    match (&op.error, op.state) {
        (Some((message, sql_state)), _) => failed(ERROR, message, Some(sql_state)),
        (None, OpState::Canceled) => failed(ERROR, "The statement was cancelled.", Some("HY008")),
        _ => failed(ERROR, "The operation has no result yet: poll GetOperationStatus until it is FINISHED.", None),
    }
}

/// Waits up to `hold` while the request's operation is pending or running.
async fn wait_while_running(state: &Shared, req: &Struct, hold: Duration) {
    let Some(key) = key_of(req, 1) else { return };
    let until = Instant::now() + hold;
    while Instant::now() < until
        && state
            .sql_operations
            .read_with(&key, |op| op.state.running())
            .unwrap_or(false)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fetch(state: &Shared, req: &Struct) -> Struct {
    let max_rows = req.int(3).and_then(|n| usize::try_from(n).ok()).filter(|n| *n > 0);
    let first = req.int(2) == Some(FETCH_FIRST);
    // includeResultSetMetadata (newer clients read the format from it).
    let with_metadata = req.bool(1283) == Some(true);
    with_op(state, req, |op| {
        if op.state != OpState::Finished {
            return not_finished(op);
        }
        if first {
            op.offset = 0;
        }
        let mut resp = next_rows(op, max_rows.unwrap_or(DEFAULT_FETCH));
        if with_metadata {
            resp = resp.with(1281, Value::Struct(metadata_of(op)));
        }
        resp
    })
}

/// The next `max` rows as a TFetchResultsResp (status, hasMoreRows, a
/// column-based TRowSet), moving the operation's offset past them.
fn next_rows(op: &mut Operation, max: usize) -> Struct {
    let empty = Rows::default();
    let rows = op.rows.clone();
    let rows = rows.as_deref().unwrap_or(&empty);
    let start = op.offset.min(rows.rows.len());
    let end = start.saturating_add(max).min(rows.rows.len());
    op.offset = end;
    let set = rowset::row_set(rows, start, end);
    Struct::new()
        .with(1, ok())
        .with(2, Value::Bool(end < rows.rows.len()))
        .with(3, Value::Struct(set))
}

fn cancel(state: &Shared, req: &Struct) -> Struct {
    let now = state.clock.now_ms();
    with_op(state, req, |op| {
        if op.state.running() {
            op.cancel.cancel();
            op.state = OpState::Canceled;
            op.completed_ms = now;
        }
        Struct::new().with(1, ok())
    })
}

fn close_operation(state: &Shared, req: &Struct) -> Struct {
    match key_of(req, 1).and_then(|k| state.sql_operations.remove(&k)) {
        Some(op) => {
            op.cancel.cancel();
            Struct::new().with(1, ok())
        }
        None => failed(INVALID_HANDLE, NO_OPERATION, None),
    }
}

/// GetInfo: the server's name and version (CLI_SERVER_NAME 13,
/// CLI_DBMS_NAME 17, CLI_DBMS_VER 18), as a TGetInfoValue string.
fn get_info(req: &Struct) -> Struct {
    let text = match req.int(2) {
        Some(18) => "3.5.0",
        _ => "Spark SQL",
    };
    Struct::new()
        .with(1, ok())
        .with(2, Value::Struct(Struct::new().with(1, Value::str(text))))
}

/// Forgets operations and sessions a client left behind: an operation an
/// hour after its last use, a session after a day.
pub(crate) fn sweep(state: &Shared) {
    let now = Instant::now();
    state.sql_operations.retain(|op| now.duration_since(op.last_used) < Duration::from_secs(3600));
    state.sql_sessions.retain(|s| now.duration_since(s.last_used) < Duration::from_secs(24 * 3600));
}
