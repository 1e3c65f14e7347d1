//! Several Mortar nodes on one PostgreSQL: each process is a node with
//! roles (web, executor, scheduler), registered in the store with a
//! heartbeat. An execution under way is owned by one executor node; the
//! owner's heartbeat is its lease. Executor nodes claim unowned executions
//! and those of nodes whose lease ran out, and resume them through their
//! task runs' checkpoints, as crash recovery does. Nodes wake each other
//! with PostgreSQL's LISTEN/NOTIFY: new work, state changes (for live
//! pages and `?wait=true` on another node), kills, stored log lines.
//!
//! On SQLite there is one node and nothing to listen to; the same code
//! registers it, so the nodes page shows it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::executor::Executor;
use crate::ids::ExecutionId;
use crate::logs::LogPipeline;
use crate::state::State;
use crate::store::{NewNode, Store};

/// An unowned execution waits to be claimed (payload: its id).
pub const WORK: &str = "mortar_work";
/// An execution changed state (payload: `NODE ID STATE`).
pub const STATES: &str = "mortar_state";
/// An execution is to be killed by whichever node runs it (payload: its id).
pub const KILLS: &str = "mortar_kill";
/// Log lines of an execution were stored (payload: `NODE ID`).
pub const LOGS: &str = "mortar_logs";
/// A slot of a flow's concurrency limit freed (payload: `NAMESPACE FLOW`).
pub const SLOTS: &str = "mortar_slot";
/// A flow was saved or deleted: schedulers read the flows again (payload:
/// the process that changed it, for the logs).
pub const FLOWS: &str = "mortar_flows";

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serves the web app and the API.
    pub web: bool,
    /// Runs executions.
    pub executor: bool,
    /// Fires Schedule and Flow triggers.
    pub scheduler: bool,
}

impl Roles {
    pub const ALL: Self = Self {
        web: true,
        executor: true,
        scheduler: true,
    };

    /// `web,executor,scheduler`, or any non-empty subset.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut roles = Self {
            web: false,
            executor: false,
            scheduler: false,
        };
        for role in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            match role {
                "web" => roles.web = true,
                "executor" => roles.executor = true,
                "scheduler" => roles.scheduler = true,
                other => {
                    return Err(format!(
                        "--roles: unknown role {other:?}; the roles are web, executor and scheduler"
                    ));
                }
            }
        }
        if roles
            == (Self {
                web: false,
                executor: false,
                scheduler: false,
            })
        {
            return Err("--roles: give at least one of web, executor, scheduler".into());
        }
        Ok(roles)
    }

    pub fn names(self) -> Vec<String> {
        [
            ("web", self.web),
            ("executor", self.executor),
            ("scheduler", self.scheduler),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

/// This process as a node.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub id: String,
    pub roles: Roles,
    /// How often the node beats.
    pub heartbeat: Duration,
    /// How long a silent node keeps its executions.
    pub lease: Duration,
    /// How often an idle executor looks for work it was not told about.
    pub poll: Duration,
}

/// How long a silent node keeps its executions, unless told otherwise.
pub const LEASE: Duration = Duration::from_secs(10);

impl NodeSettings {
    /// A new node id and the default timings: a beat every 2 s, a lease of
    /// [`LEASE`], a look for work every 5 s when nothing wakes it.
    pub fn new(roles: Roles) -> Self {
        Self {
            id: this_process().to_owned(),
            roles,
            heartbeat: Duration::from_secs(2),
            lease: LEASE,
            poll: Duration::from_secs(5),
        }
    }

    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Registers the node and runs its heartbeat, its claims (executor nodes)
/// and its listener (PostgreSQL) until `stop` is cancelled; then marks the
/// node stopped, releasing what it owned.
pub async fn run(
    store: Store,
    executor: Executor,
    logs: std::sync::Arc<LogPipeline>,
    node: NodeSettings,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, crate::store::StoreError> {
    store
        .register_node(&NewNode {
            id: node.id.clone(),
            roles: node.roles.names(),
            host: hostname(),
            pid: i64::from(std::process::id()),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .await?;
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = match store
        .listen(&[WORK, STATES, KILLS, LOGS, SLOTS, FLOWS])
        .await?
    {
        Some(listener) => Some(tokio::spawn(listen(
            listener,
            store.clone(),
            executor.clone(),
            logs,
            node.id.clone(),
            wake.clone(),
            stop.clone(),
        ))),
        None => None,
    };
    // The lease is live while the last beat is younger than the lease time:
    // the claims look at it, the heartbeat keeps it.
    let last_beat = std::sync::Arc::new(std::sync::Mutex::new(tokio::time::Instant::now()));
    let beats = tokio::spawn(beat(
        store.clone(),
        executor.clone(),
        node.clone(),
        last_beat.clone(),
        stop.clone(),
    ));
    Ok(tokio::spawn(async move {
        let mut next_claim = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep_until(next_claim) => {}
            }
            let live = last_beat.lock().is_ok_and(|at| at.elapsed() < node.lease);
            if node.roles.executor && live {
                claim(&store, &executor, &node).await;
                executor.pump_all().await;
            }
            next_claim = tokio::time::Instant::now() + node.poll;
        }
        let _ = beats.await;
        if let Some(listener) = listener {
            listener.abort();
        }
    }))
}

/// Beats every `node.heartbeat`, on its own so that long claims never
/// delay it. After each beat, the walks of executions another node owns
/// now stop. A node that could not beat for a whole lease stops every
/// walk (others may have claimed them); once it beats again it releases
/// what it still owns, for whichever executor claims first.
async fn beat(
    store: Store,
    executor: Executor,
    node: NodeSettings,
    last_beat: std::sync::Arc<std::sync::Mutex<tokio::time::Instant>>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(node.heartbeat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lapsed = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match store.heartbeat(&node.id).await {
            Ok(true) => {
                if let Ok(mut at) = last_beat.lock() {
                    *at = tokio::time::Instant::now();
                }
                if lapsed {
                    match store.release_all(&node.id).await {
                        Ok(released) => {
                            tracing::warn!(node = %node.id, released, "this node beats again; it released what it owned for the executors to claim");
                            lapsed = false;
                            let _ = store.notify(WORK, "").await;
                        }
                        Err(error) => {
                            tracing::warn!(%error, node = %node.id, "cannot release this node's executions")
                        }
                    }
                    continue;
                }
                let running = executor.running_ids();
                if !running.is_empty()
                    && let Ok(lost) = store.lost_executions(&node.id, &running).await
                {
                    executor.stop_walks(lost.iter());
                }
            }
            Ok(false) => {
                tracing::error!(node = %node.id, "this node's record is gone or marked stopped")
            }
            Err(error) => tracing::warn!(%error, node = %node.id, "cannot renew this node's lease"),
        }
        let silent = last_beat
            .lock()
            .map_or(true, |at| at.elapsed() >= node.lease);
        if silent && !lapsed {
            tracing::error!(node = %node.id, "this node's lease ran out: it stops what it was running");
            executor.stop_walks(executor.running_ids().iter());
            lapsed = true;
        }
    }
}

/// Claims and starts what no live node runs, a batch at a time.
async fn claim(store: &Store, executor: &Executor, node: &NodeSettings) {
    loop {
        match store.claim_executions(&node.id, node.lease_ms(), 64).await {
            Ok(ids) if ids.is_empty() => return,
            Ok(ids) => {
                let count = ids.len();
                for id in ids {
                    if let Err(error) = executor.adopt(&id).await {
                        tracing::error!(%error, execution_id = %id, "cannot resume a claimed execution");
                    }
                }
                if count < 64 {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot claim executions");
                return;
            }
        }
    }
}

/// Relays what other nodes announce to this node's executor and log
/// followers.
async fn listen(
    mut listener: sqlx::postgres::PgListener,
    store: Store,
    executor: Executor,
    logs: std::sync::Arc<LogPipeline>,
    me: String,
    wake: std::sync::Arc<tokio::sync::Notify>,
    stop: CancellationToken,
) {
    loop {
        let notification = tokio::select! {
            () = stop.cancelled() => return,
            received = listener.recv() => received,
        };
        let notification = match notification {
            Ok(notification) => notification,
            Err(error) => {
                // PgListener reconnects by itself on the next recv; what
                // was sent meanwhile is caught by the periodic claim.
                tracing::warn!(%error, "the cluster listener lost its connection");
                tokio::time::sleep(Duration::from_millis(500)).await;
                wake.notify_one();
                // A flow change may have been missed: schedulers look again.
                store.flows_changed_elsewhere();
                continue;
            }
        };
        let payload = notification.payload();
        match notification.channel() {
            WORK => wake.notify_one(),
            KILLS => executor.kill_here(&ExecutionId::new(payload)),
            // Its own saves come back too: one more read of the flows.
            FLOWS => store.flows_changed_elsewhere(),
            SLOTS => {
                if let Some((namespace, flow)) = payload.split_once(' ') {
                    let key = (namespace.to_owned(), flow.to_owned());
                    let executor = executor.clone();
                    tokio::spawn(async move { executor.pump(&key).await });
                }
            }
            STATES => {
                let mut parts = payload.split(' ');
                if let (Some(node), Some(id), Some(state)) =
                    (parts.next(), parts.next(), parts.next())
                    && node != me
                    && let Some(state) = State::parse(state)
                {
                    executor.relay(ExecutionId::new(id), state);
                }
            }
            LOGS => {
                if let Some((node, id)) = payload.split_once(' ')
                    && node != me
                {
                    logs.poke(ExecutionId::new(id));
                }
            }
            _ => {}
        }
    }
}

/// This process's node id, made once.
pub fn this_process() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| crate::ids::ExecutionId::generate().to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}
