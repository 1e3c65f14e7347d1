//! Strings derived from a secret (`secret('X') | upper`, a SECRET input
//! reversed) are masked like the secret in what an execution stores: logs,
//! outputs, error messages, and so nowhere in the database's bytes; the
//! task itself still gets the real value.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::executor::{Executor, Launch};
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

const SECRET: &str = "hunter2-Tok3n";
const PIN: &str = "s3cret-Pin";

/// Every form of the secret and of the SECRET input the flows below
/// derive, none of which may be stored. (The SECRET input's own value is
/// stored, on purpose, in `execution_secrets` for restart and replay.)
const DERIVED: &[&str] = &[
    "hunter2-Tok3n",
    "HUNTER2-TOK3N",
    "n3koT-2retnuh",
    "hunter2",
    "HUNTer2-Tok3n",
    "pre-n3koT-2retnuh",
    "aHVudGVyMi1Ub2szbg==",
    "S3CRET-PIN",
    "niP-terc3s",
];

const FLOW: &str = r#"
id: taint
namespace: test
inputs:
  - id: pin
    type: SECRET
tasks:
  - id: upper
    type: io.kestra.plugin.core.log.Log
    message: "upper {{ secret('PASSWORD') | upper }}"
  - id: reverse
    type: log.Log
    message: "reverse {{ secret('PASSWORD') | reverse }}"
  - id: slice
    type: log.Log
    message: "slice {{ secret('PASSWORD') | slice(0, 7) }}"
  - id: replace
    type: log.Log
    message: "replace {{ secret('PASSWORD') | replace({'hunt': 'HUNT'}) }}"
  - id: concat
    type: log.Log
    message: "concat {{ 'pre-' ~ (secret('PASSWORD') | reverse) }}"
  - id: base64
    type: log.Log
    message: "base64 {{ secret('PASSWORD') | base64encode }}"
  - id: pin_upper
    type: log.Log
    message: "pin {{ inputs.pin | upper }}"
  - id: give
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('PASSWORD') | upper }}"
  - id: capture
    type: test.Capture
    token: "Bearer {{ inputs.pin | reverse }}"
    previous: "{{ outputs.give.value }}"
outputs:
  - id: shown
    type: STRING
    value: "{{ secret('PASSWORD') | upper }}"
"#;

/// Records the properties it gets and returns the token as an output.
#[derive(Default)]
struct Capture {
    seen: Mutex<Vec<Value>>,
}

impl Runner for Capture {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let properties: Value = ctx.properties()?;
            self.seen.lock().unwrap().push(properties.clone());
            let mut outputs = Outputs::new();
            outputs.insert("token".into(), properties["token"].clone());
            Ok(outputs)
        })
    }
}

fn executor(h: &Harness, capture: Arc<Capture>) -> Executor {
    let mut runners = Runners::core();
    runners.register("test.Capture", capture);
    Executor::new(
        h.services.clone(),
        runners,
        Arc::new(|name: &str| (name == "PASSWORD").then(|| SECRET.to_owned())),
    )
}

async fn run(
    h: &Harness,
    executor: &Executor,
    yaml: &str,
    inputs: Value,
) -> (State, Vec<TaskRunRecord>, ExecutionId) {
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let inputs: Map<String, Value> = inputs.as_object().cloned().unwrap_or_default();
    let launch = Launch {
        id: None,
        plan,
        flow_revision: 1,
        inputs,
        labels: Default::default(),
        trigger_vars: None,
    };
    let id = executor.launch(launch).await.unwrap().id;
    let state = tokio::time::timeout(Duration::from_secs(20), executor.wait(&id))
        .await
        .expect("the execution ends")
        .unwrap();
    (state, h.store.task_runs(&id).await.unwrap(), id)
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

fn output<'a>(runs: &'a [TaskRunRecord], task: &str) -> &'a Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .and_then(|r| r.outputs.as_ref())
        .unwrap_or_else(|| panic!("no outputs of {task}"))
}

fn assert_hidden(text: &str) {
    for derived in DERIVED {
        assert!(!text.contains(derived), "{derived:?} is shown in {text:?}");
    }
}

#[tokio::test]
async fn derived_secrets_are_masked_in_logs_outputs_and_errors_but_tasks_get_them() {
    let h = harness().await;
    let capture = Arc::new(Capture::default());
    let executor = executor(&h, capture.clone());
    let (state, runs, id) = run(&h, &executor, FLOW, json!({"pin": PIN})).await;
    assert_eq!(state, State::Success, "{runs:#?}");

    let logs = messages(&h, &id).await;
    for line in [
        "upper ******",
        "reverse ******",
        "slice ******",
        "replace ******",
        "concat ******",
        "base64 ******",
        "pin ******",
    ] {
        assert!(logs.contains(&line.to_owned()), "no {line:?} in {logs:?}");
    }
    logs.iter().for_each(|line| assert_hidden(line));

    // Outputs are stored masked, and later tasks read them masked, as they
    // read the secret itself.
    assert_eq!(output(&runs, "give")["value"], "******");
    assert_eq!(output(&runs, "capture")["token"], "Bearer ******");
    let execution = h.store.get_execution(&id).await.unwrap().unwrap();
    assert_eq!(execution.outputs["shown"], "******");
    assert_hidden(&format!("{runs:?}"));
    assert_hidden(&format!("{execution:?}"));

    // The task got the real values: masking is for what is shown.
    let seen = capture.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [json!({"token": "Bearer niP-terc3s", "previous": "******"})]
    );

    // A render that fails quoting a derived value: the message is masked.
    let failing = "id: fails\nnamespace: test\ntasks:\n  - id: bad\n    type: log.Log\n    message: \"{{ secret('PASSWORD') | upper | number }}\"\n";
    let (state, _, failed) = run(&h, &executor, failing, json!({})).await;
    assert_eq!(state, State::Failed);
    let logs = messages(&h, &failed).await;
    let error = logs
        .iter()
        .find(|m| m.contains("is not a number"))
        .unwrap_or_else(|| panic!("no render error in {logs:?}"));
    assert!(error.contains("\"******\""), "{error}");
    assert_hidden(error);

    // Nothing the executions wrote holds a derived form: search the bytes
    // of every file of the store (the database, its journal) and storage.
    // On PostgreSQL (MORTAR_TEST_POSTGRES) the database is not among them.
    h.services.logs.flush().await;
    if h.store.is_postgres() {
        return;
    }
    let contains =
        |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    let mut masked_lines = 0;
    for file in files(h.data_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        masked_lines += usize::from(contains(&bytes, "reverse ******"));
        for derived in DERIVED {
            assert!(
                !contains(&bytes, derived),
                "{derived:?} is in {}",
                file.display()
            );
        }
    }
    assert!(masked_lines > 0, "the files searched hold the logs");
}

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path))
        } else {
            found.push(path)
        }
    }
    found
}
