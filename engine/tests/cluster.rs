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
    let services = Services { store: store.clone(), storage: Storage::new(dir.join("storage")), logs: logs.sender() };
    let settings = NodeSettings { id: id.to_owned(), poll: Duration::from_millis(100), ..NodeSettings::new(Roles::ALL) };
    let executor = Executor::with_settings(services, Runners::core(), Arc::new(|_: &str| None), Settings { node: Some(settings.clone()), ..Settings::default() });
    engine::cluster::run(store.clone(), executor.clone(), logs.clone(), settings, stop.clone()).await.unwrap();
    Node { executor, _logs: logs }
}

async fn launch(executor: &Executor, plan: &Arc<Plan>) -> ExecutionId {
    let launch = Launch { id: None, plan: plan.clone(), flow_revision: 1, inputs: Default::default(), labels: Default::default(), trigger_vars: None };
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
                let started = execution.histories.iter().find(|h| h.state == State::Running).unwrap().date;
                spans.push((started, execution.ended_at.unwrap()));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{id} did not end: {execution:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // At no instant do more than two run, whichever node runs them.
    for &(start, _) in &spans {
        let at_once = spans.iter().filter(|(s, e)| *s <= start && start < *e).count();
        assert!(at_once <= 2, "{at_once} ran at once: {spans:?}");
    }
    // And the limit did not serialise them more than it says: both slots
    // were used at some point.
    assert!(spans.iter().any(|&(start, _)| spans.iter().filter(|(s, e)| *s <= start && start < *e).count() == 2), "{spans:?}");
    stop.cancel();
}
