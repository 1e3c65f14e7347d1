//! DBFS 2.0: put (inline up to 1 MiB decoded, or multipart), streaming
//! create / add-block / close with the 1 MiB decoded block limit, read
//! (offset, length at most 1 MiB), get-status, list, mkdirs, move, delete.

use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::fs::{FsError, Node, normalize};
use crate::lenient::{Body, Obj, Query, parse_body};

/// The service's block and read limit, counted on decoded bytes (the SDK
/// sends exactly 1 MiB raw per add-block and reads 1 MiB at a time).
pub(crate) const MAX_BLOCK: usize = 1024 * 1024;
const DEFAULT_READ: i64 = 512 * 1024;
const HANDLE_IDLE: Duration = Duration::from_secs(600);
const MULTIPART_LIMIT: usize = 2 * 1024 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Handle {
    path: String,
    overwrite: bool,
    data: Vec<u8>,
    touched: Instant,
}

pub(crate) fn routes() -> Router<Shared> {
    let p = |s: &str| format!("/api/2.0/dbfs/{s}");
    Router::new()
        .route(
            &p("put"),
            post(put).layer(DefaultBodyLimit::max(MULTIPART_LIMIT)),
        )
        .route(&p("create"), post(create))
        .route(&p("add-block"), post(add_block))
        .route(&p("close"), post(close))
        .route(&p("read"), get(read))
        .route(&p("get-status"), get(get_status))
        .route(&p("list"), get(list))
        .route(&p("mkdirs"), post(mkdirs))
        .route(&p("move"), post(mv))
        .route(&p("delete"), post(delete))
}

pub(crate) fn fs_error(e: FsError) -> ApiError {
    let bad = |code: &str, msg: String| ApiError::new(StatusCode::BAD_REQUEST, code, msg);
    match e {
        FsError::NotFound(p) => {
            ApiError::not_found(format!("No file or directory exists on path {p}."))
        }
        FsError::AlreadyExists(p) => bad(
            "RESOURCE_ALREADY_EXISTS",
            format!("A file or directory already exists at the input path dbfs:{p}."),
        ),
        FsError::NotEmpty(p) => bad(
            "IO_ERROR",
            format!("Directory dbfs:{p} is not empty; use recursive to delete it."),
        ),
        e @ (FsError::IsDir(_) | FsError::Invalid(_)) => ApiError::invalid(e.to_string()),
    }
}

fn path_of(o: &Obj, k: &str) -> ApiResult<String> {
    normalize(&o.req_str(k)?).map_err(fs_error)
}

fn block_too_big(n: usize) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "MAX_BLOCK_SIZE_EXCEEDED",
        format!(
            "The size of the data block ({n} bytes) exceeds the maximum size of {MAX_BLOCK} bytes."
        ),
    )
}

fn decode(o: &Obj, k: &str) -> ApiResult<Vec<u8>> {
    let s = o.str(k).unwrap_or_default();
    // A quick upper bound before decoding: base64 is 4 chars per 3 bytes.
    if s.len() / 4 * 3 > MAX_BLOCK + 3 {
        return Err(block_too_big(s.len() / 4 * 3));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| ApiError::invalid(format!("Invalid base64 in {k}: {e}")))?;
    if data.len() > MAX_BLOCK {
        return Err(block_too_big(data.len()));
    }
    Ok(data)
}

async fn put(State(state): State<Shared>, req: Request) -> ApiResult<Json<Value>> {
    let (path, data, overwrite) = if crate::lenient::is_multipart(&req) {
        let (mut path, mut data, mut overwrite) = (None, None, false);
        for (name, bytes) in crate::lenient::multipart_fields(req).await? {
            match name.as_str() {
                "path" => path = Some(String::from_utf8_lossy(&bytes).into_owned()),
                "overwrite" => {
                    overwrite = String::from_utf8_lossy(&bytes)
                        .trim()
                        .eq_ignore_ascii_case("true")
                }
                // The docs' curl example names the file part `contents`; accept `file` too.
                "contents" | "file" => data = Some(bytes),
                _ => {}
            }
        }
        let path = normalize(&path.ok_or_else(|| ApiError::missing("path"))?).map_err(fs_error)?;
        (path, data.unwrap_or_default(), overwrite)
    } else {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|_| block_too_big(MULTIPART_LIMIT))?;
        let body = parse_body(&bytes)?;
        let path = path_of(&body, "path")?;
        let data = decode(&body, "contents")?;
        (path, Bytes::from(data), body.flag("overwrite")?)
    };
    state
        .fs
        .write_file(&path, data, overwrite)
        .map_err(fs_error)?;
    Ok(Json(json!({})))
}

async fn create(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let path = path_of(&body, "path")?;
    let overwrite = body.flag("overwrite")?;
    state.fs.check_create(&path, overwrite).map_err(fs_error)?;
    // Forget handles idle for longer than the service keeps them.
    let now = Instant::now();
    state
        .dbfs_handles
        .retain(|h| now.duration_since(h.touched) <= HANDLE_IDLE);
    let handle = state.next_id();
    state.dbfs_handles.insert(
        handle,
        Handle {
            path,
            overwrite,
            data: Vec::new(),
            touched: now,
        },
    );
    Ok(Json(json!({ "handle": handle })))
}

/// Forgets handles idle for longer than the service keeps them.
pub(crate) fn sweep(state: &Shared) {
    let now = Instant::now();
    state
        .dbfs_handles
        .retain(|h| now.duration_since(h.touched) <= HANDLE_IDLE);
}

fn no_handle(h: i64) -> ApiError {
    ApiError::not_found(format!("There is no open stream with handle {h}."))
}

async fn add_block(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let h = body.req_i64("handle")?;
    let data = decode(&body, "data")?;
    let now = Instant::now();
    let alive = state.dbfs_handles.update(&h, |handle| {
        if now.duration_since(handle.touched) > HANDLE_IDLE {
            return false;
        }
        handle.data.extend_from_slice(&data);
        handle.touched = now;
        true
    });
    match alive {
        Some(true) => Ok(Json(json!({}))),
        Some(false) => {
            state.dbfs_handles.remove(&h);
            Err(no_handle(h))
        }
        None => Err(no_handle(h)),
    }
}

async fn close(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let h = body.req_i64("handle")?;
    let handle = state.dbfs_handles.remove(&h).ok_or_else(|| no_handle(h))?;
    if handle.touched.elapsed() > HANDLE_IDLE {
        return Err(no_handle(h));
    }
    state
        .fs
        .write_file(&handle.path, Bytes::from(handle.data), handle.overwrite)
        .map_err(fs_error)?;
    Ok(Json(json!({})))
}

async fn read(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let path = path_of(&q, "path")?;
    let offset = q.i64("offset")?.unwrap_or(0);
    let length = q.i64("length")?.unwrap_or(DEFAULT_READ);
    if offset < 0 || length < 0 {
        return Err(ApiError::invalid(format!(
            "offset ({offset}) and length ({length}) must be non-negative"
        )));
    }
    if length as usize > MAX_BLOCK {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MAX_READ_SIZE_EXCEEDED",
            format!("Cannot read more than {MAX_BLOCK} bytes at a time (asked for {length})."),
        ));
    }
    let (data, _) = state.fs.read_file(&path).map_err(|e| match e {
        FsError::IsDir(p) => ApiError::invalid(format!("Cannot read a directory: {p}")),
        e => fs_error(e),
    })?;
    let start = (offset as usize).min(data.len());
    let end = start.saturating_add(length as usize).min(data.len());
    let slice = &data[start..end];
    Ok(Json(json!({
        "bytes_read": slice.len(),
        "data": base64::engine::general_purpose::STANDARD.encode(slice),
    })))
}

pub(crate) fn file_info(path: &str, n: &Node) -> Value {
    json!({ "path": path, "is_dir": n.is_dir(), "file_size": n.size(), "modification_time": n.mtime() })
}

async fn get_status(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let path = path_of(&q, "path")?;
    let n = state
        .fs
        .stat(&path)
        .ok_or_else(|| fs_error(FsError::NotFound(path.clone())))?;
    Ok(Json(file_info(&path, &n)))
}

async fn list(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let path = path_of(&q, "path")?;
    let entries = state.fs.list(&path).map_err(fs_error)?;
    if entries.is_empty() {
        return Ok(Json(json!({})));
    }
    let files: Vec<Value> = entries.iter().map(|(p, n)| file_info(p, n)).collect();
    Ok(Json(json!({ "files": files })))
}

async fn mkdirs(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let path = path_of(&body, "path")?;
    state.fs.mkdirs(&path).map_err(fs_error)?;
    Ok(Json(json!({})))
}

async fn mv(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let src = path_of(&body, "source_path")?;
    let dst = path_of(&body, "destination_path")?;
    state.fs.rename(&src, &dst).map_err(fs_error)?;
    Ok(Json(json!({})))
}

async fn delete(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let path = path_of(&body, "path")?;
    state
        .fs
        .delete(&path, body.flag("recursive")?)
        .map_err(fs_error)?;
    Ok(Json(json!({})))
}
