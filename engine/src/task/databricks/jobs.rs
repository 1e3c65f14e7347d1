//! `job.SubmitRun`: a one-time run of one or more tasks, submitted with an
//! idempotency token (the task run's id, so a retry or a restart never makes
//! a second run), waited for, and failed with the run's own message.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, api, def, ex, prop, req, runner};

use super::databricks;
use crate::flow::registry::Property;

/// A task of a run or job (Databricks' tasks[], camelCase).
const RUN_TASK: &[Property] = &[
    req("taskKey", String, "The task's key, unique in the run."),
    prop("existingClusterId", String, "The cluster to run on."),
    prop(
        "newCluster",
        Map,
        "A cluster to create for this task (Databricks' new_cluster, camelCase).",
    ),
    prop(
        "jobClusterKey",
        String,
        "A job cluster of the job (CreateJob).",
    ),
    prop(
        "timeoutSeconds",
        Integer,
        "Databricks' own timeout of the task.",
    ),
    prop("notebookTask", Map, "notebookPath, baseParameters, source."),
    prop(
        "sparkPythonTask",
        Map,
        "pythonFile, parameters, sparkPythonTaskSource.",
    ),
    prop("sparkJarTask", Map, "mainClassName, jarUri, parameters."),
    prop("sparkSubmitTask", Map, "parameters."),
    prop(
        "pythonWheelTask",
        Map,
        "packageName, entryPoint, parameters, namedParameters.",
    ),
    prop("pipelineTask", Map, "pipelineId, fullRefresh."),
    prop("runJobTask", Map, "jobId, jobParameters."),
    prop("sqlTask", Map, "warehouseId, query, file, parameters."),
    prop("dbtTask", Map, "commands, schema, warehouseId."),
    prop("conditionTask", Map, "op, left, right."),
    prop(
        "dependsOn",
        StringList,
        "The task keys this task waits for.",
    ),
    prop("libraries", Any, "Libraries to install on the cluster."),
    prop("description", String, "What the task is for."),
    prop("runIf", String, "Databricks' run_if (ALL_SUCCESS, ...)."),
];

pub const SUBMIT_RUN: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.job.SubmitRun",
    alias: "databricks.job.SubmitRun",
    category: Category::Task,
    doc: "Submits a one-time run (jobs/runs/submit) and, with waitForCompletion, waits for it.",
    properties: databricks![
        prop("runName", String, "The run's name."),
        req(
            "runTasks",
            ObjectList {
                properties: RUN_TASK
            },
            "The run's tasks."
        ),
        ex(
            prop(
                "waitForCompletion",
                Duration,
                "Wait up to this long for the run to end."
            ),
            "PT1H"
        ),
    ],
    outputs: &[
        ("runId", "The run's id."),
        ("runURI", "Its page."),
        ("state", "Its final state."),
        ("outputs", "Each task's output, by task key: runId, state, result (a notebook's), logs, error, errorTrace, sqlOutput, dbtOutput (its artifacts' link), runJobOutput."),
        ("lifeCycleState", "The run's life cycle state (TERMINATED, SKIPPED, INTERNAL_ERROR…)."),
        ("resultState", "Its result (SUCCESS, FAILED, TIMEDOUT, CANCELED…), once it ended."),
        ("stateMessage", "Its state's message."),
        ("startTime", "When it started (ISO-8601)."),
        ("endTime", "When it ended (ISO-8601)."),
        ("duration", "How long it ran (ISO-8601)."),
    ],
    run: runner!(|env| run::SubmitRun(env.databricks.clone())),
    check: None,
    aliases: &[],
};

pub const CREATE_JOB: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.job.CreateJob",
    alias: "databricks.job.CreateJob",
    category: Category::Task,
    doc: "Creates a job, runs it now (unless runNow is false) and waits like SubmitRun.",
    properties: databricks![
        prop("jobName", String, "The job's name; the task id when unset."),
        req(
            "jobTasks",
            ObjectList {
                properties: RUN_TASK
            },
            "The job's tasks."
        ),
        prop("jobClusters", Any, "Job clusters the tasks share."),
        prop("tags", Map, "Tags."),
        prop("maxConcurrentRuns", Integer, "The most runs at once."),
        prop(
            "timeoutSeconds",
            Integer,
            "Databricks' timeout of each run."
        ),
        def("runNow", Boolean, "true", "Run the job once created."),
        prop(
            "waitForCompletion",
            Duration,
            "Wait up to this long for the run to end."
        ),
    ],
    outputs: &[
        ("jobId", "The job's id."),
        ("jobURI", "Its page."),
        ("runId", "The run's id."),
        ("runURI", "Its page."),
        ("state", "Its final state."),
        ("outputs", "Each task's output, by task key, as SubmitRun's."),
        ("lifeCycleState", "The run's life cycle state (TERMINATED, SKIPPED, INTERNAL_ERROR…)."),
        ("resultState", "Its result (SUCCESS, FAILED, TIMEDOUT, CANCELED…), once it ended."),
        ("stateMessage", "Its state's message."),
        ("startTime", "When it started (ISO-8601)."),
        ("endTime", "When it ended (ISO-8601)."),
        ("duration", "How long it ran (ISO-8601)."),
    ],
    run: runner!(|env| run::CreateJob(env.databricks.clone())),
    check: None,
    aliases: &[],
};

pub const RUN_NOW: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.job.RunNow",
    alias: "databricks.job.RunNow",
    category: Category::Task,
    doc: "Runs an existing job (by id or by name) and, with waitForCompletion, waits for it.",
    properties: databricks![
        prop("jobId", Any, "The job's id."),
        prop("jobName", String, "The job's name, when jobId is unset."),
        api(
            prop("jobParameters", Map, "Job parameters."),
            "job_parameters"
        ),
        api(
            prop("notebookParams", Map, "Notebook parameters."),
            "notebook_params"
        ),
        api(
            prop("pythonParams", StringList, "Python parameters."),
            "python_params"
        ),
        api(
            prop("jarParams", StringList, "JAR parameters."),
            "jar_params"
        ),
        api(prop("sqlParams", Map, "SQL parameters."), "sql_params"),
        prop(
            "waitForCompletion",
            Duration,
            "Wait up to this long for the run to end."
        ),
    ],
    outputs: &[
        ("runId", "The run's id."),
        ("runURI", "Its page."),
        ("state", "Its final state."),
        ("outputs", "Each task's output, by task key, as SubmitRun's."),
        ("lifeCycleState", "The run's life cycle state (TERMINATED, SKIPPED, INTERNAL_ERROR…)."),
        ("resultState", "Its result (SUCCESS, FAILED, TIMEDOUT, CANCELED…), once it ended."),
        ("stateMessage", "Its state's message."),
        ("startTime", "When it started (ISO-8601)."),
        ("endTime", "When it ended (ISO-8601)."),
        ("duration", "How long it ran (ISO-8601)."),
    ],
    run: runner!(|env| run::RunNow(env.databricks.clone())),
    check: None,
    aliases: &[],
};

/// Not one of Kestra's types: runs a failed run's tasks again, in the same
/// run (the Repair button of a failed SubmitRun, RunNow or CreateJob does
/// this for the run its task made).
pub const REPAIR_RUN: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.job.RepairRun",
    alias: "databricks.job.RepairRun",
    category: Category::Task,
    doc: "Repairs a job run (jobs/runs/repair): once the run has ended, its failed tasks (or those named) run again in the same run, and with waitForCompletion the run is followed to its end; a run that succeeded has nothing to repair.",
    properties: databricks![
        ex(req("runId", Any, "The run to repair."), "{{ outputs.submit.runId }}"),
        prop("rerunTasks", StringList, "The task keys to run again."),
        def("rerunAllFailedTasks", Boolean, "true", "Run every failed task again (when rerunTasks is unset)."),
        def("rerunDependentTasks", Boolean, "true", "Also run again the tasks that depend on those."),
        api(prop("jobParameters", Map, "Job parameters for the repair."), "job_parameters"),
        api(prop("notebookParams", Map, "Notebook parameters for the repair."), "notebook_params"),
        api(prop("pythonParams", StringList, "Python parameters for the repair."), "python_params"),
        api(prop("jarParams", StringList, "JAR parameters for the repair."), "jar_params"),
        api(prop("sqlParams", Map, "SQL parameters for the repair."), "sql_params"),
        ex(prop("waitForCompletion", Duration, "Wait up to this long for the run to end."), "PT1H"),
    ],
    outputs: &[
        ("runId", "The run's id."),
        ("repairId", "This repair's id."),
        ("runURI", "Its page."),
        ("state", "Its final state."),
        ("outputs", "The tasks' outputs."),
    ],
    run: runner!(|env| run::RepairRun(env.databricks.clone())),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;
    use std::time::Instant;

    use futures::future::BoxFuture;
    use serde_json::{Map, Value, json};

    use crate::databricks::DatabricksClient;
    use crate::task::core::parse_duration;
    use crate::task::databricks::run::{Databricks, to_snake, wait_for};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct SubmitRun(pub(super) Arc<Databricks>);

    impl Runner for SubmitRun {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let props = &ctx.properties;
                let run_id = match resume(&client, ctx).await? {
                    Some(id) => id,
                    None => {
                        let tasks = props["runTasks"]
                            .as_array()
                            .filter(|t| !t.is_empty())
                            .ok_or_else(|| ctx.invalid("runTasks is required: one task or more"))?;
                        let tasks: Vec<Value> = tasks.iter().map(submit_task).collect();
                        let mut body = json!({
                            "tasks": tasks,
                            // Databricks returns the same run for the same token:
                            // a crash never submits twice; a new attempt does.
                            "idempotency_token": token(ctx),
                        });
                        if let Some(name) = props["runName"].as_str() {
                            body["run_name"] = json!(name);
                        }
                        let submitted: Value =
                            client.post("/api/2.2/jobs/runs/submit", &body).await?;
                        let id = submitted["run_id"].as_i64().ok_or_else(|| {
                            TaskError::Failed(format!(
                                "runs/submit answered without a run_id: {submitted}"
                            ))
                        })?;
                        ctx.checkpoint(&json!({"run_id": id, "attempt": ctx.attempt})).await?;
                        id
                    }
                };
                let wait = wait_limit(ctx)?;
                let mut outputs = Outputs::new();
                follow_run(&client, ctx, run_id, wait, &mut outputs).await?;
                Ok(outputs)
            })
        }

        fn cancel<'a>(
            &'a self,
            ctx: &'a TaskContext,
            checkpoint: &'a Value,
        ) -> BoxFuture<'a, Result<(), TaskError>> {
            Box::pin(cancel_run(&self.0, ctx, checkpoint))
        }
    }

    fn wait_limit(ctx: &TaskContext) -> Result<Option<std::time::Duration>, TaskError> {
        match ctx.prop("waitForCompletion")?.as_str() {
            Some(text) => {
                Ok(Some(parse_duration(text).map_err(|e| {
                    ctx.invalid(format!("waitForCompletion: {e}"))
                })?))
            }
            None => Ok(None),
        }
    }

    /// The idempotency token of this attempt: the task run's id (a crash
    /// re-sends it and gets the same run), with the attempt after the first
    /// (a retry or a restart is a new run).
    fn token(ctx: &TaskContext) -> String {
        if ctx.attempt <= 1 {
            ctx.task_run_id.to_string()
        } else {
            format!("{}-{}", ctx.task_run_id, ctx.attempt)
        }
    }

    /// The id of a run's latest repair, which the next repair must name.
    fn latest_repair(run: &Value) -> Option<i64> {
        run["repair_history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["type"] == "REPAIR")
            .filter_map(|h| h["id"].as_i64())
            .next_back()
    }

    /// The run this attempt already has: the checkpoint's, when it is this
    /// attempt's (a crash; re-attached), or when a repair was asked for it
    /// (the run's failed tasks run again, in the same run). None: submit.
    async fn resume(client: &DatabricksClient, ctx: &TaskContext) -> Result<Option<i64>, TaskError> {
        let Some(checkpoint) = ctx.checkpoint.as_ref() else {
            return Ok(None);
        };
        let Some(run_id) = checkpoint["run_id"].as_i64() else {
            return Ok(None);
        };
        let same_attempt = checkpoint["attempt"].as_u64().is_none_or(|a| a == u64::from(ctx.attempt));
        if checkpoint["repair"].as_bool() == Some(true) {
            let run: Value = client.get("/api/2.2/jobs/runs/get", &[("run_id", run_id.to_string())]).await?;
            let mut body = json!({"run_id": run_id, "rerun_all_failed_tasks": true, "rerun_dependent_tasks": true});
            if let Some(latest) = latest_repair(&run) {
                body["latest_repair_id"] = json!(latest);
            }
            let repaired: Value = client.post("/api/2.2/jobs/runs/repair", &body).await?;
            let repair_id = repaired["repair_id"].as_i64();
            let mut kept = checkpoint.clone();
            kept["repair"] = json!(false);
            kept["attempt"] = json!(ctx.attempt);
            kept["repair_id"] = json!(repair_id);
            ctx.checkpoint(&kept).await?;
            ctx.info(format!(
                "repairing run {run_id}: its failed tasks run again (repair {})",
                repair_id.map_or_else(|| "?".to_owned(), |r| r.to_string())
            ))
            .await;
            return Ok(Some(run_id));
        }
        if same_attempt {
            ctx.info(format!("re-attaching to run {run_id} submitted before a restart")).await;
            return Ok(Some(run_id));
        }
        Ok(None)
    }

    /// Puts runId and runURI in `outputs`; with `wait`, follows the run to its
    /// end (logging each state), adds its result and each task's output, and
    /// fails with the run's own message unless it succeeded.
    async fn follow_run(
        client: &DatabricksClient,
        ctx: &TaskContext,
        run_id: i64,
        wait: Option<std::time::Duration>,
        outputs: &mut Outputs,
    ) -> Result<(), TaskError> {
        let run: Value = client
            .get("/api/2.2/jobs/runs/get", &[("run_id", run_id.to_string())])
            .await?;
        let url = run["run_page_url"].as_str().unwrap_or_default().to_owned();
        ctx.info(format!("run {run_id}: {url}")).await;
        outputs.insert("runId".into(), json!(run_id));
        outputs.insert("runURI".into(), json!(url));
        let Some(limit) = wait else {
            outputs.insert("state".into(), json!(run["state"]["life_cycle_state"]));
            state_fields(&run, outputs);
            return Ok(());
        };
        let started = Instant::now();
        let last = std::sync::Mutex::new(String::new());
        let run = wait_for(ctx, "the run to end", Some(limit), || {
            let (client, last) = (client.clone(), &last);
            async move {
                let run: Value = client
                    .get("/api/2.2/jobs/runs/get", &[("run_id", run_id.to_string())])
                    .await?;
                let life = run["state"]["life_cycle_state"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                let changed = last
                    .lock()
                    .map(|mut l| std::mem::replace(&mut *l, life.clone()) != life)
                    .unwrap_or(false);
                if changed {
                    ctx.info(format!(
                        "run {run_id} is {life} after {:.1}s",
                        started.elapsed().as_secs_f64()
                    ))
                    .await;
                }
                Ok(
                    matches!(life.as_str(), "TERMINATED" | "SKIPPED" | "INTERNAL_ERROR")
                        .then_some(run),
                )
            }
        })
        .await?;
        let result = run["state"]["result_state"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        outputs.insert("state".into(), json!(result));
        state_fields(&run, outputs);
        let mut per_task = Map::new();
        let mut failures = Vec::new();
        for task in run["tasks"].as_array().into_iter().flatten() {
            let key = task["task_key"].as_str().unwrap_or("").to_owned();
            let Some(task_run) = task["run_id"].as_i64() else {
                continue;
            };
            let output: Value = client
                .get(
                    "/api/2.2/jobs/runs/get-output",
                    &[("run_id", task_run.to_string())],
                )
                .await?;
            let result_state = task["state"]["result_state"].as_str().unwrap_or("");
            if result_state != "SUCCESS" {
                let error = output["error"]
                    .as_str()
                    .or(task["state"]["state_message"].as_str())
                    .unwrap_or(result_state);
                failures.push(format!("{key}: {result_state}: {error}"));
            }
            // Everything runs/get-output gives, by task type: a notebook's
            // result, the logs of a Python or JAR task, an error and its
            // trace, a SQL task's output, a dbt task's artifacts, a run-job
            // task's run.
            let mut entry = json!({
                "runId": task_run,
                "state": result_state,
                "result": output["notebook_output"]["result"],
                "error": output["error"],
                "logs": output["logs"],
            });
            for (field, name) in [
                ("error_trace", "errorTrace"),
                ("logs_truncated", "logsTruncated"),
                ("sql_output", "sqlOutput"),
                ("dbt_output", "dbtOutput"),
                ("run_job_output", "runJobOutput"),
            ] {
                if !output[field].is_null() {
                    entry[name] = output[field].clone();
                }
            }
            if output["notebook_output"]["truncated"].as_bool() == Some(true) {
                entry["resultTruncated"] = json!(true);
            }
            per_task.insert(key, entry);
        }
        outputs.insert("outputs".into(), Value::Object(per_task));
        if result != "SUCCESS" {
            let message = run["state"]["state_message"].as_str().unwrap_or("");
            return Err(TaskError::Failed(format!(
                "run {run_id} ended {result}{}{}",
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                },
                if failures.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", failures.join("; "))
                }
            )));
        }
        Ok(())
    }

    /// Kestra's run state outputs: lifeCycleState, resultState,
    /// stateMessage, startTime, endTime (ISO-8601) and duration (ISO-8601).
    fn state_fields(run: &Value, outputs: &mut Outputs) {
        let state = &run["state"];
        outputs.insert("lifeCycleState".into(), state["life_cycle_state"].clone());
        outputs.insert("resultState".into(), state["result_state"].clone());
        outputs.insert("stateMessage".into(), state["state_message"].clone());
        let instant = |ms: Option<i64>| {
            ms.filter(|m| *m > 0)
                .and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
                .map_or(Value::Null, |t| json!(t.to_string()))
        };
        let (start, end) = (run["start_time"].as_i64(), run["end_time"].as_i64());
        outputs.insert("startTime".into(), instant(start));
        outputs.insert("endTime".into(), instant(end));
        let duration = run["run_duration"].as_i64().or_else(|| Some(end? - start?)).filter(|d| *d >= 0);
        outputs.insert(
            "duration".into(),
            duration.map_or(Value::Null, |d| json!(format!("PT{}.{:03}S", d / 1000, d % 1000))),
        );
    }

    /// Cancels the run in a checkpoint.
    async fn cancel_run(
        databricks: &Databricks,
        ctx: &TaskContext,
        checkpoint: &Value,
    ) -> Result<(), TaskError> {
        let Some(id) = checkpoint["run_id"].as_i64() else {
            return Ok(());
        };
        let client = databricks.client(ctx)?;
        client
            .post::<_, Value>("/api/2.2/jobs/runs/cancel", &json!({"run_id": id}))
            .await?;
        ctx.info(format!("cancelled run {id}")).await;
        Ok(())
    }

    /// `job.CreateJob`: creates a job from Kestra's `jobTasks` and, unless
    /// `runNow: false`, runs it at once and follows the run like SubmitRun.
    pub(super) struct CreateJob(pub(super) Arc<Databricks>);

    impl Runner for CreateJob {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let props = &ctx.properties;
                let checkpoint = ctx.checkpoint.clone().unwrap_or(Value::Null);
                let job_id = match checkpoint["job_id"].as_i64() {
                    Some(id) => id,
                    None => {
                        let tasks = props["jobTasks"]
                            .as_array()
                            .filter(|t| !t.is_empty())
                            .ok_or_else(|| ctx.invalid("jobTasks is required: one task or more"))?;
                        let mut body =
                            json!({"tasks": tasks.iter().map(submit_task).collect::<Vec<_>>()});
                        body["name"] =
                            json!(props["jobName"].as_str().unwrap_or(ctx.task_id.as_str()));
                        for (kestra, databricks) in [
                            ("jobClusters", "job_clusters"),
                            ("tags", "tags"),
                            ("maxConcurrentRuns", "max_concurrent_runs"),
                            ("timeoutSeconds", "timeout_seconds"),
                        ] {
                            if !props[kestra].is_null() {
                                body[databricks] = to_snake(&props[kestra]);
                            }
                        }
                        let created: Value = client.post("/api/2.2/jobs/create", &body).await?;
                        let id = created["job_id"].as_i64().ok_or_else(|| {
                            TaskError::Failed(format!(
                                "jobs/create answered without a job_id: {created}"
                            ))
                        })?;
                        ctx.checkpoint(&json!({"job_id": id})).await?;
                        ctx.info(format!("created job {id}")).await;
                        id
                    }
                };
                let mut outputs = Outputs::new();
                outputs.insert("jobId".into(), json!(job_id));
                outputs.insert(
                    "jobURI".into(),
                    json!(format!("{}/#job/{job_id}", client.host())),
                );
                if props["runNow"].as_bool() == Some(false) {
                    return Ok(outputs);
                }
                let run_id = match resume(&client, ctx).await? {
                    Some(id) => id,
                    None => {
                        let run_id = run_now(&client, ctx, job_id).await?;
                        ctx.checkpoint(&json!({"job_id": job_id, "run_id": run_id, "attempt": ctx.attempt}))
                            .await?;
                        run_id
                    }
                };
                follow_run(&client, ctx, run_id, wait_limit(ctx)?, &mut outputs).await?;
                Ok(outputs)
            })
        }

        fn cancel<'a>(
            &'a self,
            ctx: &'a TaskContext,
            checkpoint: &'a Value,
        ) -> BoxFuture<'a, Result<(), TaskError>> {
            Box::pin(cancel_run(&self.0, ctx, checkpoint))
        }
    }

    /// `job.RunNow`: runs an existing job, by `jobId` or `jobName`.
    pub(super) struct RunNow(pub(super) Arc<Databricks>);

    impl Runner for RunNow {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let run_id = match resume(&client, ctx).await? {
                    Some(id) => id,
                    None => {
                        let job_id = ctx.prop("jobId")?;
                        let job_id = match job_id
                            .as_i64()
                            .or_else(|| job_id.as_str()?.trim().parse().ok())
                        {
                            Some(id) => id,
                            None => {
                                let name = ctx
                                    .prop("jobName")?
                                    .as_str()
                                    .ok_or_else(|| ctx.invalid("jobId or jobName is required"))?;
                                find_job(&client, ctx, name).await?
                            }
                        };
                        let run_id = run_now(&client, ctx, job_id).await?;
                        ctx.checkpoint(&json!({"job_id": job_id, "run_id": run_id, "attempt": ctx.attempt}))
                            .await?;
                        run_id
                    }
                };
                let mut outputs = Outputs::new();
                follow_run(&client, ctx, run_id, wait_limit(ctx)?, &mut outputs).await?;
                Ok(outputs)
            })
        }

        fn cancel<'a>(
            &'a self,
            ctx: &'a TaskContext,
            checkpoint: &'a Value,
        ) -> BoxFuture<'a, Result<(), TaskError>> {
            Box::pin(cancel_run(&self.0, ctx, checkpoint))
        }
    }

    /// `job.RepairRun`.
    pub(super) struct RepairRun(pub(super) Arc<Databricks>);

    impl Runner for RepairRun {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let kept = ctx.checkpoint.clone().filter(|c| c["attempt"].as_u64() == Some(u64::from(ctx.attempt)));
                let (run_id, repair_id) = match kept {
                    Some(c) if c["run_id"].is_i64() => (c["run_id"].as_i64().unwrap_or_default(), c["repair_id"].as_i64()),
                    _ => {
                        let given = ctx.prop("runId")?;
                        let run_id = given
                            .as_i64()
                            .or_else(|| given.as_str()?.trim().parse().ok())
                            .ok_or_else(|| ctx.invalid(format!("runId {given} is not a run id")))?;
                        let mut body = json!({"run_id": run_id});
                        let tasks = ctx.prop("rerunTasks")?.as_array().cloned().unwrap_or_default();
                        if tasks.is_empty() {
                            body["rerun_all_failed_tasks"] = json!(ctx.flag("rerunAllFailedTasks", true)?);
                        } else {
                            body["rerun_tasks"] = json!(tasks);
                        }
                        body["rerun_dependent_tasks"] = json!(ctx.flag("rerunDependentTasks", true)?);
                        // A run still going is waited for: what failed is
                        // known at its end; one that succeeded has nothing to
                        // repair.
                        let run: Value = wait_for(ctx, "the run to end before repairing it", Some(wait_limit(ctx)?.unwrap_or(std::time::Duration::from_secs(3600))), || {
                            let client = client.clone();
                            async move {
                                let run: Value = client.get("/api/2.2/jobs/runs/get", &[("run_id", run_id.to_string())]).await?;
                                let life = run["state"]["life_cycle_state"].as_str().unwrap_or("").to_owned();
                                Ok(matches!(life.as_str(), "TERMINATED" | "SKIPPED" | "INTERNAL_ERROR").then_some(run))
                            }
                        })
                        .await?;
                        if run["state"]["result_state"] == "SUCCESS" {
                            ctx.info(format!("run {run_id} succeeded: nothing to repair")).await;
                            let mut outputs = Outputs::new();
                            outputs.insert("repairId".into(), Value::Null);
                            follow_run(&client, ctx, run_id, wait_limit(ctx)?, &mut outputs).await?;
                            return Ok(outputs);
                        }
                        if let Some(latest) = latest_repair(&run) {
                            body["latest_repair_id"] = json!(latest);
                        }
                        for (kestra, databricks) in super::REPAIR_RUN.properties.iter().filter_map(|p| Some((p.name, p.api?))) {
                            let value = ctx.prop(kestra)?;
                            if !value.is_null() {
                                body[databricks] = value.clone();
                            }
                        }
                        let repaired: Value = client.post("/api/2.2/jobs/runs/repair", &body).await?;
                        let repair_id = repaired["repair_id"].as_i64();
                        ctx.checkpoint(&json!({"run_id": run_id, "repair_id": repair_id, "attempt": ctx.attempt})).await?;
                        ctx.info(format!("repairing run {run_id}")).await;
                        (run_id, repair_id)
                    }
                };
                let mut outputs = Outputs::new();
                outputs.insert("repairId".into(), json!(repair_id));
                follow_run(&client, ctx, run_id, wait_limit(ctx)?, &mut outputs).await?;
                Ok(outputs)
            })
        }

        fn cancel<'a>(
            &'a self,
            ctx: &'a TaskContext,
            checkpoint: &'a Value,
        ) -> BoxFuture<'a, Result<(), TaskError>> {
            Box::pin(cancel_run(&self.0, ctx, checkpoint))
        }
    }

    /// run-now with the task's parameters and the task run's id as token.
    async fn run_now(
        client: &DatabricksClient,
        ctx: &TaskContext,
        job_id: i64,
    ) -> Result<i64, TaskError> {
        let mut body = json!({"job_id": job_id, "idempotency_token": token(ctx)});
        // The parameters its type declares (RunNow's; CreateJob has none),
        // by their field of run-now.
        let declared = ctx.task_type.unwrap_or(&super::RUN_NOW);
        for (kestra, databricks) in declared
            .properties
            .iter()
            .filter_map(|p| Some((p.name, p.api?)))
        {
            let value = ctx.prop(kestra)?;
            if !value.is_null() {
                body[databricks] = value.clone();
            }
        }
        let started: Value = client.post("/api/2.2/jobs/run-now", &body).await?;
        started["run_id"].as_i64().ok_or_else(|| {
            TaskError::Failed(format!("run-now answered without a run_id: {started}"))
        })
    }

    async fn find_job(
        client: &DatabricksClient,
        ctx: &TaskContext,
        name: &str,
    ) -> Result<i64, TaskError> {
        let listed: Value = client
            .get(
                "/api/2.2/jobs/list",
                &[("name", name.to_owned()), ("limit", "100".to_owned())],
            )
            .await?;
        let matches: Vec<i64> = listed["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|job| job["settings"]["name"] == name)
            .filter_map(|job| job["job_id"].as_i64())
            .collect();
        match matches.as_slice() {
            [id] => Ok(*id),
            [] => Err(ctx.invalid(format!("no job is named {name:?}"))),
            many => Err(ctx.invalid(format!("{} jobs are named {name:?}: use jobId", many.len()))),
        }
    }

    /// One of Kestra's `runTasks` as a Databricks `SubmitTask`: camelCase to
    /// snake_case, and `dependsOn: [a]` to `depends_on: [{task_key: a}]`.
    fn submit_task(task: &Value) -> Value {
        let mut converted = to_snake(task);
        // Kestra's settings that are not Databricks' names.
        if let Some(python) = converted.get_mut("spark_python_task").and_then(Value::as_object_mut)
            && let Some(source) = python.remove("spark_python_task_source")
        {
            python.insert("source".into(), source);
        }
        if let Some(sql) = converted.get_mut("sql_task").and_then(Value::as_object_mut)
            && let Some(query) = sql.remove("query_id")
        {
            sql.insert("query".into(), json!({"query_id": query}));
        }
        if let Some(run_job) = converted.get_mut("run_job_task").and_then(Value::as_object_mut)
            && let Some(id) = run_job.get("job_id").and_then(Value::as_str).and_then(|s| s.trim().parse::<i64>().ok())
        {
            run_job.insert("job_id".into(), json!(id));
        }
        for library in converted.get_mut("libraries").and_then(Value::as_array_mut).into_iter().flatten() {
            for kind in ["pypi", "cran"] {
                if let Some(spec) = library.get_mut(kind).and_then(Value::as_object_mut)
                    && let Some(package) = spec.remove("_package")
                {
                    spec.insert("package".into(), package);
                }
            }
        }
        if let Some(depends) = converted
            .get_mut("depends_on")
            .and_then(Value::as_array_mut)
        {
            for entry in depends.iter_mut() {
                if let Value::String(key) = entry {
                    *entry = json!({"task_key": key});
                }
            }
        }
        converted
    }

    #[cfg(test)]
    mod tests {
        use serde_json::json;

        #[test]
        fn kestra_run_tasks_become_submit_tasks() {
            let task = json!({"taskKey": "b", "dependsOn": ["a"], "existingClusterId": "c1",
                              "sparkPythonTask": {"pythonFile": "dbfs:/x.py", "parameters": ["--day", "1"]}});
            assert_eq!(
                super::submit_task(&task),
                json!({"task_key": "b", "depends_on": [{"task_key": "a"}], "existing_cluster_id": "c1",
                       "spark_python_task": {"python_file": "dbfs:/x.py", "parameters": ["--day", "1"]}})
            );
        }
    }
}
