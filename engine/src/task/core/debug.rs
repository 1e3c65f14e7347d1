//! Kestra's `io.kestra.plugin.core.debug` package.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, prop, req, runner};
use crate::task::core::log::LEVELS;

pub const RETURN: TaskType = TaskType {
    name: "io.kestra.plugin.core.debug.Return",
    alias: "debug.Return",
    category: Category::Task,
    doc: "Returns a rendered value as its output `value`.",
    properties: &[ex(
        prop(
            "format",
            String,
            "The value to return, as text (a lone expression gives its value as text, as in Kestra).",
        ),
        "{{ inputs.name | upper }}",
    )],
    outputs: &[("value", "The rendered format.")],
    run: runner!(run::Return),
    check: None,
    aliases: &["io.kestra.core.tasks.debugs.Return"],
};

pub const ECHO: TaskType = TaskType {
    name: "io.kestra.plugin.core.debug.Echo",
    alias: "debug.Echo",
    category: Category::Task,
    doc: "Writes a rendered message to the logs (deprecated in Kestra for log.Log, still in use).",
    properties: &[
        ex(
            req("format", String, "The message; expressions are rendered."),
            "{{ task.id }} ran at {{ taskrun.startDate }}",
        ),
        def("level", LEVELS, "\"INFO\"", "The log level."),
    ],
    outputs: &[],
    run: runner!(run::Echo),
    check: None,
    aliases: &["io.kestra.core.tasks.debugs.Echo"],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::Value;

    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    /// Returns a value, for tests and for shaping outputs.
    pub(super) struct Return;

    #[derive(Deserialize)]
    struct ReturnProps {
        #[serde(default)]
        format: Option<Value>,
    }

    impl Runner for Return {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: ReturnProps = ctx.properties()?;
                let mut outputs = Outputs::new();
                outputs.insert("value".to_owned(), props.format.unwrap_or(Value::Null));
                Ok(outputs)
            })
        }
    }

    /// Kestra's Echo: log.Log with one message named `format`.
    pub(super) struct Echo;

    #[derive(Deserialize)]
    struct EchoProps {
        format: Value,
        #[serde(default)]
        level: Option<String>,
    }

    impl Runner for Echo {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: EchoProps = ctx.properties()?;
                let level = crate::task::core::log::run::level(ctx, props.level.as_deref())?;
                let text = match props.format {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                ctx.log(level, text).await;
                Ok(Outputs::new())
            })
        }
    }
}
