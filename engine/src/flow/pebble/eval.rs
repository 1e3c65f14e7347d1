//! Runs a syntax tree against a context. Values are `serde_json::Value`s
//! borrowed from the context or the tree wherever possible (`Cow`), so
//! reading `outputs.query.rows` copies nothing.
//!
//! Undefined is not a value here but an error ([`EvalError::Undefined`]),
//! as in Pebble with `strictVariables` (Kestra's setting): `??`, `???`,
//! `default` and `is defined` catch it; everything else reports it.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::Limits;
use super::ast::{BinaryOp, Call as CallNode, Expr, ExprKind, Node, UnaryOp};
use super::library::{self, Call, Kind};
use super::taint::{self, Taint};
use super::value::{self, Num, java_string, number_of};
use crate::flow::expr::{Host, Masker};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error(
        "`{path}` is undefined: check the name, or give a fallback with `{path} ?? 'value'` or `| default('value')`"
    )]
    Undefined { path: String },
    #[error("{0}")]
    Failed(String),
    #[error(
        "the template went over its {name} limit of {limit}: it loops or produces more than any flow needs; simplify it{}",
        raise_hint(name)
    )]
    Limit { name: &'static str, limit: u64 },
}

/// How the server's operator raises a limit, when it can be raised.
fn raise_hint(name: &str) -> &'static str {
    match name {
        "steps" => " (or raise the limit with `mortar serve --max-template-steps`)",
        "output size (bytes)" => " (or raise the limit with `mortar serve --max-template-output`)",
        _ => "",
    }
}

type Result<T> = std::result::Result<T, EvalError>;

/// A value and whether it derives from a secret (see [`super::taint`]).
pub(crate) type Tracked<'a> = (Cow<'a, Value>, Taint);

pub(crate) struct Evaluator<'a> {
    pub(crate) context: &'a Value,
    pub(crate) host: &'a dyn Host,
    pub(crate) masker: &'a Masker,
    /// The ids of the SECRET inputs: `inputs.<id>` is a secret.
    pub(crate) secret_inputs: &'a [String],
    pub(crate) limits: &'a Limits,
    locals: Vec<(&'a str, Cow<'a, Value>, Taint)>,
    /// The running loops' (index, length), innermost last: `loop` is built
    /// from it only when read, so an iteration allocates nothing.
    loops: Vec<(usize, usize)>,
    pub(crate) steps: u64,
    pub(crate) depth: usize,
    /// Set by a function whose result derives from a secret whatever its
    /// arguments (`secret()`, `printContext()`); read by `invoke`.
    pub(crate) tainted_result: bool,
    /// Whether a tainted value was printed, so that text rendered by a
    /// `{% filter %}` block or `render()` is tainted.
    printed_taint: bool,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        context: &'a Value,
        host: &'a dyn Host,
        masker: &'a Masker,
        secret_inputs: &'a [String],
        limits: &'a Limits,
    ) -> Self {
        Self {
            context,
            host,
            masker,
            secret_inputs,
            limits,
            locals: Vec::new(),
            loops: Vec::new(),
            steps: 0,
            depth: 0,
            tainted_result: false,
            printed_taint: false,
        }
    }

    /// Renders nodes to text.
    pub(crate) fn render(&mut self, nodes: &'a [Node], out: &mut String) -> Result<()> {
        for node in nodes {
            self.step()?;
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Print(expr) => {
                    let (value, taint) = self.eval(expr)?;
                    self.printed_taint |= taint.is_secret();
                    value::print(&value, out);
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    let mut chosen = otherwise;
                    for (condition, body) in branches {
                        let (value, _) = self.eval(condition)?;
                        if value.is_null() {
                            return Err(EvalError::Failed("an `if` condition is null: compare it (`x == null`) or give it a default".into()));
                        }
                        if value::truthy(&value).map_err(EvalError::Failed)? {
                            chosen = body;
                            break;
                        }
                    }
                    self.render(chosen, out)?;
                }
                Node::For {
                    variable,
                    iterable,
                    body,
                    otherwise,
                    ..
                } => self.for_loop(variable, iterable, body, otherwise, out)?,
                Node::Set { name, value, .. } => {
                    let (value, taint) = self.eval(value)?;
                    // Pebble's ScopeChain.set: a name already set (outside
                    // a loop, say) is updated where it is; a new one lives
                    // in the current scope.
                    match self
                        .locals
                        .iter_mut()
                        .rev()
                        .find(|(n, _, _)| *n == name.as_str())
                    {
                        Some(local) => (local.1, local.2) = (value, taint),
                        None => self.locals.push((name.as_str(), value, taint)),
                    }
                }
                Node::Filter { calls, body } => {
                    let mut inner = String::new();
                    let outer_taint = std::mem::take(&mut self.printed_taint);
                    self.render(body, &mut inner)?;
                    let body_taint = if self.printed_taint {
                        Taint::Secret
                    } else {
                        Taint::Clean
                    };
                    self.printed_taint = outer_taint;
                    let mut value = (Cow::Owned(Value::String(inner)), body_taint);
                    for call in calls {
                        value = self.filter(value, call)?;
                    }
                    self.printed_taint |= value.1.is_secret();
                    value::print(&value.0, out);
                }
            }
            if out.len() > self.limits.output_bytes {
                return Err(EvalError::Limit {
                    name: "output size (bytes)",
                    limit: self.limits.output_bytes as u64,
                });
            }
        }
        Ok(())
    }

    fn for_loop(
        &mut self,
        variable: &'a str,
        iterable: &'a Expr,
        body: &'a [Node],
        otherwise: &'a [Node],
        out: &mut String,
    ) -> Result<()> {
        let (iterable, taint) = self.eval(iterable)?;
        // An item of a tainted list is tainted, and so is every entry of
        // `inputs` when some are SECRET.
        let taint = taint.or(Taint::Clean);
        let items: Vec<Cow<'a, Value>> = match iterable {
            // Pebble renders nothing for null, not even the `else`.
            Cow::Borrowed(Value::Null) | Cow::Owned(Value::Null) => return Ok(()),
            Cow::Borrowed(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
            Cow::Owned(Value::Array(items)) => items.into_iter().map(Cow::Owned).collect(),
            // A map iterates over its entries, which have `key` and `value`
            // (Pebble iterates `Map.entrySet()`).
            Cow::Borrowed(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| Cow::Owned(entry(k.clone(), v.clone())))
                .collect(),
            Cow::Owned(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| Cow::Owned(entry(k, v)))
                .collect(),
            other => {
                return Err(EvalError::Failed(format!(
                    "`for` needs a list or a map, not {}",
                    value::describe(&other)
                )));
            }
        };
        if items.is_empty() {
            return self.render(otherwise, out);
        }
        let length = items.len();
        let mark = self.locals.len();
        self.loops.push((0, length));
        for (index, item) in items.into_iter().enumerate() {
            self.step()?;
            self.locals.truncate(mark);
            self.locals.push((variable, item, taint));
            if let Some(state) = self.loops.last_mut() {
                state.0 = index;
            }
            self.render(body, out)?;
        }
        self.loops.pop();
        self.locals.truncate(mark);
        Ok(())
    }

    pub(crate) fn eval(&mut self, expr: &'a Expr) -> Result<Tracked<'a>> {
        self.step()?;
        Ok(match &expr.kind {
            ExprKind::Literal(value) => (Cow::Borrowed(value), Taint::Clean),
            ExprKind::Variable(name) => match self
                .locals
                .iter()
                .rev()
                .find(|(n, _, _)| *n == name.as_str())
            {
                Some((_, Cow::Borrowed(value), taint)) => (Cow::Borrowed(*value), *taint),
                Some((_, Cow::Owned(value), taint)) => (Cow::Owned(value.clone()), *taint),
                None => match (self.context.get(name), self.loops.last()) {
                    (_, Some(&(index, length))) if name == "loop" => {
                        (Cow::Owned(loop_state(index, length)), Taint::Clean)
                    }
                    (Some(value), _) => (Cow::Borrowed(value), self.root_taint(name)),
                    (None, _) => return Err(EvalError::Undefined { path: name.clone() }),
                },
            },
            ExprKind::Attribute(object, name) => {
                let (object, taint) = self.eval(object)?;
                let value = member(object, name).ok_or_else(|| EvalError::Undefined {
                    path: path_of(expr),
                })?;
                (value, taint.member(name, self.secret_inputs))
            }
            ExprKind::Index(object, index) => {
                let (object, object_taint) = self.eval(object)?;
                let (index, index_taint) = self.eval(index)?;
                let key = match index.as_ref() {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(EvalError::Failed(format!(
                            "`{}`: an index is a number or a string, not {}",
                            path_of(expr),
                            value::describe(other)
                        )));
                    }
                };
                let taint = object_taint.member(&key, self.secret_inputs);
                let value = member(object, &key).ok_or_else(|| EvalError::Undefined {
                    path: path_of(expr),
                })?;
                (
                    value,
                    if index_taint.is_secret() {
                        taint.or(index_taint)
                    } else {
                        taint
                    },
                )
            }
            ExprKind::List(items) => {
                let mut taint = Taint::Clean;
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let (value, item_taint) = self.eval(item)?;
                    taint = taint.or(item_taint);
                    list.push(value.into_owned());
                }
                (Cow::Owned(Value::Array(list)), taint)
            }
            ExprKind::Map(entries) => {
                let mut taint = Taint::Clean;
                let mut map = Map::new();
                for (key, value) in entries {
                    let (key, key_taint) = self.eval(key)?;
                    let key = match key.into_owned() {
                        Value::String(s) => s,
                        other => value::to_text(&other),
                    };
                    let (value, value_taint) = self.eval(value)?;
                    taint = taint.or(key_taint).or(value_taint);
                    map.insert(key, value.into_owned());
                }
                (Cow::Owned(Value::Object(map)), taint)
            }
            ExprKind::Unary(op, operand) => {
                let (value, taint) = self.eval(operand)?;
                // A number or a boolean: never masked (see `taint`).
                let value = match op {
                    UnaryOp::Not => Value::Bool(!self.condition(&value)?),
                    UnaryOp::Minus => {
                        value::arithmetic(BinaryOp::Multiply, &Value::from(-1), &value)
                            .map_err(EvalError::Failed)?
                    }
                    UnaryOp::Plus => value::arithmetic(BinaryOp::Multiply, &Value::from(1), &value)
                        .map_err(EvalError::Failed)?,
                };
                (Cow::Owned(value), taint.or(Taint::Clean))
            }
            ExprKind::Binary(op, left, right) => self.binary(*op, left, right)?,
            ExprKind::Ternary(condition, then, otherwise) => {
                // What the condition decides is not tracked (see `taint`).
                let (value, _) = self.eval(condition)?;
                if self.condition(&value)? {
                    self.eval(then)?
                } else {
                    self.eval(otherwise)?
                }
            }
            ExprKind::Filter(input, call) => {
                let input = match self.eval(input) {
                    // Pebble's FilterExpression lets `default` see an
                    // undefined input as null, even with strictVariables.
                    Err(EvalError::Undefined { .. }) if call.name == "default" => {
                        (Cow::Owned(Value::Null), Taint::Clean)
                    }
                    other => other?,
                };
                self.filter(input, call)?
            }
            ExprKind::Test {
                input,
                call,
                negated,
            } => {
                let input = match self.eval(input) {
                    // Pebble's PositiveTestExpression: `defined` is the one
                    // test that does not fail on an undefined input.
                    Err(EvalError::Undefined { .. }) if call.name == "defined" => {
                        (Cow::Owned(Value::Null), Taint::Clean)
                    }
                    other => other?,
                };
                let (result, taint) = self.invoke(Kind::Test, input, call)?;
                let passed = value::truthy(&result).map_err(EvalError::Failed)?;
                (Cow::Owned(Value::Bool(passed != *negated)), taint)
            }
            ExprKind::Function(call) => self.invoke(
                Kind::Function,
                (Cow::Owned(Value::Null), Taint::Clean),
                call,
            )?,
            ExprKind::Interpolation(parts) => {
                let mut text = String::new();
                let mut taint = Taint::Clean;
                for part in parts {
                    let (part, part_taint) = self.eval(part)?;
                    taint = taint.or(part_taint);
                    value::print(&part, &mut text);
                }
                let text = Value::String(text);
                self.derived(&text, taint, false)?;
                (Cow::Owned(text), taint)
            }
        })
    }

    /// The taint of a root variable: `inputs` holds secrets when some
    /// inputs are SECRET.
    fn root_taint(&self, name: &str) -> Taint {
        if name == "inputs" && !self.secret_inputs.is_empty() {
            Taint::Inputs
        } else {
            Taint::Clean
        }
    }

    /// Registers a value this render produced from a tainted operand with
    /// the masker (see [`taint::register`]); nothing to do when clean.
    fn derived(&self, value: &Value, taint: Taint, whole: bool) -> Result<()> {
        if taint.is_secret() {
            taint::register(self.masker, value, whole)
        } else {
            Ok(())
        }
    }

    fn binary(&mut self, op: BinaryOp, left: &'a Expr, right: &'a Expr) -> Result<Tracked<'a>> {
        let (value, taint) = match op {
            BinaryOp::NullCoalesce => {
                return match self.eval(left) {
                    Ok(value) if !value.0.is_null() => Ok(value),
                    Ok(_) | Err(EvalError::Undefined { .. }) => self.eval(right),
                    Err(error) => Err(error),
                };
            }
            BinaryOp::UndefinedCoalesce => {
                return match self.eval(left) {
                    Err(EvalError::Undefined { .. }) => self.eval(right),
                    other => other,
                };
            }
            BinaryOp::Or | BinaryOp::And => {
                let (l, left_taint) = self.eval(left)?;
                let first = self.condition(&l)?;
                // `or` stops at true, `and` at false.
                if first == (op == BinaryOp::Or) {
                    (Value::Bool(first), left_taint.or(Taint::Clean))
                } else {
                    let (r, right_taint) = self.eval(right)?;
                    (Value::Bool(self.condition(&r)?), left_taint.or(right_taint))
                }
            }
            _ => {
                let (l, left_taint) = self.eval(left)?;
                let (r, right_taint) = self.eval(right)?;
                let taint = left_taint.or(right_taint);
                let value = match op {
                    BinaryOp::Equals => Value::Bool(value::equals(&l, &r)),
                    BinaryOp::NotEquals => Value::Bool(!value::equals(&l, &r)),
                    BinaryOp::Less
                    | BinaryOp::Greater
                    | BinaryOp::LessEqual
                    | BinaryOp::GreaterEqual => {
                        Value::Bool(value::compare(op, &l, &r).map_err(EvalError::Failed)?)
                    }
                    BinaryOp::Contains => Value::Bool(value::contains(&l, &r)),
                    BinaryOp::Concat => {
                        let mut text = String::new();
                        value::print(&l, &mut text);
                        value::print(&r, &mut text);
                        self.bound_text(&text)?;
                        Value::String(text)
                    }
                    BinaryOp::Add if l.is_string() || r.is_string() => {
                        let text = java_string(&l) + &java_string(&r);
                        self.bound_text(&text)?;
                        Value::String(text)
                    }
                    BinaryOp::Add | BinaryOp::Subtract if l.is_array() => {
                        let mut items = l.into_owned();
                        let list = items.as_array_mut().expect("checked above");
                        let others: Vec<Value> = match r.into_owned() {
                            Value::Array(others) => others,
                            other => vec![other],
                        };
                        if op == BinaryOp::Add {
                            // Each item added costs a step, so doubling a
                            // list in a loop meets the step limit long
                            // before it fills memory.
                            self.charge(others.len() as u64)?;
                            list.extend(others);
                        } else {
                            list.retain(|item| !others.contains(item));
                        }
                        items
                    }
                    BinaryOp::Range => {
                        let (Some(Num::Int(from)), Some(Num::Int(to))) =
                            (number_of(&l), number_of(&r))
                        else {
                            return Err(EvalError::Failed(format!(
                                "`..` needs two whole numbers, not {} and {}",
                                value::describe(&l),
                                value::describe(&r)
                            )));
                        };
                        Value::Array(self.range(from, to, 1)?)
                    }
                    _ => value::arithmetic(op, &l, &r).map_err(EvalError::Failed)?,
                };
                (value, taint)
            }
        };
        // `~` and `+` on text give a string to mask; the rest give
        // numbers, booleans or lists of what was already registered.
        self.derived(&value, taint, false)?;
        Ok((Cow::Owned(value), taint))
    }

    /// Pebble's `range(start, end, step)`: both ends included. A range
    /// larger than the step budget fails at once rather than filling memory.
    pub(crate) fn range(&mut self, from: i64, to: i64, step: i64) -> Result<Vec<Value>> {
        if step == 0 {
            return Err(EvalError::Failed("range: the step cannot be 0".into()));
        }
        let count = if (step > 0 && from > to) || (step < 0 && from < to) {
            0
        } else {
            (to.abs_diff(from) / step.unsigned_abs()).saturating_add(1)
        };
        if count > self.limits.steps.saturating_sub(self.steps) {
            return Err(EvalError::Limit {
                name: "steps",
                limit: self.limits.steps,
            });
        }
        self.steps += count;
        // Every value lies between `from` and `to`, so this never
        // overflows; i128 keeps the products in range on the way.
        Ok((0..count)
            .map(|i| Value::from((i128::from(from) + i128::from(i) * i128::from(step)) as i64))
            .collect())
    }

    fn filter(&mut self, input: Tracked<'a>, call: &'a CallNode) -> Result<Tracked<'a>> {
        self.invoke(Kind::Filter, input, call)
    }

    /// Evaluates a call's arguments, binds them to the declaration's
    /// parameters, and runs it. The result derives from a secret when an
    /// operand does (or the function says so); a string result is then
    /// registered with the masker, and so are the strings of a list or
    /// map result when a tainted operand was a string (`split`,
    /// `fromJson`), rather than a list or map that merely holds one.
    fn invoke(
        &mut self,
        kind: Kind,
        input: Tracked<'a>,
        call: &'a CallNode,
    ) -> Result<Tracked<'a>> {
        let declaration = library::lookup(kind, &call.name)
            .ok_or_else(|| EvalError::Failed(library::unknown(kind, &call.name)))?;
        let (input, mut taint) = input;
        let mut from_text = taint.is_secret() && !is_container(&input);
        let mut args: Vec<Option<Cow<'a, Value>>> = vec![None; declaration.params.len()];
        let mut rest = Vec::new();
        let mut positional = 0;
        for arg in &call.args {
            let (value, arg_taint) = self.eval(&arg.value)?;
            if arg_taint.is_secret() {
                taint = taint.or(arg_taint);
                from_text |= !is_container(&value);
            }
            let slot = match &arg.name {
                Some(name) => declaration
                    .params
                    .iter()
                    .position(|p| p.name == name)
                    .ok_or_else(|| {
                        EvalError::Failed(format!(
                            "{} `{}` has no parameter `{name}`{}",
                            kind.noun(),
                            declaration.name,
                            declaration.signature_hint()
                        ))
                    })?,
                None => {
                    positional += 1;
                    positional - 1
                }
            };
            if slot < args.len() {
                args[slot] = Some(value);
            } else if declaration.variadic {
                rest.push(value);
            } else {
                return Err(EvalError::Failed(format!(
                    "{} `{}` takes at most {} arguments{}",
                    kind.noun(),
                    declaration.name,
                    args.len(),
                    declaration.signature_hint()
                )));
            }
        }
        if let Some(missing) = declaration
            .params
            .iter()
            .zip(&args)
            .find(|(p, a)| p.required && a.is_none())
        {
            return Err(EvalError::Failed(format!(
                "{} `{}` needs its `{}` argument{}",
                kind.noun(),
                declaration.name,
                missing.0.name,
                declaration.signature_hint()
            )));
        }
        let taint = taint.or(Taint::Clean);
        if declaration.null_in_null_out && input.is_null() {
            return Ok((Cow::Owned(Value::Null), taint));
        }
        let name = declaration.name;
        self.tainted_result = false;
        let result = (declaration.implementation)(Call {
            input,
            args,
            rest,
            ev: self,
        })
        .map_err(|message| match message {
            EvalError::Failed(message) => EvalError::Failed(format!("{name}: {message}")),
            other => other,
        })?;
        let taint = if std::mem::take(&mut self.tainted_result) {
            Taint::Secret
        } else {
            taint
        };
        match result.as_ref() {
            Value::String(text) => self.bound_text(text)?,
            Value::Array(items) => self.charge(items.len() as u64)?,
            Value::Object(map) => self.charge(map.len() as u64)?,
            _ => {}
        }
        self.derived(&result, taint, from_text)?;
        Ok((result, taint))
    }

    /// Renders another template (the `render` function's argument) against
    /// the same root variables, sharing this render's step budget.
    pub(crate) fn render_nested(&mut self, source: &str) -> Result<String> {
        if self.depth >= self.limits.depth {
            return Err(EvalError::Limit {
                name: "nesting depth",
                limit: self.limits.depth as u64,
            });
        }
        let nodes = super::parser::parse(source)
            .map_err(|e| EvalError::Failed(format!("in the rendered text: {}", e.message)))?;
        let mut inner = Evaluator::new(
            self.context,
            self.host,
            self.masker,
            self.secret_inputs,
            self.limits,
        );
        inner.steps = self.steps;
        inner.depth = self.depth + 1;
        let mut out = String::new();
        let result = inner.render(&nodes, &mut out);
        self.steps = inner.steps;
        self.tainted_result |= inner.printed_taint;
        result.map(|()| out)
    }

    /// A value as a condition (`if`, `and`, `or`, `not`, `?:`); null is
    /// false there.
    fn condition(&self, value: &Value) -> Result<bool> {
        if value.is_null() {
            return Ok(false);
        }
        value::truthy(value).map_err(EvalError::Failed)
    }

    /// Fails when a string built inside the template (by `~`, `+` or a
    /// filter) is already larger than the whole output may be, so a
    /// doubling loop stops at the output limit instead of filling memory.
    pub(crate) fn bound_text(&self, text: &str) -> Result<()> {
        if text.len() > self.limits.output_bytes {
            return Err(EvalError::Limit {
                name: "output size (bytes)",
                limit: self.limits.output_bytes as u64,
            });
        }
        Ok(())
    }

    /// Charges `count` steps at once (work proportional to a size).
    pub(crate) fn charge(&mut self, count: u64) -> Result<()> {
        self.steps = self.steps.saturating_add(count);
        if self.steps > self.limits.steps {
            return Err(EvalError::Limit {
                name: "steps",
                limit: self.limits.steps,
            });
        }
        Ok(())
    }

    fn step(&mut self) -> Result<()> {
        self.steps += 1;
        if self.steps > self.limits.steps {
            return Err(EvalError::Limit {
                name: "steps",
                limit: self.limits.steps,
            });
        }
        Ok(())
    }
}

fn is_container(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Object(_))
}

/// `object.name` or `object[name]`: a map's entry or a list's item; None
/// when there is none (the caller reports the path).
fn member<'a>(object: Cow<'a, Value>, name: &str) -> Option<Cow<'a, Value>> {
    match object {
        Cow::Borrowed(Value::Object(map)) => map.get(name).map(Cow::Borrowed),
        Cow::Borrowed(Value::Array(items)) => {
            items.get(name.parse::<usize>().ok()?).map(Cow::Borrowed)
        }
        Cow::Owned(Value::Object(mut map)) => map.remove(name).map(Cow::Owned),
        Cow::Owned(Value::Array(mut items)) => {
            let index = name.parse::<usize>().ok().filter(|i| *i < items.len())?;
            Some(Cow::Owned(items.swap_remove(index)))
        }
        _ => None,
    }
}

/// Pebble's loop variables: `index` counts from 0, `revindex` down to 0.
fn loop_state(index: usize, length: usize) -> Value {
    let mut state = Map::new();
    state.insert("index".into(), Value::from(index));
    state.insert("length".into(), Value::from(length));
    state.insert("first".into(), Value::Bool(index == 0));
    state.insert("last".into(), Value::Bool(index + 1 == length));
    state.insert("revindex".into(), Value::from(length - index - 1));
    Value::Object(state)
}

fn entry(key: String, value: Value) -> Value {
    let mut map = Map::new();
    map.insert("key".into(), Value::String(key));
    map.insert("value".into(), value);
    Value::Object(map)
}

/// The dotted path of an access (`outputs.task.value`, `a['b-c']`), for
/// messages.
pub(crate) fn path_of(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Variable(name) => name.clone(),
        ExprKind::Attribute(object, name) => format!("{}.{name}", path_of(object)),
        ExprKind::Index(object, index) => match &index.kind {
            ExprKind::Literal(Value::String(key)) => format!("{}['{key}']", path_of(object)),
            ExprKind::Literal(other) => format!("{}[{other}]", path_of(object)),
            _ => format!("{}[...]", path_of(object)),
        },
        ExprKind::Function(call) => format!("{}(...)", call.name),
        _ => "(expression)".into(),
    }
}
