//! A namespace's KV store, with Kestra's paths and shapes
//! (`/api/v1/namespaces/{namespace}/kv`): list, get (`{type, value}`), put
//! (a JSON body, or text; a `ttl` header), delete, delete several.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use engine::kv::{Kv, KvError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::iso;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use engine::auth::Role;

/// Kestra's KVEntry: a key without its value.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KvEntryJson {
    namespace: String,
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    creation_date: String,
    update_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_date: Option<String>,
}

/// Kestra's TypedValue.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TypedValue {
    #[serde(rename = "type")]
    kind: String,
    value: Value,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct Keys {
    keys: Vec<String>,
}

fn error(e: KvError) -> ApiError {
    match e {
        KvError::BadKey(_) | KvError::BadNamespace(_) => ApiError::BadRequest {
            message: e.to_string(),
        },
        KvError::Exists { .. } => ApiError::Conflict {
            message: e.to_string(),
        },
        other => ApiError::Internal(other.to_string()),
    }
}

/// The namespace's KV store; the namespace is checked as a path parameter.
fn store(state: &AppState, namespace: &str) -> Result<Kv, ApiError> {
    super::params::namespace(namespace)?;
    state.storage.kv(namespace).map_err(error)
}

/// The namespace's KV store, when the caller holds `role` on it.
fn store_as(
    state: &AppState,
    namespace: &str,
    caller: &Caller,
    role: Role,
) -> Result<Kv, ApiError> {
    caller.require(role, Some(namespace))?;
    store(state, namespace)
}

/// `GET /api/v1/namespaces/{namespace}/kv`: every live key.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/kv", tag = "kv",
    params(("namespace" = String, Path, description = "The namespace")),
    responses((status = 200, description = "The keys, without values", body = [KvEntryJson])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
) -> Result<Json<Vec<KvEntryJson>>, ApiError> {
    let entries = store_as(&state, &namespace, &caller, Role::Viewer)?
        .list()
        .map_err(error)?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| entry_json(&namespace, e))
            .collect(),
    ))
}

/// `GET /api/v1/namespaces/{namespace}/kv/inheritance`: the keys a flow of
/// the namespace reads from its parent namespaces (`company` for
/// `company.team`), closest first, without those the namespace sets itself.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/kv/inheritance", tag = "kv",
    params(("namespace" = String, Path, description = "The namespace")),
    responses((status = 200, description = "The inherited keys, without values", body = [KvEntryJson])))]
pub(crate) async fn inherited(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
) -> Result<Json<Vec<KvEntryJson>>, ApiError> {
    let mut seen: std::collections::HashSet<String> =
        store_as(&state, &namespace, &caller, Role::Viewer)?
            .list()
            .map_err(error)?
            .into_iter()
            .map(|e| e.key)
            .collect();
    let mut out = Vec::new();
    let mut current = namespace.as_str();
    while let Some(dot) = current.rfind('.') {
        current = &current[..dot];
        for e in store(&state, current)?.list().map_err(error)? {
            if seen.insert(e.key.clone()) {
                out.push(entry_json(current, e));
            }
        }
    }
    Ok(Json(out))
}

fn entry_json(namespace: &str, e: engine::kv::KvEntry) -> KvEntryJson {
    KvEntryJson {
        namespace: namespace.to_owned(),
        key: e.key,
        description: e.description,
        creation_date: iso(e.creation_date),
        update_date: iso(e.update_date),
        expiration_date: e.expiration_date.map(iso),
    }
}

/// `GET /api/v1/namespaces/{namespace}/kv/{key}`: the value and its type.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/kv/{key}", tag = "kv",
    params(("namespace" = String, Path, description = "The namespace"), ("key" = String, Path, description = "The key")),
    responses((status = 200, description = "The value", body = TypedValue), (status = 404, description = "No such key")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Json<TypedValue>, ApiError> {
    super::params::kv_key(&key)?;
    let entry = store_as(&state, &namespace, &caller, Role::Viewer)?
        .get(&key)
        .map_err(error)?
        .ok_or_else(|| ApiError::NotFound {
            message: format!("No value found for key '{key}' in namespace '{namespace}'"),
        })?;
    let kind = serde_json::to_value(entry.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(Json(TypedValue {
        kind,
        value: entry.value,
    }))
}

/// `PUT /api/v1/namespaces/{namespace}/kv/{key}`: the body is the value,
/// as JSON (`42`, `{"a": 1}`, `"text"`) or else as text; a `ttl` header
/// (ISO-8601, `PT1H`) makes it expire.
#[utoipa::path(put, path = "/api/v1/namespaces/{namespace}/kv/{key}", tag = "kv",
    params(("namespace" = String, Path, description = "The namespace"), ("key" = String, Path, description = "The key")),
    request_body(content = String, description = "The value: JSON, or text"),
    responses((status = 200, description = "Stored"), (status = 400, description = "A bad key, namespace or ttl")))]
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest {
        message: "the value is not UTF-8 text".into(),
    })?;
    let value =
        serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    let ttl =
        match headers.get("ttl").map(|v| v.to_str().unwrap_or_default()) {
            None => None,
            Some(text) => Some(engine::task::core::parse_duration(text).map_err(|m| {
                ApiError::BadRequest {
                    message: format!("ttl: {m}"),
                }
            })?),
        };
    super::params::kv_key(&key)?;
    store_as(&state, &namespace, &caller, Role::Editor)?
        .put(&key, value, None, ttl, true, None)
        .map_err(error)?;
    caller
        .audit(&state.store, "kv.put", Some(&namespace), Some(&key), None)
        .await;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v1/namespaces/{namespace}/kv/{key}`: whether it was there.
#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/kv/{key}", tag = "kv",
    params(("namespace" = String, Path, description = "The namespace"), ("key" = String, Path, description = "The key")),
    responses((status = 200, description = "true when the key was there", body = bool)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Json<bool>, ApiError> {
    super::params::kv_key(&key)?;
    let deleted = store_as(&state, &namespace, &caller, Role::Editor)?
        .delete(&key)
        .map_err(error)?;
    caller
        .audit(
            &state.store,
            "kv.delete",
            Some(&namespace),
            Some(&key),
            None,
        )
        .await;
    Ok(Json(deleted))
}

/// `DELETE /api/v1/namespaces/{namespace}/kv` with `{"keys": [...]}`: the
/// keys that were there and are gone.
#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/kv", tag = "kv",
    params(("namespace" = String, Path, description = "The namespace")),
    request_body = Keys,
    responses((status = 200, description = "The keys deleted", body = Keys)))]
pub(crate) async fn delete_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Json(request): Json<Keys>,
) -> Result<Json<Keys>, ApiError> {
    let kv = store_as(&state, &namespace, &caller, Role::Editor)?;
    let mut keys = Vec::new();
    for key in request.keys {
        if kv.delete(&key).map_err(error)? {
            keys.push(key);
        }
    }
    caller
        .audit(
            &state.store,
            "kv.delete",
            Some(&namespace),
            Some(&keys.join(",")),
            None,
        )
        .await;
    Ok(Json(Keys { keys }))
}
