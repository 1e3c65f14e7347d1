//! Kestra's `io.kestra.plugin.jdbc.sqlite` package.

use super::*;
use crate::flow::registry::{Category, TaskType, per_item, runner};

/// The variables the statement is rendered with: Kestra's `{{ outputFiles.name }}`.
pub const GIVEN: &[&str] = &["outputFiles"];

/// The database's properties, first in each SQLite type.
macro_rules! sqlite {
    ($($extra:expr),* $(,)?) => {
        &[
            crate::flow::registry::ex(
                crate::flow::registry::def(
                    "url",
                    crate::flow::registry::Kind::String,
                    "\"jdbc:sqlite:\"",
                    "The database as `jdbc:sqlite:<file>`: a relative file is in the task's working directory; `jdbc:sqlite:` or `:memory:` is a database in memory.",
                ),
                "jdbc:sqlite:myfile.db",
            ),
            crate::task::jdbc::USERNAME,
            crate::task::jdbc::PASSWORD,
            crate::flow::registry::prop(
                "sqliteFile",
                crate::flow::registry::Kind::String,
                "A database file from internal storage (storage:// URI), copied into the working directory under the url's file name and used.",
            ),
            crate::flow::registry::def(
                "outputDbFile",
                crate::flow::registry::Kind::Boolean,
                "false",
                "Keep the database file in internal storage afterwards, as the output `databaseUri`.",
            ),
            crate::task::jdbc::TIME_ZONE_ID,
            $($extra,)*
        ]
    };
}

const SQLITE_SQL: Property = per_item(SQL, GIVEN);

const OUTPUT_FILES: Property = prop(
    "outputFiles",
    StringList,
    "Names of files created in the working directory before the statement runs (`{{ outputFiles.name }}` is the path), kept in internal storage after; the output `outputFiles` maps each to its URI.",
);

pub const QUERY: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.sqlite.Query",
    alias: "jdbc.sqlite.Query",
    category: Category::Task,
    doc: "Runs one SQL statement on a SQLite database and keeps its rows as fetchType says.",
    properties: sqlite![
        SQLITE_SQL,
        AFTER_SQL,
        FETCH_TYPE,
        FETCH_SIZE,
        PARAMETERS,
        OUTPUT_FILES,
        CONNECTION_POOLING,
        CONNECTION_POOL_SIZE,
        STORE,
        FETCH_ONE,
        FETCH,
    ],
    outputs: &[
        ("row", "The first row (FETCH_ONE), null when there is none."),
        ("rows", "Every row (FETCH)."),
        ("uri", "The rows as an Ion file, one row a line (STORE)."),
        ("size", "How many rows (FETCH, STORE; 1 for FETCH_ONE)."),
        (
            "databaseUri",
            "The database file in internal storage (outputDbFile).",
        ),
        ("outputFiles", "The outputFiles' URIs by name."),
    ],
    run: runner!(run::Query::sqlite(false)),
    check: None,
    aliases: &[],
};

pub const QUERIES: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.sqlite.Queries",
    alias: "jdbc.sqlite.Queries",
    category: Category::Task,
    doc: "Runs several SQL statements, separated by `;`, on a SQLite database, in one transaction unless `transaction: false`; each statement that returns rows gives an entry of `outputs`.",
    properties: sqlite![
        SQLITE_SQL,
        TRANSACTION,
        FETCH_TYPE,
        FETCH_SIZE,
        PARAMETERS,
        OUTPUT_FILES,
        AFTER_SQL,
        CONNECTION_POOLING,
        CONNECTION_POOL_SIZE,
        STORE,
        FETCH_ONE,
        FETCH,
    ],
    outputs: &[
        QUERIES_OUTPUTS[0],
        (
            "databaseUri",
            "The database file in internal storage (outputDbFile).",
        ),
        ("outputFiles", "The outputFiles' URIs by name."),
    ],
    run: runner!(run::Query::sqlite(true)),
    check: None,
    aliases: &[],
};

pub const TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.sqlite.Trigger",
    alias: "jdbc.sqlite.Trigger",
    category: Category::Trigger,
    doc: "Runs a query on a SQLite database every interval and starts an execution when it returns rows (`{{ trigger.rows }}`).",
    properties: sqlite![
        INTERVAL,
        SQL,
        AFTER_SQL,
        TRIGGER_FETCH_TYPE,
        FETCH_SIZE,
        PARAMETERS,
        CONNECTION_POOLING,
        CONNECTION_POOL_SIZE,
        STORE,
        FETCH_ONE,
        FETCH,
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
    pub(super) use crate::task::jdbc::run::Query;
}
