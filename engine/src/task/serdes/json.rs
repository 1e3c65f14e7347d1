//! Kestra's `io.kestra.plugin.serdes.json` package.

use super::{CHARSET, FROM, OUTPUTS};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, prop, runner};

pub const JSON_TO_ION: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.json.JsonToIon",
    alias: "serdes.json.JsonToIon",
    category: Category::Task,
    doc: "Converts JSON to Ion: JSON Lines (one value a line), or with `newLine: false` one JSON array whose items become the records.",
    properties: &[
        FROM,
        def(
            "newLine",
            Boolean,
            "true",
            "The file is JSON Lines; false: one JSON value (an array's items each a record).",
        ),
        CHARSET,
    ],
    outputs: OUTPUTS,
    run: runner!(run::JsonToIon),
    check: None,
    aliases: &["io.kestra.plugin.serdes.json.JsonReader"],
};

pub const ION_TO_JSON: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.json.IonToJson",
    alias: "serdes.json.IonToJson",
    category: Category::Task,
    doc: "Converts an Ion file to JSON Lines (`.jsonl`), or with `newLine: false` to one JSON array (`.json`); a struct's fields keep their order.",
    properties: &[
        FROM,
        def(
            "newLine",
            Boolean,
            "true",
            "Write JSON Lines; false: one JSON array.",
        ),
        CHARSET,
        prop(
            "timeZoneId",
            String,
            "Accepted: dates are written as Ion holds them.",
        ),
    ],
    outputs: OUTPUTS,
    run: runner!(run::IonToJson),
    check: None,
    aliases: &["io.kestra.plugin.serdes.json.JsonWriter"],
};

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use std::io::{BufRead, Write};

    use futures::future::BoxFuture;
    use serde_json::Value;

    use super::super::run::{create, done, each_ion_in, io, line, open, paths};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct JsonToIon;

    impl Runner for JsonToIon {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (source, uri, target) = paths(ctx, ".ion")?;
                let lines = ctx.flag("newLine", true)?;
                let size = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
                    let reader = open(&source)?;
                    let mut out = create(&target)?;
                    let mut size = 0u64;
                    let mut write = |value: &Value| -> Result<(), TaskError> {
                        line(&mut out, &crate::flow::pebble::convert::ion_text(value))?;
                        size += 1;
                        Ok(())
                    };
                    if lines {
                        for (number, text) in reader.lines().enumerate() {
                            let text = text.map_err(io)?;
                            if text.trim().is_empty() {
                                continue;
                            }
                            let value: Value = serde_json::from_str(&text).map_err(|e| {
                                TaskError::Failed(format!("line {}: not JSON: {e}", number + 1))
                            })?;
                            write(&value)?;
                        }
                    } else {
                        let value: Value = serde_json::from_reader(reader)
                            .map_err(|e| TaskError::Failed(format!("not JSON: {e}")))?;
                        match value {
                            Value::Array(items) => items.iter().try_for_each(&mut write)?,
                            one => write(&one)?,
                        }
                    }
                    out.flush().map_err(io)?;
                    Ok(size)
                })
                .await
                .map_err(|e| TaskError::Failed(format!("the conversion stopped: {e}")))??;
                done(ctx, uri, size).await
            })
        }
    }

    /// A record as JSON, a struct's fields in their order.
    fn json_text(value: &Value, fields: Option<&[(String, Value)]>) -> String {
        match fields {
            Some(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            None => value.to_string(),
        }
    }

    /// Writes the Ion records of `ion` as JSON Lines, or with `lines`
    /// false as one JSON array; returns how many records.
    pub fn ion_to_json(
        ion: impl std::io::BufRead,
        mut out: impl Write,
        lines: bool,
    ) -> Result<u64, TaskError> {
        let mut size = 0u64;
        if !lines {
            out.write_all(b"[").map_err(io)?;
        }
        each_ion_in(ion, |value, fields| {
            let text = json_text(&value, fields.as_deref());
            if lines {
                line(&mut out, &text)?;
            } else {
                if size > 0 {
                    out.write_all(b",").map_err(io)?;
                }
                out.write_all(text.as_bytes()).map_err(io)?;
            }
            size += 1;
            Ok(())
        })?;
        if !lines {
            out.write_all(b"]").map_err(io)?;
        }
        out.flush().map_err(io)?;
        Ok(size)
    }

    pub(super) struct IonToJson;

    impl Runner for IonToJson {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let lines = ctx.flag("newLine", true)?;
                let (source, uri, target) = paths(ctx, if lines { ".jsonl" } else { ".json" })?;
                let size = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
                    let mut out = create(&target)?;
                    let size = ion_to_json(open(&source)?, &mut out, lines)?;
                    out.flush().map_err(io)?;
                    Ok(size)
                })
                .await
                .map_err(|e| TaskError::Failed(format!("the conversion stopped: {e}")))??;
                done(ctx, uri, size).await
            })
        }
    }
}
