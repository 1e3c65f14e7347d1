//! Walking one execution's plan. Every transition of the execution and of
//! its task runs goes to the store as it happens, so that after a crash the
//! same walk, started again, skips what finished, re-attaches what wrote a
//! checkpoint and re-runs the rest.

mod exit;
mod loop_until;
mod pause;
mod variables;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::retry::RetryPolicy;
use crate::flow::expr::{RenderError, Renderer};
use crate::flow::registry::Kind;
use crate::ids::{TaskId, TaskRunId};
use crate::log::Level;
use crate::plan::{Node, NodeKind, Plan};
use crate::state::{Event, State};
use crate::store::{
    ExecutionRecord, NewLog, NewTaskRun, StoreError, TaskRunRecord, TaskRunVersion,
};
use crate::task::core::{is_truthy, parse_duration};
use crate::task::{TaskContext, TaskError, TaskRunRef};

/// How a part of the tree ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failed,
    Killed,
    /// The process is shutting down: leave the state as it is, for recovery.
    Interrupted,
}

impl Outcome {
    fn worst(self, other: Outcome) -> Outcome {
        use Outcome::*;
        match (self, other) {
            (Interrupted, _) | (_, Interrupted) => Interrupted,
            (Killed, _) | (_, Killed) => Killed,
            (Failed, _) | (_, Failed) => Failed,
            _ => Success,
        }
    }
}

/// Where a task run sits: its parent and the ForEach value it is for.
#[derive(Debug, Clone, Default)]
struct Scope {
    parent: Option<TaskRunId>,
    /// The value of the closest enclosing ForEach iteration, inherited
    /// through Sequential, If and the like (Kestra gives it only to the
    /// ForEach's direct children; more flows work with it everywhere).
    value: Option<String>,
    /// The values of every enclosing ForEach iteration, outermost first:
    /// the keys of `outputs.<task>` (Kestra's Execution.outputs) and what
    /// `parents` shows.
    levels: Arc<Vec<String>>,
    /// Whether this is a ForEach's direct child, whose own value is the
    /// last level (Kestra's `parents` leaves it out).
    direct: bool,
    /// The enclosing WorkingDirectory's path: `{{ workingDir }}`.
    working_dir: Option<Arc<str>>,
    /// A LoopUntil's direct child: the iteration it runs in, from 1
    /// (`taskrun.iteration`), which sets its task runs apart.
    iteration: Option<u32>,
    /// A flow.Template's direct child: the Template's outputs, which
    /// Kestra's `parent.outputs` shows (`parent.outputs.args`).
    parent_outputs: Option<Arc<Value>>,
}

impl Scope {
    /// The scope of a flowable task's children.
    fn inner(&self, parent: &TaskRunId) -> Scope {
        Scope {
            parent: Some(parent.clone()),
            value: self.value.clone(),
            levels: self.levels.clone(),
            direct: false,
            working_dir: self.working_dir.clone(),
            iteration: None,
            parent_outputs: None,
        }
    }

    /// The scope of one iteration of a ForEach.
    fn iteration(&self, parent: &TaskRunId, value: String) -> Scope {
        let mut levels = (*self.levels).clone();
        levels.push(value.clone());
        Scope {
            parent: Some(parent.clone()),
            value: Some(value),
            levels: Arc::new(levels),
            direct: true,
            working_dir: self.working_dir.clone(),
            iteration: None,
            parent_outputs: None,
        }
    }

    /// The scope of one iteration of a LoopUntil.
    fn loop_iteration(&self, parent: &TaskRunId, iteration: u32) -> Scope {
        Scope {
            iteration: Some(iteration),
            ..self.inner(parent)
        }
    }

    /// What sets a task run apart from its siblings of the same task: its
    /// ForEach value, or its LoopUntil iteration.
    fn run_value(&self) -> Option<String> {
        self.iteration
            .map(|i| i.to_string())
            .or_else(|| self.value.clone())
    }

    /// Kestra's `parents`: the enclosing iterations, closest first.
    fn parents(&self) -> Value {
        let shown = if self.direct {
            &self.levels[..self.levels.len().saturating_sub(1)]
        } else {
            &self.levels[..]
        };
        Value::Array(
            shown
                .iter()
                .rev()
                .map(|v| json!({"taskrun": {"value": v}}))
                .collect(),
        )
    }
}

type RunKey = (Option<TaskRunId>, TaskId, Option<String>);

/// One execution being walked.
pub(crate) struct Walk {
    shared: Arc<Shared>,
    execution: ExecutionRecord,
    plan: Arc<Plan>,
    renderer: Renderer,
    kill: CancellationToken,
    /// Cancelled when this process stops running the walk (it shuts down,
    /// or its node lost the execution to another): the walk stops where
    /// it is, writing nothing more, for its next owner to resume.
    stop: CancellationToken,
    /// `outputs.<task>` (or `outputs.<task>.<value>` inside a ForEach).
    outputs: Mutex<Map<String, Value>>,
    /// Task runs found in the store, by where they sit: recovery reuses them.
    existing: Mutex<HashMap<RunKey, TaskRunRecord>>,
    warning: std::sync::atomic::AtomicBool,
    /// Set while `finally` runs: a kill stops the main tasks, but the
    /// clean-up runs, as the flows' authors expect.
    in_finally: std::sync::atomic::AtomicBool,
    /// The final state, once known, while `afterExecution` runs: what its
    /// tasks read as `execution.state` and see of the execution.
    ending: Mutex<Option<State>>,
    variables: Mutex<Option<Value>>,
    /// Kestra's `tasks` variable: `tasks.<id>.state`, or
    /// `tasks.<id>.<value>.state` for a run with a ForEach value.
    states: Mutex<Map<String, Value>>,
    /// What this walk last wrote of each unfinished task run, so that its
    /// next event is one guarded UPDATE.
    versions: Mutex<HashMap<TaskRunId, TaskRunVersion>>,
    /// The store error that interrupted a task, if one did: the walk ends
    /// with it, for the execution to be resumed from its task runs.
    failure: Mutex<Option<StoreError>>,
    /// Set by `execution.Exit`: the state the execution ends in; no task
    /// starts after it.
    exit: Mutex<Option<State>>,
}

impl Walk {
    pub(crate) fn new(
        shared: Arc<Shared>,
        execution: ExecutionRecord,
        plan: Arc<Plan>,
        renderer: Renderer,
        kill: CancellationToken,
        stop: CancellationToken,
        existing: Vec<TaskRunRecord>,
    ) -> Self {
        let mut outputs = Map::new();
        let mut by_key = HashMap::new();
        let levels = stored_levels(&existing, &plan);
        let mut states = Map::new();
        // The ForEachItem tasks, whose outputs also sit under Kestra's inner ids.
        let for_each_items: std::collections::HashSet<&TaskId> = plan
            .all_nodes()
            .into_iter()
            .filter(|n| {
                n.declared
                    .is_some_and(|t| t.name == crate::task::core::flow::FOR_EACH_ITEM.name)
            })
            .map(|n| &n.id)
            .collect();
        for run in existing {
            if run.state.is_successful()
                && let Some(out) = &run.outputs
            {
                let at = levels.get(&run.id).map_or(&[][..], Vec::as_slice);
                insert_output(&mut outputs, &run.task_id, at, out.clone());
                if for_each_items.contains(&run.task_id) {
                    for (id, part) in
                        super::subflow::for_each_item_outputs(run.task_id.as_str(), out)
                    {
                        insert_output(&mut outputs, &TaskId::new(id), at, part);
                    }
                }
            }
            note_state(&mut states, &run.task_id, run.value.as_deref(), run.state);
            by_key.insert(
                (
                    run.parent_task_run_id.clone(),
                    run.task_id.clone(),
                    run.value.clone(),
                ),
                run,
            );
        }
        Self {
            shared,
            execution,
            plan,
            renderer,
            kill,
            stop,
            outputs: Mutex::new(outputs),
            existing: Mutex::new(by_key),
            warning: Default::default(),
            in_finally: Default::default(),
            ending: Mutex::default(),
            variables: Mutex::new(None),
            states: Mutex::new(states),
            versions: Mutex::default(),
            failure: Mutex::default(),
            exit: Mutex::default(),
        }
    }

    /// Runs the execution to its end (or to an interruption) and records
    /// its final state.
    pub(crate) async fn run(self: Arc<Self>) -> Result<State, StoreError> {
        let id = self.execution.id.clone();
        if self.execution.state == State::Created {
            self.transition(Event::Start).await?;
        }
        let main = self
            .clone()
            .walk_list(self.plan.tasks.clone(), Scope::default())
            .await;
        let mut outcome = main;
        if main == Outcome::Failed && !self.plan.errors.is_empty() {
            self.log(Level::Warn, "a task failed: running the `errors` tasks")
                .await;
            let errors = self
                .clone()
                .walk_list(self.plan.errors.clone(), Scope::default())
                .await;
            outcome = outcome.worst(errors);
        }
        if outcome != Outcome::Interrupted && !self.plan.finally.is_empty() {
            // `finally` runs even after a kill: it is where flows clean up.
            self.in_finally
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let finally = self
                .clone()
                .walk_list(self.plan.finally.clone(), Scope::default())
                .await;
            if finally != Outcome::Killed || outcome != Outcome::Killed {
                outcome = outcome.worst(finally);
            }
        }
        if outcome == Outcome::Interrupted {
            if let Some(error) = self.failure.lock().ok().and_then(|mut f| f.take()) {
                return Err(error);
            }
            return Ok(self
                .shared
                .store
                .get_execution(&id)
                .await?
                .map_or(State::Running, |e| e.state));
        }
        self.store_flow_outputs().await;
        let exit = self.exit.lock().ok().and_then(|e| *e);
        if exit == Some(State::Killed) {
            // KILLED as a kill: through KILLING.
            self.transition(Event::Kill).await?;
        }
        let event = match (exit, outcome) {
            (Some(State::Success), _) => Event::Succeed,
            (Some(State::Warning), _) => Event::Warn,
            (Some(State::Failed), _) => Event::Fail,
            (Some(_), _) => Event::Stopped,
            (None, Outcome::Success) if self.warning.load(std::sync::atomic::Ordering::Relaxed) => {
                Event::Warn
            }
            (None, Outcome::Success) => Event::Succeed,
            (None, Outcome::Failed) => Event::Fail,
            (None, Outcome::Killed) => Event::Stopped,
            (None, Outcome::Interrupted) => unreachable!("returned above"),
        };
        if !self.plan.after_execution.is_empty() {
            // As Kestra does: `afterExecution` runs once the final state is
            // known, reads it as `execution.state` (a SlackExecution there
            // reports it), and its own outcome does not change it.
            let final_state = self
                .shared
                .store
                .get_execution(&id)
                .await?
                .map_or(State::Running, |e| e.state)
                .on(event)
                .unwrap_or(State::Failed);
            if let Ok(mut ending) = self.ending.lock() {
                *ending = Some(final_state);
            }
            self.in_finally
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let after = self
                .clone()
                .walk_list(self.plan.after_execution.clone(), Scope::default())
                .await;
            if after == Outcome::Interrupted {
                if let Some(error) = self.failure.lock().ok().and_then(|mut f| f.take()) {
                    return Err(error);
                }
                return Ok(State::Running);
            }
            if after == Outcome::Failed {
                self.log(
                    Level::Warn,
                    &format!("an afterExecution task failed; the execution stays {final_state}"),
                )
                .await;
            }
        }
        // Every log line is stored before the end is: whoever waits for the
        // end (`?wait=true`, `mortar run`) then reads complete logs.
        self.shared.logs.flush().await;
        // A kill that came while the last task finished ends it KILLED.
        let state = self.shared.store.end_execution(&id, event).await?;
        self.shared.emit(&id, state).await;
        Ok(state)
    }

    /// Renders a value the walk itself reads (variables, a condition, a
    /// Switch value, ForEach values); the caller names what it was.
    async fn render(&self, value: &Value, vars: &Value) -> Result<Value, String> {
        self.render_off_worker("", "", value, vars)
            .await
            .map_err(|error| error.message)
    }

    async fn render_off_worker(
        &self,
        task: &str,
        property: &str,
        value: &Value,
        vars: &Value,
    ) -> Result<Value, RenderError> {
        self.renderer
            .render_async(task, property, value, vars)
            .await
    }

    fn killed(&self) -> bool {
        !self.in_finally.load(std::sync::atomic::Ordering::SeqCst) && self.kill.is_cancelled()
    }

    /// The token a task's attempt is cancelled through.
    fn kill_token(&self) -> CancellationToken {
        if self.in_finally.load(std::sync::atomic::Ordering::SeqCst) {
            CancellationToken::new()
        } else {
            self.kill.child_token()
        }
    }

    async fn transition(&self, event: Event) -> Result<State, StoreError> {
        let state = self
            .shared
            .store
            .execution_event(&self.execution.id, event)
            .await?;
        self.shared.emit(&self.execution.id, state).await;
        Ok(state)
    }

    async fn log(&self, level: Level, message: &str) {
        self.log_for(None, level, message).await;
    }

    async fn log_for(&self, run: Option<(&TaskRunId, &TaskId, u32)>, level: Level, message: &str) {
        self.shared
            .logs
            .send(NewLog {
                execution_id: self.execution.id.clone(),
                task_run_id: run.map(|r| r.0.clone()),
                task_id: run.map(|r| r.1.clone()),
                attempt: run.map(|r| r.2),
                level,
                at: jiff::Timestamp::now().as_millisecond(),
                message: self.renderer.masker().mask(message),
            })
            .await;
    }

    fn walk_list(self: Arc<Self>, nodes: Vec<Node>, scope: Scope) -> BoxFuture<'static, Outcome> {
        Box::pin(async move {
            for node in nodes {
                let outcome = self.clone().run_node(node, scope.clone()).await;
                if outcome != Outcome::Success {
                    return outcome;
                }
            }
            Outcome::Success
        })
    }

    /// The variables expressions see.
    fn vars(&self, run: Option<(&TaskRunRecord, &Node, &Scope)>) -> Value {
        // What grows with the execution is copied only for a node that may
        // read it; without a node (the flow's variables and outputs), all.
        let reads = run.map_or(crate::plan::Reads::ALL, |(_, node, _)| node.reads);
        let outputs = if reads.outputs {
            self.outputs
                .lock()
                .map(|o| Value::Object(o.clone()))
                .unwrap_or_default()
        } else {
            Value::Object(Map::new())
        };
        let variables = self
            .variables
            .lock()
            .ok()
            .and_then(|v| v.clone())
            .unwrap_or_else(|| json!({}));
        let started = self
            .execution
            .histories
            .first()
            .map_or(self.execution.created_at, |h| h.date);
        let mut vars = json!({
            "flow": {"id": self.plan.id, "namespace": self.plan.namespace, "revision": self.execution.flow_revision},
            "execution": {
                "id": self.execution.id.as_str(),
                "state": self.ending.lock().ok().and_then(|e| *e).map_or_else(|| "RUNNING".to_owned(), |s| s.to_string()),
                "startDate": iso_millis(started),
                "originalId": self.execution.original_id.as_ref().map_or(self.execution.id.as_str(), |id| id.as_str()),
            },
            "inputs": self.execution.inputs,
            "vars": variables,
            "outputs": outputs,
            "labels": labels_view(&self.execution.labels),
            "trigger": self.execution.trigger_vars.clone().unwrap_or_else(|| json!({})),
        });
        if let Value::Object(map) = &mut vars {
            map.extend(
                self.shared
                    .server_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            let tasks = if reads.tasks {
                self.states
                    .lock()
                    .map(|s| Value::Object(s.clone()))
                    .unwrap_or_default()
            } else {
                Value::Object(Map::new())
            };
            map.insert("tasks".into(), tasks);
        }
        if let Some((run, node, scope)) = run {
            // Kestra's RunVariables.of(TaskRun).
            let started = run.histories.first().map_or(run.created_at, |h| h.date);
            vars["taskrun"] = json!({
                "id": run.id.as_str(),
                "startDate": iso_millis(started),
                "attemptsCount": run.attempts.len(),
                "value": scope.value,
                "parentId": scope.parent.as_ref().map(|p| p.as_str()),
            });
            if let Some(iteration) = scope.iteration {
                vars["taskrun"]["iteration"] = iteration.into();
            }
            let mut parents = scope.parents();
            if let (Some(outputs), Value::Array(list)) = (&scope.parent_outputs, &mut parents) {
                // The closest parent is the Template, which has no value.
                list.insert(0, json!({"outputs": **outputs}));
            }
            if let Some(closest) = parents.get(0) {
                vars["parent"] = closest.clone();
            }
            vars["parents"] = parents;
            vars["task"] = json!({"id": node.id.as_str(), "type": node.task_type});
            if let Some(dir) = &scope.working_dir {
                vars["workingDir"] = Value::String(dir.to_string());
                vars["workerTaskrun"] = vars["taskrun"].clone();
            }
        }
        vars
    }

    /// Records a task run's event in the store, and its new state for
    /// `tasks.<id>.state`.
    async fn event(
        &self,
        run: &TaskRunRecord,
        event: Event,
        outputs: Option<&Value>,
    ) -> Result<State, StoreError> {
        let known = self
            .versions
            .lock()
            .ok()
            .and_then(|mut versions| versions.remove(&run.id))
            .unwrap_or_else(|| TaskRunVersion::of(run));
        let version = self
            .shared
            .store
            .task_run_event_from(&run.id, &known, event, outputs)
            .await?;
        let state = version.state;
        if !state.is_terminal()
            && let Ok(mut versions) = self.versions.lock()
        {
            versions.insert(run.id.clone(), version);
        }
        if let Ok(mut states) = self.states.lock() {
            note_state(&mut states, &run.task_id, run.value.as_deref(), state);
        }
        Ok(state)
    }

    /// The execution's ERROR logs so far, as Kestra's `errorLogs()` gives
    /// them (LogEntry maps), for a task whose properties call it. Read
    /// ahead because expressions render without waiting.
    async fn error_logs(&self) -> Result<Value, StoreError> {
        self.shared.logs.flush().await;
        let logs = self
            .shared
            .store
            .logs(&self.execution.id, Level::Error, 0, 1000)
            .await?;
        Ok(Value::Array(
            logs.into_iter()
                .filter(|l| l.level == Level::Error)
                .map(|l| {
                    json!({
                        "namespace": self.execution.namespace.as_str(),
                        "flowId": self.execution.flow_id.as_str(),
                        "executionId": l.execution_id.as_str(),
                        "taskId": l.task_id.as_ref().map(|t| t.as_str()),
                        "taskRunId": l.task_run_id.as_ref().map(|t| t.as_str()),
                        "attemptNumber": l.attempt.map(|a| a.saturating_sub(1)),
                        "timestamp": iso_millis(l.at),
                        "level": "ERROR",
                        "message": l.message,
                    })
                })
                .collect(),
        ))
    }

    /// The flow's `variables` (as written), once, on first use.
    async fn ensure_variables(&self) -> Result<(), String> {
        let done = self.variables.lock().map(|v| v.is_some()).unwrap_or(true);
        if done {
            return Ok(());
        }
        // After a restart, what the last SetVariables or UnsetVariables
        // left. The flow's `variables` are kept as written, as Kestra keeps
        // them: an expression in one is rendered where it is read, with
        // `render(vars.x)`.
        let rendered = match self.stored_variables() {
            Some(stored) => stored,
            None => Value::Object(self.plan.variables.clone()),
        };
        if let Ok(mut slot) = self.variables.lock() {
            *slot = Some(rendered);
        }
        Ok(())
    }

    /// The task run at this place: the one from before a crash or restart,
    /// or a new one (already RUNNING when nothing has to be decided first).
    async fn task_run(&self, node: &Node, scope: &Scope) -> Result<TaskRunRecord, StoreError> {
        let key = (scope.parent.clone(), node.id.clone(), scope.run_value());
        if let Some(found) = self.existing.lock().ok().and_then(|e| e.get(&key).cloned()) {
            return Ok(found);
        }
        let new = NewTaskRun {
            id: TaskRunId::generate(),
            execution_id: self.execution.id.clone(),
            task_id: node.id.clone(),
            parent_task_run_id: scope.parent.clone(),
            value: scope.run_value(),
        };
        let record = if node.common.run_if.is_some() {
            // runIf decides between running and skipping: start in CREATED.
            self.shared
                .store
                .create_task_runs(std::slice::from_ref(&new), self.shared.owner())
                .await?;
            TaskRunRecord {
                id: new.id,
                execution_id: new.execution_id,
                task_id: new.task_id,
                parent_task_run_id: new.parent_task_run_id,
                value: new.value,
                state: State::Created,
                attempts: Vec::new(),
                outputs: None,
                checkpoint: None,
                histories: Vec::new(),
                created_at: jiff::Timestamp::now().as_millisecond(),
                ended_at: None,
            }
        } else {
            self.shared
                .store
                .start_task_run(&new, self.shared.owner())
                .await?
        };
        if let Ok(mut versions) = self.versions.lock() {
            versions.insert(record.id.clone(), TaskRunVersion::of(&record));
        }
        if let Ok(mut existing) = self.existing.lock() {
            existing.insert(key, record.clone());
        }
        if let Ok(mut states) = self.states.lock() {
            note_state(
                &mut states,
                &record.task_id,
                record.value.as_deref(),
                record.state,
            );
        }
        Ok(record)
    }

    fn run_node(self: Arc<Self>, node: Node, scope: Scope) -> BoxFuture<'static, Outcome> {
        Box::pin(async move {
            if node.common.disabled {
                return Outcome::Success;
            }
            if self.killed() {
                return Outcome::Killed;
            }
            if self.stop.is_cancelled() {
                return Outcome::Interrupted;
            }
            match self.clone().run_node_inner(&node, &scope).await {
                Ok(outcome) => outcome,
                Err(StoreError::Lost(_)) => {
                    // Another node runs the execution now: the whole walk
                    // stops, writing nothing more.
                    if let Ok(mut failure) = self.failure.lock() {
                        failure.get_or_insert(StoreError::Lost(self.execution.id.to_string()));
                    }
                    self.stop.cancel();
                    Outcome::Interrupted
                }
                Err(error) => {
                    tracing::error!(%error, task = %node.id, "the store failed while running a task");
                    // Leave it for a resume rather than record a wrong state.
                    if let Ok(mut failure) = self.failure.lock() {
                        failure.get_or_insert(error);
                    }
                    Outcome::Interrupted
                }
            }
        })
    }

    async fn run_node_inner(
        self: Arc<Self>,
        node: &Node,
        scope: &Scope,
    ) -> Result<Outcome, StoreError> {
        // After an execution.Exit, nothing more starts.
        if self.exit.lock().is_ok_and(|e| e.is_some()) {
            return Ok(Outcome::Success);
        }
        let run = self.task_run(node, scope).await?;
        match run.state {
            s if s.is_successful() => return Ok(Outcome::Success),
            State::Failed => return Ok(Outcome::Failed),
            State::Killed => return Ok(Outcome::Killed),
            _ => {}
        }
        if let Err(message) = self.ensure_variables().await {
            return self
                .fail_run(&run, node, 0, &format!("variables: {message}"))
                .await;
        }
        if let Some(condition) = &node.common.run_if
            && run.state == State::Created
        {
            match self
                .render(condition, &self.vars(Some((&run, node, scope))))
                .await
            {
                Ok(value) if !is_truthy(&value) => {
                    self.event(&run, Event::Skip, None).await?;
                    self.log_for(
                        Some((&run.id, &node.id, 0)),
                        Level::Info,
                        "skipped: runIf is false",
                    )
                    .await;
                    return Ok(Outcome::Success);
                }
                Ok(_) => {}
                Err(message) => {
                    return self
                        .fail_run(&run, node, 0, &format!("runIf: {message}"))
                        .await;
                }
            }
        }
        // The tasks the executor runs itself, by their declaration.
        let declared = node.declared.map(|t| t.name);
        match &node.kind {
            NodeKind::Task { properties }
                if declared == Some(crate::task::core::flow::PAUSE.name) =>
            {
                self.pause(node, properties, &run, scope).await
            }
            NodeKind::Task { properties }
                if declared == Some(crate::task::core::execution::EXIT.name) =>
            {
                self.exit(node, properties, &run, scope).await
            }
            NodeKind::Task { properties } if variables::changes_variables(node) => {
                self.change_variables(node, properties, &run, scope).await
            }
            NodeKind::Task { properties } => self.run_task(node, properties, &run, scope).await,
            _ => self.run_flowable(node, &run, scope).await,
        }
    }

    /// Fails a task run that could not start (bad expression, no runner).
    async fn fail_run(
        &self,
        run: &TaskRunRecord,
        node: &Node,
        attempt: u32,
        message: &str,
    ) -> Result<Outcome, StoreError> {
        if run.state == State::Created {
            self.event(run, Event::Start, None).await?;
        }
        self.log_for(
            Some((&run.id, &node.id, attempt.max(1))),
            Level::Error,
            &format!("task {}: {message}", node.id),
        )
        .await;
        self.end_failed(run, node).await
    }

    async fn end_failed(&self, run: &TaskRunRecord, node: &Node) -> Result<Outcome, StoreError> {
        if node.common.allow_failure {
            self.warn(run, node, None).await?;
            return Ok(Outcome::Success);
        }
        self.event(run, Event::Fail, None).await?;
        Ok(Outcome::Failed)
    }

    /// Ends a task run WARNING (the execution too), or SUCCESS when the
    /// task allows warnings (Kestra's allowWarning).
    async fn warn(
        &self,
        run: &TaskRunRecord,
        node: &Node,
        outputs: Option<&Value>,
    ) -> Result<State, StoreError> {
        if node.common.allow_warning {
            return self.event(run, Event::Succeed, outputs).await;
        }
        self.warning
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.event(run, Event::Warn, outputs).await
    }

    async fn run_flowable(
        self: Arc<Self>,
        node: &Node,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Result<Outcome, StoreError> {
        if run.state == State::Created {
            self.event(run, Event::Start, None).await?;
        }
        let inner = scope.inner(&run.id);
        let branches = inner.clone();
        let vars = self.vars(Some((run, node, scope)));
        let outcome = match &node.kind {
            NodeKind::Task { .. } => unreachable!("tasks are run by run_task"),
            NodeKind::Sequential { tasks } => self.clone().walk_list(tasks.clone(), inner).await,
            NodeKind::Template { args, tasks } => {
                // Kestra's Template.outputs: each argument rendered to text.
                let args = match self.render(args, &vars).await {
                    Ok(Value::Object(map)) => Value::Object(
                        map.into_iter()
                            .map(|(k, v)| {
                                let text = match v {
                                    Value::String(s) => Value::String(s),
                                    Value::Null => Value::Null,
                                    other => Value::String(other.to_string()),
                                };
                                (k, text)
                            })
                            .collect(),
                    ),
                    Ok(Value::Null) => Value::Object(Map::new()),
                    Ok(other) => {
                        return self
                            .fail_run(run, node, 1, &format!("args: {other} is not a mapping"))
                            .await;
                    }
                    Err(message) => {
                        return self
                            .fail_run(run, node, 1, &format!("args: {message}"))
                            .await;
                    }
                };
                let outputs = self.renderer.masker().mask_value(&json!({"args": args}));
                let inner = Scope {
                    parent_outputs: Some(Arc::new(outputs.clone())),
                    ..inner
                };
                let outcome = self.clone().walk_list(tasks.clone(), inner).await;
                let outcome = self.clone().own_branches(node, branches, outcome).await;
                if outcome == Outcome::Success {
                    if let Ok(mut all) = self.outputs.lock() {
                        insert_output(&mut all, &node.id, &scope.levels, outputs.clone());
                    }
                    self.event(run, Event::Succeed, Some(&outputs)).await?;
                    return Ok(Outcome::Success);
                }
                return self.end_flowable(run, node, outcome).await;
            }
            NodeKind::WorkingDirectory { tasks, files } => {
                return self
                    .clone()
                    .run_working_directory(node, run, inner, tasks, files, &vars)
                    .await;
            }
            NodeKind::Parallel {
                tasks,
                concurrency_limit,
            } => {
                let limit = if *concurrency_limit == 0 {
                    tasks.len().max(1)
                } else {
                    *concurrency_limit
                };
                // At most `limit` branches exist at once: the next one is
                // made when one ends.
                let mut running = futures::stream::iter(tasks.iter().cloned())
                    .map(|child| self.clone().run_node(child, inner.clone()))
                    .buffer_unordered(limit);
                let mut outcome = Outcome::Success;
                while let Some(result) = running.next().await {
                    outcome = outcome.worst(result);
                }
                outcome
            }
            NodeKind::Dag { tasks } => self.clone().run_dag(tasks.clone(), inner).await,
            NodeKind::LoopUntil {
                condition,
                check,
                fail_on_max,
                tasks,
            } => {
                return self
                    .clone()
                    .run_loop(node, run, scope, (condition, check, fail_on_max), tasks)
                    .await;
            }
            NodeKind::If {
                condition,
                then,
                otherwise,
            } => match self.render(condition, &vars).await {
                Ok(value) => {
                    let branch = if is_truthy(&value) { then } else { otherwise };
                    self.clone().walk_list(branch.clone(), inner).await
                }
                Err(message) => {
                    return self
                        .fail_run(run, node, 1, &format!("condition: {message}"))
                        .await;
                }
            },
            NodeKind::Switch {
                value,
                cases,
                defaults,
            } => match self.render(value, &vars).await {
                Ok(value) => {
                    let key = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let branch = cases
                        .iter()
                        .find(|(case, _)| *case == key)
                        .map_or(defaults, |(_, tasks)| tasks);
                    self.clone().walk_list(branch.clone(), inner).await
                }
                Err(message) => {
                    return self
                        .fail_run(run, node, 1, &format!("value: {message}"))
                        .await;
                }
            },
            NodeKind::ForEach {
                values,
                concurrency_limit,
                tasks,
            } => {
                let values = match self.render(values, &vars).await {
                    Ok(Value::Array(items)) => items,
                    Ok(Value::String(text)) => match serde_json::from_str::<Vec<Value>>(&text) {
                        Ok(items) => items,
                        Err(_) => {
                            return self
                                .fail_run(run, node, 1, &format!("values: {text:?} is not a list"))
                                .await;
                        }
                    },
                    Ok(other) => {
                        return self
                            .fail_run(run, node, 1, &format!("values: {other} is not a list"))
                            .await;
                    }
                    Err(message) => {
                        return self
                            .fail_run(run, node, 1, &format!("values: {message}"))
                            .await;
                    }
                };
                let limit = if *concurrency_limit == 0 {
                    values.len().max(1)
                } else {
                    *concurrency_limit
                };
                // At most `limit` iterations exist at once (each holds a
                // copy of the tasks): the next is made when one ends.
                let mut running = futures::stream::iter(values)
                    .map(|value| {
                        let value = match value {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        let scope = scope.iteration(&run.id, value);
                        self.clone().walk_list(tasks.clone(), scope)
                    })
                    .buffer_unordered(limit);
                let mut outcome = Outcome::Success;
                while let Some(result) = running.next().await {
                    outcome = outcome.worst(result);
                }
                outcome
            }
        };
        let outcome = self.clone().own_branches(node, branches, outcome).await;
        self.end_flowable(run, node, outcome).await
    }

    /// A flowable's own `errors` (when a task inside failed) and `finally`
    /// (after its tasks, unless killed or interrupted), run inside it, as
    /// Kestra's flowables do; the flowable stays FAILED after `errors`.
    async fn own_branches(self: Arc<Self>, node: &Node, scope: Scope, outcome: Outcome) -> Outcome {
        let mut outcome = outcome;
        if outcome == Outcome::Failed && !node.common.errors.is_empty() {
            self.log(
                Level::Warn,
                &format!("a task in {} failed: running its `errors` tasks", node.id),
            )
            .await;
            let errors = self
                .clone()
                .walk_list(node.common.errors.clone(), scope.clone())
                .await;
            outcome = outcome.worst(errors);
        }
        if matches!(outcome, Outcome::Success | Outcome::Failed) && !node.common.finally.is_empty()
        {
            let finally = self
                .clone()
                .walk_list(node.common.finally.clone(), scope)
                .await;
            outcome = outcome.worst(finally);
        }
        outcome
    }

    /// A WorkingDirectory: its directory made with `inputFiles`, its
    /// tasks in order with `workingDir` set, then `outputFiles` kept as its
    /// outputs and the directory removed.
    async fn run_working_directory(
        self: Arc<Self>,
        node: &Node,
        run: &TaskRunRecord,
        mut inner: Scope,
        tasks: &[Node],
        files: &Map<String, Value>,
        vars: &Value,
    ) -> Result<Outcome, StoreError> {
        let files = match self
            .render_off_worker(
                node.id.as_str(),
                "files",
                &Value::Object(files.clone()),
                vars,
            )
            .await
        {
            Ok(files) => files,
            Err(error) => return self.fail_run(run, node, 1, &error.to_string()).await,
        };
        let dir = match super::working_dir::WorkingDir::create(&run.id).await {
            Ok(dir) => dir,
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        };
        let run_ref = Some((&run.id, &node.id, 1));
        let storage = self.shared.storage.for_namespace(&self.execution.namespace);
        // The cache first: what a task writes afterwards replaces it.
        let cache = match cache_spec(&files["cache"]) {
            Ok(cache) => cache,
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        };
        let cache_dir = self.shared.storage.cache_dir(
            &self.execution.namespace,
            &self.execution.flow_id,
            node.id.as_str(),
        );
        if let Some((_, ttl)) = &cache {
            match dir.restore_cache(&cache_dir, *ttl).await {
                Ok(restored) if !restored.is_empty() => {
                    self.log_for(
                        run_ref,
                        Level::Info,
                        &format!("restored {} files from the cache", restored.len()),
                    )
                    .await
                }
                Ok(_) => {}
                Err(message) => return self.fail_run(run, node, 1, &message).await,
            }
        }
        // Namespace files first: inputFiles of the same name win, as in Kestra.
        match dir
            .write_namespace_files(
                &files["namespaceFiles"],
                &storage,
                self.execution.namespace.as_str(),
            )
            .await
        {
            Ok(written) if !written.is_empty() => {
                self.log_for(
                    run_ref,
                    Level::Debug,
                    &format!("namespace files: {}", written.join(", ")),
                )
                .await
            }
            Ok(_) => {}
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        }
        match dir.write_inputs(&files["inputFiles"], &storage).await {
            Ok(written) if !written.is_empty() => {
                self.log_for(
                    run_ref,
                    Level::Debug,
                    &format!("input files: {}", written.join(", ")),
                )
                .await
            }
            Ok(_) => {}
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        }
        let levels = inner.levels.clone();
        inner.working_dir = Some(dir.path().to_string_lossy().into());
        let branches = inner.clone();
        let outcome = self.clone().walk_list(tasks.to_vec(), inner).await;
        // Its `errors` and `finally` see the directory too.
        let outcome = self.clone().own_branches(node, branches, outcome).await;
        if outcome != Outcome::Success {
            return self.end_flowable(run, node, outcome).await;
        }
        if let Some((patterns, _)) = &cache {
            match dir.save_cache(&cache_dir, patterns).await {
                Ok(kept) => {
                    self.log_for(
                        run_ref,
                        Level::Debug,
                        &format!("kept {kept} files in the cache"),
                    )
                    .await
                }
                Err(message) => return self.fail_run(run, node, 1, &message).await,
            }
        }
        let (namespace, flow, execution) = (
            &self.execution.namespace,
            &self.execution.flow_id,
            &self.execution.id,
        );
        let prefix = format!("{}_", run.id);
        let uri_of = |relative: &str| {
            crate::storage::Storage::execution_uri(
                namespace,
                flow,
                execution,
                &format!("{prefix}{relative}"),
            )
        };
        let kept = match dir
            .keep_outputs(&files["outputFiles"], &storage, uri_of)
            .await
        {
            Ok(kept) => kept,
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        };
        drop(dir);
        let outputs = json!({ "outputFiles": kept });
        if let Ok(mut all) = self.outputs.lock() {
            insert_output(&mut all, &node.id, &levels, outputs.clone());
        }
        self.event(run, Event::Succeed, Some(&outputs)).await?;
        Ok(Outcome::Success)
    }

    async fn end_flowable(
        &self,
        run: &TaskRunRecord,
        node: &Node,
        outcome: Outcome,
    ) -> Result<Outcome, StoreError> {
        match outcome {
            Outcome::Success => {
                self.event(run, Event::Succeed, None).await?;
                Ok(Outcome::Success)
            }
            Outcome::Failed => self.end_failed(run, node).await,
            Outcome::Killed => {
                self.event(run, Event::Kill, None).await?;
                self.event(run, Event::Stopped, None).await?;
                Ok(Outcome::Killed)
            }
            Outcome::Interrupted => Ok(Outcome::Interrupted),
        }
    }

    /// A Dag: each task starts once every task it depends on has succeeded;
    /// a failure stops what has not started. Linear in tasks plus
    /// dependencies: each task counts the dependencies it still waits for,
    /// and an ending task lowers the counts of the tasks that wait for it.
    async fn run_dag(self: Arc<Self>, tasks: Vec<(Node, Vec<TaskId>)>, scope: Scope) -> Outcome {
        let index: HashMap<&TaskId, usize> = tasks
            .iter()
            .enumerate()
            .map(|(i, (node, _))| (&node.id, i))
            .collect();
        let mut waiting: Vec<usize> = Vec::with_capacity(tasks.len());
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
        for (i, (_, deps)) in tasks.iter().enumerate() {
            let mut known: Vec<usize> = deps.iter().filter_map(|d| index.get(d).copied()).collect();
            known.sort_unstable();
            known.dedup();
            if known.len() < deps.len() {
                // Validation refuses unknown ids; this is the guard.
                return Outcome::Failed;
            }
            for &d in &known {
                dependents[d].push(i);
            }
            waiting.push(known.len());
        }
        let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| waiting[i] == 0).collect();
        let mut started = 0usize;
        let mut running = FuturesUnordered::new();
        let mut outcome = Outcome::Success;
        loop {
            if outcome == Outcome::Success {
                for i in ready.drain(..) {
                    started += 1;
                    let (walk, node, scope) = (self.clone(), tasks[i].0.clone(), scope.clone());
                    running.push(async move { (i, walk.run_node(node, scope).await) });
                }
            }
            let Some((i, result)) = running.next().await else {
                break;
            };
            if result == Outcome::Success {
                for &next in &dependents[i] {
                    waiting[next] -= 1;
                    if waiting[next] == 0 {
                        ready.push(next);
                    }
                }
            }
            outcome = outcome.worst(result);
        }
        if outcome == Outcome::Success && started < tasks.len() {
            // Validation refuses cycles; this is the guard.
            return Outcome::Failed;
        }
        outcome
    }

    /// A task with its attempts, timeout and kill.
    async fn run_task(
        self: Arc<Self>,
        node: &Node,
        properties: &Map<String, Value>,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Result<Outcome, StoreError> {
        let Some(runner) = self.shared.runners.get(&node.task_type) else {
            return self
                .fail_run(
                    run,
                    node,
                    1,
                    &format!(
                        "no runner for task type {}: this Mortar cannot run it yet",
                        node.task_type
                    ),
                )
                .await;
        };
        let policy = match RetryPolicy::from_props(node.common.retry.as_ref()) {
            Ok(policy) => policy,
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        };
        let timeout = match node
            .common
            .timeout
            .as_deref()
            .map(parse_duration)
            .transpose()
        {
            Ok(timeout) => timeout,
            Err(message) => {
                return self
                    .fail_run(run, node, 1, &format!("timeout: {message}"))
                    .await;
            }
        };
        let first_started = Instant::now();
        let state = run.state;
        let mut attempt = run.attempts.len() as u32;
        let mut checkpoint = run.checkpoint.clone();
        // A run left RUNNING by a crash (or put back by a restart) goes on
        // in its open attempt; otherwise a new attempt starts.
        let mut open =
            state == State::Running && run.attempts.last().is_some_and(|a| a.end.is_none());
        // The open attempt left by a stop runs again (TaskContext::resumed);
        // a retry's attempt is new.
        let mut resumed = open;
        loop {
            if !open {
                if state == State::Running && attempt > 0 {
                    self.event(run, Event::Retry, None).await?;
                }
                self.event(run, Event::Start, None).await?;
                attempt += 1;
            } else if attempt == 0 {
                attempt = 1;
            }
            let run_ref = (&run.id, &node.id, attempt);
            let mut vars = self.vars(Some((run, node, scope)));
            // Kestra's attemptsCount: the attempts before this one.
            vars["taskrun"]["attemptsCount"] = (attempt.saturating_sub(1)).into();
            if node.reads.error_logs {
                vars[crate::flow::expr::ERROR_LOGS] = self.error_logs().await?;
            }
            if node.reads.secrets {
                self.shared.refresh_secrets(&self.execution.id).await;
            }
            // A property that does not render fails the attempt, which is
            // retried as any failure is (Kestra renders in the attempt).
            let rendered = self.render_properties(node, properties, &vars).await;
            let error = match rendered {
                Err(message) => TaskError::Failed(message),
                Ok(rendered) => {
                    let cancel = self.kill_token();
                    let masker = self.renderer.masker().clone();
                    let ctx = TaskContext::new(
                        &self.shared.services(),
                        TaskRunRef {
                            namespace: self.execution.namespace.clone(),
                            flow_id: self.execution.flow_id.clone(),
                            execution_id: self.execution.id.clone(),
                            task_run_id: run.id.clone(),
                            task_id: node.id.clone(),
                            attempt,
                        },
                        rendered,
                        checkpoint.clone(),
                        cancel.clone(),
                        Arc::new(move |text: &str| masker.mask(text)),
                    )
                    .with_type(node.declared)
                    .with_ending(self.ending.lock().ok().and_then(|e| *e))
                    .with_resumed(resumed)
                    .with_source(properties.clone())
                    .with_working_dir(scope.working_dir.as_deref().map(std::path::PathBuf::from))
                    .with_value(scope.value.clone())
                    .with_server_url(
                        self.shared
                            .server_vars
                            .get("kestra")
                            .and_then(|k| k.get("url"))
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    );
                    let ctx = if node
                        .declared
                        .is_some_and(|t| t.properties.iter().any(|p| !p.given.is_empty()))
                    {
                        let (renderer, task, vars) =
                            (self.renderer.clone(), node.id.to_string(), vars.clone());
                        ctx.with_render_item(Arc::new(
                            move |property: &str, written: &Value, given: &Value| {
                                let mut vars = vars.clone();
                                if let (Value::Object(vars), Value::Object(given)) =
                                    (&mut vars, given)
                                {
                                    vars.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
                                }
                                renderer
                                    .render(&task, property, written, &vars)
                                    .map_err(|error| error.to_string())
                            },
                        ))
                    } else {
                        ctx
                    };
                    let shutdown = self.stop.clone();
                    let result = tokio::select! {
                        result = run_with_timeout(runner.as_ref(), &ctx, timeout) => result,
                        () = shutdown.cancelled() => {
                            // Leave the run as it is; recovery picks it up.
                            cancel.cancel();
                            return Ok(Outcome::Interrupted);
                        }
                    };
                    // The task's lines are stored before its end is recorded: a
                    // crash in between must not leave an ended run without them.
                    if ctx.logged() {
                        self.shared.logs.flush().await;
                    }
                    match result {
                        Ok(outputs) => {
                            let outputs =
                                self.renderer.masker().mask_value(&Value::Object(outputs));
                            if let Ok(mut all) = self.outputs.lock() {
                                insert_output(&mut all, &node.id, &scope.levels, outputs.clone());
                                // Kestra's ForEachItem outputs also sit under its inner tasks' ids.
                                if node.declared.is_some_and(|t| {
                                    t.name == crate::task::core::flow::FOR_EACH_ITEM.name
                                }) {
                                    for (id, part) in super::subflow::for_each_item_outputs(
                                        node.id.as_str(),
                                        &outputs,
                                    ) {
                                        insert_output(
                                            &mut all,
                                            &TaskId::new(id),
                                            &scope.levels,
                                            part,
                                        );
                                    }
                                }
                            }
                            if (attempt > 1 && policy.warning_on_retry) || ctx.warned() {
                                self.warn(run, node, Some(&outputs)).await?;
                            } else {
                                self.event(run, Event::Succeed, Some(&outputs)).await?;
                            }
                            return Ok(Outcome::Success);
                        }
                        Err(TaskError::Killed) => {
                            self.cancel_remote(runner.as_ref(), &ctx, run).await;
                            self.event(run, Event::Kill, None).await?;
                            self.event(run, Event::Stopped, None).await?;
                            self.log_for(Some(run_ref), Level::Warn, "killed").await;
                            return Ok(Outcome::Killed);
                        }
                        Err(error) => {
                            if matches!(error, TaskError::Timeout(_)) {
                                self.cancel_remote(runner.as_ref(), &ctx, run).await;
                            }
                            error
                        }
                    }
                }
            };
            self.log_for(Some(run_ref), Level::Error, &error.to_string())
                .await;
            checkpoint = self
                .shared
                .store
                .get_task_run(&run.id)
                .await?
                .and_then(|r| r.checkpoint);
            match policy.delay_before(attempt + 1, first_started.elapsed()) {
                Some(delay) => {
                    self.event(run, Event::Retry, None).await?;
                    self.log_for(
                        Some(run_ref),
                        Level::Warn,
                        &format!("attempt {attempt} failed; retrying in {delay:?}"),
                    )
                    .await;
                    let kill = self.kill_token();
                    tokio::select! {
                        () = kill.cancelled() => {
                            self.event(run, Event::Kill, None).await?;
                            self.event(run, Event::Stopped, None).await?;
                            return Ok(Outcome::Killed);
                        }
                        () = self.stop.cancelled() => return Ok(Outcome::Interrupted),
                        () = tokio::time::sleep(delay) => {}
                    }
                    // Retrying -> Running opens the next attempt.
                    self.event(run, Event::Start, None).await?;
                    attempt += 1;
                    open = true;
                    resumed = false;
                }
                None => return self.end_failed(run, node).await,
            }
        }
    }

    /// Calls the task's cancel hook with its checkpoint, with a deadline.
    async fn cancel_remote(
        &self,
        runner: &dyn crate::task::Runner,
        ctx: &TaskContext,
        run: &TaskRunRecord,
    ) {
        let checkpoint = match self.shared.store.get_task_run(&run.id).await {
            Ok(found) => found.and_then(|r| r.checkpoint),
            Err(_) => None,
        };
        let Some(checkpoint) = checkpoint else { return };
        match tokio::time::timeout(Duration::from_secs(120), runner.cancel(ctx, &checkpoint)).await
        {
            Ok(Ok(())) => ctx.info("cancelled what the task had started").await,
            Ok(Err(error)) => {
                ctx.log(
                    Level::Error,
                    format!("cancelling what the task had started failed: {error}"),
                )
                .await
            }
            Err(_) => {
                ctx.log(
                    Level::Error,
                    "cancelling what the task had started took over 120 s; gave up",
                )
                .await
            }
        }
    }

    /// `pluginDefaults` under the task's own properties, then rendered one
    /// property at a time so that an error names the property.
    async fn render_properties(
        &self,
        node: &Node,
        own: &Map<String, Value>,
        vars: &Value,
    ) -> Result<Value, String> {
        let mut merged = Map::new();
        for defaults in self.plan.defaults_for(&node.task_type) {
            for (key, value) in defaults {
                merged.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        for (key, value) in own {
            merged.insert(key.clone(), value.clone());
        }
        let mut rendered = Map::new();
        let written_map = merged.clone();
        for (key, value) in merged {
            // A property the task renders itself, per item, stays as written.
            if node
                .declared
                .and_then(|t| t.property(&key))
                .is_some_and(|p| !p.given.is_empty())
            {
                rendered.insert(key, value);
                continue;
            }
            let value = self
                .render_off_worker(node.id.as_str(), &key, &value, vars)
                .await
                .map_err(|error| error.to_string())?;
            // A text property renders to text, as Kestra's Property<String>
            // does: `{{ 1 + 1 }}` gives "2" there, not 2.
            let kind = node
                .declared
                .and_then(|t| t.property(&key))
                .map(|p| &p.kind);
            let text =
                kind.is_some_and(|k| matches!(k, Kind::String | Kind::Duration | Kind::Cron));
            let value = match value {
                Value::Number(n) if text => Value::String(n.to_string()),
                Value::Bool(b) if text => Value::String(b.to_string()),
                // Kestra's Property<Map<String, Object>>: each value written
                // as a template renders to text (OutputValues' `{{ 1 + 1 }}`
                // is "2"); a value written plain keeps its type.
                Value::Object(mut map) if matches!(kind, Some(Kind::Map)) => {
                    if let Some(Value::Object(written)) = written_map.get(&key) {
                        for (name, rendered) in map.iter_mut() {
                            let templated = written
                                .get(name)
                                .and_then(Value::as_str)
                                .is_some_and(|t| t.contains("{{"));
                            if templated && (rendered.is_number() || rendered.is_boolean()) {
                                *rendered = Value::String(rendered.to_string());
                            }
                        }
                    }
                    Value::Object(map)
                }
                value => value,
            };
            rendered.insert(key, value);
        }
        Ok(Value::Object(rendered))
    }

    async fn store_flow_outputs(&self) {
        if self.plan.outputs.is_empty() {
            return;
        }
        let vars = self.vars(None);
        let mut outputs = Map::new();
        for (id, expression) in &self.plan.outputs {
            match self.render(expression, &vars).await {
                Ok(value) => {
                    outputs.insert(id.clone(), self.renderer.masker().mask_value(&value));
                }
                Err(message) => {
                    self.log(Level::Error, &format!("flow output {id}: {message}"))
                        .await
                }
            }
        }
        if let Err(error) = self
            .shared
            .store
            .set_execution_outputs(&self.execution.id, &Value::Object(outputs))
            .await
        {
            tracing::error!(%error, "storing the flow's outputs failed");
        }
    }
}

async fn run_with_timeout(
    runner: &dyn crate::task::Runner,
    ctx: &TaskContext,
    timeout: Option<Duration>,
) -> Result<crate::task::Outputs, TaskError> {
    match timeout {
        None => runner.run(ctx).await,
        Some(limit) => match tokio::time::timeout(limit, runner.run(ctx)).await {
            Ok(result) => result,
            Err(_) => {
                ctx.cancel.cancel();
                Err(TaskError::Timeout(limit))
            }
        },
    }
}

/// Kestra's RunVariables `tasks`: `{id: {state}}`, or `{id: {value: {state}}}`.
fn note_state(states: &mut Map<String, Value>, task: &TaskId, value: Option<&str>, state: State) {
    let entry = json!({"state": state.as_str()});
    match value {
        None => {
            states.insert(task.to_string(), entry);
        }
        Some(value) => {
            let slot = states
                .entry(task.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() || slot.get("state").is_some() {
                *slot = Value::Object(Map::new());
            }
            if let Some(by_value) = slot.as_object_mut() {
                by_value.insert(value.to_owned(), entry);
            }
        }
    }
}

/// WorkingDirectory's `cache` (rendered): its glob patterns and its ttl.
fn cache_spec(cache: &Value) -> Result<Option<(Vec<String>, Option<Duration>)>, String> {
    let Value::Object(cache) = cache else {
        return if cache.is_null() {
            Ok(None)
        } else {
            Err(format!("cache: a mapping (patterns, ttl), not {cache}"))
        };
    };
    let patterns: Vec<String> = match cache.get("patterns") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_owned)
                    .ok_or("cache.patterns: a list of glob patterns")
            })
            .collect::<Result<_, _>>()?,
        Some(Value::String(one)) => vec![one.clone()],
        _ => return Err(
            "cache.patterns: give the glob patterns of the files to keep, such as node_modules/**"
                .into(),
        ),
    };
    let ttl = cache
        .get("ttl")
        .and_then(Value::as_str)
        .map(parse_duration)
        .transpose()
        .map_err(|e| format!("cache.ttl: {e}"))?;
    Ok(Some((patterns, ttl)))
}

/// `labels` as expressions read them: each label by its name
/// (`labels['system.correlationId']`) and, as Kestra nests dotted names,
/// along its path (`labels.system.correlationId`).
fn labels_view(labels: &std::collections::BTreeMap<String, String>) -> Value {
    let mut view = Map::new();
    for (key, value) in labels {
        if key.contains('.') {
            super::inputs::insert_at(&mut view, key, Value::String(value.clone()));
        }
    }
    for (key, value) in labels {
        view.insert(key.clone(), Value::String(value.clone()));
    }
    Value::Object(view)
}

/// A time in milliseconds as ISO-8601 in UTC, as expressions see dates.
fn iso_millis(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// `outputs.<task>`, or `outputs.<task>.<value>…` with one key per
/// enclosing ForEach, outermost first, as Kestra's Execution.outputs.
fn insert_output(outputs: &mut Map<String, Value>, task: &TaskId, levels: &[String], out: Value) {
    let Some((last, path)) = levels.split_last() else {
        outputs.insert(task.to_string(), out);
        return;
    };
    let mut slot = outputs
        .entry(task.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    for key in path {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        slot = slot
            .as_object_mut()
            .expect("made an object above")
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .expect("made an object above")
        .insert(last.clone(), out);
}

/// The ForEach levels of stored task runs (for outputs after a restart):
/// a run's levels are its parent's, plus its own value when its parent is a
/// ForEach.
fn stored_levels(runs: &[TaskRunRecord], plan: &Plan) -> HashMap<TaskRunId, Vec<String>> {
    let for_each: std::collections::HashSet<&str> = plan
        .all_nodes()
        .into_iter()
        .filter(|n| matches!(n.kind, NodeKind::ForEach { .. }))
        .map(|n| n.id.as_str())
        .collect();
    let by_id: HashMap<&TaskRunId, &TaskRunRecord> = runs.iter().map(|r| (&r.id, r)).collect();
    let mut levels: HashMap<TaskRunId, Vec<String>> = HashMap::new();
    for run in runs {
        // Walk up to the root, then down again collecting values.
        let mut chain = vec![run];
        while let Some(parent) = chain
            .last()
            .and_then(|r| r.parent_task_run_id.as_ref())
            .and_then(|p| by_id.get(p))
        {
            if chain.len() > runs.len() {
                break;
            }
            chain.push(parent);
        }
        let mut values = Vec::new();
        for pair in chain.windows(2).rev() {
            let (child, parent) = (pair[0], pair[1]);
            if for_each.contains(parent.task_id.as_str())
                && let Some(value) = &child.value
            {
                values.push(value.clone());
            }
        }
        levels.insert(run.id.clone(), values);
    }
    levels
}
