//! The nodes page (admins): every Mortar process on the database, its
//! roles, its last heartbeat and what it runs. Also at
//! `GET /api/v1/cluster/nodes`.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::time::format_utc;

/// A node as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRow {
    pub id: String,
    pub roles: Vec<String>,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// `alive`, `silent` (no heartbeat within the lease) or `stopped`.
    pub status: String,
    pub running: i64,
    /// The oldest executions it runs (up to 10).
    pub executions: Vec<String>,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "read_nodes")]
pub async fn read_nodes() -> Result<Vec<NodeRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Admin, None)?;
    let store = crate::context::store()?;
    let nodes = store
        .nodes()
        .await
        .map_err(|e| crate::context::failed("reading the nodes", e))?;
    let mut rows = Vec::with_capacity(nodes.len());
    for node in nodes {
        let executions = match node.running {
            0 => Vec::new(),
            _ => store
                .owned_executions(&node.id, 10)
                .await
                .map_err(|e| crate::context::failed("reading the nodes", e))?,
        };
        let status = match (node.stopped_at, node.alive()) {
            (Some(_), _) => "stopped",
            (None, true) => "alive",
            (None, false) => "silent",
        };
        rows.push(NodeRow {
            status: status.to_owned(),
            executions: executions.into_iter().map(|id| id.to_string()).collect(),
            id: node.id,
            roles: node.roles,
            host: node.host,
            pid: node.pid,
            version: node.version,
            started_at: node.started_at,
            heartbeat_at: node.heartbeat_at,
            running: node.running,
        });
    }
    Ok(rows)
}

#[component]
pub(crate) fn NodesPage() -> impl IntoView {
    let nodes = Resource::new(|| (), |()| read_nodes());
    view! {
        <Title text="Nodes" />
        <div class="page-header">
            <h1>"Nodes"</h1>
            <p class="muted">
                "Every Mortar process on this database, newest first: its roles, its last heartbeat and the executions it runs. "
                "A node silent for longer than its lease loses its executions to the other executor nodes. Also at "
                <code>"GET /api/v1/cluster/nodes"</code> "."
            </p>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    nodes.await.map(|rows| view! {
                        <table class="data-table" data-testid="nodes">
                            <caption class="visually-hidden">"Nodes, newest first"</caption>
                            <thead><tr>
                                <th scope="col">"Node"</th><th scope="col">"Roles"</th><th scope="col">"Host (PID)"</th>
                                <th scope="col">"Status"</th><th scope="col">"Last heartbeat (UTC)"</th><th scope="col">"Started (UTC)"</th>
                                <th scope="col">"Running"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| {
                                    let status_class = format!("badge node-{}", row.status);
                                    view! {
                                        <tr>
                                            <td class="mono" title=row.version.clone()>{row.id}</td>
                                            <td>{row.roles.join(", ")}</td>
                                            <td class="mono">{format!("{} ({})", row.host, row.pid)}</td>
                                            <td><span class=status_class>{row.status}</span></td>
                                            <td class="nowrap">{format_utc(row.heartbeat_at)}</td>
                                            <td class="nowrap">{format_utc(row.started_at)}</td>
                                            <td>
                                                {row.running}
                                                {(!row.executions.is_empty()).then(|| view! {
                                                    <ul class="node-executions">
                                                        {row.executions.into_iter().map(|id| view! {
                                                            <li><a class="mono" href=format!("/executions/{id}")>{id.clone()}</a></li>
                                                        }).collect_view()}
                                                    </ul>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}
