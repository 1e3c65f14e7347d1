//! Bad input never panics the emulator: every endpoint answers garbage
//! with an envelope (a panic would drop the connection and fail here).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Emu;

const POSTS: &[&str] = &[
    "/api/2.1/clusters/create",
    "/api/2.1/clusters/edit",
    "/api/2.1/clusters/start",
    "/api/2.1/clusters/restart",
    "/api/2.1/clusters/resize",
    "/api/2.1/clusters/delete",
    "/api/2.1/clusters/permanent-delete",
    "/api/2.1/clusters/pin",
    "/api/2.1/clusters/events",
    "/api/2.0/dbfs/put",
    "/api/2.0/dbfs/create",
    "/api/2.0/dbfs/add-block",
    "/api/2.0/dbfs/close",
    "/api/2.0/dbfs/mkdirs",
    "/api/2.0/dbfs/move",
    "/api/2.0/dbfs/delete",
    "/api/2.0/workspace/import",
    "/api/2.0/workspace/mkdirs",
    "/api/2.0/workspace/delete",
    "/api/2.0/sql/warehouses",
    "/api/2.0/sql/statements",
    "/api/2.2/jobs/create",
    "/api/2.2/jobs/update",
    "/api/2.2/jobs/reset",
    "/api/2.2/jobs/delete",
    "/api/2.2/jobs/run-now",
    "/api/2.2/jobs/runs/submit",
    "/api/2.2/jobs/runs/cancel",
    "/api/2.2/jobs/runs/cancel-all",
    "/api/2.2/jobs/runs/repair",
    "/api/2.2/jobs/runs/delete",
    "/emulator/faults",
];

const GETS: &[&str] = &[
    "/api/2.1/clusters/get",
    "/api/2.1/clusters/list",
    "/api/2.0/dbfs/read",
    "/api/2.0/dbfs/get-status",
    "/api/2.0/dbfs/list",
    "/api/2.0/workspace/get-status",
    "/api/2.0/workspace/list",
    "/api/2.0/workspace/export",
    "/api/2.0/sql/warehouses",
    "/api/2.2/jobs/get",
    "/api/2.2/jobs/list",
    "/api/2.2/jobs/runs/get",
    "/api/2.2/jobs/runs/get-output",
    "/api/2.2/jobs/runs/list",
    "/api/2.0/fs/directories/Volumes/main/default/files",
    "/api/2.0/sql/statements/x/result/chunks/99999999999999999999",
];

fn garbage() -> Vec<Value> {
    let deep = (0..200).fold(json!(1), |acc, _| json!([acc]));
    vec![
        json!({}),
        json!(null),
        json!([1, 2]),
        json!("text"),
        json!({"cluster_id": 1e300, "spark_version": {"a": 1}, "num_workers": "-5", "autoscale": {"min_workers": "x"}}),
        json!({"path": "../../etc/passwd", "contents": "!!!", "handle": "abc", "overwrite": "maybe"}),
        json!({"path": "relative", "source_path": "", "destination_path": "/", "recursive": 3}),
        json!({"job_id": "9999999999999999999999", "run_id": [1], "new_settings": 5, "tasks": "x", "job_parameters": [1]}),
        json!({"tasks": [{"task_key": "a", "depends_on": "b", "notebook_task": 1}], "timeout_seconds": 1e308}),
        json!({"tasks": [{"task_key": "a", "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_sleep": "1e308"}}}]}),
        json!({"statement": "SELECT :a", "warehouse_id": "a1b2c3d4e5f60718", "parameters": [{"name": "a", "value": "x", "type": "INT"}], "row_limit": -1, "byte_limit": "1e9"}),
        json!({"statement": "SELECT * FROM read_files('dbfs:/databricks-datasets/mortar', format => 'csv', sep => '')", "warehouse_id": "a1b2c3d4e5f60718"}),
        json!({"name": "w", "cluster_size": 5, "min_num_clusters": 10, "max_num_clusters": 1}),
        json!({"rules": [{"path": "**", "rate": "x"}]}),
        json!({"event_types": 7, "limit": -1, "offset": -10, "page_token": "x"}),
        json!({"data": deep}),
    ]
}

const NB: &str = "/Shared/mortar-examples/aggregate";

#[tokio::test]
async fn garbage_bodies_and_queries_get_envelopes_not_panics() {
    let emu = Emu::start().await;
    for path in POSTS {
        for body in garbage() {
            let (s, v) = emu.send(emu.req(Method::POST, path).json(&body)).await;
            assert!(
                s.as_u16() < 500 || s.as_u16() == 503,
                "POST {path} {body}: {s} {v}"
            );
        }
        let (s, _) = emu
            .send(emu.req(Method::POST, path).body(vec![0xff, 0xfe, 0x00]))
            .await;
        assert!(s.is_client_error(), "POST {path} with binary: {s}");
    }
    for path in GETS {
        for q in [
            "",
            "?cluster_id=&run_id=x&job_id=1e5&path=&offset=-1&length=abc",
            "?path=%ZZ%&limit=0&page_token=-1&expand_tasks=maybe",
            "?run_id=99999999999999999999999&page_size=-3&filter_by.cluster_states=NOPE&path=/../x",
        ] {
            let (s, v) = emu.get(&format!("{path}{q}")).await;
            assert!(s.as_u16() < 500, "GET {path}{q}: {s} {v}");
        }
    }
    // Still serving.
    emu.ok_get("/api/2.1/clusters/list").await;
}

/// Hundreds of clients polling at once all get answers (the shards keep
/// them from queueing on one lock; timing is the benchmark's business).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_pollers_all_get_answers() {
    let emu = Emu::start().await;
    let run = emu
        .ok_post(
            "/api/2.2/jobs/runs/submit",
            json!({"tasks": [{"task_key": "t", "notebook_task": {"notebook_path": NB}}]}),
        )
        .await;
    let cluster = emu
        .ok_post(
            "/api/2.1/clusters/create",
            json!({"spark_version": "x", "num_workers": 1}),
        )
        .await;
    let paths = [
        format!("/api/2.2/jobs/runs/get?run_id={}", run["run_id"]),
        format!(
            "/api/2.1/clusters/get?cluster_id={}",
            cluster["cluster_id"].as_str().unwrap_or("")
        ),
        "/api/2.0/sql/warehouses".to_owned(),
    ];
    // Fewer than a thousand, so a CI with 1024 open files still passes.
    let mut tasks = Vec::new();
    for i in 0..400 {
        let (client, url, token, path) = (
            emu.client.clone(),
            emu.url.clone(),
            emu.token.clone(),
            paths[i % 3].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..5 {
                let resp = client
                    .get(format!("{url}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                if resp.is_ok_and(|r| r.status() == 200) {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("poller");
    }
    assert_eq!(total, 400 * 5);
}
