//! Kestra's `io.kestra.plugin.core.storage` package: files of internal
//! storage written, measured, joined, reversed and deleted. A task reaches
//! its own namespace's files only; each file it makes is named after the
//! task run, so the runs of a ForEach do not overwrite each other.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, prop, req, runner};

pub const WRITE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Write",
    alias: "storage.Write",
    category: Category::Task,
    doc: "Writes rendered text to a file of internal storage.",
    properties: &[
        ex(req("content", String, "The file's content; expressions are rendered."), "{{ outputs.api.body }}"),
        ex(prop("extension", String, "The file's extension, such as .json."), ".json"),
    ],
    outputs: &[("uri", "The storage:// URI of the file.")],
    run: runner!(run::Write),
    check: None,
};

pub const SIZE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Size",
    alias: "storage.Size",
    category: Category::Task,
    doc: "Gives the size of a file of internal storage.",
    properties: &[ex(req("uri", String, "The file's storage:// URI."), "{{ outputs.download.uri }}")],
    outputs: &[("size", "The file's size in bytes.")],
    run: runner!(run::Size),
    check: None,
};

pub const CONCAT: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Concat",
    alias: "storage.Concat",
    category: Category::Task,
    doc: "Joins files of internal storage into one, in order, with a separator after each if given.",
    properties: &[
        ex(req("files", Any, "The files' storage:// URIs: a list, or that list as JSON text."), "[\"{{ outputs.a.uri }}\", \"{{ outputs.b.uri }}\"]"),
        prop("separator", String, "Written after each file; nothing when unset."),
        def("extension", String, "\".tmp\"", "The new file's extension."),
    ],
    outputs: &[("uri", "The storage:// URI of the joined file.")],
    run: runner!(run::Concat),
    check: None,
};

pub const DELETE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Delete",
    alias: "storage.Delete",
    category: Category::Task,
    doc: "Deletes a file of internal storage.",
    properties: &[
        ex(req("uri", String, "The file's storage:// URI."), "{{ outputs.download.uri }}"),
        def("errorOnMissing", Boolean, "false", "Fail when there is no such file."),
    ],
    outputs: &[("uri", "The file's URI."), ("deleted", "Whether a file was deleted.")],
    run: runner!(run::Delete),
    check: None,
};

pub const REVERSE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Reverse",
    alias: "storage.Reverse",
    category: Category::Task,
    doc: "Writes a file's lines in reverse order to a new file, each followed by the separator.",
    properties: &[
        ex(req("from", String, "The file's storage:// URI."), "{{ outputs.download.uri }}"),
        def("separator", String, "\"\\n\"", "What ends each line in the new file."),
        def("charset", String, "\"UTF-8\"", "The file's character set; Mortar reads UTF-8."),
    ],
    outputs: &[("uri", "The storage:// URI of the new file.")],
    run: runner!(run::Reverse),
    check: None,
};

pub const SPLIT: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Split",
    alias: "storage.Split",
    category: Category::Task,
    doc: "Splits a file of internal storage into several at line ends: so many rows each, so many files, or about so many bytes each (give one).",
    properties: &[
        ex(req("from", String, "The file's storage:// URI."), "{{ outputs.download.uri }}"),
        prop("rows", Integer, "Lines per file."),
        prop("partitions", Integer, "How many files, the lines dealt to them in turn."),
        ex(prop("bytes", String, "About how many bytes per file, such as 10MB (B, KB, MB, GB)."), "10MB"),
        def("separator", String, "\"\\n\"", "What ends a line."),
        def("charset", String, "\"UTF-8\"", "The file's character set; Mortar reads UTF-8."),
    ],
    outputs: &[("uris", "The storage:// URIs of the parts, in order.")],
    run: runner!(run::Split),
    check: None,
};

pub const PURGE_CURRENT_EXECUTION_FILES: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    alias: "storage.PurgeCurrentExecutionFiles",
    category: Category::Task,
    doc: "Deletes every file of this execution in internal storage (inputs, outputs, downloads).",
    properties: &[],
    outputs: &[("uris", "The storage:// URIs of the files deleted.")],
    run: runner!(run::PurgeCurrentExecutionFiles),
    check: None,
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::{Value, json};
    use tokio::io::AsyncReadExt;

    use crate::storage::Storage;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// The largest file Reverse reads into memory.
    const REVERSE_LIMIT: u64 = 256 * 1024 * 1024;

    /// A new file of this task run, named `<task>-<task run><extension>`.
    fn new_uri(ctx: &TaskContext, extension: Option<&str>) -> String {
        let extension = match extension.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) if e.starts_with('.') => e.to_owned(),
            Some(e) => format!(".{e}"),
            None => ".tmp".to_owned(),
        };
        Storage::execution_uri(&ctx.namespace, &ctx.flow_id, &ctx.execution_id, &format!("{}-{}{extension}", ctx.task_id, ctx.task_run_id))
    }

    fn uri_output(uri: &str) -> Outputs {
        let mut outputs = Outputs::new();
        outputs.insert("uri".into(), json!(uri));
        outputs
    }

    pub(super) struct Write;

    #[derive(Deserialize)]
    struct WriteProps {
        content: Value,
        #[serde(default)]
        extension: Option<String>,
    }

    impl Runner for Write {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: WriteProps = ctx.properties()?;
                let content = match props.content {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                let uri = new_uri(ctx, props.extension.as_deref());
                let size = ctx.storage.write(&uri, content.as_bytes()).await?;
                ctx.info(format!("wrote {size} bytes to {uri}")).await;
                Ok(uri_output(&uri))
            })
        }
    }

    pub(super) struct Size;

    #[derive(Deserialize)]
    struct UriProps {
        uri: String,
        #[serde(default, rename = "errorOnMissing")]
        error_on_missing: Option<bool>,
    }

    impl Runner for Size {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let uri = ctx.prop("uri")?.as_str().ok_or_else(|| ctx.invalid("uri is a storage:// URI"))?.to_owned();
                let (_, size) = ctx.storage.open(&uri).await?;
                let mut outputs = Outputs::new();
                outputs.insert("size".into(), json!(size));
                Ok(outputs)
            })
        }
    }

    pub(super) struct Delete;

    impl Runner for Delete {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: UriProps = ctx.properties()?;
                let deleted = ctx.storage.delete(&props.uri).await?;
                if !deleted && props.error_on_missing.unwrap_or(false) {
                    return Err(TaskError::Failed(format!("Unable to find file '{}'", props.uri)));
                }
                let mut outputs = uri_output(&props.uri);
                outputs.insert("deleted".into(), json!(deleted));
                Ok(outputs)
            })
        }
    }

    pub(super) struct Concat;

    #[derive(Deserialize)]
    struct ConcatProps {
        files: Value,
        #[serde(default)]
        separator: Option<String>,
        #[serde(default)]
        extension: Option<String>,
    }

    impl Runner for Concat {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: ConcatProps = ctx.properties()?;
                let files: Vec<String> = match &props.files {
                    Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<_>>(),
                    Value::String(text) => serde_json::from_str(text).ok(),
                    _ => None,
                }
                .ok_or_else(|| ctx.invalid("files is a list of storage:// URIs, or that list as JSON text"))?;
                // Each file streams in after the other, then the separator.
                let mut readers: Vec<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = Vec::new();
                for uri in &files {
                    let (file, _) = ctx.storage.open(uri).await?;
                    readers.push(Box::new(file));
                    if let Some(separator) = &props.separator {
                        readers.push(Box::new(std::io::Cursor::new(separator.clone().into_bytes())));
                    }
                }
                let joined = readers.into_iter().fold(Box::new(tokio::io::empty()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, |all, next| Box::new(all.chain(next)));
                let uri = new_uri(ctx, Some(props.extension.as_deref().unwrap_or(".tmp")));
                let size = ctx.storage.write(&uri, joined).await?;
                ctx.info(format!("joined {} files, {size} bytes, into {uri}", files.len())).await;
                Ok(uri_output(&uri))
            })
        }
    }

    pub(super) struct Reverse;

    #[derive(Deserialize)]
    struct ReverseProps {
        from: String,
        #[serde(default)]
        separator: Option<String>,
        #[serde(default)]
        charset: Option<String>,
    }

    impl Runner for Reverse {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: ReverseProps = ctx.properties()?;
                if let Some(charset) = props.charset.as_deref().filter(|c| !c.eq_ignore_ascii_case("UTF-8") && !c.eq_ignore_ascii_case("UTF8")) {
                    return Err(ctx.invalid(format!("charset {charset:?}: Mortar reads UTF-8 files only")));
                }
                let (file, size) = ctx.storage.open(&props.from).await?;
                if size > REVERSE_LIMIT {
                    return Err(TaskError::Failed(format!("{} is {size} bytes: Reverse reads files up to {REVERSE_LIMIT} bytes", props.from)));
                }
                let mut text = String::new();
                file.take(REVERSE_LIMIT).read_to_string(&mut text).await.map_err(|e| TaskError::Failed(format!("{} is not UTF-8 text: {e}", props.from)))?;
                let separator = props.separator.unwrap_or_else(|| "\n".into());
                // Lines as Java's reader sees them: \n, \r\n or \r end one, and a last empty one is none.
                let mut reversed = String::with_capacity(text.len() + separator.len());
                for line in text.lines().rev() {
                    reversed.push_str(line.strip_suffix('\r').unwrap_or(line));
                    reversed.push_str(&separator);
                }
                let extension = props.from.rsplit('/').next().and_then(|name| name.rfind('.').map(|i| name[i..].to_owned()));
                let uri = new_uri(ctx, extension.as_deref());
                ctx.storage.write(&uri, reversed.as_bytes()).await?;
                Ok(uri_output(&uri))
            })
        }
    }


    /// The most a part list may hold, and the largest file Split reads.
    const SPLIT_LIMIT: u64 = 1024 * 1024 * 1024;

    pub(super) struct Split;

    #[derive(Deserialize)]
    struct SplitProps {
        from: String,
        #[serde(default)]
        rows: Option<u64>,
        #[serde(default)]
        partitions: Option<u64>,
        #[serde(default)]
        bytes: Option<Value>,
        #[serde(default)]
        separator: Option<String>,
        #[serde(default)]
        charset: Option<String>,
    }

    /// `10MB`, `512KB`, `1GB`, `100` (bytes).
    fn data_size(text: &str) -> Option<u64> {
        let text = text.trim().to_ascii_uppercase();
        let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
        let number: u64 = digits.parse().ok()?;
        let factor = match text[digits.len()..].trim() {
            "" | "B" => 1,
            "KB" => 1024,
            "MB" => 1024 * 1024,
            "GB" => 1024 * 1024 * 1024,
            _ => return None,
        };
        number.checked_mul(factor)
    }

    impl Runner for Split {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: SplitProps = ctx.properties()?;
                if let Some(charset) = props.charset.as_deref().filter(|c| !c.eq_ignore_ascii_case("UTF-8") && !c.eq_ignore_ascii_case("UTF8")) {
                    return Err(ctx.invalid(format!("charset {charset:?}: Mortar reads UTF-8 files only")));
                }
                let bytes = match &props.bytes {
                    None | Some(Value::Null) => None,
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => Some(data_size(s).ok_or_else(|| ctx.invalid(format!("bytes {s:?} is not a size such as 10MB")))?),
                    Some(other) => return Err(ctx.invalid(format!("bytes {other} is not a size such as 10MB"))),
                };
                let how = [props.rows.is_some(), props.partitions.is_some(), bytes.is_some()].iter().filter(|b| **b).count();
                if how != 1 {
                    return Err(ctx.invalid("give one of rows, partitions or bytes"));
                }
                if props.rows == Some(0) || props.partitions == Some(0) || bytes == Some(0) {
                    return Err(ctx.invalid("rows, partitions and bytes are at least 1"));
                }
                let (file, size) = ctx.storage.open(&props.from).await?;
                if size > SPLIT_LIMIT {
                    return Err(TaskError::Failed(format!("{} is {size} bytes: Split reads files up to {SPLIT_LIMIT} bytes", props.from)));
                }
                let mut text = String::new();
                file.take(SPLIT_LIMIT).read_to_string(&mut text).await.map_err(|e| TaskError::Failed(format!("{} is not UTF-8 text: {e}", props.from)))?;
                let separator = props.separator.unwrap_or_else(|| "\n".into());
                let lines: Vec<&str> = text.split(separator.as_str()).collect();
                // A separator at the very end makes no empty last line.
                let lines = if lines.last() == Some(&"") { &lines[..lines.len() - 1] } else { &lines[..] };
                let mut parts: Vec<String> = Vec::new();
                match (props.rows, props.partitions, bytes) {
                    (Some(rows), _, _) => {
                        for chunk in lines.chunks(usize::try_from(rows).unwrap_or(usize::MAX)) {
                            parts.push(chunk.iter().map(|l| format!("{l}{separator}")).collect());
                        }
                    }
                    (_, Some(partitions), _) => {
                        let n = usize::try_from(partitions).unwrap_or(1).min(lines.len().max(1));
                        parts = vec![String::new(); n];
                        for (i, line) in lines.iter().enumerate() {
                            parts[i % n].push_str(line);
                            parts[i % n].push_str(&separator);
                        }
                    }
                    (_, _, Some(limit)) => {
                        let mut current = String::new();
                        for line in lines {
                            if !current.is_empty() && (current.len() + line.len() + separator.len()) as u64 > limit {
                                parts.push(std::mem::take(&mut current));
                            }
                            current.push_str(line);
                            current.push_str(&separator);
                        }
                        if !current.is_empty() {
                            parts.push(current);
                        }
                    }
                    _ => unreachable!("one of them is set, checked above"),
                }
                let extension = props.from.rsplit('/').next().and_then(|name| name.rfind('.').map(|i| name[i..].to_owned()));
                let mut uris = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let uri = Storage::execution_uri(&ctx.namespace, &ctx.flow_id, &ctx.execution_id, &format!("{}-{}-{i}{}", ctx.task_id, ctx.task_run_id, extension.as_deref().unwrap_or(".tmp")));
                    ctx.storage.write(&uri, part.as_bytes()).await?;
                    uris.push(Value::String(uri));
                }
                ctx.info(format!("split {} lines into {} files", lines.len(), uris.len())).await;
                let mut outputs = Outputs::new();
                outputs.insert("uris".into(), Value::Array(uris));
                Ok(outputs)
            })
        }
    }

    pub(super) struct PurgeCurrentExecutionFiles;

    impl Runner for PurgeCurrentExecutionFiles {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let uris = ctx.storage.purge_execution(&ctx.namespace, &ctx.flow_id, &ctx.execution_id).await?;
                ctx.info(format!("deleted {} files of this execution", uris.len())).await;
                let mut outputs = Outputs::new();
                outputs.insert("uris".into(), Value::Array(uris.into_iter().map(Value::String).collect()));
                Ok(outputs)
            })
        }
    }
}
