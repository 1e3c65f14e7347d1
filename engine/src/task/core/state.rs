//! Kestra's `io.kestra.plugin.core.state` package (deprecated there for the
//! KV store, still in flows): a JSON map per name, scoped to the flow (or
//! the namespace) and, inside a ForEach, to the iteration's value. The maps
//! live in internal storage under `<namespace>/_states/`, which execution
//! storage cannot reach.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, runner};

const SCOPE: [Property; 3] = [
    def("name", String, "\"default\"", "The state's name."),
    def(
        "namespace",
        Boolean,
        "false",
        "Share the state with the whole namespace rather than keep it to this flow.",
    ),
    def(
        "taskrunValue",
        Boolean,
        "true",
        "Inside a ForEach, keep one state per value.",
    ),
];

pub const GET: TaskType = TaskType {
    name: "io.kestra.plugin.core.state.Get",
    alias: "state.Get",
    category: Category::Task,
    doc: "Reads a state (a JSON map) kept across executions; empty when there is none. Kestra deprecates it for the KV store.",
    properties: &[
        SCOPE[0],
        SCOPE[1],
        SCOPE[2],
        def(
            "errorOnMissing",
            Boolean,
            "false",
            "Fail when there is no such state.",
        ),
    ],
    outputs: &[
        ("data", "The state's map."),
        ("count", "How many keys it has."),
    ],
    run: runner!(run::Get),
    check: None,
    aliases: &["io.kestra.core.tasks.states.Get"],
};

pub const SET: TaskType = TaskType {
    name: "io.kestra.plugin.core.state.Set",
    alias: "state.Set",
    category: Category::Task,
    doc: "Merges a map into a state kept across executions (created when missing). Kestra deprecates it for the KV store.",
    properties: &[
        SCOPE[0],
        SCOPE[1],
        SCOPE[2],
        ex(
            prop("data", Map, "The keys to set; expressions are rendered."),
            "{ last: \"{{ execution.startDate }}\" }",
        ),
    ],
    outputs: &[
        ("count", "How many keys the state has now."),
        ("key", "Where the state is kept."),
    ],
    run: runner!(run::Set),
    check: None,
    aliases: &["io.kestra.core.tasks.states.Set"],
};

pub const DELETE: TaskType = TaskType {
    name: "io.kestra.plugin.core.state.Delete",
    alias: "state.Delete",
    category: Category::Task,
    doc: "Deletes a state. Kestra deprecates it for the KV store.",
    properties: &[
        SCOPE[0],
        SCOPE[1],
        SCOPE[2],
        def(
            "errorOnMissing",
            Boolean,
            "false",
            "Fail when there is no such state.",
        ),
    ],
    outputs: &[("deleted", "Whether there was one.")],
    run: runner!(run::Delete),
    check: None,
    aliases: &["io.kestra.core.tasks.states.Delete"],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::{Map, Value, json};

    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// Which state: the fields every state task has.
    macro_rules! state_props {
        ($name:ident { $($field:ident: $ty:ty),* }) => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct $name {
                #[serde(default)]
                name: Option<String>,
                #[serde(default)]
                namespace: Option<bool>,
                #[serde(default)]
                taskrun_value: Option<bool>,
                $(#[serde(default)] $field: $ty,)*
            }

            impl $name {
                fn place(&self, ctx: &TaskContext) -> (std::path::PathBuf, String) {
                    place(ctx, self.name.as_deref(), self.namespace, self.taskrun_value)
                }
            }
        };
    }

    state_props!(GetProps { error_on_missing: Option<bool> });
    state_props!(SetProps { data: Option<Map<String, Value>> });
    state_props!(DeleteProps { error_on_missing: Option<bool> });

    /// A name as a safe file name: hex of its bytes.
    fn hex(text: &str) -> String {
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// Where the state sits, and the key Mortar shows for it.
    fn place(
        ctx: &TaskContext,
        name: Option<&str>,
        namespace: Option<bool>,
        taskrun_value: Option<bool>,
    ) -> (std::path::PathBuf, String) {
        let name = name.unwrap_or("default");
        let scope = if namespace.unwrap_or(false) {
            "_namespace".to_owned()
        } else {
            format!("flow-{}", ctx.flow_id)
        };
        let value = if taskrun_value.unwrap_or(true) {
            ctx.value.clone()
        } else {
            None
        };
        let file = value.as_deref().map_or_else(|| "_".to_owned(), hex);
        let path = ctx
            .state_root()
            .join(&scope)
            .join(hex(name))
            .join(format!("{file}.json"));
        let key = format!(
            "states/{scope}/{name}{}",
            value.map(|v| format!("/{v}")).unwrap_or_default()
        );
        (path, key)
    }

    async fn read(path: &std::path::Path) -> Result<Option<Map<String, Value>>, TaskError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
                TaskError::Failed(format!("the state at {} is damaged: {e}", path.display()))
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TaskError::Failed(e.to_string())),
        }
    }

    pub(super) struct Get;

    impl Runner for Get {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: GetProps = ctx.properties()?;
                let (path, key) = props.place(ctx);
                let data = match read(&path).await? {
                    Some(data) => data,
                    None if props.error_on_missing.unwrap_or(false) => {
                        return Err(TaskError::Failed(format!(
                            "Unable to find the state file '{key}'"
                        )));
                    }
                    None => Map::new(),
                };
                let mut outputs = Outputs::new();
                outputs.insert("count".into(), json!(data.len()));
                outputs.insert("data".into(), Value::Object(data));
                Ok(outputs)
            })
        }
    }

    pub(super) struct Set;

    impl Runner for Set {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: SetProps = ctx.properties()?;
                let (path, key) = props.place(ctx);
                let mut data = read(&path).await?.unwrap_or_default();
                crate::task::core::deep_merge(&mut data, props.data.clone().unwrap_or_default());
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| TaskError::Failed(e.to_string()))?;
                }
                let partial = path.with_extension("json.partial");
                tokio::fs::write(&partial, serde_json::to_vec(&data).unwrap_or_default())
                    .await
                    .map_err(|e| TaskError::Failed(e.to_string()))?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .map_err(|e| TaskError::Failed(e.to_string()))?;
                let mut outputs = Outputs::new();
                outputs.insert("count".into(), json!(data.len()));
                outputs.insert("key".into(), json!(key));
                Ok(outputs)
            })
        }
    }

    pub(super) struct Delete;

    impl Runner for Delete {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: DeleteProps = ctx.properties()?;
                let (path, key) = props.place(ctx);
                let deleted = match tokio::fs::remove_file(&path).await {
                    Ok(()) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => return Err(TaskError::Failed(e.to_string())),
                };
                if !deleted && props.error_on_missing.unwrap_or(false) {
                    return Err(TaskError::Failed(format!(
                        "Unable to find the state file '{key}'"
                    )));
                }
                let mut outputs = Outputs::new();
                outputs.insert("deleted".into(), json!(deleted));
                Ok(outputs)
            })
        }
    }
}
