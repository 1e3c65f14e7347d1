//! The browser bundle and static files (`target/site`: wasm, JS, CSS and
//! `public/`). A release build embeds them, so the binary runs from any
//! directory; a debug build reads them from disk at request time, so a
//! rebuilt bundle shows without recompiling the server.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use rust_embed::RustEmbed;

use crate::AppState;

#[derive(RustEmbed)]
#[folder = "../target/site/"]
// The folder exists once `scripts/build-site.sh` ran; without it a check or
// clippy run of the server still compiles, and pages come without scripts.
#[allow_missing = true]
struct Site;

/// Whether `path` is a file of the site (served without a user).
pub(crate) fn is_asset(path: &str) -> bool {
    let path = path.trim_start_matches('/');
    !path.is_empty() && Site::get(path).is_some()
}

/// Serves a file of the site, or renders the app's "not found" page.
pub(crate) async fn asset_or_not_found(
    State(state): State<AppState>,
    request: Request,
) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    if let Some(file) = Site::get(path) {
        let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
        let unchanged = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .is_some_and(|value| value.as_bytes() == etag.as_bytes());
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            Response::new(Body::from(file.data.into_owned()))
        };
        let headers = response.headers_mut();
        if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
            headers.insert(header::CONTENT_TYPE, mime);
        }
        // File names carry no hash, so the browser revalidates every time:
        // a cheap 304 while the bundle is unchanged.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, etag);
        }
        return response;
    }
    let store = state.store.clone();
    let options = state.leptos_options.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(store.clone()),
        move || app::shell(options.clone()),
    );
    let mut response = render(request).await.into_response();
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
