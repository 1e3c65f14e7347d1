//! The file tree behind DBFS and Unity Catalog volumes: one namespace of
//! absolute paths (`/mortar/x.csv`, `/Volumes/main/default/files/y.csv`), so
//! SQL's `read_files` sees what either API uploaded.
//!
//! Bytes live in memory (`Bytes`, so reads share them without copying).
//! With a data directory, every change is mirrored to disk and the tree is
//! loaded from it at start, so a restarted emulator keeps its files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use bytes::Bytes;

use crate::EmulatorError;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Dir { mtime: i64 },
    File { data: Bytes, mtime: i64 },
}

impl Node {
    pub fn is_dir(&self) -> bool {
        matches!(self, Node::Dir { .. })
    }
    pub fn size(&self) -> usize {
        match self {
            Node::Dir { .. } => 0,
            Node::File { data, .. } => data.len(),
        }
    }
    pub fn mtime(&self) -> i64 {
        match self {
            Node::Dir { mtime } | Node::File { mtime, .. } => *mtime,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FsError {
    #[error("No file or directory exists on path {0}.")]
    NotFound(String),
    #[error("A file or directory already exists at the input path {0}.")]
    AlreadyExists(String),
    #[error("{0} is a directory")]
    IsDir(String),
    #[error("Directory {0} is not empty")]
    NotEmpty(String),
    #[error("Invalid path: {0}")]
    Invalid(String),
}

pub(crate) struct Fs {
    tree: RwLock<BTreeMap<String, Node>>,
    mirror: Option<Mirror>,
}

/// Changes to copy to the data directory, applied in order by one thread
/// (so a write followed by a delete never lands the other way round) and
/// off the request path, so a slow disk never stalls a request.
struct Mirror {
    root: PathBuf,
    ops: std::sync::Mutex<std::sync::mpsc::Sender<Op>>,
}

enum Op {
    Write(PathBuf, Bytes),
    Mkdir(PathBuf),
    Remove(PathBuf),
}

fn apply(op: Op) -> std::io::Result<()> {
    match op {
        Op::Write(path, data) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &data)
        }
        Op::Mkdir(path) => std::fs::create_dir_all(&path),
        Op::Remove(path) => match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(_) => Ok(()),
        },
    }
}

/// `dbfs:/a//b/` -> `/a/b`. Refuses relative paths and `..`.
pub(crate) fn normalize(path: &str) -> Result<String, FsError> {
    let p = path.trim();
    let p = p.strip_prefix("dbfs:").unwrap_or(p);
    if !p.starts_with('/') {
        return Err(FsError::Invalid(format!("Path must be absolute: {path}")));
    }
    let mut out = String::new();
    for part in p.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if part == ".." {
            return Err(FsError::Invalid(format!(
                "Path must not contain '..': {path}"
            )));
        }
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn parents(p: &str) -> impl Iterator<Item = &str> {
    p.char_indices()
        .filter(|(i, c)| *c == '/' && *i > 0)
        .map(move |(i, _)| &p[..i])
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Fs {
    pub fn open(mirror: Option<PathBuf>) -> Result<Self, EmulatorError> {
        let mut tree = BTreeMap::new();
        let Some(dir) = mirror else {
            return Ok(Self {
                tree: RwLock::new(tree),
                mirror: None,
            });
        };
        let err = |source| EmulatorError::DataDir {
            path: dir.clone(),
            source,
        };
        // Start-up only, before serving: plain blocking IO is fine here.
        std::fs::create_dir_all(&dir).map_err(err)?;
        load(&dir, &dir, &mut tree).map_err(err)?;
        let (tx, rx) = std::sync::mpsc::channel::<Op>();
        std::thread::Builder::new()
            .name("emulator-data-dir".into())
            .spawn(move || {
                // Ends when the Fs, and so the sender, is dropped.
                for op in rx {
                    if let Err(e) = apply(op) {
                        tracing::warn!(error = %e, "could not mirror a change to the data directory");
                    }
                }
            })
            .map_err(err)?;
        let mirror = Mirror {
            root: dir.clone(),
            ops: std::sync::Mutex::new(tx),
        };
        Ok(Self {
            tree: RwLock::new(tree),
            mirror: Some(mirror),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Node>> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Node>> {
        self.tree.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stat(&self, p: &str) -> Option<Node> {
        if p == "/" {
            return Some(Node::Dir { mtime: 0 });
        }
        self.read().get(p).cloned()
    }

    pub fn read_file(&self, p: &str) -> Result<(Bytes, i64), FsError> {
        match self.stat(p) {
            Some(Node::File { data, mtime }) => Ok((data, mtime)),
            Some(Node::Dir { .. }) => Err(FsError::IsDir(p.to_owned())),
            None => Err(FsError::NotFound(p.to_owned())),
        }
    }

    fn mkdirs_locked(tree: &mut BTreeMap<String, Node>, p: &str, now: i64) -> Result<(), FsError> {
        for dir in parents(p).chain(std::iter::once(p)) {
            match tree.get(dir) {
                Some(Node::File { .. }) => return Err(FsError::AlreadyExists(dir.to_owned())),
                Some(Node::Dir { .. }) => {}
                None => {
                    tree.insert(dir.to_owned(), Node::Dir { mtime: now });
                }
            }
        }
        Ok(())
    }

    pub fn mkdirs(&self, p: &str) -> Result<(), FsError> {
        if p == "/" {
            return Ok(());
        }
        Self::mkdirs_locked(&mut self.write(), p, now_ms())?;
        self.mirror_dir(p);
        Ok(())
    }

    /// Writes a whole file, creating its parent directories.
    pub fn write_file(&self, p: &str, data: Bytes, overwrite: bool) -> Result<(), FsError> {
        if p == "/" {
            return Err(FsError::IsDir(p.to_owned()));
        }
        let now = now_ms();
        {
            let mut tree = self.write();
            match tree.get(p) {
                Some(Node::Dir { .. }) => return Err(FsError::AlreadyExists(p.to_owned())),
                Some(Node::File { .. }) if !overwrite => {
                    return Err(FsError::AlreadyExists(p.to_owned()));
                }
                _ => {}
            }
            if let Some(parent) = parents(p).last() {
                Self::mkdirs_locked(&mut tree, parent, now)?;
            }
            tree.insert(
                p.to_owned(),
                Node::File {
                    data: data.clone(),
                    mtime: now,
                },
            );
        }
        self.mirror_file(p, &data);
        Ok(())
    }

    /// Checks that a file could be created at `p` (for DBFS create).
    pub fn check_create(&self, p: &str, overwrite: bool) -> Result<(), FsError> {
        let tree = self.read();
        match tree.get(p) {
            Some(Node::Dir { .. }) => Err(FsError::AlreadyExists(p.to_owned())),
            Some(Node::File { .. }) if !overwrite => Err(FsError::AlreadyExists(p.to_owned())),
            _ => match parents(p).find(|d| matches!(tree.get(*d), Some(Node::File { .. }))) {
                Some(f) => Err(FsError::AlreadyExists(f.to_owned())),
                None => Ok(()),
            },
        }
    }

    /// Direct children of a directory, as (path, node).
    pub fn list(&self, p: &str) -> Result<Vec<(String, Node)>, FsError> {
        match self.stat(p) {
            None => return Err(FsError::NotFound(p.to_owned())),
            Some(n @ Node::File { .. }) => return Ok(vec![(p.to_owned(), n)]),
            Some(Node::Dir { .. }) => {}
        }
        let prefix = if p == "/" {
            "/".to_owned()
        } else {
            format!("{p}/")
        };
        let tree = self.read();
        Ok(tree
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    pub fn is_empty_dir(&self, p: &str) -> bool {
        self.list(p).map(|l| l.is_empty()).unwrap_or(false)
    }

    /// Deletes a file or directory; a missing path is not an error.
    pub fn delete(&self, p: &str, recursive: bool) -> Result<(), FsError> {
        if p == "/" {
            return Err(FsError::Invalid("Cannot delete the root directory".into()));
        }
        {
            let mut tree = self.write();
            match tree.get(p) {
                None => return Ok(()),
                Some(Node::File { .. }) => {
                    tree.remove(p);
                }
                Some(Node::Dir { .. }) => {
                    let prefix = format!("{p}/");
                    let children: Vec<String> = tree
                        .range(prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(&prefix))
                        .map(|(k, _)| k.clone())
                        .collect();
                    if !children.is_empty() && !recursive {
                        return Err(FsError::NotEmpty(p.to_owned()));
                    }
                    for c in children {
                        tree.remove(&c);
                    }
                    tree.remove(p);
                }
            }
        }
        self.mirror_remove(p);
        Ok(())
    }

    pub fn rename(&self, src: &str, dst: &str) -> Result<(), FsError> {
        let now = now_ms();
        let moved: Vec<(String, Node)> = {
            let mut tree = self.write();
            if !tree.contains_key(src) {
                return Err(FsError::NotFound(src.to_owned()));
            }
            if tree.contains_key(dst) || dst == "/" {
                return Err(FsError::AlreadyExists(dst.to_owned()));
            }
            if dst.starts_with(&format!("{src}/")) {
                return Err(FsError::Invalid(format!("Cannot move {src} into itself")));
            }
            if let Some(parent) = parents(dst).last() {
                Self::mkdirs_locked(&mut tree, parent, now)?;
            }
            let prefix = format!("{src}/");
            let keys: Vec<String> = std::iter::once(src.to_owned())
                .chain(
                    tree.range(prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(&prefix))
                        .map(|(k, _)| k.clone()),
                )
                .collect();
            let mut moved = Vec::new();
            for k in keys {
                if let Some(node) = tree.remove(&k) {
                    let nk = format!("{dst}{}", &k[src.len()..]);
                    tree.insert(nk.clone(), node.clone());
                    moved.push((nk, node));
                }
            }
            moved
        };
        self.mirror_remove(src);
        for (k, n) in moved {
            match n {
                Node::Dir { .. } => self.mirror_dir(&k),
                Node::File { data, .. } => self.mirror_file(&k, &data),
            }
        }
        Ok(())
    }

    fn send(&self, p: &str, op: impl FnOnce(PathBuf) -> Op) {
        if let Some(m) = &self.mirror {
            let path = m.root.join(p.trim_start_matches('/'));
            let tx = m.ops.lock().unwrap_or_else(|e| e.into_inner());
            // The thread only stops with the Fs, so a send cannot fail here.
            let _ = tx.send(op(path));
        }
    }
    fn mirror_file(&self, p: &str, data: &Bytes) {
        self.send(p, |path| Op::Write(path, data.clone()));
    }
    fn mirror_dir(&self, p: &str) {
        self.send(p, Op::Mkdir);
    }
    fn mirror_remove(&self, p: &str) {
        self.send(p, Op::Remove);
    }
}

fn load(
    root: &std::path::Path,
    dir: &std::path::Path,
    tree: &mut BTreeMap<String, Node>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let key = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
        let mtime = entry
            .metadata()?
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        if entry.file_type()?.is_dir() {
            tree.insert(key, Node::Dir { mtime });
            load(root, &path, tree)?;
        } else {
            tree.insert(
                key,
                Node::File {
                    data: Bytes::from(std::fs::read(&path)?),
                    mtime,
                },
            );
        }
    }
    Ok(())
}
