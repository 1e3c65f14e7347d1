//! Namespace secrets as `secret('NAME')` reads them: decrypted in memory,
//! so that a render (synchronous) finds them without waiting, and kept
//! current by a generation number in the database.
//!
//! The executor calls [`SecretStore::refresh`] (async) before it renders a
//! task that may call `secret()`: one read of one row, and a reload of
//! every secret only when another process (`mortar secrets set` beside a
//! running server) or this one changed them. Changes made through this
//! object are seen at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::ids::{Namespace, SecretName};
use crate::secret::Secret;
use crate::store::{SecretEntry, Store, StoreError};

/// The namespace secrets of one store; cheap to clone, clones share.
#[derive(Clone)]
pub struct SecretStore {
    store: Store,
    cache: Arc<RwLock<Cache>>,
    /// One reload at a time: a burst of task renders after a change reads
    /// the secrets once.
    reload: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct Cache {
    /// `None` until the first load.
    generation: Option<i64>,
    values: HashMap<(String, String), Secret>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.cache.read().map(|c| c.values.len()).unwrap_or(0);
        f.debug_struct("SecretStore")
            .field("secrets", &count)
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// The secrets of `store`, loaded at the first [`SecretStore::refresh`].
    pub fn new(store: Store) -> Self {
        Self {
            store,
            cache: Default::default(),
            reload: Default::default(),
        }
    }

    /// The secrets of `store`, loaded now (so a value that does not decrypt
    /// is an error at start).
    pub async fn load(store: Store) -> Result<Self, StoreError> {
        let secrets = Self::new(store);
        secrets.refresh().await?;
        Ok(secrets)
    }

    /// Reloads the secrets if they changed since the last load.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let generation = self.store.secrets_generation().await?;
        if self.generation() == Some(generation) {
            return Ok(());
        }
        let _one = self.reload.lock().await;
        if self.generation() == Some(self.store.secrets_generation().await?) {
            return Ok(());
        }
        let loaded = self.store.secret_values().await?;
        let values = loaded
            .values
            .into_iter()
            .map(|(ns, name, value)| ((ns.as_str().to_owned(), name.as_str().to_owned()), value))
            .collect();
        if let Ok(mut cache) = self.cache.write() {
            *cache = Cache {
                generation: Some(loaded.generation),
                values,
            };
        }
        Ok(())
    }

    /// The value `secret(name)` has in an execution of `namespace`: the
    /// namespace's own secret, else its parent's (`a.b` for `a.b.c`), up
    /// to the top-level namespace.
    pub fn lookup(&self, namespace: &str, name: &str) -> Option<Secret> {
        let cache = self.cache.read().ok()?;
        let mut current = namespace;
        loop {
            if let Some(value) = cache.values.get(&(current.to_owned(), name.to_owned())) {
                return Some(value.clone());
            }
            current = &current[..current.rfind('.')?];
        }
    }

    /// Sets a secret (inserts or replaces it); `set_by` is the user.
    pub async fn set(
        &self,
        namespace: &Namespace,
        name: &SecretName,
        value: &Secret,
        set_by: &str,
    ) -> Result<(), StoreError> {
        self.store
            .set_secret(namespace, name, value, set_by)
            .await?;
        self.refresh().await
    }

    /// Deletes a secret; false if there was none.
    pub async fn delete(
        &self,
        namespace: &Namespace,
        name: &SecretName,
    ) -> Result<bool, StoreError> {
        let deleted = self.store.delete_secret(namespace, name).await?;
        self.refresh().await?;
        Ok(deleted)
    }

    /// The names of a namespace's own secrets, who set them and when;
    /// never their values.
    pub async fn list(&self, namespace: &Namespace) -> Result<Vec<SecretEntry>, StoreError> {
        self.store.list_secrets(namespace).await
    }

    fn generation(&self) -> Option<i64> {
        self.cache.read().ok().and_then(|c| c.generation)
    }
}
