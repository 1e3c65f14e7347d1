//! `dbfs.Upload` and `dbfs.Download`: DBFS paths through the DBFS API in
//! 1 MiB blocks, `/Volumes/…` paths through the Files API, streamed both
//! ways so memory stays bounded whatever the size.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, req, runner};

use super::databricks;

pub const UPLOAD: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.dbfs.Upload",
    alias: "databricks.dbfs.Upload",
    category: Category::Task,
    doc: "Uploads a file of internal storage to DBFS or a Unity Catalog volume (/Volumes/...).",
    properties: databricks![
        ex(
            req(
                "from",
                String,
                "The file, a storage:// URI (a FILE input, an output)."
            ),
            "{{ inputs.data }}"
        ),
        ex(
            req("to", String, "The DBFS path or /Volumes/... path."),
            "/landing/data.csv"
        ),
        def("overwrite", Boolean, "true", "Replace an existing file."),
    ],
    outputs: &[
        ("uri", "Where the file is now."),
        ("size", "Its size in bytes."),
    ],
    run: runner!(|env| run::Upload(env.databricks.clone())),
    check: None,
    aliases: &[],
};

pub const DOWNLOAD: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.dbfs.Download",
    alias: "databricks.dbfs.Download",
    category: Category::Task,
    doc: "Downloads a file of DBFS or a volume into internal storage.",
    properties: databricks![ex(
        req("from", String, "The DBFS path or /Volumes/... path."),
        "/landing/data.csv"
    )],
    outputs: &[
        ("uri", "The storage:// URI of the file."),
        ("size", "Its size in bytes."),
    ],
    run: runner!(|env| run::Download(env.databricks.clone())),
    check: None,
    aliases: &[],
};

pub const WAIT_FOR_FILE: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.dbfs.WaitForFile",
    alias: "databricks.dbfs.WaitForFile",
    category: Category::Task,
    doc: "Waits until a file exists on DBFS or in a volume.",
    properties: databricks![ex(
        req("path", String, "The DBFS path or /Volumes/... path."),
        "/landing/ready.flag"
    )],
    outputs: &[("size", "The file's size in bytes.")],
    run: runner!(|env| run::WaitForFile(env.databricks.clone())),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
pub(super) use run::{download_volume, upload_volume};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;

    use base64::Engine as _;
    use futures::StreamExt;
    use futures::future::BoxFuture;
    use reqwest::Method;
    use serde_json::{Value, json};
    use tokio::io::AsyncReadExt;

    use crate::databricks::{ApiPath, DatabricksClient};
    use crate::storage::Storage;
    use crate::task::databricks::run::{Databricks, wait_for};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// DBFS's limit for one block, counted after base64 decoding.
    const BLOCK: usize = 1024 * 1024;
    /// DBFS reads in flight at once when downloading.
    const READ_AHEAD: usize = 8;

    /// Where a path lives: DBFS (`dbfs:/x`, `/x`) or a volume (`/Volumes/…`).
    enum Target {
        Dbfs(String),
        Volume(String),
    }

    fn target(path: &str) -> Target {
        let path = path.trim();
        let stripped = path.strip_prefix("dbfs:").unwrap_or(path);
        let absolute = if stripped.starts_with('/') {
            stripped.to_owned()
        } else {
            format!("/{stripped}")
        };
        if absolute.starts_with("/Volumes/") {
            Target::Volume(absolute)
        } else {
            Target::Dbfs(absolute)
        }
    }

    /// The Files API path of a file: its segments escaped by the URL.
    fn files_url(path: &str) -> ApiPath {
        ApiPath::from("/api/2.0/fs/files").path(path)
    }

    pub(super) struct Upload(pub(super) Arc<Databricks>);

    impl Runner for Upload {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let from = ctx.prop("from")?.as_str().ok_or_else(|| {
                    ctx.invalid("from is required: a storage:/// URI such as a FILE input")
                })?;
                let to = ctx
                    .prop("to")?
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        ctx.invalid("to is required: a dbfs: path or /Volumes/… path")
                    })?;
                let overwrite = ctx.prop("overwrite")?.as_bool().unwrap_or(true);
                let (_, size) = ctx.storage.open(from).await?;
                let uri = match target(to) {
                    Target::Dbfs(path) => {
                        upload_dbfs(&client, ctx, from, &path, overwrite).await?;
                        format!("dbfs:{path}")
                    }
                    Target::Volume(path) => {
                        upload_volume(&client, ctx, from, &path, overwrite).await?;
                        path
                    }
                };
                ctx.info(format!("uploaded {size} bytes to {uri}")).await;
                let mut outputs = Outputs::new();
                outputs.insert("uri".into(), json!(uri));
                outputs.insert("size".into(), json!(size));
                Ok(outputs)
            })
        }
    }

    /// The largest file `dbfs/put` takes as a multipart upload.
    const MULTIPART_LIMIT: u64 = 2 * 1024 * 1024 * 1024;

    /// Up to 2 GB: one streamed multipart `dbfs/put`, raw bytes with no
    /// base64 (as the DBFS docs' `curl --form contents=@file` does). Larger:
    /// create / add-block (1 MiB at a time) / close. A rate limit or an
    /// unavailable service is retried by opening the file again.
    async fn upload_dbfs(
        client: &DatabricksClient,
        ctx: &TaskContext,
        from: &str,
        path: &str,
        overwrite: bool,
    ) -> Result<(), TaskError> {
        let (_, size) = ctx.storage.open(from).await?;
        if size > MULTIPART_LIMIT {
            return upload_dbfs_blocks(client, ctx, from, path, overwrite).await;
        }
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (file, size) = ctx.storage.open(from).await?;
            let stream = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
                file, BLOCK,
            ));
            let name = path.rsplit('/').next().unwrap_or("file").to_owned();
            let form = reqwest::multipart::Form::new()
                .text("path", path.to_owned())
                .text("overwrite", overwrite.to_string())
                .part(
                    "contents",
                    reqwest::multipart::Part::stream_with_length(stream, size)
                        .file_name(name)
                        .mime_str("application/octet-stream")
                        .map_err(|e| TaskError::Failed(e.to_string()))?,
                );
            let request = client
                .request(Method::POST, "/api/2.0/dbfs/put")
                .await?
                .multipart(form);
            let sent = tokio::select! {
                () = ctx.cancel.cancelled() => return Err(TaskError::Killed),
                sent = client.send(request) => sent,
            };
            match sent {
                Ok(_) => return Ok(()),
                Err(error) if error.is_retryable() && attempt < 10 => {
                    let delay = error
                        .retry_after()
                        .unwrap_or(std::time::Duration::from_millis(500 * u64::from(attempt)));
                    ctx.sleep(delay).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// create / add-block (1 MiB at a time) / close.
    async fn upload_dbfs_blocks(
        client: &DatabricksClient,
        ctx: &TaskContext,
        from: &str,
        path: &str,
        overwrite: bool,
    ) -> Result<(), TaskError> {
        let (mut file, _) = ctx.storage.open(from).await?;
        let created: Value = client
            .post(
                "/api/2.0/dbfs/create",
                &json!({"path": path, "overwrite": overwrite}),
            )
            .await?;
        let handle = created["handle"]
            .as_i64()
            .or_else(|| created["handle"].as_str()?.parse().ok())
            .ok_or_else(|| {
                TaskError::Failed(format!("dbfs/create answered without a handle: {created}"))
            })?;
        // The next block is read and encoded while the current one is sent;
        // the channel holds two, so memory stays a few MiB.
        let (blocks, mut next_block) = tokio::sync::mpsc::channel::<Result<String, String>>(2);
        let from_owned = from.to_owned();
        let reader = tokio::spawn(async move {
            let mut buffer = vec![0u8; BLOCK];
            loop {
                let mut filled = 0;
                while filled < BLOCK {
                    match file.read(&mut buffer[filled..]).await {
                        Ok(0) => break,
                        Ok(read) => filled += read,
                        Err(e) => {
                            let _ = blocks.send(Err(format!("reading {from_owned}: {e}"))).await;
                            return;
                        }
                    }
                }
                if filled == 0
                    || blocks
                        .send(Ok(
                            base64::engine::general_purpose::STANDARD.encode(&buffer[..filled])
                        ))
                        .await
                        .is_err()
                {
                    return;
                }
                if filled < BLOCK {
                    return;
                }
            }
        });
        while let Some(block) = next_block.recv().await {
            let data = block.map_err(TaskError::Failed)?;
            if ctx.cancel.is_cancelled() {
                reader.abort();
                return Err(TaskError::Killed);
            }
            client
                .post::<_, Value>(
                    "/api/2.0/dbfs/add-block",
                    &json!({"handle": handle, "data": data}),
                )
                .await?;
        }
        client
            .post::<_, Value>("/api/2.0/dbfs/close", &json!({"handle": handle}))
            .await?;
        Ok(())
    }

    /// One streamed PUT; a rate limit or an unavailable service is retried by
    /// opening the file again, since a stream cannot be replayed.
    pub(in crate::task::databricks) async fn upload_volume(
        client: &DatabricksClient,
        ctx: &TaskContext,
        from: &str,
        path: &str,
        overwrite: bool,
    ) -> Result<(), TaskError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (file, size) = ctx.storage.open(from).await?;
            let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
                file, BLOCK,
            ));
            let request = client
                .request(Method::PUT, files_url(path))
                .await?
                .query(&[("overwrite", overwrite.to_string())])
                .header("content-type", "application/octet-stream")
                .header("content-length", size)
                .body(body);
            match client.send(request).await {
                Ok(_) => return Ok(()),
                Err(error) if error.is_retryable() && attempt < 10 => {
                    let delay = error
                        .retry_after()
                        .unwrap_or(std::time::Duration::from_millis(500 * u64::from(attempt)));
                    ctx.sleep(delay).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    pub(super) struct Download(pub(super) Arc<Databricks>);

    impl Runner for Download {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let from = ctx
                    .prop("from")?
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        ctx.invalid("from is required: a dbfs: path or /Volumes/… path")
                    })?;
                let name = from
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("download");
                let uri = Storage::execution_uri(
                    &ctx.namespace,
                    &ctx.flow_id,
                    &ctx.execution_id,
                    &format!("{}-{name}", ctx.task_id),
                );
                let size = match target(from) {
                    Target::Dbfs(path) => {
                        let status: Value = client
                            .get("/api/2.0/dbfs/get-status", &[("path", path.clone())])
                            .await?;
                        if status["is_dir"].as_bool() == Some(true) {
                            return Err(
                                ctx.invalid(format!("{from} is a directory: download one file"))
                            );
                        }
                        let total = status["file_size"].as_u64().unwrap_or(0);
                        // Reads at different offsets are independent: keep a few
                        // in flight, in order, so latency does not add up block
                        // after block (memory: READ_AHEAD blocks at most).
                        let offsets = (0..total).step_by(BLOCK);
                        let chunks = futures::stream::iter(offsets)
                            .map(move |offset| {
                                let (client, path) = (client.clone(), path.clone());
                                async move {
                                    let read: Value = client
                                        .get(
                                            "/api/2.0/dbfs/read",
                                            &[
                                                ("path", path),
                                                ("offset", offset.to_string()),
                                                ("length", BLOCK.to_string()),
                                            ],
                                        )
                                        .await
                                        .map_err(std::io::Error::other)?;
                                    let data = base64::engine::general_purpose::STANDARD
                                        .decode(read["data"].as_str().unwrap_or(""))
                                        .map_err(std::io::Error::other)?;
                                    Ok::<_, std::io::Error>(bytes::Bytes::from(data))
                                }
                            })
                            .buffered(READ_AHEAD);
                        ctx.storage
                            .write(&uri, tokio_util::io::StreamReader::new(Box::pin(chunks)))
                            .await?
                    }
                    Target::Volume(path) => download_volume(&client, ctx, &path, &uri).await?,
                };
                ctx.info(format!("downloaded {size} bytes from {from}"))
                    .await;
                let mut outputs = Outputs::new();
                outputs.insert("uri".into(), json!(uri));
                outputs.insert("size".into(), json!(size));
                Ok(outputs)
            })
        }
    }

    /// A volume's file streamed into internal storage at `uri`; its size.
    pub(in crate::task::databricks) async fn download_volume(
        client: &DatabricksClient,
        ctx: &TaskContext,
        path: &str,
        uri: &str,
    ) -> Result<u64, TaskError> {
        let request = client.request(Method::GET, files_url(path)).await?;
        let response = client.send(request).await?;
        let stream = futures::TryStreamExt::map_err(response.bytes_stream(), std::io::Error::other);
        Ok(ctx
            .storage
            .write(uri, tokio_util::io::StreamReader::new(stream))
            .await?)
    }

    /// `dbfs.WaitForFile` (Mortar's): waits until a file exists in DBFS or a
    /// volume; the task's `timeout` bounds the wait.
    pub(super) struct WaitForFile(pub(super) Arc<Databricks>);

    impl Runner for WaitForFile {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let path = ctx
                    .prop("path")?
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        ctx.invalid("path is required: a dbfs: path or /Volumes/… path")
                    })?;
                let target = target(path);
                ctx.info(format!("waiting for {path}")).await;
                let size = wait_for(ctx, &format!("{path} to arrive"), None, || {
                    let client = client.clone();
                    let target = match &target {
                        Target::Dbfs(p) => Target::Dbfs(p.clone()),
                        Target::Volume(p) => Target::Volume(p.clone()),
                    };
                    async move {
                        match target {
                            Target::Dbfs(path) => match client
                                .get::<Value>("/api/2.0/dbfs/get-status", &[("path", path)])
                                .await
                            {
                                Ok(status) if status["is_dir"] != true => {
                                    Ok(Some(status["file_size"].as_u64().unwrap_or(0)))
                                }
                                Ok(_) => Ok(None),
                                Err(error) if error.is_not_found() => Ok(None),
                                Err(error) => Err(error.into()),
                            },
                            Target::Volume(path) => {
                                let request =
                                    client.request(Method::HEAD, files_url(&path)).await?;
                                match client.send(request).await {
                                    Ok(response) => {
                                        Ok(Some(response.content_length().unwrap_or(0)))
                                    }
                                    Err(error) if error.is_not_found() => Ok(None),
                                    Err(error) => Err(error.into()),
                                }
                            }
                        }
                    }
                })
                .await?;
                ctx.info(format!("{path} is there ({size} bytes)")).await;
                let mut outputs = Outputs::new();
                outputs.insert("uri".into(), json!(path));
                outputs.insert("size".into(), json!(size));
                Ok(outputs)
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn paths_go_to_dbfs_or_the_files_api() {
            assert!(matches!(target("dbfs:/a/b.csv"), Target::Dbfs(p) if p == "/a/b.csv"));
            assert!(matches!(target("/mortar/x.csv"), Target::Dbfs(p) if p == "/mortar/x.csv"));
            assert!(
                matches!(target("dbfs:/Volumes/main/default/v/x"), Target::Volume(p) if p == "/Volumes/main/default/v/x")
            );
            assert_eq!(
                files_url("/Volumes/main/default/v/a b.csv").to_string(),
                "/api/2.0/fs/files/Volumes/main/default/v/a b.csv"
            );
        }
    }
}
