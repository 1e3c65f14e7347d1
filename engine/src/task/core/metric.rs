//! Kestra's `io.kestra.plugin.core.metric` package.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, Property, TaskType, ex, prop, req, runner};

/// The kinds of metric, as Kestra names them.
pub const KINDS: &[&str] = &["counter", "timer", "gauge"];

const METRIC: &[Property] = &[
    req(
        "type",
        Enum { values: KINDS },
        "counter (a number added up), timer (an ISO-8601 duration, kept in milliseconds) or gauge (a number at a time).",
    ),
    req("name", String, "The metric's name."),
    req(
        "value",
        Any,
        "A number for a counter or gauge, a duration such as PT10M for a timer.",
    ),
    prop("tags", Map, "Text tags to tell metrics of one name apart."),
];

pub const PUBLISH: TaskType = TaskType {
    name: "io.kestra.plugin.core.metric.Publish",
    alias: "metric.Publish",
    category: Category::Task,
    doc: "Publishes metrics of the execution: each is kept with the task run, shown on the execution's Metrics tab and read with GET /api/v1/metrics/{executionId}.",
    properties: &[ex(
        prop(
            "metrics",
            ObjectList { properties: METRIC },
            "The metrics to publish; expressions are rendered.",
        ),
        "[{ type: counter, name: rows, value: \"{{ outputs.count.value }}\", tags: { flow: \"{{ flow.id }}\" } }]",
    )],
    outputs: &[],
    run: runner!(run::Publish),
    check: None,
    aliases: &[],
};

#[cfg(feature = "runtime")]
mod run {
    use std::collections::BTreeMap;

    use futures::future::BoxFuture;
    use serde::Deserialize;
    use serde_json::Value;

    use crate::task::core::as_text as text;
    use crate::task::{Outputs, Runner, TaskContext, TaskError};

    pub(super) struct Publish;

    #[derive(Deserialize)]
    struct Props {
        #[serde(default)]
        metrics: Vec<Metric>,
    }

    #[derive(Deserialize)]
    struct Metric {
        #[serde(rename = "type")]
        kind: std::string::String,
        #[serde(default)]
        name: Option<Value>,
        #[serde(default)]
        value: Option<Value>,
        #[serde(default)]
        tags: BTreeMap<std::string::String, Value>,
    }

    /// A metric's value as Kestra keeps it: a number, a timer's duration
    /// in milliseconds.
    fn value(index: usize, kind: &str, value: &Value) -> Result<f64, TaskError> {
        let bad =
            |why: std::string::String| TaskError::Failed(format!("metrics[{index}].value: {why}"));
        if kind == "timer" {
            let written = text(value);
            return super::super::parse_duration(&written)
                .map(|d| d.as_secs_f64() * 1000.0)
                .map_err(bad);
        }
        match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|n| n.is_finite())
        .ok_or_else(|| bad(format!("{} is not a number", text(value))))
    }

    impl Runner for Publish {
        fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
            Box::pin(async move {
                let props: Props = ctx.properties()?;
                let mut entries = Vec::with_capacity(props.metrics.len());
                for (index, metric) in props.metrics.iter().enumerate() {
                    let kind = super::KINDS
                        .iter()
                        .find(|k| **k == metric.kind)
                        .ok_or_else(|| {
                            TaskError::Failed(format!(
                                "metrics[{index}].type: {:?} is not one of {}",
                                metric.kind,
                                super::KINDS.join(", ")
                            ))
                        })?;
                    let (Some(name), Some(written)) = (
                        metric.name.as_ref().filter(|v| !v.is_null()),
                        metric.value.as_ref().filter(|v| !v.is_null()),
                    ) else {
                        return Err(TaskError::Failed(format!(
                            "metrics[{index}]: a metric's name and value can't be null"
                        )));
                    };
                    let tags = metric
                        .tags
                        .iter()
                        .map(|(k, v)| (k.clone(), text(v)))
                        .collect();
                    entries.push((*kind, text(name), value(index, kind, written)?, tags));
                }
                let count = entries.len();
                ctx.metrics(entries).await?;
                ctx.info(format!("published {count} metrics")).await;
                Ok(Outputs::new())
            })
        }
    }
}
