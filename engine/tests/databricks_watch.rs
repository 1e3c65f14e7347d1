//! The watching triggers against the emulator, polled by the scheduler:
//! dbfs.Trigger fires once per new file (the state kept in the KV store
//! survives a new executor, as after a restart), moves what it saw, and
//! unitycatalog.table.Trigger fires once per new table.

use serde_json::{Value, json};

mod support;

use support::databricks::world;

fn at(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

async fn started(w: &support::databricks::World, flow: &str) -> Vec<engine::store::ExecutionRecord> {
    let filter = engine::store::ExecutionFilter {
        flow_id: Some(flow.into()),
        ..Default::default()
    };
    let mut found = w.store.search_executions(&filter, 1, 50).await.unwrap().results;
    found.reverse();
    found
}

async fn put(w: &support::databricks::World, path: &str, content: &str) {
    use base64::Engine as _;
    let response = engine::http::client()
        .post(format!("{}/api/2.0/dbfs/put", w.emulator.url()))
        .bearer_auth(w.emulator.token())
        .json(&json!({"path": path, "contents": base64::engine::general_purpose::STANDARD.encode(content), "overwrite": true}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{:?}", response.text().await);
}

const DBFS_FLOW: &str = r#"id: dbfs_watch
namespace: company.data
tasks:
  - id: each_file
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ trigger.files | jq('.[].path') }}"
    tasks:
      # MOVE runs before the execution: the files are under moveDirectory.
      - id: download
        type: io.kestra.plugin.databricks.dbfs.Download
        from: "{{ taskrun.value | replace({'/mnt/incoming/': '/mnt/done/'}) }}"
triggers:
  - id: watch_dbfs
    type: io.kestra.plugin.databricks.dbfs.Trigger
    from: /mnt/incoming
    interval: PT1M
    recursive: true
    regExp: ".*\\.csv"
    on: CREATE
    action: MOVE
    moveDirectory: /mnt/done
"#;

#[tokio::test]
async fn new_dbfs_files_fire_once_are_downloaded_and_moved() {
    let w = world(0.001).await;
    assert!(engine::flow::parse(DBFS_FLOW).is_valid(), "{:?}", engine::flow::parse(DBFS_FLOW).problems);
    support::save(&w.store, DBFS_FLOW).await;
    put(&w, "/mnt/incoming/a.csv", "x\n1\n").await;
    put(&w, "/mnt/incoming/sub/b.csv", "x\n2\n").await;
    put(&w, "/mnt/incoming/notes.txt", "skip me").await;
    engine::scheduler::tick(&w.store, &w.executor, at("2026-01-10T10:00:00Z")).await.unwrap();
    let first = started(&w, "dbfs_watch").await;
    assert_eq!(first.len(), 1);
    let files = &first[0].trigger_vars.as_ref().unwrap()["files"];
    let paths: Vec<&str> = files.as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/mnt/incoming/a.csv", "/mnt/incoming/sub/b.csv"]);
    assert_eq!(files[0]["changeType"], "CREATE");
    assert_eq!(files[0]["file_size"], 4);
    assert_eq!(first[0].trigger_vars.as_ref().unwrap()["size"], 2);
    // MOVE: the files are under moveDirectory, with their path below `from`.
    let moved: Value = w.api("/api/2.0/dbfs/get-status?path=/mnt/done/sub/b.csv").await;
    assert_eq!(moved["file_size"], 4, "{moved}");
    let gone: Value = w.api("/api/2.0/dbfs/get-status?path=/mnt/incoming/a.csv").await;
    assert_eq!(gone["error_code"], "RESOURCE_DOES_NOT_EXIST");

    // Nothing new: no execution; a new file: one more, with only it.
    engine::scheduler::tick(&w.store, &w.executor, at("2026-01-10T10:01:00Z")).await.unwrap();
    assert_eq!(started(&w, "dbfs_watch").await.len(), 1);
    put(&w, "/mnt/incoming/c.csv", "x\n3\n").await;
    // A new executor on the same store and storage: what was seen is kept.
    let again = engine::executor::Executor::new(w.services.clone(), engine::task::Runners::new(w.databricks.clone()), std::sync::Arc::new(|_: &str| None));
    engine::scheduler::tick(&w.store, &again, at("2026-01-10T10:02:00Z")).await.unwrap();
    let all = started(&w, "dbfs_watch").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].trigger_vars.as_ref().unwrap()["files"][0]["path"], "/mnt/incoming/c.csv");
    // Each execution waited on by the executor that started it.
    assert_eq!(w.executor.wait(&all[0].id).await.unwrap(), engine::state::State::Success);
    assert_eq!(again.wait(&all[1].id).await.unwrap(), engine::state::State::Success);
}

const TABLE_FLOW: &str = r#"id: databricks_uc_new_table
namespace: company.team
tasks:
  - id: log_new_tables
    type: io.kestra.plugin.core.log.Log
    message: "New table(s) detected: {{ trigger.fullNames }}"
triggers:
  - id: on_new_table
    type: io.kestra.plugin.databricks.unitycatalog.table.Trigger
    catalogName: main
    schemaName: default
    interval: PT5M
"#;

#[tokio::test]
async fn a_new_table_fires_once() {
    let w = world(0.001).await;
    support::save(&w.store, TABLE_FLOW).await;
    let sql = |statement: &'static str| {
        let w = &w;
        async move {
            let done: Value = engine::http::client()
                .post(format!("{}/api/2.0/sql/statements", w.emulator.url()))
                .bearer_auth(w.emulator.token())
                .json(&json!({"warehouse_id": "a1b2c3d4e5f60718", "statement": statement, "wait_timeout": "30s"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(done["status"]["state"], "SUCCEEDED", "{done}");
        }
    };
    sql("CREATE TABLE main.default.orders (id INT)").await;
    engine::scheduler::tick(&w.store, &w.executor, at("2026-01-10T10:00:00Z")).await.unwrap();
    let first = started(&w, "databricks_uc_new_table").await;
    assert_eq!(first.len(), 1, "the first poll reports the tables there");
    assert_eq!(first[0].trigger_vars.as_ref().unwrap()["fullNames"], json!(["main.default.orders"]));
    assert!(first[0].trigger_vars.as_ref().unwrap()["tables"][0].get("columns").is_none());
    // Written to: not new (on: CREATE). Within the interval: not polled.
    sql("INSERT INTO main.default.orders VALUES (1)").await;
    engine::scheduler::tick(&w.store, &w.executor, at("2026-01-10T10:02:00Z")).await.unwrap();
    sql("CREATE TABLE main.default.customers (id INT)").await;
    engine::scheduler::tick(&w.store, &w.executor, at("2026-01-10T10:05:00Z")).await.unwrap();
    let all = started(&w, "databricks_uc_new_table").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].trigger_vars.as_ref().unwrap()["fullNames"], json!(["main.default.customers"]));
    let id = &all[1].id;
    assert_eq!(w.executor.wait(id).await.unwrap(), engine::state::State::Success);
    assert!(w.logs(id).await.iter().any(|l| l.contains("New table(s) detected: [\"main.default.customers\"]")), "{:?}", w.logs(id).await);
}
