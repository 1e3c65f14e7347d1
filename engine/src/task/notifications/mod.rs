//! Kestra's chat notifications: a message posted to an incoming webhook
//! (Slack, Microsoft Teams, Discord, Google Chat) as written, or, for the
//! `*Execution` tasks, a summary of an execution built as Kestra's
//! templates build it (its flow, state, duration, the task it failed on, a
//! link to its page). The summaries are meant for `errors`, `finally` and
//! flows a Flow trigger starts when another execution fails; a post the
//! service refuses fails the task.
//!
//! Each service's types are in its own file, under Kestra's current names
//! with their older `io.kestra.plugin.notifications.…` ones beside them.

pub mod discord;
pub mod email;
pub mod google;
pub mod slack;
pub mod slack_app;
pub mod teams;

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Property, def, ex, prop, req};

/// Kestra's RequestOptions of the notification tasks.
pub const OPTIONS: &[Property] = &[
    prop(
        "connectTimeout",
        Duration,
        "How long to wait for the connection.",
    ),
    def(
        "readTimeout",
        Duration,
        "\"PT10S\"",
        "How long to wait for the answer.",
    ),
    def(
        "readIdleTimeout",
        Duration,
        "\"PT5M\"",
        "Accepted; `readTimeout` bounds the answer.",
    ),
    prop("connectionPoolIdleTimeout", Duration, "Accepted."),
    prop("maxContentLength", Integer, "Accepted."),
    prop("defaultCharset", String, "Accepted: UTF-8."),
    prop("headers", Map, "Headers added to the request."),
];

pub const URL: Property = ex(
    req(
        "url",
        String,
        "The incoming webhook's URL; keep it in a secret.",
    ),
    "{{ secret('SLACK_WEBHOOK') }}",
);

pub const OPTIONS_PROPERTY: Property = prop(
    "options",
    Object {
        properties: OPTIONS,
    },
    "The HTTP request's options: timeouts and headers.",
);

pub const EXECUTION_ID: Property = def(
    "executionId",
    String,
    "\"{{ execution.id }}\"",
    "The execution to sum up: this one by default; `{{ trigger.executionId }}` in a flow a Flow trigger starts.",
);

pub const CUSTOM_FIELDS: Property = prop(
    "customFields",
    Map,
    "More fields shown with the summary, by name.",
);

pub const CUSTOM_MESSAGE: Property = prop(
    "customMessage",
    String,
    "A message shown above the summary.",
);

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use serde_json::{Map, Value, json};

    use crate::ids::ExecutionId;
    use crate::log::Level;
    use crate::state::State;
    use crate::task::{TaskContext, TaskError};

    /// Posts `body` (JSON text, sent as it is) to the task's `url`; an
    /// answer of 400 or more fails the task, naming the code.
    pub(crate) async fn post(ctx: &TaskContext, body: String) -> Result<(), TaskError> {
        let url = ctx
            .prop("url")?
            .as_str()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ctx.invalid("url: the incoming webhook's URL is missing"))?
            .to_owned();
        let parsed = reqwest::Url::parse(&url).map_err(|_| {
            ctx.invalid("url is not a URL (it is not shown: it holds the webhook's secret)")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ctx.invalid("url is not an http:// or https:// URL"));
        }
        let options = ctx.prop("options")?.clone();
        let duration =
            |name: &str, default: std::time::Duration| -> Result<std::time::Duration, TaskError> {
                match options.get(name).and_then(Value::as_str) {
                    Some(text) => crate::task::core::parse_duration(text)
                        .map_err(|why| ctx.invalid(format!("options.{name}: {why}"))),
                    None => Ok(default),
                }
            };
        let client = crate::http::client_builder()
            .connect_timeout(duration(
                "connectTimeout",
                std::time::Duration::from_secs(30),
            )?)
            .timeout(duration("readTimeout", std::time::Duration::from_secs(10))?)
            .build()
            .map_err(|e| TaskError::Failed(format!("the HTTP client could not be set up: {e}")))?;
        let mut request = client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        if let Some(headers) = options.get("headers").and_then(Value::as_object) {
            for (name, value) in headers {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                request = request.header(name.as_str(), value);
            }
        }
        ctx.log(Level::Debug, format!("sending: {body}")).await;
        let response = request.send().await.map_err(|e| {
            // reqwest's error names the URL, which holds the secret.
            TaskError::Failed(format!(
                "the webhook could not be reached: {}",
                e.without_url()
            ))
        })?;
        let code = response.status().as_u16();
        let answer = response.text().await.unwrap_or_default();
        if code >= 400 {
            return Err(TaskError::Failed(format!(
                "the webhook answered {code}: {}",
                answer.chars().take(500).collect::<String>()
            )));
        }
        ctx.info("Request succeeded").await;
        Ok(())
    }

    /// A text property, rendered.
    pub(crate) fn text(ctx: &TaskContext, name: &str) -> Result<Option<String>, TaskError> {
        Ok(match ctx.prop(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
    }

    /// Kestra's ExecutionService.executionMap, as the templates read it.
    pub(crate) struct Summary {
        pub namespace: String,
        pub flow_id: String,
        pub id: String,
        pub state: State,
        /// Kestra's State.humanDuration: `H:mm:ss.SSS`.
        pub duration: String,
        /// Unix milliseconds.
        pub start: i64,
        pub link: Option<String>,
        /// The task it failed on (the last task run, when FAILED).
        pub first_failed: Option<String>,
        pub last_task: Option<String>,
        pub custom_message: Option<String>,
        pub custom_fields: Map<String, Value>,
    }

    impl Summary {
        /// "Failed on task `x` after 0:00:01.234" or "Succeeded after …".
        pub(crate) fn outcome(&self) -> String {
            match &self.first_failed {
                Some(task) => format!("Failed on task `{task}` after {}", self.duration),
                None => format!("Succeeded after {}", self.duration),
            }
        }

        /// `[namespace] flow ➛ STATE`.
        pub(crate) fn title(&self) -> String {
            format!(
                "[{}] {} ➛ {}",
                self.namespace,
                self.flow_id,
                self.state.as_str()
            )
        }
    }

    /// Sums up the execution `executionId` names (this one by default).
    pub(crate) async fn summary(ctx: &TaskContext) -> Result<Summary, TaskError> {
        let id = match text(ctx, "executionId")?.filter(|s| !s.trim().is_empty()) {
            Some(id) => ExecutionId::new(id.trim()),
            None => ctx.execution_id.clone(),
        };
        let (execution, runs) = ctx.execution_with_runs(&id).await?;
        let current = id == ctx.execution_id;
        // Another execution: its last run in the state it ended in, as
        // Kestra picks it.
        let ended_failed = execution.state == State::Failed;
        // This one: its last task run that has ended (not this task, nor
        // the flowables around it, still running).
        let picked: Vec<_> = runs
            .iter()
            .filter(|r| {
                if current {
                    r.id != ctx.task_run_id && r.state.is_terminal()
                } else {
                    r.state
                        == if ended_failed {
                            State::Failed
                        } else {
                            State::Success
                        }
                }
            })
            .collect();
        let last = picked.last();
        let now = jiff::Timestamp::now().as_millisecond();
        let ms = execution.ended_at.unwrap_or(now) - execution.created_at;
        let custom_fields = match ctx.prop("customFields")? {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        Ok(Summary {
            namespace: execution.namespace.to_string(),
            flow_id: execution.flow_id.to_string(),
            id: execution.id.to_string(),
            state: execution.state,
            duration: human_duration(ms),
            start: execution.created_at,
            link: ctx
                .server_url
                .as_deref()
                .map(|base| format!("{}/executions/{}", base.trim_end_matches('/'), execution.id)),
            // This one: the last task run that failed, so that a second
            // notification in `errors` still names it.
            first_failed: if current {
                picked.iter().rev().find(|r| r.state == State::Failed)
            } else {
                last.filter(|r| r.state == State::Failed)
            }
            .map(|r| r.task_id.to_string()),
            last_task: last.map(|r| r.task_id.to_string()),
            custom_message: text(ctx, "customMessage")?,
            custom_fields,
        })
    }

    /// Apache Commons' formatDurationHMS, which Kestra's humanDuration is:
    /// `H:mm:ss.SSS`.
    pub(crate) fn human_duration(ms: i64) -> String {
        let ms = ms.max(0);
        format!(
            "{}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    }

    /// The facts every summary lists, Kestra's order.
    pub(crate) fn facts(summary: &Summary) -> Vec<(String, Value)> {
        let mut facts = vec![
            ("Namespace".to_owned(), json!(summary.namespace)),
            ("Flow ID".to_owned(), json!(summary.flow_id)),
            ("Execution ID".to_owned(), json!(summary.id)),
            ("Execution Status".to_owned(), json!(summary.state.as_str())),
        ];
        for (name, value) in &summary.custom_fields {
            facts.push((name.clone(), value.clone()));
        }
        facts.push((
            "Final task ID".to_owned(),
            summary.last_task.clone().map_or(Value::Null, Value::String),
        ));
        facts
    }
}
