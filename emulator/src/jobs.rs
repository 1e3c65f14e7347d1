//! Jobs 2.0/2.1/2.2: jobs (create, get, list, update, reset, delete) and
//! runs (run-now, submit, get, get-output, list, cancel, cancel-all, repair,
//! delete). The life cycle itself lives in `runner`.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Obj, Query, as_i64, string_map};
use crate::runner::{self, Life, Outcome};

const TASK_PAYLOADS: &[&str] = &[
    "notebook_task",
    "spark_python_task",
    "spark_jar_task",
    "spark_submit_task",
    "python_wheel_task",
    "sql_task",
    "pipeline_task",
    "dbt_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
    "clean_rooms_notebook_task",
    "dashboard_task",
    "power_bi_task",
];

#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: i64,
    pub settings: Map<String, Value>,
    created: i64,
    creator: String,
    next_number: i64,
    /// Jobs created through 2.2 queue by default; older versions do not.
    queue_default: bool,
}

impl Job {
    pub fn max_concurrent(&self) -> i64 {
        self.settings
            .get("max_concurrent_runs")
            .and_then(as_i64)
            .unwrap_or(1)
            .max(1)
    }
    pub fn queue_enabled(&self) -> bool {
        self.settings
            .get("queue")
            .and_then(|q| q.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(self.queue_default)
    }
}

/// One task of a run, with its own run id.
#[derive(Debug, Clone)]
pub(crate) struct TaskRun {
    pub run_id: i64,
    pub key: String,
    pub spec: Map<String, Value>,
    pub depends_on: Vec<String>,
    pub run_if: String,
    pub life: Life,
    pub outcome: Option<Outcome>,
    pub state_message: String,
    pub start_time: i64,
    pub end_time: i64,
    pub setup_ms: i64,
    pub exec_ms: i64,
    pub attempt: i64,
    pub cluster_id: Option<String>,
    pub output: runner::Output,
}

#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub run_id: i64,
    pub job_id: Option<i64>,
    pub number_in_job: i64,
    pub run_name: String,
    pub run_type: &'static str,
    pub trigger: &'static str,
    pub creator: String,
    pub start_time: i64,
    pub end_time: i64,
    pub queue_ms: i64,
    pub life: Life,
    pub outcome: Option<Outcome>,
    pub state_message: String,
    pub user_cancelled: bool,
    pub tasks: Vec<TaskRun>,
    pub job_clusters: Vec<Value>,
    pub job_parameters: Vec<Value>,
    pub params: Params,
    pub overriding: Map<String, Value>,
    pub repair_history: Vec<Value>,
    pub timeout_secs: i64,
    pub cancel: CancellationToken,
    pub single_task: bool,
    pub queue: bool,
    pub max_concurrent: i64,
    /// Job cluster key -> the cluster launched for it in this run.
    pub job_cluster_ids: HashMap<String, String>,
}

/// Parameters a run passes to its tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pub job: HashMap<String, String>,
    pub notebook: HashMap<String, String>,
    pub python: Option<Vec<Value>>,
    pub python_named: Option<Value>,
    pub jar: Option<Vec<Value>>,
    pub sql: HashMap<String, String>,
}

pub(crate) fn routes(v: &str) -> Router<Shared> {
    let p = |s: &str| format!("/api/{v}/jobs/{s}");
    Router::new()
        .route(&p("create"), post(create))
        .route(&p("get"), get(get_job))
        .route(&p("list"), get(list))
        .route(&p("update"), post(update))
        .route(&p("reset"), post(reset))
        .route(&p("delete"), post(delete))
        .route(&p("run-now"), post(run_now))
        .route(&p("runs/submit"), post(submit))
        .route(&p("runs/get"), get(runs_get))
        .route(&p("runs/get-output"), get(get_output))
        .route(&p("runs/list"), get(runs_list))
        .route(&p("runs/cancel"), post(cancel))
        .route(&p("runs/cancel-all"), post(cancel_all))
        .route(&p("runs/repair"), post(repair))
        .route(&p("runs/delete"), post(runs_delete))
}

fn job_missing(id: i64) -> ApiError {
    ApiError::invalid(format!("Job {id} does not exist."))
}

pub(crate) fn run_missing(id: i64) -> ApiError {
    ApiError::invalid(format!("Run {id} does not exist."))
}

fn is_22(uri: &Uri) -> bool {
    uri.path().starts_with("/api/2.2/")
}

/// Checks a task list: keys present and unique, one payload each, known
/// dependencies, no cycle. Returns the cleaned tasks.
fn check_tasks(
    tasks: &[Value],
    job_cluster_keys: &HashSet<String>,
) -> ApiResult<Vec<Map<String, Value>>> {
    let mut out = Vec::new();
    let mut keys = HashSet::new();
    for t in tasks {
        let Value::Object(m) = t else {
            return Err(ApiError::invalid("Each task must be an object"));
        };
        let o = Obj(m.clone());
        let key = o
            .req_str("task_key")
            .map_err(|_| ApiError::invalid("Task key must be specified for every task."))?;
        if !keys.insert(key.clone()) {
            return Err(ApiError::invalid(format!(
                "Duplicate task key '{key}'. Task keys must be unique within a job."
            )));
        }
        let payloads: Vec<&str> = TASK_PAYLOADS
            .iter()
            .copied()
            .filter(|p| o.get(p).is_some())
            .collect();
        match payloads.len() {
            1 => {}
            0 => {
                return Err(ApiError::invalid(format!(
                    "Task {key} must specify exactly one task type, such as notebook_task."
                )));
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "Task {key} specifies more than one task type: {}.",
                    payloads.join(", ")
                )));
            }
        }
        if let Some(k) = o.str("job_cluster_key")
            && !job_cluster_keys.contains(&k)
        {
            return Err(ApiError::invalid(format!(
                "Task {key} refers to job cluster '{k}', which is not defined in job_clusters."
            )));
        }
        if let Some(nb) = o.obj("notebook_task") {
            nb.req_str("notebook_path").map_err(|_| {
                ApiError::invalid(format!(
                    "Task {key}: notebook_task.notebook_path is required."
                ))
            })?;
        }
        if let Some(py) = o.obj("spark_python_task") {
            py.req_str("python_file").map_err(|_| {
                ApiError::invalid(format!(
                    "Task {key}: spark_python_task.python_file is required."
                ))
            })?;
        }
        if let Some(w) = o.obj("python_wheel_task") {
            for f in ["package_name", "entry_point"] {
                w.req_str(f).map_err(|_| {
                    ApiError::invalid(format!("Task {key}: python_wheel_task.{f} is required."))
                })?;
            }
        }
        if let Some(s) = o.obj("sql_task") {
            s.req_str("warehouse_id").map_err(|_| {
                ApiError::invalid(format!("Task {key}: sql_task.warehouse_id is required."))
            })?;
        }
        out.push(o.cleaned());
    }
    for t in &out {
        for d in deps_of(t) {
            if !keys.contains(&d) {
                let key = t.get("task_key").and_then(Value::as_str).unwrap_or("");
                return Err(ApiError::invalid(format!(
                    "Task {key} depends on {d}, which does not exist in the job."
                )));
            }
        }
    }
    // Cycle check: repeatedly remove tasks whose dependencies are all removed.
    let mut left: Vec<(String, Vec<String>)> = out
        .iter()
        .map(|t| {
            (
                t.get("task_key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                deps_of(t),
            )
        })
        .collect();
    let mut done: HashSet<String> = HashSet::new();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|(k, deps)| {
            if deps.iter().all(|d| done.contains(d)) {
                done.insert(k.clone());
                false
            } else {
                true
            }
        });
        if left.len() == before {
            let names: Vec<&str> = left.iter().map(|(k, _)| k.as_str()).collect();
            return Err(ApiError::invalid(format!(
                "The task dependency graph has a cycle among: {}.",
                names.join(", ")
            )));
        }
    }
    Ok(out)
}

fn deps_of(t: &Map<String, Value>) -> Vec<String> {
    match t.get("depends_on") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|d| d.get("task_key").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn job_cluster_keys(settings: &Map<String, Value>) -> HashSet<String> {
    match settings.get("job_clusters") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|c| {
                c.get("job_cluster_key")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect(),
        _ => HashSet::new(),
    }
}

/// Validates settings and normalises the legacy single-task (2.0) form
/// into `tasks`.
fn check_settings(mut settings: Map<String, Value>) -> ApiResult<Map<String, Value>> {
    crate::lenient::strip_nulls(&mut settings);
    if !settings.contains_key("tasks") && TASK_PAYLOADS.iter().any(|p| settings.contains_key(*p)) {
        let mut task = Map::new();
        task.insert(
            "task_key".into(),
            json!(
                settings
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("task")
                    .replace(' ', "_")
            ),
        );
        for k in TASK_PAYLOADS.iter().copied().chain([
            "new_cluster",
            "existing_cluster_id",
            "libraries",
            "timeout_seconds",
            "max_retries",
        ]) {
            if let Some(v) = settings.remove(k) {
                task.insert(k.into(), v);
            }
        }
        settings.insert("tasks".into(), json!([task]));
        settings.insert("format".into(), json!("SINGLE_TASK"));
    }
    let tasks = match settings.get("tasks") {
        Some(Value::Array(a)) => a.clone(),
        None => Vec::new(),
        Some(_) => return Err(ApiError::invalid("tasks must be an array")),
    };
    let tasks = check_tasks(&tasks, &job_cluster_keys(&settings))?;
    settings.insert(
        "tasks".into(),
        Value::Array(tasks.into_iter().map(Value::Object).collect()),
    );
    for k in ["max_concurrent_runs", "timeout_seconds"] {
        if let Some(v) = settings.get(k) {
            let n =
                as_i64(v).ok_or_else(|| ApiError::invalid(format!("{k} must be an integer")))?;
            settings.insert(k.into(), json!(n));
        }
    }
    settings.entry("format").or_insert(json!("MULTI_TASK"));
    settings.entry("max_concurrent_runs").or_insert(json!(1));
    settings.entry("timeout_seconds").or_insert(json!(0));
    settings.entry("email_notifications").or_insert(json!({}));
    settings.entry("name").or_insert(json!("Untitled"));
    Ok(settings)
}

async fn create(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    uri: Uri,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let mut raw = body.0.clone();
    raw.remove("access_control_list");
    let settings = check_settings(raw)?;
    let id = state.next_id();
    state.jobs.insert(
        id,
        Job {
            id,
            settings,
            created: state.clock.now_ms(),
            creator: p.0,
            next_number: 1,
            queue_default: is_22(&uri),
        },
    );
    Ok(Json(json!({ "job_id": id })))
}

fn render_job(j: &Job, with_tasks: bool) -> Value {
    let mut settings = j.settings.clone();
    if !with_tasks {
        settings.remove("tasks");
        settings.remove("job_clusters");
    }
    json!({
        "job_id": j.id,
        "creator_user_name": j.creator,
        "run_as_user_name": j.creator,
        "created_time": j.created,
        "settings": settings,
        "has_more": false,
    })
}

async fn get_job(State(state): State<Shared>, uri: Uri, Query(q): Query) -> ApiResult<Json<Value>> {
    let id = q.req_i64("job_id")?;
    let mut v = state
        .jobs
        .read_with(&id, |j| render_job(j, true))
        .ok_or_else(|| job_missing(id))?;
    if is_22(&uri) {
        let offset = page_offset(&q)?;
        let more = page_arrays(
            &mut v["settings"],
            &["tasks", "job_clusters", "parameters", "environments"],
            offset,
        );
        set_next(&mut v, more, offset);
    }
    if uri.path().starts_with("/api/2.0/") && v["settings"]["format"] == "SINGLE_TASK" {
        lift_single_task(&mut v["settings"]);
    }
    Ok(Json(v))
}

/// Jobs 2.0 shows a single-task job or run in its old shape: the task's
/// payload and cluster at the top level, next to `tasks`.
fn lift_single_task(v: &mut Value) {
    let Some(task) = v.get("tasks").and_then(|t| t.get(0)).cloned() else {
        return;
    };
    for k in
        TASK_PAYLOADS
            .iter()
            .copied()
            .chain(["new_cluster", "existing_cluster_id", "libraries"])
    {
        if let Some(x) = task.get(k) {
            v[k] = x.clone();
        }
    }
}

/// Jobs 2.2 pages the arrays of jobs/get and runs/get by 100, every page
/// repeating the other fields; true when a later page has more.
const ARRAY_PAGE: usize = 100;

fn page_arrays(obj: &mut Value, keys: &[&str], offset: usize) -> bool {
    let mut more = false;
    for k in keys {
        let Some(Value::Array(a)) = obj.get_mut(*k) else {
            continue;
        };
        more |= a.len() > offset + ARRAY_PAGE;
        let page: Vec<Value> = a.iter().skip(offset).take(ARRAY_PAGE).cloned().collect();
        if page.is_empty() && offset > 0 {
            if let Some(m) = obj.as_object_mut() {
                m.remove(*k);
            }
        } else {
            *a = page;
        }
    }
    more
}

/// Emits `next_page_token` only when another page exists: the SDK loops
/// while it is present, so an empty one would never end.
fn set_next(v: &mut Value, more: bool, offset: usize) {
    if more {
        v["next_page_token"] = json!((offset + ARRAY_PAGE).to_string());
        v["has_more"] = json!(true);
    }
}

fn page_offset(q: &Obj) -> ApiResult<usize> {
    match q.str("page_token").filter(|s| !s.is_empty()) {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid page_token: {t}"))),
        None => Ok(q.i64("offset")?.unwrap_or(0).max(0) as usize),
    }
}

async fn list(State(state): State<Shared>, uri: Uri, Query(q): Query) -> ApiResult<Json<Value>> {
    let limit = q.i64("limit")?.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and 100, got {limit}"
        )));
    }
    let name = q.str("name").filter(|s| !s.is_empty());
    let expand = q.flag("expand_tasks")?;
    let mut jobs = state.jobs.filter(|j| {
        name.as_ref().is_none_or(|n| {
            j.settings
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(n))
        })
    });
    jobs.sort_by_key(|j| j.id);
    let offset = page_offset(&q)?;
    Ok(Json(page_of(
        &jobs,
        offset,
        limit as usize,
        "jobs",
        !is_22(&uri),
        |j| render_job(j, expand),
    )))
}

/// One page of a list, as jobs/list and runs/list answer: the items under
/// `key` (absent when empty), `has_more` (API 2.1 only) and the tokens.
fn page_of<T>(
    items: &[T],
    offset: usize,
    limit: usize,
    key: &str,
    has_more: bool,
    render: impl Fn(&T) -> Value,
) -> Value {
    let end = (offset + limit).min(items.len());
    let page: Vec<Value> = items
        .get(offset.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(render)
        .collect();
    let more = end < items.len();
    let mut out = json!({});
    if !page.is_empty() {
        out[key] = json!(page);
    }
    if has_more {
        out["has_more"] = json!(more);
    }
    if more {
        out["next_page_token"] = json!(end.to_string());
    }
    if offset > 0 {
        out["prev_page_token"] = json!(offset.saturating_sub(limit).to_string());
    }
    out
}

fn merge_by_key(old: &mut Vec<Value>, new: Vec<Value>, key: &str) {
    for n in new {
        let k = n.get(key).cloned();
        match old
            .iter_mut()
            .find(|o| o.get(key) == k.as_ref() && k.is_some())
        {
            Some(o) => *o = n,
            None => old.push(n),
        }
    }
}

async fn update(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = body.req_i64("job_id")?;
    let mut settings = state
        .jobs
        .read_with(&id, |j| j.settings.clone())
        .ok_or_else(|| job_missing(id))?;
    for f in body.arr("fields_to_remove") {
        let Some(f) = f.as_str() else { continue };
        match f.split_once('/') {
            Some((arr @ ("tasks" | "job_clusters"), key)) => {
                let kname = if arr == "tasks" {
                    "task_key"
                } else {
                    "job_cluster_key"
                };
                if let Some(Value::Array(a)) = settings.get_mut(arr) {
                    a.retain(|t| t.get(kname).and_then(Value::as_str) != Some(key));
                }
            }
            _ => {
                settings.remove(f);
            }
        }
    }
    if let Some(new) = body.obj("new_settings") {
        for (k, v) in new.cleaned() {
            match (k.as_str(), v) {
                ("tasks", Value::Array(a)) => {
                    let mut old = settings
                        .get("tasks")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    merge_by_key(&mut old, a, "task_key");
                    settings.insert(k, Value::Array(old));
                }
                ("job_clusters", Value::Array(a)) => {
                    let mut old = settings
                        .get("job_clusters")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    merge_by_key(&mut old, a, "job_cluster_key");
                    settings.insert(k, Value::Array(old));
                }
                (_, v) => {
                    settings.insert(k, v);
                }
            }
        }
    }
    let settings = check_settings(settings)?;
    state
        .jobs
        .update(&id, |j| j.settings = settings)
        .ok_or_else(|| job_missing(id))?;
    Ok(Json(json!({})))
}

async fn reset(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = body.req_i64("job_id")?;
    let new = body
        .obj("new_settings")
        .ok_or_else(|| ApiError::missing("new_settings"))?;
    let settings = check_settings(new.0)?;
    state
        .jobs
        .update(&id, |j| j.settings = settings)
        .ok_or_else(|| job_missing(id))?;
    Ok(Json(json!({})))
}

async fn delete(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = body.req_i64("job_id")?;
    state.jobs.remove(&id).ok_or_else(|| job_missing(id))?;
    // The job's runs go with it (and their active ones stop).
    for r in state.runs.filter(|r| r.job_id == Some(id)) {
        r.cancel.cancel();
        forget_run(&state, &r);
    }
    Ok(Json(json!({})))
}

fn forget_run(state: &Shared, r: &Run) {
    state.runs.remove(&r.run_id);
    for t in &r.tasks {
        state.task_runs.remove(&t.run_id);
    }
}

/// Builds the task runs of a new run from task definitions.
fn task_runs(state: &Shared, tasks: &[Map<String, Value>], only: &[String]) -> Vec<TaskRun> {
    tasks
        .iter()
        .filter(|t| {
            only.is_empty()
                || t.get("task_key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| only.iter().any(|o| o == k))
        })
        .map(|t| new_task_run(state, t.clone()))
        .collect()
}

pub(crate) fn new_task_run(state: &Shared, spec: Map<String, Value>) -> TaskRun {
    TaskRun {
        run_id: state.next_id(),
        key: spec
            .get("task_key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        depends_on: deps_of(&spec),
        run_if: spec
            .get("run_if")
            .and_then(Value::as_str)
            .unwrap_or("ALL_SUCCESS")
            .to_owned(),
        spec,
        life: Life::Pending,
        outcome: None,
        state_message: String::new(),
        start_time: 0,
        end_time: 0,
        setup_ms: 0,
        exec_ms: 0,
        attempt: 0,
        cluster_id: None,
        output: runner::Output::default(),
    }
}

fn params_of(body: &Obj) -> Params {
    let arr = |k: &str| match body.get(k) {
        Some(Value::Array(a)) => Some(a.clone()),
        _ => None,
    };
    Params {
        job: string_map(body.get("job_parameters")),
        notebook: string_map(body.get("notebook_params")),
        python: arr("python_params"),
        python_named: body.get("python_named_params").cloned(),
        jar: arr("jar_params"),
        sql: string_map(body.get("sql_params")),
    }
}

fn check_token(body: &Obj) -> ApiResult<Option<String>> {
    match body.str("idempotency_token").filter(|t| !t.is_empty()) {
        Some(t) if t.len() > 64 => Err(ApiError::invalid(
            "idempotency_token must be at most 64 characters",
        )),
        t => Ok(t),
    }
}

/// The run an idempotency token already started, if any.
fn existing_for_token(state: &Shared, token: &Option<String>) -> ApiResult<Option<i64>> {
    let Some(t) = token else { return Ok(None) };
    match state.idempotency.get(t) {
        None => Ok(None),
        Some(id) if state.runs.get(&id).is_some() => Ok(Some(id)),
        Some(id) => Err(ApiError::invalid(format!(
            "The run {id} created with idempotency token {t} was deleted; use a new token."
        ))),
    }
}

async fn run_now(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    trigger_run(&state, p.0, &body, "ONE_TIME").map(Json)
}

/// Starts a run of a job (run-now, and a `run_job_task`); answers
/// `{run_id, number_in_job}`.
pub(crate) fn trigger_run(
    state: &Shared,
    creator: String,
    body: &Obj,
    trigger: &'static str,
) -> ApiResult<Value> {
    let p = Principal(creator);
    let job_id = body.req_i64("job_id")?;
    let token = check_token(body)?;
    if let Some(run_id) = existing_for_token(state, &token)? {
        let number = state
            .runs
            .read_with(&run_id, |r| r.number_in_job)
            .unwrap_or(0);
        return Ok(json!({ "run_id": run_id, "number_in_job": number }));
    }
    let number = state
        .jobs
        .update(&job_id, |j| {
            j.next_number += 1;
            j.next_number - 1
        })
        .ok_or_else(|| job_missing(job_id))?;
    let job = state.jobs.get(&job_id).ok_or_else(|| job_missing(job_id))?;
    let params = params_of(body);
    // Job parameters: the defaults, overridden by the call's values.
    let defaults: Vec<(String, String)> = job
        .settings
        .get("parameters")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let name = p.get("name")?.as_str()?.to_owned();
                    let default = match p.get("default") {
                        Some(Value::String(s)) => s.clone(),
                        Some(v) if !v.is_null() => v.to_string(),
                        _ => String::new(),
                    };
                    Some((name, default))
                })
                .collect()
        })
        .unwrap_or_default();
    for k in params.job.keys() {
        if !defaults.iter().any(|(n, _)| n == k) {
            return Err(ApiError::invalid(format!(
                "Job parameter '{k}' is not defined in job {job_id}."
            )));
        }
    }
    let job_parameters: Vec<Value> = defaults
        .iter()
        .map(|(n, d)| json!({"name": n, "default": d, "value": params.job.get(n).cloned().unwrap_or_else(|| d.clone())}))
        .collect();
    let mut effective = params.clone();
    effective.job = defaults
        .into_iter()
        .map(|(n, d)| (n.clone(), params.job.get(&n).cloned().unwrap_or(d)))
        .collect();
    let only: Vec<String> = body
        .arr("only")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let tasks_spec: Vec<Map<String, Value>> = job
        .settings
        .get("tasks")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|t| t.as_object().cloned()).collect())
        .unwrap_or_default();
    let mut overriding = Map::new();
    for k in [
        "job_parameters",
        "notebook_params",
        "python_params",
        "python_named_params",
        "jar_params",
        "sql_params",
    ] {
        if let Some(v) = body.get(k) {
            overriding.insert(k.into(), v.clone());
        }
    }
    let run = Run {
        run_id: state.next_id(),
        job_id: Some(job_id),
        number_in_job: number,
        run_name: job
            .settings
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("Untitled")
            .to_owned(),
        run_type: "JOB_RUN",
        trigger,
        creator: p.0,
        start_time: state.clock.now_ms(),
        end_time: 0,
        queue_ms: 0,
        life: Life::Pending,
        outcome: None,
        state_message: String::new(),
        user_cancelled: false,
        tasks: task_runs(state, &tasks_spec, &only),
        job_clusters: job
            .settings
            .get("job_clusters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        job_parameters,
        params: effective,
        overriding,
        repair_history: Vec::new(),
        timeout_secs: job
            .settings
            .get("timeout_seconds")
            .and_then(as_i64)
            .unwrap_or(0),
        cancel: CancellationToken::new(),
        single_task: job.settings.get("format").and_then(Value::as_str) == Some("SINGLE_TASK"),
        queue: body
            .obj("queue")
            .and_then(|q| q.bool("enabled").ok().flatten())
            .unwrap_or(job.queue_enabled()),
        max_concurrent: job.max_concurrent(),
        job_cluster_ids: HashMap::new(),
    };
    let run_id = start_run(state, run, token);
    Ok(json!({ "run_id": run_id, "number_in_job": number }))
}

fn start_run(state: &Shared, mut run: Run, token: Option<String>) -> i64 {
    let run_id = run.run_id;
    run.repair_history.push(json!({"type": "ORIGINAL", "start_time": run.start_time, "task_run_ids": run.tasks.iter().map(|t| t.run_id).collect::<Vec<_>>()}));
    for t in &run.tasks {
        state.task_runs.insert(t.run_id, run_id);
    }
    state.runs.insert(run_id, run);
    if let Some(t) = token {
        state.idempotency.insert(t, run_id);
    }
    runner::drive(state, run_id);
    run_id
}

async fn submit(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let token = check_token(&body)?;
    if let Some(run_id) = existing_for_token(&state, &token)? {
        return Ok(Json(json!({ "run_id": run_id })));
    }
    let mut raw = body.cleaned();
    raw.remove("access_control_list");
    let single = !raw.contains_key("tasks");
    if single && !TASK_PAYLOADS.iter().any(|k| raw.contains_key(*k)) {
        return Err(ApiError::invalid(
            "At least one task must be specified in tasks.",
        ));
    }
    let settings = check_settings(raw)?;
    let tasks: Vec<Map<String, Value>> = settings
        .get("tasks")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|t| t.as_object().cloned()).collect())
        .unwrap_or_default();
    if tasks.is_empty() {
        return Err(ApiError::invalid(
            "At least one task must be specified in tasks.",
        ));
    }
    let run = Run {
        run_id: state.next_id(),
        job_id: None,
        number_in_job: 0,
        run_name: body.str("run_name").unwrap_or_else(|| "Untitled".into()),
        run_type: "SUBMIT_RUN",
        trigger: "ONE_TIME",
        creator: p.0,
        start_time: state.clock.now_ms(),
        end_time: 0,
        queue_ms: 0,
        life: Life::Pending,
        outcome: None,
        state_message: String::new(),
        user_cancelled: false,
        tasks: task_runs(&state, &tasks, &[]),
        job_clusters: settings
            .get("job_clusters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        job_parameters: Vec::new(),
        params: Params::default(),
        overriding: Map::new(),
        repair_history: Vec::new(),
        timeout_secs: body.i64("timeout_seconds")?.unwrap_or(0),
        cancel: CancellationToken::new(),
        single_task: single,
        queue: false,
        max_concurrent: i64::MAX,
        job_cluster_ids: HashMap::new(),
    };
    let run_id = start_run(&state, run, token);
    // The job id of a one-time run is the run id, as the service shows it.
    state.runs.update(&run_id, |r| r.job_id = Some(run_id));
    Ok(Json(json!({ "run_id": run_id })))
}

async fn runs_get(
    State(state): State<Shared>,
    uri: Uri,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    let id = q.req_i64("run_id")?;
    if let Some(mut v) = state
        .runs
        .read_with(&id, |r| runner::render_run(&state, r, true))
    {
        if is_22(&uri) {
            let offset = page_offset(&q)?;
            let more = page_arrays(
                &mut v,
                &["tasks", "job_clusters", "job_parameters", "repair_history"],
                offset,
            );
            set_next(&mut v, more, offset);
        }
        if uri.path().starts_with("/api/2.0/") && v["format"] == "SINGLE_TASK" {
            lift_single_task(&mut v);
        }
        return Ok(Json(v));
    }
    // A task run id: the service answers with that task's run.
    let parent = state.task_runs.get(&id).ok_or_else(|| run_missing(id))?;
    state
        .runs
        .read_with(&parent, |r| runner::render_task_as_run(&state, r, id))
        .flatten()
        .map(Json)
        .ok_or_else(|| run_missing(id))
}

async fn get_output(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let id = q.req_i64("run_id")?;
    if let Some(r) = state.runs.get(&id) {
        if r.tasks.len() != 1 {
            return Err(ApiError::invalid(
                "Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output of each individual task run instead.",
            ));
        }
        let task = r.tasks[0].run_id;
        return runner::render_output(&state, &r, task)
            .map(Json)
            .ok_or_else(|| run_missing(id));
    }
    let parent = state.task_runs.get(&id).ok_or_else(|| run_missing(id))?;
    let r = state.runs.get(&parent).ok_or_else(|| run_missing(id))?;
    runner::render_output(&state, &r, id)
        .map(Json)
        .ok_or_else(|| run_missing(id))
}

async fn runs_list(
    State(state): State<Shared>,
    uri: Uri,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    let job_id = q.i64("job_id")?;
    let active = q.flag("active_only")?;
    let completed = q.flag("completed_only")?;
    if active && completed {
        return Err(ApiError::invalid(
            "active_only and completed_only cannot both be true.",
        ));
    }
    let limit = q.i64("limit")?.unwrap_or(20);
    if !(1..=25).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and 25, got {limit}"
        )));
    }
    let run_type = q.str("run_type").filter(|s| !s.is_empty());
    let from = q.i64("start_time_from")?;
    let to = q.i64("start_time_to")?;
    let expand = q.flag("expand_tasks")?;
    let mut runs = state.runs.filter(|r| {
        job_id.is_none_or(|j| r.job_id == Some(j))
            && (!active || !r.life.terminal())
            && (!completed || r.life.terminal())
            && run_type.as_ref().is_none_or(|t| t == r.run_type)
            && from.is_none_or(|f| r.start_time >= f)
            && to.is_none_or(|t| r.start_time <= t)
    });
    runs.sort_by_key(|r| std::cmp::Reverse((r.start_time, r.run_id)));
    let offset = page_offset(&q)?;
    Ok(Json(page_of(
        &runs,
        offset,
        limit as usize,
        "runs",
        !is_22(&uri),
        |r| runner::render_run(&state, r, expand),
    )))
}

async fn cancel(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = body.req_i64("run_id")?;
    let token = state
        .runs
        .read_with(&id, |r| r.cancel.clone())
        .ok_or_else(|| run_missing(id))?;
    runner::request_cancel(&state, id, &token);
    Ok(Json(json!({})))
}

async fn cancel_all(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let job_id = body.i64("job_id")?;
    let all_queued = body.flag("all_queued_runs")?;
    if job_id.is_none() && !all_queued {
        return Err(ApiError::invalid(
            "Either job_id or all_queued_runs must be given.",
        ));
    }
    if let Some(j) = job_id
        && state.jobs.get(&j).is_none()
    {
        return Err(job_missing(j));
    }
    let targets = state.runs.filter(|r| {
        !r.life.terminal()
            && job_id.is_none_or(|j| r.job_id == Some(j))
            && (job_id.is_some() || r.life == Life::Queued)
    });
    for r in targets {
        runner::request_cancel(&state, r.run_id, &r.cancel);
    }
    Ok(Json(json!({})))
}

async fn repair(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = body.req_i64("run_id")?;
    let run = state.runs.get(&id).ok_or_else(|| run_missing(id))?;
    if !run.life.terminal() {
        return Err(ApiError::invalid_state(format!(
            "Run {id} is still in progress and cannot be repaired."
        )));
    }
    // A job's run, or a one-time run of tasks (runs/submit), is repaired.
    if run.tasks.is_empty() {
        return Err(ApiError::invalid(format!("Run {id} cannot be repaired.")));
    }
    let latest = run
        .repair_history
        .iter()
        .filter_map(|h| h.get("id").and_then(Value::as_i64))
        .next_back();
    if let Some(given) = body.i64("latest_repair_id")? {
        if Some(given) != latest {
            return Err(ApiError::invalid(format!(
                "latest_repair_id {given} is not the latest repair of run {id}."
            )));
        }
    } else if latest.is_some() {
        return Err(ApiError::invalid(format!(
            "Run {id} has been repaired before; latest_repair_id must be given."
        )));
    }
    let mut rerun: HashSet<String> = body
        .arr("rerun_tasks")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if body.flag("rerun_all_failed_tasks")? {
        for t in &run.tasks {
            if t.outcome.is_some_and(|o| o != Outcome::Success) {
                rerun.insert(t.key.clone());
            }
        }
    }
    for k in &rerun {
        if !run.tasks.iter().any(|t| &t.key == k) {
            return Err(ApiError::invalid(format!(
                "Task {k} is not part of run {id}."
            )));
        }
    }
    if body.flag("rerun_dependent_tasks")? {
        loop {
            let before = rerun.len();
            for t in &run.tasks {
                if t.depends_on.iter().any(|d| rerun.contains(d)) {
                    rerun.insert(t.key.clone());
                }
            }
            if rerun.len() == before {
                break;
            }
        }
    }
    if rerun.is_empty() {
        return Err(ApiError::invalid(
            "No tasks to repair: give rerun_tasks or rerun_all_failed_tasks.",
        ));
    }
    let repair_id = state.next_id();
    let params = params_of(&body);
    let now = state.clock.now_ms();
    let mut new_ids = Vec::new();
    let fresh: Vec<TaskRun> = run
        .tasks
        .iter()
        .filter(|t| rerun.contains(&t.key))
        .map(|t| {
            let mut n = new_task_run(&state, t.spec.clone());
            n.attempt = t.attempt + 1;
            new_ids.push((t.run_id, n.run_id));
            n
        })
        .collect();
    for (_, new) in &new_ids {
        state.task_runs.insert(*new, id);
    }
    state.runs.update(&id, |r| {
        for n in fresh {
            if let Some(slot) = r.tasks.iter_mut().find(|t| t.key == n.key) {
                *slot = n;
            }
        }
        if !params.notebook.is_empty() {
            r.params.notebook = params.notebook.clone();
        }
        for (k, v) in &params.job {
            r.params.job.insert(k.clone(), v.clone());
        }
        // Back to a non-terminal state synchronously: the SDK's and
        // Airflow's waiters poll this same run id right after.
        r.life = Life::Pending;
        r.outcome = None;
        r.state_message = String::new();
        r.user_cancelled = false;
        r.end_time = 0;
        r.cancel = CancellationToken::new();
        r.repair_history.push(json!({
            "type": "REPAIR", "id": repair_id, "start_time": now,
            "task_run_ids": new_ids.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        }));
    });
    runner::drive(&state, id);
    Ok(Json(json!({ "repair_id": repair_id })))
}

async fn runs_delete(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = body.req_i64("run_id")?;
    let run = state.runs.get(&id).ok_or_else(|| run_missing(id))?;
    if !run.life.terminal() {
        return Err(ApiError::invalid_state(format!(
            "Run {id} is active and cannot be deleted; cancel it first."
        )));
    }
    forget_run(&state, &run);
    Ok(Json(json!({})))
}
