//! Kestra's `io.kestra.plugin.serdes.csv` package.

use super::{CHARSET, FROM, OUTPUTS};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, prop, runner};

pub const CSV_TO_ION: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.csv.CsvToIon",
    alias: "serdes.csv.CsvToIon",
    category: Category::Task,
    doc: "Converts a CSV file to Ion: with a header, each row a struct of its columns (text, `\\N` as null), in their order; without, each row a list.",
    properties: &[
        FROM,
        def(
            "header",
            Boolean,
            "true",
            "The first line names the columns.",
        ),
        def(
            "fieldSeparator",
            String,
            "\",\"",
            "The field separator (`\\t` for a tab).",
        ),
        def(
            "textDelimiter",
            String,
            "\"\\\"\"",
            "The quote around a field.",
        ),
        def("skipEmptyRows", Boolean, "false", "Skip empty lines."),
        def("skipRows", Integer, "0", "Lines to skip after the header."),
        def(
            "onBadLines",
            Enum {
                values: &["ERROR", "WARN", "SKIP"],
            },
            "\"ERROR\"",
            "A row whose number of fields is not the header's: fail, warn and skip it, or skip it.",
        ),
        def(
            "onEmptyHeader",
            Enum {
                values: &["DROP", "RENAME"],
            },
            "\"DROP\"",
            "Trailing unnamed columns: dropped, or named col_<index>.",
        ),
        prop(
            "errorOnDifferentFieldCount",
            Boolean,
            "Older name: true is onBadLines ERROR.",
        ),
        CHARSET,
        prop("maxBufferSize", Integer, "Accepted."),
        prop("maxFieldSize", Integer, "Accepted."),
        prop("allowExtraCharsAfterClosingQuote", Boolean, "Accepted."),
    ],
    outputs: OUTPUTS,
    run: runner!(run::CsvToIon),
    check: None,
    aliases: &["io.kestra.plugin.serdes.csv.CsvReader"],
};

pub const ION_TO_CSV: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.csv.IonToCsv",
    alias: "serdes.csv.IonToCsv",
    category: Category::Task,
    doc: "Converts an Ion file to CSV: the first record's fields name the columns, in their order.",
    properties: &[
        FROM,
        def("header", Boolean, "true", "Write the column names first."),
        def(
            "fieldSeparator",
            String,
            "\",\"",
            "The field separator (`\\t` for a tab).",
        ),
        def(
            "textDelimiter",
            String,
            "\"\\\"\"",
            "The quote around a field that needs one.",
        ),
        def("lineDelimiter", String, "\"\\n\"", "The line end."),
        def("alwaysDelimitText", Boolean, "false", "Quote every field."),
        CHARSET,
        prop(
            "dateFormat",
            String,
            "Accepted: dates are written as Ion holds them.",
        ),
        prop("timeFormat", String, "Accepted."),
        prop("dateTimeFormat", String, "Accepted."),
        prop("timeZoneId", String, "Accepted."),
    ],
    outputs: OUTPUTS,
    run: runner!(run::IonToCsv),
    check: None,
    aliases: &["io.kestra.plugin.serdes.csv.CsvWriter"],
};

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use std::io::Write;

    use futures::future::BoxFuture;
    use serde_json::Value;

    use super::super::run::{character, create, done, each_ion_in, io, line, open, paths};
    use crate::log::Level;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct CsvToIon;

    impl Runner for CsvToIon {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (source, uri, target) = paths(ctx, ".ion")?;
                let header = ctx.flag("header", true)?;
                let separator = character(ctx, "fieldSeparator", b',')?;
                let quote = character(ctx, "textDelimiter", b'"')?;
                let skip_empty = ctx.flag("skipEmptyRows", false)?;
                let skip_rows = ctx.prop("skipRows")?.as_u64().unwrap_or(0);
                // Kestra's older errorOnDifferentFieldCount: true is ERROR, the default.
                let on_bad = ctx
                    .prop("onBadLines")?
                    .as_str()
                    .map_or_else(|| "ERROR".to_owned(), str::to_ascii_uppercase);
                let rename = ctx.prop("onEmptyHeader")?.as_str() == Some("RENAME");
                let (size, warnings) = tokio::task::spawn_blocking(move || -> Result<(u64, Vec<String>), TaskError> {
                    let mut reader = csv::ReaderBuilder::new()
                        .has_headers(false)
                        .delimiter(separator)
                        .quote(quote)
                        .flexible(true)
                        .from_reader(open(&source)?);
                    let mut out = create(&target)?;
                    let mut names: Option<Vec<String>> = None;
                    // The header's own count, before trailing unnamed columns are dropped.
                    let mut header_count = 0usize;
                    let (mut size, mut skipped, mut warnings) = (0u64, 0u64, Vec::new());
                    for (index, record) in reader.records().enumerate() {
                        let record = record.map_err(|e| TaskError::Failed(format!("line {}: not CSV: {e}", index + 1)))?;
                        if skip_empty && record.iter().all(str::is_empty) {
                            continue;
                        }
                        if header && names.is_none() {
                            let mut found: Vec<String> = record.iter().map(str::to_owned).collect();
                            header_count = found.len();
                            if rename {
                                for (i, name) in found.iter_mut().enumerate() {
                                    if name.is_empty() {
                                        *name = format!("col_{i}");
                                    }
                                }
                            } else {
                                let kept = found.iter().rposition(|n| !n.is_empty()).map_or(1, |i| i + 1);
                                if kept < found.len() {
                                    warnings.push(format!("Dropped {} trailing unnamed header column(s); their values are not emitted. Set onEmptyHeader=RENAME to keep them.", found.len() - kept));
                                    found.truncate(kept);
                                }
                            }
                            names = Some(found);
                            continue;
                        }
                        if skipped < skip_rows {
                            skipped += 1;
                            continue;
                        }
                        let value = |field: &str| {
                            if field == "\\N" { Value::Null } else { Value::String(field.to_owned()) }
                        };
                        let text = match &names {
                            Some(names) => {
                                if record.len() != header_count {
                                    let message = format!("Bad line encountered (field count mismatch): Expected {header_count}, got {} fields.", record.len());
                                    match on_bad.as_str() {
                                        "WARN" => { warnings.push(message); continue; }
                                        "SKIP" => continue,
                                        _ => return Err(TaskError::Failed(format!("line {}: {message}", index + 1))),
                                    }
                                }
                                let values: Vec<Value> = (0..names.len()).map(|i| record.get(i).map_or(Value::Null, value)).collect();
                                crate::flow::pebble::convert::ion_struct(names.iter().map(String::as_str).zip(values.iter()))
                            }
                            None => crate::flow::pebble::convert::ion_text(&Value::Array(record.iter().map(value).collect())),
                        };
                        line(&mut out, &text)?;
                        size += 1;
                    }
                    out.flush().map_err(io)?;
                    Ok((size, warnings))
                })
                .await
                .map_err(|e| TaskError::Failed(format!("the conversion stopped: {e}")))??;
                for warning in warnings.iter().take(100) {
                    ctx.log(Level::Warn, warning).await;
                }
                done(ctx, uri, size).await
            })
        }
    }

    /// A value as a CSV field: text as it is, null as nothing, a number or
    /// a boolean as JSON prints it, a list or struct as JSON.
    fn field(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// How [`ion_to_csv`] writes.
    pub struct CsvOut {
        pub header: bool,
        pub separator: u8,
        pub quote: u8,
        pub always_quote: bool,
        pub terminator: csv::Terminator,
    }

    impl Default for CsvOut {
        /// IonToCsv's defaults: a header, commas, `"` when needed, `\n`.
        fn default() -> Self {
            Self {
                header: true,
                separator: b',',
                quote: b'"',
                always_quote: false,
                terminator: csv::Terminator::Any(b'\n'),
            }
        }
    }

    /// Writes the Ion records of `ion` as CSV: the first struct's fields
    /// are the columns; returns how many records.
    pub fn ion_to_csv(
        ion: impl std::io::BufRead,
        out: impl std::io::Write,
        options: &CsvOut,
    ) -> Result<u64, TaskError> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(options.separator)
            .quote(options.quote)
            .terminator(options.terminator)
            .quote_style(if options.always_quote {
                csv::QuoteStyle::Always
            } else {
                csv::QuoteStyle::Necessary
            })
            .flexible(true)
            .from_writer(out);
        let mut columns: Option<Vec<String>> = None;
        let mut size = 0u64;
        let csv_error = |e: csv::Error| TaskError::Failed(format!("writing the CSV: {e}"));
        each_ion_in(ion, |value, fields| {
            match fields {
                Some(fields) => {
                    if columns.is_none() {
                        let names: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
                        if options.header {
                            writer.write_record(&names).map_err(csv_error)?;
                        }
                        columns = Some(names);
                    }
                    let names = columns.as_ref().expect("set above");
                    let row: Vec<String> = names
                        .iter()
                        .map(|name| value.get(name).map_or_else(String::new, field))
                        .collect();
                    writer.write_record(&row).map_err(csv_error)?;
                }
                None => {
                    let row: Vec<String> = match &value {
                        Value::Array(items) => items.iter().map(field).collect(),
                        other => vec![field(other)],
                    };
                    writer.write_record(&row).map_err(csv_error)?;
                }
            }
            size += 1;
            Ok(())
        })?;
        writer.flush().map_err(io)?;
        Ok(size)
    }

    pub(super) struct IonToCsv;

    impl Runner for IonToCsv {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (source, uri, target) = paths(ctx, ".csv")?;
                let header = ctx.flag("header", true)?;
                let separator = character(ctx, "fieldSeparator", b',')?;
                let quote = character(ctx, "textDelimiter", b'"')?;
                let always = ctx.flag("alwaysDelimitText", false)?;
                let terminator = match ctx.prop("lineDelimiter")?.as_str() {
                    None | Some("\n") | Some("\\n") => csv::Terminator::Any(b'\n'),
                    Some("\r\n") | Some("\\r\\n") => csv::Terminator::CRLF,
                    Some(other) if other.len() == 1 => csv::Terminator::Any(other.as_bytes()[0]),
                    Some(other) => {
                        return Err(ctx.invalid(format!(
                            "lineDelimiter {other:?}: \\n, \\r\\n or one character"
                        )));
                    }
                };
                let options = CsvOut {
                    header,
                    separator,
                    quote,
                    always_quote: always,
                    terminator,
                };
                let size = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
                    let mut out = create(&target)?;
                    let size = ion_to_csv(open(&source)?, &mut out, &options)?;
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
