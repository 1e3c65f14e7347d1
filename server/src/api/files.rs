//! A namespace's files, on Kestra's paths and shapes
//! (`/api/v1/namespaces/{namespace}/files`): read (now or at a revision),
//! stats, list a directory, make one, upload (multipart `fileContent`),
//! move, delete, search, and each file's revisions.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use engine::auth::Role;
use engine::namespace_files::{Conflict, FileAttributes, FilesError, NamespaceFiles};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

fn error(e: FilesError) -> ApiError {
    match e {
        FilesError::NotFound(_) | FilesError::NoRevision { .. } => ApiError::NotFound {
            message: e.to_string(),
        },
        FilesError::BadPath(_) | FilesError::BadNamespace(_) | FilesError::IsDirectory(_) => {
            ApiError::BadRequest {
                message: e.to_string(),
            }
        }
        FilesError::Exists(_) => ApiError::Conflict {
            message: e.to_string(),
        },
        FilesError::Io { .. } => ApiError::Internal(e.to_string()),
    }
}

/// The namespace's files, when the caller holds `role` on it.
fn files(
    state: &AppState,
    namespace: &str,
    caller: &Caller,
    role: Role,
) -> Result<NamespaceFiles, ApiError> {
    super::params::namespace(namespace)?;
    caller.require(role, Some(namespace))?;
    state.storage.namespace_files(namespace).map_err(error)
}

/// File work is a few system calls: off the async workers all the same.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FilesError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(error)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct PathQuery {
    /// The file's path in the namespace, such as `/sql/query.sql`.
    #[serde(default)]
    path: Option<String>,
    /// A revision to read (the latest when unset).
    #[serde(default)]
    revision: Option<u32>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct MoveQuery {
    from: String,
    to: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SearchQuery {
    /// Text the paths contain.
    q: String,
}

/// Kestra's NamespaceFileRevision.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Revision {
    revision: u32,
}

fn required(path: Option<String>) -> Result<String, ApiError> {
    path.filter(|p| !p.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest {
            message: "give the file's `path`, such as /sql/query.sql".into(),
        })
}

/// `GET /api/v1/namespaces/{namespace}/files?path=&revision=`: a file's content.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), PathQuery),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"), (status = 404, description = "No such file or revision")))]
pub(crate) async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<PathQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Viewer)?;
    let path = required(query.path)?;
    let bytes = blocking(move || files.get(&path, query.revision)).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

/// `GET /api/v1/namespaces/{namespace}/files/stats?path=`: a file's or
/// directory's attributes (the root when no path).
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files/stats", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), PathQuery),
    responses((status = 200, description = "Its attributes", body = Object), (status = 404, description = "No such file")))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<PathQuery>,
) -> Result<Json<FileAttributes>, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Viewer)?;
    Ok(Json(
        blocking(move || files.stats(query.path.as_deref().unwrap_or_default())).await?,
    ))
}

/// `GET /api/v1/namespaces/{namespace}/files/directory?path=`: what a
/// directory holds (the root when no path).
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files/directory", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), PathQuery),
    responses((status = 200, description = "Its files and directories", body = [Object])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<PathQuery>,
) -> Result<Json<Vec<FileAttributes>>, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Viewer)?;
    Ok(Json(
        blocking(move || files.list(query.path.as_deref().unwrap_or_default())).await?,
    ))
}

/// `POST /api/v1/namespaces/{namespace}/files/directory?path=`: makes a directory.
#[utoipa::path(post, path = "/api/v1/namespaces/{namespace}/files/directory", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), PathQuery),
    responses((status = 200, description = "Made")))]
pub(crate) async fn create_directory(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<PathQuery>,
) -> Result<StatusCode, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Editor)?;
    let path = required(query.path)?;
    let audited = path.clone();
    blocking(move || files.create_directory(&path)).await?;
    caller
        .audit(
            &state.store,
            "files.directory",
            Some(&namespace),
            Some(&audited),
            None,
        )
        .await;
    Ok(StatusCode::OK)
}

/// `POST /api/v1/namespaces/{namespace}/files?path=`: writes a file (a new
/// revision) from the multipart part `fileContent`, or from the raw body.
#[utoipa::path(post, path = "/api/v1/namespaces/{namespace}/files", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), PathQuery),
    request_body(content = String, description = "multipart/form-data with a part `fileContent`, or the bytes themselves", content_type = "multipart/form-data"),
    responses((status = 200, description = "Written"), (status = 400, description = "A bad path"), (status = 413, description = "Over the upload limit")))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<PathQuery>,
    request: axum::extract::Request,
) -> Result<StatusCode, ApiError> {
    use axum::extract::FromRequest;
    let files = files(&state, &namespace, &caller, Role::Editor)?;
    let path = required(query.path)?;
    let max = state.max_upload;
    let too_large = || ApiError::TooLarge {
        message: format!("a namespace file is at most {max} bytes (--max-upload)"),
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    let content: Vec<u8> = if multipart {
        let mut form = axum::extract::Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::BadRequest {
                message: format!("the form cannot be read: {}", e.body_text()),
            })?;
        let mut found = None;
        while let Some(mut field) = form.next_field().await.map_err(|e| ApiError::BadRequest {
            message: format!("the form cannot be read: {e}"),
        })? {
            if field.name() != Some("fileContent") {
                continue;
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| ApiError::BadRequest {
                message: format!("the form cannot be read: {e}"),
            })? {
                if (bytes.len() + chunk.len()) as u64 > max {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            found = Some(bytes);
        }
        found.ok_or_else(|| ApiError::BadRequest {
            message: "the form has no part `fileContent`".into(),
        })?
    } else {
        let body: Bytes = axum::body::to_bytes(
            request.into_body(),
            usize::try_from(max).unwrap_or(usize::MAX),
        )
        .await
        .map_err(|_| too_large())?;
        body.to_vec()
    };
    let audited = path.clone();
    let revision = blocking(move || files.put(&path, &content, Conflict::Overwrite)).await?;
    caller
        .audit(
            &state.store,
            "files.put",
            Some(&namespace),
            Some(&format!(
                "{audited} (revision {})",
                revision.unwrap_or_default()
            )),
            None,
        )
        .await;
    Ok(StatusCode::OK)
}

/// `PUT /api/v1/namespaces/{namespace}/files?from=&to=`: moves a file or a
/// directory, with its revisions.
#[utoipa::path(put, path = "/api/v1/namespaces/{namespace}/files", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), MoveQuery),
    responses((status = 200, description = "Moved"), (status = 404, description = "No such file"), (status = 409, description = "The target exists")))]
pub(crate) async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<MoveQuery>,
) -> Result<StatusCode, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Editor)?;
    let audited = format!("{} -> {}", query.from, query.to);
    blocking(move || files.rename(&query.from, &query.to)).await?;
    caller
        .audit(
            &state.store,
            "files.move",
            Some(&namespace),
            Some(&audited),
            None,
        )
        .await;
    Ok(StatusCode::OK)
}

/// `DELETE /api/v1/namespaces/{namespace}/files?path=`: deletes a file or
/// a directory with what it holds; revisions are kept.
#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/files", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), PathQuery),
    responses((status = 200, description = "Deleted"), (status = 404, description = "No such file")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<PathQuery>,
) -> Result<StatusCode, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Editor)?;
    let path = required(query.path)?;
    let audited = path.clone();
    let gone = blocking(move || files.delete(&path)).await?;
    if !gone {
        return Err(error(FilesError::NotFound(audited)));
    }
    caller
        .audit(
            &state.store,
            "files.delete",
            Some(&namespace),
            Some(&audited),
            None,
        )
        .await;
    Ok(StatusCode::OK)
}

/// `GET /api/v1/namespaces/{namespace}/files/search?q=`: the paths (`/a/b.sql`) that contain `q`.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files/search", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), SearchQuery),
    responses((status = 200, description = "The matching paths", body = [String])))]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Viewer)?;
    let all = blocking(move || files.all()).await?;
    Ok(Json(
        all.into_iter()
            .map(|p| format!("/{p}"))
            .filter(|p| p.contains(&query.q))
            .collect(),
    ))
}

/// `GET /api/v1/namespaces/{namespace}/files/revisions?path=`: a file's revisions, oldest first.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files/revisions", tag = "files",
    params(("namespace" = String, Path, description = "The namespace"), PathQuery),
    responses((status = 200, description = "Its revisions", body = [Revision]), (status = 404, description = "No such file")))]
pub(crate) async fn revisions(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    Query(query): Query<PathQuery>,
) -> Result<Json<Vec<Revision>>, ApiError> {
    let files = files(&state, &namespace, &caller, Role::Viewer)?;
    let path = required(query.path)?;
    let found = blocking(move || files.revisions(&path)).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|revision| Revision { revision })
            .collect(),
    ))
}
