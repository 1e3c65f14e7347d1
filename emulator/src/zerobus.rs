//! Zerobus Ingest's REST API: `POST /zerobus/v1/tables/{catalog.schema.table}/insert`
//! with a JSON array of records, each inserted as a row of the Unity
//! Catalog table (its columns by the records' keys), as one statement; the
//! table must exist. The emulator serves it on its own address, which a
//! task reaches with `endpoint`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};

pub(crate) fn routes() -> Router<Shared> {
    Router::new().route("/zerobus/v1/tables/{table}/insert", post(insert))
}

/// A value as a SQL literal of the emulator's engine.
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

async fn insert(State(state): State<Shared>, Path(table): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let full = crate::lenient::decode(&table);
    let parts: Vec<&str> = full.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(ApiError::invalid(format!("Invalid table name '{full}': catalog.schema.table")));
    }
    if !state.unity.read().expect("catalog lock").has_table(&full) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "TABLE_DOES_NOT_EXIST",
            format!("Table '{full}' does not exist. Create it (CREATE TABLE) before ingesting into it."),
        ));
    }
    let records: Vec<Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::malformed(format!("The body is not a JSON array of records: {e}")))?;
    let mut columns: Vec<String> = Vec::new();
    for record in &records {
        let Some(object) = record.as_object() else {
            return Err(ApiError::invalid("Every record is a JSON object"));
        };
        for key in object.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    if records.is_empty() {
        return Ok(Json(json!({})));
    }
    let rows: Vec<String> = records
        .iter()
        .map(|r| format!("({})", columns.iter().map(|c| literal(&r[c])).collect::<Vec<_>>().join(", ")))
        .collect();
    let sql = format!(
        "INSERT INTO {full} ({}) VALUES {}",
        columns.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", "),
        rows.join(", ")
    );
    crate::unity::run_sql(&state, &sql, &[])
        .await
        .map_err(|e| ApiError::invalid(format!("The records do not fit {full}: {}", e.message)))?;
    Ok(Json(json!({})))
}
