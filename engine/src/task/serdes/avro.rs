//! Kestra's `io.kestra.plugin.serdes.avro` package: Ion to and from Avro
//! object container files, a record at a time on a blocking thread.
//!
//! The conversion rules are Kestra's: `AvroConverter` from Ion to Avro,
//! `AvroDeserializer` from Avro to Ion, `InferAvroSchema` when no schema is
//! given. Kestra's Parquet tasks go through Avro too (parquet-avro), so
//! `parquet.rs` uses [`run::Converter`] and [`run::ion`] from here.
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
    use std::io::{BufRead, Write};
    use std::path::{Path, PathBuf};

    use apache_avro::Schema;
    use apache_avro::schema::{InnerDecimalSchema, Name, UnionSchema};
    use apache_avro::types::Value as Avro;
    use futures::future::BoxFuture;
    use serde_json::{Map, Value};

    use super::super::run::{create, done, each_ion_in, io, line, open};
    use crate::log::Level;
    use crate::storage::Storage;
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

    /// The local path of a file of the namespace's storage.
    pub(crate) fn source_of(ctx: &TaskContext, uri: &str) -> Result<PathBuf, TaskError> {
        let path = ctx
            .storage
            .path_of(uri.trim())
            .map_err(|e| ctx.invalid(format!("from: {e}")))?;
        if !path.is_file() {
            return Err(TaskError::Failed(format!("from: {uri} does not exist")));
        }
        Ok(path)
    }

    /// A new file of this task run: its URI and path.
    pub(crate) fn target_of(ctx: &TaskContext, name: &str) -> Result<(String, PathBuf), TaskError> {
        let uri = Storage::execution_uri(
            &ctx.namespace,
            &ctx.flow_id,
            &ctx.execution_id,
            &format!("{}-{}{name}", ctx.task_id, ctx.task_run_id),
        );
        let path = ctx.storage.path_of(&uri)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| TaskError::Failed(format!("cannot write {uri}: {e}")))?;
        }
        Ok((uri, path))
    }

    /// The `from` file's local path and the new file's URI and path
    /// (`paths` without `charset`, which these Kestra types do not have).
    pub(crate) fn files(
        ctx: &TaskContext,
        extension: &str,
    ) -> Result<(PathBuf, String, PathBuf), TaskError> {
        let from = ctx
            .prop("from")?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ctx.invalid("from: the file's storage:// URI is missing"))?
            .to_owned();
        let source = source_of(ctx, &from)?;
        let (uri, target) = target_of(ctx, extension)?;
        Ok((source, uri, target))
    }

    pub(crate) async fn log_warnings(ctx: &TaskContext, warnings: &[String]) {
        for warning in warnings.iter().take(100) {
            ctx.log(Level::Warn, warning).await;
        }
        if warnings.len() > 100 {
            ctx.log(
                Level::Warn,
                format!("{} more warnings not shown", warnings.len() - 100),
            )
            .await;
        }
    }

    /// The `schema` property, when given.
    pub(crate) fn schema_text(ctx: &TaskContext) -> Result<Option<String>, TaskError> {
        match ctx.prop("schema")? {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            // A schema written as YAML rather than JSON text.
            other => Ok(Some(other.to_string())),
        }
    }

    /// The schema given, or (without one) the schema Kestra's
    /// `InferAvroSchema` gives for the first records of `source`.
    pub(crate) fn schema(
        text: Option<&str>,
        options: &Options,
        source: &Path,
    ) -> Result<Schema, TaskError> {
        match text {
            Some(text) => Schema::parse_str(text)
                .map_err(|e| TaskError::Failed(format!("schema: not a valid Avro schema: {e}"))),
            None => {
                let inferred = infer::schema(open(&source.to_path_buf())?, options.rows_to_scan)?;
                Schema::parse_str(&inferred.to_string()).map_err(|e| {
                    TaskError::Failed(format!(
                        "the schema inferred from the records is not valid Avro ({e}); give a `schema`"
                    ))
                })
            }
        }
    }

    /// The named types of a schema, for its references.
    pub(crate) fn names_of(schema: &Schema) -> Result<HashMap<Name, Schema>, TaskError> {
        let resolved = apache_avro::schema::ResolvedSchema::try_from(schema)
            .map_err(|e| TaskError::Failed(format!("schema: {e}")))?;
        Ok(resolved
            .get_names()
            .iter()
            .map(|(name, schema)| (name.clone(), (*schema).clone()))
            .collect())
    }

    #[derive(Clone, Copy, PartialEq)]
    pub(crate) enum OnBad {
        Error,
        Warn,
        Skip,
    }

    /// The rendered properties of Kestra's AbstractAvroConverter.
    pub(crate) struct Options {
        true_values: Vec<String>,
        false_values: Vec<String>,
        null_values: Vec<String>,
        /// `None` for Kestra's default, which ISO-8601 reading covers.
        date_format: Option<String>,
        time_format: Option<String>,
        datetime_format: Option<String>,
        decimal_separator: char,
        strict: bool,
        infer_all: bool,
        zone: jiff::tz::TimeZone,
        zone_name: String,
        on_bad: OnBad,
        rows_to_scan: usize,
    }

    impl Options {
        pub(crate) fn of(ctx: &TaskContext) -> Result<Self, TaskError> {
            let list = |name: &str, default: &[&str]| -> Result<Vec<String>, TaskError> {
                match ctx.prop(name)? {
                    Value::Null => Ok(default.iter().map(|s| s.to_lowercase()).collect()),
                    Value::Array(items) => Ok(items
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.to_lowercase(),
                            other => other.to_string(),
                        })
                        .collect()),
                    Value::String(s) => Ok(vec![s.to_lowercase()]),
                    other => Err(ctx.invalid(format!("{name}: a list of texts, not {other}"))),
                }
            };
            let format = |name: &str, default: &str| -> Result<Option<String>, TaskError> {
                match ctx.prop(name)? {
                    Value::Null => Ok(None),
                    Value::String(s) if s == default => Ok(None),
                    Value::String(s) => Ok(Some(s.clone())),
                    other => Err(ctx.invalid(format!("{name}: a Java date pattern, not {other}"))),
                }
            };
            let zone_name = ctx.prop("timeZoneId")?.as_str().unwrap_or("UTC").to_owned();
            let zone = jiff::tz::TimeZone::get(&zone_name)
                .map_err(|e| ctx.invalid(format!("timeZoneId {zone_name}: {e}")))?;
            let decimal_separator = match ctx.prop("decimalSeparator")? {
                Value::Null => '.',
                Value::String(s) if s.chars().count() == 1 => s.chars().next().unwrap_or('.'),
                other => {
                    return Err(
                        ctx.invalid(format!("decimalSeparator: one character, not {other}"))
                    );
                }
            };
            let on_bad = match ctx
                .prop("onBadLines")?
                .as_str()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                None | Some("ERROR") => OnBad::Error,
                Some("WARN") => OnBad::Warn,
                Some("SKIP") => OnBad::Skip,
                Some(other) => {
                    return Err(ctx.invalid(format!("onBadLines {other}: ERROR, WARN or SKIP")));
                }
            };
            let infer_all = ctx.flag("inferAllFields", false)?;
            let rows = match ctx.prop("numberOfRowsToScan")? {
                Value::Null => 100,
                Value::Number(n) => n.as_u64().unwrap_or(0),
                Value::String(s) => s.trim().parse().unwrap_or(0),
                _ => 0,
            };
            if rows == 0 {
                return Err(ctx.invalid("numberOfRowsToScan: must be greater than 0"));
            }
            Ok(Self {
                true_values: list("trueValues", &["t", "true", "enabled", "1", "on", "yes"])?,
                false_values: list(
                    "falseValues",
                    &["f", "false", "disabled", "0", "off", "no", ""],
                )?,
                null_values: list(
                    "nullValues",
                    &[
                        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "1.#IND",
                        "1.#QNAN", "NA", "n/a", "nan", "null",
                    ],
                )?,
                date_format: format("dateFormat", "yyyy-MM-dd[XXX]")?,
                time_format: format("timeFormat", "HH:mm[:ss][.SSSSSS][XXX]")?,
                datetime_format: format("datetimeFormat", "yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]")?,
                decimal_separator,
                strict: ctx.flag("strictSchema", false)?,
                infer_all,
                zone,
                zone_name,
                on_bad,
                rows_to_scan: if infer_all { usize::MAX } else { rows as usize },
            })
        }
    }

    /// Ion records to Avro records of one schema, as Kestra's AvroConverter.
    pub(crate) struct Converter<'s> {
        root: &'s Schema,
        names: HashMap<Name, Schema>,
        options: Options,
    }

    impl<'s> Converter<'s> {
        pub(crate) fn new(root: &'s Schema, options: Options) -> Result<Self, TaskError> {
            if !matches!(root, Schema::Record(_)) {
                return Err(TaskError::Failed(
                    "schema: the top level must be a record (\"type\": \"record\")".into(),
                ));
            }
            Ok(Self {
                root,
                names: names_of(root)?,
                options,
            })
        }

        /// Converts each Ion record of `ion` and hands it to `each`; returns
        /// how many were converted. Problems `onBadLines` lets pass are
        /// added to `warnings` (WARN only).
        pub(crate) fn each_record(
            &self,
            ion: impl BufRead,
            warnings: &mut Vec<String>,
            mut each: impl FnMut(Avro) -> Result<(), TaskError>,
        ) -> Result<u64, TaskError> {
            let mut number = 0u64;
            let mut size = 0u64;
            each_ion_in(ion, |value, _| {
                number += 1;
                if let Some(record) = self.row(number, &value, warnings)? {
                    each(record)?;
                    size += 1;
                }
                Ok(())
            })?;
            Ok(size)
        }

        /// One Ion record as Kestra's `convertToAvro` takes it: a struct by
        /// field name (or, when its fields are all `colN`, by position), a
        /// list by position (or as the value of a single array field).
        fn row(
            &self,
            number: u64,
            value: &Value,
            warnings: &mut Vec<String>,
        ) -> Result<Option<Avro>, TaskError> {
            let Schema::Record(record) = self.root else {
                unreachable!("checked in new")
            };
            let by_position = |items: Vec<&Value>| -> Map<String, Value> {
                record
                    .fields
                    .iter()
                    .zip(items.into_iter().map(Some).chain(std::iter::repeat(None)))
                    .map(|(field, item)| (field.name.clone(), item.cloned().unwrap_or(Value::Null)))
                    .collect()
            };
            let fail = |message: String| TaskError::Failed(format!("line {number}: {message}"));
            // A struct by name is read in place; the other shapes are made into one.
            let made: Map<String, Value>;
            let data = match value {
                Value::Object(map)
                    if !map.is_empty()
                        && map.keys().all(|k| {
                            k.len() > 3
                                && k.starts_with("col")
                                && k[3..].bytes().all(|b| b.is_ascii_digit())
                        }) =>
                {
                    if self.options.strict && map.len() > record.fields.len() {
                        return self.bad(
                            number,
                            format!(
                                "the record has {} fields, the schema {} (strictSchema)",
                                map.len(),
                                record.fields.len()
                            ),
                            warnings,
                        );
                    }
                    let mut positional = vec![&Value::Null; record.fields.len()];
                    for (key, item) in map {
                        if let Ok(i) = key[3..].parse::<usize>()
                            && i < positional.len()
                        {
                            positional[i] = item;
                        }
                    }
                    made = by_position(positional);
                    &made
                }
                Value::Object(map) => {
                    if self.options.strict {
                        let extra: Vec<&String> = map
                            .keys()
                            .filter(|k| {
                                !record
                                    .fields
                                    .iter()
                                    .any(|f| &f.name == *k || f.aliases.iter().any(|a| a == *k))
                            })
                            .collect();
                        if !extra.is_empty() {
                            let names: Vec<String> =
                                extra.iter().map(|k| format!("'{k}'")).collect();
                            return self.bad(
                                number,
                                format!(
                                    "field {} is not in the schema (strictSchema)",
                                    names.join(", ")
                                ),
                                warnings,
                            );
                        }
                    }
                    map
                }
                Value::Array(items) => {
                    if let [field] = record.fields.as_slice()
                        && matches!(field.schema, Schema::Array(_))
                    {
                        made = Map::from_iter([(field.name.clone(), value.clone())]);
                        &made
                    } else {
                        if self.options.strict && items.len() > record.fields.len() {
                            return self.bad(
                                number,
                                format!(
                                    "the record has {} values, the schema {} fields (strictSchema)",
                                    items.len(),
                                    record.fields.len()
                                ),
                                warnings,
                            );
                        }
                        made = by_position(items.iter().collect());
                        &made
                    }
                }
                other => {
                    return Err(fail(format!(
                        "a record is a struct or a list, not {}",
                        crate::flow::pebble::convert::ion_text(other)
                    )));
                }
            };
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let value = data
                    .get(&field.name)
                    .filter(|v| !v.is_null())
                    .or_else(|| {
                        field
                            .aliases
                            .iter()
                            .find_map(|a| data.get(a).filter(|v| !v.is_null()))
                    })
                    .unwrap_or(&Value::Null);
                match self.convert(&field.schema, value) {
                    Ok(v) => fields.push((field.name.clone(), v)),
                    Err(reason) => {
                        let message = format!("field '{}': {reason}", field.name);
                        if self.options.on_bad == OnBad::Error {
                            return Err(fail(message));
                        }
                        match self.null_of(&field.schema) {
                            Some(null) => {
                                if self.options.on_bad == OnBad::Warn {
                                    warnings
                                        .push(format!("line {number}: {message}; written as null"));
                                }
                                fields.push((field.name.clone(), null));
                            }
                            None => return self.bad(number, message, warnings),
                        }
                    }
                }
            }
            Ok(Some(Avro::Record(fields)))
        }

        /// A record `onBadLines` refuses: the task fails, or the record is
        /// skipped (with a warning for WARN).
        fn bad(
            &self,
            number: u64,
            message: String,
            warnings: &mut Vec<String>,
        ) -> Result<Option<Avro>, TaskError> {
            match self.options.on_bad {
                OnBad::Error => Err(TaskError::Failed(format!("line {number}: {message}"))),
                OnBad::Warn => {
                    warnings.push(format!("line {number}: {message}; record skipped"));
                    Ok(None)
                }
                OnBad::Skip => Ok(None),
            }
        }

        /// The null of a nullable schema.
        fn null_of(&self, schema: &Schema) -> Option<Avro> {
            match schema {
                Schema::Null => Some(Avro::Null),
                Schema::Union(union) => union
                    .variants()
                    .iter()
                    .position(|s| matches!(s, Schema::Null))
                    .map(|i| Avro::Union(i as u32, Box::new(Avro::Null))),
                _ => None,
            }
        }

        fn resolve<'a>(&'a self, schema: &'a Schema) -> Result<&'a Schema, String> {
            match schema {
                Schema::Ref { name } => self
                    .names
                    .get(name)
                    .ok_or_else(|| format!("the schema names {name}, which it does not define")),
                other => Ok(other),
            }
        }

        /// One value as the schema's type (Kestra's `AvroConverter.convert`).
        pub(crate) fn convert(&self, schema: &Schema, data: &Value) -> Result<Avro, String> {
            let schema = self.resolve(schema)?;
            if let Schema::Union(union) = schema {
                return self.union(union, data);
            }
            if data.is_null() && !matches!(schema, Schema::Null) {
                return Err("null, but the field is not nullable".into());
            }
            let o = &self.options;
            let text = |d: &Value| -> String {
                match d {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => java_number(n),
                    other => other.to_string(),
                }
            };
            let cannot = |kind: &str| format!("cannot read {} as {kind}", shown(data));
            Ok(match schema {
                Schema::Null => match data {
                    Value::Null => Avro::Null,
                    Value::String(s) if o.null_values.contains(&s.to_lowercase()) => Avro::Null,
                    _ => return Err(cannot("null")),
                },
                Schema::Boolean => Avro::Boolean(match data {
                    Value::Bool(b) => *b,
                    Value::String(s) if o.true_values.contains(&s.to_lowercase()) => true,
                    Value::String(s) if o.false_values.contains(&s.to_lowercase()) => false,
                    Value::Number(n) if n.as_i64() == Some(1) => true,
                    Value::Number(n) if n.as_i64() == Some(0) => false,
                    _ => return Err(cannot("a boolean")),
                }),
                Schema::Int => Avro::Int(match data {
                    Value::String(s) => s.parse().map_err(|_| cannot("an int"))?,
                    Value::Number(n) => n
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| cannot("an int"))?,
                    _ => return Err(cannot("an int")),
                }),
                Schema::Long => Avro::Long(match data {
                    Value::String(s) => s.parse().map_err(|_| cannot("a long"))?,
                    Value::Number(n) => n.as_i64().ok_or_else(|| cannot("a long"))?,
                    _ => return Err(cannot("a long")),
                }),
                Schema::Float => {
                    Avro::Float(self.float(data).ok_or_else(|| cannot("a float"))? as f32)
                }
                Schema::Double => Avro::Double(self.float(data).ok_or_else(|| cannot("a double"))?),
                Schema::String => Avro::String(text(data)),
                Schema::Bytes => Avro::Bytes(text(data).into_bytes()),
                Schema::Enum(e) => {
                    let symbol = text(data);
                    let index = e.symbols.iter().position(|s| *s == symbol).ok_or_else(|| {
                        format!("{} is not one of {}", shown(data), e.symbols.join(", "))
                    })?;
                    Avro::Enum(index as u32, symbol)
                }
                Schema::Fixed(f) => {
                    let bytes = text(data).into_bytes();
                    if bytes.len() != f.size {
                        return Err(format!(
                            "{} bytes, the fixed type holds {}",
                            bytes.len(),
                            f.size
                        ));
                    }
                    Avro::Fixed(f.size, bytes)
                }
                Schema::Array(array) => match data {
                    Value::Array(items) => Avro::Array(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| {
                                self.convert(&array.items, item)
                                    .map_err(|e| format!("[{i}]: {e}"))
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => return Err(cannot("an array")),
                },
                Schema::Map(map) => match data {
                    Value::Object(entries) => Avro::Map(
                        entries
                            .iter()
                            .map(|(k, v)| {
                                Ok((
                                    k.clone(),
                                    self.convert(&map.types, v)
                                        .map_err(|e| format!("[{k}]: {e}"))?,
                                ))
                            })
                            .collect::<Result<_, String>>()?,
                    ),
                    _ => return Err(cannot("a map")),
                },
                Schema::Record(record) => match data {
                    Value::Object(entries) => Avro::Record(
                        record
                            .fields
                            .iter()
                            .map(|field| {
                                let value = entries
                                    .get(&field.name)
                                    .or_else(|| field.aliases.iter().find_map(|a| entries.get(a)))
                                    .unwrap_or(&Value::Null);
                                Ok((
                                    field.name.clone(),
                                    self.convert(&field.schema, value)
                                        .map_err(|e| format!(".{}: {e}", field.name))?,
                                ))
                            })
                            .collect::<Result<_, String>>()?,
                    ),
                    _ => return Err(cannot("a record")),
                },
                Schema::Decimal(decimal) => {
                    let unscaled = self
                        .decimal(data, decimal.precision, decimal.scale)
                        .ok_or_else(|| {
                            cannot(&format!(
                                "a decimal({}, {})",
                                decimal.precision, decimal.scale
                            ))
                        })?;
                    let bytes = match &decimal.inner {
                        InnerDecimalSchema::Bytes => minimal_bytes(unscaled),
                        InnerDecimalSchema::Fixed(fixed) => {
                            let full = unscaled.to_be_bytes();
                            let start = full.len().saturating_sub(fixed.size);
                            let mut bytes = vec![
                                if unscaled < 0 { 0xFF } else { 0 };
                                fixed.size.saturating_sub(full.len())
                            ];
                            bytes.extend_from_slice(&full[start..]);
                            bytes
                        }
                    };
                    Avro::Decimal(apache_avro::Decimal::from(bytes))
                }
                Schema::Uuid(_) => {
                    Avro::Uuid(text(data).trim().parse().map_err(|_| cannot("a uuid"))?)
                }
                Schema::Date => Avro::Date(self.date(data).ok_or_else(|| cannot("a date"))?),
                Schema::TimeMillis => Avro::TimeMillis(
                    (self.time(data).ok_or_else(|| cannot("a time"))? / 1000) as i32,
                ),
                Schema::TimeMicros => {
                    Avro::TimeMicros(self.time(data).ok_or_else(|| cannot("a time"))?)
                }
                Schema::TimestampMillis => Avro::TimestampMillis(
                    self.instant(data, 1000)
                        .ok_or_else(|| cannot("a timestamp"))?
                        .as_millisecond(),
                ),
                Schema::TimestampMicros => Avro::TimestampMicros(
                    self.instant(data, 1)
                        .ok_or_else(|| cannot("a timestamp"))?
                        .as_microsecond(),
                ),
                Schema::TimestampNanos => Avro::TimestampNanos(
                    self.instant(data, 1)
                        .ok_or_else(|| cannot("a timestamp"))?
                        .as_nanosecond()
                        .try_into()
                        .map_err(|_| cannot("a timestamp"))?,
                ),
                Schema::LocalTimestampMillis => Avro::LocalTimestampMillis(
                    self.local(data, 1000)
                        .ok_or_else(|| cannot("a timestamp"))?
                        / 1000,
                ),
                Schema::LocalTimestampMicros => Avro::LocalTimestampMicros(
                    self.local(data, 1).ok_or_else(|| cannot("a timestamp"))?,
                ),
                Schema::LocalTimestampNanos => Avro::LocalTimestampNanos(
                    self.local(data, 1)
                        .ok_or_else(|| cannot("a timestamp"))?
                        .saturating_mul(1000),
                ),
                Schema::BigDecimal | Schema::Duration(_) => {
                    return Err(
                        "Mortar does not write the big-decimal and duration logical types".into(),
                    );
                }
                Schema::Union(_) | Schema::Ref { .. } => unreachable!("resolved above"),
            })
        }

        /// The first branch of the union the value fits, as Kestra tries them.
        fn union(&self, union: &UnionSchema, data: &Value) -> Result<Avro, String> {
            let normalized;
            let data = match data {
                Value::String(s) if self.options.infer_all => {
                    let lower = s.to_lowercase();
                    normalized = if self.options.null_values.contains(&lower) {
                        Value::Null
                    } else if self.options.true_values.contains(&lower) {
                        Value::Bool(true)
                    } else if self.options.false_values.contains(&lower) {
                        Value::Bool(false)
                    } else {
                        data.clone()
                    };
                    &normalized
                }
                _ => data,
            };
            let mut reasons = Vec::new();
            for (i, branch) in union.variants().iter().enumerate() {
                match self.convert(branch, data) {
                    Ok(v) => return Ok(Avro::Union(i as u32, Box::new(v))),
                    Err(e) => reasons.push(e),
                }
            }
            if data.is_null() {
                return Err("null, but the field is not nullable".into());
            }
            Err(format!(
                "no type of the union fits {} ({})",
                shown(data),
                reasons.join("; ")
            ))
        }

        fn float(&self, data: &Value) -> Option<f64> {
            match data {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => {
                    let s = s.trim();
                    if self.options.decimal_separator == '.' {
                        s.parse().ok()
                    } else {
                        s.replacen(self.options.decimal_separator, ".", 1)
                            .parse()
                            .ok()
                    }
                }
                _ => None,
            }
        }

        /// The unscaled value of a decimal, rounded half-even to `scale`.
        fn decimal(&self, data: &Value, precision: usize, scale: usize) -> Option<i128> {
            let text = match data {
                Value::String(s) => s.trim().replacen(self.options.decimal_separator, ".", 1),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            let unscaled = scale_decimal(&text, scale)?;
            (unscaled
                .unsigned_abs()
                .checked_ilog10()
                .map_or(1, |d| d as usize + 1)
                <= precision)
                .then_some(unscaled)
        }

        /// Days since 1970-01-01.
        fn date(&self, data: &Value) -> Option<i32> {
            let Value::String(s) = data else { return None };
            let date = match &self.options.date_format {
                None => iso_date(s, &self.options.zone),
                Some(pattern) => self
                    .with_pattern(s, pattern, "yyyy-MM-dd")
                    .and_then(|d| d.parse().ok())
                    .or_else(|| iso_date(s, &self.options.zone)),
            }?;
            let days = date
                .since((jiff::Unit::Day, jiff::civil::date(1970, 1, 1)))
                .ok()?
                .get_days();
            Some(days)
        }

        /// Microseconds since midnight.
        fn time(&self, data: &Value) -> Option<i64> {
            let Value::String(s) = data else { return None };
            let iso = |s: &str| -> Option<jiff::civil::Time> {
                let s = s.trim();
                let end = s
                    .find(['Z', 'z', '+'])
                    .or_else(|| s.rfind('-'))
                    .unwrap_or(s.len());
                s[..end].parse().ok()
            };
            let time = match &self.options.time_format {
                None => iso(s),
                Some(pattern) => self
                    .with_pattern(
                        &format!("1970-01-01 {s}"),
                        &format!("yyyy-MM-dd {pattern}"),
                        "HH:mm:ss.SSSSSS",
                    )
                    .and_then(|t| t.parse().ok())
                    .or_else(|| iso(s)),
            }?;
            Some(
                i64::from(time.hour()) * 3_600_000_000
                    + i64::from(time.minute()) * 60_000_000
                    + i64::from(time.second()) * 1_000_000
                    + i64::from(time.subsec_nanosecond() / 1000),
            )
        }

        /// An instant: a number (or digits) in the schema's `unit` of
        /// microseconds, or a date-time; without an offset in `timeZoneId`.
        fn instant(&self, data: &Value, unit: i64) -> Option<jiff::Timestamp> {
            let micros = match data {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            if let Some(n) = micros {
                return jiff::Timestamp::from_microsecond(n.checked_mul(unit)?).ok();
            }
            let Value::String(s) = data else { return None };
            match &self.options.datetime_format {
                None => iso_instant(s, &self.options.zone),
                Some(pattern) => self
                    .with_pattern(s, pattern, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
                    .and_then(|t| t.parse().ok())
                    .or_else(|| iso_instant(s, &self.options.zone)),
            }
        }

        /// A local date-time in `timeZoneId`, as microseconds since the
        /// epoch of that wall clock (Avro's local-timestamp).
        fn local(&self, data: &Value, unit: i64) -> Option<i64> {
            let instant = self.instant(data, unit)?;
            let local = instant
                .to_zoned_datetime(self.options.zone.clone())
                .datetime();
            Some(
                local
                    .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .ok()?
                    .timestamp()
                    .as_microsecond(),
            )
        }

        /// `text` read with the Java `pattern`, printed with `out`.
        fn with_pattern(&self, text: &str, pattern: &str, out: &str) -> Option<String> {
            let value = Value::String(text.to_owned());
            match crate::flow::pebble::dates::date(
                &value,
                Some(out),
                Some(&self.options.zone_name),
                Some(pattern),
                None,
            ) {
                Ok(Value::String(s)) => Some(s),
                _ => None,
            }
        }
    }

    /// A value in a message: its Ion text, cut.
    fn shown(data: &Value) -> String {
        let text = crate::flow::pebble::convert::ion_text(data);
        if text.chars().count() > 60 {
            format!("{}...", text.chars().take(60).collect::<String>())
        } else {
            text
        }
    }

    /// A number as Java's `String.valueOf` prints it (`1.0` for a whole double).
    fn java_number(n: &serde_json::Number) -> String {
        match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e7 => format!("{f:.1}"),
            _ => n.to_string(),
        }
    }

    /// A date from ISO-8601 text: a date, or the date of a date-time in `zone`.
    fn iso_date(s: &str, zone: &jiff::tz::TimeZone) -> Option<jiff::civil::Date> {
        let s = s.trim();
        if let Ok(date) = s.parse::<jiff::civil::Date>()
            && s.len() <= 10
        {
            return Some(date);
        }
        // `2024-01-15+02:00`, which dateFormat's `[XXX]` allows.
        if s.len() > 10
            && s.as_bytes()[10] != b'T'
            && s.as_bytes()[10] != b' '
            && let Ok(date) = s[..10].parse::<jiff::civil::Date>()
        {
            return Some(date);
        }
        iso_instant(s, zone).map(|t| t.to_zoned_datetime(zone.clone()).date())
    }

    /// An instant from ISO-8601 text: with an offset as it says, without
    /// one in `zone`, a date at its midnight in `zone`.
    pub(crate) fn iso_instant(s: &str, zone: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
        let s = s.trim();
        if let Ok(t) = s.parse::<jiff::Timestamp>() {
            return Some(t);
        }
        if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
            return dt
                .to_zoned_datetime(zone.clone())
                .ok()
                .map(|z| z.timestamp());
        }
        let date: jiff::civil::Date = s.get(..10)?.parse().ok()?;
        date.to_zoned_datetime(zone.clone())
            .ok()
            .map(|z| z.timestamp())
    }

    /// `text` (a decimal number) times 10^scale, rounded half-even.
    pub(crate) fn scale_decimal(text: &str, scale: usize) -> Option<i128> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match digits.find(['e', 'E']) {
            Some(i) => (&digits[..i], digits[i + 1..].parse::<i32>().ok()?),
            None => (digits, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let all: String = format!("{whole}{fraction}");
        // The digits' value is all * 10^(exponent - fraction.len()).
        let shift = exponent - fraction.len() as i32 + scale as i32;
        let mut value: i128 = 0;
        let (kept, dropped) = if shift >= 0 {
            (all.as_str(), "")
        } else {
            let cut = all.len().saturating_sub((-shift) as usize);
            all.split_at(cut)
        };
        for b in kept.bytes() {
            value = value.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        for _ in 0..shift.max(0) {
            value = value.checked_mul(10)?;
        }
        // Half-even on what was dropped (digits beyond those kept count as
        // zeros when the shift is larger than the digits).
        let missing = ((-shift).max(0) as usize).saturating_sub(all.len());
        let dropped = format!("{}{dropped}", "0".repeat(missing));
        if let Some(first) = dropped.bytes().next() {
            let rest_zero = dropped.bytes().skip(1).all(|b| b == b'0');
            let up = first > b'5' || (first == b'5' && (!rest_zero || value % 2 == 1));
            if up {
                value = value.checked_add(1)?;
            }
        }
        Some(if negative { -value } else { value })
    }

    /// The shortest big-endian two's complement bytes of `n`.
    fn minimal_bytes(n: i128) -> Vec<u8> {
        let bytes = n.to_be_bytes();
        let mut start = 0;
        while start < 15 {
            let (b, next) = (bytes[start], bytes[start + 1]);
            if (b == 0 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
                start += 1;
            } else {
                break;
            }
        }
        bytes[start..].to_vec()
    }

    /// Writes one Avro value as Ion, as Kestra's AvroDeserializer and Ion
    /// writer give it.
    pub(crate) fn avro_to_ion(
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

    /// Ion text for what Kestra's Ion writer gives Java's types: dates and
    /// instants as Ion timestamps, local times as `LocalTime::"…"`.
    pub(crate) mod ion {
        use serde_json::Value;

        /// A field name as Ion writes it (bare, or quoted when it must be).
        pub(crate) fn name(field: &str) -> String {
            // ion_struct writes `{<name>:null}`: the name is what is between.
            let text = crate::flow::pebble::convert::ion_struct([(field, &Value::Null)]);
            text[1..text.len() - ":null}".len()].to_owned()
        }

        pub(crate) fn string(s: &str, out: &mut String) {
            out.push_str(&crate::flow::pebble::convert::ion_text(&Value::String(
                s.to_owned(),
            )));
        }

        /// A double as ion-java prints it; NaN and infinities as null (Mortar's
        /// Ion reader, like JSON, has no such numbers).
        pub(crate) fn float(f: f64, out: &mut String) {
            match serde_json::Number::from_f64(f) {
                Some(n) => out.push_str(&crate::flow::pebble::convert::ion_text(&Value::Number(n))),
                None => out.push_str("null"),
            }
        }

        pub(crate) fn blob(bytes: &[u8], out: &mut String) {
            use base64::Engine as _;
            out.push_str("{{");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            out.push_str("}}");
        }

        /// An Ion date (`2024-01-15`), days after 1970-01-01; outside
        /// Ion's years 1 to 9999, the ISO text as a string.
        pub(crate) fn date(days: i64, out: &mut String) {
            match jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(days)) {
                Ok(date) if date.year() >= 1 => out.push_str(&date.to_string()),
                _ => out.push_str("null"),
            }
        }

        /// An Ion timestamp in UTC, milliseconds always (as Kestra's
        /// `Timestamp.forDateZ`), microseconds when there are some.
        pub(crate) fn instant(micros: i64, out: &mut String) {
            let Ok(t) = jiff::Timestamp::from_microsecond(micros) else {
                out.push_str("null");
                return;
            };
            let dt = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
            if dt.year() < 1 {
                out.push_str("null");
                return;
            }
            out.push_str(&dt.strftime("%Y-%m-%dT%H:%M:%S").to_string());
            fraction(dt.subsec_nanosecond(), 3, out);
            out.push('Z');
        }

        /// Kestra's `LocalTime::"10:30:00"` (ISO_LOCAL_TIME).
        pub(crate) fn local_time(micros: i64, out: &mut String) {
            let micros = micros.rem_euclid(86_400_000_000);
            let (h, m, s, us) = (
                micros / 3_600_000_000,
                micros / 60_000_000 % 60,
                micros / 1_000_000 % 60,
                micros % 1_000_000,
            );
            out.push_str(&format!("LocalTime::\"{h:02}:{m:02}:{s:02}"));
            fraction((us * 1000) as i32, 0, out);
            out.push('"');
        }

        /// Kestra's `LocalDateTime::"2024-01-15T10:30:00"` (ISO_LOCAL_DATE_TIME).
        pub(crate) fn local_date_time(micros: i64, out: &mut String) {
            let Ok(t) = jiff::Timestamp::from_microsecond(micros) else {
                out.push_str("null");
                return;
            };
            let dt = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
            out.push_str(&format!(
                "LocalDateTime::\"{}",
                dt.strftime("%Y-%m-%dT%H:%M:%S")
            ));
            fraction(dt.subsec_nanosecond(), 0, out);
            out.push('"');
        }

        /// `.123` with at least `min` digits, as few as exact (to microseconds).
        fn fraction(nanos: i32, min: usize, out: &mut String) {
            let micros = nanos / 1000;
            if micros == 0 && min == 0 {
                return;
            }
            let text = format!("{micros:06}");
            let trimmed = text.trim_end_matches('0');
            let digits = trimmed.len().max(min);
            out.push('.');
            out.push_str(&text[..digits]);
        }

        /// An Ion decimal from big-endian two's complement bytes and a scale:
        /// `12.30`, `12.` for a scale of 0 (Ion's decimal point).
        pub(crate) fn decimal_bytes(bytes: &[u8], scale: i32, out: &mut String) {
            let digits = unscaled_text(bytes);
            let (negative, digits) = match digits.strip_prefix('-') {
                Some(d) => (true, d.to_owned()),
                None => (false, digits),
            };
            if negative {
                out.push('-');
            }
            if scale <= 0 {
                out.push_str(&digits);
                out.push_str(&"0".repeat((-scale) as usize));
                out.push('.');
                return;
            }
            let scale = scale as usize;
            let padded = format!(
                "{}{digits}",
                "0".repeat((scale + 1).saturating_sub(digits.len()))
            );
            let (whole, fraction) = padded.split_at(padded.len() - scale);
            out.push_str(whole);
            out.push('.');
            out.push_str(fraction);
        }

        /// The decimal digits of a big-endian two's complement integer of any
        /// length.
        fn unscaled_text(bytes: &[u8]) -> String {
            if bytes.is_empty() {
                return "0".into();
            }
            if bytes.len() <= 16 {
                let fill = if bytes[0] & 0x80 != 0 { 0xFF } else { 0 };
                let mut full = [fill; 16];
                full[16 - bytes.len()..].copy_from_slice(bytes);
                return i128::from_be_bytes(full).to_string();
            }
            // Longer: magnitude by repeated division of base-256 digits.
            let negative = bytes[0] & 0x80 != 0;
            let mut magnitude: Vec<u8> = if negative {
                // Two's complement: invert and add one.
                let mut m: Vec<u8> = bytes.iter().map(|b| !b).collect();
                for b in m.iter_mut().rev() {
                    let (sum, carry) = b.overflowing_add(1);
                    *b = sum;
                    if !carry {
                        break;
                    }
                }
                m
            } else {
                bytes.to_vec()
            };
            let mut digits = Vec::new();
            while magnitude.iter().any(|b| *b != 0) {
                let mut remainder = 0u32;
                for b in magnitude.iter_mut() {
                    let current = (remainder << 8) | u32::from(*b);
                    *b = (current / 10) as u8;
                    remainder = current % 10;
                }
                digits.push(b'0' + remainder as u8);
            }
            if digits.is_empty() {
                digits.push(b'0');
            }
            digits.reverse();
            let text = String::from_utf8(digits).unwrap_or_default();
            if negative { format!("-{text}") } else { text }
        }

        /// What a top-level field of an Ion struct line holds, where Mortar's
        /// reader gives text: Kestra's reader makes these Java dates.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub(crate) enum Raw {
            /// An Ion timestamp with day precision (a Java LocalDate).
            Date,
            /// Any other Ion timestamp (a Java Instant or ZonedDateTime).
            Timestamp,
            /// `LocalTime::"…"` or `OffsetTime::"…"`.
            Time,
            /// `LocalDateTime::"…"` (and the other date-time annotations).
            DateTime,
            /// An Ion decimal (`1.5`, a Java BigDecimal).
            Decimal,
            /// An Ion float (`1.5e0`).
            Float,
            Other,
        }

        /// The [`Raw`] kind of each top-level field of a struct line, in order
        /// (empty for a line that is not a struct).
        pub(crate) fn raw_kinds(line: &str) -> Vec<Raw> {
            let b = line.as_bytes();
            let mut i = 0;
            let space = |i: &mut usize| {
                while *i < b.len() && b[*i].is_ascii_whitespace() {
                    *i += 1;
                }
            };
            space(&mut i);
            if b.get(i) != Some(&b'{') || b.get(i + 1) == Some(&b'{') {
                return Vec::new();
            }
            i += 1;
            let mut kinds = Vec::new();
            loop {
                space(&mut i);
                match b.get(i) {
                    None | Some(b'}') => break,
                    _ => {}
                }
                // The field name.
                skip_symbol(b, &mut i);
                space(&mut i);
                if b.get(i) != Some(&b':') {
                    break;
                }
                i += 1;
                space(&mut i);
                // Annotations.
                let mut annotation = None;
                loop {
                    let save = i;
                    let start = i;
                    if !skip_symbol(b, &mut i) {
                        break;
                    }
                    let symbol = &line[start..i];
                    space(&mut i);
                    if b.get(i) == Some(&b':') && b.get(i + 1) == Some(&b':') {
                        annotation = Some(symbol.trim_matches('\''));
                        i += 2;
                        space(&mut i);
                    } else {
                        i = save;
                        break;
                    }
                }
                let start = i;
                skip_value(b, &mut i);
                let token = line[start..i].trim();
                kinds.push(classify(token, annotation));
                space(&mut i);
                if b.get(i) == Some(&b',') {
                    i += 1;
                } else {
                    break;
                }
            }
            kinds
        }

        fn classify(token: &str, annotation: Option<&str>) -> Raw {
            let t = token.as_bytes();
            match annotation {
                Some("LocalTime" | "OffsetTime") if token.starts_with('"') => return Raw::Time,
                Some("LocalDateTime" | "OffsetDateTime" | "ZonedDateTime" | "Instant")
                    if token.starts_with('"') =>
                {
                    return Raw::DateTime;
                }
                Some("LocalDate") if token.starts_with('"') => return Raw::Date,
                _ => {}
            }
            if t.len() >= 5 && t[..4].iter().all(u8::is_ascii_digit) && matches!(t[4], b'-' | b'T')
            {
                let date_only = token.trim_end_matches('T').len() <= 10;
                // Kestra's reader: midnight in UTC (or unknown offset) is a date.
                let time = token.get(11..).unwrap_or("");
                let utc_time = time
                    .strip_suffix('Z')
                    .or_else(|| time.strip_suffix("-00:00"))
                    .or_else(|| time.strip_suffix("+00:00"));
                let midnight = utc_time.is_some_and(|t| {
                    !t.is_empty() && t.bytes().all(|c| matches!(c, b'0' | b':' | b'.'))
                });
                return if date_only || midnight {
                    Raw::Date
                } else {
                    Raw::Timestamp
                };
            }
            let number = t.first().is_some_and(|c| c.is_ascii_digit())
                || (matches!(t.first(), Some(b'-' | b'+'))
                    && t.get(1).is_some_and(u8::is_ascii_digit));
            if number && !token.starts_with("0x") && !token.starts_with("-0x") {
                if token.contains(['e', 'E']) {
                    return Raw::Float;
                }
                if token.contains(['.', 'd', 'D']) {
                    return Raw::Decimal;
                }
            }
            Raw::Other
        }

        /// Skips a symbol (`name`, `'quoted'`, `"string"` as a field name);
        /// false when there is none.
        fn skip_symbol(b: &[u8], i: &mut usize) -> bool {
            match b.get(*i) {
                Some(b'\'') if !b[*i..].starts_with(b"'''") => {
                    skip_quoted(b, i, b'\'');
                    true
                }
                Some(b'"') => {
                    skip_quoted(b, i, b'"');
                    true
                }
                Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b'$' => {
                    while *i < b.len()
                        && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] == b'$')
                    {
                        *i += 1;
                    }
                    true
                }
                _ => false,
            }
        }

        fn skip_quoted(b: &[u8], i: &mut usize, quote: u8) {
            *i += 1;
            while *i < b.len() {
                match b[*i] {
                    b'\\' => *i += 2,
                    c if c == quote => {
                        *i += 1;
                        return;
                    }
                    _ => *i += 1,
                }
            }
        }

        /// Skips one value, up to the `,` or `}` that ends it.
        fn skip_value(b: &[u8], i: &mut usize) {
            let mut depth = 0usize;
            while *i < b.len() {
                match b[*i] {
                    b'"' => skip_quoted(b, i, b'"'),
                    b'\'' if b[*i..].starts_with(b"'''") => {
                        *i += 3;
                        while *i < b.len() && !b[*i..].starts_with(b"'''") {
                            *i += if b[*i] == b'\\' { 2 } else { 1 };
                        }
                        *i += 3;
                    }
                    b'\'' => skip_quoted(b, i, b'\''),
                    b'{' | b'[' | b'(' => {
                        depth += 1;
                        *i += 1;
                    }
                    b'}' | b']' | b')' if depth > 0 => {
                        depth -= 1;
                        *i += 1;
                    }
                    b',' | b'}' if depth == 0 => return,
                    _ => *i += 1,
                }
            }
            *i = (*i).min(b.len());
        }
    }

    /// Kestra's `InferAvroSchema`: a record `root` whose fields are unions of
    /// null and the types seen in the first records.
    pub(crate) mod infer {
        use std::io::BufRead;

        use serde_json::{Value, json};

        use super::ion::{Raw, raw_kinds};
        use crate::task::TaskError;

        /// One type a field was seen with.
        #[derive(Clone, PartialEq)]
        enum Seen {
            Null,
            Boolean,
            Int,
            Long,
            Double,
            String,
            Date,
            Timestamp,
            Time,
            Record(Vec<(String, Vec<Seen>)>),
            Array(Vec<Seen>),
        }

        /// The Avro schema (JSON) of the first `rows` records of an Ion file.
        pub(crate) fn schema(ion: impl BufRead, rows: usize) -> Result<Value, TaskError> {
            let mut root: Option<Vec<(String, Vec<Seen>)>> = None;
            let mut root_array: Option<Vec<Seen>> = None;
            let mut count = 0usize;
            for (number, line) in ion.lines().enumerate() {
                if count >= rows {
                    break;
                }
                let line = line.map_err(super::io)?;
                if line.trim().is_empty() {
                    continue;
                }
                count += 1;
                let (value, fields) =
                    crate::flow::pebble::convert::ion_fields(&line).map_err(|e| {
                        TaskError::Failed(format!("line {}: not an Ion value: {e}", number + 1))
                    })?;
                match (fields, value) {
                    (Some(fields), _) => {
                        let kinds = raw_kinds(&line);
                        let seen: Vec<(String, Vec<Seen>)> = fields
                            .iter()
                            .enumerate()
                            .map(|(i, (name, v))| (name.clone(), of(v, kinds.get(i).copied())))
                            .collect();
                        root = Some(match root.take() {
                            None => seen,
                            Some(known) => merge_fields(known, seen),
                        });
                    }
                    (None, Value::Array(items)) => {
                        let mut seen = root_array.take().unwrap_or_default();
                        for item in &items {
                            seen = merge(seen, of(item, None));
                        }
                        root_array = Some(seen);
                    }
                    (None, other) => {
                        return Err(TaskError::Failed(format!(
                            "line {}: a record is a struct or a list, not {}; give a `schema`",
                            number + 1,
                            crate::flow::pebble::convert::ion_text(&other)
                        )));
                    }
                }
            }
            let mut names = Vec::new();
            let fields = match (root, root_array) {
                (Some(fields), None) => fields,
                (None, Some(items)) => vec![("value".to_owned(), vec![Seen::Array(items)])],
                (None, None) => {
                    return Err(TaskError::Failed(
                        "Cannot infer Avro schema from ION input: the file appears to be empty or contains no valid records.".into(),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(TaskError::Failed(
                        "the records are structs and lists: no one schema fits them; give a `schema`".into(),
                    ));
                }
            };
            Ok(json!({
                "type": "record",
                "name": "root",
                "namespace": "io.kestra.plugin.serdes.avro",
                "fields": fields_json(&fields, &mut names),
            }))
        }

        fn of(value: &Value, raw: Option<Raw>) -> Vec<Seen> {
            let one = |seen: Seen| vec![Seen::Null, seen];
            match value {
                Value::Null => vec![Seen::Null],
                Value::Bool(_) => one(Seen::Boolean),
                Value::Number(n) if n.is_f64() => match raw {
                    // Kestra reads an Ion decimal as a BigDecimal, inferred as a string.
                    Some(Raw::Decimal) => one(Seen::String),
                    _ => one(Seen::Double),
                },
                Value::Number(n) => match n.as_i64() {
                    Some(i) if i32::try_from(i).is_ok() => one(Seen::Int),
                    Some(_) => one(Seen::Long),
                    None => one(Seen::Double),
                },
                Value::String(_) => match raw {
                    Some(Raw::Date) => one(Seen::Date),
                    Some(Raw::Timestamp | Raw::DateTime) => one(Seen::Timestamp),
                    Some(Raw::Time) => one(Seen::Time),
                    _ => one(Seen::String),
                },
                Value::Array(items) => {
                    let mut seen = Vec::new();
                    for item in items {
                        seen = merge(seen, of(item, None));
                    }
                    if seen.is_empty() {
                        seen = vec![Seen::String];
                    }
                    vec![Seen::Array(seen), Seen::Null]
                }
                Value::Object(map) => vec![
                    Seen::Record(map.iter().map(|(k, v)| (k.clone(), of(v, None))).collect()),
                    Seen::Null,
                ],
            }
        }

        fn merge(mut known: Vec<Seen>, new: Vec<Seen>) -> Vec<Seen> {
            for seen in new {
                match seen {
                    Seen::Record(fields) => {
                        match known.iter_mut().find(|s| matches!(s, Seen::Record(_))) {
                            Some(Seen::Record(existing)) => {
                                *existing = merge_fields(std::mem::take(existing), fields);
                            }
                            _ => known.push(Seen::Record(fields)),
                        }
                    }
                    Seen::Array(items) => {
                        match known.iter_mut().find(|s| matches!(s, Seen::Array(_))) {
                            Some(Seen::Array(existing)) => {
                                *existing = merge(std::mem::take(existing), items);
                            }
                            _ => known.push(Seen::Array(items)),
                        }
                    }
                    other => {
                        if !known.contains(&other) {
                            known.push(other);
                        }
                    }
                }
            }
            known
        }

        fn merge_fields(
            mut known: Vec<(String, Vec<Seen>)>,
            new: Vec<(String, Vec<Seen>)>,
        ) -> Vec<(String, Vec<Seen>)> {
            for (name, seen) in new {
                match known.iter_mut().find(|(k, _)| *k == name) {
                    Some((_, existing)) => *existing = merge(std::mem::take(existing), seen),
                    None => known.push((name, seen)),
                }
            }
            known
        }

        fn fields_json(fields: &[(String, Vec<Seen>)], names: &mut Vec<String>) -> Vec<Value> {
            fields
                .iter()
                .map(|(name, seen)| {
                    let mut field = json!({"name": name, "type": type_json(name, seen, names)});
                    if seen.first() == Some(&Seen::Null) {
                        field["default"] = Value::Null;
                    }
                    field
                })
                .collect()
        }

        fn type_json(name: &str, seen: &[Seen], names: &mut Vec<String>) -> Value {
            let mut types: Vec<Value> = seen.iter().map(|s| one_json(name, s, names)).collect();
            if types.len() == 1 {
                types.remove(0)
            } else {
                Value::Array(types)
            }
        }

        fn one_json(name: &str, seen: &Seen, names: &mut Vec<String>) -> Value {
            match seen {
                Seen::Null => json!("null"),
                Seen::Boolean => json!("boolean"),
                Seen::Int => json!("int"),
                Seen::Long => json!("long"),
                Seen::Double => json!("double"),
                Seen::String => json!("string"),
                Seen::Date => json!({"type": "int", "logicalType": "date"}),
                Seen::Timestamp => json!({"type": "long", "logicalType": "local-timestamp-millis"}),
                Seen::Time => json!({"type": "int", "logicalType": "time-millis"}),
                Seen::Array(items) => {
                    json!({"type": "array", "items": type_json(&format!("{name}_items"), items, names)})
                }
                Seen::Record(fields) => {
                    // Avro names a record once: a second record of the same
                    // field name gets a number.
                    let mut record_name = name.to_owned();
                    let mut n = 1;
                    while names.contains(&record_name) {
                        n += 1;
                        record_name = format!("{name}{n}");
                    }
                    names.push(record_name.clone());
                    json!({
                        "type": "record",
                        "name": record_name,
                        "namespace": "io.kestra.plugin.serdes.avro",
                        "fields": fields_json(fields, names),
                    })
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::ion::{Raw, raw_kinds};
        use super::scale_decimal;

        fn check_kinds(line: &str, expected: &[Raw]) {
            assert_eq!(raw_kinds(line), expected, "{line}");
        }

        #[test]
        fn raw_kinds_tell_timestamps_and_decimals_from_text() {
            use Raw::*;
            check_kinds(
                r#"{a:"x, {y}",b:2024-01-15,c:2024-01-15T10:30:00.000Z,'d e':1.5,f:1.5e0,g:LocalTime::"10:30:00",h:{x:[1,2]},i:"2024-01-15"}"#,
                &[Other, Date, Timestamp, Decimal, Float, Time, Other, Other],
            );
            check_kinds(
                r#"{a:2024-01-15T00:00:00.000Z, b : 'it\'s',c:2024-01-15T00:00+01:00}"#,
                &[Date, Other, Timestamp],
            );
            check_kinds("[1,2]", &[]);
        }

        #[test]
        fn decimals_scale_half_even() {
            assert_eq!(scale_decimal("12.345", 2), Some(1234));
            assert_eq!(scale_decimal("12.355", 2), Some(1236));
            assert_eq!(scale_decimal("-1.5", 0), Some(-2));
            assert_eq!(scale_decimal("2.5", 0), Some(2));
            assert_eq!(scale_decimal("7", 3), Some(7000));
            assert_eq!(scale_decimal("1.25e1", 1), Some(125));
            assert_eq!(scale_decimal("abc", 1), None);
        }

        #[test]
        fn decimals_print_with_their_scale() {
            let check = |bytes: &[u8], scale: i32, expected: &str| {
                let mut out = String::new();
                super::ion::decimal_bytes(bytes, scale, &mut out);
                assert_eq!(out, expected);
            };
            check(&1234i32.to_be_bytes(), 2, "12.34");
            check(&(-5i32).to_be_bytes(), 2, "-0.05");
            check(&[0x04, 0xD2], 0, "1234.");
        }
    }
}
