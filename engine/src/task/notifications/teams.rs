//! Kestra's `io.kestra.plugin.microsoft365.teams` webhook tasks (formerly
//! `io.kestra.plugin.notifications.teams`).

use super::{CUSTOM_FIELDS, CUSTOM_MESSAGE, EXECUTION_ID, OPTIONS_PROPERTY, URL};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, prop, runner};

pub const INCOMING_WEBHOOK: TaskType = TaskType {
    name: "io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook",
    alias: "microsoft365.teams.TeamsIncomingWebhook",
    category: Category::Task,
    doc: "Posts a JSON payload (an Adaptive Card or a MessageCard) to a Microsoft Teams incoming webhook.",
    properties: &[
        URL,
        ex(
            prop("payload", String, "The message as Teams' JSON."),
            "'{\"text\": \"Flow {{ flow.id }} failed\"}'",
        ),
        OPTIONS_PROPERTY,
    ],
    outputs: &[],
    run: runner!(run::IncomingWebhook),
    check: None,
    aliases: &["io.kestra.plugin.notifications.teams.TeamsIncomingWebhook"],
};

pub const EXECUTION: TaskType = TaskType {
    name: "io.kestra.plugin.microsoft365.teams.TeamsExecution",
    alias: "microsoft365.teams.TeamsExecution",
    category: Category::Task,
    doc: "Posts a summary of an execution to Microsoft Teams as a MessageCard, as Kestra's template writes it.",
    properties: &[
        URL,
        EXECUTION_ID,
        CUSTOM_FIELDS,
        CUSTOM_MESSAGE,
        def("themeColor", String, "\"0076D7\"", "The card's color."),
        prop("activityTitle", String, "The section's title."),
        prop("activitySubtitle", String, "The section's subtitle."),
        prop(
            "payload",
            String,
            "Accepted; the summary replaces it, as in Kestra.",
        ),
        OPTIONS_PROPERTY,
    ],
    outputs: &[],
    run: runner!(run::Execution),
    check: None,
    aliases: &["io.kestra.plugin.notifications.teams.TeamsExecution"],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde_json::{Value, json};

    use super::super::run::{facts, post, summary, text};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct IncomingWebhook;

    impl Runner for IncomingWebhook {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let payload = text(ctx, "payload")?
                    .ok_or_else(|| ctx.invalid("give the message as `payload`"))?;
                post(ctx, payload).await?;
                Ok(Outputs::new())
            })
        }
    }

    pub(super) struct Execution;

    impl Runner for Execution {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let s = summary(ctx).await?;
                let title = match &s.link {
                    Some(link) => format!("*<{link}|{}>*", s.title()),
                    None => format!("*{}*", s.title()),
                };
                let mut section = json!({
                    "facts": facts(&s)
                        .into_iter()
                        .map(|(name, value)| json!({"name": name, "value": match value { Value::String(t) => t, other => other.to_string() }}))
                        .collect::<Vec<_>>(),
                    "markdown": true,
                });
                for name in ["activityTitle", "activitySubtitle"] {
                    if let Some(value) = text(ctx, name)? {
                        section[name] = Value::String(value);
                    }
                }
                if let Some(message) = &s.custom_message {
                    section["text"] = Value::String(message.clone());
                }
                let body = json!({
                    "@type": "MessageCard",
                    "@context": "http://schema.org/extensions",
                    "themeColor": text(ctx, "themeColor")?.unwrap_or_else(|| "0076D7".into()),
                    "summary": format!("{title}\n> {}", s.outcome()),
                    "sections": [section],
                });
                post(ctx, body.to_string()).await?;
                Ok(Outputs::new())
            })
        }
    }
}
