//! Executions: read one, search, download one of its files.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::executor::Launch;
use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::plan::Plan;
use engine::state::State as RunState;
use engine::storage::Storage;
use engine::store::query::{Condition, Op, Operand};
use engine::store::{ExecutionField, ExecutionFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::{ExecutionJson, execution_json};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use engine::auth::Role;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// An execution, or a 404 that names it.
async fn find(
    state: &AppState,
    id: &ExecutionId,
) -> Result<engine::store::ExecutionRecord, ApiError> {
    state
        .store
        .get_execution(id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            message: format!("execution {id} does not exist"),
        })
}

/// An execution that the caller holds `role` on (its namespace), or a 404
/// or 403 that says why not.
pub(crate) async fn find_as(
    state: &AppState,
    id: &ExecutionId,
    caller: &Caller,
    role: Role,
) -> Result<engine::store::ExecutionRecord, ApiError> {
    let execution = find(state, id).await?;
    caller.require(role, Some(execution.namespace.as_str()))?;
    Ok(execution)
}

/// An execution as the API shows it, with its task runs, read now.
pub(crate) async fn current(state: &AppState, id: &ExecutionId) -> Result<ExecutionJson, ApiError> {
    let execution = find(state, id).await?;
    let task_runs = state.store.task_runs(id).await?;
    Ok(execution_json(execution, task_runs, now_ms()))
}

/// `GET /api/v1/executions/{id}`: Kestra's execution JSON with its task runs.
#[utoipa::path(get, path = "/api/v1/executions/{id}", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExecutionJson>, ApiError> {
    let id = super::params::execution_id("id", &id)?;
    find_as(&state, &id, &caller, Role::Viewer).await?;
    Ok(Json(current(&state, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchParams {
    namespace: Option<String>,
    flow_id: Option<String>,
    /// One state or several, comma-separated.
    state: Option<String>,
    /// ISO-8601 instants.
    start_date: Option<String>,
    end_date: Option<String>,
    /// `key:value`, several comma-separated.
    labels: Option<String>,
    page: Option<i64>,
    size: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchResult {
    results: Vec<ExecutionJson>,
    total: i64,
}

#[utoipa::path(get, path = "/api/v1/executions/search", tag = "executions", params(SearchParams),
    responses((status = 200, body = SearchResult), (status = 400, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/search`: newest first, `page` from 1, `size` up
/// to 1000 (default 25).
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchResult>, ApiError> {
    let mut filter = ExecutionFilter {
        namespace: params.namespace.filter(|s| !s.is_empty()),
        flow_id: params.flow_id.filter(|s| !s.is_empty()),
        scopes: caller.principal.scopes(Role::Viewer),
        conditions: conditions(raw.as_deref())?,
        ..Default::default()
    };
    if let Some(states) = params.state.filter(|s| !s.is_empty()) {
        for name in states.split(',') {
            let parsed = RunState::parse(name.trim()).ok_or_else(|| ApiError::BadRequest {
                message: format!(
                    "unknown state {name:?}: use one of {}",
                    RunState::ALL.map(RunState::as_str).join(", ")
                ),
            })?;
            filter.states.push(parsed);
        }
    }
    filter.created_from = params
        .start_date
        .as_deref()
        .map(|d| parse_instant("startDate", d))
        .transpose()?;
    filter.created_to = params
        .end_date
        .as_deref()
        .map(|d| parse_instant("endDate", d))
        .transpose()?;
    if let Some(labels) = params.labels.filter(|s| !s.is_empty()) {
        for pair in labels.split(',') {
            let (key, value) = pair.split_once(':').ok_or_else(|| ApiError::BadRequest {
                message: format!("label filter {pair:?} must be key:value"),
            })?;
            filter
                .labels
                .push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let page = state
        .store
        .search_executions(&filter, params.page.unwrap_or(1), params.size.unwrap_or(25))
        .await?;
    Ok(Json(page_json(&state, page).await?))
}

/// A page of executions as Kestra's paged results, each with its task runs.
pub(super) async fn page_json(
    state: &AppState,
    page: engine::store::ExecutionPage,
) -> Result<SearchResult, ApiError> {
    let now = now_ms();
    let mut results = Vec::with_capacity(page.results.len());
    for execution in page.results {
        let task_runs = state.store.task_runs(&execution.id).await?;
        results.push(execution_json(execution, task_runs, now));
    }
    Ok(SearchResult {
        results,
        total: page.total,
    })
}

/// Kestra's `filters[field][OPERATION]` of an execution search as the
/// store's conditions.
fn conditions(raw: Option<&str>) -> Result<Vec<Condition<ExecutionField>>, ApiError> {
    use super::query_filter::{Resource, SYSTEM_NAMESPACE, parse};
    let mut out = Vec::new();
    for filter in parse(raw, Resource::Execution)? {
        let (field, operand) = match filter.field {
            "q" => (ExecutionField::Query, filter.text()),
            "namespace" => (ExecutionField::Namespace, filter.text()),
            "flowId" => (ExecutionField::FlowId, filter.text()),
            "triggerExecutionId" => (ExecutionField::TriggerExecutionId, filter.text()),
            "startDate" => (ExecutionField::StartDate, filter.instant()?),
            "endDate" => (ExecutionField::EndDate, filter.instant()?),
            "timeRange" => {
                out.push(Condition {
                    field: ExecutionField::StartDate,
                    op: Op::GreaterThanOrEqualTo,
                    operand: filter.since()?,
                });
                continue;
            }
            "labels" => (
                ExecutionField::Label(filter.key.clone().unwrap_or_default()),
                filter.text(),
            ),
            "state" => {
                for name in filter.value.split(',') {
                    if RunState::parse(name.trim()).is_none() {
                        return Err(ApiError::BadRequest {
                            message: format!(
                                "filters[state]: unknown state {name:?}: use one of {}",
                                RunState::ALL.map(RunState::as_str).join(", ")
                            ),
                        });
                    }
                }
                (ExecutionField::State, filter.text())
            }
            // USER: the flows of every namespace but `system`; SYSTEM: only those.
            "scope" => {
                out.push(Condition {
                    field: ExecutionField::Namespace,
                    op: if filter.selects("SYSTEM") { Op::Equals } else { Op::NotEquals },
                    operand: Operand::Text(SYSTEM_NAMESPACE.to_owned()),
                });
                continue;
            }
            // MAIN: started by no other execution; CHILD: by one.
            "childFilter" => {
                out.push(Condition {
                    field: ExecutionField::HasParent,
                    op: if filter.selects("CHILD") { Op::Equals } else { Op::NotEquals },
                    operand: Operand::Text(String::new()),
                });
                continue;
            }
            // Every execution of Mortar is a NORMAL one (Kestra's other
            // kinds are its test runs and playground).
            "kind" => {
                if !engine::store::query::matches(filter.op, "NORMAL", &filter.text()) {
                    out.push(Condition {
                        field: ExecutionField::Id,
                        op: Op::In,
                        operand: Operand::Text(String::new()),
                    });
                }
                continue;
            }
            other => unreachable!("query_filter accepts {other} for executions"),
        };
        out.push(Condition {
            field,
            op: filter.op,
            operand,
        });
    }
    Ok(out)
}

pub(crate) fn parse_instant(name: &str, text: &str) -> Result<i64, ApiError> {
    let instant = text
        .parse::<jiff::Timestamp>()
        .map_err(|e| ApiError::BadRequest {
            message: format!(
                "{name} {text:?} is not an ISO-8601 instant such as 2026-11-25T08:00:00Z: {e}"
            ),
        })?;
    Ok(instant.as_millisecond())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct FileParams {
    path: String,
    /// An Ion file (`.ion`) converted as it streams: `csv` (a header from
    /// the first record's fields), `json` (one array) or `jsonl` (JSON
    /// Lines).
    #[serde(default)]
    format: Option<String>,
}

/// What an Ion file downloads as.
#[derive(Clone, Copy)]
enum Converted {
    Csv,
    Json,
    JsonLines,
}

impl Converted {
    fn parse(format: &str) -> Result<Self, ApiError> {
        match format.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "jsonl" | "ndjson" => Ok(Self::JsonLines),
            other => Err(ApiError::BadRequest {
                message: format!("format {other:?}: an Ion file downloads as csv, json or jsonl"),
            }),
        }
    }

    fn extension_and_type(self) -> (&'static str, &'static str) {
        match self {
            Self::Csv => ("csv", "text/csv; charset=utf-8"),
            Self::Json => ("json", "application/json"),
            Self::JsonLines => ("jsonl", "application/x-ndjson"),
        }
    }
}

/// A std writer whose bytes go, in chunks, to a response body's stream.
struct ChunkWriter {
    buffer: Vec<u8>,
    sender: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = axum::body::Bytes::from(std::mem::take(&mut self.buffer));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download was cancelled")
        })
    }
}

/// Streams the Ion file `file` converted as `converted`; a record that is
/// not Ion ends the stream with an error (the download is cut short).
fn convert_ion(file: std::fs::File, converted: Converted) -> Body {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut out = ChunkWriter {
            buffer: Vec::new(),
            sender: sender.clone(),
        };
        let done = match converted {
            Converted::Csv => {
                engine::task::serdes::ion_to_csv(reader, &mut out, &Default::default())
            }
            Converted::Json => engine::task::serdes::ion_to_json(reader, &mut out, false),
            Converted::JsonLines => engine::task::serdes::ion_to_json(reader, &mut out, true),
        };
        let done = done
            .map_err(|e| e.to_string())
            .and_then(|_| std::io::Write::flush(&mut out).map_err(|e| e.to_string()));
        if let Err(message) = done {
            let _ = sender.blocking_send(Err(std::io::Error::other(message)));
        }
    });
    Body::from_stream(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
}

/// A file of execution `id` the caller may read, opened: a path outside
/// its storage is 403, a malformed one 400, a missing one 404.
async fn open_file(
    state: &AppState,
    caller: &Caller,
    id: &str,
    path: &str,
) -> Result<(tokio::fs::File, u64), ApiError> {
    let id = super::params::execution_id("id", id)?;
    let execution = find_as(state, &id, caller, Role::Viewer).await?;
    let prefix =
        Storage::execution_uri(&execution.namespace, &execution.flow_id, &execution.id, "");
    let prefix = prefix.trim_end_matches("file");
    if !path.starts_with(prefix) {
        return Err(ApiError::Forbidden {
            message: format!(
                "{} is not a file of execution {id}: its files start with {prefix}, and another execution's files are read through that execution",
                path
            ),
        });
    }
    let storage = state.storage.for_namespace(&execution.namespace);
    let (file, size) = storage.open(path).await.map_err(|error| match error {
        engine::storage::StorageError::NotFound { uri } => ApiError::NotFound { message: format!("{uri} does not exist") },
        engine::storage::StorageError::BadUri { uri } => ApiError::BadRequest {
            message: format!("{uri:?} is not a file of storage: write storage:///… without `..`, `.`, empty segments, `%`, `\\` or NUL"),
        },
        error @ (engine::storage::StorageError::Link { .. } | engine::storage::StorageError::OutOfScope { .. }) => {
            ApiError::Forbidden { message: error.to_string() }
        }
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok((file, size))
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/file", tag = "executions", params(("id" = String, Path), FileParams),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
              (status = 400, description = "A bad execution id; not a storage URI, or one with `..`, `.`, `%`, `\\`, NUL", body = crate::error::ErrorJson),
              (status = 403, description = "A file of another execution, or behind a symbolic link", body = crate::error::ErrorJson),
              (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/file?path=storage:///…[&format=csv|json|jsonl]`:
/// streams a file of this execution (an Ion file converted with `format`). A path outside its storage (another execution's, an
/// absolute path, another scheme) or through a symbolic link is 403; one
/// with `..`, `.`, `%` (`%2e%2e`), `\`, NUL or empty segments is 400.
pub(crate) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<FileParams>,
) -> Result<Response, ApiError> {
    let (file, size) = open_file(&state, &caller, &id, &params.path).await?;
    let name = params.path.rsplit('/').next().unwrap_or("file").to_owned();
    if let Some(format) = params.format.as_deref().filter(|f| !f.is_empty()) {
        let converted = Converted::parse(format)?;
        if !name.ends_with(".ion") {
            return Err(ApiError::BadRequest {
                message: format!(
                    "{name} is not an Ion file (.ion): only those download as {format}; leave out format to download it as it is"
                ),
            });
        }
        let (extension, mime) = converted.extension_and_type();
        let name = format!("{}.{extension}", name.trim_end_matches(".ion"));
        let file = file.into_std().await;
        return Ok((
            [
                (header::CONTENT_TYPE, mime.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            convert_ion(file, converted),
        )
            .into_response());
    }
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct CreateParams {
    /// Answer once the execution has ended.
    #[serde(default)]
    wait: bool,
}

#[utoipa::path(post, path = "/api/v1/executions/{namespace}/{flowId}", tag = "executions",
    params(("namespace" = String, Path), ("flowId" = String, Path), CreateParams,
           ("labels" = Option<String>, Query, description = "`key:value`; repeat the parameter for several labels")),
    request_body(content = Object, content_type = "multipart/form-data", description = "Inputs as form fields; a FILE input as a file part named after it. JSON (an object of inputs) is accepted too."),
    responses((status = 200, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 422, description = "Invalid inputs, every problem listed", body = crate::error::ErrorJson)))]
/// `POST /api/v1/executions/{namespace}/{flowId}[?wait=true][&labels=k:v]`:
/// starts an execution. Inputs come as a multipart form (a file input is a
/// file part named after the input, streamed into internal storage) or as
/// a JSON object. With `wait=true` the answer comes once it has ended.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id)): Path<(String, String)>,
    Query(params): Query<CreateParams>,
    axum::extract::RawQuery(raw_query): axum::extract::RawQuery,
    request: axum::extract::Request,
) -> Result<Json<ExecutionJson>, ApiError> {
    let (namespace, flow_id) = (
        super::params::namespace(&namespace)?,
        super::params::flow_id("flowId", &flow_id)?,
    );
    caller.require(Role::Operator, Some(namespace.as_str()))?;
    let Some(flow) = state.store.get_flow(&namespace, &flow_id).await? else {
        return Err(ApiError::NotFound {
            message: format!("flow {namespace}.{flow_id} does not exist"),
        });
    };
    let plan = state
        .plans
        .get(
            namespace.as_str(),
            flow_id.as_str(),
            flow.revision,
            &flow.source,
        )
        .map_err(|error| ApiError::Unprocessable {
            message: format!("flow {namespace}.{flow_id} cannot run: {error}"),
            violations: Vec::new(),
        })?;
    let mut labels = BTreeMap::new();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw_query.as_deref().unwrap_or("")).unwrap_or_default();
    for (_, value) in pairs.into_iter().filter(|(k, _)| k == "labels") {
        let (k, v) = value.split_once(':').ok_or_else(|| ApiError::BadRequest {
            message: format!("label {value:?} must be key:value"),
        })?;
        labels.insert(k.to_owned(), v.to_owned());
    }
    let id = ExecutionId::generate();
    let inputs = read_inputs(&state, &namespace, &flow_id, &id, &plan, request).await?;
    let record = state
        .executor
        .launch(Launch {
            id: Some(id),
            plan,
            flow_revision: flow.revision,
            inputs,
            labels,
            trigger_vars: None,
        })
        .await?;
    caller
        .audit(
            &state.store,
            "execution.create",
            Some(namespace.as_str()),
            Some(record.id.as_str()),
            Some(serde_json::json!({"flow": flow_id.as_str()})),
        )
        .await;
    if params.wait {
        state.executor.wait(&record.id).await?;
    }
    Ok(Json(current(&state, &record.id).await?))
}

/// The last part of a file name a client sent (a browser may send a path,
/// `C:\\Users\\x\\a.csv` or `../a.csv`); `Storage::execution_uri` then
/// keeps it to safe characters and a bounded length.
fn client_file_name(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Inputs from a multipart form (files streamed to storage) or JSON.
async fn read_inputs(
    state: &AppState,
    namespace: &Namespace,
    flow_id: &FlowId,
    id: &ExecutionId,
    plan: &Plan,
    request: axum::extract::Request,
) -> Result<Map<String, Value>, ApiError> {
    use axum::extract::FromRequest;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut inputs = Map::new();
    if content_type.starts_with("multipart/form-data") {
        let length: u64 = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX);
        let mut form = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest {
                message: format!("the form cannot be read: {}", e.body_text()),
            })?;
        let mut first = true;
        loop {
            let field = match form.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                // A form without a single part (a flow without inputs) is
                // only its closing boundary, which the parser refuses.
                Err(_) if first && length < 256 => break,
                Err(e) => {
                    return Err(ApiError::BadRequest {
                        message: format!("the form cannot be read: {e}"),
                    });
                }
            };
            first = false;
            let name = field.name().unwrap_or_default().to_owned();
            let is_file_input = plan.inputs.iter().any(|d| d.id == name && d.kind == "FILE");
            if let Some(file_name) = field
                .file_name()
                .map(client_file_name)
                .filter(|_| is_file_input)
            {
                let uri =
                    Storage::execution_uri(namespace, flow_id, id, &format!("{name}-{file_name}"));
                // The body limit is ours, counted as the file streams (axum's
                // 2 MiB default is lifted on this route).
                let max = state.max_upload;
                let mut received = 0_u64;
                use futures::TryStreamExt;
                let stream = field.map_err(std::io::Error::other).and_then(move |chunk| {
                    received += chunk.len() as u64;
                    let result = if received > max {
                        Err(std::io::Error::new(
                            std::io::ErrorKind::FileTooLarge,
                            "over the limit",
                        ))
                    } else {
                        Ok(chunk)
                    };
                    futures::future::ready(result)
                });
                let reader = tokio_util::io::StreamReader::new(Box::pin(stream));
                state.storage.write(&uri, reader).await.map_err(|e| match e {
                    engine::storage::StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::FileTooLarge => ApiError::TooLarge {
                        message: format!(
                            "the upload of {name} is larger than {max} bytes, the most a FILE input takes; raise it with `mortar serve --max-upload BYTES`"
                        ),
                    },
                    engine::storage::StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::Other => {
                        ApiError::BadRequest { message: format!("the upload of {name} broke off: {source}") }
                    }
                    other => ApiError::Internal(other.to_string()),
                })?;
                inputs.insert(name, Value::String(uri));
            } else {
                let text = field.text().await.map_err(|e| ApiError::BadRequest {
                    message: format!("input {name}: {e}"),
                })?;
                inputs.insert(name, Value::String(text));
            }
        }
    } else if content_type.starts_with("application/json") {
        let bytes = axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024)
            .await
            .map_err(|e| ApiError::BadRequest {
                message: format!("the body cannot be read: {e}"),
            })?;
        if !bytes.is_empty() {
            inputs = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
                message: format!("the body must be a JSON object of inputs: {e}"),
            })?;
        }
    }
    Ok(inputs)
}

/// `DELETE /api/v1/executions/{id}/kill`.
#[utoipa::path(delete, path = "/api/v1/executions/{id}/kill", tag = "executions", params(("id" = String, Path)),
    responses((status = 202, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 409, description = "Already ended", body = crate::error::ErrorJson)))]
pub(crate) async fn kill(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ExecutionJson>), ApiError> {
    let id = super::params::execution_id("id", &id)?;
    let execution = find_as(&state, &id, &caller, Role::Operator).await?;
    state.executor.kill(&id).await?;
    caller
        .audit(
            &state.store,
            "execution.kill",
            Some(execution.namespace.as_str()),
            Some(id.as_str()),
            None,
        )
        .await;
    Ok((StatusCode::ACCEPTED, Json(current(&state, &id).await?)))
}

/// `POST /api/v1/executions/{id}/resume`: resumes a paused execution,
/// with the `onResume` inputs its Pause declares (a multipart form, as
/// Kestra's UI sends them, or a JSON object).
#[utoipa::path(post, path = "/api/v1/executions/{id}/resume", tag = "executions", params(("id" = String, Path)),
    responses((status = 204, description = "Resumed: the execution goes on"), (status = 404, body = crate::error::ErrorJson),
        (status = 409, description = "Not paused", body = crate::error::ErrorJson), (status = 422, description = "Bad inputs", body = crate::error::ErrorJson)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    let id = super::params::execution_id("id", &id)?;
    let execution = find_as(&state, &id, &caller, Role::Operator).await?;
    let plan = plan_of(&state, &execution, "resumed").await?;
    let inputs = read_inputs(
        &state,
        &execution.namespace,
        &execution.flow_id,
        &id,
        &plan,
        request,
    )
    .await?;
    state.executor.resume(&id, inputs).await?;
    caller
        .audit(
            &state.store,
            "execution.resume",
            Some(execution.namespace.as_str()),
            Some(id.as_str()),
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The plan of the flow revision an execution ran; `what` says what it was
/// for, in the error when that revision is gone.
pub(super) async fn plan_of(
    state: &AppState,
    execution: &engine::store::ExecutionRecord,
    what: &str,
) -> Result<Arc<Plan>, ApiError> {
    let id = &execution.id;
    let source = state
        .store
        .flow_revision_source(
            &execution.namespace,
            &execution.flow_id,
            execution.flow_revision,
        )
        .await?
        .ok_or_else(|| ApiError::Conflict {
            message: format!("the flow revision of execution {id} is gone: it cannot be {what}"),
        })?;
    state
        .plans
        .get(
            execution.namespace.as_str(),
            execution.flow_id.as_str(),
            execution.flow_revision,
            &source,
        )
        .map_err(|e| ApiError::Conflict {
            message: e.to_string(),
        })
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/repair", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 409, description = "Not FAILED or KILLED, or no failed Databricks job run", body = crate::error::ErrorJson)))]
/// `POST /api/v1/executions/{id}/repair` (Mortar's): a failed execution's
/// Databricks job runs repaired: the failed tasks of the run each failed
/// SubmitRun, RunNow or CreateJob made run again in that same run, as a new
/// attempt of the same task run; the rest restarts as Restart does.
pub(crate) async fn repair(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExecutionJson>, ApiError> {
    run_again(&state, &caller, &id, true).await
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/restart", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 409, body = crate::error::ErrorJson)))]
/// `POST /api/v1/executions/{id}/restart`: runs the failed task runs again.
pub(crate) async fn restart(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExecutionJson>, ApiError> {
    run_again(&state, &caller, &id, false).await
}

/// Restart, or with `repair` Repair, an execution the caller may operate.
async fn run_again(
    state: &AppState,
    caller: &Caller,
    id: &str,
    repair: bool,
) -> Result<Json<ExecutionJson>, ApiError> {
    let id = super::params::execution_id("id", id)?;
    let execution = find_as(state, &id, caller, Role::Operator).await?;
    let (done, action) = if repair {
        ("repaired", "execution.repair")
    } else {
        ("restarted", "execution.restart")
    };
    let plan = plan_of(state, &execution, done).await?;
    if repair {
        state.executor.repair(&id, plan).await?;
    } else {
        state.executor.restart(&id, plan).await?;
    }
    caller
        .audit(
            &state.store,
            action,
            Some(execution.namespace.as_str()),
            Some(id.as_str()),
            None,
        )
        .await;
    Ok(Json(current(state, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplayParams {
    task_run_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/replay", tag = "executions", params(("id" = String, Path), ReplayParams),
    responses((status = 200, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 409, body = crate::error::ErrorJson)))]
/// `POST /api/v1/executions/{id}/replay[?taskRunId=]`: a new execution of the
/// same flow revision and inputs, keeping what ended well before the chosen
/// task run (everything runs again without one).
pub(crate) async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<ReplayParams>,
) -> Result<Json<ExecutionJson>, ApiError> {
    let id = super::params::execution_id("id", &id)?;
    let execution = find_as(&state, &id, &caller, Role::Operator).await?;
    let plan = plan_of(&state, &execution, "replayed").await?;
    let from = params
        .task_run_id
        .filter(|t| !t.is_empty())
        .map(engine::ids::TaskRunId::new);
    let record = state.executor.replay(&id, from.as_ref(), plan).await?;
    let detail = serde_json::json!({"replayOf": id.as_str(), "taskRunId": from.as_ref().map(|t| t.as_str())});
    caller
        .audit(
            &state.store,
            "execution.replay",
            Some(execution.namespace.as_str()),
            Some(record.id.as_str()),
            Some(detail),
        )
        .await;
    Ok(Json(current(&state, &record.id).await?))
}

/// `GET /api/v1/outputs/executions/{id}`: the execution's flow outputs
/// (Kestra 2.0 reads outputs here rather than in the execution).
#[utoipa::path(get, path = "/api/v1/outputs/executions/{id}", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, description = "The flow's outputs", body = Object), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn flow_outputs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let execution = find_as(
        &state,
        &super::params::execution_id("id", &id)?,
        &caller,
        Role::Viewer,
    )
    .await?;
    Ok(Json(if execution.outputs.is_null() {
        serde_json::json!({})
    } else {
        execution.outputs
    }))
}

/// `GET /api/v1/outputs/tasks/{id}`: the task runs that have outputs.
#[utoipa::path(get, path = "/api/v1/outputs/tasks/{id}", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, description = "taskId, taskRunId, value of each task run with outputs", body = Object)))]
pub(crate) async fn task_outputs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    let id = super::params::execution_id("id", &id)?;
    find_as(&state, &id, &caller, Role::Viewer).await?;
    let runs = state.store.task_runs(&id).await?;
    Ok(Json(
        runs.into_iter()
            .filter(|r| r.outputs.as_ref().is_some_and(|o| o.as_object().is_some_and(|m| !m.is_empty())))
            .map(|r| serde_json::json!({"taskId": r.task_id.as_str(), "taskRunId": r.id.as_str(), "value": r.value}))
            .collect(),
    ))
}

/// `GET /api/v1/outputs/tasks/{id}/{taskRunId}`: one task run's outputs.
#[utoipa::path(get, path = "/api/v1/outputs/tasks/{id}/{task_run_id}", tag = "executions",
    params(("id" = String, Path), ("task_run_id" = String, Path)),
    responses((status = 200, description = "The task run's outputs", body = Object), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn task_run_outputs(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task_run_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = super::params::execution_id("id", &id)?;
    let task_run_id = super::params::task_run_id(&task_run_id)?;
    find_as(&state, &id, &caller, Role::Viewer).await?;
    let run = state
        .store
        .task_runs(&id)
        .await?
        .into_iter()
        .find(|r| r.id == task_run_id)
        .ok_or_else(|| ApiError::NotFound {
            message: format!("execution {id} has no task run {task_run_id}"),
        })?;
    Ok(Json(run.outputs.unwrap_or_else(|| serde_json::json!({}))))
}

/// One label, as Kestra sends it.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LabelJson {
    key: String,
    value: String,
}

/// `POST /api/v1/executions/{id}/labels` (and Kestra 2.0's
/// `/actions/labels`): adds labels to an execution that has ended; a key
/// already there takes the new value. 409 while it runs.
#[utoipa::path(post, path = "/api/v1/executions/{id}/labels", tag = "executions", params(("id" = String, Path)),
    request_body = Vec<LabelJson>,
    responses((status = 200, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 409, body = crate::error::ErrorJson)))]
pub(crate) async fn set_labels(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(labels): Json<Vec<LabelJson>>,
) -> Result<Json<ExecutionJson>, ApiError> {
    let id = super::params::execution_id("id", &id)?;
    find_as(&state, &id, &caller, Role::Operator).await?;
    let labels = checked_labels(labels)?;
    match state
        .store
        .add_execution_labels(&id, &labels, false)
        .await?
    {
        engine::store::LabelsOutcome::Set => Ok(Json(current(&state, &id).await?)),
        engine::store::LabelsOutcome::NotFound => Err(ApiError::NotFound {
            message: format!("execution {id} does not exist"),
        }),
        engine::store::LabelsOutcome::NotEnded(now) => Err(ApiError::Conflict {
            message: format!(
                "execution {id} is {}: labels are set once it has ended",
                now.as_str()
            ),
        }),
    }
}

/// Labels to set, each with a key.
pub(super) fn checked_labels(labels: Vec<LabelJson>) -> Result<BTreeMap<String, String>, ApiError> {
    if let Some(bad) = labels.iter().find(|l| l.key.trim().is_empty()) {
        return Err(ApiError::BadRequest {
            message: format!("a label needs a key (value {:?} has none)", bad.value),
        });
    }
    Ok(labels.into_iter().map(|l| (l.key, l.value)).collect())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteParams {
    /// Delete its log lines too (default true).
    delete_logs: Option<bool>,
    /// Delete its metrics too (default true).
    delete_metrics: Option<bool>,
    /// Delete its files in internal storage too (default true).
    delete_storage: Option<bool>,
    /// `by-ids`: delete executions that have not ended too (default false).
    pub(super) include_non_terminated: Option<bool>,
}

/// Deletes ended (or, when asked, any) executions with what `params` says
/// goes with them.
pub(super) async fn delete_records(
    state: &AppState,
    executions: &[engine::store::ExecutionRecord],
    params: &DeleteParams,
) -> Result<(), ApiError> {
    if params.delete_storage.unwrap_or(true) {
        for execution in executions {
            state
                .storage
                .delete_execution_files(&execution.namespace, &execution.flow_id, &execution.id)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
    }
    let ids: Vec<ExecutionId> = executions.iter().map(|e| e.id.clone()).collect();
    state
        .store
        .purge_executions(
            &ids,
            true,
            params.delete_logs.unwrap_or(true),
            params.delete_metrics.unwrap_or(true),
        )
        .await?;
    Ok(())
}

#[utoipa::path(delete, path = "/api/v1/executions/{id}", tag = "executions", params(("id" = String, Path), DeleteParams),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorJson),
              (status = 409, description = "It has not ended", body = crate::error::ErrorJson)))]
/// `DELETE /api/v1/executions/{id}`: deletes an ended execution, with its
/// logs, metrics and files unless `deleteLogs`/`deleteMetrics`/`deleteStorage`
/// say false.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<DeleteParams>,
) -> Result<StatusCode, ApiError> {
    let id = super::params::execution_id("id", &id)?;
    let execution = find_as(&state, &id, &caller, Role::Operator).await?;
    if !execution.state.is_terminal() {
        return Err(ApiError::Conflict {
            message: format!(
                "execution {id} is {}: kill it first, or wait for its end",
                execution.state
            ),
        });
    }
    delete_records(&state, std::slice::from_ref(&execution), &params).await?;
    caller
        .audit(
            &state.store,
            "execution.delete",
            Some(execution.namespace.as_str()),
            Some(id.as_str()),
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PreviewParams {
    path: String,
    /// How many lines (rows of an Ion file) to show: 100 by default, at most 5,000.
    max_rows: Option<usize>,
    /// The text's character set; UTF-8 is read, another is refused.
    encoding: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/file/metas", tag = "executions", params(("id" = String, Path), FileParams),
    responses((status = 200, description = "Kestra's FileMetas: `{size}`"), (status = 403, body = crate::error::ErrorJson), (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/file/metas?path=storage:///…`: the file's size.
pub(crate) async fn file_metas(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<FileParams>,
) -> Result<Json<Value>, ApiError> {
    let (_, size) = open_file(&state, &caller, &id, &params.path).await?;
    Ok(Json(serde_json::json!({"size": size})))
}

/// The extensions Kestra previews as images.
const IMAGES: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "bmp", "webp"];

#[utoipa::path(get, path = "/api/v1/executions/{id}/file/preview", tag = "executions", params(("id" = String, Path), PreviewParams),
    responses((status = 200, description = "Kestra's FileRender: `{extension, type (TEXT, LIST, IMAGE, MARKDOWN), content, truncated}`"),
              (status = 403, body = crate::error::ErrorJson), (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/file/preview?path=…&maxRows=100`: the
/// file's first lines as Kestra's FileRender: an Ion file's first values as
/// a LIST, Markdown as MARKDOWN, an image as IMAGE (base64), else TEXT.
pub(crate) async fn file_preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<PreviewParams>,
) -> Result<Json<Value>, ApiError> {
    if let Some(encoding) = params.encoding.as_deref().filter(|e| {
        !matches!(
            e.to_ascii_uppercase().replace('-', "").as_str(),
            "UTF8" | ""
        )
    }) {
        return Err(ApiError::BadRequest {
            message: format!("encoding {encoding}: Mortar previews UTF-8 text only"),
        });
    }
    let (file, size) = open_file(&state, &caller, &id, &params.path).await?;
    let rows = params.max_rows.unwrap_or(100).clamp(1, 5000);
    let name = params.path.rsplit('/').next().unwrap_or("file");
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if IMAGES.contains(&extension.as_str()) {
        use base64::Engine as _;
        const IMAGE_LIMIT: u64 = 10 * 1024 * 1024;
        if size > IMAGE_LIMIT {
            return Err(ApiError::BadRequest {
                message: format!(
                    "{name} is {size} bytes: images are previewed up to 10 MiB; download it instead"
                ),
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        tokio::io::AsyncReadExt::read_to_end(&mut { file }, &mut bytes)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(Json(serde_json::json!({
            "extension": extension,
            "type": "IMAGE",
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "truncated": false,
        })));
    }
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(file));
    let mut kept = Vec::new();
    let mut truncated = false;
    while let Some(line) = lines.next_line().await.map_err(|e| ApiError::BadRequest {
        message: format!("{name} cannot be previewed as UTF-8 text: {e}"),
    })? {
        if kept.len() == rows {
            truncated = true;
            break;
        }
        kept.push(line);
    }
    let (kind, content) = match extension.as_str() {
        "ion" => {
            let values: Vec<Value> = kept
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    engine::flow::pebble::convert::ion_fields(l)
                        .map_or_else(|_| Value::String(l.clone()), |(value, _)| value)
                })
                .collect();
            ("LIST", Value::Array(values))
        }
        "md" => ("MARKDOWN", Value::String(kept.join("\n"))),
        _ => ("TEXT", Value::String(kept.join("\n"))),
    };
    Ok(Json(serde_json::json!({
        "extension": extension,
        "type": kind,
        "content": content,
        "truncated": truncated,
    })))
}

/// What a follower of an execution holds between events.
struct ExecutionFollower {
    state: AppState,
    id: ExecutionId,
    changes: tokio::sync::broadcast::Receiver<(ExecutionId, RunState)>,
    /// The last execution sent, to send only changes.
    last: Option<String>,
    started: bool,
    done: bool,
}

impl ExecutionFollower {
    /// The next event: `start`, then `progress` at each change of the
    /// execution or its task runs, then `end` with the final execution.
    async fn next(&mut self) -> Option<axum::response::sse::Event> {
        use axum::response::sse::Event;
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Event::default()
                .id("start")
                .json_data(serde_json::json!({"id": self.id.as_str()}))
                .ok();
        }
        loop {
            let record = find(&self.state, &self.id).await.ok()?;
            // PAUSED is not an end: a resume goes on.
            let ended = record.state.is_terminal();
            // Read after the state: the task runs of an end seen are final.
            let runs = self.state.store.task_runs(&self.id).await.ok()?;
            let text = serde_json::to_string(&execution_json(record, runs, now_ms())).ok()?;
            if ended {
                self.done = true;
                return Some(Event::default().id("end").data(text));
            }
            if self.last.as_deref() != Some(text.as_str()) {
                self.last = Some(text.clone());
                return Some(Event::default().id("progress").data(text));
            }
            // A change of this execution, or a look again shortly: task
            // runs change without an execution event.
            let wait = async {
                loop {
                    match self.changes.recv().await {
                        Ok((id, _)) if id == self.id => return,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_millis(250), wait).await;
        }
    }
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/follow", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, description = "Server-Sent Events as Kestra's: `start`, a `progress` per change with the execution, `end` with the final one", content_type = "text/event-stream"),
              (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/follow`: the execution's states as
/// Server-Sent Events, as Kestra's: an event with id `start`, one with id
/// `progress` and the execution (Kestra's JSON) at each change, and one
/// with id `end` and the final execution once it has ended (a paused one
/// goes on).
pub(crate) async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<
    axum::response::sse::Sse<
        impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    let id = super::params::execution_id("id", &id)?;
    // Subscribed before the first read, so no change in between is missed.
    let changes = state.executor.subscribe();
    find_as(&state, &id, &caller, Role::Viewer).await?;
    let follower = ExecutionFollower {
        state,
        id,
        changes,
        last: None,
        started: false,
        done: false,
    };
    let stream = futures::stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        Some((Ok(event), follower))
    });
    Ok(axum::response::sse::Sse::new(stream).keep_alive(
        axum::response::sse::KeepAlive::new().interval(std::time::Duration::from_secs(15)),
    ))
}
