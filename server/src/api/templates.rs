//! Kestra's templates under `/api/v1/templates`: a named list of tasks per
//! namespace that flow.Template runs. Sent as Kestra's JSON (its clients
//! send the Template object) or as YAML; kept as YAML; returned as JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use engine::auth::Role;
use engine::store::StoredTemplate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Violation};

/// A template as Kestra's API returns it: its YAML as JSON, with `source`.
fn template_json(template: &StoredTemplate) -> Value {
    let mut json = engine::flow::yaml::load(&template.source)
        .map(|root| root.to_json())
        .unwrap_or(Value::Null);
    if let Value::Object(map) = &mut json {
        map.insert("source".into(), Value::String(template.source.clone()));
    }
    json
}

/// The body as YAML source: YAML as it came, Kestra's JSON written as YAML.
fn source_of(headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = std::str::from_utf8(body).map_err(|_| ApiError::BadRequest {
        message: "the template is not UTF-8 text".into(),
    })?;
    if content_type.starts_with("application/json") {
        let mut json: Value = serde_json::from_str(text).map_err(|e| ApiError::BadRequest {
            message: format!("the template is not valid JSON: {e}"),
        })?;
        // What Kestra adds to a template it returns, not part of one.
        if let Value::Object(map) = &mut json {
            for key in ["source", "deleted", "tenantId", "revision"] {
                map.remove(key);
            }
        }
        return Ok(engine::flow::pebble::convert::to_yaml(&json));
    }
    if content_type.starts_with("application/x-yaml")
        || content_type.starts_with("application/yaml")
        || content_type.starts_with("text/yaml")
    {
        return Ok(text.to_owned());
    }
    Err(ApiError::UnsupportedMediaType(format!(
        "send the template as JSON (`Content-Type: application/json`) or YAML (`application/x-yaml`), not {content_type:?}"
    )))
}

/// The template's id, namespace and description, or 422 with every error.
fn checked(source: &str) -> Result<(String, String, Option<String>), ApiError> {
    let parsed = engine::flow::template::check(source);
    let errors: Vec<&engine::flow::Problem> = parsed
        .problems
        .iter()
        .filter(|p| p.severity == engine::flow::Severity::Error)
        .collect();
    let header = parsed
        .flow
        .as_ref()
        .map(engine::header::FlowHeader::from_flow);
    let message = match (&header, errors.first()) {
        (_, Some(first)) => format!("the template is not valid: {first}"),
        (Some(Err(error)), None) => format!("the template is not valid: {error}"),
        (None, None) => "the template is not a YAML mapping".to_owned(),
        (Some(Ok(header)), None) => {
            return Ok((
                header.id.to_string(),
                header.namespace.to_string(),
                header.description.clone(),
            ));
        }
    };
    let mut violations: Vec<Violation> = errors
        .iter()
        .map(|p| Violation {
            line: Some(p.line),
            column: Some(p.column),
            message: p.message.clone(),
        })
        .collect();
    if let Some(Err(error)) = &header {
        violations.push(Violation {
            line: None,
            column: None,
            message: error.to_string(),
        });
    }
    Err(ApiError::Unprocessable {
        message,
        violations,
    })
}

fn not_found(namespace: &str, id: &str) -> ApiError {
    ApiError::NotFound {
        message: format!("template {namespace}.{id} does not exist"),
    }
}

/// `POST /api/v1/templates`: creates a template; 409 if it exists.
#[utoipa::path(post, path = "/api/v1/templates", tag = "templates",
    request_body(content = String, content_type = "application/json", description = "Kestra's Template (id, namespace, description, tasks, errors), or its YAML as application/x-yaml"),
    responses((status = 200, description = "The template"), (status = 409, body = crate::error::ErrorJson),
              (status = 415, body = crate::error::ErrorJson), (status = 422, body = crate::error::ErrorJson)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let source = source_of(&headers, &body)?;
    let (id, namespace, description) = checked(&source)?;
    caller.require(Role::Editor, Some(&namespace))?;
    if state.store.get_template(&namespace, &id).await?.is_some() {
        return Err(ApiError::Conflict {
            message: format!(
                "template {namespace}.{id} exists already: update it with PUT /api/v1/templates/{namespace}/{id}"
            ),
        });
    }
    state
        .store
        .save_template(&namespace, &id, description.as_deref(), &source)
        .await?;
    caller
        .audit(
            &state.store,
            "template.create",
            Some(&namespace),
            Some(&id),
            None,
        )
        .await;
    let saved = state
        .store
        .get_template(&namespace, &id)
        .await?
        .ok_or_else(|| not_found(&namespace, &id))?;
    Ok(Json(template_json(&saved)))
}

/// `GET /api/v1/templates/{namespace}/{id}`.
#[utoipa::path(get, path = "/api/v1/templates/{namespace}/{id}", tag = "templates",
    params(("namespace" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The template"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    super::params::namespace(&namespace)?;
    caller.require(Role::Viewer, Some(&namespace))?;
    let template = state
        .store
        .get_template(&namespace, &id)
        .await?
        .ok_or_else(|| not_found(&namespace, &id))?;
    Ok(Json(template_json(&template)))
}

/// `PUT /api/v1/templates/{namespace}/{id}`: replaces a template; its id
/// and namespace cannot change.
#[utoipa::path(put, path = "/api/v1/templates/{namespace}/{id}", tag = "templates",
    params(("namespace" = String, Path), ("id" = String, Path)),
    request_body(content = String, content_type = "application/json"),
    responses((status = 200, description = "The template"), (status = 404, body = crate::error::ErrorJson), (status = 422, body = crate::error::ErrorJson)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    super::params::namespace(&namespace)?;
    caller.require(Role::Editor, Some(&namespace))?;
    let source = source_of(&headers, &body)?;
    let (new_id, new_namespace, description) = checked(&source)?;
    if new_id != id || new_namespace != namespace {
        return Err(ApiError::Unprocessable {
            message: format!(
                "a template's id and namespace cannot change: this is {namespace}.{id}, the body says {new_namespace}.{new_id}"
            ),
            violations: Vec::new(),
        });
    }
    if state.store.get_template(&namespace, &id).await?.is_none() {
        return Err(not_found(&namespace, &id));
    }
    state
        .store
        .save_template(&namespace, &id, description.as_deref(), &source)
        .await?;
    caller
        .audit(
            &state.store,
            "template.update",
            Some(&namespace),
            Some(&id),
            None,
        )
        .await;
    let saved = state
        .store
        .get_template(&namespace, &id)
        .await?
        .ok_or_else(|| not_found(&namespace, &id))?;
    Ok(Json(template_json(&saved)))
}

/// `DELETE /api/v1/templates/{namespace}/{id}`.
#[utoipa::path(delete, path = "/api/v1/templates/{namespace}/{id}", tag = "templates",
    params(("namespace" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    super::params::namespace(&namespace)?;
    caller.require(Role::Editor, Some(&namespace))?;
    if !state.store.delete_template(&namespace, &id).await? {
        return Err(not_found(&namespace, &id));
    }
    caller
        .audit(
            &state.store,
            "template.delete",
            Some(&namespace),
            Some(&id),
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SearchParams {
    /// Text in the namespace, id or description.
    q: Option<String>,
    /// This namespace and those below it.
    namespace: Option<String>,
    /// The page, from 1.
    page: Option<usize>,
    /// Templates on a page (default 10).
    size: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TemplatePage {
    results: Vec<Value>,
    total: usize,
}

/// `GET /api/v1/templates/search`: the templates the caller may read.
#[utoipa::path(get, path = "/api/v1/templates/search", tag = "templates", params(SearchParams),
    responses((status = 200, body = TemplatePage)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<Json<TemplatePage>, ApiError> {
    let all: Vec<StoredTemplate> = state
        .store
        .search_templates(
            params.q.as_deref().unwrap_or(""),
            params.namespace.as_deref().filter(|n| !n.is_empty()),
        )
        .await?
        .into_iter()
        .filter(|t| caller.require(Role::Viewer, Some(&t.namespace)).is_ok())
        .collect();
    let size = params.size.unwrap_or(10).clamp(1, 1000);
    let skip = params.page.unwrap_or(1).saturating_sub(1) * size;
    Ok(Json(TemplatePage {
        total: all.len(),
        results: all
            .iter()
            .skip(skip)
            .take(size)
            .map(template_json)
            .collect(),
    }))
}

/// `GET /api/v1/templates/distinct-namespaces`.
#[utoipa::path(get, path = "/api/v1/templates/distinct-namespaces", tag = "templates",
    responses((status = 200, body = Vec<String>)))]
pub(crate) async fn namespaces(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        state
            .store
            .template_namespaces()
            .await?
            .into_iter()
            .filter(|n| caller.require(Role::Viewer, Some(n)).is_ok())
            .collect(),
    ))
}
