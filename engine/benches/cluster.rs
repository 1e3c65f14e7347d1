//! Several nodes on PostgreSQL, against one node on SQLite. Starts its own
//! PostgreSQL with scripts/postgres.sh (fsync on) and prints:
//! - the orchestration overhead per task on PostgreSQL (40 sequential
//!   `debug.Return`, 30 runs), beside SQLite's;
//! - executions per second of a two-task flow launched by a web-only node
//!   (64 launchers) and run by 1, 2 and 3 executor nodes, each with its own
//!   connection pool, beside one node on SQLite.
//!
//! `MORTAR_BENCH_SYNCHRONOUS_COMMIT=off` runs PostgreSQL as SQLite's WAL
//! mode with synchronous=NORMAL runs: no flush of the log at each commit.
//! Figures go in BENCHMARKS.md; nothing is asserted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::cluster::{NodeSettings, Roles};
use engine::executor::{Executor, Launch, Settings};
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::secret_key::SecretKey;
use engine::state::State;
use engine::storage::Storage;
use engine::store::{Database, FlowSource, KeyChoice, Store};
use engine::task::{Runners, Services};
use tokio_util::sync::CancellationToken;

struct Postgres(PathBuf);

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

/// CPU seconds of the PostgreSQL server in `dir`: its postmaster and every
/// process it started.
fn postgres_cpu(dir: &Path) -> f64 {
    let Some(master) = std::fs::read_to_string(dir.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
    else {
        return 0.0;
    };
    let mut total = cpu_of(master);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')').and_then(|(_, rest)| {
                    rest.split_whitespace()
                        .nth(1)
                        .and_then(|p| p.parse::<u32>().ok())
                })
            });
        if parent == Some(master) {
            total += cpu_of(pid);
        }
    }
    total
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.0)
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh")
}

struct Node {
    executor: Executor,
    store: Store,
    _logs: Arc<LogPipeline>,
}

async fn node(
    database: &Database,
    dir: &Path,
    key: &SecretKey,
    roles: Roles,
    name: &str,
    stop: &CancellationToken,
) -> Node {
    let data_dir = dir.join(name);
    let store = Store::open_database(
        database,
        &data_dir,
        KeyChoice::Given {
            key: key.clone(),
            from: "the bench".into(),
        },
    )
    .await
    .unwrap();
    let (pipeline, _writer) = LogPipeline::start(store.clone());
    let logs = Arc::new(pipeline);
    let services = Services {
        store: store.clone(),
        storage: Storage::new(dir.join("storage")),
        logs: logs.sender(),
    };
    let settings = NodeSettings {
        id: name.to_owned(),
        ..NodeSettings::new(roles)
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
        store,
        _logs: logs,
    }
}

fn flow_of(tasks: usize) -> (String, Arc<Plan>) {
    let mut yaml = String::from("id: bench\nnamespace: bench\ntasks:\n");
    for i in 0..tasks {
        yaml.push_str(&format!(
            "  - id: t{i}\n    type: debug.Return\n    format: \"value {i}\"\n"
        ));
    }
    let plan = Arc::new(Plan::from_yaml(&yaml).unwrap());
    (yaml, plan)
}

async fn launch(executor: &Executor, plan: &Arc<Plan>, revision: i64) -> engine::ids::ExecutionId {
    let launch = Launch {
        id: None,
        plan: plan.clone(),
        flow_revision: revision,
        inputs: Default::default(),
        labels: Default::default(),
        trigger_vars: None,
    };
    executor.launch(launch).await.unwrap().id
}

/// Median and p90 of the overhead per task of a 40-task flow run on `node`.
async fn per_task(node: &Node, revision: i64) -> (f64, f64) {
    let (_, forty) = flow_of(40);
    let mut per_task = Vec::new();
    for round in 0..33 {
        let started = Instant::now();
        let id = launch(&node.executor, &forty, revision).await;
        assert_eq!(node.executor.wait(&id).await.unwrap(), State::Success);
        if round >= 3 {
            per_task.push(started.elapsed().as_secs_f64() * 1000.0 / 40.0);
        }
    }
    per_task.sort_by(f64::total_cmp);
    (
        per_task[per_task.len() / 2],
        per_task[per_task.len() * 9 / 10],
    )
}

/// Executions per second: `total` two-task executions launched by 64
/// concurrent launchers on `web`, until the last has ended.
async fn throughput(web: &Node, total: usize, revision: i64) -> f64 {
    let (_, two) = flow_of(2);
    let started = Instant::now();
    let mut launchers = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (executor, two) = (web.executor.clone(), two.clone());
        launchers.spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..total / 64 {
                ids.push(launch(&executor, &two, revision).await);
            }
            ids
        });
    }
    let mut ids = Vec::new();
    while let Some(done) = launchers.join_next().await {
        ids.extend(done.unwrap());
    }
    loop {
        if web.store.unfinished_executions().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    for id in ids.iter().step_by(97) {
        assert_eq!(
            web.store.get_execution(id).await.unwrap().unwrap().state,
            State::Success
        );
    }
    ids.len() as f64 / elapsed.as_secs_f64()
}

async fn save_flows(store: &Store) -> (i64, i64) {
    let forty = store
        .save_flow(&FlowSource {
            namespace: engine::ids::Namespace::new("bench"),
            id: engine::ids::FlowId::new("bench"),
            description: None,
            source: flow_of(40).0,
        })
        .await
        .unwrap();
    let two = store
        .save_flow(&FlowSource {
            namespace: engine::ids::Namespace::new("bench"),
            id: engine::ids::FlowId::new("bench"),
            description: None,
            source: flow_of(2).0,
        })
        .await
        .unwrap();
    (forty, two)
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

#[tokio::main]
async fn main() {
    let total = 3_008;
    let key = SecretKey::generate();
    let dir = tempfile::tempdir().unwrap();

    // One node on SQLite, every role: as `mortar serve`.
    {
        let stop = CancellationToken::new();
        let database = Database::Sqlite(None);
        let one = node(&database, dir.path(), &key, Roles::ALL, "sqlite", &stop).await;
        let (forty, two) = save_flows(&one.store).await;
        let (median, p90) = per_task(&one, forty).await;
        println!("SQLite, one node: overhead per task median {median:.3} ms, p90 {p90:.3} ms");
        let rate = throughput(&one, total, two).await;
        println!("SQLite, one node: {rate:.0} executions/s (two-task flow, {total} executions)");
        stop.cancel();
    }

    let pg_dir = PathBuf::from(format!("/tmp/mortar-bench-pg.{}", std::process::id()));
    let output = Command::new("bash")
        .arg(script())
        .arg("start")
        .arg(&pg_dir)
        .arg("--durable")
        .output()
        .unwrap();
    if !output.status.success() {
        println!(
            "no PostgreSQL (scripts/postgres.sh start failed: {}); the PostgreSQL figures are skipped",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return;
    }
    let postgres = Postgres(pg_dir);
    let mut url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let relaxed = std::env::var("MORTAR_BENCH_SYNCHRONOUS_COMMIT").is_ok_and(|v| v == "off");
    if relaxed {
        url.push_str("?options=-c%20synchronous_commit%3Doff");
    }
    let commit = if relaxed {
        "synchronous_commit off"
    } else {
        "fsync and synchronous_commit on"
    };
    let database = Database::Postgres(url);

    for executors in 1..=3 {
        let stop = CancellationToken::new();
        let web = node(
            &database,
            dir.path(),
            &key,
            Roles {
                web: true,
                executor: false,
                scheduler: false,
            },
            &format!("web-{executors}"),
            &stop,
        )
        .await;
        let mut nodes = Vec::new();
        for n in 0..executors {
            nodes.push(
                node(
                    &database,
                    dir.path(),
                    &key,
                    Roles {
                        web: false,
                        executor: true,
                        scheduler: false,
                    },
                    &format!("executor-{executors}-{n}"),
                    &stop,
                )
                .await,
            );
        }
        let (forty, two) = save_flows(&web.store).await;
        if executors == 1 {
            let (median, p90) = per_task(&nodes[0], forty).await;
            println!(
                "PostgreSQL ({commit}), one node: overhead per task median {median:.3} ms, p90 {p90:.3} ms"
            );
        }
        let (mortar_before, pg_before, wall) = (
            cpu_of(std::process::id()),
            postgres_cpu(&postgres.0),
            Instant::now(),
        );
        let rate = throughput(&web, total, two).await;
        let (mortar, pg, wall) = (
            cpu_of(std::process::id()) - mortar_before,
            postgres_cpu(&postgres.0) - pg_before,
            wall.elapsed().as_secs_f64(),
        );
        println!(
            "PostgreSQL ({commit}), a web node and {executors} executor node(s): {rate:.0} executions/s (two-task flow, {total} executions); \
             CPU over {wall:.1} s: Mortar {mortar:.1} s, PostgreSQL {pg:.1} s of {:.1} s on {} cores",
            wall * cores(),
            cores()
        );
        stop.cancel();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(nodes);
    }
}
