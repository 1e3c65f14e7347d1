//! Kestra's search syntax (`filters[field][OPERATION]=value`) on every
//! search, the log search, the latest execution of each flow, labels by
//! ids, and flows imported, exported, deleted, disabled and listed in
//! bulk, over the REST API with Kestra's paths and shapes.

use std::io::{Read, Write};

use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::log::Level;
use engine::state::Event;
use engine::store::{NewExecution, NewLog};
use serde_json::{Value, json};

use super::support::TestApp;

/// An ended execution of `namespace.flow`, its labels and one log line at
/// `level`, written straight into the store as the executor would.
async fn seed(
    app: &TestApp,
    namespace: &str,
    flow: &str,
    labels: &[(&str, &str)],
    end: Event,
    level: Level,
) -> ExecutionId {
    let store = &app.state.store;
    let new = NewExecution {
        id: ExecutionId::generate(),
        namespace: Namespace::new(namespace),
        flow_id: FlowId::new(flow),
        flow_revision: 1,
        inputs: json!({}),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        trigger_vars: None,
        original_id: None,
    };
    store.create_execution(&new, &[]).await.unwrap();
    store.execution_event(&new.id, Event::Start).await.unwrap();
    store.execution_event(&new.id, end).await.unwrap();
    store
        .insert_logs(vec![NewLog {
            execution_id: new.id.clone(),
            task_run_id: None,
            task_id: None,
            attempt: None,
            level,
            at: jiff::Timestamp::now().as_millisecond(),
            message: format!("{flow} says {}", level.as_str()),
        }])
        .await
        .unwrap();
    new.id
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn executions_are_searched_with_kestras_filters() {
    let app = TestApp::spawn().await;
    let a = seed(&app, "company.data", "load", &[("env", "prod")], Event::Succeed, Level::Info).await;
    let b = seed(&app, "company.data.sub", "load_daily", &[("env", "dev")], Event::Fail, Level::Error).await;
    let c = seed(&app, "company_data", "other", &[], Event::Succeed, Level::Warn).await;
    let sorted = |mut v: Vec<&ExecutionId>| {
        v.sort();
        v.into_iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    let search = |q: &'static str| {
        let app = &app;
        async move { get(app, &format!("/api/v1/main/executions/search?{q}")).await }
    };
    let (_, body) = search("filters[namespace][PREFIX]=company.data").await;
    assert_eq!(ids(&body), sorted(vec![&a, &b]));
    let (_, body) = search("filters[namespace][EQUALS]=company.data").await;
    assert_eq!(ids(&body), sorted(vec![&a]));
    let (_, body) = search("filters[flowId][STARTS_WITH]=load&filters[state][IN]=FAILED,WARNING").await;
    assert_eq!(ids(&body), sorted(vec![&b]));
    let (_, body) = search("filters[labels][EQUALS][env]=prod").await;
    assert_eq!(ids(&body), sorted(vec![&a]));
    let (_, body) = search("filters[labels][NOT_EQUALS][env]=prod").await;
    assert_eq!(ids(&body), sorted(vec![&b, &c]));
    let (_, body) = search("filters[flowId][REGEX]=^(load|other)$").await;
    assert_eq!(ids(&body), sorted(vec![&a, &c]));
    let (_, body) = search("filters[and][0][q][EQUALS]=daily").await;
    assert_eq!(ids(&body), sorted(vec![&b]));
    let (_, body) = search("filters[timeRange][EQUALS]=PT1H&filters[childFilter][EQUALS]=MAIN").await;
    assert_eq!(body["total"], 3);
    let (_, body) = search("filters[startDate][GREATER_THAN_OR_EQUAL_TO]=2999-01-01T00:00:00Z").await;
    assert_eq!(body["total"], 0);
    let (_, body) = search("filters[kind][EQUALS]=NORMAL&filters[scope][EQUALS]=USER").await;
    assert_eq!(body["total"], 3);
    // What Kestra refuses, named.
    let (status, body) = search("filters[state][STARTS_WITH]=FAIL").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("supported operations are EQUALS, NOT_EQUALS, IN, NOT_IN"), "{body}");
    let (status, body) = search("filters[level][EQUALS]=INFO").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("not supported for resource EXECUTION"), "{body}");
    let (status, _) = search("filters[state][EQUALS]=DONE").await;
    assert_eq!(status, 400);

    // The latest execution of each flow asked for; one never run is left out.
    let latest: Value = app
        .client
        .post(app.url("/api/v1/main/executions/latest"))
        .json(&json!([{"namespace": "company.data", "id": "load"}, {"namespace": "company.data", "id": "never"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(latest.as_array().unwrap().len(), 1, "{latest}");
    assert_eq!(latest[0]["id"], a.as_str());
    assert_eq!(latest[0]["status"], "SUCCESS");
    // One flow's executions, Kestra's `GET /executions`.
    let (_, body) = get(&app, "/api/v1/main/executions?namespace=company.data.sub&flowId=load_daily").await;
    assert_eq!(ids(&body), sorted(vec![&b]));

    // Labels on several ended executions at once; a missing one refuses all.
    let labels = |ids: Vec<String>| json!({"executionsId": ids, "executionLabels": [{"key": "reviewed", "value": "yes"}]});
    let refused = app
        .client
        .post(app.url("/api/v1/main/executions/labels/by-ids"))
        .json(&labels(vec![a.to_string(), "nope".into()]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["invalids"][0]["invalidValue"], "nope");
    let done: Value = app
        .client
        .post(app.url("/api/v1/main/executions/labels/by-ids"))
        .json(&labels(vec![a.to_string(), b.to_string()]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["count"], 2);
    let (_, body) = search("filters[labels][EQUALS][reviewed]=yes").await;
    assert_eq!(ids(&body), sorted(vec![&a, &b]));
    app.stop().await;
}

#[tokio::test]
async fn logs_are_searched_across_executions_by_level_and_page() {
    let app = TestApp::spawn().await;
    let a = seed(&app, "company.data", "load", &[], Event::Succeed, Level::Info).await;
    let b = seed(&app, "company.data", "load", &[], Event::Fail, Level::Error).await;
    seed(&app, "other", "x", &[], Event::Succeed, Level::Warn).await;
    let (_, body) = get(&app, "/api/v1/main/logs/search?filters[namespace][EQUALS]=company.data&filters[level][EQUALS]=WARN").await;
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["type"], "OFFSET");
    let line = &body["results"][0];
    assert_eq!(line["executionId"], b.as_str());
    assert_eq!(line["namespace"], "company.data");
    assert_eq!(line["flowId"], "load");
    assert_eq!(line["level"], "ERROR");
    let (_, body) = get(&app, "/api/v1/logs/search?minLevel=INFO&size=2&page=1").await;
    assert_eq!(body["total"], 3);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let (_, body) = get(&app, "/api/v1/logs/search?minLevel=INFO&size=2&page=2").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let (_, body) = get(&app, &format!("/api/v1/logs/search?filters[executionId][EQUALS]={a}&filters[q][EQUALS]=says")).await;
    assert_eq!(body["total"], 1);
    let (status, _) = get(&app, "/api/v1/logs/search?filters[level][EQUALS]=LOUD").await;
    assert_eq!(status, 400);
    // Kestra's DELETE /logs/{executionId}.
    let deleted = app.client.delete(app.url(&format!("/api/v1/main/logs/{a}"))).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let (_, body) = get(&app, "/api/v1/logs/search?filters[namespace][PREFIX]=company").await;
    assert_eq!(body["total"], 1);
    app.stop().await;
}

fn flow(namespace: &str, id: &str, labels: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\n{labels}tasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
}

#[tokio::test]
async fn flows_are_searched_exported_imported_and_changed_in_bulk() {
    let app = TestApp::spawn().await;
    app.post_flow(&flow("company.team", "a", "labels:\n  team: data\n")).await;
    app.post_flow(&flow("company.team", "b", "")).await;
    app.post_flow(&flow("company.team.sub", "c", "labels:\n  team: ops\n")).await;
    let (_, body) = get(&app, "/api/v1/main/flows/search?filters[labels][EQUALS][team]=data").await;
    assert_eq!(ids(&body), ["a"]);
    assert_eq!(body["results"][0]["labels"], json!([{"key": "team", "value": "data"}]));
    let (_, body) = get(&app, "/api/v1/main/flows/search?filters[namespace][EQUALS]=company.team").await;
    assert_eq!(ids(&body), ["a", "b"]);
    let (_, body) = get(&app, "/api/v1/main/flows/search?filters[flowId][IN]=a,c&size=1").await;
    assert_eq!(body["total"], 2);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let (_, names) = get(&app, "/api/v1/main/flows/distinct-namespaces").await;
    assert_eq!(names, json!(["company.team", "company.team.sub"]));
    let (_, listed) = get(&app, "/api/v1/main/flows/company.team").await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // Export by a search and by ids, as zips of the sources.
    let zip = app
        .client
        .get(app.url("/api/v1/main/flows/export/by-query?filters[namespace][PREFIX]=company.team"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["company.team-a.yml", "company.team-b.yml", "company.team.sub-c.yml"]);
    let mut source = String::new();
    archive.by_name("company.team-a.yml").unwrap().read_to_string(&mut source).unwrap();
    assert_eq!(source, flow("company.team", "a", "labels:\n  team: data\n"));
    let by_ids = app
        .client
        .post(app.url("/api/v1/main/flows/export/by-ids"))
        .json(&json!([{"namespace": "company.team", "id": "b"}]))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(by_ids.to_vec())).unwrap();
    let names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(names, ["company.team.b.yml"]);

    // Delete two by ids, then import them back from the first zip: what is
    // wrong is named, the rest saved.
    let deleted: Value = app
        .client
        .delete(app.url("/api/v1/main/flows/delete/by-ids"))
        .json(&json!([{"namespace": "company.team", "id": "a"}, {"namespace": "company.team", "id": "b"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["count"], 2);
    let mut with_bad = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for name in ["company.team-a.yml", "company.team-b.yml"] {
        let mut text = String::new();
        zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec()))
            .unwrap()
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        with_bad.start_file(name, options).unwrap();
        with_bad.write_all(text.as_bytes()).unwrap();
    }
    with_bad.start_file("broken.yml", options).unwrap();
    with_bad.write_all(b"id: broken\nnamespace: company.team\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n").unwrap();
    let bytes = with_bad.finish().unwrap().into_inner();
    let import = |bytes: Vec<u8>, name: &'static str, query: &'static str| {
        let form = reqwest::multipart::Form::new()
            .part("fileUpload", reqwest::multipart::Part::bytes(bytes).file_name(name));
        app.client.post(app.url(&format!("/api/v1/main/flows/import{query}"))).multipart(form).send()
    };
    let refused = import(bytes.clone(), "flows.zip", "?failOnError=true").await.unwrap();
    assert_eq!(refused.status(), 400);
    let (_, body) = get(&app, "/api/v1/flows/search?filters[namespace][EQUALS]=company.team").await;
    assert_eq!(body["total"], 0, "failOnError saves nothing");
    let wrong: Value = import(bytes, "flows.zip", "").await.unwrap().json().await.unwrap();
    assert_eq!(wrong, json!(["broken.yml"]));
    let (_, body) = get(&app, "/api/v1/flows/search?filters[namespace][EQUALS]=company.team").await;
    assert_eq!(ids(&body), ["a", "b"]);
    // A multi-document YAML: the wrong ones by index.
    let yaml = format!("{}---\nid: bad\n---\n{}", flow("import.team", "x", ""), flow("import.team", "y", ""));
    let wrong: Value = import(yaml.into_bytes(), "flows.yml", "").await.unwrap().json().await.unwrap();
    assert_eq!(wrong, json!(["1"]));
    let (status, body) = {
        let form = reqwest::multipart::Form::new()
            .part("fileUpload", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("flows.txt"));
        let r = app.client.post(app.url("/api/v1/flows/import")).multipart(form).send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().contains(".zip"), "{body}");

    // Disable by a search, enable by ids: a new revision with `disabled`.
    let disabled: Value = app
        .client
        .post(app.url("/api/v1/main/flows/disable/by-query?filters[namespace][EQUALS]=import.team"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disabled["count"], 2);
    let (_, x) = get(&app, "/api/v1/flows/import.team/x").await;
    assert!(x["source"].as_str().unwrap().ends_with("disabled: true\n"), "{x}");
    let refused = app.client.post(app.url("/api/v1/executions/import.team/x")).send().await.unwrap();
    assert!(refused.status().is_client_error(), "a disabled flow does not start");
    let enabled: Value = app
        .client
        .post(app.url("/api/v1/flows/enable/by-ids"))
        .json(&json!([{"namespace": "import.team", "id": "x"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["count"], 1);
    let (_, x) = get(&app, "/api/v1/flows/import.team/x").await;
    assert_eq!(x["revision"], 3);
    let gone: Value = app
        .client
        .delete(app.url("/api/v1/flows/delete/by-query?filters[namespace][EQUALS]=import.team"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gone["count"], 2);
    app.stop().await;
}

#[tokio::test]
async fn triggers_are_searched_with_kestras_filters() {
    let app = TestApp::spawn().await;
    let with_trigger = |id: &str, disabled: bool| {
        format!(
            "id: {id}\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: daily\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n    disabled: {disabled}\n"
        )
    };
    app.post_flow(&with_trigger("on", false)).await;
    app.post_flow(&with_trigger("off", true)).await;
    let (_, body) = get(&app, "/api/v1/main/triggers/search?filters[triggerState][EQUALS]=DISABLED").await;
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["results"][0]["state"]["flowId"], "off");
    let (_, body) = get(&app, "/api/v1/main/triggers/search?filters[flowId][EQUALS]=on&filters[triggerId][EQUALS]=daily").await;
    assert_eq!(body["total"], 1);
    let (status, body) = get(&app, "/api/v1/triggers/search?filters[workerId][EQUALS]=w1").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("workerId"), "{body}");
    app.stop().await;
}
