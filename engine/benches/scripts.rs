//! Script tasks with the Process runner: 400 sequential trivial tasks, as
//! the target and Windmill's published benchmark (400 lightweight
//! tasks) count them. Prints figures; asserts nothing. Run with
//! `cargo bench -p engine --bench scripts`.
//!
//! - 400 `shell.Commands` running `echo`;
//! - 400 `python.Script` printing one output by Kestra's protocol;
//! - where the time goes: a bare `sh -c echo` and `python3 -c print(1)`
//!   spawned 400 times with nothing else, against the flows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::executor::{Executor, Launch};
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::state::State;
use engine::storage::Storage;
use engine::store::Store;
use engine::task::{Runners, Services};

async fn setup() -> (Executor, LogPipeline, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let (pipeline, _) = LogPipeline::start(store.clone());
    let services = Services {
        store,
        storage: Storage::new(dir.path().join("storage")),
        logs: pipeline.sender(),
    };
    let executor = Executor::new(services, Runners::core(), Arc::new(|_: &str| None));
    (executor, pipeline, dir)
}

async fn run(executor: &Executor, yaml: &str) -> (State, Duration) {
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let started = Instant::now();
    let record = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Default::default(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap();
    let state = executor.wait(&record.id).await.unwrap();
    (state, started.elapsed())
}

fn flow(tasks: usize, task: &str) -> String {
    let mut yaml = String::from("id: bench\nnamespace: bench\ntasks:\n");
    for i in 0..tasks {
        yaml.push_str(&format!("  - id: t{i}\n{task}"));
    }
    yaml
}

fn spawn_many(program: &str, args: &[&str], times: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..times {
        let status = std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let (executor, _pipeline, _dir) = setup().await;
    let shell = flow(
        400,
        "    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo hello\n",
    );
    let python = flow(
        400,
        "    type: io.kestra.plugin.scripts.python.Script\n    script: |\n      print('::{\"outputs\": {\"n\": 1}}::')\n",
    );
    // Warm the caches (binaries, the store) once.
    run(&executor, &flow(10, "    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo hello\n")).await;
    let (state, shell_time) = run(&executor, &shell).await;
    assert_eq!(state, State::Success);
    println!(
        "400 shell.Commands (echo), sequential: {:.2} s ({:.1} ms per task)",
        shell_time.as_secs_f64(),
        shell_time.as_secs_f64() * 1000.0 / 400.0
    );
    let (state, python_time) = run(&executor, &python).await;
    assert_eq!(state, State::Success);
    println!(
        "400 python.Script (one output), sequential: {:.2} s ({:.1} ms per task)",
        python_time.as_secs_f64(),
        python_time.as_secs_f64() * 1000.0 / 400.0
    );
    let sh = spawn_many("/bin/sh", &["-c", "echo hello"], 400);
    println!(
        "400 bare `sh -c 'echo hello'` spawns: {:.2} s ({:.1} ms each)",
        sh.as_secs_f64(),
        sh.as_secs_f64() * 1000.0 / 400.0
    );
    // The interpreter the tasks run: python3's real executable (past a
    // version manager's shim), as the task resolves it.
    let real = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_owned();
    let py = spawn_many(&real, &["-c", "print(1)"], 400);
    println!(
        "400 bare `{real} -c print(1)` spawns: {:.2} s ({:.1} ms each)",
        py.as_secs_f64(),
        py.as_secs_f64() * 1000.0 / 400.0
    );
    println!(
        "orchestration and the working directory, per task: shell {:.1} ms, python {:.1} ms",
        (shell_time.as_secs_f64() - sh.as_secs_f64()) * 1000.0 / 400.0,
        (python_time.as_secs_f64() - py.as_secs_f64()) * 1000.0 / 400.0
    );
}
