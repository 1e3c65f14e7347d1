//! Kestra's actions on many executions at once (kill, delete, restart,
//! replay and labels by ids: every id checked first, nothing done on any
//! refusal), the latest execution of each flow, and one flow's executions.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::auth::Role;
use engine::state::State as RunState;
use engine::store::query::{Condition, Op, Operand};
use engine::store::{ExecutionField, ExecutionFilter};
use serde::Deserialize;
use serde_json::Value;

use engine::ids::{FlowId, Namespace};

use super::executions::{
    DeleteParams, LabelJson, SearchResult, checked_labels, delete_records, find_as, page_json,
    plan_of,
};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// What a bulk action does with one execution, once every one was checked.
#[derive(Clone, Copy)]
enum Bulk<'a> {
    Kill,
    Delete { non_terminated: bool },
    Restart,
    Replay,
    Labels(&'a std::collections::BTreeMap<String, String>),
}

impl Bulk<'_> {
    fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Delete { .. } => "delete",
            Self::Restart => "restart",
            Self::Replay => "replay",
            Self::Labels(_) => "labels",
        }
    }

    /// Why `execution` cannot take this action, as Kestra words it.
    fn refusal(self, execution: &engine::store::ExecutionRecord) -> Option<&'static str> {
        let ended = execution.state.is_terminal();
        match self {
            Self::Kill if ended => Some("execution already finished"),
            Self::Delete {
                non_terminated: false,
            } if !ended => Some("execution not terminated"),
            Self::Restart if !matches!(execution.state, RunState::Failed | RunState::Killed) => {
                Some("execution not in state FAILED or KILLED")
            }
            Self::Replay | Self::Labels(_) if !ended => Some("execution not terminated"),
            _ => None,
        }
    }
}

/// Kestra's bulk actions by ids: every id is checked first (found, the
/// caller's to act on, in a state the action takes); any refusal answers
/// 400 with Kestra's BulkErrorResponse (`message`, `invalids`) and nothing
/// is done; else every one is acted on and the count answered.
async fn by_ids(
    state: &AppState,
    caller: &Caller,
    ids: Vec<String>,
    action: Bulk<'_>,
    delete: Option<&DeleteParams>,
) -> Result<Response, ApiError> {
    let mut found = Vec::new();
    let mut invalids = Vec::new();
    for raw in &ids {
        let refusal = match super::params::execution_id("executionsId", raw) {
            Err(_) => Some("execution not found"),
            Ok(id) => match find_as(state, &id, caller, Role::Operator).await {
                Err(ApiError::NotFound { .. }) => Some("execution not found"),
                Err(ApiError::Forbidden { .. }) => {
                    Some("user don't have the authorisation to act on this execution")
                }
                Err(other) => return Err(other),
                Ok(execution) => match action.refusal(&execution) {
                    Some(refusal) => Some(refusal),
                    None => {
                        found.push(execution);
                        None
                    }
                },
            },
        };
        if let Some(message) = refusal {
            invalids.push(
                serde_json::json!({"message": message, "invalidValue": raw, "path": "execution"}),
            );
        }
    }
    if !invalids.is_empty() {
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"message": format!("invalid bulk {}", action.name()), "invalids": invalids})),
        )
            .into_response());
    }
    match action {
        Bulk::Delete { .. } => {
            delete_records(state, &found, delete.expect("delete has its parameters")).await?
        }
        Bulk::Kill => {
            for execution in &found {
                state.executor.kill(&execution.id).await?;
            }
        }
        Bulk::Restart => {
            for execution in &found {
                let plan = plan_of(state, execution, "restarted").await?;
                state.executor.restart(&execution.id, plan).await?;
            }
        }
        Bulk::Replay => {
            for execution in &found {
                let plan = plan_of(state, execution, "replayed").await?;
                state.executor.replay(&execution.id, None, plan).await?;
            }
        }
        Bulk::Labels(labels) => {
            for execution in &found {
                state
                    .store
                    .add_execution_labels(&execution.id, labels, false)
                    .await?;
            }
        }
    }
    for execution in &found {
        caller
            .audit(
                &state.store,
                &format!("execution.{}", action.name()),
                Some(execution.namespace.as_str()),
                Some(execution.id.as_str()),
                Some(serde_json::json!({"bulk": true})),
            )
            .await;
    }
    Ok(Json(serde_json::json!({"count": found.len()})).into_response())
}

#[utoipa::path(delete, path = "/api/v1/executions/kill/by-ids", tag = "executions", request_body = Vec<String>,
    responses((status = 200, description = "Kestra's BulkResponse: `{count}`"), (status = 400, description = "Kestra's BulkErrorResponse: `{message, invalids}`; nothing was done")))]
/// `DELETE /api/v1/executions/kill/by-ids`: kills each running execution of
/// the list.
pub(crate) async fn kill_by_ids(
    State(state): State<AppState>,
    caller: Caller,
    Json(ids): Json<Vec<String>>,
) -> Result<Response, ApiError> {
    by_ids(&state, &caller, ids, Bulk::Kill, None).await
}

#[utoipa::path(delete, path = "/api/v1/executions/by-ids", tag = "executions", params(DeleteParams), request_body = Vec<String>,
    responses((status = 200, description = "Kestra's BulkResponse: `{count}`"), (status = 400, description = "Kestra's BulkErrorResponse: `{message, invalids}`; nothing was done")))]
/// `DELETE /api/v1/executions/by-ids`: deletes each ended execution of the
/// list (any, with `includeNonTerminated=true`).
pub(crate) async fn delete_by_ids(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<DeleteParams>,
    Json(ids): Json<Vec<String>>,
) -> Result<Response, ApiError> {
    let action = Bulk::Delete {
        non_terminated: params.include_non_terminated.unwrap_or(false),
    };
    by_ids(&state, &caller, ids, action, Some(&params)).await
}

#[utoipa::path(post, path = "/api/v1/executions/restart/by-ids", tag = "executions", request_body = Vec<String>,
    responses((status = 200, description = "Kestra's BulkResponse: `{count}`"), (status = 400, description = "Kestra's BulkErrorResponse: `{message, invalids}`; nothing was done")))]
/// `POST /api/v1/executions/restart/by-ids`: restarts each FAILED or KILLED
/// execution of the list.
pub(crate) async fn restart_by_ids(
    State(state): State<AppState>,
    caller: Caller,
    Json(ids): Json<Vec<String>>,
) -> Result<Response, ApiError> {
    by_ids(&state, &caller, ids, Bulk::Restart, None).await
}

#[utoipa::path(post, path = "/api/v1/executions/replay/by-ids", tag = "executions", request_body = Vec<String>,
    responses((status = 200, description = "Kestra's BulkResponse: `{count}`"), (status = 400, description = "Kestra's BulkErrorResponse: `{message, invalids}`; nothing was done")))]
/// `POST /api/v1/executions/replay/by-ids`: replays each ended execution of
/// the list from its start, as new executions.
pub(crate) async fn replay_by_ids(
    State(state): State<AppState>,
    caller: Caller,
    Json(ids): Json<Vec<String>>,
) -> Result<Response, ApiError> {
    by_ids(&state, &caller, ids, Bulk::Replay, None).await
}

/// Kestra's `SetLabelsByIdsRequest`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabelsByIds {
    executions_id: Vec<String>,
    execution_labels: Vec<LabelJson>,
}

#[utoipa::path(post, path = "/api/v1/executions/labels/by-ids", tag = "executions", request_body = LabelsByIds,
    responses((status = 200, description = "Kestra's BulkResponse: `{count}`"), (status = 400, description = "Kestra's BulkErrorResponse: `{message, invalids}`; nothing was done")))]
/// `POST /api/v1/executions/labels/by-ids`: adds the labels to each ended
/// execution of the list; a key already there takes the new value.
pub(crate) async fn labels_by_ids(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<LabelsByIds>,
) -> Result<Response, ApiError> {
    let labels = checked_labels(body.execution_labels)?;
    by_ids(&state, &caller, body.executions_id, Bulk::Labels(&labels), None).await
}

/// Kestra's `FlowFilter`: one flow.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct FlowRef {
    namespace: String,
    id: String,
}

#[utoipa::path(post, path = "/api/v1/executions/latest", tag = "executions", request_body = Vec<FlowRef>,
    responses((status = 200, description = "Kestra's LastExecutionResponse for each flow that has run: `{id, flowId, namespace, startDate, status}`")))]
/// `POST /api/v1/executions/latest`: the newest execution of each flow
/// given (those never run, or the caller may not read, are left out).
pub(crate) async fn latest(
    State(state): State<AppState>,
    caller: Caller,
    Json(flows): Json<Vec<FlowRef>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let mut out = Vec::new();
    for flow in flows {
        let namespace = super::params::namespace(&flow.namespace)?;
        let flow_id = super::params::flow_id("id", &flow.id)?;
        if caller.require(Role::Viewer, Some(namespace.as_str())).is_err() {
            continue;
        }
        let filter = flow_filter(&namespace, &flow_id);
        if let Some(execution) = state.store.search_executions(&filter, 1, 1).await?.results.pop() {
            out.push(serde_json::json!({
                "id": execution.id.as_str(),
                "flowId": execution.flow_id.as_str(),
                "namespace": execution.namespace.as_str(),
                "startDate": super::model::iso(execution.created_at),
                "status": execution.state.as_str(),
            }));
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ByFlowParams {
    namespace: String,
    flow_id: String,
    /// From 1.
    page: Option<i64>,
    /// Default 10, as Kestra's.
    size: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/executions", tag = "executions", params(ByFlowParams),
    responses((status = 200, body = SearchResult), (status = 400, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions?namespace=…&flowId=…`: one flow's executions,
/// newest first.
pub(crate) async fn by_flow(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ByFlowParams>,
) -> Result<Json<SearchResult>, ApiError> {
    let namespace = super::params::namespace(&params.namespace)?;
    let flow_id = super::params::flow_id("flowId", &params.flow_id)?;
    caller.require(Role::Viewer, Some(namespace.as_str()))?;
    let filter = flow_filter(&namespace, &flow_id);
    let page = state
        .store
        .search_executions(&filter, params.page.unwrap_or(1), params.size.unwrap_or(10))
        .await?;
    Ok(Json(page_json(&state, page).await?))
}

/// The executions of one flow: its namespace exactly (not those under it).
fn flow_filter(namespace: &Namespace, flow_id: &FlowId) -> ExecutionFilter {
    ExecutionFilter {
        flow_id: Some(flow_id.to_string()),
        conditions: vec![Condition {
            field: ExecutionField::Namespace,
            op: Op::Equals,
            operand: Operand::Text(namespace.to_string()),
        }],
        ..Default::default()
    }
}

