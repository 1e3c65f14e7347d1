//! Kestra's `io.kestra.plugin.core.trigger` package. Triggers have no
//! runner: the scheduler (`scheduler.rs`), the webhook route and the flow
//! triggers (`flow_triggers.rs`) fire them.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, prop, req};

pub const SCHEDULE: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.Schedule",
    alias: "trigger.Schedule",
    category: Category::Trigger,
    doc: "Starts an execution on a cron schedule; `{{ trigger.date }}` is the scheduled time.",
    properties: &[
        ex(req("cron", Cron, "When to run: minute hour day-of-month month day-of-week (seconds optional)."), "0 2 * * *"),
        def("timezone", String, "\"Etc/UTC\"", "The time zone of the cron expression."),
        prop("inputs", Map, "Inputs of the executions it starts."),
        prop("backfill", Map, "start (and end): run the missed schedules since then."),
        def("recoverMissedSchedules", String, "\"ALL\"", "Schedules missed while Mortar was down: ALL run, LAST only the latest, NONE."),
        prop("conditions", Conditions, "Fire only at the times these conditions hold (Weekend, DayWeek, DayWeekInMonth, TimeBetween, DateTimeBetween, Not, Or, Expression); `date` is the scheduled time."),
        prop("withSeconds", Boolean, "The cron expression has a seconds field first."),
        prop("stopAfter", Any, "Accepted for Kestra compatibility."),
    ],
    outputs: &[("date", "The scheduled time."), ("next", "The next one."), ("previous", "The previous one.")],
    run: None,
    check: None,
};

pub const WEBHOOK: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.Webhook",
    alias: "trigger.Webhook",
    category: Category::Trigger,
    doc: "Starts an execution on a request to /api/v1/executions/webhook/{namespace}/{flowId}/{key}.",
    properties: &[req("key", String, "The secret part of the webhook URL."), prop("inputs", Map, "Inputs of the executions it starts.")],
    outputs: &[("body", "The request's body."), ("headers", "Its headers."), ("parameters", "Its query parameters.")],
    run: None,
    check: None,
};

pub const FLOW_TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.core.trigger.Flow",
    alias: "trigger.Flow",
    category: Category::Trigger,
    doc: "Starts an execution when another flow's execution ends.",
    properties: &[
        prop("conditions", Conditions, "Which ended executions start this flow (ExecutionFlow, ExecutionStatus, ExecutionNamespace, ExecutionLabels, Expression, Not, Or)."),
        prop("preconditions", Any, "Which executions start this flow (Kestra 0.19+)."),
        prop("inputs", Map, "Inputs of the executions it starts."),
        prop("states", StringList, "The end states that trigger."),
    ],
    outputs: &[("executionId", "The execution that ended."), ("namespace", "Its namespace."), ("flowId", "Its flow."), ("state", "Its state.")],
    run: None,
    check: None,
};
