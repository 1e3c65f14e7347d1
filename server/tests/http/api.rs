use serde_json::Value;

use super::support::TestApp;

#[tokio::test]
async fn health_reports_the_version_and_the_store() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "UP");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["store"]["status"], "UP");
    assert!(body["store"]["schemaVersion"].as_i64().unwrap() >= 1);
    app.stop().await;
}

#[tokio::test]
async fn a_posted_flow_can_be_read_back_and_searched() {
    let app = TestApp::spawn().await;
    let yaml = "id: hello\nnamespace: company.team\ndescription: Says hello\nlabels:\n  team: data\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n";
    let response = app.post_flow(yaml).await;
    assert_eq!(response.status(), 200);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["id"], "hello");
    assert_eq!(created["namespace"], "company.team");
    assert_eq!(created["revision"], 1);
    // Kestra's list of `{key, value}`, as its clients read labels.
    assert_eq!(created["labels"], serde_json::json!([{"key": "team", "value": "data"}]));

    let read: Value = app
        .client
        .get(app.url("/api/v1/flows/company.team/hello"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["source"], yaml);
    assert_eq!(read["description"], "Says hello");

    let found: Value = app
        .client
        .get(app.url("/api/v1/flows/search?q=company"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(found["results"][0]["id"], "hello");
    let none: Value = app
        .client
        .get(app.url("/api/v1/flows/search?q=zzz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["total"], 0);
    app.stop().await;
}

#[tokio::test]
async fn posting_an_existing_flow_is_a_conflict_that_names_the_fix() {
    let app = TestApp::spawn().await;
    let yaml = "id: hello\nnamespace: a\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n";
    assert_eq!(app.post_flow(yaml).await.status(), 200);
    let again = app.post_flow(yaml).await;
    assert_eq!(again.status(), 409);
    let body: Value = again.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("PUT /api/v1/flows/a/hello"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_flow_without_an_id_is_refused_with_the_problem() {
    let app = TestApp::spawn().await;
    let response = app
        .post_flow("namespace: a\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n")
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`id`"),
        "{body}"
    );
    let search: Value = app
        .client
        .get(app.url("/api/v1/flows/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 0, "nothing was stored");
    app.stop().await;
}

#[tokio::test]
async fn a_flow_sent_as_json_is_refused_with_the_right_content_type() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/api/v1/flows"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("application/x-yaml")
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_flow_is_404() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/flows/a/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "flow a.missing does not exist");
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_with_its_shapes() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/health", "get"),
        ("/api/v1/flows", "post"),
        ("/api/v1/flows/search", "get"),
        ("/api/v1/flows/{namespace}/{id}", "put"),
        ("/api/v1/flows/{namespace}/{id}/revisions", "get"),
        ("/api/v1/executions/{namespace}/{flowId}", "post"),
        ("/api/v1/executions/{id}", "get"),
        ("/api/v1/executions/search", "get"),
        ("/api/v1/executions/{id}/kill", "delete"),
        ("/api/v1/executions/{id}/restart", "post"),
        ("/api/v1/executions/{id}/replay", "post"),
        ("/api/v1/executions/{id}/file", "get"),
        ("/api/v1/logs/{executionId}", "get"),
        ("/api/v1/logs/{executionId}/follow", "get"),
        ("/api/v1/logs/{executionId}/download", "get"),
        ("/api/v1/metrics/{executionId}", "get"),
        (
            "/api/v1/metrics/aggregates/{namespace}/{flowId}/{metric}",
            "get",
        ),
        ("/api/v1/blueprints", "get"),
        ("/api/v1/blueprints/{id}", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is missing"
        );
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in [
        "ExecutionJson",
        "TaskRunJson",
        "FlowJson",
        "LogJson",
        "ErrorJson",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is missing");
    }
    assert!(
        schemas["ExecutionJson"]["properties"]
            .get("taskRunList")
            .is_some()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_flow_is_422_with_every_problem_and_its_position() {
    let app = TestApp::spawn().await;
    let response = app.post_flow("id: bad\nnamespace: t\ntasks:\n  - id: a\n    type: log.Lgo\n    message: hi\n  - id: b\n    type: log.Log\n    mesage: x\n").await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let violations = body["violations"].as_array().unwrap();
    assert!(violations.len() >= 2, "{body}");
    assert!(
        violations.iter().any(|v| v["line"] == 5
            && v["message"]
                .as_str()
                .unwrap()
                .contains("did you mean log.Log")),
        "{body}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v["line"] == 9 && v["message"].as_str().unwrap().contains("`message`")),
        "{body}"
    );
    let search: Value = app
        .client
        .get(app.url("/api/v1/flows/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 0, "nothing was stored");
    app.stop().await;
}

#[tokio::test]
async fn validate_checks_several_flows_without_saving_and_plugins_lists_the_types() {
    let app = TestApp::spawn().await;
    let body = "id: good\nnamespace: t\ntasks:\n  - id: a\n    type: log.Log\n    message: hi\n---\nid: bad\nnamespace: t\ntasks:\n  - id: a\n    type: log.Log\n";
    let response = app
        .client
        .post(app.url("/api/v1/flows/validate"))
        .header("content-type", "application/x-yaml")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let verdicts: Value = response.json().await.unwrap();
    assert_eq!(verdicts[0]["valid"], true, "{verdicts}");
    assert_eq!(verdicts[0]["flow"], "good");
    assert_eq!(verdicts[1]["valid"], false);
    assert_eq!(verdicts[1]["flow"], "bad");
    // Positions count from the top of the whole body.
    assert!(
        verdicts[1]["violations"][0]["line"].as_u64().unwrap() >= 8,
        "{verdicts}"
    );
    assert!(
        verdicts[1]["constraints"]
            .as_str()
            .unwrap()
            .contains("message")
    );
    let search: Value = app
        .client
        .get(app.url("/api/v1/flows/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 0);

    let plugins: Value = app
        .client
        .get(app.url("/api/v1/plugins"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "io.kestra.plugin.core.log.Log",
        "io.kestra.plugin.databricks.cluster.CreateCluster",
        "io.kestra.plugin.databricks.sql.Query",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    // What expressions can use, from the declarations that render them.
    let expressions: Value = app
        .client
        .get(app.url("/api/v1/plugins/expressions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let named = |group: &str, name: &str| {
        expressions[group]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .cloned()
    };
    let secret = named("functions", "secret").expect("secret() is listed");
    assert_eq!(secret["params"][0]["name"], "key");
    assert_eq!(secret["params"][0]["required"], true);
    assert!(
        named("filters", "dateAdd").unwrap()["doc"]
            .as_str()
            .unwrap()
            .contains("date")
    );
    assert!(named("tests", "defined").is_some());
    assert!(named("variables", "envs").is_some());
    assert!(named("functions", "upper").is_none(), "upper is a filter");
    app.stop().await;
}

#[tokio::test]
async fn blueprints_are_a_catalogue_with_sources_and_not_stored_flows() {
    let app = TestApp::spawn().await;
    let list: Value = app
        .client
        .get(app.url("/api/v1/blueprints"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|b| b["id"].as_str().unwrap()).collect();
    for shared in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/flows"))
        .into_iter()
        .flatten()
    {
        let source = std::fs::read_to_string(shared.unwrap().path()).unwrap();
        let id = source
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .unwrap()
            .trim();
        assert!(ids.contains(&id), "{id} is in the catalogue: {ids:?}");
    }
    let upload = list
        .iter()
        .find(|b| b["id"] == "databricks_upload_query")
        .unwrap();
    assert!(
        upload["source"]
            .as_str()
            .unwrap()
            .contains("databricks.sql.Query")
            || upload["taskTypes"].to_string().contains("sql.Query"),
        "{upload}"
    );
    let one = app
        .client
        .get(app.url("/api/v1/blueprints/hello_world"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    assert!(
        one["source"]
            .as_str()
            .unwrap()
            .starts_with("id: hello_world")
            || one["source"].as_str().unwrap().contains("id: hello_world")
    );
    let missing = app
        .client
        .get(app.url("/api/v1/blueprints/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("GET /api/v1/blueprints"),
        "{body}"
    );
    // A catalogue, not flows: a fresh server stores none.
    let flows: Value = app
        .client
        .get(app.url("/api/v1/flows/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(flows["total"], 0, "{flows}");
    app.stop().await;
}

/// Kestra's clients call `/api/v1/main/…`: every route answers there too;
/// another tenant, or an unknown path, is Kestra's JSON 404 naming the
/// tenants; the OpenAPI document lists the tenant paths.
#[tokio::test]
async fn tenant_paths_answer_like_the_plain_ones_and_unknown_paths_are_json_404() {
    let app = TestApp::spawn().await;
    let created = app
        .client
        .post(app.url("/api/v1/main/flows"))
        .header("content-type", "application/x-yaml")
        .body("id: t\nnamespace: company.team\ntasks:\n  - id: a\n    type: debug.Return\n    format: x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
    let plain: Value = app
        .client
        .get(app.url("/api/v1/flows/company.team/t"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant: Value = app
        .client
        .get(app.url("/api/v1/main/flows/company.team/t"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plain, tenant);
    let search: Value = app
        .client
        .get(app.url("/api/v1/main/flows/search?q=company"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 1, "{search}");
    let run: Value = app
        .client
        .post(app.url("/api/v1/main/executions/company.team/t?wait=true"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["state"]["current"], "SUCCESS", "{run}");
    let id = run["id"].as_str().unwrap();
    let logs = app
        .client
        .get(app.url(&format!("/api/v1/main/logs/{id}/download")))
        .send()
        .await
        .unwrap();
    assert_eq!(logs.status(), 200);
    // Compressed, as Python's requests asks for it: the stream ends cleanly.
    let gzip = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}/download")))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert!(
        !gzip
            .bytes()
            .await
            .expect("the whole compressed body")
            .is_empty()
    );

    for path in ["/api/v1/acme/flows/search", "/api/v1/no/such/path"] {
        let answer = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        let body: Value = answer.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("the tenants are: main"),
            "{body}"
        );
    }
    // Pages are not API paths: an unknown page is still the HTML 404.
    let page = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let doc: Value = app
        .client
        .get(app.url("/api/v1/main/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths.contains_key("/api/v1/flows/search")
            && paths.contains_key("/api/v1/{tenant}/flows/search")
    );
    let parameters = doc["paths"]["/api/v1/{tenant}/flows/{namespace}/{id}"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert_eq!(parameters[0]["name"], "tenant");
    app.stop().await;
}

/// Kestra's `POST /flows/{namespace}`: a flow of another namespace or an
/// invalid one refuses the whole body, and nothing is saved.
#[tokio::test]
async fn a_namespace_deploy_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let post = |body: String| {
        app.client
            .post(app.url("/api/v1/flows/deploy.team"))
            .header("content-type", "application/x-yaml")
            .body(body)
            .send()
    };
    let good =
        "id: good\nnamespace: deploy.team\ntasks:\n  - id: a\n    type: log.Log\n    message: hi\n";
    let elsewhere = good
        .replace("id: good", "id: stray")
        .replace("deploy.team", "other.team");
    let answer = post(format!("{good}---\n{elsewhere}")).await.unwrap();
    assert_eq!(answer.status(), 422);
    assert!(answer.text().await.unwrap().contains("flow 2 of the body (stray) is in the namespace other.team, not deploy.team; nothing was saved"));
    let invalid = good
        .replace("id: good", "id: broken")
        .replace("log.Log", "log.Lgo");
    let answer = post(format!("{good}---\n{invalid}")).await.unwrap();
    assert_eq!(answer.status(), 422);
    assert_eq!(
        app.client
            .get(app.url("/api/v1/flows/deploy.team/good"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "nothing was saved"
    );
    let answer = post(good.to_owned()).await.unwrap();
    assert_eq!(answer.status(), 200);
    let saved: Value = answer.json().await.unwrap();
    assert_eq!(saved[0]["id"], "good");
    assert_eq!(saved[0]["revision"], 1);
    app.stop().await;
}
