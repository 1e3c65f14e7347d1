//! Kestra's operations on many flows at once: import and export as a zip
//! (or a multi-document YAML), delete, disable and enable by ids or by a
//! search, a namespace's flows, and the namespaces that have flows.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use axum::Json;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use engine::auth::Role;
use engine::ids::{FlowId, Namespace};
use engine::store::FlowSource;
use serde::{Deserialize, Serialize};

use super::flows::{checked, label_list, matching, split_documents};
use super::model::LabelJson;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// Kestra's `IdWithNamespace`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct IdWithNamespace {
    namespace: String,
    id: String,
}

/// The older parameters of a search of flows (Kestra's deprecated ones,
/// beside `filters[…]`).
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct QueryParams {
    /// Text in the namespace, id or description.
    #[serde(default)]
    q: String,
    /// This namespace and those under it.
    namespace: Option<String>,
}

/// The flows a bulk action by query acts on, with their sources.
async fn by_query(
    state: &AppState,
    caller: &Caller,
    params: &QueryParams,
    raw: Option<&str>,
) -> Result<Vec<(Namespace, FlowId, String)>, ApiError> {
    let mut out = Vec::new();
    for (flow, _) in matching(state, caller, &params.q, params.namespace.as_deref(), raw).await? {
        if let Some(stored) = state.store.get_flow(&flow.namespace, &flow.id).await? {
            out.push((flow.namespace, flow.id, stored.source));
        }
    }
    Ok(out)
}

/// The flows named, with their sources, each readable by the caller with
/// `role`; a missing one is a 404 naming it and nothing is done.
async fn by_ids(
    state: &AppState,
    caller: &Caller,
    ids: &[IdWithNamespace],
    role: Role,
) -> Result<Vec<(Namespace, FlowId, String)>, ApiError> {
    let mut out = Vec::new();
    for id in ids {
        let namespace = super::params::namespace(&id.namespace)?;
        let flow_id = super::params::flow_id("id", &id.id)?;
        caller.require(role, Some(namespace.as_str()))?;
        let Some(stored) = state.store.get_flow(&namespace, &flow_id).await? else {
            return Err(ApiError::NotFound {
                message: format!("flow {namespace}.{flow_id} does not exist; nothing was done"),
            });
        };
        out.push((namespace, flow_id, stored.source));
    }
    Ok(out)
}

/// A zip of the flows' sources, each named by `name`.
fn zip_of(
    flows: &[(Namespace, FlowId, String)],
    name: impl Fn(&Namespace, &FlowId) -> String,
) -> Result<Response, ApiError> {
    let failed = |e: &dyn std::fmt::Display| ApiError::Internal(format!("the zip cannot be written: {e}"));
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (namespace, id, source) in flows {
        archive.start_file(name(namespace, id), options).map_err(|e| failed(&e))?;
        archive.write_all(source.as_bytes()).map_err(|e| failed(&e))?;
    }
    let bytes = archive.finish().map_err(|e| failed(&e))?.into_inner();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"flows.zip\""),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/flows/export/by-query", tag = "flows", params(QueryParams),
    responses((status = 200, description = "A zip of the flows' YAML, each `namespace-id.yml`", content_type = "application/octet-stream"), (status = 400, body = crate::error::ErrorJson)))]
/// `GET /api/v1/flows/export/by-query`: the flows a search keeps (its
/// parameters or Kestra's `filters[…]`), as a zip.
pub(crate) async fn export_by_query(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<QueryParams>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let flows = by_query(&state, &caller, &params, raw.as_deref()).await?;
    // Kestra names these `namespace-id.yml`, those by ids `namespace.id.yml`.
    zip_of(&flows, |namespace, id| format!("{namespace}-{id}.yml"))
}

#[utoipa::path(post, path = "/api/v1/flows/export/by-ids", tag = "flows", request_body = Vec<IdWithNamespace>,
    responses((status = 200, description = "A zip of the flows' YAML, each `namespace.id.yml`", content_type = "application/octet-stream"), (status = 404, body = crate::error::ErrorJson)))]
/// `POST /api/v1/flows/export/by-ids`: the flows named, as a zip.
pub(crate) async fn export_by_ids(
    State(state): State<AppState>,
    caller: Caller,
    Json(ids): Json<Vec<IdWithNamespace>>,
) -> Result<Response, ApiError> {
    let flows = by_ids(&state, &caller, &ids, Role::Viewer).await?;
    zip_of(&flows, |namespace, id| format!("{namespace}.{id}.yml"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImportParams {
    /// Refuse the whole file when one flow is wrong, saving none (400 with
    /// their names); by default the others are saved.
    fail_on_error: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/flows/import", tag = "flows", params(ImportParams),
    request_body(content = String, content_type = "multipart/form-data", description = "A part `fileUpload`: a .zip of .yml/.yaml flows, or a .yml/.yaml of flows separated by `---`"),
    responses((status = 200, description = "What could not be imported: the zip's entries, or the YAML's documents by index from 0", body = Vec<String>),
        (status = 400, body = crate::error::ErrorJson), (status = 422, body = crate::error::ErrorJson)))]
/// `POST /api/v1/flows/import`: creates each flow of the file, or saves a
/// new revision of one that exists, as Kestra's import does.
pub(crate) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ImportParams>,
    request: Request,
) -> Result<Json<Vec<String>>, ApiError> {
    let part = super::upload::file_part(request, &state, "fileUpload").await?;
    let file_name = part.file_name.unwrap_or_default().to_ascii_lowercase();
    let yaml = |name: &str| name.ends_with(".yml") || name.ends_with(".yaml");
    // (the name to report, the source)
    let mut sources: Vec<(String, String)> = Vec::new();
    if yaml(&file_name) {
        let text = String::from_utf8(part.bytes).map_err(|_| ApiError::BadRequest {
            message: format!("{file_name} is not UTF-8 text"),
        })?;
        for (index, document) in split_documents(&text).into_iter().enumerate() {
            if !document.trim().is_empty() {
                sources.push((index.to_string(), document.trim_start_matches('\n').to_owned()));
            }
        }
    } else if file_name.ends_with(".zip") {
        let bad = |e: &dyn std::fmt::Display| ApiError::BadRequest {
            message: format!("{file_name} cannot be read as a zip: {e}"),
        };
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(part.bytes)).map_err(|e| bad(&e))?;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).map_err(|e| bad(&e))?;
            let name = entry.name().map_err(|e| bad(&e))?.into_owned();
            if entry.is_dir() || !yaml(&name.to_ascii_lowercase()) {
                continue;
            }
            let mut text = String::new();
            if entry.read_to_string(&mut text).is_err() {
                sources.push((name, String::new()));
                continue;
            }
            sources.push((name, text));
        }
    } else {
        return Err(ApiError::Unprocessable {
            message: format!(
                "cannot import {file_name:?}: send a .zip of flows, or a .yml or .yaml of flows separated by ---"
            ),
            violations: Vec::new(),
        });
    }
    // Every flow checked first; with failOnError one wrong flow saves none.
    let mut wrong = Vec::new();
    let mut valid = Vec::new();
    for (name, source) in sources {
        match checked(&source) {
            Ok(header) if caller.require(Role::Editor, Some(header.namespace.as_str())).is_ok() => {
                valid.push(FlowSource {
                    namespace: header.namespace,
                    id: header.id,
                    description: header.description,
                    source,
                });
            }
            _ => wrong.push(name),
        }
    }
    if params.fail_on_error.unwrap_or(false) && !wrong.is_empty() {
        return Err(ApiError::BadRequest {
            message: format!("nothing was imported: these flows are invalid or not yours to save: {}", wrong.join(", ")),
        });
    }
    for flow in &valid {
        let revision = state.store.save_flow(flow).await?;
        caller
            .audit(
                &state.store,
                "flow.import",
                Some(flow.namespace.as_str()),
                Some(flow.id.as_str()),
                Some(serde_json::json!({"revision": revision})),
            )
            .await;
    }
    Ok(Json(wrong))
}

/// Deletes the flows; their count, as Kestra's BulkResponse.
async fn delete_all(
    state: &AppState,
    caller: &Caller,
    flows: Vec<(Namespace, FlowId, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    for (namespace, _, _) in &flows {
        caller.require(Role::Editor, Some(namespace.as_str()))?;
    }
    let mut count = 0;
    for (namespace, id, _) in &flows {
        if state.store.delete_flow(namespace, id).await? {
            count += 1;
            caller
                .audit(&state.store, "flow.delete", Some(namespace.as_str()), Some(id.as_str()), Some(serde_json::json!({"bulk": true})))
                .await;
        }
    }
    Ok(Json(serde_json::json!({"count": count})))
}

#[utoipa::path(delete, path = "/api/v1/flows/delete/by-ids", tag = "flows", request_body = Vec<IdWithNamespace>,
    responses((status = 200, description = "Kestra's BulkResponse: `{count}`"), (status = 404, body = crate::error::ErrorJson)))]
/// `DELETE /api/v1/flows/delete/by-ids`: deletes the flows named (their
/// revisions and executions stay).
pub(crate) async fn delete_by_ids(
    State(state): State<AppState>,
    caller: Caller,
    Json(ids): Json<Vec<IdWithNamespace>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let flows = by_ids(&state, &caller, &ids, Role::Editor).await?;
    delete_all(&state, &caller, flows).await
}

#[utoipa::path(delete, path = "/api/v1/flows/delete/by-query", tag = "flows", params(QueryParams),
    responses((status = 200, description = "Kestra's BulkResponse: `{count}`"), (status = 400, body = crate::error::ErrorJson)))]
/// `DELETE /api/v1/flows/delete/by-query`: deletes the flows a search keeps.
pub(crate) async fn delete_by_query(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<QueryParams>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let flows = by_query(&state, &caller, &params, raw.as_deref()).await?;
    delete_all(&state, &caller, flows).await
}

/// The source with its top-level `disabled:` set to `disabled` (replaced
/// where the flow has one, else added at the end), as Kestra's
/// FlowService.injectDisabled writes it.
fn with_disabled(source: &str, disabled: bool) -> String {
    let line = format!("disabled: {disabled}");
    let mut found = false;
    let mut out: Vec<String> = source
        .lines()
        .map(|l| {
            if !found && l.starts_with("disabled:") {
                found = true;
                line.clone()
            } else {
                l.to_owned()
            }
        })
        .collect();
    if !found {
        out.push(line);
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Sets the flows' `disabled`; how many changed, as Kestra's BulkResponse.
async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    flows: Vec<(Namespace, FlowId, String)>,
    disabled: bool,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut changed = Vec::new();
    for (namespace, id, source) in flows {
        caller.require(Role::Editor, Some(namespace.as_str()))?;
        let now = engine::flow::parse(&source).flow.is_some_and(|f| f.disabled);
        if now == disabled {
            continue;
        }
        let source = with_disabled(&source, disabled);
        let header = checked(&source)?;
        changed.push(FlowSource {
            namespace,
            id,
            description: header.description,
            source,
        });
    }
    for flow in &changed {
        state.store.save_flow(flow).await?;
        caller
            .audit(
                &state.store,
                if disabled { "flow.disable" } else { "flow.enable" },
                Some(flow.namespace.as_str()),
                Some(flow.id.as_str()),
                Some(serde_json::json!({"bulk": true})),
            )
            .await;
    }
    Ok(Json(serde_json::json!({"count": changed.len()})))
}

macro_rules! toggles {
    ($($by_ids:ident, $by_query:ident, $verb:literal, $disabled:expr;)*) => {$(
        #[utoipa::path(post, path = concat!("/api/v1/flows/", $verb, "/by-ids"), tag = "flows", request_body = Vec<IdWithNamespace>,
            responses((status = 200, description = "Kestra's BulkResponse: how many flows changed"), (status = 404, body = crate::error::ErrorJson)))]
        #[doc = concat!("`POST /api/v1/flows/", $verb, "/by-ids`: sets the flows' `disabled` (a new revision of each that changes).")]
        pub(crate) async fn $by_ids(
            State(state): State<AppState>,
            caller: Caller,
            Json(ids): Json<Vec<IdWithNamespace>>,
        ) -> Result<Json<serde_json::Value>, ApiError> {
            let flows = by_ids(&state, &caller, &ids, Role::Editor).await?;
            set_disabled(&state, &caller, flows, $disabled).await
        }

        #[utoipa::path(post, path = concat!("/api/v1/flows/", $verb, "/by-query"), tag = "flows", params(QueryParams),
            responses((status = 200, description = "Kestra's BulkResponse: how many flows changed"), (status = 400, body = crate::error::ErrorJson)))]
        #[doc = concat!("`POST /api/v1/flows/", $verb, "/by-query`: the same for the flows a search keeps.")]
        pub(crate) async fn $by_query(
            State(state): State<AppState>,
            caller: Caller,
            Query(params): Query<QueryParams>,
            RawQuery(raw): RawQuery,
        ) -> Result<Json<serde_json::Value>, ApiError> {
            let flows = by_query(&state, &caller, &params, raw.as_deref()).await?;
            set_disabled(&state, &caller, flows, $disabled).await
        }
    )*};
}

toggles! {
    disable_by_ids, disable_by_query, "disable", true;
    enable_by_ids, enable_by_query, "enable", false;
}

/// A flow in a namespace's list (Kestra's Flow, without its source).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedFlow {
    id: String,
    namespace: String,
    revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<LabelJson>,
    disabled: bool,
    updated: String,
}

#[utoipa::path(get, path = "/api/v1/flows/{namespace}", tag = "flows", params(("namespace" = String, Path)),
    responses((status = 200, body = Vec<ListedFlow>), (status = 400, body = crate::error::ErrorJson)))]
/// `GET /api/v1/flows/{namespace}`: the namespace's flows (not those of
/// the namespaces under it), by id.
pub(crate) async fn in_namespace(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
) -> Result<Json<Vec<ListedFlow>>, ApiError> {
    let namespace = super::params::namespace(&namespace)?;
    caller.require(Role::Viewer, Some(namespace.as_str()))?;
    let mut out = Vec::new();
    for flow in state.store.search_flows("").await? {
        if flow.namespace != namespace {
            continue;
        }
        let Some(stored) = state.store.get_flow(&flow.namespace, &flow.id).await? else {
            continue;
        };
        let labels: BTreeMap<String, String> = engine::header::read_header(&stored.source)
            .map(|h| h.labels)
            .unwrap_or_default();
        out.push(ListedFlow {
            disabled: engine::flow::parse(&stored.source).flow.is_some_and(|f| f.disabled),
            id: flow.id.to_string(),
            namespace: flow.namespace.to_string(),
            revision: flow.revision,
            description: flow.description,
            labels: label_list(labels),
            updated: super::model::iso(flow.updated_at),
        });
    }
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct NamespacesParams {
    /// Text in the namespace.
    q: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/flows/distinct-namespaces", tag = "flows", params(NamespacesParams),
    responses((status = 200, body = Vec<String>)))]
/// `GET /api/v1/flows/distinct-namespaces`: the namespaces that have flows
/// the caller may read, sorted.
pub(crate) async fn distinct_namespaces(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<NamespacesParams>,
) -> Result<Json<Vec<String>>, ApiError> {
    let q = params.q.unwrap_or_default().to_lowercase();
    let mut names: Vec<String> = matching(&state, &caller, "", None, None)
        .await?
        .into_iter()
        .map(|(f, _)| f.namespace.to_string())
        .filter(|n| n.to_lowercase().contains(&q))
        .collect();
    names.dedup();
    Ok(Json(names))
}

#[cfg(test)]
mod tests {
    use super::with_disabled;

    #[test]
    fn disabled_is_replaced_or_added() {
        assert_eq!(
            with_disabled("id: a\nnamespace: n\ndisabled: false\ntasks: []", true),
            "id: a\nnamespace: n\ndisabled: true\ntasks: []\n"
        );
        assert_eq!(with_disabled("id: a\ntasks: []\n", true), "id: a\ntasks: []\ndisabled: true\n");
        // An indented `disabled:` is a task's, left alone.
        assert_eq!(
            with_disabled("id: a\ntasks:\n  - id: t\n    disabled: true\n", false),
            "id: a\ntasks:\n  - id: t\n    disabled: true\ndisabled: false\n"
        );
    }
}
