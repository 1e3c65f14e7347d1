//! The chat notifications through the executor, against a local HTTP
//! receiver on a free port: Slack's incoming webhook with a payload or a
//! message, the execution summaries of Slack, Teams, Discord and Google
//! Chat (this execution from its `errors`, another by its id), and a
//! refused post failing the task without showing the URL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::post;
use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::plan::Plan;
use engine::state::State;
use engine::task::Runners;
use serde_json::{Map, Value, json};

mod support;
use support::{Harness, harness};

type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A receiver that keeps what each path was sent; `/refuse` answers 500.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    async fn take(
        AxumState(received): AxumState<Received>,
        Path(path): Path<String>,
        body: String,
    ) -> StatusCode {
        if path == "refuse" {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
        received.lock().unwrap().push((path, json));
        StatusCode::OK
    }
    let app = Router::new()
        .route("/{path}", post(take))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

async fn run(h: &Harness, yaml: &str, inputs: Value) -> (State, ExecutionId) {
    let executor = Executor::new(
        h.services.clone(),
        Runners::core(),
        Arc::new(|_: &str| None),
    );
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let inputs: Map<String, Value> = inputs.as_object().cloned().unwrap_or_default();
    let id = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs,
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id;
    let state = tokio::time::timeout(Duration::from_secs(20), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    (state, id)
}

fn sent(received: &Received, path: &str) -> Value {
    received
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, body)| body.clone())
        .unwrap_or_else(|| panic!("nothing sent to /{path}: {:?}", received.lock().unwrap()))
}

#[tokio::test]
async fn slack_incoming_webhook_sends_a_payload_or_a_message() {
    let h = harness().await;
    let (url, received) = receiver().await;
    let yaml = format!(
        r#"
id: slack
namespace: company.team
tasks:
  - id: payload
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: {url}/payload
    payload: |
      {{
        "text": "Hello from the workflow {{{{ flow.id }}}}"
      }}
  - id: text
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: {url}/text
    messageText: "**Done**: see [the run](https://example.com/1)"
  - id: json
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: {url}/json
    messageText: '{{"blocks": []}}'
"#
    );
    let (state, _) = run(&h, &yaml, json!({})).await;
    assert_eq!(state, State::Success);
    assert_eq!(
        sent(&received, "payload"),
        json!({"text": "Hello from the workflow slack"})
    );
    assert_eq!(
        sent(&received, "text"),
        json!({"text": "*Done*: see <https://example.com/1|the run>"})
    );
    assert_eq!(sent(&received, "json"), json!({"blocks": []}));
}

#[tokio::test]
async fn execution_summaries_say_which_task_failed_and_a_refused_post_fails_without_the_url() {
    let h = harness().await;
    let (url, received) = receiver().await;
    // From `errors`: this execution, failed on `boom`.
    let yaml = format!(
        r##"
id: alerting
namespace: company.team
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: fine
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: slack
    type: io.kestra.plugin.slack.notifications.SlackExecution
    url: {url}/slack
    channel: "#alerts"
    customMessage: "Please look"
    customFields:
      team: data
  - id: teams
    type: io.kestra.plugin.microsoft365.teams.TeamsExecution
    url: {url}/teams
  - id: discord
    type: io.kestra.plugin.discord.DiscordExecution
    url: {url}/discord
    username: Mortar
  - id: chat
    type: io.kestra.plugin.notifications.google.GoogleChatExecution
    url: {url}/chat
"##
    );
    let (state, failed) = run(&h, &yaml, json!({})).await;
    assert_eq!(state, State::Failed);
    let slack = sent(&received, "slack");
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "*[company.team] alerting ➛ RUNNING*\n> Failed on task `boom` after 0:00:0"
        ),
        "{text}"
    );
    assert_eq!(slack["channel"], "#alerts");
    assert_eq!(slack["blocks"][0]["text"]["text"], "Please look");
    let fields = slack["attachments"][0]["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["title"] == name)
            .map(|f| f["value"].clone())
    };
    assert_eq!(field("Execution ID"), Some(json!(failed.as_str())));
    assert_eq!(field("team"), Some(json!("data")));
    assert_eq!(field("Final task ID"), Some(json!("boom")));
    assert_eq!(slack["attachments"][0]["color"], "danger");
    let teams = sent(&received, "teams");
    assert_eq!(teams["@type"], "MessageCard");
    assert!(
        teams["sections"][0]["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "Flow ID" && f["value"] == "alerting")
    );
    let discord = sent(&received, "discord");
    assert_eq!(discord["username"], "Mortar");
    assert!(
        discord["embeds"][0]["footer"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Failed on task `boom`")
    );
    let chat = sent(&received, "chat");
    assert!(
        chat["text"]
            .as_str()
            .unwrap()
            .starts_with("Kestra Google notification: Namespace company.team, Flow ID alerting")
    );

    // Another execution by its id, as a Flow trigger's flow names it.
    let report = format!(
        "id: report\nnamespace: company.team\ninputs:\n  - id: failed\n    type: STRING\ntasks:\n  - id: slack\n    type: io.kestra.plugin.slack.notifications.SlackExecution\n    url: {url}/report\n    executionId: \"{{{{ inputs.failed }}}}\"\n"
    );
    let (state, _) = run(&h, &report, json!({"failed": failed.as_str()})).await;
    assert_eq!(state, State::Success);
    let report = sent(&received, "report");
    assert!(
        report["text"]
            .as_str()
            .unwrap()
            .starts_with("*[company.team] alerting ➛ FAILED*\n> Failed on task `boom`"),
        "{report}"
    );

    // Refused: the task fails with the code, and the URL (a secret) is not shown.
    let refused = format!(
        "id: refused\nnamespace: company.team\ntasks:\n  - id: slack\n    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook\n    url: {url}/refuse\n    messageText: hi\n"
    );
    let (state, id) = run(&h, &refused, json!({})).await;
    assert_eq!(state, State::Failed);
    h.services.logs.flush().await;
    let lines: Vec<String> = h
        .store
        .logs(&id, Level::Trace, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("the webhook answered 500")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains("/refuse")), "{lines:?}");
}

/// What a local SMTP server received: the AUTH line, the envelope and
/// the message of each email.
type Mails = Arc<Mutex<Vec<String>>>;

/// A plain SMTP server on a free port that takes every email (enough of
/// RFC 5321 for a client: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT).
async fn smtp() -> (u16, Mails) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mails: Mails = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let kept = mails.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write
                    .write_all(b"220 localhost ESMTP test\r\n")
                    .await
                    .unwrap();
                let mut mail = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let answer: &[u8] = if upper.starts_with("EHLO") {
                        b"250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("AUTH") {
                        mail.push_str(&line);
                        mail.push('\n');
                        b"235 2.7.0 ok\r\n"
                    } else if upper.starts_with("MAIL") || upper.starts_with("RCPT") {
                        mail.push_str(&line);
                        mail.push('\n');
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        while let Ok(Some(data)) = lines.next_line().await {
                            if data == "." {
                                break;
                            }
                            mail.push_str(&data);
                            mail.push('\n');
                        }
                        kept.lock().unwrap().push(std::mem::take(&mut mail));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

#[tokio::test]
async fn mail_send_delivers_html_text_and_an_attachment_and_mail_execution_a_summary() {
    let h = harness().await;
    let (port, mails) = smtp().await;
    let yaml = format!(
        r##"
id: mailing
namespace: company.team
tasks:
  - id: report
    type: io.kestra.plugin.core.storage.Write
    content: "a,b\n1,2\n"
    extension: .csv
  - id: send
    type: io.kestra.plugin.email.MailSend
    host: 127.0.0.1
    port: {port}
    transportStrategy: SMTP
    username: resend
    password: s3cr3t
    from: alerts@company.com
    to: "data@company.com, ops@company.com"
    cc:
      - boss@company.com
    subject: "Report of {{{{ flow.id }}}}"
    htmlTextContent: "<b>Rows attached</b>"
    attachments:
      - name: report.csv
        uri: "{{{{ outputs.report.uri }}}}"
        contentType: text/csv
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: summary
    type: io.kestra.plugin.notifications.mail.MailExecution
    host: 127.0.0.1
    port: {port}
    transportStrategy: SMTP
    from: alerts@company.com
    to: ops@company.com
"##
    );
    let (state, id) = run(&h, &yaml, json!({})).await;
    assert_eq!(state, State::Failed);
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let first = &mails[0];
    assert!(first.contains("AUTH PLAIN"), "{first}");
    for recipient in [
        "<data@company.com>",
        "<ops@company.com>",
        "<boss@company.com>",
    ] {
        assert!(first.contains(&format!("RCPT TO:{recipient}")), "{first}");
    }
    assert!(first.contains("Subject: Report of mailing"), "{first}");
    assert!(first.contains("<b>Rows attached</b>"), "{first}");
    assert!(first.contains("filename=\"report.csv\""), "{first}");
    let summary = &mails[1];
    assert!(
        summary.contains("Subject: Kestra [company.team] mailing"),
        "{summary}"
    );
    assert!(summary.contains("Failed on task `boom`"), "{summary}");
    assert!(summary.contains(id.as_str()), "{summary}");

    // No server: the task fails and says where it tried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = format!(
        "id: nomail\nnamespace: company.team\ntasks:\n  - id: send\n    type: io.kestra.plugin.email.MailSend\n    host: 127.0.0.1\n    port: {closed}\n    transportStrategy: SMTP\n    from: a@b.c\n    to: d@e.f\n    subject: hi\n"
    );
    let (state, id) = run(&h, &refused, json!({})).await;
    assert_eq!(state, State::Failed);
    h.services.logs.flush().await;
    let lines: Vec<String> = h
        .store
        .logs(&id, Level::Trace, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("could not be sent through 127.0.0.1:{closed}"))),
        "{lines:?}"
    );
}

/// The case the *Execution tasks exist for: a flow started by a Flow
/// trigger when another flow fails, whose SlackExecution reports that
/// failed execution (`executionId: "{{ trigger.executionId }}"`), end to
/// end through the flow triggers' loop.
#[tokio::test]
async fn a_flow_trigger_on_failure_reports_the_failed_execution_to_slack() {
    let h = harness().await;
    let (url, received) = receiver().await;
    let failing = "id: nightly_load\nnamespace: company.data\ntasks:\n  - id: load\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: the source table is empty\n";
    let alert = format!(
        "id: failure_alert\nnamespace: company.ops\ntasks:\n  - id: slack\n    type: io.kestra.plugin.slack.notifications.SlackExecution\n    url: {url}/alerts\n    executionId: \"{{{{ trigger.executionId }}}}\"\ntriggers:\n  - id: on_failure\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [FAILED]\n      - type: io.kestra.plugin.core.condition.ExecutionNamespace\n        namespace: company.data\n        prefix: true\n"
    );
    support::save(&h.store, failing).await;
    support::save(&h.store, &alert).await;
    let executor = h.executor();
    let stop = tokio_util::sync::CancellationToken::new();
    let loop_task = engine::flow_triggers::spawn(h.store.clone(), executor.clone(), stop.clone());
    let plan = Arc::new(Plan::from_yaml(failing).unwrap());
    let failed = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Default::default(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id;
    assert_eq!(executor.wait(&failed).await.unwrap(), State::Failed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let post = loop {
        if let Some((_, body)) = received
            .lock()
            .unwrap()
            .iter()
            .find(|(path, _)| path == "alerts")
            .cloned()
        {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the alert flow posts to Slack"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let text = post.to_string();
    assert!(text.contains("nightly_load"), "{text}");
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains(failed.as_str()), "{text}");
    assert!(text.contains("load"), "the task it failed on: {text}");
    stop.cancel();
    loop_task.await.unwrap();
}
