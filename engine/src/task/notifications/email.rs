//! Kestra's `io.kestra.plugin.email` package (formerly
//! `io.kestra.plugin.notifications.mail`): an email over SMTP, as written
//! or as a summary of an execution.

use super::{CUSTOM_FIELDS, CUSTOM_MESSAGE, EXECUTION_ID};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};

/// The SMTP server's properties and the message's, shared by both tasks.
macro_rules! mail_properties {
    ($($extra:expr),* $(,)?) => {
        &[
            ex(req("host", String, "The SMTP server."), "smtp.resend.com"),
            prop("port", Integer, "Its port: 465 for SMTPS, 587 for SMTP_TLS, 25 for SMTP by default."),
            prop("username", String, "The login, if the server asks for one."),
            prop("password", String, "The password; use secret('...')."),
            def(
                "transportStrategy",
                Enum { values: &["SMTP", "SMTPS", "SMTP_TLS", "SMTP_OAUTH2"] },
                "\"SMTPS\"",
                "SMTPS (TLS from the start), SMTP_TLS (STARTTLS, required) or SMTP (no TLS).",
            ),
            def("sessionTimeout", Integer, "10000", "Milliseconds to wait for the server."),
            def("verifyServerIdentity", Boolean, "true", "Check the server's certificate and name."),
            prop("trustedHosts", StringList, "Hosts whose certificate is trusted unchecked."),
            ex(req("from", String, "The sender's address."), "alerts@company.com"),
            ex(req("to", Any, "The recipients: an address, several separated by commas, or a list."), "data-team@company.com"),
            prop("cc", Any, "Copied recipients, as `to`."),
            prop("subject", String, "The subject."),
            prop("plainTextContent", String, "The text body (the HTML body's fallback)."),
            prop("attachments", Any, "Files from internal storage: a list of `{name, uri, contentType}` (or that list as JSON)."),
            prop("embeddedImages", Any, "Images the HTML shows, as `attachments`, by `cid:` name."),
            $($extra,)*
        ]
    };
}

const HTML: Property = prop("htmlTextContent", String, "The HTML body.");

pub const MAIL_SEND: TaskType = TaskType {
    name: "io.kestra.plugin.email.MailSend",
    alias: "email.MailSend",
    category: Category::Task,
    doc: "Sends an email over SMTP: HTML and text bodies, attachments from internal storage.",
    properties: mail_properties!(HTML),
    outputs: &[],
    run: runner!(run::MailSend { summary: false }),
    check: None,
    aliases: &["io.kestra.plugin.notifications.mail.MailSend"],
};

pub const MAIL_EXECUTION: TaskType = TaskType {
    name: "io.kestra.plugin.email.MailExecution",
    alias: "email.MailExecution",
    category: Category::Task,
    doc: "Emails a summary of an execution (its flow, state, duration, the task it failed on, a link to its page with --url).",
    properties: mail_properties!(
        EXECUTION_ID,
        CUSTOM_FIELDS,
        CUSTOM_MESSAGE,
        prop(
            "htmlTextContent",
            String,
            "Accepted; the summary replaces it, as in Kestra."
        ),
    ),
    outputs: &[],
    run: runner!(run::MailSend { summary: true }),
    check: None,
    aliases: &["io.kestra.plugin.notifications.mail.MailExecution"],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    use serde_json::Value;

    use super::super::run::{facts, summary, text};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct MailSend {
        pub summary: bool,
    }

    /// Addresses from a text (commas or semicolons between them) or a list.
    fn addresses(ctx: &TaskContext, name: &str) -> Result<Vec<Mailbox>, TaskError> {
        let texts: Vec<String> = match ctx.prop(name)? {
            Value::Null => Vec::new(),
            Value::String(s) => s.split([',', ';']).map(str::to_owned).collect(),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect(),
            other => {
                return Err(
                    ctx.invalid(format!("{name}: an address or a list of them, not {other}"))
                );
            }
        };
        texts
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<Mailbox>()
                    .map_err(|e| ctx.invalid(format!("{name}: {t:?} is not an email address: {e}")))
            })
            .collect()
    }

    /// `{name, uri, contentType}` items, from a list or its JSON.
    fn files(ctx: &TaskContext, name: &str) -> Result<Vec<(String, String, String)>, TaskError> {
        let value = match ctx.prop(name)? {
            Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
            Value::String(s) => serde_json::from_str(s).map_err(|e| {
                ctx.invalid(format!(
                    "{name}: not a list of {{name, uri, contentType}}: {e}"
                ))
            })?,
            other => other.clone(),
        };
        let items = match value {
            Value::Null => return Ok(Vec::new()),
            Value::Array(items) => items,
            one @ Value::Object(_) => vec![one],
            other => {
                return Err(ctx.invalid(format!(
                    "{name}: a list of {{name, uri, contentType}}, not {other}"
                )));
            }
        };
        items
            .iter()
            .map(|item| {
                let field = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
                match (field("name"), field("uri")) {
                    (Some(n), Some(u)) => Ok((
                        n,
                        u,
                        field("contentType").unwrap_or_else(|| "application/octet-stream".into()),
                    )),
                    _ => Err(ctx.invalid(format!("{name}: each item needs a name and a uri"))),
                }
            })
            .collect()
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    impl Runner for MailSend {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let from = addresses(ctx, "from")?
                    .into_iter()
                    .next()
                    .ok_or_else(|| ctx.invalid("from: the sender's address is missing"))?;
                let to = addresses(ctx, "to")?;
                if to.is_empty() {
                    return Err(ctx.invalid("to: give at least one recipient"));
                }
                let mut builder = Message::builder().from(from);
                for mailbox in to {
                    builder = builder.to(mailbox);
                }
                for mailbox in addresses(ctx, "cc")? {
                    builder = builder.cc(mailbox);
                }
                let (subject, html) = if self.summary {
                    let s = summary(ctx).await?;
                    let mut html = String::new();
                    if let Some(message) = &s.custom_message {
                        html.push_str(&format!("<p>{}</p>", escape(message)));
                    }
                    let title = escape(&s.title());
                    match &s.link {
                        Some(link) => html.push_str(&format!(
                            "<h2><a href=\"{}\">{title}</a></h2>",
                            escape(link)
                        )),
                        None => html.push_str(&format!("<h2>{title}</h2>")),
                    }
                    html.push_str(&format!("<p>{}</p><table>", escape(&s.outcome())));
                    for (name, value) in facts(&s) {
                        let value = match value {
                            Value::String(t) => t,
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        html.push_str(&format!(
                            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                            escape(&name),
                            escape(&value)
                        ));
                    }
                    html.push_str("</table>");
                    let subject =
                        text(ctx, "subject")?.unwrap_or_else(|| format!("Kestra {}", s.title()));
                    (Some(subject), Some(html))
                } else {
                    (text(ctx, "subject")?, text(ctx, "htmlTextContent")?)
                };
                if let Some(subject) = subject {
                    builder = builder.subject(subject);
                }
                let plain = text(ctx, "plainTextContent")?.unwrap_or_else(|| {
                    "Please view this email in a modern email client".to_owned()
                });
                let body = match html {
                    Some(html) => MultiPart::alternative_plain_html(plain, html),
                    None => MultiPart::alternative().singlepart(SinglePart::plain(plain)),
                };
                let attachments = files(ctx, "attachments")?;
                let images = files(ctx, "embeddedImages")?;
                let message = if attachments.is_empty() && images.is_empty() {
                    builder.multipart(body)
                } else {
                    let mut mixed = MultiPart::mixed().multipart(body);
                    for ((name, uri, content_type), inline) in attachments
                        .into_iter()
                        .map(|a| (a, false))
                        .chain(images.into_iter().map(|i| (i, true)))
                    {
                        let (mut reader, _) = ctx.storage.open(&uri).await?;
                        let mut bytes = Vec::new();
                        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
                            .await
                            .map_err(|e| TaskError::Failed(format!("attachment {name}: {e}")))?;
                        let kind = ContentType::parse(&content_type).map_err(|_| {
                            ctx.invalid(format!(
                                "attachment {name}: {content_type:?} is not a content type"
                            ))
                        })?;
                        let part = if inline {
                            Attachment::new_inline(name).body(bytes, kind)
                        } else {
                            Attachment::new(name).body(bytes, kind)
                        };
                        mixed = mixed.singlepart(part);
                    }
                    builder.multipart(mixed)
                }
                .map_err(|e| ctx.invalid(format!("the email cannot be built: {e}")))?;

                let host = text(ctx, "host")?
                    .filter(|h| !h.trim().is_empty())
                    .ok_or_else(|| ctx.invalid("host: the SMTP server is missing"))?;
                let strategy = text(ctx, "transportStrategy")?
                    .unwrap_or_else(|| "SMTPS".into())
                    .to_ascii_uppercase();
                let verify = !matches!(ctx.prop("verifyServerIdentity")?, Value::Bool(false));
                let trusted: Vec<String> = match ctx.prop("trustedHosts")? {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                };
                let tls = || -> Result<TlsParameters, TaskError> {
                    TlsParameters::builder(host.clone())
                        .dangerous_accept_invalid_certs(
                            !verify || trusted.iter().any(|t| t == &host || t == "*"),
                        )
                        .dangerous_accept_invalid_hostnames(!verify)
                        .build()
                        .map_err(|e| {
                            TaskError::Failed(format!("TLS for {host} cannot be set up: {e}"))
                        })
                };
                let (tls, default_port) = match strategy.as_str() {
                    "SMTP" => (Tls::None, 25),
                    "SMTP_TLS" => (Tls::Required(tls()?), 587),
                    "SMTPS" => (Tls::Wrapper(tls()?), 465),
                    other => {
                        return Err(ctx.invalid(format!(
                            "transportStrategy {other}: Mortar sends with SMTP, SMTPS or SMTP_TLS"
                        )));
                    }
                };
                let port = match ctx.prop("port")? {
                    Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => Some(default_port),
                }
                .ok_or_else(|| ctx.invalid("port: a port number"))?;
                let timeout = match ctx.prop("sessionTimeout")? {
                    Value::Number(n) => n.as_u64().unwrap_or(10_000),
                    _ => 10_000,
                };
                let mut transport =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
                        .port(port)
                        .tls(tls)
                        .timeout(Some(std::time::Duration::from_millis(timeout)));
                if let Some(user) = text(ctx, "username")?.filter(|u| !u.is_empty()) {
                    transport = transport.credentials(Credentials::new(
                        user,
                        text(ctx, "password")?.unwrap_or_default(),
                    ));
                }
                transport.build().send(message).await.map_err(|e| {
                    TaskError::Failed(ctx.mask(&format!(
                        "the email could not be sent through {host}:{port}: {e}"
                    )))
                })?;
                ctx.info(format!("sent through {host}:{port}")).await;
                Ok(Outputs::new())
            })
        }
    }
}
