//! A namespace's secrets (`/api/v1/namespaces/{namespace}/secrets`): their
//! names, who set them and when, for editors of the namespace; setting and
//! deleting them for its admins. A value goes in and is never sent back.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use engine::auth::Role;
use engine::ids::SecretName;
use engine::secret::Secret;
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// A secret as lists show it: never its value.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretJson {
    namespace: String,
    key: String,
    set_by: String,
    update_date: String,
}

fn name(text: &str) -> Result<SecretName, ApiError> {
    SecretName::parse(text).map_err(|message| ApiError::BadRequest {
        message: format!("path parameter `key`: {message}"),
    })
}

/// `GET /api/v1/namespaces/{namespace}/secrets`: the namespace's own
/// secrets (a flow also reads its parents').
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/secrets", tag = "secrets", params(("namespace" = String, Path)),
    responses((status = 200, body = Vec<SecretJson>), (status = 403, body = crate::error::ErrorJson)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
) -> Result<Json<Vec<SecretJson>>, ApiError> {
    let namespace = super::params::namespace(&namespace)?;
    caller.require(Role::Editor, Some(namespace.as_str()))?;
    let entries = state.secrets.list(&namespace).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| SecretJson {
                namespace: e.namespace.to_string(),
                key: e.name.to_string(),
                set_by: e.set_by,
                update_date: super::model::iso(e.updated_at),
            })
            .collect(),
    ))
}

/// `PUT /api/v1/namespaces/{namespace}/secrets/{key}`: sets (or replaces)
/// a secret; the body is its value, as text.
#[utoipa::path(put, path = "/api/v1/namespaces/{namespace}/secrets/{key}", tag = "secrets", params(("namespace" = String, Path), ("key" = String, Path)),
    request_body(content = String, description = "The value"),
    responses((status = 204, description = "Set"), (status = 403, body = crate::error::ErrorJson), (status = 400, body = crate::error::ErrorJson)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let namespace = super::params::namespace(&namespace)?;
    let key = name(&key)?;
    caller.require(Role::Admin, Some(namespace.as_str()))?;
    let value = String::from_utf8(body.to_vec()).map_err(|_| ApiError::BadRequest {
        message: "the value is not UTF-8 text".into(),
    })?;
    if value.is_empty() {
        return Err(ApiError::BadRequest {
            message: "the value is empty: send it as the body".into(),
        });
    }
    if value.len() > engine::store::MAX_SECRET_VALUE {
        return Err(ApiError::TooLarge {
            message: format!(
                "a secret holds at most {} bytes",
                engine::store::MAX_SECRET_VALUE
            ),
        });
    }
    state
        .secrets
        .set(
            &namespace,
            &key,
            &Secret::new(value),
            &caller.principal.user,
        )
        .await?;
    caller
        .audit(
            &state.store,
            "secret.set",
            Some(namespace.as_str()),
            Some(key.as_str()),
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/namespaces/{namespace}/secrets/{key}`.
#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/secrets/{key}", tag = "secrets", params(("namespace" = String, Path), ("key" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let namespace = super::params::namespace(&namespace)?;
    let key = name(&key)?;
    caller.require(Role::Admin, Some(namespace.as_str()))?;
    if !state.secrets.delete(&namespace, &key).await? {
        return Err(ApiError::NotFound {
            message: format!("namespace {namespace} has no secret {key}"),
        });
    }
    caller
        .audit(
            &state.store,
            "secret.delete",
            Some(namespace.as_str()),
            Some(key.as_str()),
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
