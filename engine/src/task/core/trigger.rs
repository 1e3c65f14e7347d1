//! Kestra's `io.kestra.plugin.core.trigger` package. Triggers have no
//! runner: the scheduler (`scheduler.rs`), the webhook route and the flow
//! triggers (`flow_triggers.rs`) fire them.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};

pub const SCHEDULE: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.Schedule",
    alias: "trigger.Schedule",
    category: Category::Trigger,
    doc: "Starts an execution on a cron schedule; `{{ trigger.date }}` is the scheduled time.",
    properties: &[
        ex(
            req(
                "cron",
                Cron,
                "When to run: minute hour day-of-month month day-of-week (seconds optional).",
            ),
            "0 2 * * *",
        ),
        def(
            "timezone",
            String,
            "\"Etc/UTC\"",
            "The time zone of the cron expression.",
        ),
        prop("inputs", Map, "Inputs of the executions it starts."),
        prop(
            "backfill",
            Map,
            "start (and end): run the missed schedules since then.",
        ),
        def(
            "recoverMissedSchedules",
            String,
            "\"ALL\"",
            "Schedules missed while Mortar was down: ALL run, LAST only the latest, NONE.",
        ),
        prop(
            "conditions",
            Conditions,
            "Fire only at the times these conditions hold (Weekend, DayWeek, DayWeekInMonth, TimeBetween, DateTimeBetween, Not, Or, Expression); `date` is the scheduled time.",
        ),
        prop(
            "withSeconds",
            Boolean,
            "The cron expression has a seconds field first.",
        ),
        prop("stopAfter", Any, "Accepted for Kestra compatibility."),
    ],
    outputs: &[
        ("date", "The scheduled time."),
        ("next", "The next one."),
        ("previous", "The previous one."),
    ],
    run: None,
    check: None,
    aliases: &["io.kestra.core.models.triggers.types.Schedule"],
};

pub const SCHEDULE_ON_DATES: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.ScheduleOnDates",
    alias: "trigger.ScheduleOnDates",
    category: Category::Trigger,
    doc: "Starts an execution at each of a list of dates; `{{ trigger.date }}` is the date.",
    properties: &[
        ex(
            req(
                "dates",
                Any,
                "The dates: a list of ISO-8601 date-times (expressions rendered), or an expression giving one.",
            ),
            "[\"2026-12-24T08:00:00Z\", \"2026-12-31T08:00:00Z\"]",
        ),
        def(
            "timezone",
            String,
            "\"Etc/UTC\"",
            "The zone of dates written without an offset, and of `trigger.date`.",
        ),
        prop("inputs", Map, "Inputs of the executions it starts."),
        def(
            "recoverMissedSchedules",
            String,
            "\"ALL\"",
            "Dates missed while Mortar was down: ALL run, LAST only the latest, NONE.",
        ),
        prop(
            "conditions",
            Conditions,
            "Fire only on the dates these conditions hold.",
        ),
        prop("stopAfter", Any, "Accepted for Kestra compatibility."),
    ],
    outputs: &[
        ("date", "The date it fired for."),
        ("next", "The next date."),
        ("previous", "The previous date."),
    ],
    run: None,
    check: None,
    aliases: &[],
};

pub const TOGGLE: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.Toggle",
    alias: "trigger.Toggle",
    category: Category::Task,
    doc: "Turns a trigger of a flow (this one by default) on or off, as the trigger's switch in the UI does.",
    properties: &[
        prop(
            "namespace",
            String,
            "The flow's namespace; this flow's when unset.",
        ),
        prop("flowId", String, "The flow; this flow when unset."),
        ex(req("trigger", String, "The trigger's id."), "schedule"),
        def(
            "enabled",
            Boolean,
            "false",
            "Turn it on (true) or off (false).",
        ),
    ],
    outputs: &[],
    run: runner!(run::Toggle),
    check: None,
    aliases: &["io.kestra.core.tasks.trigger.Toggle"],
};

pub const WEBHOOK: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.Webhook",
    alias: "trigger.Webhook",
    category: Category::Trigger,
    doc: "Starts an execution on a request to /api/v1/executions/webhook/{namespace}/{flowId}/{key}.",
    properties: &[
        req("key", String, "The secret part of the webhook URL."),
        prop("inputs", Map, "Inputs of the executions it starts."),
        prop(
            "conditions",
            Conditions,
            "Start only when these hold for the request (Expression over `trigger.body`, `trigger.headers`, `trigger.parameters`; Not, Or); otherwise the answer is 204 and nothing starts.",
        ),
        def(
            "wait",
            Boolean,
            "false",
            "Answer once the execution has ended (the execution as JSON), rather than at once.",
        ),
        def(
            "returnOutputs",
            Boolean,
            "false",
            "With `wait`: answer with the flow's `outputs` rather than the execution.",
        ),
        def(
            "responseContentType",
            Enum {
                values: &["application/json", "text/plain"],
            },
            "\"application/json\"",
            "With `returnOutputs`: text/plain answers with the flow's single output as text.",
        ),
    ],
    outputs: &[
        ("body", "The request's body."),
        ("headers", "Its headers."),
        ("parameters", "Its query parameters."),
    ],
    run: None,
    check: None,
    aliases: &["io.kestra.core.models.triggers.types.Webhook"],
};

const UPSTREAM_FLOW: &[Property] = &[
    req("namespace", String, "The flow's namespace."),
    prop(
        "flowId",
        String,
        "The flow; any flow of the namespace when unset.",
    ),
    prop(
        "states",
        StringList,
        "The end states that count; any when unset.",
    ),
    prop("labels", Map, "Labels the execution must have."),
];

const WHERE_FILTER: &[Property] = &[
    req(
        "field",
        Enum {
            values: &["FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION"],
        },
        "What to compare.",
    ),
    req(
        "type",
        Enum {
            values: &[
                "EQUAL_TO",
                "NOT_EQUAL_TO",
                "IN",
                "NOT_IN",
                "IS_TRUE",
                "IS_FALSE",
                "IS_NULL",
                "IS_NOT_NULL",
                "STARTS_WITH",
                "ENDS_WITH",
                "REGEX",
                "CONTAINS",
            ],
        },
        "How.",
    ),
    prop("value", String, "The value (an expression for EXPRESSION)."),
    prop("values", StringList, "The values, for IN and NOT_IN."),
];

const WHERE: &[Property] = &[
    req("id", String, "The filter's id."),
    def(
        "operand",
        Enum {
            values: &["AND", "OR"],
        },
        "\"AND\"",
        "Whether all filters must hold, or one.",
    ),
    req(
        "filters",
        ObjectList {
            properties: WHERE_FILTER,
        },
        "The filters.",
    ),
];

const PRECONDITIONS: &[Property] = &[
    prop(
        "id",
        String,
        "Where what held so far is kept; the trigger's id when unset.",
    ),
    prop(
        "flows",
        ObjectList {
            properties: UPSTREAM_FLOW,
        },
        "The flows whose executions must each have ended within the window.",
    ),
    prop(
        "where",
        ObjectList { properties: WHERE },
        "Filters that some ended execution within the window must pass.",
    ),
    prop(
        "timeWindow",
        Object {
            properties: crate::task::core::condition::TIME_WINDOW,
        },
        "The window; a day from midnight UTC when unset.",
    ),
    def(
        "resetOnSuccess",
        Boolean,
        "true",
        "Start over once all held; false fires again on each later match within the window.",
    ),
];

pub const FLOW_TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.Flow",
    alias: "trigger.Flow",
    category: Category::Trigger,
    doc: "Starts an execution when another flow's execution ends.",
    properties: &[
        prop(
            "conditions",
            Conditions,
            "Which ended executions start this flow (ExecutionFlow, ExecutionStatus, ExecutionNamespace, ExecutionLabels, ExecutionOutputs, HasRetryAttempt, Expression, Not, Or).",
        ),
        prop(
            "preconditions",
            Object {
                properties: PRECONDITIONS,
            },
            "Executions of other flows that must all have ended (as said) within a time window before this flow starts: a fan-in.",
        ),
        prop("inputs", Map, "Inputs of the executions it starts."),
        prop("states", StringList, "The end states that trigger."),
    ],
    outputs: &[
        ("executionId", "The execution that ended."),
        ("namespace", "Its namespace."),
        ("flowId", "Its flow."),
        ("state", "Its state."),
    ],
    run: None,
    check: None,
    aliases: &["io.kestra.core.models.triggers.types.Flow"],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;

    use crate::log::Level;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct Toggle;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ToggleProps {
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        flow_id: Option<String>,
        trigger: String,
        #[serde(default)]
        enabled: Option<bool>,
    }

    impl Runner for Toggle {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: ToggleProps = ctx.properties()?;
                let namespace = props
                    .namespace
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| ctx.namespace.to_string());
                let flow_id = props
                    .flow_id
                    .filter(|f| !f.trim().is_empty())
                    .unwrap_or_else(|| ctx.flow_id.to_string());
                let enabled = props.enabled.unwrap_or(false);
                ctx.set_trigger_disabled(&namespace, &flow_id, &props.trigger, !enabled)
                    .await?;
                ctx.log(
                    Level::Info,
                    format!(
                        "trigger {} of {namespace}.{flow_id} is {}",
                        props.trigger,
                        if enabled { "on" } else { "off" }
                    ),
                )
                .await;
                Ok(Outputs::new())
            })
        }
    }
}
