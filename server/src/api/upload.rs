//! A file sent in a multipart form, read whole and bounded by
//! `--max-upload` as it arrives.

use axum::extract::{FromRequest, Request};

use crate::AppState;
use crate::error::ApiError;

/// A file part of a form: its file name, if sent, and its bytes.
pub(crate) struct FilePart {
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
}

/// The part `name` of the multipart form `request`; a 400 naming the part
/// when the form has none, a 413 when it is larger than `--max-upload`.
pub(crate) async fn file_part(
    request: Request,
    state: &AppState,
    name: &str,
) -> Result<FilePart, ApiError> {
    let max = state.max_upload;
    let unreadable = |e: String| ApiError::BadRequest {
        message: format!("the form cannot be read: {e}"),
    };
    let mut form = axum::extract::Multipart::from_request(request, state)
        .await
        .map_err(|e| unreadable(e.body_text()))?;
    let mut found = None;
    while let Some(mut field) = form.next_field().await.map_err(|e| unreadable(e.to_string()))? {
        if field.name() != Some(name) {
            continue;
        }
        let file_name = field.file_name().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| unreadable(e.to_string()))? {
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(ApiError::TooLarge {
                    message: format!("an upload is at most {max} bytes (--max-upload)"),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        found = Some(FilePart { file_name, bytes });
    }
    found.ok_or_else(|| ApiError::BadRequest {
        message: format!("the form has no part `{name}`"),
    })
}
