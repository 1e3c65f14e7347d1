//! Namespace secrets and the key that seals them (and SECRET inputs).
//!
//! Values are sealed by [`SecretKey`] before they reach SQLite, so neither
//! the database file nor its WAL ever holds one in clear. The key is checked
//! at open against `secret_meta.key_check`: a wrong key is an error then,
//! never an empty secret later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::WritePool as _;
use super::{Store, StoreError, now_ms};
use crate::ids::{ExecutionId, Namespace, SecretName};
use crate::secret::Secret;
use crate::secret_key::{KEY_FILE, KeyError, NEW_KEY_FILE, SecretKey};

/// How many sealed values the database holds (on either backend).
macro_rules! encrypted_rows {
    ($executor:expr) => {
        sqlx::query_scalar::<_, i64>("SELECT (SELECT COUNT(*) FROM secrets) + (SELECT COUNT(*) FROM execution_secrets WHERE sealed IS NOT NULL)")
            .fetch_one($executor)
            .await
    };
}

/// The count of changes to the secrets. SQLite keeps it in `value` (a
/// column of any type there); PostgreSQL in `number`.
macro_rules! generation {
    ($executor:expr, $d:ident) => {
        sqlx::query_scalar::<_, i64>(match $d {
            super::Dialect::Sqlite => "SELECT value FROM secret_meta WHERE name = $1",
            super::Dialect::Postgres => "SELECT number FROM secret_meta WHERE name = $1",
        })
        .bind(GENERATION)
        .fetch_optional($executor)
        .await
        .map(|value| value.unwrap_or(0))
    };
}

macro_rules! bump_generation {
    ($tx:ident, $d:ident) => {
        sqlx::query(match $d {
            super::Dialect::Sqlite => "INSERT INTO secret_meta (name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
            super::Dialect::Postgres => {
                "INSERT INTO secret_meta (name, number) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET number = secret_meta.number + 1"
            }
        })
        .bind(GENERATION)
        .execute(&mut *$tx)
        .await
    };
}

/// Writes the key check: a known text sealed with the key.
macro_rules! set_key_check {
    ($tx:ident, $key:expr) => {
        sqlx::query("INSERT INTO secret_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .bind(KEY_CHECK)
            .bind($key.seal(KEY_CHECK.as_bytes(), KEY_CHECK_TEXT))
            .execute(&mut *$tx)
            .await
    };
}

/// The largest secret value, in bytes.
pub const MAX_SECRET_VALUE: usize = 64 * 1024;

const KEY_CHECK: &str = "key_check";
const KEY_CHECK_TEXT: &[u8] = b"mortar secret key check";
const GENERATION: &str = "generation";

/// Where the store's key comes from.
#[derive(Debug, Clone)]
pub enum KeyChoice {
    /// The data dir's key file (`secret.key`), created at the first open.
    File,
    /// A key from elsewhere; `from` names it in errors (the server gives
    /// `MORTAR_SECRET_KEY`).
    Given { key: SecretKey, from: String },
}

/// Why the store's key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyProblem {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the secret key from {from} does not decrypt the secrets of {database}: give the key they were written with \
         (MORTAR_SECRET_KEY, or the data dir's secret.key)"
    )]
    Wrong { from: String, database: PathBuf },
    #[error(
        "{database} holds encrypted secrets but its key file {key_file} is missing: restore that file from a backup, \
         or set MORTAR_SECRET_KEY to the key the secrets were written with"
    )]
    MissingFile {
        database: PathBuf,
        key_file: PathBuf,
    },
}

/// A namespace secret as lists show it: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEntry {
    pub namespace: Namespace,
    pub name: SecretName,
    /// Who set it, as the caller said.
    pub set_by: String,
    /// When, in Unix milliseconds.
    pub updated_at: i64,
}

/// Every namespace secret, decrypted, and the generation they are at.
pub(crate) struct SecretValues {
    pub generation: i64,
    pub values: Vec<(Namespace, SecretName, Secret)>,
}

/// What a rotation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    pub secrets: usize,
    pub execution_secrets: usize,
}

impl Store {
    /// Sets a namespace secret (inserts or replaces it), sealed with the
    /// key; `set_by` is the user who set it.
    pub async fn set_secret(
        &self,
        namespace: &Namespace,
        name: &SecretName,
        value: &Secret,
        set_by: &str,
    ) -> Result<(), StoreError> {
        check_namespace(namespace)?;
        if value.expose().len() > MAX_SECRET_VALUE {
            return Err(StoreError::Invalid(format!(
                "the value of secret {name} is {} bytes; at most {MAX_SECRET_VALUE}",
                value.expose().len()
            )));
        }
        let sealed = self
            .key()
            .seal(&secret_aad(namespace, name), value.expose().as_bytes());
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            sqlx::query(
            "INSERT INTO secrets (namespace, name, value, set_by, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (namespace, name) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, updated_at = excluded.updated_at",
        )
        .bind(namespace.as_str())
        .bind(name.as_str())
        .bind(sealed)
        .bind(set_by)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
            bump_generation!(tx, d)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Deletes a namespace secret; false if there was none.
    pub async fn delete_secret(
        &self,
        namespace: &Namespace,
        name: &SecretName,
    ) -> Result<bool, StoreError> {
        check_namespace(namespace)?;
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let deleted = sqlx::query("DELETE FROM secrets WHERE namespace = $1 AND name = $2")
                .bind(namespace.as_str())
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if deleted {
                bump_generation!(tx, d)?;
            }
            tx.commit().await?;
            Ok(deleted)
        })
    }

    /// The secrets of one namespace (not its parents'), by name, without
    /// their values.
    pub async fn list_secrets(
        &self,
        namespace: &Namespace,
    ) -> Result<Vec<SecretEntry>, StoreError> {
        check_namespace(namespace)?;
        let rows: Vec<(String, String, i64)> = with_pool!(&self.pool, |pool, d| sqlx::query_as(
            "SELECT name, set_by, updated_at FROM secrets WHERE namespace = $1 ORDER BY name"
        )
        .bind(namespace.as_str())
        .fetch_all(pool)
        .await)?;
        rows.into_iter()
            .map(|(name, set_by, updated_at)| {
                let name = SecretName::parse(&name).map_err(StoreError::Corrupt)?;
                Ok(SecretEntry {
                    namespace: namespace.clone(),
                    name,
                    set_by,
                    updated_at,
                })
            })
            .collect()
    }

    /// Counts the changes to namespace secrets, by any process on this
    /// database: one read of one row.
    pub async fn secrets_generation(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| generation!(pool, d))?)
    }

    /// Every namespace secret, decrypted, read in one transaction with the
    /// generation. For the executor's [`crate::secret_store::SecretStore`]
    /// only: no API returns values.
    pub(crate) async fn secret_values(&self) -> Result<SecretValues, StoreError> {
        let key = self.key();
        let (generation, rows) = with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.begin().await?;
            let generation = generation!(&mut *tx, d)?;
            let rows: Vec<(String, String, Vec<u8>)> =
                sqlx::query_as("SELECT namespace, name, value FROM secrets")
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            (generation, rows)
        });
        let mut values = Vec::with_capacity(rows.len());
        for (namespace, name, sealed) in rows {
            let namespace = Namespace::new(namespace);
            let name = SecretName::parse(&name).map_err(StoreError::Corrupt)?;
            let plain = key
                .open(&secret_aad(&namespace, &name), &sealed)
                .map_err(|_| {
                    StoreError::Corrupt(format!(
                        "secret {name} of {namespace} does not decrypt with this store's key"
                    ))
                })?;
            let text = String::from_utf8(plain).map_err(|_| {
                StoreError::Corrupt(format!("secret {name} of {namespace} is not UTF-8"))
            })?;
            values.push((namespace, name, Secret::new(text)));
        }
        Ok(SecretValues { generation, values })
    }

    /// Re-encrypts every namespace secret, every execution's SECRET inputs
    /// and the key check with `new`, in one transaction, and uses `new`
    /// from then on. With a key file, the new key is first written beside
    /// it (`secret.key.new`), then the database changes, then the file is
    /// renamed over `secret.key`: a crash between the two leaves both keys
    /// on disk and the next open picks the one that works.
    ///
    /// Another process holding the old key (a running server) cannot read
    /// what follows: rotate with the server stopped.
    pub async fn rotate_key(&self, new: SecretKey) -> Result<Rotated, StoreError> {
        let old = self.key();
        let staged = match &self.key_file {
            Some(path) => {
                let staged = path.with_file_name(NEW_KEY_FILE);
                new.write_file(&staged).map_err(KeyProblem::from)?;
                Some((staged, path.clone()))
            }
            None => None,
        };
        let (rows, inputs) = with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let rows: Vec<(String, String, Vec<u8>)> =
                sqlx::query_as(locked!(d, "SELECT namespace, name, value FROM secrets"))
                    .fetch_all(&mut *tx)
                    .await?;
            for (namespace, name, sealed) in &rows {
                let aad = secret_aad_raw(namespace, name);
                let plain = old.open(&aad, sealed).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "secret {name} of {namespace} does not decrypt with the current key"
                    ))
                })?;
                sqlx::query("UPDATE secrets SET value = $1 WHERE namespace = $2 AND name = $3")
                    .bind(new.seal(&aad, &plain))
                    .bind(namespace)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            let inputs: Vec<(String, Vec<u8>)> = sqlx::query_as(
                "SELECT execution_id, sealed FROM execution_secrets WHERE sealed IS NOT NULL",
            )
            .fetch_all(&mut *tx)
            .await?;
            for (id, sealed) in &inputs {
                let aad = execution_aad(id);
                let plain = old.open(&aad, sealed).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "the SECRET inputs of execution {id} do not decrypt with the current key"
                    ))
                })?;
                sqlx::query("UPDATE execution_secrets SET sealed = $1 WHERE execution_id = $2")
                    .bind(new.seal(&aad, &plain))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            set_key_check!(tx, new)?;
            bump_generation!(tx, d)?;
            tx.commit().await?;
            (rows, inputs)
        });
        if let Some((staged, path)) = staged {
            std::fs::rename(&staged, &path).map_err(|source| {
                KeyProblem::from(KeyError::Write {
                    path: path.clone(),
                    source,
                })
            })?;
        }
        if let Ok(mut key) = self.key.write() {
            *key = Arc::new(new);
        }
        Ok(Rotated {
            secrets: rows.len(),
            execution_secrets: inputs.len(),
        })
    }

    /// Where the key came from: the key file's path, if it is one.
    pub fn key_file(&self) -> Option<&Path> {
        self.key_file.as_deref()
    }

    pub(crate) fn key(&self) -> Arc<SecretKey> {
        // A poisoned lock still holds a whole key: a panic cannot leave
        // half of an `Arc` swap.
        match self.key.read() {
            Ok(key) => key.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Seals an execution's SECRET inputs for `execution_secrets`.
    pub(crate) fn seal_execution_secrets(
        &self,
        id: &ExecutionId,
        secrets: &serde_json::Map<String, Value>,
    ) -> Vec<u8> {
        let json = serde_json::to_vec(secrets).unwrap_or_default();
        self.key().seal(&execution_aad(id.as_str()), &json)
    }

    pub(crate) fn open_execution_secrets(
        &self,
        id: &ExecutionId,
        sealed: &[u8],
    ) -> Result<serde_json::Map<String, Value>, StoreError> {
        let plain = self
            .key()
            .open(&execution_aad(id.as_str()), sealed)
            .map_err(|_| {
                StoreError::Corrupt(format!(
                    "the SECRET inputs of execution {id} do not decrypt with this store's key"
                ))
            })?;
        serde_json::from_slice(&plain).map_err(|e| {
            StoreError::Corrupt(format!(
                "bad JSON in the SECRET inputs of execution {id}: {e}"
            ))
        })
    }
}

/// Finds the key (given, in the key file, or new), checks it against the
/// database and seals what an older Mortar left in clear. Returns the key
/// and, when it lives there, the key file's path.
pub(super) async fn unlock(
    pools: &super::Pool,
    data_dir: Option<&Path>,
    database: &Path,
    choice: KeyChoice,
) -> Result<(SecretKey, Option<PathBuf>), StoreError> {
    let database = database.to_owned();
    let check: Option<Vec<u8>> = with_pool!(pools, |pool, d| {
        sqlx::query_scalar("SELECT value FROM secret_meta WHERE name = $1")
            .bind(KEY_CHECK)
            .fetch_optional(pool)
            .await?
    });
    let opens = |key: &SecretKey| {
        check
            .as_ref()
            .is_none_or(|check| key.open(KEY_CHECK.as_bytes(), check).is_ok())
    };
    let (key, from, key_file) = match (choice, data_dir) {
        (KeyChoice::Given { key, from }, _) => (key, from, None),
        (KeyChoice::File, None) => (
            SecretKey::generate(),
            "a key made for this in-memory store".to_owned(),
            None,
        ),
        (KeyChoice::File, Some(dir)) => {
            let path = dir.join(KEY_FILE);
            let staged = dir.join(NEW_KEY_FILE);
            let key = match SecretKey::read_file(&path).map_err(KeyProblem::from)? {
                Some(key) if opens(&key) => key,
                found => match SecretKey::read_file(&staged).map_err(KeyProblem::from)? {
                    // A rotation committed but stopped before renaming its key.
                    Some(new) if check.is_some() && opens(&new) => {
                        std::fs::rename(&staged, &path).map_err(|source| {
                            KeyProblem::from(KeyError::Write {
                                path: path.clone(),
                                source,
                            })
                        })?;
                        new
                    }
                    _ => match found {
                        Some(key) => key,
                        None if check.is_some()
                            && with_pool!(pools, |pool, d| encrypted_rows!(pool))? > 0 =>
                        {
                            return Err(KeyProblem::MissingFile {
                                database,
                                key_file: path,
                            }
                            .into());
                        }
                        None => create_key_file(&path)?,
                    },
                },
            };
            (key, path.display().to_string(), Some(path))
        }
    };
    let sealed_now = with_pool!(pools, |pool, d| {
        let mut tx = pool.write().await?;
        let check: Option<Vec<u8>> =
            sqlx::query_scalar(locked!(d, "SELECT value FROM secret_meta WHERE name = $1"))
                .bind(KEY_CHECK)
                .fetch_optional(&mut *tx)
                .await?;
        let matches = check
            .as_ref()
            .is_some_and(|check| key.open(KEY_CHECK.as_bytes(), check).is_ok());
        if !matches {
            // A key that does not match is refused while anything is sealed
            // with the other one; with nothing sealed it simply takes over.
            if check.is_some() && encrypted_rows!(&mut *tx)? > 0 {
                return Err(KeyProblem::Wrong { from, database }.into());
            }
            set_key_check!(tx, key)?;
        }
        let plain: Vec<(String, String)> = sqlx::query_as(
            "SELECT execution_id, inputs FROM execution_secrets WHERE sealed IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, inputs) in &plain {
            sqlx::query(
                "UPDATE execution_secrets SET sealed = $1, inputs = '' WHERE execution_id = $2",
            )
            .bind(key.seal(&execution_aad(id), inputs.as_bytes()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        plain.len()
    });
    if sealed_now > 0
        && data_dir.is_some()
        && let super::Pool::Sqlite(pool) = pools
    {
        // Move the changed pages into the database file and empty the WAL,
        // so the values in clear leave it now (secure_delete zeroes them
        // in the pages).
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
        tracing::info!(
            executions = sealed_now,
            "sealed the SECRET inputs stored in clear by an older Mortar"
        );
    }
    Ok((key, key_file))
}

/// A new key in a new key file. Two processes opening a new data dir at
/// once agree on one key: the file appears whole, by a hard link that fails
/// when it exists, and the loser reads the winner's.
fn create_key_file(path: &Path) -> Result<SecretKey, StoreError> {
    let key = SecretKey::generate();
    let temporary = path.with_file_name(format!("{KEY_FILE}.{}.tmp", std::process::id()));
    key.write_file(&temporary).map_err(KeyProblem::from)?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(key),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            SecretKey::read_file(path)
                .map_err(KeyProblem::from)?
                .ok_or_else(|| StoreError::Corrupt(format!("{} vanished", path.display())))
        }
        Err(source) => Err(KeyProblem::from(KeyError::Write {
            path: path.to_owned(),
            source,
        })
        .into()),
    }
}

fn check_namespace(namespace: &Namespace) -> Result<(), StoreError> {
    crate::ids::check_namespace(namespace.as_str()).map_err(StoreError::Invalid)
}

/// What a namespace secret's ciphertext is bound to: its namespace and name
/// (a NUL cannot be in either).
fn secret_aad(namespace: &Namespace, name: &SecretName) -> Vec<u8> {
    secret_aad_raw(namespace.as_str(), name.as_str())
}

fn secret_aad_raw(namespace: &str, name: &str) -> Vec<u8> {
    format!("secret\0{namespace}\0{name}").into_bytes()
}

fn execution_aad(id: &str) -> Vec<u8> {
    format!("execution_secrets\0{id}").into_bytes()
}
