//! The nodes of the deployment: who runs, with which roles, when each last
//! beat, and how many executions each runs.

use axum::Json;
use axum::extract::State;
use engine::auth::Role;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// One node.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeJson {
    id: String,
    /// `web`, `executor`, `scheduler`.
    roles: Vec<String>,
    host: String,
    pid: i64,
    version: String,
    started: String,
    last_heartbeat: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<String>,
    /// Beating within its lease, and not stopped.
    alive: bool,
    /// Executions under way this node runs.
    running: i64,
    /// The ids of the oldest of them (up to 20).
    executions: Vec<String>,
}

/// `GET /api/v1/cluster/nodes`: the nodes seen in the last day, newest
/// first (admins).
#[utoipa::path(get, path = "/api/v1/cluster/nodes", tag = "cluster",
    responses((status = 200, body = Vec<NodeJson>), (status = 403, body = crate::error::ErrorJson)))]
pub(crate) async fn nodes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<NodeJson>>, ApiError> {
    caller.require(Role::Admin, None)?;
    let nodes = state.store.nodes().await?;
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        let executions = if n.running > 0 {
            state.store.owned_executions(&n.id, 20).await?
        } else {
            Vec::new()
        };
        out.push(NodeJson {
            alive: n.alive(),
            executions: executions.into_iter().map(|id| id.to_string()).collect(),
            id: n.id,
            roles: n.roles,
            host: n.host,
            pid: n.pid,
            version: n.version,
            started: super::model::iso(n.started_at),
            last_heartbeat: super::model::iso(n.heartbeat_at),
            stopped: n.stopped_at.map(super::model::iso),
            running: n.running,
        });
    }
    Ok(Json(out))
}
