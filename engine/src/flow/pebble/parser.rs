//! Tokens to a syntax tree, following Pebble's expression parser: binary
//! operators by precedence (left associative), unary `not`/`-`/`+` binding
//! tighter than any binary operator, filters at 100, tests at 20, and the
//! ternary only at the top of an expression.

use serde_json::Value;

use super::SyntaxError;
use super::ast::{Arg, BinaryOp, Call, Expr, ExprKind, Node, Span, UnaryOp};
use super::lexer::{self, Part, Tok, Token};

/// How deep expressions and tags may nest: deeper templates are refused
/// rather than risking the stack (`((((...` from a fuzzer or a paste).
pub(crate) const MAX_NESTING: usize = 100;

pub(crate) fn parse(source: &str) -> Result<Vec<Node>, SyntaxError> {
    let tokens = lexer::lex(source)?;
    let mut parser = Parser {
        src: source,
        tokens,
        pos: 0,
        depth: 0,
    };
    let (body, _) = parser.body(&[])?;
    Ok(body)
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// The tags this engine knows, for the "did you mean" of an unknown one.
const TAGS: &[&str] = &[
    "if",
    "elseif",
    "else",
    "endif",
    "for",
    "endfor",
    "set",
    "filter",
    "endfilter",
    "verbatim",
    "raw",
];

impl Parser<'_> {
    /// Nodes until one of `ends` (a tag name) or the end of the template.
    /// Returns the ending tag's name with the tag's name consumed.
    fn body(&mut self, ends: &[&str]) -> Result<(Vec<Node>, Option<(String, Span)>), SyntaxError> {
        self.enter()?;
        let mut nodes = Vec::new();
        while let Some(token) = self.next() {
            match token.tok {
                Tok::Text(text) => nodes.push(Node::Text(text)),
                Tok::PrintOpen => {
                    let expr = self.expression(0)?;
                    self.expect(Tok::PrintClose, "`}}`")?;
                    nodes.push(Node::Print(expr));
                }
                Tok::TagOpen => {
                    let (name, span) = self.name("a tag name after `{%`")?;
                    if ends.contains(&name.as_str()) {
                        self.depth -= 1;
                        return Ok((nodes, Some((name, span))));
                    }
                    if ["endif", "endfor", "endfilter", "else", "elseif"].contains(&name.as_str()) {
                        return Err(SyntaxError::new(
                            format!("`{{% {name} %}}` has no opening tag"),
                            span,
                        ));
                    }
                    nodes.push(self.tag(&name, span)?);
                }
                _ => return Err(SyntaxError::new("unexpected token", token.span)),
            }
        }
        self.depth -= 1;
        Ok((nodes, None))
    }

    fn tag(&mut self, name: &str, span: Span) -> Result<Node, SyntaxError> {
        match name {
            "if" => {
                let mut branches = Vec::new();
                let mut condition = self.expression(0)?;
                self.expect(Tok::TagClose, "`%}`")?;
                loop {
                    let (body, end) = self.body(&["elseif", "else", "endif"])?;
                    branches.push((condition, body));
                    match end.as_ref().map(|(n, _)| n.as_str()) {
                        Some("elseif") => {
                            condition = self.expression(0)?;
                            self.expect(Tok::TagClose, "`%}`")?;
                        }
                        Some("else") => {
                            self.expect(Tok::TagClose, "`%}`")?;
                            let otherwise = self.closed_body("endif", &span)?;
                            return Ok(Node::If {
                                branches,
                                otherwise,
                            });
                        }
                        Some(_) => {
                            self.expect(Tok::TagClose, "`%}`")?;
                            return Ok(Node::If {
                                branches,
                                otherwise: Vec::new(),
                            });
                        }
                        None => {
                            return Err(SyntaxError::new("`{% if %}` has no `{% endif %}`", span));
                        }
                    }
                }
            }
            "for" => {
                let (variable, var_span) = self.name("the loop variable after `for`")?;
                match self.next() {
                    Some(Token {
                        tok: Tok::Name(n), ..
                    }) if n == "in" => {}
                    other => return Err(self.unexpected(other, "`in` after the loop variable")),
                }
                let iterable = self.expression(0)?;
                self.expect(Tok::TagClose, "`%}`")?;
                let (body, end) = self.body(&["else", "endfor"])?;
                let otherwise = match end.as_ref().map(|(n, _)| n.as_str()) {
                    Some("else") => {
                        self.expect(Tok::TagClose, "`%}`")?;
                        self.closed_body("endfor", &span)?
                    }
                    Some(_) => {
                        self.expect(Tok::TagClose, "`%}`")?;
                        Vec::new()
                    }
                    None => {
                        return Err(SyntaxError::new("`{% for %}` has no `{% endfor %}`", span));
                    }
                };
                Ok(Node::For {
                    variable,
                    span: var_span,
                    iterable,
                    body,
                    otherwise,
                })
            }
            "set" => {
                let (name, name_span) = self.name("a name after `set`")?;
                self.expect(Tok::Punct("="), "`=` after the name")?;
                let value = self.expression(0)?;
                self.expect(Tok::TagClose, "`%}`")?;
                Ok(Node::Set {
                    name,
                    span: name_span,
                    value,
                })
            }
            "filter" => {
                let mut calls = vec![self.call()?];
                while self.eat(&Tok::Punct("|")) {
                    calls.push(self.call()?);
                }
                self.expect(Tok::TagClose, "`%}`")?;
                let body = self.closed_body("endfilter", &span)?;
                Ok(Node::Filter { calls, body })
            }
            other => {
                let hint = match super::closest(other, TAGS.iter().copied()) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None => format!("; the tags are {}", TAGS.join(", ")),
                };
                Err(SyntaxError::new(
                    format!("unknown tag `{other}`{hint}"),
                    span,
                ))
            }
        }
    }

    /// A body that must end with `end`, whose `%}` is consumed too.
    fn closed_body(&mut self, end: &str, open: &Span) -> Result<Vec<Node>, SyntaxError> {
        let (body, closed) = self.body(&[end])?;
        if closed.is_none() {
            return Err(SyntaxError::new(
                format!("missing `{{% {end} %}}`"),
                open.clone(),
            ));
        }
        self.expect(Tok::TagClose, "`%}`")?;
        Ok(body)
    }

    pub(crate) fn expression(&mut self, min: u8) -> Result<Expr, SyntaxError> {
        self.enter()?;
        let mut left = self.unary()?;
        loop {
            let Some(token) = self.tokens.get(self.pos) else {
                break;
            };
            let start = left.span.start;
            match &token.tok {
                Tok::Punct("|") if min <= 100 => {
                    self.pos += 1;
                    let call = self.call()?;
                    let end = self.last_end();
                    left = Expr {
                        kind: ExprKind::Filter(Box::new(left), call),
                        span: start..end,
                    };
                }
                Tok::Name(n) if n == "is" && min <= 20 => {
                    self.pos += 1;
                    let negated = matches!(self.tokens.get(self.pos), Some(Token { tok: Tok::Name(n), .. }) if n == "not");
                    if negated {
                        self.pos += 1;
                    }
                    let call = self.call()?;
                    let end = self.last_end();
                    left = Expr {
                        kind: ExprKind::Test {
                            input: Box::new(left),
                            call,
                            negated,
                        },
                        span: start..end,
                    };
                }
                Tok::Punct(_) | Tok::Name(_) => {
                    let word = match &token.tok {
                        Tok::Punct(p) => *p,
                        Tok::Name(n) => n.as_str(),
                        _ => "",
                    };
                    let Some((op, precedence)) = BinaryOp::from_token(word) else {
                        break;
                    };
                    if precedence < min {
                        break;
                    }
                    self.pos += 1;
                    let right = self.expression(precedence + 1)?;
                    let end = right.span.end;
                    left = Expr {
                        kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                        span: start..end,
                    };
                }
                _ => break,
            }
        }
        if min == 0 && self.eat(&Tok::Punct("?")) {
            let then = self.expression(0)?;
            self.expect(Tok::Punct(":"), "`:` in `condition ? then : else`")?;
            let otherwise = self.expression(0)?;
            let span = left.span.start..otherwise.span.end;
            left = Expr {
                kind: ExprKind::Ternary(Box::new(left), Box::new(then), Box::new(otherwise)),
                span,
            };
        }
        self.depth -= 1;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        let Some(token) = self.tokens.get(self.pos) else {
            return Err(self.unexpected(None, "an expression"));
        };
        let start = token.span.start;
        let op = match &token.tok {
            Tok::Name(n) if n == "not" => Some(UnaryOp::Not),
            Tok::Punct("-") => Some(UnaryOp::Minus),
            Tok::Punct("+") => Some(UnaryOp::Plus),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            // Pebble's unary operators have precedence 500: they take only
            // the operand and its `.`/`[]` accesses (`-a | abs` is `(-a) | abs`).
            let operand = self.expression(200)?;
            let span = start..operand.span.end;
            return Ok(Expr {
                kind: ExprKind::Unary(op, Box::new(operand)),
                span,
            });
        }
        let primary = self.primary()?;
        self.postfix(primary)
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let Some(token) = self.next() else {
            return Err(self.unexpected(None, "an expression"));
        };
        let span = token.span.clone();
        let kind = match token.tok {
            Tok::Int(i) => ExprKind::Literal(Value::from(i)),
            Tok::Float(f) => ExprKind::Literal(Value::from(f)),
            Tok::Str(s) => ExprKind::Literal(Value::String(s)),
            Tok::Interpolated(parts) => {
                let mut exprs = Vec::new();
                for part in parts {
                    match part {
                        Part::Text(text) => exprs.push(Expr {
                            kind: ExprKind::Literal(Value::String(text)),
                            span: span.clone(),
                        }),
                        Part::Code(range) => {
                            let tokens = lexer::lex_expression(self.src, range.clone())?;
                            let mut inner = Parser {
                                src: self.src,
                                tokens,
                                pos: 0,
                                depth: self.depth,
                            };
                            let expr = inner.expression(0)?;
                            if let Some(extra) = inner.tokens.get(inner.pos) {
                                return Err(SyntaxError::new(
                                    "unexpected token in `#{...}`",
                                    extra.span.clone(),
                                ));
                            }
                            exprs.push(expr);
                        }
                    }
                }
                ExprKind::Interpolation(exprs)
            }
            Tok::Name(name) => {
                let literal = match name.as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" | "none" => Some(Value::Null),
                    _ => None,
                };
                match literal {
                    Some(value) => ExprKind::Literal(value),
                    None if self.peek_is(&Tok::Punct("(")) => {
                        let args = self.args()?;
                        let end = self.last_end();
                        return Ok(Expr {
                            kind: ExprKind::Function(Call {
                                name,
                                name_span: span.clone(),
                                args,
                            }),
                            span: span.start..end,
                        });
                    }
                    None => ExprKind::Variable(name),
                }
            }
            Tok::Punct("(") => {
                let inner = self.expression(0)?;
                self.expect(Tok::Punct(")"), "`)`")?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: span.start..self.last_end(),
                });
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                while !self.eat(&Tok::Punct("]")) {
                    if !items.is_empty() {
                        self.expect(Tok::Punct(","), "`,` or `]` in the list")?;
                        if self.eat(&Tok::Punct("]")) {
                            break;
                        }
                    }
                    items.push(self.expression(0)?);
                }
                ExprKind::List(items)
            }
            Tok::Punct("{") => {
                let mut entries = Vec::new();
                while !self.eat(&Tok::Punct("}")) {
                    if !entries.is_empty() {
                        self.expect(Tok::Punct(","), "`,` or `}` in the map")?;
                        if self.eat(&Tok::Punct("}")) {
                            break;
                        }
                    }
                    let key = self.expression(0)?;
                    self.expect(Tok::Punct(":"), "`:` after the map key")?;
                    entries.push((key, self.expression(0)?));
                }
                ExprKind::Map(entries)
            }
            other => return Err(self.unexpected(Some(Token { tok: other, span }), "an expression")),
        };
        Ok(Expr {
            kind,
            span: span.start..self.last_end(),
        })
    }

    /// `.name`, `.0` and `[expr]` after a primary.
    fn postfix(&mut self, mut expr: Expr) -> Result<Expr, SyntaxError> {
        loop {
            if self.eat(&Tok::Punct(".")) {
                let name = match self.next() {
                    Some(Token {
                        tok: Tok::Name(n), ..
                    }) => n,
                    Some(Token {
                        tok: Tok::Int(i), ..
                    }) => i.to_string(),
                    other => return Err(self.unexpected(other, "an attribute name after `.`")),
                };
                let span = expr.span.start..self.last_end();
                expr = Expr {
                    kind: ExprKind::Attribute(Box::new(expr), name),
                    span,
                };
            } else if self.eat(&Tok::Punct("[")) {
                let index = self.expression(0)?;
                self.expect(Tok::Punct("]"), "`]`")?;
                let span = expr.span.start..self.last_end();
                expr = Expr {
                    kind: ExprKind::Index(Box::new(expr), Box::new(index)),
                    span,
                };
            } else {
                return Ok(expr);
            }
        }
    }

    /// `name` or `name(args)`, for filters and tests.
    fn call(&mut self) -> Result<Call, SyntaxError> {
        let (name, name_span) = self.name("a filter or test name")?;
        let args = if self.peek_is(&Tok::Punct("(")) {
            self.args()?
        } else {
            Vec::new()
        };
        Ok(Call {
            name,
            name_span,
            args,
        })
    }

    /// `(a, b, name=c)`; the `(` is next.
    fn args(&mut self) -> Result<Vec<Arg>, SyntaxError> {
        self.expect(Tok::Punct("("), "`(`")?;
        let mut args = Vec::new();
        while !self.eat(&Tok::Punct(")")) {
            if !args.is_empty() {
                self.expect(Tok::Punct(","), "`,` or `)` between arguments")?;
            }
            let named = matches!(
                (self.tokens.get(self.pos), self.tokens.get(self.pos + 1)),
                (
                    Some(Token {
                        tok: Tok::Name(_),
                        ..
                    }),
                    Some(Token {
                        tok: Tok::Punct("="),
                        ..
                    })
                )
            );
            let name = if named {
                let (name, _) = self.name("an argument name")?;
                self.pos += 1;
                Some(name)
            } else {
                None
            };
            args.push(Arg {
                name,
                value: self.expression(0)?,
            });
        }
        Ok(args)
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let span = self
                .tokens
                .get(self.pos)
                .map_or(self.src.len()..self.src.len(), |t| t.span.clone());
            return Err(SyntaxError::new(
                format!("the template nests deeper than {MAX_NESTING} levels"),
                span,
            ));
        }
        Ok(())
    }

    fn name(&mut self, what: &str) -> Result<(String, Span), SyntaxError> {
        match self.next() {
            Some(Token {
                tok: Tok::Name(name),
                span,
            }) => Ok((name, span)),
            other => Err(self.unexpected(other, what)),
        }
    }

    /// Takes the next token out of the list (consumed tokens keep only
    /// their span, for `last_end`), so parsing copies no token text.
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get_mut(self.pos)?;
        self.pos += 1;
        Some(Token {
            tok: std::mem::replace(&mut token.tok, Tok::Punct("")),
            span: token.span.clone(),
        })
    }

    fn peek_is(&self, tok: &Tok) -> bool {
        self.tokens.get(self.pos).is_some_and(|t| &t.tok == tok)
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = self.peek_is(tok);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), SyntaxError> {
        match self.next() {
            Some(token) if token.tok == tok => Ok(()),
            other => Err(self.unexpected(other, what)),
        }
    }

    fn last_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.span.end)
    }

    fn unexpected(&self, found: Option<Token>, wanted: &str) -> SyntaxError {
        match found {
            Some(token) => {
                let text = self.src.get(token.span.clone()).unwrap_or("");
                SyntaxError::new(
                    format!("syntax error: expected {wanted}, found `{text}`"),
                    token.span,
                )
            }
            None => {
                let end = self.src.len();
                SyntaxError::new(
                    format!("syntax error: expected {wanted}, found the end of the template"),
                    end..end,
                )
            }
        }
    }
}
