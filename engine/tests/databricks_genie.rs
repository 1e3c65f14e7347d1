//! Genie against the emulator: a question answered with its SQL and rows,
//! a follow-up in the same conversation, the answer posted to Slack (a
//! local receiver), and a failing question failing the task with Genie's
//! words.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;
use engine::state::State;
use serde_json::{Value, json};

mod support;

use support::databricks::{outputs, world};

async fn slack() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::String(body)));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn a_genie_answer_and_its_follow_up_are_posted_to_slack() {
    let w = world(0.001).await;
    let (hook, got) = slack().await;
    let flow = format!(
        r#"id: genie_to_slack
namespace: company.data
tasks:
  - id: ask_question
    type: io.kestra.plugin.databricks.genie.AskQuestion
    spaceId: 01f0mortarsamplespace00
    question: What was total revenue by region last quarter?
    timeout: PT2M
  - id: follow_up
    type: io.kestra.plugin.databricks.genie.Continue
    spaceId: 01f0mortarsamplespace00
    conversationId: "{{{{ outputs.ask_question.conversationId }}}}"
    question: Now break that down by month.
  - id: post
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{hook}"
    messageText: "{{{{ outputs.ask_question.text }}}} Top: {{{{ outputs.ask_question.result[0].region }}}} with {{{{ outputs.ask_question.result[0].revenue }}}}."
"#
    );
    let (state, runs, id) = w.run(&flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    let asked = outputs(&runs, "ask_question");
    assert!(asked["query"].as_str().unwrap().contains("GROUP BY region"), "{asked}");
    assert_eq!(asked["result"][0], json!({"region": "AMER", "revenue": "312.25"}));
    assert_eq!(asked["result"].as_array().unwrap().len(), 3);
    let follow = outputs(&runs, "follow_up");
    assert_eq!(follow["conversationId"], asked["conversationId"]);
    assert_ne!(follow["messageId"], asked["messageId"]);
    assert_eq!(follow["result"][0]["month"], "2024-01");
    let posted = got.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0]["text"],
        "Total revenue by region, from the sales data set. Top: AMER with 312.25."
    );

    let failing = r#"id: genie_fails
namespace: company.data
tasks:
  - id: ask
    type: io.kestra.plugin.databricks.genie.AskQuestion
    spaceId: 01f0mortarsamplespace00
    question: "emulator_fail: what now?"
  - id: text_only
    type: io.kestra.plugin.databricks.genie.AskQuestion
    spaceId: 01f0mortarsamplespace00
    question: Tell me a joke
"#;
    let (state, runs, id) = w.run(failing, json!({})).await;
    assert_eq!(state, State::Failed);
    let logs = w.logs(&id).await.join("\n");
    assert!(logs.contains("Genie message FAILED: The question could not be answered (emulator_fail)."), "{logs}");
    assert!(runs.iter().all(|r| r.task_id.as_str() != "text_only"));
    let (state, runs, _) = w
        .run("id: genie_text\nnamespace: company.data\ntasks:\n  - id: t\n    type: io.kestra.plugin.databricks.genie.AskQuestion\n    spaceId: 01f0mortarsamplespace00\n    question: Tell me a joke\n  - id: few\n    type: io.kestra.plugin.databricks.genie.AskQuestion\n    spaceId: 01f0mortarsamplespace00\n    question: trips by zip\n    maxRows: 2\n", json!({}))
        .await;
    assert_eq!(state, State::Failed);
    let text = outputs(&runs, "t");
    assert!(text["text"].as_str().unwrap().starts_with("I can answer questions about"));
    assert!(text["query"].is_null() && text["result"].is_null());
}
