//! What one flow cannot do to the server: a template that loops for ever
//! fails its task at the step limit, on a blocking thread, while the
//! server keeps answering.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::support::TestApp;

const BOMB: &str = "id: bomb\nnamespace: company.team\ntasks:\n  - id: spin\n    type: log.Log\n    message: \"{% for i in range(0, 100000) %}{% for j in range(0, 100000) %}{% endfor %}{% endfor %}\"\n";

async fn start(app: &TestApp) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/executions/company.team/bomb"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn execution(app: &TestApp, id: &str) -> Value {
    app.client
        .get(app.url(&format!("/api/v1/executions/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn until_ended(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let body = execution(app, id).await;
        if ["SUCCESS", "WARNING", "FAILED", "KILLED"]
            .contains(&body["state"]["current"].as_str().unwrap())
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "execution {id} did not end: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn logs(app: &TestApp, id: &str) -> String {
    app.client
        .get(app.url(&format!("/api/v1/logs/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_template_bomb_fails_its_task_at_the_configured_step_limit() {
    let limits = server::config::LimitArgs {
        max_template_steps: 300_000,
        ..Default::default()
    };
    let app = TestApp::spawn_with_limits(limits).await;
    assert_eq!(app.post_flow(BOMB).await.status(), 200);
    let id = start(&app).await;
    let ended = until_ended(&app, &id).await;
    assert_eq!(ended["state"]["current"], "FAILED");
    let logs = logs(&app, &id).await;
    assert!(logs.contains("steps limit of 300000"), "{logs}");
    assert!(logs.contains("--max-template-steps"), "{logs}");
    app.stop().await;
}

/// The test runtime has one thread: if a render held it, the health
/// check would wait for every bomb in turn.
#[tokio::test]
async fn the_server_answers_while_templates_spin() {
    let limits = server::config::LimitArgs {
        max_template_steps: 50_000_000,
        ..Default::default()
    };
    let app = TestApp::spawn_with_limits(limits).await;
    assert_eq!(app.post_flow(BOMB).await.status(), 200);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(start(&app).await);
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let asked = Instant::now();
        let status = app
            .client
            .get(app.url("/api/v1/health"))
            .send()
            .await
            .unwrap()
            .status();
        slowest = slowest.max(asked.elapsed());
        assert!(status.is_success());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The check means something only if the bombs were still rendering.
    let still_running = execution(&app, &ids[2]).await["state"]["current"] == "RUNNING";
    assert!(
        still_running,
        "the bombs ended before the health checks: raise the step limit of this test"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "a health check took {slowest:?} while templates rendered"
    );
    for id in &ids {
        assert_eq!(until_ended(&app, id).await["state"]["current"], "FAILED");
    }
    app.stop().await;
}

/// Slowloris: connections that never finish their request head, or send
/// nothing, are closed at `--header-timeout`, and the server answers
/// others meanwhile.
#[tokio::test]
async fn slow_and_idle_connections_are_closed_at_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = server::config::LimitArgs {
        header_timeout: 1,
        ..Default::default()
    };
    let app = TestApp::spawn_with_limits(limits).await;
    let address = app.url.trim_start_matches("http://").to_owned();
    let mut open = Vec::new();
    for i in 0..200 {
        let mut tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
        if i % 2 == 0 {
            tcp.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await
                .unwrap();
        }
        open.push(tcp);
    }
    // A keep-alive connection left idle after a whole request.
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    open.push(idle);
    assert!(
        app.client
            .get(app.url("/api/v1/health"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    for mut tcp in open {
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "a connection stayed open past the header timeout"
        );
    }
    app.stop().await;
}

/// A server function called with a missing field or too big a body is
/// the client's mistake: 400 and 413, with Leptos's error body.
#[tokio::test]
async fn server_functions_answer_4xx_for_a_clients_mistake() {
    let app = TestApp::spawn().await;
    let form = |body: &'static str| {
        app.client
            .post(app.url("/rpc/get_flow_source"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let missing = form("namespace=company.team").send().await.unwrap();
    assert_eq!(missing.status(), 400);
    assert!(missing.text().await.unwrap().contains("missing field `id`"));
    let big = app
        .client
        .post(app.url("/rpc/save_flow_source"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 50 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    // A well-formed call still answers 200.
    assert_eq!(
        form("namespace=company.team&id=nothing")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

/// On the embedded emulator, one flow's endless SQL statement holds up no
/// other flow's SQL, and a kill stops it on the warehouse too.
#[tokio::test]
async fn a_long_statement_blocks_no_other_flows_sql_and_a_kill_stops_it() {
    let app = TestApp::spawn_with_emulator().await;
    let long = "id: long\nnamespace: company.team\ntasks:\n  - id: spin\n    type: io.kestra.plugin.databricks.sql.Query\n    sql: \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c\"\n    fetchType: FETCH_ONE\n";
    let quick = "id: quick\nnamespace: company.team\ntasks:\n  - id: one\n    type: io.kestra.plugin.databricks.sql.Query\n    sql: SELECT 1 AS one\n    fetchType: FETCH_ONE\n";
    assert_eq!(app.post_flow(long).await.status(), 200);
    assert_eq!(app.post_flow(quick).await.status(), 200);
    let started: Value = app
        .client
        .post(app.url("/api/v1/executions/company.team/long"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let long_id = started["id"].as_str().unwrap().to_owned();
    // Until the statement is under way on the warehouse.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = execution(&app, &long_id).await;
        let running = body["taskRunList"].as_array().is_some_and(|runs| {
            runs.iter()
                .any(|r| r["taskId"] == "spin" && r["state"]["current"] == "RUNNING")
        });
        if running {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the long statement never started: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Submitted and spinning on the warehouse.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for _ in 0..2 {
        let asked = Instant::now();
        let body: Value = app
            .client
            .post(app.url("/api/v1/executions/company.team/quick?wait=true"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["state"]["current"], "SUCCESS", "{body}");
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "SELECT 1 took {:?} beside the long statement",
            asked.elapsed()
        );
        assert_eq!(
            execution(&app, &long_id).await["state"]["current"],
            "RUNNING"
        );
    }
    let killed = app
        .client
        .delete(app.url(&format!("/api/v1/executions/{long_id}/kill")))
        .send()
        .await
        .unwrap();
    assert!(killed.status().is_success(), "{}", killed.status());
    assert_eq!(
        until_ended(&app, &long_id).await["state"]["current"],
        "KILLED"
    );
    let after: Value = app
        .client
        .post(app.url("/api/v1/executions/company.team/quick?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["state"]["current"], "SUCCESS", "{after}");
    app.stop().await;
}
