//! Kestra's `io.kestra.plugin.core.log` package.

use crate::flow::registry::Kind::{self, *};
use crate::flow::registry::{Category, TaskType, def, ex, req, runner};

/// The log levels, as Kestra names them.
pub(crate) const LEVELS: Kind = Enum { values: &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] };

pub const LOG: TaskType = TaskType {
    name: "io.kestra.plugin.core.log.Log",
    alias: "log.Log",
    category: Category::Task,
    doc: "Writes a message (or a list of messages) to the execution's logs.",
    properties: &[
        ex(req("message", Any, "The message, or a list of messages; expressions are rendered."), "Hello, {{ inputs.name }}!"),
        def("level", LEVELS, "\"INFO\"", "The log level."),
    ],
    outputs: &[],
    run: runner!(run::Log),
    check: None,
};

#[cfg(feature = "runtime")]
pub(crate) mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::Value;

    use crate::task::{Outputs, Runner, TaskContext, TaskError};
    use crate::log::Level;

    /// A task's `level`: INFO when unset.
    pub(crate) fn level(ctx: &TaskContext, text: Option<&str>) -> Result<Level, TaskError> {
        match text {
            None => Ok(Level::Info),
            Some(text) => Level::parse(text).ok_or_else(|| TaskError::Properties {
                task: ctx.task_id.to_string(),
                message: format!("level {text:?} is not TRACE, DEBUG, INFO, WARN or ERROR"),
            }),
        }
    }

    /// Logs a message (or several) at a level.
    pub(super) struct Log;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct LogProps {
        message: OneOrMany,
        #[serde(default)]
        level: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        // A list first: `Value` would take a list whole.
        Many(Vec<Value>),
        One(Value),
    }

    impl Runner for Log {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: LogProps = ctx.properties()?;
                let level = level(ctx, props.level.as_deref())?;
                let messages = match props.message {
                    OneOrMany::Many(list) => list,
                    OneOrMany::One(one) => vec![one],
                };
                for message in messages {
                    let text = match message {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    ctx.log(level, text).await;
                }
                Ok(Outputs::new())
            })
        }
    }
}
