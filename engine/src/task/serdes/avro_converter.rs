//! Ion records to Avro records, as Kestra's `AvroConverter`: the properties
//! of its `AbstractAvroConverter` as a task run gives them ([`Options`]), and
//! the rules that read each Ion value as its field's type ([`Converter`]).
//! IonToAvro and IonToParquet (Kestra writes Parquet through parquet-avro)
//! both convert with it; the properties are declared in `avro.rs`, with
//! where Mortar's rules differ from Kestra's.

use std::collections::HashMap;
use std::io::BufRead;

use apache_avro::Schema;
use apache_avro::schema::{InnerDecimalSchema, Name, UnionSchema};
use apache_avro::types::Value as Avro;
use serde_json::{Map, Value};

use super::avro_schema::names_of;
use super::ion::iso_instant;
use super::run::each_ion_in;
use crate::task::{TaskContext, TaskError};

#[derive(Clone, Copy, PartialEq)]
enum OnBad {
    Error,
    Warn,
    Skip,
}

/// The rendered properties of Kestra's AbstractAvroConverter.
pub(super) struct Options {
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
    /// How many records the schema inference reads.
    pub(super) rows_to_scan: usize,
}

impl Options {
    pub(super) fn of(ctx: &TaskContext) -> Result<Self, TaskError> {
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
                return Err(ctx.invalid(format!("decimalSeparator: one character, not {other}")));
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
pub(super) struct Converter<'s> {
    root: &'s Schema,
    names: HashMap<Name, Schema>,
    options: Options,
}

impl<'s> Converter<'s> {
    pub(super) fn new(root: &'s Schema, options: Options) -> Result<Self, TaskError> {
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
    pub(super) fn each_record(
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
                        let names: Vec<String> = extra.iter().map(|k| format!("'{k}'")).collect();
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
                                warnings.push(format!("line {number}: {message}; written as null"));
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
    fn convert(&self, schema: &Schema, data: &Value) -> Result<Avro, String> {
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
            Schema::Float => Avro::Float(self.float(data).ok_or_else(|| cannot("a float"))? as f32),
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
            Schema::Uuid(_) => Avro::Uuid(text(data).trim().parse().map_err(|_| cannot("a uuid"))?),
            Schema::Date => Avro::Date(self.date(data).ok_or_else(|| cannot("a date"))?),
            Schema::TimeMillis => {
                Avro::TimeMillis((self.time(data).ok_or_else(|| cannot("a time"))? / 1000) as i32)
            }
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

/// `text` (a decimal number) times 10^scale, rounded half-even.
fn scale_decimal(text: &str, scale: usize) -> Option<i128> {
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

#[cfg(test)]
mod tests {
    use super::scale_decimal;

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
}
