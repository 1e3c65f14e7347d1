//! Kestra's `io.kestra.plugin.core.execution` package.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, per_item, prop, req, runner};

pub const FAIL: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.Fail",
    alias: "execution.Fail",
    category: Category::Task,
    doc: "Fails the execution, or only when `condition` is true.",
    properties: &[
        def(
            "errorMessage",
            String,
            "\"Flow failure\"",
            "The message the task fails with.",
        ),
        prop("condition", Any, "Fail only when this expression is true."),
    ],
    outputs: &[],
    run: runner!(run::Fail),
    check: None,
    aliases: &["io.kestra.core.tasks.executions.Fail"],
};

pub const ASSERT: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.Assert",
    alias: "execution.Assert",
    category: Category::Task,
    doc: "Checks conditions: each one that renders false, 0, -0 or an empty string is logged as an error, and the task fails saying how many failed.",
    properties: &[
        ex(
            req(
                "conditions",
                StringList,
                "The conditions, each an expression.",
            ),
            "[\"{{ outputs.count.value > 0 }}\"]",
        ),
        prop(
            "errorMessage",
            String,
            "A line added to the failure's message.",
        ),
    ],
    outputs: &[],
    run: runner!(run::Assert),
    check: None,
    aliases: &[],
};

pub const RESUME: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.Resume",
    alias: "execution.Resume",
    category: Category::Task,
    doc: "Resumes a paused execution (this one when executionId is unset), with inputs for its Pause's onResume.",
    properties: &[
        ex(
            prop(
                "executionId",
                String,
                "The execution to resume; this one when unset.",
            ),
            "{{ trigger.executionId }}",
        ),
        prop("namespace", String, "The execution's namespace, checked."),
        prop("flowId", String, "The execution's flow, checked."),
        prop("inputs", Map, "The onResume inputs."),
    ],
    outputs: &[],
    run: runner!(|env| run::Resume {
        link: env.executor.clone()
    }),
    check: None,
    aliases: &[],
};

pub const LABELS: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.Labels",
    alias: "execution.Labels",
    category: Category::Task,
    doc: "Adds labels to the running execution (a key already there takes the new value).",
    properties: &[ex(
        req(
            "labels",
            Any,
            "The labels: a mapping, or a list of {key, value}.",
        ),
        "{ rows: \"{{ outputs.count.value }}\" }",
    )],
    outputs: &[],
    run: runner!(run::Labels),
    check: None,
    aliases: &["io.kestra.core.tasks.executions.Labels"],
};

/// The task the executor runs itself (`executor/run/exit.rs`).
pub const EXIT: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.Exit",
    alias: "execution.Exit",
    category: Category::Task,
    doc: "Ends the execution in the state given; no task starts after it. KILLED also kills the tasks still running; CANCELED ends KILLED (Mortar has no CANCELLED).",
    properties: &[def(
        "state",
        Enum {
            values: &["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED"],
        },
        "\"SUCCESS\"",
        "The state the execution ends in.",
    )],
    outputs: &[],
    run: None,
    check: None,
    aliases: &[],
};

pub const PURGE_EXECUTIONS: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.PurgeExecutions",
    alias: "execution.PurgeExecutions",
    category: Category::Task,
    doc: "Deletes ended executions created before endDate (and from startDate), with their logs and files, of every namespace or of one namespace or flow.",
    properties: &[
        prop("namespace", String, "Only this namespace's executions."),
        prop(
            "flowId",
            String,
            "Only this flow's executions (with namespace).",
        ),
        prop(
            "startDate",
            String,
            "Only executions created from this ISO-8601 date-time.",
        ),
        ex(
            req(
                "endDate",
                String,
                "Only executions created before this ISO-8601 date-time.",
            ),
            "{{ now() | dateAdd(-1, 'MONTHS') }}",
        ),
        prop(
            "states",
            StringList,
            "Only executions that ended in one of these states; every ended one when unset.",
        ),
        def(
            "purgeExecution",
            Boolean,
            "true",
            "Delete the executions themselves (and their task runs).",
        ),
        def("purgeLog", Boolean, "true", "Delete their logs."),
        def(
            "purgeMetric",
            Boolean,
            "true",
            "Delete the metrics their tasks published.",
        ),
        def(
            "purgeStorage",
            Boolean,
            "true",
            "Delete their files in internal storage.",
        ),
    ],
    outputs: &[
        ("executionsCount", "How many executions were purged."),
        ("logsCount", "How many log lines were deleted."),
        ("storagesCount", "How many executions' files were deleted."),
        ("metricsCount", "How many metrics were deleted."),
    ],
    run: runner!(run::PurgeExecutions),
    check: None,
    aliases: &[
        "io.kestra.core.tasks.storages.Purge",
        "io.kestra.plugin.core.storage.Purge",
    ],
};

/// The task the executor runs itself (`executor/run/variables.rs`): the
/// variables it sets are the execution's from then on, across restarts.
pub const SET_VARIABLES: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.SetVariables",
    alias: "execution.SetVariables",
    category: Category::Task,
    doc: "Sets execution variables, read by later tasks as `{{ vars.<name> }}`; nested mappings are merged into those already there.",
    properties: &[
        ex(
            req(
                "variables",
                Map,
                "The variables, by name; expressions are rendered.",
            ),
            "{ rows: \"{{ outputs.count.value }}\" }",
        ),
        def(
            "overwrite",
            Boolean,
            "true",
            "When false, setting a variable that already exists fails the task, naming it.",
        ),
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &[],
};

/// Run by the executor, as SetVariables.
pub const UNSET_VARIABLES: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.UnsetVariables",
    alias: "execution.UnsetVariables",
    category: Category::Task,
    doc: "Removes execution variables (`a.b` removes the key `b` of the mapping `a`).",
    properties: &[
        ex(
            req(
                "variables",
                StringList,
                "The names of the variables to remove.",
            ),
            "[\"rows\"]",
        ),
        def(
            "ignoreMissing",
            Boolean,
            "false",
            "When false, a variable that does not exist fails the task, naming it.",
        ),
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &[],
};

const COUNT_FLOW: &[Property] = &[
    req("namespace", String, "The flow's namespace."),
    req("flowId", String, "The flow's id."),
];

pub const COUNT: TaskType = TaskType {
    name: "io.kestra.plugin.core.execution.Count",
    alias: "execution.Count",
    category: Category::Task,
    doc: "Counts the executions of flows (or of every flow of namespaces) created in a window, and keeps the flows whose count passes `expression`.",
    properties: &[
        prop(
            "flows",
            ObjectList {
                properties: COUNT_FLOW,
            },
            "The flows to count; each one named is counted, 0 included. Give flows or namespaces.",
        ),
        prop(
            "namespaces",
            StringList,
            "Count every flow of these namespaces that has executions.",
        ),
        prop(
            "states",
            StringList,
            "Only executions in these states (SUCCESS, FAILED, ...).",
        ),
        ex(
            req(
                "startDate",
                String,
                "Executions created from this ISO-8601 date-time.",
            ),
            "{{ now() | dateAdd(-1, 'DAYS') }}",
        ),
        prop(
            "endDate",
            String,
            "Executions created before this ISO-8601 date-time; now when unset.",
        ),
        ex(
            per_item(
                req(
                    "expression",
                    String,
                    "Rendered for each flow with `count` set: the flow is kept when it renders true.",
                ),
                &["count"],
            ),
            "{{ count >= 1 }}",
        ),
    ],
    outputs: &[
        (
            "results",
            "The flows kept: a list of {namespace, flowId, count}.",
        ),
        ("total", "The sum of their counts."),
    ],
    run: runner!(run::Count),
    check: None,
    aliases: &["io.kestra.core.tasks.executions.Counts"],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::Value;

    use crate::log::Level;
    use crate::task::core::is_truthy;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// Fails the execution with a message, or only when a condition holds.
    pub(super) struct Fail;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FailProps {
        #[serde(default)]
        error_message: Option<String>,
        #[serde(default)]
        condition: Option<Value>,
    }

    impl Runner for Fail {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: FailProps = ctx.properties()?;
                if let Some(condition) = &props.condition
                    && !is_truthy(condition)
                {
                    return Ok(Outputs::new());
                }
                Err(TaskError::Failed(ctx.mask(
                    props.error_message.as_deref().unwrap_or("Flow failure"),
                )))
            })
        }
    }

    pub(super) struct Assert;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AssertProps {
        conditions: Vec<Value>,
        #[serde(default)]
        error_message: Option<String>,
    }

    /// Kestra's rule for an assertion: the rendered text is false only when
    /// it is exactly `false`, `0`, `-0` or empty (a lone expression keeps its
    /// type here, so a boolean, a number or null stands for its text).
    fn holds(value: &Value) -> bool {
        match value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !matches!(s.as_str(), "false" | "0" | "-0" | ""),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    impl Runner for Assert {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: AssertProps = ctx.properties()?;
                // The message names each condition as written in the flow.
                let written = ctx.source.get("conditions").and_then(Value::as_array);
                let mut failed = 0;
                for (i, condition) in props.conditions.iter().enumerate() {
                    if !holds(condition) {
                        failed += 1;
                        let text = written
                            .and_then(|w| w.get(i))
                            .and_then(Value::as_str)
                            .map_or_else(|| condition.to_string(), str::to_owned);
                        ctx.log(Level::Error, format!("Assertion `{text}` failed!"))
                            .await;
                    }
                }
                if failed > 0 {
                    let extra = props
                        .error_message
                        .map(|m| format!("\n{m}"))
                        .unwrap_or_default();
                    return Err(TaskError::Failed(ctx.mask(&format!(
                        "{failed} assertion{} failed!{extra}",
                        if failed > 1 { "s" } else { "" }
                    ))));
                }
                Ok(Outputs::new())
            })
        }
    }

    pub(super) struct Resume {
        pub(super) link: crate::executor::subflow::Link,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ResumeProps {
        #[serde(default)]
        execution_id: Option<String>,
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        flow_id: Option<String>,
        #[serde(default)]
        inputs: serde_json::Map<String, Value>,
    }

    impl Runner for Resume {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: ResumeProps = ctx.properties()?;
                let id = props
                    .execution_id
                    .filter(|i| !i.trim().is_empty())
                    .map_or_else(|| ctx.execution_id.clone(), crate::ids::ExecutionId::new);
                let executor = self.link.executor()?;
                let target = executor
                    .execution(&id)
                    .await
                    .map_err(|e| TaskError::Failed(e.to_string()))?;
                // As Kestra: the namespace and flow, when given, must be the execution's.
                if props
                    .namespace
                    .as_deref()
                    .is_some_and(|n| n != target.namespace.as_str())
                    || props
                        .flow_id
                        .as_deref()
                        .is_some_and(|f| f != target.flow_id.as_str())
                {
                    return Err(TaskError::Failed(format!(
                        "execution {id} is of flow {}.{}, not of the namespace and flowId given",
                        target.namespace, target.flow_id
                    )));
                }
                executor
                    .resume(&id, props.inputs)
                    .await
                    .map_err(|e| TaskError::Failed(ctx.mask(&e.to_string())))?;
                ctx.info(format!("resumed execution {id}")).await;
                Ok(Outputs::new())
            })
        }
    }

    pub(super) struct Labels;

    impl Runner for Labels {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                let labels: std::collections::BTreeMap<String, String> = match ctx.prop("labels")? {
                    Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
                    Value::Array(items) => items
                        .iter()
                        .map(|item| {
                            Some((
                                item.get("key")?.as_str()?.to_owned(),
                                text(item.get("value")?),
                            ))
                        })
                        .collect::<Option<_>>()
                        .ok_or_else(|| {
                            TaskError::Failed("labels is a list of {key, value}".into())
                        })?,
                    Value::String(json) => {
                        serde_json::from_str::<serde_json::Map<String, Value>>(json)
                            .map_err(|_| {
                                TaskError::Failed(
                                    "labels is a mapping, a list of {key, value}, or that as JSON"
                                        .into(),
                                )
                            })?
                            .iter()
                            .map(|(k, v)| (k.clone(), text(v)))
                            .collect()
                    }
                    _ => {
                        return Err(TaskError::Failed(
                            "labels is a mapping or a list of {key, value}".into(),
                        ));
                    }
                };
                if let Some(key) = labels
                    .keys()
                    .find(|k| k.trim().is_empty() || k.starts_with("system."))
                {
                    return Err(TaskError::Failed(format!(
                        "the label {key:?} cannot be set: keys are not empty and system.* labels are Mortar's"
                    )));
                }
                ctx.add_labels(&labels).await?;
                ctx.info(format!(
                    "labels set: {}",
                    labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .await;
                Ok(Outputs::new())
            })
        }
    }

    use crate::task::core::millis;

    /// The ended states PurgeExecutions takes, for its message.
    const STATES: &[&str] = &["SUCCESS", "WARNING", "FAILED", "KILLED", "SKIPPED"];

    pub(super) struct PurgeExecutions;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PurgeProps {
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        flow_id: Option<String>,
        #[serde(default)]
        start_date: Option<String>,
        end_date: String,
        #[serde(default)]
        states: Vec<String>,
        #[serde(default)]
        purge_execution: Option<bool>,
        #[serde(default)]
        purge_log: Option<bool>,
        #[serde(default)]
        purge_metric: Option<bool>,
        #[serde(default)]
        purge_storage: Option<bool>,
    }

    impl Runner for PurgeExecutions {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: PurgeProps = ctx.properties()?;
                let states = props
                    .states
                    .iter()
                    .map(|s| {
                        crate::state::State::parse(&s.to_ascii_uppercase())
                            .filter(|s| s.is_terminal())
                            .ok_or_else(|| {
                                TaskError::Failed(format!(
                                    "states: {s:?} is not an ended state ({})",
                                    STATES.join(", ")
                                ))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let filter = crate::store::PurgeFilter {
                    namespace: props.namespace,
                    flow_id: props.flow_id,
                    execution_id: None,
                    start: props
                        .start_date
                        .as_deref()
                        .map(|d| millis(ctx, "startDate", d))
                        .transpose()?,
                    end: millis(ctx, "endDate", &props.end_date)?,
                };
                let files = props.purge_storage.unwrap_or(true);
                let (count, logs, metrics) = ctx
                    .purge_executions(
                        &filter,
                        &states,
                        crate::task::Purge {
                            executions: props.purge_execution.unwrap_or(true),
                            logs: props.purge_log.unwrap_or(true),
                            metrics: props.purge_metric.unwrap_or(true),
                            files,
                        },
                    )
                    .await?;
                ctx.info(format!(
                    "purged {count} executions, {logs} log lines and {metrics} metrics"
                ))
                .await;
                let mut outputs = Outputs::new();
                outputs.insert("executionsCount".into(), count.into());
                outputs.insert("logsCount".into(), logs.into());
                outputs.insert("storagesCount".into(), if files { count } else { 0 }.into());
                outputs.insert("metricsCount".into(), metrics.into());
                Ok(outputs)
            })
        }
    }

    pub(super) struct Count;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CountFlow {
        namespace: std::string::String,
        flow_id: std::string::String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CountProps {
        #[serde(default)]
        flows: Option<Vec<CountFlow>>,
        #[serde(default)]
        namespaces: Option<Vec<std::string::String>>,
        #[serde(default)]
        states: Vec<std::string::String>,
        start_date: std::string::String,
        #[serde(default)]
        end_date: Option<std::string::String>,
    }

    impl Runner for Count {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: CountProps = ctx.properties()?;
                if props.flows.is_none() && props.namespaces.is_none() {
                    return Err(ctx.invalid(
                        "give `flows` or `namespaces`: the executions of which flows to count",
                    ));
                }
                let mut states = Vec::new();
                for name in &props.states {
                    states.push(
                        crate::state::State::parse(&name.to_ascii_uppercase()).ok_or_else(
                            || ctx.invalid(format!("states: {name:?} is not a state")),
                        )?,
                    );
                }
                let start = crate::task::core::millis(ctx, "startDate", &props.start_date)?;
                let end = props
                    .end_date
                    .as_deref()
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| crate::task::core::millis(ctx, "endDate", e))
                    .transpose()?;
                let flows: Vec<_> = props
                    .flows
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| (f.namespace, f.flow_id))
                    .collect();
                let counts = ctx
                    .execution_counts(
                        &flows,
                        &props.namespaces.unwrap_or_default(),
                        &states,
                        Some(start),
                        end,
                    )
                    .await?;
                let mut results = Vec::new();
                let mut total = 0;
                for found in counts {
                    let kept =
                        ctx.render_item("expression", &serde_json::json!({"count": found.count}))?;
                    // Kestra keeps a flow when the expression renders exactly `true`.
                    let kept = matches!(&kept, Value::Bool(true))
                        || kept.as_str().is_some_and(|t| t.trim() == "true");
                    if kept {
                        total += found.count;
                        results.push(serde_json::json!({"namespace": found.namespace, "flowId": found.flow_id, "count": found.count}));
                    }
                }
                ctx.log(
                    Level::Debug,
                    format!("{} flows matching the expression", results.len()),
                )
                .await;
                let mut outputs = Outputs::new();
                outputs.insert("results".into(), Value::Array(results));
                outputs.insert("total".into(), total.into());
                Ok(outputs)
            })
        }
    }
}
