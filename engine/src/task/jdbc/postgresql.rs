//! Kestra's `io.kestra.plugin.jdbc.postgresql` package.

use super::*;
use crate::flow::registry::{Category, TaskType, runner};

/// PostgresConnectionInterface's `sslMode` values.
pub const SSL_MODES: &[&str] = &[
    "DISABLE",
    "ALLOW",
    "PREFER",
    "REQUIRE",
    "VERIFY_CA",
    "VERIFY_FULL",
];

/// The connection's properties, first in each PostgreSQL type.
macro_rules! postgres {
    ($($extra:expr),* $(,)?) => {
        &[
            crate::flow::registry::ex(
                crate::flow::registry::req(
                    "url",
                    crate::flow::registry::Kind::String,
                    "The database as `jdbc:postgresql://host:port/database` (parameters `user`, `password`, `ssl`, `sslmode`, `currentSchema`, `ApplicationName` are read).",
                ),
                "jdbc:postgresql://127.0.0.1:5432/postgres",
            ),
            crate::task::jdbc::USERNAME,
            crate::task::jdbc::PASSWORD,
            crate::flow::registry::def(
                "ssl",
                crate::flow::registry::Kind::Boolean,
                "false",
                "Connect over TLS (sslMode REQUIRE unless sslMode says otherwise).",
            ),
            crate::flow::registry::prop(
                "sslMode",
                crate::flow::registry::Kind::Enum { values: crate::task::jdbc::postgresql::SSL_MODES },
                "DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA (the server's certificate is checked) or VERIFY_FULL (and its host name).",
            ),
            crate::flow::registry::prop(
                "sslRootCert",
                crate::flow::registry::Kind::String,
                "The certificate authority the server's certificate is checked against, PEM.",
            ),
            crate::flow::registry::prop(
                "sslCert",
                crate::flow::registry::Kind::String,
                "The client's certificate, PEM.",
            ),
            crate::flow::registry::prop(
                "sslKey",
                crate::flow::registry::Kind::String,
                "The client certificate's key, PEM.",
            ),
            crate::flow::registry::prop(
                "sslKeyPassword",
                crate::flow::registry::Kind::String,
                "Accepted for Kestra compatibility: an encrypted key is refused; give it decrypted (from a secret).",
            ),
            crate::task::jdbc::TIME_ZONE_ID,
            $($extra,)*
        ]
    };
}

pub const QUERY: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.postgresql.Query",
    alias: "jdbc.postgresql.Query",
    category: Category::Task,
    doc: "Runs one SQL statement on PostgreSQL and keeps its rows as fetchType says (`afterSQL` in the same transaction).",
    properties: postgres![
        SQL,
        AFTER_SQL,
        FETCH_TYPE,
        FETCH_SIZE,
        PARAMETERS,
        CONNECTION_POOLING,
        CONNECTION_POOL_SIZE,
        STORE,
        FETCH_ONE,
        FETCH,
    ],
    outputs: QUERY_OUTPUTS,
    run: runner!(run::Query::postgres(false)),
    check: None,
    aliases: &[],
};

pub const QUERIES: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.postgresql.Queries",
    alias: "jdbc.postgresql.Queries",
    category: Category::Task,
    doc: "Runs several SQL statements, separated by `;`, on PostgreSQL, in one transaction unless `transaction: false`; each statement that returns rows gives an entry of `outputs`.",
    properties: postgres![
        SQL,
        TRANSACTION,
        FETCH_TYPE,
        FETCH_SIZE,
        PARAMETERS,
        AFTER_SQL,
        CONNECTION_POOLING,
        CONNECTION_POOL_SIZE,
        STORE,
        FETCH_ONE,
        FETCH,
    ],
    outputs: QUERIES_OUTPUTS,
    run: runner!(run::Query::postgres(true)),
    check: None,
    aliases: &[],
};

/// AbstractCopy's properties, for CopyIn and CopyOut.
macro_rules! copy {
    ($($extra:expr),* $(,)?) => {
        postgres![
            $($extra,)*
            crate::flow::registry::prop("table", crate::flow::registry::Kind::String, "The table (schema-qualified if need be)."),
            crate::flow::registry::prop("columns", crate::flow::registry::Kind::StringList, "The columns copied; every column when unset."),
            crate::flow::registry::def(
                "format",
                crate::flow::registry::Kind::Enum { values: &["TEXT", "CSV", "BINARY"] },
                "\"TEXT\"",
                "The file's format, as PostgreSQL's COPY reads and writes it.",
            ),
            crate::flow::registry::prop("oids", crate::flow::registry::Kind::Boolean, "COPY's OIDS option."),
            crate::flow::registry::prop("freeze", crate::flow::registry::Kind::Boolean, "COPY's FREEZE option (rows frozen as VACUUM FREEZE leaves them)."),
            crate::flow::registry::prop("delimiter", crate::flow::registry::Kind::String, "The one character between columns (tab in TEXT, comma in CSV)."),
            crate::flow::registry::prop("nullString", crate::flow::registry::Kind::String, "The text standing for null (`\\N` in TEXT, empty in CSV)."),
            crate::flow::registry::prop("header", crate::flow::registry::Kind::Boolean, "CSV: the first line names the columns."),
            crate::flow::registry::prop("quote", crate::flow::registry::Kind::String, "CSV: the quoting character (`\"`)."),
            crate::flow::registry::prop("escape", crate::flow::registry::Kind::String, "CSV: the character before a quote inside a quoted value (the quote itself)."),
            crate::flow::registry::prop("forceQuote", crate::flow::registry::Kind::StringList, "CopyOut, CSV: columns always quoted (`*`: all)."),
            crate::flow::registry::prop("forceNotNull", crate::flow::registry::Kind::StringList, "CopyIn, CSV: columns whose empty value is an empty string, not null."),
            crate::flow::registry::prop("forceNull", crate::flow::registry::Kind::StringList, "CopyIn, CSV: columns whose quoted empty value is null."),
            crate::flow::registry::prop("encoding", crate::flow::registry::Kind::String, "The file's encoding (`UTF8`, `LATIN1`…); the connection's when unset."),
            crate::flow::registry::prop("socketTimeout", crate::flow::registry::Kind::Integer, "Accepted for Kestra compatibility; the task's `timeout` bounds the copy."),
        ]
    };
}

pub const COPY_IN: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.postgresql.CopyIn",
    alias: "jdbc.postgresql.CopyIn",
    category: Category::Task,
    doc: "Loads a file into a PostgreSQL table with COPY … FROM STDIN (TEXT, CSV or BINARY), streamed.",
    properties: copy![ex(
        req("from", String, "The file's storage:// URI."),
        "{{ outputs.extract.uri }}"
    )],
    outputs: &[("rowCount", "How many rows were copied.")],
    run: runner!(run::CopyIn),
    check: None,
    aliases: &[],
};

pub const COPY_OUT: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.postgresql.CopyOut",
    alias: "jdbc.postgresql.CopyOut",
    category: Category::Task,
    doc: "Writes a table, or a query's rows, to a file with COPY … TO STDOUT (TEXT, CSV or BINARY), streamed.",
    properties: copy![prop(
        "sql",
        String,
        "A query whose rows are copied, instead of `table`."
    )],
    outputs: &[
        ("uri", "The file's storage:// URI."),
        ("rowCount", "How many rows were copied."),
    ],
    run: runner!(run::CopyOut),
    check: None,
    aliases: &[],
};

pub const TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.jdbc.postgresql.Trigger",
    alias: "jdbc.postgresql.Trigger",
    category: Category::Trigger,
    doc: "Runs a query on PostgreSQL every interval and starts an execution when it returns rows (`{{ trigger.rows }}`); `afterSQL` marks them in the same transaction.",
    properties: postgres![
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
    pub(super) use crate::task::jdbc::run::{CopyIn, CopyOut, Query};
}
