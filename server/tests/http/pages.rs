use super::support::TestApp;

#[tokio::test]
async fn flows_page_is_rendered_on_the_server_with_the_stored_flows() {
    let app = TestApp::spawn().await;
    let empty = app.client.get(app.url("/flows")).send().await.unwrap();
    assert_eq!(empty.status(), 200);
    let html = empty.text().await.unwrap();
    assert!(html.contains("No flows yet"), "the empty state is rendered");
    assert!(
        html.contains("/pkg/mortar.js"),
        "the hydration script is linked"
    );
    assert!(html.contains("/pkg/mortar.css"));

    app.post_flow("id: nightly_load\nnamespace: company.data\ndescription: Loads <sales>\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n").await;
    let html = app
        .client
        .get(app.url("/flows"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("nightly_load"));
    assert!(html.contains("company.data"));
    assert!(html.contains("Loads &lt;sales&gt;"), "text is escaped");
    assert!(!html.contains("No flows yet"));

    let filtered = app
        .client
        .get(app.url("/flows?q=nothing-matches"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(filtered.contains("No flow matches"));
    assert!(!filtered.contains("nightly_load</td>"));
    app.stop().await;
}

#[tokio::test]
async fn the_root_is_the_dashboard_and_an_unknown_page_is_404() {
    let app = TestApp::spawn().await;
    let root = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 200);
    let html = root.text().await.unwrap();
    assert!(
        html.contains("Executions by state") && html.contains("Recent failures"),
        "{html}"
    );

    let missing = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
    app.stop().await;
}

#[tokio::test]
async fn blueprints_page_lists_the_shipped_blueprints() {
    let app = TestApp::spawn().await;
    let html = app
        .client
        .get(app.url("/blueprints"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for id in [
        "hello_world",
        "databricks_upload_query",
        "databricks_cluster_job",
        "databricks_dag",
        "nightly_schedule",
    ] {
        assert!(html.contains(id), "{id} is listed");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_search_server_function_answers_over_http() {
    let app = TestApp::spawn().await;
    app.post_flow(
        "id: hello\nnamespace: tutorial\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n",
    )
    .await;
    app.post_flow(
        "id: other\nnamespace: company\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n",
    )
    .await;
    let response = app
        .client
        .post(app.url("/rpc/search_flows"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=tutor")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let rows: serde_json::Value = response.json().await.unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["id"], "hello");
    app.stop().await;
}

#[tokio::test]
async fn site_assets_are_served_with_their_type_and_an_etag() {
    let app = TestApp::spawn().await;
    for (path, mime) in [
        ("/pkg/mortar.css", "text/css"),
        ("/pkg/mortar.js", "text/javascript"),
        ("/pkg/mortar_bg.wasm", "application/wasm"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "{path}: run scripts/build-site.sh first"
        );
        assert_eq!(response.headers()["content-type"], mime, "{path}");
        let etag = response.headers()["etag"].clone();
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    app.stop().await;
}

/// An execution of 3,000 task runs: its page holds one page of them (with
/// the way to the others), and a refresh that knows the digest gets no
/// task runs back until one changes.
#[tokio::test]
async fn an_execution_page_holds_one_page_of_task_runs_and_refreshes_by_difference() {
    let app = TestApp::spawn().await;
    let flow = "id: many\nnamespace: company.team\ntasks:\n  - id: each\n    type: flow.ForEach\n    values: \"{{ range(1, 2999) }}\"\n    concurrencyLimit: 0\n    tasks:\n      - id: step\n        type: debug.Return\n        format: \"{{ taskrun.value }}\"\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let started = app
        .client
        .post(app.url("/api/v1/executions/company.team/many?wait=true"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = started.json().await.unwrap();
    assert_eq!(body["state"]["current"], "SUCCESS");
    let id = body["id"].as_str().unwrap().to_owned();

    let page = app
        .client
        .get(app.url(&format!("/executions/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Task runs 1–200 of 3000"),
        "no pager on the page"
    );
    let rows = page.matches("<tr data-task=").count();
    assert_eq!(rows, 200, "the page holds one page of task runs");
    assert!(page.len() < 2_000_000, "the page is {} bytes", page.len());

    let view = |body: String| {
        let client = app.client.clone();
        let url = app.url("/rpc/execution_view");
        async move {
            let answer = client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let first = view(format!("id={id}&offset=2900")).await;
    assert_eq!(
        first["offset"], 2800,
        "a page starts at a multiple of the page size"
    );
    assert_eq!(first["task_run_count"], 3000);
    assert_eq!(first["task_runs"].as_array().unwrap().len(), 200);
    assert_eq!(
        first["task_states"],
        serde_json::json!([["each", "SUCCESS"], ["step", "SUCCESS"]])
    );
    let digest = first["digest"].as_str().unwrap().to_owned();
    let again = view(format!("id={id}&offset=2800&known={}", urlencode(&digest))).await;
    assert_eq!(again["unchanged"], true);
    assert!(again["task_runs"].as_array().unwrap().is_empty());
    // Another page is another digest.
    let other = view(format!("id={id}&offset=0&known={}", urlencode(&digest))).await;
    assert_eq!(other["unchanged"], false);
    assert_eq!(other["task_runs"][0]["task_id"], "each");
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn the_nodes_page_shows_each_node_its_roles_its_state_and_what_it_runs_to_admins_only() {
    let app = TestApp::spawn().await;
    let store = &app.state.store;
    for (id, roles) in [
        ("node-web-1", "web"),
        ("node-exec-1", "executor"),
        ("node-gone-1", "executor,scheduler"),
    ] {
        let node = engine::store::NewNode {
            id: id.into(),
            roles: roles.split(',').map(str::to_owned).collect(),
            host: "host-a".into(),
            pid: 4242,
            version: "0.1.0".into(),
        };
        store.register_node(&node).await.unwrap();
    }
    store.stop_node("node-gone-1").await.unwrap();
    app.post_flow(
        "id: hello\nnamespace: tutorial\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n",
    )
    .await;
    let execution = engine::store::NewExecution {
        id: engine::ids::ExecutionId::generate(),
        namespace: engine::ids::Namespace::new("tutorial"),
        flow_id: engine::ids::FlowId::new("hello"),
        flow_revision: 1,
        inputs: serde_json::json!({}),
        labels: Default::default(),
        trigger_vars: None,
        original_id: None,
    };
    store
        .create_owned_execution(&execution, true, &Default::default(), Some("node-exec-1"))
        .await
        .unwrap();

    let html = app
        .client
        .get(app.url("/nodes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = |id: &str| {
        html.split("<tr")
            .find(|row| row.contains(id))
            .unwrap_or_else(|| panic!("no row for {id}: {html}"))
            .to_owned()
    };
    let exec = row("node-exec-1");
    assert!(
        exec.contains("executor") && exec.contains("alive") && exec.contains("host-a (4242)"),
        "{exec}"
    );
    assert!(
        exec.contains(&format!("/executions/{}", execution.id)),
        "what it runs is linked: {exec}"
    );
    assert!(row("node-gone-1").contains("stopped"));
    assert!(row("node-web-1").contains(">web<"));
    assert!(
        html.contains(r#"href="/nodes""#),
        "admins have the link in the header"
    );

    // The API says the same.
    let nodes: serde_json::Value = app
        .client
        .get(app.url("/api/v1/cluster/nodes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let exec = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "node-exec-1")
        .unwrap();
    assert_eq!(
        (exec["alive"].as_bool(), exec["running"].as_i64()),
        (Some(true), Some(1))
    );
    assert_eq!(exec["executions"][0], execution.id.as_str());

    // Not for an editor: no rows, the role named; the API refuses.
    let editor = app.client_as("eddie", "editor").await;
    let html = editor
        .get(app.url("/nodes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("node-exec-1") && html.contains("admin"),
        "{html}"
    );
    assert_eq!(
        editor
            .get(app.url("/api/v1/cluster/nodes"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    app.stop().await;
}
