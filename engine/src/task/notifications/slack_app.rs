//! Kestra's Slack App tasks (`io.kestra.plugin.slack.app.…`): calls to
//! Slack's Web API with an app's token, as Kestra's AbstractSlackClientConnection
//! makes them: posting a message, creating a channel, inviting to it,
//! setting its topic, exporting its history, adding a reaction, creating a
//! canvas.
//!
//! Slack answers 200 with `{"ok": false, "error": "channel_not_found"}` when
//! it refuses a call: the task fails naming the method and that error. The
//! token goes in the `Authorization` header only, so no message shows it.
//!
//! `baseUrl` is Mortar's own property: Kestra's Slack client has its
//! endpoint prefix only as a field its tests set (`methodsEndpointUrlPrefix`),
//! not as a property a flow can write. It points the tasks at a
//! Slack-compatible server or a test's fake; methods are called at
//! `<baseUrl>/api/<method>`. An environment variable was the rejected
//! option: the engine reads no environment.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};

const TOKEN: Property = ex(
    req(
        "token",
        String,
        "The app's token (`xoxb-…` or `xoxp-…`); keep it in a secret.",
    ),
    "{{ secret('SLACK_TOKEN') }}",
);

const BASE_URL: Property = def(
    "baseUrl",
    BaseUrl,
    "\"https://slack.com\"",
    "Mortar's own: the Web API's host, scheme://host[:port]; methods are called at `<baseUrl>/api/<method>`. For a Slack-compatible server or a test; Kestra has no such property.",
);

const CHANNEL: Property = ex(
    req(
        "channel",
        String,
        "The channel's ID (the end of the link `Copy Link` gives).",
    ),
    "C1234567890",
);

/// Kestra's ConversationOutput, which Create and Invite give.
const CONVERSATION: &[(&str, &str)] = &[
    ("id", "The channel's ID."),
    ("name", "The channel's name."),
    ("isPrivate", "Whether the channel is private."),
    ("isChannel", "Whether the conversation is a channel."),
    ("isGroup", "Whether the conversation is a group."),
    ("isInstantMessage", "Whether it is a direct message."),
    (
        "isMultiPersonInstantMessage",
        "Whether it is a group direct message.",
    ),
    ("created", "When the channel was created (ISO-8601)."),
    ("isArchived", "Whether the channel is archived."),
    (
        "isGeneral",
        "Whether it is the workspace's general channel.",
    ),
    ("topic", "The topic: `value`, `creator`, `lastSet`."),
    ("purpose", "The purpose: `value`, `creator`, `lastSet`."),
];

pub const POST: TaskType = TaskType {
    name: "io.kestra.plugin.slack.app.chats.Post",
    alias: "slack.app.chats.Post",
    category: Category::Task,
    doc: "Posts a message to a channel (chat.postMessage): `payload` as Slack's JSON, or `messageText` (JSON, or text with Markdown's **bold**, __italic__ and [links](…) turned into Slack's). A `channel`, `thread_ts`, `username`, `icon_url` or `icon_emoji` in the JSON wins over the property.",
    properties: &[
        TOKEN,
        ex(
            prop(
                "channel",
                String,
                "The channel: an ID or a name; the JSON's `channel` wins.",
            ),
            "C1234567890",
        ),
        ex(
            prop(
                "messageText",
                String,
                "The message as text or JSON; ignored when `payload` is set.",
            ),
            "Flow {{ flow.id }} succeeded",
        ),
        ex(
            prop(
                "payload",
                String,
                "The message as Slack's JSON (`text`, `blocks`, `attachments`, …).",
            ),
            "'{\"text\": \"Done\", \"blocks\": []}'",
        ),
        prop(
            "timestamp",
            String,
            "Another message's `ts` (or an ISO-8601 date) to reply to in its thread.",
        ),
        prop("username", String, "The sender's name."),
        prop("iconUrl", String, "The URL of the sender's icon."),
        prop(
            "iconEmoji",
            String,
            "The sender's emoji; overrides `iconUrl`.",
        ),
        BASE_URL,
    ],
    outputs: &[(
        "timestamp",
        "The message's `ts`, which replies and reactions name.",
    )],
    run: runner!(run::App(run::Op::Post)),
    check: None,
    aliases: &[],
};

pub const CONVERSATIONS_CREATE: TaskType = TaskType {
    name: "io.kestra.plugin.slack.app.conversations.Create",
    alias: "slack.app.conversations.Create",
    category: Category::Task,
    doc: "Creates a public or private channel (conversations.create).",
    properties: &[
        TOKEN,
        ex(
            req(
                "name",
                String,
                "The channel's name: lowercase letters, digits, `-` and `_`, up to 80.",
            ),
            "new-project-channel",
        ),
        def(
            "isPrivate",
            Boolean,
            "false",
            "Whether the channel is private.",
        ),
        prop(
            "teamId",
            String,
            "The workspace's ID, needed with an org-wide token.",
        ),
        BASE_URL,
    ],
    outputs: CONVERSATION,
    run: runner!(run::App(run::Op::Create)),
    check: None,
    aliases: &[],
};

pub const CONVERSATIONS_INVITE: TaskType = TaskType {
    name: "io.kestra.plugin.slack.app.conversations.Invite",
    alias: "slack.app.conversations.Invite",
    category: Category::Task,
    doc: "Invites users to a channel (conversations.invite).",
    properties: &[
        TOKEN,
        CHANNEL,
        ex(
            req(
                "users",
                StringList,
                "The users' IDs (`Copy member ID` in a profile).",
            ),
            "[U1234567890, U0987654321]",
        ),
        BASE_URL,
    ],
    outputs: CONVERSATION,
    run: runner!(run::App(run::Op::Invite)),
    check: None,
    aliases: &[],
};

pub const CONVERSATIONS_SET_TOPIC: TaskType = TaskType {
    name: "io.kestra.plugin.slack.app.conversations.SetTopic",
    alias: "slack.app.conversations.SetTopic",
    category: Category::Task,
    doc: "Sets a channel's topic (conversations.setTopic).",
    properties: &[
        TOKEN,
        CHANNEL,
        ex(
            req("topic", String, "The new topic, up to 250 characters."),
            "Discussion about the new project",
        ),
        BASE_URL,
    ],
    outputs: &[
        ("value", "The topic."),
        ("creator", "The user who set it."),
        ("lastSet", "When it was set, in Unix seconds."),
    ],
    run: runner!(run::App(run::Op::SetTopic)),
    check: None,
    aliases: &[],
};

pub const CONVERSATIONS_HISTORY: TaskType = TaskType {
    name: "io.kestra.plugin.slack.app.conversations.History",
    alias: "slack.app.conversations.History",
    category: Category::Task,
    doc: "Exports a channel's messages (conversations.history, every page) to an Ion file in internal storage, one message a line as Kestra's MessageOutput; counts them in the `records` metric.",
    properties: &[
        TOKEN,
        CHANNEL,
        prop(
            "oldest",
            String,
            "The earliest message, an ISO-8601 date (or a Slack `ts`).",
        ),
        prop(
            "latest",
            String,
            "The latest message, an ISO-8601 date (or a Slack `ts`).",
        ),
        def(
            "inclusive",
            Boolean,
            "false",
            "Whether messages at exactly `oldest` or `latest` are included.",
        ),
        BASE_URL,
    ],
    outputs: &[
        ("uri", "The Ion file of the messages."),
        ("size", "How many messages it holds."),
    ],
    run: runner!(run::App(run::Op::History)),
    check: None,
    aliases: &[],
};

pub const REACTIONS_ADD: TaskType = TaskType {
    name: "io.kestra.plugin.slack.app.reactions.Add",
    alias: "slack.app.reactions.Add",
    category: Category::Task,
    doc: "Adds an emoji reaction to a message (reactions.add); needs the `reactions:write` scope.",
    properties: &[
        TOKEN,
        CHANNEL,
        ex(
            req(
                "name",
                String,
                "The emoji's name, without colons (`thumbsup`).",
            ),
            "white_check_mark",
        ),
        ex(
            req(
                "timestamp",
                String,
                "The message's `ts` (a Post's `timestamp` output), or an ISO-8601 date.",
            ),
            "\"{{ outputs.post_message.timestamp }}\"",
        ),
        BASE_URL,
    ],
    outputs: &[],
    run: runner!(run::App(run::Op::ReactionAdd)),
    check: None,
    aliases: &[],
};

pub const CANVASES_CREATE: TaskType = TaskType {
    name: "io.kestra.plugin.slack.app.canvases.Create",
    alias: "slack.app.canvases.Create",
    category: Category::Task,
    doc: "Creates a canvas from Markdown (canvases.create); needs the `canvases:write` scope.",
    properties: &[
        TOKEN,
        ex(
            req("title", String, "The canvas's title."),
            "Project documentation",
        ),
        ex(
            req(
                "documentContent",
                Object {
                    properties: &[
                        def(
                            "type",
                            Enum {
                                values: &["markdown"],
                            },
                            "\"markdown\"",
                            "The content's format.",
                        ),
                        req("markdown", String, "The content."),
                    ],
                },
                "The content: `type: markdown` and `markdown`.",
            ),
            "\n    type: markdown\n    markdown: '## Overview'",
        ),
        BASE_URL,
    ],
    outputs: &[("canvasId", "The canvas's ID.")],
    run: runner!(run::App(run::Op::CanvasCreate)),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::time::Duration;

    use futures::future::BoxFuture;
    use serde_json::{Map, Value, json};
    use tokio::io::AsyncWriteExt;

    use super::super::run::text;
    use super::super::slack::run::mrkdwn;
    use crate::base_url::BaseUrl;
    use crate::log::Level;
    use crate::storage::Storage;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// Conversation history pages (of 200) read at most: 200,000 messages.
    const MAX_PAGES: usize = 1000;

    #[derive(Clone, Copy)]
    pub(super) enum Op {
        Post,
        Create,
        Invite,
        SetTopic,
        History,
        ReactionAdd,
        CanvasCreate,
    }

    pub(super) struct App(pub(super) Op);

    impl Runner for App {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let slack = Slack::new(ctx)?;
                match self.0 {
                    Op::Post => {
                        let answer = slack.call(ctx, "chat.postMessage", post_body(ctx)?).await?;
                        Ok(outputs([("timestamp", answer["ts"].clone())]))
                    }
                    Op::Create => {
                        let mut body = json!({
                            "name": required(ctx, "name")?,
                            "is_private": ctx.flag("isPrivate", false)?,
                        });
                        if let Some(team) = text(ctx, "teamId")? {
                            body["team_id"] = json!(team);
                        }
                        let answer = slack.call(ctx, "conversations.create", body).await?;
                        Ok(conversation(&answer["channel"]))
                    }
                    Op::Invite => {
                        let body = json!({
                            "channel": required(ctx, "channel")?,
                            "users": users(ctx)?.join(","),
                        });
                        let answer = slack.call(ctx, "conversations.invite", body).await?;
                        Ok(conversation(&answer["channel"]))
                    }
                    Op::SetTopic => {
                        let body = json!({
                            "channel": required(ctx, "channel")?,
                            "topic": required(ctx, "topic")?,
                        });
                        let answer = slack.call(ctx, "conversations.setTopic", body).await?;
                        let topic = topic(&answer["channel"]["topic"]);
                        Ok(topic.as_object().cloned().unwrap_or_default())
                    }
                    Op::History => history(ctx, &slack).await,
                    Op::ReactionAdd => {
                        let body = json!({
                            "channel": required(ctx, "channel")?,
                            "name": required(ctx, "name")?,
                            "timestamp": timestamp(ctx, "timestamp")?
                                .ok_or_else(|| ctx.invalid("timestamp is missing"))?,
                        });
                        slack.call(ctx, "reactions.add", body).await?;
                        Ok(Outputs::new())
                    }
                    Op::CanvasCreate => {
                        let content = match ctx.prop("documentContent")? {
                            Value::Object(map) => map.clone(),
                            _ => {
                                return Err(ctx.invalid(
                                    "documentContent: give `type: markdown` and `markdown`",
                                ));
                            }
                        };
                        let body = json!({
                            "title": required(ctx, "title")?,
                            "document_content": {
                                "type": content.get("type").cloned().unwrap_or(json!("markdown")),
                                "markdown": content.get("markdown").cloned().unwrap_or(json!("")),
                            },
                        });
                        let answer = slack.call(ctx, "canvases.create", body).await?;
                        Ok(outputs([("canvasId", answer["canvas_id"].clone())]))
                    }
                }
            })
        }
    }

    /// A client for one task run: the host, the token, the deadlines.
    struct Slack {
        client: reqwest::Client,
        base: BaseUrl,
        token: String,
    }

    /// A call's arguments: JSON for the write methods, a form for the read
    /// ones (Slack takes JSON bodies only for write methods).
    enum Body {
        Json(Value),
        Form(Vec<(&'static str, String)>),
    }

    impl From<Value> for Body {
        fn from(value: Value) -> Self {
            Body::Json(value)
        }
    }

    impl Slack {
        fn new(ctx: &TaskContext) -> Result<Self, TaskError> {
            let token = required(ctx, "token")?;
            let base = match text(ctx, "baseUrl")? {
                Some(url) if !url.trim().is_empty() => url,
                _ => "https://slack.com".to_owned(),
            };
            let base = BaseUrl::parse(&base).map_err(|e| ctx.invalid(format!("`baseUrl`: {e}")))?;
            let client = crate::http::client_builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| {
                    TaskError::Failed(format!("the HTTP client could not be set up: {e}"))
                })?;
            Ok(Self {
                client,
                base,
                token,
            })
        }

        /// Calls `method`; its answer when Slack says `ok`, else the task
        /// fails naming Slack's error (and the scope it lacks, if that is it).
        async fn call(
            &self,
            ctx: &TaskContext,
            method: &str,
            body: impl Into<Body>,
        ) -> Result<Value, TaskError> {
            let url = self
                .base
                .join(["api", method])
                .map_err(|e| ctx.invalid(format!("`baseUrl`: {e}")))?;
            let request = self.client.post(url).bearer_auth(&self.token);
            let request = match body.into() {
                Body::Json(json) => request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/json; charset=utf-8",
                    )
                    .body(json.to_string()),
                Body::Form(pairs) => request.form(&pairs),
            };
            ctx.log(Level::Debug, format!("calling Slack's {method}"))
                .await;
            let response = tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(TaskError::Killed),
                response = request.send() => response,
            }
            .map_err(|e| {
                TaskError::Failed(format!(
                    "Slack's {method} could not be reached: {}",
                    e.without_url()
                ))
            })?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let answer = response.text().await.map_err(|e| {
                TaskError::Failed(format!(
                    "Slack's {method} answer could not be read: {}",
                    e.without_url()
                ))
            })?;
            if !status.is_success() {
                let mut message = format!("Slack's {method} answered {}", status.as_u16());
                if let Some(seconds) = retry_after {
                    message.push_str(&format!(" (rate limited: retry after {seconds}s)"));
                }
                let excerpt: String = answer.chars().take(500).collect();
                if !excerpt.trim().is_empty() {
                    message.push_str(&format!(": {excerpt}"));
                }
                return Err(TaskError::Failed(ctx.mask(&message)));
            }
            let answer: Value = serde_json::from_str(&answer)
                .map_err(|_| TaskError::Failed(format!("Slack's {method} did not answer JSON")))?;
            if let Some(warning) = answer["warning"].as_str() {
                ctx.log(
                    Level::Warn,
                    ctx.mask(&format!("Slack's {method} warns: {warning}")),
                )
                .await;
            }
            if answer["ok"] != Value::Bool(true) {
                let error = answer["error"].as_str().unwrap_or("unknown_error");
                let mut message = format!("Slack refused {method}: {error}");
                if let Some(needed) = answer["needed"].as_str() {
                    message.push_str(&format!(" (it needs the scope {needed}"));
                    if let Some(provided) = answer["provided"].as_str() {
                        message.push_str(&format!("; the token has {provided}"));
                    }
                    message.push(')');
                }
                return Err(TaskError::Failed(ctx.mask(&message)));
            }
            Ok(answer)
        }
    }

    /// chat.postMessage's arguments, as Kestra's Post builds them.
    fn post_body(ctx: &TaskContext) -> Result<Value, TaskError> {
        let message: Map<String, Value> = match (text(ctx, "payload")?, text(ctx, "messageText")?) {
            (Some(payload), _) => match serde_json::from_str(&payload) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(ctx.invalid("payload is not a JSON object")),
                Err(e) => return Err(ctx.invalid(format!("payload is not JSON: {e}"))),
            },
            (None, Some(message)) => match serde_json::from_str(&message) {
                Ok(Value::Object(map)) => map,
                _ => Map::from_iter([("text".to_owned(), json!(mrkdwn(&message)))]),
            },
            (None, None) => {
                return Err(ctx.invalid("give the message as `messageText` or `payload`"));
            }
        };
        let mut body = Map::new();
        for (key, property) in [
            ("channel", "channel"),
            ("thread_ts", "timestamp"),
            ("icon_emoji", "iconEmoji"),
            ("icon_url", "iconUrl"),
            ("username", "username"),
        ] {
            let value = match message.get(key) {
                Some(value) => Some(value.clone()),
                None if key == "thread_ts" => timestamp(ctx, property)?.map(Value::String),
                None => text(ctx, property)?.map(Value::String),
            };
            if let Some(value) = value {
                body.insert(key.to_owned(), value);
            }
        }
        if !body.contains_key("channel") {
            return Err(ctx.invalid("channel is missing (set it, or `channel` in the payload)"));
        }
        // The fields Kestra passes on; others in the JSON are dropped, as
        // there.
        for key in [
            "text",
            "blocks",
            "attachments",
            "reply_broadcast",
            "unfurl_links",
            "unfurl_media",
            "mrkdwn",
            "metadata",
        ] {
            if let Some(value) = message.get(key) {
                body.insert(key.to_owned(), value.clone());
            }
        }
        Ok(Value::Object(body))
    }

    /// Every page of a channel's history into one Ion file.
    async fn history(ctx: &TaskContext, slack: &Slack) -> Result<Outputs, TaskError> {
        let mut form = vec![
            ("channel", required(ctx, "channel")?),
            ("limit", "200".to_owned()),
            ("inclusive", ctx.flag("inclusive", false)?.to_string()),
        ];
        for name in ["oldest", "latest"] {
            if let Some(ts) = timestamp(ctx, name)? {
                form.push((name, ts));
            }
        }
        let uri = Storage::execution_uri(
            &ctx.namespace,
            &ctx.flow_id,
            &ctx.execution_id,
            &format!("{}-{}.ion", ctx.task_id, ctx.task_run_id),
        );
        let path = ctx.storage.path_of(&uri)?;
        let io = |e: std::io::Error| TaskError::Failed(format!("writing {uri}: {e}"));
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
        let mut size = 0u64;
        let mut cursor: Option<String> = None;
        for page in 0.. {
            if page == MAX_PAGES {
                return Err(TaskError::Failed(format!(
                    "the history has more than {MAX_PAGES} pages of 200 messages; narrow it with `oldest` and `latest`"
                )));
            }
            let mut args = form.clone();
            if let Some(cursor) = &cursor {
                args.push(("cursor", cursor.clone()));
            }
            let answer = slack
                .call(ctx, "conversations.history", Body::Form(args))
                .await?;
            let mut lines = String::new();
            for message in answer["messages"].as_array().into_iter().flatten() {
                let fields = message_output(message);
                lines.push_str(&crate::flow::pebble::convert::ion_struct(
                    fields.iter().map(|(k, v)| (*k, v)),
                ));
                lines.push('\n');
                size += 1;
            }
            file.write_all(lines.as_bytes()).await.map_err(io)?;
            let next = answer["response_metadata"]["next_cursor"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(str::to_owned);
            // A cursor Slack gives twice would loop forever; Kestra stops there too.
            if next.is_none() || next == cursor {
                break;
            }
            cursor = next;
        }
        file.flush().await.map_err(io)?;
        // `uri`, `size` and the `records` counter, as the serdes tasks give.
        crate::task::serdes::run::done(ctx, uri, size).await
    }

    /// Kestra's MessageOutput of one message, its fields in Kestra's order;
    /// absent ones are left out (Kestra's mapper drops nulls) and its
    /// flags are false when Slack leaves them out.
    fn message_output(m: &Value) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        let mut put = |name: &'static str, value: Option<Value>| {
            if let Some(value) = value.filter(|v| !v.is_null()) {
                out.push((name, value));
            }
        };
        let field = |key: &str| m.get(key).cloned();
        let flag = |key: &str| Some(json!(m[key].as_bool().unwrap_or(false)));
        put("type", field("type"));
        put("subtype", field("subtype"));
        put("team", field("team"));
        put("channel", field("channel"));
        put("user", field("user"));
        put("username", field("username"));
        put("text", field("text"));
        let mut payload = Map::new();
        for key in ["blocks", "attachments"] {
            if let Some(value) = m.get(key).filter(|v| !v.is_null()) {
                payload.insert(key.to_owned(), value.clone());
            }
        }
        put(
            "payload",
            (!payload.is_empty()).then_some(Value::Object(payload)),
        );
        put(
            "timestamp",
            m["ts"].as_str().and_then(iso_of_ts).map(Value::String),
        );
        put("threadTimestamp", field("thread_ts"));
        put("isIntro", flag("is_intro"));
        put("isStarred", flag("is_starred"));
        put("pinnedTo", field("pinned_to"));
        put(
            "reactions",
            m["reactions"].as_array().map(|reactions| {
                reactions
                    .iter()
                    .map(|r| {
                        let mut reaction = Map::new();
                        for key in ["name", "count", "users", "url"] {
                            if let Some(value) = r.get(key).filter(|v| !v.is_null()) {
                                reaction.insert(key.to_owned(), value.clone());
                            }
                        }
                        Value::Object(reaction)
                    })
                    .collect()
            }),
        );
        put("appId", field("app_id"));
        put("botId", field("bot_id"));
        put("botLink", field("bot_link"));
        put("isDisplayAsBot", flag("display_as_bot"));
        // Files as Slack gives them (Kestra renames their fields).
        put("file", field("file"));
        put("files", field("files"));
        put("isUpload", flag("upload"));
        put("parentUserId", field("parent_user_id"));
        put("inviter", field("inviter"));
        put("clientMsgId", field("client_msg_id"));
        put("topic", field("topic"));
        put("purpose", field("purpose"));
        put(
            "edited",
            m.get("edited")
                .filter(|e| e.is_object())
                .map(|e| json!({"user": e["user"], "timestamp": e["ts"]})),
        );
        put("isUnfurlLinks", flag("unfurl_links"));
        put("isUnfurlMedia", flag("unfurl_media"));
        put("isThreadBroadcast", flag("is_thread_broadcast"));
        put("isLocked", flag("is_locked"));
        put("replyCount", field("reply_count"));
        put("replyUsers", field("reply_users"));
        put("replyUsersCount", field("reply_users_count"));
        put("latestReply", field("latest_reply"));
        put("isSubscribed", flag("subscribed"));
        put("xFiles", field("x_files"));
        put("isHidden", flag("hidden"));
        put("lastRead", field("last_read"));
        put("itemType", field("item_type"));
        put("isNoNotifications", flag("no_notifications"));
        out
    }

    /// Kestra's ConversationOutput of a channel Slack gives.
    fn conversation(channel: &Value) -> Outputs {
        let flag = |key: &str| json!(channel[key].as_bool().unwrap_or(false));
        let mut out = outputs([
            ("id", channel["id"].clone()),
            ("name", channel["name"].clone()),
            ("isPrivate", flag("is_private")),
            ("isChannel", flag("is_channel")),
            ("isGroup", flag("is_group")),
            ("isInstantMessage", flag("is_im")),
            ("isMultiPersonInstantMessage", flag("is_mpim")),
            (
                "created",
                channel["created"]
                    .as_i64()
                    .and_then(|s| jiff::Timestamp::from_second(s).ok())
                    .map_or(Value::Null, |t| json!(t.to_string())),
            ),
            ("isArchived", flag("is_archived")),
            ("isGeneral", flag("is_general")),
            ("topic", topic(&channel["topic"])),
            ("purpose", topic(&channel["purpose"])),
        ]);
        out.retain(|_, v| !v.is_null());
        out
    }

    /// Kestra's ConversationTopicOutput: `value`, `creator`, `lastSet`.
    fn topic(topic: &Value) -> Value {
        if !topic.is_object() {
            return Value::Null;
        }
        json!({
            "value": topic["value"],
            "creator": topic["creator"],
            "lastSet": topic["last_set"],
        })
    }

    fn outputs<const N: usize>(fields: [(&str, Value); N]) -> Outputs {
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// A text property that must be there.
    fn required(ctx: &TaskContext, name: &str) -> Result<String, TaskError> {
        text(ctx, name)?
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ctx.invalid(format!("{name} is missing")))
    }

    /// Invite's `users`: a list, or a rendered text (a JSON list, or IDs
    /// separated by commas).
    fn users(ctx: &TaskContext) -> Result<Vec<String>, TaskError> {
        let list = match ctx.prop("users")? {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            Value::String(s) => match serde_json::from_str::<Vec<String>>(s) {
                Ok(list) => list,
                Err(_) => s.split(',').map(|u| u.trim().to_owned()).collect(),
            },
            _ => Vec::new(),
        };
        let list: Vec<String> = list.into_iter().filter(|u| !u.is_empty()).collect();
        if list.is_empty() {
            return Err(ctx.invalid("users: name at least one user ID"));
        }
        Ok(list)
    }

    /// A timestamp property in Slack's `ts` spelling: Kestra reads these
    /// as an Instant, from a date or from a `ts`.
    fn timestamp(ctx: &TaskContext, name: &str) -> Result<Option<String>, TaskError> {
        match text(ctx, name)?.filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(text) => slack_ts(&text).map(Some).ok_or_else(|| {
                ctx.invalid(format!(
                    "{name}: {text:?} is neither an ISO-8601 date nor a Slack `ts`"
                ))
            }),
        }
    }

    /// `1503435956.000247` as it is (its fraction made six digits), or an
    /// ISO-8601 date as seconds and microseconds. Kestra writes a date with
    /// no microseconds as bare seconds; Slack takes both, and a message's
    /// `ts` always has six digits, so Mortar always writes them.
    pub(super) fn slack_ts(text: &str) -> Option<String> {
        let text = text.trim();
        let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
        if !seconds.is_empty()
            && seconds.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
        {
            let micros: String = fraction.chars().chain("000000".chars()).take(6).collect();
            return Some(format!("{seconds}.{micros}"));
        }
        let instant = text.parse::<jiff::Timestamp>().ok()?;
        Some(format!(
            "{}.{:06}",
            instant.as_second(),
            instant.subsec_microsecond()
        ))
    }

    /// A message's `ts` as the ISO-8601 instant Kestra gives.
    fn iso_of_ts(ts: &str) -> Option<String> {
        let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, "0"));
        let micros: String = fraction.chars().chain("000000".chars()).take(6).collect();
        let t =
            jiff::Timestamp::new(seconds.parse().ok()?, micros.parse::<i32>().ok()? * 1000).ok()?;
        Some(t.to_string())
    }

    #[cfg(test)]
    mod tests {
        use super::{iso_of_ts, slack_ts};

        fn check(input: &str, expected: Option<&str>) {
            assert_eq!(slack_ts(input).as_deref(), expected, "{input}");
        }

        #[test]
        fn timestamps_in_slacks_spelling() {
            check("1503435956.000247", Some("1503435956.000247"));
            check("1503435956", Some("1503435956.000000"));
            check("2017-08-22T21:05:56.000247Z", Some("1503435956.000247"));
            check("2017-08-22T23:05:56+02:00", Some("1503435956.000000"));
            check("yesterday", None);
            assert_eq!(
                iso_of_ts("1503435956.000247").as_deref(),
                Some("2017-08-22T21:05:56.000247Z")
            );
        }
    }
}
