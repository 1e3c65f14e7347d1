//! `/api/v1/blueprints`: the ready-made flows shipped in the binary, a
//! catalogue to start from (they are not stored as flows).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Path;
use serde::Serialize;

use crate::error::ApiError;

/// One blueprint: what the catalogue shows, and its YAML.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlueprintJson {
    id: String,
    namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// The flow's labels, shown as tags.
    labels: BTreeMap<String, String>,
    /// The task types it uses (their short names), for a catalogue filter.
    task_types: Vec<String>,
    source: String,
}

fn json(blueprint: &engine::blueprints::Blueprint) -> BlueprintJson {
    let mut task_types: Vec<String> = engine::flow::parse(blueprint.source)
        .flow
        .map(|flow| {
            let mut all = Vec::new();
            let mut stack: Vec<&engine::flow::model::Task> = flow
                .tasks
                .iter()
                .chain(&flow.errors)
                .chain(&flow.finally)
                .chain(&flow.after_execution)
                .collect();
            while let Some(task) = stack.pop() {
                all.push(task.short_type().to_owned());
                stack.extend(task.children());
            }
            all
        })
        .unwrap_or_default();
    task_types.sort();
    task_types.dedup();
    BlueprintJson {
        id: blueprint.header.id.to_string(),
        namespace: blueprint.header.namespace.to_string(),
        description: blueprint.header.description.clone(),
        labels: blueprint.header.labels.clone(),
        task_types,
        source: blueprint.source.to_owned(),
    }
}

/// `GET /api/v1/blueprints`: every blueprint, in catalogue order.
#[utoipa::path(get, path = "/api/v1/blueprints", tag = "flows",
    responses((status = 200, description = "The blueprints with their sources", body = Vec<BlueprintJson>)))]
pub(crate) async fn list() -> Json<Vec<BlueprintJson>> {
    Json(engine::blueprints::all().iter().map(json).collect())
}

/// `GET /api/v1/blueprints/{id}`: one blueprint.
#[utoipa::path(get, path = "/api/v1/blueprints/{id}", tag = "flows", params(("id" = String, Path)),
    responses((status = 200, body = BlueprintJson), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn get(Path(id): Path<String>) -> Result<Json<BlueprintJson>, ApiError> {
    engine::blueprints::all()
        .iter()
        .find(|b| b.header.id.as_str() == id)
        .map(|b| Json(json(b)))
        .ok_or_else(|| ApiError::NotFound {
            message: format!("there is no blueprint {id}: GET /api/v1/blueprints lists them"),
        })
}
