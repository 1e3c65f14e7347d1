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

mod grants;
mod statements;
mod tables;
mod volumes;

use grants::*;
use tables::*;
use volumes::*;
pub(crate) use statements::{run_sql, seed};
pub(crate) use tables::{columns_of, names};

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

    /// The volumes and the tables under `prefix` (`catalog.` or
    /// `catalog.schema.`), by full name.
    fn contents(&self, prefix: &str) -> (Vec<String>, Vec<String>) {
        let under = |map: &BTreeMap<String, Entry>| -> Vec<String> {
            map.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
        };
        (under(&self.volumes), under(&self.tables))
    }

    /// Forgets what is under the catalog or schema `name` (its schemas,
    /// volumes and tables) and the grants on it and on them.
    fn forget(&mut self, name: &str) {
        let prefix = format!("{name}.");
        self.schemas.retain(|k, _| !k.starts_with(&prefix));
        self.volumes.retain(|k, _| !k.starts_with(&prefix));
        self.tables.retain(|k, _| !k.starts_with(&prefix));
        self.grants.retain(|(_, k), _| k != name && !k.starts_with(&prefix));
    }

    /// The JSON of the entries of `map` under `prefix`, for a list.
    fn listed(map: &BTreeMap<String, Entry>, prefix: &str) -> Vec<Value> {
        map.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| Value::Object(e.fields.clone()))
            .collect()
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
        let (volumes, tables) = cat.contents(&prefix);
        let empty = user_schemas.is_empty() && volumes.is_empty() && tables.is_empty();
        if !force && !empty {
            return Err(code(
                StatusCode::BAD_REQUEST,
                "CATALOG_NOT_EMPTY",
                format!("Cannot delete catalog '{name}': it is not empty (use force=true to delete it with its schemas, tables and volumes)."),
            ));
        }
        (volumes, tables)
    };
    drop_tables(&state, &tables).await;
    remove_volume_files(&state, &volumes);
    let mut cat = state.unity.write().expect("catalog lock");
    cat.catalogs.remove(&name);
    cat.forget(&name);
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
    let items = Catalog::listed(&cat.schemas, &format!("{catalog}."));
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
        let (volumes, tables) = cat.contents(&prefix);
        let empty = volumes.is_empty() && tables.is_empty();
        if !force && !empty {
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
    cat.forget(&full);
    Ok(Json(json!({})))
}
