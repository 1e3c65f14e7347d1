//! Kestra's `io.kestra.plugin.core.templating` package: a task whose whole
//! definition is a template, rendered when it runs, then run as the task
//! it describes (a runnable one: not a flowable, not one the executor runs
//! itself).

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, req, runner};

pub const TEMPLATED_TASK: TaskType = TaskType {
    name: "io.kestra.plugin.core.templating.TemplatedTask",
    alias: "templating.TemplatedTask",
    category: Category::Task,
    doc: "Renders `spec` (a task's YAML: its type and properties) and runs that task; its outputs are the task's.",
    properties: &[ex(
        req(
            "spec",
            String,
            "The task as YAML, with expressions rendered first.",
        ),
        "\"type: io.kestra.plugin.core.debug.Return\\nformat: hello {{ inputs.name }}\"",
    )],
    outputs: &[],
    run: runner!(|env| run::TemplatedTask {
        databricks: env.databricks.clone(),
        link: env.executor.clone()
    }),
    check: None,
    aliases: &["io.kestra.core.tasks.templating.TemplatedTask"],
};

#[cfg(feature = "runtime")]
mod run {
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::Value;

    use crate::flow::registry::Category;
    use crate::task::{Outputs, Runner, RunnerEnv, TaskContext, TaskError};

    pub(super) struct TemplatedTask {
        pub(super) databricks: Arc<crate::task::databricks::Databricks>,
        pub(super) link: crate::executor::subflow::Link,
    }

    #[derive(Deserialize)]
    struct Props {
        spec: String,
    }

    impl Runner for TemplatedTask {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: Props = ctx.properties()?;
                let spec = crate::flow::pebble::convert::yaml_function(&Value::String(props.spec))
                    .map_err(|e| ctx.invalid(format!("spec is not YAML: {e}")))?;
                let Value::Object(mut properties) = spec else {
                    return Err(
                        ctx.invalid("spec is a task: a mapping with its `type` and properties")
                    );
                };
                let written = properties
                    .remove("type")
                    .and_then(|t| t.as_str().map(str::to_owned))
                    .ok_or_else(|| ctx.invalid("spec has no `type`"))?;
                properties.remove("id");
                let declared = crate::flow::registry::lookup(&written)
                    .ok_or_else(|| ctx.invalid(format!("spec: unknown task type {written:?}")))?;
                if declared.name == super::TEMPLATED_TASK.name {
                    return Err(ctx.invalid("The templated task cannot be of type 'io.kestra.plugin.core.templating.TemplatedTask'"));
                }
                let make = declared
                    .run
                    .filter(|_| declared.category == Category::Task)
                    .ok_or_else(|| {
                        ctx.invalid(format!(
                            "The templated task must be a runnable task, not {}",
                            declared.alias
                        ))
                    })?;
                let runner = make(&RunnerEnv {
                    databricks: self.databricks.clone(),
                    executor: self.link.clone(),
                });
                let inner = ctx
                    .clone()
                    .with_type(Some(declared))
                    .with_properties(Value::Object(properties));
                runner.run(&inner).await
            })
        }
    }
}
