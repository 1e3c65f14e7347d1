//! Kestra's `io.kestra.plugin.core.namespace` package: namespace files
//! uploaded from a task's directory or from internal storage, downloaded
//! into the execution's storage, and deleted (`crate::namespace_files`).

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};

pub const UPLOAD_FILES: TaskType = TaskType {
    name: "io.kestra.plugin.core.namespace.UploadFiles",
    alias: "namespace.UploadFiles",
    category: Category::Task,
    doc: "Writes namespace files: the files of the enclosing WorkingDirectory that `files` matches, and the internal storage files `filesMap` names, under `destination`.",
    properties: &[
        ex(
            req("namespace", String, "The namespace to write to."),
            "{{ flow.namespace }}",
        ),
        ex(
            prop(
                "files",
                StringList,
                "Glob patterns of files of the task's directory (in a WorkingDirectory) to upload, by their path there.",
            ),
            "[\"**.sql\"]",
        ),
        ex(
            prop(
                "filesMap",
                Any,
                "A map of namespace file path to internal storage URI (or that map as JSON), such as a download task's output.",
            ),
            "{ \"data/orders.csv\": \"{{ outputs.download.uri }}\" }",
        ),
        def(
            "destination",
            String,
            "\"/\"",
            "The folder of the namespace to write under.",
        ),
        def(
            "conflict",
            Enum {
                values: &["OVERWRITE", "ERROR", "SKIP"],
            },
            "\"OVERWRITE\"",
            "What to do with a file that exists.",
        ),
    ],
    outputs: &[(
        "files",
        "The path of each file written, by where it came from.",
    )],
    run: runner!(run::UploadFiles),
    check: None,
    aliases: &[],
};

pub const DOWNLOAD_FILES: TaskType = TaskType {
    name: "io.kestra.plugin.core.namespace.DownloadFiles",
    alias: "namespace.DownloadFiles",
    category: Category::Task,
    doc: "Copies the namespace files that `files` matches into the execution's internal storage.",
    properties: &[
        ex(
            req("namespace", String, "The namespace to read from."),
            "{{ flow.namespace }}",
        ),
        ex(
            req(
                "files",
                Any,
                "A glob pattern or a list of them, over paths such as `/sql/q.sql`.",
            ),
            "[\"/sql/**\"]",
        ),
        def(
            "destination",
            String,
            "\"\"",
            "A prefix for the names of the copies.",
        ),
    ],
    outputs: &[(
        "files",
        "Each copy's storage:// URI, by the namespace file's path (`/sql/q.sql`).",
    )],
    run: runner!(run::DownloadFiles),
    check: None,
    aliases: &[],
};

pub const DELETE_FILES: TaskType = TaskType {
    name: "io.kestra.plugin.core.namespace.DeleteFiles",
    alias: "namespace.DeleteFiles",
    category: Category::Task,
    doc: "Deletes the namespace files that `files` matches (their revisions are kept).",
    properties: &[
        ex(
            req("namespace", String, "The namespace to delete from."),
            "{{ flow.namespace }}",
        ),
        ex(
            req(
                "files",
                Any,
                "A glob pattern or a list of them, over paths such as `/sql/q.sql`.",
            ),
            "[\"/tmp/**\"]",
        ),
        def(
            "deleteParentFolder",
            Boolean,
            "false",
            "Also delete each folder left empty.",
        ),
    ],
    outputs: &[("files", "The paths deleted.")],
    run: runner!(run::DeleteFiles),
    check: None,
    aliases: &[],
};

const VERSION_BEHAVIOR: &[Property] = &[
    def(
        "type",
        Enum {
            values: &["version"],
        },
        "\"version\"",
        "Purge older revisions.",
    ),
    def(
        "keepAmount",
        Integer,
        "1",
        "How many of each file's latest revisions to keep (at least 1: the file itself).",
    ),
    ex(
        prop(
            "before",
            String,
            "Only revisions written before this ISO-8601 date-time.",
        ),
        "{{ now() | dateAdd(-30, 'DAYS') }}",
    ),
];

pub const PURGE_FILES: TaskType = TaskType {
    name: "io.kestra.plugin.core.namespace.PurgeFiles",
    alias: "namespace.PurgeFiles",
    category: Category::Task,
    doc: "Deletes old revisions of namespace files (never a file's latest), of some namespaces or all, and the namespaces under them.",
    properties: &[
        prop(
            "namespaces",
            StringList,
            "The namespaces; all when unset (and no namespacePattern).",
        ),
        ex(
            prop(
                "namespacePattern",
                String,
                "A glob over namespace names, instead of namespaces.",
            ),
            "company.*",
        ),
        def(
            "includeChildNamespaces",
            Boolean,
            "true",
            "Also the namespaces under those named.",
        ),
        ex(
            prop(
                "filePattern",
                String,
                "Only files whose path matches this glob.",
            ),
            "**/*.sql",
        ),
        prop(
            "behavior",
            Object {
                properties: VERSION_BEHAVIOR,
            },
            "What to keep: the latest revision of each file when unset.",
        ),
    ],
    outputs: &[("size", "How many revisions were deleted.")],
    run: runner!(run::PurgeFiles),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::{Map, Value};
    use tokio::io::AsyncReadExt;

    use crate::log::Level;
    use crate::namespace_files::{Conflict, NamespaceFiles};
    use crate::storage::Storage;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// The largest file these tasks move at once (they hold it whole).
    const LIMIT: u64 = 512 * 1024 * 1024;

    /// `files` as Kestra takes it: one pattern or a list of them.
    fn patterns(ctx: &TaskContext, value: &Value) -> Result<Vec<String>, TaskError> {
        match value {
            Value::String(one) => Ok(vec![one.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ctx.invalid("files: a pattern or a list of patterns"))
                })
                .collect(),
            _ => Err(ctx.invalid("files: a pattern or a list of patterns")),
        }
    }

    async fn blocking<T: Send + 'static>(
        work: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> Result<T, TaskError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| TaskError::Failed(e.to_string()))?
            .map_err(TaskError::Failed)
    }

    fn joined(destination: &str, path: &str) -> String {
        format!(
            "{}/{}",
            destination.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    pub(super) struct UploadFiles;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct UploadProps {
        namespace: String,
        #[serde(default)]
        files: Option<Vec<String>>,
        #[serde(default)]
        files_map: Value,
        #[serde(default)]
        destination: Option<String>,
        #[serde(default)]
        conflict: Option<String>,
    }

    impl Runner for UploadFiles {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: UploadProps = ctx.properties()?;
                let target = ctx.namespace_files(&props.namespace)?;
                let conflict = match props.conflict.as_deref() {
                    None => Conflict::Overwrite,
                    Some(name) => Conflict::parse(name).ok_or_else(|| {
                        ctx.invalid(format!(
                            "conflict: {name:?} is not OVERWRITE, ERROR or SKIP"
                        ))
                    })?,
                };
                let destination = props.destination.unwrap_or_else(|| "/".into());
                let files_map = match props.files_map {
                    Value::Null => None,
                    Value::Object(map) => Some(map),
                    Value::String(text) => match serde_json::from_str(&text) {
                        Ok(Value::Object(map)) => Some(map),
                        _ => return Err(ctx.invalid(
                            "filesMap: a map of path to internal storage URI, or that map as JSON",
                        )),
                    },
                    _ => return Err(ctx.invalid("filesMap: a map of path to internal storage URI")),
                };
                if props.files.is_none() && files_map.is_none() {
                    return Err(ctx.invalid("give `files` or `filesMap`: which files to upload"));
                }
                // What to write: (where it came from, its path, its bytes).
                let mut pending: Vec<(String, String, Vec<u8>)> = Vec::new();
                if let Some(files) = &props.files {
                    let Some(dir) = &ctx.working_dir else {
                        return Err(ctx.invalid("files: the task reads its directory's files, so it must be inside a WorkingDirectory (or use filesMap)"));
                    };
                    let set = crate::namespace_files::globs(files)
                        .map_err(|e| ctx.invalid(format!("files: {e}")))?;
                    let found = crate::executor::files_under(dir)
                        .await
                        .map_err(TaskError::Failed)?;
                    for relative in found {
                        let rooted = format!("/{relative}");
                        if set
                            .as_ref()
                            .is_some_and(|s| s.is_match(&rooted) || s.is_match(&relative))
                        {
                            let path = ctx
                                .working_dir
                                .as_ref()
                                .map(|d| d.join(&relative))
                                .unwrap_or_default();
                            let bytes = tokio::fs::read(&path)
                                .await
                                .map_err(|e| TaskError::Failed(format!("{relative}: {e}")))?;
                            pending.push((
                                relative.clone(),
                                joined(&destination, &relative),
                                bytes,
                            ));
                        }
                    }
                }
                for (path, uri) in files_map.unwrap_or_default() {
                    let Some(uri) = uri.as_str() else {
                        return Err(
                            ctx.invalid(format!("filesMap: {path}: a storage:// URI, not {uri}"))
                        );
                    };
                    let (file, size) = ctx.storage.open(uri).await?;
                    if size > LIMIT {
                        return Err(TaskError::Failed(format!(
                            "{uri} is {size} bytes: UploadFiles moves files up to {LIMIT} bytes"
                        )));
                    }
                    let mut bytes = Vec::with_capacity(size as usize);
                    file.take(LIMIT)
                        .read_to_end(&mut bytes)
                        .await
                        .map_err(|e| TaskError::Failed(format!("{uri}: {e}")))?;
                    pending.push((uri.to_owned(), joined(&destination, &path), bytes));
                }
                let mut written = Map::new();
                for (from, path, bytes) in pending {
                    let files = target.clone();
                    let to = path.clone();
                    match blocking(move || {
                        files.put(&to, &bytes, conflict).map_err(|e| e.to_string())
                    })
                    .await?
                    {
                        Some(revision) => {
                            ctx.log(
                                Level::Debug,
                                format!("uploaded {path} (revision {revision})"),
                            )
                            .await;
                            written.insert(
                                from,
                                Value::String(format!(
                                    "/{}",
                                    NamespaceFiles::normalize(&path).unwrap_or(path)
                                )),
                            );
                        }
                        None => {
                            ctx.log(Level::Debug, format!("{path} exists: skipped"))
                                .await
                        }
                    }
                }
                let mut outputs = Outputs::new();
                outputs.insert("files".into(), Value::Object(written));
                Ok(outputs)
            })
        }
    }

    pub(super) struct DownloadFiles;

    #[derive(Deserialize)]
    struct DownloadProps {
        namespace: String,
        files: Value,
        #[serde(default)]
        destination: Option<String>,
    }

    impl Runner for DownloadFiles {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: DownloadProps = ctx.properties()?;
                let files = ctx.namespace_files(&props.namespace)?;
                let include = patterns(ctx, &props.files)?;
                let source = files.clone();
                let picked = blocking(move || source.matching(&include, &[])).await?;
                let destination = props.destination.unwrap_or_default();
                let mut downloaded = Map::new();
                for path in picked {
                    let (source, wanted) = (files.clone(), path.clone());
                    let bytes =
                        blocking(move || source.get(&wanted, None).map_err(|e| e.to_string()))
                            .await?;
                    let name = format!("{}_{destination}{path}", ctx.task_run_id);
                    let uri = Storage::execution_uri(
                        &ctx.namespace,
                        &ctx.flow_id,
                        &ctx.execution_id,
                        &name.replace('/', "_"),
                    );
                    ctx.storage.write(&uri, bytes.as_slice()).await?;
                    ctx.log(Level::Debug, format!("Downloaded {uri}")).await;
                    downloaded.insert(format!("/{path}"), Value::String(uri));
                }
                let mut outputs = Outputs::new();
                outputs.insert("files".into(), Value::Object(downloaded));
                Ok(outputs)
            })
        }
    }

    pub(super) struct DeleteFiles;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DeleteProps {
        namespace: String,
        files: Value,
        #[serde(default)]
        delete_parent_folder: Option<bool>,
    }

    impl Runner for DeleteFiles {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: DeleteProps = ctx.properties()?;
                let files = ctx.namespace_files(&props.namespace)?;
                let include = patterns(ctx, &props.files)?;
                let parents = props.delete_parent_folder.unwrap_or(false);
                let deleted = blocking(move || {
                    let mut deleted = Vec::new();
                    for path in files.matching(&include, &[])? {
                        if files.delete(&path).map_err(|e| e.to_string())? {
                            deleted.push(format!("/{path}"));
                        }
                        if parents {
                            // Up from the file, each folder left empty goes.
                            let mut folder = path.as_str();
                            while let Some((parent, _)) = folder.rsplit_once('/') {
                                if !files.list(parent).map_err(|e| e.to_string())?.is_empty() {
                                    break;
                                }
                                files.delete(parent).map_err(|e| e.to_string())?;
                                folder = parent;
                            }
                        }
                    }
                    Ok(deleted)
                })
                .await?;
                for path in &deleted {
                    ctx.log(Level::Debug, format!("Deleted {path}")).await;
                }
                let mut outputs = Outputs::new();
                outputs.insert(
                    "files".into(),
                    Value::Array(deleted.into_iter().map(Value::String).collect()),
                );
                Ok(outputs)
            })
        }
    }

    pub(super) struct PurgeFiles;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PurgeProps {
        #[serde(default)]
        namespaces: Option<Vec<String>>,
        #[serde(default)]
        namespace_pattern: Option<String>,
        #[serde(default)]
        include_child_namespaces: Option<bool>,
        #[serde(default)]
        file_pattern: Option<String>,
        #[serde(default)]
        behavior: Option<Map<String, Value>>,
    }

    impl Runner for PurgeFiles {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: PurgeProps = ctx.properties()?;
                if props.namespaces.is_some() && props.namespace_pattern.is_some() {
                    return Err(ctx.invalid("give namespaces or namespacePattern, not both"));
                }
                let children = props.include_child_namespaces.unwrap_or(true);
                let pattern = props
                    .namespace_pattern
                    .as_deref()
                    .map(|p| globset::Glob::new(p).map(|g| g.compile_matcher()))
                    .transpose()
                    .map_err(|e| ctx.invalid(format!("namespacePattern: {e}")))?;
                let chosen: Vec<String> = ctx
                    .file_namespaces()
                    .into_iter()
                    .filter(|ns| match (&props.namespaces, &pattern) {
                        (Some(named), _) => named.iter().any(|n| {
                            ns == n
                                || (children
                                    && ns
                                        .strip_prefix(n.as_str())
                                        .is_some_and(|rest| rest.starts_with('.')))
                        }),
                        (None, Some(glob)) => glob.is_match(ns),
                        (None, None) => true,
                    })
                    .collect();
                let behavior = props.behavior.unwrap_or_default();
                let keep = behavior
                    .get("keepAmount")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
                    .map(|n| n as usize);
                let before = match behavior.get("before").and_then(Value::as_str) {
                    Some(text) => Some(crate::task::core::millis(ctx, "behavior.before", text)?),
                    None => None,
                };
                let files_pattern: Vec<String> = props.file_pattern.into_iter().collect();
                let set = crate::namespace_files::globs(&files_pattern)
                    .map_err(|e| ctx.invalid(format!("filePattern: {e}")))?;
                let mut purged = 0usize;
                for namespace in chosen {
                    let files = ctx.namespace_files(&namespace)?;
                    let set = set.clone();
                    purged += blocking(move || {
                        let mut count = 0;
                        for path in files.with_revisions().map_err(|e| e.to_string())? {
                            let rooted = format!("/{path}");
                            if set
                                .as_ref()
                                .is_some_and(|s| !s.is_match(&rooted) && !s.is_match(&path))
                            {
                                continue;
                            }
                            count += files
                                .purge_revisions(&path, keep, before)
                                .map_err(|e| e.to_string())?;
                        }
                        Ok(count)
                    })
                    .await?;
                }
                ctx.info(format!("purged {purged} files")).await;
                let mut outputs = Outputs::new();
                outputs.insert("size".into(), Value::from(purged));
                Ok(outputs)
            })
        }
    }
}
