//! Java's `String.format`, behind Pebble's `format` filter
//! (`{{ 'Hello %s, %d files' | format(name, count) }}`): specifiers
//! `%[index$][flags][width][.precision]conversion` with the conversions
//! `s S d x X o f e E g G b B c C n %` and the flags `- 0 + space , ( #`.
//! A value of the wrong kind for its conversion, a missing argument or an
//! unknown conversion fails, as Java's Formatter throws.

use serde_json::Value;

use super::value::{self, Num};

/// Formats `pattern` with `args` as Java's `String.format` does.
///
/// `max` bounds a width (`%999999999s`), so a pattern cannot allocate past
/// the template's output limit.
pub(crate) fn format(pattern: &str, args: &[&Value], max: usize) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.char_indices().peekable();
    let mut next_arg = 0_usize;
    let mut last_arg: Option<usize> = None;
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = parse(pattern, start, &mut chars)?;
        if spec.width.is_some_and(|w| w > max) {
            return Err(format!(
                "`{}` is wider than the output limit of {max} bytes",
                spec.text
            ));
        }
        match spec.conversion {
            '%' => {
                pad(&mut out, "%", &spec);
                continue;
            }
            'n' => {
                out.push('\n');
                continue;
            }
            _ => {}
        }
        let index = match spec.index {
            Index::Explicit(i) => i,
            Index::Previous => last_arg.ok_or_else(|| {
                format!(
                    "`{}` refers to a previous argument, but there is none",
                    spec.text
                )
            })?,
            Index::Next => {
                next_arg += 1;
                next_arg - 1
            }
        };
        last_arg = Some(index);
        let arg = args.get(index).copied().ok_or_else(|| {
            format!(
                "`{}` has no argument: the pattern needs at least {} and {} given",
                spec.text,
                index + 1,
                args.len()
            )
        })?;
        let text = convert(arg, &spec)?;
        pad(&mut out, &text, &spec);
    }
    Ok(out)
}

enum Index {
    Next,
    /// `%2$s`, zero-based here.
    Explicit(usize),
    /// `%<s`: the argument of the previous specifier.
    Previous,
}

struct Spec {
    text: String,
    index: Index,
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    group: bool,
    paren: bool,
    alternate: bool,
    width: Option<usize>,
    precision: Option<usize>,
    conversion: char,
}

fn parse(
    pattern: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<Spec, String> {
    let mut spec = Spec {
        text: String::new(),
        index: Index::Next,
        left: false,
        zero: false,
        plus: false,
        space: false,
        group: false,
        paren: false,
        alternate: false,
        width: None,
        precision: None,
        conversion: ' ',
    };
    let digits = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        let mut n: Option<usize> = None;
        while let Some(&(_, d)) = chars.peek() {
            let Some(v) = d.to_digit(10) else { break };
            n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(v as usize));
            chars.next();
        }
        n
    };
    if chars.peek().map(|&(_, c)| c) == Some('<') {
        chars.next();
        spec.index = Index::Previous;
    }
    // Digits are an argument index when a `$` follows, else a width; a
    // leading `0` is the zero flag.
    let mut number = if chars.peek().map(|&(_, c)| c) == Some('0') {
        None
    } else {
        digits(chars)
    };
    if let (Some(n), Some(&(_, '$'))) = (number, chars.peek()) {
        chars.next();
        if n == 0 {
            return Err(format!(
                "`{}`: argument indexes start at 1",
                &pattern[start..]
            ));
        }
        spec.index = Index::Explicit(n - 1);
        number = None;
    }
    if number.is_none() {
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                ',' => spec.group = true,
                '(' => spec.paren = true,
                '#' => spec.alternate = true,
                _ => break,
            }
            chars.next();
        }
        number = digits(chars);
    }
    spec.width = number;
    if chars.peek().map(|&(_, c)| c) == Some('.') {
        chars.next();
        spec.precision = Some(digits(chars).ok_or_else(|| {
            format!(
                "`{}`: a precision needs digits after `.`",
                rest(pattern, start)
            )
        })?);
    }
    let Some((end, conversion)) = chars.next() else {
        return Err(format!("the pattern ends inside `{}`", &pattern[start..]));
    };
    spec.conversion = conversion;
    spec.text = pattern[start..end + conversion.len_utf8()].to_owned();
    if !"sSdxXofeEgGbBcCn%".contains(conversion) {
        return Err(format!(
            "`{}` is not a conversion Java's String.format knows",
            spec.text
        ));
    }
    if (spec.left || spec.zero) && spec.width.is_none() {
        return Err(format!(
            "`{}`: the `-` and `0` flags need a width",
            spec.text
        ));
    }
    Ok(spec)
}

fn rest(pattern: &str, start: usize) -> &str {
    let end = pattern[start..]
        .char_indices()
        .nth(8)
        .map_or(pattern.len(), |(i, _)| start + i);
    &pattern[start..end]
}

fn convert(arg: &Value, spec: &Spec) -> Result<String, String> {
    let wrong = |wanted: &str| {
        format!(
            "`{}` needs {wanted}, not {}",
            spec.text,
            value::describe(arg)
        )
    };
    let text = match spec.conversion {
        's' | 'S' => {
            let mut s = java_string(arg);
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            s
        }
        'b' | 'B' => {
            let b = match arg {
                Value::Null => false,
                Value::Bool(b) => *b,
                _ => true,
            };
            b.to_string()
        }
        'c' | 'C' => match arg {
            Value::String(s) if s.chars().count() == 1 => s.clone(),
            Value::Number(n) => n
                .as_u64()
                .and_then(|c| char::from_u32(c as u32))
                .map(String::from)
                .ok_or_else(|| wrong("a character"))?,
            _ => return Err(wrong("a character")),
        },
        'd' => {
            let Some(Num::Int(i)) = value::number_of(arg) else {
                return Err(wrong("a whole number"));
            };
            signed(
                i < 0,
                &group(&i.unsigned_abs().to_string(), spec.group),
                spec,
            )
        }
        'x' | 'X' | 'o' => {
            let Some(Num::Int(i)) = value::number_of(arg) else {
                return Err(wrong("a whole number"));
            };
            // Java prints a negative long in two's complement.
            let digits = match spec.conversion {
                'o' => format!("{:o}", i as u64),
                _ => format!("{:x}", i as u64),
            };
            let prefix = match (spec.alternate, spec.conversion) {
                (true, 'o') => "0",
                (true, _) => "0x",
                _ => "",
            };
            format!("{prefix}{digits}")
        }
        'f' | 'e' | 'E' | 'g' | 'G' => {
            let Some(Num::Float(f)) = value::number_of(arg) else {
                return Err(wrong("a decimal number (Java refuses a whole number here)"));
            };
            if f.is_nan() || f.is_infinite() {
                let s = if f.is_nan() { "NaN" } else { "Infinity" };
                return Ok(signed(f < 0.0, s, spec));
            }
            let precision = spec.precision.unwrap_or(6);
            let body = match spec.conversion {
                'f' => group_decimal(&fixed(f.abs(), precision), spec.group),
                'e' | 'E' => java_exponent(f.abs(), precision),
                _ => {
                    // %g: scientific outside 10^-4 ≤ x < 10^precision, after rounding.
                    let p = precision.max(1);
                    let a = f.abs();
                    if a != 0.0 && (a < 1e-4 || a >= 10f64.powi(p as i32)) {
                        java_exponent(a, p - 1)
                    } else {
                        let magnitude = if a == 0.0 {
                            0
                        } else {
                            a.log10().floor() as i32
                        };
                        let decimals = (p as i32 - 1 - magnitude).max(0) as usize;
                        group_decimal(&fixed(a, decimals), spec.group)
                    }
                }
            };
            signed(f < 0.0, &body, spec)
        }
        other => unreachable!("conversion {other} checked when parsed"),
    };
    Ok(if spec.conversion.is_ascii_uppercase() {
        text.to_uppercase()
    } else {
        text
    })
}

/// How Java's `toString` prints a value Kestra holds: maps as `{a=1}`,
/// lists as `[1, 2]`.
fn java_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => value::to_text(other),
    }
}

/// `a` (not negative) with `precision` decimals, rounded half up from its
/// shortest decimal form, as Java's Formatter rounds (`%.1f` of 0.25 is
/// 0.3, where Rust's `{:.1}` gives 0.2).
fn fixed(a: f64, precision: usize) -> String {
    let shortest = format!("{a:e}");
    let (mantissa, exp) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    // The value is 0.d1d2d3… × 10^(exp+1): `point` digits before the point.
    let mut point = exp + 1;
    if point < 0 {
        let zeros = usize::try_from(-point)
            .unwrap_or(usize::MAX)
            .min(precision + 1);
        digits.splice(0..0, std::iter::repeat_n(0, zeros));
        point = 0;
    }
    let point = point as usize;
    let keep = point + precision;
    if digits.len() < keep {
        digits.resize(keep, 0);
    } else if digits.len() > keep {
        let round_up = digits[keep] >= 5;
        digits.truncate(keep);
        if round_up {
            let mut i = keep;
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    return render_fixed(&digits, point + 1, precision);
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
    }
    render_fixed(&digits, point, precision)
}

fn render_fixed(digits: &[u8], point: usize, precision: usize) -> String {
    let mut out = String::with_capacity(digits.len() + 2);
    if point == 0 {
        out.push('0');
    }
    for (i, d) in digits.iter().enumerate() {
        if i == point && precision > 0 {
            out.push('.');
        }
        out.push(char::from(b'0' + d));
    }
    if point == 0 && precision > 0 && digits.is_empty() {
        out.push('.');
    }
    out
}

fn java_exponent(a: f64, precision: usize) -> String {
    let s = format!("{:.*e}", precision, a);
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

fn signed(negative: bool, body: &str, spec: &Spec) -> String {
    if negative && spec.paren {
        format!("({body})")
    } else if negative {
        format!("-{body}")
    } else if spec.plus {
        format!("+{body}")
    } else if spec.space {
        format!(" {body}")
    } else {
        body.to_owned()
    }
}

fn group(digits: &str, on: bool) -> String {
    if on {
        super::group_thousands(digits)
    } else {
        digits.to_owned()
    }
}

fn group_decimal(fixed: &str, on: bool) -> String {
    match fixed.split_once('.') {
        Some((whole, fraction)) => format!("{}.{fraction}", group(whole, on)),
        None => group(fixed, on),
    }
}

/// Pads to the width: spaces on the left (or right with `-`), or zeros
/// after the sign with `0`.
fn pad(out: &mut String, text: &str, spec: &Spec) {
    let len = text.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(text);
        return;
    }
    let fill = width - len;
    if spec.left {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero {
        let sign_len = text.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
        out.push_str(&text[..sign_len]);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(&text[sign_len..]);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(text);
    }
}
