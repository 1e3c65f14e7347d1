//! Kestra's namespace files: scripts, SQL and configuration kept per
//! namespace, read by `read('path')`, copied into a WorkingDirectory by
//! `namespaceFiles`, and managed through the API, the editor and the
//! `namespace.*` tasks.
//!
//! As in Kestra, they live in internal storage, below the namespace:
//! `<namespace>/_files/<path>` holds each file as it is now, and
//! `<namespace>/_files_revisions/<path>/<n>` every revision it had (from 1,
//! the current one included), so an older one can be read back and a
//! deleted file's history is kept. A file is written under a temporary
//! name and renamed, so a reader never sees half of one. Paths are
//! Kestra's: `/`-separated, relative to the namespace's root, with or
//! without a leading `/`; `..`, empty or hidden-looking parts that could
//! mean two things are refused.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What went wrong, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{0:?} is not a namespace")]
    BadNamespace(String),
    #[error(
        "{0:?} is not a namespace file path: use parts separated by `/`, without `..`, `\\` or empty parts"
    )]
    BadPath(String),
    #[error("namespace file {0} does not exist")]
    NotFound(String),
    #[error("namespace file {path} has no revision {revision} (it has {last})")]
    NoRevision {
        path: String,
        revision: u32,
        last: u32,
    },
    #[error("namespace file {0} already exists")]
    Exists(String),
    #[error("{0} is a directory")]
    IsDirectory(String),
    #[error("namespace file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Kestra's FileAttributes, as its API and `kestrapy` give them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileAttributes {
    pub file_name: String,
    pub last_modified_time: i64,
    pub creation_time: i64,
    #[serde(rename = "type")]
    pub kind: FileKind,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FileKind {
    File,
    Directory,
}

/// What to do when a file to write exists (Kestra's `Namespace.Conflicts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Overwrite,
    Error,
    Skip,
}

impl Conflict {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "OVERWRITE" => Some(Self::Overwrite),
            "ERROR" => Some(Self::Error),
            "SKIP" => Some(Self::Skip),
            _ => None,
        }
    }
}

/// The files of one namespace.
#[derive(Debug, Clone)]
pub struct NamespaceFiles {
    files: PathBuf,
    revisions: PathBuf,
    namespace: String,
}

/// The folder names below a namespace that are the files and their history.
pub const FILES_DIR: &str = "_files";
pub const REVISIONS_DIR: &str = "_files_revisions";

impl NamespaceFiles {
    /// The files of `namespace` below a storage root; the namespace may
    /// come from a rendered property and is checked first.
    pub fn new(storage_root: &Path, namespace: &str) -> Result<Self, FilesError> {
        if !crate::flow::model::valid_namespace(namespace) {
            return Err(FilesError::BadNamespace(namespace.to_owned()));
        }
        let base = storage_root.join(namespace);
        Ok(Self {
            files: base.join(FILES_DIR),
            revisions: base.join(REVISIONS_DIR),
            namespace: namespace.to_owned(),
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A path as Kestra writes it (`/a/b.sql`, `a/b.sql`) in its plain
    /// form, `a/b.sql`; `""` is the root.
    pub fn normalize(path: &str) -> Result<String, FilesError> {
        let trimmed = path.trim().trim_start_matches('/').trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(String::new());
        }
        let bad = trimmed.contains(['\\', '\0', '%'])
            || trimmed
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..");
        if bad {
            Err(FilesError::BadPath(path.to_owned()))
        } else {
            Ok(trimmed.to_owned())
        }
    }

    fn io(path: &str) -> impl Fn(std::io::Error) -> FilesError + '_ {
        move |source| match source.kind() {
            std::io::ErrorKind::NotFound => FilesError::NotFound(format!("/{path}")),
            _ => FilesError::Io {
                path: format!("/{path}"),
                source,
            },
        }
    }

    /// Refuses a path that goes through a symbolic link below the files.
    fn checked(&self, root: &Path, relative: &str) -> Result<PathBuf, FilesError> {
        let mut at = root.to_owned();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            at.push(part);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(FilesError::BadPath(relative.to_owned()));
            }
        }
        Ok(at)
    }

    fn revisions_of(&self, path: &str) -> Result<Vec<u32>, FilesError> {
        let dir = self.checked(&self.revisions, path)?;
        let mut found: Vec<u32> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Self::io(path)(e)),
        };
        found.sort_unstable();
        Ok(found)
    }

    /// Writes a file (a new revision); `None` when `conflict` is Skip and
    /// the file exists. Returns the revision written.
    pub fn put(
        &self,
        path: &str,
        content: &[u8],
        conflict: Conflict,
    ) -> Result<Option<u32>, FilesError> {
        let path = Self::normalize(path)?;
        if path.is_empty() {
            return Err(FilesError::BadPath("/".into()));
        }
        let target = self.checked(&self.files, &path)?;
        if target.is_dir() {
            return Err(FilesError::IsDirectory(format!("/{path}")));
        }
        if target.exists() {
            match conflict {
                Conflict::Overwrite => {}
                Conflict::Error => return Err(FilesError::Exists(format!("/{path}"))),
                Conflict::Skip => return Ok(None),
            }
        }
        let io = Self::io(&path);
        let revision = self.revisions_of(&path)?.last().copied().unwrap_or(0) + 1;
        let history = self.checked(&self.revisions, &path)?;
        std::fs::create_dir_all(&history).map_err(&io)?;
        write_whole(&history.join(revision.to_string()), content).map_err(&io)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(&io)?;
        }
        write_whole(&target, content).map_err(&io)?;
        Ok(Some(revision))
    }

    /// A file's content now, or at a revision.
    pub fn get(&self, path: &str, revision: Option<u32>) -> Result<Vec<u8>, FilesError> {
        let path = Self::normalize(path)?;
        let io = Self::io(&path);
        match revision {
            None => {
                let file = self.checked(&self.files, &path)?;
                if file.is_dir() {
                    return Err(FilesError::IsDirectory(format!("/{path}")));
                }
                std::fs::read(file).map_err(io)
            }
            Some(revision) => {
                let known = self.revisions_of(&path)?;
                if !known.contains(&revision) {
                    let last = known.last().copied().unwrap_or(0);
                    return Err(if last == 0 {
                        FilesError::NotFound(format!("/{path}"))
                    } else {
                        FilesError::NoRevision {
                            path: format!("/{path}"),
                            revision,
                            last,
                        }
                    });
                }
                std::fs::read(
                    self.checked(&self.revisions, &path)?
                        .join(revision.to_string()),
                )
                .map_err(io)
            }
        }
    }

    /// The revisions a file had, oldest first.
    pub fn revisions(&self, path: &str) -> Result<Vec<u32>, FilesError> {
        let path = Self::normalize(path)?;
        let found = self.revisions_of(&path)?;
        if found.is_empty() && !self.checked(&self.files, &path)?.is_file() {
            return Err(FilesError::NotFound(format!("/{path}")));
        }
        Ok(found)
    }

    /// A file's or directory's attributes; the root always exists.
    pub fn stats(&self, path: &str) -> Result<FileAttributes, FilesError> {
        let path = Self::normalize(path)?;
        let at = self.checked(&self.files, &path)?;
        if path.is_empty() && !at.exists() {
            std::fs::create_dir_all(&at).map_err(Self::io(&path))?;
        }
        let meta = std::fs::metadata(&at).map_err(Self::io(&path))?;
        Ok(attributes(
            path.rsplit('/').next().unwrap_or_default(),
            &meta,
        ))
    }

    /// What a directory holds, directories first, then by name.
    pub fn list(&self, path: &str) -> Result<Vec<FileAttributes>, FilesError> {
        let path = Self::normalize(path)?;
        let at = self.checked(&self.files, &path)?;
        let io = Self::io(&path);
        let entries = match std::fs::read_dir(&at) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.is_empty() => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(io(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(&io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                continue;
            }
            let meta = std::fs::symlink_metadata(entry.path()).map_err(&io)?;
            if meta.file_type().is_symlink() {
                continue;
            }
            out.push(attributes(&name, &meta));
        }
        out.sort_by(|a, b| {
            (a.kind != FileKind::Directory, &a.file_name)
                .cmp(&(b.kind != FileKind::Directory, &b.file_name))
        });
        Ok(out)
    }

    /// Makes a directory (and its parents).
    pub fn create_directory(&self, path: &str) -> Result<(), FilesError> {
        let path = Self::normalize(path)?;
        let at = self.checked(&self.files, &path)?;
        if at.is_file() {
            return Err(FilesError::Exists(format!("/{path}")));
        }
        std::fs::create_dir_all(at).map_err(Self::io(&path))
    }

    /// Every file, as `a/b.sql`, sorted.
    pub fn all(&self) -> Result<Vec<String>, FilesError> {
        let mut found = Vec::new();
        let mut pending = vec![(self.files.clone(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Self::io(&prefix)(e)),
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let relative = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => pending.push((entry.path(), relative)),
                    Ok(kind) if kind.is_file() && !name.ends_with(".partial") => {
                        found.push(relative)
                    }
                    _ => {}
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Moves a file or a directory, with its revisions.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), FilesError> {
        let (from, to) = (Self::normalize(from)?, Self::normalize(to)?);
        if from.is_empty() || to.is_empty() {
            return Err(FilesError::BadPath("/".into()));
        }
        let (source, target) = (
            self.checked(&self.files, &from)?,
            self.checked(&self.files, &to)?,
        );
        if !source.exists() {
            return Err(FilesError::NotFound(format!("/{from}")));
        }
        if target.exists() {
            return Err(FilesError::Exists(format!("/{to}")));
        }
        let io = Self::io(&from);
        for (root, must) in [(&self.files, true), (&self.revisions, false)] {
            let (a, b) = (self.checked(root, &from)?, self.checked(root, &to)?);
            if !must && !a.exists() {
                continue;
            }
            if let Some(parent) = b.parent() {
                std::fs::create_dir_all(parent).map_err(&io)?;
            }
            std::fs::rename(a, b).map_err(&io)?;
        }
        Ok(())
    }

    /// Deletes a file or a directory with what it holds; their revisions
    /// are kept (writing the path again goes on from the last). False when
    /// there was nothing.
    pub fn delete(&self, path: &str) -> Result<bool, FilesError> {
        let path = Self::normalize(path)?;
        if path.is_empty() {
            return Err(FilesError::BadPath("/".into()));
        }
        let at = self.checked(&self.files, &path)?;
        let io = Self::io(&path);
        match std::fs::symlink_metadata(&at) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(e)),
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&at).map(|()| true).map_err(io),
            Ok(_) => std::fs::remove_file(&at).map(|()| true).map_err(io),
        }
    }

    /// Deletes old revisions of a file (never its latest): all but the
    /// `keep` latest (1 when unset), and with `before` (Unix ms) only those
    /// written before it. Returns how many went.
    pub fn purge_revisions(
        &self,
        path: &str,
        keep: Option<usize>,
        before: Option<i64>,
    ) -> Result<usize, FilesError> {
        let path = Self::normalize(path)?;
        let revisions = self.revisions_of(&path)?;
        let keep = keep.unwrap_or(1).max(1);
        let dir = self.checked(&self.revisions, &path)?;
        let mut purged = 0;
        for revision in revisions.iter().take(revisions.len().saturating_sub(keep)) {
            let file = dir.join(revision.to_string());
            if let Some(before) = before {
                let written = std::fs::metadata(&file)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as i64);
                if written >= before {
                    continue;
                }
            }
            std::fs::remove_file(&file).map_err(Self::io(&path))?;
            purged += 1;
        }
        Ok(purged)
    }

    /// Every path that has revisions (deleted files included), as `a/b.sql`.
    pub fn with_revisions(&self) -> Result<Vec<String>, FilesError> {
        let mut found = Vec::new();
        let mut pending = vec![(self.revisions.clone(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut is_file_dir = false;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => pending.push((
                        entry.path(),
                        if prefix.is_empty() {
                            name
                        } else {
                            format!("{prefix}/{name}")
                        },
                    )),
                    Ok(kind) if kind.is_file() && name.parse::<u32>().is_ok() => is_file_dir = true,
                    _ => {}
                }
            }
            if is_file_dir && !prefix.is_empty() {
                found.push(prefix);
            }
        }
        found.sort();
        Ok(found)
    }

    /// The files `include` and `exclude` pick, as Kestra's
    /// PathMatcherPredicate: a glob over `/a/b.sql`, where a pattern that
    /// starts with a word character also matches in any folder.
    pub fn matching(&self, include: &[String], exclude: &[String]) -> Result<Vec<String>, String> {
        let include = globs(include)?;
        let exclude = globs(exclude)?;
        let all = self.all().map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(|path| {
                // Kestra matches `/a/b.sql`; the plain form too lets `*.py`
                // pick the files at the root, as a user means it.
                let rooted = format!("/{path}");
                let hit = |set: &globset::GlobSet| set.is_match(&rooted) || set.is_match(path);
                include.as_ref().is_none_or(hit) && !exclude.as_ref().is_some_and(hit)
            })
            .collect())
    }
}

/// The namespaces that have files (or revisions of deleted ones).
pub fn namespaces(storage_root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(storage_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(FILES_DIR).is_dir() || e.path().join(REVISIONS_DIR).is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// Kestra's patterns as one glob set (None when there is no pattern).
pub fn globs(patterns: &[String]) -> Result<Option<globset::GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = globset::GlobSetBuilder::new();
    for pattern in patterns {
        let plain = pattern.strip_prefix("glob:").unwrap_or(pattern);
        // `scripts/*.py` matches in any folder, as `**/scripts/*.py`.
        let written = if plain
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            format!("**/{plain}")
        } else {
            plain.to_owned()
        };
        let glob = globset::GlobBuilder::new(&java_glob(&written))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("{pattern:?} is not a glob pattern: {e}"))?;
        set.add(glob);
    }
    set.build().map(Some).map_err(|e| e.to_string())
}

/// Java's `**` crosses folders even inside a part (`**.py`); globset's
/// does only as a whole part, so `**.py` is written `**/*.py` for it.
fn java_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '*' && chars.get(i + 1) == Some(&'*') {
            if i > 0 && chars[i - 1] != '/' {
                out.push_str("*/");
            }
            out.push_str("**");
            i += 2;
            if chars.get(i).is_some_and(|c| *c != '/') {
                out.push_str("/*");
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn attributes(name: &str, meta: &std::fs::Metadata) -> FileAttributes {
    let millis = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64)
    };
    let modified = millis(meta.modified());
    // A file system that keeps no creation time gives the modification's.
    let created = millis(meta.created());
    FileAttributes {
        file_name: name.to_owned(),
        last_modified_time: modified,
        creation_time: if created == 0 { modified } else { created },
        kind: if meta.is_dir() {
            FileKind::Directory
        } else {
            FileKind::File
        },
        size: if meta.is_dir() { 0 } else { meta.len() },
    }
}

/// Writes under a temporary name, then renames.
fn write_whole(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let partial = path.with_file_name(format!(
        "{}.partial",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&partial, content)?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> NamespaceFiles {
        NamespaceFiles::new(dir, "company.team").unwrap()
    }

    #[test]
    fn files_are_written_read_listed_moved_and_deleted_with_their_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        assert_eq!(files.list("/").unwrap(), vec![]);
        assert_eq!(
            files
                .put("/sql/q.sql", b"SELECT 1", Conflict::Overwrite)
                .unwrap(),
            Some(1)
        );
        assert_eq!(
            files
                .put("sql/q.sql", b"SELECT 2", Conflict::Overwrite)
                .unwrap(),
            Some(2)
        );
        assert_eq!(
            files.put("sql/q.sql", b"SELECT 3", Conflict::Skip).unwrap(),
            None
        );
        assert!(
            matches!(files.put("sql/q.sql", b"x", Conflict::Error), Err(FilesError::Exists(p)) if p == "/sql/q.sql")
        );
        assert_eq!(files.get("/sql/q.sql", None).unwrap(), b"SELECT 2");
        assert_eq!(files.get("/sql/q.sql", Some(1)).unwrap(), b"SELECT 1");
        assert!(
            files
                .get("/sql/q.sql", Some(3))
                .unwrap_err()
                .to_string()
                .contains("no revision 3 (it has 2)")
        );
        assert_eq!(files.revisions("sql/q.sql").unwrap(), [1, 2]);
        files
            .put("main.py", b"print(1)", Conflict::Overwrite)
            .unwrap();
        let listed = files.list("").unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|a| (a.file_name.as_str(), a.kind))
                .collect::<Vec<_>>(),
            [("sql", FileKind::Directory), ("main.py", FileKind::File)]
        );
        assert_eq!(files.stats("main.py").unwrap().size, 8);
        assert_eq!(files.all().unwrap(), ["main.py", "sql/q.sql"]);
        files.rename("sql", "queries").unwrap();
        assert_eq!(files.get("queries/q.sql", Some(1)).unwrap(), b"SELECT 1");
        assert!(files.delete("/queries/q.sql").unwrap());
        assert!(!files.delete("/queries/q.sql").unwrap());
        assert!(matches!(
            files.get("queries/q.sql", None),
            Err(FilesError::NotFound(_))
        ));
        // Written again, the history goes on.
        assert_eq!(
            files
                .put("queries/q.sql", b"SELECT 4", Conflict::Error)
                .unwrap(),
            Some(3)
        );
    }

    #[test]
    fn paths_that_could_leave_the_namespace_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        for bad in ["../x", "a/../../x", "a//b", "a\\b", "%2e%2e/x", "./a"] {
            assert!(
                matches!(
                    files.put(bad, b"x", Conflict::Overwrite),
                    Err(FilesError::BadPath(_))
                ),
                "{bad}"
            );
        }
        assert!(NamespaceFiles::new(dir.path(), "../etc").is_err());
        #[cfg(unix)]
        {
            std::fs::create_dir_all(dir.path().join("company.team/_files")).unwrap();
            std::os::unix::fs::symlink("/etc", dir.path().join("company.team/_files/etc")).unwrap();
            assert!(matches!(
                files.get("etc/passwd", None),
                Err(FilesError::BadPath(_))
            ));
        }
    }

    #[test]
    fn patterns_match_as_kestras_do() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        for path in [
            "main.py",
            "scripts/clean.py",
            "scripts/deep/load.py",
            "sql/q.sql",
        ] {
            files.put(path, b"x", Conflict::Overwrite).unwrap();
        }
        let pick = |include: &[&str], exclude: &[&str]| {
            files
                .matching(
                    &include.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    &exclude.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                )
                .unwrap()
        };
        assert_eq!(pick(&[], &[]).len(), 4);
        assert_eq!(
            pick(&["*.py"], &[]),
            ["main.py"],
            "a star stays in its folder"
        );
        assert_eq!(
            pick(&["**.py"], &[]),
            ["main.py", "scripts/clean.py", "scripts/deep/load.py"]
        );
        assert_eq!(pick(&["scripts/*"], &[]), ["scripts/clean.py"]);
        assert_eq!(
            pick(&["/scripts/**"], &["**/deep/**"]),
            ["scripts/clean.py"]
        );
        assert_eq!(pick(&[], &["**.py"]), ["sql/q.sql"]);
    }
}
