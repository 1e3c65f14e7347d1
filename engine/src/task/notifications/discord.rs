//! Kestra's `io.kestra.plugin.discord` webhook tasks (formerly
//! `io.kestra.plugin.notifications.discord`).

use super::{CUSTOM_FIELDS, CUSTOM_MESSAGE, EXECUTION_ID, OPTIONS_PROPERTY, URL};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, prop, runner};

pub const INCOMING_WEBHOOK: TaskType = TaskType {
    name: "io.kestra.plugin.discord.DiscordIncomingWebhook",
    alias: "discord.DiscordIncomingWebhook",
    category: Category::Task,
    doc: "Posts a JSON payload to a Discord channel's webhook.",
    properties: &[
        URL,
        ex(
            prop(
                "payload",
                String,
                "The message as Discord's JSON (`content`, `embeds`, …).",
            ),
            "'{\"content\": \"Flow {{ flow.id }} failed\"}'",
        ),
        OPTIONS_PROPERTY,
    ],
    outputs: &[],
    run: runner!(run::IncomingWebhook),
    check: None,
    aliases: &["io.kestra.plugin.notifications.discord.DiscordIncomingWebhook"],
};

pub const EXECUTION: TaskType = TaskType {
    name: "io.kestra.plugin.discord.DiscordExecution",
    alias: "discord.DiscordExecution",
    category: Category::Task,
    doc: "Posts a summary of an execution to Discord as an embed, as Kestra's template writes it.",
    properties: &[
        URL,
        EXECUTION_ID,
        CUSTOM_FIELDS,
        CUSTOM_MESSAGE,
        prop("username", String, "The sender's name."),
        prop("avatarUrl", String, "The sender's avatar."),
        prop(
            "content",
            String,
            "Text sent before the summary (the execution's id follows it).",
        ),
        prop(
            "embedList",
            Any,
            "More embeds (`title`, `description`, …) before the summary.",
        ),
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
    aliases: &["io.kestra.plugin.notifications.discord.DiscordExecution"],
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
                let mut description = facts(&s)
                    .into_iter()
                    .map(|(name, value)| {
                        let value = match value {
                            Value::String(t) => t,
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        format!("{name}: {value}")
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                if let Some(link) = &s.link {
                    description.push_str(&format!("\n\n[Link to the Execution page]({link})"));
                }
                let mut embeds: Vec<Value> = match ctx.prop("embedList")? {
                    Value::Array(list) => list.clone(),
                    _ => Vec::new(),
                };
                embeds.push(json!({"description": description, "footer": {"text": s.outcome()}}));
                let mut body = json!({ "embeds": embeds });
                if let Some(name) = text(ctx, "username")? {
                    body["username"] = Value::String(name);
                }
                if let Some(avatar) = text(ctx, "avatarUrl")? {
                    body["avatar_url"] = Value::String(avatar);
                }
                let content = match (text(ctx, "content")?, &s.custom_message) {
                    (Some(content), _) => Some(format!("{content} {}", s.id)),
                    (None, Some(message)) => Some(message.clone()),
                    (None, None) => None,
                };
                if let Some(content) = content {
                    body["content"] = Value::String(content);
                }
                post(ctx, body.to_string()).await?;
                Ok(Outputs::new())
            })
        }
    }
}
