//! The embedded SQL engine behind statements: SQLite through sqlx (already
//! in the build, so it costs nothing extra on a 2-core CI; DuckDB or
//! DataFusion would add 15–30 minutes of compile), on a pool of fenced-in,
//! interruptible connections (see `sandbox.rs`). Databricks syntax is
//! rewritten to SQLite before running:
//!
//! - `read_files('dbfs:/…' | '/Volumes/…', format => 'csv', header => true)`
//!   and ``csv.`path` `` load the CSV (through the `csv` crate) from the
//!   emulator's file tree into a temporary table, named in its place;
//! - three-part names `main.default.t` drop their catalog and schema;
//! - Spark functions (`current_date()`, `nvl`, `if`, `year`, `date_add`, …)
//!   and types (`STRING`) map to SQLite's;
//! - `SHOW TABLES`, `SHOW SCHEMAS`, `DESCRIBE t`, `USE …`, `CREATE SCHEMA`,
//!   `CREATE OR REPLACE TABLE/VIEW`;
//! - named parameters `:name` become typed literals.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use regex::{Captures, Regex};
use sqlx::sqlite::SqliteRow;
// The emulator runs its users' SQL by design, so every statement is
// marked as audited with `AssertSqlSafe`; `sandbox` fences it in.
use sqlx::{AssertSqlSafe, Column, Row, SqlSafeStr, Statement, TypeInfo, ValueRef};

use crate::fs::{Fs, normalize};
use crate::sandbox::{self, Database};

/// How long one statement may run (real time) before SQLite is stopped.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) struct Engine {
    db: Database,
    tmp: AtomicU64,
    /// The catalogs and schemas whose qualified names are read (see `set_names`).
    names: std::sync::RwLock<std::sync::Arc<Names>>,
}

/// What a qualified name is dropped to its table by: `catalog.schema.t`
/// for the known catalogs, `schema.t` for the schemas of `main`.
struct Names {
    three: Regex,
    two: Regex,
}

impl Names {
    fn of(catalogs: &[String], main_schemas: &[String]) -> Self {
        let alternatives = |fixed: &[&str], names: &[String]| {
            let mut all: Vec<String> = fixed.iter().map(|n| regex::escape(n)).collect();
            all.extend(names.iter().map(|n| regex::escape(n)));
            all.join("|")
        };
        let three = format!(
            r"(?i)`?\b(?:{})`?\.`?(\w+)`?\.`?(\w+)`?",
            alternatives(&["main", "hive_metastore", "samples", "system", "workspace"], catalogs)
        );
        let two = format!(r"(?i)\b(?:{})\.(\w+)", alternatives(&["default"], main_schemas));
        Self {
            three: Regex::new(&three).unwrap_or_else(|_| THREE_PART.clone()),
            two: Regex::new(&two).unwrap_or_else(|_| DEFAULT_SCHEMA.clone()),
        }
    }
}

/// A column of a result: its name and Databricks type (type_name, type_text).
#[derive(Debug, Clone)]
pub(crate) struct ColumnType {
    pub name: String,
    pub type_name: &'static str,
    pub type_text: &'static str,
}

#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub columns: Vec<ColumnType>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A failed statement, written like the service's error classes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct SqlError {
    pub message: String,
    pub sql_state: &'static str,
}

fn sql_err(class: &str, text: &str, state: &'static str) -> SqlError {
    SqlError {
        message: format!("[{class}] {text} SQLSTATE: {state}"),
        sql_state: state,
    }
}

/// A named parameter: name, value (None = NULL), type (default STRING).
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub value: Option<String>,
    pub kind: String,
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($pat).expect("a valid built-in regex"));
    };
}

re!(
    READ_FILES,
    r"(?is)\bread_files\s*\(\s*'([^']*)'((?:\s*,\s*\w+\s*=>\s*(?:'[^']*'|\w+))*)\s*\)"
);
re!(OPTION, r"(?is)(\w+)\s*=>\s*(?:'([^']*)'|(\w+))");
re!(CSV_PATH, r"(?i)\bcsv\s*\.\s*`([^`]*)`");
re!(
    THREE_PART,
    r"(?i)`?\b(?:main|hive_metastore|samples|system|workspace)`?\.`?(\w+)`?\.`?(\w+)`?"
);
re!(DEFAULT_SCHEMA, r"(?i)\bdefault\.(\w+)");
re!(
    SHOW_TABLES,
    r"(?is)^\s*show\s+tables(\s+(in|from)\s+[\w.`]+)?\s*;?\s*$"
);
re!(SHOW_SCHEMAS, r"(?is)^\s*show\s+(schemas|databases)\b.*$");
re!(SHOW_CATALOGS, r"(?is)^\s*show\s+catalogs\b.*$");
re!(
    DESCRIBE,
    r"(?is)^\s*(?:describe|desc)(?:\s+table)?\s+([\w`]+)\s*;?\s*$"
);
re!(
    NOOP,
    r"(?is)^\s*(use|create\s+(schema|database|catalog|volume)|set|refresh|optimize|analyze|vacuum|cache|uncache)\b.*$"
);
// Databricks' VACUUM (Delta housekeeping) is a no-op here; SQLite's
// VACUUM INTO writes a copy of the database to a file, and is refused.
re!(VACUUM_INTO, r"(?is)^\s*vacuum\b.*\binto\b");
re!(
    CREATE_OR_REPLACE,
    r"(?is)^\s*create\s+or\s+replace\s+(temp\s+|temporary\s+)?(table|view)\s+([\w`]+)"
);
re!(USING, r"(?i)\busing\s+(delta|parquet|csv|json)\b");
re!(PARAM, r":([A-Za-z_][A-Za-z0-9_]*)");

struct FnRule {
    re: Regex,
    to: &'static str,
}

static FUNCTIONS: LazyLock<Vec<FnRule>> = LazyLock::new(|| {
    let r = |p: &str, to: &'static str| FnRule {
        re: Regex::new(p).expect("a valid built-in regex"),
        to,
    };
    vec![
        r(
            r"(?i)\bcurrent_date\s*\(\s*\)|\bcurrent_date\b|\bcurdate\s*\(\s*\)",
            "date('now')",
        ),
        r(
            r"(?i)\bcurrent_timestamp\s*\(\s*\)|\bnow\s*\(\s*\)",
            "datetime('now')",
        ),
        r(r"(?i)\bnvl\s*\(", "ifnull("),
        r(r"(?i)\bif\s*\(", "iif("),
        r(r"(?i)\b(ucase)\s*\(", "upper("),
        r(r"(?i)\b(lcase)\s*\(", "lower("),
        r(r"(?i)\b(len|char_length|character_length)\s*\(", "length("),
        r(r"(?i)\bsubstring\s*\(", "substr("),
        r(r"(?i)\bcollect_list\s*\(", "json_group_array("),
        r(r"(?i)\bto_date\s*\(", "date("),
        r(r"(?i)\bto_timestamp\s*\(", "datetime("),
        r(
            r"(?i)\brand\s*\(\s*\)",
            "(abs(random()) / 9223372036854775807.0)",
        ),
        r(
            r"(?i)\byear\s*\(([^()]*)\)",
            "CAST(strftime('%Y', $1) AS INTEGER)",
        ),
        r(
            r"(?i)\bmonth\s*\(([^()]*)\)",
            "CAST(strftime('%m', $1) AS INTEGER)",
        ),
        r(
            r"(?i)\bday(?:ofmonth)?\s*\(([^()]*)\)",
            "CAST(strftime('%d', $1) AS INTEGER)",
        ),
        r(
            r"(?i)\bdate_add\s*\(([^(),]*),([^(),]*)\)",
            "date($1, '+' || ($2) || ' days')",
        ),
        r(
            r"(?i)\bdate_sub\s*\(([^(),]*),([^(),]*)\)",
            "date($1, '-' || ($2) || ' days')",
        ),
        r(
            r"(?i)\bdatediff\s*\(([^(),]*),([^(),]*)\)",
            "CAST(julianday($1) - julianday($2) AS INTEGER)",
        ),
        // Spark's range() table: ids start..end, as a recursive CTE.
        r(
            r"(?i)\brange\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)",
            "(WITH RECURSIVE __range(id) AS (SELECT $1 WHERE $1 < $2 UNION ALL SELECT id + 1 FROM __range WHERE id + 1 < $2) SELECT id FROM __range)",
        ),
        r(
            r"(?i)\brange\s*\(\s*(\d+)\s*\)",
            "(WITH RECURSIVE __range(id) AS (SELECT 0 WHERE 0 < $1 UNION ALL SELECT id + 1 FROM __range WHERE id + 1 < $1) SELECT id FROM __range)",
        ),
        r(r"(?i)\bgreatest\s*\(", "max("),
        r(r"(?i)\bleast\s*\(", "min("),
        r(r"(?i)\bunix_timestamp\s*\(\s*\)", "unixepoch()"),
        r(r"(?i)\bcurrent_user\s*\(\s*\)", "'mortar@example.com'"),
        // SQLite is built without its math functions: the common ones by hand.
        r(
            r"(?i)\bfloor\s*\(([^()]*)\)",
            "(CAST(($1) AS INTEGER) - (($1) < CAST(($1) AS INTEGER)))",
        ),
        r(
            r"(?i)\bceil(?:ing)?\s*\(([^()]*)\)",
            "(CAST(($1) AS INTEGER) + (($1) > CAST(($1) AS INTEGER)))",
        ),
        r(r"(?i)\bmod\s*\(([^(),]*),([^(),]*)\)", "(($1) % ($2))"),
        // A DATE or TIMESTAMP cast would take SQLite's NUMERIC affinity and
        // turn '2024-01-05' into 2024; keep the text.
        r(r"(?i)\bAS\s+(DATE|TIMESTAMP)\b", "AS TEXT"),
        r(r"(?i)\bstring\b", "TEXT"),
        r(r"(?i)\b(tinyint|smallint)\b", "INTEGER"),
    ]
});

/// Applies `f` to the parts of `sql` outside string literals and quoted
/// identifiers, keeping the quoted parts as they are.
fn outside_quotes(
    sql: &str,
    mut f: impl FnMut(&str) -> Result<String, SqlError>,
) -> Result<String, SqlError> {
    let mut out = String::with_capacity(sql.len());
    let mut plain = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' || c == '`' {
            out.push_str(&f(&plain)?);
            plain.clear();
            out.push(c);
            while let Some(d) = chars.next() {
                out.push(d);
                if d == '\\' && c != '`' {
                    if let Some(e) = chars.next() {
                        out.push(e);
                    }
                } else if d == c {
                    if chars.peek() == Some(&c) {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    out.push_str(&f(&plain)?);
    Ok(out)
}

fn literal(p: &Param) -> Result<String, SqlError> {
    let Some(v) = &p.value else {
        return Ok("NULL".into());
    };
    let kind = p.kind.to_uppercase();
    let base = kind.split('(').next().unwrap_or("").trim().to_owned();
    let quoted = || format!("'{}'", v.replace('\'', "''"));
    Ok(match base.as_str() {
        "INT" | "INTEGER" | "BIGINT" | "LONG" | "SMALLINT" | "TINYINT" | "SHORT" | "BYTE" => {
            let n: i64 = v.trim().parse().map_err(|_| {
                sql_err("INVALID_PARAMETER_MARKER_VALUE.INVALID_VALUE_FOR_DATA_TYPE", &format!("An invalid parameter mapping was provided: the value '{v}' for parameter '{}' cannot be cast to {kind}.", p.name), "22023")
            })?;
            n.to_string()
        }
        "DOUBLE" | "FLOAT" | "DECIMAL" | "REAL" => {
            let n: f64 = v.trim().parse().map_err(|_| {
                sql_err("INVALID_PARAMETER_MARKER_VALUE.INVALID_VALUE_FOR_DATA_TYPE", &format!("An invalid parameter mapping was provided: the value '{v}' for parameter '{}' cannot be cast to {kind}.", p.name), "22023")
            })?;
            if n.is_finite() {
                format!("{n:?}")
            } else {
                return Err(sql_err(
                    "INVALID_PARAMETER_MARKER_VALUE",
                    "non-finite number",
                    "22023",
                ));
            }
        }
        "BOOLEAN" => match v.trim().to_lowercase().as_str() {
            "true" => "1".into(),
            "false" => "0".into(),
            _ => {
                return Err(sql_err(
                    "INVALID_PARAMETER_MARKER_VALUE.INVALID_VALUE_FOR_DATA_TYPE",
                    &format!(
                        "The value '{v}' for parameter '{}' is not a BOOLEAN.",
                        p.name
                    ),
                    "22023",
                ));
            }
        },
        _ => quoted(),
    })
}

impl Engine {
    pub async fn open() -> Result<Self, sqlx::Error> {
        Self::with_timeout(STATEMENT_TIMEOUT).await
    }

    async fn with_timeout(timeout: Duration) -> Result<Self, sqlx::Error> {
        Ok(Self {
            db: Database::open(timeout).await?,
            tmp: AtomicU64::new(1),
            names: std::sync::RwLock::new(std::sync::Arc::new(Names::of(&[], &[]))),
        })
    }

    /// The catalogs (and the schemas of `main`) Unity Catalog has, so a
    /// statement's `catalog.schema.table` and `schema.table` name the table.
    pub fn set_names(&self, catalogs: &[String], main_schemas: &[String]) {
        let names = std::sync::Arc::new(Names::of(catalogs, main_schemas));
        if let Ok(mut current) = self.names.write() {
            *current = names;
        }
    }

    /// Runs one statement and returns its rows.
    pub async fn run(&self, fs: &Fs, sql: &str, params: &[Param]) -> Result<Rows, SqlError> {
        let sql = sql.trim().trim_end_matches(';').trim();
        if sql.is_empty() {
            return Err(sql_err(
                "PARSE_EMPTY_STATEMENT",
                "Syntax error, unexpected empty statement.",
                "42617",
            ));
        }
        if VACUUM_INTO.is_match(sql) {
            return Err(sandboxed());
        }
        let mut conn = self.db.session().await.map_err(|e| match e {
            sqlx::Error::PoolTimedOut => timed_out(self.db.timeout(), true),
            e => internal(e),
        })?;
        let result = self.run_on(&mut conn, fs, sql, params).await;
        // Temporary tables (the loaded files) are dropped when the
        // connection goes back to the pool.
        result.map_err(|e| {
            if conn.timed_out() {
                timed_out(self.db.timeout(), false)
            } else {
                e
            }
        })
    }

    async fn run_on(
        &self,
        conn: &mut sqlx::SqliteConnection,
        fs: &Fs,
        sql: &str,
        params: &[Param],
    ) -> Result<Rows, SqlError> {
        // Files first: their paths are string literals the quote-aware
        // rewrites below would otherwise leave alone.
        let mut loads = Vec::new();
        for c in READ_FILES.captures_iter(sql) {
            let opts = c.get(2).map_or("", |m| m.as_str());
            let mut format = "csv".to_owned();
            let mut header = false;
            let mut sep = b',';
            for o in OPTION.captures_iter(opts) {
                let key = o[1].to_lowercase();
                let val = o.get(2).or(o.get(3)).map_or("", |m| m.as_str()).to_owned();
                match key.as_str() {
                    "format" => format = val.to_lowercase(),
                    "header" => header = val.eq_ignore_ascii_case("true"),
                    "sep" | "delimiter" => sep = val.bytes().next().unwrap_or(b','),
                    _ => {}
                }
            }
            if format != "csv" {
                return Err(sql_err(
                    "UNSUPPORTED_FEATURE",
                    &format!(
                        "The emulator reads only CSV files; format => '{format}' is not supported."
                    ),
                    "0A000",
                ));
            }
            loads.push((c[0].to_owned(), c[1].to_owned(), header, sep, true));
        }
        for c in CSV_PATH.captures_iter(sql) {
            loads.push((c[0].to_owned(), c[1].to_owned(), false, b',', false));
        }
        let mut sql = sql.to_owned();
        for (text, path, header, sep, infer) in loads {
            let name = format!("__file_{}", self.tmp.fetch_add(1, Ordering::Relaxed));
            load_csv(conn, fs, &name, &path, header, sep, infer).await?;
            sql = sql.replacen(&text, &name, 1);
        }
        self.run_rewritten(conn, &sql, params).await
    }

    async fn run_rewritten(
        &self,
        conn: &mut sqlx::SqliteConnection,
        sql: &str,
        params: &[Param],
    ) -> Result<Rows, SqlError> {
        if SHOW_TABLES.is_match(sql) {
            return query(conn, "SELECT 'default' AS database, name AS tableName, 0 = 1 AS isTemporary FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE '\\_\\_file\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%' ORDER BY name").await;
        }
        if SHOW_SCHEMAS.is_match(sql) {
            return query(conn, "SELECT 'default' AS databaseName").await;
        }
        if SHOW_CATALOGS.is_match(sql) {
            return query(
                conn,
                "SELECT 'main' AS catalog UNION ALL SELECT 'hive_metastore' ORDER BY 1",
            )
            .await;
        }
        if let Some(c) = DESCRIBE.captures(sql) {
            let t = c[1].trim_matches('`').replace('\'', "''");
            let rows = query(conn, &format!("SELECT name AS col_name, lower(type) AS data_type, NULL AS comment FROM pragma_table_info('{t}')")).await?;
            if rows.rows.is_empty() {
                return Err(table_not_found(&t));
            }
            return Ok(rows);
        }
        if NOOP.is_match(sql) {
            return Ok(Rows::default());
        }
        let mut sql = sql.to_owned();
        if let Some(c) = CREATE_OR_REPLACE.captures(&sql) {
            let kind = c[2].to_uppercase();
            let name = c[3].to_owned();
            let replaced = format!(
                "CREATE {}{kind} {name}",
                if c.get(1).is_some() { "TEMP " } else { "" }
            );
            let range = c.get(0).map(|m| m.range()).unwrap_or(0..0);
            exec(conn, &format!("DROP {kind} IF EXISTS {name}")).await?;
            sql.replace_range(range, &replaced);
        }
        // Rules that move arguments run over the whole text: their
        // arguments are often string literals (`year('2024-01-05')`).
        for rule in FUNCTIONS.iter().filter(|r| r.to.contains('$')) {
            sql = rule.re.replace_all(&sql, rule.to).into_owned();
        }
        let mut missing: Option<String> = None;
        let names = self.names.read().map(|n| n.clone()).ok();
        let (three, two) = match &names {
            Some(n) => (&n.three, &n.two),
            None => (&*THREE_PART, &*DEFAULT_SCHEMA),
        };
        let sql = outside_quotes(&sql, |part| {
            let mut s = three.replace_all(part, "$2").into_owned();
            s = two.replace_all(&s, "$1").into_owned();
            s = USING.replace_all(&s, "").into_owned();
            for rule in FUNCTIONS.iter().filter(|r| !r.to.contains('$')) {
                s = rule.re.replace_all(&s, rule.to).into_owned();
            }
            let mut err = None;
            let s = PARAM
                .replace_all(&s, |c: &Captures| {
                    // `::` casts and `a:b` JSON paths are not markers.
                    let start = c.get(0).map_or(0, |m| m.start());
                    if start > 0
                        && s.as_bytes()
                            .get(start - 1)
                            .is_some_and(|b| *b == b':' || b.is_ascii_alphanumeric())
                    {
                        return c[0].to_owned();
                    }
                    match params.iter().find(|p| p.name == c[1]) {
                        Some(p) => literal(p).unwrap_or_else(|e| {
                            err = Some(e);
                            String::new()
                        }),
                        None => {
                            missing.get_or_insert_with(|| c[1].to_owned());
                            c[0].to_owned()
                        }
                    }
                })
                .into_owned();
            match err {
                Some(e) => Err(e),
                None => Ok(s),
            }
        })?;
        if let Some(name) = missing {
            return Err(sql_err(
                "UNBOUND_SQL_PARAMETER",
                &format!(
                    "Found the unbound parameter: {name}. Please, fix `args` and provide a mapping of the parameter to either a SQL literal or collection constructor functions such as `map()`, `array()`, `struct()`."
                ),
                "42P02",
            ));
        }
        query(conn, &sql).await
    }
}

/// A statement that tried to reach past the emulator's own database.
fn sandboxed() -> SqlError {
    sql_err(
        "UNSUPPORTED_FEATURE",
        "The emulator runs SQL on its own tables only: ATTACH, DETACH, VACUUM INTO, file: URIs, extensions, virtual tables and PRAGMAs other than table_info and its kin are not supported.",
        "0A000",
    )
}

/// A statement that ran, or waited for a connection, past the limit.
fn timed_out(limit: Duration, waiting: bool) -> SqlError {
    let what = if waiting {
        format!(
            "waited longer than {} s for one of the emulator's {} SQL connections, all busy with other statements",
            limit.as_secs(),
            sandbox::CONNECTIONS
        )
    } else {
        format!(
            "ran longer than the emulator's limit of {} s per statement and was stopped",
            limit.as_secs()
        )
    };
    sql_err(
        "QUERY_EXECUTION_TIMEOUT_EXCEEDED",
        &format!("The statement {what}; split the work into shorter statements."),
        "57KD0",
    )
}

fn internal(e: sqlx::Error) -> SqlError {
    sql_err("INTERNAL_ERROR", &e.to_string(), "XX000")
}

fn table_not_found(t: &str) -> SqlError {
    sql_err(
        "TABLE_OR_VIEW_NOT_FOUND",
        &format!(
            "The table or view `{t}` cannot be found. Verify the spelling and correctness of the schema and catalog."
        ),
        "42P01",
    )
}

/// Turns SQLite's messages into the service's error classes.
fn translate(e: sqlx::Error) -> SqlError {
    let msg = match &e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => return internal_owned(other),
    };
    if let Some(t) = msg.strip_prefix("no such table: ") {
        return table_not_found(t);
    }
    if let Some(c) = msg.strip_prefix("no such column: ") {
        return sql_err(
            "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
            &format!(
                "A column, variable, or function parameter with name `{c}` cannot be resolved."
            ),
            "42703",
        );
    }
    if let Some(f) = msg.strip_prefix("no such function: ") {
        return sql_err(
            "UNRESOLVED_ROUTINE",
            &format!(
                "Cannot resolve routine `{f}` on search path [`system`.`builtin`, `system`.`session`, `main`.`default`]."
            ),
            "42883",
        );
    }
    if msg.contains("syntax error") || msg.contains("incomplete input") {
        return sql_err(
            "PARSE_SYNTAX_ERROR",
            &format!("Syntax error: {msg}."),
            "42601",
        );
    }
    // The authorizer's refusals ("not authorized", "not authorized to use
    // function: …", and "authorization denied" for the database VACUUM
    // INTO would attach), and the limit of no attached databases.
    if msg.starts_with("not authorized")
        || msg == "authorization denied"
        || msg.starts_with("too many attached databases")
    {
        return sandboxed();
    }
    if msg.contains("string or blob too big") {
        return sql_err(
            "ROW_VALUE_TOO_LARGE",
            &format!(
                "A value exceeds the emulator's limit of {} MiB per string or binary value.",
                sandbox::MAX_VALUE_BYTES / (1024 * 1024)
            ),
            "54000",
        );
    }
    if msg.contains("database or disk is full") {
        return sql_err(
            "DISK_QUOTA_EXCEEDED",
            &format!(
                "The emulator's tables are limited to {} GiB in all; drop tables that are no longer needed.",
                sandbox::MAX_PAGES / (256 * 1024)
            ),
            "53100",
        );
    }
    if msg.contains("already exists") {
        return sql_err(
            "TABLE_OR_VIEW_ALREADY_EXISTS",
            &format!("Cannot create table or view because it already exists: {msg}."),
            "42P07",
        );
    }
    sql_err("SQL_ERROR", &msg, "42000")
}

fn internal_owned(e: &sqlx::Error) -> SqlError {
    sql_err("INTERNAL_ERROR", &e.to_string(), "XX000")
}

async fn exec(conn: &mut sqlx::SqliteConnection, sql: &str) -> Result<(), SqlError> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(translate)
}

/// Spark's spelling of a double: `3.0`, not `3`.
fn fmt_double(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn column_type(decl: &str, runtime: Option<&str>) -> (&'static str, &'static str) {
    let d = decl.to_uppercase();
    let pick = if d == "NULL" || d.is_empty() {
        runtime.unwrap_or("TEXT").to_uppercase()
    } else {
        d
    };
    match pick.as_str() {
        "INT" | "INTEGER" if decl.eq_ignore_ascii_case("INT") => ("INT", "INT"),
        "INTEGER" | "INT8" | "BIGINT" | "INT4" | "INT" => ("LONG", "BIGINT"),
        "REAL" | "FLOAT" | "DOUBLE" | "NUMERIC" => ("DOUBLE", "DOUBLE"),
        "BOOLEAN" | "BOOL" => ("BOOLEAN", "BOOLEAN"),
        "DATE" => ("DATE", "DATE"),
        "DATETIME" | "TIMESTAMP" => ("TIMESTAMP", "TIMESTAMP"),
        "BLOB" => ("BINARY", "BINARY"),
        _ => ("STRING", "STRING"),
    }
}

async fn query(conn: &mut sqlx::SqliteConnection, sql: &str) -> Result<Rows, SqlError> {
    let rows: Vec<SqliteRow> = sqlx::query(AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut *conn)
        .await
        .map_err(translate)?;
    let Some(first) = rows.first() else {
        // No rows: the columns still come from the prepared statement
        // (their declared types).
        let described =
            sqlx::Executor::prepare(&mut *conn, AssertSqlSafe(sql.to_owned()).into_sql_str())
                .await
                .ok();
        let columns = described
            .map(|d| {
                d.columns()
                    .iter()
                    .map(|c| {
                        let (type_name, type_text) = column_type(c.type_info().name(), None);
                        ColumnType {
                            name: c.name().to_owned(),
                            type_name,
                            type_text,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Rows {
            columns,
            rows: Vec::new(),
        });
    };
    let ncols = first.columns().len();
    let mut columns = Vec::with_capacity(ncols);
    for i in 0..ncols {
        let decl = first.columns()[i].type_info().name().to_owned();
        let runtime = rows.iter().find_map(|r| {
            let v = r.try_get_raw(i).ok()?;
            (!v.is_null()).then(|| v.type_info().name().to_owned())
        });
        let (type_name, type_text) = column_type(&decl, runtime.as_deref());
        columns.push(ColumnType {
            name: first.columns()[i].name().to_owned(),
            type_name,
            type_text,
        });
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut row = Vec::with_capacity(ncols);
        for (i, col) in columns.iter().enumerate() {
            let Ok(raw) = r.try_get_raw(i) else {
                row.push(None);
                continue;
            };
            if raw.is_null() {
                row.push(None);
                continue;
            }
            let kind = raw.type_info().name().to_owned();
            let s = match kind.as_str() {
                "INTEGER" | "INT" | "INT8" | "BIGINT" | "BOOLEAN" => {
                    let n: i64 = r.try_get(i).unwrap_or_default();
                    if col.type_name == "BOOLEAN" {
                        (n != 0).to_string()
                    } else if col.type_name == "DOUBLE" {
                        fmt_double(n as f64)
                    } else {
                        n.to_string()
                    }
                }
                "REAL" | "FLOAT" | "DOUBLE" | "NUMERIC" => {
                    fmt_double(r.try_get::<f64, _>(i).unwrap_or_default())
                }
                "BLOB" => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .encode(r.try_get::<Vec<u8>, _>(i).unwrap_or_default())
                }
                _ => r.try_get::<String, _>(i).unwrap_or_default(),
            };
            row.push(Some(s));
        }
        out.push(row);
    }
    Ok(Rows { columns, rows: out })
}

/// Loads a CSV file (or every `.csv` file of a directory) into `name`.
async fn load_csv(
    conn: &mut sqlx::SqliteConnection,
    fs: &Fs,
    name: &str,
    raw_path: &str,
    header: bool,
    sep: u8,
    infer: bool,
) -> Result<(), SqlError> {
    let not_found = || {
        sql_err(
            "PATH_NOT_FOUND",
            &format!("Path does not exist: {raw_path}."),
            "42K03",
        )
    };
    let path = normalize(raw_path).map_err(|_| not_found())?;
    let node = fs.stat(&path).ok_or_else(not_found)?;
    let files: Vec<bytes::Bytes> = if node.is_dir() {
        fs.list(&path)
            .map_err(|_| not_found())?
            .into_iter()
            .filter(|(p, n)| {
                !n.is_dir() && !p.rsplit('/').next().unwrap_or("").starts_with(['_', '.'])
            })
            .filter_map(|(p, _)| fs.read_file(&p).ok().map(|(d, _)| d))
            .collect()
    } else {
        vec![fs.read_file(&path).map_err(|_| not_found())?.0]
    };
    let mut names: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for data in files {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(header)
            .delimiter(sep)
            .flexible(true)
            .from_reader(data.as_ref());
        if header && names.is_empty() {
            names = rdr
                .headers()
                .map_err(|e| {
                    sql_err(
                        "MALFORMED_RECORD_IN_PARSING",
                        &format!("Malformed CSV header in {raw_path}: {e}."),
                        "22023",
                    )
                })?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
        }
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                sql_err(
                    "MALFORMED_RECORD_IN_PARSING",
                    &format!("Malformed CSV record in {raw_path}: {e}."),
                    "22023",
                )
            })?;
            rows.push(rec.iter().map(str::to_owned).collect());
        }
    }
    let width = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(names.len());
    for i in names.len()..width {
        names.push(format!("_c{i}"));
    }
    for (i, n) in names.iter_mut().enumerate() {
        if n.is_empty() {
            *n = format!("_c{i}");
        }
    }
    // read_files infers types; csv.`…` reads every column as a string, as Spark does.
    let types: Vec<&str> = (0..width)
        .map(|i| {
            let vals = || {
                rows.iter()
                    .filter_map(|r| r.get(i))
                    .filter(|v| !v.is_empty())
            };
            if !infer || vals().next().is_none() {
                "TEXT"
            } else if vals().all(|v| v.trim().parse::<i64>().is_ok()) {
                "BIGINT"
            } else if vals().all(|v| v.trim().parse::<f64>().is_ok()) {
                "DOUBLE"
            } else if vals()
                .all(|v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"))
            {
                "BOOLEAN"
            } else {
                "TEXT"
            }
        })
        .collect();
    let cols: Vec<String> = names
        .iter()
        .zip(&types)
        .map(|(n, t)| format!("\"{}\" {t}", n.replace('"', "\"\"")))
        .collect();
    exec(
        conn,
        &format!("CREATE TEMP TABLE {name} ({})", cols.join(", ")),
    )
    .await?;
    if width == 0 {
        return Ok(());
    }
    let mut tx = sqlx::Connection::begin(&mut *conn)
        .await
        .map_err(internal)?;
    // Batches stay under SQLite's 32766 bound parameters.
    let batch = (30_000 / width).clamp(1, 500);
    for chunk in rows.chunks(batch) {
        let one = format!("({})", vec!["?"; width].join(","));
        let sql = format!(
            "INSERT INTO {name} VALUES {}",
            vec![one; chunk.len()].join(",")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            for (i, t) in types.iter().enumerate() {
                let v = r.get(i).map(String::as_str).unwrap_or("");
                q = match (*t, v) {
                    (_, "") if infer => q.bind(None::<String>),
                    ("BIGINT", v) => q.bind(v.trim().parse::<i64>().ok()),
                    ("DOUBLE", v) => q.bind(v.trim().parse::<f64>().ok()),
                    ("BOOLEAN", v) => q.bind(v.eq_ignore_ascii_case("true")),
                    (_, v) => q.bind(v.to_owned()),
                };
            }
        }
        q.execute(&mut *tx).await.map_err(translate)?;
    }
    tx.commit().await.map_err(internal)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(setup: &[&str], sql: &str, expected: &[&[&str]]) {
        let engine = Engine::open().await.expect("engine");
        let fs = Fs::open(None).expect("fs");
        for s in setup {
            engine.run(&fs, s, &[]).await.expect("setup");
        }
        check_on(&engine, sql, expected).await;
    }

    async fn check_on(engine: &Engine, sql: &str, expected: &[&[&str]]) {
        let fs = Fs::open(None).expect("fs");
        fs.write_file(
            "/d/sales.csv",
            bytes::Bytes::from_static(b"region,amount\neu,10\nus,5\neu,2.5\n"),
            true,
        )
        .expect("write");
        let rows = engine.run(&fs, sql, &[]).await.expect("query");
        let got: Vec<Vec<String>> = rows
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.clone().unwrap_or("NULL".into()))
                    .collect()
            })
            .collect();
        let want: Vec<Vec<String>> = expected
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        assert_eq!(got, want, "{sql}");
    }

    #[tokio::test]
    async fn read_files_aggregates_a_csv() {
        check(&[], "SELECT region, SUM(CAST(amount AS DOUBLE)) AS total FROM read_files('dbfs:/d/sales.csv', format => 'csv', header => true) GROUP BY region ORDER BY total DESC", &[&["eu", "12.5"], &["us", "5.0"]]).await;
    }

    #[tokio::test]
    async fn csv_path_reads_strings_without_header() {
        check(
            &[],
            "SELECT _c0, _c1 FROM csv.`dbfs:/d/sales.csv` LIMIT 2",
            &[&["region", "amount"], &["eu", "10"]],
        )
        .await;
    }

    #[tokio::test]
    async fn three_part_names_and_spark_functions() {
        check(
            &["CREATE TABLE main.default.t (name STRING, n INT) USING DELTA", "INSERT INTO main.default.t VALUES ('007', 1), (NULL, 2)"],
            "SELECT nvl(name, 'none'), if(n > 1, 'big', 'small'), current_date() = date('now') FROM t ORDER BY n",
            &[&["007", "small", "1"], &["none", "big", "1"]],
        )
        .await;
    }

    #[tokio::test]
    async fn spark_functions_without_sqlite_math() {
        check(
            &[],
            "SELECT floor(-2.5), ceil(2.1), mod(7, 3), greatest(1, 5, 2), least(4, 3), CAST('2024-01-05' AS DATE), year('2024-01-05'), datediff('2024-01-05', '2024-01-01')",
            &[&["-3", "3", "1", "5", "3", "2024-01-05", "2024", "4"]],
        )
        .await;
    }

    #[tokio::test]
    async fn range_tables() {
        check(
            &[],
            "SELECT count(*), sum(id), max(id) FROM range(1000)",
            &[&["1000", "499500", "999"]],
        )
        .await;
        check(&[], "SELECT id FROM range(3, 5)", &[&["3"], &["4"]]).await;
        check(&[], "SELECT count(*) FROM range(0)", &[&["0"]]).await;
    }

    #[tokio::test]
    async fn show_tables_lists_user_tables() {
        check(
            &[
                "CREATE TABLE a (x INT)",
                "CREATE OR REPLACE TABLE a (y INT)",
            ],
            "SHOW TABLES",
            &[&["default", "a", "0"]],
        )
        .await;
    }

    /// Runs `sql` on `engine` and returns the message it fails with.
    async fn message_of(engine: &Engine, sql: &str) -> String {
        let fs = Fs::open(None).expect("fs");
        engine.run(&fs, sql, &[]).await.expect_err(sql).message
    }

    #[tokio::test]
    async fn the_sandbox_refuses_files_settings_and_extensions() {
        let engine = Engine::open().await.expect("engine");
        let dir = tempfile::tempdir().expect("dir");
        let other = dir.path().join("other.db");
        for sql in [
            format!("ATTACH DATABASE '{}' AS other", other.display()),
            format!("ATTACH 'file:{}?mode=rwc' AS other", other.display()),
            "DETACH DATABASE main".to_owned(),
            format!("VACUUM INTO '{}'", other.display()),
            format!("/* a comment first */ VACUUM INTO '{}'", other.display()),
            format!("SELECT 1; VACUUM INTO '{}'", other.display()),
            "PRAGMA journal_mode = DELETE".to_owned(),
            "PRAGMA locking_mode = EXCLUSIVE".to_owned(),
            "PRAGMA writable_schema = ON".to_owned(),
            "PRAGMA temp_store_directory = '/tmp'".to_owned(),
            "SELECT load_extension('/tmp/x.so')".to_owned(),
            "CREATE VIRTUAL TABLE v USING fts5(x)".to_owned(),
        ] {
            let message = message_of(&engine, &sql).await;
            assert!(
                message.starts_with("[UNSUPPORTED_FEATURE]"),
                "{sql}: {message}"
            );
        }
        assert!(!other.exists(), "no file was created");
        // What DESCRIBE and friends need still works.
        check(
            &["CREATE TABLE t (a INT, b STRING)"],
            "SELECT name FROM pragma_table_info('t') ORDER BY cid",
            &[&["a"], &["b"]],
        )
        .await;
        check(
            &["CREATE TABLE t (a INT)"],
            "PRAGMA table_info(t)",
            &[&["0", "a", "INT", "0", "NULL", "0"]],
        )
        .await;
    }

    #[tokio::test]
    async fn statements_leave_no_transaction_or_temporary_table_behind() {
        let engine = Engine::open().await.expect("engine");
        let fs = Fs::open(None).expect("fs");
        engine
            .run(&fs, "CREATE TABLE t (x INT)", &[])
            .await
            .expect("create");
        engine
            .run(&fs, "CREATE TEMP VIEW v AS SELECT 1", &[])
            .await
            .expect("view");
        // A BEGIN without COMMIT is rolled back, not left holding the
        // write lock for every other statement.
        engine
            .run(&fs, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1)", &[])
            .await
            .expect("begin");
        // Every connection of the pool, at once, sees neither.
        let runs = (0..sandbox::CONNECTIONS).map(|_| async {
            let view = engine.run(&fs, "SELECT * FROM v", &[]).await;
            engine
                .run(&fs, "INSERT INTO t VALUES (2)", &[])
                .await
                .expect("insert");
            view.is_err()
        });
        for no_view in futures::future::join_all(runs).await {
            assert!(no_view, "temporary views last one statement");
        }
        check_on(
            &engine,
            "SELECT x, count(*) FROM t GROUP BY x",
            &[&["2", &sandbox::CONNECTIONS.to_string()]],
        )
        .await;
    }

    #[tokio::test]
    async fn a_dropped_statement_stops_sqlite() {
        let engine = Engine::open().await.expect("engine");
        let fs = Fs::open(None).expect("fs");
        engine
            .run(&fs, "CREATE TABLE t (x INT)", &[])
            .await
            .expect("create");
        // An endless write holds the database's one write lock: a later
        // write can only succeed once SQLite has really stopped it.
        let endless = "INSERT INTO t SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)";
        let run = engine.run(&fs, endless, &[]);
        let stopped = tokio::time::timeout(Duration::from_millis(300), run).await;
        assert!(stopped.is_err(), "the endless statement was still running");
        let insert = engine.run(&fs, "INSERT INTO t VALUES (1)", &[]);
        tokio::time::timeout(Duration::from_secs(10), insert)
            .await
            .expect("the write lock is free again")
            .expect("insert");
    }

    #[tokio::test]
    async fn a_statement_past_its_deadline_fails_and_frees_its_connection() {
        let engine = Engine::with_timeout(Duration::from_millis(200))
            .await
            .expect("engine");
        let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
        let message = message_of(&engine, endless).await;
        assert!(
            message.starts_with("[QUERY_EXECUTION_TIMEOUT_EXCEEDED]"),
            "{message}"
        );
        check_on(&engine, "SELECT 1", &[&["1"]]).await;
    }

    #[test]
    fn quotes_are_left_alone() {
        let out = outside_quotes("select 'if(' , if(1,2,3)", |p| Ok(p.replace("if(", "iif(")))
            .expect("rewrite");
        assert_eq!(out, "select 'if(' , iif(1,2,3)");
    }
}
