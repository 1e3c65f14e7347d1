//! Internal storage: files passed between tasks (uploaded inputs, query
//! results, downloads) under `storage:///…` URIs, kept on local disk in the
//! data dir. Files are streamed in and out, never held whole in memory, and
//! written to a temporary name first so a reader never sees half a file.
//!
//! A URI names a file below the root and nothing else: `..`, `.`, empty
//! segments, `%`, `\\`, NUL and symbolic links on the way are refused, and
//! the storage a run gets ([`Storage::for_namespace`]) refuses URIs of other
//! namespaces, so a flow reads and writes its own namespace's files only.

use std::path::{Component, Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWriteExt};

use crate::ids::{ExecutionId, FlowId, Namespace};

pub const SCHEME: &str = "storage://";

/// The folder below a namespace that holds the `state.*` tasks' maps.
const STATES_DIR: &str = "_states";
/// The folder below a namespace that holds WorkingDirectory caches.
const CACHE_DIR: &str = "_cache";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "{uri:?} is not an internal storage URI: it must look like storage:///namespace/flow/…"
    )]
    BadUri { uri: String },
    #[error("{uri} does not exist")]
    NotFound { uri: String },
    #[error(
        "{uri} is not in the storage of namespace {namespace}: a flow reads and writes the files of its own namespace only"
    )]
    OutOfScope { uri: String, namespace: String },
    #[error("{uri} goes through a symbolic link, which internal storage does not follow")]
    Link { uri: String },
    #[error("internal storage failed on {uri}: {source}")]
    Io { uri: String, source: std::io::Error },
}

/// Internal storage rooted at a folder.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    /// Set for a run: the one namespace whose files it may reach.
    namespace: Option<Namespace>,
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            namespace: None,
        }
    }

    /// This storage as a run of a flow of `namespace` sees it: a URI
    /// outside `storage:///<namespace>/` is refused (`OutOfScope`).
    pub fn for_namespace(&self, namespace: &Namespace) -> Self {
        Self {
            root: self.root.clone(),
            namespace: Some(namespace.clone()),
        }
    }

    /// The URI for a file of an execution:
    /// `storage:///<namespace>/<flow>/executions/<execution>/<name>`.
    pub fn execution_uri(
        namespace: &Namespace,
        flow: &FlowId,
        execution: &ExecutionId,
        name: &str,
    ) -> String {
        format!(
            "{SCHEME}/{namespace}/{flow}/executions/{execution}/{}",
            sanitize(name)
        )
    }

    /// Streams `reader` into the file named by `uri`; returns its size.
    pub async fn write(
        &self,
        uri: &str,
        mut reader: impl AsyncRead + Unpin,
    ) -> Result<u64, StorageError> {
        let path = self.path_of(uri)?;
        self.refuse_links_async(uri, &path).await?;
        let io = |source| StorageError::Io {
            uri: uri.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let partial = path.with_extension(format!(
            "{}partial",
            path.extension()
                .map(|e| format!("{}.", e.to_string_lossy()))
                .unwrap_or_default()
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
        self.refuse_links_async(uri, &path).await?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => StorageError::NotFound {
                    uri: uri.to_owned(),
                },
                _ => StorageError::Io {
                    uri: uri.to_owned(),
                    source,
                },
            })?;
        let size = file
            .metadata()
            .await
            .map_err(|source| StorageError::Io {
                uri: uri.to_owned(),
                source,
            })?
            .len();
        Ok((file, size))
    }

    /// Deletes a stored file; false when there was none.
    pub async fn delete(&self, uri: &str) -> Result<bool, StorageError> {
        let path = self.path_of(uri)?;
        self.refuse_links_async(uri, &path).await?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StorageError::Io {
                uri: uri.to_owned(),
                source,
            }),
        }
    }

    /// Deletes every file of an execution (`<namespace>/<flow>/executions/<id>/`);
    /// false when it had none. From the root store only: a task's store
    /// reaches its own namespace through URIs.
    pub async fn delete_execution_files(
        &self,
        namespace: &Namespace,
        flow: &FlowId,
        execution: &ExecutionId,
    ) -> Result<bool, StorageError> {
        let uri = format!("{SCHEME}/{namespace}/{flow}/executions/{execution}");
        let path = Self {
            root: self.root.clone(),
            namespace: None,
        }
        .path_of(&uri)?;
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(true),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StorageError::Io { uri, source }),
        }
    }

    /// Deletes every file of an execution of this store's namespace and
    /// returns their URIs, sorted (PurgeCurrentExecutionFiles).
    pub async fn purge_execution(
        &self,
        namespace: &Namespace,
        flow: &FlowId,
        execution: &ExecutionId,
    ) -> Result<Vec<String>, StorageError> {
        let base = format!("{SCHEME}/{namespace}/{flow}/executions/{execution}");
        let dir = self
            .path_of(&format!("{base}/x"))
            .map(|p| p.with_file_name(""))?;
        let listed = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                let mut found = Vec::new();
                let mut stack = vec![dir.clone()];
                while let Some(next) = stack.pop() {
                    let Ok(entries) = std::fs::read_dir(&next) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        let path = entry.path();
                        match entry.file_type() {
                            Ok(t) if t.is_dir() => stack.push(path),
                            Ok(t) if t.is_file() => {
                                if let Ok(relative) = path.strip_prefix(&dir) {
                                    found.push(relative.to_string_lossy().replace('\\', "/"));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                found
            })
            .await
            .unwrap_or_default()
        };
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StorageError::Io { uri: base, source }),
        }
        let mut uris: Vec<String> = listed
            .into_iter()
            .map(|name| format!("{base}/{name}"))
            .collect();
        uris.sort();
        Ok(uris)
    }

    /// The namespaces that have a KV store.
    pub fn kv_namespaces(&self) -> Vec<String> {
        crate::kv::namespaces(&self.root)
    }

    /// The files of a namespace (`<namespace>/_files`), whatever this
    /// storage's own scope: who may reach which namespace is decided by
    /// the caller, as for the KV store.
    pub fn namespace_files(
        &self,
        namespace: &str,
    ) -> Result<crate::namespace_files::NamespaceFiles, crate::namespace_files::FilesError> {
        crate::namespace_files::NamespaceFiles::new(&self.root, namespace)
    }

    /// The namespaces that have namespace files.
    pub fn file_namespaces(&self) -> Vec<String> {
        crate::namespace_files::namespaces(&self.root)
    }

    /// Where a WorkingDirectory task of a flow keeps its `cache`.
    pub fn cache_dir(&self, namespace: &Namespace, flow: &FlowId, task: &str) -> PathBuf {
        self.root
            .join(namespace.as_str())
            .join(CACHE_DIR)
            .join(flow.as_str())
            .join(task)
    }

    /// Where a namespace's `state.*` maps are kept (`<namespace>/_states`).
    pub fn states_dir(&self, namespace: &Namespace) -> PathBuf {
        self.root.join(namespace.as_str()).join(STATES_DIR)
    }

    /// The KV store of a namespace (Kestra keeps it in internal storage too).
    pub fn kv(&self, namespace: &str) -> Result<crate::kv::Kv, crate::kv::KvError> {
        crate::kv::Kv::new(&self.root, namespace)
    }

    /// The file behind a URI. Refuses anything that could leave the root
    /// or mean two things: `..`, `.`, absolute parts, empty segments, `%`
    /// (no percent-decoding happens, so `%2e%2e` would be a name that looks
    /// like a move), `\\`, NUL; a KV store (`<namespace>/_kv`, reached
    /// through `kv()` only); and, for a run, another namespace's files.
    /// Symbolic links are checked where the file is opened.
    pub fn path_of(&self, uri: &str) -> Result<PathBuf, StorageError> {
        let bad = || StorageError::BadUri {
            uri: uri.to_owned(),
        };
        let rest = uri.strip_prefix(SCHEME).ok_or_else(bad)?;
        let rest = rest.strip_prefix('/').ok_or_else(bad)?;
        if rest.is_empty()
            || rest
                .split('/')
                .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(bad());
        }
        if rest.contains(['%', '\\', '\0']) {
            return Err(bad());
        }
        let relative = Path::new(rest);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(bad());
        }
        let mut segments = rest.split('/');
        let first = segments.next().unwrap_or_default();
        // The KV store and the namespace files are reached through their
        // own interfaces only.
        if matches!(
            segments.next(),
            Some(
                "_kv"
                    | STATES_DIR
                    | CACHE_DIR
                    | crate::namespace_files::FILES_DIR
                    | crate::namespace_files::REVISIONS_DIR
            )
        ) {
            return Err(bad());
        }
        if let Some(namespace) = &self.namespace
            && first != namespace.as_str()
        {
            return Err(StorageError::OutOfScope {
                uri: uri.to_owned(),
                namespace: namespace.to_string(),
            });
        }
        Ok(self.root.join(relative))
    }

    /// Refuses a path that goes through a symbolic link below the root
    /// (a link could lead anywhere on the disk). Blocking: a few `lstat`s.
    pub fn refuse_links(&self, uri: &str, path: &Path) -> Result<(), StorageError> {
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return Err(StorageError::BadUri {
                uri: uri.to_owned(),
            });
        };
        let mut at = self.root.clone();
        for component in relative.components() {
            at.push(component);
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(StorageError::Link {
                        uri: uri.to_owned(),
                    });
                }
                Ok(_) => {}
                // Nothing further exists: nothing further is a link.
                Err(_) => break,
            }
        }
        Ok(())
    }

    async fn refuse_links_async(&self, uri: &str, path: &Path) -> Result<(), StorageError> {
        let (this, uri_owned, path) = (self.clone(), uri.to_owned(), path.to_owned());
        tokio::task::spawn_blocking(move || this.refuse_links(&uri_owned, &path))
            .await
            .map_err(|e| StorageError::Io {
                uri: uri.to_owned(),
                source: std::io::Error::other(e),
            })?
    }
}

/// The longest file name kept (file systems stop at 255 bytes).
const MAX_NAME: usize = 200;

/// Keeps a file name to letters, digits, `.`, `_` and `-` (so `/`, `\\`,
/// `%` and NUL become `_`), without a leading `.`, and to [`MAX_NAME`]
/// characters: a longer one keeps its start and its extension.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        return "file".to_owned();
    }
    if cleaned.len() <= MAX_NAME {
        return cleaned.to_owned();
    }
    // ASCII only by now, so byte offsets are character offsets.
    let extension = cleaned
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let keep = MAX_NAME - extension.len() - 1;
    format!("{}.{extension}", &cleaned[..keep])
        .trim_end_matches('.')
        .to_owned()
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
        assert_eq!(
            uri,
            "storage:///company.data/upload/executions/abc/sales_report.csv"
        );
        let long = Storage::execution_uri(
            &Namespace::new("n"),
            &FlowId::new("f"),
            &ExecutionId::new("e"),
            &format!("{}.csv", "x".repeat(5000)),
        );
        let name = long.rsplit('/').next().unwrap();
        assert!(name.len() <= MAX_NAME && name.ends_with("x.csv"), "{name}");
        assert!(
            Storage::execution_uri(
                &Namespace::new("n"),
                &FlowId::new("f"),
                &ExecutionId::new("e"),
                "../..\\a\0b%2e"
            )
            .ends_with("/e/_.._a_b_2e")
        );
        let data = vec![7u8; 3 * 1024 * 1024 + 5];
        assert_eq!(
            storage.write(&uri, &data[..]).await.unwrap(),
            data.len() as u64
        );
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
            assert!(
                matches!(storage.path_of(uri), Err(StorageError::BadUri { .. })),
                "{uri}"
            );
        }
        assert!(matches!(
            storage.open("storage:///a/missing").await,
            Err(StorageError::NotFound { .. })
        ));
        for uri in [
            "storage:///a/%2e%2e/x",
            "storage:///a/./x",
            "storage:///a\\..\\x",
            "storage:///a/b\0",
            "storage:///n/_kv/k.json",
        ] {
            assert!(
                matches!(storage.path_of(uri), Err(StorageError::BadUri { .. })),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn a_run_reaches_its_namespace_only_and_no_links() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path());
        let run = storage.for_namespace(&Namespace::new("company.a"));
        run.write("storage:///company.a/f/executions/e/x.txt", &b"mine"[..])
            .await
            .unwrap();
        storage
            .write("storage:///company.b/f/executions/e/y.txt", &b"theirs"[..])
            .await
            .unwrap();
        assert!(
            run.open("storage:///company.a/f/executions/e/x.txt")
                .await
                .is_ok()
        );
        for uri in [
            "storage:///company.b/f/executions/e/y.txt",
            "storage:///company/f/x",
            "storage:///company.a.b/f/x",
        ] {
            assert!(
                matches!(run.path_of(uri), Err(StorageError::OutOfScope { .. })),
                "{uri}"
            );
        }
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
            std::os::unix::fs::symlink(
                outside.path(),
                dir.path().join("company.a/f/executions/e/link"),
            )
            .unwrap();
            let error = run
                .open("storage:///company.a/f/executions/e/link/secret.txt")
                .await
                .unwrap_err();
            assert!(matches!(error, StorageError::Link { .. }), "{error}");
        }
    }
}
