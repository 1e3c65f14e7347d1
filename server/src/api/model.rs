//! The `/api/v1` JSON shapes, Kestra's, converted by hand from the engine's
//! records so that the API stays stable while the engine changes.

use engine::store::{Attempt, ExecutionRecord, LogRecord, StateChange, TaskRunRecord};
use serde::Serialize;
use serde_json::Value;

/// An ISO-8601 instant for Unix milliseconds.
pub(crate) fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// An ISO-8601 duration, `PT1.234S`, as Kestra writes them.
pub(crate) fn iso_duration(ms: i64) -> String {
    let ms = ms.max(0);
    format!("PT{}.{:03}S", ms / 1000, ms % 1000)
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StateJson {
    current: &'static str,
    histories: Vec<HistoryJson>,
    start_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_date: Option<String>,
    duration: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct HistoryJson {
    state: &'static str,
    date: String,
}

fn state_json(
    histories: &[StateChange],
    current: engine::state::State,
    ended_at: Option<i64>,
    now: i64,
) -> StateJson {
    let start = histories.first().map(|h| h.date).unwrap_or(now);
    StateJson {
        current: current.as_str(),
        histories: histories
            .iter()
            .map(|h| HistoryJson {
                state: h.state.as_str(),
                date: iso(h.date),
            })
            .collect(),
        start_date: iso(start),
        end_date: ended_at.map(iso),
        duration: iso_duration(ended_at.unwrap_or(now) - start),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LabelJson {
    pub(crate) key: String,
    pub(crate) value: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecutionJson {
    id: String,
    namespace: String,
    flow_id: String,
    flow_revision: i64,
    #[schema(value_type = Object)]
    inputs: Value,
    labels: Vec<LabelJson>,
    state: StateJson,
    task_run_list: Vec<TaskRunJson>,
    #[schema(value_type = Object)]
    outputs: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    trigger: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskRunJson {
    id: String,
    execution_id: String,
    namespace: String,
    flow_id: String,
    task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_task_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    state: StateJson,
    attempts: Vec<AttemptJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    outputs: Option<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AttemptJson {
    state: StateJson,
}

fn attempt_json(attempt: &Attempt, now: i64) -> AttemptJson {
    let mut histories = vec![StateChange {
        state: engine::state::State::Running,
        date: attempt.start,
    }];
    if let Some(end) = attempt.end {
        histories.push(StateChange {
            state: attempt.state,
            date: end,
        });
    }
    AttemptJson {
        state: state_json(&histories, attempt.state, attempt.end, now),
    }
}

pub(crate) fn execution_json(
    execution: ExecutionRecord,
    task_runs: Vec<TaskRunRecord>,
    now: i64,
) -> ExecutionJson {
    let task_run_list = task_runs
        .into_iter()
        .map(|run| TaskRunJson {
            state: state_json(&run.histories, run.state, run.ended_at, now),
            attempts: run.attempts.iter().map(|a| attempt_json(a, now)).collect(),
            id: run.id.to_string(),
            execution_id: execution.id.to_string(),
            namespace: execution.namespace.to_string(),
            flow_id: execution.flow_id.to_string(),
            task_id: run.task_id.to_string(),
            parent_task_run_id: run.parent_task_run_id.map(|id| id.to_string()),
            value: run.value,
            outputs: run.outputs,
        })
        .collect();
    ExecutionJson {
        state: state_json(
            &execution.histories,
            execution.state,
            execution.ended_at,
            now,
        ),
        id: execution.id.to_string(),
        namespace: execution.namespace.to_string(),
        flow_id: execution.flow_id.to_string(),
        flow_revision: execution.flow_revision,
        inputs: execution.inputs,
        labels: execution
            .labels
            .into_iter()
            .map(|(key, value)| LabelJson { key, value })
            .collect(),
        task_run_list,
        outputs: execution.outputs,
        trigger: execution.trigger_vars,
        original_id: execution.original_id.map(|id| id.to_string()),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogJson {
    /// The execution's, in a search across executions.
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_id: Option<String>,
    execution_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt_number: Option<u32>,
    level: &'static str,
    timestamp: String,
    message: String,
}

impl LogJson {
    /// With the execution's namespace and flow.
    pub(crate) fn within(mut self, namespace: &str, flow_id: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self.flow_id = Some(flow_id.to_owned());
        self
    }
}

pub(crate) fn log_json(log: &LogRecord) -> LogJson {
    LogJson {
        namespace: None,
        flow_id: None,
        execution_id: log.execution_id.to_string(),
        task_run_id: log.task_run_id.as_ref().map(ToString::to_string),
        task_id: log.task_id.as_ref().map(ToString::to_string),
        attempt_number: log.attempt,
        level: log.level.as_str(),
        timestamp: iso(log.at),
        message: log.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_durations_are_iso_8601() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_500), "1970-01-01T00:00:01.5Z");
        assert_eq!(iso_duration(61_234), "PT61.234S");
        assert_eq!(iso_duration(-5), "PT0.000S");
    }
}
