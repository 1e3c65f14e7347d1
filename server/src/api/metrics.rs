//! Metrics that tasks published (metric.Publish), on Kestra's
//! `/api/v1/metrics` paths and shapes: an execution's, page by page; the
//! names and tasks of a flow's; one metric aggregated over time.

use axum::Json;
use axum::extract::{Path, Query, State};
use engine::auth::Role;
use engine::store::{Aggregation, MetricQuery, MetricRecord, MetricSort};
use serde::{Deserialize, Serialize};

use super::model::iso;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// The largest `size` of a page.
const MAX_SIZE: i64 = 10_000;

/// Kestra's MetricEntry.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetricJson {
    namespace: String,
    flow_id: String,
    task_id: Option<String>,
    execution_id: Option<String>,
    task_run_id: Option<String>,
    /// counter, timer (its value in milliseconds) or gauge.
    #[serde(rename = "type")]
    kind: String,
    name: String,
    value: f64,
    timestamp: String,
    tags: std::collections::BTreeMap<String, String>,
}

fn metric_json(record: MetricRecord) -> MetricJson {
    let m = record.metric;
    MetricJson {
        namespace: m.namespace.as_str().to_owned(),
        flow_id: m.flow_id.as_str().to_owned(),
        task_id: m.task_id.map(|t| t.as_str().to_owned()),
        execution_id: m.execution_id.map(|e| e.as_str().to_owned()),
        task_run_id: m.task_run_id.map(|t| t.as_str().to_owned()),
        kind: m.kind,
        name: m.name,
        value: m.value,
        timestamp: iso(m.at),
        tags: m.tags,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct MetricPage {
    results: Vec<MetricJson>,
    total: i64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetricParams {
    /// The page, from 1.
    page: Option<i64>,
    /// Metrics on a page (1 to 10,000; default 10, as in Kestra).
    size: Option<i64>,
    /// `name`, `timestamp`, `value` or `taskId`, with `:asc` or `:desc`.
    sort: Option<String>,
    /// Only this task run's metrics.
    task_run_id: Option<String>,
    /// Only this task's metrics.
    task_id: Option<String>,
}

/// `GET /api/v1/metrics/{executionId}`: a page of the execution's metrics.
#[utoipa::path(get, path = "/api/v1/metrics/{executionId}", tag = "metrics", params(("executionId" = String, Path), MetricParams),
    responses((status = 200, body = MetricPage), (status = 400, body = crate::error::ErrorJson), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn for_execution(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<MetricParams>,
) -> Result<Json<MetricPage>, ApiError> {
    let id = super::params::execution_id("executionId", &id)?;
    let page = params.page.unwrap_or(1);
    let size = params.size.unwrap_or(10);
    let offset = super::params::page_offset(page, size, MAX_SIZE)?;
    let sort = match params.sort.as_deref().filter(|s| !s.is_empty()) {
        None => MetricSort::default(),
        Some(text) => MetricSort::parse(text).ok_or_else(|| ApiError::BadRequest {
            message: format!(
                "sort {text:?}: use name, timestamp, value or taskId, with :asc or :desc"
            ),
        })?,
    };
    super::executions::find_as(&state, &id, &caller, Role::Viewer).await?;
    let query = MetricQuery {
        task_id: params.task_id.filter(|s| !s.is_empty()),
        task_run_id: params.task_run_id.filter(|s| !s.is_empty()),
        sort,
        limit: size,
        offset,
    };
    let (records, total) = state.store.execution_metrics(&id, &query).await?;
    Ok(Json(MetricPage {
        results: records.into_iter().map(metric_json).collect(),
        total,
    }))
}

fn flow(caller: &Caller, namespace: &str, flow_id: &str) -> Result<(), ApiError> {
    super::params::namespace(namespace)?;
    super::params::flow_id("flowId", flow_id)?;
    caller.require(Role::Viewer, Some(namespace))?;
    Ok(())
}

/// `GET /api/v1/metrics/names/{namespace}/{flowId}`: the names of the
/// flow's metrics.
#[utoipa::path(get, path = "/api/v1/metrics/names/{namespace}/{flowId}", tag = "metrics",
    params(("namespace" = String, Path), ("flowId" = String, Path)),
    responses((status = 200, body = Vec<String>)))]
pub(crate) async fn flow_names(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id)): Path<(String, String)>,
) -> Result<Json<Vec<String>>, ApiError> {
    flow(&caller, &namespace, &flow_id)?;
    Ok(Json(
        state.store.metric_names(&namespace, &flow_id, None).await?,
    ))
}

/// `GET /api/v1/metrics/names/{namespace}/{flowId}/{taskId}`: the names of
/// one task's metrics.
#[utoipa::path(get, path = "/api/v1/metrics/names/{namespace}/{flowId}/{taskId}", tag = "metrics",
    params(("namespace" = String, Path), ("flowId" = String, Path), ("taskId" = String, Path)),
    responses((status = 200, body = Vec<String>)))]
pub(crate) async fn task_names(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id, task_id)): Path<(String, String, String)>,
) -> Result<Json<Vec<String>>, ApiError> {
    flow(&caller, &namespace, &flow_id)?;
    Ok(Json(
        state
            .store
            .metric_names(&namespace, &flow_id, Some(&task_id))
            .await?,
    ))
}

/// `GET /api/v1/metrics/tasks/{namespace}/{flowId}`: the flow's tasks that
/// published metrics.
#[utoipa::path(get, path = "/api/v1/metrics/tasks/{namespace}/{flowId}", tag = "metrics",
    params(("namespace" = String, Path), ("flowId" = String, Path)),
    responses((status = 200, body = Vec<String>)))]
pub(crate) async fn tasks(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id)): Path<(String, String)>,
) -> Result<Json<Vec<String>>, ApiError> {
    flow(&caller, &namespace, &flow_id)?;
    Ok(Json(state.store.metric_tasks(&namespace, &flow_id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AggregateParams {
    /// From this ISO-8601 instant; 30 days ago by default.
    start_date: Option<String>,
    /// To this ISO-8601 instant; now by default.
    end_date: Option<String>,
    /// avg, sum (the default), min or max.
    aggregation: Option<String>,
}

/// Kestra's MetricAggregation.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AggregationJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    value: f64,
    date: String,
}

/// Kestra's MetricAggregations.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AggregationsJson {
    /// month, week, day, hour or minute: from the range's length.
    group_by: String,
    aggregations: Vec<AggregationJson>,
}

async fn aggregate(
    state: &AppState,
    (namespace, flow_id, task_id, metric): (&str, &str, Option<&str>, &str),
    params: AggregateParams,
) -> Result<AggregationsJson, ApiError> {
    let now = crate::auth::engine_now_ms();
    let end = params
        .end_date
        .as_deref()
        .map(|d| super::executions::parse_instant("endDate", d))
        .transpose()?
        .unwrap_or(now);
    let start = params
        .start_date
        .as_deref()
        .map(|d| super::executions::parse_instant("startDate", d))
        .transpose()?
        .unwrap_or(now - 30 * 86_400_000);
    if start > end {
        return Err(ApiError::BadRequest {
            message: "startDate must be before endDate".into(),
        });
    }
    let how = params.aggregation.as_deref().unwrap_or("sum");
    let aggregation = Aggregation::parse(how).ok_or_else(|| ApiError::BadRequest {
        message: format!("aggregation {how:?}: use avg, sum, min or max"),
    })?;
    let values = state
        .store
        .metric_values(namespace, flow_id, task_id, metric, start, end)
        .await?;
    let (group, buckets) = engine::store::aggregate(metric, &values, start, end, aggregation);
    Ok(AggregationsJson {
        group_by: serde_json::to_value(group)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        aggregations: buckets
            .into_iter()
            .map(|b| AggregationJson {
                name: b.name,
                value: b.value,
                date: iso(b.date),
            })
            .collect(),
    })
}

/// `GET /api/v1/metrics/aggregates/{namespace}/{flowId}/{metric}`: a flow's
/// metric aggregated per time bucket.
#[utoipa::path(get, path = "/api/v1/metrics/aggregates/{namespace}/{flowId}/{metric}", tag = "metrics",
    params(("namespace" = String, Path), ("flowId" = String, Path), ("metric" = String, Path), AggregateParams),
    responses((status = 200, body = AggregationsJson), (status = 400, body = crate::error::ErrorJson)))]
pub(crate) async fn flow_aggregates(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id, metric)): Path<(String, String, String)>,
    Query(params): Query<AggregateParams>,
) -> Result<Json<AggregationsJson>, ApiError> {
    flow(&caller, &namespace, &flow_id)?;
    Ok(Json(
        aggregate(&state, (&namespace, &flow_id, None, &metric), params).await?,
    ))
}

/// `GET /api/v1/metrics/aggregates/{namespace}/{flowId}/{taskId}/{metric}`:
/// one task's metric aggregated per time bucket.
#[utoipa::path(get, path = "/api/v1/metrics/aggregates/{namespace}/{flowId}/{taskId}/{metric}", tag = "metrics",
    params(("namespace" = String, Path), ("flowId" = String, Path), ("taskId" = String, Path), ("metric" = String, Path), AggregateParams),
    responses((status = 200, body = AggregationsJson), (status = 400, body = crate::error::ErrorJson)))]
pub(crate) async fn task_aggregates(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, flow_id, task_id, metric)): Path<(String, String, String, String)>,
    Query(params): Query<AggregateParams>,
) -> Result<Json<AggregationsJson>, ApiError> {
    flow(&caller, &namespace, &flow_id)?;
    Ok(Json(
        aggregate(
            &state,
            (&namespace, &flow_id, Some(&task_id), &metric),
            params,
        )
        .await?,
    ))
}
