//! The executor over a real SQLite store: flowables, failures, retries,
//! timeouts, kill with the cancel hook, recovery after a stop, restart.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::executor::{ExecutionError, Executor, Launch};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::plan::Plan;
use engine::state::State;
use engine::store::TaskRunRecord;
use engine::task::{Outputs, Runner, Runners, TaskContext, TaskError};
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

mod support;
use support::{Harness, harness};

fn executor(h: &Harness, runners: Runners) -> Executor {
    Executor::new(
        h.services.clone(),
        runners,
        Arc::new(|name: &str| (name == "PASSWORD").then(|| "hunter2".to_owned())),
    )
}

async fn launch(
    executor: &Executor,
    yaml: &str,
    inputs: Value,
) -> Result<ExecutionId, ExecutionError> {
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let inputs: Map<String, Value> = inputs.as_object().cloned().unwrap_or_default();
    let record = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs,
            labels: Default::default(),
            trigger_vars: None,
        })
        .await?;
    Ok(record.id)
}

async fn run(
    h: &Harness,
    runners: Runners,
    yaml: &str,
    inputs: Value,
) -> (State, Vec<TaskRunRecord>, ExecutionId) {
    let executor = executor(h, runners);
    let id = launch(&executor, yaml, inputs).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(20), executor.wait(&id))
        .await
        .expect("the execution ends")
        .unwrap();
    (state, h.store.task_runs(&id).await.unwrap(), id)
}

fn state_of(runs: &[TaskRunRecord], task: &str) -> State {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .unwrap_or_else(|| panic!("no task run {task}"))
        .state
}

async fn messages(h: &Harness, id: &ExecutionId) -> Vec<String> {
    h.services.logs.flush().await;
    h.store
        .logs(id, Level::Trace, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect()
}

#[tokio::test]
async fn the_hello_world_blueprint_succeeds_with_its_outputs_and_logs() {
    let h = harness().await;
    let source = engine::blueprints::all()
        .into_iter()
        .find(|b| b.header.id.as_str() == "hello_world")
        .unwrap()
        .source;
    let (state, runs, id) = run(&h, Runners::core(), source, json!({"name": "Mortar"})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert!(runs.iter().all(|r| r.state == State::Success), "{runs:#?}");
    let logs = messages(&h, &id).await;
    assert!(logs.iter().any(|m| m.contains("Mortar")), "{logs:?}");
}

#[tokio::test]
async fn outputs_flow_between_tasks_and_inside_foreach() {
    let h = harness().await;
    let yaml = r#"
id: outputs
namespace: test
inputs:
  - id: n
    type: INT
tasks:
  - id: first
    type: debug.Return
    format: "{{ inputs.n * 2 }}"
  - id: each
    type: flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: per_value
        type: debug.Return
        format: "{{ taskrun.value }}-{{ outputs.first.value }}"
  - id: after
    type: debug.Return
    format: "{{ outputs.per_value.b.value }}"
outputs:
  - id: final
    value: "{{ outputs.after.value }}"
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({"n": "21"})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let output = |task: &str, value: Option<&str>| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task && r.value.as_deref() == value)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    assert_eq!(
        output("first", None)["value"],
        "42",
        "Return gives text, as Kestra's Property<String>"
    );
    assert_eq!(output("per_value", Some("a"))["value"], "a-42");
    assert_eq!(output("after", None)["value"], "b-42");
    let execution = h.store.get_execution(&id).await.unwrap().unwrap();
    assert_eq!(execution.outputs["final"], "b-42");
    assert_eq!(execution.inputs["n"], 21);
}

#[tokio::test]
async fn echo_output_values_assert_and_the_older_each_tasks_run_as_kestra_runs_them() {
    let h = harness().await;
    let yaml = r#"
id: core_more
namespace: test
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    format: "echo {{ flow.id }}"
    level: WARN
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      count: "{{ 1 + 2 }}"
      name: "x-{{ flow.namespace }}"
      list: [1, 2]
  - id: check
    type: io.kestra.plugin.core.execution.Assert
    conditions:
      - "{{ outputs.values.values.count == '3' }}"
      - "{{ outputs.values.values.name }}"
      - "true"
  - id: seq
    type: io.kestra.plugin.core.flow.EachSequential
    value: ["a", "b"]
    tasks:
      - id: s
        type: debug.Return
        format: "{{ taskrun.value }}!"
  - id: par
    type: io.kestra.plugin.core.flow.EachParallel
    value: '["c", "d", "e"]'
    concurrent: 2
    tasks:
      - id: p
        type: debug.Return
        format: "{{ taskrun.value }}?"
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let output = |task: &str, value: Option<&str>| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task && r.value.as_deref() == value)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    // Kestra renders a value written as a template to text: "3", not 3.
    assert_eq!(
        output("values", None)["values"],
        json!({"count": "3", "name": "x-test", "list": [1, 2]})
    );
    assert_eq!(output("s", Some("b"))["value"], "b!");
    assert_eq!(output("p", Some("e"))["value"], "e?");
    assert_eq!(runs.iter().filter(|r| r.task_id.as_str() == "p").count(), 3);
    h.services.logs.flush().await;
    let warned = h.store.logs(&id, Level::Warn, 0, 100).await.unwrap();
    assert!(
        warned
            .iter()
            .any(|l| l.message == "echo core_more" && l.level == Level::Warn),
        "{warned:?}"
    );

    // Kestra's falsy texts are false, 0, -0 and the empty string; each
    // failed condition is logged as written, and the failure counts them.
    let failing = r#"
id: asserts
namespace: test
tasks:
  - id: check
    type: execution.Assert
    conditions:
      - "{{ 1 + 1 == 3 }}"
      - "-0"
      - "no"
      - ""
    errorMessage: "the totals are off"
"#;
    let (state, runs, id) = run(&h, Runners::core(), failing, json!({})).await;
    assert_eq!(state, State::Failed, "{runs:#?}");
    let logs = messages(&h, &id).await;
    assert!(
        logs.iter()
            .any(|m| m == "Assertion `{{ 1 + 1 == 3 }}` failed!"),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|m| m == "Assertion `-0` failed!"),
        "{logs:?}"
    );
    assert!(
        !logs.iter().any(|m| m == "Assertion `no` failed!"),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|m| m.contains("3 assertions failed!\nthe totals are off")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn storage_tasks_write_measure_join_reverse_and_delete_files() {
    let h = harness().await;
    let yaml = r#"
id: files
namespace: test
tasks:
  - id: each
    type: flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: write
        type: io.kestra.plugin.core.storage.Write
        content: "line1-{{ taskrun.value }}\nline2-{{ taskrun.value }}\n"
        extension: .txt
  - id: size
    type: storage.Size
    uri: "{{ outputs.write.a.uri }}"
  - id: concat
    type: storage.Concat
    files: ["{{ outputs.write.a.uri }}", "{{ outputs.write.b.uri }}"]
    separator: "--\n"
    extension: .txt
  - id: reverse
    type: storage.Reverse
    from: "{{ outputs.concat.uri }}"
  - id: delete
    type: storage.Delete
    uri: "{{ outputs.write.b.uri }}"
  - id: again
    type: storage.Delete
    uri: "{{ outputs.write.b.uri }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let output = |task: &str, value: Option<&str>| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task && r.value.as_deref() == value)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    let storage = h
        .services
        .storage
        .for_namespace(&engine::ids::Namespace::new("test"));
    let read = |uri: &Value| {
        std::fs::read_to_string(storage.path_of(uri.as_str().unwrap()).unwrap()).unwrap()
    };
    let (a, b) = (
        output("write", Some("a"))["uri"].clone(),
        output("write", Some("b"))["uri"].clone(),
    );
    assert_ne!(a, b, "each run of a ForEach writes its own file");
    assert!(a.as_str().unwrap().ends_with(".txt"), "{a}");
    assert_eq!(read(&a), "line1-a\nline2-a\n");
    assert_eq!(output("size", None)["size"], 16);
    assert_eq!(
        read(&output("concat", None)["uri"]),
        "line1-a\nline2-a\n--\nline1-b\nline2-b\n--\n"
    );
    assert_eq!(
        read(&output("reverse", None)["uri"]),
        "--\nline2-b\nline1-b\n--\nline2-a\nline1-a\n"
    );
    assert_eq!(output("delete", None)["deleted"], true);
    assert_eq!(output("again", None)["deleted"], false);
    assert!(!storage.path_of(b.as_str().unwrap()).unwrap().exists());

    // A missing file fails when asked to, and another namespace's file is out of reach.
    let strict = "id: strict\nnamespace: test\ntasks:\n  - id: gone\n    type: storage.Delete\n    uri: storage:///test/files/executions/none/x.txt\n    errorOnMissing: true\n";
    let (state, runs, id) = run(&h, Runners::core(), strict, json!({})).await;
    assert_eq!(state, State::Failed, "{runs:#?}");
    assert!(
        messages(&h, &id).await.iter().any(
            |m| m.contains("Unable to find file 'storage:///test/files/executions/none/x.txt'")
        )
    );
    let other = format!(
        "id: other\nnamespace: elsewhere\ntasks:\n  - id: peek\n    type: storage.Size\n    uri: {}\n",
        a.as_str().unwrap()
    );
    let (state, _, _) = run(&h, Runners::core(), &other, json!({})).await;
    assert_eq!(state, State::Failed);
}

async fn until_paused(h: &Harness, id: &ExecutionId) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while h.store.get_execution(id).await.unwrap().unwrap().state != State::Paused {
        assert!(std::time::Instant::now() < deadline, "the execution pauses");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pause_waits_for_a_resume_with_its_inputs_or_for_its_duration() {
    let h = harness().await;
    let yaml = r#"
id: approval
namespace: test
tasks:
  - id: before
    type: debug.Return
    format: ready
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
        required: false
        defaults: none given
  - id: after
    type: debug.Return
    format: "{{ outputs.approve.onResume.approved }} / {{ outputs.approve.onResume.reason }}"
"#;
    let executor = executor(&h, Runners::core());
    let id = launch(&executor, yaml, json!({})).await.unwrap();
    until_paused(&h, &id).await;
    let runs = h.store.task_runs(&id).await.unwrap();
    assert_eq!(state_of(&runs, "before"), State::Success);
    assert_eq!(state_of(&runs, "approve"), State::Paused);
    assert!(
        runs.iter().all(|r| r.task_id.as_str() != "after"),
        "nothing after the pause ran"
    );
    // The inputs are checked as a flow's are; a bad resume changes nothing.
    let bad = executor
        .resume(
            &id,
            json!({"approved": "maybe"}).as_object().unwrap().clone(),
        )
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("approved"), "{bad}");
    assert_eq!(
        h.store.get_execution(&id).await.unwrap().unwrap().state,
        State::Paused
    );
    executor
        .resume(
            &id,
            json!({"approved": "true"}).as_object().unwrap().clone(),
        )
        .await
        .unwrap();
    let state = tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Success);
    let runs = h.store.task_runs(&id).await.unwrap();
    let after = runs.iter().find(|r| r.task_id.as_str() == "after").unwrap();
    assert_eq!(
        after.outputs.as_ref().unwrap()["value"],
        "true / none given"
    );
    let again = executor.resume(&id, Map::new()).await.unwrap_err();
    assert!(again.to_string().contains("not PAUSED"), "{again}");

    // Not resumed in time: RESUME goes on, WARN ends WARNING, FAIL fails.
    for (behavior, expected) in [
        ("RESUME", State::Success),
        ("WARN", State::Warning),
        ("FAIL", State::Failed),
        ("CANCEL", State::Killed),
    ] {
        let timed = format!(
            "id: timed\nnamespace: test\ntasks:\n  - id: wait\n    type: flow.Pause\n    pauseDuration: PT0.3S\n    behavior: {behavior}\n  - id: next\n    type: debug.Return\n    format: went on\n"
        );
        let (state, runs, _) = run(&h, Runners::core(), &timed, json!({})).await;
        assert_eq!(state, expected, "{behavior}: {runs:#?}");
        let went_on = runs.iter().any(|r| r.task_id.as_str() == "next");
        assert_eq!(went_on, matches!(behavior, "RESUME" | "WARN"), "{behavior}");
    }

    // execution.Resume, from another branch of the same execution.
    let self_resume = r#"
id: self_resume
namespace: test
tasks:
  - id: both
    type: flow.Parallel
    tasks:
      - id: wait
        type: flow.Pause
        onResume:
          - id: by
            type: STRING
      - id: seq
        type: flow.Sequential
        tasks:
          - id: nap
            type: flow.Sleep
            duration: PT0.3S
          - id: wake
            type: io.kestra.plugin.core.execution.Resume
            namespace: test
            inputs:
              by: the flow itself
  - id: after
    type: debug.Return
    format: "{{ outputs.wait.onResume.by }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), self_resume, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "after")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()["value"],
        "the flow itself"
    );
    let wrong = self_resume
        .replace(
            "namespace: test\n            inputs",
            "namespace: other\n            inputs",
        )
        .replace("PT0.3S", "PT0.1S");
    let id = launch(&executor, &wrong, json!({})).await.unwrap();
    until_paused(&h, &id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while h
        .store
        .task_runs(&id)
        .await
        .unwrap()
        .iter()
        .all(|r| !(r.task_id.as_str() == "wake" && r.state == State::Failed))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the Resume of another namespace fails"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    executor.kill(&id).await.unwrap();

    // A kill stops a pause at once.
    let id = launch(
        &executor,
        "id: forever\nnamespace: test\ntasks:\n  - id: wait\n    type: flow.Pause\n",
        json!({}),
    )
    .await
    .unwrap();
    until_paused(&h, &id).await;
    executor.kill(&id).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Killed);
}

#[tokio::test]
async fn labels_are_added_while_running_and_allow_failure_ends_warning_and_goes_on() {
    let h = harness().await;
    let yaml = r#"
id: labelled
namespace: test
labels:
  team: data
tasks:
  - id: count
    type: debug.Return
    format: "42"
  - id: tag
    type: io.kestra.plugin.core.execution.Labels
    labels:
      rows: "{{ outputs.count.value }}"
      team: analytics
  - id: tag_list
    type: execution.Labels
    labels:
      - key: stage
        value: loaded
  - id: tolerant
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: breaks
        type: execution.Fail
        errorMessage: broken on purpose
      - id: skipped
        type: debug.Return
        format: never
  - id: after
    type: debug.Return
    format: went on
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Warning, "{runs:#?}");
    assert_eq!(state_of(&runs, "tolerant"), State::Warning);
    assert_eq!(state_of(&runs, "breaks"), State::Failed);
    assert!(runs.iter().all(|r| r.task_id.as_str() != "skipped"));
    assert_eq!(state_of(&runs, "after"), State::Success);
    let labels = h.store.get_execution(&id).await.unwrap().unwrap().labels;
    assert_eq!(labels.get("rows").map(String::as_str), Some("42"));
    assert_eq!(labels.get("team").map(String::as_str), Some("analytics"));
    assert_eq!(labels.get("stage").map(String::as_str), Some("loaded"));

    let system = "id: sys\nnamespace: test\ntasks:\n  - id: tag\n    type: execution.Labels\n    labels:\n      system.correlationId: forged\n";
    let (state, _, id) = run(&h, Runners::core(), system, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("system.* labels"))
    );
}

/// Kestra's metric.Publish: each metric kept with its task run, a timer
/// in milliseconds, tags rendered; a bad value fails the task and names it;
/// PurgeExecutions takes the metrics with it.
#[tokio::test]
async fn publish_keeps_metrics_per_task_run_and_purge_takes_them() {
    let h = harness().await;
    let yaml = r#"
id: published
namespace: test
inputs:
  - id: rows
    type: INT
    defaults: 42
tasks:
  - id: metric
    type: io.kestra.plugin.core.metric.Publish
    metrics:
      - type: timer
        name: duration
        value: PT10M
        tags:
          flow: "{{ flow.id }}"
          project: kestra
      - type: counter
        name: "{{ 'rows' }}"
        value: "{{ inputs.rows }}"
        tags:
          flow: "{{ flow.id }}"
      - type: gauge
        name: ratio
        value: 0.5
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let (metrics, total) = h
        .store
        .execution_metrics(&id, &engine::store::MetricQuery::default())
        .await
        .unwrap();
    assert_eq!(total, 3);
    let seen: Vec<(String, String, f64)> = metrics
        .iter()
        .map(|m| (m.metric.kind.clone(), m.metric.name.clone(), m.metric.value))
        .collect();
    assert_eq!(
        seen,
        [
            ("timer".into(), "duration".into(), 600_000.0),
            ("counter".into(), "rows".into(), 42.0),
            ("gauge".into(), "ratio".into(), 0.5),
        ]
    );
    assert_eq!(metrics[0].metric.tags["flow"], "published");
    assert_eq!(metrics[0].metric.tags["project"], "kestra");
    assert_eq!(
        metrics[1].metric.task_run_id.as_ref(),
        Some(&runs[0].id),
        "kept with its task run"
    );
    assert_eq!(
        h.store
            .metric_names("test", "published", None)
            .await
            .unwrap(),
        ["duration", "ratio", "rows"]
    );
    assert_eq!(
        h.store.metric_tasks("test", "published").await.unwrap(),
        ["metric"]
    );

    let bad = "id: bad\nnamespace: test\ntasks:\n  - id: metric\n    type: metric.Publish\n    metrics:\n      - type: counter\n        name: n\n        value: lots\n";
    let (state, _, bad_id) = run(&h, Runners::core(), bad, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &bad_id)
            .await
            .iter()
            .any(|m| m.contains("metrics[0].value: lots is not a number")),
        "{:?}",
        messages(&h, &bad_id).await
    );

    let purge = "id: purge\nnamespace: test\ntasks:\n  - id: executions\n    type: execution.PurgeExecutions\n    flowId: published\n    endDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n";
    let (state, runs, _) = run(&h, Runners::core(), purge, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert_eq!(runs[0].outputs.as_ref().unwrap()["metricsCount"], 3);
    let (_, total) = h
        .store
        .execution_metrics(&id, &engine::store::MetricQuery::default())
        .await
        .unwrap();
    assert_eq!(total, 0);
}

#[tokio::test]
async fn purge_tasks_delete_ended_executions_their_logs_and_files() {
    let h = harness().await;
    let old = "id: old\nnamespace: test\ninputs:\n  - id: fail\n    type: BOOLEAN\n    defaults: false\ntasks:\n  - id: write\n    type: storage.Write\n    content: data\n  - id: note\n    type: log.Log\n    message: kept unless purged\n  - id: maybe\n    type: execution.Fail\n    condition: \"{{ inputs.fail }}\"\n";
    let (ok1, _, first) = run(&h, Runners::core(), old, json!({})).await;
    let (ok2, runs2, second) = run(&h, Runners::core(), old, json!({})).await;
    let (failed, _, third) = run(&h, Runners::core(), old, json!({"fail": true})).await;
    assert_eq!(
        (ok1, ok2, failed),
        (State::Success, State::Success, State::Failed)
    );
    let file = runs2
        .iter()
        .find(|r| r.task_id.as_str() == "write")
        .unwrap()
        .outputs
        .as_ref()
        .unwrap()["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let storage = h
        .services
        .storage
        .for_namespace(&engine::ids::Namespace::new("test"));
    assert!(storage.path_of(&file).unwrap().exists());

    let purge = r#"
id: purge
namespace: test
tasks:
  - id: executions
    type: io.kestra.plugin.core.execution.PurgeExecutions
    namespace: test
    flowId: old
    endDate: "{{ now() | dateAdd(1, 'HOURS') }}"
    states: [SUCCESS]
  - id: errors
    type: io.kestra.plugin.core.log.PurgeLogs
    flowId: old
    logLevels: [ERROR]
    endDate: "{{ now() | dateAdd(1, 'HOURS') }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), purge, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let outputs = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    assert_eq!(outputs("executions")["executionsCount"], 2);
    assert!(outputs("executions")["logsCount"].as_u64().unwrap() >= 2);
    for gone in [&first, &second] {
        assert!(h.store.get_execution(gone).await.unwrap().is_none());
        assert!(h.store.task_runs(gone).await.unwrap().is_empty());
        assert!(messages(&h, gone).await.is_empty());
    }
    assert!(
        !storage.path_of(&file).unwrap().exists(),
        "the files went too"
    );
    // The failed one stays, without its ERROR lines.
    assert_eq!(
        h.store.get_execution(&third).await.unwrap().unwrap().state,
        State::Failed
    );
    h.services.logs.flush().await;
    let left = h.store.logs(&third, Level::Trace, 0, 100).await.unwrap();
    assert!(left.iter().any(|l| l.message == "kept unless purged"));
    assert!(left.iter().all(|l| l.level != Level::Error), "{left:?}");
    assert!(outputs("errors")["count"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn log_fetch_writes_this_executions_lines_to_an_ion_file() {
    let h = harness().await;
    let yaml = r#"
id: fetching
namespace: test
tasks:
  - id: a
    type: log.Log
    message: one
  - id: b
    type: log.Log
    level: WARN
    message: two
  - id: c
    type: log.Log
    level: DEBUG
    message: three
  - id: all
    type: io.kestra.plugin.core.log.Fetch
    tasksId: [a, b, c]
  - id: warnings
    type: log.Fetch
    level: WARN
  - id: back
    type: debug.Return
    format: "{{ fromIon(read(outputs.warnings.uri)).message }}"
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let outputs = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    assert_eq!(outputs("all")["size"], 2, "INFO and up of a, b and c");
    assert_eq!(outputs("warnings")["size"], 1);
    assert_eq!(outputs("back")["value"], "two");
    let storage = h
        .services
        .storage
        .for_namespace(&engine::ids::Namespace::new("test"));
    let text = std::fs::read_to_string(
        storage
            .path_of(outputs("all")["uri"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.contains(&format!("executionId:\"{id}\""))
            && text.contains("level:\"WARN\"")
            && text.contains("taskId:\"a\""),
        "{text}"
    );
}

#[tokio::test]
async fn split_cuts_files_at_line_ends_and_the_execution_purges_its_files() {
    let h = harness().await;
    let yaml = r#"
id: splitting
namespace: test
tasks:
  - id: write
    type: storage.Write
    content: "l1\nl2\nl3\nl4\nl5\n"
    extension: .csv
  - id: by_rows
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    rows: 2
  - id: by_partitions
    type: storage.Split
    from: "{{ outputs.write.uri }}"
    partitions: 2
  - id: by_bytes
    type: storage.Split
    from: "{{ outputs.write.uri }}"
    bytes: 7B
  - id: purge
    type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let outputs = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    let storage = h
        .services
        .storage
        .for_namespace(&engine::ids::Namespace::new("test"));
    let uris = |task: &str| -> Vec<String> {
        outputs(task)["uris"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(uris("by_rows").len(), 3);
    assert_eq!(uris("by_partitions").len(), 2);
    assert_eq!(uris("by_bytes").len(), 3, "two lines of 3 bytes fit in 7");
    assert!(uris("by_rows").iter().all(|u| u.ends_with(".csv")));
    // Every file the execution made is gone, and listed.
    let purged = uris("purge");
    assert_eq!(purged.len(), 1 + 3 + 2 + 3, "{purged:?}");
    for uri in uris("by_rows").iter().chain(&uris("by_partitions")) {
        assert!(purged.contains(uri), "{uri}");
        assert!(!storage.path_of(uri).unwrap().exists());
    }
}

/// Kestra's own example of execution.Exit, with each state.
#[tokio::test]
async fn exit_ends_the_execution_in_its_state_and_nothing_starts_after_it() {
    let h = harness().await;
    let yaml = r#"
id: exits
namespace: test
inputs:
  - id: state
    type: STRING
tasks:
  - id: before
    type: debug.Return
    format: ran
  - id: gate
    type: flow.If
    condition: "{{ inputs.state != 'CONTINUE' }}"
    then:
      - id: exit
        type: io.kestra.plugin.core.execution.Exit
        state: "{{ inputs.state }}"
  - id: end
    type: debug.Return
    format: went on
"#;
    for (given, expected) in [
        ("SUCCESS", State::Success),
        ("WARNING", State::Warning),
        ("FAILED", State::Failed),
        ("KILLED", State::Killed),
        ("CANCELED", State::Killed),
        ("CONTINUE", State::Success),
    ] {
        let (state, runs, _) = run(&h, Runners::core(), yaml, json!({"state": given})).await;
        assert_eq!(state, expected, "{given}: {runs:#?}");
        assert_eq!(state_of(&runs, "before"), State::Success);
        let went_on = runs.iter().any(|r| r.task_id.as_str() == "end");
        assert_eq!(went_on, given == "CONTINUE", "{given}");
        if given != "CONTINUE" {
            assert_eq!(state_of(&runs, "exit"), expected, "{given}");
        }
    }
}

/// Kestra's own test flow `current-output.yaml` (core/src/test/resources/
/// flows/valids), unchanged but for the last task: nested ForEach outputs
/// are keyed by every level's value, `parents` lists the enclosing
/// iterations closest first, and `currentEachOutput` finds this
/// iteration's outputs.
#[tokio::test]
async fn nested_foreach_outputs_parents_and_current_each_output_as_kestra() {
    let h = harness().await;
    let yaml = r#"
id: test-current-output
namespace: io.kestra.tests
tasks:
  - id: 1_each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["v11", "v12"]'
    tasks:
      - id: 1-1_each
        type: io.kestra.plugin.core.flow.ForEach
        values: '["v21", "v22"]'
        tasks:
          - id: 1-1-1_each
            type: io.kestra.plugin.core.flow.ForEach
            values: '["v31", "v32"]'
            tasks:
            - id: 1-1-1_output
              type: io.kestra.plugin.core.debug.Return
              format: "{{ parents[1].taskrun.value }}-{{ parents[0].taskrun.value }}-{{ taskrun.value }}"
            - id: 1-1-1_return
              type: io.kestra.plugin.core.debug.Return
              format: "return-{{ currentEachOutput(outputs['1-1-1_output']).value }}"
  - id: 2_each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["v41", "v42"]'
    tasks:
      - id: 2-1_output
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
      - id: 2-1_return
        type: io.kestra.plugin.core.debug.Return
        format: "return-{{ currentEachOutput(outputs['2-1_output']).value }}"
  - id: 2_sequential
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: 2-1_sequential
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: 2-1-1_output
            type: io.kestra.plugin.core.debug.Return
            format: "{{ taskrun.id }}"
          - id: 2-1-1_return
            type: io.kestra.plugin.core.debug.Return
            format: "return-{{ outputs['2-1-1_output'].value }}"
  - id: keyed
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs['1-1-1_output']['v12']['v21']['v32'].value }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let values = |task: &str| {
        let mut v: Vec<String> = runs
            .iter()
            .filter(|r| r.task_id.as_str() == task)
            .map(|r| {
                r.outputs.as_ref().unwrap()["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(values("1-1-1_output").len(), 8);
    assert!(values("1-1-1_output").contains(&"v12-v21-v32".to_owned()));
    assert_eq!(
        values("1-1-1_return").first().unwrap(),
        "return-v11-v21-v31"
    );
    assert_eq!(values("1-1-1_return").last().unwrap(), "return-v12-v22-v32");
    assert_eq!(values("2-1_return"), ["return-v41", "return-v42"]);
    let id = runs
        .iter()
        .find(|r| r.task_id.as_str() == "2-1-1_output")
        .unwrap()
        .id
        .to_string();
    assert_eq!(values("2-1-1_return"), [format!("return-{id}")]);
    assert_eq!(values("keyed"), ["v12-v21-v32"]);
}

/// `errorLogs()` in an `errors` task gives the failed task's ERROR lines,
/// as Kestra's blueprints use it to send alerts.
#[tokio::test]
async fn error_logs_in_errors_tasks_list_the_failure() {
    let h = harness().await;
    let yaml = r#"
id: alert
namespace: test
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: the table is missing
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: "{{ errorLogs()[0].taskId }} said: {{ errorLogs()[0].message }} ({{ errorLogs() | length }} line)"
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Failed, "{runs:#?}");
    let logs = messages(&h, &id).await;
    assert!(
        logs.iter()
            .any(|m| m == "boom said: the table is missing (1 line)"),
        "{logs:?}"
    );
}

/// The KV store from a flow: kv.Set with a type and a TTL, kv() in an
/// expression, kv.Get, kv.GetKeys, kv.Delete; a second execution sees
/// what the first set.
#[tokio::test]
async fn kv_tasks_and_the_kv_function_share_the_namespace_store() {
    let h = harness().await;
    let yaml = r#"
id: kv
namespace: company.team
tasks:
  - id: set_count
    type: io.kestra.plugin.core.kv.Set
    key: count
    value: "41"
    kvType: NUMBER
  - id: set_config
    type: io.kestra.plugin.core.kv.Set
    key: config
    value: '{"region": "eu-west", "tables": ["a", "b"]}'
    kvType: JSON
    namespace: company
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('count') + 1 }} {{ kv('config', namespace='company').tables | length }} {{ kv('nope', errorOnMissing=false) ?? 'none' }}"
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: count
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
    prefix: co
  - id: delete
    type: io.kestra.plugin.core.kv.Delete
    key: count
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let out = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    assert_eq!(out("read")["value"], "42 2 none");
    assert_eq!(out("get")["value"], 41);
    assert_eq!(out("keys")["keys"], json!(["count"]));
    assert_eq!(out("delete")["deleted"], true);

    // Deleted: kv() now fails by default and kv.Get with errorOnMissing fails.
    let after = "id: kv2\nnamespace: company.team\ntasks:\n  - id: read\n    type: debug.Return\n    format: \"{{ kv('count') }}\"\n";
    let (state, _, id) = run(&h, Runners::core(), after, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("the key 'count' does not exist in the namespace 'company.team'"))
    );
    // A namespace that would leave internal storage is refused by name.
    let escape = "id: kv3\nnamespace: company.team\ntasks:\n  - id: set\n    type: kv.Set\n    key: k\n    value: v\n    namespace: ../../etc\n";
    let (state, _, id) = run(&h, Runners::core(), escape, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("invalid namespace \"../../etc\"")),
        "{:?}",
        messages(&h, &id).await
    );
}

/// Kestra's `tasks` variable: the state of each task run so far.
#[tokio::test]
async fn tasks_states_are_readable_by_later_tasks() {
    let h = harness().await;
    let yaml = r#"
id: states
namespace: test
tasks:
  - id: first
    type: debug.Return
    format: one
  - id: shaky
    type: execution.Fail
    allowFailure: true
  - id: each
    type: flow.ForEach
    values: ["a"]
    tasks:
      - id: inner
        type: debug.Return
        format: x
  - id: report
    type: debug.Return
    format: "{{ tasks.first.state }} {{ tasks.shaky.state }} {{ tasks.inner.a.state }} {{ tasks.report.state }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Warning, "{runs:#?}");
    let report = runs
        .iter()
        .find(|r| r.task_id.as_str() == "report")
        .unwrap();
    assert_eq!(
        report.outputs.as_ref().unwrap()["value"],
        "SUCCESS WARNING SUCCESS RUNNING"
    );
}

/// kv.PurgeKV as Kestra's blueprint kv-store-purge uses it: expired keys
/// of a namespace and its children go; live keys and other namespaces stay.
#[tokio::test]
async fn purge_kv_deletes_expired_keys_of_the_chosen_namespaces() {
    let h = harness().await;
    let set = |ns: &str, key: &str, ttl: Option<Duration>| {
        h.services
            .storage
            .kv(ns)
            .unwrap()
            .put(key, json!("v"), None, ttl, true, None)
            .unwrap();
    };
    set("company", "old", Some(Duration::ZERO));
    set("company.team", "old_too", Some(Duration::ZERO));
    set("company.team", "fresh", Some(Duration::from_secs(3600)));
    set("other", "old", Some(Duration::ZERO));
    let yaml = "id: purge\nnamespace: system\ntasks:\n  - id: purge\n    type: io.kestra.plugin.core.kv.PurgeKV\n    expiredOnly: true\n    namespaces:\n      - company\n    includeChildNamespaces: true\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert_eq!(runs[0].outputs.as_ref().unwrap()["size"], 2);
    let left = |ns: &str| {
        h.services
            .storage
            .kv(ns)
            .unwrap()
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(left("company"), Vec::<String>::new());
    assert_eq!(left("company.team"), ["fresh"]);
    assert_eq!(left("other"), ["old"]);

    // Everything matching a key pattern, expired or not, with the behavior form.
    let yaml = "id: purge2\nnamespace: system\ntasks:\n  - id: purge\n    type: kv.PurgeKV\n    keyPattern: \"fr*\"\n    behavior:\n      type: key\n      expiredOnly: false\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert_eq!(runs[0].outputs.as_ref().unwrap()["size"], 1);
    assert_eq!(left("company.team"), Vec::<String>::new());
}

#[tokio::test]
async fn a_failure_runs_errors_and_finally_and_fails_the_execution() {
    let h = harness().await;
    let yaml = r#"
id: failing
namespace: test
tasks:
  - id: boom
    type: execution.Fail
    errorMessage: it broke
  - id: never
    type: log.Log
    message: unreachable
errors:
  - id: on_error
    type: log.Log
    message: handling the failure
finally:
  - id: cleanup
    type: log.Log
    message: cleaning up
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(state_of(&runs, "boom"), State::Failed);
    assert!(runs.iter().all(|r| r.task_id.as_str() != "never"));
    assert_eq!(state_of(&runs, "on_error"), State::Success);
    assert_eq!(state_of(&runs, "cleanup"), State::Success);
    let logs = messages(&h, &id).await;
    assert!(logs.iter().any(|m| m == "it broke"), "{logs:?}");
}

#[tokio::test]
async fn allow_failure_ends_warning_and_run_if_and_disabled_skip() {
    let h = harness().await;
    let yaml = r#"
id: lenient
namespace: test
tasks:
  - id: may_fail
    type: execution.Fail
    allowFailure: true
  - id: skipped
    type: log.Log
    message: not today
    runIf: "{{ 1 == 2 }}"
  - id: off
    type: log.Log
    message: disabled
    disabled: true
  - id: goes_on
    type: log.Log
    message: still running
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Warning);
    assert_eq!(state_of(&runs, "may_fail"), State::Warning);
    assert_eq!(state_of(&runs, "skipped"), State::Skipped);
    assert!(runs.iter().all(|r| r.task_id.as_str() != "off"));
    assert_eq!(state_of(&runs, "goes_on"), State::Success);
}

#[tokio::test]
async fn if_switch_and_dag_take_the_right_paths_in_order() {
    let h = harness().await;
    let yaml = r#"
id: branches
namespace: test
inputs:
  - id: table
    type: SELECT
    values: [sales, returns]
tasks:
  - id: check
    type: flow.If
    condition: "{{ inputs.table == 'sales' }}"
    then:
      - id: yes
        type: debug.Return
        format: then
    else:
      - id: no
        type: debug.Return
        format: else
  - id: pick
    type: flow.Switch
    value: "{{ inputs.table }}"
    cases:
      returns:
        - id: case_returns
          type: debug.Return
          format: returns
    defaults:
      - id: case_default
        type: debug.Return
        format: default
  - id: graph
    type: flow.Dag
    tasks:
      - task:
          id: c
          type: debug.Return
          format: "{{ outputs.a.value }}{{ outputs.b.value }}c"
        dependsOn: [a, b]
      - task:
          id: a
          type: debug.Return
          format: a
      - task:
          id: b
          type: debug.Return
          format: "{{ outputs.a.value }}b"
        dependsOn: [a]
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({"table": "sales"})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let ids: Vec<&str> = runs.iter().map(|r| r.task_id.as_str()).collect();
    assert!(ids.contains(&"yes") && !ids.contains(&"no"));
    assert!(ids.contains(&"case_default") && !ids.contains(&"case_returns"));
    let c = runs.iter().find(|r| r.task_id.as_str() == "c").unwrap();
    assert_eq!(c.outputs.as_ref().unwrap()["value"], "aabc");
}

#[tokio::test]
async fn bad_inputs_are_refused_before_anything_runs() {
    let h = harness().await;
    let executor = executor(&h, Runners::core());
    let yaml = "id: f\nnamespace: t\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: a\n    type: log.Log\n    message: x\n";
    let Err(ExecutionError::Inputs(problems)) = launch(&executor, yaml, json!({"n": "many"})).await
    else {
        panic!()
    };
    assert_eq!(problems, ["input \"n\": \"many\" is not a whole number"]);
    let Err(ExecutionError::Inputs(problems)) = launch(&executor, yaml, json!({})).await else {
        panic!()
    };
    assert!(problems[0].contains("required"));
}

/// Fails its first `failures` runs, then succeeds; counts its runs.
struct Flaky {
    failures: u32,
    runs: AtomicU32,
}

impl Runner for Flaky {
    fn run<'a>(&'a self, _ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.failures {
                return Err(TaskError::Failed(format!("failure {n}")));
            }
            let mut outputs = Outputs::new();
            outputs.insert("runs".into(), json!(n));
            Ok(outputs)
        })
    }
}

fn with(name: &str, runner: Arc<dyn Runner>) -> Runners {
    let mut runners = Runners::core();
    runners.register(name, runner);
    runners
}

#[tokio::test]
async fn retries_make_new_attempts_until_one_succeeds() {
    let h = harness().await;
    let flaky = Arc::new(Flaky {
        failures: 2,
        runs: AtomicU32::new(0),
    });
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: flaky\n    type: test.Flaky\n    retry:\n      type: constant\n      maxAttempt: 3\n      interval: PT0.01S\n";
    let (state, runs, _) = run(&h, with("test.Flaky", flaky.clone()), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let attempts: Vec<State> = runs[0].attempts.iter().map(|a| a.state).collect();
    assert_eq!(attempts, [State::Failed, State::Failed, State::Success]);
    assert_eq!(runs[0].outputs.as_ref().unwrap()["runs"], 3);
}

#[tokio::test]
async fn a_timeout_cancels_the_task_and_fails_it() {
    let h = harness().await;
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: slow\n    type: flow.Sleep\n    duration: PT1H\n    timeout: PT0.05S\n";
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(state_of(&runs, "slow"), State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("ran out of time"))
    );
}

/// Writes a checkpoint, then waits to be killed or released; records runs
/// that started from nothing, re-attachments and cancels.
#[derive(Default)]
struct Remote {
    fresh_starts: AtomicU32,
    reattached: AtomicU32,
    cancelled: Mutex<Vec<Value>>,
    release: tokio::sync::Notify,
    checkpointed: tokio::sync::Notify,
}

impl Runner for Remote {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            match &ctx.checkpoint {
                Some(_) => {
                    self.reattached.fetch_add(1, Ordering::SeqCst);
                }
                None => {
                    self.fresh_starts.fetch_add(1, Ordering::SeqCst);
                    ctx.checkpoint(&json!({"run_id": 42})).await?;
                    self.checkpointed.notify_one();
                }
            }
            tokio::select! {
                () = ctx.cancel.cancelled() => Err(TaskError::Killed),
                () = self.release.notified() => Ok(Outputs::new()),
            }
        })
    }

    fn cancel<'a>(
        &'a self,
        _ctx: &'a TaskContext,
        checkpoint: &'a Value,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            self.cancelled.lock().unwrap().push(checkpoint.clone());
            Ok(())
        })
    }
}

const REMOTE_FLOW: &str = "id: f\nnamespace: t\ntasks:\n  - id: remote\n    type: test.Remote\nfinally:\n  - id: cleanup\n    type: log.Log\n    message: cleanup ran\n";

#[tokio::test]
async fn kill_cancels_the_remote_work_and_ends_killed_and_finally_still_runs() {
    let h = harness().await;
    let remote = Arc::new(Remote::default());
    let executor = executor(&h, with("test.Remote", remote.clone()));
    let id = launch(&executor, REMOTE_FLOW, json!({})).await.unwrap();
    remote.checkpointed.notified().await;
    assert_eq!(executor.kill(&id).await.unwrap(), State::Killing);
    let state = tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Killed);
    assert_eq!(*remote.cancelled.lock().unwrap(), [json!({"run_id": 42})]);
    let runs = h.store.task_runs(&id).await.unwrap();
    assert_eq!(state_of(&runs, "remote"), State::Killed);
    assert_eq!(state_of(&runs, "cleanup"), State::Success);
    assert!(matches!(
        executor.kill(&id).await,
        Err(ExecutionError::Conflict(_))
    ));
}

#[tokio::test]
async fn after_a_stop_recovery_reattaches_through_the_checkpoint_instead_of_starting_again() {
    let h = harness().await;
    let remote = Arc::new(Remote::default());
    let first = executor(&h, with("test.Remote", remote.clone()));
    let id = launch(&first, REMOTE_FLOW, json!({})).await.unwrap();
    remote.checkpointed.notified().await;
    // The process stops: the walk ends where it is, nothing changes state.
    first.shutdown().await;
    assert_eq!(
        h.store.get_execution(&id).await.unwrap().unwrap().state,
        State::Running
    );

    let second = executor(&h, with("test.Remote", remote.clone()));
    let plan = Arc::new(Plan::from_yaml(REMOTE_FLOW).unwrap());
    assert_eq!(second.recover(|_| Some(plan.clone())).await.unwrap(), 1);
    // Released only once it has re-attached.
    while remote.reattached.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    remote.release.notify_one();
    let state = tokio::time::timeout(Duration::from_secs(10), second.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Success);
    assert_eq!(
        remote.fresh_starts.load(Ordering::SeqCst),
        1,
        "never started twice"
    );
    let runs = h.store.task_runs(&id).await.unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.task_id.as_str() == "remote")
            .count(),
        1
    );
    assert_eq!(state_of(&runs, "remote"), State::Success);
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "remote")
            .unwrap()
            .attempts
            .len(),
        1
    );
}

/// Stands in for Log on an executor that stops between a task's line and
/// its end: it logs the first message, then waits for the stop.
#[derive(Default)]
struct LogThenStop {
    logged: tokio::sync::Notify,
}

impl Runner for LogThenStop {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let first = ctx.properties["message"][0].as_str().unwrap_or_default().to_owned();
            ctx.log(Level::Info, first).await;
            self.logged.notify_one();
            ctx.cancel.cancelled().await;
            Err(TaskError::Killed)
        })
    }
}

#[tokio::test]
async fn a_log_task_resumed_after_a_stop_writes_only_the_lines_it_had_not_written() {
    let h = harness().await;
    // A type of the test's own, since an executor makes the declared
    // types' runners itself: the stand-in first, then Log's own runner.
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: say\n    type: test.Say\n    message: [said, said, then this]\n";
    let stand_in = Arc::new(LogThenStop::default());
    let first = executor(&h, with("test.Say", stand_in.clone()));
    let id = launch(&first, yaml, json!({})).await.unwrap();
    stand_in.logged.notified().await;
    h.services.logs.flush().await;
    first.shutdown().await;
    let runs = h.store.task_runs(&id).await.unwrap();
    assert_eq!(state_of(&runs, "say"), State::Running, "stopped between its line and its end");

    // The real Log resumes the open attempt: the line it stored is not
    // written again; the rest is, including the second "said".
    let log = Runners::core().get("io.kestra.plugin.core.log.Log").unwrap();
    let second = executor(&h, with("test.Say", log));
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    assert_eq!(second.recover(|_| Some(plan.clone())).await.unwrap(), 1);
    let state = tokio::time::timeout(Duration::from_secs(10), second.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Success);
    let said: Vec<String> = messages(&h, &id)
        .await
        .into_iter()
        .filter(|m| m == "said" || m == "then this")
        .collect();
    assert_eq!(said, ["said", "said", "then this"]);
    let runs = h.store.task_runs(&id).await.unwrap();
    let say = runs.iter().find(|r| r.task_id.as_str() == "say").unwrap();
    assert_eq!(say.attempts.len(), 1, "the open attempt went on");
}

#[tokio::test]
async fn restart_reruns_only_the_failed_task_as_a_new_attempt() {
    let h = harness().await;
    let flaky = Arc::new(Flaky {
        failures: 1,
        runs: AtomicU32::new(0),
    });
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: before\n    type: debug.Return\n    format: once\n  - id: flaky\n    type: test.Flaky\n";
    let executor = executor(&h, with("test.Flaky", flaky.clone()));
    let id = launch(&executor, yaml, json!({})).await.unwrap();
    assert_eq!(executor.wait(&id).await.unwrap(), State::Failed);
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    executor.restart(&id, plan).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Success
    );
    let runs = h.store.task_runs(&id).await.unwrap();
    let flaky_run = runs.iter().find(|r| r.task_id.as_str() == "flaky").unwrap();
    let attempts: Vec<State> = flaky_run.attempts.iter().map(|a| a.state).collect();
    assert_eq!(attempts, [State::Failed, State::Success]);
    let before = runs
        .iter()
        .find(|r| r.task_id.as_str() == "before")
        .unwrap();
    assert_eq!(before.attempts.len(), 1, "what succeeded is not run again");
}

#[tokio::test]
async fn secrets_are_masked_in_logs_and_outputs() {
    let h = harness().await;
    let yaml = r#"
id: secrets
namespace: test
inputs:
  - id: pin
    type: SECRET
tasks:
  - id: say
    type: log.Log
    message: "password {{ secret('PASSWORD') }} and pin {{ inputs.pin }}"
  - id: give
    type: debug.Return
    format: "{{ secret('PASSWORD') }}"
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({"pin": "4321"})).await;
    assert_eq!(state, State::Success);
    let logs = messages(&h, &id).await;
    assert!(
        logs.contains(&"password ****** and pin ******".to_owned()),
        "{logs:?}"
    );
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "give")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()["value"],
        "******"
    );
    assert_eq!(
        h.store.get_execution(&id).await.unwrap().unwrap().inputs["pin"],
        "******"
    );
}

const LIMITED: &str = "id: limited\nnamespace: t\nconcurrency:\n  limit: 1\n  behavior: BEHAVIOR\ntasks:\n  - id: nap\n    type: flow.Sleep\n    duration: PT0.2S\n";

#[tokio::test]
async fn a_concurrency_limit_queues_extra_executions_one_at_a_time() {
    let h = harness().await;
    let executor = executor(&h, Runners::core());
    let flow = LIMITED.replace("BEHAVIOR", "QUEUE");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(launch(&executor, &flow, json!({})).await.unwrap());
    }
    let mut spans = Vec::new();
    for id in &ids {
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(20), executor.wait(id))
                .await
                .unwrap()
                .unwrap(),
            State::Success
        );
        let execution = h.store.get_execution(id).await.unwrap().unwrap();
        let running = execution
            .histories
            .iter()
            .find(|h| h.state == State::Running)
            .unwrap()
            .date;
        spans.push((running, execution.ended_at.unwrap()));
    }
    spans.sort();
    assert!(
        spans.windows(2).all(|w| w[0].1 <= w[1].0),
        "never two at once: {spans:?}"
    );
}

#[tokio::test]
async fn a_concurrency_limit_can_cancel_or_fail_the_extra_execution() {
    for (behavior, expected) in [("CANCEL", State::Killed), ("FAIL", State::Failed)] {
        let h = harness().await;
        let executor = executor(&h, Runners::core());
        let flow = LIMITED.replace("BEHAVIOR", behavior);
        let first = launch(&executor, &flow, json!({})).await.unwrap();
        let second = launch(&executor, &flow, json!({})).await.unwrap();
        assert_eq!(
            executor.wait(&second).await.unwrap(),
            expected,
            "{behavior}"
        );
        assert!(
            messages(&h, &second)
                .await
                .iter()
                .any(|m| m.contains("concurrency limit (1) is reached"))
        );
        assert_eq!(executor.wait(&first).await.unwrap(), State::Success);
    }
}

#[tokio::test]
async fn killing_a_queued_execution_frees_nothing_and_the_queue_goes_on() {
    let h = harness().await;
    let executor = executor(&h, Runners::core());
    let flow = LIMITED.replace("BEHAVIOR", "QUEUE");
    let first = launch(&executor, &flow, json!({})).await.unwrap();
    let queued = launch(&executor, &flow, json!({})).await.unwrap();
    let third = launch(&executor, &flow, json!({})).await.unwrap();
    assert_eq!(executor.kill(&queued).await.unwrap(), State::Killed);
    assert_eq!(executor.wait(&first).await.unwrap(), State::Success);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(20), executor.wait(&third))
            .await
            .unwrap()
            .unwrap(),
        State::Success
    );
    assert!(
        h.store.task_runs(&queued).await.unwrap().is_empty(),
        "the killed one never ran"
    );
}

#[tokio::test]
async fn replay_keeps_what_ran_before_the_chosen_task_and_runs_the_rest() {
    let h = harness().await;
    let flaky = Arc::new(Flaky {
        failures: 1,
        runs: AtomicU32::new(0),
    });
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: first\n    type: debug.Return\n    format: kept\n  - id: group\n    type: flow.Sequential\n    tasks:\n      - id: inner_ok\n        type: debug.Return\n        format: also kept\n      - id: flaky\n        type: test.Flaky\n  - id: last\n    type: debug.Return\n    format: \"{{ outputs.first.value }} then {{ outputs.flaky.runs }}\"\n";
    let executor = executor(&h, with("test.Flaky", flaky.clone()));
    let original = launch(&executor, yaml, json!({})).await.unwrap();
    assert_eq!(executor.wait(&original).await.unwrap(), State::Failed);
    let failed = h
        .store
        .task_runs(&original)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.task_id.as_str() == "flaky")
        .unwrap();

    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let replay = executor
        .replay(&original, Some(&failed.id), plan)
        .await
        .unwrap();
    assert_eq!(replay.original_id.as_ref(), Some(&original));
    assert_eq!(executor.wait(&replay.id).await.unwrap(), State::Success);
    let runs = h.store.task_runs(&replay.id).await.unwrap();
    let find = |task: &str| runs.iter().find(|r| r.task_id.as_str() == task).unwrap();
    assert_eq!(
        find("last").outputs.as_ref().unwrap()["value"],
        "kept then 2"
    );
    assert_eq!(
        flaky.runs.load(Ordering::SeqCst),
        2,
        "only the chosen task ran again"
    );
    // The kept runs keep their single original attempt; the original is untouched.
    assert_eq!(find("first").attempts.len(), 1);
    assert_eq!(
        find("inner_ok").parent_task_run_id.as_ref(),
        Some(&find("group").id)
    );
    assert_eq!(
        h.store
            .get_execution(&original)
            .await
            .unwrap()
            .unwrap()
            .state,
        State::Failed
    );
}

#[tokio::test]
async fn read_returns_a_stored_file_and_refuses_a_missing_one() {
    let h = harness().await;
    let uri = "storage:///t/f/executions/x/values.txt";
    h.services
        .storage
        .write(uri, "north,south".as_bytes())
        .await
        .unwrap();
    let yaml = "id: f\nnamespace: t\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  - id: r\n    type: debug.Return\n    format: \"{{ read(inputs.data) | upper }}\"\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({"data": uri})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert_eq!(runs[0].outputs.as_ref().unwrap()["value"], "NORTH,SOUTH");
    let (state, _, id) = run(
        &h,
        Runners::core(),
        yaml,
        json!({"data": "storage:///t/f/executions/x/missing.txt"}),
    )
    .await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("missing.txt does not exist"))
    );
}

#[tokio::test]
async fn restart_runs_errors_and_finally_again_on_the_new_outcome() {
    let h = harness().await;
    let flaky = Arc::new(Flaky {
        failures: 1,
        runs: AtomicU32::new(0),
    });
    let yaml = "id: f\nnamespace: t\ntasks:\n  - id: flaky\n    type: test.Flaky\nerrors:\n  - id: on_error\n    type: log.Log\n    message: handling\nfinally:\n  - id: cleanup\n    type: log.Log\n    message: cleaning up\n";
    let executor = executor(&h, with("test.Flaky", flaky.clone()));
    let id = launch(&executor, yaml, json!({})).await.unwrap();
    assert_eq!(executor.wait(&id).await.unwrap(), State::Failed);
    let first = h.store.task_runs(&id).await.unwrap();
    assert_eq!(state_of(&first, "on_error"), State::Success);
    let first_cleanup = first
        .iter()
        .find(|r| r.task_id.as_str() == "cleanup")
        .unwrap()
        .id
        .clone();

    executor
        .restart(&id, Arc::new(Plan::from_yaml(yaml).unwrap()))
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Success
    );
    let runs = h.store.task_runs(&id).await.unwrap();
    assert!(
        runs.iter().all(|r| r.task_id.as_str() != "on_error"),
        "errors does not run when the restart succeeds: {runs:#?}"
    );
    let cleanups: Vec<_> = runs
        .iter()
        .filter(|r| r.task_id.as_str() == "cleanup")
        .collect();
    assert_eq!(cleanups.len(), 1);
    assert_ne!(cleanups[0].id, first_cleanup, "finally ran again");
    assert_eq!(cleanups[0].state, State::Success);
    let logs = messages(&h, &id).await;
    assert_eq!(
        logs.iter().filter(|m| *m == "cleaning up").count(),
        2,
        "{logs:?}"
    );
}

#[tokio::test]
async fn secret_inputs_keep_their_value_through_restart_and_replay_but_stay_masked() {
    let h = harness().await;
    let flaky = Arc::new(Flaky {
        failures: 1,
        runs: AtomicU32::new(0),
    });
    let yaml = "id: f\nnamespace: t\ninputs:\n  - id: pin\n    type: SECRET\ntasks:\n  - id: flaky\n    type: test.Flaky\n  - id: check\n    type: execution.Fail\n    runIf: \"{{ inputs.pin != '4321' }}\"\n    errorMessage: the pin was lost\n  - id: say\n    type: log.Log\n    message: \"pin {{ inputs.pin }}\"\n";
    let executor = executor(&h, with("test.Flaky", flaky.clone()));
    let id = launch(&executor, yaml, json!({"pin": "4321"}))
        .await
        .unwrap();
    assert_eq!(executor.wait(&id).await.unwrap(), State::Failed);
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    executor.restart(&id, plan.clone()).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Success
    );
    assert_eq!(
        state_of(&h.store.task_runs(&id).await.unwrap(), "check"),
        State::Skipped
    );
    assert_eq!(
        h.store.get_execution(&id).await.unwrap().unwrap().inputs["pin"],
        "******"
    );

    let replay = executor.replay(&id, None, plan).await.unwrap();
    assert_eq!(replay.inputs["pin"], "******");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), executor.wait(&replay.id))
            .await
            .unwrap()
            .unwrap(),
        State::Success
    );
    for execution in [&id, &replay.id] {
        let logs = messages(&h, execution).await;
        assert!(logs.contains(&"pin ******".to_owned()), "{logs:?}");
        assert!(!logs.iter().any(|m| m.contains("4321")), "{logs:?}");
    }
}

async fn save(h: &Harness, yaml: &str) {
    support::save(&h.store, yaml).await;
}

const CHILD: &str = "id: child\nnamespace: t\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: double\n    type: debug.Return\n    format: \"{{ inputs.n * 2 }}\"\n  - id: maybe_fail\n    type: execution.Fail\n    runIf: \"{{ inputs.n > 100 }}\"\n    errorMessage: too big\n  - id: nap\n    type: flow.Sleep\n    runIf: \"{{ inputs.n == 0 }}\"\n    duration: PT30S\noutputs:\n  - id: doubled\n    type: STRING\n    value: \"{{ outputs.double.value }}\"\n";

fn parent(n: i64, extra: &str) -> String {
    format!(
        "id: parent\nnamespace: t\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: t\n    flowId: child\n    inputs:\n      n: {n}\n{extra}  - id: after\n    type: debug.Return\n    format: \"child said {{{{ outputs.call.outputs.doubled }}}} and ended {{{{ outputs.call.state }}}}\"\n"
    )
}

#[tokio::test]
async fn a_subflow_runs_the_other_flow_waits_for_it_and_gets_its_outputs() {
    let h = harness().await;
    save(&h, CHILD).await;
    let (state, runs, id) = run(&h, Runners::core(), &parent(21, ""), json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let call = runs.iter().find(|r| r.task_id.as_str() == "call").unwrap();
    let child_id = ExecutionId::new(
        call.outputs.as_ref().unwrap()["executionId"]
            .as_str()
            .unwrap(),
    );
    let child = h.store.get_execution(&child_id).await.unwrap().unwrap();
    assert_eq!(
        (child.flow_id.as_str(), child.state),
        ("child", State::Success)
    );
    assert_eq!(
        child.labels.get("system.correlationId").map(String::as_str),
        Some(id.as_str())
    );
    assert_eq!(
        child.trigger_vars.as_ref().unwrap()["executionId"],
        id.as_str()
    );
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "after")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()["value"],
        "child said 42 and ended SUCCESS"
    );
}

#[tokio::test]
async fn a_failed_subflow_fails_its_task_unless_told_not_to_and_a_missing_flow_says_so() {
    let h = harness().await;
    save(&h, CHILD).await;
    let (state, runs, id) = run(&h, Runners::core(), &parent(500, ""), json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(state_of(&runs, "call"), State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("ended FAILED"))
    );

    let (state, runs, _) = run(
        &h,
        Runners::core(),
        &parent(500, "    transmitFailed: false\n"),
        json!({}),
    )
    .await;
    assert_eq!(state, State::Success);
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "after")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()["value"],
        "child said 1000 and ended FAILED"
    );

    let (state, _, id) = run(
        &h,
        Runners::core(),
        &parent(1, "").replace("flowId: child", "flowId: nobody"),
        json!({}),
    )
    .await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("flow t.nobody does not exist")),
        "{:?}",
        messages(&h, &id).await
    );
}

#[tokio::test]
async fn killing_the_parent_kills_the_subflow_it_started() {
    let h = harness().await;
    save(&h, CHILD).await;
    let executor = executor(&h, Runners::core());
    let id = launch(&executor, &parent(0, ""), json!({})).await.unwrap();
    // Wait for the child to be running its long sleep.
    let child_id = loop {
        let runs = h.store.task_runs(&id).await.unwrap();
        if let Some(child) = runs.iter().find_map(|r| {
            r.checkpoint
                .as_ref()?
                .get("executionId")?
                .as_str()
                .map(ExecutionId::new)
        }) && h
            .store
            .task_runs(&child)
            .await
            .unwrap()
            .iter()
            .any(|r| r.task_id.as_str() == "nap" && r.state == State::Running)
        {
            break child;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    executor.kill(&id).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Killed
    );
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), executor.wait(&child_id))
            .await
            .unwrap()
            .unwrap(),
        State::Killed
    );
}

#[tokio::test]
async fn a_working_directory_shares_its_files_and_keeps_its_output_files() {
    let h = harness().await;
    let yaml = r#"
id: wd
namespace: company.team
inputs:
  - id: name
    type: STRING
    defaults: Ann
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      greeting.txt: "hello {{ inputs.name }}"
      data/rows.csv: "a,b"
      "{{ inputs.name | lower }}.log": "a key is rendered"
      skipped.tmp: "not kept"
    outputFiles:
      - "*.txt"
      - "*.log"
      - "data/**"
    tasks:
      - id: where
        type: debug.Return
        format: "{{ workingDir }}"
  - id: readback
    type: debug.Return
    format: "{{ read(outputs.wd.outputFiles['greeting.txt']) }} / {{ read(outputs.wd.outputFiles['data/rows.csv']) }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let output = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .and_then(|r| r.outputs.clone())
            .unwrap()
    };
    assert_eq!(output("readback")["value"], "hello Ann / a,b");
    let kept = output("wd")["outputFiles"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    // A key is rendered, as Kestra renders it: `ann.log`.
    assert_eq!(kept, ["ann.log", "data/rows.csv", "greeting.txt"]);
    let dir = output("where")["value"].as_str().unwrap().to_owned();
    assert!(dir.contains("mortar-working-dir-"), "{dir}");
    assert!(
        !std::path::Path::new(&dir).exists(),
        "the working directory is removed at the end"
    );
}

#[tokio::test]
async fn an_input_file_outside_the_working_directory_fails_the_task() {
    let h = harness().await;
    let yaml = "id: wd\nnamespace: t\ntasks:\n  - id: wd\n    type: flow.WorkingDirectory\n    inputFiles:\n      ../escape.txt: x\n    tasks:\n      - id: t\n        type: log.Log\n        message: hi\n";
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(state_of(&runs, "wd"), State::Failed);
    assert!(messages(&h, &id).await.iter().any(|m| {
        m.contains("\"../escape.txt\" is not a relative path inside the working directory")
    }));
}

/// Kestra nests an input whose id has dots: `request.name` is read as
/// `inputs.request.name`, stored nested, and a dotted SECRET stays masked.
#[tokio::test]
async fn dotted_input_ids_nest_as_in_kestra_and_a_dotted_secret_stays_masked() {
    let h = harness().await;
    let yaml = "id: f\nnamespace: t\ninputs:\n  - id: request.name\n    type: STRING\n  - id: request.token\n    type: SECRET\n  - id: plain\n    type: INT\n    defaults: 3\ntasks:\n  - id: say\n    type: log.Log\n    message: \"{{ inputs.request.name }} {{ inputs.plain }} {{ inputs.request.token }}\"\n";
    let problems = engine::flow::parse(yaml).problems;
    assert!(problems.is_empty(), "{problems:?}");
    let (state, _, id) = run(
        &h,
        Runners::core(),
        yaml,
        json!({"request.name": "ada", "request.token": "s3cr3t-value"}),
    )
    .await;
    assert_eq!(state, State::Success);
    let logs = messages(&h, &id).await;
    assert!(logs.contains(&"ada 3 ******".to_owned()), "{logs:?}");
    let stored = h.store.get_execution(&id).await.unwrap().unwrap().inputs;
    assert_eq!(
        stored,
        json!({"request": {"name": "ada", "token": "******"}, "plain": 3})
    );
    // A reference to a part that does not exist is caught before any run.
    let bad = yaml.replace("{{ inputs.request.name }}", "{{ inputs.reqest.name }}");
    let problems = engine::flow::parse(&bad).problems;
    assert!(
        problems.iter().any(|p| p
            .message
            .contains("`inputs.reqest` is not an input of this flow")),
        "{problems:?}"
    );
    let bad_id = yaml.replace("id: plain", "id: plain.");
    assert!(
        engine::flow::parse(&bad_id)
            .problems
            .iter()
            .any(|p| p.message.contains("has an empty part"))
    );
}

/// Kestra's flowables have their own `errors` and `finally`: `errors` runs
/// inside the flowable when a task in it fails (the flowable stays
/// FAILED), `finally` after its tasks whatever their outcome.
#[tokio::test]
async fn a_flowables_own_errors_and_finally_run_inside_it() {
    let h = harness().await;
    let failing = "id: f\nnamespace: t\ntasks:\n  - id: seq\n    type: flow.Sequential\n    tasks:\n      - id: boom\n        type: execution.Fail\n        errorMessage: broke\n      - id: skipped\n        type: log.Log\n        message: never\n    errors:\n      - id: handle\n        type: log.Log\n        message: \"handled\"\n    finally:\n      - id: cleanup\n        type: log.Log\n        message: cleanup\n  - id: after\n    type: log.Log\n    message: never either\n";
    assert!(
        engine::flow::parse(failing).problems.is_empty(),
        "{:?}",
        engine::flow::parse(failing).problems
    );
    let (state, runs, id) = run(&h, Runners::core(), failing, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(state_of(&runs, "seq"), State::Failed);
    assert_eq!(state_of(&runs, "boom"), State::Failed);
    assert_eq!(state_of(&runs, "handle"), State::Success);
    assert_eq!(state_of(&runs, "cleanup"), State::Success);
    assert!(
        runs.iter()
            .all(|r| !matches!(r.task_id.as_str(), "skipped" | "after")),
        "{runs:?}"
    );
    // The branches sit inside the flowable.
    let seq = runs
        .iter()
        .find(|r| r.task_id.as_str() == "seq")
        .unwrap()
        .id
        .clone();
    assert!(
        runs.iter()
            .filter(|r| matches!(r.task_id.as_str(), "handle" | "cleanup"))
            .all(|r| r.parent_task_run_id.as_ref() == Some(&seq))
    );
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("a task in seq failed: running its `errors` tasks"))
    );

    // On success `errors` does not run, `finally` does; a failing `finally`
    // fails the flowable.
    let succeeding = "id: g\nnamespace: t\ntasks:\n  - id: par\n    type: flow.Parallel\n    tasks:\n      - id: a\n        type: log.Log\n        message: a\n    errors:\n      - id: handle\n        type: log.Log\n        message: handled\n    finally:\n      - id: cleanup\n        type: execution.Fail\n        errorMessage: cleanup broke\n";
    let (state, runs, _) = run(&h, Runners::core(), succeeding, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(state_of(&runs, "a"), State::Success);
    assert_eq!(state_of(&runs, "cleanup"), State::Failed);
    assert_eq!(state_of(&runs, "par"), State::Failed);
    assert!(runs.iter().all(|r| r.task_id.as_str() != "handle"));
}

/// Kestra's SetVariables and UnsetVariables examples, together: later
/// tasks read what was set, mappings merge, and a resumed execution (after
/// the process stopped) reads the variables as they were left.
#[tokio::test]
async fn set_and_unset_variables_change_vars_for_later_tasks_and_survive_a_restart() {
    let h = harness().await;
    let yaml = r#"
id: variables
namespace: test
variables:
  name: World
  db: { host: a, port: 1 }
tasks:
  - id: set_vars
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      message: Hello
      name: Loïc
      db: { port: "{{ 1 + 1 }}" }
  - id: hello
    type: debug.Return
    format: "{{ vars.message }} {{ vars.name }} {{ vars.db.host }}:{{ vars.db.port }}"
  - id: unset_variables
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables:
      - message
      - db.host
  - id: wait
    type: flow.Pause
  - id: after
    type: debug.Return
    format: "{{ vars.message ?? 'gone' }} {{ vars.name }} {{ vars.db }}"
"#;
    let first = executor(&h, Runners::core());
    let id = launch(&first, yaml, json!({})).await.unwrap();
    until_paused(&h, &id).await;
    first.shutdown().await;
    let second = executor(&h, Runners::core());
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    second.recover(|_| Some(plan.clone())).await.unwrap();
    second.resume(&id, Map::new()).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(10), second.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Success);
    let runs = h.store.task_runs(&id).await.unwrap();
    let value = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value("hello"), "Hello Loïc a:2");
    assert_eq!(value("after"), "gone Loïc {\"port\":2}");

    // overwrite: false names the variables that exist; a missing one to
    // unset is named unless ignoreMissing.
    let refused = "id: refused\nnamespace: test\nvariables:\n  name: World\ntasks:\n  - id: set\n    type: execution.SetVariables\n    overwrite: false\n    variables:\n      name: again\n";
    let (state, _, id) = run(&h, Runners::core(), refused, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("already exist: name"))
    );
    let missing = "id: missing\nnamespace: test\ntasks:\n  - id: unset\n    type: execution.UnsetVariables\n    variables: [nope]\n  - id: lenient\n    type: execution.UnsetVariables\n    ignoreMissing: true\n    variables: [nope]\n";
    let (state, runs, id) = run(&h, Runners::core(), missing, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("`nope` does not exist"))
    );
    assert!(runs.iter().all(|r| r.task_id.as_str() != "lenient"));
    let lenient = missing.replace(
        "  - id: unset\n    type: execution.UnsetVariables\n    variables: [nope]\n",
        "",
    );
    assert_eq!(
        run(&h, Runners::core(), &lenient, json!({})).await.0,
        State::Success
    );
}

/// Kestra's LoopUntil example: the loop ends once its condition holds,
/// counting its iterations; the limits end it SUCCESS, or FAILED with
/// failOnMaxReached; WaitFor is the same task.
#[tokio::test]
async fn loop_until_repeats_its_tasks_until_the_condition_holds_or_a_limit_is_reached() {
    let h = harness().await;
    let yaml = r#"
id: loop_until
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.return.value == '4' }}"
    checkFrequency:
      interval: PT0.01S
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.loop.iterationCount }}"
  - id: after
    type: debug.Return
    format: "{{ outputs.loop.iterationCount }} {{ outputs.return.value }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let returns: Vec<_> = runs
        .iter()
        .filter(|r| r.task_id.as_str() == "return")
        .collect();
    assert_eq!(returns.len(), 4, "one task run per iteration");
    let mut values: Vec<_> = returns.iter().map(|r| r.value.clone().unwrap()).collect();
    values.sort();
    assert_eq!(values, ["1", "2", "3", "4"]);
    let after = runs.iter().find(|r| r.task_id.as_str() == "after").unwrap();
    assert_eq!(after.outputs.as_ref().unwrap()["value"], "4 4");
    let looped = runs.iter().find(|r| r.task_id.as_str() == "loop").unwrap();
    assert_eq!(looped.outputs.as_ref().unwrap()["iterationCount"], 4);

    let never = |fail: bool| {
        format!(
            "id: never\nnamespace: test\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.WaitFor\n    condition: \"{{{{ false }}}}\"\n    failOnMaxReached: {fail}\n    checkFrequency:\n      maxIterations: 3\n      interval: PT0.01S\n    tasks:\n      - id: try\n        type: debug.Return\n        format: \"{{{{ taskrun.iteration }}}}\"\n"
        )
    };
    let (state, runs, id) = run(&h, Runners::core(), &never(false), json!({})).await;
    assert_eq!(state, State::Success);
    assert_eq!(
        runs.iter().filter(|r| r.task_id.as_str() == "try").count(),
        3
    );
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("maxIterations reached after 3 iterations"))
    );
    let (state, runs, _) = run(&h, Runners::core(), &never(true), json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(state_of(&runs, "wait"), State::Failed);
    let mut iterations: Vec<_> = runs
        .iter()
        .filter(|r| r.task_id.as_str() == "try")
        .map(|r| r.outputs.as_ref().unwrap()["value"].clone())
        .collect();
    iterations.sort_by_key(|v| v.to_string());
    assert_eq!(iterations, ["1", "2", "3"]);

    // A failing iteration fails the loop at once.
    let failing = "id: failing\nnamespace: test\ntasks:\n  - id: loop\n    type: flow.LoopUntil\n    condition: \"{{ false }}\"\n    tasks:\n      - id: boom\n        type: execution.Fail\n";
    let (state, runs, _) = run(&h, Runners::core(), failing, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(
        runs.iter().filter(|r| r.task_id.as_str() == "boom").count(),
        1
    );

    // A kill stops the wait between iterations.
    let slow = "id: slow\nnamespace: test\ntasks:\n  - id: loop\n    type: flow.LoopUntil\n    condition: \"{{ false }}\"\n    checkFrequency:\n      interval: PT1H\n    tasks:\n      - id: once\n        type: debug.Return\n        format: x\n";
    let executor = executor(&h, Runners::core());
    let id = launch(&executor, slow, json!({})).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !h
        .store
        .task_runs(&id)
        .await
        .unwrap()
        .iter()
        .any(|r| r.task_id.as_str() == "once" && r.state == State::Success)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first iteration ends"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    executor.kill(&id).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(5), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Killed);
}

/// execution.Count: per flow, in a window and in states, kept by its
/// expression (with `count`); a named flow without executions counts 0.
#[tokio::test]
async fn count_counts_executions_per_flow_and_keeps_those_its_expression_keeps() {
    let h = harness().await;
    let ok =
        "id: ok\nnamespace: team.a\ntasks:\n  - id: r\n    type: debug.Return\n    format: x\n";
    let bad = "id: bad\nnamespace: team.a\ntasks:\n  - id: f\n    type: execution.Fail\n";
    for _ in 0..3 {
        run(&h, Runners::core(), ok, json!({})).await;
    }
    run(&h, Runners::core(), bad, json!({})).await;
    let count = r#"
id: counting
namespace: team.b
tasks:
  - id: count
    type: io.kestra.plugin.core.execution.Count
    flows:
      - namespace: team.a
        flowId: ok
      - namespace: team.a
        flowId: none
    startDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
    expression: "{{ count >= 0 }}"
  - id: failed
    type: execution.Count
    namespaces: [team.a]
    states: [FAILED]
    startDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
    expression: "{{ count > 0 }}"
  - id: later
    type: execution.Count
    namespaces: [team.a]
    startDate: "{{ now() | dateAdd(1, 'HOURS') }}"
    expression: "{{ count >= 0 }}"
"#;
    let (state, runs, id) = run(&h, Runners::core(), count, json!({})).await;
    assert_eq!(state, State::Success, "{:?}", messages(&h, &id).await);
    let outputs = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    assert_eq!(
        outputs("count"),
        json!({"results": [{"namespace": "team.a", "flowId": "ok", "count": 3}, {"namespace": "team.a", "flowId": "none", "count": 0}], "total": 3})
    );
    assert_eq!(
        outputs("failed"),
        json!({"results": [{"namespace": "team.a", "flowId": "bad", "count": 1}], "total": 1})
    );
    assert_eq!(outputs("later"), json!({"results": [], "total": 0}));
    let neither = "id: neither\nnamespace: t\ntasks:\n  - id: c\n    type: execution.Count\n    startDate: '2024-01-01T00:00:00Z'\n    expression: '{{ count > 0 }}'\n";
    let (state, _, id) = run(&h, Runners::core(), neither, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("give `flows` or `namespaces`"))
    );
}

/// DeduplicateItems keeps each key's last item in the file's order;
/// FilterItems keeps or drops items by an expression over their fields,
/// and fails on a null unless told otherwise; LocalFiles writes into the
/// WorkingDirectory later tasks share and sends files to storage.
#[tokio::test]
async fn item_tasks_deduplicate_and_filter_ion_files_and_local_files_fill_the_working_directory() {
    let h = harness().await;
    let yaml = r#"
id: items
namespace: test
tasks:
  - id: write
    type: storage.Write
    extension: .ion
    content: |
      {id:1,region:"eu",amount:50}
      {id:2,region:"us",amount:150}
      {id:1,region:"eu",amount:70}
      {id:3,region:"eu",amount:300}
      {id:2,region:"us",amount:20}
  - id: dedup
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ outputs.write.uri }}"
    expr: "{{ id }}-{{ region }}"
  - id: big
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.dedup.uri }}"
    filterCondition: "{{ amount > 60 }}"
  - id: not_eu
    type: storage.FilterItems
    from: "{{ outputs.write.uri }}"
    filterCondition: "{{ region == 'eu' }}"
    filterType: EXCLUDE
  - id: lenient
    type: storage.FilterItems
    from: "{{ outputs.write.uri }}"
    filterCondition: "{{ missing ?? null }}"
    errorOrNullBehavior: EXCLUDE
  - id: dir
    type: flow.WorkingDirectory
    tasks:
      - id: local
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          query.sql: "SELECT {{ outputs.big.processedItemsTotal }}"
          copy.ion: "{{ outputs.big.uri }}"
        outputs: ["*.ion"]
      - id: read
        type: log.Log
        message: "{{ read(outputs.local.uris['copy.ion']) | trim }}"
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success, "{:?}", messages(&h, &id).await);
    let output = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    let storage = h
        .services
        .storage
        .for_namespace(&engine::ids::Namespace::new("test"));
    let read = |uri: &Value| {
        std::fs::read_to_string(storage.path_of(uri.as_str().unwrap()).unwrap()).unwrap()
    };
    let dedup = output("dedup");
    assert_eq!(
        read(&dedup["uri"]),
        "{id:1,region:\"eu\",amount:70}\n{id:3,region:\"eu\",amount:300}\n{id:2,region:\"us\",amount:20}\n"
    );
    assert_eq!(
        (
            dedup["numKeys"].clone(),
            dedup["processedItemsTotal"].clone(),
            dedup["droppedItemsTotal"].clone()
        ),
        (json!(3), json!(5), json!(2))
    );
    let big = output("big");
    assert!(big["uri"].as_str().unwrap().ends_with(".ion"));
    assert_eq!(
        read(&big["uri"]),
        "{id:1,region:\"eu\",amount:70}\n{id:3,region:\"eu\",amount:300}\n"
    );
    assert_eq!(
        (
            big["processedItemsTotal"].clone(),
            big["droppedItemsTotal"].clone()
        ),
        (json!(3), json!(1))
    );
    assert_eq!(
        read(&output("not_eu")["uri"]),
        "{id:2,region:\"us\",amount:150}\n{id:2,region:\"us\",amount:20}\n"
    );
    assert_eq!(output("lenient")["droppedItemsTotal"], 5);
    let uris = output("local")["uris"].clone();
    assert_eq!(
        uris.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["copy.ion"]
    );
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m == "{id:1,region:\"eu\",amount:70}\n{id:3,region:\"eu\",amount:300}"),
        "{:?}",
        messages(&h, &id).await
    );

    // A null condition fails by default, naming the expression and the item.
    let strict = "id: strict\nnamespace: test\ntasks:\n  - id: write\n    type: storage.Write\n    content: \"{a:1}\"\n  - id: filter\n    type: storage.FilterItems\n    from: \"{{ outputs.write.uri }}\"\n    filterCondition: \"{{ b ?? null }}\"\n";
    let (state, _, id) = run(&h, Runners::core(), strict, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("Expression `{{ b ?? null }}` return `null` on item `{a:1}`")),
        "{:?}",
        messages(&h, &id).await
    );
}

/// Namespace files from a flow: `read()` by path, by `fileURI` and at a
/// revision; a WorkingDirectory receives those `namespaceFiles` picks; the
/// namespace tasks upload from the directory and from storage, download
/// and delete.
#[tokio::test]
async fn namespace_files_are_read_copied_into_working_directories_uploaded_downloaded_and_deleted()
{
    use engine::namespace_files::Conflict;
    let h = harness().await;
    let files = h.services.storage.namespace_files("company.team").unwrap();
    files
        .put("sql/q.sql", b"SELECT 1", Conflict::Overwrite)
        .unwrap();
    files
        .put("sql/q.sql", b"SELECT 2", Conflict::Overwrite)
        .unwrap();
    files
        .put("scripts/clean.py", b"print('clean')", Conflict::Overwrite)
        .unwrap();
    files
        .put("notes.md", b"# notes", Conflict::Overwrite)
        .unwrap();
    h.services
        .storage
        .namespace_files("company")
        .unwrap()
        .put("shared.txt", b"from the parent", Conflict::Overwrite)
        .unwrap();
    let yaml = r#"
id: nsfiles
namespace: company.team
tasks:
  - id: read
    type: log.Log
    message: "{{ read('sql/q.sql') }} | {{ read(fileURI('/sql/q.sql')) }} | {{ read('sql/q.sql', version=1) }} | {{ read('shared.txt', namespace='company') }}"
  - id: dir
    type: flow.WorkingDirectory
    namespaceFiles:
      enabled: true
      include: ["sql/**", "scripts/*"]
      exclude: ["**.md"]
    inputFiles:
      extra/new.sql: "SELECT 3"
    tasks:
      - id: local
        type: storage.LocalFiles
        outputs: ["**"]
      - id: upload
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: company.backup
        files: ["**.sql"]
        destination: /copied
  - id: write
    type: storage.Write
    content: "a,b"
  - id: upload_map
    type: namespace.UploadFiles
    namespace: company.team
    filesMap:
      data/rows.csv: "{{ outputs.write.uri }}"
  - id: download
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: company.team
    files: ["/sql/**", "/data/*"]
  - id: show
    type: log.Log
    message: "{{ read(outputs.download.files['/data/rows.csv']) }}"
  - id: delete
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: company.team
    files: /data/**
    deleteParentFolder: true
"#;
    let (state, runs, id) = run(&h, Runners::core(), yaml, json!({})).await;
    let logs = messages(&h, &id).await;
    assert_eq!(state, State::Success, "{logs:?}");
    assert!(
        logs.iter()
            .any(|m| m == "SELECT 2 | SELECT 2 | SELECT 1 | from the parent"),
        "{logs:?}"
    );
    let output = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .unwrap()
            .outputs
            .clone()
            .unwrap()
    };
    let local: Vec<String> = output("local")["uris"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        local,
        ["extra/new.sql", "scripts/clean.py", "sql/q.sql"],
        "notes.md left out"
    );
    let backup = h
        .services
        .storage
        .namespace_files("company.backup")
        .unwrap();
    assert_eq!(
        backup.all().unwrap(),
        ["copied/extra/new.sql", "copied/sql/q.sql"]
    );
    assert_eq!(backup.get("copied/sql/q.sql", None).unwrap(), b"SELECT 2");
    let downloaded: Vec<String> = output("download")["files"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(downloaded, ["/data/rows.csv", "/sql/q.sql"]);
    assert!(logs.iter().any(|m| m == "a,b"), "{logs:?}");
    assert_eq!(output("delete")["files"], json!(["/data/rows.csv"]));
    assert_eq!(
        files.all().unwrap(),
        ["notes.md", "scripts/clean.py", "sql/q.sql"]
    );
    assert!(
        files
            .list("")
            .unwrap()
            .iter()
            .all(|a| a.file_name != "data"),
        "the emptied folder went"
    );

    // A missing file fails the task, naming it; execution storage cannot
    // reach the namespace files.
    let missing = "id: missing\nnamespace: company.team\ntasks:\n  - id: read\n    type: log.Log\n    message: \"{{ read('nope.sql') }}\"\n";
    let (state, _, id) = run(&h, Runners::core(), missing, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("namespace file /nope.sql does not exist")),
        "{:?}",
        messages(&h, &id).await
    );
    let sneaky = "id: sneaky\nnamespace: company.team\ntasks:\n  - id: size\n    type: storage.Size\n    uri: storage:///company.team/_files/sql/q.sql\n";
    assert_eq!(
        run(&h, Runners::core(), sneaky, json!({})).await.0,
        State::Failed
    );
}

/// Kestra's own test flow `retry-success.yaml` (core/src/test/resources/
/// flows/valids), unchanged: `attemptsCount` counts the attempts before
/// this one, a property that does not render fails the attempt (retried),
/// and warningOnRetry ends the execution WARNING after four attempts, as
/// Kestra's RetryCaseTest expects.
#[tokio::test]
async fn kestras_retry_success_flow_ends_warning_after_four_attempts() {
    let h = harness().await;
    let yaml = "id: retry-success\nnamespace: io.kestra.tests\n\ntasks:\n- id: failed\n  type: io.kestra.plugin.core.log.Log\n  message: \"{{ taskrun.attemptsCount == 3 ? 'ok' : ko}}\"\n  retry:\n    type: constant\n    interval: PT0.250S\n    maxAttempt: 4\n    maxDuration: PT15S\n    warningOnRetry: true\n\nerrors:\n  - id: never-happen\n    type: io.kestra.plugin.core.log.Log\n    message: Never {{task.id}}\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Warning);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].attempts.len(), 4);
}

/// Kestra's dynamic inputs: a SELECT whose choices an expression gives
/// (from the KV store and an input before it), `dependsOn` with a
/// condition that leaves an input out, and a default rendered from the
/// other inputs.
#[tokio::test]
async fn inputs_resolve_after_those_they_depend_on_with_expressions() {
    let h = harness().await;
    let kv = h.services.storage.kv("company.team").unwrap();
    kv.put(
        "cloud_vms",
        json!({"AWS": ["t3.micro", "m5.large"], "GCP": ["e2-small"]}),
        None,
        None,
        true,
        None,
    )
    .unwrap();
    let yaml = r#"
id: dynamic
namespace: company.team
inputs:
  - id: cloud_provider
    type: SELECT
    values: [AWS, GCP]
  - id: vm
    type: SELECT
    expression: "{{ kv('cloud_vms')[inputs.cloud_provider] }}"
    dependsOn:
      inputs: [cloud_provider]
  - id: gpu
    type: BOOLEAN
    defaults: true
    dependsOn:
      inputs: [cloud_provider]
      condition: "{{ inputs.cloud_provider == 'GCP' }}"
  - id: database
    type: STRING
    defaults: "{{ inputs.cloud_provider | lower }}-{{ inputs.vm }}-db"
    dependsOn:
      inputs: [vm]
tasks:
  - id: show
    type: debug.Return
    format: "{{ inputs.vm }} {{ inputs.database }} {{ inputs.gpu ?? 'no gpu' }}"
"#;
    assert!(
        engine::flow::parse(yaml).is_valid(),
        "{:?}",
        engine::flow::parse(yaml).problems
    );
    let (state, runs, _) = run(
        &h,
        Runners::core(),
        yaml,
        json!({"cloud_provider": "AWS", "vm": "m5.large"}),
    )
    .await;
    assert_eq!(state, State::Success);
    assert_eq!(
        runs[0].outputs.as_ref().unwrap()["value"],
        "m5.large aws-m5.large-db no gpu"
    );
    let (state, runs, _) = run(
        &h,
        Runners::core(),
        yaml,
        json!({"cloud_provider": "GCP", "vm": "e2-small"}),
    )
    .await;
    assert_eq!(state, State::Success);
    assert_eq!(
        runs[0].outputs.as_ref().unwrap()["value"],
        "e2-small gcp-e2-small-db true"
    );
    // A choice the expression does not give is refused, naming them.
    let refused = launch(
        &executor(&h, Runners::core()),
        yaml,
        json!({"cloud_provider": "GCP", "vm": "m5.large"}),
    )
    .await
    .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("\"m5.large\" is not one of e2-small"),
        "{refused}"
    );

    // dependsOn names inputs of the flow, without a cycle.
    let unknown = engine::flow::parse(
        "id: x\nnamespace: t\ninputs:\n  - id: a\n    type: STRING\n    dependsOn:\n      inputs: [b]\ntasks:\n  - id: l\n    type: log.Log\n    message: x\n",
    );
    assert!(
        unknown.problems.iter().any(|p| p
            .message
            .contains("depends on \"b\", which is not an input")),
        "{:?}",
        unknown.problems
    );
    let cycle = engine::flow::parse(
        "id: x\nnamespace: t\ninputs:\n  - id: a\n    type: STRING\n    dependsOn:\n      inputs: [b]\n  - id: b\n    type: STRING\n    dependsOn:\n      inputs: [a]\ntasks:\n  - id: l\n    type: log.Log\n    message: x\n",
    );
    assert!(
        cycle
            .problems
            .iter()
            .any(|p| p.message.contains("depends on itself")),
        "{:?}",
        cycle.problems
    );
}

/// Kestra's ForEachItem: a file cut into batches of two lines, one
/// subflow execution per batch with `taskrun.items`, waited for; the
/// outputs as Kestra names them (`<id>_items`, `<id>_merge`), and a failed
/// batch fails the task unless transmitFailed is false.
#[tokio::test]
async fn for_each_item_starts_a_subflow_execution_per_batch_and_gathers_their_outputs() {
    let h = harness().await;
    let subflow = "id: per_batch\nnamespace: company.team\ninputs:\n  - id: items\n    type: FILE\ntasks:\n  - id: check\n    type: execution.Fail\n    condition: \"{{ read(inputs.items) contains 'bad' }}\"\noutputs:\n  - id: lines\n    type: STRING\n    value: \"{{ read(inputs.items) | trim | replace({'\\n': '+'}) }}\"\n";
    support::save(&h.store, subflow).await;
    let parent = |content: &str, transmit: bool| {
        format!(
            "id: each_item\nnamespace: company.team\ntasks:\n  - id: extract\n    type: storage.Write\n    extension: .csv\n    content: \"{content}\"\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEachItem\n    items: \"{{{{ outputs.extract.uri }}}}\"\n    batch:\n      rows: 2\n    namespace: company.team\n    flowId: per_batch\n    transmitFailed: {transmit}\n    inputs:\n      items: \"{{{{ taskrun.items }}}}\"\n  - id: after\n    type: log.Log\n    message: \"{{{{ outputs.each_items.numberOfBatches }}}} batches, {{{{ outputs.each_items.iterations }}}}: {{{{ read(outputs.each_merge.subflowOutputs) | trim }}}}\"\n"
        )
    };
    let ok = parent("a\\nb\\nc\\nd\\ne\\n", true);
    assert!(
        engine::flow::parse(&ok).is_valid(),
        "{:?}",
        engine::flow::parse(&ok).problems
    );
    let (state, runs, id) = run(&h, Runners::core(), &ok, json!({})).await;
    let logs = messages(&h, &id).await;
    assert_eq!(state, State::Success, "{logs:?}");
    let each = runs
        .iter()
        .find(|r| r.task_id.as_str() == "each")
        .unwrap()
        .outputs
        .clone()
        .unwrap();
    assert_eq!(each["numberOfBatches"], 3);
    assert_eq!(each["iterations"], json!({"SUCCESS": 3}));
    assert!(
        logs.iter()
            .any(|m| m
                == "3 batches, {\"SUCCESS\":3}: {lines:\"a+b\"}\n{lines:\"c+d\"}\n{lines:\"e\"}"),
        "{logs:?}"
    );
    let children = h
        .store
        .search_executions(
            &engine::store::ExecutionFilter {
                flow_id: Some("per_batch".into()),
                ..Default::default()
            },
            1,
            100,
        )
        .await
        .unwrap()
        .results;
    assert_eq!(children.len(), 3);
    assert!(
        children
            .iter()
            .all(|c| c.labels.get("system.correlationId").map(String::as_str) == Some(id.as_str()))
    );

    // One bad batch fails the task, naming the execution; with transmitFailed false it goes on.
    let (state, _, failed) = run(
        &h,
        Runners::core(),
        &parent("a\\nbad\\nc\\n", true),
        json!({}),
    )
    .await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &failed)
            .await
            .iter()
            .any(|m| m.contains("1 of 2 subflow executions of company.team.per_batch failed"))
    );
    let (state, runs, _) = run(
        &h,
        Runners::core(),
        &parent("a\\nbad\\nc\\n", false),
        json!({}),
    )
    .await;
    assert_eq!(state, State::Success);
    let each = runs
        .iter()
        .find(|r| r.task_id.as_str() == "each")
        .unwrap()
        .outputs
        .clone()
        .unwrap();
    assert_eq!(each["iterations"], json!({"FAILED": 1, "SUCCESS": 1}));
}

/// Kestra's own test flows `task-allow-warning-runnable.yml` and
/// `task-allow-warning-flowable.yml`, unchanged: allowFailure with
/// allowWarning ends the execution SUCCESS (after three attempts for the
/// retried task), and the tasks after run.
#[tokio::test]
async fn kestras_allow_warning_flows_end_success() {
    let h = harness().await;
    let runnable = "id: task-allow-warning-runnable\nnamespace: io.kestra.tests\n\ntasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    allowFailure: true\n    allowWarning: true\n    retry:\n      type: constant\n      interval: PT0.100S\n      maxAttempt: 3\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: I'm allowed\n";
    let (state, runs, _) = run(&h, Runners::core(), runnable, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "fail")
            .unwrap()
            .attempts
            .len(),
        3
    );
    let flowable = "id: task-allow-warning-flowable\nnamespace: io.kestra.tests\n\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    allowFailure: true\n    allowWarning: true\n    tasks:\n      - id: fail\n        type: io.kestra.plugin.core.execution.Fail\n      - id: log-not-allowed\n        type: io.kestra.plugin.core.log.Log\n        message: not allowed\n  - id: log-allowed\n    type: io.kestra.plugin.core.log.Log\n    message: I'm allowed\n";
    let (state, runs, _) = run(&h, Runners::core(), flowable, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert!(runs.iter().all(|r| r.task_id.as_str() != "log-not-allowed"));
    assert!(runs.iter().any(|r| r.task_id.as_str() == "log-allowed"));
}

/// Kestra's own test flow `pause.yaml`: the older Pause with `tasks` runs
/// them once resumed, inside it; and flows written with Kestra's older
/// type names (`io.kestra.core.tasks.…`, `io.kestra.plugin.fs.http.…`)
/// validate and run.
#[tokio::test]
async fn the_older_pause_with_tasks_and_kestras_older_type_names_run() {
    let h = harness().await;
    let pause = "id: pause\nnamespace: io.kestra.tests\n\ntasks:\n  - id: pause\n    type: io.kestra.plugin.core.flow.Pause\n    tasks:\n      - id: subtask\n        type: io.kestra.plugin.core.log.Log\n        message: \"trigger after manual restart\"\n  - id: last\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{task.id}} > {{taskrun.startDate}}\"\n\nerrors:\n  - id: failed-echo\n    type: io.kestra.plugin.core.debug.Echo\n    description: \"Log the error\"\n    format: I'm failing {{task.id}}\n";
    assert!(
        engine::flow::parse(pause).is_valid(),
        "{:?}",
        engine::flow::parse(pause).problems
    );
    let executor = executor(&h, Runners::core());
    let id = launch(&executor, pause, json!({})).await.unwrap();
    until_paused(&h, &id).await;
    assert!(
        h.store
            .task_runs(&id)
            .await
            .unwrap()
            .iter()
            .all(|r| r.task_id.as_str() != "subtask"),
        "the tasks wait for the resume"
    );
    executor.resume(&id, Map::new()).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Success);
    let runs = h.store.task_runs(&id).await.unwrap();
    let paused = runs.iter().find(|r| r.task_id.as_str() == "pause").unwrap();
    let sub = runs
        .iter()
        .find(|r| r.task_id.as_str() == "subtask")
        .unwrap();
    assert_eq!(sub.parent_task_run_id.as_ref(), Some(&paused.id));
    assert_eq!(state_of(&runs, "last"), State::Success);

    let old = "id: old_names\nnamespace: io.kestra.tests\ntasks:\n  - id: par\n    type: io.kestra.core.tasks.flows.Parallel\n    tasks:\n      - id: hello\n        type: io.kestra.core.tasks.log.Log\n        message: hello\n      - id: value\n        type: io.kestra.core.tasks.debugs.Return\n        format: \"42\"\n  - id: fail\n    type: io.kestra.core.tasks.executions.Fail\n    condition: \"{{ outputs.value.value != '42' }}\"\ntriggers:\n  - id: nightly\n    type: io.kestra.core.models.triggers.types.Schedule\n    cron: \"0 2 * * *\"\n    conditions:\n      - type: io.kestra.core.models.conditions.types.VariableCondition\n        expression: \"{{ true }}\"\n";
    let parsed = engine::flow::parse(old);
    assert!(parsed.is_valid(), "{:?}", parsed.problems);
    let (state, runs, _) = run(&h, Runners::core(), old, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    assert_eq!(runs.len(), 4);
}

/// Subflow's `inheritLabels`: the child gets the parent's labels, then the
/// task's own; without it, only its own and the correlation label.
#[tokio::test]
async fn a_subflow_inherits_the_parents_labels_when_asked() {
    let h = harness().await;
    support::save(&h.store, "id: child\nnamespace: company.team\ntasks:\n  - id: value\n    type: debug.Return\n    format: forty-two\n").await;
    let parent = |inherit: bool| {
        format!(
            "id: parent\nnamespace: company.team\nlabels:\n  team: data\n  env: prod\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: company.team\n    flowId: child\n    inheritLabels: {inherit}\n    labels:\n      env: test\n    outputs:\n      extracted: \"{{{{ outputs.value.value ?? outputs['error-t1'].value }}}}\"\n"
        )
    };
    for inherit in [true, false] {
        let (state, runs, _) = run(&h, Runners::core(), &parent(inherit), json!({})).await;
        assert_eq!(state, State::Success);
        let child = engine::ids::ExecutionId::new(
            runs[0].outputs.as_ref().unwrap()["executionId"]
                .as_str()
                .unwrap(),
        );
        let labels = h.store.get_execution(&child).await.unwrap().unwrap().labels;
        assert_eq!(
            labels.get("env").map(String::as_str),
            Some("test"),
            "the task's own win"
        );
        assert_eq!(
            labels.get("team").map(String::as_str),
            inherit.then_some("data"),
            "inherit {inherit}"
        );
        assert!(labels.contains_key("system.correlationId"));
        // Kestra's older `outputs`, over the child's task outputs.
        assert_eq!(
            runs[0].outputs.as_ref().unwrap()["outputs"]["extracted"],
            "forty-two"
        );
    }
}

/// Kestra's own test flow `state.yaml`, unchanged, with what its StateTest
/// expects: created, updated ("2" as text), deleted across three
/// executions; and inside ForEach loops, a state per value or shared.
#[tokio::test]
async fn kestras_state_flow_creates_updates_and_deletes_a_state_across_executions() {
    let h = harness().await;
    let root = env!("CARGO_MANIFEST_DIR");
    let yaml = std::fs::read_to_string(format!("{root}/tests/kestra/state.yaml")).unwrap();
    let get = |runs: &[TaskRunRecord], task: &str, value: Option<&str>| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task && r.value.as_deref() == value)
            .unwrap_or_else(|| panic!("{task}"))
            .outputs
            .clone()
            .unwrap()
    };
    let (state, runs, _) = run(&h, Runners::core(), &yaml, json!({"state": "counter"})).await;
    assert_eq!(state, State::Success);
    assert_eq!(runs.len(), 5);
    assert_eq!(get(&runs, "createGet", None)["data"]["value"], 1);
    let (_, runs, _) = run(&h, Runners::core(), &yaml, json!({"state": "counter"})).await;
    assert_eq!(get(&runs, "updateGet", None)["data"]["value"], "2");
    let (_, runs, _) = run(&h, Runners::core(), &yaml, json!({"state": "counter"})).await;
    assert_eq!(get(&runs, "deleteGet", None)["count"], 0);

    let (state, runs, _) = run(&h, Runners::core(), &yaml, json!({"state": "each"})).await;
    assert_eq!(state, State::Success);
    assert_eq!(runs.len(), 17);
    assert_eq!(
        get(&runs, "regetEach1", Some("b"))["data"]["value"],
        "null-b"
    );
    assert_eq!(
        get(&runs, "regetEach2", Some("b"))["data"]["value"],
        "null-a-b"
    );
}

/// kv.Put: a mapping merges into the JSON value there, `{key, value}`
/// entries set dotted paths, a plain value replaces it; errorOnMissing.
#[tokio::test]
async fn kv_put_merges_and_patches_a_json_value() {
    let h = harness().await;
    let yaml = r#"
id: put
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.kv.Put
    key: settings
    value:
      db: { host: a, port: 1 }
  - id: merge
    type: kv.Put
    key: settings
    value:
      db: { port: 2 }
      name: etl
  - id: patch
    type: kv.Put
    key: settings
    value:
      - key: retries.max
        value: 3
      - key: db.host
        value: b
  - id: show
    type: debug.Return
    format: "{{ kv('settings') | json }}"
"#;
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success);
    let shown: Value = serde_json::from_str(
        runs.iter()
            .find(|r| r.task_id.as_str() == "show")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        shown,
        json!({"db": {"host": "b", "port": 2}, "name": "etl", "retries": {"max": 3}})
    );
    let strict = "id: strict\nnamespace: company.team\ntasks:\n  - id: put\n    type: kv.Put\n    key: nope\n    errorOnMissing: true\n    value: 1\n";
    let (state, _, id) = run(&h, Runners::core(), strict, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("No value found for key 'nope'"))
    );
}

/// namespace.PurgeFiles: old revisions go (keepAmount of the latest stay,
/// a file's current one always), in the namespaces named and those under
/// them, for the files the pattern picks.
#[tokio::test]
async fn purge_files_deletes_old_revisions_and_keeps_the_latest() {
    use engine::namespace_files::Conflict;
    let h = harness().await;
    let team = h.services.storage.namespace_files("company.team").unwrap();
    for n in 1..=4 {
        team.put(
            "sql/q.sql",
            format!("SELECT {n}").as_bytes(),
            Conflict::Overwrite,
        )
        .unwrap();
        team.put("notes.md", format!("v{n}").as_bytes(), Conflict::Overwrite)
            .unwrap();
    }
    let other = h.services.storage.namespace_files("other").unwrap();
    other.put("x.sql", b"1", Conflict::Overwrite).unwrap();
    other.put("x.sql", b"2", Conflict::Overwrite).unwrap();
    let yaml = "id: purge\nnamespace: ops\ntasks:\n  - id: purge\n    type: io.kestra.plugin.core.namespace.PurgeFiles\n    namespaces: [company]\n    filePattern: \"**/*.sql\"\n    behavior:\n      type: version\n      keepAmount: 2\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success);
    assert_eq!(runs[0].outputs.as_ref().unwrap()["size"], 2);
    assert_eq!(team.revisions("sql/q.sql").unwrap(), [3, 4]);
    assert_eq!(
        team.revisions("notes.md").unwrap(),
        [1, 2, 3, 4],
        "the pattern left it alone"
    );
    assert_eq!(
        other.revisions("x.sql").unwrap(),
        [1, 2],
        "another namespace"
    );
    assert_eq!(team.get("sql/q.sql", None).unwrap(), b"SELECT 4");
}

/// templating.TemplatedTask renders its spec and runs the task it
/// describes, with that task's outputs; a flowable is refused, naming it.
#[tokio::test]
async fn a_templated_task_runs_the_task_its_spec_renders_to() {
    let h = harness().await;
    let yaml = "id: templated\nnamespace: t\ninputs:\n  - id: kind\n    type: STRING\ntasks:\n  - id: templated\n    type: io.kestra.plugin.core.templating.TemplatedTask\n    spec: |\n      type: io.kestra.plugin.core.{{ inputs.kind }}\n      format: \"Hello {{ flow.id }}\"\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({"kind": "debug.Return"})).await;
    assert_eq!(state, State::Success);
    assert_eq!(
        runs[0].outputs.as_ref().unwrap()["value"],
        "Hello templated"
    );
    let (state, _, id) = run(
        &h,
        Runners::core(),
        yaml,
        json!({"kind": "flow.Sequential"}),
    )
    .await;
    assert_eq!(state, State::Failed);
    assert!(
        messages(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("must be a runnable task, not flow.Sequential")),
        "{:?}",
        messages(&h, &id).await
    );
}

/// As Kestra: the flow's `variables` are kept as written and rendered
/// with `render()` (Kestra's variables.yaml, its first task); a Map
/// property's templated values render to text, so Kestra's own
/// `waitfor-multiple-tasks.yaml` (with a shorter interval) ends once its
/// count reaches '4'; dotted labels
/// are read along their path (`labels.system.correlationId`).
#[tokio::test]
async fn variables_stay_as_written_map_values_render_to_text_and_labels_nest() {
    let h = harness().await;
    let variables = "id: variables\nnamespace: io.kestra.tests\n\nvariables:\n  first: \"1\"\n  second: \"{{vars.first}} > 2\"\n  third: \"{{vars.second}} > 3\"\n\ntasks:\n  - id: variable\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{render(vars.third)}}\"\n  - id: raw\n    type: debug.Return\n    format: \"{{ vars.second }}\"\n";
    let (state, runs, _) = run(&h, Runners::core(), variables, json!({})).await;
    assert_eq!(state, State::Success);
    assert_eq!(runs[0].outputs.as_ref().unwrap()["value"], "1 > 2 > 3");
    assert_eq!(
        runs[1].outputs.as_ref().unwrap()["value"],
        "{{vars.first}} > 2"
    );

    let waitfor = "id: waitfor-multiple-tasks\nnamespace: io.kestra.tests\n\ntasks:\n  - id: waitfor\n    type: io.kestra.plugin.core.flow.WaitFor\n    condition: \"{{ outputs.output_values.values.count == '4'}}\"\n    checkFrequency:\n      interval: PT0.01S\n    tasks:\n      - id: echo\n        type: io.kestra.core.tasks.log.Log\n        message: \"looping ...\"\n      - id: output_values\n        type: io.kestra.plugin.core.output.OutputValues\n        values:\n          count: \"{{ outputs.waitfor.iterationCount + 1 }}\"\n";
    let (state, runs, _) = run(&h, Runners::core(), waitfor, json!({})).await;
    assert_eq!(state, State::Success);
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "waitfor")
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()["iterationCount"],
        3
    );

    let labels = "id: labelled\nnamespace: t\nlabels:\n  team.name: data\ntasks:\n  - id: show\n    type: debug.Return\n    format: \"{{ labels.team.name }} {{ labels['team.name'] }}\"\n";
    let (state, runs, _) = run(&h, Runners::core(), labels, json!({})).await;
    assert_eq!(state, State::Success);
    assert_eq!(runs[0].outputs.as_ref().unwrap()["value"], "data data");
}

/// WorkingDirectory's `cache`: the files its patterns match are kept after
/// a run and restored into the next run's directory; an expired cache is
/// dropped.
#[tokio::test]
async fn a_working_directory_cache_carries_files_to_the_next_run() {
    let h = harness().await;
    let flow = |file: &str, ttl: &str| {
        format!(
            "id: cached\nnamespace: t\ntasks:\n  - id: wd\n    type: flow.WorkingDirectory\n    cache:\n      patterns: [\"cached/**\"]\n      ttl: {ttl}\n    tasks:\n      - id: list\n        type: storage.LocalFiles\n        inputs:\n          cached/{file}.txt: run\n          other.txt: not kept\n        outputs: [\"**\"]\n"
        )
    };
    let listed = |runs: &[TaskRunRecord]| {
        let list = runs
            .iter()
            .find(|r| r.task_id.as_str() == "list")
            .unwrap()
            .outputs
            .clone()
            .unwrap();
        list["uris"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("cached/"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let (state, runs, first) = run(&h, Runners::core(), &flow("one", "PT1H"), json!({})).await;
    assert_eq!(state, State::Success, "{:?}", messages(&h, &first).await);
    assert_eq!(listed(&runs), ["cached/one.txt"]);
    let (_, runs, second) = run(&h, Runners::core(), &flow("two", "PT1H"), json!({})).await;
    assert_eq!(
        listed(&runs),
        ["cached/one.txt", "cached/two.txt"],
        "the first run's file came back"
    );
    assert!(
        messages(&h, &second)
            .await
            .iter()
            .any(|m| m == "restored 1 files from the cache")
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (_, runs, _) = run(&h, Runners::core(), &flow("three", "PT0.001S"), json!({})).await;
    assert_eq!(
        listed(&runs),
        ["cached/three.txt"],
        "an expired cache is dropped"
    );
}

/// `afterExecution` runs after the tasks, `errors` and `finally`, once the
/// final state is known: it reads that state as `execution.state` (the
/// main tasks read RUNNING), and a failure in it does not change the
/// execution's state, as Kestra's AfterExecutionTestCase has it.
#[tokio::test]
async fn after_execution_sees_the_final_state_and_does_not_change_it() {
    let h = harness().await;
    let yaml = "id: after\nnamespace: t\ntasks:\n  - id: mytask\n    type: debug.Return\n    format: \"{{ execution.state }}\"\nfinally:\n  - id: cleanup\n    type: debug.Return\n    format: done\nafterExecution:\n  - id: end\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      state: \"{{ execution.state }}\"\n      output: \"{{ outputs.mytask.value }}\"\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Success);
    let outputs = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .and_then(|r| r.outputs.clone())
            .unwrap()
    };
    assert_eq!(outputs("mytask")["value"], "RUNNING");
    assert_eq!(
        outputs("end")["values"],
        json!({"state": "SUCCESS", "output": "RUNNING"})
    );
    let order: Vec<&str> = runs.iter().map(|r| r.task_id.as_str()).collect();
    assert_eq!(order, ["mytask", "cleanup", "end"]);

    let yaml = "id: after_error\nnamespace: t\ntasks:\n  - id: fails\n    type: execution.Fail\nerrors:\n  - id: handled\n    type: log.Log\n    message: handled\nafterExecution:\n  - id: end\n    type: io.kestra.plugin.core.output.OutputValues\n    values:\n      state: \"{{ execution.state }}\"\n  - id: broken\n    type: execution.Fail\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(
        runs.iter()
            .find(|r| r.task_id.as_str() == "end")
            .and_then(|r| r.outputs.clone())
            .unwrap()["values"]["state"],
        "FAILED"
    );

    let yaml = "id: after_ok\nnamespace: t\ntasks:\n  - id: fine\n    type: log.Log\n    message: fine\nafterExecution:\n  - id: broken\n    type: execution.Fail\n";
    let (state, runs, _) = run(&h, Runners::core(), yaml, json!({})).await;
    assert_eq!(
        state,
        State::Success,
        "a failing afterExecution task leaves it SUCCESS"
    );
    assert_eq!(state_of(&runs, "broken"), State::Failed);
}
