//! `sql.Query`: the SQL Statement Execution API. Submits, polls to the end,
//! fetches every chunk, and returns one row, all rows, or a file of rows.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, prop, req, runner};

use super::databricks;

/// What `sql.Query` does with the rows.
const FETCH_TYPES: &[&str] = &["FETCH_ONE", "FETCH", "STORE", "NONE"];

pub const QUERY: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.sql.Query",
    alias: "databricks.sql.Query",
    category: Category::Task,
    doc: "Runs a SQL statement on a SQL warehouse (the default warehouse when none is named).",
    properties: databricks![
        ex(req("sql", String, "The statement."), "SELECT 1"),
        prop(
            "httpPath",
            String,
            "The warehouse as /sql/1.0/warehouses/<id>, or an all-purpose cluster as sql/protocolv1/o/<workspace>/<cluster-id> (the statement then runs through the Command Execution API, the cluster started if terminated)."
        ),
        prop("warehouseId", String, "The warehouse's id."),
        prop(
            "catalog",
            String,
            "The default catalog (on a warehouse; on a cluster, qualify the names)."
        ),
        prop(
            "schema",
            String,
            "The default schema (on a warehouse; on a cluster, qualify the names)."
        ),
        prop(
            "parameters",
            Map,
            "Named parameters (:name in the statement)."
        ),
        def(
            "fetchType",
            Enum {
                values: FETCH_TYPES
            },
            "\"STORE\"",
            "FETCH_ONE: the first row as `row`; FETCH: every row as `rows`; STORE: a file as `uri`; NONE."
        ),
        prop(
            "accessToken",
            String,
            "Kestra's token property; same as authentication.token."
        ),
        prop("properties", Map, "Accepted for Kestra compatibility."),
        prop("timeZoneId", String, "Accepted for Kestra compatibility."),
    ],
    outputs: &[
        ("row", "The first row (FETCH_ONE)."),
        ("rows", "Every row (FETCH)."),
        ("uri", "The rows as a file (STORE)."),
        ("size", "The number of rows."),
    ],
    run: runner!(|env| run::Query(env.databricks.clone())),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use serde_json::{Value, json};

    use crate::databricks::{ApiPath, DatabricksClient};
    use crate::storage::Storage;
    use crate::task::databricks::run::{Databricks, wait_for};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct Query(pub(super) Arc<Databricks>);

    impl Runner for Query {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let props = &ctx.properties;
                let fetch = props["fetchType"]
                    .as_str()
                    .unwrap_or("STORE")
                    .to_ascii_uppercase();
                if !super::FETCH_TYPES.contains(&fetch.as_str()) {
                    return Err(ctx.invalid(format!(
                        "fetchType {fetch} is not FETCH_ONE, FETCH, STORE or NONE"
                    )));
                }
                let cluster = props["httpPath"].as_str().and_then(cluster_of).or_else(|| {
                    ctx.checkpoint
                        .as_ref()
                        .and_then(|c| c["cluster_id"].as_str())
                        .map(str::to_owned)
                });
                let (response, ran) = if let Some(cluster) = cluster {
                    self.on_cluster(&client, ctx, &cluster).await?
                } else {
                    let statement_id = match ctx
                        .checkpoint
                        .as_ref()
                        .and_then(|c| c["statement_id"].as_str())
                    {
                        Some(id) => {
                            ctx.info(format!(
                                "re-attaching to statement {id} started before a restart"
                            ))
                            .await;
                            id.to_owned()
                        }
                        None => {
                            let sql = props["sql"]
                                .as_str()
                                .filter(|s| !s.trim().is_empty())
                                .ok_or_else(|| ctx.invalid("sql is required"))?;
                            let warehouse = self.warehouse(&client, ctx).await?;
                            let mut body = json!({
                                "statement": sql,
                                "warehouse_id": warehouse,
                                // Asynchronous: the id comes back at once, so it is
                                // checkpointed (and cancellable) before the query runs long.
                                "wait_timeout": "0s",
                                "on_wait_timeout": "CONTINUE",
                                "disposition": "INLINE",
                                "format": "JSON_ARRAY",
                            });
                            for key in ["catalog", "schema"] {
                                if let Some(value) = props[key].as_str() {
                                    body[key] = json!(value);
                                }
                            }
                            if let Some(parameters) = props["parameters"].as_object() {
                                body["parameters"] = Value::Array(
                                    parameters
                                        .iter()
                                        .map(|(name, value)| match value {
                                            Value::Null => json!({"name": name}),
                                            Value::String(s) => json!({"name": name, "value": s}),
                                            other => {
                                                json!({"name": name, "value": other.to_string()})
                                            }
                                        })
                                        .collect(),
                                );
                            }
                            let response: Value =
                                client.post("/api/2.0/sql/statements", &body).await?;
                            let id = response["statement_id"]
                                .as_str()
                                .ok_or_else(|| {
                                    TaskError::Failed(format!(
                                        "the statement was not accepted: {response}"
                                    ))
                                })?
                                .to_owned();
                            ctx.checkpoint(&json!({"statement_id": id})).await?;
                            id
                        }
                    };
                    let path =
                        ApiPath::from("/api/2.0/sql/statements").segment(statement_id.as_str());
                    let response = wait_for(ctx, "the statement", None, || {
                        let (client, path) = (client.clone(), path.clone());
                        async move {
                            let response: Value = client.get(path, &[]).await?;
                            match response["status"]["state"].as_str().unwrap_or("") {
                                "SUCCEEDED" => Ok(Some(response)),
                                "FAILED" => {
                                    let error = &response["status"]["error"];
                                    Err(TaskError::Failed(format!(
                                        "the statement failed: {}{}",
                                        error["error_code"]
                                            .as_str()
                                            .map(|c| format!("{c}: "))
                                            .unwrap_or_default(),
                                        error["message"].as_str().unwrap_or("no message")
                                    )))
                                }
                                "CANCELED" => {
                                    Err(TaskError::Failed("the statement was cancelled".into()))
                                }
                                "CLOSED" => Err(TaskError::Failed(
                                    "the statement's result is closed (no longer available)".into(),
                                )),
                                _ => Ok(None),
                            }
                        }
                    })
                    .await?;
                    let ran = format!("statement {statement_id}");
                    (response, ran)
                };
                let columns: Vec<(String, String)> = response["manifest"]["schema"]["columns"]
                    .as_array()
                    .map(|columns| {
                        columns
                            .iter()
                            .map(|c| {
                                (
                                    c["name"].as_str().unwrap_or("").to_owned(),
                                    c["type_name"].as_str().unwrap_or("STRING").to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut outputs = Outputs::new();
                outputs.insert(
                    "columns".into(),
                    Value::Array(
                        columns
                            .iter()
                            .map(|(name, kind)| json!({"name": name, "type": kind}))
                            .collect(),
                    ),
                );
                let total = response["manifest"]["total_row_count"].as_u64();
                match fetch.as_str() {
                    "NONE" => {}
                    "FETCH_ONE" => {
                        let first = response["result"]["data_array"]
                            .as_array()
                            .and_then(|rows| rows.first())
                            .cloned();
                        outputs.insert(
                            "row".into(),
                            first.map_or(Value::Null, |row| to_object(&columns, &row)),
                        );
                    }
                    _ => {
                        let mut rows = Vec::new();
                        // STORE writes Ion, Kestra's format between tasks:
                        // one struct a line, the columns in their order.
                        let mut ion = String::new();
                        let mut count = 0usize;
                        let mut chunk = response["result"].clone();
                        loop {
                            for row in chunk["data_array"].as_array().into_iter().flatten() {
                                if fetch == "STORE" {
                                    let fields = typed(&columns, row);
                                    ion.push_str(&crate::flow::pebble::convert::ion_struct(
                                        fields.iter().map(|(k, v)| (k.as_str(), v)),
                                    ));
                                    ion.push('\n');
                                } else {
                                    rows.push(to_object(&columns, row));
                                }
                                count += 1;
                            }
                            let Some(next) = chunk["next_chunk_internal_link"]
                                .as_str()
                                .map(str::to_owned)
                            else {
                                break;
                            };
                            chunk = client.get_link(&next).await?;
                        }
                        if fetch == "STORE" {
                            let uri = Storage::execution_uri(
                                &ctx.namespace,
                                &ctx.flow_id,
                                &ctx.execution_id,
                                &format!("{}-result.ion", ctx.task_id),
                            );
                            ctx.storage.write(&uri, ion.as_bytes()).await?;
                            outputs.insert("uri".into(), json!(uri));
                        } else {
                            outputs.insert("rows".into(), Value::Array(rows.clone()));
                        }
                        outputs.insert("size".into(), json!(count));
                    }
                }
                if fetch == "NONE" || fetch == "FETCH_ONE" {
                    outputs.insert("size".into(), json!(total.unwrap_or(0)));
                }
                ctx.info(format!("{ran} returned {} rows", total.unwrap_or(0)))
                    .await;
                Ok(outputs)
            })
        }

        fn cancel<'a>(
            &'a self,
            ctx: &'a TaskContext,
            checkpoint: &'a Value,
        ) -> BoxFuture<'a, Result<(), TaskError>> {
            Box::pin(async move {
                if let (Some(cluster), Some(context), Some(command)) = (
                    checkpoint["cluster_id"].as_str(),
                    checkpoint["context_id"].as_str(),
                    checkpoint["command_id"].as_str(),
                ) {
                    let client = self.0.client(ctx)?;
                    client
                        .post::<_, Value>(
                            "/api/1.2/commands/cancel",
                            &json!({"clusterId": cluster, "contextId": context, "commandId": command}),
                        )
                        .await?;
                    let _ = client
                        .post::<_, Value>(
                            "/api/1.2/contexts/destroy",
                            &json!({"clusterId": cluster, "contextId": context}),
                        )
                        .await;
                    ctx.info(format!("cancelled command {command} on cluster {cluster}"))
                        .await;
                    return Ok(());
                }
                let Some(id) = checkpoint["statement_id"].as_str() else {
                    return Ok(());
                };
                let client = self.0.client(ctx)?;
                client
                    .post::<_, Value>(
                        ApiPath::from("/api/2.0/sql/statements")
                            .segment(id)
                            .segment("cancel"),
                        &json!({}),
                    )
                    .await?;
                ctx.info(format!("cancelled statement {id}")).await;
                Ok(())
            })
        }
    }

    /// The cluster of an all-purpose cluster's `httpPath`
    /// (`sql/protocolv1/o/<workspace>/<cluster-id>`, as Databricks shows it
    /// for JDBC), None for a warehouse's.
    pub(super) fn cluster_of(http_path: &str) -> Option<String> {
        let parts: Vec<&str> = http_path
            .trim_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        match parts.as_slice() {
            ["sql", "protocolv1", "o", _, cluster] => Some((*cluster).to_owned()),
            _ => None,
        }
    }

    /// Spark's type names in a command's schema (`"long"`), as the
    /// Statement Execution API names them (`LONG`).
    fn statement_type(spark: &str) -> String {
        let name = spark.trim_matches('"').to_ascii_lowercase();
        match name.as_str() {
            "integer" => "INT".into(),
            "long" | "bigint" => "LONG".into(),
            "short" | "smallint" => "SHORT".into(),
            "byte" | "tinyint" => "BYTE".into(),
            "float" => "FLOAT".into(),
            "double" => "DOUBLE".into(),
            "boolean" => "BOOLEAN".into(),
            other if other.starts_with("decimal") => "DECIMAL".into(),
            other => other.to_ascii_uppercase(),
        }
    }

    impl Query {
        /// Runs the statement on an all-purpose cluster through the Command
        /// Execution API (an SQL context, the command, its status), as the
        /// JDBC driver does for a cluster's httpPath: a terminated cluster
        /// is started first. Returns the result shaped as the Statement
        /// Execution API's (so one path makes the outputs) and what ran.
        async fn on_cluster(
            &self,
            client: &DatabricksClient,
            ctx: &TaskContext,
            cluster: &str,
        ) -> Result<(Value, String), TaskError> {
            let props = &ctx.properties;
            let (context, command) = match ctx.checkpoint.as_ref().and_then(|c| {
                Some((
                    c["context_id"].as_str()?.to_owned(),
                    c["command_id"].as_str()?.to_owned(),
                ))
            }) {
                Some(ids) => {
                    ctx.info(format!(
                        "re-attaching to command {} on cluster {cluster} started before a restart",
                        ids.1
                    ))
                    .await;
                    ids
                }
                None => {
                    let sql = props["sql"]
                        .as_str()
                        .filter(|s| !s.trim().is_empty())
                        .ok_or_else(|| ctx.invalid("sql is required"))?;
                    let sql = match props["parameters"].as_object() {
                        Some(parameters) => crate::task::jdbc::sql_text::bind(
                            sql,
                            parameters,
                            crate::task::jdbc::sql_text::Dialect::Spark,
                        ),
                        None => sql.to_owned(),
                    };
                    running_cluster(client, ctx, cluster).await?;
                    let created: Value = client
                        .post(
                            "/api/1.2/contexts/create",
                            &json!({"clusterId": cluster, "language": "sql"}),
                        )
                        .await?;
                    let context = created["id"]
                        .as_str()
                        .ok_or_else(|| {
                            TaskError::Failed(format!(
                                "no SQL context on cluster {cluster}: {created}"
                            ))
                        })?
                        .to_owned();
                    wait_for(ctx, "the SQL context", None, || {
                        let (client, context) = (client.clone(), context.clone());
                        async move {
                            let status: Value = client
                                .get(
                                    "/api/1.2/contexts/status",
                                    &[("clusterId", cluster.to_owned()), ("contextId", context)],
                                )
                                .await?;
                            match status["status"].as_str().unwrap_or("") {
                                "Running" => Ok(Some(())),
                                "Error" => Err(TaskError::Failed(format!(
                                    "the SQL context on cluster {cluster} failed: {status}"
                                ))),
                                _ => Ok(None),
                            }
                        }
                    })
                    .await?;
                    let body = json!({
                        "clusterId": cluster,
                        "contextId": context,
                        "language": "sql",
                        "command": sql,
                    });
                    let started: Value = client.post("/api/1.2/commands/execute", &body).await?;
                    let command = started["id"]
                        .as_str()
                        .ok_or_else(|| {
                            TaskError::Failed(format!("the command was not accepted: {started}"))
                        })?
                        .to_owned();
                    ctx.checkpoint(&json!({"cluster_id": cluster, "context_id": context, "command_id": command}))
                        .await?;
                    (context, command)
                }
            };
            let status = wait_for(ctx, "the command", None, || {
                let (client, context, command) = (client.clone(), context.clone(), command.clone());
                async move {
                    let status: Value = client
                        .get(
                            "/api/1.2/commands/status",
                            &[
                                ("clusterId", cluster.to_owned()),
                                ("contextId", context),
                                ("commandId", command),
                            ],
                        )
                        .await?;
                    match status["status"].as_str().unwrap_or("") {
                        "Finished" => Ok(Some(status)),
                        "Cancelled" => Err(TaskError::Failed("the command was cancelled".into())),
                        "Error" => Err(TaskError::Failed(format!("the command failed: {status}"))),
                        _ => Ok(None),
                    }
                }
            })
            .await;
            // The context is the cluster's memory: let it go either way.
            let _ = client
                .post::<_, Value>(
                    "/api/1.2/contexts/destroy",
                    &json!({"clusterId": cluster, "contextId": context}),
                )
                .await;
            let results = status?["results"].take();
            if results["resultType"] == "error" {
                return Err(TaskError::Failed(format!(
                    "the command failed on cluster {cluster}: {}",
                    results["summary"]
                        .as_str()
                        .or(results["cause"].as_str())
                        .unwrap_or("no message")
                )));
            }
            let columns: Vec<Value> = results["schema"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!({"name": c["name"], "type_name": statement_type(c["type"].as_str().unwrap_or("string"))}))
                .collect();
            // Cells as the Statement Execution API gives them: text or null.
            let rows: Vec<Value> = results["data"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|row| {
                    Value::Array(
                        row.as_array()
                            .into_iter()
                            .flatten()
                            .map(|cell| match cell {
                                Value::Null => Value::Null,
                                Value::String(s) => json!(s),
                                other => json!(other.to_string()),
                            })
                            .collect(),
                    )
                })
                .collect();
            let total = rows.len();
            Ok((
                json!({
                    "manifest": {"schema": {"columns": columns}, "total_row_count": total},
                    "result": {"data_array": rows},
                }),
                format!("command {command} on cluster {cluster}"),
            ))
        }

        /// `warehouseId`, or the id in `httpPath`, or the default: the
        /// server's, else the workspace's first warehouse, started if stopped.
        async fn warehouse(
            &self,
            client: &DatabricksClient,
            ctx: &TaskContext,
        ) -> Result<String, TaskError> {
            if let Some(id) = ctx.prop("warehouseId")?.as_str().filter(|s| !s.is_empty()) {
                return Ok(id.to_owned());
            }
            if let Some(path) = ctx.prop("httpPath")?.as_str().filter(|s| !s.is_empty()) {
                return path
                    .trim_end_matches('/')
                    .rsplit_once("/warehouses/")
                    .map(|(_, id)| id.to_owned())
                    .ok_or_else(|| {
                        ctx.invalid(format!("httpPath {path} is not /sql/1.0/warehouses/<id>"))
                    });
            }
            if let Some(id) = &self.0.default_warehouse {
                return Ok(id.clone());
            }
            let listed: Value = client.get("/api/2.0/sql/warehouses", &[]).await?;
            let first = listed["warehouses"]
                .as_array()
                .and_then(|w| w.first())
                .ok_or_else(|| ctx.invalid("the workspace has no SQL warehouse: set warehouseId, or DATABRICKS_WAREHOUSE_ID on the server"))?;
            let id = first["id"].as_str().unwrap_or_default().to_owned();
            if first["state"] != "RUNNING" {
                ctx.info(format!("starting warehouse {id}")).await;
                client
                    .post::<_, Value>(
                        ApiPath::from("/api/2.0/sql/warehouses")
                            .segment(id.as_str())
                            .segment("start"),
                        &json!({}),
                    )
                    .await?;
                wait_for(ctx, "the warehouse to start", None, || {
                    let (client, id) = (client.clone(), id.clone());
                    async move {
                        let warehouse: Value = client
                            .get(
                                ApiPath::from("/api/2.0/sql/warehouses").segment(id.as_str()),
                                &[],
                            )
                            .await?;
                        match warehouse["state"].as_str().unwrap_or("") {
                            "RUNNING" => Ok(Some(())),
                            "STOPPED" | "DELETED" | "DELETING" => Err(TaskError::Failed(format!(
                                "warehouse {id} did not start: {}",
                                warehouse["state"]
                            ))),
                            _ => Ok(None),
                        }
                    }
                })
                .await?;
            }
            Ok(id)
        }
    }

    /// Waits for `cluster` to run, starting it when it is terminated (as
    /// the JDBC driver's connection does).
    async fn running_cluster(
        client: &DatabricksClient,
        ctx: &TaskContext,
        cluster: &str,
    ) -> Result<(), TaskError> {
        // Whether this task asked the cluster to start: TERMINATED after
        // that means it failed to.
        let asked = std::sync::atomic::AtomicBool::new(false);
        let asked = &asked;
        wait_for(ctx, "the cluster to run", None, || {
            let client = client.clone();
            async move {
                let info: Value = client
                    .get(
                        "/api/2.1/clusters/get",
                        &[("cluster_id", cluster.to_owned())],
                    )
                    .await?;
                let state = info["state"].as_str().unwrap_or("");
                match state {
                    "RUNNING" => Ok(Some(())),
                    "TERMINATED" if !asked.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                        ctx.info(format!("starting cluster {cluster}")).await;
                        client
                            .post::<_, Value>(
                                "/api/2.1/clusters/start",
                                &json!({"cluster_id": cluster}),
                            )
                            .await?;
                        Ok(None)
                    }
                    "TERMINATED" | "ERROR" | "UNKNOWN" => Err(TaskError::Failed(format!(
                        "cluster {cluster} is {state} and did not start: {}",
                        info["state_message"].as_str().unwrap_or("no message")
                    ))),
                    // TERMINATING (then started), PENDING, RESTARTING, RESIZING.
                    _ => Ok(None),
                }
            }
        })
        .await
    }

    /// A row of strings as an object of typed values.
    fn to_object(columns: &[(String, String)], row: &Value) -> Value {
        Value::Object(typed(columns, row).into_iter().collect())
    }

    /// A row's cells by column, in the columns' order, typed by the
    /// column's type.
    fn typed(columns: &[(String, String)], row: &Value) -> Vec<(String, Value)> {
        let mut object = Vec::with_capacity(columns.len());
        for (i, (name, kind)) in columns.iter().enumerate() {
            let cell = &row[i];
            let value = match (cell.as_str(), kind.as_str()) {
                (None, _) => Value::Null,
                (Some(text), "INT" | "LONG" | "SHORT" | "BYTE") => text
                    .parse::<i64>()
                    .map_or_else(|_| json!(text), Value::from),
                (Some(text), "DOUBLE" | "FLOAT" | "DECIMAL") => text
                    .parse::<f64>()
                    .map_or_else(|_| json!(text), Value::from),
                (Some(text), "BOOLEAN") => text
                    .parse::<bool>()
                    .map_or_else(|_| json!(text), Value::from),
                (Some(text), _) => json!(text),
            };
            object.push((name.clone(), value));
        }
        object
    }
}
