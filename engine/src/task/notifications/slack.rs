//! Kestra's `io.kestra.plugin.slack.notifications` package (formerly
//! `io.kestra.plugin.notifications.slack`).

use super::{CUSTOM_FIELDS, CUSTOM_MESSAGE, EXECUTION_ID, OPTIONS_PROPERTY, URL};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, prop, runner};

pub const INCOMING_WEBHOOK: TaskType = TaskType {
    name: "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
    alias: "slack.notifications.SlackIncomingWebhook",
    category: Category::Task,
    doc: "Posts a message to a Slack incoming webhook (or Rocket.Chat's, which takes the same): `payload` as written, or `messageText` (JSON, or text sent as `{\"text\": …}` with Markdown's **bold**, __italic__ and [links](…) turned into Slack's).",
    properties: &[
        URL,
        ex(
            prop(
                "payload",
                String,
                "The message as Slack's JSON (`text`, `blocks`, …).",
            ),
            "'{\"text\": \"Flow {{ flow.id }} failed\"}'",
        ),
        ex(
            prop(
                "messageText",
                String,
                "The message as text or JSON; ignored when `payload` is set.",
            ),
            "Flow {{ flow.id }} failed",
        ),
        OPTIONS_PROPERTY,
    ],
    outputs: &[],
    run: runner!(run::IncomingWebhook),
    check: None,
    aliases: &["io.kestra.plugin.notifications.slack.SlackIncomingWebhook"],
};

pub const EXECUTION: TaskType = TaskType {
    name: "io.kestra.plugin.slack.notifications.SlackExecution",
    alias: "slack.notifications.SlackExecution",
    category: Category::Task,
    doc: "Posts a summary of an execution to Slack, as Kestra's template writes it: flow and state, the task it failed on, its duration, a link to its page (with `--url`) and its namespace, flow, id, status and final task as fields.",
    properties: &[
        URL,
        EXECUTION_ID,
        CUSTOM_FIELDS,
        CUSTOM_MESSAGE,
        prop(
            "channel",
            String,
            "The channel (legacy webhooks, Rocket.Chat).",
        ),
        prop(
            "username",
            String,
            "The sender's name (legacy webhooks, Rocket.Chat).",
        ),
        prop(
            "iconUrl",
            String,
            "The sender's icon (legacy webhooks, Rocket.Chat).",
        ),
        prop(
            "iconEmoji",
            String,
            "The sender's emoji (legacy webhooks, Rocket.Chat).",
        ),
        prop(
            "payload",
            String,
            "Accepted; the summary replaces it, as in Kestra.",
        ),
        prop(
            "messageText",
            String,
            "Accepted; the summary replaces it, as in Kestra.",
        ),
        OPTIONS_PROPERTY,
    ],
    outputs: &[],
    run: runner!(run::Execution),
    check: None,
    aliases: &["io.kestra.plugin.notifications.slack.SlackExecution"],
};

#[cfg(feature = "runtime")]
pub(super) mod run {
    use futures::future::BoxFuture;
    use serde_json::{Value, json};

    use super::super::run::{Summary, facts, post, summary, text};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct IncomingWebhook;

    impl Runner for IncomingWebhook {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let body = match (text(ctx, "payload")?, text(ctx, "messageText")?) {
                    (Some(payload), _) => {
                        let json: Value = serde_json::from_str(&payload)
                            .map_err(|e| ctx.invalid(format!("payload is not JSON: {e}")))?;
                        json.to_string()
                    }
                    (None, Some(message)) => match serde_json::from_str::<Value>(&message) {
                        Ok(json @ Value::Object(_)) => json.to_string(),
                        _ => json!({"text": mrkdwn(&message)}).to_string(),
                    },
                    (None, None) => {
                        return Err(ctx.invalid("give the message as `payload` or `messageText`"));
                    }
                };
                post(ctx, body).await?;
                Ok(Outputs::new())
            })
        }
    }

    /// Kestra's toSlackMrkdwn: **bold**, __italic__ and [text](url) in
    /// Slack's spelling.
    pub(in crate::task::notifications) fn mrkdwn(text: &str) -> String {
        let bold = regex::Regex::new(r"\*\*(.*?)\*\*").expect("a regex");
        let italic = regex::Regex::new(r"__(.*?)__").expect("a regex");
        let link = regex::Regex::new(r"\[(.*?)\]\((.*?)\)").expect("a regex");
        let text = bold.replace_all(text, "*$1*");
        let text = italic.replace_all(&text, "_${1}_");
        link.replace_all(&text, "<$2|$1>").into_owned()
    }

    /// Kestra's slack-template.peb.
    pub(super) fn message(s: &Summary) -> Value {
        let title = match &s.link {
            Some(link) => format!("*<{link}|{}>*", s.title()),
            None => format!("*{}*", s.title()),
        };
        let headline = format!("{title}\n> {}", s.outcome());
        let mut blocks = Vec::new();
        if let Some(message) = &s.custom_message {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": message}}));
        }
        let mut section = json!({"type": "section", "text": {"type": "mrkdwn", "text": headline}});
        if let Some(link) = &s.link {
            section["accessory"] = json!({"type": "button", "text": {"type": "plain_text", "text": "Details"}, "url": link});
        }
        blocks.push(section);
        let color = match s.state.as_str() {
            "SUCCESS" => "good",
            "WARNING" => "warning",
            _ => "danger",
        };
        let fields: Vec<Value> = facts(s)
            .into_iter()
            .map(|(title, value)| json!({"title": title, "value": value, "short": true}))
            .collect();
        json!({
            "text": headline,
            "blocks": blocks,
            "attachments": [{"color": color, "fields": fields, "ts": s.start / 1000}],
        })
    }

    pub(super) struct Execution;

    impl Runner for Execution {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let mut body = message(&summary(ctx).await?);
                for (property, key) in [
                    ("channel", "channel"),
                    ("username", "username"),
                    ("iconUrl", "icon_url"),
                    ("iconEmoji", "icon_emoji"),
                ] {
                    if let Some(value) = text(ctx, property)? {
                        body[key] = Value::String(value);
                    }
                }
                post(ctx, body.to_string()).await?;
                Ok(Outputs::new())
            })
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn markdown_turns_into_slacks() {
            assert_eq!(
                super::mrkdwn("**done**, __see__ [the run](https://x/1)"),
                "*done*, _see_ <https://x/1|the run>"
            );
        }
    }
}
