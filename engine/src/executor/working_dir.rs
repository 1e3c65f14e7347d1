//! Kestra's WorkingDirectory: a directory its tasks share, made before the
//! first (with `inputFiles`) and removed after the last, once the files
//! `outputFiles` names are in internal storage.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::ids::TaskRunId;
use crate::storage::{SCHEME, Storage};

/// A task run's directory, removed when dropped if it made it.
pub(crate) struct WorkingDir {
    path: PathBuf,
    owned: bool,
}

impl WorkingDir {
    /// Makes the directory of task run `run`.
    pub(crate) async fn create(run: &TaskRunId) -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!("mortar-working-dir-{run}"));
        // A run resumed after a crash starts from an empty directory, as
        // Kestra's worker does.
        let _ = tokio::fs::remove_dir_all(&path).await;
        tokio::fs::create_dir_all(&path).await.map_err(|e| {
            format!(
                "cannot create the working directory {}: {e}",
                path.display()
            )
        })?;
        Ok(Self { path, owned: true })
    }

    /// The directory of an enclosing WorkingDirectory, left in place.
    pub(crate) fn existing(path: PathBuf) -> Self {
        Self { path, owned: false }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `inputFiles` (rendered): a map of relative path to content,
    /// or that map as JSON text. A content that is an internal storage URI
    /// is that file's bytes.
    pub(crate) async fn write_inputs(
        &self,
        files: &Value,
        storage: &Storage,
    ) -> Result<Vec<String>, String> {
        let map = match files {
            Value::Null => return Ok(Vec::new()),
            Value::Object(map) => map.clone(),
            Value::String(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(
                        "inputFiles: a map of file names to contents, or that map as JSON".into(),
                    );
                }
            },
            other => {
                return Err(format!(
                    "inputFiles: a map of file names to contents, not {other}"
                ));
            }
        };
        let mut written = Vec::new();
        for (name, content) in map {
            let target = self.inside(&name).ok_or_else(|| {
                format!("inputFiles: {name:?} is not a relative path inside the working directory")
            })?;
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| format!("inputFiles: {name}: {e}"))?;
            }
            match &content {
                Value::String(uri) if uri.starts_with(SCHEME) => {
                    let (mut file, _) = storage
                        .open(uri)
                        .await
                        .map_err(|e| format!("inputFiles: {name}: {e}"))?;
                    let mut out = tokio::fs::File::create(&target)
                        .await
                        .map_err(|e| format!("inputFiles: {name}: {e}"))?;
                    tokio::io::copy(&mut file, &mut out)
                        .await
                        .map_err(|e| format!("inputFiles: {name}: {e}"))?;
                }
                Value::String(text) => tokio::fs::write(&target, text)
                    .await
                    .map_err(|e| format!("inputFiles: {name}: {e}"))?,
                other => tokio::fs::write(&target, other.to_string())
                    .await
                    .map_err(|e| format!("inputFiles: {name}: {e}"))?,
            }
            written.push(name);
        }
        Ok(written)
    }

    /// Copies namespace files in, as Kestra's `namespaceFiles` says:
    /// `enabled` (true when the mapping is given), `include`/`exclude`
    /// globs, `namespaces` (the flow's by default; later ones win), and
    /// `folderPerNamespace` (each namespace's files under a folder of its
    /// name). Returns the paths written.
    pub(crate) async fn write_namespace_files(
        &self,
        spec: &Value,
        storage: &Storage,
        flow_namespace: &str,
    ) -> Result<Vec<String>, String> {
        let Value::Object(spec) = spec else {
            return match spec {
                Value::Null => Ok(Vec::new()),
                other => Err(format!(
                    "namespaceFiles: a mapping (enabled, include, exclude), not {other}"
                )),
            };
        };
        if spec
            .get("enabled")
            .is_some_and(|e| !crate::task::core::is_truthy(e))
        {
            return Ok(Vec::new());
        }
        let list = |name: &str| -> Result<Vec<String>, String> {
            match spec.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(one)) => Ok(vec![one.clone()]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("namespaceFiles.{name}: a list of texts"))
                    })
                    .collect(),
                Some(other) => Err(format!(
                    "namespaceFiles.{name}: a list of texts, not {other}"
                )),
            }
        };
        let (include, exclude) = (list("include")?, list("exclude")?);
        let mut namespaces = list("namespaces")?;
        if namespaces.is_empty() {
            namespaces.push(flow_namespace.to_owned());
        }
        let per_namespace = spec
            .get("folderPerNamespace")
            .is_some_and(crate::task::core::is_truthy);
        let mut written = Vec::new();
        for namespace in namespaces {
            let files = storage
                .namespace_files(&namespace)
                .map_err(|e| format!("namespaceFiles: {e}"))?;
            let (files, include, exclude) = (files.clone(), include.clone(), exclude.clone());
            let picked =
                tokio::task::spawn_blocking(move || -> Result<Vec<(String, Vec<u8>)>, String> {
                    let paths = files
                        .matching(&include, &exclude)
                        .map_err(|e| format!("namespaceFiles: {e}"))?;
                    paths
                        .into_iter()
                        .map(|p| {
                            files
                                .get(&p, None)
                                .map(|bytes| (p, bytes))
                                .map_err(|e| format!("namespaceFiles: {e}"))
                        })
                        .collect()
                })
                .await
                .map_err(|e| format!("namespaceFiles: {e}"))??;
            for (path, bytes) in picked {
                let relative = if per_namespace {
                    format!("{namespace}/{path}")
                } else {
                    path
                };
                let target = self.inside(&relative).ok_or_else(|| {
                    format!("namespaceFiles: {relative:?} leaves the working directory")
                })?;
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| format!("namespaceFiles: {relative}: {e}"))?;
                }
                tokio::fs::write(&target, bytes)
                    .await
                    .map_err(|e| format!("namespaceFiles: {relative}: {e}"))?;
                written.push(relative);
            }
        }
        Ok(written)
    }

    /// Kestra's WorkingDirectory `cache`: restores the files kept in
    /// `cache` (a folder of internal storage) unless they are older than
    /// `ttl`, in which case the cache is dropped. Returns the paths restored.
    pub(crate) async fn restore_cache(
        &self,
        cache: &Path,
        ttl: Option<std::time::Duration>,
    ) -> Result<Vec<String>, String> {
        let created = match tokio::fs::read_to_string(cache.join("created")).await {
            Ok(text) => text.trim().parse::<i64>().unwrap_or(0),
            Err(_) => return Ok(Vec::new()),
        };
        let now = jiff::Timestamp::now().as_millisecond();
        if let Some(ttl) = ttl
            && now.saturating_sub(created) > i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
        {
            let _ = tokio::fs::remove_dir_all(cache).await;
            return Ok(Vec::new());
        }
        let files = cache.join("files");
        let mut restored = Vec::new();
        for relative in files_under(&files).await? {
            let target = self
                .inside(&relative)
                .ok_or_else(|| format!("cache: {relative:?} leaves the working directory"))?;
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| format!("cache: {relative}: {e}"))?;
            }
            tokio::fs::copy(files.join(&relative), &target)
                .await
                .map_err(|e| format!("cache: {relative}: {e}"))?;
            restored.push(relative);
        }
        Ok(restored)
    }

    /// Keeps the files that match `patterns` in `cache` for the next runs
    /// (replacing what was there; its creation time stays while it lives).
    pub(crate) async fn save_cache(
        &self,
        cache: &Path,
        patterns: &[String],
    ) -> Result<usize, String> {
        let mut set = globset::GlobSetBuilder::new();
        for pattern in patterns {
            set.add(
                globset::Glob::new(pattern)
                    .map_err(|e| format!("cache.patterns: {pattern:?} is not a glob: {e}"))?,
            );
        }
        let set = set.build().map_err(|e| format!("cache.patterns: {e}"))?;
        let fresh = cache.join("files.partial");
        let _ = tokio::fs::remove_dir_all(&fresh).await;
        let mut kept = 0;
        for relative in files_under(&self.path).await? {
            if !set.is_match(&relative) {
                continue;
            }
            let target = fresh.join(&relative);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| format!("cache: {relative}: {e}"))?;
            }
            tokio::fs::copy(self.path.join(&relative), &target)
                .await
                .map_err(|e| format!("cache: {relative}: {e}"))?;
            kept += 1;
        }
        tokio::fs::create_dir_all(&fresh)
            .await
            .map_err(|e| format!("cache: {e}"))?;
        let _ = tokio::fs::remove_dir_all(cache.join("files")).await;
        tokio::fs::rename(&fresh, cache.join("files"))
            .await
            .map_err(|e| format!("cache: {e}"))?;
        if tokio::fs::metadata(cache.join("created")).await.is_err() {
            tokio::fs::write(
                cache.join("created"),
                jiff::Timestamp::now().as_millisecond().to_string(),
            )
            .await
            .map_err(|e| format!("cache: {e}"))?;
        }
        Ok(kept)
    }

    /// Copies the files that match `patterns` (globs relative to the
    /// directory) into internal storage: the output `outputFiles`, each
    /// file's URI by its path in the directory.
    pub(crate) async fn keep_outputs(
        &self,
        patterns: &Value,
        storage: &Storage,
        uri_of: impl Fn(&str) -> String,
    ) -> Result<Map<String, Value>, String> {
        let patterns: Vec<String> = match patterns {
            Value::Null => return Ok(Map::new()),
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_owned)
                        .ok_or("outputFiles: a list of glob patterns")
                })
                .collect::<Result<_, _>>()?,
            other => return Err(format!("outputFiles: a list of glob patterns, not {other}")),
        };
        let mut set = globset::GlobSetBuilder::new();
        for pattern in &patterns {
            set.add(
                globset::Glob::new(pattern)
                    .map_err(|e| format!("outputFiles: {pattern:?} is not a glob: {e}"))?,
            );
        }
        let set = set.build().map_err(|e| format!("outputFiles: {e}"))?;
        let mut kept = Map::new();
        for relative in files_under(&self.path).await? {
            if !set.is_match(&relative) {
                continue;
            }
            let uri = uri_of(&relative);
            let file = tokio::fs::File::open(self.path.join(&relative))
                .await
                .map_err(|e| format!("outputFiles: {relative}: {e}"))?;
            storage
                .write(&uri, file)
                .await
                .map_err(|e| format!("outputFiles: {relative}: {e}"))?;
            kept.insert(relative, Value::String(uri));
        }
        Ok(kept)
    }

    /// `name` inside the directory, or `None` if it would leave it.
    fn inside(&self, name: &str) -> Option<PathBuf> {
        let relative = Path::new(name);
        let plain = !name.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        plain.then(|| self.path.join(relative))
    }
}

impl Drop for WorkingDir {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Err(error) = std::fs::remove_dir_all(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove a working directory");
        }
    }
}

/// Every file under `root`, as paths relative to it with `/`.
pub(crate) async fn files_under(root: &Path) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let mut entries = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| format!("reading {}: {e}", dir.display()))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
        {
            let kind = entry
                .file_type()
                .await
                .map_err(|e| format!("reading {}: {e}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file()
                && let Ok(relative) = entry.path().strip_prefix(root)
            {
                found.push(
                    relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    found.sort();
    Ok(found)
}
