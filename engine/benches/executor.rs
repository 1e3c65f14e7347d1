//! Executor benchmarks on a durable SQLite store (WAL, a file in a temp
//! dir). Prints figures; asserts nothing. Run with
//! `cargo bench -p engine --bench executor`.
//!
//! - orchestration overhead per task: 40 sequential `debug.Return` tasks;
//! - trigger-to-SUCCESS latency of a one-task flow;
//! - executions per second of a two-task flow under 64 concurrent triggers;
//! - log lines per second, stored and delivered to a live follower.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::state::State;
use engine::storage::Storage;
use engine::store::{NewLog, Store};
use engine::task::{Runners, Services};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn setup() -> (Executor, LogPipeline, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let (pipeline, _) = LogPipeline::start(store.clone());
    let services = Services {
        store: store.clone(),
        storage: Storage::new(dir.path().join("storage")),
        logs: pipeline.sender(),
    };
    let executor = Executor::new(services, Runners::core(), Arc::new(|_: &str| None));
    (executor, pipeline, store, dir)
}

async fn run_once(executor: &Executor, plan: &Arc<Plan>) -> State {
    let record = executor
        .launch(Launch {
            id: None,
            plan: plan.clone(),
            flow_revision: 1,
            inputs: Default::default(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap();
    executor.wait(&record.id).await.unwrap()
}

fn flow_of(tasks: usize) -> Arc<Plan> {
    let mut yaml = String::from("id: bench\nnamespace: bench\ntasks:\n");
    for i in 0..tasks {
        yaml.push_str(&format!(
            "  - id: t{i}\n    type: debug.Return\n    format: \"value {i}\"\n"
        ));
    }
    Arc::new(Plan::from_yaml(&yaml).unwrap())
}

#[tokio::main]
async fn main() {
    let (executor, pipeline, _store, _dir) = setup().await;

    // 1. Overhead per task over 40 sequential tasks.
    let forty = flow_of(40);
    for _ in 0..3 {
        run_once(&executor, &forty).await;
    }
    let mut per_task = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        assert_eq!(run_once(&executor, &forty).await, State::Success);
        per_task.push(started.elapsed() / 40);
    }
    per_task.sort();
    println!(
        "orchestration overhead per task (40 sequential debug.Return, 30 runs): median {:.3} ms, p90 {:.3} ms",
        ms(percentile(&per_task, 0.5)),
        ms(percentile(&per_task, 0.9))
    );

    // 1b. A ForEach over many values: the time per value should stay flat
    // as the count grows (it grew with the count while every task copied
    // every output so far).
    for values in [2_000, 20_000] {
        let yaml = format!(
            "id: each\nnamespace: bench\ntasks:\n  - id: each\n    type: flow.ForEach\n    values: \"{{{{ range(1, {values}) }}}}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: step\n        type: debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n"
        );
        let plan = Arc::new(Plan::from_yaml(&yaml).unwrap());
        let started = Instant::now();
        assert_eq!(run_once(&executor, &plan).await, State::Success);
        let elapsed = started.elapsed();
        println!(
            "ForEach over {values} values (one debug.Return each): {:.2} s, {:.3} ms per value",
            elapsed.as_secs_f64(),
            ms(elapsed) / values as f64
        );
    }

    // 1c. 100,000 values one after the other (Kestra's default
    // concurrencyLimit of 1): the bound is a minute.
    {
        let values = 100_000;
        let yaml = format!(
            "id: each\nnamespace: bench\ntasks:\n  - id: each\n    type: flow.ForEach\n    values: \"{{{{ range(1, {values}) }}}}\"\n    tasks:\n      - id: step\n        type: debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n"
        );
        let plan = Arc::new(Plan::from_yaml(&yaml).unwrap());
        let started = Instant::now();
        assert_eq!(run_once(&executor, &plan).await, State::Success);
        let elapsed = started.elapsed();
        println!(
            "ForEach over {values} values one at a time (one debug.Return each): {:.2} s, {:.3} ms per value",
            elapsed.as_secs_f64(),
            ms(elapsed) / values as f64
        );
    }

    // 1d. A dense Dag: each of 300 tasks depends on every earlier one
    // (44,850 dependencies); scheduling is linear in tasks plus edges.
    {
        let n = 300;
        let mut yaml = String::from(
            "id: dag\nnamespace: bench\ntasks:\n  - id: dag\n    type: flow.Dag\n    tasks:\n",
        );
        for i in 0..n {
            yaml.push_str(&format!("      - task:\n          id: t{i}\n          type: debug.Return\n          format: \"{i}\"\n"));
            if i > 0 {
                let deps: Vec<String> = (0..i).map(|d| format!("t{d}")).collect();
                yaml.push_str(&format!("        dependsOn: [{}]\n", deps.join(", ")));
            }
        }
        let plan = Arc::new(Plan::from_yaml(&yaml).unwrap());
        let started = Instant::now();
        assert_eq!(run_once(&executor, &plan).await, State::Success);
        let elapsed = started.elapsed();
        println!(
            "dense Dag of {n} tasks (each depends on all earlier ones): {:.2} s, {:.3} ms per task",
            elapsed.as_secs_f64(),
            ms(elapsed) / n as f64
        );
    }

    // 2. Trigger to SUCCESS of a one-task flow.
    let one = flow_of(1);
    let mut latencies = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        assert_eq!(run_once(&executor, &one).await, State::Success);
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "trigger to SUCCESS, one-task flow (300 runs): p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99))
    );

    // 3. Two-task flow, 64 concurrent triggers.
    let two = flow_of(2);
    let total = 6_400;
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (executor, two) = (executor.clone(), two.clone());
        workers.spawn(async move {
            for _ in 0..total / 64 {
                assert_eq!(run_once(&executor, &two).await, State::Success);
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "two-task flow under 64 concurrent triggers: {total} executions in {:.2} s = {:.0} executions/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    // 4. Log lines stored and delivered live.
    let lines = 200_000;
    let mut live = pipeline.subscribe();
    let sender = pipeline.sender();
    let id = ExecutionId::new("bench-logs");
    let started = Instant::now();
    let follower = tokio::spawn(async move {
        let mut received = 0;
        while received < lines {
            match live.recv().await {
                Ok(line) if line.execution_id.as_str() == "bench-logs" => received += 1,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    panic!("the follower lagged by {n}")
                }
                Err(_) => break,
            }
        }
        received
    });
    for i in 0..lines {
        sender
            .send(NewLog {
                execution_id: id.clone(),
                task_run_id: None,
                task_id: None,
                attempt: None,
                level: Level::Info,
                at: 0,
                message: format!("line {i}"),
            })
            .await;
    }
    sender.flush().await;
    let stored = started.elapsed();
    let delivered = follower.await.unwrap();
    let all = started.elapsed();
    println!(
        "log lines: {lines} stored in {:.2} s = {:.0} lines/s; {delivered} delivered live in {:.2} s",
        stored.as_secs_f64(),
        lines as f64 / stored.as_secs_f64(),
        all.as_secs_f64()
    );
}
