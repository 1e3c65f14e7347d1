//! What `expr::check` reports without running anything: the variable paths
//! a template reads (for the flow's scope checks) and every unknown
//! filter, function, test or argument name, with its byte range and the
//! closest known name.

use std::collections::BTreeSet;

use serde_json::Value;

use super::ast::{BinaryOp, Call, Expr, ExprKind, Node};
use super::library::{self, Kind};
use crate::flow::expr::SyntaxError;

pub(crate) struct Checked {
    pub variables: BTreeSet<String>,
    pub errors: Vec<SyntaxError>,
}

pub(crate) fn check(nodes: &[Node]) -> Checked {
    let mut locals = BTreeSet::from(["loop".to_owned()]);
    collect_locals(nodes, &mut locals);
    let mut checker = Checker {
        locals,
        checked: Checked {
            variables: BTreeSet::new(),
            errors: Vec::new(),
        },
    };
    checker.nodes(nodes);
    checker.checked
}

/// Loop variables and `set` names, wherever they are: a reference to one is
/// not a flow variable. (A name set late and read early is rare enough not
/// to track order.)
fn collect_locals(nodes: &[Node], into: &mut BTreeSet<String>) {
    for node in nodes {
        match node {
            Node::For {
                variable,
                body,
                otherwise,
                ..
            } => {
                into.insert(variable.clone());
                collect_locals(body, into);
                collect_locals(otherwise, into);
            }
            Node::Set { name, .. } => {
                into.insert(name.clone());
            }
            Node::If {
                branches,
                otherwise,
            } => {
                for (_, body) in branches {
                    collect_locals(body, into);
                }
                collect_locals(otherwise, into);
            }
            Node::Filter { body, .. } => collect_locals(body, into),
            Node::Text(_) | Node::Print(_) => {}
        }
    }
}

struct Checker {
    locals: BTreeSet<String>,
    checked: Checked,
}

impl Checker {
    fn nodes(&mut self, nodes: &[Node]) {
        for node in nodes {
            match node {
                Node::Text(_) => {}
                Node::Print(expr) => self.expr(expr),
                Node::If {
                    branches,
                    otherwise,
                } => {
                    for (condition, body) in branches {
                        self.expr(condition);
                        self.nodes(body);
                    }
                    self.nodes(otherwise);
                }
                Node::For {
                    iterable,
                    body,
                    otherwise,
                    ..
                } => {
                    self.expr(iterable);
                    self.nodes(body);
                    self.nodes(otherwise);
                }
                Node::Set { value, .. } => self.expr(value),
                Node::Filter { calls, body } => {
                    for call in calls {
                        self.call(Kind::Filter, call);
                    }
                    self.nodes(body);
                }
            }
        }
    }

    /// An expression whose undefined value the runtime accepts: the left
    /// side of `??` and `???`, the input of `| default` and `is defined`.
    /// Its names and calls are still checked, but a variable path it reads
    /// is not reported, since reading a missing one is what it is for.
    fn guarded(&mut self, expr: &Expr) {
        if path(expr).is_some() {
            return;
        }
        self.expr(expr);
    }

    fn expr(&mut self, expr: &Expr) {
        if let Some(path) = path(expr) {
            let root = path.split('.').next().unwrap_or_default();
            if !self.locals.contains(root) {
                self.checked.variables.insert(path);
            }
            return;
        }
        match &expr.kind {
            ExprKind::Literal(_) | ExprKind::Variable(_) => {}
            ExprKind::Attribute(object, _) => self.expr(object),
            ExprKind::Index(object, index) => {
                self.expr(object);
                self.expr(index);
            }
            ExprKind::List(items) | ExprKind::Interpolation(items) => {
                items.iter().for_each(|i| self.expr(i))
            }
            ExprKind::Map(entries) => {
                for (key, value) in entries {
                    self.expr(key);
                    self.expr(value);
                }
            }
            ExprKind::Unary(_, operand) => self.expr(operand),
            ExprKind::Binary(BinaryOp::NullCoalesce | BinaryOp::UndefinedCoalesce, left, right) => {
                self.guarded(left);
                self.expr(right);
            }
            ExprKind::Binary(_, left, right) => {
                self.expr(left);
                self.expr(right);
            }
            ExprKind::Ternary(condition, then, otherwise) => {
                self.expr(condition);
                self.expr(then);
                self.expr(otherwise);
            }
            ExprKind::Filter(input, call) if call.name == "default" => {
                self.guarded(input);
                self.call(Kind::Filter, call);
            }
            ExprKind::Filter(input, call) => {
                self.expr(input);
                self.call(Kind::Filter, call);
            }
            ExprKind::Test { input, call, .. } if call.name == "defined" => {
                self.guarded(input);
                self.call(Kind::Test, call);
            }
            ExprKind::Test { input, call, .. } => {
                self.expr(input);
                self.call(Kind::Test, call);
            }
            ExprKind::Function(call) => self.call(Kind::Function, call),
        }
    }

    fn call(&mut self, kind: Kind, call: &Call) {
        for arg in &call.args {
            self.expr(&arg.value);
        }
        let Some(declaration) = library::lookup(kind, &call.name) else {
            self.checked.errors.push(SyntaxError::new(
                library::unknown(kind, &call.name),
                call.name_span.clone(),
            ));
            return;
        };
        for name in call.args.iter().filter_map(|a| a.name.as_deref()) {
            if !declaration.params.iter().any(|p| p.name == name) {
                self.checked.errors.push(SyntaxError::new(
                    format!(
                        "{} `{}` has no parameter `{name}`{}",
                        kind.noun(),
                        declaration.name,
                        declaration.signature_hint()
                    ),
                    call.name_span.clone(),
                ));
            }
        }
    }
}

/// `a.b.c` (or `a['b'].c`) when the expression is a plain variable access.
fn path(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Variable(name) => Some(name.clone()),
        ExprKind::Attribute(object, name) => Some(format!("{}.{name}", path(object)?)),
        ExprKind::Index(object, index) => match &index.kind {
            ExprKind::Literal(Value::String(key)) => Some(format!("{}.{key}", path(object)?)),
            _ => None,
        },
        _ => None,
    }
}
