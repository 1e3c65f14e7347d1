//! Clusters 2.0/2.1 with the life cycle PENDING -> RUNNING ->
//! RESIZING/RESTARTING -> TERMINATING -> TERMINATED on the scaled clock.
//!
//! Every command bumps the cluster's `generation`; a pending transition
//! task applies its step only if the generation is still the one it was
//! spawned for, so a delete during start-up wins cleanly.
//!
//! A cluster fails to start on demand when its `custom_tags` (or
//! `spark_conf`) hold `emulator.fail_start`: the value is the
//! termination code (`true` means `INIT_SCRIPT_FAILURE`).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Obj, Query};

/// Simulated seconds for each transition (scaled by time_scale).
const START_SECS: f64 = 4.0;
const RESTART_SECS: f64 = 3.0;
const RESIZE_SECS: f64 = 2.0;
const TERMINATE_SECS: f64 = 2.0;

const MAX_CUSTOM_TAGS: usize = 45;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CState {
    Pending,
    Running,
    Restarting,
    Resizing,
    Terminating,
    Terminated,
}

impl CState {
    pub fn api(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Restarting => "RESTARTING",
            Self::Resizing => "RESIZING",
            Self::Terminating => "TERMINATING",
            Self::Terminated => "TERMINATED",
        }
    }
    /// As the service writes it in "is in unexpected state Running."
    fn title(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Restarting => "Restarting",
            Self::Resizing => "Resizing",
            Self::Terminating => "Terminating",
            Self::Terminated => "Terminated",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => Self::Pending,
            "RUNNING" => Self::Running,
            "RESTARTING" => Self::Restarting,
            "RESIZING" => Self::Resizing,
            "TERMINATING" => Self::Terminating,
            "TERMINATED" => Self::Terminated,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub id: String,
    spec: Map<String, Value>,
    pub state: CState,
    state_message: String,
    created: i64,
    start_time: i64,
    terminated_time: Option<i64>,
    last_restarted_time: Option<i64>,
    termination_reason: Option<Value>,
    pinned: bool,
    source: &'static str,
    creator: String,
    events: Vec<Value>,
    generation: u64,
}

pub(crate) fn routes(v: &str) -> Router<Shared> {
    let p = |s: &str| format!("/api/{v}/clusters/{s}");
    Router::new()
        .route(&p("create"), post(create))
        .route(&p("edit"), post(edit))
        .route(&p("get"), get(get_cluster))
        .route(&p("list"), get(list))
        .route(&p("start"), post(start))
        .route(&p("restart"), post(restart))
        .route(&p("resize"), post(resize))
        .route(&p("delete"), post(delete))
        .route(&p("permanent-delete"), post(permanent_delete))
        .route(&p("pin"), post(pin))
        .route(&p("unpin"), post(unpin))
        .route(&p("events"), post(events))
        .route(&p("list-node-types"), get(node_types))
        .route(&p("spark-versions"), get(spark_versions))
        .route(&p("list-zones"), get(zones))
}

fn does_not_exist(id: &str) -> ApiError {
    ApiError::invalid(format!("Cluster {id} does not exist"))
}

fn new_cluster_id(now_ms: i64) -> String {
    let secs = now_ms / 1000;
    let day = secs % 86_400;
    // MMDD-HHMMSS-xxxxxxxx like the service; the date part only has to look right.
    let doy = (secs / 86_400) % 365;
    let (month, dom) = (doy / 31 + 1, doy % 28 + 1);
    let tail = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!(
        "{month:02}{dom:02}-{:02}{:02}{:02}-{tail}",
        day / 3600,
        (day / 60) % 60,
        day % 60
    )
}

/// Validates a create/edit spec and returns it cleaned.
fn check_spec(body: &Obj) -> ApiResult<Map<String, Value>> {
    body.req_str("spark_version")?;
    let mut spec = body.cleaned();
    if let Some(n) = body.i64("num_workers")? {
        if n < 0 {
            return Err(ApiError::invalid(format!(
                "num_workers must be >= 0, got {n}"
            )));
        }
        spec.insert("num_workers".into(), json!(n));
    }
    if let Some(a) = body.obj("autoscale") {
        let min = a.i64("min_workers")?.unwrap_or(1);
        let max = a.i64("max_workers")?.unwrap_or(min);
        if min < 0 || max < min {
            return Err(ApiError::invalid(format!(
                "autoscale: max_workers ({max}) must be >= min_workers ({min}) >= 0"
            )));
        }
        spec.insert(
            "autoscale".into(),
            json!({"min_workers": min, "max_workers": max}),
        );
    }
    if let Some(m) = body.i64("autotermination_minutes")? {
        spec.insert("autotermination_minutes".into(), json!(m));
    }
    if let Some(Value::Object(tags)) = spec.get("custom_tags")
        && tags.len() > MAX_CUSTOM_TAGS
    {
        return Err(ApiError::invalid(format!(
            "Custom tags count {} exceeds the limit of {MAX_CUSTOM_TAGS}",
            tags.len()
        )));
    }
    spec.remove("cluster_id");
    Ok(spec)
}

/// The termination code a spec asks to fail start-up with, if any.
fn fail_start_code(spec: &Map<String, Value>) -> Option<String> {
    ["custom_tags", "spark_conf"].iter().find_map(|k| {
        let v = spec.get(*k)?.get("emulator.fail_start")?;
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Bool(true) => "true".into(),
            _ => return None,
        };
        match s.as_str() {
            "false" | "" => None,
            "true" => Some("INIT_SCRIPT_FAILURE".to_owned()),
            code => Some(code.to_owned()),
        }
    })
}

impl Cluster {
    fn event(&mut self, now: i64, kind: &str, details: Value) {
        self.events.push(json!({
            "cluster_id": self.id, "timestamp": now, "type": kind, "details": details,
        }));
    }

    pub fn render(&self) -> Value {
        let mut m = self.spec.clone();
        if !m.contains_key("num_workers") && !m.contains_key("autoscale") {
            m.insert("num_workers".into(), json!(0));
        }
        let name = m.get("cluster_name").cloned().unwrap_or(json!(""));
        m.insert("spec".into(), Value::Object(self.spec.clone()));
        m.insert("cluster_id".into(), json!(self.id));
        m.insert("cluster_name".into(), name.clone());
        m.insert("state".into(), json!(self.state.api()));
        m.insert("state_message".into(), json!(self.state_message));
        m.insert("start_time".into(), json!(self.start_time));
        m.insert("cluster_source".into(), json!(self.source));
        m.insert("creator_user_name".into(), json!(self.creator));
        m.insert(
            "pinned_by_user_name".into(),
            json!(if self.pinned {
                Some(&self.creator)
            } else {
                None
            }),
        );
        if !self.pinned {
            m.remove("pinned_by_user_name");
        }
        m.insert(
            "default_tags".into(),
            json!({"Vendor": "Databricks", "Creator": self.creator, "ClusterName": name, "ClusterId": self.id}),
        );
        m.entry("node_type_id").or_insert(json!("i3.xlarge"));
        let node = m.get("node_type_id").cloned().unwrap_or(json!("i3.xlarge"));
        m.entry("driver_node_type_id").or_insert(node);
        // Unset means never: the API does not auto-terminate by default.
        m.entry("autotermination_minutes").or_insert(json!(0));
        m.entry("enable_elastic_disk").or_insert(json!(false));
        m.entry("disk_spec").or_insert(json!({}));
        m.entry("cluster_memory_mb").or_insert(json!(30500));
        m.entry("cluster_cores").or_insert(json!(4.0));
        if matches!(
            self.state,
            CState::Running | CState::Resizing | CState::Restarting
        ) {
            m.insert(
                "spark_context_id".into(),
                json!(self.created % 1_000_000_007),
            );
            m.insert(
                "driver".into(),
                json!({"node_id": format!("{}-driver", self.id), "private_ip": "10.0.0.2", "public_dns": "", "start_timestamp": self.start_time}),
            );
            m.insert("executors".into(), json!([]));
            m.insert("jdbc_port".into(), json!(10000));
        }
        if let Some(t) = self.terminated_time {
            m.insert("terminated_time".into(), json!(t));
        }
        if let Some(t) = self.last_restarted_time {
            m.insert("last_restarted_time".into(), json!(t));
        }
        if let Some(r) = &self.termination_reason {
            m.insert("termination_reason".into(), r.clone());
        }
        Value::Object(m)
    }
}

/// Numbers sent as strings (Airflow does) become numbers, so a job
/// cluster reads back as the service would show it.
fn normalize(spec: &mut Map<String, Value>) {
    crate::lenient::strip_nulls(spec);
    for k in ["num_workers", "autotermination_minutes"] {
        if let Some(n) = spec.get(k).and_then(crate::lenient::as_i64) {
            spec.insert(k.into(), json!(n));
        }
    }
    if let Some(Value::Object(a)) = spec.get_mut("autoscale") {
        for k in ["min_workers", "max_workers"] {
            if let Some(n) = a.get(k).and_then(crate::lenient::as_i64) {
                a.insert(k.into(), json!(n));
            }
        }
    }
}

/// Creates a cluster and starts its life cycle; also used for job clusters.
pub(crate) fn launch(
    state: &Shared,
    mut spec: Map<String, Value>,
    source: &'static str,
    creator: &str,
) -> String {
    normalize(&mut spec);
    let now = state.clock.now_ms();
    let id = new_cluster_id(now);
    let mut c = Cluster {
        id: id.clone(),
        spec,
        state: CState::Pending,
        state_message: "Starting Spark".to_owned(),
        created: now,
        start_time: now,
        terminated_time: None,
        last_restarted_time: None,
        termination_reason: None,
        pinned: false,
        source,
        creator: creator.to_owned(),
        events: Vec::new(),
        generation: 0,
    };
    c.event(now, "CREATING", json!({"user": creator}));
    state.clusters.insert(id.clone(), c);
    schedule_start(state, &id, 0);
    id
}

fn schedule_start(state: &Shared, id: &str, generation: u64) {
    let (st, id) = (state.clone(), id.to_owned());
    state.spawn(async move {
        st.clock.sleep(START_SECS).await;
        let now = st.clock.now_ms();
        let fail = st.clusters.update(&id, |c| {
            if c.generation != generation || c.state != CState::Pending {
                return None;
            }
            match fail_start_code(&c.spec) {
                None => {
                    c.state = CState::Running;
                    c.state_message = String::new();
                    c.event(now, "RUNNING", json!({"current_num_workers": c.spec.get("num_workers").cloned().unwrap_or(json!(0))}));
                    c.event(now, "DRIVER_HEALTHY", json!({}));
                    None
                }
                Some(code) => {
                    let reason = json!({"code": code, "type": "CLIENT_ERROR", "parameters": {"databricks_error_message": format!("Cluster failed to start: {code} (injected by the emulator)")}});
                    Some(reason)
                }
            }
        });
        if let Some(Some(reason)) = fail {
            terminate(&st, &id, reason, "Cluster failed to start");
        }
    });
}

/// Moves a cluster to TERMINATING and, later, TERMINATED.
pub(crate) fn terminate(state: &Shared, id: &str, reason: Value, message: &str) {
    let now = state.clock.now_ms();
    let generation = state.clusters.update(&id.to_owned(), |c| {
        if matches!(c.state, CState::Terminating | CState::Terminated) {
            return None;
        }
        c.generation += 1;
        c.state = CState::Terminating;
        c.state_message = message.to_owned();
        c.termination_reason = Some(reason.clone());
        c.event(now, "TERMINATING", json!({"reason": reason}));
        Some(c.generation)
    });
    let Some(Some(generation)) = generation else {
        return;
    };
    let (st, id) = (state.clone(), id.to_owned());
    state.spawn(async move {
        st.clock.sleep(TERMINATE_SECS).await;
        let now = st.clock.now_ms();
        st.clusters.update(&id, |c| {
            if c.generation == generation && c.state == CState::Terminating {
                c.state = CState::Terminated;
                c.terminated_time = Some(now);
                c.event(
                    now,
                    "TERMINATED",
                    json!({"reason": c.termination_reason.clone()}),
                );
            }
        });
    });
}

/// Moves a RUNNING cluster to `via` and back to RUNNING after `secs`.
fn bounce(
    state: &Shared,
    id: &str,
    via: CState,
    secs: f64,
    f: impl FnOnce(&mut Cluster),
) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let generation = state
        .clusters
        .update(&id.to_owned(), |c| {
            f(c);
            c.generation += 1;
            c.state = via;
            c.state_message = match via {
                CState::Restarting => "Restarting Spark".into(),
                _ => "Resizing cluster".into(),
            };
            c.generation
        })
        .ok_or_else(|| does_not_exist(id))?;
    let (st, id) = (state.clone(), id.to_owned());
    state.spawn(async move {
        st.clock.sleep(secs).await;
        let now2 = st.clock.now_ms();
        st.clusters.update(&id, |c| {
            if c.generation == generation && c.state == via {
                c.state = CState::Running;
                c.state_message = String::new();
                if via == CState::Restarting {
                    c.last_restarted_time = Some(now2);
                    c.event(now2, "RUNNING", json!({}));
                } else {
                    c.event(now2, "UPSIZE_COMPLETED", json!({"current_num_workers": c.spec.get("num_workers").cloned().unwrap_or(json!(0))}));
                }
            }
        });
    });
    let _ = now;
    Ok(())
}

async fn create(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let spec = check_spec(&body)?;
    let id = launch(&state, spec, "API", &p.0);
    Ok(Json(json!({ "cluster_id": id })))
}

fn cluster_id(body: &Obj) -> ApiResult<String> {
    body.req_str("cluster_id")
}

fn current(state: &Shared, id: &str) -> ApiResult<Cluster> {
    state
        .clusters
        .get(&id.to_owned())
        .ok_or_else(|| does_not_exist(id))
}

fn unexpected(c: &Cluster) -> ApiError {
    ApiError::invalid_state(format!(
        "Cluster {} is in unexpected state {}.",
        c.id,
        c.state.title()
    ))
}

async fn edit(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    let c = current(&state, &id)?;
    let spec = check_spec(&body)?;
    if c.source == "JOB" {
        return Err(ApiError::invalid(format!(
            "Cannot edit cluster {id} created by a job"
        )));
    }
    let now = state.clock.now_ms();
    match c.state {
        CState::Running => bounce(&state, &id, CState::Restarting, RESTART_SECS, |c| {
            c.spec = spec;
            c.event(now, "EDITED", json!({}));
        })?,
        CState::Terminated => {
            state.clusters.update(&id, |c| {
                c.spec = spec;
                c.event(now, "EDITED", json!({}));
            });
        }
        _ => return Err(unexpected(&c)),
    }
    Ok(Json(json!({})))
}

async fn get_cluster(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let id = cluster_id(&q)?;
    state
        .clusters
        .read_with(&id, Cluster::render)
        .map(Json)
        .ok_or_else(|| does_not_exist(&id))
}

async fn list(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let states: Vec<CState> = q
        .arr("filter_by.cluster_states")
        .iter()
        .filter_map(|v| v.as_str())
        .flat_map(|s| s.split(','))
        .filter_map(CState::parse)
        .collect();
    let sources: Vec<String> = q
        .arr("filter_by.cluster_sources")
        .iter()
        .filter_map(|v| v.as_str())
        .flat_map(|s| s.split(',').map(str::to_owned))
        .collect();
    let pinned = q.bool("filter_by.is_pinned")?;
    let mut all = state.clusters.filter(|c| {
        (states.is_empty() || states.contains(&c.state))
            && (sources.is_empty() || sources.iter().any(|s| s == c.source))
            && pinned.is_none_or(|p| p == c.pinned)
    });
    // Active clusters first, newest first, as the UI lists them.
    all.sort_by_key(|c| (c.state == CState::Terminated, -c.created, c.id.clone()));
    let page_size = q
        .i64("page_size")?
        .filter(|n| *n > 0)
        .map(|n| n.min(100) as usize);
    let offset = match q.str("page_token").filter(|s| !s.is_empty()) {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid page_token: {t}")))?,
        None => 0,
    };
    let end = page_size.map_or(all.len(), |n| (offset + n).min(all.len()));
    let page: Vec<Value> = all
        .get(offset..end)
        .unwrap_or(&[])
        .iter()
        .map(Cluster::render)
        .collect();
    let mut out = json!({ "clusters": page });
    if end < all.len() {
        out["next_page_token"] = json!(end.to_string());
    }
    if offset > 0 {
        out["prev_page_token"] = json!(
            offset
                .saturating_sub(page_size.unwrap_or(offset))
                .to_string()
        );
    }
    Ok(Json(out))
}

async fn start(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    let c = current(&state, &id)?;
    if c.source == "JOB" {
        return Err(ApiError::invalid(format!(
            "Cluster {id} was launched by a job and cannot be started"
        )));
    }
    if c.state != CState::Terminated {
        return Err(unexpected(&c));
    }
    start_for_job(&state, &id);
    Ok(Json(json!({})))
}

/// TERMINATED -> PENDING, later RUNNING (also used when a run needs a
/// terminated all-purpose cluster).
pub(crate) fn start_for_job(state: &Shared, id: &str) {
    let now = state.clock.now_ms();
    let generation = state.clusters.update(&id.to_owned(), |c| {
        if c.state != CState::Terminated {
            return None;
        }
        c.generation += 1;
        c.state = CState::Pending;
        c.state_message = "Starting Spark".into();
        c.termination_reason = None;
        c.terminated_time = None;
        c.start_time = now;
        c.event(now, "STARTING", json!({}));
        Some(c.generation)
    });
    if let Some(Some(g)) = generation {
        schedule_start(state, id, g);
    }
}

async fn restart(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    let c = current(&state, &id)?;
    if c.state != CState::Running {
        return Err(unexpected(&c));
    }
    let now = state.clock.now_ms();
    bounce(&state, &id, CState::Restarting, RESTART_SECS, |c| {
        c.event(now, "RESTARTING", json!({}))
    })?;
    Ok(Json(json!({})))
}

async fn resize(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    let c = current(&state, &id)?;
    let workers = body.i64("num_workers")?;
    let autoscale = body.obj("autoscale");
    if workers.is_none() && autoscale.is_none() {
        return Err(ApiError::invalid(
            "Either num_workers or autoscale must be given",
        ));
    }
    if workers.is_some_and(|n| n < 0) {
        return Err(ApiError::invalid("num_workers must be >= 0"));
    }
    if c.state != CState::Running {
        return Err(ApiError::invalid_state(format!(
            "Cluster {id} is not running (state {}).",
            c.state.title()
        )));
    }
    let auto = match &autoscale {
        Some(a) => Some(
            json!({"min_workers": a.i64("min_workers")?.unwrap_or(1), "max_workers": a.i64("max_workers")?.unwrap_or(1)}),
        ),
        None => None,
    };
    let now = state.clock.now_ms();
    bounce(&state, &id, CState::Resizing, RESIZE_SECS, |c| {
        if let Some(n) = workers {
            c.spec.insert("num_workers".into(), json!(n));
            c.spec.remove("autoscale");
        }
        if let Some(a) = auto {
            c.spec.insert("autoscale".into(), a);
            c.spec.remove("num_workers");
        }
        c.event(now, "RESIZING", json!({"target_num_workers": workers}));
    })?;
    Ok(Json(json!({})))
}

async fn delete(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    current(&state, &id)?;
    let reason =
        json!({"code": "USER_REQUEST", "type": "SUCCESS", "parameters": {"username": p.0}});
    terminate(&state, &id, reason, "Terminating cluster at user request");
    Ok(Json(json!({})))
}

async fn permanent_delete(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    state
        .clusters
        .remove(&id)
        .ok_or_else(|| does_not_exist(&id))?;
    Ok(Json(json!({})))
}

async fn set_pin(state: Shared, body: Obj, pinned: bool) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    let now = state.clock.now_ms();
    state
        .clusters
        .update(&id, |c| {
            c.pinned = pinned;
            c.event(now, if pinned { "PINNED" } else { "UNPINNED" }, json!({}));
        })
        .ok_or_else(|| does_not_exist(&id))?;
    Ok(Json(json!({})))
}

async fn pin(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    set_pin(state, body, true).await
}

async fn unpin(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    set_pin(state, body, false).await
}

async fn events(State(state): State<Shared>, Body(body): Body) -> ApiResult<Json<Value>> {
    let id = cluster_id(&body)?;
    let c = current(&state, &id)?;
    let from = body.i64("start_time")?;
    let to = body.i64("end_time")?;
    let types: Vec<String> = body
        .arr("event_types")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let asc = body
        .str("order")
        .is_some_and(|o| o.eq_ignore_ascii_case("ASC"));
    let mut evs: Vec<Value> = c
        .events
        .into_iter()
        .filter(|e| {
            let t = e["timestamp"].as_i64().unwrap_or(0);
            from.is_none_or(|f| t >= f)
                && to.is_none_or(|x| t <= x)
                && (types.is_empty() || types.iter().any(|k| e["type"].as_str() == Some(k)))
        })
        .collect();
    if !asc {
        evs.reverse();
    }
    let total = evs.len();
    let limit = body
        .i64("page_size")?
        .filter(|n| *n > 0)
        .or(body.i64("limit")?)
        .unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and 500, got {limit}"
        )));
    }
    let offset = match body.str("page_token").filter(|s| !s.is_empty()) {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid page_token: {t}")))?,
        None => body.i64("offset")?.unwrap_or(0).max(0) as usize,
    };
    let end = (offset + limit as usize).min(total);
    let page = evs.get(offset.min(total)..end).unwrap_or(&[]).to_vec();
    let mut out = json!({ "events": page, "total_count": total });
    if end < total {
        let mut next = body.cleaned();
        next.insert("offset".into(), json!(end));
        next.insert("limit".into(), json!(limit));
        next.remove("page_token");
        out["next_page"] = Value::Object(next);
        out["next_page_token"] = json!(end.to_string());
    }
    Ok(Json(out))
}

async fn node_types() -> Json<Value> {
    let nt = |id: &str, mem: i64, cores: f64, cat: &str, disk_gb: i64| {
        json!({
            "node_instance_type": {
                "instance_type_id": id, "local_disks": 1, "local_disk_size_gb": disk_gb,
                "local_nvme_disks": 0, "local_nvme_disk_size_gb": 0,
            },
            "node_type_id": id, "memory_mb": mem, "num_cores": cores, "num_gpus": 0,
            "description": id, "instance_type_id": id, "category": cat,
            "is_deprecated": false, "is_hidden": false, "support_port_forwarding": true,
            "photon_driver_capable": true, "photon_worker_capable": true, "is_io_cache_enabled": cat == "Storage Optimized",
            "node_info": {"available_core_quota": 1000, "total_core_quota": 1000},
        })
    };
    Json(json!({"node_types": [
        nt("m5d.large", 8192, 2.0, "General Purpose", 75),
        nt("i3.xlarge", 31232, 4.0, "Storage Optimized", 950),
        nt("i3.2xlarge", 62464, 8.0, "Storage Optimized", 1900),
        nt("r5d.xlarge", 32768, 4.0, "Memory Optimized", 150),
        nt("c5d.2xlarge", 16384, 8.0, "Compute Optimized", 200),
    ]}))
}

async fn spark_versions() -> Json<Value> {
    Json(json!({"versions": [
        {"key": "16.4.x-scala2.12", "name": "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"},
        {"key": "16.4.x-photon-scala2.12", "name": "16.4 LTS Photon (includes Apache Spark 3.5.2, Scala 2.12)"},
        {"key": "16.4.x-cpu-ml-scala2.12", "name": "16.4 LTS ML (includes Apache Spark 3.5.2, Scala 2.12)"},
        {"key": "15.4.x-scala2.12", "name": "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
        {"key": "17.0.x-scala2.13", "name": "17.0 (includes Apache Spark 4.0.0, Scala 2.13)"},
        {"key": "17.1.x-scala2.13", "name": "17.1 Beta (includes Apache Spark 4.0.0, Scala 2.13)"},
    ]}))
}

async fn zones() -> Json<Value> {
    Json(json!({"zones": ["us-west-2a", "us-west-2b", "us-west-2c"], "default_zone": "us-west-2a"}))
}
