//! What Pebble does with values, on `serde_json::Value`: printing as
//! Kestra prints, Java's number rules, equality, comparison, truthiness.

use serde_json::Value;

use super::ast::BinaryOp;

/// A number as Java holds it: a `Long` or a `Double`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub(crate) fn to_value(self) -> Value {
        match self {
            Num::Int(i) => Value::from(i),
            // JSON has no NaN or infinity; Java would print them, we give null.
            Num::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        }
    }
}

/// A JSON number as a Java number; None for anything else.
pub(crate) fn number_of(value: &Value) -> Option<Num> {
    let Value::Number(n) = value else { return None };
    Some(match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
    })
}

/// Pebble's `OperatorUtils.toNumber`: numbers, and strings that parse
/// (with a `.` or an exponent as a double, otherwise as a long).
pub(crate) fn to_number(value: &Value) -> Result<Num, String> {
    if let Some(n) = number_of(value) {
        return Ok(n);
    }
    if let Value::String(text) = value {
        let parsed = if text.contains(['.', 'e', 'E']) {
            text.parse().ok().map(Num::Float)
        } else {
            text.parse().ok().map(Num::Int)
        };
        return parsed.ok_or_else(|| format!("{text:?} is not a number"));
    }
    Err(format!("{} is not a number", describe(value)))
}

/// Appends a value as Kestra prints it: text as is, null as nothing,
/// numbers as Java does (`2.0`), lists and maps as compact JSON (its
/// JsonWriter).
pub(crate) fn print(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::String(text) => out.push_str(text),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => out.push_str(&number_text(value)),
        Value::Array(_) | Value::Object(_) => {
            out.push_str(&serde_json::to_string(value).unwrap_or_default())
        }
    }
}

/// A value as text (`print` into a new string).
pub(crate) fn to_text(value: &Value) -> String {
    let mut out = String::new();
    print(value, &mut out);
    out
}

/// Java's `String.valueOf`, for `+` on a string: null is `null`.
pub(crate) fn java_string(value: &Value) -> String {
    if value.is_null() {
        "null".into()
    } else {
        to_text(value)
    }
}

fn number_text(value: &Value) -> String {
    match number_of(value) {
        Some(Num::Int(i)) => i.to_string(),
        Some(Num::Float(f)) => java_double(f),
        None => value.to_string(),
    }
}

/// Java's `Double.toString`: at least one decimal (`2.0`), and scientific
/// notation (`1.0E7`, `1.0E-4`) outside [10^-3, 10^7).
pub(crate) fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let magnitude = f.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let text = format!("{f:?}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    let text = format!("{f:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

/// What a value is, for messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(_) => format!("the number {}", number_text(value)),
        Value::String(s) if s.chars().count() > 40 => {
            format!("the string {:?}...", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Object(_) => "a map".into(),
    }
}

/// Pebble's boolean conversion (`TypeUtils.compatibleCast` as `IfNode`
/// uses it): a number is true unless 0, a string unless empty.
pub(crate) fn truthy(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        Value::Number(_) => {
            Ok(number_of(value).is_some_and(|n| n.as_f64() != 0.0 && !n.as_f64().is_nan()))
        }
        Value::String(s) => Ok(!s.is_empty()),
        other => Err(format!(
            "a condition is a boolean, a number or a string, not {}",
            describe(other)
        )),
    }
}

/// Pebble's `==`: numbers by value (`1 == 1.0`), everything else exactly.
pub(crate) fn equals(left: &Value, right: &Value) -> bool {
    match (number_of(left), number_of(right)) {
        (Some(Num::Int(a)), Some(Num::Int(b))) => a == b,
        (Some(a), Some(b)) => a.as_f64() == b.as_f64(),
        _ => left == right,
    }
}

/// `<`, `>`, `<=`, `>=`: numbers only, as in Pebble; false if either is null.
pub(crate) fn compare(op: BinaryOp, left: &Value, right: &Value) -> Result<bool, String> {
    if left.is_null() || right.is_null() {
        return Ok(false);
    }
    let (Some(a), Some(b)) = (number_of(left), number_of(right)) else {
        return Err(format!(
            "`<`, `>`, `<=` and `>=` compare numbers, not {} and {}",
            describe(left),
            describe(right)
        ));
    };
    let (a, b) = (a.as_f64(), b.as_f64());
    Ok(match op {
        BinaryOp::Less => a < b,
        BinaryOp::Greater => a > b,
        BinaryOp::LessEqual => a <= b,
        _ => a >= b,
    })
}

/// Pebble's `contains`: a list holds the item (or every item of a list), a
/// map has the key, a string has the text.
pub(crate) fn contains(container: &Value, item: &Value) -> bool {
    match container {
        Value::Array(items) => match item {
            Value::Array(wanted) => wanted.iter().all(|w| items.iter().any(|i| equals(i, w))),
            _ => items.iter().any(|i| equals(i, item)),
        },
        Value::Object(map) => map.contains_key(&to_text(item)),
        Value::String(text) => text.contains(&to_text(item)),
        _ => false,
    }
}

/// `+ - * / %` on numbers, with Java's widening: two longs give a long
/// (`7 / 2` is 3, overflow wraps), a double on either side gives a double.
pub(crate) fn arithmetic(op: BinaryOp, left: &Value, right: &Value) -> Result<Value, String> {
    let (a, b) = (to_number(left)?, to_number(right)?);
    let result = match (a, b) {
        (Num::Int(a), Num::Int(b)) => Num::Int(match op {
            BinaryOp::Add => a.wrapping_add(b),
            BinaryOp::Subtract => a.wrapping_sub(b),
            BinaryOp::Multiply => a.wrapping_mul(b),
            BinaryOp::Divide if b == 0 => return Err("division by zero".into()),
            BinaryOp::Divide => a.wrapping_div(b),
            BinaryOp::Modulo if b == 0 => return Err("division by zero (in `%`)".into()),
            BinaryOp::Modulo => a.wrapping_rem(b),
            _ => return Err("not an arithmetic operator".into()),
        }),
        (a, b) => {
            let (a, b) = (a.as_f64(), b.as_f64());
            Num::Float(match op {
                BinaryOp::Add => a + b,
                BinaryOp::Subtract => a - b,
                BinaryOp::Multiply => a * b,
                BinaryOp::Divide => a / b,
                BinaryOp::Modulo => a % b,
                _ => return Err("not an arithmetic operator".into()),
            })
        }
    };
    Ok(result.to_value())
}
