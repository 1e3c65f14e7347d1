//! What a task is at run time. A task type has a runner: it gets its
//! properties already rendered (every `{{ }}` expression evaluated, as JSON),
//! a context to log, store files, write a checkpoint and learn of a kill,
//! and returns its outputs. A task that starts remote work implements
//! `cancel`, which a kill calls with the checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::databricks::Databricks;
use crate::flow::registry::{COMMON, TaskType};
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
    fn cancel<'a>(
        &'a self,
        _ctx: &'a TaskContext,
        _checkpoint: &'a Value,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async { Ok(()) })
    }
}

/// What a runner may need of the server: the Databricks tasks' default
/// connection and clients, and the executor (for `flow.Subflow`).
pub struct RunnerEnv {
    pub databricks: Arc<Databricks>,
    pub(crate) executor: crate::executor::subflow::Link,
}

/// Runners by task type (full and short names).
#[derive(Clone)]
pub struct Runners {
    by_type: HashMap<String, Arc<dyn Runner>>,
    databricks: Arc<Databricks>,
}

impl Runners {
    /// A runner for every declared type that has one ([`super::TYPES`]);
    /// the Databricks tasks use `databricks`.
    pub fn new(databricks: Arc<Databricks>) -> Self {
        let mut runners = Self {
            by_type: HashMap::new(),
            databricks,
        };
        runners.bind();
        runners
    }

    /// Makes the declared types' runners again for one executor, and gives
    /// the link to it that `flow.Subflow` uses (each executor its own, so
    /// that clones given to two executors do not share one). Runners
    /// registered by hand stay.
    pub(crate) fn bind(&mut self) -> crate::executor::subflow::Link {
        let env = RunnerEnv {
            databricks: self.databricks.clone(),
            executor: Default::default(),
        };
        for task_type in super::TYPES {
            if let Some(make) = task_type.run {
                self.register(task_type.name, make(&env));
            }
        }
        env.executor
    }

    /// Every runner, with no default Databricks connection: a Databricks
    /// task must name its `host` (for tests of the other tasks).
    pub fn core() -> Self {
        Self::new(Databricks::new(
            None,
            None,
            Default::default(),
            Default::default(),
        ))
    }

    /// Registers `runner` under Kestra's full type name and its short alias,
    /// which is the name without the `io.kestra.plugin.` / `io.kestra.plugin.core.` prefix.
    pub fn register(&mut self, full_type: &str, runner: Arc<dyn Runner>) {
        for alias in aliases(full_type) {
            self.by_type.insert(alias, runner.clone());
        }
    }

    /// The runner of a type by any of its names, Kestra's older ones
    /// (`io.kestra.core.tasks.log.Log`) included.
    pub fn get(&self, task_type: &str) -> Option<Arc<dyn Runner>> {
        self.by_type.get(task_type).cloned().or_else(|| {
            let declared = crate::flow::registry::lookup(task_type)?;
            self.by_type.get(declared.name).cloned()
        })
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

/// Renders a property as written with the task's variables and more
/// (`given`), for the properties a task renders once per item.
pub type RenderItem = Arc<dyn Fn(&str, &Value, &Value) -> Result<Value, String> + Send + Sync>;

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
    /// Every namespace's files, for the purge tasks only.
    root_storage: Storage,
    /// The task's declaration: what [`TaskContext::properties`] and
    /// [`TaskContext::prop`] check a runner's reads against.
    pub task_type: Option<&'static TaskType>,
    /// The properties as the flow wrote them, before rendering (for
    /// messages that quote an expression, such as Assert's).
    pub source: serde_json::Map<String, Value>,
    store: Store,
    logs: LogSender,
    mask: Mask,
    /// Whether this task run sent a log line: the executor then stores the
    /// lines before the task run's end, so that a crash between the two
    /// loses no line of a run recorded as ended.
    logged: Arc<std::sync::atomic::AtomicBool>,
    /// The task asked to end WARNING rather than SUCCESS (a script that
    /// wrote to stderr, as Kestra's Output.finalState says).
    warned: Arc<std::sync::atomic::AtomicBool>,
    render_item: Option<RenderItem>,
    /// The enclosing WorkingDirectory's directory, if any.
    pub working_dir: Option<std::path::PathBuf>,
    /// The value of the enclosing ForEach iteration, if any.
    pub value: Option<String>,
    /// The server's own URL (`--url`, Kestra's `kestra.url`), for links to
    /// an execution's page.
    pub server_url: Option<String>,
    /// The execution's final state while `afterExecution` runs, which the
    /// execution's record shows to the task ([`Self::execution_with_runs`]).
    pub ending: Option<crate::state::State>,
    /// This attempt was left open by a stopped executor and runs again: what
    /// it did before may be done already ([`Self::log_once`]).
    pub resumed: bool,
}

/// What a purge of executions deletes.
#[derive(Debug, Clone, Copy)]
pub struct Purge {
    pub executions: bool,
    pub logs: bool,
    pub metrics: bool,
    pub files: bool,
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
        let root_storage = services.storage.clone();
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
            root_storage,
            task_type: None,
            source: serde_json::Map::new(),
            store: services.store.clone(),
            logs: services.logs.clone(),
            mask,
            logged: Arc::default(),
            warned: Arc::default(),
            render_item: None,
            working_dir: None,
            value: None,
            server_url: None,
            ending: None,
            resumed: false,
        }
    }

    /// The properties as the task's own type; a mismatch names the task.
    ///
    /// The fields `T` reads must be properties of the task's declaration
    /// (or common ones): a runner that reads one its declaration lacks
    /// fails, naming it, so the two cannot drift apart unseen.
    pub fn properties<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        if let Some(fields) = struct_fields::<T>()
            && let Some(undeclared) = fields.iter().find(|f| !self.declares(f))
        {
            return Err(self.undeclared(undeclared));
        }
        serde_json::from_value(self.properties.clone()).map_err(|e| self.invalid(e.to_string()))
    }

    /// A property that does not fit the task, in a message that names the
    /// task (masked, as the value may hold a secret).
    pub fn invalid(&self, message: impl Into<String>) -> TaskError {
        TaskError::Properties {
            task: self.task_id.to_string(),
            message: (self.mask)(&message.into()),
        }
    }

    /// One rendered property (null when unset), checked like
    /// [`TaskContext::properties`].
    pub fn prop(&self, name: &str) -> Result<&Value, TaskError> {
        if !self.declares(name) {
            return Err(self.undeclared(name));
        }
        Ok(self.properties.get(name).unwrap_or(&Value::Null))
    }

    /// A property as text ([`value_text`]): None when unset or blank.
    pub fn text(&self, name: &str) -> Result<Option<String>, TaskError> {
        Ok(value_text(self.prop(name)?))
    }

    /// A boolean property, rendered (`true`, `false` or their text);
    /// `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, TaskError> {
        Ok(match self.prop(name)? {
            Value::Bool(b) => *b,
            Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
            _ => default,
        })
    }

    /// Whether the task sent a log line (see `logged`).
    pub fn logged(&self) -> bool {
        self.logged.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The task's declaration with `with_type`, for the executor.
    pub fn with_type(mut self, task_type: Option<&'static TaskType>) -> Self {
        self.task_type = task_type;
        self
    }

    /// Other rendered properties (a TemplatedTask's inner task).
    pub fn with_properties(mut self, properties: Value) -> Self {
        self.properties = properties;
        self
    }

    /// The properties as written, with `with_source`, for the executor.
    pub fn with_source(mut self, source: serde_json::Map<String, Value>) -> Self {
        self.source = source;
        self
    }

    /// The enclosing WorkingDirectory's directory, for the executor.
    pub fn with_working_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.working_dir = dir;
        self
    }

    /// How the executor renders a per-item property (`with_render_item`).
    pub fn with_render_item(mut self, render: RenderItem) -> Self {
        self.render_item = Some(render);
        self
    }

    /// Renders the property `name`, which the type declares with
    /// [`Property::given`](crate::flow::registry::Property::given)
    /// variables and the executor left as written, with `given` added to
    /// the task's variables (`{"count": 3}`).
    pub fn render_item(&self, name: &str, given: &Value) -> Result<Value, TaskError> {
        let written = self.prop(name)?;
        match &self.render_item {
            Some(render) => render(name, written, given).map_err(|message| self.invalid(message)),
            None => Ok(written.clone()),
        }
    }

    fn declares(&self, name: &str) -> bool {
        self.task_type
            .is_none_or(|t| t.property(name).is_some() || COMMON.iter().any(|p| p.name == name))
    }

    fn undeclared(&self, name: &str) -> TaskError {
        let task_type = self.task_type.map_or("?", |t| t.name);
        TaskError::Failed(format!(
            "Mortar's runner of {task_type} reads the property `{name}`, which the type does not declare: a bug in Mortar"
        ))
    }

    /// Logs a line of this task run, masked.
    /// Logs each text once for this attempt: in an attempt that runs again
    /// after its executor stopped ([`Self::resumed`]), the lines it stored
    /// before are not written again. For a task whose only effect is its
    /// lines (Log), a stop between its lines and its end then logs nothing
    /// twice. When the stored lines cannot be read, every text is logged
    /// (twice rather than lost).
    pub async fn log_once(&self, level: Level, texts: Vec<String>) {
        let mut stored: Vec<String> = Vec::new();
        if self.resumed {
            let query = crate::store::LogQuery {
                task_run_id: Some(self.task_run_id.clone()),
                attempt: Some(self.attempt),
                ..Default::default()
            };
            match self.store.find_logs(&self.execution_id, &query).await {
                Ok(lines) => stored = lines.into_iter().map(|l| l.message).collect(),
                Err(error) => tracing::warn!(%error, "cannot read the lines of a resumed attempt; it logs them again"),
            }
        }
        for text in texts {
            let masked = (self.mask)(&text);
            if let Some(i) = stored.iter().position(|line| *line == masked) {
                stored.swap_remove(i);
                continue;
            }
            self.log(level, text).await;
        }
    }

    pub async fn log(&self, level: Level, message: impl AsRef<str>) {
        self.logged
            .store(true, std::sync::atomic::Ordering::Relaxed);
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

    /// Ends the task WARNING instead of SUCCESS when it returns its outputs.
    pub fn end_in_warning(&self) {
        self.warned
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the task asked to end WARNING.
    pub fn warned(&self) -> bool {
        self.warned.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stores metrics of this task run (Kestra's `runContext.metric`): a
    /// `counter`, `timer` (milliseconds) or `gauge` by name, with text
    /// tags; names and tags are masked.
    pub async fn metrics(
        &self,
        metrics: impl IntoIterator<
            Item = (
                &str,
                String,
                f64,
                std::collections::BTreeMap<String, String>,
            ),
        >,
    ) -> Result<(), TaskError> {
        let at = jiff::Timestamp::now().as_millisecond();
        let entries: Vec<crate::store::NewMetric> = metrics
            .into_iter()
            .map(|(kind, name, value, tags)| crate::store::NewMetric {
                namespace: self.namespace.clone(),
                flow_id: self.flow_id.clone(),
                task_id: Some(self.task_id.clone()),
                execution_id: Some(self.execution_id.clone()),
                task_run_id: Some(self.task_run_id.clone()),
                kind: kind.to_owned(),
                name: (self.mask)(&name),
                value,
                at,
                tags: tags
                    .into_iter()
                    .map(|(k, v)| ((self.mask)(&k), (self.mask)(&v)))
                    .collect(),
            })
            .collect();
        self.store.insert_metrics(&entries).await?;
        Ok(())
    }

    /// Records what the task needs to re-attach to its remote work after a
    /// crash, at once and durably.
    pub async fn checkpoint(&self, value: &Value) -> Result<(), TaskError> {
        self.store.set_checkpoint(&self.task_run_id, value).await?;
        Ok(())
    }

    /// Adds labels to the task's execution, running as it is.
    pub async fn add_labels(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), TaskError> {
        match self
            .store
            .add_execution_labels(&self.execution_id, labels, true)
            .await?
        {
            crate::store::LabelsOutcome::Set => Ok(()),
            other => Err(TaskError::Failed(format!(
                "the labels of execution {} cannot be set: {other:?}",
                self.execution_id
            ))),
        }
    }

    /// Purges ended executions (Kestra's PurgeExecutions): their logs,
    /// their metrics, their files and the executions themselves, as asked;
    /// returns how many executions, log lines and metrics went.
    pub async fn purge_executions(
        &self,
        filter: &crate::store::PurgeFilter,
        states: &[crate::state::State],
        purge: Purge,
    ) -> Result<(usize, u64, u64), TaskError> {
        let found = self.store.ended_executions(filter, states).await?;
        if purge.files {
            for (id, namespace, flow) in &found {
                self.root_storage
                    .delete_execution_files(namespace, flow, id)
                    .await?;
            }
        }
        let ids: Vec<ExecutionId> = found.into_iter().map(|(id, _, _)| id).collect();
        let (logs, metrics) = self
            .store
            .purge_executions(&ids, purge.executions, purge.logs, purge.metrics)
            .await?;
        Ok((ids.len(), logs, metrics))
    }

    /// Turns a trigger of a stored flow off or on (trigger.Toggle); the
    /// flow and the trigger must exist.
    pub async fn set_trigger_disabled(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger: &str,
        disabled: bool,
    ) -> Result<(), TaskError> {
        let (ns, flow) = (Namespace::new(namespace), FlowId::new(flow_id));
        let source = self
            .store
            .get_flow(&ns, &flow)
            .await?
            .ok_or_else(|| TaskError::Failed(format!("Unable to find flow {namespace}.{flow_id}")))?
            .source;
        let known = crate::flow::parse(&source)
            .flow
            .is_some_and(|f| f.triggers.iter().any(|t| t.id.value == trigger));
        if !known {
            return Err(TaskError::Failed(format!(
                "Unable to find trigger {trigger} for the flow {namespace}.{flow_id}"
            )));
        }
        self.store
            .set_trigger_disabled(
                &ns,
                &flow,
                trigger,
                disabled,
                jiff::Timestamp::now().as_millisecond(),
            )
            .await?;
        Ok(())
    }

    /// The ForEach value the task runs for, for the executor.
    pub fn with_value(mut self, value: Option<String>) -> Self {
        self.value = value;
        self
    }

    /// The server's URL, for the executor.
    pub fn with_ending(mut self, ending: Option<crate::state::State>) -> Self {
        self.ending = ending;
        self
    }

    pub fn with_resumed(mut self, resumed: bool) -> Self {
        self.resumed = resumed;
        self
    }

    pub fn with_server_url(mut self, url: Option<String>) -> Self {
        self.server_url = url;
        self
    }

    /// An execution and its task runs, by id (the notifications' summary of
    /// an execution, this one or the one a Flow trigger names).
    pub async fn execution_with_runs(
        &self,
        id: &ExecutionId,
    ) -> Result<
        (
            crate::store::ExecutionRecord,
            Vec<crate::store::TaskRunRecord>,
        ),
        TaskError,
    > {
        let mut execution = self
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| TaskError::Failed(format!("execution {id} does not exist")))?;
        if let Some(ending) = self.ending.filter(|_| *id == self.execution_id) {
            execution.state = ending;
        }
        let runs = self.store.task_runs(id).await?;
        Ok((execution, runs))
    }

    /// Where this namespace's states (the `state.*` tasks) are kept.
    pub fn state_root(&self) -> std::path::PathBuf {
        self.root_storage.states_dir(&self.namespace)
    }

    /// The namespaces that have namespace files (namespace.PurgeFiles).
    pub fn file_namespaces(&self) -> Vec<String> {
        self.root_storage.file_namespaces()
    }

    /// The files of a namespace (the `namespace.*` tasks may name any).
    pub fn namespace_files(
        &self,
        namespace: &str,
    ) -> Result<crate::namespace_files::NamespaceFiles, TaskError> {
        self.root_storage
            .namespace_files(namespace)
            .map_err(|e| self.invalid(format!("namespace: {e}")))
    }

    /// Executions counted per flow (execution.Count): see
    /// [`Store::execution_counts`](crate::store::Store::execution_counts).
    pub async fn execution_counts(
        &self,
        flows: &[(String, String)],
        namespaces: &[String],
        states: &[crate::state::State],
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<crate::store::FlowCount>, TaskError> {
        Ok(self
            .store
            .execution_counts(flows, namespaces, states, start, end)
            .await?)
    }

    /// An execution's namespace, flow and log lines from `min` up, every
    /// line this execution wrote so far included (log.Fetch). At most
    /// 1,000,000 lines.
    pub async fn execution_logs(
        &self,
        id: &ExecutionId,
        min: Level,
    ) -> Result<(Namespace, FlowId, Vec<crate::store::LogRecord>), TaskError> {
        const PAGE: i64 = 10_000;
        const MOST: usize = 1_000_000;
        let execution = self
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| TaskError::Failed(format!("execution {id} does not exist")))?;
        self.logs.flush().await;
        let mut all: Vec<crate::store::LogRecord> = Vec::new();
        loop {
            let after = all.last().map_or(0, |l| l.id);
            let page = self.store.logs(id, min, after, PAGE).await?;
            let done = (page.len() as i64) < PAGE;
            all.extend(page);
            if done || all.len() >= MOST {
                break;
            }
        }
        all.truncate(MOST);
        Ok((execution.namespace, execution.flow_id, all))
    }

    /// Deletes log lines (Kestra's PurgeLogs); returns how many.
    pub async fn purge_logs(
        &self,
        filter: &crate::store::PurgeFilter,
        levels: &[Level],
    ) -> Result<u64, TaskError> {
        Ok(self.store.purge_logs(filter, levels).await?)
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

/// The names of the fields serde reads for a struct `T`, without any data:
/// `None` for anything that is not a plain struct (a map, a flattened one).
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    use serde::de::{Deserializer, Visitor};

    #[derive(Debug)]
    enum Probed {
        Fields(&'static [&'static str]),
        Other,
    }
    impl std::fmt::Display for Probed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probed")
        }
    }
    impl std::error::Error for Probed {}
    impl serde::de::Error for Probed {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Probed::Other
        }
    }
    struct Probe;
    impl<'de> Deserializer<'de> for Probe {
        type Error = Probed;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
            Err(Probed::Other)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Probed> {
            Err(Probed::Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit unit_struct
            newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Probed::Fields(fields)) => Some(fields),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn aliases_drop_the_kestra_prefixes() {
        assert_eq!(
            super::aliases("io.kestra.plugin.core.log.Log"),
            ["io.kestra.plugin.core.log.Log", "core.log.Log", "log.Log"]
        );
        assert_eq!(
            super::aliases("io.kestra.plugin.databricks.sql.Query"),
            [
                "io.kestra.plugin.databricks.sql.Query",
                "databricks.sql.Query"
            ]
        );
    }
}

/// A rendered value as text: a string trimmed, a number or boolean as it
/// is written; None for null or a blank string.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_owned()),
        other => Some(other.to_string()),
    }
}
