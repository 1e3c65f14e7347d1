//! Two executor nodes in one process on one store (SQLite, or PostgreSQL
//! in the test command's second pass): what the store makes hold across
//! nodes without a web server in the way.

use std::sync::Arc;
use std::time::Duration;

use engine::cluster::{NodeSettings, Roles};
use engine::executor::{Executor, Launch, Settings};
use engine::ids::ExecutionId;
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::state::State;
use engine::storage::Storage;
use engine::store::Store;
use engine::task::{Runners, Services};
use tokio_util::sync::CancellationToken;

struct Node {
    executor: Executor,
    _logs: Arc<LogPipeline>,
}

async fn node(store: &Store, dir: &std::path::Path, id: &str, stop: &CancellationToken) -> Node {
    let (pipeline, _writer) = LogPipeline::start(store.clone());
    let logs = Arc::new(pipeline);
    let services = Services {
        store: store.clone(),
        storage: Storage::new(dir.join("storage")),
        logs: logs.sender(),
    };
    let settings = NodeSettings {
        id: id.to_owned(),
        poll: Duration::from_millis(100),
        ..NodeSettings::new(Roles::ALL)
    };
    let executor = Executor::with_settings(
        services,
        Runners::core(),
        Arc::new(|_: &str| None),
        Settings {
            node: Some(settings.clone()),
            ..Settings::default()
        },
    );
    engine::cluster::run(
        store.clone(),
        executor.clone(),
        logs.clone(),
        settings,
        stop.clone(),
    )
    .await
    .unwrap();
    Node {
        executor,
        _logs: logs,
    }
}

async fn launch(executor: &Executor, plan: &Arc<Plan>) -> ExecutionId {
    let launch = Launch {
        id: None,
        plan: plan.clone(),
        flow_revision: 1,
        inputs: Default::default(),
        labels: Default::default(),
        trigger_vars: None,
    };
    executor.launch(launch).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flows_concurrency_limit_holds_across_executor_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::scratch_in(dir.path()).await.unwrap();
    let stop = CancellationToken::new();
    let a = node(&store, dir.path(), "node-a", &stop).await;
    let b = node(&store, dir.path(), "node-b", &stop).await;
    let plan = Arc::new(
        Plan::from_yaml("id: limited\nnamespace: t\nconcurrency:\n  limit: 2\ntasks:\n  - id: nap\n    type: flow.Sleep\n    duration: PT0.3S\n")
            .unwrap(),
    );
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(launch(&a.executor, &plan).await);
        ids.push(launch(&b.executor, &plan).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut spans = Vec::new();
    for id in &ids {
        loop {
            let execution = store.get_execution(id).await.unwrap().unwrap();
            if execution.state.is_terminal() {
                assert_eq!(execution.state, State::Success, "{id}");
                let started = execution
                    .histories
                    .iter()
                    .find(|h| h.state == State::Running)
                    .unwrap()
                    .date;
                spans.push((started, execution.ended_at.unwrap()));
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} did not end: {execution:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // At no instant do more than two run, whichever node runs them.
    for &(start, _) in &spans {
        let at_once = spans
            .iter()
            .filter(|(s, e)| *s <= start && start < *e)
            .count();
        assert!(at_once <= 2, "{at_once} ran at once: {spans:?}");
    }
    // And the limit did not serialise them more than it says: both slots
    // were used at some point.
    assert!(
        spans.iter().any(|&(start, _)| spans
            .iter()
            .filter(|(s, e)| *s <= start && start < *e)
            .count()
            == 2),
        "{spans:?}"
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_saved_through_one_node_wakes_the_scheduler_of_another() {
    let dir = tempfile::tempdir().unwrap();
    // Two handles (two pools) on the same database: two nodes.
    let scheduler_store = Store::scratch_in(dir.path()).await.unwrap();
    if !scheduler_store.is_postgres() {
        // One process per SQLite database: nothing to tell another node.
        return;
    }
    let web_store = Store::scratch_in(dir.path()).await.unwrap();
    let stop = CancellationToken::new();
    let scheduler = node(&scheduler_store, dir.path(), "node-scheduler", &stop).await;
    let _scheduling = engine::scheduler::spawn(
        scheduler_store.clone(),
        scheduler.executor.clone(),
        stop.clone(),
    );
    // Let the scheduler read the (empty) flows and go to sleep.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Saved through the other node: its schedule's missed ticks since the
    // backfill start fire at once, if the scheduler heard of it.
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(3);
    let source = format!(
        "id: ticking\nnamespace: t\ntriggers:\n  - id: every_minute\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * *\"\n    backfill:\n      start: \"{start}\"\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    );
    let header = engine::header::checked(&source).unwrap();
    web_store
        .save_flow(&engine::store::FlowSource {
            namespace: header.namespace,
            id: header.id,
            description: None,
            source,
        })
        .await
        .unwrap();

    let filter = engine::store::ExecutionFilter {
        namespace: Some("t".into()),
        flow_id: Some("ticking".into()),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = web_store
            .search_executions(&filter, 1, 10)
            .await
            .unwrap()
            .total;
        if found >= 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other node's scheduler fired {found} of the 3 missed ticks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
}
