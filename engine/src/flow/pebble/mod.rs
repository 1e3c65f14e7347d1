//! Mortar's Pebble: the template language of Kestra flows, configured as
//! Kestra configures Pebble (`strictVariables`, no autoescaping, no
//! new-line trimming, its `??` and `???` operators and its filters,
//! functions and tests).
//!
//! It is ours rather than a Jinja engine because Jinja's grammar cannot
//! take what Kestra flows write (`??`, `"#{...}"`, `is not`, named filter
//! arguments, Java number printing). It builds for wasm32 so the editor
//! checks with the same parser that renders: no IO, no threads, no clock;
//! what the runtime supplies comes through [`Host`].
//!
//! Pipeline: [`lexer`] → [`parser`] (every node keeps its byte range) →
//! [`eval`] against a `serde_json::Value` context, with the declarations of
//! [`library`] ([`filters`], [`functions`]); [`checker`] walks the same tree
//! for `expr::check`.

mod ast;
mod checker;
pub mod convert;
pub mod dates;
pub(crate) mod eval;
mod filters;
mod functions;
mod lexer;
pub mod library;
mod parser;
mod printf;
mod taint;
mod value;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::flow::expr::{Host, Masker, SyntaxError};
use ast::Node;

/// The bounds on one render. The defaults are far above what a real flow
/// needs; a template that reaches one (a runaway loop, a huge output)
/// fails alone instead of holding a server thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Expression evaluations, tag runs and loop iterations.
    pub steps: u64,
    /// Bytes of rendered text.
    pub output_bytes: usize,
    /// Nested `render()` calls.
    pub depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            steps: 10_000_000,
            output_bytes: 16 * 1024 * 1024,
            depth: 100,
        }
    }
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, SyntaxError> {
        parser::parse(source).map(|nodes| Self { nodes })
    }

    /// Renders to text. `masker` learns every string the render derives
    /// from a secret (`secret()`, or `inputs.<id>` for an id of
    /// `secret_inputs`).
    pub fn render(
        &self,
        context: &Value,
        host: &dyn Host,
        masker: &Masker,
        secret_inputs: &[String],
        limits: &Limits,
    ) -> Result<String, eval::EvalError> {
        let mut evaluator = eval::Evaluator::new(context, host, masker, secret_inputs, limits);
        let mut out = String::new();
        evaluator.render(&self.nodes, &mut out)?;
        Ok(out)
    }

    /// Renders a template that is one `{{ expression }}` (whitespace
    /// around it allowed) to the expression's value, keeping its type, as
    /// Kestra's typed rendering does; any other template to text.
    pub fn render_value(
        &self,
        context: &Value,
        host: &dyn Host,
        masker: &Masker,
        secret_inputs: &[String],
        limits: &Limits,
    ) -> Result<Value, eval::EvalError> {
        let lone: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| !matches!(n, Node::Text(t) if t.trim().is_empty()))
            .collect();
        if let [Node::Print(expr)] = lone.as_slice() {
            let mut evaluator = eval::Evaluator::new(context, host, masker, secret_inputs, limits);
            return Ok(evaluator.eval(expr)?.0.into_owned());
        }
        self.render(context, host, masker, secret_inputs, limits)
            .map(Value::String)
    }

    /// The variable paths the template reads and every unknown name in it.
    pub fn check(&self) -> (BTreeSet<String>, Vec<SyntaxError>) {
        let checked = checker::check(&self.nodes);
        (checked.variables, checked.errors)
    }
}

/// Digits with a comma every three from the right, as Java's grouping and
/// the `,` of DecimalFormat print them: "1234567" as "1,234,567".
pub fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The closest known name, for "did you mean".
pub(crate) fn closest<'a>(
    wanted: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    crate::flow::registry::closest(wanted, names)
        .into_iter()
        .next()
}

#[cfg(test)]
mod tests;
