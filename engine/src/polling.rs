//! The polling triggers: the scheduler runs a task every `interval` and
//! starts an execution when its result says so. `http.Trigger` calls a URL
//! (as http.Request does) and fires when `responseCondition` holds; the
//! JDBC triggers run their query (as the database's Query task does) and
//! fire when it returns rows. `conditions` are checked after. The last
//! poll's time is the trigger's kept date, so a restart does not poll
//! early; an execution's id derives from the flow, the trigger and the
//! interval it fell in, so two scheduler nodes polling at once start one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::executor::{Executor, Launch};
use crate::flow::model::{Flow, Trigger};
use crate::flow::registry::TaskType;
use crate::ids::ExecutionId;
use crate::plan::Plan;
use crate::store::{ScheduledFlow, Store, StoreError};
use crate::task;

/// A polling trigger type and the task type each poll runs.
pub struct Polled {
    pub trigger: &'static TaskType,
    pub task: &'static TaskType,
}

/// Every polling trigger.
pub const POLLED: &[Polled] = &[
    Polled {
        trigger: &task::core::http::TRIGGER,
        task: &task::core::http::REQUEST,
    },
    Polled {
        trigger: &task::jdbc::postgresql::TRIGGER,
        task: &task::jdbc::postgresql::QUERY,
    },
    Polled {
        trigger: &task::jdbc::sqlite::TRIGGER,
        task: &task::jdbc::sqlite::QUERY,
    },
    Polled {
        trigger: &task::databricks::lakebase::TRIGGER,
        task: &task::databricks::lakebase::QUERY,
    },
    // The watching triggers run themselves: each poll lists and compares
    // with what they saw (task/databricks/watch.rs).
    Polled {
        trigger: &task::databricks::watch::DBFS_TRIGGER,
        task: &task::databricks::watch::DBFS_TRIGGER,
    },
    Polled {
        trigger: &task::databricks::watch::TABLE_TRIGGER,
        task: &task::databricks::watch::TABLE_TRIGGER,
    },
];

/// The polling trigger of short type `alias` (`http.Trigger`).
pub fn polled(alias: &str) -> Option<&'static Polled> {
    POLLED.iter().find(|p| p.trigger.alias == alias)
}

/// The trigger's properties that `task` declares: what the task it runs
/// is given (the trigger's own, `interval`, `conditions`… are left out).
fn task_properties(task: &TaskType, props: &Value) -> Map<String, Value> {
    props
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| task.property(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Polls the trigger if its interval has passed; returns when to look next.
pub(crate) async fn poll(
    store: &Store,
    executor: &Executor,
    flow: &ScheduledFlow,
    model: &Flow,
    trigger: &Trigger,
    polled: &Polled,
    now: Timestamp,
) -> Result<Timestamp, String> {
    let props = trigger.node.to_json();
    // The trigger's declared default (dbfs.Trigger PT60S, table.Trigger PT5M).
    let declared = polled
        .trigger
        .property("interval")
        .and_then(|p| p.default)
        .map(|d| d.trim_matches('"').to_owned());
    let interval = match props.get("interval").and_then(Value::as_str).map(str::to_owned).or(declared) {
        Some(text) => crate::task::core::parse_duration(&text)?,
        None => Duration::from_secs(60),
    }
    .max(Duration::from_secs(1));
    let io = |e: StoreError| e.to_string();
    let id = trigger.id.value.as_str();
    let last = store
        .trigger_last_date(&flow.namespace, &flow.id, id)
        .await
        .map_err(io)?;
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    if let Some(last) = last
        && now.as_millisecond() < last.saturating_add(interval_ms)
    {
        return Ok(Timestamp::from_millisecond(last.saturating_add(interval_ms)).unwrap_or(now));
    }
    // Recorded first: a failing URL is called again after the interval, not at once.
    store
        .set_trigger_last_date(&flow.namespace, &flow.id, id, now.as_millisecond())
        .await
        .map_err(io)?;
    let next = now + interval;
    store
        .set_trigger_evaluated(
            &flow.namespace,
            &flow.id,
            id,
            Some(next.as_millisecond()),
            now.as_millisecond(),
        )
        .await
        .map_err(io)?;
    let plan = Plan::from_flow(model).map_err(|e| e.to_string())?;
    let bucket = now.as_millisecond() / interval_ms.max(1);
    let execution = crate::scheduler::derived_id(&format!(
        "{}\u{1f}{}\u{1f}{id}\u{1f}{bucket}",
        flow.namespace, flow.id
    ));
    let trigger_vars = if polled.task.name == task::core::http::REQUEST.name {
        match http_response(executor, &plan, id, &props).await? {
            Some(vars) => vars,
            None => {
                tracing::debug!(flow = %format!("{}.{}", flow.namespace, flow.id), trigger = id, "the response does not meet responseCondition: nothing starts");
                return Ok(next);
            }
        }
    } else {
        let mut query = task_properties(polled.task, &props);
        if polled.task.property("fetchType").is_some() {
            let fetch = query.entry("fetchType").or_insert_with(|| json!("FETCH"));
            if fetch
                .as_str()
                .is_some_and(|f| f.eq_ignore_ascii_case("NONE"))
            {
                return Err("fetchType NONE is not valid for a trigger, which would never fire: use FETCH, FETCH_ONE or STORE".into());
            }
        }
        let outputs = executor
            .poll_task(&plan, id, polled.task, query, execution.clone())
            .await?;
        if outputs.get("size").and_then(Value::as_u64).unwrap_or(0) == 0 {
            tracing::debug!(flow = %format!("{}.{}", flow.namespace, flow.id), trigger = id, "the poll found nothing: nothing starts");
            return Ok(next);
        }
        Value::Object(outputs)
    };
    let mut trigger_vars = trigger_vars;
    trigger_vars["id"] = json!(id);
    trigger_vars["type"] = json!(polled.trigger.name);
    if let Some(conditions) = props.get("conditions")
        && !crate::flow_triggers::conditions_hold(
            conditions,
            &trigger_vars,
            &crate::task::core::condition::Facts::default(),
        )?
    {
        return Ok(next);
    }
    let inputs = match props.get("inputs") {
        Some(inputs) => match executor.render_for_trigger(
            &plan,
            inputs,
            Map::from_iter([("trigger".to_owned(), trigger_vars.clone())]),
        )? {
            Value::Object(map) => map,
            _ => return Err("`inputs` is a mapping of input ids to values".into()),
        },
        None => Map::new(),
    };
    let launch = Launch {
        id: Some(execution),
        plan: Arc::new(plan),
        flow_revision: flow.revision,
        inputs,
        labels: BTreeMap::new(),
        trigger_vars: Some(trigger_vars),
    };
    match executor.launch(launch).await {
        Ok(record) => {
            tracing::info!(execution_id = %record.id, flow = %format!("{}.{}", flow.namespace, flow.id), trigger = id, "a polling trigger started an execution");
            store
                .set_trigger_fired(
                    &flow.namespace,
                    &flow.id,
                    id,
                    record.id.as_str(),
                    Timestamp::now().as_millisecond(),
                )
                .await
                .map_err(io)?;
        }
        Err(crate::executor::ExecutionError::Store(StoreError::Duplicate(_))) => {}
        Err(error) => return Err(error.to_string()),
    }
    Ok(next)
}

/// http.Trigger's poll: the response as the trigger's variables when
/// `responseCondition` holds for it, else None.
async fn http_response(
    executor: &Executor,
    plan: &Plan,
    id: &str,
    props: &Value,
) -> Result<Option<Value>, String> {
    if props
        .get("encryptBody")
        .is_some_and(crate::task::core::is_truthy)
    {
        return Err("encryptBody: Mortar does not encrypt trigger outputs yet; remove it to keep the body in clear".into());
    }
    let mut request = task_properties(&task::core::http::REQUEST, props);
    // The condition decides, not the code.
    request.insert("allowFailed".into(), Value::Bool(true));
    let response = executor
        .poll_task(
            plan,
            id,
            &task::core::http::REQUEST,
            request,
            ExecutionId::new(format!("trigger-{id}")),
        )
        .await?;
    let condition = props
        .get("responseCondition")
        .cloned()
        .unwrap_or_else(|| json!("{{ response.statusCode < 400 }}"));
    let mut more = Map::new();
    more.insert("response".into(), json!({"statusCode": response.get("code"), "body": response.get("body"), "headers": response.get("headers")}));
    let holds = executor.render_for_trigger(plan, &condition, more)?;
    Ok(crate::task::core::is_truthy(&holds).then_some(Value::Object(response)))
}
