//! Kestra's JDBC plugins for the two databases sqlx already carries:
//! `io.kestra.plugin.jdbc.postgresql` (Query, Queries, CopyIn, CopyOut,
//! Trigger) and `io.kestra.plugin.jdbc.sqlite` (Query, Queries, Trigger).
//!
//! Statements run over the simple query protocol, so every value arrives as
//! PostgreSQL's text and one converter types them all (numbers, booleans,
//! JSON, dates, intervals, arrays) without a decoder per type; `parameters`
//! are written into the statement as quoted literals where their `:name`
//! stands. Rows stream: FETCH_ONE keeps the first, FETCH every one, STORE
//! writes Ion a line at a time, whatever the result's size.

pub mod postgresql;
pub mod sqlite;

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Property, def, ex, prop, req};

/// What a query does with its rows.
pub const FETCH_TYPES: &[&str] = &["FETCH_ONE", "FETCH", "STORE", "NONE"];

pub const USERNAME: Property = prop("username", String, "The database user.");
pub const PASSWORD: Property = prop(
    "password",
    String,
    "The user's password (use `{{ secret('…') }}`).",
);
pub const TIME_ZONE_ID: Property = prop(
    "timeZoneId",
    String,
    "The zone `timestamptz` values are given in (an IANA name); UTC when unset.",
);
pub const CONNECTION_POOLING: Property = def(
    "connectionPooling",
    Boolean,
    "true",
    "Accepted for Kestra compatibility: each task run opens its own connection.",
);
pub const CONNECTION_POOL_SIZE: Property = def(
    "connectionPoolSize",
    Integer,
    "10",
    "Accepted for Kestra compatibility.",
);
pub const SQL: Property = ex(
    req("sql", String, "The SQL statement."),
    "SELECT * FROM my_table",
);
pub const AFTER_SQL: Property = prop(
    "afterSQL",
    String,
    "One statement run after `sql` in the same transaction (mark the rows read as processed); both commit together or neither does.",
);
pub const FETCH_TYPE: Property = def(
    "fetchType",
    Enum {
        values: FETCH_TYPES,
    },
    "\"NONE\"",
    "FETCH_ONE: the first row as `row`; FETCH: every row as `rows`; STORE: an Ion file as `uri`; NONE: nothing.",
);
pub const FETCH_SIZE: Property = def(
    "fetchSize",
    Integer,
    "10000",
    "Accepted for Kestra compatibility: rows always stream.",
);
pub const PARAMETERS: Property = prop(
    "parameters",
    Map,
    "Values for the `:name` placeholders of the statement, by name (a string, number, boolean, null, or a list or mapping as JSON).",
);
pub const STORE: Property = prop("store", Boolean, "Deprecated: fetchType STORE.");
pub const FETCH_ONE: Property = prop("fetchOne", Boolean, "Deprecated: fetchType FETCH_ONE.");
pub const FETCH: Property = prop("fetch", Boolean, "Deprecated: fetchType FETCH.");
pub const TRANSACTION: Property = def(
    "transaction",
    Boolean,
    "true",
    "Run the statements in one transaction: if one fails, none of them is kept.",
);
pub const INTERVAL: Property = def(
    "interval",
    Duration,
    "\"PT60S\"",
    "How often the query runs.",
);
pub const TRIGGER_FETCH_TYPE: Property = def(
    "fetchType",
    Enum {
        values: &["FETCH_ONE", "FETCH", "STORE"],
    },
    "\"FETCH\"",
    "FETCH: the rows as `{{ trigger.rows }}`; FETCH_ONE: the first as `{{ trigger.row }}`; STORE: an Ion file as `{{ trigger.uri }}`. The trigger fires when the query returns a row.",
);
pub const CONDITIONS: Property = prop(
    "conditions",
    Conditions,
    "Further conditions, checked after the query returned rows.",
);
pub const INPUTS: Property = prop("inputs", Map, "Inputs of the executions it starts.");
pub const STOP_AFTER: Property = prop("stopAfter", Any, "Accepted for Kestra compatibility.");

/// The outputs of Query (and of each statement of Queries).
pub const QUERY_OUTPUTS: &[(&str, &str)] = &[
    ("row", "The first row (FETCH_ONE), null when there is none."),
    ("rows", "Every row (FETCH)."),
    ("uri", "The rows as an Ion file, one row a line (STORE)."),
    ("size", "How many rows (FETCH, STORE; 1 for FETCH_ONE)."),
];

pub const QUERIES_OUTPUTS: &[(&str, &str)] = &[(
    "outputs",
    "One entry per statement that returned rows, in order, each with `row`, `rows`, `uri` and `size` as Query's.",
)];

pub const TRIGGER_OUTPUTS: &[(&str, &str)] = &[
    ("row", "The first row (FETCH_ONE)."),
    ("rows", "Every row (FETCH)."),
    ("uri", "The rows as an Ion file (STORE)."),
    ("size", "How many rows."),
];

#[cfg(feature = "runtime")]
pub(crate) mod run;
#[cfg(feature = "runtime")]
pub(crate) mod sql_text;
#[cfg(feature = "runtime")]
mod values;
