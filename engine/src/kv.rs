//! Kestra's KV store: values by namespace and key, with an optional expiry.
//!
//! As in Kestra, the values live in internal storage, one file per key under
//! the namespace (`<namespace>/_kv/<key>.json` below the storage root), so
//! whatever keeps internal storage keeps them too, and `kv()` in an
//! expression reads one without waiting on the database. A file is written
//! whole under a temporary name and renamed, so a reader never sees half a
//! value. Values are small (a setting, a cursor, a date); the file is read
//! whole.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The types Kestra gives a KV value (`KVType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KvType {
    String,
    Number,
    Boolean,
    Datetime,
    Date,
    Duration,
    Json,
}

impl KvType {
    pub const NAMES: &[&str] = crate::task::core::kv::KV_TYPE_NAMES;

    pub fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(Value::String(name.to_ascii_uppercase())).ok()
    }

    /// The type of a value set without one.
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Number(_) => Self::Number,
            Value::Bool(_) => Self::Boolean,
            Value::Array(_) | Value::Object(_) => Self::Json,
            _ => Self::String,
        }
    }

    /// Kestra's kv.Set with `kvType`: text becomes a value of the type.
    pub fn convert(self, value: Value) -> Result<Value, String> {
        let Value::String(text) = value else {
            return Ok(value);
        };
        match self {
            Self::String => Ok(Value::String(text)),
            Self::Number => match serde_json::from_str::<Value>(text.trim()) {
                Ok(number @ Value::Number(_)) => Ok(number),
                _ => Err(format!("{text:?} is not a number")),
            },
            Self::Boolean => Ok(Value::Bool(text.trim().eq_ignore_ascii_case("true"))),
            Self::Datetime | Self::Date => {
                let valid = text.parse::<jiff::Timestamp>().is_ok()
                    || (self == Self::Date && text.parse::<jiff::civil::Date>().is_ok());
                if valid {
                    Ok(Value::String(text))
                } else {
                    Err(format!(
                        "{text:?} is not an ISO-8601 {}",
                        if self == Self::Date {
                            "date"
                        } else {
                            "instant"
                        }
                    ))
                }
            }
            Self::Duration => match crate::task::core::parse_duration(&text) {
                Ok(_) => Ok(Value::String(text)),
                Err(message) => Err(message),
            },
            Self::Json => serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}")),
        }
    }
}

/// One key with its value and dates (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KvEntry {
    pub key: String,
    pub value: Value,
    #[serde(rename = "type")]
    pub kind: KvType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub creation_date: i64,
    pub update_date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<i64>,
}

impl KvEntry {
    pub fn expired(&self, now: i64) -> bool {
        self.expiration_date.is_some_and(|at| at <= now)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error(
        "invalid key {0:?}: a key starts with a letter or digit and holds letters, digits, `.`, `_` and `-`"
    )]
    BadKey(String),
    #[error("invalid namespace {0:?}: letters, digits, `_` and `-`, in parts separated by dots")]
    BadNamespace(String),
    #[error("the key {key:?} already exists in the namespace {namespace} and `overwrite` is false")]
    Exists { namespace: String, key: String },
    #[error("the KV store failed on {key:?}: {source}")]
    Io { key: String, source: std::io::Error },
    #[error("the stored value of {key:?} is damaged: {source}")]
    Damaged {
        key: String,
        source: serde_json::Error,
    },
}

/// The KV pairs of one namespace.
#[derive(Debug, Clone)]
pub struct Kv {
    dir: PathBuf,
    namespace: String,
}

/// Kestra's key pattern (KVStore.validateKey).
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && key.len() <= 255
}

impl Kv {
    /// The KV store of `namespace` below a storage root. The namespace
    /// may come from a rendered property: it is checked before it becomes
    /// a path.
    pub fn new(storage_root: &Path, namespace: &str) -> Result<Self, KvError> {
        if !crate::flow::model::valid_namespace(namespace) {
            return Err(KvError::BadNamespace(namespace.to_owned()));
        }
        Ok(Self {
            dir: storage_root.join(namespace).join("_kv"),
            namespace: namespace.to_owned(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, KvError> {
        if !valid_key(key) {
            return Err(KvError::BadKey(key.to_owned()));
        }
        Ok(self.dir.join(format!("{key}.json")))
    }

    fn io(key: &str) -> impl Fn(std::io::Error) -> KvError + '_ {
        move |source| KvError::Io {
            key: key.to_owned(),
            source,
        }
    }

    /// The entry of a key, unless it is missing or expired.
    pub fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        let path = self.path(key)?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io(key)(e)),
        };
        let entry: KvEntry = serde_json::from_slice(&bytes).map_err(|source| KvError::Damaged {
            key: key.to_owned(),
            source,
        })?;
        Ok((!entry.expired(now())).then_some(entry))
    }

    /// Sets a key; `ttl` makes it expire.
    pub fn put(
        &self,
        key: &str,
        value: Value,
        kind: Option<KvType>,
        ttl: Option<std::time::Duration>,
        overwrite: bool,
        description: Option<String>,
    ) -> Result<KvEntry, KvError> {
        let path = self.path(key)?;
        let existing = self.get(key)?;
        if existing.is_some() && !overwrite {
            return Err(KvError::Exists {
                namespace: self.namespace.clone(),
                key: key.to_owned(),
            });
        }
        let now = now();
        let entry = KvEntry {
            key: key.to_owned(),
            kind: kind.unwrap_or_else(|| KvType::of(&value)),
            value,
            description,
            creation_date: existing.map_or(now, |e| e.creation_date),
            update_date: now,
            expiration_date: ttl
                .map(|t| now.saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX))),
        };
        std::fs::create_dir_all(&self.dir).map_err(Self::io(key))?;
        let partial = self
            .dir
            .join(format!(".{key}.{}.partial", std::process::id()));
        std::fs::write(
            &partial,
            serde_json::to_vec(&entry).expect("an entry serializes"),
        )
        .map_err(Self::io(key))?;
        std::fs::rename(&partial, &path).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Self::io(key)(e)
        })?;
        Ok(entry)
    }

    /// Removes a key; whether it was there.
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        let path = self.path(key)?;
        let was_live = self.get(key)?.is_some();
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(was_live),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Self::io(key)(e)),
        }
    }

    /// Every live key, sorted.
    pub fn list(&self) -> Result<Vec<KvEntry>, KvError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|e| !e.expired(now()))
            .collect())
    }

    /// Every key, expired ones included (for purging), sorted.
    pub fn entries(&self) -> Result<Vec<KvEntry>, KvError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::io("")(e)),
        };
        let mut out: Vec<KvEntry> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(key) = name.strip_suffix(".json").filter(|k| valid_key(k)) {
                let bytes = std::fs::read(entry.path()).map_err(Self::io(key))?;
                out.push(
                    serde_json::from_slice(&bytes).map_err(|source| KvError::Damaged {
                        key: key.to_owned(),
                        source,
                    })?,
                );
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// The namespaces that have a KV store below a storage root.
pub fn namespaces(storage_root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(storage_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("_kv").is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

fn now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(dir: &Path) -> Kv {
        Kv::new(dir, "company.team").unwrap()
    }

    #[test]
    fn set_get_list_delete_and_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let kv = kv(dir.path());
        assert_eq!(kv.get("a").unwrap(), None);
        kv.put("a", Value::from(1), None, None, true, None).unwrap();
        kv.put(
            "b.c",
            Value::from("x"),
            None,
            None,
            true,
            Some("a note".into()),
        )
        .unwrap();
        assert_eq!(kv.get("a").unwrap().unwrap().kind, KvType::Number);
        assert!(matches!(
            kv.put("a", Value::from(2), None, None, false, None),
            Err(KvError::Exists { .. })
        ));
        kv.put("a", Value::from(2), None, None, true, None).unwrap();
        assert_eq!(kv.get("a").unwrap().unwrap().value, 2);
        assert_eq!(
            kv.list()
                .unwrap()
                .iter()
                .map(|e| e.key.as_str())
                .collect::<Vec<_>>(),
            ["a", "b.c"]
        );
        assert!(kv.delete("a").unwrap());
        assert!(!kv.delete("a").unwrap());
        assert!(dir.path().join("company.team/_kv/b.c.json").exists());
    }

    #[test]
    fn expired_keys_are_gone_and_bad_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kv = kv(dir.path());
        kv.put(
            "short",
            Value::from("x"),
            None,
            Some(std::time::Duration::ZERO),
            true,
            None,
        )
        .unwrap();
        assert_eq!(kv.get("short").unwrap(), None);
        assert!(kv.list().unwrap().is_empty());
        for bad in ["", "../x", ".hidden", "a/b", "a b"] {
            assert!(matches!(kv.get(bad), Err(KvError::BadKey(_))), "{bad}");
        }
        for bad in ["", "..", "a..b", "../etc", "a/b", ".a"] {
            assert!(
                matches!(Kv::new(dir.path(), bad), Err(KvError::BadNamespace(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn kv_types_convert_text_as_kestra() {
        assert_eq!(KvType::Number.convert(Value::from("42")).unwrap(), 42);
        assert!(KvType::Number.convert(Value::from("x")).is_err());
        assert_eq!(KvType::Boolean.convert(Value::from("true")).unwrap(), true);
        assert_eq!(
            KvType::Json.convert(Value::from("{\"a\": [1]}")).unwrap(),
            serde_json::json!({"a": [1]})
        );
        assert!(
            KvType::Datetime
                .convert(Value::from("2026-12-02T10:00:00Z"))
                .is_ok()
        );
        assert!(KvType::Date.convert(Value::from("2026-12-02")).is_ok());
        assert!(KvType::Duration.convert(Value::from("PT1H")).is_ok());
        assert!(KvType::Duration.convert(Value::from("an hour")).is_err());
        assert_eq!(KvType::parse("json"), Some(KvType::Json));
        for name in KvType::NAMES {
            assert!(KvType::parse(name).is_some(), "{name}");
        }
    }
}
