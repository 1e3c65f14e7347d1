//! What the engine's integration tests share: a durable store in a temp
//! dir with its log pipeline and services, and saving a flow.

// Each test file uses part of this.
#![allow(dead_code)]

pub mod databricks;
pub mod postgres;

use std::sync::Arc;

use engine::executor::Executor;
use engine::logs::LogPipeline;
use engine::storage::Storage;
use engine::store::{FlowSource, Store};
use engine::task::{Runners, Services};

pub struct Harness {
    pub store: Store,
    pub services: Services,
    _pipeline: LogPipeline,
    _dir: tempfile::TempDir,
}

pub async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::scratch_in(dir.path()).await.unwrap();
    let (pipeline, _writer) = LogPipeline::start(store.clone());
    let services = Services {
        store: store.clone(),
        storage: Storage::new(dir.path().join("storage")),
        logs: pipeline.sender(),
    };
    Harness {
        store,
        services,
        _pipeline: pipeline,
        _dir: dir,
    }
}

impl Harness {
    /// Where the store (and internal storage) keep their files.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// An executor of the core tasks, with no secrets.
    pub fn executor(&self) -> Executor {
        Executor::new(
            self.services.clone(),
            Runners::core(),
            Arc::new(|_: &str| None),
        )
    }
}

/// Saves a flow, which must pass the checks of a save through the API.
pub async fn save(store: &Store, source: &str) {
    let header = engine::header::checked(source).unwrap_or_else(|invalid| panic!("{invalid}"));
    store
        .save_flow(&FlowSource {
            namespace: header.namespace,
            id: header.id,
            description: None,
            source: source.to_owned(),
        })
        .await
        .unwrap();
}
