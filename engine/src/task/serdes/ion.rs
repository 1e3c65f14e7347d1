//! Ion text for Java's types as Kestra's Ion writer and reader have them,
//! where Mortar's Ion reader and writer know only JSON's.
//!
//! Writing: dates and instants as Ion timestamps, local times as Kestra's
//! `LocalTime::"…"`, decimals from their two's complement bytes, blobs, for
//! AvroToIon and ParquetToIon. Reading: Mortar's reader gives an Ion
//! timestamp as its ISO text and a decimal as a number, where Kestra's gives
//! Java dates and BigDecimals; [`raw_kinds`] tells them apart in the line
//! (for the schema inference and ExcelToIon), and [`iso_instant`] reads a
//! timestamp's text.

use serde_json::Value;

/// A field name as Ion writes it (bare, or quoted when it must be).
pub(super) fn name(field: &str) -> String {
    // ion_struct writes `{<name>:null}`: the name is what is between.
    let text = crate::flow::pebble::convert::ion_struct([(field, &Value::Null)]);
    text[1..text.len() - ":null}".len()].to_owned()
}

pub(super) fn string(s: &str, out: &mut String) {
    out.push_str(&crate::flow::pebble::convert::ion_text(&Value::String(
        s.to_owned(),
    )));
}

/// A double as ion-java prints it; NaN and infinities as null (Mortar's
/// Ion reader, like JSON, has no such numbers).
pub(super) fn float(f: f64, out: &mut String) {
    match serde_json::Number::from_f64(f) {
        Some(n) => out.push_str(&crate::flow::pebble::convert::ion_text(&Value::Number(n))),
        None => out.push_str("null"),
    }
}

pub(super) fn blob(bytes: &[u8], out: &mut String) {
    use base64::Engine as _;
    out.push_str("{{");
    out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
    out.push_str("}}");
}

/// An Ion date (`2024-01-15`), days after 1970-01-01; outside
/// Ion's years 1 to 9999, the ISO text as a string.
pub(super) fn date(days: i64, out: &mut String) {
    match jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(days)) {
        Ok(date) if date.year() >= 1 => out.push_str(&date.to_string()),
        _ => out.push_str("null"),
    }
}

/// An Ion timestamp in UTC, milliseconds always (as Kestra's
/// `Timestamp.forDateZ`), microseconds when there are some.
pub(super) fn instant(micros: i64, out: &mut String) {
    let Ok(t) = jiff::Timestamp::from_microsecond(micros) else {
        out.push_str("null");
        return;
    };
    let dt = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
    if dt.year() < 1 {
        out.push_str("null");
        return;
    }
    out.push_str(&dt.strftime("%Y-%m-%dT%H:%M:%S").to_string());
    fraction(dt.subsec_nanosecond(), 3, out);
    out.push('Z');
}

/// Kestra's `LocalTime::"10:30:00"` (ISO_LOCAL_TIME).
pub(super) fn local_time(micros: i64, out: &mut String) {
    let micros = micros.rem_euclid(86_400_000_000);
    let (h, m, s, us) = (
        micros / 3_600_000_000,
        micros / 60_000_000 % 60,
        micros / 1_000_000 % 60,
        micros % 1_000_000,
    );
    out.push_str(&format!("LocalTime::\"{h:02}:{m:02}:{s:02}"));
    fraction((us * 1000) as i32, 0, out);
    out.push('"');
}

/// Kestra's `LocalDateTime::"2024-01-15T10:30:00"` (ISO_LOCAL_DATE_TIME).
pub(super) fn local_date_time(micros: i64, out: &mut String) {
    let Ok(t) = jiff::Timestamp::from_microsecond(micros) else {
        out.push_str("null");
        return;
    };
    let dt = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
    out.push_str(&format!(
        "LocalDateTime::\"{}",
        dt.strftime("%Y-%m-%dT%H:%M:%S")
    ));
    fraction(dt.subsec_nanosecond(), 0, out);
    out.push('"');
}

/// `.123` with at least `min` digits, as few as exact (to microseconds).
fn fraction(nanos: i32, min: usize, out: &mut String) {
    let micros = nanos / 1000;
    if micros == 0 && min == 0 {
        return;
    }
    let text = format!("{micros:06}");
    let trimmed = text.trim_end_matches('0');
    let digits = trimmed.len().max(min);
    out.push('.');
    out.push_str(&text[..digits]);
}

/// An Ion decimal from big-endian two's complement bytes and a scale:
/// `12.30`, `12.` for a scale of 0 (Ion's decimal point).
pub(super) fn decimal_bytes(bytes: &[u8], scale: i32, out: &mut String) {
    let digits = unscaled_text(bytes);
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d.to_owned()),
        None => (false, digits),
    };
    if negative {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        out.push_str(&"0".repeat((-scale) as usize));
        out.push('.');
        return;
    }
    let scale = scale as usize;
    let padded = format!(
        "{}{digits}",
        "0".repeat((scale + 1).saturating_sub(digits.len()))
    );
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    out.push_str(whole);
    out.push('.');
    out.push_str(fraction);
}

/// The decimal digits of a big-endian two's complement integer of any
/// length.
fn unscaled_text(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "0".into();
    }
    if bytes.len() <= 16 {
        let fill = if bytes[0] & 0x80 != 0 { 0xFF } else { 0 };
        let mut full = [fill; 16];
        full[16 - bytes.len()..].copy_from_slice(bytes);
        return i128::from_be_bytes(full).to_string();
    }
    // Longer: magnitude by repeated division of base-256 digits.
    let negative = bytes[0] & 0x80 != 0;
    let mut magnitude: Vec<u8> = if negative {
        // Two's complement: invert and add one.
        let mut m: Vec<u8> = bytes.iter().map(|b| !b).collect();
        for b in m.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
        m
    } else {
        bytes.to_vec()
    };
    let mut digits = Vec::new();
    while magnitude.iter().any(|b| *b != 0) {
        let mut remainder = 0u32;
        for b in magnitude.iter_mut() {
            let current = (remainder << 8) | u32::from(*b);
            *b = (current / 10) as u8;
            remainder = current % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    let text = String::from_utf8(digits).unwrap_or_default();
    if negative { format!("-{text}") } else { text }
}

/// What a top-level field of an Ion struct line holds, where Mortar's
/// reader gives text: Kestra's reader makes these Java dates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Raw {
    /// An Ion timestamp with day precision (a Java LocalDate).
    Date,
    /// Any other Ion timestamp (a Java Instant or ZonedDateTime).
    Timestamp,
    /// `LocalTime::"…"` or `OffsetTime::"…"`.
    Time,
    /// `LocalDateTime::"…"` (and the other date-time annotations).
    DateTime,
    /// An Ion decimal (`1.5`, a Java BigDecimal).
    Decimal,
    /// An Ion float (`1.5e0`).
    Float,
    Other,
}

/// The [`Raw`] kind of each top-level field of a struct line, in order
/// (empty for a line that is not a struct).
pub(super) fn raw_kinds(line: &str) -> Vec<Raw> {
    let b = line.as_bytes();
    let mut i = 0;
    let space = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    space(&mut i);
    if b.get(i) != Some(&b'{') || b.get(i + 1) == Some(&b'{') {
        return Vec::new();
    }
    i += 1;
    let mut kinds = Vec::new();
    loop {
        space(&mut i);
        match b.get(i) {
            None | Some(b'}') => break,
            _ => {}
        }
        // The field name.
        skip_symbol(b, &mut i);
        space(&mut i);
        if b.get(i) != Some(&b':') {
            break;
        }
        i += 1;
        space(&mut i);
        // Annotations.
        let mut annotation = None;
        loop {
            let save = i;
            let start = i;
            if !skip_symbol(b, &mut i) {
                break;
            }
            let symbol = &line[start..i];
            space(&mut i);
            if b.get(i) == Some(&b':') && b.get(i + 1) == Some(&b':') {
                annotation = Some(symbol.trim_matches('\''));
                i += 2;
                space(&mut i);
            } else {
                i = save;
                break;
            }
        }
        let start = i;
        skip_value(b, &mut i);
        let token = line[start..i].trim();
        kinds.push(classify(token, annotation));
        space(&mut i);
        if b.get(i) == Some(&b',') {
            i += 1;
        } else {
            break;
        }
    }
    kinds
}

fn classify(token: &str, annotation: Option<&str>) -> Raw {
    let t = token.as_bytes();
    match annotation {
        Some("LocalTime" | "OffsetTime") if token.starts_with('"') => return Raw::Time,
        Some("LocalDateTime" | "OffsetDateTime" | "ZonedDateTime" | "Instant")
            if token.starts_with('"') =>
        {
            return Raw::DateTime;
        }
        Some("LocalDate") if token.starts_with('"') => return Raw::Date,
        _ => {}
    }
    if t.len() >= 5 && t[..4].iter().all(u8::is_ascii_digit) && matches!(t[4], b'-' | b'T') {
        let date_only = token.trim_end_matches('T').len() <= 10;
        // Kestra's reader: midnight in UTC (or unknown offset) is a date.
        let time = token.get(11..).unwrap_or("");
        let utc_time = time
            .strip_suffix('Z')
            .or_else(|| time.strip_suffix("-00:00"))
            .or_else(|| time.strip_suffix("+00:00"));
        let midnight = utc_time
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|c| matches!(c, b'0' | b':' | b'.')));
        return if date_only || midnight {
            Raw::Date
        } else {
            Raw::Timestamp
        };
    }
    let number = t.first().is_some_and(|c| c.is_ascii_digit())
        || (matches!(t.first(), Some(b'-' | b'+')) && t.get(1).is_some_and(u8::is_ascii_digit));
    if number && !token.starts_with("0x") && !token.starts_with("-0x") {
        if token.contains(['e', 'E']) {
            return Raw::Float;
        }
        if token.contains(['.', 'd', 'D']) {
            return Raw::Decimal;
        }
    }
    Raw::Other
}

/// Skips a symbol (`name`, `'quoted'`, `"string"` as a field name);
/// false when there is none.
fn skip_symbol(b: &[u8], i: &mut usize) -> bool {
    match b.get(*i) {
        Some(b'\'') if !b[*i..].starts_with(b"'''") => {
            skip_quoted(b, i, b'\'');
            true
        }
        Some(b'"') => {
            skip_quoted(b, i, b'"');
            true
        }
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b'$' => {
            while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] == b'$')
            {
                *i += 1;
            }
            true
        }
        _ => false,
    }
}

fn skip_quoted(b: &[u8], i: &mut usize, quote: u8) {
    *i += 1;
    while *i < b.len() {
        match b[*i] {
            b'\\' => *i += 2,
            c if c == quote => {
                *i += 1;
                return;
            }
            _ => *i += 1,
        }
    }
}

/// Skips one value, up to the `,` or `}` that ends it.
fn skip_value(b: &[u8], i: &mut usize) {
    let mut depth = 0usize;
    while *i < b.len() {
        match b[*i] {
            b'"' => skip_quoted(b, i, b'"'),
            b'\'' if b[*i..].starts_with(b"'''") => {
                *i += 3;
                while *i < b.len() && !b[*i..].starts_with(b"'''") {
                    *i += if b[*i] == b'\\' { 2 } else { 1 };
                }
                *i += 3;
            }
            b'\'' => skip_quoted(b, i, b'\''),
            b'{' | b'[' | b'(' => {
                depth += 1;
                *i += 1;
            }
            b'}' | b']' | b')' if depth > 0 => {
                depth -= 1;
                *i += 1;
            }
            b',' | b'}' if depth == 0 => return,
            _ => *i += 1,
        }
    }
    *i = (*i).min(b.len());
}

/// An instant from ISO-8601 text: with an offset as it says, without
/// one in `zone`, a date at its midnight in `zone`.
pub(super) fn iso_instant(s: &str, zone: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned_datetime(zone.clone())
            .ok()
            .map(|z| z.timestamp());
    }
    let date: jiff::civil::Date = s.get(..10)?.parse().ok()?;
    date.to_zoned_datetime(zone.clone())
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::{Raw, decimal_bytes, raw_kinds};

    fn check_kinds(line: &str, expected: &[Raw]) {
        assert_eq!(raw_kinds(line), expected, "{line}");
    }

    #[test]
    fn raw_kinds_tell_timestamps_and_decimals_from_text() {
        use Raw::*;
        check_kinds(
            r#"{a:"x, {y}",b:2024-01-15,c:2024-01-15T10:30:00.000Z,'d e':1.5,f:1.5e0,g:LocalTime::"10:30:00",h:{x:[1,2]},i:"2024-01-15"}"#,
            &[Other, Date, Timestamp, Decimal, Float, Time, Other, Other],
        );
        check_kinds(
            r#"{a:2024-01-15T00:00:00.000Z, b : 'it\'s',c:2024-01-15T00:00+01:00}"#,
            &[Date, Other, Timestamp],
        );
        check_kinds("[1,2]", &[]);
    }

    #[test]
    fn decimals_print_with_their_scale() {
        let check = |bytes: &[u8], scale: i32, expected: &str| {
            let mut out = String::new();
            decimal_bytes(bytes, scale, &mut out);
            assert_eq!(out, expected);
        };
        check(&1234i32.to_be_bytes(), 2, "12.34");
        check(&(-5i32).to_be_bytes(), 2, "-0.05");
        check(&[0x04, 0xD2], 0, "1234.");
    }
}
