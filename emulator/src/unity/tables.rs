//! Unity Catalog tables: listed, read and dropped through the API; made
//! by statements (statements.rs).

use super::*;

pub(super) fn no_table(full: &str) -> ApiError {
    code(StatusCode::NOT_FOUND, "TABLE_DOES_NOT_EXIST", format!("Table '{full}' does not exist."))
}

/// A table's columns as (name, type name), read from the SQL engine
/// (`name` is the table's own name, the engine's).
pub(crate) async fn columns_of(state: &Shared, name: &str) -> Vec<(String, &'static str)> {
    match state.sql.run(&state.fs, &format!("DESCRIBE `{name}`"), &[]).await {
        Ok(rows) => rows
            .rows
            .iter()
            .map(|r| {
                let ty = r.get(1).cloned().flatten().unwrap_or_else(|| "string".into());
                let type_name = match ty.as_str() {
                    t if t.contains("int") => "LONG",
                    t if t.contains("real") || t.contains("double") || t.contains("float") => "DOUBLE",
                    t if t.contains("bool") => "BOOLEAN",
                    t if t.contains("date") || t.contains("time") => "TIMESTAMP",
                    _ => "STRING",
                };
                (r.first().cloned().flatten().unwrap_or_default(), type_name)
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A table's JSON with its columns.
pub(super) async fn table_json(state: &Shared, e: &Entry) -> Value {
    let mut m = e.fields.clone();
    let name = m["name"].as_str().unwrap_or_default().to_owned();
    let columns: Vec<Value> = columns_of(state, &name)
        .await
        .into_iter()
        .enumerate()
        .map(|(i, (name, type_name))| {
            json!({
                "name": name,
                "type_name": type_name,
                "type_text": type_name.to_lowercase().replace("long", "bigint"),
                "position": i,
                "nullable": true,
            })
        })
        .collect();
    m.insert("columns".into(), json!(columns));
    Value::Object(m)
}

/// The catalogs, the schemas (`catalog.schema`) and the tables
/// (`catalog.schema.table`, table type) there are, sorted: what metadata
/// queries list (the SQL gateway's GetCatalogs, GetSchemas, GetTables).
pub(crate) fn names(state: &Shared) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
    let cat = state.unity.read().expect("catalog lock");
    let tables = cat
        .tables
        .iter()
        .map(|(full, e)| {
            let kind = e.fields.get("table_type").and_then(Value::as_str).unwrap_or("MANAGED");
            (full.clone(), kind.to_owned())
        })
        .collect();
    (cat.catalogs.keys().cloned().collect(), cat.schemas.keys().cloned().collect(), tables)
}

pub(super) async fn list_tables(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let catalog = q.req_str("catalog_name")?;
    let schema = q.req_str("schema_name")?;
    let full = format!("{catalog}.{schema}");
    let entries: Vec<Entry> = {
        let cat = state.unity.read().expect("catalog lock");
        if !cat.catalogs.contains_key(&catalog) {
            return Err(no_catalog(&catalog));
        }
        if !cat.schemas.contains_key(&full) {
            return Err(no_schema(&full));
        }
        cat.tables.iter().filter(|(k, _)| k.starts_with(&format!("{full}."))).map(|(_, e)| e.clone()).collect()
    };
    let omit = q.bool("omit_columns")?.unwrap_or(false);
    let mut items = Vec::with_capacity(entries.len());
    for e in &entries {
        items.push(if omit { Value::Object(e.fields.clone()) } else { table_json(&state, e).await });
    }
    paged("tables", items, &q)
}

pub(super) async fn get_table(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    let entry = state.unity.read().expect("catalog lock").tables.get(&full).cloned().ok_or_else(|| no_table(&full))?;
    Ok(Json(table_json(&state, &entry).await))
}

pub(super) async fn table_exists(State(state): State<Shared>, Path(full): Path<String>) -> Json<Value> {
    Json(json!({"table_exists": state.unity.read().expect("catalog lock").tables.contains_key(&full)}))
}

pub(super) async fn delete_table(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    if !state.unity.read().expect("catalog lock").tables.contains_key(&full) {
        return Err(no_table(&full));
    }
    drop_tables(&state, std::slice::from_ref(&full)).await;
    state.unity.write().expect("catalog lock").tables.remove(&full);
    Ok(Json(json!({})))
}

pub(super) async fn drop_tables(state: &Shared, tables: &[String]) {
    for full in tables {
        let name = full.rsplit('.').next().unwrap_or_default();
        if let Err(e) = state.sql.run(&state.fs, &format!("DROP TABLE IF EXISTS `{name}`"), &[]).await {
            tracing::warn!(table = %full, error = %e, "dropping a deleted table");
        }
    }
}

