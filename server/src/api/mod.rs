//! The REST API under `/api/v1`, on Kestra's paths and JSON shapes.

mod blueprints;
mod cluster;
mod execution_bulk;
mod executions;
mod files;
mod flow_bulk;
mod flows;
mod health;
mod kv;
mod logs;
mod metrics;
mod model;
mod params;
mod query_filter;
mod upload;
mod secrets;
mod templates;
mod triggers;
mod users;
mod webhook;

use axum::routing::{delete, get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::AppState;

/// The OpenAPI document, collected from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Mortar", description = "A workflow orchestrator for Databricks. Kestra's paths and JSON shapes wherever Kestra has one."),
    paths(
        health::health,
        flows::create, flows::search, flows::get, flows::update, flows::delete, flows::revisions, flows::validate, flows::update_namespace,
        flow_bulk::in_namespace, flow_bulk::distinct_namespaces, flow_bulk::import, flow_bulk::export_by_query, flow_bulk::export_by_ids,
        flow_bulk::delete_by_ids, flow_bulk::delete_by_query, flow_bulk::disable_by_ids, flow_bulk::disable_by_query,
        flow_bulk::enable_by_ids, flow_bulk::enable_by_query,
        plugins, expressions, blueprints::list, blueprints::get,
        executions::create, executions::get, executions::search, executions::kill, executions::resume, executions::restart, executions::repair,
        executions::replay, executions::file, executions::delete, execution_bulk::delete_by_ids, execution_bulk::kill_by_ids,
        execution_bulk::restart_by_ids, execution_bulk::replay_by_ids, execution_bulk::labels_by_ids, execution_bulk::latest, execution_bulk::by_flow, executions::file_metas, executions::file_preview, executions::follow, webhook::webhook,
        logs::list, logs::download, logs::follow, logs::search, logs::delete,
        metrics::for_execution, metrics::flow_names, metrics::task_names, metrics::tasks, metrics::flow_aggregates, metrics::task_aggregates,
        executions::set_labels, executions::flow_outputs, executions::task_outputs, executions::task_run_outputs,
        kv::list, kv::inherited, kv::get, kv::put, kv::delete, kv::delete_keys,
        triggers::search, triggers::for_flow, triggers::set_disabled, triggers::set_disabled_by_triggers,
        files::content, files::export, files::stats, files::list, files::create_directory, files::upload, files::rename, files::delete, files::search, files::revisions,
        users::me, users::change_password, users::tokens, users::create_token, users::revoke_token,
        users::list, users::create, users::update, users::audit,
        secrets::list, secrets::put, secrets::delete,
        cluster::nodes,
        templates::create, templates::get, templates::update, templates::delete, templates::search, templates::namespaces,
    ),
    tags(
        (name = "health"), (name = "flows", description = "Flows and their revisions"),
        (name = "executions", description = "Running flows"), (name = "logs", description = "Execution logs, also live"),
        (name = "metrics", description = "Metrics that tasks published"),
        (name = "kv", description = "The KV store of a namespace"),
        (name = "files", description = "A namespace's files and their revisions"),
        (name = "triggers", description = "Flows' triggers: their next and last dates, turned off and on"),
        (name = "users", description = "Users, API tokens and the audit log"),
        (name = "secrets", description = "A namespace's secrets: names only; values go in, never out"),
        (name = "cluster", description = "The nodes of the deployment"),
        (name = "templates", description = "Kestra's templates: named lists of tasks that flow.Template runs"),
    )
)]
pub(crate) struct ApiDoc;

/// `GET /api/v1/plugins`: every task and trigger type with its documented
/// properties (type, required, default, documentation, example) and outputs,
/// from the same declarations that validate flows.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "flows",
    responses((status = 200, description = "Task and trigger types", body = Object)))]
async fn plugins() -> Json<&'static [engine::flow::registry::TaskType]> {
    Json(engine::flow::task_types())
}

/// `GET /api/v1/plugins/expressions`: what expressions can use, the same
/// declarations that validate and render them: every function, filter and
/// test with its parameters and documentation, and the variables.
#[utoipa::path(get, path = "/api/v1/plugins/expressions", tag = "flows",
    responses((status = 200, description = "Functions, filters, tests and variables of expressions", body = Object)))]
async fn expressions() -> Json<serde_json::Value> {
    use engine::flow::pebble::library::{Kind, declarations};
    let of = |kind: Kind| {
        declarations()
            .filter(|d| d.kind == kind)
            .collect::<Vec<_>>()
    };
    let variables: Vec<serde_json::Value> = engine::flow::expr::VARIABLES
        .iter()
        .map(|(name, doc)| serde_json::json!({"name": name, "doc": doc}))
        .collect();
    Json(serde_json::json!({
        "functions": of(Kind::Function),
        "filters": of(Kind::Filter),
        "tests": of(Kind::Test),
        "variables": variables,
    }))
}

/// Any other path under `/api/v1`: Kestra's JSON error, not the HTML page,
/// naming the tenants (a wrong one is the usual cause).
async fn not_found(
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> crate::error::ApiError {
    crate::error::ApiError::NotFound {
        message: format!(
            "no API operation at {}: the operations are in /api/v1/openapi.json, under /api/v1/… or /api/v1/{{tenant}}/…, and the tenants are: {}",
            uri.path(),
            crate::tenants::TENANTS.join(", ")
        ),
    }
}

/// What every node serves, a node without the web role included.
pub(crate) fn health_router() -> Router<AppState> {
    Router::new().route("/health", get(health::health))
}

pub(crate) fn router() -> Router<AppState> {
    health_router()
        .route(
            "/openapi.json",
            get(|| async { Json(crate::tenants::document(ApiDoc::openapi())) }),
        )
        .route("/flows", post(flows::create))
        .route("/flows/search", get(flows::search))
        .route("/flows/validate", post(flows::validate))
        .route(
            "/flows/{namespace}",
            get(flow_bulk::in_namespace).post(flows::update_namespace),
        )
        .route("/flows/distinct-namespaces", get(flow_bulk::distinct_namespaces))
        .route(
            "/flows/import",
            post(flow_bulk::import).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/flows/export/by-query", get(flow_bulk::export_by_query))
        .route("/flows/export/by-ids", post(flow_bulk::export_by_ids))
        .route("/flows/delete/by-ids", delete(flow_bulk::delete_by_ids))
        .route("/flows/delete/by-query", delete(flow_bulk::delete_by_query))
        .route("/flows/disable/by-ids", post(flow_bulk::disable_by_ids))
        .route("/flows/disable/by-query", post(flow_bulk::disable_by_query))
        .route("/flows/enable/by-ids", post(flow_bulk::enable_by_ids))
        .route("/flows/enable/by-query", post(flow_bulk::enable_by_query))
        .route(
            "/namespaces/{namespace}/kv",
            get(kv::list).delete(kv::delete_keys),
        )
        .route("/namespaces/{namespace}/kv/inheritance", get(kv::inherited))
        .route(
            "/namespaces/{namespace}/kv/{key}",
            get(kv::get).put(kv::put).delete(kv::delete),
        )
        .route(
            "/namespaces/{namespace}/files",
            get(files::content)
                .post(files::upload)
                .put(files::rename)
                .delete(files::delete)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/namespaces/{namespace}/files/stats", get(files::stats))
        .route("/namespaces/{namespace}/files/export", get(files::export))
        .route("/triggers/search", get(triggers::search))
        .route(
            "/triggers/set-disabled",
            axum::routing::put(triggers::set_disabled),
        )
        .route(
            "/triggers/set-disabled/by-triggers",
            post(triggers::set_disabled_by_triggers),
        )
        .route("/triggers/{namespace}/{flow_id}", get(triggers::for_flow))
        .route(
            "/namespaces/{namespace}/files/directory",
            get(files::list).post(files::create_directory),
        )
        .route("/namespaces/{namespace}/files/search", get(files::search))
        .route(
            "/namespaces/{namespace}/files/revisions",
            get(files::revisions),
        )
        .route("/plugins", get(plugins))
        .route("/plugins/expressions", get(expressions))
        .route("/blueprints", get(blueprints::list))
        .route("/blueprints/{id}", get(blueprints::get))
        .route(
            "/flows/{namespace}/{id}",
            get(flows::get).put(flows::update).delete(flows::delete),
        )
        .route("/flows/{namespace}/{id}/revisions", get(flows::revisions))
        .route("/executions/search", get(executions::search))
        // One parameter name per position, as the router requires: here
        // `{id}` is the namespace.
        // Uploads are bounded by `--max-upload` as they stream, not by
        // axum's 2 MiB default.
        .route(
            "/executions/{id}/{flow_id}",
            post(executions::create).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/executions/{id}",
            get(executions::get).delete(executions::delete),
        )
        // Kestra's bulk actions; their literal segments win over `{id}`.
        .route("/executions/by-ids", delete(execution_bulk::delete_by_ids))
        .route("/executions/kill/by-ids", delete(execution_bulk::kill_by_ids))
        .route(
            "/executions/restart/by-ids",
            post(execution_bulk::restart_by_ids),
        )
        .route("/executions/replay/by-ids", post(execution_bulk::replay_by_ids))
        .route("/executions/labels/by-ids", post(execution_bulk::labels_by_ids))
        .route("/executions/latest", post(execution_bulk::latest))
        .route("/executions", get(execution_bulk::by_flow))
        .route("/executions/{id}/kill", delete(executions::kill))
        .route("/executions/{id}/resume", post(executions::resume))
        .route("/executions/{id}/restart", post(executions::restart))
        .route("/executions/{id}/repair", post(executions::repair))
        .route("/executions/{id}/replay", post(executions::replay))
        .route("/executions/{id}/file", get(executions::file))
        .route("/executions/{id}/file/metas", get(executions::file_metas))
        .route("/executions/{id}/follow", get(executions::follow))
        .route(
            "/executions/{id}/file/preview",
            get(executions::file_preview),
        )
        .route("/executions/{id}/labels", post(executions::set_labels))
        .route(
            "/executions/webhook/{namespace}/{flow_id}/{key}",
            get(webhook::webhook)
                .post(webhook::webhook)
                .put(webhook::webhook),
        )
        .route("/outputs/executions/{id}", get(executions::flow_outputs))
        .route("/outputs/tasks/{id}", get(executions::task_outputs))
        .route(
            "/outputs/tasks/{id}/{task_run_id}",
            get(executions::task_run_outputs),
        )
        .route("/logs/search", get(logs::search))
        .route("/logs/{execution_id}", get(logs::list).delete(logs::delete))
        .route("/logs/{execution_id}/download", get(logs::download))
        .route("/logs/{execution_id}/follow", get(logs::follow))
        .route("/metrics/{execution_id}", get(metrics::for_execution))
        .route(
            "/metrics/names/{namespace}/{flow_id}",
            get(metrics::flow_names),
        )
        .route(
            "/metrics/names/{namespace}/{flow_id}/{task_id}",
            get(metrics::task_names),
        )
        .route("/metrics/tasks/{namespace}/{flow_id}", get(metrics::tasks))
        .route(
            "/metrics/aggregates/{namespace}/{flow_id}/{metric}",
            get(metrics::flow_aggregates),
        )
        .route(
            "/metrics/aggregates/{namespace}/{flow_id}/{task_id}/{metric}",
            get(metrics::task_aggregates),
        )
        .route("/me", get(users::me))
        .route("/me/password", axum::routing::put(users::change_password))
        .route("/me/tokens", get(users::tokens).post(users::create_token))
        .route("/me/tokens/{id}", delete(users::revoke_token))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{name}", axum::routing::put(users::update))
        .route("/audit", get(users::audit))
        .route("/cluster/nodes", get(cluster::nodes))
        .route("/templates", post(templates::create))
        .route("/templates/search", get(templates::search))
        .route("/templates/distinct-namespaces", get(templates::namespaces))
        .route(
            "/templates/{namespace}/{id}",
            get(templates::get)
                .put(templates::update)
                .delete(templates::delete),
        )
        .route("/namespaces/{namespace}/secrets", get(secrets::list))
        .route(
            "/namespaces/{namespace}/secrets/{key}",
            axum::routing::put(secrets::put).delete(secrets::delete),
        )
        .fallback(not_found)
}
