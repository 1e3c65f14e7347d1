//! Running flows through the REST API: execute with inputs (form, files,
//! JSON), wait, kill, restart; flow revisions.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::TestApp;

const HELLO: &str = "id: hello\nnamespace: tutorial\ninputs:\n  - id: name\n    type: STRING\n    defaults: World\n  - id: times\n    type: INT\n    required: false\ntasks:\n  - id: greet\n    type: log.Log\n    message: \"Hello, {{ inputs.name }}!\"\n  - id: answer\n    type: debug.Return\n    format: \"{{ inputs.name | upper }}\"\n";

async fn execute(app: &TestApp, path: &str, form: reqwest::multipart::Form) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/executions/{path}")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn until_ended(app: &TestApp, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = app
            .client
            .get(app.url(&format!("/api/v1/executions/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ["SUCCESS", "WARNING", "FAILED", "KILLED"]
            .contains(&body["state"]["current"].as_str().unwrap())
        {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {id} did not end: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn execute_with_form_inputs_and_wait_returns_the_finished_execution() {
    let app = TestApp::spawn().await;
    app.post_flow(HELLO).await;
    let form = reqwest::multipart::Form::new()
        .text("name", "Mortar")
        .text("times", "3");
    let response = execute(
        &app,
        "tutorial/hello?wait=true&labels=team:data&labels=env:test",
        form,
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["state"]["current"], "SUCCESS", "{body}");
    assert_eq!(body["inputs"], json!({"name": "Mortar", "times": 3}));
    assert_eq!(body["flowRevision"], 1);
    let labels = body["labels"].as_array().unwrap();
    assert!(
        labels.contains(&json!({"key": "team", "value": "data"}))
            && labels.contains(&json!({"key": "env", "value": "test"}))
    );
    let answer = body["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "answer")
        .unwrap();
    assert_eq!(answer["outputs"]["value"], "MORTAR");
    let logs: Value = app
        .client
        .get(app.url(&format!("/api/v1/logs/{}", body["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "Hello, Mortar!"),
        "{logs}"
    );
    app.stop().await;
}

#[tokio::test]
async fn json_inputs_work_and_bad_inputs_are_422_with_every_problem() {
    let app = TestApp::spawn().await;
    app.post_flow(HELLO).await;
    let ok = app
        .client
        .post(app.url("/api/v1/executions/tutorial/hello?wait=true"))
        .json(&json!({"name": "json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.json::<Value>().await.unwrap()["state"]["current"],
        "SUCCESS"
    );
    let bad = app
        .client
        .post(app.url("/api/v1/executions/tutorial/hello"))
        .json(&json!({"times": "lots", "nmae": "typo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    let problems: Vec<&str> = body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("\"nmae\" is not declared"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("\"lots\" is not a whole number"))
    );
    let search: Value = app
        .client
        .get(app.url("/api/v1/executions/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 1, "the refused execution was not created");
    let missing = execute(&app, "tutorial/nope", reqwest::multipart::Form::new()).await;
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn a_file_input_is_streamed_to_storage_and_downloadable() {
    let app = TestApp::spawn().await;
    app.post_flow("id: upload\nnamespace: data\ninputs:\n  - id: sales\n    type: FILE\ntasks:\n  - id: where\n    type: debug.Return\n    format: \"{{ inputs.sales }}\"\n").await;
    // 5.4 MB: over axum's 2 MiB default body limit, which this route lifts.
    let csv = "region,amount\n".to_owned() + &"north,10\n".repeat(600_000);
    let part = reqwest::multipart::Part::bytes(csv.clone().into_bytes())
        .file_name("sales.csv")
        .mime_str("text/csv")
        .unwrap();
    let body: Value = execute(
        &app,
        "data/upload?wait=true",
        reqwest::multipart::Form::new().part("sales", part),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["state"]["current"], "SUCCESS", "{body}");
    let uri = body["inputs"]["sales"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with(&format!(
            "storage:///data/upload/executions/{}/",
            body["id"].as_str().unwrap()
        )),
        "{uri}"
    );
    let file = app
        .client
        .get(app.url(&format!(
            "/api/v1/executions/{}/file",
            body["id"].as_str().unwrap()
        )))
        .query(&[("path", &uri)])
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.text().await.unwrap(), csv);
    app.stop().await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_413_and_leaves_no_file() {
    let limits = server::config::LimitArgs {
        max_upload: 100_000,
        ..Default::default()
    };
    let app = TestApp::spawn_with_limits(limits).await;
    app.post_flow("id: upload\nnamespace: data\ninputs:\n  - id: sales\n    type: FILE\ntasks:\n  - id: where\n    type: debug.Return\n    format: \"{{ inputs.sales }}\"\n").await;
    let part = reqwest::multipart::Part::bytes(vec![b'x'; 300_000])
        .file_name("big.csv")
        .mime_str("text/csv")
        .unwrap();
    let response = execute(
        &app,
        "data/upload?wait=true",
        reqwest::multipart::Form::new().part("sales", part),
    )
    .await;
    assert_eq!(response.status(), 413);
    let message = response.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("larger than 100000 bytes") && message.contains("--max-upload"),
        "{message}"
    );
    // Nothing is left in internal storage, not even a partial file.
    let storage = app.state.storage.path_of("storage:///data").unwrap();
    let leftovers: Vec<_> = walk(&storage);
    assert!(leftovers.is_empty(), "{leftovers:?}");
    app.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

#[tokio::test]
async fn kill_stops_a_running_execution_and_restart_makes_a_new_attempt() {
    let app = TestApp::spawn().await;
    app.post_flow(
        "id: slow\nnamespace: t\ntasks:\n  - id: wait\n    type: flow.Sleep\n    duration: PT1H\n",
    )
    .await;
    let started = execute(&app, "t/slow", reqwest::multipart::Form::new()).await;
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    // Wait until the sleep has started before killing it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body: Value = app
            .client
            .get(app.url(&format!("/api/v1/executions/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["taskRunList"]
            .as_array()
            .is_some_and(|runs| runs.iter().any(|r| r["state"]["current"] == "RUNNING"))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = app
        .client
        .delete(app.url(&format!("/api/v1/executions/{id}/kill")))
        .send()
        .await
        .unwrap();
    assert_eq!(killed.status(), 202);
    let ended = until_ended(&app, &id).await;
    assert_eq!(ended["state"]["current"], "KILLED");
    assert_eq!(ended["taskRunList"][0]["state"]["current"], "KILLED");
    let again = app
        .client
        .delete(app.url(&format!("/api/v1/executions/{id}/kill")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    // Restart runs the killed task again, as a second attempt.
    let restarted = app
        .client
        .post(app.url(&format!("/api/v1/executions/{id}/restart")))
        .send()
        .await
        .unwrap();
    assert_eq!(restarted.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body: Value = app
            .client
            .get(app.url(&format!("/api/v1/executions/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let attempts = body["taskRunList"][0]["attempts"]
            .as_array()
            .map_or(0, Vec::len);
        if attempts == 2 && body["state"]["current"] == "RUNNING" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.client
        .delete(app.url(&format!("/api/v1/executions/{id}/kill")))
        .send()
        .await
        .unwrap();
    assert_eq!(until_ended(&app, &id).await["state"]["current"], "KILLED");
    app.stop().await;
}

/// Kestra's `POST /api/v1/executions/{id}/resume`: multipart inputs as its
/// UI sends them, checked against the Pause's `onResume`; 204, then the
/// execution goes on; a second resume is refused.
#[tokio::test]
async fn a_paused_execution_is_resumed_with_form_inputs() {
    let app = TestApp::spawn().await;
    app.post_flow("id: approval\nnamespace: t\ntasks:\n  - id: approve\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: count\n        type: INT\n  - id: after\n    type: debug.Return\n    format: \"{{ outputs.approve.onResume.count * 2 }}\"\n").await;
    let started: Value = execute(&app, "t/approval", reqwest::multipart::Form::new())
        .await
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body: Value = app
            .client
            .get(app.url(&format!("/api/v1/executions/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["state"]["current"] == "PAUSED" {
            assert_eq!(
                body["taskRunList"][0]["state"]["current"], "PAUSED",
                "{body}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resume = |form: reqwest::multipart::Form| {
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/api/v1/executions/{id}/resume")),
        );
        async move { client.post(url).multipart(form).send().await.unwrap() }
    };
    let bad = resume(reqwest::multipart::Form::new().text("count", "many")).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("count"));
    assert_eq!(
        resume(reqwest::multipart::Form::new().text("count", "21"))
            .await
            .status(),
        204
    );
    let ended = until_ended(&app, &id).await;
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    assert_eq!(ended["taskRunList"][1]["outputs"]["value"], "42");
    assert_eq!(ended["taskRunList"][0]["outputs"]["onResume"]["count"], 21);
    assert_eq!(resume(reqwest::multipart::Form::new()).await.status(), 409);
    app.stop().await;
}

#[tokio::test]
async fn flows_are_updated_as_revisions_and_deleted() {
    let app = TestApp::spawn().await;
    app.post_flow(HELLO).await;
    let put = |body: String| {
        let (client, url) = (app.client.clone(), app.url("/api/v1/flows/tutorial/hello"));
        async move {
            client
                .put(url)
                .header("content-type", "application/x-yaml")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let updated = put(HELLO.replace("World", "Everyone")).await;
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.json::<Value>().await.unwrap()["revision"], 2);
    let mismatch = put(HELLO.replace("id: hello", "id: other")).await;
    assert_eq!(mismatch.status(), 422);
    let revisions: Value = app
        .client
        .get(app.url("/api/v1/flows/tutorial/hello/revisions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers: Vec<i64> = revisions
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2]);
    assert!(
        revisions[1]["source"]
            .as_str()
            .unwrap()
            .contains("Everyone")
    );
    assert_eq!(
        app.client
            .delete(app.url("/api/v1/flows/tutorial/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        app.client
            .get(app.url("/api/v1/flows/tutorial/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.client
            .delete(app.url("/api/v1/flows/tutorial/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let put_missing = put(HELLO.to_owned()).await;
    assert_eq!(put_missing.status(), 404);
    app.stop().await;
}

/// Every blueprint, posted as a flow and executed through the API, with a
/// CSV for its FILE inputs, ends SUCCESS against the emulator.
#[tokio::test]
async fn every_blueprint_runs_to_success_from_the_api() {
    let app = TestApp::spawn_with_emulator().await;
    let csv = "region,amount\nnorth,10\nsouth,5\nnorth,7\n";
    for blueprint in engine::blueprints::all() {
        // Those that post to Slack or send email run with receivers in
        // process.rs (mortar run) and end2end/tests/plugins.spec.ts.
        if blueprint.source.contains("secret(") {
            continue;
        }
        let posted = app.post_flow(blueprint.source).await;
        assert_eq!(posted.status(), 200, "{}", blueprint.header.id);
        let plan = engine::plan::Plan::from_yaml(blueprint.source).unwrap();
        let mut form = reqwest::multipart::Form::new();
        for input in plan.inputs.iter().filter(|i| i.kind == "FILE") {
            form = form.part(
                input.id.clone(),
                reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("data.csv"),
            );
        }
        let path = format!(
            "{}/{}?wait=true",
            blueprint.header.namespace, blueprint.header.id
        );
        let body: Value = execute(&app, &path, form).await.json().await.unwrap();
        if body["state"]["current"] != "SUCCESS" {
            let logs: Value = app
                .client
                .get(app.url(&format!("/api/v1/logs/{}", body["id"].as_str().unwrap())))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            panic!(
                "{} ended {}: {logs:#}",
                blueprint.header.id, body["state"]["current"]
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn replay_from_a_task_run_makes_a_new_execution_that_keeps_the_earlier_ones() {
    let app = TestApp::spawn().await;
    app.post_flow(HELLO).await;
    let form = reqwest::multipart::Form::new().text("name", "Replay");
    let original: Value = execute(&app, "tutorial/hello?wait=true", form)
        .await
        .json()
        .await
        .unwrap();
    let original_id = original["id"].as_str().unwrap();
    let answer = original["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "answer")
        .unwrap();
    let response = app
        .client
        .post(app.url(&format!(
            "/api/v1/executions/{original_id}/replay?taskRunId={}",
            answer["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let replay: Value = response.json().await.unwrap();
    assert_eq!(replay["originalId"], original_id);
    assert_ne!(replay["id"], original_id);
    let ended = until_ended(&app, replay["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    assert_eq!(ended["inputs"]["name"], "Replay");
    let runs = ended["taskRunList"].as_array().unwrap();
    let greet = runs.iter().find(|r| r["taskId"] == "greet").unwrap();
    // Kept as it was: its one attempt ended before the replay was asked for.
    assert_eq!(greet["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(
        greet["state"]["startDate"],
        original["taskRunList"][0]["state"]["startDate"]
    );
    let bad = app
        .client
        .post(app.url(&format!(
            "/api/v1/executions/{original_id}/replay?taskRunId=nope"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 409);
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_with_the_right_key_starts_an_execution_with_the_request() {
    let app = TestApp::spawn().await;
    let flow = "id: hook\nnamespace: tutorial\ninputs:\n  - id: who\n    type: STRING\ntasks:\n  - id: echo\n    type: debug.Return\n    format: \"{{ inputs.who }} sent {{ trigger.body.order }} with {{ trigger.parameters.tag[0] }} via {{ trigger.headers['x-source'][0] }}\"\ntriggers:\n  - id: incoming\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: s3cr3t-key\n    inputs:\n      who: the shop\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let response = app
        .client
        .post(app.url("/api/v1/executions/webhook/tutorial/hook/s3cr3t-key?tag=urgent"))
        .header("x-source", "shop")
        .header("authorization", "Bearer do-not-pass-on")
        .json(&json!({"order": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started: Value = response.json().await.unwrap();
    let ended = until_ended(&app, started["id"].as_str().unwrap()).await;
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    let echo = ended["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "echo")
        .unwrap();
    assert_eq!(
        echo["outputs"]["value"],
        "the shop sent 42 with urgent via shop"
    );
    assert!(
        !ended.to_string().contains("do-not-pass-on"),
        "credentials are not passed on: {ended}"
    );

    for path in ["tutorial/hook/wrong-key", "tutorial/nobody/s3cr3t-key"] {
        let missing = app
            .client
            .post(app.url(&format!("/api/v1/executions/webhook/{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404, "{path}");
        let body: Value = missing.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("no Webhook trigger with this key"),
            "{body}"
        );
    }
    app.stop().await;
}

/// The KV store through Kestra's API, and a flow reading what the API put.
#[tokio::test]
async fn kv_api_puts_gets_lists_deletes_and_flows_read_it() {
    let app = TestApp::spawn().await;
    let kv = |key: &str| app.url(&format!("/api/v1/namespaces/company.team/kv/{key}"));
    // JSON bodies keep their type; anything else is text.
    assert_eq!(
        app.client
            .put(kv("limits"))
            .body(r#"{"max": 10}"#)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .put(kv("greeting"))
            .body("hello there")
            .header("ttl", "PT1H")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let got: Value = app
        .client
        .get(kv("limits"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, json!({"type": "JSON", "value": {"max": 10}}));
    let got: Value = app
        .client
        .get(kv("greeting"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, json!({"type": "STRING", "value": "hello there"}));
    let list: Value = app
        .client
        .get(app.url("/api/v1/namespaces/company.team/kv"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["greeting", "limits"]);
    assert!(
        list[0]["expirationDate"].is_string() && list[1].get("expirationDate").is_none(),
        "{list}"
    );

    // A flow of the namespace reads them with kv().
    app.post_flow("id: reader\nnamespace: company.team\ntasks:\n  - id: read\n    type: debug.Return\n    format: \"{{ kv('greeting') }} / {{ kv('limits').max * 2 }}\"\n").await;
    let response = app
        .client
        .post(app.url("/api/v1/executions/company.team/reader?wait=true"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["state"]["current"], "SUCCESS", "{body}");
    assert_eq!(
        body["taskRunList"][0]["outputs"]["value"],
        "hello there / 20"
    );

    // Missing keys are 404 with Kestra's message; bad keys and namespaces 400; delete says whether it was there.
    let missing = app.client.get(kv("nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("No value found for key 'nope' in namespace 'company.team'")
    );
    assert_eq!(
        app.client
            .put(kv(".hidden"))
            .body("1")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        app.client
            .get(app.url("/api/v1/namespaces/a..b/kv"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        app.client
            .put(kv("x"))
            .body("1")
            .header("ttl", "an hour")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let deleted: Value = app
        .client
        .delete(kv("greeting"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted, json!(true));
    let bulk: Value = app
        .client
        .delete(app.url("/api/v1/namespaces/company.team/kv"))
        .json(&json!({"keys": ["greeting", "limits"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bulk, json!({"keys": ["limits"]}));
    app.stop().await;
}

/// Namespace files through Kestra's API: upload (multipart `fileContent`,
/// as kestrapy sends it, or a raw body), read now and at a revision, list,
/// stats, search, move, delete; a flow reads them with read() and a
/// WorkingDirectory's namespaceFiles; bad paths are 400 and an editor of
/// another namespace is refused.
#[tokio::test]
async fn namespace_files_api_writes_reads_lists_moves_deletes_and_flows_use_them() {
    let app = TestApp::spawn().await;
    let files = app.url("/api/v1/namespaces/company.team/files");
    let upload = |path: &str, content: &'static str| {
        let form = reqwest::multipart::Form::new().part(
            "fileContent",
            reqwest::multipart::Part::bytes(content.as_bytes()).file_name("file"),
        );
        app.client
            .post(&files)
            .query(&[("path", path)])
            .multipart(form)
            .send()
    };
    assert_eq!(
        upload("/sql/q.sql", "SELECT 1").await.unwrap().status(),
        200
    );
    assert_eq!(
        app.client
            .post(&files)
            .query(&[("path", "sql/q.sql")])
            .body("SELECT 2")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        upload("/scripts/clean.py", "print(1)")
            .await
            .unwrap()
            .status(),
        200
    );
    let text = |query: Vec<(&'static str, &'static str)>| {
        let request = app.client.get(&files).query(&query);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(text(vec![("path", "/sql/q.sql")]).await, "SELECT 2");
    assert_eq!(
        text(vec![("path", "/sql/q.sql"), ("revision", "1")]).await,
        "SELECT 1"
    );
    let revisions: Value = app
        .client
        .get(app.url("/api/v1/namespaces/company.team/files/revisions?path=/sql/q.sql"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revisions, json!([{"revision": 1}, {"revision": 2}]));
    let root: Value = app
        .client
        .get(app.url("/api/v1/main/namespaces/company.team/files/directory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = root
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["fileName"].as_str().unwrap(), a["type"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("scripts", "Directory"), ("sql", "Directory")]);
    let stats: Value = app
        .client
        .get(app.url("/api/v1/namespaces/company.team/files/stats?path=/sql/q.sql"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            stats["fileName"].clone(),
            stats["size"].clone(),
            stats["type"].clone()
        ),
        (json!("q.sql"), json!(8), json!("File"))
    );
    assert!(stats["lastModifiedTime"].as_i64().unwrap() > 0);
    let found: Value = app
        .client
        .get(app.url("/api/v1/namespaces/company.team/files/search?q=.py"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found, json!(["/scripts/clean.py"]));

    // Flows read them.
    let flow = "id: nsread\nnamespace: company.team\ntasks:\n  - id: read\n    type: debug.Return\n    format: \"{{ read('sql/q.sql') }}\"\n  - id: wd\n    type: flow.WorkingDirectory\n    namespaceFiles:\n      enabled: true\n      include: [\"scripts/**\"]\n    outputFiles: [\"**\"]\n    tasks:\n      - id: noop\n        type: log.Log\n        message: in {{ workingDir }}\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let body: Value = app
        .client
        .post(app.url("/api/v1/executions/company.team/nsread?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["state"]["current"], "SUCCESS", "{body}");
    assert_eq!(body["taskRunList"][0]["outputs"]["value"], "SELECT 2");
    let wd = body["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "wd")
        .unwrap();
    assert_eq!(
        wd["outputs"]["outputFiles"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["scripts/clean.py"]
    );

    // Move, delete, and what is refused.
    assert_eq!(
        app.client
            .put(&files)
            .query(&[("from", "/sql"), ("to", "/queries")])
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        text(vec![("path", "/queries/q.sql"), ("revision", "1")]).await,
        "SELECT 1"
    );
    assert_eq!(
        app.client
            .put(&files)
            .query(&[("from", "/queries"), ("to", "/scripts")])
            .send()
            .await
            .unwrap()
            .status(),
        409
    );
    assert_eq!(
        app.client
            .delete(&files)
            .query(&[("path", "/queries/q.sql")])
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let gone = app
        .client
        .get(&files)
        .query(&[("path", "/queries/q.sql")])
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert!(
        gone.text()
            .await
            .unwrap()
            .contains("/queries/q.sql does not exist")
    );
    assert_eq!(
        app.client
            .delete(&files)
            .query(&[("path", "/queries/q.sql")])
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    for bad in ["../../etc/passwd", "a//b", "a\\b", "%2e%2e/x"] {
        let response = app
            .client
            .get(&files)
            .query(&[("path", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    app.add_user("ed", "editor:other").await;
    let editor = app.client_as("ed", "editor:other").await;
    let refused = editor
        .post(&files)
        .query(&[("path", "x.sql")])
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    app.stop().await;
}

/// Triggers through Kestra's API: listed with their state; a Webhook
/// turned off answers 404 and on again starts executions, recorded as its
/// last; several at once; a trigger the flow lacks is 404.
#[tokio::test]
async fn triggers_are_listed_turned_off_and_on_and_a_webhook_obeys() {
    let app = TestApp::spawn().await;
    let flow = "id: hooked\nnamespace: company.team\ntasks:\n  - id: hi\n    type: log.Log\n    message: hi\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: the-key\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 2 * * *\"\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let hook = app.url("/api/v1/executions/webhook/company.team/hooked/the-key");
    let search = || async {
        let page: Value = app
            .client
            .get(app.url("/api/v1/main/triggers/search?namespace=company"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page
    };
    // What the scheduler sees of the Schedule: when it fires next.
    assert!(
        search().await["results"][1]["state"]
            .get("nextEvaluationDate")
            .is_none()
    );
    engine::scheduler::tick(
        &app.state.store,
        &app.state.executor,
        jiff::Timestamp::now(),
    )
    .await
    .unwrap();
    let page = search().await;
    assert!(
        page["results"][1]["state"]["nextEvaluationDate"]
            .as_str()
            .is_some_and(|d| d.contains("T02:00:00")),
        "{page}"
    );
    assert!(
        page["results"][1]["state"]["evaluatedAt"].is_string(),
        "{page}"
    );
    assert_eq!(page["total"], 2);
    let ids: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"]["triggerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["hook", "nightly"]);
    assert_eq!(page["results"][1]["trigger"]["cron"], "0 2 * * *");
    assert_eq!(page["results"][1]["state"]["kind"], "SCHEDULE");

    let set = |trigger: &str, disabled: bool| {
        app.client.put(app.url("/api/v1/main/triggers/set-disabled")).json(&json!({"namespace": "company.team", "flowId": "hooked", "triggerId": trigger, "disabled": disabled})).send()
    };
    let off: Value = set("hook", true).await.unwrap().json().await.unwrap();
    assert_eq!(off["state"]["disabled"], true, "{off}");
    assert_eq!(app.client.post(&hook).send().await.unwrap().status(), 404);
    set("hook", false).await.unwrap();
    let started: Value = app
        .client
        .post(&hook)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flow_triggers: Value = app
        .client
        .get(app.url("/api/v1/triggers/company.team/hooked"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_state = &flow_triggers["results"][0]["state"];
    assert_eq!(
        (
            hook_state["disabled"].clone(),
            hook_state["executionId"].clone()
        ),
        (json!(false), started["id"].clone())
    );
    assert!(hook_state["lastTriggeredDate"].is_string());

    let bulk: Value = app
        .client
        .post(app.url("/api/v1/triggers/set-disabled/by-triggers"))
        .json(&json!({"triggers": [{"namespace": "company.team", "flowId": "hooked", "triggerId": "hook"}, {"namespace": "company.team", "flowId": "hooked", "triggerId": "nightly"}], "disabled": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bulk, json!({"count": 2}));
    let page = search().await;
    assert!(
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"]["disabled"] == true
                && r["state"].get("nextEvaluationDate").is_none()),
        "{page}"
    );
    let missing = set("nope", true).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("has no trigger `nope`")
    );
    app.stop().await;
}

/// Kestra's test flow `webhook-with-condition.yaml`, unchanged: a body
/// its condition accepts starts an execution, another gets 204 and starts
/// nothing.
#[tokio::test]
async fn a_webhook_with_a_condition_starts_only_what_it_accepts() {
    let app = TestApp::spawn().await;
    let flow = "id: webhook-with-condition\nnamespace: io.kestra.tests\n\ntasks:\n  - id: out\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger | json }}\"\n\ntriggers:\n  - id: webhook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: webhookKey\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExpressionCondition\n        expression: \"{{trigger.body.hello == 'world'}}\"\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let url =
        app.url("/api/v1/executions/webhook/io.kestra.tests/webhook-with-condition/webhookKey");
    let started = app
        .client
        .post(&url)
        .json(&json!({"hello": "world"}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let body: Value = started.json().await.unwrap();
    assert!(body["id"].is_string(), "{body}");
    let ignored = app
        .client
        .post(&url)
        .json(&json!({"hello": "webhook"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ignored.status(), 204);
    assert!(ignored.text().await.unwrap().is_empty());
    app.stop().await;
}

/// Kestra's WorkingDirectory through the REST API: saved, run, its kept
/// file read back by a later task; a flowable inside is refused at save.
#[tokio::test]
async fn a_working_directory_flow_saves_runs_and_keeps_its_files() {
    let app = TestApp::spawn().await;
    let flow = "id: wd\nnamespace: company.team\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    inputFiles:\n      report.txt: \"made in {{ flow.id }}\"\n    outputFiles: [\"*.txt\"]\n    tasks:\n      - id: where\n        type: log.Log\n        message: \"working in {{ workingDir }}\"\n  - id: read\n    type: debug.Return\n    format: \"{{ read(outputs.wd.outputFiles['report.txt']) }}\"\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let body: Value = app
        .client
        .post(app.url("/api/v1/executions/company.team/wd?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["state"]["current"], "SUCCESS", "{body}");
    let read = body["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "read")
        .unwrap();
    assert_eq!(read["outputs"]["value"], "made in wd");
    let nested = flow.replace("id: wd\nnamespace", "id: wd2\nnamespace").replace("      - id: where\n        type: log.Log", "      - id: where\n        type: flow.Sequential\n        tasks:\n          - id: x\n            type: log.Log\n            message: x\n        description: x\n      - id: y\n        type: log.Log");
    let refused = app.post_flow(&nested).await;
    assert_eq!(refused.status(), 422, "{}", refused.text().await.unwrap());
    app.stop().await;
}

fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        archive
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        archive.write_all(content.as_bytes()).unwrap();
    }
    archive.finish().unwrap().into_inner()
}

/// Kestra's zip export and import of a namespace: files and `_flows/`.
#[tokio::test]
async fn namespace_files_export_as_a_zip_and_a_zip_imports_files_and_flows() {
    let app = TestApp::spawn().await;
    let files = app.url("/api/v1/namespaces/company.team/files");
    for (path, content) in [("/sql/q.sql", "SELECT 1"), ("/readme.md", "# hi")] {
        let status = app
            .client
            .post(&files)
            .query(&[("path", path)])
            .body(content)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    app.post_flow("id: reader\nnamespace: company.team\ntasks:\n  - id: read\n    type: debug.Return\n    format: \"{{ read('sql/q.sql') }}\"\n").await;
    let response = app
        .client
        .get(app.url("/api/v1/namespaces/company.team/files/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"company.team_files.zip\""
    );
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["_flows/reader.yml", "readme.md", "sql/q.sql"]);
    let mut sql = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("sql/q.sql").unwrap(), &mut sql).unwrap();
    assert_eq!(sql, "SELECT 1");

    // The export imported into another namespace: files, and the flow
    // moved there, which reads them.
    let import = |bytes: Vec<u8>, namespace: &str| {
        let form = reqwest::multipart::Form::new().part(
            "fileContent",
            reqwest::multipart::Part::bytes(bytes).file_name("export.ZIP"),
        );
        app.client
            .post(app.url(&format!("/api/v1/namespaces/{namespace}/files")))
            .multipart(form)
            .send()
    };
    assert_eq!(import(bytes, "company.other").await.unwrap().status(), 200);
    let read: String = app
        .client
        .get(app.url("/api/v1/namespaces/company.other/files?path=/readme.md"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(read, "# hi");
    let run: Value = app
        .client
        .post(app.url("/api/v1/executions/company.other/reader?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["state"]["current"], "SUCCESS", "{run}");
    assert_eq!(run["taskRunList"][0]["outputs"]["value"], "SELECT 1");

    // A path out of the namespace, or a bad flow, is refused, and nothing
    // of that zip is written.
    let escape = import(zip_of(&[("../evil.txt", "x")]), "company.third")
        .await
        .unwrap();
    assert_eq!(escape.status(), 400);
    let message: Value = escape.json().await.unwrap();
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .contains("leaves the namespace"),
        "{message}"
    );
    let bad_flow = import(
        zip_of(&[
            ("kept.txt", "x"),
            (
                "_flows/broken.yml",
                "id: broken\nnamespace: x\ntasks:\n  - id: a\n    type: log.Lgo\n",
            ),
        ]),
        "company.third",
    )
    .await
    .unwrap();
    assert_eq!(bad_flow.status(), 422);
    let message: Value = bad_flow.json().await.unwrap();
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .contains("/_flows/broken.yml is not a valid flow"),
        "{message}"
    );
    let absent = app
        .client
        .get(app.url("/api/v1/namespaces/company.third/files?path=/kept.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(absent.status(), 404);
    app.stop().await;
}

/// Kestra's synchronous webhook (its docs' webhook_return_outputs): `wait`
/// answers at the end, `returnOutputs` with the flow's outputs, and
/// `responseContentType: text/plain` with the single output as text.
#[tokio::test]
async fn a_webhook_that_waits_answers_with_the_ended_execution_or_its_outputs() {
    let app = TestApp::spawn().await;
    let flow = |id: &str, extra: &str| {
        format!(
            "id: {id}\nnamespace: company.team\ntasks:\n  - id: make_payload\n    type: io.kestra.plugin.core.debug.Return\n    format: \"Hello {{{{ trigger.parameters.name[0] ?? 'world' }}}}!\"\noutputs:\n  - id: greeting\n    type: STRING\n    value: \"{{{{ outputs.make_payload.value }}}}\"\ntriggers:\n  - id: webhook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: 4wjtkzwVGBM9yKnjm3yv8r\n    wait: true\n{extra}"
        )
    };
    for (id, extra) in [
        ("waits", ""),
        ("returns", "    returnOutputs: true\n"),
        (
            "plain",
            "    returnOutputs: true\n    responseContentType: text/plain\n",
        ),
    ] {
        let saved = app.post_flow(&flow(id, extra)).await;
        assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    }
    let call = |id: &str| {
        app.client
            .get(app.url(&format!(
                "/api/v1/executions/webhook/company.team/{id}/4wjtkzwVGBM9yKnjm3yv8r?name=Alice"
            )))
            .send()
    };
    let ended: Value = call("waits").await.unwrap().json().await.unwrap();
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    let outputs: Value = call("returns").await.unwrap().json().await.unwrap();
    assert_eq!(outputs, json!({"greeting": "Hello Alice!"}));
    let plain = call("plain").await.unwrap();
    assert!(
        plain.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(plain.text().await.unwrap(), "Hello Alice!");
    app.stop().await;
}
