//! Kestra's `io.kestra.plugin.notifications.google` package: Google Chat.

use super::{CUSTOM_FIELDS, CUSTOM_MESSAGE, EXECUTION_ID, OPTIONS_PROPERTY, URL};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, prop, runner};

pub const INCOMING_WEBHOOK: TaskType = TaskType {
    name: "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook",
    alias: "notifications.google.GoogleChatIncomingWebhook",
    category: Category::Task,
    doc: "Posts a JSON payload to a Google Chat space's incoming webhook.",
    properties: &[
        URL,
        ex(
            prop("payload", String, "The message as Google Chat's JSON."),
            "'{\"text\": \"Flow {{ flow.id }} failed\"}'",
        ),
        OPTIONS_PROPERTY,
    ],
    outputs: &[],
    run: runner!(run::IncomingWebhook),
    check: None,
    aliases: &[],
};

pub const EXECUTION: TaskType = TaskType {
    name: "io.kestra.plugin.notifications.google.GoogleChatExecution",
    alias: "notifications.google.GoogleChatExecution",
    category: Category::Task,
    doc: "Posts a summary of an execution to Google Chat, as Kestra's template writes it.",
    properties: &[
        URL,
        EXECUTION_ID,
        CUSTOM_FIELDS,
        CUSTOM_MESSAGE,
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
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde_json::json;

    use super::super::run::{post, summary, text};
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
                let mut text = format!(
                    "Kestra Google notification: Namespace {}, Flow ID {}, Execution ID {}, Execution Status {}, Final task ID {}. {title}\n> {}",
                    s.namespace,
                    s.flow_id,
                    s.id,
                    s.state.as_str(),
                    s.last_task.as_deref().unwrap_or(""),
                    s.outcome()
                );
                if let Some(message) = &s.custom_message {
                    text = format!("{message}\n{text}");
                }
                post(ctx, json!({ "text": text }).to_string()).await?;
                Ok(Outputs::new())
            })
        }
    }
}
