//! Kestra 2.0's output reads: a flow's outputs, a task's, a task run's.

use super::*;

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
        &crate::api::params::execution_id("id", &id)?,
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
    let id = crate::api::params::execution_id("id", &id)?;
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
    let id = crate::api::params::execution_id("id", &id)?;
    let task_run_id = crate::api::params::task_run_id(&task_run_id)?;
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
