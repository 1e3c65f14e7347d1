//! Kestra's script tasks run by the executor on this machine: shell,
//! Python and Node, Kestra's output protocol, files in and out, stderr as
//! WARNING, failure, kill and timeout ending the process group, the
//! Docker runner refusing to fall back to the host, Python dependencies.

use std::sync::Arc;
use std::time::Duration;

use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::plan::Plan;
use engine::state::State;
use engine::store::TaskRunRecord;
use engine::task::Runners;
use serde_json::{Map, Value, json};

mod support;
use support::{Harness, harness};

fn executor(h: &Harness) -> Executor {
    Executor::new(
        h.services.clone(),
        Runners::core(),
        Arc::new(|_: &str| None),
    )
}

async fn start(executor: &Executor, yaml: &str) -> ExecutionId {
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Map::new(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id
}

async fn run(h: &Harness, yaml: &str) -> (State, Vec<TaskRunRecord>, ExecutionId) {
    let executor = executor(h);
    let id = start(&executor, yaml).await;
    let state = tokio::time::timeout(Duration::from_secs(60), executor.wait(&id))
        .await
        .expect("the execution ends")
        .unwrap();
    (state, h.store.task_runs(&id).await.unwrap(), id)
}

fn outputs(runs: &[TaskRunRecord], task: &str) -> Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .and_then(|r| r.outputs.clone())
        .unwrap_or_else(|| panic!("no outputs of {task}: {runs:#?}"))
}

fn state_of(runs: &[TaskRunRecord], task: &str) -> State {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .unwrap_or_else(|| panic!("no task run {task}"))
        .state
}

async fn logs(h: &Harness, id: &ExecutionId) -> Vec<(Level, String)> {
    h.services.logs.flush().await;
    h.store
        .logs(id, Level::Trace, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.level, l.message))
        .collect()
}

#[tokio::test]
async fn shell_commands_log_their_lines_and_set_outputs_by_kestras_protocol() {
    let h = harness().await;
    let yaml = r#"
id: shell
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    env:
      GREETING: "hello from {{ flow.id }}"
    beforeCommands:
      - export SUFFIX=!
    commands:
      - echo "$GREETING$SUFFIX"
      - 'echo "::{\"outputs\":{\"rows\":42,\"name\":\"ann\"}}::"'
      - 'echo "::{\"outputs\":{\"more\":true},\"metrics\":[{\"name\":\"rows\",\"type\":\"counter\",\"value\":42}]}::"'
      - echo "{{ workingDir }}" > where.txt
      - echo done > result.csv
    outputFiles:
      - "*.csv"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.hello.vars.rows }} {{ outputs.hello.vars.name }} {{ outputs.hello.exitCode }} {{ read(outputs.hello.outputFiles['result.csv']) | trim }}"
"#;
    let (state, runs, id) = run(&h, yaml).await;
    assert_eq!(state, State::Success, "{:?}", logs(&h, &id).await);
    assert_eq!(outputs(&runs, "after")["value"], "42 ann 0 done");
    assert_eq!(
        outputs(&runs, "hello")["vars"],
        json!({"rows": 42, "name": "ann", "more": true})
    );
    let lines = logs(&h, &id).await;
    assert!(
        lines.contains(&(Level::Info, "hello from shell!".into())),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|(_, m)| !m.starts_with("::{")),
        "protocol lines are not logged: {lines:?}"
    );
    let (metrics, _) = h
        .store
        .execution_metrics(&id, &Default::default())
        .await
        .unwrap();
    assert_eq!(metrics.len(), 1);
    assert_eq!(metrics[0].metric.value, 42.0);
}

#[tokio::test]
async fn stderr_ends_warning_unless_told_and_a_failing_command_fails_with_its_exit_code() {
    let h = harness().await;
    let yaml = r#"
id: stderr
namespace: company.team
tasks:
  - id: noisy
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "careful" >&2
  - id: quiet
    type: io.kestra.plugin.scripts.shell.Commands
    warningOnStdErr: false
    commands:
      - echo "careful" >&2
"#;
    let (state, runs, id) = run(&h, yaml).await;
    assert_eq!(state, State::Warning);
    assert_eq!(state_of(&runs, "noisy"), State::Warning);
    assert_eq!(state_of(&runs, "quiet"), State::Success);
    assert!(
        logs(&h, &id)
            .await
            .contains(&(Level::Error, "careful".into()))
    );

    let failing = "id: failing\nnamespace: company.team\ntasks:\n  - id: bad\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo first\n      - exit 3\n      - echo never\n";
    let (state, _, id) = run(&h, failing).await;
    assert_eq!(state, State::Failed);
    let lines = logs(&h, &id).await;
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("Command failed with exit code 3")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|(_, m)| m != "never"),
        "set -e stops at the failure"
    );
}

#[tokio::test]
async fn python_and_node_scripts_run_and_read_internal_storage_files() {
    let h = harness().await;
    let yaml = r#"
id: languages
namespace: company.team
tasks:
  - id: data
    type: io.kestra.plugin.core.storage.Write
    content: "a,b\n1,2\n"
    extension: .csv
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import json
      flag = {{ true }}
      with open("{{ outputs.data.uri }}") as f:
          rows = f.read().splitlines()
      print("::" + json.dumps({"outputs": {"rows": len(rows), "flag": flag}}) + "::")
  - id: js
    type: io.kestra.plugin.scripts.node.Script
    script: |
      console.log('::' + JSON.stringify({outputs: {sum: 1 + 2}}) + '::');
  - id: sdk
    type: io.kestra.plugin.scripts.python.Script
    script: |
      from kestra import Kestra
      Kestra.outputs({"xml": "<root/>"})
      Kestra.counter("rows", 7, {"table": "t"})
      Kestra.timer("load", 1.5)
      Kestra.logger().warning("careful")
  - id: pycmd
    type: io.kestra.plugin.scripts.python.Commands
    inputFiles:
      main.py: |
        print("::{\"outputs\": {\"from\": \"main.py\"}}::")
    commands:
      - python main.py
"#;
    let (state, runs, id) = run(&h, yaml).await;
    assert_eq!(state, State::Success, "{:?}", logs(&h, &id).await);
    assert_eq!(
        outputs(&runs, "py")["vars"],
        json!({"rows": 2, "flag": true})
    );
    assert_eq!(outputs(&runs, "js")["vars"], json!({"sum": 3}));
    assert_eq!(outputs(&runs, "pycmd")["vars"], json!({"from": "main.py"}));
    // The kestra module without installing it: outputs, metrics, logs.
    assert_eq!(outputs(&runs, "sdk")["vars"], json!({"xml": "<root/>"}));
    let (metrics, _) = h
        .store
        .execution_metrics(&id, &Default::default())
        .await
        .unwrap();
    let seen: Vec<(String, f64)> = metrics
        .iter()
        .map(|m| (m.metric.name.clone(), m.metric.value))
        .collect();
    assert_eq!(
        seen,
        [("rows".to_owned(), 7.0), ("load".to_owned(), 1500.0)]
    );
    assert_eq!(metrics[0].metric.tags["table"], "t");
    assert!(
        logs(&h, &id)
            .await
            .contains(&(Level::Warn, "careful".into()))
    );
}

#[tokio::test]
async fn a_kill_ends_the_whole_process_group_and_a_timeout_too() {
    let h = harness().await;
    let marker = tempfile::tempdir().unwrap();
    let pidfile = marker.path().join("child.pid");
    let yaml = format!(
        "id: long\nnamespace: company.team\ntasks:\n  - id: sleepy\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - sleep 300 &\n      - echo $! > {}\n      - sleep 300\n",
        pidfile.display()
    );
    let executor = executor(&h);
    let id = start(&executor, &yaml).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the commands never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    executor.kill(&id).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(20), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Killed);
    assert!(
        gone(child).await,
        "the background sleep {child} was left running"
    );

    let pidfile = marker.path().join("timeout.pid");
    let timed = format!(
        "id: timed\nnamespace: company.team\ntasks:\n  - id: sleepy\n    type: io.kestra.plugin.scripts.shell.Commands\n    timeout: PT1S\n    commands:\n      - sleep 300 &\n      - echo $! > {}\n      - sleep 300\n",
        pidfile.display()
    );
    let (state, _, _) = run(&h, &timed).await;
    assert_eq!(state, State::Failed);
    let child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        gone(child).await,
        "the timed-out background sleep {child} was left running"
    );
}

/// Whether process `pid` has ended (or become a zombie) within 5 s.
async fn gone(pid: i32) -> bool {
    for _ in 0..100 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn the_docker_runner_without_an_engine_fails_naming_the_image_and_never_runs_on_the_host() {
    let h = harness().await;
    let marker = tempfile::tempdir().unwrap();
    let touched = marker.path().join("ran-on-host");
    let yaml = format!(
        "id: docker\nnamespace: company.team\ntasks:\n  - id: boxed\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: alpine:3.20\n    taskRunner:\n      type: io.kestra.plugin.scripts.runner.docker.Docker\n      host: unix:///nonexistent/docker.sock\n    commands:\n      - touch {}\n",
        touched.display()
    );
    let (state, _, id) = run(&h, &yaml).await;
    assert_eq!(state, State::Failed);
    let lines = logs(&h, &id).await;
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("needs a Docker engine to run the image alpine:3.20")),
        "{lines:?}"
    );
    assert!(!touched.exists(), "the commands ran on the host");
}

#[tokio::test]
async fn python_dependencies_are_installed_once_and_reused() {
    let h = harness().await;
    // A set no earlier run installed: the exclusion of a version that does
    // not exist changes nothing pip picks, only the set's key.
    let unique = format!("six==1.16.0,!=0.0.{}", std::process::id());
    let yaml = format!(
        "id: deps\nnamespace: company.team\ntasks:\n  - id: py\n    type: io.kestra.plugin.scripts.python.Script\n    dependencies:\n      - \"{unique}\"\n    script: |\n      import six\n      print('::{{\"outputs\": {{\"six\": \"%s\"}}}}::' % six.__version__)\n"
    );
    let yaml = yaml.as_str();
    let (state, runs, id) = run(&h, yaml).await;
    let first = logs(&h, &id).await;
    assert_eq!(state, State::Success, "{first:?}");
    assert_eq!(outputs(&runs, "py")["vars"]["six"], "1.16.0");
    assert!(
        first
            .iter()
            .any(|(_, m)| m.starts_with(&format!("installing {unique} with pip"))),
        "{first:?}"
    );
    let (state, _, id) = run(&h, yaml).await;
    assert_eq!(state, State::Success);
    let second = logs(&h, &id).await;
    assert!(
        second.iter().all(|(_, m)| !m.starts_with("installing")),
        "reused: {second:?}"
    );
}
