//! SQL warehouses: list, get, create, edit, start, stop, delete, with the
//! states STARTING, RUNNING, STOPPING, STOPPED, DELETING, DELETED. One
//! starter warehouse exists from the start and is RUNNING.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lenient::{Body, Obj, Query};

const START_SECS: f64 = 5.0;
const STOP_SECS: f64 = 2.0;
const SIZES: &[&str] = &[
    "2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large",
    "4X-Large",
];
pub(crate) const STARTER_ID: &str = "a1b2c3d4e5f60718";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WState {
    Starting,
    Running,
    Stopping,
    Stopped,
    Deleted,
}

impl WState {
    fn api(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::Running => "RUNNING",
            Self::Stopping => "STOPPING",
            Self::Stopped => "STOPPED",
            Self::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Warehouse {
    pub id: String,
    spec: Map<String, Value>,
    pub state: WState,
    creator: String,
    generation: u64,
}

pub(crate) fn routes() -> Router<Shared> {
    let mut r = Router::new();
    // `sql/endpoints` is the old name of the same API.
    for base in ["/api/2.0/sql/warehouses", "/api/2.0/sql/endpoints"] {
        r = r
            .route(base, get(list).post(create))
            .route(&format!("{base}/"), get(list).post(create))
            .route(&format!("{base}/{{id}}"), get(get_one).delete(delete))
            .route(&format!("{base}/{{id}}/edit"), post(edit))
            .route(&format!("{base}/{{id}}/start"), post(start))
            .route(&format!("{base}/{{id}}/stop"), post(stop));
    }
    r
}

fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("Warehouse {id} does not exist."))
}

fn check_spec(body: &Obj, creating: bool) -> ApiResult<Map<String, Value>> {
    if creating {
        body.req_str("name")?;
    }
    let mut spec = body.cleaned();
    if let Some(size) = body.str("cluster_size")
        && !SIZES.contains(&size.as_str())
    {
        return Err(ApiError::invalid(format!(
            "Invalid cluster_size {size}; expected one of {}",
            SIZES.join(", ")
        )));
    }
    for k in ["min_num_clusters", "max_num_clusters", "auto_stop_mins"] {
        if let Some(n) = body.i64(k)? {
            spec.insert(k.into(), json!(n));
        }
    }
    let min = body.i64("min_num_clusters")?.unwrap_or(1);
    let max = body.i64("max_num_clusters")?.unwrap_or(min.max(1));
    if min < 1 || max < min {
        return Err(ApiError::invalid(format!(
            "max_num_clusters ({max}) must be >= min_num_clusters ({min}) >= 1"
        )));
    }
    if let Some(m) = body.i64("auto_stop_mins")?
        && m != 0
        && m < 10
        && !body.flag("enable_serverless_compute")?
    {
        return Err(ApiError::invalid(
            "auto_stop_mins must be 0 or at least 10 for a classic or pro warehouse",
        ));
    }
    spec.remove("id");
    Ok(spec)
}

impl Warehouse {
    fn render(&self, url: &str) -> Value {
        let mut m = self.spec.clone();
        let host = url
            .trim_start_matches("http://")
            .split(':')
            .next()
            .unwrap_or("127.0.0.1")
            .to_owned();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(80);
        m.insert("id".into(), json!(self.id));
        m.insert("state".into(), json!(self.state.api()));
        m.entry("cluster_size").or_insert(json!("X-Small"));
        m.entry("min_num_clusters").or_insert(json!(1));
        m.entry("max_num_clusters").or_insert(json!(1));
        m.entry("auto_stop_mins").or_insert(json!(120));
        m.entry("enable_serverless_compute").or_insert(json!(false));
        m.entry("enable_photon").or_insert(json!(true));
        m.entry("warehouse_type").or_insert(json!("PRO"));
        m.entry("spot_instance_policy")
            .or_insert(json!("COST_OPTIMIZED"));
        m.entry("channel")
            .or_insert(json!({"name": "CHANNEL_NAME_CURRENT"}));
        m.entry("tags").or_insert(json!({}));
        m.insert("creator_name".into(), json!(self.creator));
        let running = self.state == WState::Running;
        m.insert("num_clusters".into(), json!(if running { 1 } else { 0 }));
        m.insert("num_active_sessions".into(), json!(0));
        m.insert("health".into(), json!({"status": "HEALTHY", "summary": if running { "" } else { "Warehouse is not running" }}));
        m.insert(
            "odbc_params".into(),
            json!({"hostname": host, "path": format!("/sql/1.0/warehouses/{}", self.id), "port": port, "protocol": "http"}),
        );
        m.insert(
            "jdbc_url".into(),
            json!(format!("jdbc:databricks://{host}:{port}/default;transportMode=http;ssl=0;AuthMech=3;httpPath=/sql/1.0/warehouses/{}", self.id)),
        );
        Value::Object(m)
    }
}

pub(crate) fn seed_starter(state: &Shared) {
    let spec =
        json!({"name": "Starter Warehouse", "cluster_size": "X-Small", "auto_stop_mins": 120});
    let Value::Object(spec) = spec else { return };
    state.warehouses.insert(
        STARTER_ID.to_owned(),
        Warehouse {
            id: STARTER_ID.to_owned(),
            spec,
            state: WState::Running,
            creator: crate::auth::USER.into(),
            generation: 0,
        },
    );
}

/// Starts a warehouse (STARTING, later RUNNING) unless it is already up.
pub(crate) fn ensure_started(state: &Shared, id: &str) -> Option<WState> {
    let generation = state.warehouses.update(&id.to_owned(), |w| match w.state {
        WState::Stopped | WState::Stopping => {
            w.generation += 1;
            w.state = WState::Starting;
            Some(w.generation)
        }
        _ => None,
    })?;
    if let Some(g) = generation {
        let (st, id2) = (state.clone(), id.to_owned());
        state.spawn(async move {
            st.clock.sleep(START_SECS).await;
            st.warehouses.update(&id2, |w| {
                if w.generation == g && w.state == WState::Starting {
                    w.state = WState::Running;
                }
            });
        });
    }
    state.warehouses.read_with(&id.to_owned(), |w| w.state)
}

async fn list(State(state): State<Shared>, Query(q): Query) -> ApiResult<Json<Value>> {
    let mut all = state.warehouses.filter(|w| w.state != WState::Deleted);
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let size = q
        .i64("page_size")?
        .filter(|n| *n > 0)
        .map(|n| n as usize)
        .unwrap_or(all.len().max(1));
    let offset = match q.str("page_token").filter(|s| !s.is_empty()) {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("Invalid page_token: {t}")))?,
        None => 0,
    };
    let end = (offset + size).min(all.len());
    let page: Vec<Value> = all
        .get(offset.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(|w| w.render(&state.url))
        .collect();
    let mut out = json!({ "warehouses": page });
    if end < all.len() {
        out["next_page_token"] = json!(end.to_string());
    }
    Ok(Json(out))
}

async fn get_one(State(state): State<Shared>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    state
        .warehouses
        .read_with(&id, |w| w.render(&state.url))
        .map(Json)
        .ok_or_else(|| missing(&id))
}

async fn create(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let spec = check_spec(&body, true)?;
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    state.warehouses.insert(
        id.clone(),
        Warehouse {
            id: id.clone(),
            spec,
            state: WState::Stopped,
            creator: p.0,
            generation: 0,
        },
    );
    ensure_started(&state, &id);
    Ok(Json(json!({ "id": id })))
}

async fn edit(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let spec = check_spec(&body, false)?;
    state
        .warehouses
        .update(&id, |w| {
            for (k, v) in spec {
                w.spec.insert(k, v);
            }
        })
        .ok_or_else(|| missing(&id))?;
    Ok(Json(json!({})))
}

async fn start(State(state): State<Shared>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    match state.warehouses.read_with(&id, |w| w.state) {
        None | Some(WState::Deleted) => return Err(missing(&id)),
        _ => {}
    }
    ensure_started(&state, &id);
    Ok(Json(json!({})))
}

async fn stop(State(state): State<Shared>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let g = state
        .warehouses
        .update(&id, |w| match w.state {
            WState::Running | WState::Starting => {
                w.generation += 1;
                w.state = WState::Stopping;
                Some(w.generation)
            }
            _ => None,
        })
        .ok_or_else(|| missing(&id))?;
    if let Some(g) = g {
        let st = state.clone();
        state.spawn(async move {
            st.clock.sleep(STOP_SECS).await;
            st.warehouses.update(&id, |w| {
                if w.generation == g && w.state == WState::Stopping {
                    w.state = WState::Stopped;
                }
            });
        });
    }
    Ok(Json(json!({})))
}

async fn delete(State(state): State<Shared>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    state
        .warehouses
        .update(&id, |w| {
            w.generation += 1;
            w.state = WState::Deleted;
        })
        .ok_or_else(|| missing(&id))?;
    // A deleted warehouse answers DELETED for a while, then is gone.
    let st = state.clone();
    state.spawn(async move {
        st.clock.sleep(60.0).await;
        st.warehouses.remove(&id);
    });
    Ok(Json(json!({})))
}
