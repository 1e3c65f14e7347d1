//! The Databricks tasks run by the executor against the emulator over HTTP:
//! the blueprints end to end, failures with Databricks' own messages, and a
//! kill that terminates the cluster the execution created.

use std::sync::Arc;
use std::time::Duration;

use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::plan::Plan;
use engine::state::State;
use engine::storage::Storage;
use serde_json::{Value, json};

mod support;

use support::databricks::{blueprint, outputs, world, world_with};

#[tokio::test]
async fn the_cluster_job_blueprint_creates_runs_and_deletes() {
    let w = world(0.001).await;
    let (state, runs, id) = w
        .run(blueprint("databricks_cluster_job"), json!({"workers": 1}))
        .await;
    let logs = w.logs(&id).await;
    assert_eq!(state, State::Success, "{runs:#?}\n{logs:#?}");
    let cluster_id = outputs(&runs, "create_cluster")["clusterId"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = outputs(&runs, "submit_run");
    assert_eq!(run["state"], "SUCCESS");
    assert!(
        run["runURI"]
            .as_str()
            .unwrap()
            .starts_with(&w.emulator.url())
    );
    let cluster = w
        .api(&format!("/api/2.1/clusters/get?cluster_id={cluster_id}"))
        .await;
    assert!(
        ["TERMINATING", "TERMINATED"].contains(&cluster["state"].as_str().unwrap()),
        "{cluster}"
    );
    assert_eq!(cluster["num_workers"], 1);
    assert_eq!(cluster["custom_tags"]["mortar_execution"], id.as_str());
    assert!(
        logs.iter().any(|l| l.contains("is RUNNING after")),
        "{logs:#?}"
    );
}

#[tokio::test]
async fn the_upload_query_blueprint_uploads_queries_and_downloads() {
    let w = world(0.001).await;
    let id = ExecutionId::generate();
    let csv = "region,amount\nnorth,10\nsouth,5\nnorth,7\neast,1\n";
    let uri = w.file_input("databricks_upload_query", &id, csv).await;
    let id = w
        .launch(
            blueprint("databricks_upload_query"),
            json!({"sales": uri}),
            id,
        )
        .await;
    let state = tokio::time::timeout(Duration::from_secs(60), w.executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    let runs = w.store.task_runs(&id).await.unwrap();
    let logs = w.logs(&id).await;
    assert_eq!(state, State::Success, "{runs:#?}\n{logs:#?}");
    assert_eq!(outputs(&runs, "upload")["size"], csv.len());
    assert_eq!(outputs(&runs, "totals")["size"], 3);
    assert_eq!(outputs(&runs, "top_region")["row"]["region"], "north");
    assert!(
        logs.iter().any(|l| l == "3 regions; the top one is north"),
        "{logs:#?}"
    );
    // The stored result is Ion, as Kestra stores it: typed rows, one
    // struct a line, the columns in the query's order.
    let stored = outputs(&runs, "totals")["uri"].as_str().unwrap().to_owned();
    assert!(stored.ends_with(".ion"), "{stored}");
    let (mut file, _) = w.storage.open(&stored).await.unwrap();
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut file, &mut text)
        .await
        .unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(first, "{region:\"north\",total:17.0e0}");
    let (value, _) = engine::flow::pebble::convert::ion_fields(first).unwrap();
    assert_eq!(value, json!({"region": "north", "total": 17.0}));
    // The download is the uploaded file, byte for byte.
    let downloaded = outputs(&runs, "download")["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut file, size) = w.storage.open(&downloaded).await.unwrap();
    let mut back = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut file, &mut back)
        .await
        .unwrap();
    assert_eq!((back.as_str(), size), (csv, csv.len() as u64));
}

#[tokio::test]
async fn the_dag_and_nightly_blueprints_succeed() {
    let w = world(0.001).await;
    let id = ExecutionId::generate();
    let uri = w.file_input("databricks_dag", &id, "a,b\n1,2\n").await;
    let id = w
        .launch(blueprint("databricks_dag"), json!({"data": uri}), id)
        .await;
    let state = tokio::time::timeout(Duration::from_secs(60), w.executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    let runs = w.store.task_runs(&id).await.unwrap();
    assert_eq!(state, State::Success, "{runs:#?}\n{:#?}", w.logs(&id).await);
    assert_eq!(outputs(&runs, "check")["row"]["ok"], 1);

    let (state, runs, id) = w.run(blueprint("nightly_schedule"), json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}\n{:#?}", w.logs(&id).await);
    assert_eq!(outputs(&runs, "count_rows")["row"]["t"], "sales");
}

#[tokio::test]
async fn a_failing_run_fails_the_task_with_databricks_message_and_finally_cleans_up() {
    let w = world(0.001).await;
    let flow = blueprint("databricks_cluster_job").replace(
        "/Shared/mortar-examples/aggregate",
        "/Shared/missing-notebook",
    );
    let flow = flow.replace("maxAttempt: 3", "maxAttempt: 1");
    let (state, runs, id) = w.run(&flow, json!({})).await;
    assert_eq!(state, State::Failed);
    let logs = w.logs(&id).await;
    assert!(
        logs.iter()
            .any(|l| l.contains("run") && l.contains("FAILED") && l.contains("missing-notebook")),
        "{logs:#?}"
    );
    let cluster_id = outputs(&runs, "create_cluster")["clusterId"]
        .as_str()
        .unwrap()
        .to_owned();
    let cluster = w
        .api(&format!("/api/2.1/clusters/get?cluster_id={cluster_id}"))
        .await;
    assert!(
        ["TERMINATING", "TERMINATED"].contains(&cluster["state"].as_str().unwrap()),
        "finally deleted it: {cluster}"
    );
}

#[tokio::test]
async fn a_kill_while_the_cluster_starts_terminates_it() {
    // Time at full scale: the cluster takes seconds to start.
    let w = world(1.0).await;
    let flow = "id: kill\nnamespace: t\ntasks:\n  - id: cluster\n    type: databricks.cluster.CreateCluster\n    clusterName: doomed\n    sparkVersion: 15.4.x-scala2.12\n    numWorkers: 1\n";
    let id = w.launch(flow, json!({}), ExecutionId::generate()).await;
    let cluster_id = loop {
        let runs = w.store.task_runs(&id).await.unwrap();
        if let Some(id) = runs
            .first()
            .and_then(|r| r.checkpoint.as_ref())
            .and_then(|c| c["cluster_id"].as_str().map(str::to_owned))
        {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    w.executor.kill(&id).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), w.executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Killed
    );
    let cluster = w
        .api(&format!("/api/2.1/clusters/get?cluster_id={cluster_id}"))
        .await;
    assert!(
        ["TERMINATING", "TERMINATED"].contains(&cluster["state"].as_str().unwrap()),
        "{cluster}"
    );
}

/// 30% of every API request answered 429 (then 503): the client's retries
/// carry every blueprint through.
#[tokio::test]
async fn every_blueprint_succeeds_with_30_percent_of_requests_refused() {
    for status in [429, 503] {
        let rule = emulator::FaultRule {
            path: "/api/**".into(),
            method: None,
            rate: 0.3,
            status: Some(emulator::FaultStatus::Http(status)),
            // Zero keeps the test quick; the wait itself is tested in the client's tests.
            retry_after_seconds: Some(0),
            latency_ms: None,
        };
        // The blueprints that post to Slack post to a local receiver (email
        // goes out only on a failure, which would fail the test anyway).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let slack = format!("http://{}/slack", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let app = axum::Router::new().route("/slack", axum::routing::post(|| async { "ok" }));
            axum::serve(listener, app).await.unwrap();
        });
        let secrets: engine::executor::SecretSource = Arc::new(move |name: &str| match name {
            "SLACK_WEBHOOK" => Some(slack.clone()),
            "SMTP_HOST" => Some("127.0.0.1".into()),
            "SMTP_PORT" => Some("9".into()),
            _ => None,
        });
        let w = world_with(0.001, vec![rule], secrets).await;
        // The faults are live: raw requests are refused about 30% of the time.
        let client = engine::http::client();
        let mut refused = 0;
        for _ in 0..200 {
            let response = client
                .get(format!("{}/api/2.1/clusters/list", w.emulator.url()))
                .bearer_auth(w.emulator.token())
                .send()
                .await
                .unwrap();
            if response.status().as_u16() == status {
                refused += 1;
            }
        }
        assert!(
            (30..=90).contains(&refused),
            "{refused} of 200 refused with {status}"
        );
        for blueprint in engine::blueprints::all() {
            let id = ExecutionId::generate();
            let plan = Plan::from_yaml(blueprint.source).unwrap();
            let mut inputs = serde_json::Map::new();
            for input in plan.inputs.iter().filter(|i| i.kind == "FILE") {
                let uri = Storage::execution_uri(
                    &Namespace::new(&plan.namespace),
                    &FlowId::new(&plan.id),
                    &id,
                    "input.csv",
                );
                w.storage
                    .write(&uri, "region,amount\nnorth,10\nsouth,5\n".as_bytes())
                    .await
                    .unwrap();
                inputs.insert(input.id.clone(), json!(uri));
            }
            let id = w.launch(blueprint.source, Value::Object(inputs), id).await;
            let state = tokio::time::timeout(Duration::from_secs(120), w.executor.wait(&id))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                state,
                State::Success,
                "{} under {status}s: {:#?}",
                blueprint.header.id,
                w.logs(&id).await
            );
        }
    }
}

#[tokio::test]
async fn create_job_then_run_it_by_name_with_parameters() {
    let w = world(0.001).await;
    let flow = r#"
id: jobs
namespace: t
tasks:
  - id: create
    type: databricks.job.CreateJob
    jobName: nightly-aggregate
    jobTasks:
      - taskKey: aggregate
        notebookTask:
          notebookPath: /Shared/mortar-examples/aggregate
          baseParameters:
            day: "2026-11-25"
    waitForCompletion: PT5M
  - id: again
    type: databricks.job.RunNow
    jobName: nightly-aggregate
    notebookParams:
      day: "2026-11-26"
    waitForCompletion: PT5M
"#;
    let (state, runs, id) = w.run(flow, json!({})).await;
    assert_eq!(state, State::Success, "{runs:#?}\n{:#?}", w.logs(&id).await);
    let created = outputs(&runs, "create");
    assert!(created["jobId"].as_i64().is_some());
    assert_eq!(created["state"], "SUCCESS");
    let again = outputs(&runs, "again");
    assert_eq!(again["state"], "SUCCESS");
    let result = again["outputs"]["aggregate"]["result"]
        .as_str()
        .unwrap_or_default();
    assert!(
        result.contains("2026-11-26"),
        "the notebook returns its parameters: {again}"
    );
}

#[tokio::test]
async fn warehouses_stop_and_start_and_a_file_is_waited_for() {
    let w = world(0.001).await;
    let warehouses = w.api("/api/2.0/sql/warehouses").await;
    let warehouse = warehouses["warehouses"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = ExecutionId::generate();
    let uri = w.file_input("waits", &id, "late,data\n").await;
    let flow = format!(
        r#"
id: waits
namespace: company.data
inputs:
  - id: data
    type: FILE
tasks:
  - id: stop
    type: databricks.sql.StopWarehouse
    warehouseId: {warehouse}
  - id: start
    type: databricks.sql.StartWarehouse
    httpPath: /sql/1.0/warehouses/{warehouse}
  - id: both
    type: flow.Parallel
    tasks:
      - id: wait
        type: databricks.dbfs.WaitForFile
        path: "dbfs:/incoming/{{{{ execution.id }}}}.csv"
        timeout: PT30S
      - id: later
        type: flow.Sequential
        tasks:
          - id: pause
            type: flow.Sleep
            duration: PT0.3S
          - id: arrive
            type: databricks.dbfs.Upload
            from: "{{{{ inputs.data }}}}"
            to: "dbfs:/incoming/{{{{ execution.id }}}}.csv"
"#
    );
    let id = w.launch(&flow, json!({"data": uri}), id).await;
    let state = tokio::time::timeout(Duration::from_secs(60), w.executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    let runs = w.store.task_runs(&id).await.unwrap();
    assert_eq!(state, State::Success, "{runs:#?}\n{:#?}", w.logs(&id).await);
    assert_eq!(outputs(&runs, "stop")["state"], "STOPPED");
    assert_eq!(outputs(&runs, "start")["state"], "RUNNING");
    assert_eq!(outputs(&runs, "wait")["size"], 10);
    assert_eq!(
        w.api(&format!("/api/2.0/sql/warehouses/{warehouse}")).await["state"],
        "RUNNING"
    );
}

#[tokio::test]
async fn a_kill_during_a_run_cancels_it_on_the_workspace() {
    // Full-scale time: the run lasts long enough to be killed.
    let w = world(1.0).await;
    let flow = "id: k\nnamespace: t\ntasks:\n  - id: run\n    type: databricks.job.SubmitRun\n    runTasks:\n      - taskKey: slow\n        newCluster:\n          sparkVersion: 15.4.x-scala2.12\n          numWorkers: 1\n        notebookTask:\n          notebookPath: /Shared/mortar-examples/aggregate\n    waitForCompletion: PT10M\n";
    let id = w.launch(flow, json!({}), ExecutionId::generate()).await;
    let run_id = loop {
        let runs = w.store.task_runs(&id).await.unwrap();
        if let Some(run_id) = runs
            .first()
            .and_then(|r| r.checkpoint.as_ref())
            .and_then(|c| c["run_id"].as_i64())
        {
            break run_id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    w.executor.kill(&id).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), w.executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Killed
    );
    // The workspace ends the run CANCELED (its cancel is asynchronous).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let run = w
            .api(&format!("/api/2.2/jobs/runs/get?run_id={run_id}"))
            .await;
        if run["state"]["result_state"] == "CANCELED" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run was not cancelled: {run}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        w.logs(&id)
            .await
            .iter()
            .any(|l| l == &format!("cancelled run {run_id}"))
    );
}

#[tokio::test]
async fn each_task_fails_with_what_databricks_said() {
    let w = world(0.001).await;
    let cases = [
        (
            "id: f\nnamespace: t\ntasks:\n  - id: t\n    type: databricks.cluster.CreateCluster\n    clusterName: bad\n    sparkVersion: 15.4.x-scala2.12\n    customTags:\n      emulator.fail_start: CLOUD_PROVIDER_LAUNCH_FAILURE\n",
            "CLOUD_PROVIDER_LAUNCH_FAILURE",
        ),
        (
            "id: f\nnamespace: t\ntasks:\n  - id: t\n    type: databricks.sql.Query\n    sql: SELEC oops\n    fetchType: FETCH\n",
            "the statement failed",
        ),
        (
            "id: f\nnamespace: t\ntasks:\n  - id: t\n    type: databricks.dbfs.Download\n    from: dbfs:/no/such/file.csv\n",
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "id: f\nnamespace: t\ntasks:\n  - id: t\n    type: databricks.job.RunNow\n    jobName: no-such-job\n",
            "no job is named \"no-such-job\"",
        ),
        (
            "id: f\nnamespace: t\ntasks:\n  - id: t\n    type: databricks.sql.StartWarehouse\n    warehouseId: nope\n",
            "nope",
        ),
    ];
    for (flow, expected) in cases {
        let (state, _, id) = w.run(flow, json!({})).await;
        let logs = w.logs(&id).await;
        assert_eq!(state, State::Failed, "{flow}");
        assert!(
            logs.iter().any(|l| l.contains(expected)),
            "{expected:?} not in {logs:#?}"
        );
    }
    // Deleting a cluster that is already gone is not a failure.
    let (state, _, id) = w.run("id: f\nnamespace: t\ntasks:\n  - id: t\n    type: databricks.cluster.DeleteCluster\n    clusterId: 0000-gone\n", json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
}

#[tokio::test]
async fn kestra_names_for_autoscale_and_the_query_token_are_understood() {
    let w = world(0.001).await;
    let flow = format!(
        "id: k\nnamespace: t\ntasks:\n  - id: c\n    type: databricks.cluster.CreateCluster\n    clusterName: auto\n    sparkVersion: 15.4.x-scala2.12\n    minWorkers: 1\n    maxWorkers: 3\n  - id: q\n    type: databricks.sql.Query\n    host: {}\n    accessToken: {}\n    sql: SELECT 2 AS two\n    fetchType: FETCH_ONE\n",
        w.emulator.url(),
        w.emulator.token()
    );
    let (state, runs, id) = w.run(&flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    let cluster_id = outputs(&runs, "c")["clusterId"]
        .as_str()
        .unwrap()
        .to_owned();
    let cluster = w
        .api(&format!("/api/2.1/clusters/get?cluster_id={cluster_id}"))
        .await;
    assert_eq!(
        cluster["autoscale"],
        json!({"min_workers": 1, "max_workers": 3}),
        "{cluster}"
    );
    assert_eq!(outputs(&runs, "q")["row"]["two"], 2);
}

#[tokio::test]
async fn a_kill_during_a_query_cancels_the_statement() {
    let w = world(1.0).await;
    let flow = "id: q\nnamespace: t\ntasks:\n  - id: slow\n    type: databricks.sql.Query\n    sql: \"/* emulator:sleep=600 */ SELECT 1 AS one\"\n    fetchType: FETCH_ONE\n";
    let id = w.launch(flow, json!({}), ExecutionId::generate()).await;
    let statement = loop {
        let runs = w.store.task_runs(&id).await.unwrap();
        if let Some(statement) = runs
            .first()
            .and_then(|r| r.checkpoint.as_ref())
            .and_then(|c| c["statement_id"].as_str().map(str::to_owned))
        {
            break statement;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    w.executor.kill(&id).await.unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), w.executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Killed
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = w.api(&format!("/api/2.0/sql/statements/{statement}")).await;
        if status["status"]["state"] == "CANCELED" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the statement was not cancelled: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// sql.Query with a cluster's httpPath (`sql/protocolv1/o/<workspace>/<id>`,
/// what Kestra's databricks-sql blueprint gives) runs through the Command
/// Execution API on that cluster, started first when it is terminated;
/// its rows are typed and stored as Ion like a warehouse's, the blueprint's
/// IonToCsv reads them, and a failing statement fails the task with
/// Spark's message.
#[tokio::test]
async fn a_query_on_a_cluster_http_path_runs_through_the_command_api() {
    let w = world(0.001).await;
    let flow = r#"
id: databricks-sql
namespace: company.team
tasks:
  - id: cluster
    type: io.kestra.plugin.databricks.cluster.CreateCluster
    clusterName: sql-cluster
    nodeTypeId: n2-highmem-4
    numWorkers: 1
    sparkVersion: 13.0.x-scala2.12
  - id: sql_query
    type: io.kestra.plugin.databricks.sql.Query
    httpPath: "sql/protocolv1/o/3497567377305430/{{ outputs.cluster.clusterId }}"
    sql: SELECT * FROM samples.nyctaxi.trips WHERE fare_amount > :fare ORDER BY fare_amount DESC LIMIT 100;
    parameters:
      fare: 15
  - id: csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.sql_query.uri }}"
  - id: one
    type: io.kestra.plugin.databricks.sql.Query
    httpPath: "/sql/protocolv1/o/3497567377305430/{{ outputs.cluster.clusterId }}"
    sql: SELECT count(*) AS trips, max(trip_distance) AS longest FROM samples.nyctaxi.trips
    fetchType: FETCH_ONE
"#;
    let (state, runs, id) = w.run(flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    let query = outputs(&runs, "sql_query");
    assert_eq!(query["size"], 4);
    let csv = w
        .storage
        .path_of(outputs(&runs, "csv")["uri"].as_str().unwrap())
        .unwrap();
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some(
            "tpep_pickup_datetime,tpep_dropoff_datetime,trip_distance,fare_amount,pickup_zip,dropoff_zip"
        )
    );
    assert_eq!(
        csv.lines().nth(1),
        Some("2016-02-26 12:11:52,2016-02-26 12:38:03,9.75,31.0,11371,10019")
    );
    assert_eq!(
        outputs(&runs, "one")["row"],
        json!({"trips": 20, "longest": 9.75})
    );
    let logs = w.logs(&id).await;
    assert!(logs.iter().any(|l| l.contains("on cluster")), "{logs:#?}");

    // The cluster terminated: the query starts it; a bad table fails with
    // Spark's error.
    let cluster = outputs(&runs, "cluster")["clusterId"]
        .as_str()
        .unwrap()
        .to_owned();
    engine::http::client()
        .post(format!("{}/api/2.1/clusters/delete", w.emulator.url()))
        .bearer_auth(w.emulator.token())
        .json(&json!({"cluster_id": cluster}))
        .send()
        .await
        .unwrap();
    let again = format!(
        "id: again\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.databricks.sql.Query\n    httpPath: sql/protocolv1/o/1/{cluster}\n    sql: SELECT 1 AS one\n    fetchType: FETCH_ONE\n  - id: bad\n    type: io.kestra.plugin.databricks.sql.Query\n    httpPath: sql/protocolv1/o/1/{cluster}\n    sql: SELECT * FROM no_such_table\n"
    );
    let (state, runs, id) = w.run(&again, json!({})).await;
    assert_eq!(state, State::Failed);
    assert_eq!(outputs(&runs, "q")["row"], json!({"one": 1}));
    let logs = w.logs(&id).await;
    assert!(
        logs.iter()
            .any(|l| l.contains(&format!("starting cluster {cluster}"))),
        "{logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("the command failed on cluster") && l.contains("no_such_table")),
        "{logs:#?}"
    );
}

#[tokio::test]
async fn a_cluster_is_created_autoscaling_resized_and_deleted() {
    let w = world(0.001).await;
    let flow = r#"id: resize
namespace: company.data
tasks:
  - id: create_cluster
    type: io.kestra.plugin.databricks.cluster.CreateCluster
    clusterName: resize-test
    sparkVersion: 15.4.x-scala2.12
    nodeTypeId: i3.xlarge
    minWorkers: 1
    maxWorkers: 2
  - id: grow
    type: io.kestra.plugin.databricks.cluster.ResizeCluster
    clusterId: "{{ outputs.create_cluster.clusterId }}"
    autoscale:
      minWorkers: 2
      maxWorkers: 8
  - id: fixed
    type: io.kestra.plugin.databricks.cluster.ResizeCluster
    clusterId: "{{ outputs.create_cluster.clusterId }}"
    numWorkers: 3
  - id: delete
    type: io.kestra.plugin.databricks.cluster.DeleteCluster
    clusterId: "{{ outputs.create_cluster.clusterId }}"
"#;
    let (state, runs, id) = w.run(flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    assert_eq!(outputs(&runs, "grow")["autoscale"], json!({"min_workers": 2, "max_workers": 8}));
    assert_eq!(outputs(&runs, "fixed")["numWorkers"], 3);
    assert_eq!(outputs(&runs, "fixed")["state"], "RUNNING");
    let cluster_id = outputs(&runs, "create_cluster")["clusterId"].as_str().unwrap().to_owned();
    let cluster: Value = w.api(&format!("/api/2.1/clusters/get?cluster_id={cluster_id}")).await;
    assert_eq!(cluster["num_workers"], 3);
    assert_eq!(cluster["state"], "TERMINATED");
    let refused = r#"id: resize_bad
namespace: company.data
tasks:
  - id: bad
    type: io.kestra.plugin.databricks.cluster.ResizeCluster
    clusterId: nope
    minWorkers: 4
    maxWorkers: 2
"#;
    let (state, _, id) = w.run(refused, json!({})).await;
    assert_eq!(state, State::Failed);
    assert!(w.logs(&id).await.iter().any(|l| l.contains("minWorkers (4) must be at least 0 and at most maxWorkers (2)")));
}

/// A run whose second task fails the first time (emulator_fail_once):
/// Repair runs only that task again, in the same Databricks run, as a new
/// attempt of the same task run; RepairRun does it as a task; every task
/// type's output reaches the task's outputs.
#[tokio::test]
async fn a_failed_run_is_repaired_in_place_and_outputs_carry_each_tasks_output() {
    let w = world(0.001).await;
    let flow = r#"id: repair_me
namespace: company.data
tasks:
  - id: submit
    type: io.kestra.plugin.databricks.job.SubmitRun
    runName: repair-me
    waitForCompletion: PT5M
    runTasks:
      - taskKey: first
        notebookTask:
          notebookPath: /Shared/mortar-examples/aggregate
          baseParameters:
            day: "1"
      - taskKey: flaky
        dependsOn: [first]
        sparkPythonTask:
          pythonFile: dbfs:/databricks-datasets/mortar/job.py
          sparkPythonTaskSource: WORKSPACE
          parameters: ["--emulator_fail_once=boom"]
"#;
    put_job_file(&w).await;
    let (state, runs, id) = w.run(flow, json!({})).await;
    assert_eq!(state, State::Failed, "{:#?}", w.logs(&id).await);
    let failed = w.logs(&id).await.join("\n");
    assert!(failed.contains("flaky: FAILED: Exception: boom"), "{failed}");
    let submit = runs.iter().find(|r| r.task_id.as_str() == "submit").unwrap();
    let run_id = submit.checkpoint.as_ref().unwrap()["run_id"].as_i64().unwrap();
    let plan = Arc::new(Plan::from_yaml(flow).unwrap());
    w.executor.repair(&id, plan).await.unwrap();
    let state = w.executor.wait(&id).await.unwrap();
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    let runs = w.store.task_runs(&id).await.unwrap();
    let submit = runs.iter().find(|r| r.task_id.as_str() == "submit").unwrap();
    assert_eq!(submit.attempts.len(), 2, "the same task run, a second attempt");
    let out = submit.outputs.as_ref().unwrap();
    assert_eq!(out["runId"], run_id, "the same Databricks run");
    assert_eq!(out["resultState"], "SUCCESS");
    assert_eq!(out["lifeCycleState"], "TERMINATED");
    assert!(out["duration"].as_str().unwrap().starts_with("PT"));
    assert!(out["outputs"]["first"]["result"].is_string(), "{out}");
    let run: Value = w.api(&format!("/api/2.2/jobs/runs/get?run_id={run_id}")).await;
    let repairs: Vec<&Value> = run["repair_history"].as_array().unwrap().iter().filter(|h| h["type"] == "REPAIR").collect();
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0]["task_run_ids"].as_array().map(Vec::len), Some(1), "only the failed task ran again: {run}");
    // Nothing left to repair.
    let plan = Arc::new(Plan::from_yaml(flow).unwrap());
    assert!(w.executor.repair(&id, plan).await.is_err());

    // RepairRun as a task: a run submitted without waiting, failed by the
    // time it is repaired.
    let flow = r#"id: repair_task
namespace: company.data
tasks:
  - id: submit
    type: io.kestra.plugin.databricks.job.SubmitRun
    runTasks:
      - taskKey: flaky
        sparkPythonTask:
          pythonFile: dbfs:/databricks-datasets/mortar/job.py
          sparkPythonTaskSource: WORKSPACE
          parameters: ["--emulator_fail_once=first time"]
  - id: settle
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
  - id: repair
    type: io.kestra.plugin.databricks.job.RepairRun
    runId: "{{ outputs.submit.runId }}"
    waitForCompletion: PT5M
"#;
    let (state, runs, id) = w.run(flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    let repaired = outputs(&runs, "repair");
    assert_eq!(repaired["runId"], outputs(&runs, "submit")["runId"]);
    assert!(repaired["repairId"].is_i64(), "{repaired}");
    assert_eq!(repaired["resultState"], "SUCCESS");
    assert_eq!(repaired["outputs"]["flaky"]["state"], "SUCCESS");
}

async fn put_job_file(w: &support::databricks::World) {
    use base64::Engine as _;
    let response = engine::http::client()
        .post(format!("{}/api/2.0/dbfs/put", w.emulator.url()))
        .bearer_auth(w.emulator.token())
        .json(&json!({"path": "/databricks-datasets/mortar/job.py", "contents": base64::engine::general_purpose::STANDARD.encode("print('job')\n"), "overwrite": true}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// CreateJob with every task setting Kestra has (its names: sparkPythonTaskSource,
/// sqlTask.queryId, runJobTask.jobId as text, libraries' `_package`) on a
/// job cluster, run and waited for; each task's output in `outputs`.
#[tokio::test]
async fn create_job_takes_every_kestra_task_setting_and_job_clusters() {
    let w = world(0.001).await;
    put_job_file(&w).await;
    let flow = r#"id: every_task
namespace: company.data
tasks:
  - id: target
    type: io.kestra.plugin.databricks.job.CreateJob
    jobName: target-job
    runNow: false
    jobClusters:
      - jobClusterKey: own
        newCluster:
          sparkVersion: 15.4.x-scala2.12
          nodeTypeId: i3.xlarge
          numWorkers: 1
    jobTasks:
      - taskKey: only
        jobClusterKey: own
        notebookTask:
          notebookPath: /Shared/mortar-examples/transform
  - id: create_job
    type: io.kestra.plugin.databricks.job.CreateJob
    jobName: every-task
    waitForCompletion: PT5M
    jobClusters:
      - jobClusterKey: shared
        newCluster:
          sparkVersion: 15.4.x-scala2.12
          nodeTypeId: i3.xlarge
          numWorkers: 1
    jobTasks:
      - taskKey: notebook
        jobClusterKey: shared
        notebookTask:
          notebookPath: /Shared/mortar-examples/aggregate
          source: WORKSPACE
          baseParameters:
            day: "2"
      - taskKey: python
        jobClusterKey: shared
        dependsOn: [notebook]
        sparkPythonTask:
          pythonFile: dbfs:/databricks-datasets/mortar/job.py
          sparkPythonTaskSource: WORKSPACE
          parameters: ["--day", "2"]
        libraries:
          - pypi:
              _package: requests==2.32.3
      - taskKey: wheel
        jobClusterKey: shared
        pythonWheelTask:
          packageName: mortar_jobs
          entryPoint: main
          namedParameters:
            day: "2"
      - taskKey: jar
        jobClusterKey: shared
        sparkJarTask:
          mainClassName: com.example.Main
          jarUri: dbfs:/jars/main.jar
          parameters: ["2"]
      - taskKey: submit
        jobClusterKey: shared
        sparkSubmitTask:
          parameters: ["--class", "com.example.Main", "dbfs:/jars/main.jar"]
      - taskKey: sql
        sqlTask:
          warehouseId: a1b2c3d4e5f60718
          queryId: 1234-abcd
      - taskKey: dbt
        dbtTask:
          warehouseId: a1b2c3d4e5f60718
          catalog: main
          schema: default
          commands: ["dbt deps", "dbt run"]
      - taskKey: pipeline
        pipelineTask:
          pipelineId: 5678-efgh
          fullRefresh: true
      - taskKey: run_job
        runJobTask:
          jobId: "{{ outputs.target.jobId }}"
"#;
    let (state, runs, id) = w.run(flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    let out = outputs(&runs, "create_job");
    assert_eq!(out["resultState"], "SUCCESS");
    let tasks = &out["outputs"];
    for key in ["notebook", "python", "wheel", "jar", "submit", "sql", "dbt", "pipeline", "run_job"] {
        assert_eq!(tasks[key]["state"], "SUCCESS", "{key}: {out:#}");
    }
    assert_eq!(tasks["notebook"]["result"], "{\"day\":\"2\"}");
    assert_eq!(tasks["python"]["logs"], "job");
    assert_eq!(tasks["sql"]["sqlOutput"]["query_output"]["warehouse_id"], "a1b2c3d4e5f60718");
    assert!(tasks["dbt"]["dbtOutput"]["artifacts_link"].as_str().unwrap().contains("/dbt-artifacts/"));
    assert!(tasks["run_job"]["runJobOutput"].is_object(), "{out:#}");
    let job: Value = w.api(&format!("/api/2.2/jobs/get?job_id={}", out["jobId"])).await;
    let settings = &job["settings"];
    let task = |key: &str| settings["tasks"].as_array().unwrap().iter().find(|t| t["task_key"] == key).unwrap().clone();
    assert_eq!(task("python")["spark_python_task"]["source"], "WORKSPACE");
    assert_eq!(task("python")["libraries"][0]["pypi"]["package"], "requests==2.32.3");
    assert_eq!(task("sql")["sql_task"]["query"]["query_id"], "1234-abcd");
    assert!(task("run_job")["run_job_task"]["job_id"].is_i64());
    assert_eq!(settings["job_clusters"][0]["job_cluster_key"], "shared");
}
