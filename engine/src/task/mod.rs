//! What a task is at run time. A task type has a runner: it gets its
//! properties already rendered (every `{{ }}` expression evaluated, as JSON),
//! a context to log, store files, write a checkpoint and learn of a kill,
//! and returns its outputs. A task that starts remote work implements
//! `cancel`, which a kill calls with the checkpoint.
//!
//! The flow model declares each type's properties (for validation, schema
//! and docs); the runners here only read the rendered values.

pub mod core;
pub mod kv;
pub mod databricks;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::ids::{ExecutionId, FlowId, Namespace, TaskId, TaskRunId};
use crate::log::Level;
use crate::logs::LogSender;
use crate::storage::Storage;
use crate::store::{NewLog, Store};

/// A task's outputs: a JSON object.
pub type Outputs = serde_json::Map<String, Value>;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The properties do not fit the task (after rendering).
    #[error("task {task}: {message}")]
    Properties { task: String, message: String },
    /// The task ran and failed; the message says why.
    #[error("{0}")]
    Failed(String),
    /// The execution was killed while the task ran.
    #[error("killed")]
    Killed,
    #[error("the task ran out of time after {0:?}")]
    Timeout(std::time::Duration),
    #[error(transparent)]
    Databricks(#[from] crate::databricks::DatabricksError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A task type's runner.
pub trait Runner: Send + Sync {
    /// Runs the task to its end.
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>>;

    /// Cancels the remote work a killed task had started, found through its
    /// checkpoint. Most tasks start none.
    fn cancel<'a>(&'a self, _ctx: &'a TaskContext, _checkpoint: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Runners by task type (full and short names).
#[derive(Clone, Default)]
pub struct Runners {
    by_type: HashMap<String, Arc<dyn Runner>>,
}

impl Runners {
    /// The core tasks.
    pub fn core() -> Self {
        let mut runners = Self::default();
        core::register(&mut runners);
        kv::register(&mut runners);
        runners
    }

    /// Registers `runner` under Kestra's full type name and its short alias,
    /// which is the name without the `io.kestra.plugin.` / `io.kestra.plugin.core.` prefix.
    pub fn register(&mut self, full_type: &str, runner: Arc<dyn Runner>) {
        for alias in aliases(full_type) {
            self.by_type.insert(alias, runner.clone());
        }
    }

    pub fn get(&self, task_type: &str) -> Option<Arc<dyn Runner>> {
        self.by_type.get(task_type).cloned()
    }
}

/// `io.kestra.plugin.core.log.Log` is also `core.log.Log` and `log.Log`;
/// `io.kestra.plugin.databricks.sql.Query` is also `databricks.sql.Query`.
pub fn aliases(full_type: &str) -> Vec<String> {
    let mut names = vec![full_type.to_owned()];
    if let Some(rest) = full_type.strip_prefix("io.kestra.plugin.") {
        names.push(rest.to_owned());
        if let Some(core) = rest.strip_prefix("core.") {
            names.push(core.to_owned());
        }
    }
    names
}

/// Replaces secret values in text before it is shown anywhere.
pub type Mask = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// What a running task can reach.
#[derive(Clone)]
pub struct TaskContext {
    pub namespace: Namespace,
    pub flow_id: FlowId,
    pub execution_id: ExecutionId,
    pub task_run_id: TaskRunId,
    pub task_id: TaskId,
    pub attempt: u32,
    /// The rendered properties.
    pub properties: Value,
    /// What the task wrote before a crash or a failed attempt, if anything.
    pub checkpoint: Option<Value>,
    pub cancel: CancellationToken,
    pub storage: Storage,
    store: Store,
    logs: LogSender,
    mask: Mask,
}

/// The parts of a context that are the same for every task of a server.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub storage: Storage,
    pub logs: LogSender,
}

/// Who a task run is.
#[derive(Debug, Clone)]
pub struct TaskRunRef {
    pub namespace: Namespace,
    pub flow_id: FlowId,
    pub execution_id: ExecutionId,
    pub task_run_id: TaskRunId,
    pub task_id: TaskId,
    pub attempt: u32,
}

impl TaskContext {
    pub fn new(
        services: &Services,
        run: TaskRunRef,
        properties: Value,
        checkpoint: Option<Value>,
        cancel: CancellationToken,
        mask: Mask,
    ) -> Self {
        // A task reaches its own namespace's files only.
        let storage = services.storage.for_namespace(&run.namespace);
        Self {
            namespace: run.namespace,
            flow_id: run.flow_id,
            execution_id: run.execution_id,
            task_run_id: run.task_run_id,
            task_id: run.task_id,
            attempt: run.attempt,
            properties,
            checkpoint,
            cancel,
            storage,
            store: services.store.clone(),
            logs: services.logs.clone(),
            mask,
        }
    }

    /// The properties as the task's own type; a mismatch names the task.
    pub fn properties<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_value(self.properties.clone())
            .map_err(|e| TaskError::Properties { task: self.task_id.to_string(), message: (self.mask)(&e.to_string()) })
    }

    /// Logs a line of this task run, masked.
    pub async fn log(&self, level: Level, message: impl AsRef<str>) {
        self.logs
            .send(NewLog {
                execution_id: self.execution_id.clone(),
                task_run_id: Some(self.task_run_id.clone()),
                task_id: Some(self.task_id.clone()),
                attempt: Some(self.attempt),
                level,
                at: jiff::Timestamp::now().as_millisecond(),
                message: (self.mask)(message.as_ref()),
            })
            .await;
    }

    pub async fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, message).await;
    }

    /// Records what the task needs to re-attach to its remote work after a
    /// crash, at once and durably.
    pub async fn checkpoint(&self, value: &Value) -> Result<(), TaskError> {
        self.store.set_checkpoint(&self.task_run_id, value).await?;
        Ok(())
    }

    /// Masks secrets in any text the task builds for its outputs or errors.
    pub fn mask(&self, text: &str) -> String {
        (self.mask)(text)
    }

    /// Sleeps unless killed first.
    pub async fn sleep(&self, duration: std::time::Duration) -> Result<(), TaskError> {
        tokio::select! {
            () = self.cancel.cancelled() => Err(TaskError::Killed),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn aliases_drop_the_kestra_prefixes() {
        assert_eq!(super::aliases("io.kestra.plugin.core.log.Log"), ["io.kestra.plugin.core.log.Log", "core.log.Log", "log.Log"]);
        assert_eq!(
            super::aliases("io.kestra.plugin.databricks.sql.Query"),
            ["io.kestra.plugin.databricks.sql.Query", "databricks.sql.Query"]
        );
    }
}
