//! Command Execution API 1.2: execution contexts on a running all-purpose
//! cluster and commands run in them, which is how SQL reaches a cluster
//! (rather than a warehouse): contexts/create, status, destroy;
//! commands/execute, status, cancel. SQL commands run on the emulator's
//! SQL engine and answer Spark's `table` result (typed rows, a JSON schema);
//! Python and Scala commands answer an `error` result saying the emulator
//! runs SQL only. A cluster that is not RUNNING refuses a context, as the
//! service does; a context dies with its cluster.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::clusters::CState;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Query};
use crate::sql::ColumnType;

/// Simulated seconds a command takes.
const COMMAND_SECS: f64 = 0.2;
/// Finished commands are forgotten after this long (the sweeper runs
/// once a minute).
const RETENTION: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub(crate) struct Context {
    cluster_id: String,
    language: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    context_id: String,
    status: &'static str,
    results: Option<Value>,
    cancel: CancellationToken,
    created: std::time::Instant,
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/1.2/contexts/create", post(create_context))
        .route("/api/1.2/contexts/status", get(context_status))
        .route("/api/1.2/contexts/destroy", post(destroy_context))
        .route("/api/1.2/commands/execute", post(execute))
        .route("/api/1.2/commands/status", get(command_status))
        .route("/api/1.2/commands/cancel", post(cancel))
}

pub(crate) fn running(state: &Shared, cluster_id: &str) -> ApiResult<()> {
    match state
        .clusters
        .read_with(&cluster_id.to_owned(), |c| c.state)
    {
        None => Err(ApiError::invalid(format!(
            "Cluster {cluster_id} does not exist"
        ))),
        Some(CState::Running) => Ok(()),
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_STATE",
            format!(
                "Cluster {cluster_id} is not running: it is {}.",
                other.api()
            ),
        )),
    }
}

fn language(body: &crate::lenient::Obj) -> ApiResult<String> {
    let language = body.str("language").unwrap_or_else(|| "python".into());
    match language.to_ascii_lowercase().as_str() {
        l @ ("python" | "sql" | "scala" | "r") => Ok(l.to_owned()),
        other => Err(ApiError::invalid(format!(
            "language must be python, sql, scala or r, got {other}"
        ))),
    }
}

fn context_of(state: &Shared, cluster_id: &str, context_id: &str) -> ApiResult<Context> {
    state
        .contexts
        .get(&context_id.to_owned())
        .filter(|c| c.cluster_id == cluster_id)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "Context {context_id} does not exist on cluster {cluster_id}"
            ))
        })
}

async fn create_context(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let cluster_id = body.req_str("clusterId")?;
    let language = language(&body)?;
    running(&state, &cluster_id)?;
    let id = state.next_id().to_string();
    state.contexts.insert(
        id.clone(),
        Context {
            cluster_id,
            language,
        },
    );
    Ok(Json(json!({"id": id})))
}

async fn context_status(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let cluster_id = q.req_str("clusterId")?;
    let context_id = q.req_str("contextId")?;
    context_of(&state, &cluster_id, &context_id)?;
    let alive = running(&state, &cluster_id).is_ok();
    Ok(Json(json!({
        "id": context_id,
        "status": if alive { "Running" } else { "Error" },
    })))
}

async fn destroy_context(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let cluster_id = body.req_str("clusterId")?;
    let context_id = body.req_str("contextId")?;
    context_of(&state, &cluster_id, &context_id)?;
    state.contexts.remove(&context_id);
    for command in state.commands.filter(|c| c.context_id == context_id) {
        command.cancel.cancel();
    }
    Ok(Json(json!({"id": context_id})))
}

async fn execute(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let cluster_id = body.req_str("clusterId")?;
    let context_id = body.req_str("contextId")?;
    let context = context_of(&state, &cluster_id, &context_id)?;
    running(&state, &cluster_id)?;
    let language = match body.str("language") {
        Some(_) => language(&body)?,
        None => context.language.clone(),
    };
    let command = body.str("command").unwrap_or_default();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let cancel = CancellationToken::new();
    state.commands.insert(
        id.clone(),
        Command {
            context_id,
            status: "Queued",
            results: None,
            cancel: cancel.clone(),
            created: std::time::Instant::now(),
        },
    );
    let (st, cid) = (state.clone(), id.clone());
    state.spawn(async move {
        tokio::select! {
            () = cancel.cancelled() => set(&st, &cid, "Cancelled", None),
            () = run(&st, &cid, &language, &command) => {}
        }
    });
    Ok(Json(json!({"id": id})))
}

fn set(state: &Shared, id: &str, status: &'static str, results: Option<Value>) {
    state.commands.update(&id.to_owned(), |c| {
        if !matches!(c.status, "Finished" | "Cancelled" | "Error") {
            c.status = status;
            c.results = results;
        }
    });
}

async fn run(state: &Shared, id: &str, language: &str, command: &str) {
    set(state, id, "Running", None);
    let secs = crate::statements::sleep_hint(command);
    state.clock.sleep(COMMAND_SECS + secs).await;
    if language != "sql" {
        set(
            state,
            id,
            "Finished",
            Some(error_result(
                "NotImplementedError",
                &format!("The emulator runs SQL commands only, not {language}."),
            )),
        );
        return;
    }
    match crate::unity::run_sql(state, command, &[]).await {
        Ok(rows) => {
            let schema: Vec<Value> = rows
                .columns
                .iter()
                .map(|c| json!({"name": c.name, "type": spark_type(c), "metadata": "{}"}))
                .collect();
            let data: Vec<Value> = rows
                .rows
                .iter()
                .map(|row| {
                    Value::Array(
                        row.iter()
                            .zip(&rows.columns)
                            .map(|(cell, column)| typed(cell.as_deref(), column))
                            .collect(),
                    )
                })
                .collect();
            set(
                state,
                id,
                "Finished",
                Some(json!({
                    "resultType": "table",
                    "data": data,
                    "schema": schema,
                    "truncated": false,
                    "isJsonSchema": true,
                })),
            );
        }
        Err(e) => set(
            state,
            id,
            "Finished",
            Some(error_result(
                "org.apache.spark.sql.AnalysisException",
                &e.message,
            )),
        ),
    }
}

/// Spark's error result: the summary a notebook shows, the cause's trace.
fn error_result(class: &str, message: &str) -> Value {
    json!({
        "resultType": "error",
        "summary": format!("{class}: {message}"),
        "cause": format!("{class}: {message}\n\tat emulator"),
    })
}

/// A column's type as Spark's JSON schema writes it (`"long"`, with quotes).
fn spark_type(column: &ColumnType) -> String {
    let name = match column.type_name {
        "INT" => "integer",
        "LONG" => "long",
        "DOUBLE" => "double",
        "BOOLEAN" => "boolean",
        "DATE" => "date",
        "TIMESTAMP" => "timestamp",
        "BINARY" => "binary",
        _ => "string",
    };
    format!("\"{name}\"")
}

fn typed(cell: Option<&str>, column: &ColumnType) -> Value {
    let Some(text) = cell else {
        return Value::Null;
    };
    match column.type_name {
        "INT" | "LONG" => text
            .parse::<i64>()
            .map_or_else(|_| json!(text), Value::from),
        "DOUBLE" => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| json!(text), Value::Number),
        "BOOLEAN" => json!(text == "true"),
        _ => json!(text),
    }
}

async fn command_status(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let cluster_id = q.req_str("clusterId")?;
    let context_id = q.req_str("contextId")?;
    let command_id = q.req_str("commandId")?;
    context_of(&state, &cluster_id, &context_id)?;
    let command = state
        .commands
        .get(&command_id)
        .filter(|c| c.context_id == context_id)
        .ok_or_else(|| ApiError::invalid(format!("Command {command_id} does not exist")))?;
    let mut answer = json!({"id": command_id, "status": command.status});
    if let Some(results) = command.results {
        answer["results"] = results;
    }
    Ok(Json(answer))
}

async fn cancel(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let cluster_id = body.req_str("clusterId")?;
    let context_id = body.req_str("contextId")?;
    let command_id = body.req_str("commandId")?;
    context_of(&state, &cluster_id, &context_id)?;
    let command = state
        .commands
        .get(&command_id)
        .ok_or_else(|| ApiError::invalid(format!("Command {command_id} does not exist")))?;
    command.cancel.cancel();
    set(&state, &command_id, "Cancelled", None);
    Ok(Json(json!({"id": command_id})))
}

/// Forgets finished commands after an hour, and the contexts of clusters
/// that are gone.
pub(crate) fn sweep(state: &Shared) {
    state.commands.retain(|c| {
        !matches!(c.status, "Finished" | "Cancelled" | "Error") || c.created.elapsed() < RETENTION
    });
    state.contexts.retain(|c| {
        state
            .clusters
            .read_with(&c.cluster_id, |cluster| cluster.state != CState::Terminated)
            .unwrap_or(false)
    });
}
