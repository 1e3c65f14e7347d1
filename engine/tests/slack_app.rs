//! Kestra's Slack App tasks through the executor, against a fake Slack Web
//! API on a free port (the tasks' `baseUrl`): a post and a reply in its
//! thread, a channel created, users invited, its topic set, its history
//! exported page by page, a reaction and a canvas; and Slack's
//! `ok: false` failing the task with its error code, the token shown
//! nowhere.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use axum::routing::post;
use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::plan::Plan;
use engine::state::State;
use engine::store::TaskRunRecord;
use engine::task::Runners;
use serde_json::{Map, Value, json};

mod support;
use support::{Harness, harness};

const TOKEN: &str = "xoxb-1234-not-to-be-seen";

/// Each call: the method, the Authorization header, the arguments.
type Calls = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A fake of Slack's Web API at `/api/{method}`: JSON or form arguments,
/// answers as Slack's, `invalid_auth` for another token and
/// `channel_not_found` for channel `C_MISSING`.
async fn fake_slack() -> (String, Calls) {
    let calls: Calls = Arc::default();
    async fn answer(
        AxumState(calls): AxumState<Calls>,
        Path(method): Path<String>,
        headers: HeaderMap,
        body: String,
    ) -> axum::Json<Value> {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let form = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        let args: Value = if form {
            Value::Object(
                url::form_urlencoded::parse(body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            )
        } else {
            serde_json::from_str(&body).unwrap_or(Value::Null)
        };
        calls
            .lock()
            .unwrap()
            .push((method.clone(), auth.clone(), args.clone()));
        if auth != format!("Bearer {TOKEN}") {
            return axum::Json(json!({"ok": false, "error": "invalid_auth"}));
        }
        if args["channel"] == "C_MISSING" {
            return axum::Json(json!({"ok": false, "error": "channel_not_found"}));
        }
        let channel = |id: &str, name: &str, private: bool| {
            json!({
                "id": id, "name": name, "is_channel": true, "is_group": false,
                "is_im": false, "is_mpim": false, "is_private": private,
                "created": 1503435956, "is_archived": false, "is_general": false,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "Plans", "creator": "U0CREATOR", "last_set": 1503435956},
            })
        };
        axum::Json(match method.as_str() {
            "chat.postMessage" => json!({
                "ok": true,
                "channel": args["channel"],
                "ts": if args.get("thread_ts").is_some() { "1503435957.000100" } else { "1503435956.000247" },
                "message": {"text": args["text"]},
            }),
            "conversations.create" => json!({
                "ok": true,
                "channel": channel("C0NEW", args["name"].as_str().unwrap_or(""), args["is_private"] == true),
            }),
            "conversations.invite" => json!({
                "ok": true,
                "channel": channel(args["channel"].as_str().unwrap_or(""), "project-x", false),
            }),
            "conversations.setTopic" => json!({
                "ok": true,
                "channel": {
                    "id": args["channel"],
                    "topic": {"value": args["topic"], "creator": "U0BOT", "last_set": 1503435958},
                },
            }),
            "conversations.history" => match args.get("cursor") {
                None => json!({
                    "ok": true,
                    "messages": [{
                        "type": "message", "user": "U1", "text": "second",
                        "ts": "1503435957.000100", "thread_ts": "1503435956.000247",
                        "reactions": [{"name": "tada", "count": 1, "users": ["U2"]}],
                    }],
                    "has_more": true,
                    "response_metadata": {"next_cursor": "page2"},
                }),
                Some(_) => json!({
                    "ok": true,
                    "messages": [{
                        "type": "message", "user": "U2", "text": "first",
                        "ts": "1503435956.000247",
                        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "first"}}],
                    }],
                    "has_more": false,
                    "response_metadata": {"next_cursor": ""},
                }),
            },
            "reactions.add" => json!({"ok": true}),
            "canvases.create" => json!({"ok": true, "canvas_id": "F0CANVAS"}),
            _ => json!({"ok": false, "error": "unknown_method"}),
        })
    }
    let app = Router::new()
        .route("/api/{method}", post(answer))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

async fn run(h: &Harness, yaml: &str) -> (State, ExecutionId, Vec<TaskRunRecord>) {
    let executor = Executor::new(
        h.services.clone(),
        Runners::core(),
        Arc::new(|name: &str| (name == "SLACK_TOKEN").then(|| TOKEN.to_owned())),
    );
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let id = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Map::new(),
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
    let runs = h.store.task_runs(&id).await.unwrap();
    (state, id, runs)
}

fn outputs(runs: &[TaskRunRecord], task: &str) -> Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .and_then(|r| r.outputs.clone())
        .unwrap_or_else(|| panic!("no outputs for {task}: {runs:#?}"))
}

/// The arguments of the `n`th call of `method`.
fn args(calls: &Calls, method: &str, n: usize) -> Value {
    calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _, _)| m == method)
        .nth(n)
        .map(|(_, _, args)| args.clone())
        .unwrap_or_else(|| panic!("no call {n} of {method}: {:?}", calls.lock().unwrap()))
}

async fn log_lines(h: &Harness, id: &ExecutionId) -> Vec<String> {
    h.services.logs.flush().await;
    h.store
        .logs(id, Level::Trace, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect()
}

#[tokio::test]
async fn a_post_a_channel_its_topic_history_a_reaction_and_a_canvas() {
    let h = harness().await;
    let (url, calls) = fake_slack().await;
    let yaml = format!(
        r###"
id: slack_app
namespace: company.team
tasks:
  - id: post
    type: io.kestra.plugin.slack.app.chats.Post
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    channel: C0GENERAL
    messageText: "**Done**: see [the run](https://example.com/1)"
    username: Mortar
    iconEmoji: ":robot_face:"
  - id: reply
    type: io.kestra.plugin.slack.app.chats.Post
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    channel: C0GENERAL
    timestamp: "{{{{ outputs.post.timestamp }}}}"
    payload: |
      {{"text": "details", "blocks": [{{"type": "section", "text": {{"type": "mrkdwn", "text": "*details*"}}}}], "channel": "C0THREADS", "ignored": 1}}
  - id: create
    type: io.kestra.plugin.slack.app.conversations.Create
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    name: project-x
    isPrivate: true
  - id: invite
    type: io.kestra.plugin.slack.app.conversations.Invite
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    channel: "{{{{ outputs.create.id }}}}"
    users: [U1234567890, U0987654321]
  - id: topic
    type: io.kestra.plugin.slack.app.conversations.SetTopic
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    channel: "{{{{ outputs.create.id }}}}"
    topic: Discussion about project X
  - id: history
    type: io.kestra.plugin.slack.app.conversations.History
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    channel: C0GENERAL
    oldest: "2017-08-22T00:00:00Z"
  - id: react
    type: io.kestra.plugin.slack.app.reactions.Add
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    channel: C0GENERAL
    name: white_check_mark
    timestamp: "{{{{ outputs.post.timestamp }}}}"
  - id: canvas
    type: io.kestra.plugin.slack.app.canvases.Create
    token: "{{{{ secret('SLACK_TOKEN') }}}}"
    baseUrl: {url}
    title: Daily metrics
    documentContent:
      type: markdown
      markdown: "## Daily metrics"
"###
    );
    let (state, id, runs) = run(&h, &yaml).await;
    assert_eq!(state, State::Success, "{:?}", log_lines(&h, &id).await);

    // Every call carries the token as a bearer token.
    assert!(
        calls
            .lock()
            .unwrap()
            .iter()
            .all(|(_, auth, _)| auth == &format!("Bearer {TOKEN}"))
    );

    // The post: Markdown turned into Slack's, the sender's name and emoji.
    assert_eq!(
        args(&calls, "chat.postMessage", 0),
        json!({
            "channel": "C0GENERAL",
            "text": "*Done*: see <https://example.com/1|the run>",
            "username": "Mortar",
            "icon_emoji": ":robot_face:",
        })
    );
    assert_eq!(
        outputs(&runs, "post"),
        json!({"timestamp": "1503435956.000247"})
    );
    // The reply: the payload's channel wins, its blocks go as they are,
    // the thread is the first post's; fields Kestra does not pass are not.
    assert_eq!(
        args(&calls, "chat.postMessage", 1),
        json!({
            "channel": "C0THREADS",
            "thread_ts": "1503435956.000247",
            "text": "details",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*details*"}}],
        })
    );

    // The channel, as Kestra's ConversationOutput.
    assert_eq!(
        args(&calls, "conversations.create", 0),
        json!({"name": "project-x", "is_private": true})
    );
    let created = outputs(&runs, "create");
    assert_eq!(created["id"], "C0NEW");
    assert_eq!(created["name"], "project-x");
    assert_eq!(created["isPrivate"], true);
    assert_eq!(created["isChannel"], true);
    assert_eq!(created["isInstantMessage"], false);
    assert_eq!(created["created"], "2017-08-22T21:05:56Z");
    assert_eq!(
        created["purpose"],
        json!({"value": "Plans", "creator": "U0CREATOR", "lastSet": 1503435956})
    );
    assert_eq!(
        args(&calls, "conversations.invite", 0),
        json!({"channel": "C0NEW", "users": "U1234567890,U0987654321"})
    );
    assert_eq!(outputs(&runs, "invite")["id"], "C0NEW");
    assert_eq!(
        args(&calls, "conversations.setTopic", 0),
        json!({"channel": "C0NEW", "topic": "Discussion about project X"})
    );
    assert_eq!(
        outputs(&runs, "topic"),
        json!({"value": "Discussion about project X", "creator": "U0BOT", "lastSet": 1503435958})
    );

    // The history: both pages, a form with the bounds in Slack's `ts`.
    let first = args(&calls, "conversations.history", 0);
    assert_eq!(first["channel"], "C0GENERAL");
    assert_eq!(first["oldest"], "1503360000.000000");
    assert_eq!(first["inclusive"], "false");
    assert_eq!(first["limit"], "200");
    assert_eq!(args(&calls, "conversations.history", 1)["cursor"], "page2");
    let history = outputs(&runs, "history");
    assert_eq!(history["size"], 2);
    let uri = history["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("storage:///") && uri.ends_with(".ion"),
        "{uri}"
    );
    let ion = std::fs::read_to_string(h.services.storage.path_of(uri).unwrap()).unwrap();
    let lines: Vec<&str> = ion.lines().collect();
    assert_eq!(lines.len(), 2, "{ion}");
    assert!(lines[0].starts_with("{type:\"message\""), "{}", lines[0]);
    assert!(lines[0].contains("text:\"second\""), "{}", lines[0]);
    assert!(
        lines[0].contains("timestamp:\"2017-08-22T21:05:57.0001Z\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("threadTimestamp:\"1503435956.000247\""),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("reactions:[{"), "{}", lines[0]);
    assert!(lines[1].contains("payload:{blocks:["), "{}", lines[1]);
    let (metrics, _) = h
        .store
        .execution_metrics(&id, &Default::default())
        .await
        .unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m.metric.name == "records" && m.metric.value == 2.0),
        "{metrics:?}"
    );

    // The reaction on the post, and the canvas.
    assert_eq!(
        args(&calls, "reactions.add", 0),
        json!({"channel": "C0GENERAL", "name": "white_check_mark", "timestamp": "1503435956.000247"})
    );
    assert_eq!(
        args(&calls, "canvases.create", 0),
        json!({"title": "Daily metrics", "document_content": {"type": "markdown", "markdown": "## Daily metrics"}})
    );
    assert_eq!(outputs(&runs, "canvas"), json!({"canvasId": "F0CANVAS"}));
}

#[tokio::test]
async fn slacks_refusal_fails_the_task_naming_its_error_and_never_the_token() {
    let h = harness().await;
    let (url, _calls) = fake_slack().await;
    // The token written as it is (not a masked secret), so only the
    // messages themselves can keep it out of sight.
    for (channel, token, error) in [
        (
            "C_MISSING",
            TOKEN,
            "Slack refused chat.postMessage: channel_not_found",
        ),
        (
            "C0GENERAL",
            "xoxb-wrong-token",
            "Slack refused chat.postMessage: invalid_auth",
        ),
    ] {
        let yaml = format!(
            "id: refused\nnamespace: company.team\ntasks:\n  - id: post\n    type: io.kestra.plugin.slack.app.chats.Post\n    token: {token}\n    baseUrl: {url}\n    channel: {channel}\n    messageText: hello\n"
        );
        let (state, id, runs) = run(&h, &yaml).await;
        assert_eq!(state, State::Failed);
        let lines = log_lines(&h, &id).await;
        assert!(lines.iter().any(|l| l.contains(error)), "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains(token)), "{lines:?}");
        let recorded =
            serde_json::to_string(&runs.iter().map(|r| &r.outputs).collect::<Vec<_>>()).unwrap();
        assert!(!recorded.contains(token), "{recorded}");
    }
}
