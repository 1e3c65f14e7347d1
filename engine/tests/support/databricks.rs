//! A Databricks world for the engine's tests: an emulator on a free port,
//! a store, storage and an executor whose Databricks tasks talk to it.

use std::sync::Arc;
use std::time::Duration;

use emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use engine::databricks::{Auth, ClientOptions, Connection};
use engine::executor::{Executor, Launch};
use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::log::Level;
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::secret::Secret;
use engine::state::State;
use engine::storage::Storage;
use engine::store::{Store, TaskRunRecord};
use engine::task::databricks::Databricks;
use engine::task::{Runners, Services};
use serde_json::{Map, Value};

pub struct World {
    pub emulator: EmulatorHandle,
    pub store: Store,
    pub storage: Storage,
    pub executor: Executor,
    pub services: Services,
    pub databricks: Arc<Databricks>,
    _pipeline: LogPipeline,
    _dir: tempfile::TempDir,
}

pub async fn world(time_scale: f64) -> World {
    world_with_faults(time_scale, Vec::new()).await
}

pub async fn world_with_faults(time_scale: f64, faults: Vec<emulator::FaultRule>) -> World {
    world_with(time_scale, faults, Arc::new(|_: &str| None)).await
}

pub async fn world_with(
    time_scale: f64,
    faults: Vec<emulator::FaultRule>,
    secrets: engine::executor::SecretSource,
) -> World {
    world_of(
        EmulatorConfig {
            time_scale,
            faults,
            ..Default::default()
        },
        secrets,
    )
    .await
}

/// A world on an emulator started with `config`.
pub async fn world_of(config: EmulatorConfig, secrets: engine::executor::SecretSource) -> World {
    let emulator = Emulator::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::scratch_in(dir.path()).await.unwrap();
    let (pipeline, _) = LogPipeline::start(store.clone());
    let storage = Storage::new(dir.path().join("storage"));
    let services = Services {
        store: store.clone(),
        storage: storage.clone(),
        logs: pipeline.sender(),
    };
    let connection = Connection {
        host: emulator.url(),
        auth: Auth::Token(Secret::new(emulator.token())),
    };
    let databricks = Databricks::new(
        Some(connection),
        None,
        ClientOptions::default(),
        engine::base_url::AllowedHosts::any(),
    );
    let runners = Runners::new(databricks.clone());
    let executor = Executor::new(services.clone(), runners, secrets);
    World {
        emulator,
        store,
        storage,
        executor,
        services,
        databricks,
        _pipeline: pipeline,
        _dir: dir,
    }
}

pub fn blueprint(id: &str) -> &'static str {
    engine::blueprints::all()
        .into_iter()
        .find(|b| b.header.id.as_str() == id)
        .unwrap()
        .source
}

impl World {
    pub async fn launch(&self, source: &str, inputs: Value, id: ExecutionId) -> ExecutionId {
        let plan = Arc::new(Plan::from_yaml(source).unwrap());
        let inputs: Map<String, Value> = inputs.as_object().cloned().unwrap_or_default();
        self.executor
            .launch(Launch {
                id: Some(id),
                plan,
                flow_revision: 1,
                inputs,
                labels: Default::default(),
                trigger_vars: None,
            })
            .await
            .unwrap()
            .id
    }

    pub async fn run(&self, source: &str, inputs: Value) -> (State, Vec<TaskRunRecord>, ExecutionId) {
        let id = self.launch(source, inputs, ExecutionId::generate()).await;
        let state = tokio::time::timeout(Duration::from_secs(60), self.executor.wait(&id))
            .await
            .expect("ends in time")
            .unwrap();
        (state, self.store.task_runs(&id).await.unwrap(), id)
    }

    /// Puts a file into internal storage as a FILE input of `flow` would be.
    pub async fn file_input(&self, flow: &str, id: &ExecutionId, content: &str) -> String {
        let uri = Storage::execution_uri(
            &Namespace::new("company.data"),
            &FlowId::new(flow),
            id,
            "input.csv",
        );
        self.storage.write(&uri, content.as_bytes()).await.unwrap();
        uri
    }

    pub async fn logs(&self, id: &ExecutionId) -> Vec<String> {
        self.services.logs.flush().await;
        self.store
            .logs(id, Level::Trace, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.message)
            .collect()
    }

    pub async fn api(&self, path: &str) -> Value {
        engine::http::client()
            .get(format!("{}{path}", self.emulator.url()))
            .bearer_auth(self.emulator.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub fn outputs(runs: &[TaskRunRecord], task: &str) -> Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .and_then(|r| r.outputs.clone())
        .unwrap_or_else(|| panic!("no outputs for {task}: {runs:#?}"))
}

impl World {
    /// A file of internal storage as text.
    pub async fn read(&self, uri: &str) -> String {
        use tokio::io::AsyncReadExt;
        let (mut file, _) = self.storage.open(uri).await.unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).await.unwrap();
        text
    }
}
