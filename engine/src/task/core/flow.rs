//! Kestra's `io.kestra.plugin.core.flow` package: the flowables, which the
//! executor walks (`plan.rs` reads their branches), `flow.Sleep` and
//! `flow.Subflow`, whose runner is the executor's own (`executor/subflow.rs`).

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, per_item, prop, req, runner};

/// Every flowable's own `errors` branch (Kestra's FlowableTask).
const ERRORS: Property = prop(
    "errors",
    Tasks,
    "Tasks run when a task inside fails; the flowable still ends FAILED.",
);
/// Every flowable's own `finally` branch.
const FINALLY: Property = prop(
    "finally",
    Tasks,
    "Tasks run after the tasks inside (and `errors`), whatever their outcome, unless killed.",
);

pub const SLEEP: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Sleep",
    alias: "flow.Sleep",
    category: Category::Task,
    doc: "Waits for a duration; a kill stops the wait at once.",
    properties: &[ex(req("duration", Duration, "How long to wait."), "PT10S")],
    outputs: &[],
    run: runner!(run::Sleep),
    check: None,
    aliases: &[],
};

pub const SEQUENTIAL: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Sequential",
    alias: "flow.Sequential",
    category: Category::Flowable,
    doc: "Runs its tasks one after the other.",
    properties: &[
        req("tasks", Tasks, "The tasks to run in order."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.Sequential"],
};

pub const ALLOW_FAILURE: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.AllowFailure",
    alias: "flow.AllowFailure",
    category: Category::Flowable,
    doc: "Runs its tasks one after the other; if one fails, the rest of them are skipped, the flowable ends WARNING and the execution goes on.",
    properties: &[
        req("tasks", Tasks, "The tasks to run in order."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.AllowFailure"],
};

/// WorkingDirectory's `cache`.
const CACHE: &[Property] = &[
    ex(
        req(
            "patterns",
            StringList,
            "Glob patterns, relative to the directory, of the files to keep.",
        ),
        "[\"node_modules/**\"]",
    ),
    ex(
        prop(
            "ttl",
            Duration,
            "How long a cache lives from its creation; forever when unset.",
        ),
        "PT1H",
    ),
];

/// Kestra's NamespaceFiles: which namespace files a directory receives.
pub const NAMESPACE_FILES: &[Property] = &[
    def(
        "enabled",
        Boolean,
        "true",
        "Copy the files (true as soon as the mapping is given).",
    ),
    ex(
        prop(
            "include",
            StringList,
            "Glob patterns of the files to copy; all when unset. `main.py` or `scripts/*` also match in any folder.",
        ),
        "[\"scripts/**\"]",
    ),
    prop(
        "exclude",
        StringList,
        "Glob patterns of the files to leave out.",
    ),
    prop(
        "namespaces",
        StringList,
        "The namespaces whose files to copy; the flow's when unset (a file of a later one wins).",
    ),
    def(
        "folderPerNamespace",
        Boolean,
        "false",
        "Put each namespace's files under a folder named after it.",
    ),
    def(
        "ifExists",
        Enum {
            values: &["OVERWRITE", "FAIL", "WARN", "IGNORE"],
        },
        "\"OVERWRITE\"",
        "Accepted for Kestra compatibility: a file of a later namespace replaces one of the same path.",
    ),
];

pub const WORKING_DIRECTORY: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.WorkingDirectory",
    alias: "flow.WorkingDirectory",
    category: Category::Flowable,
    doc: "Runs its tasks one after the other in one directory of their own, `{{ workingDir }}`: files one task writes there the next reads. The directory is removed at the end.",
    properties: &[
        req(
            "tasks",
            Tasks,
            "The tasks to run in the directory, in order; flowable tasks are not allowed.",
        ),
        prop(
            "inputFiles",
            Any,
            "Files to create first: a map of relative path to content (text, or an internal storage URI whose file is copied), or that map as JSON.",
        ),
        prop(
            "outputFiles",
            StringList,
            "Glob patterns, relative to the directory, of files to keep in internal storage at the end; their URIs are the output outputFiles.",
        ),
        prop(
            "namespaceFiles",
            Object {
                properties: NAMESPACE_FILES,
            },
            "Namespace files to copy into the directory first (every file of the flow's namespace when only `enabled: true` is given).",
        ),
        prop(
            "cache",
            Object { properties: CACHE },
            "Files kept between executions of the flow: restored before the tasks (unless older than ttl), saved after them.",
        ),
        ERRORS,
        FINALLY,
    ],
    outputs: &[(
        "outputFiles",
        "The internal storage URI of each file outputFiles matched, by its path in the directory.",
    )],
    run: None,
    check: None,
    aliases: &[
        "io.kestra.core.tasks.flows.WorkingDirectory",
        "io.kestra.core.tasks.flows.Worker",
    ],
};

pub const PARALLEL: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Parallel",
    alias: "flow.Parallel",
    category: Category::Flowable,
    doc: "Runs its tasks at the same time.",
    properties: &[
        req("tasks", Tasks, "The tasks to run in parallel."),
        def(
            "concurrencyLimit",
            Integer,
            "0",
            "The most tasks running at once; 0 means no limit.",
        ),
        prop("concurrent", Integer, "The older name of concurrencyLimit."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.Parallel"],
};

pub const DAG: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Dag",
    alias: "flow.Dag",
    category: Category::Flowable,
    doc: "Runs tasks as soon as the tasks they depend on have succeeded.",
    properties: &[
        req(
            "tasks",
            DagTasks,
            "The tasks, each `- task: {...}` with an optional `dependsOn: [ids]`.",
        ),
        def(
            "concurrencyLimit",
            Integer,
            "0",
            "The most tasks running at once; 0 means no limit.",
        ),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.Dag"],
};

pub const IF: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.If",
    alias: "flow.If",
    category: Category::Flowable,
    doc: "Runs `then` when the condition is true, else `else`.",
    properties: &[
        ex(
            req(
                "condition",
                Any,
                "An expression; true, a non-zero number or a non-empty string runs `then`.",
            ),
            "{{ inputs.full }}",
        ),
        req("then", Tasks, "The tasks run when the condition is true."),
        prop("else", Tasks, "The tasks run when the condition is false."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.If"],
};

pub const SWITCH: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Switch",
    alias: "flow.Switch",
    category: Category::Flowable,
    doc: "Runs the tasks of the case that matches the value.",
    properties: &[
        ex(
            req("value", Any, "The value to match against the case keys."),
            "{{ inputs.mode }}",
        ),
        prop("cases", TaskCases, "Tasks for each value."),
        prop("defaults", Tasks, "The tasks run when no case matches."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.Switch"],
};

pub const FOR_EACH: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.ForEach",
    alias: "flow.ForEach",
    category: Category::Flowable,
    doc: "Runs its tasks once for each value; `{{ taskrun.value }}` is the current one.",
    properties: &[
        ex(
            req(
                "values",
                Any,
                "A list, or an expression (or JSON text) that gives one.",
            ),
            "[\"a\", \"b\"]",
        ),
        def(
            "concurrencyLimit",
            Integer,
            "1",
            "How many values run at once; 0 means all.",
        ),
        req("tasks", Tasks, "The tasks to run for each value."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &[],
};

pub const SUBFLOW: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Subflow",
    alias: "flow.Subflow",
    category: Category::Task,
    doc: "Starts an execution of another flow.",
    properties: &[
        req("namespace", String, "The other flow's namespace."),
        req("flowId", String, "The other flow's id."),
        prop("inputs", Map, "The inputs of the other flow."),
        prop("labels", Any, "Labels of the new execution."),
        def(
            "wait",
            Boolean,
            "true",
            "Wait for the other execution to end.",
        ),
        def(
            "transmitFailed",
            Boolean,
            "true",
            "Fail when the other execution fails (with wait).",
        ),
        prop(
            "revision",
            Integer,
            "A revision of the other flow; the latest when unset.",
        ),
        def(
            "inheritLabels",
            Boolean,
            "false",
            "Give the new execution this execution's labels (then `labels`).",
        ),
        prop(
            "scheduleDate",
            String,
            "Accepted for Kestra compatibility: the execution starts at once.",
        ),
        per_item(
            prop(
                "outputs",
                Map,
                "Kestra's older way to pass values back: rendered against the ended execution's `outputs` (its tasks'), given under this task's `outputs` (with wait).",
            ),
            &["outputs"],
        ),
    ],
    outputs: &[
        ("executionId", "The id of the other execution."),
        ("state", "Its final state."),
        ("outputs", "Its outputs."),
    ],
    run: runner!(|env| crate::executor::subflow::Subflow {
        link: env.executor.clone()
    }),
    check: None,
    aliases: &[
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow",
    ],
};

/// ForEachItem's `batch`: how the file is cut.
const BATCH: &[Property] = &[
    def("rows", Integer, "1", "Lines per batch."),
    prop(
        "partitions",
        Integer,
        "How many batches, the lines dealt to them in turn (instead of rows).",
    ),
    ex(
        prop(
            "bytes",
            String,
            "About how many bytes per batch (instead of rows).",
        ),
        "10MB",
    ),
    def("separator", String, "\"\\n\"", "What ends a line."),
];

pub const FOR_EACH_ITEM: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.ForEachItem",
    alias: "flow.ForEachItem",
    category: Category::Task,
    doc: "Cuts a file of internal storage into batches of lines and starts one execution of a subflow per batch, `{{ taskrun.items }}` (the batch's URI) and `{{ taskrun.iteration }}` (its number) in its inputs; by default waits for them all. Its outputs are also Kestra's `<id>_split`, `<id>_items` and `<id>_merge`.",
    properties: &[
        ex(
            req("items", String, "The file's storage:// URI."),
            "{{ outputs.extract.uri }}",
        ),
        prop(
            "batch",
            Object { properties: BATCH },
            "How to cut it: one line per batch when unset.",
        ),
        req("namespace", String, "The subflow's namespace."),
        req("flowId", String, "The subflow's id."),
        prop(
            "revision",
            Integer,
            "A revision of the subflow; the latest when unset.",
        ),
        ex(
            per_item(
                prop(
                    "inputs",
                    Map,
                    "The subflow's inputs, rendered per batch with `taskrun.items` and `taskrun.iteration`.",
                ),
                &["taskrun"],
            ),
            "{ file: \"{{ taskrun.items }}\" }",
        ),
        prop("labels", Any, "Labels of the executions it starts."),
        def(
            "wait",
            Boolean,
            "true",
            "Wait for every subflow execution to end.",
        ),
        def(
            "transmitFailed",
            Boolean,
            "true",
            "Fail when one of them fails (with wait).",
        ),
        def(
            "inheritLabels",
            Boolean,
            "false",
            "Give the executions this execution's labels (then `labels`).",
        ),
        prop(
            "scheduleDate",
            String,
            "Accepted for Kestra compatibility: the executions start at once.",
        ),
    ],
    outputs: &[
        (
            "numberOfBatches",
            "How many batches (and subflow executions).",
        ),
        (
            "iterations",
            "How many subflow executions ended in each state (with wait).",
        ),
        (
            "subflowOutputs",
            "An Ion file with each subflow execution's outputs, one per line, in batch order (with wait).",
        ),
        (
            "splits",
            "A file listing the batch files' URIs, one per line.",
        ),
    ],
    run: runner!(|env| crate::executor::subflow::ForEachItem {
        link: env.executor.clone()
    }),
    check: None,
    aliases: &["io.kestra.core.tasks.flows.ForEachItem"],
};

pub const EACH_SEQUENTIAL: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.EachSequential",
    alias: "flow.EachSequential",
    category: Category::Flowable,
    doc: "Runs its tasks once for each value, one value after the other (Kestra's older ForEach); `{{ taskrun.value }}` is the current one.",
    properties: &[
        ex(
            req(
                "value",
                Any,
                "A list, or an expression (or JSON text) that gives one.",
            ),
            "[\"a\", \"b\"]",
        ),
        req("tasks", Tasks, "The tasks to run for each value."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.EachSequential"],
};

pub const EACH_PARALLEL: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.EachParallel",
    alias: "flow.EachParallel",
    category: Category::Flowable,
    doc: "Runs its tasks once for each value, the values at the same time (Kestra's older ForEach with a concurrency); `{{ taskrun.value }}` is the current one.",
    properties: &[
        ex(
            req(
                "value",
                Any,
                "A list, or an expression (or JSON text) that gives one.",
            ),
            "[\"a\", \"b\"]",
        ),
        def(
            "concurrent",
            Integer,
            "0",
            "How many values run at once; 0 means all.",
        ),
        req("tasks", Tasks, "The tasks to run for each value."),
        ERRORS,
        FINALLY,
    ],
    outputs: &[],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.EachParallel"],
};

/// LoopUntil's `checkFrequency`.
const CHECK_FREQUENCY: &[Property] = &[
    def("maxIterations", Integer, "100", "The most iterations."),
    def(
        "maxDuration",
        Duration,
        "\"PT1H\"",
        "The longest the loop runs, from its start.",
    ),
    def(
        "interval",
        Duration,
        "\"PT1S\"",
        "The wait between an iteration and the next.",
    ),
];

const LOOP_UNTIL_PROPERTIES: &[Property] = &[
    ex(
        req(
            "condition",
            Any,
            "Checked after each iteration (its tasks' outputs are the latest iteration's); the loop ends when it is true (anything but false, 0, -0, null or empty).",
        ),
        "{{ outputs.check.code == 200 }}",
    ),
    req("tasks", Tasks, "The tasks of one iteration, in order."),
    prop(
        "checkFrequency",
        Object {
            properties: CHECK_FREQUENCY,
        },
        "The limits and the wait between iterations.",
    ),
    def(
        "failOnMaxReached",
        Boolean,
        "false",
        "End FAILED, rather than SUCCESS, when maxIterations or maxDuration is reached.",
    ),
    ERRORS,
    FINALLY,
];

const LOOP_UNTIL_DOC: &str = "Runs its tasks again and again, checkFrequency.interval apart, until `condition` holds, or until checkFrequency.maxIterations or maxDuration is reached. `{{ outputs.<id>.iterationCount }}` counts the iterations from 1.";

pub const LOOP_UNTIL: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.LoopUntil",
    alias: "flow.LoopUntil",
    category: Category::Flowable,
    doc: LOOP_UNTIL_DOC,
    properties: LOOP_UNTIL_PROPERTIES,
    outputs: &[(
        "iterationCount",
        "The iteration running, from 1; at the end, how many ran.",
    )],
    run: None,
    check: None,
    aliases: &[],
};

/// LoopUntil's older name, still in use.
pub const WAIT_FOR: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.WaitFor",
    alias: "flow.WaitFor",
    ..LOOP_UNTIL
};

/// What an `onResume` input declares (as a flow's inputs do).
const RESUME_INPUT: &[Property] = &[
    req("id", String, "The input's id."),
    req(
        "type",
        String,
        "STRING, INT, FLOAT, BOOLEAN, SELECT, ... as a flow input.",
    ),
    prop("description", String, "What to give."),
    prop("displayName", String, "Its label in the form."),
    def("required", Boolean, "true", "Resuming needs it."),
    prop("defaults", Any, "Its value when not given."),
    prop("values", StringList, "A SELECT's choices."),
];

/// The task the executor runs itself: it pauses the execution (PAUSED)
/// until a Resume (the execution page's button, `POST
/// /api/v1/executions/{id}/resume`, or `execution.Resume`) or until
/// `pauseDuration` has passed (`executor/pause.rs`).
pub const PAUSE: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Pause",
    alias: "flow.Pause",
    category: Category::Task,
    doc: "Pauses the execution until it is resumed (with the onResume inputs, if any) or until pauseDuration has passed.",
    properties: &[
        ex(
            prop(
                "pauseDuration",
                Duration,
                "How long to wait before `behavior` applies; until resumed when unset.",
            ),
            "PT1H",
        ),
        def(
            "behavior",
            Enum {
                values: &["RESUME", "WARN", "FAIL", "CANCEL"],
            },
            "\"RESUME\"",
            "What happens when pauseDuration has passed: go on (RESUME), go on WARNING, fail, or cancel the execution (KILLED).",
        ),
        prop(
            "onResume",
            ObjectList {
                properties: RESUME_INPUT,
            },
            "Inputs to give when resuming, read back as outputs.<task>.onResume.<id>.",
        ),
        prop("delay", Duration, "The older name of pauseDuration."),
        prop(
            "tasks",
            Tasks,
            "Kestra's older Pause: tasks run inside it once the pause ends.",
        ),
    ],
    outputs: &[("onResume", "The inputs given when resuming, by id.")],
    run: None,
    check: None,
    aliases: &["io.kestra.core.tasks.flows.Pause"],
};

pub const TEMPLATE: TaskType = TaskType {
    name: "io.kestra.plugin.core.flow.Template",
    alias: "flow.Template",
    category: Category::Flowable,
    doc: "Runs the tasks of a template (deprecated in Kestra, still in use): a template is a named list of tasks and `errors` kept per namespace (`/api/v1/templates`, the Templates page); its tasks read `parent.outputs.args`. The template is read when the execution runs, as Kestra injects it.",
    properties: &[
        ex(
            req("namespace", String, "The template's namespace."),
            "company.team",
        ),
        ex(req("templateId", String, "The template's id."), "load"),
        ex(
            prop(
                "args",
                Map,
                "Named arguments, rendered to text: the template's tasks read them as `parent.outputs.args.<name>`, later tasks as `outputs.<id>.args`.",
            ),
            "{ forward: \"{{ outputs.extract.uri }}\" }",
        ),
        ERRORS,
        prop(
            "tenantId",
            String,
            "Kestra's tenant; accepted and ignored (Mortar has one).",
        ),
    ],
    outputs: &[("args", "The rendered arguments.")],
    // Reached only when the template was not found: the executor runs a
    // found one's tasks itself.
    run: runner!(run::MissingTemplate),
    check: None,
    aliases: &["io.kestra.core.tasks.flows.Template"],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;

    use crate::task::core::parse_duration;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// A flow.Template whose template the executor did not find.
    pub(super) struct MissingTemplate;

    impl Runner for MissingTemplate {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let text =
                    |name: &str| ctx.properties[name].as_str().unwrap_or_default().to_owned();
                Err(TaskError::Failed(format!(
                    "Can't find flow template '{}.{}'",
                    text("namespace"),
                    text("templateId")
                )))
            })
        }
    }

    /// Waits, and stops waiting at once if the execution is killed.
    pub(super) struct Sleep;

    #[derive(Deserialize)]
    struct SleepProps {
        duration: String,
    }

    impl Runner for Sleep {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: SleepProps = ctx.properties()?;
                let duration = parse_duration(&props.duration)
                    .map_err(|message| ctx.invalid(format!("duration: {message}")))?;
                ctx.sleep(duration).await?;
                Ok(Outputs::new())
            })
        }
    }
}
