//! Pebble's core filters and the ones Kestra adds (its `Extension`), with
//! Pebble's parameter names so named arguments work as in Kestra.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::library::{Call, Declaration, Out, fail, filter, opt, owned, req, text};
use super::value::{self, Num, number_of};

pub(crate) static DECLARATIONS: &[Declaration] = &[
    // Values and defaults.
    filter("default", &[req("default", "The value to use instead.")], "The input, or `default` when the input is undefined, null or empty (an empty string, list or map). Unlike other filters it accepts an undefined input.", default).takes_null(),
    filter("length", &[], "The number of characters of a string, items of a list or entries of a map; 0 for null.", length).takes_null(),
    filter("className", &[], "The Java class Kestra would hold the value in (`java.lang.String`, `java.lang.Long`, ...).", class_name),
    filter("string", &[], "The value as text, as it would print (Mortar's; Kestra has no such filter).", string),
    filter("number", &[opt("type", "INT, LONG, FLOAT, DOUBLE or nothing to guess.")], "Parses a string as a number.", number),
    // JSON.
    filter("toJson", &[], "The value as compact JSON text.", to_json).takes_null(),
    filter("json", &[], "The value as compact JSON text (deprecated in Kestra: use `toJson`).", to_json).takes_null(),
    filter("jsonEncode", &[], "The value as compact JSON text (Mortar's alias of `toJson`).", to_json).takes_null(),
    filter("fromJson", &[], "Parses JSON text into a value.", from_json),
    filter("jsonDecode", &[], "Parses JSON text into a value (Mortar's alias of `fromJson`).", from_json),
    // Text.
    filter("upper", &[], "The text in upper case.", upper),
    filter("lower", &[], "The text in lower case.", lower),
    filter("capitalize", &[], "The text with its first letter in upper case.", capitalize),
    filter("title", &[], "The text with the first letter of each word in upper case.", title),
    filter("trim", &[], "The text without leading and trailing whitespace.", trim),
    filter("nl2br", &[], "The text with each line break (\\n, \\r\\n or \\r) replaced by `<br />`.", nl2br),
    filter("abbreviate", &[req("length", "The most characters to keep, `...` included.")], "The text cut to `length` characters, ending in `...` when cut.", abbreviate),
    filter("startsWith", &[req("value", "The prefix.")], "Whether the text starts with `value`.", starts_with),
    filter("endsWith", &[req("value", "The suffix.")], "Whether the text ends with `value`.", ends_with),
    filter("substringBefore", &[req("separator", "The text to look for.")], "The text before the first `separator` (all of it when absent).", substring_before),
    filter("substringBeforeLast", &[req("separator", "The text to look for.")], "The text before the last `separator` (all of it when absent).", substring_before_last),
    filter("substringAfter", &[req("separator", "The text to look for.")], "The text after the first `separator` (empty when absent).", substring_after),
    filter("substringAfterLast", &[req("separator", "The text to look for.")], "The text after the last `separator` (empty when absent).", substring_after_last),
    filter("split", &[req("delimiter", "A Java regular expression to split at."), opt("limit", "The most parts; 0 or absent drops trailing empty parts.")], "The text split into a list.", split),
    filter("replace", &[req("replace_pairs", "A map of what to replace to its replacement."), opt("regexp", "Whether the keys are regular expressions.")], "Replaces every occurrence of each key of `replace_pairs` by its value; in lists and maps, in every string.", replace),
    filter("escapeChar", &[opt("type", "`single`, `double` or `shell` quotes (default `single`).")], "Escapes quotes for a quoted string of the given kind.", escape_char),
    filter("format", &[], "Java's `String.format`: the text is the pattern (`%s`, `%d`, `%.2f`, `%05d`, `%,d`, `%2$s`, ...), the arguments fill it.", format).variadic(),
    filter("slugify", &[], "The text as a lower-case slug of letters, digits and `-`.", slugify),
    filter("indent", &[req("amount", "How many times to repeat the prefix."), opt("prefix", "The text to add (default a space).")], "Indents every line but the first.", indent),
    filter("nindent", &[req("amount", "How many times to repeat the prefix."), opt("prefix", "The text to add (default a space).")], "Adds a line break, then indents every line.", nindent),
    filter("urlencode", &[], "Encodes the text for a URL query (Java's URLEncoder: a space is `+`).", urlencode),
    filter("urldecode", &[], "Decodes URL-encoded text.", urldecode),
    filter("base64encode", &[], "The text's UTF-8 bytes in base64.", base64encode),
    filter("base64decode", &[], "Decodes base64 into UTF-8 text.", base64decode),
    filter("sha1", &[], "The SHA-1 of the text, in hex.", sha1),
    filter("sha256", &[], "The SHA-256 of the text, in hex.", sha256),
    filter("sha512", &[], "The SHA-512 of the text, in hex.", sha512),
    filter("md5", &[], "The MD5 of the text, in hex.", md5),
    // Numbers.
    filter("abs", &[], "The absolute value of a number.", abs),
    filter("numberformat", &[req("format", "A Java DecimalFormat pattern such as `#,##0.00`.")], "Formats a number (Pebble's name is all lower case).", number_format),
    // Lists and maps.
    filter("first", &[], "The first item of a list, or the first character of a string.", first),
    filter("last", &[], "The last item of a list, or the last character of a string.", last),
    filter("join", &[opt("separator", "Put between items (default nothing).")], "The items of a list as text.", join),
    filter("slice", &[opt("fromIndex", "The first index kept (default 0)."), opt("toIndex", "The index after the last kept (default the length).")], "Part of a list or a string.", slice),
    filter("keys", &[], "The keys of a map.", keys),
    filter("values", &[], "The values of a map.", values),
    filter("sort", &[], "The list sorted in ascending order.", sort),
    filter("rsort", &[], "The list sorted in descending order.", rsort),
    filter("reverse", &[], "The list (or string) in reverse order.", reverse),
    filter("merge", &[req("items", "A list to append, or a map to merge in.")], "Two lists appended, or two maps merged (the argument's entries win).", merge),
    filter("distinct", &[], "The list without repeated items, in first-seen order (Mortar's).", distinct),
    filter("chunk", &[req("size", "Items per chunk.")], "The list cut into lists of `size` items.", chunk),
    filter("flatten", &[], "A list of lists as one list.", flatten),
    // Dates.
    filter("date", &[opt("format", "A Java DateTimeFormatter pattern or one of Kestra's named formats (iso, sql, iso_local_date, ...); default iso."), opt("existingFormat", "The pattern the input is written in, when it is not ISO-8601."), opt("timeZone", "A time zone id (default UTC)."), opt("locale", "en or en_US.")], "Formats a date: ISO-8601 text or Unix seconds.", date),
    filter("dateAdd", &[req("amount", "How many units to add (negative to subtract)."), req("unit", "A Java ChronoUnit: SECONDS, MINUTES, HOURS, DAYS, WEEKS, MONTHS, YEARS..."), opt("format", "As `date`'s."), opt("timeZone", "As `date`'s."), opt("existingFormat", "As `date`'s."), opt("locale", "As `date`'s.")], "The date moved by an amount of a unit, formatted as `date` does.", date_add),
    filter("timestamp", &[opt("timeZone", "The zone of a date without one (default UTC)."), opt("existingFormat", "The pattern the input is written in.")], "The date as Unix seconds.", |c| timestamp_with(c, super::dates::timestamp)),
    filter("timestampMilli", &[opt("timeZone", "As `timestamp`'s."), opt("existingFormat", "As `timestamp`'s.")], "The date as Unix milliseconds.", |c| timestamp_with(c, super::dates::timestamp_milli)),
    filter("timestampMicro", &[opt("timeZone", "As `timestamp`'s."), opt("existingFormat", "As `timestamp`'s.")], "The date in microseconds, as Kestra computes it.", |c| timestamp_with(c, super::dates::timestamp_micro)),
    filter("timestampNano", &[opt("timeZone", "As `timestamp`'s."), opt("existingFormat", "As `timestamp`'s.")], "The date as Unix nanoseconds.", |c| timestamp_with(c, super::dates::timestamp_nano)),
    // Conversions.
    filter("jq", &[req("expression", "A jq expression.")], "Every result of a jq expression on the value, as a list.", |c| {
        let expression = c.text(0).unwrap_or_default();
        super::convert::jq(&c.input, &expression).map(Cow::Owned).map_err(fail)
    }),
    filter("yaml", &[], "The value as YAML text.", |c| super::convert::yaml_filter(&c.input).map(Cow::Owned).map_err(fail)),
    filter("toIon", &[], "The value as Amazon Ion text.", |c| super::convert::to_ion(&c.input).map(Cow::Owned).map_err(fail)),
];

fn date_add<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Some(Num::Int(amount)) = call.arg(0).and_then(number_of) else {
        return Err(fail("dateAdd: `amount` must be a whole number"));
    };
    let unit = call.text(1).unwrap_or_default();
    let (format, zone, existing, locale) = (call.text(2), call.text(3), call.text(4), call.text(5));
    super::dates::date_add(
        &call.input,
        amount,
        &unit,
        format.as_deref(),
        zone.as_deref(),
        existing.as_deref(),
        locale.as_deref(),
    )
    .map(Cow::Owned)
    .map_err(fail)
}

fn timestamp_with<'a>(
    call: Call<'a, '_>,
    f: fn(&Value, Option<&str>, Option<&str>) -> Result<Value, String>,
) -> Out<'a> {
    let (zone, existing) = (call.text(0), call.text(1));
    f(&call.input, zone.as_deref(), existing.as_deref())
        .map(Cow::Owned)
        .map_err(fail)
}

fn default<'a>(mut call: Call<'a, '_>) -> Out<'a> {
    let empty = match call.input.as_ref() {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    };
    if empty {
        Ok(call.take(0).unwrap_or(Cow::Owned(Value::Null)))
    } else {
        Ok(call.input)
    }
}

fn length<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::from(match call.input.as_ref() {
        Value::String(s) => s.encode_utf16().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    }))
}

fn class_name<'a>(call: Call<'a, '_>) -> Out<'a> {
    text(match call.input.as_ref() {
        Value::String(_) => "java.lang.String",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(_) if matches!(number_of(&call.input), Some(Num::Int(_))) => "java.lang.Long",
        Value::Number(_) => "java.lang.Double",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
        Value::Null => "null",
    })
}

fn string<'a>(call: Call<'a, '_>) -> Out<'a> {
    text(call.input_text())
}

fn number<'a>(call: Call<'a, '_>) -> Out<'a> {
    if call.input.is_number() {
        return Ok(call.input);
    }
    let Value::String(raw) = call.input.as_ref() else {
        return Err(fail(format!(
            "applies to a string, not {}",
            value::describe(&call.input)
        )));
    };
    let raw = raw.trim();
    let bad = || fail(format!("{raw:?} is not a number"));
    let kind = call.text(0).unwrap_or_default().to_ascii_uppercase();
    let parsed = match kind.as_str() {
        "INT" | "LONG" | "BIGINTEGER" => Num::Int(raw.parse().map_err(|_| bad())?),
        "FLOAT" | "DOUBLE" | "BIGDECIMAL" => Num::Float(raw.parse().map_err(|_| bad())?),
        "" => match raw.parse::<i64>() {
            Ok(i) => Num::Int(i),
            Err(_) => Num::Float(raw.parse().map_err(|_| bad())?),
        },
        other => {
            return Err(fail(format!(
                "unknown type {other:?}: use INT, LONG, FLOAT or DOUBLE"
            )));
        }
    };
    owned(parsed.to_value())
}

fn to_json<'a>(call: Call<'a, '_>) -> Out<'a> {
    text(serde_json::to_string(call.input.as_ref()).map_err(|e| fail(e.to_string()))?)
}

fn from_json<'a>(call: Call<'a, '_>) -> Out<'a> {
    let source = call.input_text();
    owned(serde_json::from_str(&source).map_err(|e| fail(format!("invalid JSON: {e}")))?)
}

fn upper<'a>(call: Call<'a, '_>) -> Out<'a> {
    text(call.input_text().to_uppercase())
}

fn lower<'a>(call: Call<'a, '_>) -> Out<'a> {
    text(call.input_text().to_lowercase())
}

fn capitalize<'a>(call: Call<'a, '_>) -> Out<'a> {
    let source = call.input_text();
    let mut chars = source.chars();
    text(match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    })
}

fn title<'a>(call: Call<'a, '_>) -> Out<'a> {
    let mut out = String::new();
    let mut start = true;
    for c in call.input_text().chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    text(out)
}

fn trim<'a>(call: Call<'a, '_>) -> Out<'a> {
    // Java's trim: every character up to U+0020.
    text(call.input_text().trim_matches(|c: char| c <= ' '))
}

/// Pebble's Nl2brFilter.
fn nl2br<'a>(call: Call<'a, '_>) -> Out<'a> {
    text(
        call.input_text()
            .replace("\r\n", "<br />")
            .replace(['\n', '\r'], "<br />"),
    )
}

fn abbreviate<'a>(call: Call<'a, '_>) -> Out<'a> {
    let source = call.input_text();
    let length = call.int(0, "length")?.unwrap_or(0).max(0) as usize;
    if source.chars().count() <= length {
        return text(source);
    }
    if length < 3 {
        return Err(fail("`length` is at least 3, to hold the `...`"));
    }
    text(source.chars().take(length - 3).collect::<String>() + "...")
}

fn starts_with<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(
        call.input_text()
            .starts_with(&call.text(0).unwrap_or_default()),
    ))
}

fn ends_with<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Bool(
        call.input_text()
            .ends_with(&call.text(0).unwrap_or_default()),
    ))
}

fn substring_before<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (source, separator) = (call.input_text(), call.text(0).unwrap_or_default());
    text(
        source
            .find(&separator)
            .map_or(source.as_str(), |at| &source[..at]),
    )
}

fn substring_before_last<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (source, separator) = (call.input_text(), call.text(0).unwrap_or_default());
    text(
        source
            .rfind(&separator)
            .map_or(source.as_str(), |at| &source[..at]),
    )
}

fn substring_after<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (source, separator) = (call.input_text(), call.text(0).unwrap_or_default());
    text(
        source
            .find(&separator)
            .map_or("", |at| &source[at + separator.len()..]),
    )
}

fn substring_after_last<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (source, separator) = (call.input_text(), call.text(0).unwrap_or_default());
    text(
        source
            .rfind(&separator)
            .map_or("", |at| &source[at + separator.len()..]),
    )
}

/// Java's `String.split(regex, limit)`, which Pebble's `split` calls.
fn split<'a>(call: Call<'a, '_>) -> Out<'a> {
    let source = call.input_text();
    let delimiter = call.text(0).unwrap_or_default();
    let limit = call.int(1, "limit")?.unwrap_or(0);
    let pattern = regex::Regex::new(&delimiter)
        .map_err(|e| fail(format!("`delimiter` is not a regular expression: {e}")))?;
    let mut parts: Vec<&str> = if limit > 0 {
        pattern.splitn(&source, limit as usize).collect()
    } else {
        pattern.split(&source).collect()
    };
    if limit == 0 {
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
    }
    owned(Value::Array(
        parts
            .into_iter()
            .map(|p| Value::String(p.to_owned()))
            .collect(),
    ))
}

fn replace<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Some(Value::Object(pairs)) = call.arg(0).cloned() else {
        return Err(fail("`replace_pairs` is a map such as {'old': 'new'}"));
    };
    let regexp = call.bool(1, "regexp")?.unwrap_or(false);
    let mut rules = Vec::new();
    for (from, to) in &pairs {
        let pattern = if regexp {
            Some(
                regex::Regex::new(from)
                    .map_err(|e| fail(format!("{from:?} is not a regular expression: {e}")))?,
            )
        } else {
            None
        };
        rules.push((from.as_str(), pattern, value::to_text(to)));
    }
    let apply = |s: &str| {
        rules
            .iter()
            .fold(s.to_owned(), |acc, (from, pattern, to)| match pattern {
                Some(pattern) => pattern.replace_all(&acc, to.as_str()).into_owned(),
                None => acc.replace(from, to),
            })
    };
    owned(map_strings(call.input.into_owned(), &apply))
}

/// Applies a text function to a string, or to every scalar in a list or map
/// (Kestra's `replace` and `escapeChar` walk them so).
fn map_strings(input: Value, f: &dyn Fn(&str) -> String) -> Value {
    match input {
        Value::Array(items) => Value::Array(items.into_iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, map_strings(v, f)))
                .collect(),
        ),
        other => Value::String(f(&value::to_text(&other))),
    }
}

fn escape_char<'a>(call: Call<'a, '_>) -> Out<'a> {
    let kind = call
        .text(0)
        .unwrap_or_else(|| "single".into())
        .to_ascii_lowercase();
    let (quote, escaped) = match kind.as_str() {
        "single" => ("'", "\\'"),
        "double" => ("\"", "\\\""),
        "shell" => ("'", "'\\''"),
        other => {
            return Err(fail(format!(
                "unknown type {other:?}: use single, double or shell"
            )));
        }
    };
    owned(map_strings(call.input.into_owned(), &|s| {
        s.replace(quote, escaped)
    }))
}

fn slugify<'a>(call: Call<'a, '_>) -> Out<'a> {
    let mut out = String::new();
    for c in call.input_text().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    text(out.trim_end_matches('-'))
}

fn indent<'a>(call: Call<'a, '_>) -> Out<'a> {
    indented(call, false)
}

fn nindent<'a>(call: Call<'a, '_>) -> Out<'a> {
    indented(call, true)
}

/// Kestra's AbstractIndent: the line break the text uses, then the prefix
/// repeated `amount` times after each.
fn indented(call: Call<'_, '_>, leading: bool) -> Out<'static> {
    let source = call.input_text();
    if source.is_empty() {
        return text(source);
    }
    let amount = call.int(0, "amount")?.unwrap_or(0);
    if amount < 0 {
        return Err(fail("`amount` is 0 or more"));
    }
    let prefix = call
        .text(1)
        .unwrap_or_else(|| " ".into())
        .repeat(amount.min(1000) as usize);
    let newline = ["\r\n", "\n\r", "\n", "\r"]
        .into_iter()
        .find(|n| source.contains(n))
        .unwrap_or("\n");
    let grown = (source.matches(newline).count() + 1).saturating_mul(prefix.len());
    if source.len().saturating_add(grown) > call.ev.limits.output_bytes {
        return Err(super::eval::EvalError::Limit {
            name: "output size (bytes)",
            limit: call.ev.limits.output_bytes as u64,
        });
    }
    let source = if leading {
        format!("{newline}{source}")
    } else {
        source
    };
    text(source.replace(newline, &format!("{newline}{prefix}")))
}

fn urlencode<'a>(call: Call<'a, '_>) -> Out<'a> {
    let mut out = String::new();
    for byte in call.input_text().bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    text(out)
}

fn urldecode<'a>(call: Call<'a, '_>) -> Out<'a> {
    let source = call.input_text();
    let bytes = source.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = source
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.ok_or_else(|| fail(format!("bad escape at byte {i}")))?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    text(String::from_utf8(out).map_err(|_| fail("the decoded bytes are not UTF-8"))?)
}

fn base64encode<'a>(call: Call<'a, '_>) -> Out<'a> {
    use base64::Engine;
    text(base64::engine::general_purpose::STANDARD.encode(call.input_text()))
}

fn base64decode<'a>(call: Call<'a, '_>) -> Out<'a> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(call.input_text().trim())
        .map_err(|e| fail(format!("not base64: {e}")))?;
    text(String::from_utf8(bytes).map_err(|_| fail("the decoded bytes are not UTF-8"))?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha1<'a>(call: Call<'a, '_>) -> Out<'a> {
    use sha1::Digest;
    text(hex(&sha1::Sha1::digest(call.input_text().as_bytes())))
}

fn sha256<'a>(call: Call<'a, '_>) -> Out<'a> {
    use sha2::Digest;
    text(hex(&sha2::Sha256::digest(call.input_text().as_bytes())))
}

fn sha512<'a>(call: Call<'a, '_>) -> Out<'a> {
    use sha2::Digest;
    text(hex(&sha2::Sha512::digest(call.input_text().as_bytes())))
}

fn md5<'a>(call: Call<'a, '_>) -> Out<'a> {
    use md5::Digest;
    text(hex(&md5::Md5::digest(call.input_text().as_bytes())))
}

fn abs<'a>(call: Call<'a, '_>) -> Out<'a> {
    match value::to_number(&call.input).map_err(fail)? {
        Num::Int(i) => owned(Value::from(i.wrapping_abs())),
        Num::Float(f) => owned(Num::Float(f.abs()).to_value()),
    }
}

/// The common subset of Java's DecimalFormat: `#` and `0` digits, a `,`
/// for grouping by three, and `.` then the decimals (`0` always shown,
/// `#` only when not zero).
fn format<'a>(call: Call<'a, '_>) -> Out<'a> {
    let args: Vec<&Value> = call.rest.iter().map(|v| v.as_ref()).collect();
    text(
        super::printf::format(&call.input_text(), &args, call.ev.limits.output_bytes)
            .map_err(fail)?,
    )
}

fn number_format<'a>(call: Call<'a, '_>) -> Out<'a> {
    let number = value::to_number(&call.input).map_err(fail)?.as_f64();
    let format = call.text(0).unwrap_or_default();
    let (whole_pattern, decimals) = format.split_once('.').unwrap_or((&format, ""));
    let min_decimals = decimals.chars().filter(|c| *c == '0').count();
    let max_decimals = decimals.chars().filter(|c| *c == '0' || *c == '#').count();
    let min_whole = whole_pattern.chars().filter(|c| *c == '0').count();
    // DecimalFormat rounds half-even; formatting rounds half-even too.
    let mut fixed = format!("{:.*}", max_decimals, number.abs());
    if max_decimals > min_decimals {
        let keep = fixed.len() - (max_decimals - min_decimals);
        while fixed.len() > keep && fixed.ends_with('0') {
            fixed.pop();
        }
        if fixed.ends_with('.') {
            fixed.pop();
        }
    }
    let (whole, fraction) = fixed
        .split_once('.')
        .map_or((fixed.as_str(), None), |(w, f)| (w, Some(f)));
    let whole = if whole == "0" && min_whole == 0 && fraction.is_some() {
        ""
    } else {
        whole
    };
    let mut whole = format!("{:0>width$}", whole, width = min_whole);
    if whole_pattern.contains(',') {
        whole = super::group_thousands(&whole);
    }
    let sign = if number < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    text(match fraction {
        Some(fraction) => format!("{sign}{whole}.{fraction}"),
        None => format!("{sign}{whole}"),
    })
}

fn first<'a>(call: Call<'a, '_>) -> Out<'a> {
    Ok(match call.input {
        Cow::Borrowed(Value::Array(items)) => {
            items.first().map_or(Cow::Owned(Value::Null), Cow::Borrowed)
        }
        Cow::Owned(Value::Array(items)) => {
            Cow::Owned(items.into_iter().next().unwrap_or(Value::Null))
        }
        other => Cow::Owned(
            value::to_text(&other)
                .chars()
                .next()
                .map_or(Value::Null, |c| Value::String(c.to_string())),
        ),
    })
}

fn last<'a>(call: Call<'a, '_>) -> Out<'a> {
    Ok(match call.input {
        Cow::Borrowed(Value::Array(items)) => {
            items.last().map_or(Cow::Owned(Value::Null), Cow::Borrowed)
        }
        Cow::Owned(Value::Array(items)) => {
            Cow::Owned(items.into_iter().next_back().unwrap_or(Value::Null))
        }
        other => Cow::Owned(
            value::to_text(&other)
                .chars()
                .next_back()
                .map_or(Value::Null, |c| Value::String(c.to_string())),
        ),
    })
}

fn join<'a>(call: Call<'a, '_>) -> Out<'a> {
    if !call.input.is_array() {
        return Err(fail(format!(
            "joins a list, not {}",
            value::describe(&call.input)
        )));
    }
    let separator = call.text(0).unwrap_or_default();
    let items = call.input.as_array().map(Vec::as_slice).unwrap_or_default();
    text(
        items
            .iter()
            .map(value::to_text)
            .collect::<Vec<_>>()
            .join(&separator),
    )
}

fn slice<'a>(call: Call<'a, '_>) -> Out<'a> {
    let from = call.int(0, "fromIndex")?.unwrap_or(0);
    let to = call.int(1, "toIndex")?;
    let check = |len: usize| -> Result<(usize, usize), super::eval::EvalError> {
        let to = to.unwrap_or(len as i64);
        if from < 0 || to < from || to as usize > len {
            return Err(fail(format!(
                "fromIndex {from} and toIndex {to} do not fit a length of {len}"
            )));
        }
        Ok((from as usize, to as usize))
    };
    match call.input.as_ref() {
        Value::Array(items) => {
            let (from, to) = check(items.len())?;
            owned(Value::Array(items[from..to].to_vec()))
        }
        other => {
            let chars: Vec<char> = value::to_text(other).chars().collect();
            let (from, to) = check(chars.len())?;
            text(chars[from..to].iter().collect::<String>())
        }
    }
}

fn keys<'a>(call: Call<'a, '_>) -> Out<'a> {
    match call.input.as_ref() {
        Value::Object(map) => owned(Value::Array(
            map.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        other => Err(fail(format!(
            "applies to a map, not {}",
            value::describe(other)
        ))),
    }
}

fn values<'a>(call: Call<'a, '_>) -> Out<'a> {
    match call.input.into_owned() {
        Value::Object(map) => owned(Value::Array(map.into_iter().map(|(_, v)| v).collect())),
        other => Err(fail(format!(
            "applies to a map, not {}",
            value::describe(&other)
        ))),
    }
}

fn sorted(input: Value) -> Result<Vec<Value>, super::eval::EvalError> {
    let mut items = match input {
        Value::Array(items) => items,
        other => {
            return Err(fail(format!(
                "applies to a list, not {}",
                value::describe(&other)
            )));
        }
    };
    items.sort_by(|a, b| match (number_of(a), number_of(b)) {
        (Some(x), Some(y)) => x.as_f64().total_cmp(&y.as_f64()),
        _ => value::to_text(a).cmp(&value::to_text(b)),
    });
    Ok(items)
}

fn sort<'a>(call: Call<'a, '_>) -> Out<'a> {
    owned(Value::Array(sorted(call.input.into_owned())?))
}

fn rsort<'a>(call: Call<'a, '_>) -> Out<'a> {
    let mut items = sorted(call.input.into_owned())?;
    items.reverse();
    owned(Value::Array(items))
}

fn reverse<'a>(call: Call<'a, '_>) -> Out<'a> {
    match call.input.into_owned() {
        Value::Array(mut items) => {
            items.reverse();
            owned(Value::Array(items))
        }
        other => text(value::to_text(&other).chars().rev().collect::<String>()),
    }
}

fn merge<'a>(mut call: Call<'a, '_>) -> Out<'a> {
    let items = call.take(0).map(Cow::into_owned).unwrap_or(Value::Null);
    match (call.input.into_owned(), items) {
        (Value::Array(mut left), Value::Array(right)) => {
            left.extend(right);
            owned(Value::Array(left))
        }
        (Value::Array(mut left), Value::Object(right)) => {
            left.extend(right.into_iter().map(|(k, v)| {
                let mut entry = Map::new();
                entry.insert(k, v);
                Value::Object(entry)
            }));
            owned(Value::Array(left))
        }
        (Value::Object(mut left), Value::Object(right)) => {
            left.extend(right);
            owned(Value::Object(left))
        }
        (left, right) => Err(fail(format!(
            "merges two lists or two maps, not {} and {}",
            value::describe(&left),
            value::describe(&right)
        ))),
    }
}

fn distinct<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Value::Array(items) = call.input.into_owned() else {
        return Err(fail("applies to a list"));
    };
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.iter().any(|seen| value::equals(seen, &item)) {
            out.push(item);
        }
    }
    owned(Value::Array(out))
}

fn chunk<'a>(call: Call<'a, '_>) -> Out<'a> {
    let size = call.int(0, "size")?.unwrap_or(0);
    if size <= 0 {
        return Err(fail("`size` is 1 or more"));
    }
    let Value::Array(items) = call.input.as_ref() else {
        return Err(fail(format!(
            "applies to a list, not {}",
            value::describe(&call.input)
        )));
    };
    owned(Value::Array(
        items
            .chunks(size as usize)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

fn flatten<'a>(call: Call<'a, '_>) -> Out<'a> {
    let Value::Array(items) = call.input.into_owned() else {
        return Err(fail("applies to a list"));
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Array(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    owned(Value::Array(out))
}

/// `date(format, timeZone=...)`: an ISO-8601 instant, date-time or date (or
/// Unix seconds) formatted with a Java-style pattern (`yyyy-MM-dd HH:mm`).
/// Without a zone, UTC. The full Java formatter comes with the date library.
fn date<'a>(call: Call<'a, '_>) -> Out<'a> {
    let (format, existing, zone, locale) = (call.text(0), call.text(1), call.text(2), call.text(3));
    super::dates::date(
        &call.input,
        format.as_deref(),
        zone.as_deref(),
        existing.as_deref(),
        locale.as_deref(),
    )
    .map(Cow::Owned)
    .map_err(fail)
}
