//! The REST API under `/api/v1`, on Kestra's paths and JSON shapes.

mod executions;
mod flows;
mod health;
mod logs;
mod model;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/flows", post(flows::create))
        .route("/flows/search", get(flows::search))
        .route("/flows/{namespace}/{id}", get(flows::get).put(flows::update).delete(flows::delete))
        .route("/flows/{namespace}/{id}/revisions", get(flows::revisions))
        .route("/executions/search", get(executions::search))
        // One parameter name per position, as the router requires: here
        // `{id}` is the namespace.
        .route("/executions/{id}/{flow_id}", post(executions::create))
        .route("/executions/{id}", get(executions::get))
        .route("/executions/{id}/kill", delete(executions::kill))
        .route("/executions/{id}/restart", post(executions::restart))
        .route("/executions/{id}/replay", post(executions::replay))
        .route("/executions/{id}/file", get(executions::file))
        .route("/logs/{execution_id}", get(logs::list))
        .route("/logs/{execution_id}/follow", get(logs::follow))
}
