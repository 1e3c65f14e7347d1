//! A map split into shards, each behind its own short-lived lock, so
//! thousands of concurrent pollers of different resources never queue on
//! one lock. Closures run under the lock and must not await (they cannot:
//! they are synchronous).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

const SHARDS: usize = 32;

pub(crate) struct Sharded<K, V> {
    hasher: RandomState,
    shards: Vec<RwLock<HashMap<K, V>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Sharded<K, V> {
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }
    fn shard(&self, k: &K) -> &RwLock<HashMap<K, V>> {
        let i = (self.hasher.hash_one(k) as usize) % SHARDS;
        &self.shards[i]
    }
    // A panic elsewhere while holding a shard must not take the emulator
    // down with it: the data is still consistent per operation.
    fn read(l: &RwLock<HashMap<K, V>>) -> RwLockReadGuard<'_, HashMap<K, V>> {
        l.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(l: &RwLock<HashMap<K, V>>) -> RwLockWriteGuard<'_, HashMap<K, V>> {
        l.write().unwrap_or_else(|e| e.into_inner())
    }
    pub fn get(&self, k: &K) -> Option<V> {
        Self::read(self.shard(k)).get(k).cloned()
    }
    pub fn read_with<R>(&self, k: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        Self::read(self.shard(k)).get(k).map(f)
    }
    pub fn update<R>(&self, k: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        Self::write(self.shard(k)).get_mut(k).map(f)
    }
    pub fn insert(&self, k: K, v: V) {
        Self::write(self.shard(&k)).insert(k, v);
    }
    pub fn remove(&self, k: &K) -> Option<V> {
        Self::write(self.shard(k)).remove(k)
    }
    /// Values for which `f` holds, without cloning the others.
    pub fn filter(&self, f: impl Fn(&V) -> bool) -> Vec<V> {
        let mut out = Vec::new();
        for s in &self.shards {
            out.extend(Self::read(s).values().filter(|v| f(v)).cloned());
        }
        out
    }
    pub fn for_each_mut(&self, f: impl Fn(&mut V)) {
        for s in &self.shards {
            Self::write(s).values_mut().for_each(&f);
        }
    }
    pub fn retain(&self, f: impl Fn(&V) -> bool) {
        for s in &self.shards {
            Self::write(s).retain(|_, v| f(v));
        }
    }
}
