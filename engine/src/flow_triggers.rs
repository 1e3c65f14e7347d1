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
pub fn spawn(
    store: Store,
    executor: Executor,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
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
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "flow triggers missed state changes under load")
                }
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
            (!model.disabled && model.triggers.iter().any(is_flow_trigger))
                .then_some(Watched { flow, model })
        })
        .collect())
}

/// Starts the flows among `watched` whose Flow trigger matches the ended
/// execution `id`; returns the executions started.
async fn on_end(
    store: &Store,
    executor: &Executor,
    id: &ExecutionId,
    watched: &[Watched],
) -> Result<Vec<ExecutionId>, StoreError> {
    if watched.is_empty() {
        return Ok(Vec::new());
    }
    let Some(ended) = store.get_execution(id).await? else {
        return Ok(Vec::new());
    };
    // Triggers turned off from the UI, the API or a Toggle task.
    let off = store.disabled_triggers().await?;
    // HasRetryAttempt reads the ended execution's attempts: read once, if asked.
    let retried: Vec<String> = if watched
        .iter()
        .any(|w| w.flow.source.contains("HasRetryAttempt"))
    {
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
            if off.contains(&(
                flow.namespace.to_string(),
                flow.id.to_string(),
                trigger.id.value.clone(),
            )) {
                continue;
            }
            let name = format!(
                "{}.{} trigger {}",
                flow.namespace, flow.id, trigger.id.value
            );
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
            match matches(store, flow, trigger, &ended, &trigger_vars, &retried).await {
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
            labels.insert(
                "system.correlationId".to_owned(),
                ended
                    .labels
                    .get("system.correlationId")
                    .cloned()
                    .unwrap_or_else(|| ended.id.to_string()),
            );
            // One execution per ended execution and trigger, whichever
            // scheduler node sees the end first.
            let id = crate::scheduler::derived_id(&format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                ended.id, flow.namespace, flow.id, trigger.id.value
            ));
            let launch = Launch {
                id: Some(id),
                plan,
                flow_revision: flow.revision,
                inputs,
                labels,
                trigger_vars: Some(trigger_vars),
            };
            match executor.launch(launch).await {
                Ok(record) => {
                    tracing::info!(trigger = %name, execution_id = %record.id, after = %ended.id, "flow trigger started an execution");
                    store
                        .set_trigger_fired(
                            &flow.namespace,
                            &flow.id,
                            &trigger.id.value,
                            record.id.as_str(),
                            jiff::Timestamp::now().as_millisecond(),
                        )
                        .await?;
                    started.push(record.id);
                }
                Err(crate::executor::ExecutionError::Store(StoreError::Duplicate(_))) => {}
                Err(error) => {
                    tracing::warn!(trigger = %name, %error, "a flow trigger's execution could not start")
                }
            }
        }
    }
    Ok(started)
}

/// Whether a trigger's `conditions` hold, rendered with `trigger.*` first
/// (the scheduler's and the Flow trigger's).
pub fn conditions_hold(
    conditions: &Value,
    trigger_vars: &Value,
    facts: &Facts,
) -> Result<bool, String> {
    let rendered = Renderer::new(Arc::new(NoSecrets))
        .render(
            "",
            "conditions",
            conditions,
            &json!({ "trigger": trigger_vars }),
        )
        .map_err(|e| e.message)?;
    condition::all(&rendered, facts)
}

/// Whether `ended` fires `trigger` of `flow`; `trigger_vars` are what its
/// conditions' expressions read as `trigger.*`. A MultipleCondition (and
/// `preconditions`) also counts what held for earlier executions within its
/// window, kept in the store.
async fn matches(
    store: &Store,
    flow: &ScheduledFlow,
    trigger: &Trigger,
    ended: &ExecutionRecord,
    trigger_vars: &Value,
    retried: &[String],
) -> Result<bool, String> {
    let props = trigger.node.to_json();
    let state = ended.state.as_str();
    // A trigger with no condition at all would fire on every execution of
    // every flow: it fires on none (see the end of this function).
    let states = condition::strings(props.get("states"));
    if !states.is_empty() && !states.iter().any(|s| s == state) {
        return Ok(false);
    }
    let facts = Facts {
        date: None,
        execution: Some(Execution {
            namespace: ended.namespace.as_str(),
            flow_id: ended.flow_id.as_str(),
            state,
            labels: &ended.labels,
            outputs: &ended.outputs,
            retried,
        }),
    };
    // The plain conditions first, as Kestra: if one fails, no window changes.
    let (multiples, plain): (Vec<&Value>, Vec<&Value>) = match props.get("conditions") {
        Some(Value::Array(items)) => items.iter().partition(|c| is_multiple(c)),
        Some(Value::Object(map)) => map.values().partition(|c| is_multiple(c)),
        _ => (Vec::new(), Vec::new()),
    };
    if !plain.is_empty()
        && !conditions_hold(
            &Value::Array(plain.iter().map(|c| (*c).clone()).collect()),
            trigger_vars,
            &facts,
        )?
    {
        return Ok(false);
    }
    let mut waits: Vec<Wait> = multiples
        .iter()
        .map(|m| Wait::of_multiple(m))
        .collect::<Result<_, _>>()?;
    if let Some(preconditions) = props.get("preconditions").and_then(Value::as_object) {
        waits.push(Wait::of_preconditions(preconditions, &trigger.id.value)?);
    }
    let now = jiff::Timestamp::now().as_millisecond();
    for wait in &waits {
        if !wait
            .holds(store, flow, ended, trigger_vars, &facts, now)
            .await?
        {
            return Ok(false);
        }
    }
    Ok(!waits.is_empty() || !states.is_empty() || props.get("conditions").is_some())
}

fn is_multiple(condition: &Value) -> bool {
    condition
        .get("type")
        .and_then(Value::as_str)
        .and_then(condition::find)
        .is_some_and(|t| t.name == condition::MULTIPLE_CONDITION.name)
}

/// What a MultipleCondition (or `preconditions`) waits for: each of its
/// named checks to hold for some execution within one window.
struct Wait {
    id: String,
    checks: Vec<(String, Check)>,
    spec: Map<String, Value>,
    reset: bool,
}

enum Check {
    /// A condition, as written (rendered when checked).
    Condition(Value),
    /// A `preconditions.flows` entry.
    Upstream(Map<String, Value>),
    /// A `preconditions.where` entry.
    Filter(Map<String, Value>),
}

impl Wait {
    fn of_multiple(written: &Value) -> Result<Wait, String> {
        let spec = written.as_object().cloned().unwrap_or_default();
        let id = spec
            .get("id")
            .and_then(Value::as_str)
            .ok_or("MultipleCondition has no `id`")?
            .to_owned();
        let checks = match spec.get("conditions") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(name, c)| (name.clone(), Check::Condition(c.clone())))
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        c.get("id")
                            .and_then(Value::as_str)
                            .map_or_else(|| format!("condition_{}", i + 1), str::to_owned),
                        Check::Condition(c.clone()),
                    )
                })
                .collect(),
            _ => {
                return Err(format!(
                    "MultipleCondition {id}: `conditions` is a mapping of names to conditions"
                ));
            }
        };
        let reset = spec
            .get("resetOnSuccess")
            .is_none_or(crate::task::core::is_truthy);
        Ok(Wait {
            id,
            checks,
            spec,
            reset,
        })
    }

    /// Kestra's Flow.Preconditions: `condition_1`… for the flows, then
    /// `condition_<n>_<id>` for the `where` filters.
    fn of_preconditions(spec: &Map<String, Value>, trigger_id: &str) -> Result<Wait, String> {
        let id = spec
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(trigger_id)
            .to_owned();
        let mut checks = Vec::new();
        for flow in spec
            .get("flows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let entry = flow.as_object().cloned().ok_or(
                "preconditions.flows: each entry is a mapping (namespace, flowId, states, labels)",
            )?;
            checks.push((
                format!("condition_{}", checks.len() + 1),
                Check::Upstream(entry),
            ));
        }
        for filter in spec
            .get("where")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let entry = filter
                .as_object()
                .cloned()
                .ok_or("preconditions.where: each entry is a mapping (id, operand, filters)")?;
            let name = entry
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            checks.push((
                format!("condition_{}_{name}", checks.len() + 1),
                Check::Filter(entry),
            ));
        }
        let reset = spec
            .get("resetOnSuccess")
            .is_none_or(crate::task::core::is_truthy);
        Ok(Wait {
            id,
            checks,
            spec: spec.clone(),
            reset,
        })
    }

    /// Adds what holds for `ended` to the window, and says whether all of
    /// it has held within the window; then starts over if asked.
    async fn holds(
        &self,
        store: &Store,
        flow: &ScheduledFlow,
        ended: &ExecutionRecord,
        trigger_vars: &Value,
        facts: &Facts<'_>,
        now: i64,
    ) -> Result<bool, String> {
        let window = condition::window_at(&self.spec, now)?;
        if now < window.0 || now > window.1 {
            // A daily window or deadline that is not open now.
            return Ok(false);
        }
        let mut held = Vec::new();
        for (name, check) in &self.checks {
            let checked = match check {
                Check::Condition(c) => {
                    conditions_hold(&Value::Array(vec![c.clone()]), trigger_vars, facts)
                }
                Check::Upstream(entry) => Ok(upstream_matches(entry, ended)),
                Check::Filter(entry) => filter_matches(entry, ended, trigger_vars),
            };
            // One that cannot be checked for this execution does not hold
            // for it, as in Kestra; the others still count.
            let ok = checked.unwrap_or_else(|why| {
                tracing::warn!(flow = %format!("{}.{}", flow.namespace, flow.id), condition = %format!("{}.{name}", self.id), %why, "a condition cannot be checked for an ended execution");
                false
            });
            if ok {
                held.push(name.clone());
            }
        }
        let io = |e: StoreError| e.to_string();
        let current = if held.is_empty() {
            match store
                .condition_window(&flow.namespace, &flow.id, &self.id)
                .await
                .map_err(io)?
            {
                Some(w) if w.start <= now && now <= w.end => w.results,
                _ => Vec::new(),
            }
        } else {
            store
                .add_to_condition_window(&flow.namespace, &flow.id, &self.id, window, &held)
                .await
                .map_err(io)?
                .results
        };
        let all =
            !self.checks.is_empty() && self.checks.iter().all(|(name, _)| current.contains(name));
        if all && self.reset {
            store
                .delete_condition_window(&flow.namespace, &flow.id, &self.id)
                .await
                .map_err(io)?;
        }
        Ok(all)
    }
}

/// Kestra's UpstreamFlowCondition.
fn upstream_matches(entry: &Map<String, Value>, ended: &ExecutionRecord) -> bool {
    let text = |name: &str| entry.get(name).and_then(Value::as_str);
    let states = condition::strings(entry.get("states"));
    let labels_hold = entry
        .get("labels")
        .and_then(Value::as_object)
        .is_none_or(|labels| {
            labels.iter().all(|(k, v)| {
                ended.labels.get(k).is_some_and(|actual| {
                    *actual == v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                })
            })
        });
    text("namespace").is_none_or(|n| n == ended.namespace.as_str())
        && text("flowId").is_none_or(|f| f == ended.flow_id.as_str())
        && (states.is_empty() || states.iter().any(|s| s == ended.state.as_str()))
        && labels_hold
}

/// Kestra's Flow.FilterCondition: `filters` combined by `operand`.
fn filter_matches(
    entry: &Map<String, Value>,
    ended: &ExecutionRecord,
    trigger_vars: &Value,
) -> Result<bool, String> {
    let any = entry
        .get("operand")
        .and_then(Value::as_str)
        .is_some_and(|o| o.eq_ignore_ascii_case("OR"));
    // As Kestra's allMatch/anyMatch: the first filter that decides stops the
    // rest (an expression for another flow's labels is not rendered).
    for filter in entry
        .get("filters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = |name: &str| filter.get(name).and_then(Value::as_str).map(str::to_owned);
        let value = text("value");
        let field = match text("field")
            .unwrap_or_default()
            .to_ascii_uppercase()
            .as_str()
        {
            "FLOW_ID" => Some(ended.flow_id.to_string()),
            "NAMESPACE" => Some(ended.namespace.to_string()),
            "STATE" => Some(ended.state.as_str().to_owned()),
            "EXPRESSION" => {
                let written = filter.get("value").cloned().unwrap_or(Value::Null);
                // The ended execution's variables, as Kestra's run context gives them.
                let context = json!({
                    "trigger": trigger_vars,
                    "labels": ended.labels,
                    "flow": {"namespace": ended.namespace.as_str(), "id": ended.flow_id.as_str()},
                    "execution": {"id": ended.id.as_str(), "state": ended.state.as_str()},
                    "outputs": ended.outputs,
                });
                let rendered = Renderer::new(Arc::new(NoSecrets))
                    .render("", "where", &written, &context)
                    .map_err(|e| e.message)?;
                Some(match rendered {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            other => {
                return Err(format!(
                    "preconditions.where: field {other:?} is not FLOW_ID, NAMESPACE, STATE or EXPRESSION"
                ));
            }
        };
        let listed = |f: &Option<String>| {
            f.as_ref().is_some_and(|f| {
                filter
                    .get("values")
                    .and_then(Value::as_array)
                    .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(f)))
            })
        };
        let truthy = |v: &str| !matches!(v.trim(), "" | "false" | "0" | "-0");
        let hold = match text("type")
            .unwrap_or_default()
            .to_ascii_uppercase()
            .as_str()
        {
            "EQUAL_TO" => value.is_some() && field == value,
            "NOT_EQUAL_TO" => field != value,
            "IN" => listed(&field),
            "NOT_IN" => !listed(&field),
            "IS_TRUE" => field.as_deref().is_some_and(truthy),
            "IS_FALSE" => !field.as_deref().is_some_and(truthy),
            "IS_NULL" => field.is_none(),
            "IS_NOT_NULL" => field.is_some(),
            "STARTS_WITH" => field
                .as_ref()
                .zip(value.as_ref())
                .is_some_and(|(f, v)| f.starts_with(v.as_str())),
            "ENDS_WITH" => field
                .as_ref()
                .zip(value.as_ref())
                .is_some_and(|(f, v)| f.ends_with(v.as_str())),
            "CONTAINS" => field
                .as_ref()
                .zip(value.as_ref())
                .is_some_and(|(f, v)| f.contains(v.as_str())),
            "REGEX" => match (field.as_ref(), value.as_ref()) {
                (Some(f), Some(v)) => regex_full_match(v, f)?,
                _ => false,
            },
            other => {
                return Err(format!(
                    "preconditions.where: type {other:?} is not a filter type Kestra has"
                ));
            }
        };
        if hold == any {
            return Ok(any);
        }
    }
    Ok(!any)
}

/// Java's String.matches: the whole text.
fn regex_full_match(pattern: &str, text: &str) -> Result<bool, String> {
    let anchored = format!("^(?:{pattern})$");
    regex::Regex::new(&anchored)
        .map(|r| r.is_match(text))
        .map_err(|e| format!("preconditions.where: {pattern:?} is not a regular expression: {e}"))
}

/// The trigger's `inputs`, with `{{ trigger.* }}` rendered. Secrets are
/// not available here: an input's value is stored and shown.
async fn render_inputs(
    trigger: &Trigger,
    trigger_vars: &Value,
) -> Result<Map<String, Value>, String> {
    let Some(inputs) = trigger.node.get("inputs").map(|i| i.to_json()) else {
        return Ok(Map::new());
    };
    let renderer = Renderer::new(Arc::new(NoSecrets));
    let rendered = renderer
        .render_async("", "inputs", &inputs, &json!({ "trigger": trigger_vars }))
        .await
        .map_err(|e| e.message)?;
    rendered
        .as_object()
        .cloned()
        .ok_or_else(|| "`inputs` is a mapping of input ids to values".into())
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
        Err(format!(
            "read({uri:?}) is not available in a trigger's inputs"
        ))
    }
}
