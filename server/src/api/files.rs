//! A namespace's files, on Kestra's paths and shapes
//! (`/api/v1/namespaces/{namespace}/files`): read (now or at a revision),
//! stats, list a directory, make one, upload (multipart `fileContent`; a
//! `.zip` is imported, flows included), export as a zip, move, delete,
//! search, and each file's revisions.

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
    let files = files(&state, &namespace, &caller, Role::Editor)?;
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
        let part = super::upload::file_part(request, &state, "fileContent").await?;
        // Kestra's import: a .zip's entries become the namespace's files.
        if part
            .file_name
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".zip"))
        {
            return import_zip(&state, &caller, &namespace, files, part.bytes).await;
        }
        part.bytes
    } else {
        let body: Bytes = axum::body::to_bytes(
            request.into_body(),
            usize::try_from(max).unwrap_or(usize::MAX),
        )
        .await
        .map_err(|_| too_large())?;
        body.to_vec()
    };
    let path = required(query.path)?;
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

/// Kestra's folder of flows in a namespace's export.
const FLOWS_FOLDER: &str = "_flows";

/// Imports a zip as Kestra does: each file entry becomes a namespace file
/// at its path, and `_flows/<id>.yml` a flow of this namespace (its
/// `namespace:` line set to it). Every flow is checked before anything is
/// written; entries that would leave the namespace (`..`, absolute) are
/// refused, and the files' total size is bounded by the upload limit.
async fn import_zip(
    state: &AppState,
    caller: &Caller,
    namespace: &str,
    files: NamespaceFiles,
    bytes: Vec<u8>,
) -> Result<StatusCode, ApiError> {
    use std::io::Read;
    let max = state.max_upload;
    let bad = |message: String| ApiError::BadRequest { message };
    let (entries, flows) = tokio::task::spawn_blocking({
        let namespace = namespace.to_owned();
        move || -> Result<(Vec<(String, Vec<u8>)>, Vec<(String, String)>), ApiError> {
            let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
                .map_err(|e| bad(format!("the .zip cannot be read: {e}")))?;
            let (mut entries, mut flows, mut total) = (Vec::new(), Vec::new(), 0u64);
            for index in 0..archive.len() {
                let mut entry = archive
                    .by_index(index)
                    .map_err(|e| bad(format!("the .zip cannot be read: {e}")))?;
                if entry.is_dir() {
                    continue;
                }
                let name = entry
                    .name()
                    .map_err(|e| bad(format!("the .zip has a bad entry name: {e}")))?
                    .into_owned();
                let Some(path) = entry.enclosed_name() else {
                    return Err(bad(format!(
                        "the .zip entry {name:?} leaves the namespace: paths are relative, without .."
                    )));
                };
                let path = path.to_string_lossy().replace('\\', "/");
                let mut content = Vec::new();
                (&mut entry)
                    .take(max.saturating_sub(total) + 1)
                    .read_to_end(&mut content)
                    .map_err(|e| bad(format!("the .zip entry {name:?} cannot be read: {e}")))?;
                total += content.len() as u64;
                if total > max {
                    return Err(ApiError::TooLarge {
                        message: format!(
                            "the .zip's files come to more than {max} bytes (--max-upload)"
                        ),
                    });
                }
                match path.strip_prefix(&format!("{FLOWS_FOLDER}/")) {
                    Some(file) if !file.contains('/') => {
                        let source = String::from_utf8(content).map_err(|_| {
                            bad(format!("the flow {path} is not UTF-8 text"))
                        })?;
                        flows.push((path.clone(), with_namespace(&source, &namespace)));
                    }
                    Some(_) => {
                        return Err(bad(format!(
                            "invalid flow file path /{path}: flows sit right under /{FLOWS_FOLDER}/"
                        )));
                    }
                    None => entries.push((path, content)),
                }
            }
            Ok((entries, flows))
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut checked = Vec::with_capacity(flows.len());
    for (path, source) in flows {
        let header =
            engine::header::checked(&source).map_err(|invalid| ApiError::Unprocessable {
                message: format!("/{path} is not a valid flow: {invalid}"),
                violations: Vec::new(),
            })?;
        checked.push(engine::store::FlowSource {
            namespace: header.namespace,
            id: header.id,
            description: header.description,
            source,
        });
    }
    let count = entries.len();
    blocking(move || {
        for (path, content) in &entries {
            files.put(path, content, Conflict::Overwrite)?;
        }
        Ok(())
    })
    .await?;
    for flow in &checked {
        state.store.save_flow(flow).await?;
    }
    caller
        .audit(
            &state.store,
            "files.import",
            Some(namespace),
            None,
            Some(serde_json::json!({"files": count, "flows": checked.iter().map(|f| f.id.as_str()).collect::<Vec<_>>()})),
        )
        .await;
    Ok(StatusCode::OK)
}

/// A flow's source with its top-level `namespace:` line set to `namespace`
/// (Kestra rewrites the first such line), or the line added if it has none.
fn with_namespace(source: &str, namespace: &str) -> String {
    let mut done = false;
    let mut out: Vec<String> = source
        .lines()
        .map(|line| {
            if !done && line.starts_with("namespace:") {
                done = true;
                format!("namespace: {namespace}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    if !done {
        out.insert(0, format!("namespace: {namespace}"));
    }
    let mut text = out.join("\n");
    if source.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `GET /api/v1/namespaces/{namespace}/files/export`: every file of the
/// namespace (its latest revision) and its flows under `_flows/<id>.yml`,
/// as a zip, as Kestra exports them.
#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files/export", tag = "files",
    params(("namespace" = String, Path, description = "The namespace")),
    responses((status = 200, description = "The zip", content_type = "application/octet-stream")))]
pub(crate) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    use std::io::Write;
    let files = files(&state, &namespace, &caller, Role::Viewer)?;
    let mut flows = Vec::new();
    for flow in state.store.search_flows(&namespace).await? {
        if flow.namespace.as_str() != namespace {
            continue;
        }
        if let Some(stored) = state.store.get_flow(&flow.namespace, &flow.id).await? {
            flows.push((flow.id.as_str().to_owned(), stored.source));
        }
    }
    let zipped = blocking(move || {
        let io = |e: std::io::Error| FilesError::Io {
            path: "export.zip".into(),
            source: e,
        };
        let zipped = |e: zip::result::ZipError| io(std::io::Error::other(e));
        let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for path in files.all()? {
            let content = files.get(&path, None)?;
            archive.start_file(path.as_str(), options).map_err(zipped)?;
            archive.write_all(&content).map_err(io)?;
        }
        for (id, source) in flows {
            archive
                .start_file(format!("{FLOWS_FOLDER}/{id}.yml"), options)
                .map_err(zipped)?;
            archive.write_all(source.as_bytes()).map_err(io)?;
        }
        Ok(archive.finish().map_err(zipped)?.into_inner())
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{namespace}_files.zip\""),
            ),
        ],
        zipped,
    ))
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
