//! The triggers of stored flows with what the scheduler keeps of them, on
//! Kestra's paths and shapes (`/api/v1/triggers`): search (all, or one
//! flow's), and turning them off and on, one or several at once.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use engine::auth::Role;
use engine::store::TriggerState;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::iso;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// Kestra's trigger state (`ApiTriggerState`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateJson {
    namespace: String,
    flow_id: String,
    trigger_id: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_evaluation_date: Option<String>,
    disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_triggered_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

/// A trigger as the flow declares it, with its state (`ApiTriggerAndState`).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TriggerJson {
    #[schema(value_type = Object)]
    trigger: Value,
    state: StateJson,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TriggerPage {
    results: Vec<TriggerJson>,
    total: usize,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SearchParams {
    /// Only this namespace (and those under it).
    #[serde(default)]
    namespace: Option<String>,
    /// Only this flow (with `namespace`).
    #[serde(default, rename = "flowId")]
    flow_id: Option<String>,
    /// Text in the namespace, flow or trigger id.
    #[serde(default)]
    q: Option<String>,
    /// From 1.
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    size: Option<usize>,
}

/// Which trigger (`TriggerControllerApiTriggerId`), and for one, whether off.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TriggerId {
    namespace: String,
    flow_id: String,
    trigger_id: String,
    #[serde(default)]
    disabled: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SetDisabled {
    triggers: Vec<TriggerId>,
    disabled: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct BulkResponse {
    count: usize,
}

fn kind_of(trigger_type: &str) -> Option<&'static str> {
    match engine::plan::short_type(trigger_type) {
        "trigger.Schedule" | "trigger.ScheduleOnDates" => Some("SCHEDULE"),
        "trigger.Flow" | "trigger.Webhook" => Some("REALTIME"),
        short if engine::polling::polled(short).is_some() => Some("POLLING"),
        _ => None,
    }
}

/// Every trigger of the stored flows that `filter` keeps, with its state.
async fn collect(
    state: &AppState,
    caller: &Caller,
    filter: impl Fn(&str, &str, &str) -> bool,
) -> Result<Vec<TriggerJson>, ApiError> {
    let scopes = caller.principal.scopes(Role::Viewer);
    let kept: HashMap<(String, String, String), TriggerState> = state
        .store
        .trigger_states(None, None)
        .await?
        .into_iter()
        .map(|s| {
            (
                (s.namespace.clone(), s.flow_id.clone(), s.trigger_id.clone()),
                s,
            )
        })
        .collect();
    let now = jiff::Timestamp::now().as_millisecond();
    let mut out = Vec::new();
    for flow in state.store.flows_with_source_like("%triggers%").await? {
        if !engine::auth::in_scopes(scopes.as_deref(), flow.namespace.as_str()) {
            continue;
        }
        let Some(model) = engine::flow::parse(&flow.source).flow else {
            continue;
        };
        for trigger in &model.triggers {
            let id = trigger.id.value.clone();
            if !filter(flow.namespace.as_str(), flow.id.as_str(), &id) {
                continue;
            }
            let found = kept.get(&(flow.namespace.to_string(), flow.id.to_string(), id.clone()));
            out.push(TriggerJson {
                trigger: trigger.node.to_json(),
                state: StateJson {
                    namespace: flow.namespace.to_string(),
                    flow_id: flow.id.to_string(),
                    trigger_id: id,
                    // Kestra's clients need a date: the last change kept, or now.
                    updated_at: iso(found
                        .map(|s| {
                            s.updated_at
                                .max(s.evaluated_at.unwrap_or(0))
                                .max(s.last_triggered.unwrap_or(0))
                        })
                        .filter(|t| *t > 0)
                        .unwrap_or(now)),
                    evaluated_at: found.and_then(|s| s.evaluated_at).map(iso),
                    next_evaluation_date: found
                        .filter(|s| !s.disabled)
                        .and_then(|s| s.next_date)
                        .map(iso),
                    // Off in the flow's YAML or from the UI, the API or a Toggle.
                    disabled: trigger.disabled || found.is_some_and(|s| s.disabled),
                    last_triggered_date: found.and_then(|s| s.last_triggered).map(iso),
                    execution_id: found.and_then(|s| s.last_execution_id.clone()),
                    kind: kind_of(&trigger.trigger_type.value),
                },
            });
        }
    }
    Ok(out)
}

fn page(all: Vec<TriggerJson>, page: Option<usize>, size: Option<usize>) -> TriggerPage {
    let total = all.len();
    let size = size.unwrap_or(25).clamp(1, 1000);
    let skip = page
        .unwrap_or(1)
        .max(1)
        .saturating_sub(1)
        .saturating_mul(size);
    TriggerPage {
        results: all.into_iter().skip(skip).take(size).collect(),
        total,
    }
}

/// `GET /api/v1/triggers/search`: the triggers of every flow the caller can see.
#[utoipa::path(get, path = "/api/v1/triggers/search", tag = "triggers", params(SearchParams),
    responses((status = 200, description = "Triggers with their state, by namespace, flow and id", body = TriggerPage)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
    RawQuery(raw): RawQuery,
) -> Result<Json<TriggerPage>, ApiError> {
    let q = params.q.as_deref().unwrap_or_default().to_ascii_lowercase();
    let all = collect(&state, &caller, |namespace, flow, trigger| {
        params.namespace.as_deref().is_none_or(|n| {
            namespace == n
                || namespace
                    .strip_prefix(n)
                    .is_some_and(|rest| rest.starts_with('.'))
        }) && params.flow_id.as_deref().is_none_or(|f| flow == f)
            && (q.is_empty()
                || [namespace, flow, trigger]
                    .iter()
                    .any(|t| t.to_ascii_lowercase().contains(&q)))
    })
    .await?;
    let all = filtered(all, raw.as_deref())?;
    Ok(Json(page(all, params.page, params.size)))
}

/// The triggers that Kestra's `filters[field][OPERATION]` keep: `q`,
/// `namespace`, `flowId`, `triggerId`, `scope` and `triggerState`
/// (ENABLED or DISABLED).
fn filtered(all: Vec<TriggerJson>, raw: Option<&str>) -> Result<Vec<TriggerJson>, ApiError> {
    use super::query_filter::{Resource, SYSTEM_NAMESPACE, parse};
    use engine::store::query::{Op, matches};
    let filters = parse(raw, Resource::Trigger)?;
    Ok(all
        .into_iter()
        .filter(|t| {
            let s = &t.state;
            filters.iter().all(|filter| {
                let text = filter.text();
                let holds = |actual: &str| matches(filter.op, actual, &text);
                let equals = filter.op == Op::Equals;
                match filter.field {
                    "q" => {
                        [&s.namespace, &s.flow_id, &s.trigger_id]
                            .iter()
                            .any(|field| matches(Op::Contains, field, &text))
                            == equals
                    }
                    "namespace" => holds(&s.namespace),
                    "flowId" => holds(&s.flow_id),
                    "triggerId" => holds(&s.trigger_id),
                    "triggerState" => s.disabled == filter.selects("DISABLED"),
                    "scope" => (s.namespace == SYSTEM_NAMESPACE) == filter.selects("SYSTEM"),
                    _ => true,
                }
            })
        })
        .collect())
}

/// `GET /api/v1/triggers/{namespace}/{flowId}`: one flow's triggers.
#[utoipa::path(get, path = "/api/v1/triggers/{namespace}/{flowId}", tag = "triggers",
    params(("namespace" = String, Path, description = "The namespace"), ("flowId" = String, Path, description = "The flow"), SearchParams),
    responses((status = 200, description = "The flow's triggers with their state", body = TriggerPage)))]
pub(crate) async fn for_flow(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id)): Path<(String, String)>,
    Query(params): Query<SearchParams>,
) -> Result<Json<TriggerPage>, ApiError> {
    super::params::namespace(&namespace)?;
    super::params::flow_id("flowId", &flow_id)?;
    caller.require(Role::Viewer, Some(&namespace))?;
    let all = collect(&state, &caller, |n, f, _| n == namespace && f == flow_id).await?;
    Ok(Json(page(all, params.page, params.size)))
}

/// Turns one trigger off or on, after checking the flow declares it.
async fn set(
    state: &AppState,
    caller: &Caller,
    id: &TriggerId,
    disabled: bool,
) -> Result<(), ApiError> {
    let (namespace, flow_id) = (
        super::params::namespace(&id.namespace)?,
        super::params::flow_id("flowId", &id.flow_id)?,
    );
    caller.require(Role::Editor, Some(namespace.as_str()))?;
    let missing = || ApiError::NotFound {
        message: format!(
            "flow {namespace}.{flow_id} has no trigger `{}`",
            id.trigger_id
        ),
    };
    let flow = state
        .store
        .get_flow(&namespace, &flow_id)
        .await?
        .ok_or_else(missing)?;
    let model = engine::flow::parse(&flow.source).flow.ok_or_else(missing)?;
    if !model.triggers.iter().any(|t| t.id.value == id.trigger_id) {
        return Err(missing());
    }
    state
        .store
        .set_trigger_disabled(
            &namespace,
            &flow_id,
            &id.trigger_id,
            disabled,
            jiff::Timestamp::now().as_millisecond(),
        )
        .await?;
    let action = if disabled {
        "trigger.disable"
    } else {
        "trigger.enable"
    };
    caller
        .audit(
            &state.store,
            action,
            Some(namespace.as_str()),
            Some(&format!("{flow_id}.{}", id.trigger_id)),
            None,
        )
        .await;
    Ok(())
}

/// `PUT /api/v1/triggers/set-disabled`: turns one trigger off
/// (`disabled: true`) or on; answers with it and its state.
#[utoipa::path(put, path = "/api/v1/triggers/set-disabled", tag = "triggers", request_body = TriggerId,
    responses((status = 200, description = "The trigger and its new state", body = TriggerJson), (status = 404, description = "No such flow or trigger")))]
pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<TriggerId>,
) -> Result<Json<TriggerJson>, ApiError> {
    let disabled = request.disabled.ok_or_else(|| ApiError::BadRequest {
        message: "give `disabled`: true to turn the trigger off, false to turn it on".into(),
    })?;
    set(&state, &caller, &request, disabled).await?;
    let (namespace, flow_id, trigger_id) = (request.namespace, request.flow_id, request.trigger_id);
    let found = collect(&state, &caller, |n, f, t| {
        n == namespace && f == flow_id && t == trigger_id
    })
    .await?;
    found
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound {
            message: format!("flow {namespace}.{flow_id} has no trigger `{trigger_id}`"),
        })
}

/// `POST /api/v1/triggers/set-disabled/by-triggers`: several at once.
#[utoipa::path(post, path = "/api/v1/triggers/set-disabled/by-triggers", tag = "triggers", request_body = SetDisabled,
    responses((status = 200, description = "How many were changed", body = BulkResponse)))]
pub(crate) async fn set_disabled_by_triggers(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<SetDisabled>,
) -> Result<Json<BulkResponse>, ApiError> {
    for id in &request.triggers {
        set(&state, &caller, id, request.disabled).await?;
    }
    Ok(Json(BulkResponse {
        count: request.triggers.len(),
    }))
}
