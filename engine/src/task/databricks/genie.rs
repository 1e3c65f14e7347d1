//! `genie.AskQuestion` and `genie.Continue`: a question to a Genie space
//! (a new conversation, or a follow-up of one), waited for, its text, its
//! generated SQL and that SQL's rows as outputs. The message is
//! checkpointed once asked, so a restart waits for the same answer instead
//! of asking again.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, req, runner};

use super::databricks;

const SPACE: Property = ex(
    req("spaceId", String, "The id of an existing Genie space."),
    "01f0mortarsamplespace00",
);
const QUESTION: Property = ex(
    req("question", String, "The question, in words."),
    "What was total revenue by region last quarter?",
);
// `timeout` (how long to wait for the answer, PT20M when unset) is the
// task's own, which every type declares.
const MAX_ROWS: Property = def(
    "maxRows",
    Integer,
    "1000",
    "The most rows the answer may have; more fails the task (narrow the question).",
);
const OUTPUTS: &[(&str, &str)] = &[
    ("conversationId", "The conversation, for genie.Continue."),
    ("messageId", "The answered message."),
    ("text", "Genie's text answer (its text attachments, a line each); null when it only wrote SQL."),
    ("query", "The SQL Genie wrote; null for a text answer."),
    ("result", "That SQL's rows, each a mapping of column name to value (as text); null without SQL."),
];

pub const ASK_QUESTION: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.genie.AskQuestion",
    alias: "databricks.genie.AskQuestion",
    category: Category::Task,
    doc: "Asks a Genie space a question, starting a conversation, and waits for the answer: its text, the SQL it wrote and that SQL's rows.",
    properties: databricks![SPACE, QUESTION, MAX_ROWS],
    outputs: OUTPUTS,
    run: runner!(|env| run::Genie(env.databricks.clone(), false)),
    check: None,
    aliases: &[],
};

pub const CONTINUE: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.genie.Continue",
    alias: "databricks.genie.Continue",
    category: Category::Task,
    doc: "Asks a follow-up question in a Genie conversation (genie.AskQuestion's conversationId) and waits for the answer; the same outputs as AskQuestion.",
    properties: databricks![
        SPACE,
        ex(
            req("conversationId", String, "The conversation, from AskQuestion or a previous Continue."),
            "{{ outputs.ask_question.conversationId }}"
        ),
        QUESTION,
        MAX_ROWS,
    ],
    outputs: OUTPUTS,
    run: runner!(|env| run::Genie(env.databricks.clone(), true)),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use futures::future::BoxFuture;
    use serde_json::{Map, Value, json};

    use crate::databricks::ApiPath;
    use crate::task::databricks::run::Databricks;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// The runner of both types; `.1` is Continue.
    pub(super) struct Genie(pub(super) Arc<Databricks>, pub(super) bool);


    impl Runner for Genie {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let client = self.0.client(ctx)?;
                let space = ctx.text("spaceId")?.ok_or_else(|| {
                    ctx.invalid("The `spaceId` property is required, set it to the identifier of an existing Genie space")
                })?;
                let question = ctx.text("question")?.ok_or_else(|| {
                    ctx.invalid("The `question` property is required, set it to the question to ask Genie")
                })?;
                let timeout = match ctx.text("timeout")? {
                    Some(t) => crate::task::core::parse_duration(&t).map_err(|e| ctx.invalid(format!("timeout: {e}")))?,
                    None => Duration::from_secs(20 * 60),
                };
                if timeout.is_zero() {
                    return Err(ctx.invalid("The `timeout` property must be greater than zero"));
                }
                let max_rows = match ctx.text("maxRows")? {
                    Some(n) => n.parse::<usize>().map_err(|_| ctx.invalid(format!("maxRows {n} is not a number of rows (0 or more)")))?,
                    None => 1000,
                };
                let spaces = || ApiPath::from("/api/2.0/genie/spaces").segment(space.clone());
                let (conversation, message) = match ctx.checkpoint.as_ref() {
                    Some(c) if c["message_id"].is_string() => {
                        ctx.info("re-attaching to the Genie message asked before a restart").await;
                        (c["conversation_id"].as_str().unwrap_or_default().to_owned(), c["message_id"].as_str().unwrap_or_default().to_owned())
                    }
                    _ => {
                        let asked = if self.1 {
                            let conversation = ctx.text("conversationId")?.ok_or_else(|| {
                                ctx.invalid("The `conversationId` property is required, set it to the conversationId from AskQuestion")
                            })?;
                            let created: Value = client
                                .post(spaces().segment("conversations").segment(conversation.clone()).segment("messages"), &json!({"content": question}))
                                .await?;
                            (
                                created["conversation_id"].as_str().map_or(conversation, str::to_owned),
                                created["message_id"].as_str().or(created["id"].as_str()).unwrap_or_default().to_owned(),
                            )
                        } else {
                            let started: Value = client.post(spaces().segment("start-conversation"), &json!({"content": question})).await?;
                            (
                                started["conversation_id"].as_str().unwrap_or_default().to_owned(),
                                started["message_id"].as_str().unwrap_or_default().to_owned(),
                            )
                        };
                        ctx.checkpoint(&json!({"conversation_id": asked.0, "message_id": asked.1})).await?;
                        asked
                    }
                };
                let message_path = || spaces().segment("conversations").segment(conversation.clone()).segment("messages").segment(message.clone());
                let deadline = Instant::now() + timeout;
                let answered: Value = loop {
                    let message: Value = client.get(message_path(), &[]).await?;
                    match message["status"].as_str().unwrap_or_default() {
                        "COMPLETED" => break message,
                        status @ ("FAILED" | "CANCELLED" | "QUERY_RESULT_EXPIRED") => {
                            let why = message["error"]["error"].as_str().map(|e| format!(": {e}")).unwrap_or_default();
                            return Err(TaskError::Failed(format!("Genie message {status}{why}")));
                        }
                        _ => {}
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(TaskError::Failed(format!(
                            "Genie did not answer within {}. Raise timeout or simplify the question.",
                            ctx.text("timeout")?.unwrap_or_else(|| "PT20M".into())
                        )));
                    }
                    ctx.sleep(left.min(Duration::from_secs(1))).await?;
                };
                let attachments = answered["attachments"].as_array().cloned().unwrap_or_default();
                let texts: Vec<&str> = attachments
                    .iter()
                    .filter_map(|a| a["text"]["content"].as_str())
                    .filter(|t| !t.trim().is_empty())
                    .collect();
                let query = attachments.iter().find(|a| !a["query"].is_null());
                let mut out = Outputs::new();
                out.insert("conversationId".into(), json!(conversation));
                out.insert("messageId".into(), json!(message));
                out.insert("text".into(), if texts.is_empty() { Value::Null } else { json!(texts.join("\n")) });
                out.insert("query".into(), query.map_or(Value::Null, |q| q["query"]["query"].clone()));
                let result = match query {
                    None => Value::Null,
                    Some(attachment) => {
                        let id = attachment["attachment_id"].as_str().or(attachment["query"]["id"].as_str()).unwrap_or_default();
                        let answer: Value = client.get(message_path().segment("attachments").segment(id.to_owned()).segment("query-result"), &[]).await?;
                        Value::Array(rows(&answer["statement_response"], max_rows)?)
                    }
                };
                out.insert("result".into(), result);
                ctx.info(format!("Genie conversation {conversation} message {message} answered")).await;
                Ok(out)
            })
        }
    }

    /// A statement response's rows as mappings of column name to value.
    fn rows(response: &Value, max_rows: usize) -> Result<Vec<Value>, TaskError> {
        if response.is_null() {
            return Ok(Vec::new());
        }
        if !response["result"]["next_chunk_index"].is_null() {
            return Err(TaskError::Failed("Genie query result has more chunks than this task reads".into()));
        }
        if response["manifest"]["truncated"].as_bool() == Some(true) {
            return Err(TaskError::Failed("Genie query result was truncated".into()));
        }
        let data = response["result"]["data_array"].as_array().cloned().unwrap_or_default();
        if data.len() > max_rows {
            return Err(TaskError::Failed(format!(
                "Genie query returned {} rows, which exceeds maxRows ({max_rows}). Raise maxRows or narrow the question.",
                data.len()
            )));
        }
        let mut columns: Vec<(Option<i64>, String)> = response["manifest"]["schema"]["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (c["position"].as_i64(), c["name"].as_str().unwrap_or_default().to_owned()))
            .collect();
        columns.sort_by_key(|(p, _)| p.unwrap_or(i64::MAX));
        Ok(data
            .iter()
            .map(|row| {
                let mut m = Map::new();
                for (i, value) in row.as_array().into_iter().flatten().enumerate() {
                    let name = columns.get(i).map(|(_, n)| n.clone()).filter(|n| !n.trim().is_empty()).unwrap_or_else(|| format!("column_{i}"));
                    m.insert(name, value.clone());
                }
                Value::Object(m)
            })
            .collect())
    }
}
