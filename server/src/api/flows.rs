//! Flows: `POST /api/v1/flows` (a YAML body) and `GET /api/v1/flows/search`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use engine::header::read_header;
use engine::ids::Namespace;
use engine::store::FlowSource;
use serde::{Deserialize, Serialize};

use super::model::LabelJson;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Violation};
use engine::auth::Role;

/// A flow as Kestra's API returns it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlowJson {
    id: String,
    namespace: String,
    revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Kestra's list of `{key, value}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<LabelJson>,
    source: String,
}

/// Kestra's labels, a list of `{key, value}`, from a flow's map.
pub(crate) fn label_list(labels: BTreeMap<String, String>) -> Vec<LabelJson> {
    labels
        .into_iter()
        .map(|(key, value)| LabelJson { key, value })
        .collect()
}

impl FlowJson {
    /// A flow as just saved: its checked header, revision and source.
    fn saved(header: engine::header::FlowHeader, revision: i64, source: String) -> Self {
        FlowJson {
            id: header.id.to_string(),
            namespace: header.namespace.to_string(),
            revision,
            description: header.description,
            labels: label_list(header.labels),
            source,
        }
    }
}

/// Creates a flow from its YAML source. 409 if the flow exists already
/// (update it with PUT), 422 with the problems if it is not a valid flow.
#[utoipa::path(post, path = "/api/v1/flows", tag = "flows",
    request_body(content = String, content_type = "application/x-yaml", description = "The flow's YAML"),
    responses((status = 200, description = "The flow, revision 1", body = FlowJson),
              (status = 409, description = "The flow exists already", body = crate::error::ErrorJson),
              (status = 415, description = "Not sent as YAML", body = crate::error::ErrorJson),
              (status = 422, description = "Not a valid flow", body = crate::error::ErrorJson)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<FlowJson>), ApiError> {
    check_yaml(&headers)?;
    let header = checked(&body)?;
    caller.require(Role::Editor, Some(header.namespace.as_str()))?;
    if state
        .store
        .flow_revision(&header.namespace, &header.id)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict {
            message: format!(
                "flow {}.{} exists already: update it with PUT /api/v1/flows/{}/{}",
                header.namespace, header.id, header.namespace, header.id
            ),
        });
    }
    let flow = FlowSource {
        namespace: header.namespace.clone(),
        id: header.id.clone(),
        description: header.description.clone(),
        source: body,
    };
    let revision = state.store.save_flow(&flow).await?;
    caller
        .audit(
            &state.store,
            "flow.create",
            Some(flow.namespace.as_str()),
            Some(flow.id.as_str()),
            Some(serde_json::json!({"revision": revision})),
        )
        .await;
    Ok((
        StatusCode::OK,
        Json(FlowJson::saved(header, revision, flow.source)),
    ))
}

/// Validates a flow's source: every error with its line and column, or
/// the header the store indexes. Warnings do not stop a save.
pub(crate) fn checked(source: &str) -> Result<engine::header::FlowHeader, ApiError> {
    use engine::header::Invalid;
    engine::header::checked(source).map_err(|invalid| {
        let violations = match &invalid {
            Invalid::Problems(errors) => errors
                .iter()
                .map(|p| Violation {
                    line: Some(p.line),
                    column: Some(p.column),
                    message: p.message.clone(),
                })
                .collect(),
            Invalid::NotAFlow => Vec::new(),
            Invalid::Header(error) => vec![Violation {
                line: None,
                column: None,
                message: error.to_string(),
            }],
        };
        ApiError::Unprocessable {
            message: invalid.to_string(),
            violations,
        }
    })
}

/// One flow's verdict from `POST /api/v1/flows/validate`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValidationJson {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    valid: bool,
    /// Kestra's field: every problem as `line:column: message`, one per line; absent when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<String>,
    violations: Vec<ProblemJson>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProblemJson {
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: String,
    /// `error` or `warning`.
    severity: String,
}

/// `POST /api/v1/flows/validate`: checks one flow or several (YAML
/// documents separated by `---`) without saving; one verdict each.
#[utoipa::path(post, path = "/api/v1/flows/validate", tag = "flows",
    request_body(content = String, content_type = "application/x-yaml"),
    responses((status = 200, description = "One verdict per flow, with every problem's position", body = Vec<ValidationJson>)))]
pub(crate) async fn validate(
    _caller: Caller,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Vec<ValidationJson>>, ApiError> {
    check_yaml(&headers)?;
    let mut verdicts = Vec::new();
    let mut offset = 0u32;
    for (index, document) in split_documents(&body).into_iter().enumerate() {
        let parsed = engine::flow::parse(document);
        let header = parsed
            .flow
            .as_ref()
            .and_then(|flow| engine::header::FlowHeader::from_flow(flow).ok());
        let violations: Vec<ProblemJson> = parsed
            .problems
            .iter()
            .map(|p| ProblemJson {
                line: p.line + offset,
                column: p.column,
                end_line: p.end_line + offset,
                end_column: p.end_column,
                message: p.message.clone(),
                severity: if p.severity == engine::flow::Severity::Error {
                    "error".into()
                } else {
                    "warning".into()
                },
            })
            .collect();
        let valid = parsed.is_valid();
        let constraints = (!violations.is_empty()).then(|| {
            violations
                .iter()
                .map(|v| format!("{}:{}: {}", v.line, v.column, v.message))
                .collect::<Vec<_>>()
                .join("\n")
        });
        verdicts.push(ValidationJson {
            index,
            flow: header.as_ref().map(|h| h.id.to_string()),
            namespace: header.as_ref().map(|h| h.namespace.to_string()),
            valid,
            constraints,
            violations,
        });
        // The next document's lines come after this one and its separator.
        offset += document.lines().count() as u32 + 1;
    }
    Ok(Json(verdicts))
}

/// YAML documents separated by a `---` line.
pub(crate) fn split_documents(body: &str) -> Vec<&str> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut position = 0;
    for line in body.split_inclusive('\n') {
        if line.trim_end() == "---" {
            if position > start {
                documents.push(&body[start..position]);
            }
            start = position + line.len();
        }
        position += line.len();
    }
    if !body[start..].trim().is_empty() || documents.is_empty() {
        documents.push(&body[start..]);
    }
    documents
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SearchParams {
    /// Text to find in namespaces, ids and descriptions.
    #[serde(default)]
    q: String,
    /// Only this namespace and those under it (Kestra's older parameter).
    #[serde(default)]
    namespace: Option<String>,
    /// The page, from 1.
    #[serde(default)]
    page: Option<usize>,
    /// Flows on a page (default 10, at most 1,000), as Kestra's.
    #[serde(default)]
    size: Option<usize>,
    /// Kestra's `filters[field][OPERATION]=value`: `q`, `namespace`,
    /// `flowId`, `labels` (`filters[labels][EQUALS][key]=value`), `scope`.
    #[serde(default, rename = "filters")]
    #[param(value_type = Option<String>)]
    _filters: Option<()>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchPage {
    results: Vec<FlowSummaryJson>,
    total: usize,
}

/// A flow in a search result.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlowSummaryJson {
    namespace: String,
    id: String,
    revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<LabelJson>,
    updated: String,
}

/// Kestra's paged search shape: `{results, total}`, by namespace then id.
#[utoipa::path(get, path = "/api/v1/flows/search", tag = "flows", params(SearchParams),
    responses((status = 200, description = "Matching flows, by namespace then id", body = SearchPage), (status = 400, body = crate::error::ErrorJson)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchPage>, ApiError> {
    let found = matching(&state, &caller, &params.q, params.namespace.as_deref(), raw.as_deref()).await?;
    let total = found.len();
    let size = params.size.unwrap_or(10).clamp(1, 1000);
    let skip = params.page.unwrap_or(1).max(1).saturating_sub(1).saturating_mul(size);
    Ok(Json(SearchPage {
        results: found
            .into_iter()
            .skip(skip)
            .take(size)
            .map(|(f, labels)| FlowSummaryJson {
                namespace: f.namespace.to_string(),
                id: f.id.to_string(),
                revision: f.revision,
                description: f.description,
                labels: label_list(labels),
                updated: super::model::iso(f.updated_at),
            })
            .collect(),
        total,
    }))
}

/// The flows the caller may read that a search keeps, by namespace then
/// id: text `q` (in the namespace, id or description), a `namespace` and
/// those under it, and Kestra's `filters[…]` in the raw query string. Each
/// comes with its labels when a filter reads them (else none).
pub(crate) async fn matching(
    state: &AppState,
    caller: &Caller,
    q: &str,
    namespace: Option<&str>,
    raw: Option<&str>,
) -> Result<Vec<(engine::store::FlowSummary, BTreeMap<String, String>)>, ApiError> {
    use super::query_filter::{Resource, SYSTEM_NAMESPACE, parse};
    use engine::store::query::{Op, Operand, matches};
    let filters = parse(raw, Resource::Flow)?;
    let scopes = caller.principal.scopes(Role::Viewer);
    let needs_labels = filters.iter().any(|f| f.field == "labels");
    let mut out = Vec::new();
    for f in state.store.search_flows(q).await? {
        if !engine::auth::in_scopes(scopes.as_deref(), f.namespace.as_str())
            || namespace.is_some_and(|n| {
                !n.is_empty() && !matches(Op::Prefix, f.namespace.as_str(), &Operand::Text(n.to_owned()))
            })
        {
            continue;
        }
        let labels = if needs_labels {
            match state.store.get_flow(&f.namespace, &f.id).await? {
                Some(stored) => read_header(&stored.source).map(|h| h.labels).unwrap_or_default(),
                None => continue,
            }
        } else {
            BTreeMap::new()
        };
        let kept = filters.iter().all(|filter| {
            let text = filter.text();
            let holds = |actual: &str| matches(filter.op, actual, &text);
            match filter.field {
                "q" => {
                    let found = [f.namespace.as_str(), f.id.as_str(), f.description.as_deref().unwrap_or("")]
                        .iter()
                        .any(|field| matches(Op::Contains, field, &text));
                    found == (filter.op == Op::Equals)
                }
                "namespace" => holds(f.namespace.as_str()),
                "flowId" => holds(f.id.as_str()),
                "scope" => (f.namespace.as_str() == SYSTEM_NAMESPACE) == filter.selects("SYSTEM"),
                "labels" => {
                    let key = filter.key.as_deref().unwrap_or_default();
                    match labels.get(key) {
                        Some(value) => holds(value),
                        None => matches!(filter.op, Op::NotEquals | Op::NotIn),
                    }
                }
                _ => true,
            }
        });
        if kept {
            out.push((f, labels));
        }
    }
    Ok(out)
}

/// `GET /api/v1/flows/{namespace}/{id}`: the current revision.
#[utoipa::path(get, path = "/api/v1/flows/{namespace}/{id}", tag = "flows", params(("namespace" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = FlowJson), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<Json<FlowJson>, ApiError> {
    caller.require(Role::Viewer, Some(&namespace))?;
    let (namespace, id) = (
        super::params::namespace(&namespace)?,
        super::params::flow_id("id", &id)?,
    );
    let Some(stored) = state.store.get_flow(&namespace, &id).await? else {
        return Err(ApiError::NotFound {
            message: format!("flow {namespace}.{id} does not exist"),
        });
    };
    // The source was checked when it was saved; an unreadable header now
    // would only lose the labels, never the flow.
    let labels = label_list(
        read_header(&stored.source)
            .map(|h| h.labels)
            .unwrap_or_default(),
    );
    Ok(Json(FlowJson {
        id: id.to_string(),
        namespace: namespace.to_string(),
        revision: stored.revision,
        description: stored.description,
        labels,
        source: stored.source,
    }))
}

/// `PUT /api/v1/flows/{namespace}/{id}`: a new revision of an existing flow.
#[utoipa::path(put, path = "/api/v1/flows/{namespace}/{id}", tag = "flows", params(("namespace" = String, Path), ("id" = String, Path)),
    request_body(content = String, content_type = "application/x-yaml"),
    responses((status = 200, body = FlowJson), (status = 404, body = crate::error::ErrorJson), (status = 422, body = crate::error::ErrorJson)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<FlowJson>, ApiError> {
    caller.require(Role::Editor, Some(&namespace))?;
    check_yaml(&headers)?;
    super::params::namespace(&namespace)?;
    super::params::flow_id("id", &id)?;
    let header = checked(&body)?;
    if header.namespace.as_str() != namespace || header.id.as_str() != id {
        return Err(ApiError::Unprocessable {
            message: format!(
                "the flow's YAML says {}.{} but the path says {namespace}.{id}: they must match (to rename a flow, create the new one and delete the old)",
                header.namespace, header.id
            ),
            violations: Vec::new(),
        });
    }
    if state
        .store
        .flow_revision(&header.namespace, &header.id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound {
            message: format!(
                "flow {namespace}.{id} does not exist: create it with POST /api/v1/flows"
            ),
        });
    }
    let flow = FlowSource {
        namespace: header.namespace.clone(),
        id: header.id.clone(),
        description: header.description.clone(),
        source: body,
    };
    let revision = state.store.save_flow(&flow).await?;
    caller
        .audit(
            &state.store,
            "flow.update",
            Some(&namespace),
            Some(&id),
            Some(serde_json::json!({"revision": revision})),
        )
        .await;
    Ok(Json(FlowJson::saved(header, revision, flow.source)))
}

/// `DELETE /api/v1/flows/{namespace}/{id}`: 204; its revisions and
/// executions stay.
#[utoipa::path(delete, path = "/api/v1/flows/{namespace}/{id}", tag = "flows", params(("namespace" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Editor, Some(&namespace))?;
    if state
        .store
        .delete_flow(
            &super::params::namespace(&namespace)?,
            &super::params::flow_id("id", &id)?,
        )
        .await?
    {
        caller
            .audit(
                &state.store,
                "flow.delete",
                Some(&namespace),
                Some(&id),
                None,
            )
            .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            message: format!("flow {namespace}.{id} does not exist"),
        })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RevisionJson {
    id: String,
    namespace: String,
    revision: i64,
    source: String,
    updated: String,
}

/// `GET /api/v1/flows/{namespace}/{id}/revisions`: every saved revision.
#[utoipa::path(get, path = "/api/v1/flows/{namespace}/{id}/revisions", tag = "flows", params(("namespace" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Vec<RevisionJson>), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn revisions(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<Json<Vec<RevisionJson>>, ApiError> {
    caller.require(Role::Viewer, Some(&namespace))?;
    let revisions = state
        .store
        .flow_revisions(
            &super::params::namespace(&namespace)?,
            &super::params::flow_id("id", &id)?,
        )
        .await?;
    if revisions.is_empty() {
        return Err(ApiError::NotFound {
            message: format!("flow {namespace}.{id} does not exist"),
        });
    }
    Ok(Json(
        revisions
            .into_iter()
            .map(|(revision, source, created)| RevisionJson {
                id: id.clone(),
                namespace: namespace.clone(),
                revision,
                source,
                updated: super::model::iso(created),
            })
            .collect(),
    ))
}

fn check_yaml(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/x-yaml")
        || content_type.starts_with("application/yaml")
        || content_type.starts_with("text/yaml")
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "send the flow's YAML with `Content-Type: application/x-yaml`, not {content_type:?}"
        )))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct NamespaceParams {
    /// Delete the namespace's flows that the body does not contain (Kestra's
    /// default: true).
    delete: Option<bool>,
}

/// `POST /api/v1/flows/{namespace}`: makes the namespace's flows the ones
/// in the body (YAML documents separated by `---`), as Kestra's CI/CD
/// actions deploy: every flow is validated first, then all are saved, and
/// with `delete` (the default) the namespace's other flows deleted, in one
/// transaction. Nothing is saved when one flow is invalid or belongs to
/// another namespace.
#[utoipa::path(post, path = "/api/v1/flows/{namespace}", tag = "flows",
    params(("namespace" = String, Path), NamespaceParams),
    request_body(content = String, content_type = "application/x-yaml", description = "The flows, separated by `---`"),
    responses((status = 200, description = "The namespace's flows as saved", body = Vec<FlowJson>),
        (status = 422, description = "A flow is invalid or of another namespace; nothing was saved", body = crate::error::ErrorJson)))]
pub(crate) async fn update_namespace(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(params): Query<NamespaceParams>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Vec<FlowJson>>, ApiError> {
    super::params::namespace(&namespace)?;
    caller.require(Role::Editor, Some(&namespace))?;
    check_yaml(&headers)?;
    let mut flows = Vec::new();
    let mut headers_of = Vec::new();
    for (index, document) in split_documents(&body)
        .into_iter()
        .enumerate()
        .filter(|(_, d)| !d.trim().is_empty())
    {
        let header = checked(document).map_err(|error| match error {
            ApiError::Unprocessable {
                message,
                violations,
            } => ApiError::Unprocessable {
                message: format!(
                    "flow {} of the body: {message}; nothing was saved",
                    index + 1
                ),
                violations,
            },
            other => other,
        })?;
        if header.namespace.as_str() != namespace {
            return Err(ApiError::Unprocessable {
                message: format!(
                    "flow {} of the body ({}) is in the namespace {}, not {namespace}; nothing was saved",
                    index + 1,
                    header.id,
                    header.namespace
                ),
                violations: Vec::new(),
            });
        }
        if flows.iter().any(|f: &FlowSource| f.id == header.id) {
            return Err(ApiError::Unprocessable {
                message: format!(
                    "the flow {} is in the body twice; nothing was saved",
                    header.id
                ),
                violations: Vec::new(),
            });
        }
        flows.push(FlowSource {
            namespace: header.namespace.clone(),
            id: header.id.clone(),
            description: header.description.clone(),
            source: document.trim_start_matches('\n').to_owned(),
        });
        headers_of.push(header);
    }
    let (revisions, deleted) = state
        .store
        .save_namespace(
            &Namespace::new(&namespace),
            &flows,
            params.delete.unwrap_or(true),
        )
        .await?;
    let saved: Vec<&str> = flows.iter().map(|f| f.id.as_str()).collect();
    caller.audit(&state.store, "namespace.deploy", Some(&namespace), None, Some(serde_json::json!({"saved": saved, "deleted": deleted.iter().map(engine::ids::FlowId::as_str).collect::<Vec<_>>()}))).await;
    Ok(Json(
        flows
            .into_iter()
            .zip(headers_of)
            .zip(revisions)
            .map(|((flow, header), revision)| FlowJson::saved(header, revision, flow.source))
            .collect(),
    ))
}
