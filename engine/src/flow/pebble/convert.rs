//! Kestra's conversion filters and functions: `jq`, the `yaml` filter and
//! function, `toIon` and `fromIon`.
//!
//! Kestra runs them through Jackson (`JqFilter` with jackson-jq 1.6,
//! `YamlFilter`/`YamlFunction` with jackson-dataformat-yaml, `ToIonFilter`/
//! `FromIonFunction` with jackson-dataformat-ion). Mortar's values are JSON,
//! so each function here takes and gives `serde_json::Value`, and prints
//! text as Jackson prints it for the JSON types.
//!
//! Where Mortar differs from Kestra:
//! - jq runs on jaq (jq 1.7 semantics, where Kestra has jq 1.6). Functions
//!   that reach outside the expression (`now`, `input`, `env`...) are
//!   refused, and a run stops after [`JQ_MAX_RESULTS`].
//! - The `yaml` filter aligns maps inside lists under their first key, where
//!   Jackson's `INDENT_ARRAYS` (without `INDENT_ARRAYS_WITH_INDICATOR`)
//!   indents them differently.
//! - The `yaml` function reads YAML with serde-saphyr, which follows
//!   anchors where Jackson refuses them.
//! - `fromIon` reads Ion text (not binary Ion); Ion timestamps become the
//!   ISO strings Kestra's JSON would hold, annotations are dropped.

use serde_json::{Map, Number, Value};

/// At most this many jq results: `repeat` and `range` can produce without
/// end, and the render must stop.
pub const JQ_MAX_RESULTS: usize = 10_000;

/// Kestra's `jq` filter: `{{ input | jq(expression) }}`, every result of
/// the jq `expression` on `input`, as a list. A string input is read as JSON
/// text first, as Kestra does; a null input gives null.
pub fn jq(input: &Value, expression: &str) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    run_jq(input, expression).map_err(|e| e.to_string())
}

/// Kestra's `yaml` filter: `{{ value | yaml }}`, the value as YAML text
/// (`"null"` for null), as Jackson prints it with Kestra's options.
pub fn yaml_filter(input: &Value) -> Result<Value, String> {
    Ok(Value::String(to_yaml(input)))
}

/// Kestra's `yaml` function: `{{ yaml(text) }}`, the value that YAML text
/// holds.
pub fn yaml_function(yaml: &Value) -> Result<Value, String> {
    let Value::String(text) = yaml else {
        return Err("The 'yaml' function expects an argument 'yaml' with type string.".into());
    };
    serde_saphyr::from_str::<Value>(text).map_err(|e| ConvertError::Yaml(e.to_string()).to_string())
}

/// Kestra's `toIon` filter: `{{ value | toIon }}`, the value as compact Ion
/// text (`"null"` for null).
pub fn to_ion(input: &Value) -> Result<Value, String> {
    let mut out = String::new();
    write_ion(input, &mut out);
    Ok(Value::String(out))
}

/// Kestra's `fromIon` function: `{{ fromIon(text) }}`, the value of the
/// first Ion value in the text; null gives null.
pub fn from_ion(ion: &Value) -> Result<Value, String> {
    match ion {
        Value::Null => Ok(Value::Null),
        Value::String(text) => IonReader::new(text).document().map_err(|e| e.to_string()),
        _ => Err("The 'fromIon' function expects an argument 'ion' with type string.".into()),
    }
}

/// An Ion struct of `fields` in their order (the serdes tasks keep a
/// file's column order): `{a:"1",'b c':"2"}`.
pub fn ion_struct<'v>(fields: impl IntoIterator<Item = (&'v str, &'v Value)>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        ion_symbol(key, &mut out);
        out.push(':');
        write_ion(value, &mut out);
    }
    out.push('}');
    out
}

/// One value as Ion text (`to_ion` for a value, not a filter's result).
pub fn ion_text(value: &Value) -> String {
    let mut out = String::new();
    write_ion(value, &mut out);
    out
}

/// The first Ion value of `text`; a struct's fields in their order (JSON
/// objects here sort their keys). `None` fields for a value that is not a
/// struct.
pub fn ion_fields(text: &str) -> Result<(Value, Option<Vec<(String, Value)>>), String> {
    let mut reader = IonReader::new(text);
    reader.skip_space().map_err(|e| e.to_string())?;
    if reader.peek() == Some('{') && !reader.rest().starts_with("{{") {
        let fields = reader.structure_fields().map_err(|e| e.to_string())?;
        let map = fields.iter().cloned().collect();
        return Ok((Value::Object(map), Some(fields)));
    }
    reader
        .document()
        .map(|v| (v, None))
        .map_err(|e| e.to_string())
}

/// Why a conversion failed; the text is shown to the flow's author.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(not(feature = "runtime"), allow(dead_code))]
enum ConvertError {
    #[error("jq: the input is not JSON text ({0}); pass the value itself, not a string")]
    JqInput(String),
    #[error("jq: cannot read the expression '{expression}': {reason}")]
    JqSyntax { expression: String, reason: String },
    #[error("jq: '{expression}' failed: {reason}")]
    JqRun { expression: String, reason: String },
    #[error(
        "jq: '{expression}' gave more than {JQ_MAX_RESULTS} results; narrow it, e.g. with limit(100; ...)"
    )]
    JqTooMany { expression: String },
    #[cfg(not(feature = "runtime"))]
    #[error("jq runs on the server only")]
    JqUnavailable,
    #[error("Invalid yaml: {0}")]
    Yaml(String),
    #[error("Invalid ion: {reason} at line {line}, column {column}")]
    Ion {
        reason: String,
        line: usize,
        column: usize,
    },
}

// ---------------------------------------------------------------------------
// jq, through jaq: on the server only. The editor's wasm build checks names
// and never evaluates, so it leaves jaq out (a smaller, quicker bundle).

#[cfg(feature = "runtime")]
use jq_runtime::run_jq;

#[cfg(not(feature = "runtime"))]
fn run_jq(_: &Value, _: &str) -> Result<Value, ConvertError> {
    Err(ConvertError::JqUnavailable)
}

#[cfg(feature = "runtime")]
mod jq_runtime {
    use super::*;
    use jaq_core::load::{Arena, File, Loader};
    use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
    use jaq_json::Val;
    use serde::Deserialize;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    /// jaq functions that read the clock, stdin or the environment: a render
    /// depends on its input only, and wasm32 has no clock to call. (`halt` and
    /// `halt_error` stay: jaq's own definitions use them, and here they only
    /// end the run with an error.)
    const JQ_REFUSED: &[&str] = &[
        "now",
        "input",
        "inputs",
        "env",
        "input_filename",
        "get_search_list",
    ];

    pub(super) fn run_jq(input: &Value, expression: &str) -> Result<Value, ConvertError> {
        let input = match input {
            // Kestra hands a string to Jackson's readTree.
            Value::String(text) => {
                serde_json::from_str(text).map_err(|e| ConvertError::JqInput(e.to_string()))?
            }
            other => other.clone(),
        };
        let input = Val::deserialize(input).map_err(|e| ConvertError::JqInput(e.to_string()))?;
        let filter = compiled_jq(expression)?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
        let mut results = Vec::new();
        for result in filter.id.run((ctx, input)).map(unwrap_valr) {
            if results.len() == JQ_MAX_RESULTS {
                return Err(ConvertError::JqTooMany {
                    expression: expression.to_string(),
                });
            }
            let value = result.map_err(|e| ConvertError::JqRun {
                expression: expression.to_string(),
                reason: e.to_string(),
            })?;
            results.push(val_to_json(&value));
        }
        Ok(Value::Array(results))
    }

    /// A compiled jq expression.
    type JqFilter = jaq_core::Filter<data::JustLut<Val>>;

    /// Compiled expressions kept per thread: compiling jaq's standard library
    /// with each expression costs milliseconds, and a flow often runs one
    /// expression over many items.
    pub(super) const JQ_CACHE_SIZE: usize = 64;

    thread_local! {
        static JQ_CACHE: RefCell<HashMap<String, Rc<JqFilter>>> = RefCell::new(HashMap::new());
    }

    fn compiled_jq(expression: &str) -> Result<Rc<JqFilter>, ConvertError> {
        if let Some(filter) = JQ_CACHE.with(|cache| cache.borrow().get(expression).cloned()) {
            return Ok(filter);
        }
        let filter = Rc::new(compile_jq(expression)?);
        JQ_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            // Dropping everything is enough: the cache is for loops over one
            // expression, not for a working set.
            if cache.len() >= JQ_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(expression.to_string(), filter.clone());
        });
        Ok(filter)
    }

    fn compile_jq(expression: &str) -> Result<JqFilter, ConvertError> {
        let syntax = |reason: String| ConvertError::JqSyntax {
            expression: expression.to_string(),
            reason,
        };

        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .filter(|(name, ..)| !JQ_REFUSED.contains(name));
        let arena = Arena::default();
        let modules = Loader::new(defs)
            .load(
                &arena,
                File {
                    code: expression,
                    path: (),
                },
            )
            .map_err(|errors| {
                let reasons = errors.into_iter().flat_map(|(_, error)| match error {
                    jaq_core::load::Error::Io(e) => e
                        .into_iter()
                        .map(|(path, e)| format!("{path}: {e}"))
                        .collect::<Vec<_>>(),
                    jaq_core::load::Error::Lex(e) => e
                        .into_iter()
                        .map(|(expect, at)| {
                            format!("expected {} {}", expect.as_str(), position(at))
                        })
                        .collect(),
                    jaq_core::load::Error::Parse(e) => e
                        .into_iter()
                        .map(|(expect, at)| {
                            format!("expected {} {}", expect.as_str(), position(at))
                        })
                        .collect(),
                });
                syntax(reasons.collect::<Vec<_>>().join("; "))
            })?;
        Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let reasons =
                    errors
                        .into_iter()
                        .flat_map(|(_, undefined)| undefined)
                        .map(|(name, kind)| {
                            let refused = if JQ_REFUSED.contains(&name) {
                                " (Mortar refuses it: it reaches outside the expression)"
                            } else {
                                ""
                            };
                            format!("undefined {} '{name}'{refused}", kind.as_str())
                        });
                syntax(reasons.collect::<Vec<_>>().join("; "))
            })
    }

    fn position(rest: &str) -> String {
        match rest.chars().take(20).collect::<String>() {
            s if s.is_empty() => "at the end".into(),
            s => format!("at '{s}'"),
        }
    }

    fn val_to_json(v: &Val) -> Value {
        match v {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => num_to_json(n),
            Val::TStr(s) | Val::BStr(s) => Value::String(String::from_utf8_lossy(s).into_owned()),
            Val::Arr(items) => Value::Array(items.iter().map(val_to_json).collect()),
            Val::Obj(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(s).into_owned(),
                            other => other.to_string(),
                        };
                        (key, val_to_json(v))
                    })
                    .collect(),
            ),
        }
    }

    fn num_to_json(n: &jaq_json::Num) -> Value {
        use jaq_json::Num;
        match n {
            Num::Int(i) => Value::from(*i as i64),
            // jq prints NaN as null, and JSON has no infinities.
            Num::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Num::BigInt(_) | Num::Dec(_) => {
                let text = n.to_string();
                serde_json::from_str::<Number>(&text)
                    .ok()
                    .or_else(|| text.parse::<f64>().ok().and_then(Number::from_f64))
                    .map_or(Value::Null, Value::Number)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// YAML text, as Jackson's YAMLGenerator writes it with Kestra's options:
// MINIMIZE_QUOTES, no document marker, INDENT_ARRAYS (list items indented
// by one space under their key), no line splitting.

/// JSON as YAML text, as Kestra's `yaml` filter (Jackson) writes it.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(map) if !map.is_empty() => yaml_map(map, 0, false, &mut out),
        Value::Array(items) if !items.is_empty() => yaml_seq(items, 0, &mut out),
        scalar => {
            out.push_str(&yaml_scalar(scalar, 2));
            out.push('\n');
        }
    }
    out
}

/// A map whose keys start at column `indent`; `inline_first` when the
/// first key follows a list item's `- `.
fn yaml_map(map: &Map<String, Value>, indent: usize, inline_first: bool, out: &mut String) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push_str(&yaml_key(key));
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_map(inner, indent + 2, false, out);
            }
            // Sequences in a mapping are not indented further; INDENT_ARRAYS
            // puts the `-` one space in.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                yaml_seq(items, indent, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&yaml_scalar(scalar, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// A list whose `-` indicators sit at column `indent + 1`.
fn yaml_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.extend(std::iter::repeat_n(' ', indent + 1));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                yaml_map(map, indent + 3, true, out);
            }
            // snakeyaml breaks the line when a nested list would start
            // right of its indentation.
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_seq(inner, indent + 2, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&yaml_scalar(scalar, indent + 3));
                out.push('\n');
            }
        }
    }
}

/// A scalar (or an empty collection); a multi-line string is a literal
/// block whose lines start at column `indent`.
fn yaml_scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => json_number_java(n),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        Value::String(s) if s.contains('\n') => literal_block(s, indent),
        Value::String(s) => {
            if jackson_quotes_value(s) {
                double_quoted(s)
            } else {
                plain_or_quoted(s)
            }
        }
    }
}

/// Jackson's `StringQuotingChecker.needToQuoteName`: reserved words and
/// numbers; otherwise snakeyaml still quotes what cannot be plain.
fn yaml_key(key: &str) -> String {
    if is_reserved_word(key) || looks_like_number(key) {
        double_quoted(key)
    } else {
        plain_or_quoted(key)
    }
}

/// Jackson's `needToQuoteValue` under MINIMIZE_QUOTES. Strings that look
/// like numbers stay plain (ALWAYS_QUOTE_NUMBERS_AS_STRINGS is off), as in
/// Kestra, so `"123"` reads back as a number.
fn jackson_quotes_value(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    is_reserved_word(s)
        || chars.iter().enumerate().any(|(i, &c)| match c {
            '[' | ']' | '{' | '}' | ',' => true,
            '#' => i == 0 || chars[i - 1].is_whitespace(),
            ':' => chars.get(i + 1).is_none_or(|n| n.is_whitespace()),
            _ => false,
        })
}

/// Jackson's reserved keywords (YAML 1.1 booleans and nulls).
fn is_reserved_word(s: &str) -> bool {
    s.is_empty()
        || s.starts_with('~')
        || [
            "false", "False", "FALSE", "n", "N", "no", "No", "NO", "null", "Null", "NULL", "on",
            "On", "ON", "off", "Off", "OFF", "true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES",
        ]
        .contains(&s)
}

fn looks_like_number(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    !body.is_empty()
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && (body.parse::<f64>().is_ok() || body.replace('_', "").parse::<f64>().is_ok())
}

/// snakeyaml's choice for a scalar asked to be plain: plain when YAML would
/// read it back as the same text, else single quotes (double quotes when
/// it holds characters single quotes cannot).
fn plain_or_quoted(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        return double_quoted(s);
    }
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    let needs_quotes = s.starts_with([' ', '\t'])
        || s.ends_with([' ', '\t'])
        || "#,[]{}&*!|>'\"%@`".contains(first)
        || ("-?:".contains(first) && second.is_none_or(|c| c == ' '))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':');
    if needs_quotes {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `|` keeps one final line break, `|-` none, `|+` several.
fn literal_block(s: &str, indent: usize) -> String {
    let (body, chomp) = if !s.ends_with('\n') {
        (s, "-")
    } else if s.ends_with("\n\n") {
        (&s[..s.len() - 1], "+")
    } else {
        (&s[..s.len() - 1], "")
    };
    // A first line that starts with a space needs the indentation said.
    let indicator = if body.starts_with(' ') { "2" } else { "" };
    let mut out = format!("|{indicator}{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(line);
        }
    }
    out
}

/// A JSON number as Java prints it: integers as they are, doubles with
/// `Double.toString`.
fn json_number_java(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => java_double(f),
        _ => n.to_string(),
    }
}

/// Java's `Double.toString`: the shortest digits that read back, in plain
/// notation from 10^-3 to 10^7 (`1.0`, `0.001`), else `1.0E7`, `1.0E-4`.
fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let scientific = format!("{:e}", f.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    let digits = mantissa.replace('.', "");
    if (-3..7).contains(&exponent) {
        if exponent < 0 {
            return format!("{sign}0.{}{digits}", "0".repeat((-exponent - 1) as usize));
        }
        let whole = exponent as usize + 1;
        if digits.len() > whole {
            format!("{sign}{}.{}", &digits[..whole], &digits[whole..])
        } else {
            format!("{sign}{digits:0<whole$}.0")
        }
    } else {
        let fraction = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{fraction}E{exponent}", &digits[..1])
    }
}

// ---------------------------------------------------------------------------
// Ion text, as ion-java's text writer prints Jackson's JSON types: compact,
// field names as symbols, doubles as Ion floats.

fn write_ion(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_f64() => out.push_str(&ion_float(n.as_f64().unwrap_or_default())),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => ion_string(s, '"', out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ion(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ion_symbol(key, out);
                out.push(':');
                write_ion(value, out);
            }
            out.push('}');
        }
    }
}

/// ion-java prints a float from `Double.toString`, with `e0` when there is
/// no exponent.
fn ion_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0e0" } else { "0e0" }.into();
    }
    let java = java_double(f);
    if java.contains('E') {
        java.replace('E', "e")
    } else {
        format!("{java}e0")
    }
}

/// A field name: bare when it is an identifier that is not a keyword,
/// else in single quotes.
fn ion_symbol(name: &str, out: &mut String) {
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    let keyword = matches!(name, "null" | "true" | "false" | "nan");
    // `$12` is a symbol id, not a name.
    let symbol_id =
        name.len() > 1 && name.starts_with('$') && name[1..].chars().all(|c| c.is_ascii_digit());
    if identifier && !keyword && !symbol_id {
        out.push_str(name);
    } else {
        ion_string(name, '\'', out);
    }
}

fn ion_string(s: &str, quote: char, out: &mut String) {
    out.push(quote);
    for c in s.chars() {
        match c {
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A reader of Ion text for `fromIon`: every Ion type, read as Jackson's
/// Ion mapper with Kestra's `IonParser` gives it to JSON.
struct IonReader<'t> {
    text: &'t str,
    pos: usize,
}

type IonResult<T> = Result<T, ConvertError>;

impl<'t> IonReader<'t> {
    fn new(text: &'t str) -> Self {
        IonReader { text, pos: 0 }
    }

    /// The first value; Jackson's `readValue` ignores what follows it.
    fn document(&mut self) -> IonResult<Value> {
        self.skip_space()?;
        if self.rest().is_empty() {
            return Err(self.error("no value"));
        }
        self.value()
    }

    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error(&self, reason: &str) -> ConvertError {
        let before = &self.text[..self.pos];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConvertError::Ion {
            reason: reason.to_string(),
            line,
            column,
        }
    }

    fn skip_space(&mut self) -> IonResult<()> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if trimmed.starts_with("/*") {
                let end = trimmed
                    .find("*/")
                    .ok_or_else(|| self.error("a /* comment is not closed"))?;
                self.pos += end + 2;
            } else {
                return Ok(());
            }
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        let found = self.rest().starts_with(s);
        if found {
            self.pos += s.len();
        }
        found
    }

    fn value(&mut self) -> IonResult<Value> {
        // Annotations (`name::`) are dropped; Kestra's Java time types
        // (`ZonedDateTime::"..."`) keep their text.
        loop {
            let save = self.pos;
            let annotation = match self.peek() {
                Some('\'') if !self.rest().starts_with("'''") => Some(self.quoted('\'')?),
                Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
                    Some(self.identifier())
                }
                _ => None,
            };
            self.skip_space()?;
            if annotation.is_some() && self.eat("::") {
                self.skip_space()?;
                continue;
            }
            self.pos = save;
            break;
        }
        match self.peek() {
            None => Err(self.error("a value is missing")),
            Some('{') if self.rest().starts_with("{{") => self.lob(),
            Some('{') => self.structure(),
            Some('[') => self.sequence(']').map(Value::Array),
            Some('(') => self.sequence(')').map(Value::Array),
            Some('"') => self.quoted('"').map(Value::String),
            Some('\'') if self.rest().starts_with("'''") => self.long_string().map(Value::String),
            Some('\'') => self.quoted('\'').map(Value::String),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => self.number_or_timestamp(),
            Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
                let word = self.identifier();
                match word.as_str() {
                    "null" => {
                        // Typed nulls: null.string, null.int ...
                        if self.eat(".") {
                            self.identifier();
                        }
                        Ok(Value::Null)
                    }
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "nan" => Err(self.error("nan has no JSON value")),
                    _ => Ok(Value::String(word)),
                }
            }
            Some(_) => Err(self.error("not an Ion value")),
        }
    }

    fn identifier(&mut self) -> String {
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.rest().len());
        let word = self.rest()[..len].to_string();
        self.pos += len;
        word
    }

    fn structure(&mut self) -> IonResult<Value> {
        Ok(Value::Object(
            self.structure_fields()?.into_iter().collect(),
        ))
    }

    /// A struct's fields in their order.
    fn structure_fields(&mut self) -> IonResult<Vec<(String, Value)>> {
        self.pos += 1;
        let mut map = Vec::new();
        loop {
            self.skip_space()?;
            if self.eat("}") {
                return Ok(map);
            }
            let key = match self.peek() {
                Some('"') => self.quoted('"')?,
                Some('\'') if self.rest().starts_with("'''") => self.long_string()?,
                Some('\'') => self.quoted('\'')?,
                Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => self.identifier(),
                None => return Err(self.error("a struct is not closed: add '}'")),
                Some(_) => return Err(self.error("expected a field name")),
            };
            self.skip_space()?;
            if !self.eat(":") {
                return Err(self.error("expected ':' after a field name"));
            }
            self.skip_space()?;
            let value = self.value()?;
            map.push((key, value));
            self.skip_space()?;
            if !self.eat(",") && !self.rest().starts_with('}') {
                return Err(self.error("expected ',' or '}' in a struct"));
            }
        }
    }

    /// A list `[a, b]` or an s-expression `(a b)`, both as JSON lists.
    fn sequence(&mut self, close: char) -> IonResult<Vec<Value>> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space()?;
            if self.eat(&close.to_string()) {
                return Ok(items);
            }
            if self.rest().is_empty() {
                return Err(self.error(&format!("a list is not closed: add '{close}'")));
            }
            if close == ')'
                && self
                    .peek()
                    .is_some_and(|c| "!#%&*+-./;<=>?@^`|~".contains(c))
            {
                // An s-expression operator is a symbol.
                let len = self
                    .rest()
                    .find(|c: char| !"!#%&*+-./;<=>?@^`|~".contains(c))
                    .unwrap_or(self.rest().len());
                items.push(Value::String(self.rest()[..len].to_string()));
                self.pos += len;
                continue;
            }
            items.push(self.value()?);
            self.skip_space()?;
            if close == ']' && !self.eat(",") && !self.rest().starts_with(']') {
                return Err(self.error("expected ',' or ']' in a list"));
            }
        }
    }

    fn quoted(&mut self, quote: char) -> IonResult<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self
                .peek()
                .ok_or_else(|| self.error("a quoted text is not closed"))?;
            self.pos += c.len_utf8();
            match c {
                c if c == quote => return Ok(out),
                '\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
    }

    /// `'''a''' '''b'''`: the pieces are joined.
    fn long_string(&mut self) -> IonResult<String> {
        let mut out = String::new();
        while self.eat("'''") {
            loop {
                if self.eat("'''") {
                    break;
                }
                let c = self
                    .peek()
                    .ok_or_else(|| self.error("a ''' text is not closed"))?;
                self.pos += c.len_utf8();
                if c == '\\' {
                    self.escape(&mut out)?
                } else {
                    out.push(c)
                }
            }
            let save = self.pos;
            self.skip_space()?;
            if !self.rest().starts_with("'''") {
                self.pos = save;
            }
        }
        Ok(out)
    }

    fn escape(&mut self, out: &mut String) -> IonResult<()> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("an escape is cut short"))?;
        self.pos += c.len_utf8();
        let hex = |reader: &mut Self, len: usize| -> IonResult<char> {
            let digits = reader
                .rest()
                .get(..len)
                .ok_or_else(|| reader.error("an escape is cut short"))?;
            let code =
                u32::from_str_radix(digits, 16).map_err(|_| reader.error("a bad hex escape"))?;
            reader.pos += len;
            char::from_u32(code).ok_or_else(|| reader.error("a bad unicode escape"))
        };
        let decoded = match c {
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            't' => '\t',
            'n' => '\n',
            'v' => '\u{b}',
            'f' => '\u{c}',
            'r' => '\r',
            'x' => hex(self, 2)?,
            'u' => hex(self, 4)?,
            'U' => hex(self, 8)?,
            // An escaped line break continues the line.
            '\n' => return Ok(()),
            c => c,
        };
        out.push(decoded);
        Ok(())
    }

    /// `{{ base64 }}` (blob) or `{{ "text" }}` (clob), as text.
    fn lob(&mut self) -> IonResult<Value> {
        self.pos += 2;
        self.skip_space()?;
        let value = if self.peek() == Some('"') {
            self.quoted('"')?
        } else {
            let end = self
                .rest()
                .find("}}")
                .ok_or_else(|| self.error("a {{ blob is not closed: add '}}'"))?;
            let text: String = self.rest()[..end].split_whitespace().collect();
            self.pos += end;
            text
        };
        self.skip_space()?;
        if !self.eat("}}") {
            return Err(self.error("a {{ blob is not closed: add '}}'"));
        }
        Ok(Value::String(value))
    }

    fn number_or_timestamp(&mut self) -> IonResult<Value> {
        if self.eat("+inf") || self.eat("-inf") {
            return Err(self.error("infinity has no JSON value"));
        }
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.:_".contains(c)))
            .unwrap_or(self.rest().len());
        let token = &self.rest()[..len];
        let bytes = token.as_bytes();
        let value = if bytes.len() >= 5
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && matches!(bytes[4], b'-' | b'T')
        {
            ion_timestamp(token)
        } else {
            ion_number(token)
        };
        let value = value
            .ok_or_else(|| self.error(&format!("'{token}' is not an Ion number or timestamp")))?;
        self.pos += len;
        Ok(value)
    }
}

fn ion_number(token: &str) -> Option<Value> {
    let clean = token.replace('_', "");
    let (negative, body) = match clean.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, clean.as_str()),
    };
    let radix = if body.starts_with("0x") || body.starts_with("0X") {
        Some(16)
    } else if body.starts_with("0b") || body.starts_with("0B") {
        Some(2)
    } else {
        None
    };
    if let Some(radix) = radix {
        let magnitude = i128::from_str_radix(&body[2..], radix).ok()?;
        let n = if negative { -magnitude } else { magnitude };
        return i64::try_from(n)
            .ok()
            .map(Value::from)
            .or_else(|| Number::from_f64(n as f64).map(Value::Number));
    }
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if body.chars().all(|c| c.is_ascii_digit()) {
        return serde_json::from_str::<Number>(&clean)
            .ok()
            .map(Value::Number);
    }
    // Decimals (`1.5`, `1d2`) and floats (`1e0`) are numbers in JSON.
    let float = clean.replace(['d', 'D'], "e");
    let float = float.strip_suffix('.').unwrap_or(&float);
    float
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// An Ion timestamp as the JSON text Kestra stores: a date when it is
/// midnight UTC, an ISO instant when its offset is zero or unknown, else an
/// offset date-time.
fn ion_timestamp(token: &str) -> Option<Value> {
    let token = token.strip_suffix('T').unwrap_or(token);
    // Year and month precisions are the first day.
    let date = match token.len() {
        4 => format!("{token}-01-01"),
        7 => format!("{token}-01"),
        _ => token.get(..10)?.to_string(),
    };
    let date: jiff::civil::Date = date.parse().ok()?;
    let rest = token.get(10..).unwrap_or("");
    if rest.is_empty() {
        return Some(Value::String(date.to_string()));
    }
    let rest = rest.strip_prefix('T')?;
    let offset_at = rest.rfind(['Z', 'z', '+', '-'])?;
    let (time, offset) = rest.split_at(offset_at);
    let time = if time.len() == 5 {
        format!("{time}:00")
    } else {
        time.to_string()
    };
    let time: jiff::civil::Time = time.parse().ok()?;
    let offset_seconds = match offset {
        "Z" | "z" | "-00:00" => None,
        _ => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (h, m) = offset[1..].split_once(':')?;
            Some(sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60))
        }
    };
    let tz = jiff::tz::TimeZone::fixed(
        jiff::tz::Offset::from_seconds(offset_seconds.unwrap_or(0)).ok()?,
    );
    let zoned = date.to_datetime(time).to_zoned_datetime(tz).ok()?;
    let instant = zoned.timestamp();
    Some(Value::String(match offset_seconds {
        None | Some(0) if time == jiff::civil::Time::midnight() => date.to_string(),
        None | Some(0) => iso_instant(instant),
        Some(_) => format!(
            "{}{}",
            iso_local(zoned.datetime()),
            offset_text(offset_seconds.unwrap_or(0))
        ),
    }))
}

/// Java's ISO_INSTANT: UTC, fraction digits in groups of three.
fn iso_instant(ts: jiff::Timestamp) -> String {
    let utc = ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
    let fraction = match utc.subsec_nanosecond() {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
        n => format!(".{n:09}"),
    };
    format!("{}{fraction}Z", iso_seconds(utc))
}

/// Java's ISO_LOCAL_DATE_TIME: the fraction without its trailing zeros.
fn iso_local(dt: jiff::civil::DateTime) -> String {
    let digits = format!("{:09}", dt.subsec_nanosecond());
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        iso_seconds(dt)
    } else {
        format!("{}.{digits}", iso_seconds(dt))
    }
}

fn iso_seconds(dt: jiff::civil::DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    format!(
        "{sign}{:02}:{:02}",
        seconds.abs() / 3600,
        seconds.abs() / 60 % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Compares a result with `expected` (JSON text, or a plain string for
    /// a string result); `error: text` expects an error containing `text`.
    fn check(actual: Result<Value, String>, expected: &str) {
        match (actual, expected.strip_prefix("error: ")) {
            (Ok(Value::String(s)), None) => assert_eq!(s, expected),
            (Ok(other), None) => {
                assert_eq!(other, serde_json::from_str::<Value>(expected).unwrap())
            }
            (Err(e), Some(part)) => {
                assert!(e.contains(part), "error {e:?} does not contain {part:?}")
            }
            (actual, _) => panic!("expected {expected:?}, got {actual:?}"),
        }
    }

    /// Kestra's `vars.second` of its filter tests (JqFilterTest,
    /// YamlFilterTest, ToIonFilterTest), without the Java date.
    fn kestra_vars() -> Value {
        json!({"second": {
            "string": "string",
            "int": 1,
            "float": 1.123,
            "list": ["string", 1, 1.123],
            "bool": true,
            "map": {"string": "string", "int": 1, "float": 1.123},
        }})
    }

    /// core/src/test/java/io/kestra/core/runners/pebble/filters/JqFilterTest.java
    #[cfg(feature = "runtime")]
    #[test]
    fn kestra_jq_filter_test() {
        let vars = kestra_vars();
        for (input, expression, expected) in [
            (json!([1, 2, 3]), ".[0]", "[1]"),
            (json!({"test": [1, 2, 3]}), ".test[0]", "[1]"),
            (vars.clone(), ".second.string", r#"["string"]"#),
            (vars.clone(), ".second.int", "[1]"),
            (vars.clone(), ".second.float", "[1.123]"),
            (vars.clone(), ".second.list", r#"[["string",1,1.123]]"#),
            (vars.clone(), ".second.bool", "[true]"),
            (
                vars.clone(),
                ".second.map",
                r#"[{"string":"string","int":1,"float":1.123}]"#,
            ),
            (json!({"second": [1, 2, 3]}), ".second[]", "[1,2,3]"),
            (
                json!({"object": {"key": "value"}}),
                ".object",
                r#"[{"key":"value"}]"#,
            ),
            (
                json!({"array": ["arrayValue"]}),
                ".array",
                r#"[["arrayValue"]]"#,
            ),
            (json!({"null": null}), ".null", "[null]"),
        ] {
            check(jq(&input, expression), expected);
        }
    }

    #[cfg(feature = "runtime")]
    #[test]
    fn jq_inputs_results_and_errors() {
        for (input, expression, expected) in [
            // A string is JSON text, as Kestra's readTree.
            (json!(r#"{"a": [1, 2]}"#), ".a | length", "[2]"),
            (
                json!("not json"),
                ".",
                "error: jq: the input is not JSON text",
            ),
            (json!({"a": 1}), ".a, .b", "[1,null]"),
            (json!([3, 1, 2]), "sort | map(. * 10)", "[[10,20,30]]"),
            (
                json!({"a": {"b": "c"}}),
                "to_entries | map(.key)",
                r#"[["a"]]"#,
            ),
            (json!({"n": "42"}), ".n | tonumber", "[42]"),
            (json!([1, 2]), "empty", "[]"),
            (
                json!({"a": 1}),
                ".a |",
                "error: jq: cannot read the expression '.a |'",
            ),
            (
                json!({"a": 1}),
                "nosuchfilter",
                "error: undefined filter 'nosuchfilter'",
            ),
            (json!({"a": 1}), "now", "error: Mortar refuses it"),
            (json!({"a": 1}), "env", "error: Mortar refuses it"),
            (json!({"a": 1}), "input", "error: Mortar refuses it"),
            (
                json!({"a": "x"}),
                ".a | tonumber",
                "error: jq: '.a | tonumber' failed",
            ),
            (json!(1), "repeat(1)", "error: more than 10000 results"),
            (json!(1), "range(20000)", "error: more than 10000 results"),
            (json!(1), "[limit(3; repeat(1))]", "[[1,1,1]]"),
        ] {
            check(jq(&input, expression), expected);
        }
        check(jq(&Value::Null, "."), "null");
    }

    /// The second run of an expression comes from the cache, on new input.
    #[cfg(feature = "runtime")]
    #[test]
    fn jq_reuses_compiled_expressions() {
        for (i, expected) in ["[1]", "[2]", "[3]"].into_iter().enumerate() {
            check(jq(&json!({"n": i + 1}), ".n"), expected);
        }
        for _ in 0..2 {
            check(jq(&json!(1), ".a |"), "error: cannot read the expression");
        }
        for i in 0..(jq_runtime::JQ_CACHE_SIZE + 1) {
            check(jq(&json!(i), &format!(". + {i}")), &format!("[{}]", 2 * i));
        }
    }

    /// core/src/test/java/io/kestra/core/runners/pebble/filters/YamlFilterTest.java,
    /// then the layout of nested values and the quoting of strings.
    #[test]
    fn yaml_filter_output() {
        let second = &kestra_vars()["second"];
        for (input, expected) in [
            (second["string"].clone(), "string\n"),
            (second["int"].clone(), "1\n"),
            (second["float"].clone(), "1.123\n"),
            (second["list"].clone(), " - string\n - 1\n - 1.123\n"),
            (second["bool"].clone(), "true\n"),
            (
                second["map"].clone(),
                "float: 1.123\nint: 1\nstring: string\n",
            ),
            (Value::Null, "null\n"),
            (json!({}), "{}\n"),
            (
                json!({"a": {"b": [1, {"c": 2, "d": [3]}], "e": {}, "f": []}}),
                "a:\n  b:\n   - 1\n   - c: 2\n     d:\n      - 3\n  e: {}\n  f: []\n",
            ),
            (json!([[1, 2], 3]), " -\n   - 1\n   - 2\n - 3\n"),
            (
                json!({"script": "echo a\necho b\n"}),
                "script: |\n  echo a\n  echo b\n",
            ),
            (
                json!({"s": "no newline\nat end"}),
                "s: |-\n  no newline\n  at end\n",
            ),
            (
                json!([" indented\nline"]),
                " - |2-\n    indented\n   line\n",
            ),
            (json!({"k": "yes"}), "k: \"yes\"\n"),
            (json!({"k": ""}), "k: \"\"\n"),
            (json!({"k": "a: b"}), "k: \"a: b\"\n"),
            (json!({"k": "#x"}), "k: \"#x\"\n"),
            (json!({"k": "[x]"}), "k: \"[x]\"\n"),
            (json!({"k": "- x"}), "k: '- x'\n"),
            (json!({"k": " lead"}), "k: ' lead'\n"),
            (json!({"k": "@home"}), "k: '@home'\n"),
            (json!({"k": "it's"}), "k: it's\n"),
            (json!({"k": "tab\there"}), "k: \"tab\\there\"\n"),
            (
                json!({"k": "2013-09-08T16:19:00+02:00"}),
                "k: 2013-09-08T16:19:00+02:00\n",
            ),
            // Jackson leaves number-like strings plain, as Kestra prints them.
            (json!({"k": "123"}), "k: 123\n"),
            (
                json!({"null": 1, "1": 2, "a b": 3}),
                "\"1\": 2\na b: 3\n\"null\": 1\n",
            ),
            (
                json!([1e10, 0.0001, 100.0, 12345678.9, -0.5, 0.001]),
                " - 1.0E10\n - 1.0E-4\n - 100.0\n - 1.23456789E7\n - -0.5\n - 0.001\n",
            ),
        ] {
            check(yaml_filter(&input), expected);
        }
    }

    /// core/src/test/java/io/kestra/core/runners/pebble/functions/YamlFunctionTest.java
    #[test]
    fn kestra_yaml_function_test() {
        let text = json!(
            "# comment\nstring: string\nint: 123\nbool: true\nfloat: 1.23\ninstant: \"1918-02-24T00:00:00Z\"\n\
             date: \"1991-08-20\"\ntime: \"23:59:59\"\nduration: \"PT5M6S\"\n'null':\nobject:\n  key: \"value\"\n  \
             child:\n    key: \"value\"\narray:\n  - string\nreference: &ref\n    key: reference\ndefault: *ref\n"
        );
        let value = yaml_function(&text).unwrap();
        for (pointer, expected) in [
            ("/string", json!("string")),
            ("/int", json!(123)),
            ("/bool", json!(true)),
            ("/float", json!(1.23)),
            ("/instant", json!("1918-02-24T00:00:00Z")),
            ("/date", json!("1991-08-20")),
            ("/time", json!("23:59:59")),
            ("/null", Value::Null),
            ("/object/child/key", json!("value")),
            ("/array/0", json!("string")),
            // Kestra's Jackson refuses anchors; serde-saphyr follows them.
            ("/default/key", json!("reference")),
        ] {
            assert_eq!(value.pointer(pointer), Some(&expected), "{pointer}");
        }
        check(yaml_function(&json!("a: [1, 2")), "error: Invalid yaml");
        check(
            yaml_function(&json!(1)),
            "error: expects an argument 'yaml' with type string",
        );
        // YAML 1.1 booleans, as Jackson reads them.
        check(yaml_function(&json!("a: yes")), r#"{"a":true}"#);
    }

    /// core/src/test/java/io/kestra/core/runners/pebble/filters/ToIonFilterTest.java
    #[test]
    fn to_ion_output() {
        let second = &kestra_vars()["second"];
        for (input, expected) in [
            (second["string"].clone(), "\"string\""),
            (second["int"].clone(), "1"),
            // Kestra's test has a Java float, 1.1230000257492065e0 once
            // widened; JSON has doubles only.
            (second["float"].clone(), "1.123e0"),
            (second["list"].clone(), "[\"string\",1,1.123e0]"),
            (second["bool"].clone(), "true"),
            (
                second["map"].clone(),
                "{float:1.123e0,int:1,string:\"string\"}",
            ),
            (json!({"empty_object": {}}), "{empty_object:{}}"),
            (Value::Null, "null"),
            (
                json!({"a b": 1, "null": null, "x": "q\"uote\n", "$1": 2}),
                "{'$1':2,'a b':1,'null':null,x:\"q\\\"uote\\n\"}",
            ),
            (
                json!([1e10, 0.0, -2.5, 12345678901234567890u64]),
                "[1.0e10,0e0,-2.5e0,12345678901234567890]",
            ),
        ] {
            check(to_ion(&input), expected);
        }
    }

    /// core/src/test/java/io/kestra/core/runners/pebble/functions/FromIonFunctionTest.java,
    /// then the other Ion types.
    #[test]
    fn from_ion_values() {
        for (text, expected) in [
            (
                "{date:2024-04-21T23:00:00.000Z, title:\"Main_Page\",views:109787}",
                r#"{"date":"2024-04-21T23:00:00Z","title":"Main_Page","views":109787}"#,
            ),
            (
                "[1, 2.5, 1d2, 0x10, -0b11, 1_000, \"s\", sym, 'q s', null.int, true, 1e0]",
                r#"[1,2.5,100.0,16,-3,1000,"s","sym","q s",null,true,1.0]"#,
            ),
            (
                "[2024-04-21T00:00:00Z, 2024-04-21T23:00:00.5Z, 2024-04-21T23:00+02:00, \
                 2024-04-21T23:00:00.50-05:30, 2024-04-21, 2024T, 2024-04T]",
                r#"["2024-04-21","2024-04-21T23:00:00.500Z","2024-04-21T23:00:00+02:00",
                    "2024-04-21T23:00:00.5-05:30","2024-04-21","2024-01-01","2024-04-01"]"#,
            ),
            (
                "ZonedDateTime::\"2013-09-08T16:19:00+02:00\"",
                "2013-09-08T16:19:00+02:00",
            ),
            ("a::b::{'x y':1} // after", r#"{"x y":1}"#),
            ("/* c */ (+ 1 2)", r#"["+",1,2]"#),
            ("'''a''' '''b'''", "ab"),
            ("{{aGVsbG8=}}", "aGVsbG8="),
            ("{{\"clob\"}}", "clob"),
            ("\"\\x41\\u00e9\\n\"", "Aé\n"),
            ("1 2", "1"),
            ("{not: ion", "error: Invalid ion"),
            ("[1,", "error: not closed"),
            ("", "error: no value"),
            ("nan", "error: no JSON value"),
        ] {
            check(from_ion(&json!(text)), expected);
        }
        check(from_ion(&Value::Null), "null");
        check(from_ion(&json!(1)), "error: with type string");
        // A round trip through toIon.
        let value = kestra_vars();
        assert_eq!(from_ion(&to_ion(&value).unwrap()).unwrap(), value);
    }
}
