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
        ("outputs", "The tasks' outputs."),
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
    ],
    run: runner!(|env| run::RunNow(env.databricks.clone())),
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
                let run_id = match ctx.checkpoint.as_ref().and_then(|c| c["run_id"].as_i64()) {
                    Some(id) => {
                        ctx.info(format!(
                            "re-attaching to run {id} submitted before a restart"
                        ))
                        .await;
                        id
                    }
                    None => {
                        let tasks = props["runTasks"]
                            .as_array()
                            .filter(|t| !t.is_empty())
                            .ok_or_else(|| ctx.invalid("runTasks is required: one task or more"))?;
                        let tasks: Vec<Value> = tasks.iter().map(submit_task).collect();
                        let mut body = json!({
                            "tasks": tasks,
                            // Databricks returns the same run for the same token:
                            // a retry or a restart never submits twice.
                            "idempotency_token": ctx.task_run_id.as_str(),
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
                        ctx.checkpoint(&json!({"run_id": id})).await?;
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
            per_task.insert(
                key,
                json!({
                    "runId": task_run,
                    "state": result_state,
                    "result": output["notebook_output"]["result"],
                    "error": output["error"],
                    "logs": output["logs"],
                }),
            );
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
                let run_id = match checkpoint["run_id"].as_i64() {
                    Some(id) => id,
                    None => {
                        let run_id = run_now(&client, ctx, job_id).await?;
                        ctx.checkpoint(&json!({"job_id": job_id, "run_id": run_id}))
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
                let run_id = match ctx.checkpoint.as_ref().and_then(|c| c["run_id"].as_i64()) {
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
                        ctx.checkpoint(&json!({"job_id": job_id, "run_id": run_id}))
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

    /// run-now with the task's parameters and the task run's id as token.
    async fn run_now(
        client: &DatabricksClient,
        ctx: &TaskContext,
        job_id: i64,
    ) -> Result<i64, TaskError> {
        let mut body = json!({"job_id": job_id, "idempotency_token": ctx.task_run_id.as_str()});
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
