//! Kestra's KV tasks: `kv.Set`, `kv.Get`, `kv.Delete` and `kv.GetKeys`,
//! over the namespace KV store in internal storage (see `crate::kv`).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::{Outputs, Runner, Runners, TaskContext, TaskError};
use crate::kv::{Kv, KvType};

pub(super) fn register(runners: &mut Runners) {
    runners.register("io.kestra.plugin.core.kv.Set", Arc::new(Set));
    runners.register("io.kestra.plugin.core.kv.Get", Arc::new(Get));
    runners.register("io.kestra.plugin.core.kv.Delete", Arc::new(Delete));
    runners.register("io.kestra.plugin.core.kv.GetKeys", Arc::new(GetKeys));
}

fn bad(ctx: &TaskContext, message: impl Into<String>) -> TaskError {
    TaskError::Properties { task: ctx.task_id.to_string(), message: message.into() }
}

/// The store of the task's `namespace`, by default the flow's.
fn store(ctx: &TaskContext, namespace: Option<&str>) -> Result<Kv, TaskError> {
    let namespace = namespace.unwrap_or(ctx.namespace.as_str());
    ctx.storage.kv(namespace).map_err(|e| bad(ctx, e.to_string()))
}

fn failed(e: crate::kv::KvError) -> TaskError {
    TaskError::Failed(e.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetProps {
    key: String,
    value: Value,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default = "yes")]
    overwrite: bool,
    #[serde(default)]
    ttl: Option<String>,
    #[serde(default)]
    kv_type: Option<String>,
}

fn yes() -> bool {
    true
}

struct Set;

impl Runner for Set {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let props: SetProps = ctx.properties()?;
            let kind = match props.kv_type.as_deref() {
                None => None,
                Some(name) => Some(KvType::parse(name).ok_or_else(|| bad(ctx, format!("kvType {name:?} is not one of {}", KvType::NAMES.join(", "))))?),
            };
            let value = match kind {
                Some(kind) => kind.convert(props.value).map_err(|m| bad(ctx, format!("value: {m}")))?,
                None => props.value,
            };
            let ttl = props.ttl.as_deref().map(super::core::parse_duration).transpose().map_err(|m| bad(ctx, format!("ttl: {m}")))?;
            let kv = store(ctx, props.namespace.as_deref())?;
            let key = props.key.clone();
            kv.put(&key, value, kind, ttl, props.overwrite, None).map_err(failed)?;
            ctx.info(format!("set the key {key:?}")).await;
            Ok(Outputs::new())
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetProps {
    key: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    error_on_missing: bool,
}

struct Get;

impl Runner for Get {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let props: GetProps = ctx.properties()?;
            let kv = store(ctx, props.namespace.as_deref())?;
            let found = kv.get(&props.key).map_err(failed)?;
            if found.is_none() && props.error_on_missing {
                let namespace = props.namespace.as_deref().unwrap_or(ctx.namespace.as_str());
                return Err(TaskError::Failed(format!(
                    "no value for the key {:?} in the namespace {namespace}, and `errorOnMissing` is true",
                    props.key
                )));
            }
            let mut outputs = Outputs::new();
            outputs.insert("value".into(), found.map_or(Value::Null, |e| e.value));
            Ok(outputs)
        })
    }
}

struct Delete;

impl Runner for Delete {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let props: GetProps = ctx.properties()?;
            let kv = store(ctx, props.namespace.as_deref())?;
            let deleted = kv.delete(&props.key).map_err(failed)?;
            if !deleted && props.error_on_missing {
                let namespace = props.namespace.as_deref().unwrap_or(ctx.namespace.as_str());
                return Err(TaskError::Failed(format!(
                    "no value for the key {:?} in the namespace {namespace}, and `errorOnMissing` is true",
                    props.key
                )));
            }
            let mut outputs = Outputs::new();
            outputs.insert("deleted".into(), Value::Bool(deleted));
            Ok(outputs)
        })
    }
}

#[derive(Deserialize)]
struct GetKeysProps {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

struct GetKeys;

impl Runner for GetKeys {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let props: GetKeysProps = ctx.properties()?;
            let kv = store(ctx, props.namespace.as_deref())?;
            let prefix = props.prefix.unwrap_or_default();
            let keys: Vec<Value> =
                kv.list().map_err(failed)?.into_iter().filter(|e| e.key.starts_with(&prefix)).map(|e| Value::String(e.key)).collect();
            let mut outputs = Outputs::new();
            outputs.insert("keys".into(), Value::Array(keys));
            Ok(outputs)
        })
    }
}
