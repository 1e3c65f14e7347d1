//! Internal storage: files passed between tasks (uploaded inputs, query
//! results, downloads) under `storage:///…` URIs, kept on local disk in the
//! data dir. Files are streamed in and out, never held whole in memory, and
//! written to a temporary name first so a reader never sees half a file.

use std::path::{Component, Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWriteExt};

use crate::ids::{ExecutionId, FlowId, Namespace};

pub const SCHEME: &str = "storage://";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{uri:?} is not an internal storage URI: it must look like storage:///namespace/flow/…")]
    BadUri { uri: String },
    #[error("{uri} does not exist")]
    NotFound { uri: String },
    #[error("internal storage failed on {uri}: {source}")]
    Io { uri: String, source: std::io::Error },
}

/// Internal storage rooted at a folder.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The URI for a file of an execution:
    /// `storage:///<namespace>/<flow>/executions/<execution>/<name>`.
    pub fn execution_uri(namespace: &Namespace, flow: &FlowId, execution: &ExecutionId, name: &str) -> String {
        format!("{SCHEME}/{namespace}/{flow}/executions/{execution}/{}", sanitize(name))
    }

    /// Streams `reader` into the file named by `uri`; returns its size.
    pub async fn write(&self, uri: &str, mut reader: impl AsyncRead + Unpin) -> Result<u64, StorageError> {
        let path = self.path_of(uri)?;
        let io = |source| StorageError::Io { uri: uri.to_owned(), source };
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let partial = path.with_extension(format!(
            "{}partial",
            path.extension().map(|e| format!("{}.", e.to_string_lossy())).unwrap_or_default()
        ));
        let written = async {
            let mut file = tokio::fs::File::create(&partial).await?;
            let size = tokio::io::copy(&mut reader, &mut file).await?;
            file.flush().await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&partial, &path).await?;
            Ok(size)
        }
        .await;
        if written.is_err() {
            // A write that failed (an upload cut off or over its limit, a
            // full disk) leaves nothing behind.
            let _ = tokio::fs::remove_file(&partial).await;
        }
        written.map_err(io)
    }

    /// Opens a stored file for streaming; returns it with its size.
    pub async fn open(&self, uri: &str) -> Result<(tokio::fs::File, u64), StorageError> {
        let path = self.path_of(uri)?;
        let file = tokio::fs::File::open(&path).await.map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StorageError::NotFound { uri: uri.to_owned() },
            _ => StorageError::Io { uri: uri.to_owned(), source },
        })?;
        let size = file
            .metadata()
            .await
            .map_err(|source| StorageError::Io { uri: uri.to_owned(), source })?
            .len();
        Ok((file, size))
    }

    /// The namespaces that have a KV store.
    pub fn kv_namespaces(&self) -> Vec<String> {
        crate::kv::namespaces(&self.root)
    }

    /// The KV store of a namespace (Kestra keeps it in internal storage too).
    pub fn kv(&self, namespace: &str) -> Result<crate::kv::Kv, crate::kv::KvError> {
        crate::kv::Kv::new(&self.root, namespace)
    }

    /// The file behind a URI. Refuses anything that could leave the root:
    /// `..`, absolute parts, empty segments.
    pub fn path_of(&self, uri: &str) -> Result<PathBuf, StorageError> {
        let bad = || StorageError::BadUri { uri: uri.to_owned() };
        let rest = uri.strip_prefix(SCHEME).ok_or_else(bad)?;
        let rest = rest.strip_prefix('/').ok_or_else(bad)?;
        if rest.is_empty() || rest.split('/').any(|segment| segment.is_empty()) {
            return Err(bad());
        }
        let relative = Path::new(rest);
        if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(bad());
        }
        Ok(self.root.join(relative))
    }
}

/// Keeps a file name to letters, digits, `.`, `_` and `-`.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() { "file".to_owned() } else { cleaned.to_owned() }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn a_file_streams_in_and_out() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path());
        let uri = Storage::execution_uri(
            &Namespace::new("company.data"),
            &FlowId::new("upload"),
            &ExecutionId::new("abc"),
            "sales report.csv",
        );
        assert_eq!(uri, "storage:///company.data/upload/executions/abc/sales_report.csv");
        let data = vec![7u8; 3 * 1024 * 1024 + 5];
        assert_eq!(storage.write(&uri, &data[..]).await.unwrap(), data.len() as u64);
        let (mut file, size) = storage.open(&uri).await.unwrap();
        assert_eq!(size, data.len() as u64);
        let mut back = Vec::new();
        file.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, data);
    }

    #[tokio::test]
    async fn uris_that_could_escape_are_refused() {
        let storage = Storage::new("/tmp/mortar-storage-test");
        for uri in [
            "storage:///a/../../etc/passwd",
            "storage:///../x",
            "storage://a/b",
            "storage:///",
            "storage:///a//b",
            "file:///etc/passwd",
            "/etc/passwd",
        ] {
            assert!(matches!(storage.path_of(uri), Err(StorageError::BadUri { .. })), "{uri}");
        }
        assert!(matches!(storage.open("storage:///a/missing").await, Err(StorageError::NotFound { .. })));
    }
}
