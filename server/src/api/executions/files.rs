//! An execution's files: download (`/file`, Ion converted to CSV or JSON
//! lines on request), their metadata and a preview.

use super::*;

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct FileParams {
    path: String,
    /// An Ion file (`.ion`) converted as it streams: `csv` (a header from
    /// the first record's fields), `json` (one array) or `jsonl` (JSON
    /// Lines).
    #[serde(default)]
    format: Option<String>,
}

/// What an Ion file downloads as.
#[derive(Clone, Copy)]
enum Converted {
    Csv,
    Json,
    JsonLines,
}

impl Converted {
    fn parse(format: &str) -> Result<Self, ApiError> {
        match format.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "jsonl" | "ndjson" => Ok(Self::JsonLines),
            other => Err(ApiError::BadRequest {
                message: format!("format {other:?}: an Ion file downloads as csv, json or jsonl"),
            }),
        }
    }

    fn extension_and_type(self) -> (&'static str, &'static str) {
        match self {
            Self::Csv => ("csv", "text/csv; charset=utf-8"),
            Self::Json => ("json", "application/json"),
            Self::JsonLines => ("jsonl", "application/x-ndjson"),
        }
    }
}

/// A std writer whose bytes go, in chunks, to a response body's stream.
struct ChunkWriter {
    buffer: Vec<u8>,
    sender: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = axum::body::Bytes::from(std::mem::take(&mut self.buffer));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download was cancelled")
        })
    }
}

/// Streams the Ion file `file` converted as `converted`; a record that is
/// not Ion ends the stream with an error (the download is cut short).
fn convert_ion(file: std::fs::File, converted: Converted) -> Body {
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut out = ChunkWriter {
            buffer: Vec::new(),
            sender: sender.clone(),
        };
        let done = match converted {
            Converted::Csv => {
                engine::task::serdes::ion_to_csv(reader, &mut out, &Default::default())
            }
            Converted::Json => engine::task::serdes::ion_to_json(reader, &mut out, false),
            Converted::JsonLines => engine::task::serdes::ion_to_json(reader, &mut out, true),
        };
        let done = done
            .map_err(|e| e.to_string())
            .and_then(|_| std::io::Write::flush(&mut out).map_err(|e| e.to_string()));
        if let Err(message) = done {
            let _ = sender.blocking_send(Err(std::io::Error::other(message)));
        }
    });
    Body::from_stream(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
}

/// A file of execution `id` the caller may read, opened: a path outside
/// its storage is 403, a malformed one 400, a missing one 404.
async fn open_file(
    state: &AppState,
    caller: &Caller,
    id: &str,
    path: &str,
) -> Result<(tokio::fs::File, u64), ApiError> {
    let id = crate::api::params::execution_id("id", id)?;
    let execution = find_as(state, &id, caller, Role::Viewer).await?;
    let prefix =
        Storage::execution_uri(&execution.namespace, &execution.flow_id, &execution.id, "");
    let prefix = prefix.trim_end_matches("file");
    if !path.starts_with(prefix) {
        return Err(ApiError::Forbidden {
            message: format!(
                "{} is not a file of execution {id}: its files start with {prefix}, and another execution's files are read through that execution",
                path
            ),
        });
    }
    let storage = state.storage.for_namespace(&execution.namespace);
    let (file, size) = storage.open(path).await.map_err(|error| match error {
        engine::storage::StorageError::NotFound { uri } => ApiError::NotFound { message: format!("{uri} does not exist") },
        engine::storage::StorageError::BadUri { uri } => ApiError::BadRequest {
            message: format!("{uri:?} is not a file of storage: write storage:///… without `..`, `.`, empty segments, `%`, `\\` or NUL"),
        },
        error @ (engine::storage::StorageError::Link { .. } | engine::storage::StorageError::OutOfScope { .. }) => {
            ApiError::Forbidden { message: error.to_string() }
        }
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok((file, size))
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/file", tag = "executions", params(("id" = String, Path), FileParams),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
              (status = 400, description = "A bad execution id; not a storage URI, or one with `..`, `.`, `%`, `\\`, NUL", body = crate::error::ErrorJson),
              (status = 403, description = "A file of another execution, or behind a symbolic link", body = crate::error::ErrorJson),
              (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/file?path=storage:///…[&format=csv|json|jsonl]`:
/// streams a file of this execution (an Ion file converted with `format`). A path outside its storage (another execution's, an
/// absolute path, another scheme) or through a symbolic link is 403; one
/// with `..`, `.`, `%` (`%2e%2e`), `\`, NUL or empty segments is 400.
pub(crate) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<FileParams>,
) -> Result<Response, ApiError> {
    let (file, size) = open_file(&state, &caller, &id, &params.path).await?;
    let name = params.path.rsplit('/').next().unwrap_or("file").to_owned();
    if let Some(format) = params.format.as_deref().filter(|f| !f.is_empty()) {
        let converted = Converted::parse(format)?;
        if !name.ends_with(".ion") {
            return Err(ApiError::BadRequest {
                message: format!(
                    "{name} is not an Ion file (.ion): only those download as {format}; leave out format to download it as it is"
                ),
            });
        }
        let (extension, mime) = converted.extension_and_type();
        let name = format!("{}.{extension}", name.trim_end_matches(".ion"));
        let file = file.into_std().await;
        return Ok((
            [
                (header::CONTENT_TYPE, mime.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            convert_ion(file, converted),
        )
            .into_response());
    }
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PreviewParams {
    path: String,
    /// How many lines (rows of an Ion file) to show: 100 by default, at most 5,000.
    max_rows: Option<usize>,
    /// The text's character set; UTF-8 is read, another is refused.
    encoding: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/file/metas", tag = "executions", params(("id" = String, Path), FileParams),
    responses((status = 200, description = "Kestra's FileMetas: `{size}`"), (status = 403, body = crate::error::ErrorJson), (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/file/metas?path=storage:///…`: the file's size.
pub(crate) async fn file_metas(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<FileParams>,
) -> Result<Json<Value>, ApiError> {
    let (_, size) = open_file(&state, &caller, &id, &params.path).await?;
    Ok(Json(serde_json::json!({"size": size})))
}

/// The extensions Kestra previews as images.
const IMAGES: &[&str] = &["png", "jpg", "jpeg", "gif", "svg", "bmp", "webp"];

#[utoipa::path(get, path = "/api/v1/executions/{id}/file/preview", tag = "executions", params(("id" = String, Path), PreviewParams),
    responses((status = 200, description = "Kestra's FileRender: `{extension, type (TEXT, LIST, IMAGE, MARKDOWN), content, truncated}`"),
              (status = 403, body = crate::error::ErrorJson), (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/file/preview?path=…&maxRows=100`: the
/// file's first lines as Kestra's FileRender: an Ion file's first values as
/// a LIST, Markdown as MARKDOWN, an image as IMAGE (base64), else TEXT.
pub(crate) async fn file_preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<PreviewParams>,
) -> Result<Json<Value>, ApiError> {
    if let Some(encoding) = params.encoding.as_deref().filter(|e| {
        !matches!(
            e.to_ascii_uppercase().replace('-', "").as_str(),
            "UTF8" | ""
        )
    }) {
        return Err(ApiError::BadRequest {
            message: format!("encoding {encoding}: Mortar previews UTF-8 text only"),
        });
    }
    let (file, size) = open_file(&state, &caller, &id, &params.path).await?;
    let rows = params.max_rows.unwrap_or(100).clamp(1, 5000);
    let name = params.path.rsplit('/').next().unwrap_or("file");
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if IMAGES.contains(&extension.as_str()) {
        use base64::Engine as _;
        const IMAGE_LIMIT: u64 = 10 * 1024 * 1024;
        if size > IMAGE_LIMIT {
            return Err(ApiError::BadRequest {
                message: format!(
                    "{name} is {size} bytes: images are previewed up to 10 MiB; download it instead"
                ),
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        tokio::io::AsyncReadExt::read_to_end(&mut { file }, &mut bytes)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(Json(serde_json::json!({
            "extension": extension,
            "type": "IMAGE",
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "truncated": false,
        })));
    }
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(file));
    let mut kept = Vec::new();
    let mut truncated = false;
    while let Some(line) = lines.next_line().await.map_err(|e| ApiError::BadRequest {
        message: format!("{name} cannot be previewed as UTF-8 text: {e}"),
    })? {
        if kept.len() == rows {
            truncated = true;
            break;
        }
        kept.push(line);
    }
    let (kind, content) = match extension.as_str() {
        "ion" => {
            let values: Vec<Value> = kept
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    engine::flow::pebble::convert::ion_fields(l)
                        .map_or_else(|_| Value::String(l.clone()), |(value, _)| value)
                })
                .collect();
            ("LIST", Value::Array(values))
        }
        "md" => ("MARKDOWN", Value::String(kept.join("\n"))),
        _ => ("TEXT", Value::String(kept.join("\n"))),
    };
    Ok(Json(serde_json::json!({
        "extension": extension,
        "type": kind,
        "content": content,
        "truncated": truncated,
    })))
}
