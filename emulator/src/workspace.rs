//! Enough of the Workspace API (import, export, get-status, list, mkdirs,
//! delete) to place notebooks that job runs then "execute".

use std::collections::BTreeMap;
use std::sync::RwLock;

use axum::extract::{FromRequest, Request, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Obj, Query};

#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub kind: &'static str,
    pub language: Option<String>,
    pub content: Vec<u8>,
    id: i64,
    created: i64,
    modified: i64,
}

pub(crate) struct Workspace {
    tree: RwLock<BTreeMap<String, Object>>,
    next: std::sync::atomic::AtomicI64,
}

fn norm(p: &str) -> ApiResult<String> {
    let p = p.trim().trim_end_matches('/');
    let p = p
        .strip_prefix("/Workspace")
        .filter(|r| r.starts_with('/'))
        .unwrap_or(p);
    if !p.starts_with('/') {
        return Err(ApiError::invalid(format!("Path ({p}) must be absolute.")));
    }
    Ok(if p.is_empty() {
        "/".into()
    } else {
        p.to_owned()
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            tree: RwLock::new(BTreeMap::new()),
            next: 1000.into(),
        }
    }
    fn id(&self) -> i64 {
        self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
    pub fn get(&self, path: &str) -> Option<Object> {
        let p = norm(path).ok()?;
        self.tree
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&p)
            .cloned()
    }
    pub fn mkdirs(&self, path: &str) -> ApiResult<()> {
        let p = norm(path)?;
        let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
        let mut cur = String::new();
        for part in p.split('/').filter(|s| !s.is_empty()) {
            cur.push('/');
            cur.push_str(part);
            match tree.get(&cur) {
                Some(o) if o.kind != "DIRECTORY" => {
                    return Err(ApiError::already_exists(format!(
                        "Path ({cur}) already exists and is not a directory."
                    )));
                }
                Some(_) => {}
                None => {
                    let now = now_ms();
                    let id = self.id();
                    tree.insert(
                        cur.clone(),
                        Object {
                            kind: "DIRECTORY",
                            language: None,
                            content: vec![],
                            id,
                            created: now,
                            modified: now,
                        },
                    );
                }
            }
        }
        Ok(())
    }
    /// Places a notebook (or file); the parent folder must exist.
    pub fn put(
        &self,
        path: &str,
        kind: &'static str,
        language: Option<String>,
        content: Vec<u8>,
        overwrite: bool,
    ) -> ApiResult<()> {
        let p = norm(path)?;
        let parent = p
            .rsplit_once('/')
            .map(|(a, _)| if a.is_empty() { "/" } else { a })
            .unwrap_or("/")
            .to_owned();
        let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
        if parent != "/" && tree.get(&parent).is_none_or(|o| o.kind != "DIRECTORY") {
            return Err(ApiError::not_found(format!(
                "The parent folder ({parent}) does not exist."
            )));
        }
        let now = now_ms();
        let (id, created) = match tree.get(&p) {
            Some(o) if o.kind == "DIRECTORY" || !overwrite => {
                return Err(ApiError::already_exists(format!(
                    "Path ({p}) already exists."
                )));
            }
            Some(o) => (o.id, o.created),
            None => (self.id(), now),
        };
        tree.insert(
            p,
            Object {
                kind,
                language,
                content,
                id,
                created,
                modified: now,
            },
        );
        Ok(())
    }
    fn info(path: &str, o: &Object) -> Value {
        let mut v = json!({
            "path": path, "object_type": o.kind, "object_id": o.id,
            "created_at": o.created, "modified_at": o.modified,
            "resource_id": o.id.to_string(),
        });
        if let Some(l) = &o.language {
            v["language"] = json!(l);
        }
        if o.kind != "DIRECTORY" {
            v["size"] = json!(o.content.len());
        }
        v
    }
}

pub(crate) fn routes() -> Router<Shared> {
    let p = |s: &str| format!("/api/2.0/workspace/{s}");
    Router::new()
        .route(&p("import"), post(import))
        .route(&p("export"), get(export))
        .route(&p("get-status"), get(get_status))
        .route(&p("list"), get(list))
        .route(&p("mkdirs"), post(mkdirs))
        .route(&p("delete"), post(delete))
}

fn missing(p: &str) -> ApiError {
    ApiError::not_found(format!("Path ({p}) doesn't exist."))
}

/// `POST /api/2.0/workspace/import`: JSON with base64 `content`, or the
/// multipart form the SDK's `workspace.upload` sends (raw `content` file).
async fn import(State(state): State<Shared>, req: Request) -> ApiResult<Json<Value>> {
    let (body, content) = if crate::lenient::is_multipart(&req) {
        let mut fields = serde_json::Map::new();
        let mut content = Vec::new();
        for (name, bytes) in crate::lenient::multipart_fields(req).await? {
            if name == "content" {
                content = bytes.to_vec();
            } else {
                fields.insert(name, json!(String::from_utf8_lossy(&bytes)));
            }
        }
        (Obj(fields), content)
    } else {
        let Body(body) = Body::from_request(req, &()).await?;
        let content = base64::engine::general_purpose::STANDARD
            .decode(body.str("content").unwrap_or_default().trim())
            .map_err(|e| ApiError::invalid(format!("Invalid base64 content: {e}")))?;
        (body, content)
    };
    let path = body.req_str("path")?;
    let format = body
        .str("format")
        .unwrap_or_else(|| "SOURCE".into())
        .to_uppercase();
    let language = body.str("language").map(|l| l.to_uppercase());
    let kind = match format.as_str() {
        "SOURCE" | "JUPYTER" | "DBC" | "HTML" | "R_MARKDOWN" => "NOTEBOOK",
        "AUTO" if language.is_some() || path.ends_with(".ipynb") => "NOTEBOOK",
        "AUTO" | "RAW" => "FILE",
        other => return Err(ApiError::invalid(format!("Unknown import format: {other}"))),
    };
    if kind == "NOTEBOOK" && format == "SOURCE" && language.is_none() {
        return Err(ApiError::invalid(
            "The language field is required when importing a SOURCE notebook.",
        ));
    }
    let language = if kind == "NOTEBOOK" {
        Some(language.unwrap_or_else(|| "PYTHON".into()))
    } else {
        None
    };
    state
        .workspace
        .put(&path, kind, language, content, body.flag("overwrite")?)?;
    Ok(Json(json!({})))
}

async fn export(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let path = q.req_str("path")?;
    let o = state.workspace.get(&path).ok_or_else(|| missing(&path))?;
    if o.kind == "DIRECTORY" {
        return Err(ApiError::invalid(format!(
            "Path ({path}) is a directory; export it as DBC."
        )));
    }
    Ok(Json(json!({
        "content": base64::engine::general_purpose::STANDARD.encode(&o.content),
        "file_type": if o.language.as_deref() == Some("SQL") { "sql" } else { "py" },
    })))
}

async fn get_status(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let path = norm(&q.req_str("path")?)?;
    if path == "/" {
        return Ok(Json(
            json!({"path": "/", "object_type": "DIRECTORY", "object_id": 0}),
        ));
    }
    let o = state.workspace.get(&path).ok_or_else(|| missing(&path))?;
    Ok(Json(Workspace::info(&path, &o)))
}

async fn list(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let path = norm(&q.req_str("path")?)?;
    if path != "/"
        && state
            .workspace
            .get(&path)
            .is_none_or(|o| o.kind != "DIRECTORY")
    {
        return Err(missing(&path));
    }
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    };
    let tree = state
        .workspace
        .tree
        .read()
        .unwrap_or_else(|e| e.into_inner());
    let objects: Vec<Value> = tree
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| !k[prefix.len()..].contains('/'))
        .map(|(k, o)| Workspace::info(k, o))
        .collect();
    drop(tree);
    if objects.is_empty() {
        return Ok(Json(json!({})));
    }
    Ok(Json(json!({ "objects": objects })))
}

async fn mkdirs(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    state.workspace.mkdirs(&body.req_str("path")?)?;
    Ok(Json(json!({})))
}

async fn delete(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let path = norm(&body.req_str("path")?)?;
    let recursive = body.flag("recursive")?;
    let mut tree = state
        .workspace
        .tree
        .write()
        .unwrap_or_else(|e| e.into_inner());
    if !tree.contains_key(&path) {
        return Err(missing(&path));
    }
    let prefix = format!("{path}/");
    let children: Vec<String> = tree
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    if !children.is_empty() && !recursive {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "DIRECTORY_NOT_EMPTY",
            format!("Folder ({path}) is not empty."),
        ));
    }
    for c in children {
        tree.remove(&c);
    }
    tree.remove(&path);
    Ok(Json(json!({})))
}
