//! The syntax tree. Every expression and call keeps its byte range in the
//! template so errors, the checker and (later) completion can point at it.

use std::ops::Range;

use serde_json::Value;

pub(crate) type Span = Range<usize>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Print(Expr),
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    For {
        variable: String,
        span: Span,
        iterable: Expr,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Set {
        name: String,
        span: Span,
        value: Expr,
    },
    /// `{% filter upper | trim %}...{% endfilter %}`: the body's output
    /// goes through the filters.
    Filter {
        calls: Vec<Call>,
        body: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Literal(Value),
    Variable(String),
    /// `a.b`
    Attribute(Box<Expr>, String),
    /// `a[b]`
    Index(Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `a ? b : c`
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `input | name(args)`
    Filter(Box<Expr>, Call),
    /// `input is [not] name(args)`
    Test {
        input: Box<Expr>,
        call: Call,
        negated: bool,
    },
    /// `name(args)`
    Function(Call),
    /// `"a #{b} c"`: the parts' texts joined.
    Interpolation(Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Not,
    Plus,
    Minus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Contains,
    Equals,
    NotEquals,
    Less,
    Greater,
    LessEqual,
    GreaterEqual,
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Concat,
    Range,
    /// Kestra's `??`: the left side unless it is undefined or null.
    NullCoalesce,
    /// Kestra's `???`: the left side unless it is undefined (null stays).
    UndefinedCoalesce,
}

/// A filter, function or test call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub name: String,
    pub name_span: Span,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arg {
    pub name: Option<String>,
    pub value: Expr,
}

impl BinaryOp {
    /// Pebble's precedences (CoreExtension), with Kestra's `??` and `???`
    /// at 120 (its Extension), and `is` handled beside these at 20.
    pub(crate) fn from_token(punct_or_name: &str) -> Option<(Self, u8)> {
        Some(match punct_or_name {
            "or" => (Self::Or, 10),
            "and" => (Self::And, 15),
            "contains" => (Self::Contains, 20),
            "==" | "equals" => (Self::Equals, 30),
            "!=" => (Self::NotEquals, 30),
            "<" => (Self::Less, 30),
            ">" => (Self::Greater, 30),
            "<=" => (Self::LessEqual, 30),
            ">=" => (Self::GreaterEqual, 30),
            "+" => (Self::Add, 40),
            "-" => (Self::Subtract, 40),
            "*" => (Self::Multiply, 60),
            "/" => (Self::Divide, 60),
            "%" => (Self::Modulo, 60),
            "~" => (Self::Concat, 110),
            ".." => (Self::Range, 120),
            "??" => (Self::NullCoalesce, 120),
            "???" => (Self::UndefinedCoalesce, 120),
            _ => return None,
        })
    }
}
