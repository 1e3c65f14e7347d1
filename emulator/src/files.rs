//! Files API 2.0 on Unity Catalog volumes: `/api/2.0/fs/files{path}` (PUT,
//! GET with Range and If-Unmodified-Since, HEAD, DELETE) and
//! `/api/2.0/fs/directories{path}` (PUT, GET list, HEAD, DELETE).
//!
//! The SDK's FilesExt first tries `POST …?action=initiate-upload` and
//! `POST /api/2.0/fs/create-download-url`; both are left unrouted so they
//! answer 404 and the SDK falls back to the single-shot calls, as the
//! contract asks.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::fs::{FsError, Node, normalize};
use crate::lenient::Query;

const MAX_UPLOAD: usize = 5 * 1024 * 1024 * 1024;
const MAX_PAGE: usize = 1000;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/2.0/fs/files/{*path}",
            put(upload)
                .get(download)
                .head(metadata)
                .delete(delete_file)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route(
            "/api/2.0/fs/directories/{*path}",
            put(mkdir).get(list).head(dir_exists).delete(rmdir),
        )
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("The {what} being accessed is not found."),
    )
}

/// Checks the path is inside an existing volume and normalises it.
fn volume_path(state: &Shared, raw: &str) -> ApiResult<String> {
    let p = normalize(&format!("/{}", raw.trim_start_matches('/')))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let parts: Vec<&str> = p.split('/').skip(1).collect();
    if parts.first() != Some(&"Volumes") || parts.len() < 4 {
        return Err(ApiError::invalid(format!(
            "Invalid path {p}: expected /Volumes/<catalog>/<schema>/<volume>/..."
        )));
    }
    let volume = format!("{}.{}.{}", parts[1], parts[2], parts[3]);
    // The catalog says which volumes exist (created with the volumes API
    // or CREATE VOLUME), as on the service.
    if !state.unity.read().expect("catalog lock").has_volume(&volume) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!(
                "Volume '{}.{}.{}' does not exist.",
                parts[1], parts[2], parts[3]
            ),
        ));
    }
    Ok(p)
}

fn http_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}

fn file_headers(h: &mut HeaderMap, len: usize, mtime: i64) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&http_date(mtime)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

async fn upload(
    State(state): State<Shared>,
    Path(raw): Path<String>,
    Query(q): Query,
    body: Bytes,
) -> ApiResult<Response> {
    let p = volume_path(&state, &raw)?;
    // The SDK docstring: an unspecified overwrite means overwrite.
    let overwrite = q.bool("overwrite")?.unwrap_or(true);
    state
        .fs
        .write_file(&p, body, overwrite)
        .map_err(|e| match e {
            FsError::AlreadyExists(_) if state.fs.stat(&p).is_some_and(|n| !n.is_dir()) => {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "ALREADY_EXISTS",
                    format!("The file being created already exists: {p}."),
                )
            }
            FsError::AlreadyExists(x) => ApiError::new(
                StatusCode::CONFLICT,
                "RESOURCE_CONFLICT",
                format!("The path {x} points to an existing directory or file."),
            ),
            e => ApiError::invalid(e.to_string()),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn existing_file(state: &Shared, p: &str) -> ApiResult<(Bytes, i64)> {
    state.fs.read_file(p).map_err(|_| not_found("file"))
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` -> [start, end).
fn parse_range(v: &str, len: usize) -> Option<Option<(usize, usize)>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: usize = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(None);
        }
        (len.saturating_sub(n), len)
    } else {
        let start: usize = a.parse().ok()?;
        let end = if b.is_empty() {
            len
        } else {
            b.parse::<usize>().ok()?.saturating_add(1).min(len)
        };
        if start >= len || end <= start {
            return Some(None);
        }
        (start, end)
    };
    Some(Some(range))
}

async fn download(
    State(state): State<Shared>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let p = volume_path(&state, &raw)?;
    let (data, mtime) = existing_file(&state, &p)?;
    if let Some(since) = headers
        .get(header::IF_UNMODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        && let Ok(t) = httpdate::parse_http_date(since)
    {
        let since_ms = t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        // HTTP dates have second resolution.
        if mtime / 1000 > since_ms / 1000 {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "FAILED_PRECONDITION",
                "The file has been modified since the given time.",
            ));
        }
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    if let Some(r) = range {
        match parse_range(r, data.len()) {
            Some(Some((start, end))) => {
                let mut resp = Response::new(Body::from(data.slice(start..end)));
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
                file_headers(resp.headers_mut(), end - start, mtime);
                if let Ok(v) =
                    HeaderValue::from_str(&format!("bytes {start}-{}/{}", end - 1, data.len()))
                {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(resp);
            }
            Some(None) => {
                let mut resp = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "INVALID_PARAMETER_VALUE",
                    format!(
                        "Range {r} is not satisfiable for a file of {} bytes.",
                        data.len()
                    ),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", data.len())) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(resp);
            }
            None => {} // An unparsable Range is ignored, as HTTP says.
        }
    }
    let len = data.len();
    let mut resp = Response::new(Body::from(data));
    file_headers(resp.headers_mut(), len, mtime);
    Ok(resp)
}

async fn metadata(State(state): State<Shared>, Path(raw): Path<String>) -> ApiResult<Response> {
    let p = volume_path(&state, &raw)?;
    let (data, mtime) = existing_file(&state, &p)?;
    let mut resp = Response::new(Body::empty());
    file_headers(resp.headers_mut(), data.len(), mtime);
    Ok(resp)
}

async fn delete_file(State(state): State<Shared>, Path(raw): Path<String>) -> ApiResult<Response> {
    let p = volume_path(&state, &raw)?;
    existing_file(&state, &p)?;
    state
        .fs
        .delete(&p, false)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn mkdir(State(state): State<Shared>, Path(raw): Path<String>) -> ApiResult<Response> {
    let p = volume_path(&state, &raw)?;
    state.fs.mkdirs(&p).map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            "RESOURCE_CONFLICT",
            "The given path points to an existing file. This API does not support operations on files.",
        )
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn existing_dir(state: &Shared, p: &str) -> ApiResult<()> {
    match state.fs.stat(p) {
        Some(Node::Dir { .. }) => Ok(()),
        _ => Err(not_found("directory")),
    }
}

async fn dir_exists(State(state): State<Shared>, Path(raw): Path<String>) -> ApiResult<Response> {
    let p = volume_path(&state, &raw)?;
    existing_dir(&state, &p)?;
    Ok(StatusCode::OK.into_response())
}

async fn list(
    State(state): State<Shared>,
    Path(raw): Path<String>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    let p = volume_path(&state, &raw)?;
    existing_dir(&state, &p)?;
    let page_size = match q.i64("page_size")? {
        Some(n) if n > 0 => (n as usize).min(MAX_PAGE),
        _ => MAX_PAGE,
    };
    let offset = match q.str("page_token").filter(|s| !s.is_empty()) {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid page_token: {t}")))?,
        None => 0,
    };
    let entries = state.fs.list(&p).map_err(|_| not_found("directory"))?;
    let end = (offset + page_size).min(entries.len());
    let contents: Vec<Value> = entries
        .get(offset.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(|(path, n)| {
            let name = path.rsplit('/').next().unwrap_or("");
            let mut e = json!({ "path": path, "name": name, "is_directory": n.is_dir(), "last_modified": n.mtime() });
            if n.is_dir() {
                e["path"] = json!(format!("{path}/"));
            } else {
                e["file_size"] = json!(n.size());
            }
            e
        })
        .collect();
    let mut out = json!({});
    if !contents.is_empty() {
        out["contents"] = json!(contents);
    }
    if end < entries.len() {
        out["next_page_token"] = json!(end.to_string());
    }
    Ok(Json(out))
}

async fn rmdir(State(state): State<Shared>, Path(raw): Path<String>) -> ApiResult<Response> {
    let p = volume_path(&state, &raw)?;
    existing_dir(&state, &p)?;
    if p.split('/').count() <= 5 {
        return Err(ApiError::invalid(format!(
            "Cannot delete the volume root {p} through the Files API."
        )));
    }
    if !state.fs.is_empty_dir(&p) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "DIRECTORY_NOT_EMPTY",
            format!("The directory {p} is not empty."),
        ));
    }
    state
        .fs
        .delete(&p, false)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
