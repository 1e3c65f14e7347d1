//! The run life cycle: QUEUED -> PENDING -> RUNNING -> TERMINATING ->
//! TERMINATED (or INTERNAL_ERROR / SKIPPED), tasks in dependency order on
//! the scaled clock, each on its cluster, with an outcome that follows from
//! its definition:
//!
//! - a notebook must exist in the workspace (else the service's "Unable to
//!   access the notebook" error); its result is the text of a
//!   `dbutils.notebook.exit("…")` line, or else its parameters as JSON; a
//!   line starting with `raise ` fails it with the rest of the line;
//! - a `spark_python_task` file must exist in DBFS (`dbfs:/…`) or the
//!   workspace (cloud URIs such as `s3://` are trusted); `print("…")` lines
//!   become its logs and `raise …` fails it;
//! - a `sql_task` file runs on the embedded SQL engine;
//! - a `run_job_task` starts the other job and ends as that run ends;
//! - a `for_each_task` runs its nested task once per input, in order;
//! - a `condition_task` compares `left` and `right` (as numbers when both
//!   are), and only the dependants on the branch it took run;
//! - `emulator_fail_once=<message>` fails it the first time only, so a retry
//!   or a repair of the run succeeds;
//! - any non-empty parameter `emulator_fail=<message>` fails the task with that
//!   message and `emulator_sleep=<seconds>` makes it run that much longer
//!   (simulated seconds), for tests of failure, cancel and timeout;
//! - a task's `max_retries` (WAITING_FOR_RETRY between attempts) and
//!   `timeout_seconds` (TIMEDOUT) apply, as does the run's `timeout_seconds`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::clusters::{self, CState};
use crate::jobs::{Run, TaskRun};

const TASK_SECS: f64 = 2.0;
const CLEANUP_SECS: f64 = 0.5;
const POLL_SECS: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    Queued,
    Pending,
    Running,
    Terminating,
    Terminated,
    Skipped,
    InternalError,
    WaitingForRetry,
}

impl Life {
    pub fn api(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Terminating => "TERMINATING",
            Self::Terminated => "TERMINATED",
            Self::Skipped => "SKIPPED",
            Self::InternalError => "INTERNAL_ERROR",
            Self::WaitingForRetry => "WAITING_FOR_RETRY",
        }
    }
    pub fn terminal(self) -> bool {
        matches!(self, Self::Terminated | Self::Skipped | Self::InternalError)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failed,
    TimedOut,
    Canceled,
    MaxConcurrent,
    UpstreamFailed,
    UpstreamCanceled,
    Excluded,
}

impl Outcome {
    fn api(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMEDOUT",
            Self::Canceled => "CANCELED",
            Self::MaxConcurrent => "MAXIMUM_CONCURRENT_RUNS_REACHED",
            Self::UpstreamFailed => "UPSTREAM_FAILED",
            Self::UpstreamCanceled => "UPSTREAM_CANCELED",
            Self::Excluded => "EXCLUDED",
        }
    }
    /// (termination code, type) of the `status` object.
    fn termination(self) -> (&'static str, &'static str) {
        match self {
            Self::Success => ("SUCCESS", "SUCCESS"),
            Self::Failed => ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
            Self::TimedOut => ("CANCELED", "CLIENT_ERROR"),
            Self::Canceled => ("USER_CANCELED", "SUCCESS"),
            Self::MaxConcurrent => ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"),
            Self::UpstreamFailed | Self::UpstreamCanceled | Self::Excluded => {
                ("SKIPPED", "SUCCESS")
            }
        }
    }
}

/// What a task produced, for runs/get-output.
#[derive(Debug, Clone, Default)]
pub(crate) struct Output {
    pub notebook_result: Option<String>,
    pub logs: Option<String>,
    pub error: Option<String>,
    pub error_trace: Option<String>,
    pub sql: Option<Value>,
    pub run_job: Option<Value>,
    /// A condition task's result.
    pub condition: Option<bool>,
    /// A for-each task's iteration counts (total, succeeded).
    pub iterations: Option<(usize, usize)>,
}

/// Starts (or, after a repair, resumes) the driver of a run.
pub(crate) fn drive(state: &Shared, run_id: i64) {
    let st = state.clone();
    state.spawn(async move { driver(&st, run_id).await });
}

/// Asks a run to stop; the driver notices and finishes it as CANCELED.
pub(crate) fn request_cancel(state: &Shared, run_id: i64, token: &CancellationToken) {
    state.runs.update(&run_id, |r| {
        if !r.life.terminal() {
            r.user_cancelled = true;
        }
    });
    token.cancel();
}

fn now(state: &Shared) -> i64 {
    state.clock.now_ms()
}

enum End {
    Done,
    Canceled,
    TimedOut,
}

async fn driver(st: &Shared, run_id: i64) {
    let Some(run) = st.runs.get(&run_id) else {
        return;
    };
    let cancel = run.cancel.clone();
    let queued_at = now(st);
    // Concurrency limit of the job: queue (or skip) while it is full.
    if let (Some(job_id), "JOB_RUN") = (run.job_id, run.run_type) {
        loop {
            let active = st
                .runs
                .filter(|r| {
                    r.job_id == Some(job_id)
                        && r.run_id != run_id
                        && matches!(r.life, Life::Pending | Life::Running | Life::Terminating)
                })
                .len() as i64;
            if active < run.max_concurrent {
                break;
            }
            if !run.queue {
                let t = now(st);
                st.runs.update(&run_id, |r| {
                    r.life = Life::Skipped;
                    r.outcome = Some(Outcome::MaxConcurrent);
                    r.state_message = format!(
                        "Skipping this run because the limit of {} maximum concurrent runs has been reached.",
                        run.max_concurrent
                    );
                    r.end_time = t;
                    for task in &mut r.tasks {
                        task.life = Life::Skipped;
                        task.outcome = Some(Outcome::MaxConcurrent);
                    }
                });
                return;
            }
            st.runs.update(&run_id, |r| {
                r.life = Life::Queued;
                r.state_message =
                    "Queued due to reaching maximum concurrent runs of the job.".into();
            });
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = st.clock.sleep(POLL_SECS) => {}
            }
        }
    }
    let started = now(st);
    st.runs.update(&run_id, |r| {
        if r.life == Life::Queued {
            r.queue_ms = started - queued_at;
            r.state_message = String::new();
            r.life = Life::Pending;
        }
    });
    let timeout = run.timeout_secs;
    let work = async {
        if timeout > 0 {
            tokio::select! {
                _ = execute_tasks(st, run_id) => End::Done,
                _ = st.clock.sleep(timeout as f64) => End::TimedOut,
            }
        } else {
            execute_tasks(st, run_id).await;
            End::Done
        }
    };
    let end = if cancel.is_cancelled() {
        End::Canceled
    } else {
        tokio::select! {
            e = work => e,
            _ = cancel.cancelled() => End::Canceled,
        }
    };
    finish(st, run_id, end).await;
}

/// Runs the tasks that have not run yet, wave by wave in dependency order.
async fn execute_tasks(st: &Shared, run_id: i64) {
    loop {
        let Some(run) = st.runs.get(&run_id) else {
            return;
        };
        let by_key: HashMap<&str, &TaskRun> =
            run.tasks.iter().map(|t| (t.key.as_str(), t)).collect();
        let waiting: Vec<&TaskRun> = run
            .tasks
            .iter()
            .filter(|t| t.life == Life::Pending && t.start_time == 0)
            .collect();
        if waiting.is_empty() {
            return;
        }
        let mut runnable = Vec::new();
        let mut skipped = Vec::new();
        for t in waiting {
            // Dependencies outside this run (run-now `only`) count as met.
            let deps: Vec<&TaskRun> = t
                .depends_on
                .iter()
                .filter_map(|d| by_key.get(d.as_str()).copied())
                .collect();
            if deps.iter().any(|d| !d.life.terminal()) {
                continue;
            }
            let ok = |d: &&TaskRun| d.outcome == Some(Outcome::Success);
            let failed = |d: &&TaskRun| {
                matches!(
                    d.outcome,
                    Some(Outcome::Failed | Outcome::TimedOut | Outcome::UpstreamFailed)
                )
            };
            // A dependency on a condition task's branch ("outcome": "true")
            // holds only when the condition came out that way.
            let branch_taken = t
                .spec
                .get("depends_on")
                .and_then(Value::as_array)
                .is_none_or(|ds| {
                    ds.iter().all(|d| {
                        let want = d.get("outcome").and_then(Value::as_str);
                        let key = d.get("task_key").and_then(Value::as_str).unwrap_or("");
                        match (want, by_key.get(key).and_then(|x| x.output.condition)) {
                            (Some(w), Some(got)) => w == if got { "true" } else { "false" },
                            _ => true,
                        }
                    })
                });
            let run_it = branch_taken
                && (deps.is_empty()
                    || match t.run_if.as_str() {
                        "ALL_DONE" => true,
                        "NONE_FAILED" => !deps.iter().any(failed),
                        "AT_LEAST_ONE_SUCCESS" => deps.iter().any(ok),
                        "ALL_FAILED" => deps.iter().all(failed),
                        "AT_LEAST_ONE_FAILED" => deps.iter().any(failed),
                        _ => deps.iter().all(ok),
                    });
            if run_it {
                runnable.push(t.clone());
            } else {
                let why = if deps.iter().any(failed) {
                    Outcome::UpstreamFailed
                } else {
                    Outcome::Excluded
                };
                skipped.push((t.run_id, why));
            }
        }
        if runnable.is_empty() && skipped.is_empty() {
            return;
        }
        let t = now(st);
        st.runs.update(&run_id, |r| {
            for (id, why) in &skipped {
                if let Some(task) = r.tasks.iter_mut().find(|x| x.run_id == *id) {
                    task.life = Life::Skipped;
                    task.outcome = Some(*why);
                    task.state_message = "Upstream task(s) failed.".into();
                    task.start_time = t;
                    task.end_time = t;
                }
            }
        });
        let params = run.params.clone();
        let jobs = runnable
            .into_iter()
            .map(|task| run_task(st, run_id, task, &params));
        futures::future::join_all(jobs).await;
    }
}

fn set_task(st: &Shared, run_id: i64, task_id: i64, f: impl FnOnce(&mut TaskRun)) {
    st.runs.update(&run_id, |r| {
        if let Some(t) = r.tasks.iter_mut().find(|t| t.run_id == task_id) {
            f(t);
        }
    });
}

/// Finds or launches the task's cluster; `None` means it needs none.
fn cluster_for(
    st: &Shared,
    run_id: i64,
    task: &TaskRun,
    creator: &str,
) -> Result<Option<String>, String> {
    if let Some(id) = task.spec.get("existing_cluster_id").and_then(Value::as_str) {
        let state = st
            .clusters
            .read_with(&id.to_owned(), |c| c.state)
            .ok_or_else(|| format!("Cluster {id} does not exist"))?;
        if state == CState::Terminated {
            // The service starts a terminated all-purpose cluster for the run.
            restart_terminated(st, id);
        }
        return Ok(Some(id.to_owned()));
    }
    if let Some(Value::Object(spec)) = task.spec.get("new_cluster") {
        return Ok(Some(clusters::launch(st, spec.clone(), "JOB", creator)));
    }
    if let Some(key) = task.spec.get("job_cluster_key").and_then(Value::as_str) {
        let spec = st
            .runs
            .read_with(&run_id, |r| {
                r.job_clusters
                    .iter()
                    .find(|c| c.get("job_cluster_key").and_then(Value::as_str) == Some(key))
                    .and_then(|c| c.get("new_cluster").and_then(Value::as_object).cloned())
            })
            .flatten()
            .ok_or_else(|| format!("Job cluster {key} is not defined"))?;
        // One cluster per key per run, shared by its tasks.
        let id = st.runs.update(&run_id, |r| {
            r.job_cluster_ids
                .entry(key.to_owned())
                .or_insert_with(|| clusters::launch(st, spec, "JOB", creator))
                .clone()
        });
        return id.map(Some).ok_or_else(|| "run vanished".to_owned());
    }
    Ok(None)
}

fn restart_terminated(st: &Shared, id: &str) {
    // Reuse the public start path's effect: PENDING, then RUNNING.
    clusters::start_for_job(st, id);
}

/// Waits for a cluster to run; an error says why it never will.
async fn wait_running(st: &Shared, id: &str) -> Result<(), String> {
    loop {
        let info = st
            .clusters
            .read_with(&id.to_owned(), |c| (c.state, c.render()));
        match info {
            None => return Err(format!("Cluster {id} does not exist")),
            Some((CState::Running, _)) => return Ok(()),
            Some((CState::Terminating | CState::Terminated, v)) => {
                let code = v["termination_reason"]["code"]
                    .as_str()
                    .unwrap_or("UNKNOWN")
                    .to_owned();
                return Err(format!("Cluster {id} was terminated. Reason: {code}."));
            }
            _ => st.clock.sleep(POLL_SECS).await,
        }
    }
}

/// Runs a task, retrying it up to `max_retries` times
/// (`min_retry_interval_millis` apart, WAITING_FOR_RETRY meanwhile) and
/// ending it TIMEDOUT past its `timeout_seconds`.
async fn run_task(st: &Shared, run_id: i64, task: TaskRun, params: &crate::jobs::Params) {
    let num = |k: &str| {
        task.spec
            .get(k)
            .and_then(crate::lenient::as_i64)
            .unwrap_or(0)
    };
    // -1 means "retry forever" to the service; ten is forever enough here.
    let max_retries = match num("max_retries") {
        n if n < 0 => 10,
        n => n.min(10),
    };
    let interval = num("min_retry_interval_millis").max(0) as f64 / 1000.0;
    let timeout = num("timeout_seconds");
    let retry_on_timeout = task
        .spec
        .get("retry_on_timeout")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut retries = 0;
    loop {
        let start = now(st);
        let result = if timeout > 0 {
            tokio::select! {
                r = attempt(st, run_id, &task, params, start) => r,
                _ = st.clock.sleep(timeout as f64) => Err(Failure {
                    message: format!("Task {} timed out after {timeout} seconds.", task.key),
                    internal: false,
                    timed_out: true,
                    output: Output::default(),
                }),
            }
        } else {
            attempt(st, run_id, &task, params, start).await
        };
        let again = match &result {
            Err(f) => retries < max_retries && (!f.timed_out || retry_on_timeout),
            Ok(_) => false,
        };
        if !again {
            return end_task(st, run_id, &task, result, start);
        }
        retries += 1;
        set_task(st, run_id, task.run_id, |t| {
            t.life = Life::WaitingForRetry;
            t.state_message = "Waiting for retry".into();
            t.attempt = task.attempt + retries;
        });
        st.clock.sleep(interval).await;
    }
}

async fn attempt(
    st: &Shared,
    run_id: i64,
    task: &TaskRun,
    params: &crate::jobs::Params,
    start: i64,
) -> Result<Output, Failure> {
    set_task(st, run_id, task.run_id, |t| {
        t.life = Life::Pending;
        t.state_message = String::new();
        t.start_time = start;
    });
    st.runs.update(&run_id, |r| {
        if r.life == Life::Pending {
            r.life = Life::Running;
        }
    });
    let creator = st
        .runs
        .read_with(&run_id, |r| r.creator.clone())
        .unwrap_or_default();
    let cluster = cluster_for(st, run_id, task, &creator).map_err(Failure::setup)?;
    set_task(st, run_id, task.run_id, |t| t.cluster_id = cluster.clone());
    if let Some(id) = &cluster
        && let Err(msg) = wait_running(st, id).await
    {
        return Err(Failure {
            message: msg,
            internal: true,
            timed_out: false,
            output: Output::default(),
        });
    }
    let running = now(st);
    set_task(st, run_id, task.run_id, |t| {
        t.life = Life::Running;
        t.setup_ms = running - start;
    });
    let effective = effective_params(&task.spec, params);
    let extra = effective
        .get("emulator_sleep")
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0);
    st.clock.sleep(TASK_SECS + extra.max(0.0)).await;
    // `emulator_fail_once=<message>`: the task fails the first time it runs
    // in this run, and succeeds when run again (a retry or a repair).
    if let Some(msg) = effective.get("emulator_fail_once").filter(|m| !m.is_empty()) {
        let key = format!("{run_id}:{}", task.key);
        if st.failed_once.get(&key).is_none() {
            st.failed_once.insert(key, ());
            return Err(Failure {
                message: format!("Exception: {msg}"),
                internal: false,
                timed_out: false,
                output: Output {
                    logs: Some(String::new()),
                    error_trace: Some(format!("Traceback (most recent call last):\n  File \"<task {}>\", line 1\nException: {msg}", task.key)),
                    ..Output::default()
                },
            });
        }
    }
    evaluate(st, &task.spec, &effective, &creator).await
}

struct Failure {
    message: String,
    /// A failure of the platform (cluster), not of the workload.
    internal: bool,
    timed_out: bool,
    output: Output,
}

impl Failure {
    fn setup(message: String) -> Self {
        Self {
            message,
            internal: false,
            timed_out: false,
            output: Output::default(),
        }
    }
}

fn end_task(st: &Shared, run_id: i64, task: &TaskRun, result: Result<Output, Failure>, start: i64) {
    let t = now(st);
    set_task(st, run_id, task.run_id, |x| {
        x.end_time = t;
        x.exec_ms = (t - start - x.setup_ms).max(0);
        match result {
            Ok(out) => {
                x.life = Life::Terminated;
                x.outcome = Some(Outcome::Success);
                x.state_message = String::new();
                x.output = out;
            }
            Err(f) => {
                x.life = if f.internal {
                    Life::InternalError
                } else {
                    Life::Terminated
                };
                x.outcome = Some(if f.timed_out {
                    Outcome::TimedOut
                } else {
                    Outcome::Failed
                });
                let mut out = f.output;
                out.error_trace.get_or_insert_with(|| format!("Traceback (most recent call last):\n  File \"<task {}>\", line 1\nException: {}", task.key, f.message));
                out.error = Some(f.message.clone());
                x.state_message = if out.notebook_result.is_some()
                    || out.logs.is_some()
                    || f.message.starts_with("Exception")
                {
                    "Workload failed, see run output for details".into()
                } else {
                    f.message
                };
                x.output = out;
            }
        }
    });
}

/// The parameters a task sees: its own, then the run's overrides.
fn effective_params(
    spec: &Map<String, Value>,
    p: &crate::jobs::Params,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let from_map = |out: &mut BTreeMap<String, String>, v: Option<&Value>| {
        for (k, v) in crate::lenient::string_map(v) {
            out.insert(k, v);
        }
    };
    if let Some(nb) = spec.get("notebook_task") {
        from_map(&mut out, nb.get("base_parameters"));
        out.extend(p.notebook.clone());
    }
    if let Some(sql) = spec.get("sql_task") {
        from_map(&mut out, sql.get("parameters"));
        out.extend(p.sql.clone());
    }
    if let Some(w) = spec.get("python_wheel_task") {
        from_map(&mut out, w.get("named_parameters"));
        from_map(&mut out, p.python_named.as_ref());
    }
    let list = [
        "spark_python_task",
        "python_wheel_task",
        "spark_jar_task",
        "spark_submit_task",
    ]
    .iter()
    .find_map(|k| spec.get(*k))
    .and_then(|t| t.get("parameters"))
    .and_then(Value::as_array)
    .cloned();
    let list = p
        .python
        .clone()
        .or(p.jar.clone())
        .or(list)
        .unwrap_or_default();
    for item in list {
        let s = match item {
            Value::String(s) => s,
            other => other.to_string(),
        };
        if let Some((k, v)) = s.trim_start_matches('-').split_once('=') {
            out.insert(k.replace('-', "_"), v.to_owned());
        }
    }
    out.extend(p.job.clone());
    out
}

/// `dbutils.notebook.exit("x")` -> `x`.
fn exit_value(source: &str) -> Option<String> {
    let i = source.find("dbutils.notebook.exit(")?;
    let rest = &source[i + "dbutils.notebook.exit(".len()..];
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = rest[1..].find(q)?;
    Some(rest[1..1 + end].to_owned())
}

fn raised(source: &str) -> Option<String> {
    source
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("raise ").map(|r| r.trim().to_owned()))
}

fn prints(source: &str) -> String {
    source
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let inner = l.strip_prefix("print(")?.strip_suffix(')')?;
            Some(inner.trim_matches(|c| c == '"' || c == '\'').to_owned())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn source_of(st: &Shared, path: &str) -> Option<Vec<u8>> {
    if path.starts_with("dbfs:") || path.starts_with("/dbfs/") {
        let p = path.strip_prefix("/dbfs").unwrap_or(path);
        let p = crate::fs::normalize(p).ok()?;
        return st.fs.read_file(&p).ok().map(|(d, _)| d.to_vec());
    }
    if path.starts_with("/Volumes/") {
        return st.fs.read_file(path).ok().map(|(d, _)| d.to_vec());
    }
    st.workspace
        .get(path)
        .filter(|o| o.kind != "DIRECTORY")
        .map(|o| o.content)
}

async fn evaluate(
    st: &Shared,
    spec: &Map<String, Value>,
    params: &BTreeMap<String, String>,
    user: &str,
) -> Result<Output, Failure> {
    let runtime = |msg: String, out: Output| Failure {
        message: msg,
        internal: false,
        timed_out: false,
        output: out,
    };
    let params_json = serde_json::to_string(params).unwrap_or_default();
    if let Some(msg) = params.get("emulator_fail").filter(|m| !m.is_empty()) {
        return Err(runtime(
            format!("Exception: {msg}"),
            Output {
                logs: Some(String::new()),
                ..Output::default()
            },
        ));
    }
    if let Some(nb) = spec.get("notebook_task") {
        let path = nb
            .get("notebook_path")
            .and_then(Value::as_str)
            .unwrap_or("");
        if nb.get("source").and_then(Value::as_str) == Some("GIT") {
            return Ok(Output {
                notebook_result: Some(params_json),
                ..Output::default()
            });
        }
        let Some(obj) = st.workspace.get(path).filter(|o| o.kind == "NOTEBOOK") else {
            return Err(Failure::setup(format!(
                "Unable to access the notebook \"{path}\". Either it does not exist, or the identity used to run this job, {user}, lacks the required permissions."
            )));
        };
        let source = String::from_utf8_lossy(&obj.content).into_owned();
        if let Some(e) = raised(&source) {
            return Err(runtime(
                format!("Exception: {e}"),
                Output {
                    notebook_result: None,
                    logs: Some(prints(&source)),
                    ..Output::default()
                },
            ));
        }
        let result = exit_value(&source).unwrap_or(params_json);
        return Ok(Output {
            notebook_result: Some(result),
            ..Output::default()
        });
    }
    if let Some(py) = spec.get("spark_python_task") {
        let file = py.get("python_file").and_then(Value::as_str).unwrap_or("");
        let remote = ["s3://", "s3a://", "abfss://", "gs://", "adl://", "wasbs://"]
            .iter()
            .any(|s| file.starts_with(s));
        if remote || py.get("source").and_then(Value::as_str) == Some("GIT") {
            return Ok(Output {
                logs: Some(format!("ran {file} with {params_json}")),
                ..Output::default()
            });
        }
        let Some(src) = source_of(st, file) else {
            return Err(Failure::setup(format!(
                "Cannot read the python file {file}. Please check driver logs for more details."
            )));
        };
        let source = String::from_utf8_lossy(&src).into_owned();
        let logs = prints(&source);
        if let Some(e) = raised(&source) {
            return Err(runtime(
                format!("Exception: {e}"),
                Output {
                    logs: Some(logs),
                    ..Output::default()
                },
            ));
        }
        return Ok(Output {
            logs: Some(logs),
            ..Output::default()
        });
    }
    if let Some(w) = spec.get("python_wheel_task") {
        let pkg = w.get("package_name").and_then(Value::as_str).unwrap_or("");
        let ep = w.get("entry_point").and_then(Value::as_str).unwrap_or("");
        return Ok(Output {
            logs: Some(format!("{pkg}:{ep} finished with parameters {params_json}")),
            ..Output::default()
        });
    }
    if let Some(j) = spec.get("spark_jar_task") {
        let class = j
            .get("main_class_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Ok(Output {
            logs: Some(format!("{class} finished with parameters {params_json}")),
            ..Output::default()
        });
    }
    if let Some(fe) = spec.get("for_each_task") {
        // Each input runs the nested task with {{input}} replaced, one
        // after the other; the first failure fails the loop.
        let inputs: Vec<Value> = match fe.get("inputs") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::String(text)) => serde_json::from_str(text).map_err(|e| {
                Failure::setup(format!("for_each_task.inputs is not a JSON array: {e}"))
            })?,
            _ => {
                return Err(Failure::setup(
                    "for_each_task.inputs must be a JSON array".into(),
                ));
            }
        };
        let nested = fe
            .get("task")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let text = serde_json::to_string(&nested).unwrap_or_default();
        let total = inputs.len();
        for (i, input) in inputs.into_iter().enumerate() {
            let value = match input {
                Value::String(x) => x,
                other => other.to_string(),
            };
            let quoted = serde_json::to_string(&value).unwrap_or_default();
            let inner = text.replace("{{input}}", quoted.trim_matches('"'));
            let spec_i: Map<String, Value> = serde_json::from_str(&inner).unwrap_or_default();
            let mut p = effective_params(&spec_i, &crate::jobs::Params::default());
            p.extend(params.clone());
            if let Err(mut f) = Box::pin(evaluate(st, &spec_i, &p, user)).await {
                f.message = format!("Iteration {i} (input {value}) failed: {}", f.message);
                f.output.iterations = Some((total, i));
                return Err(f);
            }
        }
        return Ok(Output {
            iterations: Some((total, total)),
            ..Output::default()
        });
    }
    if let Some(c) = spec.get("condition_task") {
        let side = |k: &str| match c.get(k) {
            Some(Value::String(x)) => x.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let (left, right) = (side("left"), side("right"));
        // Numbers compare as numbers, anything else as text, as the service does.
        let ord = match (left.trim().parse::<f64>(), right.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b),
            _ => Some(left.cmp(&right)),
        };
        let op = c.get("op").and_then(Value::as_str).unwrap_or("");
        use std::cmp::Ordering::*;
        let result = match (op, ord) {
            ("EQUAL_TO", o) => o == Some(Equal),
            ("NOT_EQUAL", o) => o != Some(Equal),
            ("GREATER_THAN", o) => o == Some(Greater),
            ("GREATER_THAN_OR_EQUAL", o) => matches!(o, Some(Greater | Equal)),
            ("LESS_THAN", o) => o == Some(Less),
            ("LESS_THAN_OR_EQUAL", o) => matches!(o, Some(Less | Equal)),
            _ => return Err(Failure::setup(format!("Invalid condition_task op '{op}'."))),
        };
        return Ok(Output {
            condition: Some(result),
            ..Output::default()
        });
    }
    if let Some(rj) = spec.get("run_job_task") {
        // Starts the other job and succeeds or fails with it.
        let mut body = serde_json::Map::new();
        body.insert(
            "job_id".into(),
            rj.get("job_id").cloned().unwrap_or(Value::Null),
        );
        if let Some(p) = rj.get("job_parameters") {
            body.insert("job_parameters".into(), p.clone());
        }
        let started = crate::jobs::trigger_run(
            st,
            user.to_owned(),
            &crate::lenient::Obj(body),
            "RUN_JOB_TASK",
        )
        .map_err(|e| Failure::setup(e.message))?;
        let child = started["run_id"].as_i64().unwrap_or(0);
        let out = Output {
            run_job: Some(json!({ "run_id": child })),
            ..Output::default()
        };
        loop {
            let state = st.runs.read_with(&child, |r| (r.life, r.outcome));
            match state {
                None => return Err(runtime(format!("Run {child} was deleted."), out)),
                Some((life, outcome)) if life.terminal() => {
                    return if outcome == Some(Outcome::Success) {
                        Ok(out)
                    } else {
                        Err(runtime(
                            format!("Run {child} of job {} did not succeed.", rj["job_id"]),
                            out,
                        ))
                    };
                }
                Some(_) => st.clock.sleep(POLL_SECS).await,
            }
        }
    }
    if let Some(sql) = spec.get("sql_task") {
        let wh = sql
            .get("warehouse_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        if st.warehouses.get(&wh.to_owned()).is_none() {
            return Err(Failure::setup(format!("Warehouse {wh} does not exist.")));
        }
        let output = json!({"query_output": {"warehouse_id": wh, "output_link": ""}});
        if let Some(path) = sql
            .get("file")
            .and_then(|f| f.get("path"))
            .and_then(Value::as_str)
        {
            let Some(src) = source_of(st, path) else {
                return Err(Failure::setup(format!(
                    "The SQL file {path} does not exist."
                )));
            };
            let text = String::from_utf8_lossy(&src).into_owned();
            let sql_params: Vec<crate::sql::Param> = params
                .iter()
                .map(|(k, v)| crate::sql::Param {
                    name: k.clone(),
                    value: Some(v.clone()),
                    kind: "STRING".into(),
                })
                .collect();
            for stmt in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                if let Err(e) = crate::unity::run_sql(&st, stmt, &sql_params).await {
                    return Err(runtime(
                        e.message,
                        Output {
                            sql: Some(output.clone()),
                            ..Output::default()
                        },
                    ));
                }
            }
        }
        return Ok(Output {
            sql: Some(output),
            ..Output::default()
        });
    }
    Ok(Output::default())
}

async fn finish(st: &Shared, run_id: i64, end: End) {
    let t = now(st);
    // Tasks still open end with the run.
    st.runs.update(&run_id, |r| {
        r.life = Life::Terminating;
        for task in &mut r.tasks {
            if !task.life.terminal() {
                let started = task.start_time != 0;
                task.life = if started {
                    Life::Terminated
                } else {
                    Life::Skipped
                };
                task.outcome = Some(match end {
                    End::TimedOut => Outcome::TimedOut,
                    _ if started => Outcome::Canceled,
                    _ => Outcome::UpstreamCanceled,
                });
                task.state_message = match end {
                    End::TimedOut => "Run timed out.".into(),
                    _ => "Run cancelled.".into(),
                };
                if task.start_time == 0 {
                    task.start_time = t;
                }
                task.end_time = t;
            }
        }
    });
    st.clock.sleep(CLEANUP_SECS).await;
    let t = now(st);
    let owned = st.runs.update(&run_id, |r| {
        let failed: Vec<&TaskRun> = r.tasks.iter().filter(|x| matches!(x.outcome, Some(Outcome::Failed | Outcome::TimedOut))).collect();
        let skipped = r.tasks.iter().any(|x| x.outcome == Some(Outcome::UpstreamFailed));
        let (life, outcome, msg) = match end {
            End::Canceled => (Life::Terminated, Outcome::Canceled, "Run cancelled.".to_owned()),
            End::TimedOut => (Life::Terminated, Outcome::TimedOut, format!("Run timed out after {} seconds.", r.timeout_secs)),
            End::Done if !failed.is_empty() => {
                let f = failed[0];
                let mut m = format!("Task {} failed with message: {}.", f.key, f.state_message.trim_end_matches('.'));
                if skipped {
                    m.push_str(" This caused all downstream tasks to get skipped.");
                }
                (Life::InternalError, Outcome::Failed, m)
            }
            End::Done => (Life::Terminated, Outcome::Success, String::new()),
        };
        r.life = life;
        r.outcome = Some(outcome);
        r.state_message = msg;
        r.user_cancelled = matches!(end, End::Canceled | End::TimedOut);
        r.end_time = t;
        let status = json!({"life_cycle_state": life.api(), "result_state": outcome.api(), "state_message": r.state_message});
        if let Some(h) = r.repair_history.last_mut() {
            h["state"] = status;
            h["end_time"] = json!(t);
        }
        let mut owned: Vec<String> = r.job_cluster_ids.values().cloned().collect();
        owned.extend(r.tasks.iter().filter(|x| x.spec.contains_key("new_cluster")).filter_map(|x| x.cluster_id.clone()));
        owned
    });
    // Job clusters end with their run.
    for id in owned.unwrap_or_default() {
        let reason = json!({"code": "JOB_FINISHED", "type": "SUCCESS", "parameters": {}});
        clusters::terminate(st, &id, reason, "Job finished");
        let (st2, id2) = (st.clone(), id.clone());
        st.spawn(async move {
            // Terminated job clusters linger for a while, then go (keeps memory flat).
            st2.clock.sleep(600.0).await;
            st2.clusters.remove(&id2);
        });
    }
}

fn status_of(life: Life, outcome: Option<Outcome>, msg: &str) -> Value {
    let state = match life {
        Life::Queued => "QUEUED",
        Life::Pending => "PENDING",
        Life::Running => "RUNNING",
        Life::Terminating => "TERMINATING",
        Life::WaitingForRetry => "WAITING",
        Life::Terminated | Life::Skipped | Life::InternalError => "TERMINATED",
    };
    let mut s = json!({ "state": state });
    if life.terminal() {
        let o = outcome.unwrap_or(Outcome::Success);
        let (code, kind) = match (life, o) {
            (Life::InternalError, Outcome::Failed) => ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
            (Life::InternalError, _) => ("INTERNAL_ERROR", "INTERNAL_ERROR"),
            _ => o.termination(),
        };
        s["termination_details"] = json!({"code": code, "type": kind, "message": msg});
    }
    if life == Life::Queued {
        s["queue_details"] = json!({"code": "MAX_CONCURRENT_RUNS_REACHED", "message": msg});
    }
    s
}

fn state_of(life: Life, outcome: Option<Outcome>, msg: &str, cancelled: bool) -> Value {
    let mut s = json!({ "life_cycle_state": life.api(), "state_message": msg, "user_cancelled_or_timedout": cancelled });
    if let Some(o) = outcome.filter(|_| life.terminal()) {
        s["result_state"] = json!(o.api());
    }
    if life == Life::Queued {
        s["queue_reason"] = json!(msg);
    }
    s
}

fn page_url(st: &Shared, job_id: Option<i64>, run_id: i64) -> String {
    match job_id {
        Some(j) => format!("{}/?o={}#job/{j}/run/{run_id}", st.url, st.workspace_id),
        None => format!("{}/?o={}#job/run/{run_id}", st.url, st.workspace_id),
    }
}

fn render_task(st: &Shared, r: &Run, t: &TaskRun) -> Value {
    let mut v = Value::Object(t.spec.clone());
    let end = if t.end_time > 0 { t.end_time } else { 0 };
    let dur = if t.start_time == 0 {
        0
    } else if end > 0 {
        end - t.start_time
    } else {
        now(st) - t.start_time
    };
    v["run_id"] = json!(t.run_id);
    v["task_key"] = json!(t.key);
    v["state"] = state_of(
        t.life,
        t.outcome,
        &t.state_message,
        r.user_cancelled && t.outcome == Some(Outcome::Canceled),
    );
    v["status"] = status_of(t.life, t.outcome, &t.state_message);
    v["start_time"] = json!(t.start_time);
    v["end_time"] = json!(end);
    v["setup_duration"] = json!(t.setup_ms);
    v["execution_duration"] = json!(t.exec_ms);
    v["cleanup_duration"] = json!(0);
    v["run_duration"] = json!(dur.max(0));
    v["attempt_number"] = json!(t.attempt);
    v["run_if"] = json!(t.run_if);
    v["run_page_url"] = json!(page_url(st, r.job_id, t.run_id));
    if let Some(c) = t.output.condition {
        v["condition_task"]["outcome"] = json!(if c { "true" } else { "false" });
    }
    if let Some((total, ok)) = t.output.iterations {
        let failed = usize::from(ok < total && t.outcome.is_some());
        v["for_each_task"]["stats"] = json!({"task_run_stats": {
            "total_iterations": total, "succeeded_iterations": ok, "failed_iterations": failed,
            "completed_iterations": ok + failed,
        }});
    }
    if let Some(c) = &t.cluster_id {
        let ctx = st
            .clusters
            .read_with(c, |cl| cl.render()["spark_context_id"].clone())
            .unwrap_or(Value::Null);
        let mut ci = json!({ "cluster_id": c });
        if !ctx.is_null() {
            ci["spark_context_id"] = json!(ctx.to_string());
        }
        v["cluster_instance"] = ci;
    }
    v
}

pub(crate) fn render_run(st: &Shared, r: &Run, with_tasks: bool) -> Value {
    let end = r.end_time;
    let dur = if end > 0 {
        end - r.start_time
    } else {
        now(st) - r.start_time
    };
    let setup = r.tasks.iter().map(|t| t.setup_ms).max().unwrap_or(0);
    let exec = r.tasks.iter().map(|t| t.exec_ms).max().unwrap_or(0);
    let mut v = json!({
        "job_id": r.job_id.unwrap_or(r.run_id),
        "run_id": r.run_id,
        "original_attempt_run_id": r.run_id,
        "number_in_job": if r.number_in_job > 0 { r.number_in_job } else { r.run_id },
        "creator_user_name": r.creator,
        "run_as_user_name": r.creator,
        "run_name": r.run_name,
        "run_type": r.run_type,
        "trigger": r.trigger,
        "attempt_number": 0,
        "state": state_of(r.life, r.outcome, &r.state_message, r.user_cancelled),
        "status": status_of(r.life, r.outcome, &r.state_message),
        "start_time": r.start_time,
        "end_time": end,
        "setup_duration": setup,
        "execution_duration": exec,
        "cleanup_duration": 0,
        "run_duration": dur.max(0),
        "queue_duration": r.queue_ms,
        "run_page_url": page_url(st, r.job_id, r.run_id),
        "format": if r.single_task { "SINGLE_TASK" } else { "MULTI_TASK" },
        "has_more": false,
    });
    if with_tasks {
        v["tasks"] = json!(
            r.tasks
                .iter()
                .map(|t| render_task(st, r, t))
                .collect::<Vec<_>>()
        );
        if !r.job_clusters.is_empty() {
            v["job_clusters"] = json!(r.job_clusters);
        }
        if !r.repair_history.is_empty() {
            v["repair_history"] = json!(r.repair_history);
        }
    }
    if !r.job_parameters.is_empty() {
        v["job_parameters"] = json!(r.job_parameters);
    }
    if !r.overriding.is_empty() {
        v["overriding_parameters"] = Value::Object(r.overriding.clone());
    }
    if r.single_task
        && let Some(c) = r.tasks.first().and_then(|t| t.cluster_id.as_ref())
    {
        v["cluster_instance"] = json!({ "cluster_id": c });
    }
    v
}

/// runs/get on a task run id.
pub(crate) fn render_task_as_run(st: &Shared, r: &Run, task_run_id: i64) -> Option<Value> {
    let t = r.tasks.iter().find(|t| t.run_id == task_run_id)?;
    let mut v = render_task(st, r, t);
    v["job_id"] = json!(r.job_id.unwrap_or(r.run_id));
    v["parent_run_id"] = json!(r.run_id);
    v["run_name"] = json!(t.key);
    v["run_type"] = json!(r.run_type);
    v["creator_user_name"] = json!(r.creator);
    v["tasks"] = json!([render_task(st, r, t)]);
    Some(v)
}

pub(crate) fn render_output(st: &Shared, r: &Run, task_run_id: i64) -> Option<Value> {
    let t = r.tasks.iter().find(|t| t.run_id == task_run_id)?;
    let mut v = json!({ "metadata": render_task_as_run(st, r, task_run_id)? });
    if t.spec.contains_key("notebook_task") {
        let mut nb = json!({});
        if let Some(res) = &t.output.notebook_result {
            nb = json!({ "result": res, "truncated": false });
        }
        v["notebook_output"] = nb;
    }
    if let Some(logs) = &t.output.logs {
        v["logs"] = json!(logs);
        v["logs_truncated"] = json!(false);
    }
    if let Some(e) = &t.output.error {
        v["error"] = json!(e);
    }
    // A dbt task's artifacts (the target directory), as the service links them.
    if t.spec.contains_key("dbt_task") {
        v["dbt_output"] = json!({
            "artifacts_link": format!("{}/api/2.0/dbfs/read?path=/dbt-artifacts/{task_run_id}.tar.gz", st.url),
            "artifacts_headers": {},
        });
    }
    if let Some(e) = &t.output.error_trace {
        v["error_trace"] = json!(e);
    }
    if let Some(s) = &t.output.sql {
        v["sql_output"] = s.clone();
    }
    if let Some(r) = &t.output.run_job {
        v["run_job_output"] = r.clone();
    }
    Some(v)
}
