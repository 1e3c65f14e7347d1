//! The REST API under `/api/v1`, on Kestra's paths and JSON shapes.

mod flows;
mod health;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/flows", post(flows::create))
        .route("/flows/search", get(flows::search))
        .route("/flows/{namespace}/{id}", get(flows::get))
}
