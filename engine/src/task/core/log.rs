//! Kestra's `io.kestra.plugin.core.log` package.

use crate::flow::registry::Kind::{self, *};
use crate::flow::registry::{Category, TaskType, def, ex, prop, req, runner};

/// The log levels, as Kestra names them.
pub(crate) const LEVELS: Kind = Enum {
    values: &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"],
};

pub const LOG: TaskType = TaskType {
    name: "io.kestra.plugin.core.log.Log",
    alias: "log.Log",
    category: Category::Task,
    doc: "Writes a message (or a list of messages) to the execution's logs.",
    properties: &[
        ex(
            req(
                "message",
                Any,
                "The message, or a list of messages; expressions are rendered.",
            ),
            "Hello, {{ inputs.name }}!",
        ),
        def("level", LEVELS, "\"INFO\"", "The log level."),
    ],
    outputs: &[],
    run: runner!(run::Log),
    check: None,
    aliases: &["io.kestra.core.tasks.log.Log"],
};

pub const FETCH: TaskType = TaskType {
    name: "io.kestra.plugin.core.log.Fetch",
    alias: "log.Fetch",
    category: Category::Task,
    doc: "Writes an execution's log lines (this one's by default), from a level up, to an Ion file of internal storage, one line per entry.",
    properties: &[
        prop(
            "namespace",
            String,
            "The execution's namespace, checked with executionId.",
        ),
        prop(
            "flowId",
            String,
            "The execution's flow, checked with executionId.",
        ),
        ex(
            prop("executionId", String, "The execution; this one when unset."),
            "{{ trigger.executionId }}",
        ),
        prop("tasksId", StringList, "Only these tasks' lines."),
        def("level", LEVELS, "\"INFO\"", "The lowest level fetched."),
    ],
    outputs: &[
        ("uri", "The storage:// URI of the Ion file."),
        ("size", "How many lines it holds."),
    ],
    run: runner!(run::Fetch),
    check: None,
    aliases: &["io.kestra.core.tasks.log.Fetch"],
};

pub const PURGE_LOGS: TaskType = TaskType {
    name: "io.kestra.plugin.core.log.PurgeLogs",
    alias: "log.PurgeLogs",
    category: Category::Task,
    doc: "Deletes log lines written before endDate (and from startDate), of every execution or of a namespace, a flow or one execution, at some levels or all.",
    properties: &[
        prop("namespace", String, "Only this namespace's executions."),
        prop("flowId", String, "Only this flow's executions."),
        prop("executionId", String, "Only this execution."),
        prop(
            "logLevels",
            StringList,
            "Only these levels (TRACE, DEBUG, INFO, WARN, ERROR).",
        ),
        prop(
            "startDate",
            String,
            "Only lines from this ISO-8601 date-time.",
        ),
        ex(
            req(
                "endDate",
                String,
                "Only lines before this ISO-8601 date-time.",
            ),
            "{{ now() | dateAdd(-1, 'MONTHS') }}",
        ),
    ],
    outputs: &[("count", "How many log lines were deleted.")],
    run: runner!(run::PurgeLogs),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::Value;

    use crate::log::Level;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// A task's `level`: INFO when unset.
    pub(crate) fn level(ctx: &TaskContext, text: Option<&str>) -> Result<Level, TaskError> {
        match text {
            None => Ok(Level::Info),
            Some(text) => Level::parse(text).ok_or_else(|| {
                ctx.invalid(format!(
                    "level {text:?} is not TRACE, DEBUG, INFO, WARN or ERROR"
                ))
            }),
        }
    }

    /// Logs a message (or several) at a level.
    pub(super) struct Log;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct LogProps {
        message: OneOrMany,
        #[serde(default)]
        level: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        // A list first: `Value` would take a list whole.
        Many(Vec<Value>),
        One(Value),
    }

    impl Runner for Log {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: LogProps = ctx.properties()?;
                let level = level(ctx, props.level.as_deref())?;
                let messages = match props.message {
                    OneOrMany::Many(list) => list,
                    OneOrMany::One(one) => vec![one],
                };
                let texts = messages
                    .into_iter()
                    .map(|message| match message {
                        Value::String(text) => text,
                        other => other.to_string(),
                    })
                    .collect();
                // Its lines are its only effect: after a stop, those stored
                // are not written again.
                ctx.log_once(level, texts).await;
                Ok(Outputs::new())
            })
        }
    }

    pub(super) struct PurgeLogs;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PurgeProps {
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        flow_id: Option<String>,
        #[serde(default)]
        execution_id: Option<String>,
        #[serde(default)]
        log_levels: Vec<String>,
        #[serde(default)]
        start_date: Option<String>,
        end_date: String,
    }

    impl Runner for PurgeLogs {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: PurgeProps = ctx.properties()?;
                let levels = props
                    .log_levels
                    .iter()
                    .map(|l| level(ctx, Some(l)))
                    .collect::<Result<Vec<_>, _>>()?;
                let millis = crate::task::core::millis;
                let filter = crate::store::PurgeFilter {
                    namespace: props.namespace,
                    flow_id: props.flow_id,
                    execution_id: props.execution_id,
                    start: props
                        .start_date
                        .as_deref()
                        .map(|d| millis(ctx, "startDate", d))
                        .transpose()?,
                    end: millis(ctx, "endDate", &props.end_date)?,
                };
                let count = ctx.purge_logs(&filter, &levels).await?;
                ctx.info(format!("purged {count} log lines")).await;
                let mut outputs = Outputs::new();
                outputs.insert("count".into(), count.into());
                Ok(outputs)
            })
        }
    }

    pub(super) struct Fetch;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FetchProps {
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        flow_id: Option<String>,
        #[serde(default)]
        execution_id: Option<String>,
        #[serde(default)]
        tasks_id: Option<Vec<String>>,
        #[serde(default)]
        level: Option<String>,
    }

    impl Runner for Fetch {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: FetchProps = ctx.properties()?;
                let min = level(ctx, props.level.as_deref())?;
                let id = props
                    .execution_id
                    .filter(|i| !i.trim().is_empty())
                    .map_or_else(|| ctx.execution_id.clone(), crate::ids::ExecutionId::new);
                let (namespace, flow_id, lines) = ctx.execution_logs(&id, min).await?;
                // As Kestra: the namespace and flow, when given, must be the execution's.
                if props
                    .namespace
                    .as_deref()
                    .is_some_and(|n| n != namespace.as_str())
                    || props
                        .flow_id
                        .as_deref()
                        .is_some_and(|f| f != flow_id.as_str())
                {
                    return Err(TaskError::Failed(format!(
                        "execution {id} is of flow {namespace}.{flow_id}, not of the namespace and flowId given"
                    )));
                }
                let mut ion = String::new();
                let mut size = 0_u64;
                for line in lines {
                    let task = line.task_id.as_ref().map(|t| t.to_string());
                    if props
                        .tasks_id
                        .as_ref()
                        .is_some_and(|only| !task.as_ref().is_some_and(|t| only.contains(t)))
                    {
                        continue;
                    }
                    let timestamp = jiff::Timestamp::from_millisecond(line.at)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    let entry = serde_json::json!({
                        "namespace": namespace.as_str(),
                        "flowId": flow_id.as_str(),
                        "taskId": task,
                        "executionId": id.as_str(),
                        "taskRunId": line.task_run_id.as_ref().map(|r| r.to_string()),
                        "attemptNumber": line.attempt.map(|a| a.saturating_sub(1)),
                        "timestamp": timestamp,
                        "level": line.level.as_str(),
                        "message": line.message,
                    });
                    if let Ok(Value::String(text)) = crate::flow::pebble::convert::to_ion(&entry) {
                        ion.push_str(&text);
                        ion.push('\n');
                        size += 1;
                    }
                }
                let uri = crate::storage::Storage::execution_uri(
                    &ctx.namespace,
                    &ctx.flow_id,
                    &ctx.execution_id,
                    &format!("{}-{}.ion", ctx.task_id, ctx.task_run_id),
                );
                ctx.storage.write(&uri, ion.as_bytes()).await?;
                let mut outputs = Outputs::new();
                outputs.insert("uri".into(), Value::String(uri));
                outputs.insert("size".into(), size.into());
                Ok(outputs)
            })
        }
    }
}
