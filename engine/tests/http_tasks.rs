//! `http.Request` and `http.Download` through the executor, against a real
//! HTTP server on a free port: methods, bodies, forms and multipart
//! uploads from internal storage, basic and bearer auth (the token masked
//! in the outputs), redirects, allowed failures, timeouts, size limits,
//! and the failures Kestra reports.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::plan::Plan;
use engine::state::State;
use engine::store::TaskRunRecord;
use engine::task::Runners;
use serde_json::{Value, json};

mod support;
use support::{Harness, harness};

async fn server() -> String {
    async fn echo(method: Method, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
        let header = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        axum::Json(json!({
            "method": method.as_str(),
            "contentType": header(header::CONTENT_TYPE),
            "authorization": header(header::AUTHORIZATION),
            "body": String::from_utf8_lossy(&body),
        }))
    }
    let app = Router::new()
        .route(
            "/json",
            get(|| async {
                let mut headers = HeaderMap::new();
                headers.insert("x-test", "yes".parse().unwrap());
                headers.append("x-multi", "1".parse().unwrap());
                headers.append("x-multi", "2".parse().unwrap());
                (headers, axum::Json(json!({"a": 1})))
            }),
        )
        .route("/echo", any(echo))
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                (StatusCode::from_u16(code).unwrap(), format!("nope {code}"))
            }),
        )
        .route(
            "/file",
            get(|| async {
                (
                    [(
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"report.csv\"",
                    )],
                    "a,b\n1,2\n",
                )
            }),
        )
        .route("/empty", get(|| async { "" }))
        .route("/big", get(|| async { "x".repeat(2000) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/redirect", get(|| async { Redirect::temporary("/json") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

async fn run(h: &Harness, yaml: &str, base: &str) -> (State, Vec<TaskRunRecord>, ExecutionId) {
    let parsed = engine::flow::parse(yaml);
    assert!(parsed.is_valid(), "{:?}", parsed.problems);
    let executor = Executor::new(
        h.services.clone(),
        Runners::core(),
        Arc::new(|name: &str| (name == "PASSWORD").then(|| "hunter2".to_owned())),
    );
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let inputs = json!({"base": base}).as_object().cloned().unwrap();
    let record = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs,
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap();
    let state = tokio::time::timeout(Duration::from_secs(20), executor.wait(&record.id))
        .await
        .expect("the execution ends")
        .unwrap();
    (
        state,
        h.store.task_runs(&record.id).await.unwrap(),
        record.id,
    )
}

fn outputs(runs: &[TaskRunRecord], task: &str) -> Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .unwrap_or_else(|| panic!("no {task}"))
        .outputs
        .clone()
        .unwrap_or_default()
}

fn echoed(runs: &[TaskRunRecord], task: &str) -> Value {
    serde_json::from_str(outputs(runs, task)["body"].as_str().unwrap()).unwrap()
}

async fn errors(h: &Harness, id: &ExecutionId) -> Vec<String> {
    h.services.logs.flush().await;
    h.store
        .logs(id, Level::Error, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect()
}

#[tokio::test]
async fn requests_and_downloads_give_kestras_outputs() {
    let h = harness().await;
    let base = server().await;
    let yaml = r#"
id: http_ok
namespace: test
inputs:
  - id: base
    type: STRING
tasks:
  - id: get
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/json"
  - id: post
    type: http.Request
    uri: "{{ inputs.base }}/echo"
    method: POST
    body: '{"n": {{ outputs.get.code }}}'
    options:
      auth:
        type: BEARER
        token: "{{ secret('PASSWORD') }}"
  - id: basic
    type: http.Request
    uri: "{{ inputs.base }}/echo"
    options:
      basicAuthUser: me
      basicAuthPassword: pw
  - id: form
    type: http.Request
    uri: "{{ inputs.base }}/echo"
    method: POST
    contentType: application/x-www-form-urlencoded
    formData:
      a: 1
      b: two words
  - id: missing_ok
    type: http.Request
    uri: "{{ inputs.base }}/status/404"
    options:
      allowFailed: true
  - id: codes
    type: http.Request
    uri: "{{ inputs.base }}/status/404"
    options:
      allowedResponseCodes: [200, 404]
  - id: redirected
    type: http.Request
    uri: "{{ inputs.base }}/redirect"
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: "{{ inputs.base }}/file"
  - id: saved
    type: http.Download
    uri: "{{ inputs.base }}/file"
    saveAs: orders.csv
  - id: upload
    type: http.Request
    uri: "{{ inputs.base }}/echo"
    method: PUT
    contentType: multipart/form-data
    formData:
      file: "{{ outputs.download.uri }}"
      note: hello
  - id: parsed
    type: debug.Return
    format: "{{ json(outputs.get.body).a + 1 }}"
"#;
    let (state, runs, id) = run(&h, yaml, &base).await;
    assert_eq!(
        state,
        State::Success,
        "{runs:#?}\n{:?}",
        errors(&h, &id).await
    );

    let get = outputs(&runs, "get");
    assert_eq!(get["code"], 200);
    assert_eq!(get["uri"], format!("{base}/json"));
    assert_eq!(get["body"], r#"{"a":1}"#);
    assert_eq!(get["headers"]["x-test"], json!(["yes"]));
    assert_eq!(get["headers"]["x-multi"], json!(["1", "2"]));
    assert_eq!(outputs(&runs, "parsed")["value"], "2");

    // The token reached the server and is masked in the outputs.
    let post = echoed(&runs, "post");
    assert_eq!(post["method"], "POST");
    assert_eq!(post["contentType"], "application/json");
    assert_eq!(post["body"], r#"{"n": 200}"#);
    assert_eq!(post["authorization"], "Bearer ******");
    assert!(!runs.iter().any(|r| {
        r.outputs
            .as_ref()
            .is_some_and(|o| o.to_string().contains("hunter2"))
    }));

    assert_eq!(echoed(&runs, "basic")["authorization"], "Basic bWU6cHc=");
    let form = echoed(&runs, "form");
    assert_eq!(form["contentType"], "application/x-www-form-urlencoded");
    assert_eq!(form["body"], "a=1&b=two+words");
    assert_eq!(
        outputs(&runs, "form")["formData"],
        json!({"a": 1, "b": "two words"})
    );

    assert_eq!(outputs(&runs, "missing_ok")["code"], 404);
    assert_eq!(outputs(&runs, "missing_ok")["body"], "nope 404");
    assert_eq!(outputs(&runs, "codes")["code"], 404);
    assert_eq!(outputs(&runs, "redirected")["code"], 200);
    assert_eq!(outputs(&runs, "redirected")["body"], r#"{"a":1}"#);

    let download = outputs(&runs, "download");
    assert_eq!(download["code"], 200);
    assert_eq!(download["length"], 8);
    let uri = download["uri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!("storage:///test/http_ok/executions/{id}/download-report.csv")
    );
    let path = h
        .services
        .storage
        .for_namespace(&engine::ids::Namespace::new("test"))
        .path_of(uri)
        .unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), "a,b\n1,2\n");

    assert!(
        outputs(&runs, "saved")["uri"]
            .as_str()
            .unwrap()
            .ends_with("/saved-orders.csv")
    );

    // The stored file went up as a multipart part named after it.
    let upload = echoed(&runs, "upload");
    assert_eq!(upload["method"], "PUT");
    assert!(
        upload["contentType"]
            .as_str()
            .unwrap()
            .starts_with("multipart/form-data; boundary="),
        "{upload}"
    );
    let body = upload["body"].as_str().unwrap();
    assert!(
        body.contains(r#"name="file"; filename="download-report.csv""#),
        "{body}"
    );
    assert!(
        body.contains("a,b\n1,2\n") && body.contains(r#"name="note""#) && body.contains("hello"),
        "{body}"
    );
}

#[tokio::test]
async fn failures_fail_the_task_with_what_went_wrong() {
    let h = harness().await;
    let base = server().await;
    let cases = [
        (
            "uri: \"{{ inputs.base }}/status/500\"",
            "Failed http request with response code '500': nope 500",
        ),
        (
            "uri: \"{{ inputs.base }}/slow\"\n    options:\n      timeout:\n        readIdleTimeout: PT0.5S",
            "the request failed",
        ),
        (
            "uri: \"{{ inputs.base }}/big\"\n    options:\n      maxContentLength: 100",
            "larger than options.maxContentLength (100 bytes)",
        ),
        (
            "uri: \"{{ inputs.base }}/json\"\n    encryptBody: true",
            "encryptBody",
        ),
        (
            "uri: \"ftp://{{ inputs.base }}\"",
            "is not an http:// or https:// URL",
        ),
        (
            "uri: \"{{ inputs.base }}/json\"\n    method: \"NOT A METHOD\"",
            "is not an HTTP method",
        ),
    ];
    for (properties, expected) in cases {
        let yaml = format!(
            "id: http_bad\nnamespace: test\ninputs:\n  - id: base\n    type: STRING\ntasks:\n  - id: call\n    type: http.Request\n    {properties}\n"
        );
        let (state, runs, id) = run(&h, &yaml, &base).await;
        assert_eq!(state, State::Failed, "{properties}: {runs:#?}");
        let errors = errors(&h, &id).await;
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{properties}: {errors:?}"
        );
    }
    let downloads = [
        (
            "uri: \"{{ inputs.base }}/empty\"",
            Some("No response from server"),
        ),
        (
            "uri: \"{{ inputs.base }}/empty\"\n    failOnEmptyResponse: false",
            None,
        ),
        (
            "uri: \"{{ inputs.base }}/status/403\"",
            Some("Failed http request with response code '403'"),
        ),
        (
            "uri: \"{{ inputs.base }}/status/403\"\n    allowFailed: true",
            None,
        ),
    ];
    for (properties, expected) in downloads {
        let yaml = format!(
            "id: http_dl\nnamespace: test\ninputs:\n  - id: base\n    type: STRING\ntasks:\n  - id: call\n    type: http.Download\n    {properties}\n"
        );
        let (state, runs, id) = run(&h, &yaml, &base).await;
        match expected {
            Some(expected) => {
                assert_eq!(state, State::Failed, "{properties}: {runs:#?}");
                let errors = errors(&h, &id).await;
                assert!(
                    errors.iter().any(|e| e.contains(expected)),
                    "{properties}: {errors:?}"
                );
            }
            None => {
                assert_eq!(state, State::Success, "{properties}: {runs:#?}");
                assert_eq!(outputs(&runs, "call")["length"], 0);
            }
        }
    }
    let code = outputs(&run(&h, &format!("id: http_dl2\nnamespace: test\ninputs:\n  - id: base\n    type: STRING\ntasks:\n  - id: call\n    type: http.Download\n    uri: \"{{{{ inputs.base }}}}/status/403\"\n    allowFailed: true\n"), &base).await.1, "call")["code"].clone();
    assert_eq!(code, 403);
}

/// http.Trigger: the scheduler calls the URL once per interval; a response
/// its responseCondition refuses starts nothing, one it accepts starts an
/// execution with the response as `trigger`, once per interval however
/// often the scheduler looks.
#[tokio::test]
async fn an_http_trigger_polls_and_starts_an_execution_when_the_response_allows() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let app = Router::new().route(
        "/ready",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if n < 3 {
                    (StatusCode::SERVICE_UNAVAILABLE, "not yet".to_owned())
                } else {
                    (StatusCode::OK, format!("{{\"batch\": {n}}}"))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let h = harness().await;
    let flow = format!(
        "id: poller\nnamespace: t\ntasks:\n  - id: show\n    type: debug.Return\n    format: \"{{{{ trigger.code }}}} {{{{ trigger.body }}}}\"\ntriggers:\n  - id: ready\n    type: io.kestra.plugin.core.http.Trigger\n    uri: http://{address}/ready\n    interval: PT30S\n    responseCondition: \"{{{{ response.statusCode == 200 }}}}\"\n"
    );
    assert!(
        engine::flow::parse(&flow).is_valid(),
        "{:?}",
        engine::flow::parse(&flow).problems
    );
    support::save(&h.store, &flow).await;
    let executor = h.executor();
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    let tick = |now: &'static str| {
        let (store, executor) = (h.store.clone(), executor.clone());
        async move {
            engine::scheduler::tick(&store, &executor, at(now))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        tick("2026-01-10T10:00:00Z").await,
        Some(at("2026-01-10T10:00:30Z"))
    );
    assert_eq!(
        tick("2026-01-10T10:00:10Z").await,
        Some(at("2026-01-10T10:00:30Z")),
        "not before the interval"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tick("2026-01-10T10:00:30Z").await;
    tick("2026-01-10T10:01:00Z").await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let filter = engine::store::ExecutionFilter {
        flow_id: Some("poller".into()),
        ..Default::default()
    };
    let started = h
        .store
        .search_executions(&filter, 1, 10)
        .await
        .unwrap()
        .results;
    assert_eq!(started.len(), 1, "the third call answered 200");
    assert_eq!(executor.wait(&started[0].id).await.unwrap(), State::Success);
    let runs = h.store.task_runs(&started[0].id).await.unwrap();
    assert_eq!(
        runs[0].outputs.as_ref().unwrap()["value"],
        "200 {\"batch\": 3}"
    );
    let state = h
        .store
        .trigger_states(Some("t"), Some("poller"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        state.last_execution_id.as_deref(),
        Some(started[0].id.as_str())
    );
}

/// http.SseRequest reads a Server-Sent Events stream to its end: each
/// event with its id, name and data (JSON when it parses), or the text a
/// jq expression extracts from each, joined.
#[tokio::test]
async fn sse_request_reads_every_event_or_joins_what_jq_extracts() {
    let stream = "id: 1\nevent: token\ndata: {\"message\": \"Hel\"}\n\nid: 2\ndata: {\"message\": \"lo\"}\n\n: a comment\ndata: {\"message\": \"!\"}\n\n";
    let app = Router::new()
        .route(
            "/events",
            get(move || async move { ([(header::CONTENT_TYPE, "text/event-stream")], stream) }),
        )
        .route(
            "/plain",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/event-stream")],
                    "data: first line\ndata: second line\n\n",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let h = harness().await;
    let yaml = format!(
        "id: sse\nnamespace: t\ninputs:\n  - id: base\n    type: STRING\ntasks:\n  - id: all\n    type: io.kestra.plugin.core.http.SseRequest\n    uri: http://{address}/events\n  - id: joined\n    type: http.SseRequest\n    uri: http://{address}/events\n    concatJqExpression: .data.message\n  - id: plain\n    type: http.SseRequest\n    uri: http://{address}/plain\n  - id: missing\n    type: http.SseRequest\n    uri: http://{address}/plain\n    concatJqExpression: .data.message\n"
    );
    let (state, runs, id) = run(&h, &yaml, &format!("http://{address}")).await;
    assert_eq!(state, State::Failed, "the last task's jq finds nothing");
    let all = outputs(&runs, "all");
    assert_eq!(all["size"], 3);
    assert_eq!(
        all["events"][0],
        json!({"id": "1", "event": "token", "data": {"message": "Hel"}})
    );
    assert_eq!(outputs(&runs, "joined")["result"], "Hello!");
    assert_eq!(
        outputs(&runs, "plain")["events"],
        json!([{"id": null, "event": null, "data": "first line\nsecond line"}])
    );
    assert!(
        errors(&h, &id)
            .await
            .iter()
            .any(|m| m.contains("Failed to resolve JQ expression '.data.message'")),
        "{:?}",
        errors(&h, &id).await
    );
}
