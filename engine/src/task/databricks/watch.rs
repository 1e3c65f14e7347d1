//! The Databricks triggers that watch for new things: `dbfs.Trigger` (files
//! under a DBFS or volume path) and `unitycatalog.table.Trigger` (tables of
//! a schema). The scheduler polls them every `interval` (polling.rs); each
//! poll is one listing, compared with what the trigger saw before, kept as
//! Kestra keeps it: a JSON list of `{uri, version, modifiedAt, lastSeenAt}`
//! in the flow namespace's KV store under `stateKey`, so a file or a table
//! fires once, across restarts, until it changes (UPDATE) or disappears
//! and comes back. One execution starts for everything found in a poll.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req, runner};
use crate::task::jdbc::{CONDITIONS, INPUTS, STOP_AFTER};

use super::databricks;

const ON: Property = Property {
    default: Some("\"CREATE_OR_UPDATE\""),
    ..prop(
        "on",
        Enum {
            values: &["CREATE", "UPDATE", "CREATE_OR_UPDATE"],
        },
        "CREATE: only what is new; UPDATE: only what changed since the last poll; CREATE_OR_UPDATE: either.",
    )
};
const STATE_KEY: Property = prop(
    "stateKey",
    String,
    "The KV key (in the flow's namespace) of what the trigger saw; `<namespace>_<flowId>_<triggerId>` by default.",
);
const STATE_TTL: Property = prop(
    "stateTtl",
    Duration,
    "Forget what was seen this long after it last changed (it fires again as new); kept forever by default.",
);

pub const DBFS_TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.dbfs.Trigger",
    alias: "databricks.dbfs.Trigger",
    category: Category::Trigger,
    doc: "Lists a DBFS path (or a volume's, /Volumes/…) every interval and starts one execution for the files that are new or changed (`{{ trigger.files }}`: path, is_dir, file_size, modification_time, changeType); each file fires once, even across restarts, and can be moved or deleted once seen.",
    properties: databricks![
        ex(req("from", String, "The absolute path to watch: a DBFS path or /Volumes/<catalog>/<schema>/<volume>/…"), "/mnt/incoming"),
        def("interval", Duration, "\"PT60S\"", "How often the path is listed."),
        def("recursive", Boolean, "false", "Include the files of subdirectories."),
        prop("regExp", String, "Only paths this regular expression matches, as a whole."),
        ON,
        STATE_KEY,
        STATE_TTL,
        def("maxFiles", Integer, "25", "At most this many files per execution (1 to 1,000); the rest wait for the next poll."),
        def("action", Enum { values: &["MOVE", "DELETE", "NONE"] }, "\"NONE\"", "What is done with a file once seen: MOVE it under moveDirectory, DELETE it, or leave it (NONE)."),
        prop("moveDirectory", String, "With action MOVE: the absolute directory the files go to, keeping their path below `from`."),
        CONDITIONS,
        INPUTS,
        STOP_AFTER,
    ],
    outputs: &[
        ("files", "The files found: path, is_dir, file_size, modification_time and changeType (CREATE or UPDATE)."),
        ("size", "How many."),
    ],
    run: runner!(|env| run::Watch(env.databricks.clone(), run::What::Files)),
    check: None,
    aliases: &[],
};

pub const TABLE_TRIGGER: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.unitycatalog.table.Trigger",
    alias: "databricks.unitycatalog.table.Trigger",
    category: Category::Trigger,
    doc: "Lists the tables of a schema every interval and starts one execution for the tables that appeared (or, with `on`, changed) since the last poll (`{{ trigger.fullNames }}`, `{{ trigger.tables }}` without their columns).",
    properties: databricks![
        ex(req("catalogName", String, "The catalog of the schema watched."), "main"),
        ex(req("schemaName", String, "The schema watched."), "landing_zone"),
        def("interval", Duration, "\"PT5M\"", "How often the schema is listed."),
        Property { default: Some("\"CREATE\""), ..ON },
        STATE_KEY,
        STATE_TTL,
        CONDITIONS,
        INPUTS,
        STOP_AFTER,
    ],
    outputs: &[
        ("tables", "The tables found, as Databricks answers them, without their columns."),
        ("fullNames", "Their full names, `catalog.schema.table`."),
        ("size", "How many."),
    ],
    run: runner!(|env| run::Watch(env.databricks.clone(), run::What::Tables)),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use reqwest::Method;
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    use crate::databricks::{ApiPath, DatabricksClient};
    use crate::task::databricks::run::Databricks;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    #[derive(Clone, Copy)]
    pub(super) enum What {
        Files,
        Tables,
    }

    pub(super) struct Watch(pub(super) Arc<Databricks>, pub(super) What);

    /// What the trigger saw of one file or table (Kestra's
    /// StatefulTriggerService entry).
    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Seen {
        uri: String,
        version: String,
        #[serde(default)]
        modified_at: Option<String>,
        #[serde(default)]
        last_seen_at: Option<String>,
    }

    fn iso(ms: i64) -> Option<String> {
        jiff::Timestamp::from_millisecond(ms).ok().map(|t| t.to_string())
    }


    /// The KV store, the key and the TTL of the trigger's state.
    fn state_place(ctx: &TaskContext) -> Result<(crate::kv::Kv, String, Option<std::time::Duration>), TaskError> {
        let kv = ctx.storage.kv(ctx.namespace.as_str()).map_err(|e| ctx.invalid(e.to_string()))?;
        let key = ctx.text("stateKey")?.unwrap_or_else(|| format!("{}_{}_{}", ctx.namespace, ctx.flow_id, ctx.task_id));
        let ttl = ctx.text("stateTtl")?
            .map(|t| crate::task::core::parse_duration(&t).map_err(|e| ctx.invalid(format!("stateTtl: {e}"))))
            .transpose()?;
        Ok((kv, key, ttl))
    }

    fn read_state(ctx: &TaskContext, kv: &crate::kv::Kv, key: &str, ttl: Option<std::time::Duration>) -> BTreeMap<String, Seen> {
        let now = jiff::Timestamp::now();
        let entries: Vec<Seen> = match kv.get(key) {
            Ok(Some(entry)) => serde_json::from_value(entry.value).unwrap_or_default(),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!(task = %ctx.task_id, error = %e, "readState failed");
                Vec::new()
            }
        };
        entries
            .into_iter()
            .filter(|e| match (ttl, e.last_seen_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok())) {
                (Some(ttl), Some(seen)) => {
                    seen > now - jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX)
                }
                _ => true,
            })
            .map(|e| (e.uri.clone(), e))
            .collect()
    }

    /// Kestra's computeAndUpdateState: records the version and says whether
    /// it fires, as CREATE or UPDATE.
    fn decide(state: &mut BTreeMap<String, Seen>, uri: &str, version: String, modified: Option<String>, on: &str) -> Option<&'static str> {
        let now = jiff::Timestamp::now().to_string();
        let previous = state.get(uri);
        let fired = match previous {
            None => matches!(on, "CREATE" | "CREATE_OR_UPDATE").then_some("CREATE"),
            Some(p) if p.version != version => matches!(on, "UPDATE" | "CREATE_OR_UPDATE").then_some("UPDATE"),
            Some(_) => None,
        };
        let last_seen_at = if fired.is_some() || previous.is_none() {
            Some(now)
        } else {
            previous.and_then(|p| p.last_seen_at.clone()).or(Some(now))
        };
        state.insert(uri.to_owned(), Seen { uri: uri.to_owned(), version, modified_at: modified, last_seen_at });
        fired
    }

    fn write_state(ctx: &TaskContext, kv: &crate::kv::Kv, key: &str, state: &BTreeMap<String, Seen>, ttl: Option<std::time::Duration>) {
        let value = serde_json::to_value(state.values().collect::<Vec<_>>()).unwrap_or(Value::Null);
        if let Err(e) = kv.put(key, value, None, ttl, true, Some("trigger state".into())) {
            tracing::warn!(task = %ctx.task_id, error = %e, "writeState failed");
        }
    }

    impl Runner for Watch {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                match self.1 {
                    What::Tables => tables(&self.0, ctx).await,
                    What::Files => files(&self.0, ctx).await,
                }
            })
        }
    }

    async fn tables(databricks: &Databricks, ctx: &TaskContext) -> Result<Outputs, TaskError> {
        let client = databricks.client(ctx)?;
        let catalog = ctx.text("catalogName")?.ok_or_else(|| ctx.invalid("`catalogName` is required"))?;
        let schema = ctx.text("schemaName")?.ok_or_else(|| ctx.invalid("`schemaName` is required"))?;
        let on = ctx.text("on")?.unwrap_or_else(|| "CREATE".into()).to_uppercase();
        let (kv, key, ttl) = state_place(ctx)?;
        let mut state = read_state(ctx, &kv, &key, ttl);
        let query = [
            ("catalog_name", catalog.clone()),
            ("schema_name", schema.clone()),
            ("omit_columns", "true".to_owned()),
            ("max_results", "0".to_owned()),
        ];
        let listed = super::super::unity::list(&client, "tables", "tables", &query, false).await?;
        let mut seen = BTreeSet::new();
        let (mut found, mut names) = (Vec::new(), Vec::new());
        for table in listed {
            let Some(full) = table["full_name"].as_str().map(str::to_owned) else { continue };
            seen.insert(full.clone());
            let updated = table["updated_at"].as_i64();
            let version = updated.map_or_else(|| "null".to_owned(), |u| u.to_string());
            if decide(&mut state, &full, version, updated.and_then(iso), &on).is_some() {
                found.push(table);
                names.push(json!(full));
            }
        }
        state.retain(|k, _| seen.contains(k));
        write_state(ctx, &kv, &key, &state, ttl);
        if !found.is_empty() {
            ctx.info(format!("Detected {} new or updated table(s) in schema '{catalog}.{schema}'", found.len())).await;
        }
        let mut out = Outputs::new();
        out.insert("size".into(), json!(found.len()));
        out.insert("tables".into(), Value::Array(found));
        out.insert("fullNames".into(), Value::Array(names));
        Ok(out)
    }

    /// A listed file: its path, size and modification time (ms).
    struct Listed {
        path: String,
        size: Option<i64>,
        modified: Option<i64>,
    }

    fn volume(path: &str) -> bool {
        path.starts_with("/Volumes/")
    }

    /// Every file under `from` (and its subdirectories when `recursive`),
    /// by path: DBFS through dbfs/list, a volume through the Files API.
    async fn list_files(client: &DatabricksClient, ctx: &TaskContext, from: &str, recursive: bool) -> Result<Vec<Listed>, TaskError> {
        let mut files = Vec::new();
        let mut queue = VecDeque::from([from.to_owned()]);
        let mut visited = BTreeSet::new();
        while let Some(dir) = queue.pop_front() {
            if !visited.insert(dir.clone()) {
                continue;
            }
            let mut entries: Vec<(String, bool, Option<i64>, Option<i64>)> = Vec::new();
            if volume(&dir) {
                let mut token: Option<String> = None;
                loop {
                    let query: Vec<(&str, String)> = token.iter().map(|t| ("page_token", t.clone())).collect();
                    let page: Value = client.get(ApiPath::from("/api/2.0/fs/directories").path(&dir), &query).await?;
                    for e in page["contents"].as_array().into_iter().flatten() {
                        let Some(path) = e["path"].as_str() else { continue };
                        entries.push((path.to_owned(), e["is_directory"].as_bool().unwrap_or(false), e["file_size"].as_i64(), e["last_modified"].as_i64()));
                    }
                    token = page["next_page_token"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
                    if token.is_none() {
                        break;
                    }
                }
            } else {
                let page: Value = client.get("/api/2.0/dbfs/list", &[("path", dir.clone())]).await?;
                for e in page["files"].as_array().into_iter().flatten() {
                    let Some(path) = e["path"].as_str() else { continue };
                    entries.push((path.to_owned(), e["is_dir"].as_bool().unwrap_or(false), e["file_size"].as_i64(), e["modification_time"].as_i64()));
                }
            }
            for (path, is_dir, size, modified) in entries {
                if is_dir {
                    if recursive {
                        queue.push_back(path);
                    }
                } else {
                    files.push(Listed { path, size, modified });
                }
            }
            if ctx.cancel.is_cancelled() {
                return Err(TaskError::Killed);
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    async fn files(databricks: &Databricks, ctx: &TaskContext) -> Result<Outputs, TaskError> {
        let client = databricks.client(ctx)?;
        let from = ctx.text("from")?.ok_or_else(|| ctx.invalid("`from` is required"))?;
        let from = from.strip_prefix("dbfs:").unwrap_or(&from).to_owned();
        if !from.starts_with('/') {
            return Err(ctx.invalid(format!("DBFS path must be absolute and start with '/': {from}")));
        }
        let recursive = matches!(ctx.prop("recursive")?, Value::Bool(true)) || ctx.text("recursive")?.as_deref() == Some("true");
        let pattern = ctx.text("regExp")?
            .map(|r| regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| ctx.invalid(format!("Invalid `regExp`: {e}"))))
            .transpose()?;
        let on = ctx.text("on")?.unwrap_or_else(|| "CREATE_OR_UPDATE".into()).to_uppercase();
        let max = match ctx.text("maxFiles")? {
            None => 25,
            Some(n) => n.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| ctx.invalid("maxFiles must be between 1 and 1000"))?,
        };
        let action = ctx.text("action")?.unwrap_or_else(|| "NONE".into()).to_uppercase();
        let move_to = if action == "MOVE" {
            let dir = ctx.text("moveDirectory")?.ok_or_else(|| ctx.invalid("moveDirectory is required when action is MOVE"))?;
            let dir = dir.strip_prefix("dbfs:").unwrap_or(&dir).trim_end_matches('/').to_owned();
            if !dir.starts_with('/') && !dir.is_empty() {
                return Err(ctx.invalid(format!("moveDirectory must be an absolute DBFS path: {dir}")));
            }
            let inside = from == "/" || dir == from.trim_end_matches('/') || dir.starts_with(&format!("{}/", from.trim_end_matches('/')));
            if recursive && inside {
                return Err(ctx.invalid(format!("moveDirectory must be outside the watched `from` path when recursive is enabled: {dir}")));
            }
            Some(dir)
        } else if matches!(action.as_str(), "DELETE" | "NONE") {
            None
        } else {
            return Err(ctx.invalid(format!("action {action} is not MOVE, DELETE or NONE")));
        };
        let (kv, key, ttl) = state_place(ctx)?;
        let listed = list_files(&client, ctx, &from, recursive).await?;
        let mut state = read_state(ctx, &kv, &key, ttl);
        let seen: BTreeSet<String> = listed.iter().map(|f| f.path.clone()).collect();
        let mut found = Vec::new();
        for file in listed.iter().filter(|f| pattern.as_ref().is_none_or(|p| p.is_match(&f.path))) {
            if found.len() >= max {
                ctx.log(crate::log::Level::Warn, format!("Reached maxFiles ({max}), remaining DBFS files under '{from}' will be evaluated on the next poll")).await;
                break;
            }
            let version = format!(
                "{}:{}",
                file.modified.map(|m| m.to_string()).unwrap_or_default(),
                file.size.map(|s| s.to_string()).unwrap_or_default()
            );
            if let Some(change) = decide(&mut state, &file.path, version, file.modified.and_then(iso), &on) {
                found.push((file, change));
            }
        }
        state.retain(|k, _| seen.contains(k));
        // The state first, so a failed action does not fire the file again.
        write_state(ctx, &kv, &key, &state, ttl);
        for (file, _) in &found {
            let done = match (&action[..], &move_to) {
                ("MOVE", Some(dir)) => {
                    let relative = file.path.strip_prefix(from.trim_end_matches('/')).unwrap_or(&file.path).trim_start_matches('/');
                    let destination = format!("{dir}/{relative}");
                    move_file(&client, &file.path, &destination).await
                }
                ("DELETE", _) => delete_file(&client, &file.path).await,
                _ => Ok(()),
            };
            if let Err(e) = done {
                ctx.log(crate::log::Level::Warn, format!("Failed to {} DBFS file '{}': {e}", action.to_lowercase(), file.path)).await;
            }
        }
        if !found.is_empty() {
            ctx.info(format!("Detected {} DBFS file(s) under '{from}'", found.len())).await;
        }
        let files: Vec<Value> = found
            .iter()
            .map(|(f, change)| {
                json!({
                    "path": f.path,
                    "is_dir": false,
                    "file_size": f.size,
                    "modification_time": f.modified,
                    "changeType": change,
                })
            })
            .collect();
        let mut out = Outputs::new();
        out.insert("size".into(), json!(files.len()));
        out.insert("files".into(), Value::Array(files));
        Ok(out)
    }

    async fn delete_file(client: &DatabricksClient, path: &str) -> Result<(), crate::databricks::DatabricksError> {
        if volume(path) {
            client.call(Method::DELETE, &ApiPath::from("/api/2.0/fs/files").path(path), &[], None).await?;
        } else {
            client.post::<_, Value>("/api/2.0/dbfs/delete", &json!({"path": path})).await?;
        }
        Ok(())
    }

    /// DBFS moves in place; a volume's file is copied (streamed) then deleted.
    async fn move_file(client: &DatabricksClient, from: &str, to: &str) -> Result<(), crate::databricks::DatabricksError> {
        if !volume(from) && !volume(to) {
            client.post::<_, Value>("/api/2.0/dbfs/move", &json!({"source_path": from, "destination_path": to})).await?;
            return Ok(());
        }
        if !volume(from) || !volume(to) {
            return Err(crate::databricks::DatabricksError::Config(format!(
                "cannot move {from} to {to}: a volume's files move within volumes"
            )));
        }
        let read = client.request(Method::GET, ApiPath::from("/api/2.0/fs/files").path(from)).await?;
        let response = client.send(read).await?;
        let write = client
            .request(Method::PUT, ApiPath::from("/api/2.0/fs/files").path(to))
            .await?
            .query(&[("overwrite", "true")])
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(response.bytes_stream()));
        client.send(write).await?;
        delete_file(client, from).await
    }
}
