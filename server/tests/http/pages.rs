use super::support::TestApp;

#[tokio::test]
async fn flows_page_is_rendered_on_the_server_with_the_stored_flows() {
    let app = TestApp::spawn().await;
    let empty = app.client.get(app.url("/flows")).send().await.unwrap();
    assert_eq!(empty.status(), 200);
    let html = empty.text().await.unwrap();
    assert!(html.contains("No flows yet"), "the empty state is rendered");
    assert!(html.contains("/pkg/mortar.js"), "the hydration script is linked");
    assert!(html.contains("/pkg/mortar.css"));

    app.post_flow("id: nightly_load\nnamespace: company.data\ndescription: Loads <sales>\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n").await;
    let html = app.client.get(app.url("/flows")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("nightly_load"));
    assert!(html.contains("company.data"));
    assert!(html.contains("Loads &lt;sales&gt;"), "text is escaped");
    assert!(!html.contains("No flows yet"));

    let filtered = app.client.get(app.url("/flows?q=nothing-matches")).send().await.unwrap().text().await.unwrap();
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
    assert!(html.contains("Executions by state") && html.contains("Recent failures"), "{html}");

    let missing = app.client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
    app.stop().await;
}

#[tokio::test]
async fn blueprints_page_lists_the_shipped_blueprints() {
    let app = TestApp::spawn().await;
    let html = app.client.get(app.url("/blueprints")).send().await.unwrap().text().await.unwrap();
    for id in ["hello_world", "databricks_upload_query", "databricks_cluster_job", "databricks_dag", "nightly_schedule"] {
        assert!(html.contains(id), "{id} is listed");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_search_server_function_answers_over_http() {
    let app = TestApp::spawn().await;
    app.post_flow("id: hello\nnamespace: tutorial\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n").await;
    app.post_flow("id: other\nnamespace: company\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n").await;
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
    for (path, mime) in [("/pkg/mortar.css", "text/css"), ("/pkg/mortar.js", "text/javascript"), ("/pkg/mortar_bg.wasm", "application/wasm"), ("/favicon.svg", "image/svg+xml")] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}: run scripts/build-site.sh first");
        assert_eq!(response.headers()["content-type"], mime, "{path}");
        let etag = response.headers()["etag"].clone();
        let again = app.client.get(app.url(path)).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    app.stop().await;
}
