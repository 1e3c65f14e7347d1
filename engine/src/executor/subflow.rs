//! `flow.Subflow`: starts an execution of another flow, and by default
//! waits for it. It is a runner like any task, but it needs the executor
//! itself, which owns the runners: it holds weak handles, set once the
//! executor exists, so neither keeps the other alive.

use std::sync::{Arc, OnceLock, Weak};

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_util::task::TaskTracker;

use super::{ExecutionError, Executor, Launch, Shared};
use crate::ids::{ExecutionId, FlowId, Namespace};
use crate::plan::Plan;
use crate::state::State;
use crate::task::{Outputs, Runner, TaskContext, TaskError};

/// The executor, as the Subflow runner reaches it.
#[derive(Clone, Default)]
pub(crate) struct Link(Arc<OnceLock<WeakExecutor>>);

struct WeakExecutor {
    shared: Weak<Shared>,
    running: Weak<
        std::sync::Mutex<
            std::collections::HashMap<
                ExecutionId,
                (
                    tokio_util::sync::CancellationToken,
                    tokio_util::sync::CancellationToken,
                ),
            >,
        >,
    >,
    queues: Weak<std::sync::Mutex<super::Queues>>,
    pumping: Weak<tokio::sync::Mutex<()>>,
    tracker: TaskTracker,
}

impl Link {
    pub(crate) fn set(&self, executor: &Executor) {
        let _ = self.0.set(WeakExecutor {
            shared: Arc::downgrade(&executor.shared),
            running: Arc::downgrade(&executor.running),
            queues: Arc::downgrade(&executor.queues),
            pumping: Arc::downgrade(&executor.pumping),
            tracker: executor.tracker.clone(),
        });
    }

    pub(crate) fn executor(&self) -> Result<Executor, TaskError> {
        let weak = self
            .0
            .get()
            .ok_or_else(|| TaskError::Failed("the executor is not ready".into()))?;
        match (
            weak.shared.upgrade(),
            weak.running.upgrade(),
            weak.queues.upgrade(),
            weak.pumping.upgrade(),
        ) {
            (Some(shared), Some(running), Some(queues), Some(pumping)) => Ok(Executor {
                shared,
                running,
                queues,
                pumping,
                tracker: weak.tracker.clone(),
            }),
            _ => Err(TaskError::Failed("the executor has stopped".into())),
        }
    }
}

pub(crate) struct Subflow {
    pub(crate) link: Link,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Properties {
    namespace: String,
    flow_id: String,
    #[serde(default)]
    inputs: Map<String, Value>,
    #[serde(default)]
    labels: Option<Value>,
    #[serde(default = "yes")]
    wait: bool,
    #[serde(default = "yes")]
    transmit_failed: bool,
    #[serde(default)]
    revision: Option<i64>,
    #[serde(default)]
    inherit_labels: bool,
}

fn yes() -> bool {
    true
}

/// The checkpoint: the child execution, once it exists.
const CHILD: &str = "executionId";

impl Runner for Subflow {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let executor = self.link.executor()?;
            let props: Properties = ctx.properties()?;
            // After a crash or a retry of a wait, the child that was started
            // is followed again, never started twice.
            let earlier = ctx
                .checkpoint
                .as_ref()
                .and_then(|c| c.get(CHILD))
                .and_then(Value::as_str)
                .map(ExecutionId::new);
            let child = match earlier {
                Some(id) if executor.shared.store.get_execution(&id).await?.is_some() => {
                    ctx.info(format!(
                        "following the subflow execution {id} started before"
                    ))
                    .await;
                    id
                }
                // Checkpointed, then stopped before the child was stored.
                earlier => start(&executor, ctx, &props, earlier, true).await?,
            };
            let mut outputs = Outputs::new();
            outputs.insert("executionId".into(), json!(child.as_str()));
            if !props.wait {
                return Ok(outputs);
            }
            let state = tokio::select! {
                () = ctx.cancel.cancelled() => return Err(TaskError::Killed),
                state = executor.wait(&child) => state.map_err(|e| TaskError::Failed(e.to_string()))?,
            };
            let record = executor.shared.store.get_execution(&child).await?;
            outputs.insert("state".into(), json!(state.as_str()));
            let mut child_outputs = record.map(|r| r.outputs).unwrap_or(Value::Null);
            // Kestra's older `outputs`: expressions over the child's task outputs.
            if !ctx.prop("outputs")?.is_null() {
                let mut by_task = serde_json::Map::new();
                for run in executor.shared.store.task_runs(&child).await? {
                    if let Some(out) = run.outputs {
                        by_task.insert(run.task_id.to_string(), out);
                    }
                }
                let extracted = ctx.render_item("outputs", &json!({ "outputs": by_task }))?;
                if let (Value::Object(into), Value::Object(more)) =
                    (&mut child_outputs, extracted.clone())
                {
                    into.extend(more);
                } else {
                    child_outputs = extracted;
                }
            }
            outputs.insert("outputs".into(), child_outputs);
            ctx.info(format!(
                "subflow {}.{} execution {child} ended {state}",
                props.namespace, props.flow_id
            ))
            .await;
            if props.transmit_failed && matches!(state, State::Failed | State::Killed) {
                return Err(TaskError::Failed(format!(
                    "the subflow execution {child} of {}.{} ended {state} (set `transmitFailed: false` to go on anyway)",
                    props.namespace, props.flow_id
                )));
            }
            Ok(outputs)
        })
    }

    /// A kill of the parent kills the child it started.
    fn cancel<'a>(
        &'a self,
        _ctx: &'a TaskContext,
        checkpoint: &'a Value,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let Some(id) = checkpoint.get(CHILD).and_then(Value::as_str) else {
                return Ok(());
            };
            match self.link.executor()?.kill(&ExecutionId::new(id)).await {
                Ok(_) | Err(ExecutionError::Conflict(_) | ExecutionError::NotFound(_)) => Ok(()),
                Err(error) => Err(TaskError::Failed(error.to_string())),
            }
        })
    }
}

/// Starts the child execution and checkpoints its id at once.
async fn start(
    executor: &Executor,
    ctx: &TaskContext,
    props: &Properties,
    id: Option<ExecutionId>,
    checkpoint: bool,
) -> Result<ExecutionId, TaskError> {
    let store = &executor.shared.store;
    let (namespace, flow_id) = (
        Namespace::new(props.namespace.as_str()),
        FlowId::new(props.flow_id.as_str()),
    );
    let missing = || {
        TaskError::Failed(format!(
            "flow {}.{} does not exist: save it first, or fix `namespace` and `flowId`",
            props.namespace, props.flow_id
        ))
    };
    let (revision, source) = match props.revision {
        Some(revision) => {
            let source = store
                .flow_revision_source(&namespace, &flow_id, revision)
                .await?
                .ok_or_else(|| {
                    TaskError::Failed(format!(
                        "flow {}.{} has no revision {revision}",
                        props.namespace, props.flow_id
                    ))
                })?;
            (revision, source)
        }
        None => {
            let flow = store
                .get_flow(&namespace, &flow_id)
                .await?
                .ok_or_else(missing)?;
            (flow.revision, flow.source)
        }
    };
    let plan = Plan::from_yaml(&source).map_err(|e| {
        TaskError::Failed(format!(
            "flow {}.{} cannot run: {e}",
            props.namespace, props.flow_id
        ))
    })?;
    let mut labels = std::collections::BTreeMap::new();
    // inheritLabels: the parent execution's labels first (not Mortar's
    // system ones), then the task's own.
    if props.inherit_labels
        && let Some(parent) = store.get_execution(&ctx.execution_id).await?
    {
        labels.extend(
            parent
                .labels
                .into_iter()
                .filter(|(k, _)| !k.starts_with("system.")),
        );
    }
    match &props.labels {
        Some(Value::Object(map)) => {
            for (key, value) in map {
                labels.insert(
                    key.clone(),
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned),
                );
            }
        }
        Some(Value::Array(list)) => {
            for label in list {
                if let (Some(key), Some(value)) =
                    (label.get("key").and_then(Value::as_str), label.get("value"))
                {
                    labels.insert(
                        key.to_owned(),
                        value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned),
                    );
                }
            }
        }
        _ => {}
    }
    // Kestra's correlation label: the execution that started it all.
    labels.insert("system.correlationId".into(), ctx.execution_id.to_string());
    let id = id.unwrap_or_else(ExecutionId::generate);
    // The id is written before the child exists: a crash between the two
    // finds the id and no execution, and starts it then (with this id).
    if checkpoint {
        ctx.checkpoint(&json!({ CHILD: id.as_str() })).await?;
    }
    let launch = Launch {
        id: Some(id.clone()),
        plan: Arc::new(plan),
        flow_revision: revision,
        inputs: props.inputs.clone(),
        labels,
        trigger_vars: Some(json!({
            "executionId": ctx.execution_id.as_str(),
            "namespace": ctx.namespace.as_str(),
            "flowId": ctx.flow_id.as_str(),
        })),
    };
    let record = executor.launch(launch).await.map_err(|e| {
        TaskError::Failed(format!(
            "the subflow {}.{} did not start: {e}",
            props.namespace, props.flow_id
        ))
    })?;
    ctx.info(format!(
        "started the subflow {}.{} revision {revision}: execution {}",
        props.namespace, props.flow_id, record.id
    ))
    .await;
    Ok(record.id)
}

/// `flow.ForEachItem`: cuts a file into batches and starts one execution
/// of a subflow per batch, `{{ taskrun.items }}` being the batch's URI and
/// `{{ taskrun.iteration }}` its number (from 1) in the inputs; then, by
/// default, waits for them all. Each child's id derives from the task run
/// and the batch, so a run resumed after a crash never starts one twice.
pub(crate) struct ForEachItem {
    pub(crate) link: Link,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForEachItemProps {
    items: String,
    #[serde(default)]
    batch: Option<Map<String, Value>>,
    namespace: String,
    flow_id: String,
    #[serde(default)]
    labels: Option<Value>,
    #[serde(default = "yes")]
    wait: bool,
    #[serde(default = "yes")]
    transmit_failed: bool,
    #[serde(default)]
    revision: Option<i64>,
    #[serde(default)]
    inherit_labels: bool,
}

impl Runner for ForEachItem {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let executor = self.link.executor()?;
            let props: ForEachItemProps = ctx.properties()?;
            let batch = props.batch.unwrap_or_default();
            let number = |name: &str| {
                batch
                    .get(name)
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
            };
            let cut = crate::task::core::storage::Cut {
                partitions: number("partitions"),
                bytes: batch.get("bytes").cloned().filter(|b| !b.is_null()),
                // One row per batch unless told otherwise, as in Kestra.
                rows: number("rows").or(
                    if batch.get("partitions").is_some() || batch.get("bytes").is_some() {
                        None
                    } else {
                        Some(1)
                    },
                ),
                separator: batch
                    .get("separator")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            let splits = crate::task::core::storage::split_file(ctx, &props.items, cut).await?;
            // The list of batch files, as Kestra's `<id>_split` output.
            let list_uri = crate::storage::Storage::execution_uri(
                &ctx.namespace,
                &ctx.flow_id,
                &ctx.execution_id,
                &format!("{}-{}-splits.txt", ctx.task_id, ctx.task_run_id),
            );
            ctx.storage
                .write(&list_uri, splits.join("\n").as_bytes())
                .await?;
            let mut children = Vec::new();
            for (index, uri) in splits.iter().enumerate() {
                let iteration = index + 1;
                let id =
                    crate::scheduler::derived_id(&format!("{}\u{1f}{iteration}", ctx.task_run_id));
                if executor.shared.store.get_execution(&id).await?.is_none() {
                    let inputs = match ctx.render_item("inputs", &json!({"taskrun": {"items": uri, "iteration": iteration, "id": ctx.task_run_id.as_str()}}))? {
                        Value::Object(map) => map,
                        Value::Null => Map::new(),
                        other => return Err(ctx.invalid(format!("inputs: a mapping of the subflow's inputs, not {other}"))),
                    };
                    let child = Properties {
                        namespace: props.namespace.clone(),
                        flow_id: props.flow_id.clone(),
                        inputs,
                        labels: props.labels.clone(),
                        wait: props.wait,
                        transmit_failed: props.transmit_failed,
                        revision: props.revision,
                        inherit_labels: props.inherit_labels,
                    };
                    start(&executor, ctx, &child, Some(id.clone()), false).await?;
                }
                children.push(id);
            }
            ctx.checkpoint(&json!({ "children": children.iter().map(ExecutionId::as_str).collect::<Vec<_>>() })).await?;
            let mut outputs = Outputs::new();
            outputs.insert("numberOfBatches".into(), json!(children.len()));
            outputs.insert("splits".into(), json!(list_uri));
            if !props.wait {
                return Ok(outputs);
            }
            let waits = futures::future::join_all(children.iter().map(|id| executor.wait(id)));
            let states = tokio::select! {
                () = ctx.cancel.cancelled() => return Err(TaskError::Killed),
                states = waits => states,
            };
            let mut iterations = Map::new();
            let mut lines = String::new();
            let mut failed = Vec::new();
            for (id, state) in children.iter().zip(states) {
                let state = state.map_err(|e| TaskError::Failed(e.to_string()))?;
                let count = iterations
                    .entry(state.as_str().to_owned())
                    .or_insert(json!(0));
                *count = json!(count.as_u64().unwrap_or(0) + 1);
                if matches!(state, State::Failed | State::Killed) {
                    failed.push(id.to_string());
                }
                let child_outputs = executor
                    .shared
                    .store
                    .get_execution(id)
                    .await?
                    .map_or(Value::Null, |r| r.outputs);
                if let Ok(Value::String(ion)) = crate::flow::pebble::convert::to_ion(&child_outputs)
                {
                    lines.push_str(&ion);
                    lines.push('\n');
                }
            }
            let merged = crate::storage::Storage::execution_uri(
                &ctx.namespace,
                &ctx.flow_id,
                &ctx.execution_id,
                &format!("{}-{}-outputs.ion", ctx.task_id, ctx.task_run_id),
            );
            ctx.storage.write(&merged, lines.as_bytes()).await?;
            outputs.insert("iterations".into(), Value::Object(iterations));
            outputs.insert("subflowOutputs".into(), json!(merged));
            ctx.info(format!(
                "{} subflow executions of {}.{} ended",
                children.len(),
                props.namespace,
                props.flow_id
            ))
            .await;
            if props.transmit_failed && !failed.is_empty() {
                return Err(TaskError::Failed(format!(
                    "{} of {} subflow executions of {}.{} failed ({}); set `transmitFailed: false` to go on anyway",
                    failed.len(),
                    children.len(),
                    props.namespace,
                    props.flow_id,
                    failed.join(", ")
                )));
            }
            Ok(outputs)
        })
    }

    /// A kill of the parent kills the children it started.
    fn cancel<'a>(
        &'a self,
        _ctx: &'a TaskContext,
        checkpoint: &'a Value,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let executor = self.link.executor()?;
            for id in checkpoint
                .get("children")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                match executor.kill(&ExecutionId::new(id)).await {
                    Ok(_) | Err(ExecutionError::Conflict(_) | ExecutionError::NotFound(_)) => {}
                    Err(error) => return Err(TaskError::Failed(error.to_string())),
                }
            }
            Ok(())
        })
    }
}

/// Kestra's extra outputs of a ForEachItem, under the ids of its inner
/// tasks: `<id>_split.splits`, `<id>_items.iterations` and
/// `numberOfBatches`, `<id>_merge.subflowOutputs`.
pub(crate) fn for_each_item_outputs(id: &str, outputs: &Value) -> Vec<(String, Value)> {
    let pick = |names: &[&str]| {
        Value::Object(
            names
                .iter()
                .filter_map(|n| Some(((*n).to_owned(), outputs.get(*n)?.clone())))
                .collect(),
        )
    };
    vec![
        (format!("{id}_split"), pick(&["splits"])),
        (
            format!("{id}_items"),
            pick(&["iterations", "numberOfBatches"]),
        ),
        (format!("{id}_merge"), pick(&["subflowOutputs"])),
    ]
}
