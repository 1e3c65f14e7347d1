//! The task types and their properties, declared once. The declaration
//! drives validation, the JSON Schema of flows, the editor's completion and
//! the docs (`GET /api/v1/plugins`).

use serde::Serialize;

/// What a property holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    /// An ISO-8601 duration such as `PT30M`.
    Duration,
    /// A cron expression.
    Cron,
    /// A service's base URL, `scheme://host[:port]` (`base_url::BaseUrl`).
    BaseUrl,
    /// One of a set of strings.
    Enum { values: &'static [&'static str] },
    /// A list of strings.
    StringList,
    /// A mapping of free keys.
    Map,
    /// A mapping with declared keys.
    Object { properties: &'static [Property] },
    /// A list of mappings with declared keys.
    ObjectList { properties: &'static [Property] },
    /// Anything (a template, a value of any type).
    Any,
    /// A list of tasks (flowables).
    Tasks,
    /// `Dag`'s list of `{task, dependsOn}`.
    DagTasks,
    /// `Switch`'s mapping of case value to a list of tasks.
    TaskCases,
}

impl Kind {
    /// The kind in words, for messages.
    pub fn describe(&self) -> std::string::String {
        match self {
            Kind::String => "a string".into(),
            Kind::Integer => "an integer".into(),
            Kind::Number => "a number".into(),
            Kind::Boolean => "true or false".into(),
            Kind::Duration => "an ISO-8601 duration such as PT5M".into(),
            Kind::Cron => "a cron expression such as \"0 2 * * *\"".into(),
            Kind::BaseUrl => "a URL scheme://host[:port] such as https://adb-123.4.azuredatabricks.net".into(),
            Kind::Enum { values } => format!("one of {}", values.join(", ")),
            Kind::StringList => "a list of strings".into(),
            Kind::Map | Kind::Object { .. } => "a mapping".into(),
            Kind::ObjectList { .. } => "a list of mappings".into(),
            Kind::Any => "a value".into(),
            Kind::Tasks => "a list of tasks".into(),
            Kind::DagTasks => "a list of `- task: {...}` entries with optional dependsOn".into(),
            Kind::TaskCases => "a mapping from case value to a list of tasks".into(),
        }
    }
}

/// One property of a task type (or of a nested object).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Property {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: Kind,
    pub required: bool,
    /// The default, as JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<&'static str>,
    pub doc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<&'static str>,
}

/// What a type is for: a task in `tasks`, or a trigger in `triggers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    Task,
    Flowable,
    Trigger,
}

/// A task (or trigger) type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskType {
    /// Kestra's full name, `io.kestra.plugin.core.log.Log`.
    pub name: &'static str,
    /// The short alias, `log.Log`.
    pub alias: &'static str,
    pub category: Category,
    pub doc: &'static str,
    /// Its own properties (the common ones are in [`COMMON`]).
    pub properties: &'static [Property],
    /// Output names and what they hold.
    pub outputs: &'static [(&'static str, &'static str)],
}

impl TaskType {
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

const fn prop(name: &'static str, kind: Kind, doc: &'static str) -> Property {
    Property { name, kind, required: false, default: None, doc, example: None }
}

const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Property {
    Property { name, kind, required: true, default: None, doc, example: None }
}

const fn def(name: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> Property {
    Property { name, kind, required: false, default: Some(default), doc, example: None }
}

const fn ex(mut p: Property, example: &'static str) -> Property {
    p.example = Some(example);
    p
}

use Kind::*;

const RETRY: &[Property] = &[
    req("type", Enum { values: &["constant", "exponential", "random"] }, "How the wait between attempts grows."),
    prop("maxAttempt", Integer, "The most attempts, the first one included."),
    prop("maxAttempts", Integer, "Same as maxAttempt."),
    prop("interval", Duration, "The wait between attempts (constant), or the first wait (exponential)."),
    prop("minInterval", Duration, "The shortest wait (random)."),
    prop("maxInterval", Duration, "The longest wait (exponential, random)."),
    prop("delayFactor", Number, "The factor each wait grows by (exponential); 2 when unset."),
    prop("maxDuration", Duration, "Stop retrying once this much time has passed since the first attempt."),
    def("warningOnRetry", Boolean, "false", "End the execution WARNING when the task succeeded only after a retry."),
    prop("behavior", Enum { values: &["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] }, "Retry the task run in place (the only behavior Mortar supports)."),
];

/// The properties every task has.
pub const COMMON: &[Property] = &[
    ex(req("id", String, "The task's id, unique in the flow: letters, digits, _ and -."), "my_task"),
    ex(req("type", String, "The task type, Kestra's full name or its short alias."), "io.kestra.plugin.core.log.Log"),
    prop("description", String, "What the task is for."),
    ex(prop("timeout", Duration, "The longest a task run may take; it is cancelled after."), "PT30M"),
    prop("retry", Object { properties: RETRY }, "Retry a failed task run."),
    def("allowFailure", Boolean, "false", "A failure of this task ends the execution WARNING instead of FAILED."),
    prop("runIf", Any, "Run the task only when this expression is true."),
    def("disabled", Boolean, "false", "Skip the task."),
    prop("logLevel", Enum { values: &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] }, "The lowest level of the task's log lines that is kept."),
    prop("workerGroup", Map, "Accepted for Kestra compatibility; ignored."),
];

const AUTH: &[Property] = &[
    prop("token", String, "A personal access token; use secret('...')."),
    prop("clientId", String, "The service principal's client id, for OAuth machine-to-machine."),
    prop("clientSecret", String, "The service principal's secret; use secret('...')."),
    prop("authType", String, "Accepted for Kestra compatibility."),
    prop("username", String, "Accepted for Kestra compatibility."),
    prop("password", String, "Accepted for Kestra compatibility."),
    prop("azureClientId", String, "Accepted for Kestra compatibility."),
    prop("azureClientSecret", String, "Accepted for Kestra compatibility."),
    prop("azureTenantId", String, "Accepted for Kestra compatibility."),
    prop("googleCredentials", String, "Accepted for Kestra compatibility."),
    prop("googleServiceAccount", String, "Accepted for Kestra compatibility."),
];

macro_rules! databricks {
    ($($p:expr),* $(,)?) => {
        &[
            ex(prop("host", BaseUrl, "The workspace URL, scheme://host[:port] and nothing after; the server's default connection when unset. A task that names its own host brings its own `authentication`."), "https://adb-123.4.azuredatabricks.net"),
            prop("authentication", Object { properties: AUTH }, "How to sign in; the default connection's credentials when unset."),
            prop("accountId", String, "Accepted for Kestra compatibility."),
            prop("configFile", String, "Accepted for Kestra compatibility."),
            $($p),*
        ]
    };
}

const RUN_TASK: &[Property] = &[
    req("taskKey", String, "The task's key, unique in the run."),
    prop("existingClusterId", String, "The cluster to run on."),
    prop("newCluster", Map, "A cluster to create for this task (Databricks' new_cluster, camelCase)."),
    prop("jobClusterKey", String, "A job cluster of the job (CreateJob)."),
    prop("timeoutSeconds", Integer, "Databricks' own timeout of the task."),
    prop("notebookTask", Map, "notebookPath, baseParameters, source."),
    prop("sparkPythonTask", Map, "pythonFile, parameters, sparkPythonTaskSource."),
    prop("sparkJarTask", Map, "mainClassName, jarUri, parameters."),
    prop("sparkSubmitTask", Map, "parameters."),
    prop("pythonWheelTask", Map, "packageName, entryPoint, parameters, namedParameters."),
    prop("pipelineTask", Map, "pipelineId, fullRefresh."),
    prop("runJobTask", Map, "jobId, jobParameters."),
    prop("sqlTask", Map, "warehouseId, query, file, parameters."),
    prop("dbtTask", Map, "commands, schema, warehouseId."),
    prop("conditionTask", Map, "op, left, right."),
    prop("dependsOn", StringList, "The task keys this task waits for."),
    prop("libraries", Any, "Libraries to install on the cluster."),
    prop("description", String, "What the task is for."),
    prop("runIf", String, "Databricks' run_if (ALL_SUCCESS, ...)."),
];

const FETCH: Kind = Enum { values: &["FETCH_ONE", "FETCH", "STORE", "NONE"] };
/// Kestra's KVType names (the runtime's `kv::KvType` reads them).
pub const KV_TYPE_NAMES: &[&str] = &["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"];
const KV_TYPES: Kind = Enum { values: KV_TYPE_NAMES };
const LEVELS: Kind = Enum { values: &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] };

/// Every flowable's own `errors` branch (Kestra's FlowableTask).
const ERRORS: Property = prop("errors", Tasks, "Tasks run when a task inside fails; the flowable still ends FAILED.");
/// Every flowable's own `finally` branch.
const FINALLY: Property = prop("finally", Tasks, "Tasks run after the tasks inside (and `errors`), whatever their outcome, unless killed.");

/// Every type Mortar knows.
pub const TYPES: &[TaskType] = &[
    // Core tasks.
    TaskType {
        name: "io.kestra.plugin.core.log.Log",
        alias: "log.Log",
        category: Category::Task,
        doc: "Writes a message (or a list of messages) to the execution's logs.",
        properties: &[
            ex(req("message", Any, "The message, or a list of messages; expressions are rendered."), "Hello, {{ inputs.name }}!"),
            def("level", LEVELS, "\"INFO\"", "The log level."),
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.debug.Return",
        alias: "debug.Return",
        category: Category::Task,
        doc: "Returns a rendered value as its output `value`.",
        properties: &[ex(prop("format", Any, "The value to return; expressions are rendered."), "{{ inputs.name | upper }}")],
        outputs: &[("value", "The rendered format.")],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Sleep",
        alias: "flow.Sleep",
        category: Category::Task,
        doc: "Waits for a duration; a kill stops the wait at once.",
        properties: &[ex(req("duration", Duration, "How long to wait."), "PT10S")],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.Fail",
        alias: "execution.Fail",
        category: Category::Task,
        doc: "Fails the execution, or only when `condition` is true.",
        properties: &[
            def("errorMessage", String, "\"Flow failure\"", "The message the task fails with."),
            prop("condition", Any, "Fail only when this expression is true."),
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.Set",
        alias: "kv.Set",
        category: Category::Task,
        doc: "Sets a key of the namespace's KV store, read back with `kv('key')` or kv.Get.",
        properties: &[
            ex(req("key", String, "The key: letters, digits, `.`, `_` and `-`."), "last_run"),
            ex(req("value", Any, "The value; a lone expression keeps its type."), "{{ execution.startDate }}"),
            def("namespace", String, "\"{{ flow.namespace }}\"", "The namespace whose store it goes in."),
            def("overwrite", Boolean, "true", "Replace an existing value; false fails instead."),
            prop("ttl", Duration, "After how long the key expires."),
            prop("kvType", KV_TYPES, "The value's type; text is converted to it (a number, JSON...)."),
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.Get",
        alias: "kv.Get",
        category: Category::Task,
        doc: "Reads a key of the namespace's KV store into the output `value`.",
        properties: &[
            ex(req("key", String, "The key."), "last_run"),
            def("namespace", String, "\"{{ flow.namespace }}\"", "The namespace whose store it reads."),
            def("errorOnMissing", Boolean, "false", "Fail when the key is missing; otherwise the value is null."),
        ],
        outputs: &[("value", "The value, with the type it was set with; null when missing.")],
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.Delete",
        alias: "kv.Delete",
        category: Category::Task,
        doc: "Deletes a key of the namespace's KV store.",
        properties: &[
            ex(req("key", String, "The key."), "last_run"),
            def("namespace", String, "\"{{ flow.namespace }}\"", "The namespace whose store it deletes from."),
            def("errorOnMissing", Boolean, "false", "Fail when the key is missing."),
        ],
        outputs: &[("deleted", "Whether the key was there.")],
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.GetKeys",
        alias: "kv.GetKeys",
        category: Category::Task,
        doc: "Lists the keys of the namespace's KV store, those with a prefix if given.",
        properties: &[
            prop("prefix", String, "Only keys that start with this."),
            def("namespace", String, "\"{{ flow.namespace }}\"", "The namespace whose keys it lists."),
        ],
        outputs: &[("keys", "The keys, sorted.")],
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.PurgeKV",
        alias: "kv.PurgeKV",
        category: Category::Task,
        doc: "Deletes keys of the KV store across namespaces: by default every expired key of every namespace.",
        properties: &[
            prop("namespaces", StringList, "Only these namespaces (and their children, see includeChildNamespaces)."),
            prop("namespacePattern", String, "Only namespaces that match this glob, such as company.*; not with namespaces."),
            def("includeChildNamespaces", Boolean, "true", "With namespaces, also their child namespaces."),
            prop("keyPattern", String, "Only keys that match this glob, such as AI_*."),
            prop("expiredOnly", Boolean, "Only expired keys (default true); deprecated in Kestra for behavior."),
            prop("behavior", Map, "Kestra's purge behavior: {type: key, expiredOnly: true}."),
        ],
        outputs: &[("size", "How many keys were deleted.")],
    },
    // Flowables.
    TaskType {
        name: "io.kestra.plugin.core.flow.Sequential",
        alias: "flow.Sequential",
        category: Category::Flowable,
        doc: "Runs its tasks one after the other.",
        properties: &[req("tasks", Tasks, "The tasks to run in order."), ERRORS, FINALLY],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.WorkingDirectory",
        alias: "flow.WorkingDirectory",
        category: Category::Flowable,
        doc: "Runs its tasks one after the other in one directory of their own, `{{ workingDir }}`: files one task writes there the next reads. The directory is removed at the end.",
        properties: &[
            req("tasks", Tasks, "The tasks to run in the directory, in order; flowable tasks are not allowed."),
            prop("inputFiles", Any, "Files to create first: a map of relative path to content (text, or an internal storage URI whose file is copied), or that map as JSON."),
            prop("outputFiles", StringList, "Glob patterns, relative to the directory, of files to keep in internal storage at the end; their URIs are the output outputFiles."),
            prop("namespaceFiles", Map, "Kestra's namespace files to copy in (enabled, include, exclude); Mortar has no namespace files yet, so nothing is copied."),
            prop("cache", Map, "Kestra's cache of files between executions (patterns, ttl); accepted, not kept by Mortar yet."),
            ERRORS,
            FINALLY,
        ],
        outputs: &[("outputFiles", "The internal storage URI of each file outputFiles matched, by its path in the directory.")],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Parallel",
        alias: "flow.Parallel",
        category: Category::Flowable,
        doc: "Runs its tasks at the same time.",
        properties: &[
            req("tasks", Tasks, "The tasks to run in parallel."),
            def("concurrencyLimit", Integer, "0", "The most tasks running at once; 0 means no limit."),
            prop("concurrent", Integer, "The older name of concurrencyLimit."),
            ERRORS,
            FINALLY,
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Dag",
        alias: "flow.Dag",
        category: Category::Flowable,
        doc: "Runs tasks as soon as the tasks they depend on have succeeded.",
        properties: &[
            req("tasks", DagTasks, "The tasks, each `- task: {...}` with an optional `dependsOn: [ids]`."),
            def("concurrencyLimit", Integer, "0", "The most tasks running at once; 0 means no limit."),
            ERRORS,
            FINALLY,
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.If",
        alias: "flow.If",
        category: Category::Flowable,
        doc: "Runs `then` when the condition is true, else `else`.",
        properties: &[
            ex(req("condition", Any, "An expression; true, a non-zero number or a non-empty string runs `then`."), "{{ inputs.full }}"),
            req("then", Tasks, "The tasks run when the condition is true."),
            prop("else", Tasks, "The tasks run when the condition is false."),
            ERRORS,
            FINALLY,
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Switch",
        alias: "flow.Switch",
        category: Category::Flowable,
        doc: "Runs the tasks of the case that matches the value.",
        properties: &[
            ex(req("value", Any, "The value to match against the case keys."), "{{ inputs.mode }}"),
            prop("cases", TaskCases, "Tasks for each value."),
            prop("defaults", Tasks, "The tasks run when no case matches."),
            ERRORS,
            FINALLY,
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.ForEach",
        alias: "flow.ForEach",
        category: Category::Flowable,
        doc: "Runs its tasks once for each value; `{{ taskrun.value }}` is the current one.",
        properties: &[
            ex(req("values", Any, "A list, or an expression (or JSON text) that gives one."), "[\"a\", \"b\"]"),
            def("concurrencyLimit", Integer, "1", "How many values run at once; 0 means all."),
            req("tasks", Tasks, "The tasks to run for each value."),
            ERRORS,
            FINALLY,
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Subflow",
        alias: "flow.Subflow",
        category: Category::Task,
        doc: "Starts an execution of another flow.",
        properties: &[
            req("namespace", String, "The other flow's namespace."),
            req("flowId", String, "The other flow's id."),
            prop("inputs", Map, "The inputs of the other flow."),
            prop("labels", Any, "Labels of the new execution."),
            def("wait", Boolean, "true", "Wait for the other execution to end."),
            def("transmitFailed", Boolean, "true", "Fail when the other execution fails (with wait)."),
            prop("revision", Integer, "A revision of the other flow; the latest when unset."),
        ],
        outputs: &[("executionId", "The id of the other execution."), ("state", "Its final state."), ("outputs", "Its outputs.")],
    },
    // Databricks.
    TaskType {
        name: "io.kestra.plugin.databricks.cluster.CreateCluster",
        alias: "databricks.cluster.CreateCluster",
        category: Category::Task,
        doc: "Creates a cluster and waits until it runs.",
        properties: databricks![
            ex(req("clusterName", String, "The cluster's name."), "mortar-{{ execution.id }}"),
            ex(req("sparkVersion", String, "The Databricks runtime."), "15.4.x-scala2.12"),
            ex(prop("nodeTypeId", String, "The instance type."), "i3.xlarge"),
            prop("driverNodeTypeId", String, "The driver's instance type; nodeTypeId when unset."),
            prop("numWorkers", Integer, "A fixed number of workers."),
            prop("minWorkers", Integer, "With maxWorkers: autoscaling."),
            prop("maxWorkers", Integer, "With minWorkers: autoscaling."),
            prop("autoscale", Map, "minWorkers and maxWorkers, as one mapping."),
            prop("autoTerminationMinutes", Integer, "Terminate the cluster after this many idle minutes."),
            prop("sparkConf", Map, "Spark configuration."),
            prop("sparkEnvVars", Map, "Environment variables."),
            prop("customTags", Map, "Tags."),
            prop("policyId", String, "A cluster policy."),
            prop("instancePoolId", String, "An instance pool."),
            prop("dataSecurityMode", String, "Unity Catalog access mode."),
            prop("singleUserName", String, "The user of a single-user cluster."),
            prop("runtimeEngine", Enum { values: &["STANDARD", "PHOTON"] }, "The runtime engine."),
            prop("initScripts", Any, "Init scripts."),
        ],
        outputs: &[("clusterId", "The new cluster's id."), ("clusterURI", "Its page in the workspace."), ("state", "Its state.")],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.cluster.DeleteCluster",
        alias: "databricks.cluster.DeleteCluster",
        category: Category::Task,
        doc: "Terminates a cluster (or deletes it permanently).",
        properties: databricks![
            ex(req("clusterId", String, "The cluster to delete."), "{{ outputs.create_cluster.clusterId }}"),
            def("permanent", Boolean, "false", "Delete the cluster permanently rather than terminate it."),
            def("wait", Boolean, "true", "Wait until the cluster is terminated."),
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.dbfs.Upload",
        alias: "databricks.dbfs.Upload",
        category: Category::Task,
        doc: "Uploads a file of internal storage to DBFS or a Unity Catalog volume (/Volumes/...).",
        properties: databricks![
            ex(req("from", String, "The file, a storage:// URI (a FILE input, an output)."), "{{ inputs.data }}"),
            ex(req("to", String, "The DBFS path or /Volumes/... path."), "/landing/data.csv"),
            def("overwrite", Boolean, "true", "Replace an existing file."),
        ],
        outputs: &[("uri", "Where the file is now."), ("size", "Its size in bytes.")],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.dbfs.Download",
        alias: "databricks.dbfs.Download",
        category: Category::Task,
        doc: "Downloads a file of DBFS or a volume into internal storage.",
        properties: databricks![ex(req("from", String, "The DBFS path or /Volumes/... path."), "/landing/data.csv")],
        outputs: &[("uri", "The storage:// URI of the file."), ("size", "Its size in bytes.")],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.dbfs.WaitForFile",
        alias: "databricks.dbfs.WaitForFile",
        category: Category::Task,
        doc: "Waits until a file exists on DBFS or in a volume.",
        properties: databricks![ex(req("path", String, "The DBFS path or /Volumes/... path."), "/landing/ready.flag")],
        outputs: &[("size", "The file's size in bytes.")],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.sql.Query",
        alias: "databricks.sql.Query",
        category: Category::Task,
        doc: "Runs a SQL statement on a SQL warehouse (the default warehouse when none is named).",
        properties: databricks![
            ex(req("sql", String, "The statement."), "SELECT 1"),
            prop("httpPath", String, "The warehouse as /sql/1.0/warehouses/<id>."),
            prop("warehouseId", String, "The warehouse's id."),
            prop("catalog", String, "The default catalog."),
            prop("schema", String, "The default schema."),
            prop("parameters", Map, "Named parameters (:name in the statement)."),
            def("fetchType", FETCH, "\"STORE\"", "FETCH_ONE: the first row as `row`; FETCH: every row as `rows`; STORE: a file as `uri`; NONE."),
            prop("accessToken", String, "Kestra's token property; same as authentication.token."),
            prop("properties", Map, "Accepted for Kestra compatibility."),
            prop("timeZoneId", String, "Accepted for Kestra compatibility."),
        ],
        outputs: &[("row", "The first row (FETCH_ONE)."), ("rows", "Every row (FETCH)."), ("uri", "The rows as a file (STORE)."), ("size", "The number of rows.")],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.sql.StartWarehouse",
        alias: "databricks.sql.StartWarehouse",
        category: Category::Task,
        doc: "Starts a SQL warehouse and waits until it runs.",
        properties: databricks![
            prop("warehouseId", String, "The warehouse's id."),
            prop("httpPath", String, "The warehouse as /sql/1.0/warehouses/<id>."),
            def("wait", Boolean, "true", "Wait until the warehouse runs."),
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.sql.StopWarehouse",
        alias: "databricks.sql.StopWarehouse",
        category: Category::Task,
        doc: "Stops a SQL warehouse.",
        properties: databricks![
            prop("warehouseId", String, "The warehouse's id."),
            prop("httpPath", String, "The warehouse as /sql/1.0/warehouses/<id>."),
            def("wait", Boolean, "true", "Wait until the warehouse is stopped."),
        ],
        outputs: &[],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.job.SubmitRun",
        alias: "databricks.job.SubmitRun",
        category: Category::Task,
        doc: "Submits a one-time run (jobs/runs/submit) and, with waitForCompletion, waits for it.",
        properties: databricks![
            prop("runName", String, "The run's name."),
            req("runTasks", ObjectList { properties: RUN_TASK }, "The run's tasks."),
            ex(prop("waitForCompletion", Duration, "Wait up to this long for the run to end."), "PT1H"),
        ],
        outputs: &[("runId", "The run's id."), ("runURI", "Its page."), ("state", "Its final state."), ("outputs", "The tasks' outputs.")],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.job.CreateJob",
        alias: "databricks.job.CreateJob",
        category: Category::Task,
        doc: "Creates a job, runs it now (unless runNow is false) and waits like SubmitRun.",
        properties: databricks![
            prop("jobName", String, "The job's name; the task id when unset."),
            req("jobTasks", ObjectList { properties: RUN_TASK }, "The job's tasks."),
            prop("jobClusters", Any, "Job clusters the tasks share."),
            prop("tags", Map, "Tags."),
            prop("maxConcurrentRuns", Integer, "The most runs at once."),
            prop("timeoutSeconds", Integer, "Databricks' timeout of each run."),
            def("runNow", Boolean, "true", "Run the job once created."),
            prop("waitForCompletion", Duration, "Wait up to this long for the run to end."),
        ],
        outputs: &[("jobId", "The job's id."), ("jobURI", "Its page."), ("runId", "The run's id.")],
    },
    TaskType {
        name: "io.kestra.plugin.databricks.job.RunNow",
        alias: "databricks.job.RunNow",
        category: Category::Task,
        doc: "Runs an existing job (by id or by name) and, with waitForCompletion, waits for it.",
        properties: databricks![
            prop("jobId", Any, "The job's id."),
            prop("jobName", String, "The job's name, when jobId is unset."),
            prop("jobParameters", Map, "Job parameters."),
            prop("notebookParams", Map, "Notebook parameters."),
            prop("pythonParams", StringList, "Python parameters."),
            prop("jarParams", StringList, "JAR parameters."),
            prop("sqlParams", Map, "SQL parameters."),
            prop("waitForCompletion", Duration, "Wait up to this long for the run to end."),
        ],
        outputs: &[("runId", "The run's id."), ("runURI", "Its page."), ("state", "Its final state.")],
    },
    // Triggers.
    TaskType {
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
            prop("conditions", Any, "Accepted for Kestra compatibility."),
            prop("withSeconds", Boolean, "The cron expression has a seconds field first."),
            prop("stopAfter", Any, "Accepted for Kestra compatibility."),
        ],
        outputs: &[("date", "The scheduled time."), ("next", "The next one."), ("previous", "The previous one.")],
    },
    TaskType {
        name: "io.kestra.plugin.core.trigger.Webhook",
        alias: "trigger.Webhook",
        category: Category::Trigger,
        doc: "Starts an execution on a request to /api/v1/executions/webhook/{namespace}/{flowId}/{key}.",
        properties: &[req("key", String, "The secret part of the webhook URL."), prop("inputs", Map, "Inputs of the executions it starts.")],
        outputs: &[("body", "The request's body."), ("headers", "Its headers."), ("parameters", "Its query parameters.")],
    },
    TaskType {
        name: "io.kestra.plugin.core.trigger.Flow",
        alias: "trigger.Flow",
        category: Category::Trigger,
        doc: "Starts an execution when another flow's execution ends.",
        properties: &[
            prop("conditions", Any, "Which executions start this flow."),
            prop("preconditions", Any, "Which executions start this flow (Kestra 0.19+)."),
            prop("inputs", Map, "Inputs of the executions it starts."),
            prop("states", StringList, "The end states that trigger."),
        ],
        outputs: &[("executionId", "The execution that ended."), ("namespace", "Its namespace."), ("flowId", "Its flow."), ("state", "Its state.")],
    },
];

/// The properties every trigger has.
pub const TRIGGER_COMMON: &[Property] = &[
    req("id", String, "The trigger's id, unique in the flow."),
    req("type", String, "The trigger type."),
    prop("description", String, "What the trigger is for."),
    def("disabled", Boolean, "false", "Turn the trigger off."),
];

/// Every known type, for completion and docs.
pub fn task_types() -> &'static [TaskType] {
    TYPES
}

/// Finds a type by full name or alias. `core.log.Log` is accepted too.
pub fn lookup(name: &str) -> Option<&'static TaskType> {
    let short = name.strip_prefix("io.kestra.plugin.").unwrap_or(name);
    let short = short.strip_prefix("core.").unwrap_or(short);
    TYPES.iter().find(|t| t.name == name || t.alias == short)
}

/// The reference of every type in Markdown, from the same declarations.
pub fn docs_markdown() -> std::string::String {
    let mut out = std::string::String::from("# Task and trigger types\n");
    for t in TYPES {
        out.push_str(&format!("\n## {}\n\n`{}` (alias `{}`)\n\n{}\n\n| property | type | required | default | description |\n|---|---|---|---|---|\n", t.alias, t.name, t.alias, t.doc));
        for p in t.properties {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                p.name,
                p.kind.describe().replace('|', "\\|"),
                if p.required { "yes" } else { "no" },
                p.default.map(|d| format!("`{d}`")).unwrap_or_default(),
                p.doc
            ));
        }
        if !t.outputs.is_empty() {
            out.push_str("\nOutputs: ");
            out.push_str(&t.outputs.iter().map(|(n, d)| format!("`{n}` ({})", d.trim_end_matches('.'))).collect::<Vec<_>>().join(", "));
            out.push('\n');
        }
    }
    out
}

/// The closest names to `wanted` among `names`, best first.
pub fn closest<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted_lower = wanted.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = names
        .into_iter()
        .map(|name| {
            let lower = name.to_ascii_lowercase();
            let mut score = strsim::jaro_winkler(&wanted_lower, &lower);
            // The last segment of a type name is what people misspell.
            if let (Some(a), Some(b)) = (wanted_lower.rsplit('.').next(), lower.rsplit('.').next()) {
                score = score.max(strsim::jaro_winkler(a, b) - 0.05);
            }
            (score, name)
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut seen = Vec::new();
    scored.retain(|(_, name)| if seen.contains(name) { false } else { seen.push(*name); true });
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_and_aliases_find_the_same_type() {
        for t in TYPES {
            assert_eq!(lookup(t.name).map(|x| x.name), Some(t.name));
            assert_eq!(lookup(t.alias).map(|x| x.name), Some(t.name));
            let mut names: Vec<_> = t.properties.iter().map(|p| p.name).chain(COMMON.iter().map(|p| p.name)).collect();
            names.sort();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{} declares a property twice", t.name);
        }
        assert_eq!(lookup("core.log.Log").map(|t| t.alias), Some("log.Log"));
        assert!(lookup("log.Nope").is_none());
    }

    #[test]
    fn the_docs_list_every_type_and_property() {
        let docs = docs_markdown();
        for t in TYPES {
            assert!(docs.contains(&format!("## {}", t.alias)), "{}", t.alias);
        }
        assert!(docs.contains("| `clusterName` | a string | yes |"), "{docs}");
    }

    #[test]
    fn closest_names_come_first() {
        assert_eq!(closest("mesage", ["message", "level"]).first(), Some(&"message"));
        assert_eq!(closest("log.Logg", TYPES.iter().map(|t| t.alias)).first(), Some(&"log.Log"));
    }
}
