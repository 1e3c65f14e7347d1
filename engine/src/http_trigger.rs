//! Kestra's `http.Trigger`: the scheduler calls a URL every `interval` (as
//! http.Request does) and starts an execution when `responseCondition`
//! (then `conditions`) holds for the response. The last call's time is the
//! trigger's kept date, so a restart does not call early; an execution's
//! id derives from the flow, the trigger and the interval it fell in, so
//! two scheduler nodes polling at once start one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::executor::{Executor, Launch};
use crate::flow::model::{Flow, Trigger};
use crate::plan::Plan;
use crate::store::{ScheduledFlow, Store, StoreError};

/// The request's own properties, which are rendered before the call.
const REQUEST_KEYS: &[&str] = &[
    "uri",
    "method",
    "body",
    "formData",
    "contentType",
    "headers",
    "options",
    "sslOptions",
    "allowFailed",
    "encryptBody",
];

/// Polls the trigger if its interval has passed; returns when to look next.
pub(crate) async fn poll(
    store: &Store,
    executor: &Executor,
    flow: &ScheduledFlow,
    model: &Flow,
    trigger: &Trigger,
    now: Timestamp,
) -> Result<Timestamp, String> {
    let props = trigger.node.to_json();
    let interval = match props.get("interval").and_then(Value::as_str) {
        Some(text) => crate::task::core::parse_duration(text)?,
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
    if props
        .get("encryptBody")
        .is_some_and(crate::task::core::is_truthy)
    {
        return Err("encryptBody: Mortar does not encrypt trigger outputs yet; remove it to keep the body in clear".into());
    }
    let plan = Plan::from_flow(model).map_err(|e| e.to_string())?;
    let request: Map<String, Value> = props
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| REQUEST_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let response = executor.poll_url(&plan, id, &request).await?;
    let condition = props
        .get("responseCondition")
        .cloned()
        .unwrap_or_else(|| json!("{{ response.statusCode < 400 }}"));
    let mut more = Map::new();
    more.insert("response".into(), json!({"statusCode": response.get("code"), "body": response.get("body"), "headers": response.get("headers")}));
    let holds = executor.render_for_trigger(&plan, &condition, more)?;
    if !crate::task::core::is_truthy(&holds) {
        tracing::debug!(flow = %format!("{}.{}", flow.namespace, flow.id), trigger = id, "the response does not meet responseCondition: nothing starts");
        return Ok(next);
    }
    let mut trigger_vars = Value::Object(response);
    trigger_vars["id"] = json!(id);
    trigger_vars["type"] = json!("io.kestra.plugin.core.http.Trigger");
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
    let bucket = now.as_millisecond() / interval_ms.max(1);
    let execution = crate::scheduler::derived_id(&format!(
        "{}\u{1f}{}\u{1f}{id}\u{1f}{bucket}",
        flow.namespace, flow.id
    ));
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
            tracing::info!(execution_id = %record.id, flow = %format!("{}.{}", flow.namespace, flow.id), trigger = id, "an HTTP trigger started an execution");
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
