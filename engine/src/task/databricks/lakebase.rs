//! Lakebase, Databricks' managed PostgreSQL: `lakebase.Query`,
//! `lakebase.Batch` and `lakebase.Trigger`. Each connection gets a fresh
//! credential: the workspace is signed in to with the OAuth client
//! (`clientId`, `clientSecret`), `POST /api/2.0/postgres/credentials` for
//! the endpoint gives a token, and PostgreSQL is reached as the client id
//! with the token as password (the host, unless given, from the endpoint).
//! The statements then run as the JDBC PostgreSQL tasks run theirs
//! (task/jdbc): Query is jdbc.postgresql.Query on that connection.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};
use crate::task::jdbc::{
    AFTER_SQL, CONDITIONS, FETCH_SIZE, FETCH_TYPE, INPUTS, PARAMETERS, QUERY_OUTPUTS, SQL,
    STOP_AFTER, TIME_ZONE_ID, TRIGGER_OUTPUTS,
};

/// Lakebase's connection properties, then a type's own.
macro_rules! lakebase {
    ($($p:expr),* $(,)?) => {
        &[
            ex(req("workspaceHost", String, "The Databricks workspace URL, where the credential is minted."), "{{ secret('DATABRICKS_HOST') }}"),
            ex(req("clientId", String, "The OAuth machine-to-machine client id; also the PostgreSQL user."), "{{ secret('DATABRICKS_CLIENT_ID') }}"),
            ex(req("clientSecret", String, "Its secret; use secret('...')."), "{{ secret('DATABRICKS_CLIENT_SECRET') }}"),
            ex(req("endpoint", String, "The Lakebase endpoint, projects/<project>/branches/<branch>/endpoints/<endpoint>."), "projects/mortar/branches/production/endpoints/primary"),
            prop("host", String, "The PostgreSQL host; the endpoint's when unset."),
            def("port", Integer, "5432", "The PostgreSQL port."),
            ex(req("database", String, "The database."), "databricks_postgres"),
            def("ssl", Boolean, "true", "Connect over TLS."),
            def("sslMode", Enum { values: &["DISABLE", "ALLOW", "PREFER", "REQUIRE", "VERIFY_CA", "VERIFY_FULL"] }, "\"REQUIRE\"", "PostgreSQL's sslmode."),
            prop("sslRootCert", String, "The CA certificate (PEM) to check the server with."),
            prop("sslCert", String, "A client certificate (PEM)."),
            prop("sslKey", String, "Its key (PEM, not encrypted)."),
            prop("sslKeyPassword", String, "Accepted for Kestra compatibility; an encrypted key is refused."),
            $($p),*
        ]
    };
}

const PARAMETER_GROUP: &[Property] = &[prop(
    "parameters",
    Any,
    "One row (a list of values), a list of rows, or, when the SQL has one `?`, a list of values each a row.",
)];

pub const QUERY: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.lakebase.Query",
    alias: "databricks.lakebase.Query",
    category: Category::Task,
    doc: "Runs one SQL statement on a Lakebase endpoint with a fresh credential, keeping its rows as fetchType says (`afterSQL` in the same transaction).",
    properties: lakebase![SQL, AFTER_SQL, FETCH_TYPE, FETCH_SIZE, PARAMETERS, TIME_ZONE_ID],
    outputs: QUERY_OUTPUTS,
    run: runner!(|env| run::Lakebase(env.databricks.clone(), run::Kind::Query)),
    check: None,
    aliases: &[],
};

pub const BATCH: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.lakebase.Batch",
    alias: "databricks.lakebase.Batch",
    category: Category::Task,
    doc: "Runs one SQL statement with `?` placeholders for each row of `parameterGroups` or of an Ion file (`from`), `batchSize` rows a round trip, on a Lakebase endpoint.",
    properties: lakebase![
        ex(req("sql", String, "The statement, with a `?` for each value of a row."), "INSERT INTO orders_audit (payload) VALUES (?)"),
        prop("parameterGroups", ObjectList { properties: PARAMETER_GROUP }, "The rows, in groups."),
        prop("from", String, "An Ion file of rows (a record's values in order), such as a Query's STORE."),
        def("batchSize", Integer, "1000", "Rows sent in one round trip."),
    ],
    outputs: &[
        ("rowCount", "The rows run."),
        ("updatedCount", "The rows the statements changed."),
    ],
    run: runner!(|env| run::Lakebase(env.databricks.clone(), run::Kind::Batch)),
    check: None,
    aliases: &[],
};

pub const TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.lakebase.Trigger",
    alias: "databricks.lakebase.Trigger",
    category: Category::Trigger,
    doc: "Runs a query on a Lakebase endpoint every interval (a fresh credential each time) and starts an execution when it returns rows (`{{ trigger.rows }}`); `afterSQL` marks them, in the same transaction.",
    properties: lakebase![
        def("interval", Duration, "\"PT1M\"", "How often the query runs."),
        SQL,
        AFTER_SQL,
        def("fetchType", Enum { values: &["FETCH_ONE", "FETCH", "STORE"] }, "\"FETCH\"", "FETCH: the rows as `{{ trigger.rows }}`; FETCH_ONE: the first as `{{ trigger.row }}`; STORE: an Ion file as `{{ trigger.uri }}`."),
        PARAMETERS,
        TIME_ZONE_ID,
        CONDITIONS,
        INPUTS,
        STOP_AFTER,
    ],
    outputs: TRIGGER_OUTPUTS,
    run: None,
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use serde_json::{Map, Value, json};

    use crate::databricks::ApiPath;
    use crate::task::databricks::run::Databricks;
    use crate::task::jdbc::sql_text::{Dialect, placeholders, positional};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    #[derive(Clone, Copy)]
    pub(super) enum Kind {
        Query,
        Batch,
    }

    pub(super) struct Lakebase(pub(super) Arc<Databricks>, pub(super) Kind);


    fn required(ctx: &TaskContext, name: &str) -> Result<String, TaskError> {
        ctx.text(name)?.ok_or_else(|| ctx.invalid(format!("Missing required Lakebase property: {name}")))
    }

    /// The JDBC PostgreSQL properties of a fresh connection to the endpoint.
    async fn connection(databricks: &Databricks, ctx: &TaskContext) -> Result<Map<String, Value>, TaskError> {
        let endpoint = required(ctx, "endpoint")?;
        let database = required(ctx, "database")?;
        let client_id = required(ctx, "clientId")?;
        let signed_in = ctx.clone().with_properties(json!({
            "host": required(ctx, "workspaceHost")?,
            "authentication": {"clientId": client_id, "clientSecret": required(ctx, "clientSecret")?},
        }));
        let client = databricks.client(&signed_in)?;
        let credential: Value = client.post("/api/2.0/postgres/credentials", &json!({"endpoint": endpoint})).await?;
        let token = credential["token"].as_str().filter(|t| !t.is_empty()).ok_or_else(|| {
            TaskError::Failed(format!("Databricks generateDatabaseCredential returned an empty token for endpoint '{endpoint}'"))
        })?;
        let host = match ctx.text("host")? {
            Some(host) => host,
            None => {
                let found: Value = client.get(ApiPath::from("/api/2.0/postgres").path(&endpoint), &[]).await?;
                found["status"]["hosts"]["host"].as_str().filter(|h| !h.is_empty()).map(str::to_owned).ok_or_else(|| {
                    ctx.invalid(format!("Unable to resolve Lakebase Postgres host from endpoint '{endpoint}'. Set the host property."))
                })?
            }
        };
        let port = ctx.text("port")?.unwrap_or_else(|| "5432".into());
        let url = format!("jdbc:postgresql://{host}:{port}/{database}");
        ctx.log(crate::log::Level::Debug, format!("Opening Lakebase connection to {url} as user {client_id}")).await;
        let mut props = Map::new();
        props.insert("url".into(), json!(url));
        props.insert("username".into(), json!(client_id));
        props.insert("password".into(), json!(token));
        let ssl = !matches!(ctx.prop("ssl")?, Value::Bool(false)) && ctx.text("ssl")?.as_deref() != Some("false");
        props.insert("ssl".into(), json!(ssl));
        // Kestra's sslMode defaults to REQUIRE, whatever `ssl` says.
        props.insert("sslMode".into(), json!(ctx.text("sslMode")?.unwrap_or_else(|| "REQUIRE".into())));
        for name in ["sslRootCert", "sslCert", "sslKey", "sslKeyPassword"] {
            if let Some(value) = ctx.text(name)? {
                props.insert(name.into(), json!(value));
            }
        }
        Ok(props)
    }

    impl Runner for Lakebase {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let mut props = connection(&self.0, ctx).await?;
                match self.1 {
                    Kind::Query => {
                        for name in ["sql", "afterSQL", "fetchType", "fetchSize", "parameters", "timeZoneId"] {
                            if let Some(value) = ctx.properties.get(name).filter(|v| !v.is_null()) {
                                props.insert(name.into(), value.clone());
                            }
                        }
                        let query = ctx
                            .clone()
                            .with_type(Some(&crate::task::jdbc::postgresql::QUERY))
                            .with_properties(Value::Object(props));
                        crate::task::jdbc::run::Query::postgres(false).run(&query).await
                    }
                    Kind::Batch => batch(ctx, props).await,
                }
            })
        }
    }

    /// A parameter group's or a record's values as rows.
    fn rows_of(value: Value, placeholders: usize) -> Vec<Vec<Value>> {
        match value {
            Value::Null => Vec::new(),
            Value::Array(items) if items.is_empty() => Vec::new(),
            Value::Array(items) if items.first().is_some_and(Value::is_array) => items
                .into_iter()
                .map(|row| match row {
                    Value::Array(values) => values,
                    other => vec![other],
                })
                .collect(),
            Value::Array(items) if placeholders == 1 && items.len() != 1 => {
                items.into_iter().map(|v| vec![v]).collect()
            }
            Value::Array(items) => vec![items],
            Value::Object(map) => vec![map.into_iter().map(|(_, v)| v).collect()],
            other => vec![vec![other]],
        }
    }

    async fn batch(ctx: &TaskContext, props: Map<String, Value>) -> Result<Outputs, TaskError> {
        let sql = required(ctx, "sql")?;
        let wanted = placeholders(&sql);
        let size = ctx.text("batchSize")?
            .map(|n| n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| ctx.invalid(format!("batchSize {n} is not a number of rows"))))
            .transpose()?
            .unwrap_or(1000);
        let mut rows: Vec<Vec<Value>> = Vec::new();
        for group in ctx.prop("parameterGroups")?.as_array().cloned().unwrap_or_default() {
            let parameters = match &group["parameters"] {
                Value::String(s) if s.trim_start().starts_with('[') => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
                other => other.clone(),
            };
            rows.extend(rows_of(parameters, wanted));
        }
        if let Some(from) = ctx.text("from")? {
            let (file, _) = ctx.storage.open(&from).await?;
            let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(file));
            while let Some(line) = lines.next_line().await.map_err(|e| TaskError::Failed(format!("reading {from}: {e}")))? {
                if line.trim().is_empty() {
                    continue;
                }
                // A record's values in its fields' order.
                let (record, fields) = crate::flow::pebble::convert::ion_fields(&line).map_err(|e| TaskError::Failed(format!("{from}: {e}")))?;
                let record = match fields {
                    Some(fields) => Value::Array(fields.into_iter().map(|(_, v)| v).collect()),
                    None => record,
                };
                rows.extend(rows_of(record, wanted));
            }
        }
        if rows.is_empty() {
            return Err(ctx.invalid("Batch requires parameterGroups or from with at least one row"));
        }
        if let Some(bad) = rows.iter().find(|r| wanted > 0 && r.len() != wanted) {
            return Err(ctx.invalid(format!("Parameter row has {} value(s) but SQL has {wanted} placeholder(s)", bad.len())));
        }
        // Each round trip sends `batchSize` statements, the values literals
        // (as the JDBC tasks write `:name` parameters), in one transaction.
        let connect = ctx
            .clone()
            .with_type(Some(&crate::task::jdbc::postgresql::QUERY))
            .with_properties(Value::Object(props));
        let options = crate::task::jdbc::run::postgres_options(&connect)?;
        let mut conn = {
            use sqlx::Connection;
            sqlx::PgConnection::connect_with(&options)
                .await
                .map_err(|e| TaskError::Failed(format!("cannot connect to Lakebase at {}:{}: {e}", options.get_host(), options.get_port())))?
        };
        let mut updated = 0u64;
        for chunk in rows.chunks(size) {
            if ctx.cancel.is_cancelled() {
                return Err(TaskError::Killed);
            }
            let statements: Vec<String> = chunk.iter().map(|row| positional(&sql, row, Dialect::Postgres)).collect();
            // Only the statement and literals quoted by `positional` are sent.
            let done = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("BEGIN;\n{};\nCOMMIT", statements.join(";\n"))))
                .execute(&mut conn)
                .await
                .map_err(|e| TaskError::Failed(format!("the batch failed: {e}")))?;
            updated += done.rows_affected();
        }
        let mut out = Outputs::new();
        out.insert("rowCount".into(), json!(rows.len()));
        out.insert("updatedCount".into(), json!(updated));
        Ok(out)
    }
}
