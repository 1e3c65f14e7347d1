//! The flow model: parsing Kestra-style YAML with positions, validation,
//! expressions and the task graph.
//!
//! Everything here builds for wasm32 (the browser editor runs the same
//! checks): no IO, no threads, no clock. What the runtime supplies (secret
//! values, the current time, file contents) comes in through
//! [`expr::Host`].
//!
//! Entry points: [`parse`] (YAML to a [`Flow`] and every [`Problem`]),
//! [`validate`] (the cross-task checks again on a built flow), [`schema`],
//! [`task_types`], [`graph::graph`] and [`expr::Renderer`].

pub mod expr;
pub mod graph;
pub mod model;
pub mod pebble;
pub mod registry;
pub mod schema;
pub mod template;
mod validate;
pub mod yaml;

use serde::Serialize;

use model::Flow;
use registry::TaskType;
use yaml::Span;

/// How bad a problem is. Errors stop a flow from being saved or run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One thing wrong with a flow, with where it is (1-based, end exclusive)
/// and a message that names the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
    pub severity: Severity,
}

impl Problem {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Self::new(span, message, Severity::Error)
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Self::new(span, message, Severity::Warning)
    }

    fn new(span: Span, message: impl Into<String>, severity: Severity) -> Self {
        let end = if span.end.line == 0 {
            span.start
        } else {
            span.end
        };
        Self {
            line: span.start.line.max(1),
            column: span.start.column.max(1),
            end_line: end.line.max(1),
            end_column: end.column.max(1),
            message: message.into(),
            severity,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// A parsed flow and everything wrong with it. `flow` is `None` only when
/// the source is not YAML or not a mapping.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub flow: Option<Flow>,
    pub problems: Vec<Problem>,
}

impl Parsed {
    /// True when no problem is an error.
    pub fn is_valid(&self) -> bool {
        self.flow.is_some() && !self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// Parses a flow and checks it: every problem at once, sorted by position.
pub fn parse(source: &str) -> Parsed {
    let root = match yaml::load(source) {
        Ok(root) => root,
        Err(error) => {
            let span = Span {
                start: error.pos,
                end: error.pos,
            };
            return Parsed {
                flow: None,
                problems: vec![Problem::error(
                    span,
                    format!("not valid YAML: {}", error.message),
                )],
            };
        }
    };
    let (flow, mut problems) = model::build(root, source);
    if let Some(flow) = &flow {
        problems.extend(validate(flow));
    }
    problems.sort_by_key(|p| (p.line, p.column, p.severity));
    problems.dedup();
    Parsed { flow, problems }
}

/// The checks across tasks: duplicate ids, `dependsOn`, cycles, and the
/// expressions (syntax, undefined inputs and tasks). [`parse`] runs them.
pub fn validate(flow: &Flow) -> Vec<Problem> {
    validate::validate(flow)
}

/// The JSON Schema of a flow (`mortar schema`), from the task registry.
pub fn schema() -> serde_json::Value {
    schema::flow_schema()
}

/// Every task and trigger type with its documented properties.
pub fn task_types() -> &'static [TaskType] {
    registry::task_types()
}

/// A type by Kestra's full name or its alias.
pub fn task_type(name: &str) -> Option<&'static TaskType> {
    registry::lookup(name)
}
