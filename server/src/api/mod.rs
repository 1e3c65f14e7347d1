//! The REST API under `/api/v1`, on Kestra's paths and JSON shapes.

mod executions;
mod flows;
mod health;
mod logs;
mod model;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/flows", post(flows::create))
        .route("/flows/search", get(flows::search))
        .route("/flows/{namespace}/{id}", get(flows::get))
        .route("/executions/search", get(executions::search))
        .route("/executions/{id}", get(executions::get))
        .route("/executions/{id}/file", get(executions::file))
        .route("/logs/{execution_id}", get(logs::list))
        .route("/logs/{execution_id}/follow", get(logs::follow))
}
