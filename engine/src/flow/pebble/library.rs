//! The filters, functions and tests, each declared once: its name, kind,
//! parameters and documentation beside its implementation. The evaluator,
//! the checker (`expr::check`), completion and `/api/v1/plugins` all read
//! [`declarations`]; nothing else lists names.

use std::borrow::Cow;

use serde_json::Value;

use super::eval::{EvalError, Evaluator};
use super::value::{self, Num};
use super::{filters, functions};

/// What a declaration is called as: `name(...)`, `x | name`, `x is name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Function,
    Filter,
    Test,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Filter => "filter",
            Kind::Test => "test",
        }
    }
}

/// One parameter, in the order positional arguments fill them.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

/// How a declaration runs: its input (null for functions), its arguments
/// bound to its parameters, and the evaluator (for the host, the context
/// and the limits).
pub(crate) type Implementation = for<'a, 'e> fn(Call<'a, 'e>) -> Out<'a>;

pub(crate) type Out<'a> = Result<Cow<'a, Value>, EvalError>;

/// A filter, function or test.
#[derive(Clone, Copy, serde::Serialize)]
pub struct Declaration {
    pub name: &'static str,
    pub kind: Kind,
    pub params: &'static [Param],
    pub doc: &'static str,
    /// Takes any number of positional arguments after its parameters
    /// (`max(1, 2, 3)`).
    pub variadic: bool,
    /// A null input gives null without running it, as most of Pebble's
    /// and Kestra's filters do (`if (input == null) return null;`).
    #[serde(skip)]
    pub(crate) null_in_null_out: bool,
    #[serde(skip)]
    pub(crate) implementation: Implementation,
}

impl std::fmt::Debug for Declaration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Declaration")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Declaration {
    /// ` (parameters: a, b)`, for messages.
    pub(crate) fn signature_hint(&self) -> String {
        if self.params.is_empty() {
            return " (it takes no arguments)".into();
        }
        let names: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                if p.required {
                    p.name.to_owned()
                } else {
                    format!("{}?", p.name)
                }
            })
            .collect();
        format!(" (parameters: {})", names.join(", "))
    }
}

pub(crate) const fn req(name: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        required: true,
        doc,
    }
}

pub(crate) const fn opt(name: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        required: false,
        doc,
    }
}

pub(crate) const fn filter(
    name: &'static str,
    params: &'static [Param],
    doc: &'static str,
    implementation: Implementation,
) -> Declaration {
    Declaration {
        name,
        kind: Kind::Filter,
        params,
        doc,
        variadic: false,
        null_in_null_out: true,
        implementation,
    }
}

pub(crate) const fn function(
    name: &'static str,
    params: &'static [Param],
    doc: &'static str,
    implementation: Implementation,
) -> Declaration {
    Declaration {
        name,
        kind: Kind::Function,
        params,
        doc,
        variadic: false,
        null_in_null_out: false,
        implementation,
    }
}

pub(crate) const fn test(
    name: &'static str,
    doc: &'static str,
    implementation: Implementation,
) -> Declaration {
    Declaration {
        name,
        kind: Kind::Test,
        params: &[],
        doc,
        variadic: false,
        null_in_null_out: false,
        implementation,
    }
}

impl Declaration {
    /// Runs even on a null input.
    pub(crate) const fn takes_null(mut self) -> Self {
        self.null_in_null_out = false;
        self
    }

    pub(crate) const fn variadic(mut self) -> Self {
        self.variadic = true;
        self
    }
}

/// Every filter, function and test.
pub fn declarations() -> impl Iterator<Item = &'static Declaration> {
    filters::DECLARATIONS.iter().chain(functions::DECLARATIONS)
}

/// What Kestra registers that Mortar does not implement yet (for the
/// compatibility page).
pub fn not_yet() -> &'static [(Kind, &'static str)] {
    NOT_YET
}

pub(crate) fn lookup(kind: Kind, name: &str) -> Option<&'static Declaration> {
    declarations().find(|d| d.kind == kind && d.name == name)
}

/// What Kestra registers that Mortar does not implement yet, so a flow
/// that uses one hears that rather than "unknown".
const NOT_YET: &[(Kind, &str)] = &[];

/// The message for an unknown name, with the closest known one.
pub(crate) fn unknown(kind: Kind, name: &str) -> String {
    if NOT_YET.contains(&(kind, name)) {
        return format!(
            "the {} `{name}` is Kestra's, but Mortar does not support it yet",
            kind.noun()
        );
    }
    let names = declarations().filter(|d| d.kind == kind).map(|d| d.name);
    match super::closest(name, names) {
        Some(close) => format!("unknown {} `{name}`: did you mean `{close}`?", kind.noun()),
        None => format!("unknown {} `{name}`", kind.noun()),
    }
}

/// A running call: its input, its arguments by parameter, and the
/// evaluator.
pub(crate) struct Call<'a, 'e> {
    pub input: Cow<'a, Value>,
    pub args: Vec<Option<Cow<'a, Value>>>,
    /// Positional arguments past the parameters, for variadic ones.
    pub rest: Vec<Cow<'a, Value>>,
    pub ev: &'e mut Evaluator<'a>,
}

impl<'a> Call<'a, '_> {
    /// An argument, if given (null counts as not given).
    pub(crate) fn arg(&self, index: usize) -> Option<&Value> {
        self.args
            .get(index)
            .and_then(Option::as_ref)
            .map(|v| v.as_ref())
            .filter(|v| !v.is_null())
    }

    pub(crate) fn take(&mut self, index: usize) -> Option<Cow<'a, Value>> {
        self.args.get_mut(index).and_then(Option::take)
    }

    pub(crate) fn text(&self, index: usize) -> Option<String> {
        self.arg(index).map(value::to_text)
    }

    pub(crate) fn int(&self, index: usize, name: &str) -> Result<Option<i64>, EvalError> {
        match self.arg(index) {
            None => Ok(None),
            Some(v) => match value::to_number(v) {
                Ok(Num::Int(i)) => Ok(Some(i)),
                Ok(Num::Float(f)) if f.fract() == 0.0 && f.abs() < 9e15 => Ok(Some(f as i64)),
                _ => Err(fail(format!(
                    "`{name}` is a whole number, not {}",
                    value::describe(v)
                ))),
            },
        }
    }

    pub(crate) fn bool(&self, index: usize, name: &str) -> Result<Option<bool>, EvalError> {
        match self.arg(index) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(fail(format!(
                "`{name}` is true or false, not {}",
                value::describe(other)
            ))),
        }
    }

    pub(crate) fn input_text(&self) -> String {
        value::to_text(&self.input)
    }
}

pub(crate) fn fail(message: impl Into<String>) -> EvalError {
    EvalError::Failed(message.into())
}

pub(crate) fn owned<'a>(value: Value) -> Out<'a> {
    Ok(Cow::Owned(value))
}

pub(crate) fn text<'a>(text: impl Into<String>) -> Out<'a> {
    Ok(Cow::Owned(Value::String(text.into())))
}
