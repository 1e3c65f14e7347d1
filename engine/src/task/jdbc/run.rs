//! The JDBC tasks' runners: a connection opened per task run, statements
//! run one by one over the simple query protocol, rows streamed into what
//! `fetchType` keeps; a kill cancels the running statement on the server
//! (PostgreSQL's `pg_cancel_backend`) and rolls the transaction back.

use std::io::Write;
use std::str::FromStr;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Column, Connection, Either, Row, TypeInfo, ValueRef};

use super::sql_text::{self, Dialect};
use crate::executor::working_dir::WorkingDir;
use crate::storage::Storage;
use crate::task::serdes::run::{create, io};
use crate::task::{Outputs, Runner, TaskContext, TaskError};

/// What is kept of a statement's rows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fetch {
    One,
    All,
    Store,
    None,
}

/// `fetchType`, or the deprecated `fetchOne`/`fetch`/`store` flags that
/// come before it, as in Kestra.
fn fetch_type(ctx: &TaskContext) -> Result<Fetch, TaskError> {
    if ctx.flag("fetch", false)? {
        return Ok(Fetch::All);
    }
    if ctx.flag("fetchOne", false)? {
        return Ok(Fetch::One);
    }
    if ctx.flag("store", false)? {
        return Ok(Fetch::Store);
    }
    match ctx
        .prop("fetchType")?
        .as_str()
        .unwrap_or("NONE")
        .to_ascii_uppercase()
        .as_str()
    {
        "FETCH_ONE" => Ok(Fetch::One),
        "FETCH" => Ok(Fetch::All),
        "STORE" => Ok(Fetch::Store),
        "NONE" => Ok(Fetch::None),
        other => Err(ctx.invalid(format!(
            "fetchType {other} is not FETCH_ONE, FETCH, STORE or NONE"
        ))),
    }
}

fn zone(ctx: &TaskContext) -> Result<jiff::tz::TimeZone, TaskError> {
    match ctx.prop("timeZoneId")?.as_str().filter(|z| !z.is_empty()) {
        None => Ok(jiff::tz::TimeZone::UTC),
        Some(name) => jiff::tz::TimeZone::get(name)
            .map_err(|_| ctx.invalid(format!("timeZoneId {name} is not a known time zone"))),
    }
}

fn text_prop<'c>(ctx: &'c TaskContext, name: &str) -> Result<Option<&'c str>, TaskError> {
    Ok(ctx.prop(name)?.as_str().filter(|s| !s.is_empty()))
}

fn failed(what: &str, e: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(format!("{what}: {e}"))
}

/// The rows of one statement, kept as `fetchType` says.
struct Sink {
    fetch: Fetch,
    row: Option<Value>,
    rows: Vec<Value>,
    file: Option<(String, std::io::BufWriter<std::fs::File>)>,
    size: u64,
    /// The URI a STORE file gets.
    uri: String,
}

impl Sink {
    fn new(fetch: Fetch, uri: String) -> Self {
        Self {
            fetch,
            row: None,
            rows: Vec::new(),
            file: None,
            size: 0,
            uri,
        }
    }

    fn store(
        &mut self,
        storage: &Storage,
    ) -> Result<&mut std::io::BufWriter<std::fs::File>, TaskError> {
        if self.file.is_none() {
            let path = storage.path_of(&self.uri)?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            self.file = Some((self.uri.clone(), create(&path)?));
        }
        Ok(&mut self.file.as_mut().expect("just made").1)
    }

    fn push(&mut self, fields: Vec<(String, Value)>, storage: &Storage) -> Result<(), TaskError> {
        self.size += 1;
        match self.fetch {
            Fetch::One => {
                if self.row.is_none() {
                    self.row = Some(Value::Object(fields.into_iter().collect()));
                }
            }
            Fetch::All => self.rows.push(Value::Object(fields.into_iter().collect())),
            Fetch::Store => {
                let line = crate::flow::pebble::convert::ion_struct(
                    fields.iter().map(|(k, v)| (k.as_str(), v)),
                );
                let out = self.store(storage)?;
                out.write_all(line.as_bytes()).map_err(io)?;
                out.write_all(b"\n").map_err(io)?;
            }
            Fetch::None => {}
        }
        Ok(())
    }

    /// The statement's output, as Kestra's AbstractJdbcBaseQuery.Output.
    /// `many`: a statement of Queries, whose FETCH_ONE Kestra counts as
    /// one row found or not; Query counts the row found.
    fn finish(
        mut self,
        storage: &Storage,
        many: bool,
    ) -> Result<(Map<String, Value>, u64), TaskError> {
        let mut out = Map::new();
        match self.fetch {
            Fetch::One => {
                let row = self.row.take();
                self.size = u64::from(many || row.is_some());
                out.insert("row".into(), row.unwrap_or(Value::Null));
                out.insert("size".into(), json!(self.size));
            }
            Fetch::All => {
                out.insert("rows".into(), Value::Array(std::mem::take(&mut self.rows)));
                out.insert("size".into(), json!(self.size));
            }
            Fetch::Store => {
                self.store(storage)?;
                let (uri, mut file) = self.file.take().expect("made above");
                file.flush().map_err(io)?;
                out.insert("uri".into(), json!(uri));
                out.insert("size".into(), json!(self.size));
            }
            Fetch::None => {}
        }
        Ok((out, self.size))
    }
}

/// Adds a column's value; a name already there (`a.id, b.id`) keeps its
/// place and takes the later value, as Kestra's map does.
fn put(fields: &mut Vec<(String, Value)>, name: &str, value: Value) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(field) => field.1 = value,
        None => fields.push((name.to_owned(), value)),
    }
}

/// An open connection.
enum Db {
    Postgres {
        conn: sqlx::PgConnection,
        options: Box<PgConnectOptions>,
        pid: String,
    },
    Sqlite {
        conn: sqlx::SqliteConnection,
        /// The database file, when it is one (for `outputDbFile`).
        file: Option<std::path::PathBuf>,
    },
}

impl Db {
    /// Runs one statement, each row into `sink`.
    async fn run(
        &mut self,
        statement: &str,
        sink: &mut Sink,
        zone: &jiff::tz::TimeZone,
        storage: &Storage,
    ) -> Result<(), TaskError> {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self {
            Db::Postgres { conn, .. } => {
                let mut stream = sqlx::raw_sql(statement).fetch_many(&mut *conn);
                while let Some(item) = stream.try_next().await.map_err(db_error)? {
                    if let Either::Right(row) = item {
                        let mut fields = Vec::with_capacity(row.columns().len());
                        for (i, column) in row.columns().iter().enumerate() {
                            let raw = row.try_get_raw(i).map_err(db_error)?;
                            let value = if raw.is_null() {
                                Value::Null
                            } else {
                                let text =
                                    raw.as_str().map_err(|e| failed("reading a value", e))?;
                                super::values::postgres(column.type_info().name(), text, zone)
                            };
                            put(&mut fields, column.name(), value);
                        }
                        sink.push(fields, storage)?;
                    }
                }
            }
            Db::Sqlite { conn, .. } => {
                let mut stream = sqlx::raw_sql(statement).fetch_many(&mut *conn);
                while let Some(item) = stream.try_next().await.map_err(db_error)? {
                    if let Either::Right(row) = item {
                        let mut fields = Vec::with_capacity(row.columns().len());
                        for (i, column) in row.columns().iter().enumerate() {
                            let raw = row.try_get_raw(i).map_err(db_error)?;
                            let kind = raw.type_info().name().to_owned();
                            let value = match kind.as_str() {
                                _ if raw.is_null() => Value::Null,
                                "INTEGER" => {
                                    json!(row.try_get_unchecked::<i64, _>(i).map_err(db_error)?)
                                }
                                "REAL" => serde_json::Number::from_f64(
                                    row.try_get_unchecked::<f64, _>(i).map_err(db_error)?,
                                )
                                .map_or(Value::Null, Value::Number),
                                "BLOB" => {
                                    use base64::Engine as _;
                                    json!(base64::engine::general_purpose::STANDARD.encode(
                                        row.try_get_unchecked::<Vec<u8>, _>(i).map_err(db_error)?
                                    ))
                                }
                                _ => {
                                    json!(row.try_get_unchecked::<String, _>(i).map_err(db_error)?)
                                }
                            };
                            put(&mut fields, column.name(), value);
                        }
                        sink.push(fields, storage)?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn plain(&mut self, statement: &'static str) -> Result<(), TaskError> {
        match self {
            Db::Postgres { conn, .. } => sqlx::raw_sql(statement).execute(&mut *conn).await,
            Db::Sqlite { conn, .. } => sqlx::raw_sql(statement)
                .execute(&mut *conn)
                .await
                .map(|_| Default::default()),
        }
        .map(|_| ())
        .map_err(db_error)
    }

    /// What cancels the running statement from another connection.
    fn canceller(&self) -> Option<(PgConnectOptions, String)> {
        match self {
            Db::Postgres { options, pid, .. } => Some(((**options).clone(), pid.clone())),
            Db::Sqlite { .. } => None,
        }
    }
}

/// The database's own message (`relation "x" does not exist`), with
/// PostgreSQL's position and hint when it gives them.
fn db_error(e: sqlx::Error) -> TaskError {
    match &e {
        sqlx::Error::Database(db) => {
            let mut message = db.message().to_owned();
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    message.push_str(&format!(" ({detail})"));
                }
                if let Some(hint) = pg.hint() {
                    message.push_str(&format!("; hint: {hint}"));
                }
                message.push_str(&format!(" [SQLSTATE {}]", pg.code()));
            }
            TaskError::Failed(message)
        }
        _ => TaskError::Failed(e.to_string()),
    }
}

/// Cancels backend `pid`'s statement through a new connection.
async fn cancel_backend(options: PgConnectOptions, pid: String) {
    if let Ok(mut conn) = sqlx::PgConnection::connect_with(&options).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SELECT pg_cancel_backend({pid})"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }
}

/// A JDBC URL's parts: `jdbc:postgresql://host:port/db?k=v`.
pub(crate) fn postgres_options(ctx: &TaskContext) -> Result<PgConnectOptions, TaskError> {
    let written = text_prop(ctx, "url")?
        .ok_or_else(|| ctx.invalid("url is required: jdbc:postgresql://host:port/database"))?;
    let bad = || {
        ctx.invalid(format!(
            "url {written} is not jdbc:postgresql://host[:port]/database"
        ))
    };
    let rest = written.strip_prefix("jdbc:").unwrap_or(written);
    let rest = rest
        .strip_prefix("postgresql:")
        .or_else(|| rest.strip_prefix("postgres:"))
        .filter(|r| r.starts_with("//"))
        .ok_or_else(bad)?;
    let url = url::Url::parse(&format!("postgresql:{rest}")).map_err(|_| bad())?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let params: Map<String, Value> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), json!(v.into_owned())))
        .collect();
    let param = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let decoded = |text: &str| percent_decode(text);
    let username = text_prop(ctx, "username")?
        .map(str::to_owned)
        .or_else(|| param("user").map(str::to_owned))
        .or_else(|| (!url.username().is_empty()).then(|| decoded(url.username())))
        .unwrap_or_else(|| "postgres".to_owned());
    let database = url.path().trim_start_matches('/');
    let database = if database.is_empty() {
        username.clone()
    } else {
        decoded(database)
    };
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(host.trim_matches(['[', ']']))
        .port(url.port().unwrap_or(5432))
        .username(&username)
        .database(&database);
    if let Some(password) = text_prop(ctx, "password")?
        .map(str::to_owned)
        .or_else(|| param("password").map(str::to_owned))
        .or_else(|| url.password().map(decoded))
    {
        options = options.password(&password);
    }
    let mode = match text_prop(ctx, "sslMode")?.map(str::to_owned).or_else(|| param("sslmode").map(str::to_owned)) {
        Some(mode) => PgSslMode::from_str(&mode.to_ascii_lowercase().replace('_', "-"))
            .map_err(|_| ctx.invalid(format!("sslMode {mode} is not one of DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA, VERIFY_FULL")))?,
        None if ctx.flag("ssl", false)? || param("ssl") == Some("true") => PgSslMode::Require,
        None => PgSslMode::Disable,
    };
    options = options.ssl_mode(mode);
    for (name, value) in [("sslRootCert", 0), ("sslCert", 1), ("sslKey", 2)] {
        let Some(given) = text_prop(ctx, name)? else {
            continue;
        };
        let pem = given.contains("-----BEGIN");
        options = match (value, pem) {
            (0, true) => options.ssl_root_cert_from_pem(given.as_bytes().to_vec()),
            (0, false) => options.ssl_root_cert(given),
            (1, true) => options.ssl_client_cert_from_pem(given.as_bytes()),
            (1, false) => options.ssl_client_cert(given),
            (_, true) => options.ssl_client_key_from_pem(given.as_bytes()),
            (_, false) => options.ssl_client_key(given),
        };
    }
    if let Some(schema) = param("currentSchema") {
        options = options.options([("search_path", schema)]);
    }
    options = options.application_name(param("ApplicationName").unwrap_or("mortar"));
    Ok(options)
}

/// A URL part percent-decoded (`p%40ss` is `p@ss`; a `+` stays a `+`).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

async fn connect_postgres(ctx: &TaskContext) -> Result<Db, TaskError> {
    let options = postgres_options(ctx)?;
    let place = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    );
    let mut conn = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(|e| TaskError::Failed(format!("cannot connect to PostgreSQL at {place}: {e}")))?;
    let pid: (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .map_err(db_error)?;
    Ok(Db::Postgres {
        conn,
        options: Box::new(options),
        pid: pid.0.to_string(),
    })
}

/// The SQLite database the task uses: the url's file (a relative one in
/// the working directory), `sqliteFile` copied under its name, or memory.
async fn connect_sqlite(ctx: &TaskContext, dir: &WorkingDir) -> Result<Db, TaskError> {
    let written = text_prop(ctx, "url")?.unwrap_or("jdbc:sqlite:");
    let path = written
        .strip_prefix("jdbc:sqlite:")
        .ok_or_else(|| ctx.invalid(format!("url {written} is not jdbc:sqlite:<file>")))?
        .split('?')
        .next()
        .unwrap_or("")
        .trim();
    let memory = path.is_empty()
        || path == ":memory:"
        || path.starts_with("file::memory:")
        || (path.starts_with("file:") && path.contains("mode=memory"));
    let source = text_prop(ctx, "sqliteFile")?;
    let output = ctx.flag("outputDbFile", false)?;
    let file = if source.is_some() || output {
        let name = if memory {
            format!("{}.sqlite", ctx.task_run_id)
        } else {
            std::path::Path::new(path.trim_start_matches("file:"))
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| ctx.invalid(format!("url {written} names no file")))?
        };
        Some(dir.path().join(name))
    } else if memory {
        None
    } else {
        Some(dir.path().join(path.trim_start_matches("file:")))
    };
    if let Some(uri) = source {
        let target = file.as_ref().expect("a file when sqliteFile is set");
        let from = ctx
            .storage
            .path_of(uri)
            .map_err(|e| ctx.invalid(format!("sqliteFile: {e}")))?;
        tokio::fs::copy(&from, target)
            .await
            .map_err(|e| TaskError::Failed(format!("sqliteFile: cannot read {uri}: {e}")))?;
    }
    let options = match &file {
        Some(file) => SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true),
        None => {
            SqliteConnectOptions::from_str("sqlite::memory:").map_err(|e| failed("sqlite", e))?
        }
    };
    let conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| {
            TaskError::Failed(format!("cannot open the SQLite database {written}: {e}"))
        })?;
    Ok(Db::Sqlite { conn, file })
}

/// Query and Queries, on either database.
pub(crate) struct Query {
    dialect: Dialect,
    many: bool,
}

impl Query {
    pub(crate) const fn postgres(many: bool) -> Self {
        Self {
            dialect: Dialect::Postgres,
            many,
        }
    }

    pub(crate) const fn sqlite(many: bool) -> Self {
        Self {
            dialect: Dialect::Sqlite,
            many,
        }
    }
}

impl Runner for Query {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let fetch = fetch_type(ctx)?;
            let zone = zone(ctx)?;
            let parameters = match ctx.prop("parameters")? {
                Value::Null => Map::new(),
                Value::Object(map) => map.clone(),
                other => {
                    return Err(ctx.invalid(format!(
                        "parameters: a mapping of names to values, not {other}"
                    )));
                }
            };
            // SQLite's file and outputFiles live in the working directory.
            let dir = match (&ctx.working_dir, self.dialect) {
                (_, Dialect::Postgres) => None,
                (Some(path), _) => Some(WorkingDir::existing(path.clone())),
                (None, _) => Some(
                    WorkingDir::create(&ctx.task_run_id)
                        .await
                        .map_err(TaskError::Failed)?,
                ),
            };
            let mut output_files = Map::new();
            let sql = match &dir {
                Some(dir) => {
                    for name in ctx.prop("outputFiles")?.as_array().into_iter().flatten() {
                        let name = name.as_str().unwrap_or_default();
                        let path = dir.path().join(name);
                        if !path.starts_with(dir.path()) || name.is_empty() {
                            return Err(ctx.invalid(format!(
                                "outputFiles: {name} is not a file name in the working directory"
                            )));
                        }
                        output_files.insert(name.to_owned(), json!(path.to_string_lossy()));
                    }
                    ctx.render_item("sql", &json!({"outputFiles": output_files}))?
                }
                None => ctx.prop("sql")?.clone(),
            };
            let sql = sql
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| ctx.invalid("sql is required"))?
                .to_owned();
            let statements = sql_text::split(&sql);
            if statements.is_empty() {
                return Err(ctx.invalid("sql holds no statement"));
            }
            if !self.many && statements.len() > 1 {
                return Err(ctx.invalid(format!(
                    "Query runs a single SQL statement and this sql holds {}; use the Queries task to run several",
                    statements.len()
                )));
            }
            let after = match text_prop(ctx, "afterSQL")? {
                Some(text) => {
                    let mut after = sql_text::split(text);
                    if after.len() > 1 {
                        return Err(ctx.invalid("afterSQL runs a single SQL statement; use the Queries task to run several"));
                    }
                    after.pop()
                }
                None => None,
            };
            let transaction = if self.many {
                ctx.flag("transaction", true)?
            } else {
                after.is_some()
            };

            let mut db = match (self.dialect, &dir) {
                (Dialect::Postgres, _) => connect_postgres(ctx).await?,
                (Dialect::Sqlite, Some(dir)) => connect_sqlite(ctx, dir).await?,
                _ => unreachable!("Query runs on PostgreSQL, or on SQLite in a working directory"),
            };
            let canceller = db.canceller();
            let work = async {
                if transaction {
                    db.plain("BEGIN").await?;
                }
                let ran = async {
                    let mut results = Vec::new();
                    let mut total = 0u64;
                    for (n, statement) in statements.iter().enumerate() {
                        let statement = sql_text::bind(statement, &parameters, self.dialect);
                        let name = if statements.len() > 1 {
                            format!("{}-{}-{n}.ion", ctx.task_id, ctx.task_run_id)
                        } else {
                            format!("{}-{}.ion", ctx.task_id, ctx.task_run_id)
                        };
                        let uri = Storage::execution_uri(
                            &ctx.namespace,
                            &ctx.flow_id,
                            &ctx.execution_id,
                            &name,
                        );
                        let mut sink = Sink::new(fetch, uri);
                        db.run(&statement, &mut sink, &zone, &ctx.storage).await?;
                        if sink.size > 0 || sql_text::returns_rows(&statement) {
                            let (out, size) = sink.finish(&ctx.storage, self.many)?;
                            total += size;
                            results.push(out);
                        }
                    }
                    if let Some(after) = &after {
                        let after = sql_text::bind(after, &parameters, self.dialect);
                        db.run(
                            &after,
                            &mut Sink::new(Fetch::None, String::new()),
                            &zone,
                            &ctx.storage,
                        )
                        .await
                        .map_err(|e| TaskError::Failed(format!("afterSQL: {e}")))?;
                    }
                    Ok::<_, TaskError>((results, total))
                }
                .await;
                match ran {
                    Ok(done) => {
                        if transaction {
                            db.plain("COMMIT").await?;
                        }
                        Ok(done)
                    }
                    Err(e) => {
                        if transaction {
                            let _ = db.plain("ROLLBACK").await;
                        }
                        Err(e)
                    }
                }
            };
            let (results, total) = killable(ctx, canceller, "statement", work).await?;
            let store = if fetch == Fetch::Store {
                "true"
            } else {
                "false"
            };
            let fetched = if matches!(fetch, Fetch::One | Fetch::All) {
                "true"
            } else {
                "false"
            };
            ctx.metrics([(
                "counter",
                "fetch.size".to_owned(),
                total as f64,
                [
                    ("fetch".to_owned(), fetched.to_owned()),
                    ("store".to_owned(), store.to_owned()),
                ]
                .into_iter()
                .collect(),
            )])
            .await?;
            ctx.info(format!(
                "{} statement{} ran, {total} row{} fetched",
                statements.len(),
                if statements.len() == 1 { "" } else { "s" },
                if total == 1 { "" } else { "s" }
            ))
            .await;

            let mut outputs = Outputs::new();
            if self.many {
                outputs.insert(
                    "outputs".into(),
                    Value::Array(results.into_iter().map(Value::Object).collect()),
                );
            } else if let Some(first) = results.into_iter().next() {
                outputs.extend(first);
            }
            if let (Some(dir), Db::Sqlite { file, conn }) = (&dir, db) {
                let _ = conn.close().await;
                if ctx.flag("outputDbFile", false)?
                    && let Some(file) = file
                    && file.is_file()
                {
                    let name = file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let uri = keep(ctx, &file, &name).await?;
                    outputs.insert("databaseUri".into(), json!(uri));
                }
                if !output_files.is_empty() {
                    let mut kept = Map::new();
                    for name in output_files.keys() {
                        let path = dir.path().join(name);
                        if !path.is_file() {
                            continue;
                        }
                        kept.insert(name.clone(), json!(keep(ctx, &path, name).await?));
                    }
                    outputs.insert("outputFiles".into(), Value::Object(kept));
                }
            }
            Ok(outputs)
        })
    }
}

/// Copies a file of the working directory into internal storage, as
/// `<task run>-<name>` of the execution; returns its URI.
async fn keep(ctx: &TaskContext, path: &std::path::Path, name: &str) -> Result<String, TaskError> {
    let uri = Storage::execution_uri(
        &ctx.namespace,
        &ctx.flow_id,
        &ctx.execution_id,
        &format!("{}-{name}", ctx.task_run_id),
    );
    let source = tokio::fs::File::open(path).await.map_err(io)?;
    ctx.storage.write(&uri, source).await?;
    Ok(uri)
}

/// The COPY statement of CopyIn and CopyOut, as Kestra's AbstractCopy
/// writes it.
fn copy_statement(
    ctx: &TaskContext,
    query: Option<&str>,
    direction: &str,
) -> Result<String, TaskError> {
    let mut sql = vec!["COPY".to_owned()];
    let list = |name: &str| -> Result<Vec<String>, TaskError> {
        Ok(ctx
            .prop(name)?
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect())
    };
    match query {
        Some(query) => sql.push(format!("({query})")),
        None => {
            let table = text_prop(ctx, "table")?
                .ok_or_else(|| ctx.invalid("table is required (or sql, for CopyOut)"))?;
            sql.push(table.to_owned());
            let columns = list("columns")?;
            if !columns.is_empty() {
                sql.push(format!("({})", columns.join(", ")));
            }
        }
    }
    sql.push(direction.to_owned());
    let quoted = |text: &str| sql_text::literal(&json!(text), Dialect::Postgres);
    let character = |name: &str| -> Result<Option<String>, TaskError> {
        match text_prop(ctx, name)? {
            None => Ok(None),
            Some("\\t") => Ok(Some(quoted("\t"))),
            Some(one) if one.chars().count() == 1 => Ok(Some(quoted(one))),
            Some(other) => Err(ctx.invalid(format!("{name}: one character, not {other:?}"))),
        }
    };
    let mut options = Vec::new();
    let format = text_prop(ctx, "format")?
        .unwrap_or("TEXT")
        .to_ascii_uppercase();
    if !["TEXT", "CSV", "BINARY"].contains(&format.as_str()) {
        return Err(ctx.invalid(format!("format {format} is not TEXT, CSV or BINARY")));
    }
    if format != "TEXT" {
        options.push(format!("FORMAT {format}"));
    }
    if ctx.flag("oids", false)? {
        options.push("OIDS".into());
    }
    if ctx.flag("freeze", false)? {
        options.push("FREEZE".into());
    }
    if let Some(delimiter) = character("delimiter")? {
        options.push(format!("DELIMITER {delimiter}"));
    }
    if let Some(null) = ctx.prop("nullString")?.as_str() {
        options.push(format!("NULL {}", quoted(null)));
    }
    if let Some(header) = ctx.prop("header")?.as_bool() {
        options.push(format!("HEADER {}", if header { "TRUE" } else { "FALSE" }));
    }
    if let Some(quote) = character("quote")? {
        options.push(format!("QUOTE {quote}"));
    }
    if let Some(escape) = character("escape")? {
        options.push(format!("ESCAPE {escape}"));
    }
    let force_quote = list("forceQuote")?;
    if !force_quote.is_empty() {
        options.push(if force_quote == ["*"] {
            "FORCE_QUOTE *".into()
        } else {
            format!("FORCE_QUOTE ({})", force_quote.join(", "))
        });
    }
    for (name, option) in [
        ("forceNotNull", "FORCE_NOT_NULL"),
        ("forceNull", "FORCE_NULL"),
    ] {
        let columns = list(name)?;
        if !columns.is_empty() {
            options.push(format!("{option} ({})", columns.join(", ")));
        }
    }
    if let Some(encoding) = text_prop(ctx, "encoding")? {
        options.push(format!("ENCODING {}", quoted(encoding)));
    }
    if !options.is_empty() {
        sql.push(format!("WITH ({})", options.join(", ")));
    }
    Ok(sql.join(" "))
}

/// Runs `work` (a `what`: a statement, a COPY), cancelling it on the
/// PostgreSQL server on a kill (SQLite has no canceller: the task ends).
async fn killable<T>(
    ctx: &TaskContext,
    canceller: Option<(PgConnectOptions, String)>,
    what: &str,
    work: impl std::future::Future<Output = Result<T, TaskError>>,
) -> Result<T, TaskError> {
    tokio::select! {
        done = work => done,
        () = ctx.cancel.cancelled() => {
            if let Some((options, pid)) = canceller {
                cancel_backend(options, pid).await;
                ctx.info(format!("cancelled the running {what}")).await;
            }
            Err(TaskError::Killed)
        }
    }
}

async fn rows_metric(ctx: &TaskContext, rows: u64) -> Result<(), TaskError> {
    ctx.metrics([(
        "counter",
        "rows".to_owned(),
        rows as f64,
        Default::default(),
    )])
    .await
}

pub(crate) struct CopyIn;

impl Runner for CopyIn {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = text_prop(ctx, "from")?
                .ok_or_else(|| ctx.invalid("from: the file's storage:// URI is missing"))?;
            let source = ctx
                .storage
                .path_of(from)
                .map_err(|e| ctx.invalid(format!("from: {e}")))?;
            let file = tokio::fs::File::open(&source)
                .await
                .map_err(|e| TaskError::Failed(format!("from: cannot read {from}: {e}")))?;
            let statement = copy_statement(ctx, None, "FROM STDIN")?;
            let mut db = connect_postgres(ctx).await?;
            let canceller = db.canceller();
            let Db::Postgres { conn, .. } = &mut db else {
                unreachable!("PostgreSQL")
            };
            ctx.log(crate::log::Level::Debug, format!("starting {statement}"))
                .await;
            let rows = killable(ctx, canceller, "COPY", async {
                let mut copy = conn.copy_in_raw(&statement).await.map_err(db_error)?;
                if let Err(e) = copy
                    .read_from(tokio::io::BufReader::with_capacity(1 << 16, file))
                    .await
                {
                    let _ = copy.abort(e.to_string()).await;
                    return Err(db_error(e));
                }
                copy.finish().await.map_err(db_error)
            })
            .await?;
            rows_metric(ctx, rows).await?;
            ctx.info(format!("copied {rows} rows from {from}")).await;
            let mut outputs = Outputs::new();
            outputs.insert("rowCount".into(), json!(rows));
            Ok(outputs)
        })
    }
}

pub(crate) struct CopyOut;

impl Runner for CopyOut {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let statement = copy_statement(ctx, text_prop(ctx, "sql")?, "TO STDOUT")?;
            let format = text_prop(ctx, "format")?
                .unwrap_or("TEXT")
                .to_ascii_uppercase();
            let extension = match format.as_str() {
                "CSV" => "csv",
                "BINARY" => "bin",
                _ => "txt",
            };
            let uri = Storage::execution_uri(
                &ctx.namespace,
                &ctx.flow_id,
                &ctx.execution_id,
                &format!("{}-{}.{extension}", ctx.task_id, ctx.task_run_id),
            );
            let target = ctx.storage.path_of(&uri)?;
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(io)?;
            }
            let mut db = connect_postgres(ctx).await?;
            let canceller = db.canceller();
            let Db::Postgres { conn, .. } = &mut db else {
                unreachable!("PostgreSQL")
            };
            ctx.log(crate::log::Level::Debug, format!("starting {statement}"))
                .await;
            let quote = text_prop(ctx, "quote")?
                .and_then(|q| q.bytes().next())
                .unwrap_or(b'"');
            let escape = text_prop(ctx, "escape")?
                .and_then(|q| q.bytes().next())
                .unwrap_or(quote);
            let mut counter = RowCounter::new(format.as_str(), quote, escape);
            killable(ctx, canceller, "COPY", async {
                let mut out = tokio::io::BufWriter::with_capacity(
                    1 << 16,
                    tokio::fs::File::create(&target).await.map_err(io)?,
                );
                let mut stream = conn.copy_out_raw(&statement).await.map_err(db_error)?;
                while let Some(chunk) = stream.try_next().await.map_err(db_error)? {
                    counter.feed(&chunk);
                    tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
                        .await
                        .map_err(io)?;
                }
                tokio::io::AsyncWriteExt::flush(&mut out)
                    .await
                    .map_err(io)?;
                Ok(())
            })
            .await?;
            let header = format == "CSV" && ctx.flag("header", false)?;
            let rows = counter.rows().saturating_sub(u64::from(header));
            rows_metric(ctx, rows).await?;
            ctx.info(format!("copied {rows} rows to {uri}")).await;
            let mut outputs = Outputs::new();
            outputs.insert("uri".into(), json!(uri));
            outputs.insert("rowCount".into(), json!(rows));
            Ok(outputs)
        })
    }
}

/// Counts the rows of COPY's output as it streams: TEXT rows end at a
/// newline (one inside a value is written `\n`); CSV rows at a newline
/// outside quotes; BINARY rows are tuples after the header.
struct RowCounter {
    format: CopyFormat,
    rows: u64,
}

enum CopyFormat {
    Text,
    Csv {
        quote: u8,
        escape: u8,
        quoted: bool,
        escaped: bool,
    },
    Binary {
        buffer: Vec<u8>,
        header_done: bool,
        ended: bool,
    },
}

impl RowCounter {
    fn new(format: &str, quote: u8, escape: u8) -> Self {
        let format = match format {
            "CSV" => CopyFormat::Csv {
                quote,
                escape,
                quoted: false,
                escaped: false,
            },
            "BINARY" => CopyFormat::Binary {
                buffer: Vec::new(),
                header_done: false,
                ended: false,
            },
            _ => CopyFormat::Text,
        };
        Self { format, rows: 0 }
    }

    fn feed(&mut self, chunk: &[u8]) {
        match &mut self.format {
            CopyFormat::Text => self.rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64,
            CopyFormat::Csv {
                quote,
                escape,
                quoted,
                escaped,
            } => {
                for &b in chunk {
                    if *quoted {
                        if *escaped {
                            *escaped = false;
                        } else if b == *escape && *escape != *quote {
                            *escaped = true;
                        } else if b == *quote {
                            // A doubled quote closes and reopens: the count is right either way.
                            *quoted = false;
                        }
                    } else if b == *quote {
                        *quoted = true;
                    } else if b == b'\n' {
                        self.rows += 1;
                    }
                }
            }
            CopyFormat::Binary {
                buffer,
                header_done,
                ended,
            } => {
                buffer.extend_from_slice(chunk);
                let mut at = 0usize;
                if !*header_done {
                    // Signature (11), flags (4), extension length (4) and the extension.
                    if buffer.len() < 19 {
                        return;
                    }
                    let ext = u32::from_be_bytes([buffer[15], buffer[16], buffer[17], buffer[18]])
                        as usize;
                    if buffer.len() < 19 + ext {
                        return;
                    }
                    at = 19 + ext;
                    *header_done = true;
                }
                while !*ended {
                    let Some(count) = buffer.get(at..at + 2) else {
                        break;
                    };
                    let fields = i16::from_be_bytes([count[0], count[1]]);
                    if fields == -1 {
                        *ended = true;
                        at += 2;
                        break;
                    }
                    let mut next = at + 2;
                    let mut whole = true;
                    for _ in 0..fields {
                        let Some(len) = buffer.get(next..next + 4) else {
                            whole = false;
                            break;
                        };
                        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
                        next += 4 + usize::try_from(len.max(0)).unwrap_or(0);
                        if next > buffer.len() {
                            whole = false;
                            break;
                        }
                    }
                    if !whole {
                        break;
                    }
                    self.rows += 1;
                    at = next;
                }
                buffer.drain(..at.min(buffer.len()));
            }
        }
    }

    fn rows(&self) -> u64 {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_are_percent_decoded_and_a_plus_stays() {
        assert_eq!(percent_decode("p%40ss+w%26rd"), "p@ss+w&rd");
    }

    #[test]
    fn copy_output_rows_are_counted_across_chunks() {
        let mut csv = RowCounter::new("CSV", b'"', b'"');
        csv.feed(b"id,name\n1,\"two\nlines\"\n2,\"say \"\"hi\"\"\"\n");
        assert_eq!(csv.rows(), 3);
        let mut text = RowCounter::new("TEXT", b'"', b'"');
        text.feed(b"1\ta\\nb\n2\t");
        text.feed(b"c\n");
        assert_eq!(text.rows(), 2);
        // PGCOPY header, two tuples (one field each, the second null), trailer.
        let mut binary = Vec::from(&b"PGCOPY\n\xff\r\n\0"[..]);
        binary.extend([0, 0, 0, 0, 0, 0, 0, 0]);
        binary.extend([0, 1, 0, 0, 0, 2, b'h', b'i']);
        binary.extend([0, 1, 0xff, 0xff, 0xff, 0xff]);
        binary.extend([0xff, 0xff]);
        let mut counter = RowCounter::new("BINARY", b'"', b'"');
        for piece in binary.chunks(3) {
            counter.feed(piece);
        }
        assert_eq!(counter.rows(), 2);
    }
}
