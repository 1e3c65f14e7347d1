//! A page on another site cannot change anything through the user's
//! browser, a name that only resolves here gets nothing (DNS rebinding),
//! and pages carry the headers that keep them out of frames.

use serde_json::Value;

use super::support::TestApp;

const FLOW: &str =
    "id: planted\nnamespace: company.team\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n";

#[tokio::test]
async fn a_cross_site_request_changes_nothing() {
    let app = TestApp::spawn().await;
    let yaml = |origin: String| {
        app.client
            .post(app.url("/api/v1/flows"))
            .header("content-type", "application/x-yaml")
            .header("origin", origin)
            .body(FLOW)
    };
    let refused = yaml("http://evil.example".into()).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("another site"),
        "{body}"
    );
    // A form a hostile page posts to a server function (the browser says
    // where it comes from).
    let form = app
        .client
        .post(app.url("/rpc/save_flow_source"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(format!(
            "namespace=company.team&id=planted&source={}",
            FLOW.replace('\n', "%0A")
                .replace(' ', "+")
                .replace(':', "%3A")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    let execute = app
        .client
        .post(app.url("/api/v1/executions/company.team/planted"))
        .header("origin", "null")
        .send()
        .await
        .unwrap();
    assert_eq!(execute.status(), 403);
    assert_eq!(
        app.client
            .get(app.url("/api/v1/flows/company.team/planted"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "nothing was saved"
    );
    // The same from Mortar's own page, or from a client that is no browser.
    assert_eq!(yaml(app.url("")).send().await.unwrap().status(), 200);
    let from_cli = app
        .client
        .post(app.url("/api/v1/executions/company.team/planted?wait=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(from_cli.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_name_this_server_does_not_answer_to_gets_nothing() {
    let app = TestApp::spawn().await;
    let rebound = app
        .client
        .get(app.url("/api/v1/flows/search"))
        .header("host", "attacker.example:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
    assert!(rebound.text().await.unwrap().contains("--url"));
    for host in ["localhost:1234", "127.0.0.1"] {
        let fine = app
            .client
            .get(app.url("/api/v1/health"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(fine.status(), 200, "{host}");
    }
    let page = app.client.get(app.url("/flows")).send().await.unwrap();
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    app.stop().await;
}
