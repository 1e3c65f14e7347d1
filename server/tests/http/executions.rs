//! Executions, logs and files over the REST API. The executions are written
//! straight into the store, as the executor would.

use std::time::Duration;

use engine::ids::{ExecutionId, FlowId, Namespace, TaskId, TaskRunId};
use engine::log::Level;
use engine::state::Event;
use engine::storage::Storage;
use engine::store::{NewExecution, NewLog, NewTaskRun};
use futures::StreamExt;
use serde_json::{Value, json};

use super::support::TestApp;

async fn seed_execution(app: &TestApp, flow: &str) -> (ExecutionId, TaskRunId) {
    let (id, run) = seed_running_execution(app, flow).await;
    let store = &app.state.store;
    store
        .task_run_event(&run, Event::Succeed, Some(&json!({"value": "Hello World"})))
        .await
        .unwrap();
    store.execution_event(&id, Event::Succeed).await.unwrap();
    (id, run)
}

/// An execution whose one task run is still RUNNING.
async fn seed_running_execution(app: &TestApp, flow: &str) -> (ExecutionId, TaskRunId) {
    let store = &app.state.store;
    let execution = NewExecution {
        id: ExecutionId::generate(),
        namespace: Namespace::new("company.data"),
        flow_id: FlowId::new(flow),
        flow_revision: 2,
        inputs: json!({"name": "World"}),
        labels: [("env".to_owned(), "prod".to_owned())].into(),
        trigger_vars: None,
        original_id: None,
    };
    let run = NewTaskRun {
        id: TaskRunId::generate(),
        execution_id: execution.id.clone(),
        task_id: TaskId::new("hello"),
        parent_task_run_id: None,
        value: None,
    };
    store
        .create_execution(&execution, std::slice::from_ref(&run))
        .await
        .unwrap();
    store
        .execution_event(&execution.id, Event::Start)
        .await
        .unwrap();
    store
        .task_run_event(&run.id, Event::Start, None)
        .await
        .unwrap();
    (execution.id, run.id)
}

fn log(execution: &ExecutionId, level: Level, message: &str) -> NewLog {
    NewLog {
        execution_id: execution.clone(),
        task_run_id: None,
        task_id: Some(TaskId::new("hello")),
        attempt: Some(1),
        level,
        at: 1_700_000_000_000,
        message: message.to_owned(),
    }
}

#[tokio::test]
async fn an_execution_reads_as_kestra_json() {
    let app = TestApp::spawn().await;
    let (id, run_id) = seed_execution(&app, "hello").await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/executions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["namespace"], "company.data");
    assert_eq!(body["flowId"], "hello");
    assert_eq!(body["flowRevision"], 2);
    assert_eq!(body["inputs"]["name"], "World");
    assert_eq!(body["labels"], json!([{"key": "env", "value": "prod"}]));
    assert_eq!(body["state"]["current"], "SUCCESS");
    let states: Vec<&str> = body["state"]["histories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["CREATED", "RUNNING", "SUCCESS"]);
    assert!(body["state"]["endDate"].is_string());
    assert!(
        body["state"]["duration"]
            .as_str()
            .unwrap()
            .starts_with("PT")
    );
    let run = &body["taskRunList"][0];
    assert_eq!(run["id"], run_id.as_str());
    assert_eq!(run["taskId"], "hello");
    assert_eq!(run["state"]["current"], "SUCCESS");
    assert_eq!(run["attempts"][0]["state"]["current"], "SUCCESS");
    assert_eq!(run["outputs"]["value"], "Hello World");

    let missing = app
        .client
        .get(app.url("/api/v1/executions/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn search_filters_by_flow_state_and_label_and_refuses_unknown_states() {
    let app = TestApp::spawn().await;
    let (a, _) = seed_execution(&app, "load").await;
    let (_b, _) = seed_execution(&app, "other").await;
    let get = |query: &'static str| {
        let url = app.url(&format!("/api/v1/executions/search?{query}"));
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let body: Value = get("namespace=company&flowId=load&state=SUCCESS,FAILED&labels=env:prod")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], 1);
    assert_eq!(body["results"][0]["id"], a.as_str());
    let body: Value = get("size=1&page=2").await.json().await.unwrap();
    assert_eq!(body["total"], 2);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let body: Value = get("startDate=2999-01-01T00:00:00Z")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], 0);

    let bad = get("state=DONE").await;
    assert_eq!(bad.status(), 400);
    let message = bad.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("SUCCESS"), "{message}");
    assert_eq!(get("startDate=yesterday").await.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn logs_are_listed_with_a_minimum_level() {
    let app = TestApp::spawn().await;
    let (id, _) = seed_execution(&app, "hello").await;
    let logs = app.state.logs.sender();
    logs.send(log(&id, Level::Debug, "details")).await;
    logs.send(log(&id, Level::Info, "Hello World")).await;
    logs.send(log(&id, Level::Error, "boom")).await;
    logs.flush().await;
    let all: Value = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[1]["message"], "Hello World");
    assert_eq!(all[1]["level"], "INFO");
    assert_eq!(all[1]["taskId"], "hello");
    assert_eq!(all[1]["timestamp"], "2023-11-14T22:13:20Z");
    let warn: Value = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}?minLevel=WARN")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(warn.as_array().unwrap().len(), 1);
    assert_eq!(warn[0]["message"], "boom");
    let bad = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}?minLevel=LOUD")))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn logs_page_filter_and_download_as_kestra_does() {
    let app = TestApp::spawn().await;
    let (id, _) = seed_execution(&app, "hello").await;
    let logs = app.state.logs.sender();
    for i in 1..=5 {
        logs.send(log(&id, Level::Info, &format!("line {i}"))).await;
    }
    let mut other_task = log(&id, Level::Warn, "from another task");
    other_task.task_id = Some(TaskId::new("other"));
    logs.send(other_task).await;
    logs.flush().await;
    let get = |query: &str| {
        app.client
            .get(app.url(&format!("/api/v1/logs/{id}{query}")))
            .send()
    };
    let messages = |body: Value| {
        body.as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    assert_eq!(
        messages(get("?page=2&size=2").await.unwrap().json().await.unwrap()),
        ["line 3", "line 4"]
    );
    assert_eq!(
        messages(get("?page=4&size=2").await.unwrap().json().await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        messages(get("?taskId=other").await.unwrap().json().await.unwrap()),
        ["from another task"]
    );
    assert_eq!(
        messages(
            get("?attempt=1&minLevel=WARN")
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        ),
        ["from another task"]
    );
    for bad in [
        "?page=9223372036854775807&size=10",
        "?page=0",
        "?size=0",
        "?size=10001",
        "?page=x",
    ] {
        let response = get(bad).await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }

    let download = get("/download").await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-disposition"],
        format!("attachment; filename=\"{id}.log\"")
    );
    let text = download.text().await.unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[0], "2023-11-14T22:13:20Z INFO line 1");
    assert_eq!(lines[5], "2023-11-14T22:13:20Z WARN from another task");
    assert_eq!(
        get("/download?taskId=other")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "2023-11-14T22:13:20Z WARN from another task"
    );
    app.stop().await;
}

#[tokio::test]
async fn logs_of_an_unknown_execution_are_404() {
    let app = TestApp::spawn().await;
    for path in ["", "/follow", "/download"] {
        let response = app
            .client
            .get(app.url(&format!("/api/v1/logs/nosuchexecution{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("nosuchexecution"),
            "{body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_huge_log_line_is_cut_before_it_is_stored() {
    let app = TestApp::spawn().await;
    let (id, _) = seed_execution(&app, "hello").await;
    let logs = app.state.logs.sender();
    logs.send(log(&id, Level::Info, &"x".repeat(20 * 1024 * 1024)))
        .await;
    logs.flush().await;
    let body = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.len() < 1024 * 1024 + 1024, "{} bytes", body.len());
    assert!(
        body.contains("[cut: this line had 20971520 bytes and a log line keeps at most 1048576"),
        "{}",
        &body[body.len() - 300..]
    );
    app.stop().await;
}

/// Reads SSE events (id, data) until `count` have arrived.
async fn read_events(response: reqwest::Response, count: usize) -> Vec<(i64, Value)> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events in time")
            .unwrap()
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .map(|v| v.parse().unwrap());
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, serde_json::from_str(data).unwrap()));
            }
        }
    }
    events
}

#[tokio::test]
async fn following_logs_delivers_the_backlog_then_live_lines_and_resumes_without_gaps_or_doubles() {
    let app = TestApp::spawn().await;
    let (id, _) = seed_running_execution(&app, "hello").await;
    let (other, _) = seed_execution(&app, "other").await;
    let logs = app.state.logs.sender();
    logs.send(log(&id, Level::Info, "one")).await;
    logs.send(log(&id, Level::Info, "two")).await;
    logs.flush().await;

    let url = app.url(&format!("/api/v1/logs/{id}/follow"));
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let reader = tokio::spawn(read_events(response, 4));
    // Give the follower a live line of another execution too: it must not show.
    logs.send(log(&other, Level::Info, "elsewhere")).await;
    logs.send(log(&id, Level::Info, "three")).await;
    logs.send(log(&id, Level::Info, "four")).await;
    let events = reader.await.unwrap();
    let messages: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["one", "two", "three", "four"]);

    // A reconnect after "two" gets exactly "three", "four", then what follows.
    let after_two = events[1].0;
    let resumed = app
        .client
        .get(&url)
        .header("last-event-id", after_two.to_string())
        .send()
        .await
        .unwrap();
    let reader = tokio::spawn(read_events(resumed, 3));
    logs.send(log(&id, Level::Info, "five")).await;
    let events = reader.await.unwrap();
    let messages: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["three", "four", "five"]);
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0));
    app.stop().await;
}

/// Reads a whole SSE stream until the server ends it; the messages in
/// order. The last event must be `end`.
async fn read_to_end(response: reqwest::Response) -> Vec<String> {
    let body = tokio::time::timeout(Duration::from_secs(20), response.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let blocks: Vec<&str> = body
        .split("\n\n")
        .filter(|b| !b.trim().is_empty() && !b.starts_with(':'))
        .collect();
    assert!(
        blocks.last().is_some_and(|b| b.contains("event: end")),
        "{body}"
    );
    blocks
        .iter()
        .filter(|block| block.contains("event: log"))
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|data| {
            serde_json::from_str::<Value>(data).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn following_an_execution_ends_once_it_has_ended_and_its_last_line_is_sent() {
    let app = TestApp::spawn().await;
    app.post_flow("id: slow\nnamespace: tutorial\ntasks:\n  - id: first\n    type: log.Log\n    message: before\n  - id: wait\n    type: flow.Sleep\n    duration: PT0.3S\n  - id: last\n    type: log.Log\n    message: after\n").await;
    let started: Value = app
        .client
        .post(app.url("/api/v1/executions/tutorial/slow"))
        .multipart(reqwest::multipart::Form::new())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    // Followed while it runs: the stream ends by itself after "after".
    let follow = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}/follow")))
        .send()
        .await
        .unwrap();
    let messages = read_to_end(follow).await;
    assert_eq!(
        messages.first().map(String::as_str),
        Some("before"),
        "{messages:?}"
    );
    assert_eq!(
        messages.last().map(String::as_str),
        Some("after"),
        "{messages:?}"
    );
    // Followed after it ended: the backlog, then the end.
    let again = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}/follow")))
        .send()
        .await
        .unwrap();
    assert_eq!(read_to_end(again).await, messages);
    app.stop().await;
}

#[tokio::test]
async fn an_execution_file_streams_and_other_paths_are_refused() {
    let app = TestApp::spawn().await;
    let (id, _) = seed_execution(&app, "hello").await;
    let uri = Storage::execution_uri(
        &Namespace::new("company.data"),
        &FlowId::new("hello"),
        &id,
        "result.csv",
    );
    let content = "region,amount\nnorth,10\n".repeat(1000);
    app.state
        .storage
        .write(&uri, content.as_bytes())
        .await
        .unwrap();

    let url = |path: &str| {
        app.url(&format!(
            "/api/v1/executions/{id}/file?path={}",
            path.replace('/', "%2F").replace(':', "%3A")
        ))
    };
    let response = app.client.get(url(&uri)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("result.csv")
    );
    assert_eq!(response.text().await.unwrap(), content);

    let elsewhere = "storage:///company.data/hello/executions/someone-else/result.csv";
    assert_eq!(
        app.client
            .get(url(elsewhere))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let sneaky = format!("storage:///company.data/hello/executions/{id}/../../x");
    assert_eq!(
        app.client.get(url(&sneaky)).send().await.unwrap().status(),
        400
    );
    let missing = Storage::execution_uri(
        &Namespace::new("company.data"),
        &FlowId::new("hello"),
        &id,
        "missing.csv",
    );
    assert_eq!(
        app.client.get(url(&missing)).send().await.unwrap().status(),
        404
    );
    app.stop().await;
}

/// An Ion file (what sql.Query STORE and the serdes tasks write) downloads
/// as CSV, a JSON array or JSON Lines, converted as it streams; the
/// format is refused on another file, and a bad format is named.
#[tokio::test]
async fn an_ion_file_downloads_as_csv_or_json() {
    let app = TestApp::spawn().await;
    let (id, _) = seed_execution(&app, "hello").await;
    let uri = |name: &str| {
        Storage::execution_uri(
            &Namespace::new("company.data"),
            &FlowId::new("hello"),
            &id,
            name,
        )
    };
    // Enough records to span several chunks of the stream.
    let mut ion = String::new();
    for i in 0..5000 {
        ion.push_str(&format!("{{zeta:\"z{i}, quoted\",alpha:{i},none:null}}\n"));
    }
    app.state
        .storage
        .write(&uri("rows.ion"), ion.as_bytes())
        .await
        .unwrap();
    app.state
        .storage
        .write(&uri("plain.csv"), &b"a\n1\n"[..])
        .await
        .unwrap();
    let get = |path: String, format: &str| {
        app.client
            .get(app.url(&format!(
                "/api/v1/executions/{id}/file?path={}&format={format}",
                path.replace('/', "%2F").replace(':', "%3A")
            )))
            .send()
    };

    let csv = get(uri("rows.ion"), "csv").await.unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("rows.csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5001);
    assert_eq!(lines[0], "zeta,alpha,none", "the fields' order, not sorted");
    assert_eq!(lines[4999], "\"z4998, quoted\",4998,");

    let json: Value = get(uri("rows.ion"), "json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5000);
    assert_eq!(
        json[1],
        serde_json::json!({"zeta": "z1, quoted", "alpha": 1, "none": null})
    );
    let jsonl = get(uri("rows.ion"), "jsonl").await.unwrap();
    assert_eq!(jsonl.headers()["content-type"], "application/x-ndjson");
    let jsonl = jsonl.text().await.unwrap();
    assert_eq!(
        jsonl.lines().next(),
        Some(r#"{"zeta":"z0, quoted","alpha":0,"none":null}"#)
    );

    let refused = get(uri("plain.csv"), "json").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("not an Ion file"));
    let bad = get(uri("rows.ion"), "xml").await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("csv, json or jsonl"));
    app.stop().await;
}

/// Labels are added once an execution has ended: 409 while it runs, 404 for
/// an unknown one, and a key already there takes the new value.
#[tokio::test]
async fn labels_are_set_on_ended_executions_only() {
    let app = TestApp::spawn().await;
    let (running, _) = seed_running_execution(&app, "long").await;
    let set = |id: String, body: serde_json::Value| {
        app.client
            .post(app.url(&format!("/api/v1/executions/{id}/labels")))
            .json(&body)
            .send()
    };
    let answer = set(
        running.to_string(),
        serde_json::json!([{"key": "a", "value": "b"}]),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 409);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("labels are set once it has ended")
    );
    assert_eq!(
        set("nope".into(), serde_json::json!([]))
            .await
            .unwrap()
            .status(),
        404
    );

    app.post_flow("id: quick\nnamespace: t\nlabels:\n  team: data\ntasks:\n  - id: a\n    type: debug.Return\n    format: x\n").await;
    let ended: serde_json::Value = app
        .client
        .post(app.url("/api/v1/executions/t/quick?wait=true"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = ended["id"].as_str().unwrap().to_owned();
    let body: serde_json::Value =
        set(id, serde_json::json!([{"key": "team", "value": "platform"}, {"key": "reviewed", "value": "yes"}])).await.unwrap().json().await.unwrap();
    let labels = body["labels"].as_array().unwrap();
    assert!(
        labels.contains(&serde_json::json!({"key": "team", "value": "platform"})),
        "{body}"
    );
    assert!(
        labels.contains(&serde_json::json!({"key": "reviewed", "value": "yes"})),
        "{body}"
    );
    app.stop().await;
}

/// A Kestra client posts dotted input ids as form fields; the execution
/// holds them nested, as Kestra's does.
#[tokio::test]
async fn dotted_inputs_posted_as_form_fields_come_back_nested() {
    let app = TestApp::spawn().await;
    app.post_flow("id: nested\nnamespace: t\ninputs:\n  - id: request.name\n    type: STRING\n  - id: request.size\n    type: INT\ntasks:\n  - id: say\n    type: log.Log\n    message: \"{{ inputs.request.name }} x{{ inputs.request.size }}\"\n").await;
    let form = reqwest::multipart::Form::new()
        .text("request.name", "ada")
        .text("request.size", "2");
    let execution: Value = app
        .client
        .post(app.url("/api/v1/executions/t/nested?wait=true"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    assert_eq!(
        execution["inputs"],
        serde_json::json!({"request": {"name": "ada", "size": 2}})
    );
    app.stop().await;
}

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// metric.Publish's metrics read back as Kestra's API gives them: a page
/// of an execution's, the flow's names and tasks, one aggregated per day.
#[tokio::test]
async fn published_metrics_are_read_by_execution_name_task_and_aggregate() {
    let app = TestApp::spawn().await;
    let flow = "id: m\nnamespace: t\ntasks:\n  - id: publish\n    type: io.kestra.plugin.core.metric.Publish\n    metrics:\n      - type: counter\n        name: rows\n        value: 40\n        tags:\n          flow: \"{{ flow.id }}\"\n      - type: timer\n        name: duration\n        value: PT1.5S\n      - type: counter\n        name: rows\n        value: 2\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let execution: Value = app
        .client
        .post(app.url("/api/v1/executions/t/m?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let id = execution["id"].as_str().unwrap();

    let (status, page) = get_json(&app, &format!("/api/v1/metrics/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 3);
    let first = &page["results"][0];
    assert_eq!(first["type"], "counter");
    assert_eq!(first["name"], "rows");
    assert_eq!(first["value"], 40.0);
    assert_eq!(first["tags"]["flow"], "m");
    assert_eq!(first["taskId"], "publish");
    assert_eq!(first["executionId"], id);
    assert_eq!(first["flowId"], "m");
    assert_eq!(page["results"][1]["value"], 1500.0, "a timer in ms");
    let (_, sorted) = get_json(
        &app,
        &format!("/api/v1/metrics/{id}?size=1&page=1&sort=value:desc"),
    )
    .await;
    assert_eq!(sorted["total"], 3);
    assert_eq!(sorted["results"].as_array().unwrap().len(), 1);
    assert_eq!(sorted["results"][0]["value"], 1500.0);
    let (status, bad) = get_json(&app, &format!("/api/v1/metrics/{id}?sort=colour")).await;
    assert_eq!(status, 400);
    assert!(bad["message"].as_str().unwrap().contains("sort"), "{bad}");
    let (status, _) = get_json(&app, "/api/v1/metrics/nosuchexecution").await;
    assert_eq!(status, 404);

    let (_, names) = get_json(&app, "/api/v1/metrics/names/t/m").await;
    assert_eq!(names, serde_json::json!(["duration", "rows"]));
    let (_, names) = get_json(&app, "/api/v1/metrics/names/t/m/publish").await;
    assert_eq!(names, serde_json::json!(["duration", "rows"]));
    let (_, tasks) = get_json(&app, "/api/v1/metrics/tasks/t/m").await;
    assert_eq!(tasks, serde_json::json!(["publish"]));

    let (status, sum) = get_json(&app, "/api/v1/metrics/aggregates/t/m/rows").await;
    assert_eq!(status, 200);
    assert_eq!(sum["groupBy"], "day");
    let buckets = sum["aggregations"].as_array().unwrap();
    assert!((30..=31).contains(&buckets.len()), "{sum}");
    let today = buckets.iter().find(|b| b["name"] == "rows").unwrap();
    assert_eq!(today["value"], 42.0);
    let (_, max) = get_json(
        &app,
        "/api/v1/metrics/aggregates/t/m/publish/rows?aggregation=max",
    )
    .await;
    let today = max["aggregations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "rows")
        .unwrap();
    assert_eq!(today["value"], 40.0);
    let (status, bad) = get_json(
        &app,
        "/api/v1/metrics/aggregates/t/m/rows?aggregation=median",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("avg, sum, min or max")
    );
    app.stop().await;
}

/// Kestra's templates: created as its clients send them (JSON), run by
/// flow.Template with `args` (read as `parent.outputs.args`), their tasks'
/// outputs read after; a missing template fails the task as Kestra's does.
#[tokio::test]
async fn templates_are_kept_by_the_api_and_run_by_flow_template() {
    let app = TestApp::spawn().await;
    let template = serde_json::json!({
        "id": "template",
        "namespace": "io.kestra.tests",
        "description": "says what it is given",
        "tasks": [
            {"id": "test", "type": "io.kestra.plugin.core.debug.Return", "format": "{{ parent.outputs.args['my-forward'] }}"},
            {"id": "boom", "type": "io.kestra.plugin.core.execution.Fail", "condition": "{{ parent.outputs.args['my-forward'] == 'fail' }}"}
        ],
        "errors": [
            {"id": "rescue", "type": "io.kestra.plugin.core.log.Log", "message": "template failed"}
        ]
    });
    let created = app
        .client
        .post(app.url("/api/v1/templates"))
        .json(&template)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["id"], "template");
    assert_eq!(created["tasks"][0]["id"], "test");
    let again = app
        .client
        .post(app.url("/api/v1/templates"))
        .json(&template)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let bad = app
        .client
        .post(app.url("/api/v1/templates"))
        .header("Content-Type", "application/x-yaml")
        .body("id: t2\nnamespace: io.kestra.tests\ntriggers: []\ntasks:\n  - id: a\n    type: log.Lgo\n")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.unwrap();
    let text = bad.to_string();
    assert!(
        text.contains("`triggers` is not part of a template"),
        "{text}"
    );
    assert!(text.contains("log.Lgo"), "{text}");

    // Kestra's with-template.yaml, run with its inputs.
    let flow = "id: with-template\nnamespace: io.kestra.tests\ninputs:\n  - id: with-string\n    type: STRING\ntasks:\n  - id: 1-return\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{task.id}} > {{taskrun.startDate}}\"\n  - id: 2-template\n    type: io.kestra.plugin.core.flow.Template\n    namespace: io.kestra.tests\n    templateId: template\n    args:\n      my-forward: \"{{ inputs['with-string'] }}\"\n  - id: 3-end\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.test.value }} / {{ outputs['2-template'].args['my-forward'] }}\"\n";
    let saved = app.post_flow(flow).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let run = |value: &'static str| {
        let form = reqwest::multipart::Form::new().text("with-string", value);
        app.client
            .post(app.url("/api/v1/executions/io.kestra.tests/with-template?wait=true"))
            .multipart(form)
            .send()
    };
    let execution: Value = run("myString").await.unwrap().json().await.unwrap();
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let runs = execution["taskRunList"].as_array().unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r["taskId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1-return", "2-template", "test", "boom", "3-end"]);
    let end = runs.iter().find(|r| r["taskId"] == "3-end").unwrap();
    assert_eq!(end["outputs"]["value"], "myString / myString");
    let test = runs.iter().find(|r| r["taskId"] == "test").unwrap();
    let template_run = runs.iter().find(|r| r["taskId"] == "2-template").unwrap();
    assert_eq!(test["parentTaskRunId"], template_run["id"]);

    // A failure inside runs the template's `errors`.
    let failed: Value = run("fail").await.unwrap().json().await.unwrap();
    assert_eq!(failed["state"]["current"], "FAILED", "{failed}");
    assert!(
        failed["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["taskId"] == "rescue" && r["state"]["current"] == "SUCCESS"),
        "{failed}"
    );

    // Kestra's with-failed-template.yaml: one task run, FAILED, named.
    app.post_flow("id: with-failed-template\nnamespace: io.kestra.tests\ntasks:\n  - id: 1-template\n    type: io.kestra.plugin.core.flow.Template\n    namespace: io.kestra.tests\n    templateId: invalid\n").await;
    let missing: Value = app
        .client
        .post(app.url("/api/v1/executions/io.kestra.tests/with-failed-template?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missing["state"]["current"], "FAILED");
    assert_eq!(missing["taskRunList"].as_array().unwrap().len(), 1);
    let id = missing["id"].as_str().unwrap();
    let logs: Value = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        logs.as_array().unwrap().iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .ends_with("Can't find flow template 'io.kestra.tests.invalid'")),
        "{logs}"
    );

    let (_, page) = get_json(&app, "/api/v1/templates/search?namespace=io.kestra").await;
    assert_eq!(page["total"], 1);
    let (_, namespaces) = get_json(&app, "/api/v1/templates/distinct-namespaces").await;
    assert_eq!(namespaces, serde_json::json!(["io.kestra.tests"]));
    let mut moved = template.clone();
    moved["id"] = "other".into();
    let refused = app
        .client
        .put(app.url("/api/v1/templates/io.kestra.tests/template"))
        .json(&moved)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let deleted = app
        .client
        .delete(app.url("/api/v1/templates/io.kestra.tests/template"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, _) = get_json(&app, "/api/v1/templates/io.kestra.tests/template").await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// Kestra's bulk actions by ids and the delete of one execution: every id
/// is checked before anything is done (a missing or unfit one answers 400
/// with Kestra's `{message, invalids}`), then the count is answered; the
/// tenant paths take them too.
#[tokio::test]
async fn executions_are_deleted_killed_restarted_and_replayed_by_ids() {
    let app = TestApp::spawn().await;
    let (done1, _) = seed_execution(&app, "hello").await;
    let (done2, _) = seed_execution(&app, "hello").await;
    let (done3, _) = seed_execution(&app, "hello").await;
    let (running, _) = seed_running_execution(&app, "long").await;
    let send = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        app.client.request(method, app.url(path)).json(&body).send()
    };
    let status_of = |id: &ExecutionId| {
        app.client
            .get(app.url(&format!("/api/v1/executions/{id}")))
            .send()
    };

    // Deleting: ended ones only, unless includeNonTerminated.
    let refused = send(
        reqwest::Method::DELETE,
        "/api/v1/executions/by-ids",
        json!([done1.as_str(), running.as_str(), "nope0000000000000000"]),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["message"], "invalid bulk delete");
    let messages: Vec<&str> = body["invalids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["execution not terminated", "execution not found"]
    );
    assert_eq!(
        status_of(&done1).await.unwrap().status(),
        200,
        "nothing was done"
    );
    let deleted: serde_json::Value = send(
        reqwest::Method::DELETE,
        "/api/v1/main/executions/by-ids?deleteLogs=true",
        json!([done1.as_str(), done3.as_str()]),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(deleted, json!({"count": 2}));
    assert_eq!(status_of(&done1).await.unwrap().status(), 404);
    assert_eq!(status_of(&done3).await.unwrap().status(), 404);
    assert_eq!(status_of(&done2).await.unwrap().status(), 200);

    // One by one: an execution still running is refused.
    let one = app
        .client
        .delete(app.url(&format!("/api/v1/executions/{running}")))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 409);
    let one = app
        .client
        .delete(app.url(&format!("/api/v1/executions/{done2}")))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 204);
    assert_eq!(status_of(&done2).await.unwrap().status(), 404);

    // Killing: running ones only.
    let refused = send(
        reqwest::Method::DELETE,
        "/api/v1/executions/kill/by-ids",
        json!([done2.as_str()]),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["message"], "invalid bulk kill");
    assert_eq!(body["invalids"][0]["message"], "execution not found");

    // Restart and replay on real executions of a flow that fails.
    app.post_flow(
        "id: flaky\nnamespace: company.data\ntasks:\n  - id: boom\n    type: execution.Fail\n",
    )
    .await;
    let mut failed = Vec::new();
    for _ in 0..2 {
        let started: serde_json::Value = app
            .client
            .post(app.url("/api/v1/executions/company.data/flaky?wait=true"))
            .multipart(reqwest::multipart::Form::new())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(started["state"]["current"], "FAILED");
        failed.push(started["id"].as_str().unwrap().to_owned());
    }
    let restarted: serde_json::Value = send(
        reqwest::Method::POST,
        "/api/v1/executions/restart/by-ids",
        json!(failed),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(restarted, json!({"count": 2}));
    for id in &failed {
        let id = ExecutionId::new(id.clone());
        let state = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            app.state.executor.wait(&id),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            state,
            engine::state::State::Failed,
            "restarted and failed again"
        );
        let execution = app.state.store.get_execution(&id).await.unwrap().unwrap();
        assert!(
            execution
                .histories
                .iter()
                .filter(|h| h.state == engine::state::State::Failed)
                .count()
                >= 2,
            "{:?}",
            execution.histories
        );
    }
    let replayed: serde_json::Value = send(
        reqwest::Method::POST,
        "/api/v1/executions/replay/by-ids",
        json!(failed),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(replayed, json!({"count": 2}));
    let search: serde_json::Value = app
        .client
        .get(app.url("/api/v1/executions/search?flowId=flaky"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 4, "two replays as new executions");
    app.stop().await;
}

/// Kestra's file metas and preview: the size; an Ion file's first rows as
/// a LIST, text's first lines as TEXT, cut at maxRows and said so; another
/// execution's file refused as for the download.
#[tokio::test]
async fn an_execution_file_has_metas_and_a_preview() {
    let app = TestApp::spawn().await;
    let (id, _) = seed_execution(&app, "hello").await;
    let uri = |name: &str| {
        Storage::execution_uri(
            &Namespace::new("company.data"),
            &FlowId::new("hello"),
            &id,
            name,
        )
    };
    let mut ion = String::new();
    for i in 0..150 {
        ion.push_str(&format!("{{n:{i},name:\"row {i}\"}}\n"));
    }
    app.state
        .storage
        .write(&uri("rows.ion"), ion.as_bytes())
        .await
        .unwrap();
    app.state
        .storage
        .write(&uri("notes.txt"), &b"one\ntwo\nthree\n"[..])
        .await
        .unwrap();
    let get = |what: &str, path: String, extra: &str| {
        app.client
            .get(app.url(&format!(
                "/api/v1/main/executions/{id}/file/{what}?path={}{extra}",
                path.replace('/', "%2F").replace(':', "%3A")
            )))
            .send()
    };
    let metas: serde_json::Value = get("metas", uri("rows.ion"), "")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metas, json!({"size": ion.len()}));
    let preview: serde_json::Value = get("preview", uri("rows.ion"), "")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["type"], "LIST");
    assert_eq!(preview["extension"], "ion");
    assert_eq!(preview["truncated"], true);
    assert_eq!(preview["content"].as_array().unwrap().len(), 100);
    assert_eq!(preview["content"][3], json!({"n": 3, "name": "row 3"}));
    let text: serde_json::Value = get("preview", uri("notes.txt"), "&maxRows=2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        text,
        json!({"extension": "txt", "type": "TEXT", "content": "one\ntwo", "truncated": true})
    );
    let elsewhere = "storage:///company.data/hello/executions/someone-else/rows.ion".to_owned();
    assert_eq!(get("preview", elsewhere, "").await.unwrap().status(), 403);
    assert_eq!(
        get("metas", uri("missing.ion"), "").await.unwrap().status(),
        404
    );
    app.stop().await;
}

/// Following an execution as Kestra's clients do: `start`, `progress`
/// events while it runs, `end` with its final state; an ended one answers
/// `start` and `end` at once; an unknown one is 404.
#[tokio::test]
async fn an_execution_is_followed_to_its_end_as_server_sent_events() {
    let app = TestApp::spawn().await;
    app.post_flow("id: slowish\nnamespace: company.data\ntasks:\n  - id: first\n    type: log.Log\n    message: one\n  - id: wait\n    type: flow.Sleep\n    duration: PT0.5S\n  - id: last\n    type: log.Log\n    message: two\n")
        .await;
    let started: serde_json::Value = app
        .client
        .post(app.url("/api/v1/executions/company.data/slowish"))
        .multipart(reqwest::multipart::Form::new())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    let events = |body: String| -> Vec<(String, serde_json::Value)> {
        body.split("\n\n")
            .filter_map(|block| {
                let id = block.lines().find_map(|l| l.strip_prefix("id: "))?;
                let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
                Some((id.to_owned(), serde_json::from_str(data).unwrap()))
            })
            .collect()
    };
    let follow = |id: String| {
        app.client
            .get(app.url(&format!("/api/v1/main/executions/{id}/follow")))
            .send()
    };
    let response = follow(id.clone()).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let seen = events(response.text().await.unwrap());
    assert_eq!(seen.first().map(|e| e.0.as_str()), Some("start"));
    assert_eq!(seen[0].1["id"], id.as_str());
    let (last_id, last) = seen.last().unwrap();
    assert_eq!(last_id, "end");
    assert_eq!(last["state"]["current"], "SUCCESS");
    assert_eq!(last["taskRunList"].as_array().unwrap().len(), 3);
    assert!(
        seen.iter()
            .any(|(id, e)| id == "progress" && e["state"]["current"] == "RUNNING"),
        "{seen:?}"
    );
    // Once ended: start and end at once.
    let again = events(follow(id.clone()).await.unwrap().text().await.unwrap());
    assert_eq!(
        again.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["start", "end"]
    );
    assert_eq!(
        follow("0000000000000000000000".into())
            .await
            .unwrap()
            .status(),
        404
    );
    app.stop().await;
}
