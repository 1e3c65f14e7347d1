//! Unity Catalog: catalogs, schemas, tables, volumes and grants under
//! `/api/2.1/unity-catalog/…`, as the service and the SDK's `catalogs`,
//! `schemas`, `tables`, `volumes` and `grants` speak them.
//!
//! The catalog is real enough to be relied on: a volume is a directory the
//! Files API serves only once the volume exists (and deleting it removes its
//! files); a statement's `CREATE TABLE` needs its schema to exist and shows
//! up in `tables/list`, an `INSERT`, `UPDATE`, `DELETE` or `MERGE` moves the
//! table's `updated_at`, a `DROP TABLE` removes it; `CREATE SCHEMA`,
//! `CREATE CATALOG` and `CREATE VOLUME` statements create them too. The SQL
//! engine keeps every table under its own name (see sql.rs), so two tables
//! of one name in two schemas are one table there: creating the second is
//! refused, naming the first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{LazyLock, RwLock};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Obj, Query};
use crate::sql::{Param, Rows, SqlError};

const BASE: &str = "/api/2.1/unity-catalog";
/// The metastore every object belongs to.
const METASTORE: &str = "11111111-2222-3333-4444-555555555555";
/// A page of a list when `max_results` is not given.
const PAGE: usize = 1000;

/// One securable: its fields as the service answers them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entry {
    fields: Map<String, Value>,
}

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    catalogs: BTreeMap<String, Entry>,
    /// By full name `catalog.schema`.
    schemas: BTreeMap<String, Entry>,
    /// By full name `catalog.schema.volume`.
    volumes: BTreeMap<String, Entry>,
    /// By full name `catalog.schema.table`.
    tables: BTreeMap<String, Entry>,
    /// (securable type, full name) → principal → privileges.
    grants: BTreeMap<(String, String), BTreeMap<String, BTreeSet<String>>>,
}

pub(crate) type Unity = RwLock<Catalog>;

impl Catalog {
    /// Whether the volume `catalog.schema.volume` exists.
    pub(crate) fn has_volume(&self, full: &str) -> bool {
        self.volumes.contains_key(full)
    }

    /// Whether the table `catalog.schema.table` exists.
    pub(crate) fn has_table(&self, full: &str) -> bool {
        self.tables.contains_key(full)
    }
}

pub(crate) fn new() -> Unity {
    RwLock::new(Catalog::default())
}

/// Tells the SQL engine the catalogs and the schemas of `main`, whose
/// qualified names statements use.
fn sync_names(state: &Shared) {
    let (catalogs, schemas) = {
        let cat = state.unity.read().expect("catalog lock");
        (
            cat.catalogs.keys().cloned().collect::<Vec<_>>(),
            cat.schemas.keys().filter_map(|k| k.strip_prefix("main.")).map(str::to_owned).collect::<Vec<_>>(),
        )
    };
    state.sql.set_names(&catalogs, &schemas);
}

fn now(state: &Shared) -> i64 {
    state.clock.now_ms()
}

fn code(status: StatusCode, code: &str, message: String) -> ApiError {
    ApiError::new(status, code, message)
}

fn no_catalog(name: &str) -> ApiError {
    code(StatusCode::NOT_FOUND, "CATALOG_DOES_NOT_EXIST", format!("Catalog '{name}' does not exist."))
}

fn no_schema(full: &str) -> ApiError {
    code(StatusCode::NOT_FOUND, "SCHEMA_DOES_NOT_EXIST", format!("Schema '{full}' does not exist."))
}

fn exists(kind: &str, full: &str) -> ApiError {
    code(
        StatusCode::CONFLICT,
        &format!("{}_ALREADY_EXISTS", kind.to_uppercase()),
        format!("{kind} '{full}' already exists"),
    )
}

/// A name part: letters, digits, `_` and `-` (the service also refuses
/// dots, slashes and spaces in names).
fn check_name(what: &str, name: &str) -> ApiResult<()> {
    if name.is_empty() || name.len() > 255 || name.contains(['.', '/', ' ', '\0']) {
        return Err(ApiError::invalid(format!(
            "Invalid {what} name '{name}': a name is 1 to 255 characters without '.', '/' or spaces"
        )));
    }
    Ok(())
}

fn base_fields(state: &Shared, p: &Principal, name: &str, full: &str, body: &Obj) -> Map<String, Value> {
    let at = now(state);
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("full_name".into(), json!(full));
    m.insert("owner".into(), json!(p.0));
    m.insert("metastore_id".into(), json!(METASTORE));
    m.insert("created_at".into(), json!(at));
    m.insert("created_by".into(), json!(p.0));
    m.insert("updated_at".into(), json!(at));
    m.insert("updated_by".into(), json!(p.0));
    for k in ["comment", "storage_root"] {
        if let Some(v) = body.str(k) {
            m.insert(k.into(), json!(v));
        }
    }
    if let Some(props) = body.obj("properties") {
        m.insert("properties".into(), Value::Object(props.0));
    }
    m
}

/// Applies an update's `comment`, `owner`, `properties` and `new_name`.
fn update_fields(state: &Shared, p: &Principal, entry: &mut Entry, body: &Obj) {
    for k in ["comment", "owner", "storage_root"] {
        if let Some(v) = body.str(k) {
            entry.fields.insert(k.into(), json!(v));
        }
    }
    if let Some(props) = body.obj("properties") {
        entry.fields.insert("properties".into(), Value::Object(props.0));
    }
    entry.fields.insert("updated_at".into(), json!(now(state)));
    entry.fields.insert("updated_by".into(), json!(p.0));
}

/// A page of `items` after `page_token` (an offset), at most `max_results`.
fn paged(key: &str, items: Vec<Value>, q: &Obj) -> ApiResult<Json<Value>> {
    let size = match q.i64("max_results")? {
        None | Some(0) => PAGE,
        Some(n) if n < 0 => return Err(ApiError::invalid("max_results must be >= 0")),
        Some(n) => n as usize,
    };
    let start = q
        .str("page_token")
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<usize>().map_err(|_| ApiError::invalid(format!("Invalid page_token '{t}'"))))
        .transpose()?
        .unwrap_or(0);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let mut out = json!({ key: page });
    if start + size < total {
        out["next_page_token"] = json!((start + size).to_string());
    }
    Ok(Json(out))
}

pub(crate) fn routes(state: &Shared) -> Router<Shared> {
    Router::new()
        .route(&format!("{BASE}/catalogs"), get(list_catalogs).post(create_catalog))
        .route(
            &format!("{BASE}/catalogs/{{name}}"),
            get(get_catalog).patch(update_catalog).delete(delete_catalog),
        )
        .route(&format!("{BASE}/schemas"), get(list_schemas).post(create_schema))
        .route(
            &format!("{BASE}/schemas/{{full}}"),
            get(get_schema).patch(update_schema).delete(delete_schema),
        )
        .route(&format!("{BASE}/tables"), get(list_tables))
        .route(&format!("{BASE}/tables/{{full}}"), get(get_table).delete(delete_table))
        .route(&format!("{BASE}/tables/{{full}}/exists"), get(table_exists))
        .route(&format!("{BASE}/volumes"), get(list_volumes).post(create_volume))
        .route(
            &format!("{BASE}/volumes/{{full}}"),
            get(get_volume).patch(update_volume).delete(delete_volume),
        )
        .route(
            &format!("{BASE}/permissions/{{kind}}/{{full}}"),
            get(get_grants).patch(update_grants),
        )
        // After a change, the SQL engine learns the catalogs and schemas.
        .layer(axum::middleware::from_fn_with_state(state.clone(), after_change))
}

async fn after_change(
    State(state): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let changes = req.method() != axum::http::Method::GET;
    let response = next.run(req).await;
    if changes {
        sync_names(&state);
    }
    response
}

// ---- catalogs ----

fn catalog_json(e: &Entry) -> Value {
    let mut m = e.fields.clone();
    m.entry("catalog_type").or_insert(json!("MANAGED_CATALOG"));
    m.entry("isolation_mode").or_insert(json!("OPEN"));
    Value::Object(m)
}

async fn create_catalog(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let name = body.req_str("name")?;
    check_name("catalog", &name)?;
    let entry = Entry { fields: base_fields(&state, &p, &name, &name, &body) };
    let mut cat = state.unity.write().expect("catalog lock");
    if cat.catalogs.contains_key(&name) {
        return Err(exists("Catalog", &name));
    }
    // Every catalog starts with `default` and `information_schema`.
    for schema in ["default", "information_schema"] {
        let full = format!("{name}.{schema}");
        let mut fields = base_fields(&state, &p, schema, &full, &Obj::default());
        fields.insert("catalog_name".into(), json!(name));
        cat.schemas.insert(full, Entry { fields });
    }
    let out = catalog_json(&entry);
    cat.catalogs.insert(name, entry);
    Ok(Json(out))
}

async fn list_catalogs(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state.unity.read().expect("catalog lock").catalogs.values().map(catalog_json).collect();
    paged("catalogs", items, &q)
}

async fn get_catalog(State(state): State<Shared>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let cat = state.unity.read().expect("catalog lock");
    cat.catalogs.get(&name).map(|e| Json(catalog_json(e))).ok_or_else(|| no_catalog(&name))
}

async fn update_catalog(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut cat = state.unity.write().expect("catalog lock");
    let mut entry = cat.catalogs.get(&name).cloned().ok_or_else(|| no_catalog(&name))?;
    update_fields(&state, &p, &mut entry, &body);
    if let Some(new) = body.str("new_name").filter(|n| *n != name) {
        check_name("catalog", &new)?;
        if cat.catalogs.contains_key(&new) {
            return Err(exists("Catalog", &new));
        }
        if !cat.schemas.keys().all(|s| !s.starts_with(&format!("{name}.")) || s.ends_with(".default") || s.ends_with(".information_schema")) {
            return Err(ApiError::invalid_state(format!("Catalog '{name}' has schemas: rename it once they are moved")));
        }
        cat.catalogs.remove(&name);
        cat.schemas.retain(|s, _| !s.starts_with(&format!("{name}.")));
        for schema in ["default", "information_schema"] {
            let full = format!("{new}.{schema}");
            let mut fields = base_fields(&state, &p, schema, &full, &Obj::default());
            fields.insert("catalog_name".into(), json!(new));
            cat.schemas.insert(full, Entry { fields });
        }
        entry.fields.insert("name".into(), json!(new));
        entry.fields.insert("full_name".into(), json!(new));
        let out = catalog_json(&entry);
        cat.catalogs.insert(new, entry);
        return Ok(Json(out));
    }
    let out = catalog_json(&entry);
    cat.catalogs.insert(name, entry);
    Ok(Json(out))
}

async fn delete_catalog(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    let force = q.bool("force")?.unwrap_or(false);
    let prefix = format!("{name}.");
    let (volumes, tables) = {
        let cat = state.unity.read().expect("catalog lock");
        if !cat.catalogs.contains_key(&name) {
            return Err(no_catalog(&name));
        }
        let user_schemas: Vec<&String> = cat
            .schemas
            .keys()
            .filter(|s| s.starts_with(&prefix) && !s.ends_with(".information_schema") && !s.ends_with(".default"))
            .collect();
        let has_objects = cat.tables.keys().chain(cat.volumes.keys()).any(|k| k.starts_with(&prefix));
        if !force && (!user_schemas.is_empty() || has_objects) {
            return Err(code(
                StatusCode::BAD_REQUEST,
                "CATALOG_NOT_EMPTY",
                format!("Cannot delete catalog '{name}': it is not empty (use force=true to delete it with its schemas, tables and volumes)."),
            ));
        }
        let volumes: Vec<String> = cat.volumes.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
        let tables: Vec<String> = cat.tables.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
        (volumes, tables)
    };
    drop_tables(&state, &tables).await;
    remove_volume_files(&state, &volumes);
    let mut cat = state.unity.write().expect("catalog lock");
    cat.catalogs.remove(&name);
    cat.schemas.retain(|k, _| !k.starts_with(&prefix));
    cat.volumes.retain(|k, _| !k.starts_with(&prefix));
    cat.tables.retain(|k, _| !k.starts_with(&prefix));
    cat.grants.retain(|(_, k), _| k != &name && !k.starts_with(&prefix));
    Ok(Json(json!({})))
}

// ---- schemas ----

async fn create_schema(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let name = body.req_str("name")?;
    let catalog = body.req_str("catalog_name")?;
    check_name("schema", &name)?;
    let full = format!("{catalog}.{name}");
    let mut cat = state.unity.write().expect("catalog lock");
    if !cat.catalogs.contains_key(&catalog) {
        return Err(no_catalog(&catalog));
    }
    if cat.schemas.contains_key(&full) {
        return Err(exists("Schema", &full));
    }
    let mut fields = base_fields(&state, &p, &name, &full, &body);
    fields.insert("catalog_name".into(), json!(catalog));
    let entry = Entry { fields };
    let out = Value::Object(entry.fields.clone());
    cat.schemas.insert(full, entry);
    Ok(Json(out))
}

async fn list_schemas(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let catalog = q.req_str("catalog_name")?;
    let cat = state.unity.read().expect("catalog lock");
    if !cat.catalogs.contains_key(&catalog) {
        return Err(no_catalog(&catalog));
    }
    let items: Vec<Value> = cat
        .schemas
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{catalog}.")))
        .map(|(_, e)| Value::Object(e.fields.clone()))
        .collect();
    drop(cat);
    paged("schemas", items, &q)
}

async fn get_schema(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    let cat = state.unity.read().expect("catalog lock");
    cat.schemas.get(&full).map(|e| Json(Value::Object(e.fields.clone()))).ok_or_else(|| no_schema(&full))
}

async fn update_schema(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(full): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut cat = state.unity.write().expect("catalog lock");
    let mut entry = cat.schemas.get(&full).cloned().ok_or_else(|| no_schema(&full))?;
    update_fields(&state, &p, &mut entry, &body);
    if let Some(new) = body.str("new_name").filter(|n| !full.ends_with(&format!(".{n}"))) {
        check_name("schema", &new)?;
        let catalog = full.split('.').next().unwrap_or_default().to_owned();
        let new_full = format!("{catalog}.{new}");
        if cat.schemas.contains_key(&new_full) {
            return Err(exists("Schema", &new_full));
        }
        if cat.tables.keys().chain(cat.volumes.keys()).any(|k| k.starts_with(&format!("{full}."))) {
            return Err(ApiError::invalid_state(format!("Schema '{full}' has tables or volumes: rename it once they are moved")));
        }
        cat.schemas.remove(&full);
        entry.fields.insert("name".into(), json!(new));
        entry.fields.insert("full_name".into(), json!(new_full));
        let out = Value::Object(entry.fields.clone());
        cat.schemas.insert(new_full, entry);
        return Ok(Json(out));
    }
    let out = Value::Object(entry.fields.clone());
    cat.schemas.insert(full, entry);
    Ok(Json(out))
}

async fn delete_schema(
    State(state): State<Shared>,
    Path(full): Path<String>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    let force = q.bool("force")?.unwrap_or(false);
    let prefix = format!("{full}.");
    let (volumes, tables) = {
        let cat = state.unity.read().expect("catalog lock");
        if !cat.schemas.contains_key(&full) {
            return Err(no_schema(&full));
        }
        let volumes: Vec<String> = cat.volumes.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
        let tables: Vec<String> = cat.tables.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
        if !force && !(volumes.is_empty() && tables.is_empty()) {
            return Err(code(
                StatusCode::BAD_REQUEST,
                "SCHEMA_NOT_EMPTY",
                format!("Cannot delete schema '{full}': it has {} table(s) and {} volume(s) (use force=true).", tables.len(), volumes.len()),
            ));
        }
        (volumes, tables)
    };
    drop_tables(&state, &tables).await;
    remove_volume_files(&state, &volumes);
    let mut cat = state.unity.write().expect("catalog lock");
    cat.schemas.remove(&full);
    cat.volumes.retain(|k, _| !k.starts_with(&prefix));
    cat.tables.retain(|k, _| !k.starts_with(&prefix));
    Ok(Json(json!({})))
}

// ---- tables ----

fn no_table(full: &str) -> ApiError {
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
async fn table_json(state: &Shared, e: &Entry) -> Value {
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

async fn list_tables(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
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

async fn get_table(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    let entry = state.unity.read().expect("catalog lock").tables.get(&full).cloned().ok_or_else(|| no_table(&full))?;
    Ok(Json(table_json(&state, &entry).await))
}

async fn table_exists(State(state): State<Shared>, Path(full): Path<String>) -> Json<Value> {
    Json(json!({"table_exists": state.unity.read().expect("catalog lock").tables.contains_key(&full)}))
}

async fn delete_table(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    if !state.unity.read().expect("catalog lock").tables.contains_key(&full) {
        return Err(no_table(&full));
    }
    drop_tables(&state, std::slice::from_ref(&full)).await;
    state.unity.write().expect("catalog lock").tables.remove(&full);
    Ok(Json(json!({})))
}

async fn drop_tables(state: &Shared, tables: &[String]) {
    for full in tables {
        let name = full.rsplit('.').next().unwrap_or_default();
        if let Err(e) = state.sql.run(&state.fs, &format!("DROP TABLE IF EXISTS `{name}`"), &[]).await {
            tracing::warn!(table = %full, error = %e, "dropping a deleted table");
        }
    }
}

// ---- volumes ----

fn no_volume(full: &str) -> ApiError {
    code(StatusCode::NOT_FOUND, "VOLUME_DOES_NOT_EXIST", format!("Volume '{full}' does not exist."))
}

fn volume_dir(full: &str) -> String {
    format!("/Volumes/{}", full.replace('.', "/"))
}

async fn create_volume(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let catalog = body.req_str("catalog_name")?;
    let schema = body.req_str("schema_name")?;
    let name = body.req_str("name")?;
    check_name("volume", &name)?;
    let kind = body.str("volume_type").unwrap_or_else(|| "MANAGED".into()).to_uppercase();
    if !["MANAGED", "EXTERNAL"].contains(&kind.as_str()) {
        return Err(ApiError::invalid(format!("Invalid volume_type '{kind}': MANAGED or EXTERNAL")));
    }
    if kind == "EXTERNAL" && body.str("storage_location").is_none() {
        return Err(ApiError::invalid("An EXTERNAL volume needs a storage_location"));
    }
    let full = format!("{catalog}.{schema}.{name}");
    let out = {
        let mut cat = state.unity.write().expect("catalog lock");
        if !cat.catalogs.contains_key(&catalog) {
            return Err(no_catalog(&catalog));
        }
        if !cat.schemas.contains_key(&format!("{catalog}.{schema}")) {
            return Err(no_schema(&format!("{catalog}.{schema}")));
        }
        if cat.volumes.contains_key(&full) {
            return Err(exists("Volume", &full));
        }
        let mut fields = base_fields(&state, &p, &name, &full, &body);
        fields.insert("catalog_name".into(), json!(catalog));
        fields.insert("schema_name".into(), json!(schema));
        fields.insert("volume_type".into(), json!(kind));
        fields.insert("volume_id".into(), json!(uuid::Uuid::new_v4().to_string()));
        let location = body
            .str("storage_location")
            .unwrap_or_else(|| format!("s3://emulator-metastore/{}/volumes/{}", METASTORE, uuid::Uuid::new_v4()));
        fields.insert("storage_location".into(), json!(location));
        let entry = Entry { fields };
        let out = Value::Object(entry.fields.clone());
        cat.volumes.insert(full.clone(), entry);
        out
    };
    state.fs.mkdirs(&volume_dir(&full)).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(Json(out))
}

async fn list_volumes(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let catalog = q.req_str("catalog_name")?;
    let schema = q.req_str("schema_name")?;
    let full = format!("{catalog}.{schema}");
    let cat = state.unity.read().expect("catalog lock");
    if !cat.schemas.contains_key(&full) {
        return Err(no_schema(&full));
    }
    let items: Vec<Value> = cat
        .volumes
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{full}.")))
        .map(|(_, e)| Value::Object(e.fields.clone()))
        .collect();
    drop(cat);
    paged("volumes", items, &q)
}

async fn get_volume(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    let cat = state.unity.read().expect("catalog lock");
    cat.volumes.get(&full).map(|e| Json(Value::Object(e.fields.clone()))).ok_or_else(|| no_volume(&full))
}

async fn update_volume(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(full): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let (out, renamed) = {
        let mut cat = state.unity.write().expect("catalog lock");
        let mut entry = cat.volumes.get(&full).cloned().ok_or_else(|| no_volume(&full))?;
        update_fields(&state, &p, &mut entry, &body);
        match body.str("new_name").filter(|n| !full.ends_with(&format!(".{n}"))) {
            Some(new) => {
                check_name("volume", &new)?;
                let parent = full.rsplit_once('.').map(|(p, _)| p).unwrap_or_default();
                let new_full = format!("{parent}.{new}");
                if cat.volumes.contains_key(&new_full) {
                    return Err(exists("Volume", &new_full));
                }
                cat.volumes.remove(&full);
                entry.fields.insert("name".into(), json!(new));
                entry.fields.insert("full_name".into(), json!(new_full));
                let out = Value::Object(entry.fields.clone());
                cat.volumes.insert(new_full.clone(), entry);
                (out, Some(new_full))
            }
            None => {
                let out = Value::Object(entry.fields.clone());
                cat.volumes.insert(full.clone(), entry);
                (out, None)
            }
        }
    };
    if let Some(new_full) = renamed {
        state
            .fs
            .rename(&volume_dir(&full), &volume_dir(&new_full))
            .map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    Ok(Json(out))
}

async fn delete_volume(State(state): State<Shared>, Path(full): Path<String>) -> ApiResult<Json<Value>> {
    if state.unity.write().expect("catalog lock").volumes.remove(&full).is_none() {
        return Err(no_volume(&full));
    }
    remove_volume_files(&state, std::slice::from_ref(&full));
    Ok(Json(json!({})))
}

fn remove_volume_files(state: &Shared, volumes: &[String]) {
    for full in volumes {
        let dir = volume_dir(full);
        if state.fs.stat(&dir).is_some()
            && let Err(e) = state.fs.delete(&dir, true)
        {
            tracing::warn!(volume = %full, error = %e, "removing a deleted volume's files");
        }
    }
}

// ---- grants ----

const SECURABLES: &[&str] = &[
    "catalog", "schema", "table", "volume", "function", "metastore", "external_location",
    "storage_credential", "connection", "share", "provider", "recipient",
];

/// The securable type (any case, as the SDK sends it) and that the object exists.
fn securable(cat: &Catalog, kind: &str, full: &str) -> ApiResult<String> {
    let kind = kind.to_lowercase();
    if !SECURABLES.contains(&kind.as_str()) {
        return Err(ApiError::invalid(format!("Invalid securable type '{kind}': one of {}", SECURABLES.join(", "))));
    }
    let found = match kind.as_str() {
        "catalog" => cat.catalogs.contains_key(full),
        "schema" => cat.schemas.contains_key(full),
        "table" => cat.tables.contains_key(full),
        "volume" => cat.volumes.contains_key(full),
        _ => true,
    };
    if !found {
        return Err(code(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{kind} '{full}' does not exist.")));
    }
    Ok(kind)
}

fn assignments(grants: Option<&BTreeMap<String, BTreeSet<String>>>, principal: Option<&str>) -> Value {
    let list: Vec<Value> = grants
        .into_iter()
        .flatten()
        .filter(|(p, privileges)| !privileges.is_empty() && principal.is_none_or(|want| want == p.as_str()))
        .map(|(p, privileges)| json!({"principal": p, "privileges": privileges}))
        .collect();
    json!({ "privilege_assignments": list })
}

async fn get_grants(
    State(state): State<Shared>,
    Path((kind, full)): Path<(String, String)>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    let cat = state.unity.read().expect("catalog lock");
    let kind = securable(&cat, &kind, &full)?;
    Ok(Json(assignments(cat.grants.get(&(kind, full)), q.str("principal").as_deref())))
}

async fn update_grants(
    State(state): State<Shared>,
    Path((kind, full)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut cat = state.unity.write().expect("catalog lock");
    let kind = securable(&cat, &kind, &full)?;
    let changes = body.arr("changes");
    let grants = cat.grants.entry((kind, full)).or_default();
    for change in changes {
        let change = Obj(change.as_object().cloned().unwrap_or_default());
        let principal = change.req_str("principal")?;
        let privileges = grants.entry(principal).or_default();
        for p in change.arr("add") {
            if let Some(p) = p.as_str() {
                privileges.insert(p.to_uppercase().replace(' ', "_"));
            }
        }
        for p in change.arr("remove") {
            if let Some(p) = p.as_str() {
                privileges.remove(&p.to_uppercase().replace(' ', "_"));
            }
        }
    }
    Ok(Json(assignments(Some(grants), None)))
}

// ---- statements ----

static CREATE_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?(table|view)\s+(?:if\s+not\s+exists\s+)?([`\w.]+)")
        .expect("a valid built-in regex")
});
static DROP_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*drop\s+(table|view)\s+(?:if\s+exists\s+)?([`\w.]+)").expect("a valid built-in regex")
});
static WRITE_TABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*(?:insert\s+(?:into|overwrite)(?:\s+table)?|update|delete\s+from|merge\s+into|truncate\s+table)\s+([`\w.]+)")
        .expect("a valid built-in regex")
});
static CREATE_CONTAINER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*create\s+(catalog|schema|database|volume)\s+(if\s+not\s+exists\s+)?([`\w.]+)")
        .expect("a valid built-in regex")
});

/// A statement's (possibly partial) name as `catalog.schema.name`, the
/// missing parts `main` and `default`, as an unset context reads them.
fn qualify(name: &str) -> (String, String, String) {
    let parts: Vec<String> = name.split('.').map(|p| p.trim_matches('`').to_owned()).collect();
    match parts.as_slice() {
        [t] => ("main".into(), "default".into(), t.clone()),
        [s, t] => ("main".into(), s.clone(), t.clone()),
        [c, s, t, ..] => (c.clone(), s.clone(), t.clone()),
        [] => ("main".into(), "default".into(), String::new()),
    }
}

fn sql_error(class: &str, message: String, state: &'static str) -> SqlError {
    SqlError {
        message: format!("[{class}] {message} SQLSTATE: {state}"),
        sql_state: state,
    }
}

/// Runs a statement against the catalog as well as the SQL engine: what it
/// creates must have its container, and what it creates, writes or drops is
/// recorded.
pub(crate) async fn run_sql(state: &Shared, sql: &str, params: &[Param]) -> Result<Rows, SqlError> {
    let owner = crate::auth::USER.to_owned();
    if let Some(c) = CREATE_CONTAINER.captures(sql) {
        let created = create_container(state, &c[1].to_lowercase(), c.get(2).is_some(), &c[3], &owner);
        sync_names(state);
        return created;
    }
    let created = CREATE_TABLE.captures(sql).filter(|c| !c[0].to_lowercase().contains("temp")).map(|c| (c[1].to_uppercase(), qualify(&c[2])));
    if let Some((_, (catalog, schema, table))) = &created {
        let cat = state.unity.read().expect("catalog lock");
        let full = format!("{catalog}.{schema}");
        if !cat.schemas.contains_key(&full) {
            return Err(sql_error(
                "SCHEMA_NOT_FOUND",
                format!("The schema `{full}` cannot be found. Verify the spelling and correctness of the schema and catalog."),
                "42704",
            ));
        }
        if let Some(other) = cat.tables.keys().find(|k| k.rsplit('.').next() == Some(table.as_str()) && **k != format!("{full}.{table}")) {
            return Err(sql_error(
                "TABLE_OR_VIEW_ALREADY_EXISTS",
                format!("The emulator keeps one table per name: `{other}` exists already, so `{full}.{table}` cannot be created. Drop it or choose another name."),
                "42P07",
            ));
        }
    }
    let rows = state.sql.run(&state.fs, sql, params).await?;
    let at = now(state);
    let mut cat = state.unity.write().expect("catalog lock");
    if let Some((kind, (catalog, schema, table))) = created {
        let full = format!("{catalog}.{schema}.{table}");
        let mut fields = base_fields(state, &Principal(owner), &table, &full, &Obj::default());
        fields.insert("catalog_name".into(), json!(catalog));
        fields.insert("schema_name".into(), json!(schema));
        fields.insert("table_type".into(), json!(if kind == "VIEW" { "VIEW" } else { "MANAGED" }));
        fields.insert("data_source_format".into(), json!("DELTA"));
        fields.insert("table_id".into(), json!(uuid::Uuid::new_v4().to_string()));
        fields.insert(
            "storage_location".into(),
            json!(format!("s3://emulator-metastore/{METASTORE}/tables/{}", uuid::Uuid::new_v4())),
        );
        cat.tables.insert(full, Entry { fields });
    } else if let Some(c) = DROP_TABLE.captures(sql) {
        let (catalog, schema, table) = qualify(&c[2]);
        cat.tables.remove(&format!("{catalog}.{schema}.{table}"));
    } else if let Some(c) = WRITE_TABLE.captures(sql) {
        let (catalog, schema, table) = qualify(&c[1]);
        if let Some(entry) = cat.tables.get_mut(&format!("{catalog}.{schema}.{table}")) {
            entry.fields.insert("updated_at".into(), json!(at));
        }
    }
    Ok(rows)
}

/// `CREATE CATALOG|SCHEMA|VOLUME` in a statement.
fn create_container(state: &Shared, kind: &str, if_not_exists: bool, name: &str, owner: &str) -> Result<Rows, SqlError> {
    let parts: Vec<String> = name.split('.').map(|p| p.trim_matches('`').to_owned()).collect();
    let p = Principal(owner.to_owned());
    let mut cat = state.unity.write().expect("catalog lock");
    let (map_has, full) = match (kind, parts.as_slice()) {
        ("catalog", [c]) => (cat.catalogs.contains_key(c), c.clone()),
        ("schema" | "database", [s]) => {
            let full = format!("main.{s}");
            (cat.schemas.contains_key(&full), full)
        }
        ("schema" | "database", [c, s]) => {
            let full = format!("{c}.{s}");
            (cat.schemas.contains_key(&full), full)
        }
        ("volume", [v]) => {
            let full = format!("main.default.{v}");
            (cat.volumes.contains_key(&full), full)
        }
        ("volume", [s, v]) => {
            let full = format!("main.{s}.{v}");
            (cat.volumes.contains_key(&full), full)
        }
        ("volume", [c, s, v]) => {
            let full = format!("{c}.{s}.{v}");
            (cat.volumes.contains_key(&full), full)
        }
        _ => {
            return Err(sql_error("PARSE_SYNTAX_ERROR", format!("Invalid {kind} name `{name}`."), "42601"));
        }
    };
    if map_has {
        if if_not_exists {
            return Ok(Rows::default());
        }
        let class = match kind {
            "catalog" => "CATALOG_ALREADY_EXISTS",
            "volume" => "VOLUME_ALREADY_EXISTS",
            _ => "SCHEMA_ALREADY_EXISTS",
        };
        return Err(sql_error(class, format!("Cannot create {kind} `{full}` because it already exists."), "42P06"));
    }
    let parent = full.rsplit_once('.').map(|(p, _)| p.to_owned());
    let missing_parent = match (kind, &parent) {
        ("schema" | "database", Some(c)) => !cat.catalogs.contains_key(c),
        ("volume", Some(s)) => !cat.schemas.contains_key(s),
        _ => false,
    };
    if missing_parent {
        let parent = parent.unwrap_or_default();
        return Err(sql_error("SCHEMA_NOT_FOUND", format!("`{parent}` cannot be found."), "42704"));
    }
    let leaf = full.rsplit('.').next().unwrap_or_default().to_owned();
    let mut fields = base_fields(state, &p, &leaf, &full, &Obj::default());
    match kind {
        "catalog" => {
            for schema in ["default", "information_schema"] {
                let sfull = format!("{full}.{schema}");
                let mut sf = base_fields(state, &p, schema, &sfull, &Obj::default());
                sf.insert("catalog_name".into(), json!(full));
                cat.schemas.insert(sfull, Entry { fields: sf });
            }
            cat.catalogs.insert(full, Entry { fields });
        }
        "volume" => {
            let (c, s) = parent.as_deref().and_then(|p| p.split_once('.')).unwrap_or(("main", "default"));
            fields.insert("catalog_name".into(), json!(c));
            fields.insert("schema_name".into(), json!(s));
            fields.insert("volume_type".into(), json!("MANAGED"));
            fields.insert("volume_id".into(), json!(uuid::Uuid::new_v4().to_string()));
            cat.volumes.insert(full.clone(), Entry { fields });
            drop(cat);
            state
                .fs
                .mkdirs(&volume_dir(&full))
                .map_err(|e| sql_error("INTERNAL_ERROR", e.to_string(), "XX000"))?;
        }
        _ => {
            fields.insert("catalog_name".into(), json!(parent.unwrap_or_default()));
            cat.schemas.insert(full, Entry { fields });
        }
    }
    Ok(Rows::default())
}

/// The objects every workspace starts with: the catalogs `main` (with
/// `default` and its `files` volume) and `samples` (with `nyctaxi`).
pub(crate) fn seed(state: &Shared) {
    let p = Principal(crate::auth::USER.to_owned());
    let body = Obj::default();
    let mut cat = state.unity.write().expect("catalog lock");
    for catalog in ["main", "samples"] {
        cat.catalogs.insert(catalog.into(), Entry { fields: base_fields(state, &p, catalog, catalog, &body) });
    }
    for (catalog, schema) in [("main", "default"), ("main", "information_schema"), ("samples", "nyctaxi")] {
        let full = format!("{catalog}.{schema}");
        let mut fields = base_fields(state, &p, schema, &full, &body);
        fields.insert("catalog_name".into(), json!(catalog));
        cat.schemas.insert(full, Entry { fields });
    }
    // The sample volume, and those a data directory kept from an earlier run
    // (the catalog itself lives in memory), with their schemas and catalogs.
    let mut volumes = vec![("main".to_owned(), "default".to_owned(), "files".to_owned())];
    let names = |dir: &str| -> Vec<String> {
        state
            .fs
            .list(dir)
            .map(|entries| entries.into_iter().filter(|(_, n)| n.is_dir()).map(|(path, _)| path.rsplit('/').next().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    };
    for c in names("/Volumes") {
        for s in names(&format!("/Volumes/{c}")) {
            for v in names(&format!("/Volumes/{c}/{s}")) {
                volumes.push((c.clone(), s.clone(), v));
            }
        }
    }
    for (c, s, v) in volumes {
        cat.catalogs
            .entry(c.clone())
            .or_insert_with(|| Entry { fields: base_fields(state, &p, &c, &c, &body) });
        let schema = format!("{c}.{s}");
        cat.schemas.entry(schema.clone()).or_insert_with(|| {
            let mut fields = base_fields(state, &p, &s, &schema, &body);
            fields.insert("catalog_name".into(), json!(c));
            Entry { fields }
        });
        let full = format!("{c}.{s}.{v}");
        cat.volumes.entry(full.clone()).or_insert_with(|| {
            let mut fields = base_fields(state, &p, &v, &full, &body);
            fields.insert("catalog_name".into(), json!(c));
            fields.insert("schema_name".into(), json!(s));
            fields.insert("volume_type".into(), json!("MANAGED"));
            fields.insert("volume_id".into(), json!(uuid::Uuid::new_v4().to_string()));
            Entry { fields }
        });
    }
    drop(cat);
    sync_names(state);
}
