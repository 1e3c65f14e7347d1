//! Kestra's `io.kestra.plugin.core.kv` package: `kv.Set`, `kv.Get`,
//! `kv.Delete`, `kv.GetKeys` and `kv.PurgeKV`, over the namespace KV store
//! in internal storage (see `crate::kv`).

use crate::flow::registry::Kind::{self, *};
use crate::flow::registry::{Category, TaskType, def, ex, prop, req, runner};

/// Kestra's KVType names (the runtime's `kv::KvType` reads them).
pub const KV_TYPE_NAMES: &[&str] = &[
    "STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON",
];
const KV_TYPES: Kind = Enum {
    values: KV_TYPE_NAMES,
};

pub const SET: TaskType = TaskType {
    name: "io.kestra.plugin.core.kv.Set",
    alias: "kv.Set",
    category: Category::Task,
    doc: "Sets a key of the namespace's KV store, read back with `kv('key')` or kv.Get.",
    properties: &[
        ex(
            req("key", String, "The key: letters, digits, `.`, `_` and `-`."),
            "last_run",
        ),
        ex(
            req("value", Any, "The value; a lone expression keeps its type."),
            "{{ execution.startDate }}",
        ),
        def(
            "namespace",
            String,
            "\"{{ flow.namespace }}\"",
            "The namespace whose store it goes in.",
        ),
        def(
            "overwrite",
            Boolean,
            "true",
            "Replace an existing value; false fails instead.",
        ),
        prop("ttl", Duration, "After how long the key expires."),
        prop(
            "kvType",
            KV_TYPES,
            "The value's type; text is converted to it (a number, JSON...).",
        ),
    ],
    outputs: &[],
    run: runner!(run::Set),
    check: None,
    aliases: &[],
};

pub const PUT: TaskType = TaskType {
    name: "io.kestra.plugin.core.kv.Put",
    alias: "kv.Put",
    category: Category::Task,
    doc: "Inserts or updates a key: a mapping is deep-merged into the JSON value there, a list of {key, value} entries sets those (dotted) paths in it, anything else replaces it; the key's expiry and description stay.",
    properties: &[
        ex(
            req("key", String, "The key: letters, digits, `.`, `_` and `-`."),
            "settings",
        ),
        ex(
            req(
                "value",
                Any,
                "A mapping to merge, a list of {key: a.b, value} updates, or a value to put.",
            ),
            "[{ key: \"retries.max\", value: 3 }]",
        ),
        def(
            "namespace",
            String,
            "\"{{ flow.namespace }}\"",
            "The namespace whose store it goes in.",
        ),
        def(
            "errorOnMissing",
            Boolean,
            "false",
            "Fail when the key does not exist yet.",
        ),
    ],
    outputs: &[],
    run: runner!(run::Put),
    check: None,
    aliases: &[],
};

pub const GET: TaskType = TaskType {
    name: "io.kestra.plugin.core.kv.Get",
    alias: "kv.Get",
    category: Category::Task,
    doc: "Reads a key of the namespace's KV store into the output `value`.",
    properties: &[
        ex(req("key", String, "The key."), "last_run"),
        def(
            "namespace",
            String,
            "\"{{ flow.namespace }}\"",
            "The namespace whose store it reads.",
        ),
        def(
            "errorOnMissing",
            Boolean,
            "false",
            "Fail when the key is missing; otherwise the value is null.",
        ),
    ],
    outputs: &[(
        "value",
        "The value, with the type it was set with; null when missing.",
    )],
    run: runner!(run::Get),
    check: None,
    aliases: &[],
};

pub const DELETE: TaskType = TaskType {
    name: "io.kestra.plugin.core.kv.Delete",
    alias: "kv.Delete",
    category: Category::Task,
    doc: "Deletes a key of the namespace's KV store.",
    properties: &[
        ex(req("key", String, "The key."), "last_run"),
        def(
            "namespace",
            String,
            "\"{{ flow.namespace }}\"",
            "The namespace whose store it deletes from.",
        ),
        def(
            "errorOnMissing",
            Boolean,
            "false",
            "Fail when the key is missing.",
        ),
    ],
    outputs: &[("deleted", "Whether the key was there.")],
    run: runner!(run::Delete),
    check: None,
    aliases: &[],
};

pub const GET_KEYS: TaskType = TaskType {
    name: "io.kestra.plugin.core.kv.GetKeys",
    alias: "kv.GetKeys",
    category: Category::Task,
    doc: "Lists the keys of the namespace's KV store, those with a prefix if given.",
    properties: &[
        prop("prefix", String, "Only keys that start with this."),
        def(
            "namespace",
            String,
            "\"{{ flow.namespace }}\"",
            "The namespace whose keys it lists.",
        ),
    ],
    outputs: &[("keys", "The keys, sorted.")],
    run: runner!(run::GetKeys),
    check: None,
    aliases: &[],
};

pub const PURGE_KV: TaskType = TaskType {
    name: "io.kestra.plugin.core.kv.PurgeKV",
    alias: "kv.PurgeKV",
    category: Category::Task,
    doc: "Deletes keys of the KV store across namespaces: by default every expired key of every namespace.",
    properties: &[
        prop(
            "namespaces",
            StringList,
            "Only these namespaces (and their children, see includeChildNamespaces).",
        ),
        prop(
            "namespacePattern",
            String,
            "Only namespaces that match this glob, such as company.*; not with namespaces.",
        ),
        def(
            "includeChildNamespaces",
            Boolean,
            "true",
            "With namespaces, also their child namespaces.",
        ),
        prop(
            "keyPattern",
            String,
            "Only keys that match this glob, such as AI_*.",
        ),
        prop(
            "expiredOnly",
            Boolean,
            "Only expired keys (default true); deprecated in Kestra for behavior.",
        ),
        prop(
            "behavior",
            Map,
            "Kestra's purge behavior: {type: key, expiredOnly: true}.",
        ),
    ],
    outputs: &[("size", "How many keys were deleted.")],
    run: runner!(run::PurgeKv),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::Value;

    use crate::kv::{Kv, KvType};
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// The store of the task's `namespace`, by default the flow's.
    fn store(ctx: &TaskContext, namespace: Option<&str>) -> Result<Kv, TaskError> {
        let namespace = namespace.unwrap_or(ctx.namespace.as_str());
        ctx.storage
            .kv(namespace)
            .map_err(|e| ctx.invalid(e.to_string()))
    }

    fn failed(e: crate::kv::KvError) -> TaskError {
        TaskError::Failed(e.to_string())
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PutProps {
        key: String,
        value: Value,
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        error_on_missing: bool,
    }

    /// A list of `{key, value}` entries (Put's updates), if `value` is one.
    fn entries(value: &Value) -> Option<&Vec<Value>> {
        let items = value.as_array().filter(|items| !items.is_empty())?;
        items
            .iter()
            .all(|i| {
                i.as_object().is_some_and(|m| {
                    m.contains_key("value") && m.keys().all(|k| k == "key" || k == "value")
                })
            })
            .then_some(items)
    }

    /// What Put makes of the value there and the one given.
    fn put_value(current: Option<Value>, given: Value) -> Result<Value, String> {
        if let Some(items) = entries(&given) {
            let keyless = items
                .iter()
                .filter(|i| i.get("key").is_none_or(Value::is_null))
                .count();
            if keyless > 0 {
                if items.len() > 1 {
                    return Err("`value` entries without `key` can only be used as a single replacement item".into());
                }
                return Ok(items[0]["value"].clone());
            }
            let mut updates = serde_json::Map::new();
            for item in items {
                let Some(path) = item["key"].as_str().filter(|k| !k.trim().is_empty()) else {
                    return Err(
                        "each keyed `value` entry must have a non-empty string `key`".into(),
                    );
                };
                crate::executor::inputs::insert_at(&mut updates, path, item["value"].clone());
            }
            return match current {
                None => Ok(Value::Object(updates)),
                Some(Value::Object(mut existing)) => {
                    crate::task::core::deep_merge(&mut existing, updates);
                    Ok(Value::Object(existing))
                }
                Some(_) => Err(
                    "cannot apply keyed `value` updates to a value that is not a JSON object"
                        .into(),
                ),
            };
        }
        Ok(match (current, given) {
            (Some(Value::Object(mut existing)), Value::Object(more)) => {
                crate::task::core::deep_merge(&mut existing, more);
                Value::Object(existing)
            }
            (_, given) => given,
        })
    }

    pub(super) struct Put;

    impl Runner for Put {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: PutProps = ctx.properties()?;
                let kv = store(ctx, props.namespace.as_deref())?;
                let current = kv.get(&props.key).map_err(failed)?;
                if current.is_none() && props.error_on_missing {
                    return Err(TaskError::Failed(format!(
                        "No value found for key '{}' in namespace '{}' and `errorOnMissing` is set to true",
                        props.key,
                        props.namespace.as_deref().unwrap_or(ctx.namespace.as_str())
                    )));
                }
                let now = jiff::Timestamp::now().as_millisecond();
                let ttl = current.as_ref().and_then(|c| c.expiration_date).map(|at| {
                    std::time::Duration::from_millis(u64::try_from(at - now).unwrap_or(0))
                });
                let description = current.as_ref().and_then(|c| c.description.clone());
                let value = put_value(current.map(|c| c.value), props.value)
                    .map_err(|m| ctx.invalid(format!("value: {m}")))?;
                kv.put(&props.key, value, None, ttl, true, description)
                    .map_err(failed)?;
                ctx.info(format!("put the key {:?}", props.key)).await;
                Ok(Outputs::new())
            })
        }
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

    pub(super) struct Set;

    impl Runner for Set {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: SetProps = ctx.properties()?;
                let kind = match props.kv_type.as_deref() {
                    None => None,
                    Some(name) => Some(KvType::parse(name).ok_or_else(|| {
                        ctx.invalid(format!(
                            "kvType {name:?} is not one of {}",
                            KvType::NAMES.join(", ")
                        ))
                    })?),
                };
                let value = match kind {
                    Some(kind) => kind
                        .convert(props.value)
                        .map_err(|m| ctx.invalid(format!("value: {m}")))?,
                    None => props.value,
                };
                let ttl = props
                    .ttl
                    .as_deref()
                    .map(crate::task::core::parse_duration)
                    .transpose()
                    .map_err(|m| ctx.invalid(format!("ttl: {m}")))?;
                let kv = store(ctx, props.namespace.as_deref())?;
                let key = props.key.clone();
                kv.put(&key, value, kind, ttl, props.overwrite, None)
                    .map_err(failed)?;
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

    pub(super) struct Get;

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

    pub(super) struct Delete;

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

    pub(super) struct GetKeys;

    impl Runner for GetKeys {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: GetKeysProps = ctx.properties()?;
                let kv = store(ctx, props.namespace.as_deref())?;
                let prefix = props.prefix.unwrap_or_default();
                let keys: Vec<Value> = kv
                    .list()
                    .map_err(failed)?
                    .into_iter()
                    .filter(|e| e.key.starts_with(&prefix))
                    .map(|e| Value::String(e.key))
                    .collect();
                let mut outputs = Outputs::new();
                outputs.insert("keys".into(), Value::Array(keys));
                Ok(outputs)
            })
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PurgeProps {
        #[serde(default)]
        namespaces: Option<Vec<String>>,
        #[serde(default)]
        namespace_pattern: Option<String>,
        #[serde(default = "yes")]
        include_child_namespaces: bool,
        #[serde(default)]
        key_pattern: Option<String>,
        /// Deprecated in Kestra, and overrides `behavior` when set.
        #[serde(default)]
        expired_only: Option<bool>,
        #[serde(default)]
        behavior: Option<PurgeBehavior>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PurgeBehavior {
        #[serde(default)]
        expired_only: Option<bool>,
    }

    /// Kestra's kv.PurgeKV: deletes keys across namespaces, only expired ones
    /// unless told otherwise; the output `size` is how many.
    pub(super) struct PurgeKv;

    impl Runner for PurgeKv {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: PurgeProps = ctx.properties()?;
                if props.namespaces.is_some() && props.namespace_pattern.is_some() {
                    return Err(ctx.invalid("give `namespaces` or `namespacePattern`, not both"));
                }
                let glob = |pattern: &str, what: &str| {
                    globset::Glob::new(pattern)
                        .map(|g| g.compile_matcher())
                        .map_err(|e| ctx.invalid(format!("{what} {pattern:?}: {e}")))
                };
                let namespace_glob = props
                    .namespace_pattern
                    .as_deref()
                    .map(|p| glob(p, "namespacePattern"))
                    .transpose()?;
                let key_glob = props
                    .key_pattern
                    .as_deref()
                    .map(|p| glob(p, "keyPattern"))
                    .transpose()?;
                let expired_only = props
                    .expired_only
                    .or(props.behavior.and_then(|b| b.expired_only))
                    .unwrap_or(true);
                let chosen = |namespace: &str| match (&props.namespaces, &namespace_glob) {
                    (Some(list), _) => list.iter().any(|n| {
                        namespace == n
                            || (props.include_child_namespaces
                                && namespace.starts_with(&format!("{n}.")))
                    }),
                    (None, Some(glob)) => glob.is_match(namespace),
                    (None, None) => true,
                };
                let now = jiff::Timestamp::now().as_millisecond();
                let mut size = 0u64;
                for namespace in ctx
                    .storage
                    .kv_namespaces()
                    .into_iter()
                    .filter(|n| chosen(n))
                {
                    let kv = store(ctx, Some(&namespace))?;
                    for entry in kv.entries().map_err(failed)? {
                        let key_ok = key_glob.as_ref().is_none_or(|g| g.is_match(&entry.key));
                        if key_ok && (!expired_only || entry.expired(now)) {
                            // delete() reports live keys only; an expired one is gone either way.
                            kv.delete(&entry.key).map_err(failed)?;
                            size += 1;
                        }
                    }
                }
                ctx.info(format!("purged {size} keys")).await;
                let mut outputs = Outputs::new();
                outputs.insert("size".into(), Value::from(size));
                Ok(outputs)
            })
        }
    }
}
