//! Unity Catalog: `unitycatalog.catalog.*`, `schema.*`, `table.*`,
//! `volume.*` and `grant.*`, Kestra's type names, properties and outputs,
//! each one call (or one paged list) of the Unity Catalog REST API; a
//! volume's files through the Files API. `table.Trigger` is in
//! `unity_trigger.rs`.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};

use super::databricks;

/// Which call a Unity Catalog task makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    CatalogCreate,
    CatalogGet,
    CatalogList,
    CatalogUpdate,
    CatalogDelete,
    SchemaCreate,
    SchemaGet,
    SchemaList,
    SchemaUpdate,
    SchemaDelete,
    TableGet,
    TableList,
    TableDelete,
    VolumeCreate,
    VolumeGet,
    VolumeList,
    VolumeUpdate,
    VolumeDelete,
    VolumeUpload,
    VolumeDownload,
    GrantGet,
    GrantUpdate,
}

/// Unity Catalog's privileges (the SDK's `Privilege`), what `grant.Update`
/// takes in `add` and `remove`.
pub const PRIVILEGES: &[&str] = &[
    "ACCESS", "ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE", "CREATE_CATALOG",
    "CREATE_CLEAN_ROOM", "CREATE_CONNECTION", "CREATE_EXTERNAL_LOCATION", "CREATE_EXTERNAL_TABLE",
    "CREATE_EXTERNAL_VOLUME", "CREATE_FOREIGN_CATALOG", "CREATE_FOREIGN_SECURABLE",
    "CREATE_FUNCTION", "CREATE_MANAGED_STORAGE", "CREATE_MATERIALIZED_VIEW", "CREATE_MODEL",
    "CREATE_PROVIDER", "CREATE_RECIPIENT", "CREATE_SCHEMA", "CREATE_SERVICE_CREDENTIAL",
    "CREATE_SHARE", "CREATE_STORAGE_CREDENTIAL", "CREATE_TABLE", "CREATE_VIEW", "CREATE_VOLUME",
    "EXECUTE", "EXECUTE_CLEAN_ROOM_TASK", "EXTERNAL_USE_SCHEMA", "MANAGE", "MANAGE_ALLOWLIST",
    "MODIFY", "MODIFY_CLEAN_ROOM", "READ_FILES", "READ_PRIVATE_FILES", "READ_VOLUME", "REFRESH",
    "SELECT", "SET_SHARE_PERMISSION", "USAGE", "USE_CATALOG", "USE_CONNECTION",
    "USE_MARKETPLACE_ASSETS", "USE_PROVIDER", "USE_RECIPIENT", "USE_SCHEMA", "USE_SHARE",
    "WRITE_FILES", "WRITE_PRIVATE_FILES", "WRITE_VOLUME",
];

const PROPERTIES: Property = prop(
    "properties",
    Map,
    "Key-value properties to attach to the object.",
);
const CATALOG_NAME: Property = ex(
    req("catalogName", String, "Name of the parent catalog."),
    "main",
);
const SCHEMA_NAME: Property = ex(
    req("schemaName", String, "Name of the parent schema."),
    "landing_zone",
);
const NEW_NAME: Property = prop("newName", String, "Rename the object to this value.");
const OWNER: Property = prop(
    "owner",
    String,
    "Username or group name of the new owner.",
);
const FORCE: Property = def(
    "force",
    Boolean,
    "false",
    "Delete the object even if it is not empty.",
);
const SCHEMA_FULL_NAME: Property = ex(
    req(
        "fullName",
        String,
        "Fully qualified schema name, in the form `catalog.schema`.",
    ),
    "main.landing_zone",
);
const TABLE_FULL_NAME: Property = ex(
    req(
        "fullName",
        String,
        "Fully qualified table name, in the form `catalog.schema.table`.",
    ),
    "main.landing_zone.events",
);
const VOLUME_FULL_NAME: Property = ex(
    req(
        "fullName",
        String,
        "Fully qualified volume name, in the form `catalog.schema.volume`.",
    ),
    "main.landing_zone.raw_files",
);
const SECURABLE_TYPE: Property = ex(
    req(
        "securableType",
        String,
        "The object's type: CATALOG, SCHEMA, TABLE, VOLUME, EXTERNAL_LOCATION, STORAGE_CREDENTIAL… (any case).",
    ),
    "SCHEMA",
);
const SECURABLE_NAME: Property = ex(
    req(
        "fullName",
        String,
        "`catalog`, `catalog.schema`, `catalog.schema.table` or `catalog.schema.volume`, as the type asks.",
    ),
    "main.landing_zone",
);
const CHANGE: &[Property] = &[
    req(
        "principal",
        String,
        "User, group or service principal the change applies to.",
    ),
    prop(
        "add",
        StringList,
        "Privileges to grant, such as SELECT, MODIFY, USE_SCHEMA, READ_VOLUME or ALL_PRIVILEGES.",
    ),
    prop("remove", StringList, "Privileges to revoke."),
];

/// One Unity Catalog task type.
macro_rules! uc {
    ($const:ident, $short:literal, $op:ident, $doc:literal, [$($p:expr),* $(,)?], [$($o:expr),* $(,)?]) => {
        pub const $const: TaskType = TaskType {
            name: concat!("io.kestra.plugin.databricks.unitycatalog.", $short),
            alias: concat!("databricks.unitycatalog.", $short),
            category: Category::Task,
            doc: $doc,
            properties: databricks![$($p),*],
            outputs: &[$($o),*],
            run: runner!(|env| run::Uc(env.databricks.clone(), Op::$op)),
            check: None,
            aliases: &[],
        };
    };
}

const CATALOG_OUT: [(&str, &str); 3] = [
    ("name", "The catalog's name."),
    ("owner", "Its owner."),
    ("catalog", "The catalog as Databricks answers it."),
];

uc!(CATALOG_CREATE, "catalog.Create", CatalogCreate,
    "Creates a catalog in the metastore; fails if one of that name exists.",
    [ex(req("name", String, "The catalog's name."), "analytics"), prop("comment", String, "A description."),
     prop("storageRoot", String, "Cloud storage for its managed tables and volumes; the metastore's when unset."), PROPERTIES],
    [CATALOG_OUT[0], CATALOG_OUT[1], CATALOG_OUT[2]]);
uc!(CATALOG_GET, "catalog.Get", CatalogGet, "Reads a catalog by name.",
    [ex(req("name", String, "The catalog's name."), "analytics")],
    [CATALOG_OUT[0], CATALOG_OUT[1], CATALOG_OUT[2]]);
uc!(CATALOG_LIST, "catalog.List", CatalogList, "Lists the catalogs of the metastore the caller can access.",
    [], [("catalogs", "The catalogs as Databricks answers them."), ("size", "How many.")]);
uc!(CATALOG_UPDATE, "catalog.Update", CatalogUpdate,
    "Changes a catalog's comment, owner, properties or name; only what is set changes.",
    [ex(req("name", String, "The catalog's current name."), "analytics"), NEW_NAME, prop("comment", String, "A description."), OWNER, PROPERTIES],
    [CATALOG_OUT[0], CATALOG_OUT[1], CATALOG_OUT[2]]);
uc!(CATALOG_DELETE, "catalog.Delete", CatalogDelete,
    "Deletes a catalog; with `force`, one that still has schemas.",
    [ex(req("name", String, "The catalog's name."), "analytics"), FORCE], []);

const SCHEMA_OUT: [(&str, &str); 4] = [
    ("name", "The schema's name."),
    ("fullName", "Its full name, `catalog.schema`."),
    ("owner", "Its owner."),
    ("schema", "The schema as Databricks answers it."),
];

uc!(SCHEMA_CREATE, "schema.Create", SchemaCreate, "Creates a schema in a catalog; fails if it exists.",
    [CATALOG_NAME, ex(req("name", String, "The schema's name."), "landing_zone"), prop("comment", String, "A description."),
     prop("storageRoot", String, "Cloud storage for its managed tables and volumes."), PROPERTIES],
    [SCHEMA_OUT[0], SCHEMA_OUT[1], SCHEMA_OUT[2], SCHEMA_OUT[3]]);
uc!(SCHEMA_GET, "schema.Get", SchemaGet, "Reads a schema by its full name.", [SCHEMA_FULL_NAME],
    [SCHEMA_OUT[0], SCHEMA_OUT[1], SCHEMA_OUT[2], SCHEMA_OUT[3]]);
uc!(SCHEMA_LIST, "schema.List", SchemaList, "Lists the schemas of a catalog the caller can access.",
    [CATALOG_NAME], [("schemas", "The schemas as Databricks answers them."), ("size", "How many.")]);
uc!(SCHEMA_UPDATE, "schema.Update", SchemaUpdate,
    "Changes a schema's comment, owner, properties or name; only what is set changes.",
    [SCHEMA_FULL_NAME, NEW_NAME, prop("comment", String, "A description."), OWNER, PROPERTIES],
    [SCHEMA_OUT[0], SCHEMA_OUT[1], SCHEMA_OUT[2], SCHEMA_OUT[3]]);
uc!(SCHEMA_DELETE, "schema.Delete", SchemaDelete, "Deletes a schema; with `force`, one that still has tables or volumes.",
    [SCHEMA_FULL_NAME, FORCE], []);

uc!(TABLE_GET, "table.Get", TableGet, "Reads a table (its columns, type, storage) by its full name.",
    [TABLE_FULL_NAME],
    [("name", "The table's name."), ("fullName", "Its full name, `catalog.schema.table`."), ("table", "The table as Databricks answers it.")]);
uc!(TABLE_LIST, "table.List", TableList,
    "Lists the tables of a schema; `omitColumns` and `fetchType: STORE` keep the output small for large schemas.",
    [CATALOG_NAME, SCHEMA_NAME, def("omitColumns", Boolean, "false", "Leave out each table's columns."),
     def("fetchType", Enum { values: &["FETCH", "FETCH_ONE", "STORE", "NONE"] }, "FETCH",
         "FETCH: every table in `tables`; FETCH_ONE: the first in `table`; STORE: an Ion file, a table a line, in `uri`; NONE: only `size`.")],
    [("tables", "The tables (FETCH)."), ("table", "The first table (FETCH_ONE)."), ("uri", "The Ion file of the tables (STORE)."), ("size", "How many tables.")]);
uc!(TABLE_DELETE, "table.Delete", TableDelete,
    "Deletes a table (tables are created with SQL, such as a sql.Query task).", [TABLE_FULL_NAME], []);

const VOLUME_OUT: [(&str, &str); 4] = [
    ("name", "The volume's name."),
    ("fullName", "Its full name, `catalog.schema.volume`."),
    ("owner", "Its owner."),
    ("volume", "The volume as Databricks answers it."),
];
const VOLUME_PATH: Property = ex(
    req(
        "volumePath",
        String,
        "The file's absolute path, `/Volumes/<catalog>/<schema>/<volume>/<path>`.",
    ),
    "/Volumes/main/landing_zone/raw_files/data.csv",
);

uc!(VOLUME_CREATE, "volume.Create", VolumeCreate,
    "Creates a managed or external volume in a schema; an external one needs a `storageLocation`.",
    [CATALOG_NAME, SCHEMA_NAME, ex(req("name", String, "The volume's name."), "raw_files"),
     def("volumeType", Enum { values: &["MANAGED", "EXTERNAL"] }, "MANAGED", "MANAGED or EXTERNAL."),
     prop("storageLocation", String, "An EXTERNAL volume's cloud storage; not allowed for a MANAGED one."),
     prop("comment", String, "A description.")],
    [VOLUME_OUT[0], VOLUME_OUT[1], VOLUME_OUT[2], VOLUME_OUT[3]]);
uc!(VOLUME_GET, "volume.Get", VolumeGet, "Reads a volume by its full name.", [VOLUME_FULL_NAME],
    [VOLUME_OUT[0], VOLUME_OUT[1], VOLUME_OUT[2], VOLUME_OUT[3]]);
uc!(VOLUME_LIST, "volume.List", VolumeList, "Lists the volumes of a schema the caller can access.",
    [CATALOG_NAME, SCHEMA_NAME], [("volumes", "The volumes as Databricks answers them."), ("size", "How many.")]);
uc!(VOLUME_UPDATE, "volume.Update", VolumeUpdate,
    "Changes a volume's comment, owner or name; only what is set changes.",
    [VOLUME_FULL_NAME, NEW_NAME, prop("comment", String, "A description."), OWNER],
    [VOLUME_OUT[0], VOLUME_OUT[1], VOLUME_OUT[2], VOLUME_OUT[3]]);
uc!(VOLUME_DELETE, "volume.Delete", VolumeDelete, "Deletes a volume; a managed one's files go with it.",
    [VOLUME_FULL_NAME], []);
uc!(VOLUME_UPLOAD, "volume.Upload", VolumeUpload,
    "Streams a file of internal storage into a volume through the Files API; the volume must exist.",
    [ex(req("from", String, "The file's internal storage URI, such as a FILE input."), "{{ inputs.file }}"), VOLUME_PATH,
     def("overwrite", Boolean, "false", "Replace the file if it exists; else the upload fails when it does.")],
    [("volumePath", "Where the file was written."), ("size", "Its size in bytes.")]);
uc!(VOLUME_DOWNLOAD, "volume.Download", VolumeDownload,
    "Downloads a file of a volume into internal storage through the Files API.",
    [VOLUME_PATH], [("uri", "The file in internal storage."), ("size", "Its size in bytes.")]);

uc!(GRANT_GET, "grant.Get", GrantGet,
    "Reads the privileges granted directly on an object (not inherited ones), optionally of one principal.",
    [SECURABLE_TYPE, SECURABLE_NAME, prop("principal", String, "Only this user's, group's or service principal's privileges.")],
    [("privilegeAssignments", "The privileges, by principal: `{principal, privileges}`.")]);
uc!(GRANT_UPDATE, "grant.Update", GrantUpdate,
    "Grants and revokes privileges on an object; each change adds and removes a principal's privileges.",
    [SECURABLE_TYPE, SECURABLE_NAME, req("changes", ObjectList { properties: CHANGE }, "The changes to apply, at least one.")],
    [("privilegeAssignments", "Every principal's privileges on the object after the change.")]);

#[cfg(feature = "runtime")]
pub(super) use run::list;

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use reqwest::Method;
    use serde_json::{Map, Value, json};

    use super::Op;
    use crate::databricks::{ApiPath, DatabricksClient};
    use crate::storage::Storage;
    use crate::task::databricks::run::Databricks;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct Uc(pub(super) Arc<Databricks>, pub(super) Op);

    const BASE: &str = "/api/2.1/unity-catalog";


    fn required(ctx: &TaskContext, name: &str) -> Result<String, TaskError> {
        ctx.text(name)?.ok_or_else(|| ctx.invalid(format!("`{name}` is required")))
    }

    fn flag(ctx: &TaskContext, name: &str) -> Result<Option<bool>, TaskError> {
        Ok(match ctx.prop(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            Value::Null => None,
            other => return Err(ctx.invalid(format!("`{name}` is true or false, not {other}"))),
        })
    }

    /// The body fields set from properties: (property, API field).
    fn body(ctx: &TaskContext, fields: &[(&str, &str)]) -> Result<Map<String, Value>, TaskError> {
        let mut body = Map::new();
        for (property, field) in fields {
            match ctx.prop(property)? {
                Value::Null => {}
                Value::Object(map) => {
                    // Properties are strings to strings, as the API takes them.
                    let strings: Map<String, Value> = map
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.as_str().map_or_else(|| v.to_string(), str::to_owned))))
                        .collect();
                    body.insert((*field).into(), Value::Object(strings));
                }
                Value::String(s) if s.is_empty() => {}
                value => {
                    body.insert((*field).into(), Value::String(value.as_str().map_or_else(|| value.to_string(), str::to_owned)));
                }
            }
        }
        Ok(body)
    }

    /// Every item of a paged list (`next_page_token`), or the first page's
    /// first when `first_only`.
    pub(in crate::task::databricks) async fn list(
        client: &DatabricksClient,
        what: &str,
        key: &str,
        query: &[(&str, String)],
        first_only: bool,
    ) -> Result<Vec<Value>, TaskError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let page: Value = client.get(ApiPath::from(BASE).segment(what), &q).await?;
            items.extend(page[key].as_array().cloned().unwrap_or_default());
            token = page["next_page_token"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() || (first_only && !items.is_empty()) {
                return Ok(items);
            }
        }
    }

    fn path(kind: &str, name: &str) -> ApiPath {
        ApiPath::from(BASE).segment(kind).segment(name)
    }

    fn named(out: &mut Outputs, info: &Value, key: &str, full_name: bool) {
        out.insert("name".into(), info["name"].clone());
        if full_name {
            out.insert("fullName".into(), info["full_name"].clone());
        }
        if key != "table" {
            out.insert("owner".into(), info["owner"].clone());
        }
        out.insert(key.into(), info.clone());
    }

    /// `/Volumes/<catalog>/<schema>/<volume>/<path>`, as Kestra checks it.
    fn volume_path(ctx: &TaskContext) -> Result<String, TaskError> {
        let path = required(ctx, "volumePath")?;
        let parts = path
            .strip_prefix("/Volumes/")
            .map(|rest| rest.split('/').filter(|p| !p.is_empty()).count())
            .unwrap_or(0);
        if parts < 4 {
            return Err(ctx.invalid(format!(
                "Invalid volume path '{path}', expected a file path in the form '/Volumes/<catalog>/<schema>/<volume>/<path>'"
            )));
        }
        Ok(path)
    }

    impl Runner for Uc {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let mut out = Outputs::new();
                let post = |kind: &'static str, body: Map<String, Value>| {
                    let client = client.clone();
                    async move {
                        client
                            .call(Method::POST, &ApiPath::from(BASE).segment(kind), &[], Some(&Value::Object(body)))
                            .await
                    }
                };
                let patch = |kind: &'static str, name: String, body: Map<String, Value>| {
                    let client = client.clone();
                    async move { client.call(Method::PATCH, &path(kind, &name), &[], Some(&Value::Object(body))).await }
                };
                let get = |kind: &'static str, name: String| {
                    let client = client.clone();
                    async move { client.call(Method::GET, &path(kind, &name), &[], None).await }
                };
                let delete = |kind: &'static str, name: String, query: Vec<(&'static str, String)>| {
                    let client = client.clone();
                    async move { client.call(Method::DELETE, &path(kind, &name), &query, None).await }
                };
                let force = |ctx: &TaskContext| -> Result<Vec<(&'static str, String)>, TaskError> {
                    Ok(flag(ctx, "force")?.map(|f| vec![("force", f.to_string())]).unwrap_or_default())
                };
                match self.1 {
                    Op::CatalogCreate => {
                        let info = post("catalogs", body(ctx, &[("name", "name"), ("comment", "comment"), ("storageRoot", "storage_root"), ("properties", "properties")])?).await?;
                        ctx.info(format!("Created catalog '{}'", info["name"].as_str().unwrap_or_default())).await;
                        named(&mut out, &info, "catalog", false);
                    }
                    Op::CatalogGet => named(&mut out, &get("catalogs", required(ctx, "name")?).await?, "catalog", false),
                    Op::CatalogUpdate => {
                        let name = required(ctx, "name")?;
                        let info = patch("catalogs", name, body(ctx, &[("newName", "new_name"), ("comment", "comment"), ("owner", "owner"), ("properties", "properties")])?).await?;
                        ctx.info(format!("Updated catalog '{}'", info["name"].as_str().unwrap_or_default())).await;
                        named(&mut out, &info, "catalog", false);
                    }
                    Op::CatalogDelete => {
                        let name = required(ctx, "name")?;
                        delete("catalogs", name.clone(), force(ctx)?).await?;
                        ctx.info(format!("Deleted catalog '{name}'")).await;
                    }
                    Op::CatalogList => {
                        let all = list(&client, "catalogs", "catalogs", &[("max_results", "0".into())], false).await?;
                        ctx.info(format!("Found {} catalog(s)", all.len())).await;
                        out.insert("size".into(), json!(all.len()));
                        out.insert("catalogs".into(), Value::Array(all));
                    }
                    Op::SchemaCreate => {
                        let info = post("schemas", body(ctx, &[("catalogName", "catalog_name"), ("name", "name"), ("comment", "comment"), ("storageRoot", "storage_root"), ("properties", "properties")])?).await?;
                        ctx.info(format!("Created schema '{}'", info["full_name"].as_str().unwrap_or_default())).await;
                        named(&mut out, &info, "schema", true);
                    }
                    Op::SchemaGet => named(&mut out, &get("schemas", required(ctx, "fullName")?).await?, "schema", true),
                    Op::SchemaUpdate => {
                        let name = required(ctx, "fullName")?;
                        let info = patch("schemas", name, body(ctx, &[("newName", "new_name"), ("comment", "comment"), ("owner", "owner"), ("properties", "properties")])?).await?;
                        ctx.info(format!("Updated schema '{}'", info["full_name"].as_str().unwrap_or_default())).await;
                        named(&mut out, &info, "schema", true);
                    }
                    Op::SchemaDelete => {
                        let name = required(ctx, "fullName")?;
                        delete("schemas", name.clone(), force(ctx)?).await?;
                        ctx.info(format!("Deleted schema '{name}'")).await;
                    }
                    Op::SchemaList => {
                        let catalog = required(ctx, "catalogName")?;
                        let all = list(&client, "schemas", "schemas", &[("catalog_name", catalog.clone()), ("max_results", "0".into())], false).await?;
                        ctx.info(format!("Found {} schema(s) in catalog '{catalog}'", all.len())).await;
                        out.insert("size".into(), json!(all.len()));
                        out.insert("schemas".into(), Value::Array(all));
                    }
                    Op::TableGet => named(&mut out, &get("tables", required(ctx, "fullName")?).await?, "table", true),
                    Op::TableDelete => {
                        let name = required(ctx, "fullName")?;
                        delete("tables", name.clone(), Vec::new()).await?;
                        ctx.info(format!("Deleted table '{name}'")).await;
                    }
                    Op::TableList => table_list(ctx, &client, &mut out).await?,
                    Op::VolumeCreate => {
                        let kind = ctx.text("volumeType")?.unwrap_or_else(|| "MANAGED".into()).to_uppercase();
                        let location = ctx.text("storageLocation")?;
                        match (kind.as_str(), &location) {
                            ("EXTERNAL", None) => return Err(ctx.invalid("`storageLocation` is required to create an EXTERNAL volume")),
                            ("MANAGED", Some(_)) => return Err(ctx.invalid("`storageLocation` can only be set on an EXTERNAL volume")),
                            ("MANAGED" | "EXTERNAL", _) => {}
                            (other, _) => return Err(ctx.invalid(format!("volumeType {other} is not MANAGED or EXTERNAL"))),
                        }
                        let mut fields = body(ctx, &[("catalogName", "catalog_name"), ("schemaName", "schema_name"), ("name", "name"), ("storageLocation", "storage_location"), ("comment", "comment")])?;
                        fields.insert("volume_type".into(), json!(kind));
                        let info = post("volumes", fields).await?;
                        ctx.info(format!("Created volume '{}'", info["full_name"].as_str().unwrap_or_default())).await;
                        named(&mut out, &info, "volume", true);
                    }
                    Op::VolumeGet => named(&mut out, &get("volumes", required(ctx, "fullName")?).await?, "volume", true),
                    Op::VolumeUpdate => {
                        let name = required(ctx, "fullName")?;
                        let info = patch("volumes", name, body(ctx, &[("newName", "new_name"), ("comment", "comment"), ("owner", "owner")])?).await?;
                        ctx.info(format!("Updated volume '{}'", info["full_name"].as_str().unwrap_or_default())).await;
                        named(&mut out, &info, "volume", true);
                    }
                    Op::VolumeDelete => {
                        let name = required(ctx, "fullName")?;
                        delete("volumes", name.clone(), Vec::new()).await?;
                        ctx.info(format!("Deleted volume '{name}'")).await;
                    }
                    Op::VolumeList => {
                        let (catalog, schema) = (required(ctx, "catalogName")?, required(ctx, "schemaName")?);
                        let all = list(&client, "volumes", "volumes", &[("catalog_name", catalog.clone()), ("schema_name", schema.clone())], false).await?;
                        ctx.info(format!("Found {} volume(s) in schema '{catalog}.{schema}'", all.len())).await;
                        out.insert("size".into(), json!(all.len()));
                        out.insert("volumes".into(), Value::Array(all));
                    }
                    Op::VolumeUpload => {
                        let path = volume_path(ctx)?;
                        let from = required(ctx, "from")?;
                        let overwrite = flag(ctx, "overwrite")?.unwrap_or(false);
                        let (_, size) = ctx.storage.open(&from).await?;
                        super::super::dbfs::upload_volume(&client, ctx, &from, &path, overwrite).await?;
                        ctx.info(format!("Uploaded {size} byte(s) to '{path}'")).await;
                        out.insert("volumePath".into(), json!(path));
                        out.insert("size".into(), json!(size));
                    }
                    Op::VolumeDownload => {
                        let path = volume_path(ctx)?;
                        let name = path.rsplit('/').next().unwrap_or("download");
                        let uri = Storage::execution_uri(&ctx.namespace, &ctx.flow_id, &ctx.execution_id, &format!("{}-{name}", ctx.task_id));
                        let size = super::super::dbfs::download_volume(&client, ctx, &path, &uri).await?;
                        ctx.info(format!("Downloaded {size} byte(s) from '{path}'")).await;
                        out.insert("uri".into(), json!(uri));
                        out.insert("size".into(), json!(size));
                    }
                    Op::GrantGet | Op::GrantUpdate => grants(ctx, &client, self.1, &mut out).await?,
                }
                Ok(out)
            })
        }
    }

    async fn table_list(ctx: &TaskContext, client: &DatabricksClient, out: &mut Outputs) -> Result<(), TaskError> {
        let (catalog, schema) = (required(ctx, "catalogName")?, required(ctx, "schemaName")?);
        let fetch = ctx.text("fetchType")?.unwrap_or_else(|| "FETCH".into()).to_uppercase();
        let mut query = vec![("catalog_name", catalog.clone()), ("schema_name", schema.clone()), ("max_results", "0".to_owned())];
        if let Some(omit) = flag(ctx, "omitColumns")? {
            query.push(("omit_columns", omit.to_string()));
        }
        let tables = list(client, "tables", "tables", &query, fetch == "FETCH_ONE").await?;
        let size = match fetch.as_str() {
            "FETCH" => {
                let size = tables.len();
                out.insert("tables".into(), Value::Array(tables));
                size
            }
            "FETCH_ONE" => {
                let first = tables.into_iter().next();
                let size = usize::from(first.is_some());
                out.insert("table".into(), first.unwrap_or(Value::Null));
                size
            }
            "STORE" => {
                let mut ion = String::new();
                for table in &tables {
                    if let Value::Object(fields) = table {
                        ion.push_str(&crate::flow::pebble::convert::ion_struct(fields.iter().map(|(k, v)| (k.as_str(), v))));
                        ion.push('\n');
                    }
                }
                let uri = Storage::execution_uri(&ctx.namespace, &ctx.flow_id, &ctx.execution_id, &format!("{}-tables.ion", ctx.task_id));
                ctx.storage.write(&uri, ion.as_bytes()).await?;
                out.insert("uri".into(), json!(uri));
                tables.len()
            }
            "NONE" => tables.len(),
            other => return Err(ctx.invalid(format!("fetchType {other} is not FETCH, FETCH_ONE, STORE or NONE"))),
        };
        ctx.info(format!("Found {size} table(s) in schema '{catalog}.{schema}'")).await;
        out.insert("size".into(), json!(size));
        Ok(())
    }

    async fn grants(ctx: &TaskContext, client: &DatabricksClient, op: Op, out: &mut Outputs) -> Result<(), TaskError> {
        let kind = required(ctx, "securableType")?.trim().to_lowercase().replace(' ', "_");
        let full = required(ctx, "fullName")?;
        let path = ApiPath::from(BASE).segment("permissions").segment(kind.clone()).segment(full.clone());
        let answer = if op == Op::GrantGet {
            let query: Vec<(&str, String)> = ctx.text("principal")?.map(|p| vec![("principal", p)]).unwrap_or_default();
            client.call(Method::GET, &path, &query, None).await?
        } else {
            let changes = ctx.prop("changes")?.as_array().cloned().unwrap_or_default();
            if changes.is_empty() {
                return Err(ctx.invalid("`changes` needs at least one change"));
            }
            let mut sent = Vec::new();
            for change in &changes {
                let principal = change["principal"].as_str().filter(|p| !p.is_empty()).ok_or_else(|| ctx.invalid("each change needs a `principal`"))?;
                let mut one = json!({"principal": principal});
                for key in ["add", "remove"] {
                    let mut privileges = Vec::new();
                    for value in change[key].as_array().into_iter().flatten() {
                        let raw = value.as_str().unwrap_or_default();
                        let privilege = raw.trim().to_uppercase().replace(' ', "_");
                        if !super::PRIVILEGES.contains(&privilege.as_str()) {
                            return Err(ctx.invalid(format!("Unknown Unity Catalog privilege '{raw}'")));
                        }
                        privileges.push(privilege);
                    }
                    if !privileges.is_empty() {
                        one[key] = json!(privileges);
                    }
                }
                sent.push(one);
            }
            let answer = client.call(Method::PATCH, &path, &[], Some(&json!({"changes": sent}))).await?;
            ctx.info(format!("Updated permissions on {kind} '{full}'")).await;
            answer
        };
        out.insert(
            "privilegeAssignments".into(),
            answer["privilege_assignments"].as_array().cloned().map_or(json!([]), Value::Array),
        );
        Ok(())
    }
}
