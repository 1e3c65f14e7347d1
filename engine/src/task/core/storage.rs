//! Kestra's `io.kestra.plugin.core.storage` package: files of internal
//! storage written, measured, joined, reversed and deleted. A task reaches
//! its own namespace's files only; each file it makes is named after the
//! task run, so the runs of a ForEach do not overwrite each other.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, per_item, prop, req, runner};

pub const WRITE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Write",
    alias: "storage.Write",
    category: Category::Task,
    doc: "Writes rendered text to a file of internal storage.",
    properties: &[
        ex(
            req(
                "content",
                String,
                "The file's content; expressions are rendered.",
            ),
            "{{ outputs.api.body }}",
        ),
        ex(
            prop("extension", String, "The file's extension, such as .json."),
            ".json",
        ),
    ],
    outputs: &[("uri", "The storage:// URI of the file.")],
    run: runner!(run::Write),
    check: None,
    aliases: &[],
};

pub const SIZE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Size",
    alias: "storage.Size",
    category: Category::Task,
    doc: "Gives the size of a file of internal storage.",
    properties: &[ex(
        req("uri", String, "The file's storage:// URI."),
        "{{ outputs.download.uri }}",
    )],
    outputs: &[("size", "The file's size in bytes.")],
    run: runner!(run::Size),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.Size"],
};

pub const CONCAT: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Concat",
    alias: "storage.Concat",
    category: Category::Task,
    doc: "Joins files of internal storage into one, in order, with a separator after each if given.",
    properties: &[
        ex(
            req(
                "files",
                Any,
                "The files' storage:// URIs: a list, or that list as JSON text.",
            ),
            "[\"{{ outputs.a.uri }}\", \"{{ outputs.b.uri }}\"]",
        ),
        prop(
            "separator",
            String,
            "Written after each file; nothing when unset.",
        ),
        def("extension", String, "\".tmp\"", "The new file's extension."),
    ],
    outputs: &[("uri", "The storage:// URI of the joined file.")],
    run: runner!(run::Concat),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.Concat"],
};

pub const DELETE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Delete",
    alias: "storage.Delete",
    category: Category::Task,
    doc: "Deletes a file of internal storage.",
    properties: &[
        ex(
            req("uri", String, "The file's storage:// URI."),
            "{{ outputs.download.uri }}",
        ),
        def(
            "errorOnMissing",
            Boolean,
            "false",
            "Fail when there is no such file.",
        ),
    ],
    outputs: &[
        ("uri", "The file's URI."),
        ("deleted", "Whether a file was deleted."),
    ],
    run: runner!(run::Delete),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.Delete"],
};

pub const REVERSE: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Reverse",
    alias: "storage.Reverse",
    category: Category::Task,
    doc: "Writes a file's lines in reverse order to a new file, each followed by the separator.",
    properties: &[
        ex(
            req("from", String, "The file's storage:// URI."),
            "{{ outputs.download.uri }}",
        ),
        def(
            "separator",
            String,
            "\"\\n\"",
            "What ends each line in the new file.",
        ),
        def(
            "charset",
            String,
            "\"UTF-8\"",
            "The file's character set; Mortar reads UTF-8.",
        ),
    ],
    outputs: &[("uri", "The storage:// URI of the new file.")],
    run: runner!(run::Reverse),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.Reverse"],
};

pub const SPLIT: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.Split",
    alias: "storage.Split",
    category: Category::Task,
    doc: "Splits a file of internal storage into several at line ends: so many rows each, so many files, or about so many bytes each (give one).",
    properties: &[
        ex(
            req("from", String, "The file's storage:// URI."),
            "{{ outputs.download.uri }}",
        ),
        prop("rows", Integer, "Lines per file."),
        prop(
            "partitions",
            Integer,
            "How many files, the lines dealt to them in turn.",
        ),
        ex(
            prop(
                "bytes",
                String,
                "About how many bytes per file, such as 10MB (B, KB, MB, GB).",
            ),
            "10MB",
        ),
        def("separator", String, "\"\\n\"", "What ends a line."),
        def(
            "charset",
            String,
            "\"UTF-8\"",
            "The file's character set; Mortar reads UTF-8.",
        ),
    ],
    outputs: &[("uris", "The storage:// URIs of the parts, in order.")],
    run: runner!(run::Split),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.Split"],
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
    aliases: &[
        "io.kestra.core.tasks.storages.PurgeExecution",
        "io.kestra.plugin.core.storage.PurgeExecution",
    ],
};

pub const DEDUPLICATE_ITEMS: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.DeduplicateItems",
    alias: "storage.DeduplicateItems",
    category: Category::Task,
    doc: "Keeps, of the items of an Ion file (one per line) that share a key, the last one, in the order of the file.",
    properties: &[
        ex(
            req("from", String, "The Ion file's storage:// URI."),
            "{{ outputs.extract.uri }}",
        ),
        ex(
            per_item(
                req(
                    "expr",
                    String,
                    "The key of an item: an expression over its fields, rendered for each item.",
                ),
                &["*"],
            ),
            "{{ id }}-{{ region }}",
        ),
    ],
    outputs: &[
        ("uri", "The storage:// URI of the new Ion file."),
        ("numKeys", "How many distinct keys were seen."),
        ("processedItemsTotal", "How many items were read."),
        ("droppedItemsTotal", "How many items were dropped."),
    ],
    run: runner!(run::DeduplicateItems),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.DeduplicateItems"],
};

pub const FILTER_ITEMS: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.FilterItems",
    alias: "storage.FilterItems",
    category: Category::Task,
    doc: "Keeps (INCLUDE) or drops (EXCLUDE) the items of an Ion file (one per line) for which filterCondition, rendered over the item's fields, is true.",
    properties: &[
        ex(
            req("from", String, "The Ion file's storage:// URI."),
            "{{ outputs.extract.uri }}",
        ),
        ex(
            per_item(
                req(
                    "filterCondition",
                    String,
                    "An expression over an item's fields; true unless it renders false, 0, -0 or empty.",
                ),
                &["*"],
            ),
            "{{ amount > 100 }}",
        ),
        def(
            "filterType",
            Enum {
                values: &["INCLUDE", "EXCLUDE"],
            },
            "\"INCLUDE\"",
            "What to do with the items the condition matches.",
        ),
        def(
            "errorOrNullBehavior",
            Enum {
                values: &["FAIL", "INCLUDE", "EXCLUDE"],
            },
            "\"FAIL\"",
            "What to do with an item the condition cannot be rendered for, or renders null for.",
        ),
    ],
    outputs: &[
        ("uri", "The storage:// URI of the new Ion file."),
        ("processedItemsTotal", "How many items were read."),
        ("droppedItemsTotal", "How many items were dropped."),
    ],
    run: runner!(run::FilterItems),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.FilterItems"],
};

pub const LOCAL_FILES: TaskType = TaskType {
    name: "io.kestra.plugin.core.storage.LocalFiles",
    alias: "storage.LocalFiles",
    category: Category::Task,
    doc: "Writes files into the task's directory (the enclosing WorkingDirectory's, which later tasks share) and sends files from it to internal storage. Kestra deprecates it for WorkingDirectory's inputFiles and outputFiles.",
    properties: &[
        ex(
            prop(
                "inputs",
                Any,
                "Files to create: a map of relative path to content (text, or an internal storage URI whose file is copied), or that map as JSON.",
            ),
            "{ \"query.sql\": \"SELECT 1\" }",
        ),
        ex(
            prop(
                "outputs",
                StringList,
                "Glob patterns, relative to the directory, of the files to send to internal storage.",
            ),
            "[\"*.csv\"]",
        ),
    ],
    outputs: &[(
        "uris",
        "The storage:// URI of each file sent, by its path in the directory.",
    )],
    run: runner!(run::LocalFiles),
    check: None,
    aliases: &["io.kestra.core.tasks.storages.LocalFiles"],
};

#[cfg(feature = "runtime")]
pub(crate) use run::{Cut, split_file};

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
        Storage::execution_uri(
            &ctx.namespace,
            &ctx.flow_id,
            &ctx.execution_id,
            &format!("{}-{}{extension}", ctx.task_id, ctx.task_run_id),
        )
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
                let uri = ctx
                    .prop("uri")?
                    .as_str()
                    .ok_or_else(|| ctx.invalid("uri is a storage:// URI"))?
                    .to_owned();
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
                    return Err(TaskError::Failed(format!(
                        "Unable to find file '{}'",
                        props.uri
                    )));
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
                    Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<_>>(),
                    Value::String(text) => serde_json::from_str(text).ok(),
                    _ => None,
                }
                .ok_or_else(|| {
                    ctx.invalid("files is a list of storage:// URIs, or that list as JSON text")
                })?;
                // Each file streams in after the other, then the separator.
                let mut readers: Vec<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = Vec::new();
                for uri in &files {
                    let (file, _) = ctx.storage.open(uri).await?;
                    readers.push(Box::new(file));
                    if let Some(separator) = &props.separator {
                        readers.push(Box::new(std::io::Cursor::new(
                            separator.clone().into_bytes(),
                        )));
                    }
                }
                let joined = readers.into_iter().fold(
                    Box::new(tokio::io::empty()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    |all, next| Box::new(all.chain(next)),
                );
                let uri = new_uri(ctx, Some(props.extension.as_deref().unwrap_or(".tmp")));
                let size = ctx.storage.write(&uri, joined).await?;
                ctx.info(format!(
                    "joined {} files, {size} bytes, into {uri}",
                    files.len()
                ))
                .await;
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
                if let Some(charset) = props
                    .charset
                    .as_deref()
                    .filter(|c| !c.eq_ignore_ascii_case("UTF-8") && !c.eq_ignore_ascii_case("UTF8"))
                {
                    return Err(ctx.invalid(format!(
                        "charset {charset:?}: Mortar reads UTF-8 files only"
                    )));
                }
                let (file, size) = ctx.storage.open(&props.from).await?;
                if size > REVERSE_LIMIT {
                    return Err(TaskError::Failed(format!(
                        "{} is {size} bytes: Reverse reads files up to {REVERSE_LIMIT} bytes",
                        props.from
                    )));
                }
                let mut text = String::new();
                file.take(REVERSE_LIMIT)
                    .read_to_string(&mut text)
                    .await
                    .map_err(|e| {
                        TaskError::Failed(format!("{} is not UTF-8 text: {e}", props.from))
                    })?;
                let separator = props.separator.unwrap_or_else(|| "\n".into());
                // Lines as Java's reader sees them: \n, \r\n or \r end one, and a last empty one is none.
                let mut reversed = String::with_capacity(text.len() + separator.len());
                for line in text.lines().rev() {
                    reversed.push_str(line.strip_suffix('\r').unwrap_or(line));
                    reversed.push_str(&separator);
                }
                let extension = props
                    .from
                    .rsplit('/')
                    .next()
                    .and_then(|name| name.rfind('.').map(|i| name[i..].to_owned()));
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

    /// How to cut a file: so many rows each, so many files (lines dealt in
    /// turn), or about so many bytes each; one of them.
    pub(crate) struct Cut {
        pub(crate) rows: Option<u64>,
        pub(crate) partitions: Option<u64>,
        pub(crate) bytes: Option<Value>,
        pub(crate) separator: Option<String>,
    }

    /// Cuts a file of internal storage at line ends into files of this
    /// task run (`<task>-<task run>-<n><extension>`); returns their URIs.
    pub(crate) async fn split_file(
        ctx: &TaskContext,
        from: &str,
        cut: Cut,
    ) -> Result<Vec<String>, TaskError> {
        let bytes =
            match &cut.bytes {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => Some(data_size(s).ok_or_else(|| {
                    ctx.invalid(format!("bytes {s:?} is not a size such as 10MB"))
                })?),
                Some(other) => {
                    return Err(ctx.invalid(format!("bytes {other} is not a size such as 10MB")));
                }
            };
        let how = [
            cut.rows.is_some(),
            cut.partitions.is_some(),
            bytes.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if how != 1 {
            return Err(ctx.invalid("give one of rows, partitions or bytes"));
        }
        if cut.rows == Some(0) || cut.partitions == Some(0) || bytes == Some(0) {
            return Err(ctx.invalid("rows, partitions and bytes are at least 1"));
        }
        let (file, size) = ctx.storage.open(from).await?;
        if size > SPLIT_LIMIT {
            return Err(TaskError::Failed(format!(
                "{from} is {size} bytes: files are split up to {SPLIT_LIMIT} bytes"
            )));
        }
        let mut text = String::new();
        file.take(SPLIT_LIMIT)
            .read_to_string(&mut text)
            .await
            .map_err(|e| TaskError::Failed(format!("{from} is not UTF-8 text: {e}")))?;
        let separator = cut.separator.unwrap_or_else(|| "\n".into());
        let lines: Vec<&str> = text.split(separator.as_str()).collect();
        // A separator at the very end makes no empty last line.
        let lines = if lines.last() == Some(&"") {
            &lines[..lines.len() - 1]
        } else {
            &lines[..]
        };
        let mut parts: Vec<String> = Vec::new();
        match (cut.rows, cut.partitions, bytes) {
            (Some(rows), _, _) => {
                for chunk in lines.chunks(usize::try_from(rows).unwrap_or(usize::MAX)) {
                    parts.push(chunk.iter().map(|l| format!("{l}{separator}")).collect());
                }
            }
            (_, Some(partitions), _) => {
                let n = usize::try_from(partitions)
                    .unwrap_or(1)
                    .min(lines.len().max(1));
                parts = vec![String::new(); n];
                for (i, line) in lines.iter().enumerate() {
                    parts[i % n].push_str(line);
                    parts[i % n].push_str(&separator);
                }
            }
            (_, _, Some(limit)) => {
                let mut current = String::new();
                for line in lines {
                    if !current.is_empty()
                        && (current.len() + line.len() + separator.len()) as u64 > limit
                    {
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
        let extension = from
            .rsplit('/')
            .next()
            .and_then(|name| name.rfind('.').map(|i| name[i..].to_owned()));
        let mut uris = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let uri = Storage::execution_uri(
                &ctx.namespace,
                &ctx.flow_id,
                &ctx.execution_id,
                &format!(
                    "{}-{}-{i}{}",
                    ctx.task_id,
                    ctx.task_run_id,
                    extension.as_deref().unwrap_or(".tmp")
                ),
            );
            ctx.storage.write(&uri, part.as_bytes()).await?;
            uris.push(uri);
        }
        ctx.info(format!(
            "split {} lines into {} files",
            lines.len(),
            uris.len()
        ))
        .await;
        Ok(uris)
    }

    impl Runner for Split {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: SplitProps = ctx.properties()?;
                if let Some(charset) = props
                    .charset
                    .as_deref()
                    .filter(|c| !c.eq_ignore_ascii_case("UTF-8") && !c.eq_ignore_ascii_case("UTF8"))
                {
                    return Err(ctx.invalid(format!(
                        "charset {charset:?}: Mortar reads UTF-8 files only"
                    )));
                }
                let cut = Cut {
                    rows: props.rows,
                    partitions: props.partitions,
                    bytes: props.bytes,
                    separator: props.separator,
                };
                let uris = split_file(ctx, &props.from, cut).await?;
                let mut outputs = Outputs::new();
                outputs.insert(
                    "uris".into(),
                    Value::Array(uris.into_iter().map(Value::String).collect()),
                );
                Ok(outputs)
            })
        }
    }

    pub(super) struct PurgeCurrentExecutionFiles;

    impl Runner for PurgeCurrentExecutionFiles {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let uris = ctx
                    .storage
                    .purge_execution(&ctx.namespace, &ctx.flow_id, &ctx.execution_id)
                    .await?;
                ctx.info(format!("deleted {} files of this execution", uris.len()))
                    .await;
                let mut outputs = Outputs::new();
                outputs.insert(
                    "uris".into(),
                    Value::Array(uris.into_iter().map(Value::String).collect()),
                );
                Ok(outputs)
            })
        }
    }

    /// The items of an Ion file, one per line, each as the variables its
    /// expression is rendered with; `each` is given the line and the item.
    async fn each_item(
        ctx: &TaskContext,
        from: &str,
        mut each: impl FnMut(&str, Value) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        use tokio::io::AsyncBufReadExt;
        let (file, _) = ctx.storage.open(from).await?;
        let mut lines = tokio::io::BufReader::new(file).lines();
        let mut number = 0u64;
        while let Some(line) = lines
            .next_line()
            .await
            .map_err(|e| TaskError::Failed(format!("{from}: {e}")))?
        {
            number += 1;
            if line.trim().is_empty() {
                continue;
            }
            let item = crate::flow::pebble::convert::from_ion(&Value::String(line.clone()))
                .map_err(|e| {
                    TaskError::Failed(format!("{from}, line {number}: not an Ion value: {e}"))
                })?;
            if !item.is_object() {
                return Err(TaskError::Failed(format!(
                    "{from}, line {number}: an item must be an Ion struct, not {item}"
                )));
            }
            each(&line, item)?;
        }
        Ok(())
    }

    /// Writes the lines `keep` gives into a new `.ion` file of this task run.
    async fn write_lines(ctx: &TaskContext, lines: Vec<String>) -> Result<String, TaskError> {
        let uri = new_uri(ctx, Some(".ion"));
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        ctx.storage.write(&uri, text.as_bytes()).await?;
        Ok(uri)
    }

    fn rendered_text(value: Value) -> Option<String> {
        match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    pub(super) struct DeduplicateItems;

    #[derive(Deserialize)]
    struct DeduplicateProps {
        from: String,
    }

    impl Runner for DeduplicateItems {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: DeduplicateProps = ctx.properties()?;
                // First pass: each key's last place; second: keep the items
                // at those places, in the file's order (as Kestra does).
                let mut last: std::collections::HashMap<String, u64> =
                    std::collections::HashMap::new();
                let mut offset = 0u64;
                each_item(ctx, &props.from, |_, item| {
                    let key = rendered_text(ctx.render_item("expr", &item)?).unwrap_or_default();
                    last.insert(key, offset);
                    offset += 1;
                    Ok(())
                })
                .await?;
                let mut kept = Vec::new();
                let (mut offset, mut dropped) = (0u64, 0u64);
                each_item(ctx, &props.from, |line, item| {
                    let key = rendered_text(ctx.render_item("expr", &item)?).unwrap_or_default();
                    if last.get(&key) == Some(&offset) {
                        kept.push(line.to_owned());
                    } else {
                        dropped += 1;
                    }
                    offset += 1;
                    Ok(())
                })
                .await?;
                let uri = write_lines(ctx, kept).await?;
                let mut outputs = uri_output(&uri);
                outputs.insert("numKeys".into(), json!(last.len()));
                outputs.insert("processedItemsTotal".into(), json!(offset));
                outputs.insert("droppedItemsTotal".into(), json!(dropped));
                Ok(outputs)
            })
        }
    }

    pub(super) struct FilterItems;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FilterProps {
        from: String,
        #[serde(default)]
        filter_type: Option<String>,
        #[serde(default)]
        error_or_null_behavior: Option<String>,
    }

    /// Kestra's TruthUtils on rendered text.
    fn truthy(text: &str) -> bool {
        !matches!(text.trim(), "false" | "0" | "-0" | "")
    }

    impl Runner for FilterItems {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: FilterProps = ctx.properties()?;
                let include = match props
                    .filter_type
                    .as_deref()
                    .map(str::to_ascii_uppercase)
                    .as_deref()
                {
                    None | Some("INCLUDE") => true,
                    Some("EXCLUDE") => false,
                    Some(other) => {
                        return Err(
                            ctx.invalid(format!("filterType: {other:?} is not INCLUDE or EXCLUDE"))
                        );
                    }
                };
                let on_null = match props
                    .error_or_null_behavior
                    .as_deref()
                    .map(str::to_ascii_uppercase)
                    .as_deref()
                {
                    None | Some("FAIL") => None,
                    Some("INCLUDE") => Some(true),
                    Some("EXCLUDE") => Some(false),
                    Some(other) => {
                        return Err(ctx.invalid(format!(
                            "errorOrNullBehavior: {other:?} is not FAIL, INCLUDE or EXCLUDE"
                        )));
                    }
                };
                let condition = ctx
                    .source
                    .get("filterCondition")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let mut kept = Vec::new();
                let (mut processed, mut dropped) = (0u64, 0u64);
                each_item(ctx, &props.from, |line, item| {
                    processed += 1;
                    let keep = match ctx.render_item("filterCondition", &item).map(rendered_text) {
                        Ok(Some(text)) => truthy(&text) == include,
                        failed => match on_null {
                            Some(keep) => keep,
                            None => {
                                return Err(match failed {
                                    Err(error) => error,
                                    _ => TaskError::Failed(ctx.mask(&format!("Expression `{condition}` return `null` on item `{line}`"))),
                                });
                            }
                        },
                    };
                    if keep {
                        kept.push(line.to_owned());
                    } else {
                        dropped += 1;
                    }
                    Ok(())
                })
                .await?;
                let uri = write_lines(ctx, kept).await?;
                let mut outputs = uri_output(&uri);
                outputs.insert("processedItemsTotal".into(), json!(processed));
                outputs.insert("droppedItemsTotal".into(), json!(dropped));
                Ok(outputs)
            })
        }
    }

    pub(super) struct LocalFiles;

    #[derive(Deserialize)]
    struct LocalFilesProps {
        #[serde(default)]
        inputs: Value,
        #[serde(default)]
        outputs: Value,
    }

    impl Runner for LocalFiles {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: LocalFilesProps = ctx.properties()?;
                // The enclosing WorkingDirectory's directory, kept for the
                // tasks after; alone, a directory of its own.
                let dir = match &ctx.working_dir {
                    Some(path) => crate::executor::WorkingDir::existing(path.clone()),
                    None => crate::executor::WorkingDir::create(&ctx.task_run_id)
                        .await
                        .map_err(TaskError::Failed)?,
                };
                let inputs = match props.inputs {
                    Value::Object(files) => Value::Object(files),
                    other => other,
                };
                dir.write_inputs(&inputs, &ctx.storage)
                    .await
                    .map_err(|e| ctx.invalid(e.replacen("inputFiles", "inputs", 1)))?;
                let prefix = format!("{}_", ctx.task_run_id);
                let uri_of = |relative: &str| {
                    Storage::execution_uri(
                        &ctx.namespace,
                        &ctx.flow_id,
                        &ctx.execution_id,
                        &format!("{prefix}{relative}"),
                    )
                };
                let kept = dir
                    .keep_outputs(&props.outputs, &ctx.storage, uri_of)
                    .await
                    .map_err(|e| ctx.invalid(e.replacen("outputFiles", "outputs", 1)))?;
                let mut outputs = Outputs::new();
                outputs.insert("uris".into(), Value::Object(kept));
                Ok(outputs)
            })
        }
    }
}
