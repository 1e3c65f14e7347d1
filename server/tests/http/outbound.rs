//! Where tasks may send requests: a `host` is scheme://host[:port] only,
//! other hosts than the default connection's are gated by
//! `--allowed-hosts`, and the default connection's token stays with its
//! own host.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::TestApp;

/// A local server with a secret at /internal/data.txt, counting the
/// connections it gets.
async fn secret_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let body = "the internal secret";
            let _ = socket
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
        }
    });
    (port, hits)
}

async fn run(app: &TestApp, flow: &str, inputs: Value) -> Value {
    let saved = app.post_flow(flow).await.status();
    if saved == 409 {
        let url = app.url("/api/v1/flows/company.team/outbound");
        let updated = app
            .client
            .put(url)
            .header("content-type", "application/x-yaml")
            .body(flow.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(updated.status(), 200, "{flow}");
    } else {
        assert_eq!(saved, 200, "{flow}");
    }
    let response = app
        .client
        .post(app.url("/api/v1/executions/company.team/outbound?wait=true"))
        .json(&inputs)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn log_text(app: &TestApp, id: &str) -> String {
    let logs: Value = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    logs.as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

const RENDERED_HOST: &str = "id: outbound\nnamespace: company.team\ninputs:\n  - id: host\n    type: STRING\n  - id: token\n    type: STRING\n    required: false\ntasks:\n  - id: fetch\n    type: io.kestra.plugin.databricks.dbfs.Download\n    host: \"{{ inputs.host }}\"\n    authentication:\n      token: \"{{ inputs.token ?? '' }}\"\n    from: /x\n";

#[tokio::test]
async fn a_host_with_a_path_is_refused_when_saved_and_when_rendered_and_nothing_is_sent() {
    let app = TestApp::spawn_with_emulator().await;
    let (port, hits) = secret_listener().await;
    let host = format!("http://127.0.0.1:{port}/internal/data.txt#");
    let expected = "`host`: use only scheme://host[:port], without the path \"/internal/data.txt\"";

    // A literal host: refused by validation and by the save.
    let literal = format!(
        "id: outbound\nnamespace: company.team\ntasks:\n  - id: fetch\n    type: io.kestra.plugin.databricks.dbfs.Download\n    host: \"{host}\"\n    authentication:\n      token: t\n    from: /x\n"
    );
    let checked = app
        .client
        .post(app.url("/api/v1/flows/validate"))
        .header("content-type", "application/x-yaml")
        .body(literal.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        checked.contains(&expected.replace('"', "\\\"")),
        "{checked}"
    );
    let saved = app.post_flow(&literal).await;
    assert_eq!(saved.status(), 422);
    assert!(
        saved
            .text()
            .await
            .unwrap()
            .contains(&expected.replace('"', "\\\""))
    );

    // A host rendered from an expression: the run fails with the same message.
    let ended = run(&app, RENDERED_HOST, json!({"host": host, "token": "t"})).await;
    assert_eq!(ended["state"]["current"], "FAILED", "{ended}");
    let logs = log_text(&app, ended["id"].as_str().unwrap()).await;
    assert!(logs.contains(expected), "{logs}");
    assert!(
        !logs.contains("the internal secret") && !ended.to_string().contains("the internal secret")
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the listener got a request");
    app.stop().await;
}

#[tokio::test]
async fn the_default_token_is_not_sent_to_another_host() {
    let app = TestApp::spawn_with_emulator().await;
    let (port, hits) = secret_listener().await;
    let ended = run(
        &app,
        RENDERED_HOST,
        json!({"host": format!("http://127.0.0.1:{port}")}),
    )
    .await;
    assert_eq!(ended["state"]["current"], "FAILED", "{ended}");
    let logs = log_text(&app, ended["id"].as_str().unwrap()).await;
    assert!(
        logs.contains("its credentials are not sent there: set `authentication.token`"),
        "{logs}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the listener got a request");
    app.stop().await;
}

const QUERY: &str = "id: outbound\nnamespace: company.team\ninputs:\n  - id: host\n    type: STRING\n  - id: token\n    type: STRING\ntasks:\n  - id: elsewhere\n    type: io.kestra.plugin.databricks.sql.Query\n    host: \"{{ inputs.host }}\"\n    authentication:\n      token: \"{{ inputs.token }}\"\n    sql: SELECT 1 AS ok\n    fetchType: FETCH_ONE\n  - id: default\n    type: io.kestra.plugin.databricks.sql.Query\n    sql: SELECT 2 AS ok\n    fetchType: FETCH_ONE\n";

#[tokio::test]
async fn allowed_hosts_gate_other_workspaces_but_never_the_default_one() {
    let other = emulator::Emulator::start(emulator::EmulatorConfig {
        time_scale: 0.001,
        ..Default::default()
    })
    .await
    .unwrap();
    let port = other
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let inputs = json!({"host": other.url(), "token": other.token()});

    let limits = |list: &str| server::config::LimitArgs {
        allowed_hosts: Some(engine::base_url::AllowedHosts::parse(list).unwrap()),
        ..Default::default()
    };
    let app =
        TestApp::spawn_with_emulator_and_limits(limits("example.com, *.cloud.databricks.com"))
            .await;
    // The task naming the other host is refused before it calls it.
    let ended = run(&app, QUERY, inputs.clone()).await;
    assert_eq!(ended["state"]["current"], "FAILED", "{ended}");
    let logs = log_text(&app, ended["id"].as_str().unwrap()).await;
    assert!(
        logs.contains("host 127.0.0.1 is not in --allowed-hosts (example.com, *.cloud.databricks.com); add it to reach it"),
        "{logs}"
    );
    let just_default = "id: outbound\nnamespace: company.team\ntasks:\n  - id: default\n    type: io.kestra.plugin.databricks.sql.Query\n    sql: SELECT 2 AS ok\n    fetchType: FETCH_ONE\n";
    let ended = run(&app, just_default, json!({})).await;
    assert_eq!(
        ended["state"]["current"], "SUCCESS",
        "the default connection is always allowed: {ended}"
    );
    app.stop().await;

    let app = TestApp::spawn_with_emulator_and_limits(limits(&format!("127.0.0.1:{port}"))).await;
    let ended = run(&app, QUERY, inputs).await;
    assert_eq!(ended["state"]["current"], "SUCCESS", "{ended}");
    app.stop().await;
}
