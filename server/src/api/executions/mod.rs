//! Executions: read one, search, act on one (kill, resume, restart,
//! repair, replay, labels, delete); creating one, its files, its outputs
//! and following it are in the submodules.

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

mod create;
mod files;
mod follow;
mod outputs;

pub(crate) use create::*;
pub(crate) use files::*;
pub(crate) use follow::*;
pub(crate) use outputs::*;

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
    let id = crate::api::params::execution_id("id", &id)?;
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
    use crate::api::query_filter::{Resource, SYSTEM_NAMESPACE, parse};
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

/// `DELETE /api/v1/executions/{id}/kill`.
#[utoipa::path(delete, path = "/api/v1/executions/{id}/kill", tag = "executions", params(("id" = String, Path)),
    responses((status = 202, body = ExecutionJson), (status = 404, body = crate::error::ErrorJson), (status = 409, description = "Already ended", body = crate::error::ErrorJson)))]
pub(crate) async fn kill(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ExecutionJson>), ApiError> {
    let id = crate::api::params::execution_id("id", &id)?;
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
    let id = crate::api::params::execution_id("id", &id)?;
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

/// The plan of a flow's current revision, to start an execution of it; a
/// flow that cannot be planned is a 422 naming it.
pub(crate) fn plan_to_run(
    state: &AppState,
    namespace: &Namespace,
    flow_id: &FlowId,
    flow: &engine::store::StoredFlow,
) -> Result<Arc<Plan>, ApiError> {
    state
        .plans
        .get(namespace.as_str(), flow_id.as_str(), flow.revision, &flow.source)
        .map_err(|error| ApiError::Unprocessable {
            message: format!("flow {namespace}.{flow_id} cannot run: {error}"),
            violations: Vec::new(),
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
    let id = crate::api::params::execution_id("id", id)?;
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
    let id = crate::api::params::execution_id("id", &id)?;
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
    let id = crate::api::params::execution_id("id", &id)?;
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
    let id = crate::api::params::execution_id("id", &id)?;
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
