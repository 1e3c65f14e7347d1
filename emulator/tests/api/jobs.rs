//! Jobs and runs: life cycles, outcomes, outputs, lists, repair.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::common::{Emu, assert_error};

const NB: &str = "/Shared/mortar-examples/aggregate";

async fn until_done(emu: &Emu, run_id: i64) -> Value {
    emu.until(&format!("/api/2.2/jobs/runs/get?run_id={run_id}"), |v| {
        ["TERMINATED", "SKIPPED", "INTERNAL_ERROR"]
            .contains(&v["state"]["life_cycle_state"].as_str().unwrap_or(""))
    })
    .await
}

fn task_id(run: &Value, key: &str) -> i64 {
    run["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["task_key"] == key))
        .and_then(|t| t["run_id"].as_i64())
        .expect("task run id")
}

#[tokio::test]
async fn a_multi_task_submit_runs_in_dependency_order_and_succeeds() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post(
            "/api/2.1/jobs/runs/submit",
            json!({"run_name": "dag", "tasks": [
                {"task_key": "a", "notebook_task": {"notebook_path": NB, "base_parameters": {"day": "mon"}}, "new_cluster": {"spark_version": "16.4.x-scala2.12", "num_workers": 1}},
                {"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": "/Shared/mortar-examples/transform"}, "job_cluster_key": "shared"},
                {"task_key": "c", "depends_on": [{"task_key": "a"}], "spark_jar_task": {"main_class_name": "x.Main"}, "job_cluster_key": "shared"},
            ], "job_clusters": [{"job_cluster_key": "shared", "new_cluster": {"spark_version": "16.4.x-scala2.12", "num_workers": 2}}]}),
        )
        .await;
    let run_id = v["run_id"].as_i64().expect("run_id");
    let first = emu
        .ok_get(&format!("/api/2.2/jobs/runs/get?run_id={run_id}"))
        .await;
    assert!(
        first["state"]["life_cycle_state"].is_string() && first["status"]["state"].is_string(),
        "{first}"
    );
    assert!(
        first["run_page_url"]
            .as_str()
            .is_some_and(|u| u.contains(&run_id.to_string()))
    );
    let done = until_done(&emu, run_id).await;
    assert_eq!(done["state"]["life_cycle_state"], "TERMINATED");
    assert_eq!(done["state"]["result_state"], "SUCCESS");
    assert_eq!(done["status"]["termination_details"]["code"], "SUCCESS");
    let tasks = done["tasks"].as_array().expect("tasks");
    let a = &tasks[0];
    let b = &tasks[1];
    assert!(
        b["start_time"].as_i64() >= a["end_time"].as_i64(),
        "b starts after a ends"
    );
    assert_eq!(
        tasks[1]["cluster_instance"]["cluster_id"], tasks[2]["cluster_instance"]["cluster_id"],
        "one cluster per job cluster key"
    );
    assert_ne!(a["run_id"], done["run_id"]);
    assert!(done["end_time"].as_i64() >= done["start_time"].as_i64());
    let out = emu
        .ok_get(&format!(
            "/api/2.1/jobs/runs/get-output?run_id={}",
            task_id(&done, "a")
        ))
        .await;
    assert_eq!(out["notebook_output"]["result"], "{\"day\":\"mon\"}");
    assert_eq!(out["metadata"]["task_key"], "a");
    let multi = emu
        .get(&format!("/api/2.1/jobs/runs/get-output?run_id={run_id}"))
        .await;
    assert_error(&multi, 400, "INVALID_PARAMETER_VALUE");
    assert!(
        multi.1["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Retrieving the output of runs with multiple tasks is not supported")
    );
    // The job cluster ends with the run.
    let cid = a["cluster_instance"]["cluster_id"]
        .as_str()
        .expect("cluster")
        .to_owned();
    let c = emu
        .until(&format!("/api/2.1/clusters/get?cluster_id={cid}"), |v| {
            v["state"] == "TERMINATED"
        })
        .await;
    assert_eq!(c["cluster_source"], "JOB");
    assert_eq!(c["termination_reason"]["code"], "JOB_FINISHED");
}

#[tokio::test]
async fn a_missing_notebook_fails_the_task_and_the_run_as_the_service_does() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post(
            "/api/2.2/jobs/runs/submit",
            json!({"tasks": [
                {"task_key": "bad", "notebook_task": {"notebook_path": "/Users/nobody/missing"}},
                {"task_key": "after", "depends_on": [{"task_key": "bad"}], "notebook_task": {"notebook_path": NB}},
                {"task_key": "always", "depends_on": [{"task_key": "bad"}], "run_if": "ALL_DONE", "notebook_task": {"notebook_path": NB}},
            ]}),
        )
        .await;
    let done = until_done(&emu, v["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(done["state"]["life_cycle_state"], "INTERNAL_ERROR");
    assert_eq!(done["state"]["result_state"], "FAILED");
    let msg = done["state"]["state_message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with(
            "Task bad failed with message: Unable to access the notebook \"/Users/nobody/missing\""
        ),
        "{msg}"
    );
    assert!(
        msg.ends_with("This caused all downstream tasks to get skipped."),
        "{msg}"
    );
    let tasks = done["tasks"].as_array().expect("tasks");
    assert_eq!(tasks[0]["state"]["result_state"], "FAILED");
    assert_eq!(tasks[1]["state"]["result_state"], "UPSTREAM_FAILED");
    assert_eq!(tasks[2]["state"]["result_state"], "SUCCESS");
    let out = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/get-output?run_id={}",
            task_id(&done, "bad")
        ))
        .await;
    assert!(
        out["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("Unable to access the notebook")
    );
    assert!(out["error_trace"].is_string());
}

#[tokio::test]
async fn python_files_in_dbfs_run_and_fail_as_written() {
    let emu = Emu::start().await;
    emu.ok_post(
        "/api/2.0/dbfs/put",
        json!({"path": "/code/ok.py", "contents": B64.encode("print(\"hello\")\n")}),
    )
    .await;
    emu.ok_post(
        "/api/2.0/dbfs/put",
        json!({"path": "/code/boom.py", "contents": B64.encode("raise ValueError('bad input')\n")}),
    )
    .await;
    let submit = |file: &str| json!({"run_name": "py", "spark_python_task": {"python_file": file, "parameters": ["--x=1"]}, "new_cluster": {"spark_version": "16.4.x-scala2.12", "num_workers": 0}});
    for (file, ok) in [
        ("dbfs:/code/ok.py", true),
        ("dbfs:/code/boom.py", false),
        ("dbfs:/code/none.py", false),
    ] {
        // Airflow's legacy single-task form: the task at the top level.
        let v = emu.ok_post("/api/2.1/jobs/runs/submit", submit(file)).await;
        let run_id = v["run_id"].as_i64().expect("run_id");
        let done = until_done(&emu, run_id).await;
        assert_eq!(
            done["state"]["result_state"] == "SUCCESS",
            ok,
            "{file}: {}",
            done["state"]
        );
        // One task: the parent run id gives its output.
        let out = emu
            .ok_get(&format!("/api/2.1/jobs/runs/get-output?run_id={run_id}"))
            .await;
        if ok {
            assert_eq!(out["logs"], "hello");
        } else {
            assert!(out["error"].is_string(), "{out}");
        }
    }
}

#[tokio::test]
async fn jobs_crud_list_and_run_now_with_parameters() {
    let emu = Emu::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let v = emu
            .ok_post(
                "/api/2.2/jobs/create",
                json!({"name": format!("job {i}"), "max_concurrent_runs": "5", "parameters": [{"name": "env", "default": "dev"}],
                       "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": NB, "base_parameters": {"x": "1"}}}]}),
            )
            .await;
        ids.push(v["job_id"].as_i64().expect("job_id"));
    }
    let job = emu
        .ok_get(&format!("/api/2.2/jobs/get?job_id={}", ids[0]))
        .await;
    assert_eq!(job["settings"]["name"], "job 0");
    assert_eq!(job["settings"]["max_concurrent_runs"], 5);
    assert!(job.get("next_page_token").is_none());
    // Airflow's capitalised booleans and empty page token.
    let page = emu
        .ok_get("/api/2.1/jobs/list?limit=2&expand_tasks=False&page_token=")
        .await;
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["has_more"], true);
    assert!(page["jobs"][0]["settings"].get("tasks").is_none());
    let rest = emu
        .ok_get(&format!(
            "/api/2.2/jobs/list?limit=2&expand_tasks=true&page_token={}",
            page["next_page_token"].as_str().expect("token")
        ))
        .await;
    assert_eq!(rest["jobs"].as_array().map(Vec::len), Some(1));
    assert!(
        rest.get("next_page_token").is_none() && rest.get("has_more").is_none(),
        "{rest}"
    );
    assert!(rest["jobs"][0]["settings"]["tasks"].is_array());
    let named = emu.ok_get("/api/2.2/jobs/list?name=JOB%201").await;
    assert_eq!(named["jobs"][0]["job_id"], ids[1]);
    assert_error(
        &emu.get("/api/2.2/jobs/list?limit=101").await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    let run = emu.ok_post("/api/2.2/jobs/run-now", json!({"job_id": ids[0].to_string(), "job_parameters": {"env": "prod"}, "notebook_params": {"x": "2"}})).await;
    assert_eq!(run["number_in_job"], 1);
    let done = until_done(&emu, run["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(
        done["job_parameters"][0],
        json!({"name": "env", "default": "dev", "value": "prod"})
    );
    let out = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/get-output?run_id={}",
            task_id(&done, "t")
        ))
        .await;
    assert_eq!(
        out["notebook_output"]["result"],
        "{\"env\":\"prod\",\"x\":\"2\"}"
    );
    assert_error(
        &emu.post(
            "/api/2.2/jobs/run-now",
            json!({"job_id": ids[0], "job_parameters": {"nope": "1"}}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );

    emu.ok_post("/api/2.2/jobs/update", json!({"job_id": ids[0], "new_settings": {"name": "renamed", "tasks": [{"task_key": "u", "spark_jar_task": {"main_class_name": "M"}}]}})).await;
    let job = emu
        .ok_get(&format!("/api/2.2/jobs/get?job_id={}", ids[0]))
        .await;
    assert_eq!(job["settings"]["name"], "renamed");
    assert_eq!(
        job["settings"]["tasks"].as_array().map(Vec::len),
        Some(2),
        "update merges tasks by key"
    );
    emu.ok_post(
        "/api/2.2/jobs/update",
        json!({"job_id": ids[0], "fields_to_remove": ["tasks/u"]}),
    )
    .await;
    emu.ok_post("/api/2.2/jobs/reset", json!({"job_id": ids[0], "new_settings": {"name": "reset", "tasks": [{"task_key": "only", "notebook_task": {"notebook_path": NB}}]}})).await;
    let job = emu
        .ok_get(&format!("/api/2.2/jobs/get?job_id={}", ids[0]))
        .await;
    assert_eq!(job["settings"]["tasks"][0]["task_key"], "only");
    emu.ok_post("/api/2.2/jobs/delete", json!({"job_id": ids[0]}))
        .await;
    let gone = emu
        .get(&format!("/api/2.2/jobs/get?job_id={}", ids[0]))
        .await;
    assert_error(&gone, 400, "INVALID_PARAMETER_VALUE");
    assert_eq!(gone.1["message"], format!("Job {} does not exist.", ids[0]));
}

#[tokio::test]
async fn invalid_job_definitions_are_refused() {
    let emu = Emu::start().await;
    let cases = [
        json!({"tasks": [{"notebook_task": {"notebook_path": NB}}]}),
        json!({"tasks": [{"task_key": "a"}]}),
        json!({"tasks": [{"task_key": "a", "notebook_task": {"notebook_path": NB}}, {"task_key": "a", "notebook_task": {"notebook_path": NB}}]}),
        json!({"tasks": [{"task_key": "a", "depends_on": [{"task_key": "zz"}], "notebook_task": {"notebook_path": NB}}]}),
        json!({"tasks": [{"task_key": "a", "depends_on": [{"task_key": "b"}], "notebook_task": {"notebook_path": NB}}, {"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": NB}}]}),
        json!({"tasks": [{"task_key": "a", "job_cluster_key": "nope", "notebook_task": {"notebook_path": NB}}]}),
    ];
    for c in cases {
        assert_error(
            &emu.post("/api/2.2/jobs/create", c.clone()).await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    let missing = emu.get("/api/2.2/jobs/runs/get?run_id=42").await;
    assert_error(&missing, 400, "INVALID_PARAMETER_VALUE");
    assert_eq!(missing.1["message"], "Run 42 does not exist.");
}

#[tokio::test]
async fn idempotency_tokens_return_the_same_run() {
    let emu = Emu::start().await;
    let body = json!({"idempotency_token": "tok-1", "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": NB}}]});
    let a = emu.ok_post("/api/2.2/jobs/runs/submit", body.clone()).await;
    let b = emu.ok_post("/api/2.2/jobs/runs/submit", body).await;
    assert_eq!(a["run_id"], b["run_id"]);
    let job = emu.ok_post("/api/2.2/jobs/create", json!({"name": "j", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": NB}}]})).await;
    let r1 = emu
        .ok_post(
            "/api/2.2/jobs/run-now",
            json!({"job_id": job["job_id"], "idempotency_token": "tok-2"}),
        )
        .await;
    let r2 = emu
        .ok_post(
            "/api/2.2/jobs/run-now",
            json!({"job_id": job["job_id"], "idempotency_token": "tok-2"}),
        )
        .await;
    assert_eq!(r1["run_id"], r2["run_id"]);
    assert_error(
        &emu.post(
            "/api/2.2/jobs/run-now",
            json!({"job_id": job["job_id"], "idempotency_token": "x".repeat(65)}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn cancel_cancel_all_and_delete() {
    let emu = Emu::start().await;
    // 100000 simulated seconds = 100 s here: still running when cancelled.
    let slow = json!({"tasks": [{"task_key": "s", "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_sleep": "100000"}}}]});
    let run_id = emu.ok_post("/api/2.2/jobs/runs/submit", slow.clone()).await["run_id"]
        .as_i64()
        .expect("run_id");
    emu.until(&format!("/api/2.2/jobs/runs/get?run_id={run_id}"), |v| {
        v["state"]["life_cycle_state"] == "RUNNING"
    })
    .await;
    assert_error(
        &emu.post("/api/2.2/jobs/runs/delete", json!({"run_id": run_id}))
            .await,
        400,
        "INVALID_STATE",
    );
    emu.ok_post("/api/2.2/jobs/runs/cancel", json!({"run_id": run_id}))
        .await;
    let done = until_done(&emu, run_id).await;
    assert_eq!(done["state"]["life_cycle_state"], "TERMINATED");
    assert_eq!(done["state"]["result_state"], "CANCELED");
    assert_eq!(done["state"]["user_cancelled_or_timedout"], true);
    assert_eq!(
        done["status"]["termination_details"]["code"],
        "USER_CANCELED"
    );

    let job = emu
        .ok_post(
            "/api/2.1/jobs/create",
            json!({"name": "slow", "max_concurrent_runs": 3, "tasks": slow["tasks"]}),
        )
        .await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        runs.push(
            emu.ok_post("/api/2.1/jobs/run-now", json!({"job_id": job["job_id"]}))
                .await["run_id"]
                .as_i64()
                .expect("run_id"),
        );
    }
    let active = emu
        .ok_get(&format!(
            "/api/2.1/jobs/runs/list?job_id={}&active_only=true",
            job["job_id"]
        ))
        .await;
    assert_eq!(active["runs"].as_array().map(Vec::len), Some(2));
    emu.ok_post(
        "/api/2.1/jobs/runs/cancel-all",
        json!({"job_id": job["job_id"]}),
    )
    .await;
    for r in &runs {
        assert_eq!(
            until_done(&emu, *r).await["state"]["result_state"],
            "CANCELED"
        );
    }
    emu.ok_post("/api/2.1/jobs/runs/delete", json!({"run_id": runs[0]}))
        .await;
    assert_error(
        &emu.get(&format!("/api/2.1/jobs/runs/get?run_id={}", runs[0]))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn runs_list_pages_and_filters() {
    let emu = Emu::start().await;
    let job = emu.ok_post("/api/2.2/jobs/create", json!({"name": "j", "max_concurrent_runs": 10, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": NB}}]})).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(
            emu.ok_post("/api/2.2/jobs/run-now", json!({"job_id": job["job_id"]}))
                .await["run_id"]
                .as_i64()
                .expect("run_id"),
        );
    }
    for id in &ids {
        until_done(&emu, *id).await;
    }
    let p1 = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/list?job_id={}&limit=3&completed_only=true&expand_tasks=true",
            job["job_id"]
        ))
        .await;
    assert_eq!(p1["runs"].as_array().map(Vec::len), Some(3));
    assert!(p1["runs"][0]["tasks"].is_array());
    let p2 = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/list?job_id={}&limit=3&page_token={}",
            job["job_id"],
            p1["next_page_token"].as_str().expect("token")
        ))
        .await;
    assert_eq!(p2["runs"].as_array().map(Vec::len), Some(1));
    assert!(p2.get("next_page_token").is_none());
    assert_error(
        &emu.get("/api/2.2/jobs/runs/list?active_only=true&completed_only=true")
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &emu.get("/api/2.2/jobs/runs/list?limit=26").await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn repair_reruns_failed_tasks_on_the_same_run() {
    let emu = Emu::start().await;
    let job = emu
        .ok_post(
            "/api/2.2/jobs/create",
            json!({"name": "r", "tasks": [
                {"task_key": "ok", "notebook_task": {"notebook_path": NB}},
                {"task_key": "flaky", "depends_on": [{"task_key": "ok"}], "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_fail": "first try"}}},
            ]}),
        )
        .await;
    let run_id = emu
        .ok_post("/api/2.2/jobs/run-now", json!({"job_id": job["job_id"]}))
        .await["run_id"]
        .as_i64()
        .expect("run_id");
    let failed = until_done(&emu, run_id).await;
    assert_eq!(failed["state"]["result_state"], "FAILED");
    assert_eq!(
        failed["state"]["state_message"],
        "Task flaky failed with message: Workload failed, see run output for details."
    );
    let out = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/get-output?run_id={}",
            task_id(&failed, "flaky")
        ))
        .await;
    assert_eq!(out["error"], "Exception: first try");
    let old_ok = task_id(&failed, "ok");
    // Fix the task, then repair only what failed.
    emu.ok_post("/api/2.2/jobs/update", json!({"job_id": job["job_id"], "new_settings": {"tasks": [{"task_key": "flaky", "depends_on": [{"task_key": "ok"}], "notebook_task": {"notebook_path": NB}}]}})).await;
    let r = emu.ok_post("/api/2.2/jobs/runs/repair", json!({"run_id": run_id, "rerun_all_failed_tasks": true, "notebook_params": {"emulator_fail": "still"}})).await;
    assert!(r["repair_id"].is_i64());
    let now = emu
        .ok_get(&format!("/api/2.2/jobs/runs/get?run_id={run_id}"))
        .await;
    assert!(
        !["TERMINATED", "INTERNAL_ERROR"]
            .contains(&now["state"]["life_cycle_state"].as_str().unwrap_or("")),
        "repair is visible at once"
    );
    let again = until_done(&emu, run_id).await;
    assert_eq!(
        again["state"]["result_state"], "FAILED",
        "the repair's own parameters still fail it"
    );
    assert_eq!(task_id(&again, "ok"), old_ok, "successful tasks are kept");
    let history = again["repair_history"].as_array().expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["type"], "ORIGINAL");
    let latest = history[1]["id"].clone();
    assert_error(
        &emu.post(
            "/api/2.2/jobs/runs/repair",
            json!({"run_id": run_id, "rerun_tasks": ["flaky"]}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    emu.ok_post("/api/2.2/jobs/runs/repair", json!({"run_id": run_id, "rerun_tasks": ["flaky"], "latest_repair_id": latest, "notebook_params": {"emulator_fail": ""}})).await;
    let fixed = until_done(&emu, run_id).await;
    assert_eq!(
        fixed["state"]["result_state"], "SUCCESS",
        "an empty emulator_fail does not fail"
    );
    assert_eq!(fixed["repair_history"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_cluster_that_fails_to_start_fails_the_run() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post(
            "/api/2.2/jobs/runs/submit",
            json!({"tasks": [{"task_key": "t", "notebook_task": {"notebook_path": NB}, "new_cluster": {"spark_version": "x", "num_workers": 1, "spark_conf": {"emulator.fail_start": "true"}}}]}),
        )
        .await;
    let done = until_done(&emu, v["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(done["state"]["life_cycle_state"], "INTERNAL_ERROR");
    assert!(
        done["state"]["state_message"]
            .as_str()
            .unwrap_or("")
            .contains("INIT_SCRIPT_FAILURE"),
        "{}",
        done["state"]
    );
}

#[tokio::test]
async fn a_run_over_its_timeout_ends_timed_out() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post(
            "/api/2.2/jobs/runs/submit",
            json!({"timeout_seconds": 5, "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_sleep": "100"}}}]}),
        )
        .await;
    let done = until_done(&emu, v["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(done["state"]["result_state"], "TIMEDOUT");
}

#[tokio::test]
async fn a_full_job_skips_or_queues_new_runs() {
    let emu = Emu::start().await;
    let slow = json!([{"task_key": "s", "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_sleep": "100000"}}}]);
    let j21 = emu
        .ok_post(
            "/api/2.1/jobs/create",
            json!({"name": "no queue", "tasks": slow}),
        )
        .await;
    let first = emu
        .ok_post("/api/2.1/jobs/run-now", json!({"job_id": j21["job_id"]}))
        .await["run_id"]
        .as_i64()
        .expect("id");
    emu.until(&format!("/api/2.1/jobs/runs/get?run_id={first}"), |v| {
        v["state"]["life_cycle_state"] == "RUNNING"
    })
    .await;
    let second = emu
        .ok_post("/api/2.1/jobs/run-now", json!({"job_id": j21["job_id"]}))
        .await["run_id"]
        .as_i64()
        .expect("id");
    let skipped = until_done(&emu, second).await;
    assert_eq!(skipped["state"]["life_cycle_state"], "SKIPPED");
    assert_eq!(
        skipped["state"]["result_state"],
        "MAXIMUM_CONCURRENT_RUNS_REACHED"
    );

    let j22 = emu
        .ok_post(
            "/api/2.2/jobs/create",
            json!({"name": "queue", "tasks": slow}),
        )
        .await;
    let a = emu
        .ok_post("/api/2.2/jobs/run-now", json!({"job_id": j22["job_id"]}))
        .await["run_id"]
        .as_i64()
        .expect("id");
    emu.until(&format!("/api/2.2/jobs/runs/get?run_id={a}"), |v| {
        v["state"]["life_cycle_state"] == "RUNNING"
    })
    .await;
    let b = emu
        .ok_post("/api/2.2/jobs/run-now", json!({"job_id": j22["job_id"]}))
        .await["run_id"]
        .as_i64()
        .expect("id");
    emu.until(&format!("/api/2.2/jobs/runs/get?run_id={b}"), |v| {
        v["state"]["life_cycle_state"] == "QUEUED" && v["status"]["state"] == "QUEUED"
    })
    .await;
    emu.ok_post("/api/2.2/jobs/runs/cancel", json!({"run_id": a}))
        .await;
    emu.until(&format!("/api/2.2/jobs/runs/get?run_id={b}"), |v| {
        v["state"]["life_cycle_state"] == "RUNNING"
    })
    .await;
    for r in [first, b] {
        emu.ok_post("/api/2.2/jobs/runs/cancel", json!({"run_id": r}))
            .await;
    }
}

#[tokio::test]
async fn airflow_style_string_numbers_and_nulls_are_accepted() {
    let emu = Emu::start().await;
    // What DatabricksSubmitRunOperator sends after normalise_json_content.
    let v = emu
        .ok_post(
            "/api/2.1/jobs/runs/submit",
            json!({"run_name": "af", "timeout_seconds": "3600", "idempotency_token": null, "git_source": null,
                   "notebook_task": {"notebook_path": NB, "base_parameters": {"n": 1}},
                   "new_cluster": {"spark_version": "16.4.x-scala2.12", "num_workers": "2", "autoscale": null}}),
        )
        .await;
    let run_id = v["run_id"].as_i64().expect("run_id");
    let done = until_done(&emu, run_id).await;
    assert_eq!(done["state"]["result_state"], "SUCCESS");
    let cid = done["tasks"][0]["cluster_instance"]["cluster_id"]
        .as_str()
        .expect("cluster")
        .to_owned();
    let c = emu
        .ok_get(&format!("/api/2.1/clusters/get?cluster_id={cid}"))
        .await;
    assert_eq!(c["num_workers"], 2);
    let out = emu
        .ok_get(&format!("/api/2.1/jobs/runs/get-output?run_id={run_id}"))
        .await;
    assert_eq!(out["notebook_output"]["result"], "{\"n\":\"1\"}");
}

#[tokio::test]
async fn jobs_2_2_pages_tasks_by_100() {
    let emu = Emu::start().await;
    let tasks: Vec<serde_json::Value> = (0..150)
        .map(
            |i| json!({"task_key": format!("t{i:03}"), "spark_jar_task": {"main_class_name": "M"}}),
        )
        .collect();
    let job = emu
        .ok_post(
            "/api/2.2/jobs/create",
            json!({"name": "wide", "tasks": tasks}),
        )
        .await;
    let id = job["job_id"].as_i64().expect("job_id");
    let first = emu.ok_get(&format!("/api/2.2/jobs/get?job_id={id}")).await;
    assert_eq!(
        first["settings"]["tasks"].as_array().map(Vec::len),
        Some(100)
    );
    let token = first["next_page_token"]
        .as_str()
        .expect("another page")
        .to_owned();
    let second = emu
        .ok_get(&format!("/api/2.2/jobs/get?job_id={id}&page_token={token}"))
        .await;
    assert_eq!(
        second["settings"]["tasks"].as_array().map(Vec::len),
        Some(50)
    );
    assert!(second.get("next_page_token").is_none());
    assert_eq!(
        second["settings"]["name"], "wide",
        "later pages repeat the other fields"
    );
    let all = emu.ok_get(&format!("/api/2.1/jobs/get?job_id={id}")).await;
    assert_eq!(
        all["settings"]["tasks"].as_array().map(Vec::len),
        Some(150),
        "2.1 does not page"
    );

    let run = emu
        .ok_post("/api/2.2/jobs/run-now", json!({"job_id": id}))
        .await["run_id"]
        .as_i64()
        .expect("run_id");
    let done = until_done(&emu, run).await;
    assert_eq!(done["tasks"].as_array().map(Vec::len), Some(100));
    assert_eq!(done["state"]["result_state"], "SUCCESS");
    let rest = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/get?run_id={run}&page_token={}",
            done["next_page_token"].as_str().expect("token")
        ))
        .await;
    assert_eq!(rest["tasks"].as_array().map(Vec::len), Some(50));
    assert!(rest.get("next_page_token").is_none());
}

#[tokio::test]
async fn tasks_retry_and_time_out() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post(
            "/api/2.2/jobs/runs/submit",
            json!({"tasks": [
                {"task_key": "flaky", "max_retries": 2, "min_retry_interval_millis": 1000,
                 "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_fail": "always"}}},
                {"task_key": "slow", "timeout_seconds": 10,
                 "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_sleep": "100000"}}},
            ]}),
        )
        .await;
    let done = until_done(&emu, v["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(done["state"]["result_state"], "FAILED");
    let tasks = done["tasks"].as_array().expect("tasks");
    assert_eq!(
        tasks[0]["attempt_number"], 2,
        "two retries after the first attempt"
    );
    assert_eq!(tasks[0]["state"]["result_state"], "FAILED");
    assert_eq!(tasks[1]["state"]["result_state"], "TIMEDOUT");
}

#[tokio::test]
async fn jobs_2_0_keeps_the_single_task_shape() {
    let emu = Emu::start().await;
    let job = emu
        .ok_post("/api/2.0/jobs/create", json!({"name": "legacy", "notebook_task": {"notebook_path": NB}, "existing_cluster_id": "x"}))
        .await;
    let got = emu
        .ok_get(&format!("/api/2.0/jobs/get?job_id={}", job["job_id"]))
        .await;
    assert_eq!(got["settings"]["notebook_task"]["notebook_path"], NB);
    assert_eq!(got["settings"]["existing_cluster_id"], "x");
    let v = emu
        .ok_post(
            "/api/2.0/jobs/runs/submit",
            json!({"run_name": "old", "spark_jar_task": {"main_class_name": "M"}}),
        )
        .await;
    let run_id = v["run_id"].as_i64().expect("run_id");
    let run = emu
        .ok_get(&format!("/api/2.0/jobs/runs/get?run_id={run_id}"))
        .await;
    assert_eq!(run["spark_jar_task"]["main_class_name"], "M");
    assert!(run["state"]["life_cycle_state"].is_string());
}

#[tokio::test]
async fn run_job_task_runs_the_other_job() {
    let emu = Emu::start().await;
    let child = emu
        .ok_post("/api/2.2/jobs/create", json!({"name": "child", "parameters": [{"name": "p", "default": "d"}], "tasks": [{"task_key": "c", "notebook_task": {"notebook_path": NB}}]}))
        .await;
    let v = emu
        .ok_post("/api/2.2/jobs/runs/submit", json!({"tasks": [{"task_key": "call", "run_job_task": {"job_id": child["job_id"], "job_parameters": {"p": "given"}}}]}))
        .await;
    let done = until_done(&emu, v["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(done["state"]["result_state"], "SUCCESS");
    let out = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/get-output?run_id={}",
            task_id(&done, "call")
        ))
        .await;
    let child_run = out["run_job_output"]["run_id"].as_i64().expect("child run");
    let c = emu
        .ok_get(&format!("/api/2.2/jobs/runs/get?run_id={child_run}"))
        .await;
    assert_eq!(c["trigger"], "RUN_JOB_TASK");
    assert_eq!(c["job_parameters"][0]["value"], "given");
    let bad = emu
        .ok_post(
            "/api/2.2/jobs/runs/submit",
            json!({"tasks": [{"task_key": "call", "run_job_task": {"job_id": 1}}]}),
        )
        .await;
    let failed = until_done(&emu, bad["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(failed["state"]["result_state"], "FAILED");
}

#[tokio::test]
async fn condition_tasks_choose_a_branch() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post(
            "/api/2.2/jobs/runs/submit",
            json!({"tasks": [
                {"task_key": "check", "condition_task": {"op": "GREATER_THAN", "left": "10", "right": "9"}},
                {"task_key": "yes", "depends_on": [{"task_key": "check", "outcome": "true"}], "notebook_task": {"notebook_path": NB}},
                {"task_key": "no", "depends_on": [{"task_key": "check", "outcome": "false"}], "notebook_task": {"notebook_path": NB}},
            ]}),
        )
        .await;
    let done = until_done(&emu, v["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(done["state"]["result_state"], "SUCCESS");
    let tasks = done["tasks"].as_array().expect("tasks");
    assert_eq!(
        tasks[0]["condition_task"]["outcome"], "true",
        "10 > 9 as numbers, not as text"
    );
    assert_eq!(tasks[1]["state"]["result_state"], "SUCCESS");
    assert_eq!(tasks[2]["state"]["result_state"], "EXCLUDED");
}

#[tokio::test]
async fn for_each_tasks_run_the_nested_task_per_input() {
    let emu = Emu::start().await;
    let nested = json!({"task_key": "each", "notebook_task": {"notebook_path": NB, "base_parameters": {"emulator_fail": "{{input}}"}}});
    let ok = emu.ok_post("/api/2.2/jobs/runs/submit", json!({"tasks": [{"task_key": "loop", "for_each_task": {"inputs": "[\"\", \"\"]", "task": nested}}]})).await;
    let done = until_done(&emu, ok["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(done["state"]["result_state"], "SUCCESS");
    assert_eq!(
        done["tasks"][0]["for_each_task"]["stats"]["task_run_stats"]["succeeded_iterations"],
        2
    );
    let bad = emu.ok_post("/api/2.2/jobs/runs/submit", json!({"tasks": [{"task_key": "loop", "for_each_task": {"inputs": ["", "boom"], "task": nested}}]})).await;
    let failed = until_done(&emu, bad["run_id"].as_i64().expect("run_id")).await;
    assert_eq!(failed["state"]["result_state"], "FAILED");
    let out = emu
        .ok_get(&format!(
            "/api/2.2/jobs/runs/get-output?run_id={}",
            task_id(&failed, "loop")
        ))
        .await;
    assert!(
        out["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("Iteration 1 (input boom) failed"),
        "{out}"
    );
}
