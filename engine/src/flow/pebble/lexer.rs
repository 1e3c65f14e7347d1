//! Splits a template into tokens, as Pebble's lexer does: text outside the
//! delimiters, and expression tokens inside `{{ }}` and `{% %}`. Comments
//! `{# #}` and the bodies of `verbatim` and `raw` never reach the parser.
//!
//! Every token carries its byte range in the template, so every error the
//! parser, the checker or the evaluator reports can point at its text.

use std::ops::Range;

use super::SyntaxError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Text between delimiters, already trimmed by whitespace control.
    Text(String),
    /// `{{`
    PrintOpen,
    /// `}}`
    PrintClose,
    /// `{%`
    TagOpen,
    /// `%}`
    TagClose,
    Name(String),
    Int(i64),
    Float(f64),
    /// A string literal without interpolation.
    Str(String),
    /// A double-quoted string with `#{...}`: literal text and the byte
    /// ranges (in the template) of the embedded expressions.
    Interpolated(Vec<Part>),
    /// An operator or punctuation: `+`, `==`, `??`, `(`, ...
    Punct(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Text(String),
    Code(Range<usize>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

/// Longest first, so `???` is not read as `??` then `?`.
const PUNCTS: &[&str] = &[
    "???", "??", "==", "!=", "<=", ">=", "..", "(", ")", "[", "]", "{", "}", ",", ":", ".", "|",
    "?", "+", "-", "*", "/", "%", "~", "<", ">", "=",
];

/// Tokens of a whole template.
pub(crate) fn lex(source: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer {
        src: source,
        pos: 0,
        tokens: Vec::new(),
        trim_next_text: false,
    };
    lexer.template()?;
    Ok(lexer.tokens)
}

/// Tokens of an expression alone (the inside of a `#{...}`).
pub(crate) fn lex_expression(source: &str, range: Range<usize>) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer {
        src: source,
        pos: range.start,
        tokens: Vec::new(),
        trim_next_text: false,
    };
    lexer.code(range.end, None)?;
    Ok(lexer.tokens)
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    tokens: Vec<Token>,
    /// The previous delimiter ended with `-`: drop the next text's leading
    /// whitespace.
    trim_next_text: bool,
}

impl Lexer<'_> {
    fn template(&mut self) -> Result<(), SyntaxError> {
        let len = self.src.len();
        while self.pos < len {
            let rest = &self.src[self.pos..];
            let next = find_open(rest);
            let text_end = self.pos + next.map_or(rest.len(), |(at, _)| at);
            let trim_before = next.is_some_and(|(at, _)| rest[at + 2..].starts_with('-'));
            self.text(self.pos..text_end, trim_before);
            let Some((_, kind)) = next else { break };
            let open = text_end;
            self.pos = open + 2;
            if self.src[self.pos..].starts_with('-') {
                self.pos += 1;
            }
            match kind {
                '#' => {
                    let Some(end) = self.src[self.pos..].find("#}") else {
                        return Err(SyntaxError::new(
                            "a comment `{#` is not closed: add `#}`",
                            open..open + 2,
                        ));
                    };
                    self.trim_next_text = self.src[..self.pos + end].ends_with('-');
                    self.pos += end + 2;
                }
                '{' => {
                    self.push(Tok::PrintOpen, open..self.pos);
                    self.code(len, Some(("}}", Tok::PrintClose, open)))?;
                }
                _ => {
                    if let Some(done) = self.verbatim(open)? {
                        self.pos = done;
                        continue;
                    }
                    self.push(Tok::TagOpen, open..self.pos);
                    self.code(len, Some(("%}", Tok::TagClose, open)))?;
                }
            }
        }
        Ok(())
    }

    /// Adds text, trimmed as whitespace control asks.
    fn text(&mut self, range: Range<usize>, trim_end: bool) {
        let mut text = &self.src[range.clone()];
        if std::mem::take(&mut self.trim_next_text) {
            text = text.trim_start();
        }
        if trim_end {
            text = text.trim_end();
        }
        if !text.is_empty() {
            self.push(Tok::Text(text.to_owned()), range);
        }
    }

    /// `{% verbatim %}...{% endverbatim %}` and Kestra's
    /// `{% raw %}...{% endraw %}`: the body is text, whatever it contains.
    /// Returns where the closing tag ends.
    fn verbatim(&mut self, open: usize) -> Result<Option<usize>, SyntaxError> {
        let rest = &self.src[self.pos..];
        let word: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if word != "verbatim" && word != "raw" {
            return Ok(None);
        }
        let after_word = self.pos + (rest.len() - rest.trim_start().len()) + word.len();
        let Some(close) = self.src[after_word..].find("%}") else {
            return Err(SyntaxError::new(
                format!("`{{% {word}` is not closed: add `%}}`"),
                open..after_word,
            ));
        };
        if !self.src[after_word..after_word + close]
            .trim()
            .trim_end_matches('-')
            .trim()
            .is_empty()
        {
            return Ok(None);
        }
        let body_start = after_word + close + 2;
        let end_word = format!("end{word}");
        let mut search = body_start;
        while let Some(at) = self.src[search..].find("{%") {
            let tag = search + at;
            let inner = self.src[tag + 2..].trim_start_matches('-').trim_start();
            if let Some(after) = inner.strip_prefix(end_word.as_str())
                && let Some(close) = after
                    .trim_start()
                    .trim_start_matches('-')
                    .strip_prefix("%}")
            {
                let end = self.src.len() - close.len();
                self.trim_next_text = self.src[..end - 2].ends_with('-');
                self.pos = body_start;
                let body = self.src[body_start..tag].to_owned();
                if !body.is_empty() {
                    self.push(Tok::Text(body), body_start..tag);
                }
                return Ok(Some(end));
            }
            search = tag + 2;
        }
        Err(SyntaxError::new(
            format!("`{{% {word} %}}` has no `{{% {end_word} %}}`"),
            open..body_start,
        ))
    }

    /// Expression tokens up to the closing delimiter (or `end`).
    fn code(&mut self, end: usize, close: Option<(&str, Tok, usize)>) -> Result<(), SyntaxError> {
        let bytes = self.src.as_bytes();
        loop {
            while self.pos < end && bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if self.pos >= end {
                return match close {
                    None => Ok(()),
                    Some((delimiter, _, open)) => Err(SyntaxError::new(
                        format!(
                            "syntax error: `{}` is not closed: add `{delimiter}`",
                            &self.src[open..open + 2]
                        ),
                        open..end,
                    )),
                };
            }
            let start = self.pos;
            let rest = &self.src[start..end];
            if let Some((delimiter, tok, _)) = &close {
                let trimmed = rest.strip_prefix('-').filter(|r| r.starts_with(delimiter));
                if rest.starts_with(delimiter) || trimmed.is_some() {
                    let width = if trimmed.is_some() { 3 } else { 2 };
                    self.pos += width;
                    self.trim_next_text = trimmed.is_some();
                    self.push(tok.clone(), start..self.pos);
                    return Ok(());
                }
            }
            let c = rest.chars().next().unwrap_or_default();
            if c.is_ascii_digit() {
                self.number(end)?;
            } else if c.is_alphabetic() || c == '_' {
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                self.pos += len;
                self.push(Tok::Name(rest[..len].to_owned()), start..self.pos);
            } else if c == '\'' || c == '"' {
                self.string(c, end)?;
            } else if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
                self.pos += p.len();
                self.push(Tok::Punct(*p), start..self.pos);
            } else {
                return Err(SyntaxError::new(
                    format!("unexpected character `{c}`"),
                    start..start + c.len_utf8(),
                ));
            }
        }
    }

    fn number(&mut self, end: usize) -> Result<(), SyntaxError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        while self.pos < end && bytes[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        // `1..3` is a range, not the float `1.`.
        let is_float =
            self.pos + 1 < end && bytes[self.pos] == b'.' && bytes[self.pos + 1].is_ascii_digit();
        if is_float {
            self.pos += 1;
            while self.pos < end && bytes[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
        }
        let text = &self.src[start..self.pos];
        let tok = if is_float {
            Tok::Float(text.parse().map_err(|_| {
                SyntaxError::new(format!("`{text}` is not a number"), start..self.pos)
            })?)
        } else {
            Tok::Int(text.parse().map_err(|_| {
                SyntaxError::new(
                    format!("`{text}` is too large for a whole number"),
                    start..self.pos,
                )
            })?)
        };
        self.push(tok, start..self.pos);
        Ok(())
    }

    /// A string literal. As in Pebble, the only escape is the quote itself
    /// (`\'` in single quotes, `\"` in double quotes); `\n` stays two
    /// characters. Double-quoted strings interpolate `#{expression}`.
    fn string(&mut self, quote: char, end: usize) -> Result<(), SyntaxError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let q = quote as u8;
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = start + 1;
        loop {
            if i >= end {
                return Err(SyntaxError::new(
                    "a string is not closed: add the closing quote",
                    start..end,
                ));
            }
            let b = bytes[i];
            if b == b'\\' && i + 1 < end && bytes[i + 1] == q {
                text.push(quote);
                i += 2;
            } else if b == q {
                i += 1;
                break;
            } else if quote == '"' && b == b'#' && i + 1 < end && bytes[i + 1] == b'{' {
                let code_start = i + 2;
                let code_end = matching_brace(self.src, code_start, end).ok_or_else(|| {
                    SyntaxError::new("`#{` is not closed in this string: add `}`", i..end)
                })?;
                parts.push(Part::Text(std::mem::take(&mut text)));
                parts.push(Part::Code(code_start..code_end));
                i = code_end + 1;
            } else {
                let c = self.src[i..].chars().next().unwrap_or_default();
                text.push(c);
                i += c.len_utf8();
            }
        }
        self.pos = i;
        let tok = if parts.is_empty() {
            Tok::Str(text)
        } else {
            parts.push(Part::Text(text));
            parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
            Tok::Interpolated(parts)
        };
        self.push(tok, start..i);
        Ok(())
    }

    fn push(&mut self, tok: Tok, span: Range<usize>) {
        self.tokens.push(Token { tok, span });
    }
}

/// Where the next `{{`, `{%` or `{#` starts, and which it is.
fn find_open(text: &str) -> Option<(usize, char)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find('{') {
        let at = from + at;
        match bytes.get(at + 1) {
            Some(b'{') => return Some((at, '{')),
            Some(b'%') => return Some((at, '%')),
            Some(b'#') => return Some((at, '#')),
            _ => from = at + 1,
        }
    }
    None
}

/// The `}` that closes a `#{`, skipping nested braces and strings.
fn matching_brace(src: &str, from: usize, end: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    while i < end {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < end && bytes[i] != q {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}
