//! The executor: runs executions of flows, durably, on tokio.
//!
//! Each execution is one tokio task that walks its plan; waiting on a task
//! (a Databricks run, a sleep) costs no thread. Nothing polls: a new
//! execution is spawned when it is created, a finished task wakes the walk
//! that awaits it, and state changes are broadcast to whoever waits. Every
//! transition is written to the store first, so that `recover` can pick up
//! every unfinished execution after a crash.

pub mod inputs;
mod retry;
mod run;
pub(crate) mod subflow;
pub(crate) mod working_dir;
pub(crate) use working_dir::{WorkingDir, files_under};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::flow::expr::{Host, Renderer};
use crate::ids::{ExecutionId, FlowId, Namespace};
use crate::logs::LogSender;
use crate::plan::Plan;
use crate::secret_store::SecretStore;
use crate::state::{Event, State};
use crate::storage::Storage;
use crate::store::{ExecutionRecord, NewExecution, Slot, Store, StoreError};
use crate::task::{Runners, Services};

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The inputs do not fit the flow; every problem is listed.
    #[error("the inputs are invalid: {}", .0.join("; "))]
    Inputs(Vec<String>),
    #[error("flow {0} is disabled: enable it (`disabled: false`) to run it")]
    Disabled(String),
    #[error("execution {0} does not exist")]
    NotFound(ExecutionId),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where `secret('NAME')` finds values after the namespace secrets (the
/// server reads `SECRET_<NAME>`).
pub type SecretSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The runtime side of expressions: secrets, the clock, internal storage.
struct RuntimeHost {
    /// The execution's namespace, where `secret()` looks first.
    namespace: String,
    namespace_secrets: Option<SecretStore>,
    secrets: SecretSource,
    storage: Storage,
}

/// The most `read('storage://…')` returns: it is for small files (a list of
/// values, a query's stored rows) that go into a property.
const READ_LIMIT: u64 = 1024 * 1024;

impl Host for RuntimeHost {
    /// The namespace's secret, then its parents', then the fallback
    /// (`SECRET_<NAME>` from the environment).
    fn secret(&self, name: &str) -> Option<String> {
        self.namespace_secrets
            .as_ref()
            .and_then(|store| store.lookup(&self.namespace, name))
            .map(|secret| secret.expose().to_owned())
            .or_else(|| (self.secrets)(name))
    }

    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn random(&self) -> u64 {
        rand::random()
    }

    fn file_size(&self, uri: &str) -> Result<u64, String> {
        let path = self.storage.path_of(uri).map_err(|e| e.to_string())?;
        self.storage
            .refuse_links(uri, &path)
            .map_err(|e| e.to_string())?;
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|_| format!("{uri} does not exist"))
    }

    fn namespace_file(
        &self,
        namespace: &str,
        path: &str,
        revision: Option<u32>,
    ) -> Result<String, String> {
        let files = self
            .storage
            .namespace_files(namespace)
            .map_err(|e| e.to_string())?;
        let bytes = files.get(path, revision).map_err(|e| e.to_string())?;
        if bytes.len() as u64 > READ_LIMIT {
            return Err(format!(
                "namespace file {path} is over {READ_LIMIT} bytes: read() is for small files"
            ));
        }
        String::from_utf8(bytes).map_err(|_| format!("namespace file {path} is not UTF-8 text"))
    }

    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        let kv = self.storage.kv(namespace).map_err(|e| e.to_string())?;
        Ok(kv
            .get(key)
            .map_err(|e| e.to_string())?
            .map(|entry| entry.value))
    }

    fn encrypt(&self, key: &str, plaintext: &str) -> Result<String, String> {
        crate::crypto::encrypt(key, plaintext)
    }

    fn decrypt(&self, key: &str, encrypted: &str) -> Result<String, String> {
        crate::crypto::decrypt(key, encrypted)
    }

    fn read(&self, uri: &str) -> Result<String, String> {
        // Expressions render synchronously, so this is a blocking read; the
        // limit keeps it to a small local file, which costs microseconds.
        use std::io::Read;
        let path = self.storage.path_of(uri).map_err(|e| e.to_string())?;
        self.storage
            .refuse_links(uri, &path)
            .map_err(|e| e.to_string())?;
        let file = std::fs::File::open(&path).map_err(|_| format!("{uri} does not exist"))?;
        let mut text = String::new();
        file.take(READ_LIMIT + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("{uri} is not readable text: {e}"))?;
        if text.len() as u64 > READ_LIMIT {
            return Err(format!(
                "{uri} is over {READ_LIMIT} bytes: read() is for small files"
            ));
        }
        Ok(text)
    }
}

/// The variables that come from the server rather than the flow: `envs`
/// (environment variables that start with the prefix, `ENV_` by default,
/// without it and in lower case, as Kestra's RunContextCache),
/// `globals` (Kestra's `kestra.variables.globals`) and `kestra.url`.
#[derive(Debug, Clone, Default)]
pub struct ServerVariables {
    pub envs: Map<String, Value>,
    pub globals: Map<String, Value>,
    pub url: Option<String>,
}

impl ServerVariables {
    pub const ENV_PREFIX: &str = "ENV_";

    /// `envs` from these environment variables.
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>, prefix: &str) -> Self {
        let envs = vars
            .into_iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix(prefix).filter(|n| !n.is_empty())?;
                Some((name.to_lowercase(), Value::String(value)))
            })
            .collect();
        Self {
            envs,
            ..Self::default()
        }
    }

    /// The part of every expression's context they make.
    fn context(&self) -> Map<String, Value> {
        let mut context = Map::new();
        context.insert("envs".into(), Value::Object(self.envs.clone()));
        context.insert("globals".into(), Value::Object(self.globals.clone()));
        if let Some(url) = &self.url {
            context.insert("kestra".into(), serde_json::json!({"url": url}));
        }
        context
    }
}

/// What every walk shares.
pub(crate) struct Shared {
    store: Store,
    storage: Storage,
    logs: LogSender,
    runners: Runners,
    secrets: SecretSource,
    namespace_secrets: Option<SecretStore>,
    events: broadcast::Sender<(ExecutionId, State)>,
    /// Cancelled when the process stops: walks stop where they are, leaving
    /// their state for recovery.
    shutdown: CancellationToken,
    /// This process as a node of a deployment; none for `mortar run` and
    /// the engine's tests, where the executor runs what it launches.
    node: Option<crate::cluster::NodeSettings>,
    /// The plans of the flow revisions executions run.
    plans: crate::plan::Plans,
    /// `envs`, `globals` and `kestra`, put in every expression's context.
    server_vars: Map<String, Value>,
    render_limits: crate::flow::pebble::Limits,
    /// Says an execution was resumed here, to the paused walks.
    resumes: broadcast::Sender<ExecutionId>,
}

/// What the server's configuration gives every execution.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub variables: ServerVariables,
    /// The bounds on each render of an expression (steps, output size).
    pub render_limits: crate::flow::pebble::Limits,
    /// The namespace secrets `secret('NAME')` reads before the
    /// [`SecretSource`]; none for an executor without a data dir.
    pub namespace_secrets: Option<SecretStore>,
    /// This process as a node (`mortar serve`): executions are owned by
    /// nodes, and a node without the executor role hands what it launches
    /// to one that has it.
    pub node: Option<crate::cluster::NodeSettings>,
    /// The plans cache, shared with the server.
    pub plans: crate::plan::Plans,
}

impl Shared {
    /// Tells whoever waits here, and the other nodes, that an execution
    /// changed state.
    pub(crate) async fn emit(&self, id: &ExecutionId, state: State) {
        let _ = self.events.send((id.clone(), state));
        if self.node.is_some() && self.store.is_postgres() {
            let payload = format!(
                "{} {id} {}",
                self.node.as_ref().map_or("", |n| n.id.as_str()),
                state.as_str()
            );
            if let Err(error) = self.store.notify(crate::cluster::STATES, &payload).await {
                tracing::warn!(%error, execution_id = %id, "cannot tell other nodes of a state change");
            }
        }
    }

    /// The node that owns the executions this process walks (None without
    /// a node: `mortar run`, tests) and whose ownership each new task run
    /// checks.
    pub(crate) fn owner(&self) -> Option<&str> {
        self.node
            .as_ref()
            .filter(|n| n.roles.executor)
            .map(|n| n.id.as_str())
    }

    fn services(&self) -> Services {
        Services {
            store: self.store.clone(),
            storage: self.storage.clone(),
            logs: self.logs.clone(),
        }
    }

    /// Catches up with namespace secrets changed since the last look (by
    /// this process or another on the same database). A failure keeps the
    /// values already loaded and says so in the log.
    async fn refresh_secrets(&self, execution_id: &ExecutionId) {
        if let Some(secrets) = &self.namespace_secrets
            && let Err(error) = secrets.refresh().await
        {
            tracing::error!(%error, %execution_id, "cannot reload the namespace secrets; using those already loaded");
        }
    }
}

/// A request to run a flow.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The id to use, when the caller needed it first (to store file
    /// inputs under it); a new one otherwise.
    pub id: Option<ExecutionId>,
    pub plan: Arc<Plan>,
    pub flow_revision: i64,
    /// Input values as given (text or JSON), checked against the flow.
    pub inputs: Map<String, Value>,
    pub labels: BTreeMap<String, String>,
    pub trigger_vars: Option<Value>,
}

/// Runs executions. Cheap to clone.
#[derive(Clone)]
pub struct Executor {
    shared: Arc<Shared>,
    /// The executions running in this process: their kill switch, and the
    /// token that stops the walk where it is (another node took it over).
    running: Arc<Mutex<HashMap<ExecutionId, (CancellationToken, CancellationToken)>>>,
    /// Per flow with a concurrency limit: the executions this node keeps
    /// waiting for a slot (the store counts the slots, across nodes).
    queues: Arc<Mutex<Queues>>,
    /// One pump at a time, so that a queue starts in order.
    pumping: Arc<tokio::sync::Mutex<()>>,
    tracker: TaskTracker,
}

/// An execution waiting for a slot: what its walk needs.
type Queued = (ExecutionRecord, Arc<Plan>, Vec<String>);
/// Per flow (namespace, id), its executions waiting here, oldest first.
type Queues = HashMap<(String, String), std::collections::VecDeque<Queued>>;

impl Executor {
    /// An executor with no `envs`, `globals` or `kestra.url` and the
    /// default render limits (the server reads those from its
    /// configuration: see [`Executor::with_settings`]).
    pub fn new(services: Services, runners: Runners, secrets: SecretSource) -> Self {
        Self::with_settings(services, runners, secrets, Settings::default())
    }

    pub fn with_settings(
        services: Services,
        mut runners: Runners,
        secrets: SecretSource,
        settings: Settings,
    ) -> Self {
        let (events, _) = broadcast::channel(4096);
        let link = runners.bind();
        let executor = Self {
            shared: Arc::new(Shared {
                store: services.store,
                storage: services.storage,
                logs: services.logs,
                runners,
                secrets,
                namespace_secrets: settings.namespace_secrets,
                events,
                shutdown: CancellationToken::new(),
                node: settings.node,
                plans: settings.plans,
                server_vars: settings.variables.context(),
                render_limits: settings.render_limits,
                resumes: broadcast::channel(64).0,
            }),
            running: Default::default(),
            queues: Default::default(),
            pumping: Default::default(),
            tracker: TaskTracker::new(),
        };
        link.set(&executor);
        executor
    }

    /// State changes of every execution, as they happen (on PostgreSQL,
    /// those made on other nodes too).
    pub fn subscribe(&self) -> broadcast::Receiver<(ExecutionId, State)> {
        self.shared.events.subscribe()
    }

    /// The plans cache.
    pub fn plans(&self) -> crate::plan::Plans {
        self.shared.plans.clone()
    }

    /// The node that runs what this executor launches: this one (None
    /// without a node, or an executor node), or nobody yet (a node without
    /// the executor role).
    fn owner(&self) -> Option<&str> {
        self.shared.owner()
    }

    /// Whether executions launched here run here.
    fn runs_here(&self) -> bool {
        self.shared.node.as_ref().is_none_or(|n| n.roles.executor)
    }

    /// Hands an execution that is ready to an executor node: unowned, and
    /// the executors are woken.
    async fn hand_over(&self, id: &ExecutionId) -> Result<(), ExecutionError> {
        self.shared.store.set_owner(id, None).await?;
        self.shared
            .store
            .notify(crate::cluster::WORK, id.as_str())
            .await?;
        Ok(())
    }

    /// A state change another node made, for this node's waiters.
    pub fn relay(&self, id: ExecutionId, state: State) {
        let _ = self.shared.events.send((id, state));
    }

    /// Cancels an execution's tasks if it runs in this process (a kill
    /// asked on another node).
    pub fn kill_here(&self, id: &ExecutionId) {
        if let Some((kill, _)) = self.running.lock().ok().and_then(|r| r.get(id).cloned()) {
            kill.cancel();
            return;
        }
        // Queued here behind its flow's limit: it leaves the queue KILLED.
        let queued = self.queues.lock().is_ok_and(|mut queues| {
            let mut found = false;
            for queue in queues.values_mut() {
                let before = queue.len();
                queue.retain(|(execution, _, _)| &execution.id != id);
                found |= queue.len() != before;
            }
            found
        });
        if queued {
            let shared = self.shared.clone();
            let id = id.clone();
            tokio::spawn(async move {
                match shared.store.execution_event(&id, Event::Stopped).await {
                    Ok(state) => shared.emit(&id, state).await,
                    Err(error) => {
                        tracing::warn!(%error, execution_id = %id, "cannot end a queued execution killed from another node")
                    }
                }
            });
        }
    }

    /// The executions this process walks (not those stopping).
    pub fn running_ids(&self) -> Vec<ExecutionId> {
        self.running
            .lock()
            .map(|running| {
                running
                    .iter()
                    .filter(|(_, (_, stop))| !stop.is_cancelled())
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops, where they are and without writing anything more, the walks
    /// of these executions (their lease went to another node).
    pub fn stop_walks<'a>(&self, ids: impl Iterator<Item = &'a ExecutionId>) {
        let Ok(running) = self.running.lock() else {
            return;
        };
        for id in ids {
            if let Some((_, stop)) = running.get(id)
                && !stop.is_cancelled()
            {
                tracing::warn!(execution_id = %id, "another node runs this execution now; it stops here");
                stop.cancel();
            }
        }
    }

    /// Runs an execution this node has just claimed: the recovery of one
    /// execution (its flow revision's plan from the store).
    pub async fn adopt(&self, id: &ExecutionId) -> Result<(), ExecutionError> {
        if self
            .running
            .lock()
            .is_ok_and(|r| r.get(id).is_some_and(|(_, stop)| !stop.is_cancelled()))
        {
            return Ok(());
        }
        let Some(execution) = self.shared.store.get_execution(id).await? else {
            return Ok(());
        };
        let source = self
            .shared
            .store
            .flow_revision_source(
                &execution.namespace,
                &execution.flow_id,
                execution.flow_revision,
            )
            .await?;
        let Some(plan) = source.and_then(|s| {
            self.shared
                .plans
                .get(
                    execution.namespace.as_str(),
                    execution.flow_id.as_str(),
                    execution.flow_revision,
                    &s,
                )
                .ok()
        }) else {
            tracing::error!(execution_id = %id, "cannot resume: its flow revision is gone");
            return Ok(());
        };
        if execution.state == State::Killing {
            let state = self
                .shared
                .store
                .execution_event(id, Event::Stopped)
                .await?;
            self.shared.emit(id, state).await;
            return Ok(());
        }
        tracing::info!(execution_id = %id, state = %execution.state, "running a claimed execution");
        let (execution, secrets) = self.with_secrets(execution).await?;
        self.admit(execution, plan, secrets).await.map(|_| ())
    }

    /// What renders a flow's input expressions (dynamic defaults, a
    /// SELECT's expression, dependsOn conditions): the inputs resolved
    /// before them, the flow, the KV store and the namespace's secrets.
    fn input_renderer(&self, plan: &Plan) -> (Renderer, Map<String, Value>) {
        let host = RuntimeHost {
            namespace: plan.namespace.clone(),
            namespace_secrets: self.shared.namespace_secrets.clone(),
            secrets: self.shared.secrets.clone(),
            storage: self
                .shared
                .storage
                .for_namespace(&Namespace::new(plan.namespace.clone())),
        };
        let renderer = Renderer::new(Arc::new(host)).with_limits(self.shared.render_limits.clone());
        let mut base = Map::new();
        base.extend(
            self.shared
                .server_vars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        base.insert(
            "flow".into(),
            serde_json::json!({"id": plan.id, "namespace": plan.namespace}),
        );
        (renderer, base)
    }

    /// Runs task type `task` for a polling trigger of `plan` with the
    /// trigger's `properties` (rendered as the flow's inputs are: secrets
    /// and the KV store), as part of `execution` (the one it would start,
    /// so that a file it writes belongs to that execution). Returns the
    /// task's outputs, masked.
    pub(crate) async fn poll_task(
        &self,
        plan: &Plan,
        trigger_id: &str,
        task: &'static crate::flow::registry::TaskType,
        properties: Map<String, Value>,
        execution: ExecutionId,
    ) -> Result<Map<String, Value>, String> {
        use crate::ids::{TaskId, TaskRunId};
        let (renderer, base) = self.input_renderer(plan);
        let rendered = renderer
            .render(
                "",
                trigger_id,
                &Value::Object(properties),
                &Value::Object(base),
            )
            .map_err(|e| e.message)?;
        let runner = self
            .shared
            .runners
            .get(task.name)
            .ok_or_else(|| format!("no runner for {}", task.name))?;
        let masker = renderer.masker().clone();
        let ctx = crate::task::TaskContext::new(
            &self.shared.services(),
            crate::task::TaskRunRef {
                namespace: Namespace::new(plan.namespace.clone()),
                flow_id: FlowId::new(plan.id.clone()),
                execution_id: execution,
                task_run_id: TaskRunId::generate(),
                task_id: TaskId::new(trigger_id),
                attempt: 1,
            },
            rendered,
            None,
            CancellationToken::new(),
            Arc::new(move |text: &str| masker.mask(text)),
        )
        .with_type(Some(task));
        let outputs = runner.run(&ctx).await.map_err(|e| e.to_string())?;
        match renderer.masker().mask_value(&Value::Object(outputs)) {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        }
    }

    /// Renders an expression of a trigger of `plan` (secrets, KV) with
    /// `more` variables, such as http.Trigger's `response`.
    pub(crate) fn render_for_trigger(
        &self,
        plan: &Plan,
        written: &Value,
        more: Map<String, Value>,
    ) -> Result<Value, String> {
        let (renderer, mut base) = self.input_renderer(plan);
        base.extend(more);
        renderer
            .render("", "trigger", written, &Value::Object(base))
            .map_err(|e| e.message)
    }

    /// The inputs an execution form shows for what was filled in so far
    /// (see [`inputs::preview`]); a value derived from a secret is masked.
    pub fn preview_inputs(
        &self,
        plan: &Plan,
        given: &Map<String, Value>,
    ) -> Vec<crate::plan::InputDecl> {
        let (renderer, base) = self.input_renderer(plan);
        let render = |template: &Value, so_far: &Map<String, Value>| {
            let mut context = base.clone();
            context.insert("inputs".into(), Value::Object(so_far.clone()));
            renderer
                .render("", "inputs", template, &Value::Object(context))
                .map_err(|e| e.message)
        };
        let mut shown = inputs::preview(&plan.inputs, given, &render);
        for decl in &mut shown {
            decl.defaults = decl
                .defaults
                .take()
                .map(|d| renderer.masker().mask_value(&d));
            decl.values = decl
                .values
                .iter()
                .map(|v| renderer.masker().mask(v))
                .collect();
        }
        shown
    }

    /// Checks the inputs, stores the execution (CREATED) and starts it.
    pub async fn launch(&self, launch: Launch) -> Result<ExecutionRecord, ExecutionError> {
        let plan = launch.plan;
        if plan.disabled {
            return Err(ExecutionError::Disabled(format!(
                "{}.{}",
                plan.namespace, plan.id
            )));
        }
        let (renderer, base) = self.input_renderer(&plan);
        let render = |template: &Value, so_far: &Map<String, Value>| {
            let mut context = base.clone();
            context.insert("inputs".into(), Value::Object(so_far.clone()));
            renderer
                .render("", "inputs", template, &Value::Object(context))
                .map_err(|e| e.message)
        };
        let inputs = inputs::resolve_with(&plan.inputs, &launch.inputs, Some(&render))
            .map_err(ExecutionError::Inputs)?;
        let mut secrets = inputs::secret_values(&plan.inputs, &inputs);
        // A value an expression derived from a secret is kept apart and
        // masked, as a SECRET input is.
        let derived: Vec<String> = inputs
            .iter()
            .filter(|(_, v)| renderer.masker().mask_value(v) != **v)
            .map(|(k, _)| k.clone())
            .collect();
        for id in &derived {
            if let Some(text) = inputs.get(id).and_then(Value::as_str) {
                secrets.push(text.to_owned());
            }
        }
        let mut labels: BTreeMap<String, String> = plan
            .labels
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect();
        labels.extend(launch.labels);
        // SECRET inputs are kept, masked, in what the store shows; their
        // real values go apart, for a resume, a restart or a replay.
        let mut shown = inputs.clone();
        let mut hidden = serde_json::Map::new();
        for decl in plan
            .inputs
            .iter()
            .filter(|d| d.kind == "SECRET" || derived.contains(&d.id))
        {
            if let Some(value) = shown.insert(decl.id.clone(), Value::String("******".into())) {
                hidden.insert(decl.id.clone(), value);
            } else {
                shown.remove(&decl.id);
            }
        }
        // Dotted ids nest, in what the walk sees and what the store keeps.
        let (inputs, shown) = (inputs::nested(inputs), inputs::nested(shown));
        let new = NewExecution {
            id: launch.id.unwrap_or_else(ExecutionId::generate),
            namespace: Namespace::new(plan.namespace.clone()),
            flow_id: FlowId::new(plan.id.clone()),
            flow_revision: launch.flow_revision,
            inputs: Value::Object(shown),
            labels,
            trigger_vars: launch.trigger_vars,
            original_id: None,
        };
        // A node without the executor role stores it for one that has.
        if !self.runs_here() {
            let record = self
                .shared
                .store
                .create_owned_execution(&new, false, &hidden, None)
                .await?;
            self.shared
                .store
                .notify(crate::cluster::WORK, record.id.as_str())
                .await?;
            return Ok(record);
        }
        // A flow with a concurrency limit: stored CREATED, then started if
        // a slot is free across every node; else CANCEL and FAIL end it at
        // once and QUEUE keeps it CREATED until a slot frees.
        if plan.concurrency.is_some() {
            let record = self
                .shared
                .store
                .create_owned_execution(&new, false, &hidden, self.owner())
                .await?;
            let mut walked = record.clone();
            walked.inputs = Value::Object(inputs);
            let state = self.admit(walked, plan, secrets).await?;
            return Ok(ExecutionRecord { state, ..record });
        }
        let mut record = self
            .shared
            .store
            .create_owned_execution(&new, true, &hidden, self.owner())
            .await?;
        // The walk sees the real values; the store keeps the masked ones.
        record.inputs = Value::Object(inputs);
        self.start_walk(record.clone(), plan, secrets);
        Ok(record)
    }

    async fn log_execution(&self, id: &ExecutionId, level: crate::log::Level, message: &str) {
        self.shared
            .logs
            .send(crate::store::NewLog {
                execution_id: id.clone(),
                task_run_id: None,
                task_id: None,
                attempt: None,
                level,
                at: jiff::Timestamp::now().as_millisecond(),
                message: message.to_owned(),
            })
            .await;
    }

    /// Walks an execution, unless it is CREATED and its flow's concurrency
    /// limit is reached on the whole deployment (the store counts the
    /// started executions of the flow on every node): then `CANCEL` kills
    /// it, `FAIL` fails it and `QUEUE` keeps it CREATED in this node's
    /// queue for the flow, started when a slot frees. Returns its state.
    async fn admit(
        &self,
        mut execution: ExecutionRecord,
        plan: Arc<Plan>,
        secrets: Vec<String>,
    ) -> Result<State, ExecutionError> {
        let Some(limit) = plan
            .concurrency
            .clone()
            .filter(|_| execution.state == State::Created)
        else {
            let state = execution.state;
            self.start_walk(execution, plan, secrets);
            return Ok(state);
        };
        match self
            .shared
            .store
            .start_within_limit(&execution.id, u64::from(limit.limit))
            .await?
        {
            Slot::Started => {
                execution.state = State::Running;
                self.shared.emit(&execution.id, State::Running).await;
                self.start_walk(execution, plan, secrets);
                Ok(State::Running)
            }
            Slot::Gone(state) => Ok(state),
            Slot::Full => {
                let id = execution.id.clone();
                let message = format!("the flow's concurrency limit ({}) is reached", limit.limit);
                let ending = match limit.behavior.as_str() {
                    "CANCEL" => Some(Event::Kill),
                    "FAIL" => Some(Event::Fail),
                    _ => None,
                };
                if let Some(event) = ending {
                    self.log_execution(
                        &id,
                        crate::log::Level::Warn,
                        &format!(
                            "{message}: {}",
                            if event == Event::Kill {
                                "cancelled"
                            } else {
                                "failed"
                            }
                        ),
                    )
                    .await;
                    let state = self.shared.store.execution_event(&id, event).await?;
                    self.shared.emit(&id, state).await;
                    return Ok(state);
                }
                self.log_execution(&id, crate::log::Level::Info, &format!("{message}: queued"))
                    .await;
                let key = (plan.namespace.clone(), plan.id.clone());
                if let Ok(mut queues) = self.queues.lock() {
                    queues
                        .entry(key.clone())
                        .or_default()
                        .push_back((execution, plan, secrets));
                }
                // A slot may have freed since the look.
                self.pump(&key).await;
                Ok(State::Created)
            }
        }
    }

    /// Starts this node's queued executions of a flow, oldest first, while
    /// the store gives them slots. One pump at a time.
    pub async fn pump(&self, key: &(String, String)) {
        let _one = self.pumping.lock().await;
        loop {
            let head = self
                .queues
                .lock()
                .ok()
                .and_then(|q| q.get(key).and_then(|q| q.front().cloned()));
            let Some((mut execution, plan, secrets)) = head else {
                return;
            };
            let limit = plan
                .concurrency
                .as_ref()
                .map_or(u64::MAX, |c| u64::from(c.limit));
            let slot = match self
                .shared
                .store
                .start_within_limit(&execution.id, limit)
                .await
            {
                Ok(slot) => slot,
                Err(error) => {
                    tracing::warn!(%error, execution_id = %execution.id, "cannot start a queued execution; it waits for the next look");
                    return;
                }
            };
            if slot == Slot::Full {
                return;
            }
            if let Ok(mut queues) = self.queues.lock()
                && let Some(queue) = queues.get_mut(key)
            {
                queue.pop_front();
                if queue.is_empty() {
                    queues.remove(key);
                }
            }
            if slot == Slot::Started {
                execution.state = State::Running;
                self.shared.emit(&execution.id, State::Running).await;
                self.start_walk(execution, plan, secrets);
            }
        }
    }

    /// Pumps every flow this node queues executions of (slots freed on a
    /// node that could not say so).
    pub async fn pump_all(&self) {
        let keys: Vec<(String, String)> = self
            .queues
            .lock()
            .map(|q| q.keys().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            self.pump(&key).await;
        }
    }

    /// A walk of a limited flow ended: its slot is free for the next
    /// queued execution, here or on another node.
    async fn release_slot(&self, plan: &Plan) {
        if plan.concurrency.is_none() {
            return;
        }
        let key = (plan.namespace.clone(), plan.id.clone());
        self.pump(&key).await;
        if self.shared.node.is_some() {
            let _ = self
                .shared
                .store
                .notify(crate::cluster::SLOTS, &format!("{} {}", key.0, key.1))
                .await;
        }
    }

    fn start_walk(&self, execution: ExecutionRecord, plan: Arc<Plan>, secrets: Vec<String>) {
        let kill = CancellationToken::new();
        let stop = self.shared.shutdown.child_token();
        if let Ok(mut running) = self.running.lock() {
            running.insert(execution.id.clone(), (kill.clone(), stop.clone()));
        }
        let shared = self.shared.clone();
        let running = self.running.clone();
        let this = self.clone();
        self.tracker.spawn(async move {
            let id = execution.id.clone();
            let plan_for_release = plan.clone();
            // A queued execution may have been killed while it waited.
            if let Ok(Some(current)) = shared.store.get_execution(&id).await
                && current.state.is_terminal()
            {
                if let Ok(mut running) = running.lock() {
                    running.remove(&id);
                }
                this.release_slot(&plan_for_release).await;
                return;
            }
            shared.refresh_secrets(&id).await;
            let host = RuntimeHost {
                namespace: execution.namespace.as_str().to_owned(),
                namespace_secrets: shared.namespace_secrets.clone(),
                secrets: shared.secrets.clone(),
                // read() and fileSize() reach the execution's namespace only.
                storage: shared.storage.for_namespace(&execution.namespace),
            };
            let renderer = Renderer::new(Arc::new(host))
                .with_limits(shared.render_limits.clone())
                .with_secret_inputs(inputs::secret_ids(&plan.inputs));
            for secret in &secrets {
                renderer.masker().add(secret);
            }
            let existing = match shared.store.task_runs(&id).await {
                Ok(runs) => runs,
                Err(error) => {
                    tracing::error!(%error, execution_id = %id, "cannot read the task runs; the execution waits for a restart");
                    return;
                }
            };
            let plan = match inject_templates(&shared.store, plan).await {
                Ok(plan) => plan,
                Err(error) => {
                    tracing::error!(%error, execution_id = %id, "cannot read the flow's templates; the execution waits for a restart");
                    return;
                }
            };
            let walk = Arc::new(run::Walk::new(shared.clone(), execution, plan, renderer, kill, stop.clone(), existing));
            match walk.run().await {
                Ok(state) => tracing::info!(execution_id = %id, %state, "execution ended"),
                Err(crate::store::StoreError::Lost(_)) => {
                    tracing::warn!(execution_id = %id, "another node runs this execution now; it stops here");
                }
                Err(error) => {
                    tracing::error!(%error, execution_id = %id, "execution stopped on a store error; it is released for an executor to resume");
                    // Owned by nobody, the execution is claimed again (here
                    // or on another node, at the next look for work, not at
                    // once: the error may last) and resumed from its task
                    // runs, rather than waiting on a live owner that does
                    // not run it.
                    if let Some(owner) = shared.owner()
                        && !stop.is_cancelled()
                    {
                        let _ = shared.store.release(&id, owner).await;
                    }
                }
            }
            if let Ok(mut running) = running.lock() {
                // A walk stopped for another node to resume leaves its
                // entry only if no newer walk of the same execution took it.
                if running.get(&id).is_some_and(|(_, s)| s.is_cancelled() == stop.is_cancelled()) {
                    running.remove(&id);
                }
            }
            if !shared.shutdown.is_cancelled() {
                this.release_slot(&plan_for_release).await;
            }
        });
    }

    /// An execution from the store as a walk needs it: with the real values
    /// of its SECRET inputs in place of the masks, and those values, which
    /// every log line and output masks.
    async fn with_secrets(
        &self,
        mut execution: ExecutionRecord,
    ) -> Result<(ExecutionRecord, Vec<String>), ExecutionError> {
        let hidden = self.shared.store.execution_secrets(&execution.id).await?;
        let values = hidden
            .values()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .filter(|v| !v.is_empty())
            .collect();
        if let Value::Object(inputs) = &mut execution.inputs {
            for (id, value) in hidden {
                inputs::insert_at(inputs, &id, value);
            }
        }
        Ok((execution, values))
    }

    /// Kills an execution: cancels its running tasks (each calls its cancel
    /// hook) and ends it KILLED. Killing an ended execution is a conflict.
    pub async fn kill(&self, id: &ExecutionId) -> Result<State, ExecutionError> {
        let execution = self
            .shared
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| ExecutionError::NotFound(id.clone()))?;
        if execution.state.is_terminal() {
            return Err(ExecutionError::Conflict(format!(
                "execution {id} has already ended {}",
                execution.state
            )));
        }
        let token = self.running.lock().ok().and_then(|r| {
            r.get(id)
                .filter(|(_, stop)| !stop.is_cancelled())
                .map(|(kill, _)| kill.clone())
        });
        // Running on another live node: that node cancels it, told through
        // the store.
        let elsewhere = match (&token, &self.shared.node) {
            (None, Some(node)) => self
                .shared
                .store
                .owner_of(id, node.lease_ms())
                .await?
                .is_some_and(|(owner, live)| live && owner != node.id),
            _ => false,
        };
        let state = self.shared.store.execution_event(id, Event::Kill).await?;
        self.shared.emit(id, state).await;
        match token {
            Some(token) => token.cancel(),
            None if elsewhere => {
                self.shared
                    .store
                    .notify(crate::cluster::KILLS, id.as_str())
                    .await?
            }
            None if state == State::Killing => {
                // Not running anywhere (its process died): nothing to cancel.
                let state = self
                    .shared
                    .store
                    .execution_event(id, Event::Stopped)
                    .await?;
                self.shared.emit(id, state).await;
                return Ok(state);
            }
            None => {}
        }
        Ok(state)
    }

    /// Waits until an execution has ended; returns its final state.
    pub async fn wait(&self, id: &ExecutionId) -> Result<State, ExecutionError> {
        let mut events = self.subscribe();
        loop {
            let execution = self
                .shared
                .store
                .get_execution(id)
                .await?
                .ok_or_else(|| ExecutionError::NotFound(id.clone()))?;
            if execution.state.is_terminal() {
                return Ok(execution.state);
            }
            // Each event is a reason to look again; a lagged receiver too.
            loop {
                match events.recv().await {
                    Ok((event_id, state)) if &event_id == id && state.is_terminal() => {
                        return Ok(state);
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return Ok(execution.state),
                }
            }
        }
    }

    /// Restarts a failed or killed execution: its failed task runs (and the
    /// flowables around them) run again as new attempts, what succeeded is
    /// kept.
    pub async fn restart(
        &self,
        id: &ExecutionId,
        plan: Arc<Plan>,
    ) -> Result<State, ExecutionError> {
        let execution = self
            .shared
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| ExecutionError::NotFound(id.clone()))?;
        if !matches!(execution.state, State::Failed | State::Killed) {
            return Err(ExecutionError::Conflict(format!(
                "execution {id} is {}: only a FAILED or KILLED execution can be restarted",
                execution.state
            )));
        }
        let runs = self.shared.store.task_runs(id).await?;
        // As Kestra does: the `errors` and `finally` branches of the first
        // pass are cleared, so they run again on the new outcome (and
        // `errors` only if it fails again). Their log lines stay.
        let branch_tasks: std::collections::HashSet<&str> = plan
            .errors
            .iter()
            .chain(&plan.finally)
            .chain(&plan.after_execution)
            .flat_map(|node| {
                let mut all = Vec::new();
                node.collect_into(&mut all);
                all
            })
            .map(|node| node.id.as_str())
            .collect();
        let (cleared, runs): (Vec<_>, Vec<_>) = runs
            .into_iter()
            .partition(|run| branch_tasks.contains(run.task_id.as_str()));
        self.shared
            .store
            .delete_task_runs(&cleared.into_iter().map(|run| run.id).collect::<Vec<_>>())
            .await?;
        for run in runs {
            if matches!(run.state, State::Failed | State::Killed) {
                self.shared
                    .store
                    .task_run_event(&run.id, Event::Restart, None)
                    .await?;
            }
        }
        let state = self
            .shared
            .store
            .execution_event(id, Event::Restart)
            .await?;
        self.shared.emit(id, state).await;
        if !self.runs_here() {
            self.hand_over(id).await?;
            return Ok(state);
        }
        self.shared.store.set_owner(id, self.owner()).await?;
        let execution = self
            .shared
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| ExecutionError::NotFound(id.clone()))?;
        let (execution, secrets) = self.with_secrets(execution).await?;
        self.admit(execution, plan, secrets).await?;
        Ok(state)
    }

    /// Repairs a failed execution's Databricks job runs: each failed task
    /// run that made a run (SubmitRun, RunNow, CreateJob: a `run_id` in its
    /// checkpoint) is marked for repair, then the execution restarts, so
    /// those tasks run their run's failed tasks again in the same run
    /// (jobs/runs/repair) as a new attempt of the same task run, instead of
    /// submitting a new one.
    pub async fn repair(&self, id: &ExecutionId, plan: Arc<Plan>) -> Result<State, ExecutionError> {
        let execution = self
            .shared
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| ExecutionError::NotFound(id.clone()))?;
        if !matches!(execution.state, State::Failed | State::Killed) {
            return Err(ExecutionError::Conflict(format!(
                "execution {id} is {}: only a FAILED or KILLED execution can be repaired",
                execution.state
            )));
        }
        let runs = self.shared.store.task_runs(id).await?;
        let mut marked = 0;
        for run in &runs {
            let Some(checkpoint) = run.checkpoint.as_ref().filter(|c| c["run_id"].is_i64()) else {
                continue;
            };
            if matches!(run.state, State::Failed | State::Killed) {
                let mut marked_checkpoint = checkpoint.clone();
                marked_checkpoint["repair"] = serde_json::json!(true);
                self.shared.store.set_checkpoint(&run.id, &marked_checkpoint).await?;
                marked += 1;
            }
        }
        if marked == 0 {
            return Err(ExecutionError::Conflict(format!(
                "execution {id} has no failed Databricks job run to repair: restart it to run its failed tasks again"
            )));
        }
        self.restart(id, plan).await
    }

    /// Replays an execution as a new one (its `original_id` names the old):
    /// the task runs that ended well before `from` are kept, with their
    /// outputs; `from` and everything after it run again. Without `from`,
    /// everything runs again with the same inputs.
    pub async fn replay(
        &self,
        original: &ExecutionId,
        from: Option<&crate::ids::TaskRunId>,
        plan: Arc<Plan>,
    ) -> Result<ExecutionRecord, ExecutionError> {
        use crate::ids::TaskRunId;
        let execution = self
            .shared
            .store
            .get_execution(original)
            .await?
            .ok_or_else(|| ExecutionError::NotFound(original.clone()))?;
        let runs = self.shared.store.task_runs(original).await?;
        let kept: Vec<crate::store::TaskRunRecord> = match from {
            None => Vec::new(),
            Some(from) => {
                let position = runs.iter().position(|r| &r.id == from).ok_or_else(|| {
                    ExecutionError::Conflict(format!(
                        "task run {from} is not part of execution {original}"
                    ))
                })?;
                // The chosen run's flowable parents run again around it.
                let mut ancestors = std::collections::HashSet::new();
                let mut parent = runs[position].parent_task_run_id.clone();
                while let Some(id) = parent {
                    parent = runs
                        .iter()
                        .find(|r| r.id == id)
                        .and_then(|r| r.parent_task_run_id.clone());
                    ancestors.insert(id);
                }
                runs[..position]
                    .iter()
                    .filter(|r| r.state.is_successful() || ancestors.contains(&r.id))
                    .cloned()
                    .collect()
            }
        };
        let new = NewExecution {
            id: ExecutionId::generate(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            flow_revision: execution.flow_revision,
            inputs: execution.inputs.clone(),
            labels: execution.labels.clone(),
            trigger_vars: execution.trigger_vars.clone(),
            original_id: Some(original.clone()),
        };
        // Kept runs get new ids (with their parents' ids mapped), and the
        // parents of the replayed run start over as CREATED.
        let ids: HashMap<TaskRunId, TaskRunId> = kept
            .iter()
            .map(|r| (r.id.clone(), TaskRunId::generate()))
            .collect();
        let copies: Vec<crate::store::TaskRunRecord> = kept
            .into_iter()
            .map(|mut run| {
                let was_ancestor = !run.state.is_successful();
                run.id = ids[&run.id].clone();
                run.execution_id = new.id.clone();
                run.parent_task_run_id = run
                    .parent_task_run_id
                    .as_ref()
                    .and_then(|p| ids.get(p).cloned());
                if was_ancestor {
                    run.state = State::Created;
                    run.attempts = Vec::new();
                    run.outputs = None;
                    run.checkpoint = None;
                    run.histories = vec![crate::store::StateChange {
                        state: State::Created,
                        date: jiff::Timestamp::now().as_millisecond(),
                    }];
                    run.ended_at = None;
                }
                run
            })
            .collect();
        let hidden = self.shared.store.execution_secrets(original).await?;
        let record = self
            .shared
            .store
            .create_owned_execution(&new, true, &hidden, self.owner())
            .await?;
        self.shared.store.copy_task_runs(&copies).await?;
        if !self.runs_here() {
            self.hand_over(&record.id).await?;
            return Ok(record);
        }
        let (walked, secrets) = self.with_secrets(record.clone()).await?;
        self.admit(walked, plan, secrets).await?;
        Ok(record)
    }

    /// Picks up every execution that was under way when the process
    /// stopped. `plan_of` finds the plan of an execution's flow revision.
    pub async fn recover(
        &self,
        plan_of: impl Fn(&ExecutionRecord) -> Option<Arc<Plan>>,
    ) -> Result<usize, ExecutionError> {
        let mut resumed = 0;
        for id in self.shared.store.unfinished_executions().await? {
            let Some(execution) = self.shared.store.get_execution(&id).await? else {
                continue;
            };
            match plan_of(&execution) {
                Some(plan) => {
                    tracing::info!(execution_id = %id, state = %execution.state, "resuming an execution after a restart");
                    if execution.state == State::Killing {
                        let state = self
                            .shared
                            .store
                            .execution_event(&id, Event::Stopped)
                            .await?;
                        self.shared.emit(&id, state).await;
                        continue;
                    }
                    self.shared.store.set_owner(&id, self.owner()).await?;
                    let (execution, secrets) = self.with_secrets(execution).await?;
                    self.admit(execution, plan, secrets).await?;
                    resumed += 1;
                }
                None => {
                    tracing::error!(execution_id = %id, "cannot resume: its flow revision is gone")
                }
            }
        }
        Ok(resumed)
    }

    /// Stops every walk where it is, without changing any state, and waits
    /// for them: what was running is resumed by `recover` at next start.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// The plan with its flow.Template tasks replaced by their templates' tasks
/// (Kestra's Template.injectTemplate), read from the store each time an
/// execution is walked, as Kestra's executor reads them; a plan without
/// one is returned as it is. A template that is not valid YAML fails the
/// Template task, as a missing one does.
async fn inject_templates(
    store: &crate::store::Store,
    plan: Arc<Plan>,
) -> Result<Arc<Plan>, crate::store::StoreError> {
    if !plan.has_templates() {
        return Ok(plan);
    }
    let mut found: HashMap<(String, String), Option<String>> = HashMap::new();
    // Templates can use templates: read until every one named is known.
    for _ in 0..10 {
        let missing = std::cell::RefCell::new(Vec::new());
        let _ = plan.inject_templates(&|namespace, id| {
            let key = (namespace.to_owned(), id.to_owned());
            match found.get(&key) {
                Some(source) => source.clone(),
                None => {
                    missing.borrow_mut().push(key);
                    None
                }
            }
        });
        let missing = missing.into_inner();
        if missing.is_empty() {
            break;
        }
        for (namespace, id) in missing {
            let source = store.get_template(&namespace, &id).await?.map(|t| t.source);
            found.insert((namespace, id), source);
        }
    }
    Ok(
        match plan.inject_templates(&|namespace, id| {
            found
                .get(&(namespace.to_owned(), id.to_owned()))
                .cloned()
                .flatten()
        }) {
            Ok(injected) => Arc::new(injected),
            Err(error) => {
                tracing::warn!(%error, "a template cannot be read; its Template task fails");
                plan
            }
        },
    )
}
