//! Flow triggers (`io.kestra.plugin.core.trigger.Flow`): a flow starts
//! when an execution of another flow ends, as its conditions say.
//!
//! One tokio task follows the executor's state changes (no polling). It
//! keeps the stored flows that have a Flow trigger, parsed, and reads them
//! again only after a flow is saved or deleted. For each ended execution it
//! starts those whose conditions match, with `trigger.executionId`,
//! `namespace`, `flowId`, `flowRevision`, `state` and `outputs`, and with
//! the trigger's `inputs` rendered against them.
//!
//! Conditions understood: `states`, `conditions` (every condition type of
//! `task::core::condition` that reads an execution or an expression,
//! rendered with `trigger.*` first), and `preconditions.flows` with one
//! entry (several entries, which Kestra waits for together within a time
//! window, are refused with a log line rather than fired on a guess). A
//! trigger with no condition fires on nothing, and a flow's own end never
//! starts it again.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::executor::{Executor, Launch};
use crate::flow::expr::{Host, Renderer};
use crate::flow::model::Trigger;
use crate::ids::ExecutionId;
use crate::plan::Plan;
use crate::store::{ExecutionRecord, ScheduledFlow, Store, StoreError};
use crate::task::core::condition::{self, Execution, Facts};

/// Runs until `stop` is cancelled.
pub fn spawn(store: Store, executor: Executor, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = executor.subscribe();
        let mut changes = store.watch_flows();
        // The flows with a Flow trigger, parsed once and read again only
        // after a flow is saved or deleted: not at every execution's end.
        let mut watched: Option<Vec<Watched>> = None;
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    watched = None;
                    continue;
                }
                event = events.recv() => event,
            };
            match event {
                Ok((id, state)) if state.is_terminal() => {
                    if watched.is_none() {
                        match watched_flows(&store).await {
                            Ok(flows) => watched = Some(flows),
                            Err(error) => {
                                tracing::error!(%error, execution_id = %id, "flow triggers could not be read");
                                continue;
                            }
                        }
                    }
                    let flows = watched.as_deref().unwrap_or_default();
                    if let Err(error) = on_end(&store, &executor, &id, flows).await {
                        tracing::error!(%error, execution_id = %id, "flow triggers could not be checked");
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "flow triggers missed state changes under load"),
                Err(RecvError::Closed) => return,
            }
        }
    })
}

/// A stored flow with at least one enabled Flow trigger, and its model.
struct Watched {
    flow: ScheduledFlow,
    model: crate::flow::model::Flow,
}

fn is_flow_trigger(trigger: &Trigger) -> bool {
    !trigger.disabled && trigger.kind.is_some_and(|k| k.alias == "trigger.Flow")
}

async fn watched_flows(store: &Store) -> Result<Vec<Watched>, StoreError> {
    Ok(store
        .flows_with_source_like("%trigger.Flow%")
        .await?
        .into_iter()
        .filter_map(|flow| {
            let model = crate::flow::parse(&flow.source).flow?;
            (!model.disabled && model.triggers.iter().any(is_flow_trigger)).then_some(Watched { flow, model })
        })
        .collect())
}

/// Starts the flows among `watched` whose Flow trigger matches the ended
/// execution `id`; returns the executions started.
async fn on_end(store: &Store, executor: &Executor, id: &ExecutionId, watched: &[Watched]) -> Result<Vec<ExecutionId>, StoreError> {
    if watched.is_empty() {
        return Ok(Vec::new());
    }
    let Some(ended) = store.get_execution(id).await? else { return Ok(Vec::new()) };
    // Triggers turned off from the UI, the API or a Toggle task.
    let off: std::collections::HashSet<(String, String, String)> = store
        .trigger_states(None, None)
        .await?
        .into_iter()
        .filter(|s| s.disabled)
        .map(|s| (s.namespace, s.flow_id, s.trigger_id))
        .collect();
    // HasRetryAttempt reads the ended execution's attempts: read once, if asked.
    let retried: Vec<String> = if watched.iter().any(|w| w.flow.source.contains("HasRetryAttempt")) {
        store
            .task_runs(id)
            .await?
            .iter()
            .filter(|run| run.attempts.len() > 1)
            .flat_map(|run| run.attempts.iter().map(|a| a.state.as_str().to_owned()))
            .collect()
    } else {
        Vec::new()
    };
    let mut started = Vec::new();
    for Watched { flow, model } in watched {
        // A flow's own end never starts it again: that would loop forever.
        if flow.namespace == ended.namespace && flow.id == ended.flow_id {
            continue;
        }
        for trigger in model.triggers.iter().filter(|t| is_flow_trigger(t)) {
            if off.contains(&(flow.namespace.to_string(), flow.id.to_string(), trigger.id.value.clone())) {
                continue;
            }
            let name = format!("{}.{} trigger {}", flow.namespace, flow.id, trigger.id.value);
            let trigger_vars = json!({
                "id": trigger.id.value,
                "type": "io.kestra.plugin.core.trigger.Flow",
                "executionId": ended.id.as_str(),
                "namespace": ended.namespace.as_str(),
                "flowId": ended.flow_id.as_str(),
                "flowRevision": ended.flow_revision,
                "state": ended.state.as_str(),
                "outputs": ended.outputs,
            });
            match matches(trigger, &ended, &trigger_vars, &retried) {
                Ok(false) => continue,
                Err(why) => {
                    tracing::warn!(trigger = %name, %why, "a Flow trigger cannot be checked");
                    continue;
                }
                Ok(true) => {}
            }
            let inputs = match render_inputs(trigger, &trigger_vars).await {
                Ok(inputs) => inputs,
                Err(why) => {
                    tracing::warn!(trigger = %name, %why, "a Flow trigger's inputs do not render");
                    continue;
                }
            };
            let plan = match Plan::from_flow(model) {
                Ok(plan) => Arc::new(plan),
                Err(error) => {
                    tracing::warn!(trigger = %name, %error, "a triggered flow cannot run");
                    continue;
                }
            };
            let mut labels = BTreeMap::new();
            labels.insert("system.correlationId".to_owned(), ended.labels.get("system.correlationId").cloned().unwrap_or_else(|| ended.id.to_string()));
            // One execution per ended execution and trigger, whichever
            // scheduler node sees the end first.
            let id = crate::scheduler::derived_id(&format!("{}\u{1f}{}\u{1f}{}\u{1f}{}", ended.id, flow.namespace, flow.id, trigger.id.value));
            let launch = Launch { id: Some(id), plan, flow_revision: flow.revision, inputs, labels, trigger_vars: Some(trigger_vars) };
            match executor.launch(launch).await {
                Ok(record) => {
                    tracing::info!(trigger = %name, execution_id = %record.id, after = %ended.id, "flow trigger started an execution");
                    store.set_trigger_fired(&flow.namespace, &flow.id, &trigger.id.value, record.id.as_str(), jiff::Timestamp::now().as_millisecond()).await?;
                    started.push(record.id);
                }
                Err(crate::executor::ExecutionError::Store(StoreError::Duplicate(_))) => {}
                Err(error) => tracing::warn!(trigger = %name, %error, "a flow trigger's execution could not start"),
            }
        }
    }
    Ok(started)
}


/// Whether a trigger's `conditions` hold, rendered with `trigger.*` first
/// (the scheduler's and the Flow trigger's).
pub(crate) fn conditions_hold(conditions: &Value, trigger_vars: &Value, facts: &Facts) -> Result<bool, String> {
    let rendered = Renderer::new(Arc::new(NoSecrets)).render("", "conditions", conditions, &json!({ "trigger": trigger_vars })).map_err(|e| e.message)?;
    condition::all(&rendered, facts)
}

/// Whether `ended` fires `trigger`; `trigger_vars` are what its
/// conditions' expressions read as `trigger.*`.
fn matches(trigger: &Trigger, ended: &ExecutionRecord, trigger_vars: &Value, retried: &[String]) -> Result<bool, String> {
    let props = trigger.node.to_json();
    let state = ended.state.as_str();
    // A trigger with no condition at all would fire on every execution of
    // every flow: it fires on none (see the end of this function).
    let states = condition::strings(props.get("states"));
    if !states.is_empty() && !states.iter().any(|s| s == state) {
        return Ok(false);
    }
    let mut named_a_flow = false;
    if let Some(conditions) = props.get("conditions") {
        let facts = Facts {
            date: None,
            execution: Some(Execution { namespace: ended.namespace.as_str(), flow_id: ended.flow_id.as_str(), state, labels: &ended.labels, outputs: &ended.outputs, retried }),
        };
        if !conditions_hold(conditions, trigger_vars, &facts)? {
            return Ok(false);
        }
    }
    if let Some(flows) = props.get("preconditions").and_then(|p| p.get("flows")).and_then(Value::as_array) {
        if flows.len() > 1 {
            return Err("preconditions with several flows (all of them, within a time window) are not supported yet; use one entry per trigger".into());
        }
        if let Some(entry) = flows.first() {
            named_a_flow = true;
            let text = |name: &str| entry.get(name).and_then(Value::as_str);
            let entry_states = condition::strings(entry.get("states"));
            if text("namespace").is_some_and(|n| n != ended.namespace.as_str())
                || text("flowId").is_some_and(|f| f != ended.flow_id.as_str())
                || (!entry_states.is_empty() && !entry_states.iter().any(|s| s == state))
            {
                return Ok(false);
            }
        }
    }
    Ok(named_a_flow || !states.is_empty() || props.get("conditions").is_some())
}

/// The trigger's `inputs`, with `{{ trigger.* }}` rendered. Secrets are
/// not available here: an input's value is stored and shown.
async fn render_inputs(trigger: &Trigger, trigger_vars: &Value) -> Result<Map<String, Value>, String> {
    let Some(inputs) = trigger.node.get("inputs").map(|i| i.to_json()) else { return Ok(Map::new()) };
    let renderer = Renderer::new(Arc::new(NoSecrets));
    let rendered = renderer.render_async("", "inputs", &inputs, &json!({ "trigger": trigger_vars })).await.map_err(|e| e.message)?;
    rendered.as_object().cloned().ok_or_else(|| "`inputs` is a mapping of input ids to values".into())
}

/// A renderer's host for triggers: no secrets, no files.
pub(crate) struct NoSecrets;

impl Host for NoSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    fn read(&self, uri: &str) -> Result<String, String> {
        Err(format!("read({uri:?}) is not available in a trigger's inputs"))
    }
}
