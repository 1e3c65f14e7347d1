//! Kestra's `io.kestra.plugin.core.output` package.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, req, runner};

pub const OUTPUT_VALUES: TaskType = TaskType {
    name: "io.kestra.plugin.core.output.OutputValues",
    alias: "output.OutputValues",
    category: Category::Task,
    doc: "Renders values (strings, numbers, lists, mappings) into its output `values`, for later tasks and the flow's outputs.",
    properties: &[ex(
        req(
            "values",
            Map,
            "The values, by name; expressions are rendered, a lone expression keeps its type.",
        ),
        "{ total: \"{{ outputs.count.value }}\" }",
    )],
    outputs: &[("values", "The rendered values, by name.")],
    run: runner!(run::OutputValues),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::{Map, Value};

    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct OutputValues;

    #[derive(Deserialize)]
    struct Props {
        values: Map<String, Value>,
    }

    impl Runner for OutputValues {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: Props = ctx.properties()?;
                let mut outputs = Outputs::new();
                outputs.insert("values".into(), Value::Object(props.values));
                Ok(outputs)
            })
        }
    }
}
