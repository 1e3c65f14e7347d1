//! The Avro schema IonToAvro and IonToParquet write with: the `schema`
//! property, or without one the schema Kestra's `InferAvroSchema` gives for
//! the first records; and a schema's named types, for its references.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use apache_avro::Schema;
use apache_avro::schema::Name;
use serde_json::{Value, json};

use super::avro_converter::Options;
use super::ion::{Raw, raw_kinds};
use super::run::{io, open};
use crate::task::{TaskContext, TaskError};

/// The `schema` property, when given.
pub(super) fn schema_text(ctx: &TaskContext) -> Result<Option<String>, TaskError> {
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
pub(super) fn schema(
    text: Option<&str>,
    options: &Options,
    source: &Path,
) -> Result<Schema, TaskError> {
    match text {
        Some(text) => Schema::parse_str(text)
            .map_err(|e| TaskError::Failed(format!("schema: not a valid Avro schema: {e}"))),
        None => {
            let inferred = infer(open(&source.to_path_buf())?, options.rows_to_scan)?;
            Schema::parse_str(&inferred.to_string()).map_err(|e| {
                TaskError::Failed(format!(
                    "the schema inferred from the records is not valid Avro ({e}); give a `schema`"
                ))
            })
        }
    }
}

/// The named types of a schema, for its references.
pub(super) fn names_of(schema: &Schema) -> Result<HashMap<Name, Schema>, TaskError> {
    let resolved = apache_avro::schema::ResolvedSchema::try_from(schema)
        .map_err(|e| TaskError::Failed(format!("schema: {e}")))?;
    Ok(resolved
        .get_names()
        .iter()
        .map(|(name, schema)| (name.clone(), (*schema).clone()))
        .collect())
}

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

/// Kestra's `InferAvroSchema`: the Avro schema (JSON) of the first `rows`
/// records of an Ion file, a record `root` whose fields are unions of null
/// and the types seen.
fn infer(ion: impl BufRead, rows: usize) -> Result<Value, TaskError> {
    let mut root: Option<Vec<(String, Vec<Seen>)>> = None;
    let mut root_array: Option<Vec<Seen>> = None;
    let mut count = 0usize;
    for (number, line) in ion.lines().enumerate() {
        if count >= rows {
            break;
        }
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        let (value, fields) = crate::flow::pebble::convert::ion_fields(&line).map_err(|e| {
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
                "the records are structs and lists: no one schema fits them; give a `schema`"
                    .into(),
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
            Seen::Record(fields) => match known.iter_mut().find(|s| matches!(s, Seen::Record(_))) {
                Some(Seen::Record(existing)) => {
                    *existing = merge_fields(std::mem::take(existing), fields);
                }
                _ => known.push(Seen::Record(fields)),
            },
            Seen::Array(items) => match known.iter_mut().find(|s| matches!(s, Seen::Array(_))) {
                Some(Seen::Array(existing)) => {
                    *existing = merge(std::mem::take(existing), items);
                }
                _ => known.push(Seen::Array(items)),
            },
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
