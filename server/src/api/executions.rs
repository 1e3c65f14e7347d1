//! Executions: read one, search, download one of its files.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use engine::ids::ExecutionId;
use engine::state::State as RunState;
use engine::storage::Storage;
use engine::store::ExecutionFilter;
use serde::{Deserialize, Serialize};

use super::model::{ExecutionJson, execution_json};
use crate::AppState;
use crate::error::ApiError;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// `GET /api/v1/executions/{id}`: Kestra's execution JSON with its task runs.
pub(crate) async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ExecutionJson>, ApiError> {
    let id = ExecutionId::new(id);
    let Some(execution) = state.store.get_execution(&id).await? else {
        return Err(ApiError::NotFound { message: format!("execution {id} does not exist") });
    };
    let task_runs = state.store.task_runs(&id).await?;
    Ok(Json(execution_json(execution, task_runs, now_ms())))
}

#[derive(Deserialize)]
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

#[derive(Serialize)]
pub(crate) struct SearchResult {
    results: Vec<ExecutionJson>,
    total: i64,
}

/// `GET /api/v1/executions/search`: newest first, `page` from 1, `size` up
/// to 1000 (default 25).
pub(crate) async fn search(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchResult>, ApiError> {
    let mut filter = ExecutionFilter {
        namespace: params.namespace.filter(|s| !s.is_empty()),
        flow_id: params.flow_id.filter(|s| !s.is_empty()),
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
    filter.created_from = params.start_date.as_deref().map(|d| parse_instant("startDate", d)).transpose()?;
    filter.created_to = params.end_date.as_deref().map(|d| parse_instant("endDate", d)).transpose()?;
    if let Some(labels) = params.labels.filter(|s| !s.is_empty()) {
        for pair in labels.split(',') {
            let (key, value) = pair.split_once(':').ok_or_else(|| ApiError::BadRequest {
                message: format!("label filter {pair:?} must be key:value"),
            })?;
            filter.labels.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let page = state.store.search_executions(&filter, params.page.unwrap_or(1), params.size.unwrap_or(25)).await?;
    let now = now_ms();
    let mut results = Vec::with_capacity(page.results.len());
    for execution in page.results {
        let task_runs = state.store.task_runs(&execution.id).await?;
        results.push(execution_json(execution, task_runs, now));
    }
    Ok(Json(SearchResult { results, total: page.total }))
}

fn parse_instant(name: &str, text: &str) -> Result<i64, ApiError> {
    let instant = text.parse::<jiff::Timestamp>().map_err(|e| ApiError::BadRequest {
        message: format!("{name} {text:?} is not an ISO-8601 instant such as 2026-11-25T08:00:00Z: {e}"),
    })?;
    Ok(instant.as_millisecond())
}

#[derive(Deserialize)]
pub(crate) struct FileParams {
    path: String,
}

/// `GET /api/v1/executions/{id}/file?path=storage:///…`: streams a file of
/// this execution. Files of other executions are not reachable this way.
pub(crate) async fn file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<FileParams>,
) -> Result<Response, ApiError> {
    let id = ExecutionId::new(id);
    let Some(execution) = state.store.get_execution(&id).await? else {
        return Err(ApiError::NotFound { message: format!("execution {id} does not exist") });
    };
    let prefix = Storage::execution_uri(&execution.namespace, &execution.flow_id, &execution.id, "");
    let prefix = prefix.trim_end_matches("file");
    if !params.path.starts_with(prefix) {
        return Err(ApiError::BadRequest {
            message: format!("{} is not a file of execution {id}: its files start with {prefix}", params.path),
        });
    }
    let (file, size) = state.storage.open(&params.path).await.map_err(|error| match error {
        engine::storage::StorageError::NotFound { uri } => ApiError::NotFound { message: format!("{uri} does not exist") },
        engine::storage::StorageError::BadUri { uri } => ApiError::BadRequest { message: format!("{uri:?} is not a storage URI") },
        other => ApiError::Internal(other.to_string()),
    })?;
    let name = params.path.rsplit('/').next().unwrap_or("file").to_owned();
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}
