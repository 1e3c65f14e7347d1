//! Kestra's serdes plugin (`io.kestra.plugin.serdes.*`): files converted to
//! and from Ion, Kestra's format between tasks (one value per line), as a
//! stream: a line in, a line out, whatever the file's size.

pub mod avro;
#[cfg(feature = "runtime")]
mod avro_converter;
#[cfg(feature = "runtime")]
mod avro_schema;
pub mod csv;
pub mod excel;
#[cfg(feature = "runtime")]
mod ion;
pub mod json;
pub mod parquet;

/// Ion records as CSV or JSON, for a task or a download.
#[cfg(feature = "runtime")]
pub use self::{
    csv::run::{CsvOut, ion_to_csv},
    json::run::ion_to_json,
};

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Property, def, ex, req};

pub const FROM: Property = ex(
    req("from", String, "The file's storage:// URI."),
    "{{ outputs.extract.uri }}",
);

pub const CHARSET: Property = def(
    "charset",
    String,
    "\"UTF-8\"",
    "The file's character set: UTF-8 (a byte-order mark is skipped); another is refused.",
);

pub const OUTPUTS: &[(&str, &str)] = &[
    ("uri", "The storage:// URI of the file written."),
    ("size", "How many records it holds."),
];

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use std::io::{BufRead, BufReader, BufWriter, Write};
    use std::path::PathBuf;

    use serde_json::Value;

    use crate::log::Level;
    use crate::storage::Storage;
    use crate::task::{Outputs, TaskContext, TaskError};

    /// The source file's local path and the new file's URI and path.
    pub(crate) fn paths(
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
        let source = ctx
            .storage
            .path_of(&from)
            .map_err(|e| ctx.invalid(format!("from: {e}")))?;
        if !source.is_file() {
            return Err(TaskError::Failed(format!("from: {from} does not exist")));
        }
        match ctx
            .prop("charset")?
            .as_str()
            .map(|c| c.trim().to_ascii_uppercase())
        {
            None => {}
            Some(c) if c == "UTF-8" || c == "UTF8" => {}
            Some(other) => {
                return Err(ctx.invalid(format!(
                    "charset {other}: Mortar reads and writes UTF-8 only"
                )));
            }
        }
        let uri = Storage::execution_uri(
            &ctx.namespace,
            &ctx.flow_id,
            &ctx.execution_id,
            &format!("{}-{}{extension}", ctx.task_id, ctx.task_run_id),
        );
        let target = ctx.storage.path_of(&uri)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| TaskError::Failed(format!("cannot write {uri}: {e}")))?;
        }
        Ok((source, uri, target))
    }

    /// The local path of a file of the namespace's storage.
    pub(super) fn source_of(ctx: &TaskContext, uri: &str) -> Result<PathBuf, TaskError> {
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
    pub(super) fn target_of(ctx: &TaskContext, name: &str) -> Result<(String, PathBuf), TaskError> {
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
    pub(super) fn files(
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

    pub(super) async fn log_warnings(ctx: &TaskContext, warnings: &[String]) {
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

    pub(crate) fn io(e: std::io::Error) -> TaskError {
        TaskError::Failed(format!("reading or writing the file: {e}"))
    }

    /// A reader of the source that skips a UTF-8 byte-order mark.
    pub(crate) fn open(source: &PathBuf) -> Result<BufReader<std::fs::File>, TaskError> {
        let mut reader =
            BufReader::with_capacity(1 << 16, std::fs::File::open(source).map_err(io)?);
        let head = reader.fill_buf().map_err(io)?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            reader.consume(3);
        }
        Ok(reader)
    }

    pub(crate) fn create(target: &PathBuf) -> Result<BufWriter<std::fs::File>, TaskError> {
        Ok(BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(target).map_err(io)?,
        ))
    }

    /// Each Ion value of an Ion file (one per line), in order, with a
    /// struct's fields in their order.
    pub(crate) fn each_ion_in(
        reader: impl BufRead,
        mut each: impl FnMut(Value, Option<Vec<(String, Value)>>) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        for (number, line) in reader.lines().enumerate() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let (value, fields) = crate::flow::pebble::convert::ion_fields(&line).map_err(|e| {
                TaskError::Failed(format!("line {}: not an Ion value: {e}", number + 1))
            })?;
            each(value, fields)?;
        }
        Ok(())
    }

    /// The outputs `uri` and `size`, and the `records` metric Kestra counts.
    pub(crate) async fn done(
        ctx: &TaskContext,
        uri: String,
        size: u64,
    ) -> Result<Outputs, TaskError> {
        ctx.metrics([(
            "counter",
            "records".to_owned(),
            size as f64,
            Default::default(),
        )])
        .await?;
        ctx.info(format!("wrote {size} records to {uri}")).await;
        let mut outputs = Outputs::new();
        outputs.insert("uri".into(), Value::String(uri));
        outputs.insert("size".into(), size.into());
        Ok(outputs)
    }

    /// Writes `text` and a line end.
    pub(crate) fn line(out: &mut impl Write, text: &str) -> Result<(), TaskError> {
        out.write_all(text.as_bytes()).map_err(io)?;
        out.write_all(b"\n").map_err(io)
    }

    /// A one-character property (a separator, a quote).
    pub(crate) fn character(ctx: &TaskContext, name: &str, default: u8) -> Result<u8, TaskError> {
        match ctx.prop(name)? {
            Value::Null => Ok(default),
            Value::String(s) if s == "\\t" => Ok(b'\t'),
            Value::String(s) if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
            other => Err(ctx.invalid(format!("{name}: one ASCII character, not {other}"))),
        }
    }
}
