//! The serdes tasks through the executor: CSV and JSON to Ion and back,
//! column order kept, `\N` as null, bad lines as asked, the record count.

use std::sync::Arc;
use std::time::Duration;

use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::plan::Plan;
use engine::state::State;
use engine::store::TaskRunRecord;
use engine::task::Runners;
use serde_json::Value;

mod support;
use support::{Harness, harness};

async fn run(h: &Harness, yaml: &str) -> (State, Vec<TaskRunRecord>, ExecutionId) {
    let executor = Executor::new(
        h.services.clone(),
        Runners::core(),
        Arc::new(|_: &str| None),
    );
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let id = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Default::default(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id;
    let state = tokio::time::timeout(Duration::from_secs(30), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    (state, h.store.task_runs(&id).await.unwrap(), id)
}

fn outputs(runs: &[TaskRunRecord], task: &str) -> Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .and_then(|r| r.outputs.clone())
        .unwrap_or_else(|| panic!("no outputs of {task}: {runs:#?}"))
}

#[tokio::test]
async fn csv_and_json_go_to_ion_and_back_keeping_the_columns_order() {
    let h = harness().await;
    let yaml = r#"
id: serdes
namespace: company.team
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    content: "zeta,alpha,mid\n1,\"two, quoted\",\\N\n3,4,5\n"
    extension: .csv
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ outputs.csv.uri }}"
  - id: to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.to_ion.uri }}"
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.to_ion.uri }}"
    newLine: false
  - id: back
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{ outputs.to_json.uri }}"
    newLine: false
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.to_ion.uri) }}|{{ read(outputs.to_csv.uri) }}|{{ read(outputs.to_json.uri) }}"
"#;
    let (state, runs, id) = run(&h, yaml).await;
    assert_eq!(state, State::Success, "{runs:#?}");
    let shown = outputs(&runs, "show")["value"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = shown.split('|').collect();
    assert_eq!(
        parts[0],
        "{zeta:\"1\",alpha:\"two, quoted\",mid:null}\n{zeta:\"3\",alpha:\"4\",mid:\"5\"}\n"
    );
    assert_eq!(parts[1], "zeta,alpha,mid\n1,\"two, quoted\",\n3,4,5\n");
    assert_eq!(
        parts[2],
        "[{\"zeta\":\"1\",\"alpha\":\"two, quoted\",\"mid\":null},{\"zeta\":\"3\",\"alpha\":\"4\",\"mid\":\"5\"}]"
    );
    assert_eq!(outputs(&runs, "to_ion")["size"], 2);
    assert_eq!(outputs(&runs, "back")["size"], 2);
    let (metrics, _) = h
        .store
        .execution_metrics(&id, &Default::default())
        .await
        .unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m.metric.name == "records" && m.metric.value == 2.0)
    );
}

#[tokio::test]
async fn a_bad_line_fails_warns_or_is_skipped_as_asked() {
    let h = harness().await;
    let flow = |mode: &str| {
        format!(
            "id: bad\nnamespace: company.team\ntasks:\n  - id: csv\n    type: io.kestra.plugin.core.storage.Write\n    content: \"a;b\\n1;2\\n3\\n4;5\\n\"\n  - id: to_ion\n    type: io.kestra.plugin.serdes.csv.CsvToIon\n    from: \"{{{{ outputs.csv.uri }}}}\"\n    fieldSeparator: \";\"\n    onBadLines: {mode}\n"
        )
    };
    let (state, _, _) = run(&h, &flow("ERROR")).await;
    assert_eq!(state, State::Failed);
    let (state, runs, _) = run(&h, &flow("SKIP")).await;
    assert_eq!(state, State::Success);
    assert_eq!(outputs(&runs, "to_ion")["size"], 2);
}
