//! Kestra's `io.kestra.plugin.serdes.parquet` package: Ion to and from
//! Parquet files, with the parquet crate's own writer and record reader (no
//! Arrow).
//!
//! Kestra writes Parquet through parquet-avro: the records are converted
//! with its Avro converter and the columns typed from an Avro schema (given
//! or inferred), so IonToParquet shares IonToAvro's properties (`avro.rs`),
//! conversion rules (`avro_converter.rs`) and schema inference
//! (`avro_schema.rs`), and ParquetToIon writes what Kestra's AvroDeserializer
//! gives (`ion.rs`).
//!
//! Where Mortar differs from Kestra:
//! - A Parquet file holds its rows in row groups, written a column at a
//!   time: IonToParquet keeps one row group's values in memory (up to
//!   `rowGroupSize` bytes of values) before writing it, as Parquet writers
//!   do. ParquetToIon reads a row group at a time.
//! - IonToParquet writes flat records: each field a value or a union of
//!   null and a value. A nested record, array or map field is refused.
//! - ParquetToIon reads any file the crate reads, nested or not, compressed
//!   with snappy, gzip, lz4 or zstd; brotli and LZO are refused.

use super::avro::{
    DATE_FORMAT, DATETIME_FORMAT, DECIMAL_SEPARATOR, FALSE_VALUES, INFER_ALL_FIELDS, NULL_VALUES,
    NUMBER_OF_ROWS_TO_SCAN, ON_BAD_LINES, SCHEMA, STRICT_SCHEMA, TIME_FORMAT, TIME_ZONE_ID,
    TRUE_VALUES,
};
use super::{FROM, OUTPUTS};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, runner};

pub const ION_TO_PARQUET: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.parquet.IonToParquet",
    alias: "serdes.parquet.IonToParquet",
    category: Category::Task,
    doc: "Converts an Ion file to a Parquet file whose columns are the fields of the Avro `schema` given (or inferred from the first `numberOfRowsToScan` records), converted as IonToAvro does. Flat records only (a field is a value or a union of null and a value); a row group's values are kept in memory, up to `rowGroupSize` bytes, before it is written.",
    properties: &[
        FROM,
        SCHEMA,
        def(
            "compressionCodec",
            Enum {
                values: &["UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"],
            },
            "\"GZIP\"",
            "How the pages are compressed.",
        ),
        def(
            "parquetVersion",
            Enum {
                values: &["V1", "V2"],
            },
            "\"V2\"",
            "The Parquet format version (V2 data pages, or V1).",
        ),
        def(
            "rowGroupSize",
            Integer,
            "134217728",
            "The size of a row group, in bytes of values: what IonToParquet holds in memory at most.",
        ),
        def(
            "pageSize",
            Integer,
            "1048576",
            "The size of a data page, in bytes.",
        ),
        def(
            "dictionaryPageSize",
            Integer,
            "1048576",
            "The largest dictionary page, in bytes.",
        ),
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
    run: runner!(run::IonToParquet),
    check: None,
    aliases: &["io.kestra.plugin.serdes.parquet.ParquetWriter"],
};

pub const PARQUET_TO_ION: TaskType = TaskType {
    name: "io.kestra.plugin.serdes.parquet.ParquetToIon",
    alias: "serdes.parquet.ParquetToIon",
    category: Category::Task,
    doc: "Converts a Parquet file to Ion, a row group at a time: each row a struct of its columns in order (nested groups, lists and maps as Ion structs and lists), a DATE as an Ion date, a TIMESTAMP as an Ion timestamp in UTC (`LocalDateTime::` text when not adjusted to UTC), a DECIMAL as an Ion decimal. Codecs: uncompressed, snappy, gzip, lz4, zstd.",
    properties: &[FROM],
    outputs: OUTPUTS,
    run: runner!(run::ParquetToIon),
    check: None,
    aliases: &["io.kestra.plugin.serdes.parquet.ParquetReader"],
};

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use std::io::Write;
    use std::sync::Arc;

    use apache_avro::Schema;
    use apache_avro::schema::InnerDecimalSchema;
    use apache_avro::types::Value as Avro;
    use futures::future::BoxFuture;
    use parquet::basic::{
        Compression, GzipLevel, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel,
    };
    use parquet::data_type::{
        BoolType, ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType,
        FloatType, Int32Type, Int64Type,
    };
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use parquet::file::reader::FileReader;
    use parquet::file::serialized_reader::SerializedFileReader;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::record::Field;
    use parquet::schema::types::Type;
    use serde_json::Value;

    use super::super::avro_converter::{Converter, Options};
    use super::super::avro_schema::{names_of, schema, schema_text};
    use super::super::ion;
    use super::super::run::{create, done, files, io, line, log_warnings, open};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    fn failed(e: parquet::errors::ParquetError) -> TaskError {
        TaskError::Failed(format!("writing the Parquet file: {e}"))
    }

    /// IonToParquet's own properties.
    struct Layout {
        compression: Compression,
        version: WriterVersion,
        row_group_bytes: u64,
        page_size: usize,
        dictionary_page_size: usize,
    }

    impl Layout {
        fn of(ctx: &TaskContext) -> Result<Self, TaskError> {
            let size = |name: &str, default: u64| -> Result<u64, TaskError> {
                match ctx.prop(name)? {
                    Value::Null => Some(default),
                    Value::Number(n) => n.as_u64().filter(|n| *n > 0),
                    Value::String(s) => s.trim().parse().ok().filter(|n| *n > 0),
                    _ => None,
                }
                .ok_or_else(|| ctx.invalid(format!("{name}: a number of bytes greater than 0")))
            };
            let compression = match ctx
                .prop("compressionCodec")?
                .as_str()
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                None | Some("GZIP") => Compression::GZIP(GzipLevel::default()),
                Some("UNCOMPRESSED") => Compression::UNCOMPRESSED,
                Some("SNAPPY") => Compression::SNAPPY,
                Some("ZSTD") => Compression::ZSTD(ZstdLevel::default()),
                Some(other) => {
                    return Err(ctx.invalid(format!(
                        "compressionCodec {other}: UNCOMPRESSED, SNAPPY, GZIP or ZSTD"
                    )));
                }
            };
            let version = match ctx.prop("parquetVersion")?.as_str() {
                None | Some("V2") => WriterVersion::PARQUET_2_0,
                Some("V1") => WriterVersion::PARQUET_1_0,
                Some(other) => return Err(ctx.invalid(format!("parquetVersion {other}: V1 or V2"))),
            };
            Ok(Self {
                compression,
                version,
                row_group_bytes: size("rowGroupSize", 134_217_728)?,
                page_size: size("pageSize", 1_048_576)? as usize,
                dictionary_page_size: size("dictionaryPageSize", 1_048_576)? as usize,
            })
        }
    }

    pub(in super::super) struct IonToParquet;

    impl Runner for IonToParquet {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (source, uri, target) = files(ctx, ".parquet")?;
                let options = Options::of(ctx)?;
                let layout = Layout::of(ctx)?;
                let schema_text = schema_text(ctx)?;
                let (size, warnings) = tokio::task::spawn_blocking(move || {
                    let schema = schema(schema_text.as_deref(), &options, &source)?;
                    let columns = columns_of(&schema)?;
                    let parquet_schema = Arc::new(parquet_schema(&schema, &columns)?);
                    let properties = WriterProperties::builder()
                        .set_compression(layout.compression)
                        .set_writer_version(layout.version)
                        .set_dictionary_enabled(true)
                        .set_data_page_size_limit(layout.page_size)
                        .set_dictionary_page_size_limit(layout.dictionary_page_size)
                        .set_max_row_group_row_count(None)
                        // As parquet-avro does, so that Avro readers of the file
                        // find the schema it was written with.
                        .set_key_value_metadata(Some(vec![
                            KeyValue::new(
                                "parquet.avro.schema".to_owned(),
                                serde_json::to_string(&schema).ok(),
                            ),
                            KeyValue::new("writer.model.name".to_owned(), "avro".to_owned()),
                        ]))
                        .build();
                    let converter = Converter::new(&schema, options)?;
                    let mut writer = SerializedFileWriter::new(
                        create(&target)?,
                        parquet_schema,
                        Arc::new(properties),
                    )
                    .map_err(failed)?;
                    let mut buffers: Vec<Buffer> = columns.iter().map(Buffer::new).collect();
                    let mut buffered = 0u64;
                    let mut warnings = Vec::new();
                    let size = converter.each_record(open(&source)?, &mut warnings, |record| {
                        let Avro::Record(fields) = record else {
                            unreachable!("the converter gives records")
                        };
                        for ((buffer, column), (_, value)) in
                            buffers.iter_mut().zip(&columns).zip(fields)
                        {
                            buffered += buffer.push(column, value)?;
                        }
                        if buffered >= layout.row_group_bytes {
                            write_group(&mut writer, &mut buffers)?;
                            buffered = 0;
                        }
                        Ok(())
                    })?;
                    if buffers.first().is_some_and(|b| !b.defs.is_empty()) {
                        write_group(&mut writer, &mut buffers)?;
                    }
                    writer.finish().map_err(failed)?;
                    writer.flush().map_err(io)?;
                    Ok::<_, TaskError>((size, warnings))
                })
                .await
                .map_err(|e| TaskError::Failed(format!("the conversion stopped: {e}")))??;
                log_warnings(ctx, &warnings).await;
                done(ctx, uri, size).await
            })
        }
    }

    /// How a field of the Avro schema is stored as a Parquet column
    /// (parquet-avro's AvroSchemaConverter).
    struct Column {
        name: String,
        optional: bool,
        physical: Physical,
        logical: Option<LogicalType>,
        /// FIXED_LEN_BYTE_ARRAY's length; a decimal's precision and scale.
        length: i32,
        precision: i32,
        scale: i32,
    }

    fn columns_of(schema: &Schema) -> Result<Vec<Column>, TaskError> {
        let Schema::Record(record) = schema else {
            return Err(TaskError::Failed(
                "schema: the top level must be a record (\"type\": \"record\")".into(),
            ));
        };
        let names = names_of(schema)?;
        record
            .fields
            .iter()
            .map(|field| {
                let refused = |what: &str| {
                    TaskError::Failed(format!(
                        "field '{}': {what}; Mortar writes flat records to Parquet (a value, or a union of null and a value)",
                        field.name
                    ))
                };
                let resolve = |s: &Schema| -> Schema {
                    match s {
                        Schema::Ref { name } => names.get(name).cloned().unwrap_or(Schema::Null),
                        other => other.clone(),
                    }
                };
                let (optional, inner) = match resolve(&field.schema) {
                    Schema::Union(union) => {
                        let values: Vec<&Schema> =
                            union.variants().iter().filter(|s| !matches!(s, Schema::Null)).collect();
                        match values.as_slice() {
                            [one] => (union.variants().len() > 1, resolve(one)),
                            _ => return Err(refused("a union of several types")),
                        }
                    }
                    other => (false, other),
                };
                let mut column = Column {
                    name: field.name.clone(),
                    optional,
                    physical: Physical::BYTE_ARRAY,
                    logical: None,
                    length: -1,
                    precision: -1,
                    scale: -1,
                };
                let timestamp = |adjusted: bool, unit: TimeUnit| (Physical::INT64, Some(LogicalType::timestamp(adjusted, unit)));
                (column.physical, column.logical) = match &inner {
                    Schema::Boolean => (Physical::BOOLEAN, None),
                    Schema::Int => (Physical::INT32, None),
                    Schema::Long => (Physical::INT64, None),
                    Schema::Float => (Physical::FLOAT, None),
                    Schema::Double => (Physical::DOUBLE, None),
                    Schema::Bytes => (Physical::BYTE_ARRAY, None),
                    Schema::String | Schema::Uuid(_) => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                    Schema::Enum(_) => (Physical::BYTE_ARRAY, Some(LogicalType::Enum)),
                    Schema::Fixed(fixed) => {
                        column.length = fixed.size as i32;
                        (Physical::FIXED_LEN_BYTE_ARRAY, None)
                    }
                    Schema::Decimal(decimal) => {
                        column.precision = decimal.precision as i32;
                        column.scale = decimal.scale as i32;
                        let logical = Some(LogicalType::decimal(column.scale, column.precision));
                        match &decimal.inner {
                            InnerDecimalSchema::Bytes => (Physical::BYTE_ARRAY, logical),
                            InnerDecimalSchema::Fixed(fixed) => {
                                column.length = fixed.size as i32;
                                (Physical::FIXED_LEN_BYTE_ARRAY, logical)
                            }
                        }
                    }
                    Schema::Date => (Physical::INT32, Some(LogicalType::Date)),
                    Schema::TimeMillis => (Physical::INT32, Some(LogicalType::time(true, TimeUnit::MILLIS))),
                    Schema::TimeMicros => (Physical::INT64, Some(LogicalType::time(true, TimeUnit::MICROS))),
                    Schema::TimestampMillis => timestamp(true, TimeUnit::MILLIS),
                    Schema::TimestampMicros => timestamp(true, TimeUnit::MICROS),
                    Schema::TimestampNanos => timestamp(true, TimeUnit::NANOS),
                    Schema::LocalTimestampMillis => timestamp(false, TimeUnit::MILLIS),
                    Schema::LocalTimestampMicros => timestamp(false, TimeUnit::MICROS),
                    Schema::LocalTimestampNanos => timestamp(false, TimeUnit::NANOS),
                    Schema::Record(_) => return Err(refused("a nested record")),
                    Schema::Array(_) => return Err(refused("an array")),
                    Schema::Map(_) => return Err(refused("a map")),
                    Schema::Null => return Err(refused("always null")),
                    other => return Err(refused(&format!("a {other:?}"))),
                };
                Ok(column)
            })
            .collect()
    }

    fn parquet_schema(schema: &Schema, columns: &[Column]) -> Result<Type, TaskError> {
        let name = match schema {
            Schema::Record(record) => record.name.name().to_owned(),
            _ => "root".to_owned(),
        };
        let fields = columns
            .iter()
            .map(|c| {
                let mut builder = Type::primitive_type_builder(&c.name, c.physical)
                    .with_repetition(if c.optional {
                        Repetition::OPTIONAL
                    } else {
                        Repetition::REQUIRED
                    })
                    .with_logical_type(c.logical.clone());
                if c.length >= 0 {
                    builder = builder.with_length(c.length);
                }
                if c.precision >= 0 {
                    builder = builder.with_precision(c.precision).with_scale(c.scale);
                }
                builder.build().map(Arc::new).map_err(|e| {
                    TaskError::Failed(format!("field '{}': no Parquet column for it: {e}", c.name))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Type::group_type_builder(&name)
            .with_fields(fields)
            .build()
            .map_err(|e| TaskError::Failed(format!("schema: no Parquet schema for it: {e}")))
    }

    /// One column's values of the row group being gathered.
    enum Values {
        Bool(Vec<bool>),
        I32(Vec<i32>),
        I64(Vec<i64>),
        F32(Vec<f32>),
        F64(Vec<f64>),
        Bytes(Vec<ByteArray>),
        Fixed(Vec<FixedLenByteArray>),
    }

    struct Buffer {
        values: Values,
        /// Definition levels: 1 for a value, 0 for a null (optional columns).
        defs: Vec<i16>,
    }

    impl Buffer {
        fn new(column: &Column) -> Self {
            let values = match column.physical {
                Physical::BOOLEAN => Values::Bool(Vec::new()),
                Physical::INT32 => Values::I32(Vec::new()),
                Physical::INT64 => Values::I64(Vec::new()),
                Physical::FLOAT => Values::F32(Vec::new()),
                Physical::DOUBLE => Values::F64(Vec::new()),
                Physical::FIXED_LEN_BYTE_ARRAY => Values::Fixed(Vec::new()),
                _ => Values::Bytes(Vec::new()),
            };
            Self {
                values,
                defs: Vec::new(),
            }
        }

        /// Adds one value; returns about how many bytes it holds.
        fn push(&mut self, column: &Column, value: Avro) -> Result<u64, TaskError> {
            let value = match value {
                Avro::Union(_, inner) => *inner,
                other => other,
            };
            if matches!(value, Avro::Null) {
                if !column.optional {
                    return Err(TaskError::Failed(format!(
                        "field '{}': null, but the field is not nullable",
                        column.name
                    )));
                }
                self.defs.push(0);
                return Ok(2);
            }
            self.defs.push(1);
            let mismatch = || {
                TaskError::Failed(format!(
                    "field '{}': a value of another type than its column's",
                    column.name
                ))
            };
            Ok(match (&mut self.values, value) {
                (Values::Bool(v), Avro::Boolean(b)) => {
                    v.push(b);
                    1
                }
                (Values::I32(v), Avro::Int(n) | Avro::Date(n) | Avro::TimeMillis(n)) => {
                    v.push(n);
                    4
                }
                (
                    Values::I64(v),
                    Avro::Long(n)
                    | Avro::TimeMicros(n)
                    | Avro::TimestampMillis(n)
                    | Avro::TimestampMicros(n)
                    | Avro::TimestampNanos(n)
                    | Avro::LocalTimestampMillis(n)
                    | Avro::LocalTimestampMicros(n)
                    | Avro::LocalTimestampNanos(n),
                ) => {
                    v.push(n);
                    8
                }
                (Values::F32(v), Avro::Float(f)) => {
                    v.push(f);
                    4
                }
                (Values::F64(v), Avro::Double(f)) => {
                    v.push(f);
                    8
                }
                (Values::Bytes(v), value) => {
                    let bytes = match value {
                        Avro::String(s) | Avro::Enum(_, s) => s.into_bytes(),
                        Avro::Uuid(u) => u.to_string().into_bytes(),
                        Avro::Bytes(b) => b,
                        Avro::Decimal(d) => Vec::<u8>::try_from(&d).map_err(|_| mismatch())?,
                        _ => return Err(mismatch()),
                    };
                    let size = bytes.len() as u64 + 4;
                    v.push(ByteArray::from(bytes));
                    size
                }
                (Values::Fixed(v), value) => {
                    let bytes = match value {
                        Avro::Fixed(_, b) => b,
                        Avro::Decimal(d) => Vec::<u8>::try_from(&d).map_err(|_| mismatch())?,
                        _ => return Err(mismatch()),
                    };
                    let size = bytes.len() as u64;
                    v.push(FixedLenByteArray::from(ByteArray::from(bytes)));
                    size
                }
                _ => return Err(mismatch()),
            })
        }
    }

    /// Writes the gathered values as one row group and empties the buffers.
    fn write_group(
        writer: &mut SerializedFileWriter<std::io::BufWriter<std::fs::File>>,
        buffers: &mut [Buffer],
    ) -> Result<(), TaskError> {
        let mut group = writer.next_row_group().map_err(failed)?;
        for buffer in buffers.iter_mut() {
            let mut column = group.next_column().map_err(failed)?.ok_or_else(|| {
                TaskError::Failed("writing the Parquet file: a column is missing".into())
            })?;
            let defs = Some(buffer.defs.as_slice());
            match &buffer.values {
                Values::Bool(v) => column.typed::<BoolType>().write_batch(v, defs, None),
                Values::I32(v) => column.typed::<Int32Type>().write_batch(v, defs, None),
                Values::I64(v) => column.typed::<Int64Type>().write_batch(v, defs, None),
                Values::F32(v) => column.typed::<FloatType>().write_batch(v, defs, None),
                Values::F64(v) => column.typed::<DoubleType>().write_batch(v, defs, None),
                Values::Bytes(v) => column.typed::<ByteArrayType>().write_batch(v, defs, None),
                Values::Fixed(v) => column
                    .typed::<FixedLenByteArrayType>()
                    .write_batch(v, defs, None),
            }
            .map_err(failed)?;
            column.close().map_err(failed)?;
            buffer.defs.clear();
            match &mut buffer.values {
                Values::Bool(v) => v.clear(),
                Values::I32(v) => v.clear(),
                Values::I64(v) => v.clear(),
                Values::F32(v) => v.clear(),
                Values::F64(v) => v.clear(),
                Values::Bytes(v) => v.clear(),
                Values::Fixed(v) => v.clear(),
            }
        }
        group.close().map_err(failed)?;
        Ok(())
    }

    pub(in super::super) struct ParquetToIon;

    impl Runner for ParquetToIon {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let (source, uri, target) = files(ctx, ".ion")?;
                let size = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
                    let unreadable = |e: parquet::errors::ParquetError| {
                        TaskError::Failed(format!("not a Parquet file Mortar can read: {e}"))
                    };
                    let file = std::fs::File::open(&source).map_err(io)?;
                    let reader = SerializedFileReader::new(file).map_err(unreadable)?;
                    // Timestamps not adjusted to UTC are Kestra's LocalDateTime.
                    let local: Vec<bool> = reader
                        .metadata()
                        .file_metadata()
                        .schema_descr()
                        .root_schema()
                        .get_fields()
                        .iter()
                        .map(|f| {
                            matches!(
                                f.get_basic_info().logical_type_ref(),
                                Some(LogicalType::Timestamp(t)) if !t.is_adjusted_to_u_t_c
                            )
                        })
                        .collect();
                    let names: Vec<String> = reader
                        .metadata()
                        .file_metadata()
                        .schema_descr()
                        .root_schema()
                        .get_fields()
                        .iter()
                        .map(|f| ion::name(f.name()))
                        .collect();
                    let mut out = create(&target)?;
                    let mut size = 0u64;
                    let mut text = String::new();
                    for (index, row) in reader.get_row_iter(None).map_err(unreadable)?.enumerate() {
                        let row = row.map_err(|e| {
                            // The codecs not built in (see the workspace's Cargo.toml).
                            let hint = if e.to_string().contains("Disabled feature") {
                                " (Mortar reads Parquet compressed with snappy, gzip, lz4 or zstd; brotli and LZO are not built in)"
                            } else {
                                ""
                            };
                            TaskError::Failed(format!("row {}: not readable: {e}{hint}", index + 1))
                        })?;
                        text.clear();
                        text.push('{');
                        for (i, (name, field)) in row.get_column_iter().enumerate() {
                            if i > 0 {
                                text.push(',');
                            }
                            match names.get(i) {
                                Some(n) => text.push_str(n),
                                None => text.push_str(&ion::name(name)),
                            }
                            text.push(':');
                            field_to_ion(field, local.get(i).copied().unwrap_or(false), &mut text);
                        }
                        text.push('}');
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

    /// One Parquet value as Ion, as Kestra's AvroDeserializer gives it.
    fn field_to_ion(field: &Field, local: bool, out: &mut String) {
        match field {
            Field::Null => out.push_str("null"),
            Field::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Field::Byte(n) => out.push_str(&n.to_string()),
            Field::Short(n) => out.push_str(&n.to_string()),
            Field::Int(n) => out.push_str(&n.to_string()),
            Field::Long(n) => out.push_str(&n.to_string()),
            Field::UByte(n) => out.push_str(&n.to_string()),
            Field::UShort(n) => out.push_str(&n.to_string()),
            Field::UInt(n) => out.push_str(&n.to_string()),
            Field::ULong(n) => out.push_str(&n.to_string()),
            Field::Float16(f) => ion::float(f.to_f64(), out),
            Field::Float(f) => ion::float(f64::from(*f), out),
            Field::Double(f) => ion::float(*f, out),
            Field::Decimal(d) => ion::decimal_bytes(d.data(), d.scale(), out),
            Field::Str(s) => ion::string(s, out),
            Field::Bytes(b) => ion::blob(b.data(), out),
            Field::Date(days) => ion::date(i64::from(*days), out),
            Field::TimeMillis(ms) => ion::local_time(i64::from(*ms) * 1000, out),
            Field::TimeMicros(us) => ion::local_time(*us, out),
            Field::TimestampMillis(ms) if local => {
                ion::local_date_time(ms.saturating_mul(1000), out)
            }
            Field::TimestampMillis(ms) => ion::instant(ms.saturating_mul(1000), out),
            Field::TimestampMicros(us) if local => ion::local_date_time(*us, out),
            Field::TimestampMicros(us) => ion::instant(*us, out),
            Field::Group(row) => {
                out.push('{');
                for (i, (name, field)) in row.get_column_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&ion::name(name));
                    out.push(':');
                    field_to_ion(field, false, out);
                }
                out.push('}');
            }
            Field::ListInternal(list) => {
                out.push('[');
                for (i, item) in list.elements().iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    field_to_ion(item, false, out);
                }
                out.push(']');
            }
            Field::MapInternal(map) => {
                out.push('{');
                for (i, (key, value)) in map.entries().iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let key = match key {
                        Field::Str(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out.push_str(&ion::name(&key));
                    out.push(':');
                    field_to_ion(value, false, out);
                }
                out.push('}');
            }
        }
    }
}
