//! `zerobus.WriteRecords`: records pushed into a Unity Catalog table
//! through Zerobus Ingest's REST API (`POST …/zerobus/v1/tables/{table}/insert`,
//! a JSON array), inline or from an Ion or JSON-lines file, 500 records or
//! 4 MiB a request; a personal access token, or an OAuth token minted for
//! the table (one refresh on a 401). At least once: a failure says how
//! many records were accepted before it.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, prop, req, runner};

use super::databricks;

pub const WRITE_RECORDS: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.zerobus.WriteRecords",
    alias: "databricks.zerobus.WriteRecords",
    category: Category::Task,
    doc: "Pushes records into a Unity Catalog Delta table through Zerobus Ingest's REST API: `records` inline, or `from` an Ion or JSON-lines file; at least once.",
    properties: databricks![
        ex(req("catalog", String, "The table's catalog."), "main"),
        ex(req("schema", String, "The table's schema."), "events"),
        ex(req("table", String, "The Delta table."), "user_events"),
        prop("workspaceId", String, "The workspace's numeric id: the Zerobus host and the OAuth token's resource."),
        prop("region", String, "The cloud region of the Zerobus host (unless `endpoint` is set)."),
        prop("endpoint", String, "Zerobus Ingest's URL, instead of https://<workspaceId>.zerobus.<region>.cloud.databricks.com."),
        prop("records", Any, "The records, a list of mappings (not with `from`)."),
        prop("from", String, "An Ion or JSON-lines file of records in internal storage (not with `records`)."),
    ],
    outputs: &[("recordsCount", "The records Zerobus accepted.")],
    run: runner!(|env| run::WriteRecords(env.databricks.clone())),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use futures::future::BoxFuture;
    use serde_json::{Map, Value, json};

    use crate::task::databricks::run::Databricks;
    use crate::task::{Outputs, Runner, TaskContext, TaskError, value_text};

    const MAX_RECORDS: usize = 500;
    const MAX_BYTES: usize = 4 * 1024 * 1024;

    pub(super) struct WriteRecords(pub(super) Arc<Databricks>);


    /// How requests are signed: a PAT, or an OAuth client whose token is
    /// minted (and refreshed) for the table.
    enum Sign {
        Token(String),
        OAuth {
            token_url: String,
            client_id: String,
            secret: String,
            form: Vec<(&'static str, String)>,
            token: Option<(String, Instant)>,
        },
    }

    impl Sign {
        async fn bearer(&mut self, ctx: &TaskContext, refresh: bool) -> Result<String, TaskError> {
            let (token_url, client_id, secret, form, token) = match self {
                Sign::Token(token) => return Ok(token.clone()),
                Sign::OAuth { token_url, client_id, secret, form, token } => (token_url, client_id, secret, form, token),
            };
            if !refresh && let Some((value, expires)) = token.as_ref().filter(|(_, e)| Instant::now() + Duration::from_secs(60) < *e) {
                let _ = expires;
                return Ok(value.clone());
            }
            let response = crate::http::client()
                .post(token_url.as_str())
                .basic_auth(client_id.as_str(), Some(secret.as_str()))
                .form(&*form)
                .send()
                .await
                .map_err(|e| TaskError::Failed(format!("Failed to obtain an OAuth token from {token_url}: {e}")))?;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if !status.is_success() {
                return Err(TaskError::Failed(format!(
                    "Failed to obtain an OAuth token from {token_url} (HTTP {}): {}. Check clientId and clientSecret.",
                    status.as_u16(),
                    ctx.mask(&body.chars().take(500).collect::<String>())
                )));
            }
            let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let value = answer["access_token"]
                .as_str()
                .ok_or_else(|| TaskError::Failed(format!("Failed to obtain an OAuth token from {token_url}: access_token missing in response.")))?
                .to_owned();
            let lasts = answer["expires_in"].as_u64().or_else(|| answer["expires_in"].as_str()?.parse().ok()).unwrap_or(3600);
            *token = Some((value.clone(), Instant::now() + Duration::from_secs(lasts)));
            Ok(value)
        }
    }

    impl Runner for WriteRecords {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let p = |name: &str| ctx.text(name);
                let records = ctx.prop("records")?.clone();
                let from = p("from")?;
                match (records.is_null(), &from) {
                    (false, Some(_)) => return Err(ctx.invalid("Set either 'records' or 'from', not both.")),
                    (true, None) => return Err(ctx.invalid("Set 'records' for inline data or 'from' for a Kestra internal storage URI.")),
                    _ => {}
                }
                let endpoint = p("endpoint")?;
                let region = p("region")?;
                if endpoint.is_none() && region.is_none() {
                    return Err(ctx.invalid("Either 'endpoint' or 'region' must be set to determine the Zerobus Ingest server."));
                }
                let required = |name: &str| p(name)?.ok_or_else(|| ctx.invalid(format!("`{name}` is required")));
                let (catalog, schema, table) = (required("catalog")?, required("schema")?, required("table")?);
                let workspace = p("workspaceId")?;
                let auth = ctx.prop("authentication")?;
                let (token, client, secret) = (
                    value_text(&auth["token"]),
                    value_text(&auth["clientId"]),
                    value_text(&auth["clientSecret"]),
                );
                let host = p("host")?.map(|h| h.trim_end_matches('/').to_owned());
                let base = match (&endpoint, &workspace, &region) {
                    (Some(endpoint), _, _) => endpoint.trim_end_matches('/').to_owned(),
                    (None, Some(workspace), Some(region)) => format!("https://{workspace}.zerobus.{region}.cloud.databricks.com"),
                    _ => return Err(ctx.invalid("workspaceId is required when endpoint is not set.")),
                };
                let base_url = crate::base_url::BaseUrl::parse(&base).map_err(|e| ctx.invalid(format!("endpoint: {e}")))?;
                self.0.check_host(&base_url).map_err(|message| ctx.invalid(message))?;
                // Without credentials: the default connection's token, when
                // Zerobus is served by its own workspace.
                let token = token.or_else(|| self.0.default_token_for(&base_url));
                let mut sign = match (token, client, secret) {
                    (Some(token), _, _) => Sign::Token(token),
                    (None, Some(client_id), Some(secret)) => {
                        let workspace = workspace.clone().ok_or_else(|| ctx.invalid("workspaceId is required when using OAuth authentication."))?;
                        let host = host.clone().ok_or_else(|| ctx.invalid("host is required when using OAuth authentication."))?;
                        let details = json!([
                            {"type": "unity_catalog_privileges", "privileges": ["USE CATALOG"], "object_type": "CATALOG", "object_full_path": catalog},
                            {"type": "unity_catalog_privileges", "privileges": ["USE SCHEMA"], "object_type": "SCHEMA", "object_full_path": format!("{catalog}.{schema}")},
                            {"type": "unity_catalog_privileges", "privileges": ["SELECT", "MODIFY"], "object_type": "TABLE", "object_full_path": format!("{catalog}.{schema}.{table}")},
                        ]);
                        Sign::OAuth {
                            token_url: format!("{host}/oidc/v1/token"),
                            client_id,
                            secret,
                            form: vec![
                                ("grant_type", "client_credentials".into()),
                                ("scope", "all-apis".into()),
                                ("resource", format!("api://databricks/workspaces/{workspace}/zerobusDirectWriteApi")),
                                ("authorization_details", details.to_string()),
                            ],
                            token: None,
                        }
                    }
                    _ => {
                        return Err(ctx.invalid(
                            "Zerobus Ingest REST requires either a personal access token (authentication.token) or OAuth client credentials (authentication.clientId + authentication.clientSecret). Other authentication types are not supported.",
                        ));
                    }
                };
                let encode = |part: &str| percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC).to_string();
                let url = format!("{base}/zerobus/v1/tables/{}.{}.{}/insert", encode(&catalog), encode(&schema), encode(&table));

                // The records, a chunk at a time.
                let all: Vec<Value> = match from {
                    None => match records {
                        Value::Array(items) => items,
                        Value::String(s) => serde_json::from_str(&s).map_err(|e| ctx.invalid(format!("records: {e}")))?,
                        other => return Err(ctx.invalid(format!("records is a list of mappings, not {other}"))),
                    },
                    Some(uri) => {
                        let (file, _) = ctx.storage.open(&uri).await?;
                        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(file));
                        let mut items = Vec::new();
                        let mut n = 0usize;
                        while let Some(line) = lines.next_line().await.map_err(|e| TaskError::Failed(format!("reading {uri}: {e}")))? {
                            if line.trim().is_empty() {
                                continue;
                            }
                            n += 1;
                            let (value, fields) = crate::flow::pebble::convert::ion_fields(&line)
                                .map_err(|e| TaskError::Failed(format!("Failed to parse record {n}: {e}")))?;
                            items.push(match fields {
                                Some(fields) => Value::Object(fields.into_iter().collect::<Map<_, _>>()),
                                None => value,
                            });
                        }
                        items
                    }
                };
                let mut accepted = 0usize;
                let mut chunk: Vec<Value> = Vec::new();
                let mut bytes = 0usize;
                let mut chunks: Vec<Vec<Value>> = Vec::new();
                for (i, record) in all.into_iter().enumerate() {
                    if !record.is_object() {
                        return Err(ctx.invalid(format!("Record {} is not an object.", i + 1)));
                    }
                    let size = record.to_string().len();
                    if !chunk.is_empty() && (chunk.len() >= MAX_RECORDS || bytes + size > MAX_BYTES) {
                        chunks.push(std::mem::take(&mut chunk));
                        bytes = 0;
                    }
                    bytes += size;
                    chunk.push(record);
                }
                if !chunk.is_empty() {
                    chunks.push(chunk);
                }
                let oauth = matches!(sign, Sign::OAuth { .. });
                for chunk in chunks {
                    if ctx.cancel.is_cancelled() {
                        return Err(TaskError::Killed);
                    }
                    let mut refreshed = false;
                    loop {
                        let bearer = sign.bearer(ctx, refreshed).await?;
                        let response = crate::http::client()
                            .post(&url)
                            .bearer_auth(bearer)
                            .json(&chunk)
                            .send()
                            .await
                            .map_err(|e| TaskError::Failed(format!("Zerobus Ingest at {url} cannot be reached: {e}. {accepted} records in prior chunks were already accepted (at-least-once delivery).")))?;
                        let status = response.status().as_u16();
                        if (200..300).contains(&status) {
                            accepted += chunk.len();
                            break;
                        }
                        let body: String = response.text().await.unwrap_or_default().chars().take(500).collect();
                        let body = ctx.mask(&body);
                        let prior = format!("{accepted} records in prior chunks were already accepted (at-least-once delivery).");
                        return Err(TaskError::Failed(match status {
                            401 if oauth && !refreshed => {
                                refreshed = true;
                                continue;
                            }
                            401 if oauth => format!("Zerobus Ingest returned a 401 Unauthorized even after refreshing the OAuth token. {prior}"),
                            403 | 404 => format!(
                                "Zerobus Ingest rejected the request (HTTP {status}): {body}. Check that the table {catalog}.{schema}.{table} exists and that the principal has USE CATALOG, USE SCHEMA, SELECT and MODIFY on it. {prior}"
                            ),
                            400..=499 => format!("Zerobus Ingest rejected the request (HTTP {status}): {body}. {prior}"),
                            _ => format!("Zerobus Ingest returned a server error (HTTP {status}): {body}. The request may be retried. {prior}"),
                        }));
                    }
                }
                ctx.info(format!("Wrote {accepted} record(s) to {catalog}.{schema}.{table} through Zerobus Ingest")).await;
                let mut out = Outputs::new();
                out.insert("recordsCount".into(), json!(accepted));
                Ok(out)
            })
        }
    }
}
