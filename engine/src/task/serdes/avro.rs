//! Kestra's `io.kestra.plugin.serdes.avro` package: Ion to and from Avro
//! object container files, a record at a time on a blocking thread.
//!
//! The conversion rules are Kestra's: `AvroConverter` from Ion to Avro
//! (`avro_converter.rs`), `InferAvroSchema` when no schema is given
//! (`avro_schema.rs`), `AvroDeserializer` from Avro to Ion (here, with the
//! Ion text of `ion.rs`). Kestra's Parquet tasks go through Avro too
//! (parquet-avro), so `parquet.rs` shares those modules and the properties
//! declared here.
//!
//! Where Mortar differs from Kestra:
//! - `timeZoneId` defaults to UTC (Kestra: the worker's zone).
//! - A null (or missing value) in a non-nullable `string` field fails, where
//!   Kestra writes the text `null`.
//! - Dates and times are read with `dateFormat`/`timeFormat`/
//!   `datetimeFormat` (Java patterns) and, failing that, as ISO-8601: Mortar
//!   reads an Ion timestamp as its ISO text, where Kestra has a Java date.
//! - A timestamp written to Ion keeps its microseconds when it has some
//!   (Kestra rounds to milliseconds); NaN and infinities are written as null,
//!   which Mortar's other tasks can read.
//! - The `big-decimal` and `duration` logical types are refused; a `decimal`
//!   has at most 38 digits.

use super::{FROM, OUTPUTS};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, prop, runner};

pub const ION_TO_AVRO: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.avro.IonToAvro",
    alias: "serdes.avro.IonToAvro",
    category: Category::Task,
    doc: "Converts an Ion file to an Avro file with the Avro `schema` given (or one inferred from the first `numberOfRowsToScan` records), a record at a time. Strings are read as the schema's types (numbers, booleans from `trueValues`/`falseValues`, null from `nullValues`, dates with `dateFormat`...); a record that does not fit fails, naming its line and field, or is skipped as `onBadLines` says.",
    properties: &[
        FROM,
        SCHEMA,
        NUMBER_OF_ROWS_TO_SCAN,
        TRUE_VALUES,
        FALSE_VALUES,
        NULL_VALUES,
        DATE_FORMAT,
        TIME_FORMAT,
        DATETIME_FORMAT,
        DECIMAL_SEPARATOR,
        STRICT_SCHEMA,
        INFER_ALL_FIELDS,
        TIME_ZONE_ID,
        ON_BAD_LINES,
    ],
    outputs: OUTPUTS,
    run: runner!(run::IonToAvro),
    check: None,
    aliases: &["io.kestra.plugin.serdes.avro.AvroWriter"],
};

pub const AVRO_TO_ION: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.avro.AvroToIon",
    alias: "serdes.avro.AvroToIon",
    category: Category::Task,
    doc: "Converts an Avro object container file (codec null, deflate or snappy) to Ion, a record at a time: a record's fields in the schema's order, a `date` as an Ion date, a `timestamp-*` as an Ion timestamp in UTC, a `decimal` as an Ion decimal, `time-*` and `local-timestamp-*` as Kestra's `LocalTime::`/`LocalDateTime::` strings, bytes as a blob.",
    properties: &[
        FROM,
        def(
            "onBadLines",
            Enum {
                values: &["ERROR", "WARN", "SKIP"],
            },
            "\"ERROR\"",
            "Accepted: a record Mortar cannot read fails the task (the rest of its block cannot be found).",
        ),
    ],
    outputs: OUTPUTS,
    run: runner!(run::AvroToIon),
    check: None,
    aliases: &["io.kestra.plugin.serdes.avro.AvroReader"],
};

// The properties of Kestra's AbstractAvroConverter, which IonToParquet has too.

pub(super) const SCHEMA: Property = prop(
    "schema",
    String,
    "The Avro schema (JSON text). Without it, one is inferred from the records: each field a union of null and the types seen, a record named `root`.",
);
pub(super) const NUMBER_OF_ROWS_TO_SCAN: Property = def(
    "numberOfRowsToScan",
    Integer,
    "100",
    "How many records the inference reads when `schema` is empty (all of them with `inferAllFields`).",
);
pub(super) const TRUE_VALUES: Property = def(
    "trueValues",
    StringList,
    "[\"t\",\"true\",\"enabled\",\"1\",\"on\",\"yes\"]",
    "Texts read as true (any case).",
);
pub(super) const FALSE_VALUES: Property = def(
    "falseValues",
    StringList,
    "[\"f\",\"false\",\"disabled\",\"0\",\"off\",\"no\",\"\"]",
    "Texts read as false (any case).",
);
pub(super) const NULL_VALUES: Property = def(
    "nullValues",
    StringList,
    "[\"\",\"#N/A\",\"#N/A N/A\",\"#NA\",\"-1.#IND\",\"-1.#QNAN\",\"-NaN\",\"1.#IND\",\"1.#QNAN\",\"NA\",\"n/a\",\"nan\",\"null\"]",
    "Texts read as null (any case) where the schema allows null.",
);
pub(super) const DATE_FORMAT: Property = def(
    "dateFormat",
    String,
    "\"yyyy-MM-dd[XXX]\"",
    "The Java pattern a `date` is read with (ISO-8601 is read too).",
);
pub(super) const TIME_FORMAT: Property = def(
    "timeFormat",
    String,
    "\"HH:mm[:ss][.SSSSSS][XXX]\"",
    "The Java pattern a `time-*` is read with (ISO-8601 is read too).",
);
pub(super) const DATETIME_FORMAT: Property = def(
    "datetimeFormat",
    String,
    "\"yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]\"",
    "The Java pattern a `timestamp-*` is read with (ISO-8601 and epoch numbers in the schema's unit are read too).",
);
pub(super) const DECIMAL_SEPARATOR: Property = def(
    "decimalSeparator",
    String,
    "\".\"",
    "The decimal point of numbers written as text (`,` for European data).",
);
pub(super) const STRICT_SCHEMA: Property = def(
    "strictSchema",
    Boolean,
    "false",
    "A record with a field the schema does not have fails, naming the field.",
);
pub(super) const INFER_ALL_FIELDS: Property = def(
    "inferAllFields",
    Boolean,
    "false",
    "The inference reads every record, and in a union `nullValues`, `trueValues` and `falseValues` texts are null, true and false first.",
);
pub(super) const TIME_ZONE_ID: Property = def(
    "timeZoneId",
    String,
    "\"UTC\"",
    "The zone of a date-time written without an offset.",
);
pub(super) const ON_BAD_LINES: Property = def(
    "onBadLines",
    Enum {
        values: &["ERROR", "WARN", "SKIP"],
    },
    "\"ERROR\"",
    "A value that does not fit its field: fail; or warn (or not) and write null where the field allows it, else skip the record.",
);

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use std::collections::HashMap;
    use std::io::Write;

    use apache_avro::Schema;
    use apache_avro::schema::Name;
    use apache_avro::types::Value as Avro;
    use futures::future::BoxFuture;

    use super::super::avro_converter::{Converter, Options};
    use super::super::avro_schema::{names_of, schema, schema_text};
    use super::super::ion;
    use super::super::run::{create, done, files, io, line, log_warnings, open};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(in super::super) struct IonToAvro;

    impl Runner for IonToAvro {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (source, uri, target) = files(ctx, ".avro")?;
                let options = Options::of(ctx)?;
                let schema_text = schema_text(ctx)?;
                let (size, warnings) = tokio::task::spawn_blocking(move || {
                    let schema = schema(schema_text.as_deref(), &options, &source)?;
                    let converter = Converter::new(&schema, options)?;
                    let mut writer = apache_avro::Writer::new(&schema, create(&target)?)
                        .map_err(|e| TaskError::Failed(format!("writing the Avro file: {e}")))?;
                    let mut warnings = Vec::new();
                    let size = converter.each_record(open(&source)?, &mut warnings, |record| {
                        writer.append_value(record).map_err(|e| {
                            TaskError::Failed(format!("writing the Avro file: {e}"))
                        })?;
                        Ok(())
                    })?;
                    let mut out = writer
                        .into_inner()
                        .map_err(|e| TaskError::Failed(format!("writing the Avro file: {e}")))?;
                    out.flush().map_err(io)?;
                    Ok::<_, TaskError>((size, warnings))
                })
                .await
                .map_err(|e| TaskError::Failed(format!("the conversion stopped: {e}")))??;
                log_warnings(ctx, &warnings).await;
                done(ctx, uri, size).await
            })
        }
    }

    pub(in super::super) struct AvroToIon;

    impl Runner for AvroToIon {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (source, uri, target) = files(ctx, ".ion")?;
                let size = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
                    let unreadable = |e: apache_avro::Error| {
                        TaskError::Failed(format!("not an Avro file Mortar can read: {e}"))
                    };
                    let reader = apache_avro::Reader::new(open(&source)?).map_err(unreadable)?;
                    let schema = reader.writer_schema().clone();
                    let names = names_of(&schema)?;
                    let mut out = create(&target)?;
                    let mut size = 0u64;
                    let mut text = String::new();
                    for (index, record) in reader.enumerate() {
                        let record = record.map_err(|e| {
                            TaskError::Failed(format!("record {}: not readable: {e}", index + 1))
                        })?;
                        text.clear();
                        avro_to_ion(&record, &schema, &names, &mut text)
                            .map_err(|e| TaskError::Failed(format!("record {}: {e}", index + 1)))?;
                        line(&mut out, &text)?;
                        size += 1;
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

    /// Writes one Avro value as Ion, as Kestra's AvroDeserializer and Ion
    /// writer give it.
    fn avro_to_ion(
        value: &Avro,
        schema: &Schema,
        names: &HashMap<Name, Schema>,
        out: &mut String,
    ) -> Result<(), String> {
        let schema = match schema {
            Schema::Ref { name } => names
                .get(name)
                .ok_or_else(|| format!("undefined type {name}"))?,
            other => other,
        };
        match (value, schema) {
            (Avro::Union(i, inner), Schema::Union(union)) => {
                let branch = union
                    .variants()
                    .get(*i as usize)
                    .ok_or_else(|| format!("union branch {i} missing"))?;
                avro_to_ion(inner, branch, names, out)?;
            }
            (Avro::Union(_, inner), other) => avro_to_ion(inner, other, names, out)?,
            (Avro::Null, _) => out.push_str("null"),
            (Avro::Boolean(b), _) => out.push_str(if *b { "true" } else { "false" }),
            (Avro::Int(n), _) => out.push_str(&n.to_string()),
            (Avro::Long(n), _) => out.push_str(&n.to_string()),
            (Avro::Float(f), _) => ion::float(f64::from(*f), out),
            (Avro::Double(f), _) => ion::float(*f, out),
            (Avro::Bytes(b), _) | (Avro::Fixed(_, b), _) => ion::blob(b, out),
            (Avro::String(s), _) | (Avro::Enum(_, s), _) => ion::string(s, out),
            (Avro::Uuid(u), _) => ion::string(&u.to_string(), out),
            (Avro::Array(items), schema) => {
                let item_schema = match schema {
                    Schema::Array(a) => &*a.items,
                    _ => &Schema::Null,
                };
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    avro_to_ion(item, item_schema, names, out)?;
                }
                out.push(']');
            }
            (Avro::Map(entries), schema) => {
                let value_schema = match schema {
                    Schema::Map(m) => &*m.types,
                    _ => &Schema::Null,
                };
                let mut keys: Vec<&String> = entries.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&ion::name(key));
                    out.push(':');
                    avro_to_ion(&entries[key], value_schema, names, out)?;
                }
                out.push('}');
            }
            (Avro::Record(fields), schema) => {
                let field_schemas: Vec<&Schema> = match schema {
                    Schema::Record(r) => r.fields.iter().map(|f| &f.schema).collect(),
                    _ => Vec::new(),
                };
                out.push('{');
                for (i, (name, field)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&ion::name(name));
                    out.push(':');
                    avro_to_ion(
                        field,
                        field_schemas.get(i).copied().unwrap_or(&Schema::Null),
                        names,
                        out,
                    )?;
                }
                out.push('}');
            }
            (Avro::Decimal(d), Schema::Decimal(schema)) => {
                let bytes = Vec::<u8>::try_from(d).map_err(|e| e.to_string())?;
                ion::decimal_bytes(&bytes, schema.scale as i32, out);
            }
            (Avro::Decimal(d), _) => {
                let bytes = Vec::<u8>::try_from(d).map_err(|e| e.to_string())?;
                ion::decimal_bytes(&bytes, 0, out);
            }
            (Avro::BigDecimal(d), _) => out.push_str(&d.to_string()),
            (Avro::Date(days), _) => ion::date(i64::from(*days), out),
            (Avro::TimeMillis(ms), _) => ion::local_time(i64::from(*ms) * 1000, out),
            (Avro::TimeMicros(us), _) => ion::local_time(*us, out),
            (Avro::TimestampMillis(ms), _) => ion::instant(ms.saturating_mul(1000), out),
            (Avro::TimestampMicros(us), _) => ion::instant(*us, out),
            (Avro::TimestampNanos(ns), _) => ion::instant(ns / 1000, out),
            (Avro::LocalTimestampMillis(ms), _) => {
                ion::local_date_time(ms.saturating_mul(1000), out)
            }
            (Avro::LocalTimestampMicros(us), _) => ion::local_date_time(*us, out),
            (Avro::LocalTimestampNanos(ns), _) => ion::local_date_time(ns / 1000, out),
            (Avro::Duration(d), _) => {
                let months = u32::from(d.months());
                let days = u32::from(d.days());
                let millis = u32::from(d.millis());
                out.push_str(&format!("{{months:{months},days:{days},millis:{millis}}}"));
            }
        }
        Ok(())
    }
}
