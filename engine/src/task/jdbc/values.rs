//! A PostgreSQL value, as the simple query protocol gives it (text), typed
//! as Kestra's PostgresCellConverter types it: numbers, booleans, JSON as
//! values, `timestamptz` in the task's zone, an interval as ISO-8601
//! (`P0Y0M1DT2H0M0S`), arrays as lists, `bytea` as base64.

use base64::Engine as _;
use serde_json::{Value, json};

/// `text` of a column of type `type_name` (sqlx's display name: `INT4`,
/// `TIMESTAMPTZ`, `TEXT[]`, or a custom type's name).
pub(crate) fn postgres(type_name: &str, text: &str, zone: &jiff::tz::TimeZone) -> Value {
    let upper = type_name.to_ascii_uppercase();
    if let Some(element) = upper.strip_suffix("[]") {
        return match parse_array(text) {
            Some(items) => array_value(items, element, zone),
            None => json!(text),
        };
    }
    match upper.as_str() {
        "BOOL" => json!(text == "t" || text == "true"),
        "INT2" | "INT4" | "INT8" | "OID" => text
            .parse::<i64>()
            .map_or_else(|_| json!(text), Value::from),
        "FLOAT4" | "FLOAT8" => number(text),
        "NUMERIC" => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| number(text)),
        "JSON" | "JSONB" => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
        "TIMESTAMP" => json!(text.replacen(' ', "T", 1)),
        "TIMESTAMPTZ" => timestamptz(text, zone),
        "TIMETZ" => json!(time_of(text)),
        "INTERVAL" => interval(text).map_or_else(|| json!(text), Value::from),
        "BYTEA" => text.strip_prefix("\\x").and_then(hex_bytes).map_or_else(
            || json!(text),
            |bytes| json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
        "VOID" => Value::Null,
        _ => json!(text),
    }
}

fn number(text: &str) -> Value {
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| json!(text), Value::Number)
}

/// `2024-01-02 03:04:05.6+02` in `zone`, as `2024-01-02T01:04:05.6Z`.
fn timestamptz(text: &str, zone: &jiff::tz::TimeZone) -> Value {
    let mut iso = text.replacen(' ', "T", 1);
    // PostgreSQL writes `+02`; RFC 3339 wants `+02:00`.
    if let Some(sign) = iso.rfind(['+', '-']).filter(|&at| at > 10)
        && iso.len() - sign == 3
    {
        iso.push_str(":00");
    }
    match iso.parse::<jiff::Timestamp>() {
        Ok(at) => {
            let zoned = at.to_zoned_datetime(zone.clone());
            let mut shown = zoned.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string();
            if let Some(utc) = shown.strip_suffix("+00:00") {
                shown = format!("{utc}Z");
            }
            json!(shown)
        }
        Err(_) => json!(text),
    }
}

/// `12:30:00+02` as `12:30:00` (Kestra gives a local time).
fn time_of(text: &str) -> &str {
    text.find(['+', '-']).map_or(text, |at| &text[..at])
}

/// PostgreSQL's interval text (`1 year 2 mons 3 days 04:05:06`) as Kestra
/// writes it: `P1Y2M3DT4H5M6S`.
fn interval(text: &str) -> Option<String> {
    let (mut years, mut months, mut days) = (0i64, 0i64, 0i64);
    let (mut hours, mut minutes, mut seconds) = (0i64, 0i64, 0f64);
    let mut words = text.split_whitespace().peekable();
    while let Some(word) = words.next() {
        if word.contains(':') {
            let negative = word.starts_with('-');
            let clock = word.trim_start_matches(['-', '+']);
            let mut parts = clock.split(':');
            let h: i64 = parts.next()?.parse().ok()?;
            let m: i64 = parts.next()?.parse().ok()?;
            let s: f64 = parts.next().unwrap_or("0").parse().ok()?;
            let sign = if negative { -1 } else { 1 };
            hours += sign * h;
            minutes += sign * m;
            seconds += f64::from(sign as i32) * s;
            continue;
        }
        let amount: i64 = word.parse().ok()?;
        match words.next()?.trim_end_matches('s') {
            "year" => years += amount,
            "mon" => months += amount,
            "day" => days += amount,
            _ => return None,
        }
    }
    Some(format!(
        "P{years}Y{months}M{days}DT{hours}H{minutes}M{}S",
        seconds.trunc() as i64
    ))
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// An item of an array literal: a value (None for NULL) or a nested array.
enum Item {
    Text(Option<String>),
    List(Vec<Item>),
}

fn array_value(items: Vec<Item>, element: &str, zone: &jiff::tz::TimeZone) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|item| match item {
                Item::Text(None) => Value::Null,
                Item::Text(Some(text)) => postgres(element, &text, zone),
                Item::List(inner) => array_value(inner, element, zone),
            })
            .collect(),
    )
}

/// `{1,2,NULL,"a b","x\"y",{3}}`: an array literal's items.
fn parse_array(text: &str) -> Option<Vec<Item>> {
    // `[0:1]={…}` gives the bounds first.
    let text = text.find("={").map_or(text, |at| &text[at + 1..]);
    let mut chars = text.chars().peekable();
    let items = array_items(&mut chars)?;
    chars.next().is_none().then_some(items)
}

fn array_items(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<Vec<Item>> {
    if chars.next()? != '{' {
        return None;
    }
    let mut items = Vec::new();
    if chars.peek() == Some(&'}') {
        chars.next();
        return Some(items);
    }
    loop {
        match chars.peek()? {
            '{' => items.push(Item::List(array_items(chars)?)),
            '"' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next()? {
                        '\\' => text.push(chars.next()?),
                        '"' => break,
                        c => text.push(c),
                    }
                }
                items.push(Item::Text(Some(text)));
            }
            _ => {
                let mut text = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '}' {
                        break;
                    }
                    text.push(c);
                    chars.next();
                }
                let text = text.trim().to_owned();
                items.push(Item::Text((text != "NULL").then_some(text)));
            }
        }
        match chars.next()? {
            ',' => {}
            '}' => return Some(items),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_text_values_are_typed_as_kestra_types_them() {
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(postgres("INT4", "42", &utc), json!(42));
        assert_eq!(postgres("BOOL", "t", &utc), json!(true));
        assert_eq!(postgres("NUMERIC", "12.50", &utc), json!(12.5));
        assert_eq!(postgres("NUMERIC", "7", &utc), json!(7));
        assert_eq!(postgres("FLOAT8", "NaN", &utc), json!("NaN"));
        assert_eq!(postgres("JSONB", r#"{"a": [1]}"#, &utc), json!({"a": [1]}));
        assert_eq!(
            postgres("TIMESTAMP", "2024-01-02 03:04:05.5", &utc),
            json!("2024-01-02T03:04:05.5")
        );
        assert_eq!(
            postgres("TIMESTAMPTZ", "2024-01-02 03:04:05+02", &utc),
            json!("2024-01-02T01:04:05Z")
        );
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            postgres("TIMESTAMPTZ", "2024-01-02 03:04:05+00", &paris),
            json!("2024-01-02T04:04:05+01:00")
        );
        assert_eq!(
            postgres("INTERVAL", "1 year 2 mons 3 days 04:05:06", &utc),
            json!("P1Y2M3DT4H5M6S")
        );
        assert_eq!(
            postgres("INTERVAL", "00:00:10", &utc),
            json!("P0Y0M0DT0H0M10S")
        );
        assert_eq!(
            postgres("INT4[]", "{{1,2},{3,NULL}}", &utc),
            json!([[1, 2], [3, null]])
        );
        assert_eq!(
            postgres("TEXT[]", r#"{plain,"with space","q\"uote",NULL}"#, &utc),
            json!(["plain", "with space", "q\"uote", null])
        );
        assert_eq!(postgres("BYTEA", "\\x0102ff", &utc), json!("AQL/"));
        assert_eq!(
            postgres("UUID", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", &utc),
            json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        );
    }
}
