//! What statements do to the catalog: `CREATE TABLE` needs its schema and
//! is recorded, writes move `updated_at`, `DROP` removes, `CREATE
//! CATALOG|SCHEMA|VOLUME` create; and the objects every workspace starts
//! with.

use super::*;

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
