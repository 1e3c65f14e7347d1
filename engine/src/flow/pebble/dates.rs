//! Kestra's date filters and functions: `date`, `dateAdd`, `timestamp`,
//! `timestampMilli`, `timestampMicro`, `timestampNano`, `now`, and the
//! calendar helpers (`isWeekend`, `dayOfWeek`, `isLastWorkingDay`, ...).
//!
//! Kestra (`core/src/main/java/io/kestra/core/runners/pebble/AbstractDate.java`)
//! turns every input into a Java `ZonedDateTime` and prints it with a
//! `DateTimeFormatter` whose zone is overridden by `timeZone`. This module
//! does the same over jiff, and implements Java's pattern language
//! (`yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX`) for output and for `existingFormat`.
//! A [`Moment`] is a jiff date-time plus Java's zone id, because Java prints
//! `Z` for an offset zone and `UTC` for the `UTC` region, a difference jiff
//! does not keep.
//!
//! No clock and no IO: `now` is given the current time, and time-zone rules
//! come from jiff's database (bundled on wasm32 and under the `runtime`
//! feature, `/usr/share/zoneinfo` on other native builds).
//!
//! Where Mortar differs from Kestra:
//! - Without `timeZone`, Kestra uses the JVM's zone; Mortar uses `UTC`.
//! - Names are English (Kestra's default locale); another locale is refused.
//!   The `short`/`medium`/`long`/`full` styles are Java 21's `en_US` ones.
//! - Zone names (`z`, `zzzz`, `v`) come from the tz database's abbreviation
//!   and a table of common long names, not from Java's CLDR data.
//! - `isPublicHoliday` needs Jollyday's holiday calendars: it fails with a
//!   message. Pattern letter `B` (day period) is refused.
//! - Parsing offsets is lenient (`+01`, `+0100` and `+01:00` all read) for
//!   every pattern, where Java is lenient for the ISO formats only.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{Span, Timestamp, ZonedDateTime};
use serde_json::Value;

/// Kestra's `date` filter: `{{ input | date(format, timeZone, existingFormat, locale) }}`.
///
/// `input` is an ISO-8601 string (zoned or offset date-time, local
/// date-time, local date), a string in `existingFormat`, or whole epoch
/// seconds. `format` is a Java `DateTimeFormatter` pattern or one of
/// Kestra's names (`iso`, the default, `iso_sec`, `sql`, `sql_seq`,
/// `iso_date_time`, `iso_date`, `iso_time`, `iso_local_date`, `iso_instant`,
/// `iso_local_date_time`, `iso_local_time`, `iso_offset_time`,
/// `iso_ordinal_date`, `iso_week_date`, `iso_zoned_date_time`,
/// `rfc_1123_date_time`, and the styles `short`, `medium`, `long`, `full`).
/// The output is in `timeZone`. A null input gives null.
pub fn date(
    input: &Value,
    format: Option<&str>,
    time_zone: Option<&str>,
    existing_format: Option<&str>,
    locale: Option<&str>,
) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    run(|| {
        check_locale(locale)?;
        let zone = zone_or_default(time_zone)?;
        let moment = convert(input, &zone, existing_format)?;
        Ok(Value::String(format_in(
            &moment,
            format.unwrap_or(DEFAULT_FORMAT),
            &zone,
        )?))
    })
}

/// Kestra's `dateAdd` filter: `{{ input | dateAdd(amount, unit, format, timeZone, existingFormat, locale) }}`.
///
/// `unit` is a Java `ChronoUnit` name, upper case as Java requires:
/// `NANOS` .. `HALF_DAYS` add exact time, `DAYS` .. `MILLENNIA` move the
/// calendar in the input's own zone (a month after January 31 is the end of
/// February). The result prints as [`date`] does.
#[allow(clippy::too_many_arguments)]
pub fn date_add(
    input: &Value,
    amount: i64,
    unit: &str,
    format: Option<&str>,
    time_zone: Option<&str>,
    existing_format: Option<&str>,
    locale: Option<&str>,
) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    run(|| {
        check_locale(locale)?;
        let zone = zone_or_default(time_zone)?;
        let moment = plus(&convert(input, &zone, existing_format)?, amount, unit)?;
        Ok(Value::String(format_in(
            &moment,
            format.unwrap_or(DEFAULT_FORMAT),
            &zone,
        )?))
    })
}

/// Kestra's `timestamp` filter: `{{ input | timestamp(timeZone, existingFormat) }}`,
/// the epoch seconds as a number.
pub fn timestamp(
    input: &Value,
    time_zone: Option<&str>,
    existing_format: Option<&str>,
) -> Result<Value, String> {
    epoch(input, time_zone, existing_format, |ts| {
        Value::from(ts.as_second())
    })
}

/// Kestra's `timestampMilli` filter: `{{ input | timestampMilli(timeZone, existingFormat) }}`,
/// the epoch milliseconds as a number.
pub fn timestamp_milli(
    input: &Value,
    time_zone: Option<&str>,
    existing_format: Option<&str>,
) -> Result<Value, String> {
    epoch(input, time_zone, existing_format, |ts| {
        Value::from(ts.as_millisecond())
    })
}

/// Kestra's `timestampMicro` filter: `{{ input | timestampMicro(timeZone, existingFormat) }}`,
/// a string.
///
/// Kestra computes `seconds * 10^9 + microseconds` (`TimestampMicroFilter`:
/// `SECONDS.toNanos(..) + NANOSECONDS.toMicros(..)`), so
/// `2013-09-08T15:19:12.123456Z` gives `1378653552000123456`, and its test
/// expects that. Mortar keeps the same value so flows agree across both.
pub fn timestamp_micro(
    input: &Value,
    time_zone: Option<&str>,
    existing_format: Option<&str>,
) -> Result<Value, String> {
    epoch(input, time_zone, existing_format, |ts| {
        let nanos = java_to_nanos(ts.as_second());
        Value::String(
            nanos
                .wrapping_add(i64::from(ts.subsec_nanosecond() / 1_000))
                .to_string(),
        )
    })
}

/// Kestra's `timestampNano` filter: `{{ input | timestampNano(timeZone, existingFormat) }}`,
/// the epoch nanoseconds as a string.
pub fn timestamp_nano(
    input: &Value,
    time_zone: Option<&str>,
    existing_format: Option<&str>,
) -> Result<Value, String> {
    epoch(input, time_zone, existing_format, |ts| {
        let nanos = java_to_nanos(ts.as_second());
        Value::String(
            nanos
                .wrapping_add(i64::from(ts.subsec_nanosecond()))
                .to_string(),
        )
    })
}

/// Kestra's `now` function: `{{ now(format, timeZone, locale) }}`. `at` is
/// the current time, given by the caller because this module has no clock.
pub fn now(
    format: Option<&str>,
    time_zone: Option<&str>,
    locale: Option<&str>,
    at: Timestamp,
) -> Result<Value, String> {
    run(|| {
        check_locale(locale)?;
        let zone = zone_or_default(time_zone)?;
        Ok(Value::String(format_in(
            &Moment::at(at, &zone),
            format.unwrap_or(DEFAULT_FORMAT),
            &zone,
        )?))
    })
}

/// Kestra's `isWeekend(date)`: true on Saturday and Sunday, of the date as
/// written (no conversion to UTC).
pub fn is_weekend(date: &Value) -> Result<Value, String> {
    let day = local_date("isWeekend", "date", date)?;
    Ok(Value::Bool(matches!(
        day.weekday(),
        jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
    )))
}

/// Kestra's `dayOfWeek(date)`: the upper-case English day name (`MONDAY`),
/// of the date as written.
pub fn day_of_week(date: &Value) -> Result<Value, String> {
    let day = local_date("dayOfWeek", "date", date)?;
    Ok(Value::String(
        DAY_NAMES[day.weekday().to_monday_zero_offset() as usize].to_uppercase(),
    ))
}

/// Kestra's `dayOfMonth(date)`: 1 to 31.
pub fn day_of_month(date: &Value) -> Result<Value, String> {
    Ok(Value::from(local_date("dayOfMonth", "date", date)?.day()))
}

/// Kestra's `monthOfYear(date)`: 1 to 12.
pub fn month_of_year(date: &Value) -> Result<Value, String> {
    Ok(Value::from(
        local_date("monthOfYear", "date", date)?.month(),
    ))
}

/// Kestra's `hourOfDay(date)`: 0 to 23, of the time as written. A date
/// without a time is refused, as Kestra does.
pub fn hour_of_day(date: &Value) -> Result<Value, String> {
    let text = value_text(date);
    let hour = parse_iso(&text, &[IsoKind::Zoned, IsoKind::Local])
        .map(|(dt, _)| dt.hour())
        .ok_or_else(|| {
            not_iso(
                "hourOfDay",
                "date",
                &text,
                "2025-01-06T14:30:00Z or 2025-01-06T14:30:00",
            )
        })?;
    Ok(Value::from(hour))
}

/// Kestra's `isDayWeekInMonth(date, dayOfWeek, position)`: whether `date` is
/// the `FIRST`, `SECOND`, `THIRD`, `FOURTH` or `LAST` `dayOfWeek` (`MONDAY`..)
/// of its month. Both names are case-insensitive.
pub fn is_day_week_in_month(
    date: &Value,
    day_of_week: &str,
    position: &str,
) -> Result<Value, String> {
    let day = local_date("isDayWeekInMonth", "date", date)?;
    let weekday = weekday_named(day_of_week).ok_or_else(|| {
        format!(
            "The 'isDayWeekInMonth()' function received an invalid 'dayOfWeek' value: '{day_of_week}'. \
             Expected one of: MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY."
        )
    })?;
    // The first such weekday of the month is day 1 to 7.
    let first = 1
        + (weekday.to_monday_zero_offset()
            - day.first_of_month().weekday().to_monday_zero_offset())
        .rem_euclid(7);
    let last_day = day.days_in_month();
    let wanted = match position.to_uppercase().as_str() {
        "FIRST" => first,
        "SECOND" => first + 7,
        "THIRD" => first + 14,
        "FOURTH" => first + 21,
        "LAST" => first + 7 * ((last_day - first) / 7),
        _ => {
            return Err(format!(
                "The 'isDayWeekInMonth()' function received an invalid 'position' value: '{position}'. \
                 Expected one of: FIRST, SECOND, THIRD, FOURTH, LAST."
            ));
        }
    };
    Ok(Value::Bool(day.day() == wanted))
}

/// Kestra's `isLastWorkingDay(date, workingDays)`: whether `date` is the
/// last working day of its month. `workingDays` is a comma- or
/// space-separated list of day names, Monday to Friday when absent or blank.
pub fn is_last_working_day(date: &Value, working_days: Option<&str>) -> Result<Value, String> {
    let day = local_date("isLastWorkingDay", "date", date)?;
    let mut days = [false; 7];
    match working_days.filter(|w| !w.trim().is_empty()) {
        None => days[..5].fill(true),
        Some(list) => {
            for name in list
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|n| !n.is_empty())
            {
                let weekday = weekday_named(name).ok_or_else(|| {
                    format!(
                        "The 'isLastWorkingDay()' function received an invalid 'workingDays' value: '{name}'. \
                         Expected day names like MONDAY, TUESDAY, etc."
                    )
                })?;
                days[weekday.to_monday_zero_offset() as usize] = true;
            }
        }
    }
    let works = |d: Date| days[d.weekday().to_monday_zero_offset() as usize];
    if !works(day) {
        return Ok(Value::Bool(false));
    }
    let mut candidate = day.last_of_month();
    while !works(candidate) {
        candidate = candidate.yesterday().map_err(|e| e.to_string())?;
    }
    Ok(Value::Bool(candidate == day))
}

/// Kestra's `isDateAfter(date, reference)`: whether `date` is strictly
/// after `reference`, compared as instants; a date-time without an offset
/// and a plain date are read as UTC.
pub fn is_date_after(date: &Value, reference: &Value) -> Result<Value, String> {
    let (a, b) = (
        instant("isDateAfter", date)?,
        instant("isDateAfter", reference)?,
    );
    Ok(Value::Bool(a > b))
}

/// Kestra's `isDateBefore(date, reference)`: whether `date` is strictly
/// before `reference`, read as [`is_date_after`] reads them.
pub fn is_date_before(date: &Value, reference: &Value) -> Result<Value, String> {
    let (a, b) = (
        instant("isDateBefore", date)?,
        instant("isDateBefore", reference)?,
    );
    Ok(Value::Bool(a < b))
}

/// Kestra's `isDateBetween(date, after, before)`: whether `date` is strictly
/// between the two bounds, compared as instants. All three need an offset
/// (`2026-01-01T00:00:00Z`), as Kestra's `TypeConverter.toZonedDateTime`.
pub fn is_date_between(date: &Value, after: &Value, before: &Value) -> Result<Value, String> {
    let read = |name: &str, value: &Value| {
        let text = value_text(value);
        parse_iso(&text, &[IsoKind::Zoned]).map(|(_, ts)| ts.expect("zoned has an instant")).ok_or_else(|| {
            format!(
                "The 'isDateBetween()' function could not parse '{name}': '{text}' is not an ISO-8601 date-time \
                 with an offset, such as 2026-01-01T00:00:00Z"
            )
        })
    };
    let (date, after, before) = (
        read("date", date)?,
        read("after", after)?,
        read("before", before)?,
    );
    Ok(Value::Bool(date > after && date < before))
}

/// Kestra's `isPublicHoliday(date, countryCode, subDivision)`. Kestra asks
/// the Jollyday library's calendars of 70-odd countries; Mortar has none yet,
/// so this reads the date and then fails with a message saying so.
pub fn is_public_holiday(
    date: &Value,
    country_code: &str,
    sub_division: Option<&str>,
) -> Result<Value, String> {
    local_date("isPublicHoliday", "date", date)?;
    let place = match sub_division.filter(|s| !s.trim().is_empty()) {
        Some(sub) => format!("{country_code}/{sub}"),
        None => country_code.to_string(),
    };
    Err(format!(
        "isPublicHoliday() is not available in Mortar yet (no holiday calendar for '{place}'): \
         compare the date with a list of holidays in the flow instead"
    ))
}

// ---------------------------------------------------------------------------
// Errors, zones and moments.

/// Why a date could not be read, computed or printed. The text is shown to
/// the flow's author, so it says what to change.
#[derive(Debug, thiserror::Error)]
enum DateError {
    #[error("invalid date format '{pattern}': {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("cannot read '{text}' as a date: {reason}")]
    Parse { text: String, reason: String },
    #[error(
        "unknown time zone '{0}': use an IANA name such as 'Europe/Paris', 'UTC', or an offset such as '+02:00'"
    )]
    TimeZone(String),
    #[error("cannot print the date with '{pattern}': {reason}")]
    Print { pattern: String, reason: String },
    #[error("{0}")]
    Argument(String),
    #[error("the date is out of range (years -9999 to 9999): {0}")]
    Range(String),
}

type R<T> = Result<T, DateError>;

fn run(f: impl FnOnce() -> R<Value>) -> Result<Value, String> {
    f().map_err(|e| e.to_string())
}

fn range(e: jiff::Error) -> DateError {
    DateError::Range(e.to_string())
}

const DEFAULT_FORMAT: &str = "iso";

/// Java's `ZoneId`: the rules, and the id Java prints. `offset_only` is a
/// `ZoneOffset` (`Z`, `+02:00`), which Java prints differently from a region
/// such as `UTC` or `Europe/Paris` (no `[...]` suffix, no zone name).
#[derive(Clone, Debug)]
struct Zone {
    tz: TimeZone,
    id: String,
    offset_only: bool,
}

impl Zone {
    fn utc() -> Zone {
        Zone {
            tz: TimeZone::UTC,
            id: "UTC".into(),
            offset_only: false,
        }
    }

    fn offset(seconds: i32) -> R<Zone> {
        let offset = Offset::from_seconds(seconds).map_err(range)?;
        Ok(Zone {
            tz: TimeZone::fixed(offset),
            id: offset_id(seconds),
            offset_only: true,
        })
    }

    /// Java's `ZoneId.of`: `Z`, an offset, `UTC`/`GMT`/`UT` with an optional
    /// offset, or a tz database name.
    fn of(id: &str) -> R<Zone> {
        let unknown = || DateError::TimeZone(id.to_string());
        if id == "Z" {
            return Zone::offset(0);
        }
        if id.starts_with(['+', '-']) {
            return Zone::offset(parse_offset_id(id).ok_or_else(unknown)?);
        }
        for prefix in ["UTC", "GMT", "UT"] {
            let Some(rest) = id.strip_prefix(prefix) else {
                continue;
            };
            if rest.is_empty() {
                return Ok(Zone {
                    tz: TimeZone::UTC,
                    id: prefix.into(),
                    offset_only: false,
                });
            }
            if rest.starts_with(['+', '-']) {
                let seconds = parse_offset_id(rest).ok_or_else(unknown)?;
                let offset = Offset::from_seconds(seconds).map_err(range)?;
                let id = if seconds == 0 {
                    prefix.to_string()
                } else {
                    format!("{prefix}{}", offset_id(seconds))
                };
                return Ok(Zone {
                    tz: TimeZone::fixed(offset),
                    id,
                    offset_only: false,
                });
            }
        }
        let tz = jiff::tz::db().get(id).map_err(|_| unknown())?;
        let id = tz.iana_name().unwrap_or(id).to_string();
        Ok(Zone {
            tz,
            id,
            offset_only: false,
        })
    }
}

fn zone_or_default(time_zone: Option<&str>) -> R<Zone> {
    time_zone.map_or_else(|| Ok(Zone::utc()), Zone::of)
}

fn check_locale(locale: Option<&str>) -> R<()> {
    match locale {
        None => Ok(()),
        Some(l)
            if matches!(
                l.to_ascii_lowercase().replace('-', "_").as_str(),
                "en" | "en_us"
            ) =>
        {
            Ok(())
        }
        Some(l) => Err(DateError::Argument(format!(
            "locale '{l}' is not supported: Mortar prints dates in English (en_US) only; remove the locale argument"
        ))),
    }
}

/// Java's `ZoneOffset.of` text: `+h`, `+hh`, `+hh:mm`, `+hhmm`, `+hh:mm:ss`,
/// `+hhmmss`, at most 18 hours.
fn parse_offset_id(text: &str) -> Option<i32> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &text[1..];
    let two = |s: &str| -> Option<i32> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let colon = |i: usize| rest.as_bytes().get(i) == Some(&b':');
    let (h, m, s) = match rest.len() {
        1 if rest.as_bytes()[0].is_ascii_digit() => (rest.parse().ok()?, 0, 0),
        2 => (two(rest)?, 0, 0),
        4 => (two(&rest[..2])?, two(&rest[2..])?, 0),
        5 if colon(2) => (two(&rest[..2])?, two(&rest[3..])?, 0),
        6 => (two(&rest[..2])?, two(&rest[2..4])?, two(&rest[4..])?),
        8 if colon(2) && colon(5) => (two(&rest[..2])?, two(&rest[3..5])?, two(&rest[6..])?),
        _ => return None,
    };
    let total = h * 3600 + m * 60 + s;
    (h <= 18 && m < 60 && s < 60 && total <= 18 * 3600).then_some(sign * total)
}

/// Java's `ZoneOffset.getId()`: `Z`, `+02:00`, `+05:30:15`.
fn offset_id(seconds: i32) -> String {
    if seconds == 0 {
        return "Z".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let a = seconds.abs();
    match a % 60 {
        0 => format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60),
        s => format!("{sign}{:02}:{:02}:{s:02}", a / 3600, a / 60 % 60),
    }
}

/// Java's `ZonedDateTime`: a point in time seen in a zone.
#[derive(Clone, Debug)]
struct Moment {
    zdt: ZonedDateTime,
    zone: Zone,
}

impl Moment {
    fn at(ts: Timestamp, zone: &Zone) -> Moment {
        Moment {
            zdt: ts.to_zoned_datetime(zone.tz.clone()),
            zone: zone.clone(),
        }
    }

    /// Java's `ZonedDateTime.of(localDateTime, zone)`: in a gap the time
    /// moves later by the gap, in an overlap the earlier offset wins, which
    /// is jiff's "compatible" choice.
    fn local(dt: DateTime, zone: &Zone) -> R<Moment> {
        let zdt = zone
            .tz
            .to_ambiguous_zoned_datetime(dt)
            .compatible()
            .map_err(range)?;
        Ok(Moment {
            zdt,
            zone: zone.clone(),
        })
    }
}

/// Kestra's `AbstractDate.convert`: whole numbers are epoch seconds, strings
/// are read as ISO-8601 or with `existingFormat`.
fn convert(input: &Value, zone: &Zone, existing_format: Option<&str>) -> R<Moment> {
    match input {
        Value::Number(n) => match n.as_i64() {
            Some(seconds) => Ok(Moment::at(
                Timestamp::from_second(seconds).map_err(range)?,
                zone,
            )),
            // Kestra casts anything but a Long to a String and fails.
            None => Err(DateError::Argument(format!(
                "a number is read as epoch seconds only when it is a whole number, got {n}: \
                 round it first, e.g. {{{{ value | number | round }}}}"
            ))),
        },
        Value::String(text) => parse_input(text, zone, existing_format),
        other => Err(DateError::Argument(format!(
            "expected a date (an ISO-8601 string or epoch seconds), got {}",
            value_kind(other)
        ))),
    }
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The text Java's `toString()` gives, which the calendar helpers parse.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_input(text: &str, zone: &Zone, existing_format: Option<&str>) -> R<Moment> {
    let Some(pattern) = existing_format else {
        // Kestra tries ZonedDateTime.parse, then LocalDateTime.parse, then
        // LocalDate.parse, all ISO.
        for kind in [IsoKind::Zoned, IsoKind::Local, IsoKind::Date] {
            if let Ok(fields) = parse_with(&iso_formatter(kind), text) {
                return to_moment(
                    resolve(&fields).map_err(|reason| parse_error(text, reason))?,
                    zone,
                )
                .ok_or_else(|| parse_error(text, "no date in it".into()))?;
            }
        }
        return Err(parse_error(
            text,
            "expected ISO-8601 such as 2026-11-25, 2026-11-25T08:30:00 or 2026-11-25T08:30:00+01:00; \
             for another layout give existingFormat, e.g. existingFormat='dd/MM/yyyy'"
                .into(),
        ));
    };
    let formatter = formatter(pattern)?;
    let fields = parse_with(&formatter, text)
        .map_err(|reason| parse_error(text, format!("{reason} (existingFormat '{pattern}')")))?;
    let resolved = resolve(&fields).map_err(|reason| parse_error(text, reason))?;
    to_moment(resolved, zone).ok_or_else(|| {
        parse_error(
            text,
            format!("existingFormat '{pattern}' gives no full date (year, month and day)"),
        )
    })?
}

fn parse_error(text: &str, reason: String) -> DateError {
    DateError::Parse {
        text: text.to_string(),
        reason,
    }
}

/// Java's resolution order: a zoned date-time if there is a date, a time
/// and an offset or zone; else a local date-time in `zone`; else the start
/// of a local date in `zone` (a parsed offset without a time is ignored).
fn to_moment(r: Resolved, zone: &Zone) -> Option<R<Moment>> {
    let date = r.date?;
    let Some(time) = r.time else {
        return Some(Moment::local(date.to_datetime(Time::midnight()), zone));
    };
    let dt = date.to_datetime(time);
    Some(match (r.offset, r.zone) {
        (Some(offset), parsed_zone) => (|| {
            let fixed = Zone::offset(offset)?;
            let ts = fixed.tz.to_timestamp(dt).map_err(range)?;
            Ok(Moment::at(ts, &parsed_zone.unwrap_or(fixed)))
        })(),
        (None, Some(parsed_zone)) => Moment::local(dt, &parsed_zone),
        (None, None) => Moment::local(dt, zone),
    })
}

/// The three ISO readings Kestra's helpers try in turn.
#[derive(Clone, Copy)]
enum IsoKind {
    Zoned,
    Local,
    Date,
}

/// The first ISO reading of `kinds` that fits, as the date-time as written
/// and, when it had an offset or zone, its instant.
fn parse_iso(text: &str, kinds: &[IsoKind]) -> Option<(DateTime, Option<Timestamp>)> {
    for &kind in kinds {
        let Ok(fields) = parse_with(&iso_formatter(kind), text) else {
            continue;
        };
        let Ok(r) = resolve(&fields) else { continue };
        let dt = r.date?.to_datetime(r.time.unwrap_or(Time::midnight()));
        let ts = match kind {
            IsoKind::Zoned => Some(to_moment(r, &Zone::utc())?.ok()?.zdt.timestamp()),
            _ => None,
        };
        return Some((dt, ts));
    }
    None
}

/// An ISO-8601 date, date-time, or date-time with an offset or zone: the
/// date-time as written and, when it had an offset or zone, its instant
/// (for the trigger conditions).
pub(crate) fn parse_written(text: &str) -> Option<(DateTime, Option<Timestamp>)> {
    parse_iso(
        text.trim(),
        &[IsoKind::Zoned, IsoKind::Local, IsoKind::Date],
    )
}

/// Kestra's `DateUtils.parseLocalDate`: the date as written, from a local
/// date, a zoned date-time or a local date-time.
fn local_date(function: &str, argument: &str, value: &Value) -> Result<Date, String> {
    let text = value_text(value);
    parse_iso(&text, &[IsoKind::Date, IsoKind::Zoned, IsoKind::Local])
        .map(|(dt, _)| dt.date())
        .ok_or_else(|| {
            not_iso(
                function,
                argument,
                &text,
                "2025-01-06 or 2025-01-06T10:00:00Z",
            )
        })
}

/// Kestra's `DateUtils.parseInstant`: zoned, else local date-time in UTC,
/// else a local date at midnight UTC.
fn instant(function: &str, value: &Value) -> Result<Timestamp, String> {
    let text = value_text(value);
    let (dt, ts) = parse_iso(&text, &[IsoKind::Zoned, IsoKind::Local, IsoKind::Date]).ok_or_else(|| {
        format!(
            "The '{function}()' function could not parse a date argument: '{text}' is not ISO-8601, \
             such as 2025-01-06 or 2025-01-06T10:00:00Z"
        )
    })?;
    match ts {
        Some(ts) => Ok(ts),
        None => dt
            .to_zoned_datetime(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string()),
    }
}

fn not_iso(function: &str, argument: &str, text: &str, example: &str) -> String {
    format!(
        "The '{function}()' function could not parse '{argument}': '{text}' is not ISO-8601, such as {example}"
    )
}

fn weekday_named(name: &str) -> Option<jiff::civil::Weekday> {
    let i = DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))?;
    Some(jiff::civil::Weekday::from_monday_zero_offset(i as i8).expect("0..7"))
}

/// Java's `TimeUnit.SECONDS.toNanos`, which saturates instead of overflowing.
fn java_to_nanos(seconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000_000)
}

fn epoch(
    input: &Value,
    time_zone: Option<&str>,
    existing_format: Option<&str>,
    f: impl FnOnce(Timestamp) -> Value,
) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    run(|| {
        let zone = zone_or_default(time_zone)?;
        Ok(f(convert(input, &zone, existing_format)?.zdt.timestamp()))
    })
}

/// Java's `ZonedDateTime.plus(amount, ChronoUnit.valueOf(unit))`.
fn plus(m: &Moment, amount: i64, unit: &str) -> R<Moment> {
    let exact_nanos: Option<i128> = match unit {
        "NANOS" => Some(1),
        "MICROS" => Some(1_000),
        "MILLIS" => Some(1_000_000),
        "SECONDS" => Some(1_000_000_000),
        "MINUTES" => Some(60_000_000_000),
        "HOURS" => Some(3_600_000_000_000),
        "HALF_DAYS" => Some(43_200_000_000_000),
        _ => None,
    };
    if let Some(per) = exact_nanos {
        let nanos = m.zdt.timestamp().as_nanosecond() + i128::from(amount) * per;
        return Ok(Moment::at(
            Timestamp::from_nanosecond(nanos).map_err(range)?,
            &m.zone,
        ));
    }
    let years = |factor: i64| {
        let n = amount
            .checked_mul(factor)
            .ok_or_else(|| DateError::Range(format!("{amount} {unit}")))?;
        Span::new().try_years(n).map_err(range)
    };
    let span = match unit {
        "DAYS" => Span::new().try_days(amount).map_err(range)?,
        "WEEKS" => Span::new().try_weeks(amount).map_err(range)?,
        "MONTHS" => Span::new().try_months(amount).map_err(range)?,
        "YEARS" => years(1)?,
        "DECADES" => years(10)?,
        "CENTURIES" => years(100)?,
        "MILLENNIA" => years(1000)?,
        // Java sets the era to era + amount: only 0 keeps a valid era.
        "ERAS" if amount == 0 => return Ok(m.clone()),
        "ERAS" => return Err(DateError::Range(format!("{amount} ERAS"))),
        "FOREVER" => {
            return Err(DateError::Argument(
                "dateAdd cannot add the unit FOREVER".into(),
            ));
        }
        _ => {
            return Err(DateError::Argument(format!(
                "unknown unit '{unit}' for dateAdd: use one of NANOS, MICROS, MILLIS, SECONDS, MINUTES, HOURS, \
                 HALF_DAYS, DAYS, WEEKS, MONTHS, YEARS, DECADES, CENTURIES, MILLENNIA (upper case, as Java's ChronoUnit)"
            )));
        }
    };
    let dt = m.zdt.datetime().checked_add(span).map_err(range)?;
    // Java's ZonedDateTime.resolveLocal keeps the old offset when it is
    // still valid in an overlap; otherwise as ZonedDateTime.of.
    let ambiguous = m.zone.tz.to_ambiguous_zoned_datetime(dt);
    let zdt = match ambiguous.offset() {
        AmbiguousOffset::Fold { after, .. } if after == m.zdt.offset() => ambiguous.later(),
        _ => ambiguous.compatible(),
    }
    .map_err(range)?;
    Ok(Moment {
        zdt,
        zone: m.zone.clone(),
    })
}

// ---------------------------------------------------------------------------
// Java's DateTimeFormatter: a list of items, compiled from a pattern or
// built as Java builds its ISO constants.

/// A compiled format: what Java's `DateTimeFormatterBuilder` would hold.
struct Formatter {
    items: Vec<Item>,
    /// Java's ISO and RFC formatters read `t` for `T` and `gmt` for `GMT`;
    /// `ofPattern` ones are case-sensitive.
    case_insensitive: bool,
}

#[derive(Clone, Debug)]
enum Item {
    Literal(String),
    Number {
        field: Field,
        min: usize,
        max: usize,
        sign: Sign,
    },
    /// Two digits of a year, read back as 2000 to 2099 (`yy`).
    Reduced(Field),
    Fraction {
        min: usize,
        max: usize,
        point: bool,
    },
    Text {
        field: Field,
        style: Style,
    },
    /// `kind` indexes Java's offset patterns, see [`OFFSET_PATTERNS`].
    Offset {
        kind: usize,
        zero: &'static str,
    },
    /// `GMT+2` (short) or `GMT+02:00` (full).
    LocalizedOffset {
        full: bool,
    },
    /// The zone id; `region_only` prints nothing for an offset zone (the
    /// `[Europe/Paris]` of ISO_ZONED_DATE_TIME).
    ZoneId {
        region_only: bool,
    },
    ZoneName {
        full: bool,
        generic: bool,
    },
    /// ISO_INSTANT: UTC, with the fraction in groups of three digits.
    Instant,
    Optional(Vec<Item>),
    Pad {
        width: usize,
        item: Box<Item>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Era,
    Year,
    YearOfEra,
    /// en_US weeks: from Sunday, week 1 holds January 1.
    WeekBasedYear,
    WeekOfWeekBasedYear,
    IsoWeekYear,
    IsoWeek,
    WeekOfMonth,
    Quarter,
    Month,
    DayOfYear,
    Day,
    AlignedWeekOfMonth,
    /// ISO: Monday is 1.
    DayOfWeek,
    /// en_US: Sunday is 1.
    LocalizedDayOfWeek,
    AmPm,
    HourOfDay,
    ClockHourOfDay,
    HourOfAmPm,
    ClockHourOfAmPm,
    Minute,
    Second,
    Nano,
    MilliOfDay,
    NanoOfDay,
    ModifiedJulianDay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sign {
    Normal,
    NotNegative,
    /// A `+` when the value has more digits than the minimum width.
    ExceedsPad,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Short,
    Full,
    Narrow,
}

/// Java's `OffsetIdPrinterParser.PATTERNS`, by index: lower-case parts are
/// printed only when not zero.
const OFFSET_PATTERNS: [&str; 7] = [
    "+HH",
    "+HHmm",
    "+HH:mm",
    "+HHMM",
    "+HH:MM",
    "+HHMMss",
    "+HH:MM:ss",
];

/// Kestra's named formats (`AbstractDate.FORMATTERS` and `STYLES`), else a
/// Java pattern. Kestra has no `iso_offset_date_time` or `iso_offset_date`:
/// Java reads those as patterns and fails on the letter `i`, and so do we.
fn formatter(name: &str) -> R<Formatter> {
    let pattern = |p: &str| -> R<Formatter> {
        Ok(Formatter {
            items: compile(p)?,
            case_insensitive: false,
        })
    };
    let built = |items: Vec<Item>| {
        Ok(Formatter {
            items,
            case_insensitive: true,
        })
    };
    match name {
        "iso" => pattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"),
        "iso_sec" => pattern("yyyy-MM-dd'T'HH:mm:ssXXX"),
        "sql" => pattern("yyyy-MM-dd HH:mm:ss.SSSSSS"),
        "sql_seq" => pattern("yyyy-MM-dd HH:mm:ss"),
        "iso_date_time" => built(concat([
            iso_local_date_time(),
            vec![Item::Optional(concat([
                vec![offset_id_item()],
                vec![Item::Optional(region_suffix())],
            ]))],
        ])),
        "iso_date" => built(concat([
            iso_local_date(),
            vec![Item::Optional(vec![offset_id_item()])],
        ])),
        "iso_time" => built(concat([
            iso_local_time(),
            vec![Item::Optional(vec![offset_id_item()])],
        ])),
        "iso_local_date" => built(iso_local_date()),
        "iso_instant" => built(vec![Item::Instant]),
        "iso_local_date_time" => built(iso_local_date_time()),
        "iso_local_time" => built(iso_local_time()),
        "iso_offset_time" => built(concat([iso_local_time(), vec![offset_id_item()]])),
        "iso_ordinal_date" => built(vec![
            year_item(Field::Year),
            lit("-"),
            Item::Number {
                field: Field::DayOfYear,
                min: 3,
                max: 3,
                sign: Sign::NotNegative,
            },
            Item::Optional(vec![offset_id_item()]),
        ]),
        "iso_week_date" => built(vec![
            // ISO weeks (from Monday, week 1 has 4 days), where the pattern
            // letters Y and w follow the locale's weeks.
            year_item(Field::IsoWeekYear),
            lit("-W"),
            two(Field::IsoWeek),
            lit("-"),
            Item::Number {
                field: Field::DayOfWeek,
                min: 1,
                max: 1,
                sign: Sign::NotNegative,
            },
            Item::Optional(vec![offset_id_item()]),
        ]),
        "iso_zoned_date_time" => built(iso_formatter(IsoKind::Zoned).items),
        "rfc_1123_date_time" => built(vec![
            Item::Optional(vec![
                Item::Text {
                    field: Field::DayOfWeek,
                    style: Style::Short,
                },
                lit(", "),
            ]),
            Item::Number {
                field: Field::Day,
                min: 1,
                max: 2,
                sign: Sign::NotNegative,
            },
            lit(" "),
            Item::Text {
                field: Field::Month,
                style: Style::Short,
            },
            lit(" "),
            Item::Number {
                field: Field::Year,
                min: 4,
                max: 4,
                sign: Sign::NotNegative,
            },
            lit(" "),
            two(Field::HourOfDay),
            lit(":"),
            two(Field::Minute),
            Item::Optional(vec![lit(":"), two(Field::Second)]),
            lit(" "),
            Item::Offset {
                kind: 3,
                zero: "GMT",
            },
        ]),
        // Java 21's en_US styles (CLDR 42): a narrow no-break space before
        // AM/PM, and ", " between date and time ("at" went in Java 20).
        "short" => pattern("M/d/yy, h:mm\u{202f}a"),
        "medium" => pattern("MMM d, y, h:mm:ss\u{202f}a"),
        "long" => pattern("MMMM d, y, h:mm:ss\u{202f}a z"),
        "full" => pattern("EEEE, MMMM d, y, h:mm:ss\u{202f}a zzzz"),
        _ => pattern(name),
    }
}

fn iso_formatter(kind: IsoKind) -> Formatter {
    let items = match kind {
        IsoKind::Zoned => concat([
            iso_local_date_time(),
            vec![offset_id_item(), Item::Optional(region_suffix())],
        ]),
        IsoKind::Local => iso_local_date_time(),
        IsoKind::Date => iso_local_date(),
    };
    Formatter {
        items,
        case_insensitive: true,
    }
}

fn concat<const N: usize>(parts: [Vec<Item>; N]) -> Vec<Item> {
    parts.into_iter().flatten().collect()
}

fn lit(s: &str) -> Item {
    Item::Literal(s.to_string())
}

fn two(field: Field) -> Item {
    Item::Number {
        field,
        min: 2,
        max: 2,
        sign: Sign::NotNegative,
    }
}

fn year_item(field: Field) -> Item {
    Item::Number {
        field,
        min: 4,
        max: 10,
        sign: Sign::ExceedsPad,
    }
}

fn offset_id_item() -> Item {
    Item::Offset { kind: 6, zero: "Z" }
}

fn region_suffix() -> Vec<Item> {
    vec![lit("["), Item::ZoneId { region_only: true }, lit("]")]
}

fn iso_local_date() -> Vec<Item> {
    vec![
        year_item(Field::Year),
        lit("-"),
        two(Field::Month),
        lit("-"),
        two(Field::Day),
    ]
}

fn iso_local_time() -> Vec<Item> {
    vec![
        two(Field::HourOfDay),
        lit(":"),
        two(Field::Minute),
        Item::Optional(vec![
            lit(":"),
            two(Field::Second),
            Item::Optional(vec![Item::Fraction {
                min: 0,
                max: 9,
                point: true,
            }]),
        ]),
    ]
}

fn iso_local_date_time() -> Vec<Item> {
    concat([iso_local_date(), vec![lit("T")], iso_local_time()])
}

/// Compiles a Java `DateTimeFormatter.ofPattern` pattern.
fn compile(pattern: &str) -> R<Vec<Item>> {
    let err = |reason: String| DateError::Pattern {
        pattern: pattern.to_string(),
        reason,
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut i = 0;
    let run_of = |i: &mut usize, c: char| {
        let start = *i;
        while *i < chars.len() && chars[*i] == c {
            *i += 1;
        }
        *i - start
    };
    while i < chars.len() {
        let c = chars[i];
        let item = if c.is_ascii_alphabetic() {
            let mut count = run_of(&mut i, c);
            let mut letter = c;
            let mut pad = 0;
            if c == 'p' {
                if i < chars.len() && chars[i].is_ascii_alphabetic() {
                    pad = count;
                    letter = chars[i];
                    count = run_of(&mut i, letter);
                }
                if pad == 0 {
                    return Err(err(
                        "the pad letter 'p' must be followed by a pattern letter, as in 'ppH'"
                            .into(),
                    ));
                }
            }
            let item = letter_item(letter, count).map_err(err)?;
            if pad > 0 {
                Item::Pad {
                    width: pad,
                    item: Box::new(item),
                }
            } else {
                item
            }
        } else if c == '\'' {
            i += 1;
            let mut text = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(err("a quoted text is not closed: add the closing '".into()));
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            // `''` alone is a quote.
            Item::Literal(if text.is_empty() { "'".into() } else { text })
        } else if c == '[' {
            stack.push(Vec::new());
            i += 1;
            continue;
        } else if c == ']' {
            if stack.len() == 1 {
                return Err(err(
                    "']' closes no '[': quote it as ']' in quotes ('']'') or add the '['".into(),
                ));
            }
            i += 1;
            Item::Optional(stack.pop().expect("checked"))
        } else if matches!(c, '{' | '}' | '#') {
            return Err(err(format!(
                "'{c}' is reserved in Java patterns: quote it as '{c}'"
            )));
        } else {
            i += 1;
            Item::Literal(c.to_string())
        };
        stack.last_mut().expect("never empty").push(item);
    }
    // Java closes optional sections left open at the end.
    while stack.len() > 1 {
        let inner = stack.pop().expect("checked");
        stack
            .last_mut()
            .expect("never empty")
            .push(Item::Optional(inner));
    }
    Ok(stack.pop().expect("never empty"))
}

/// One run of a pattern letter, as Java's `DateTimeFormatterBuilder.parseField`.
fn letter_item(c: char, n: usize) -> Result<Item, String> {
    use Field::*;
    let too_many = || {
        Err(format!(
            "too many pattern letters: '{}'",
            c.to_string().repeat(n)
        ))
    };
    let value = |field| Item::Number {
        field,
        min: 1,
        max: 19,
        sign: Sign::Normal,
    };
    let fixed = |field, n| Item::Number {
        field,
        min: n,
        max: n,
        sign: Sign::NotNegative,
    };
    let text = |field, n| match n {
        1..=3 => Ok(Item::Text {
            field,
            style: Style::Short,
        }),
        4 => Ok(Item::Text {
            field,
            style: Style::Full,
        }),
        5 => Ok(Item::Text {
            field,
            style: Style::Narrow,
        }),
        _ => too_many(),
    };
    let number_or_text = |field| match n {
        1 => Ok(value(field)),
        2 => Ok(fixed(field, 2)),
        _ => text(field, n),
    };
    let one_or_two = |field| match n {
        1 => Ok(value(field)),
        2 => Ok(fixed(field, 2)),
        _ => too_many(),
    };
    let year = |field| match n {
        2 => Ok(Item::Reduced(field)),
        1 | 3 => Ok(Item::Number {
            field,
            min: n,
            max: 19,
            sign: Sign::Normal,
        }),
        4..=19 => Ok(Item::Number {
            field,
            min: n,
            max: 19,
            sign: Sign::ExceedsPad,
        }),
        _ => too_many(),
    };
    let offset_kind = [1, 3, 4, 5, 6];
    match c {
        'G' => text(Era, n),
        'y' => year(YearOfEra),
        'u' => year(Year),
        'Y' => year(WeekBasedYear),
        'Q' | 'q' => number_or_text(Quarter),
        'M' | 'L' => number_or_text(Month),
        'D' => match n {
            1 => Ok(value(DayOfYear)),
            2 => Ok(Item::Number {
                field: DayOfYear,
                min: 2,
                max: 3,
                sign: Sign::NotNegative,
            }),
            3 => Ok(fixed(DayOfYear, 3)),
            _ => too_many(),
        },
        'd' => one_or_two(Day),
        'h' => one_or_two(ClockHourOfAmPm),
        'H' => one_or_two(HourOfDay),
        'k' => one_or_two(ClockHourOfDay),
        'K' => one_or_two(HourOfAmPm),
        'm' => one_or_two(Minute),
        's' => one_or_two(Second),
        'w' => one_or_two(WeekOfWeekBasedYear),
        'W' if n == 1 => Ok(value(WeekOfMonth)),
        'F' if n == 1 => Ok(value(AlignedWeekOfMonth)),
        'W' | 'F' => too_many(),
        'E' => text(DayOfWeek, n),
        'e' => number_or_text(LocalizedDayOfWeek),
        'c' => match n {
            1 => Ok(value(LocalizedDayOfWeek)),
            2 => Err("'cc' is not a valid pattern: use 'c', 'ccc', 'cccc' or 'ccccc'".into()),
            _ => text(LocalizedDayOfWeek, n),
        },
        'a' if n == 1 => Ok(Item::Text {
            field: AmPm,
            style: Style::Short,
        }),
        'a' => too_many(),
        'S' if n <= 9 => Ok(Item::Fraction {
            min: n,
            max: n,
            point: false,
        }),
        'S' => Err("at most 9 'S' letters: Java keeps nanoseconds".into()),
        'A' | 'n' | 'N' | 'g' if n <= 19 => {
            let field = match c {
                'A' => MilliOfDay,
                'n' => Nano,
                'N' => NanoOfDay,
                _ => ModifiedJulianDay,
            };
            let sign = if c == 'g' {
                Sign::Normal
            } else {
                Sign::NotNegative
            };
            Ok(Item::Number {
                field,
                min: n,
                max: 19,
                sign,
            })
        }
        'A' | 'n' | 'N' | 'g' => too_many(),
        'V' if n == 2 => Ok(Item::ZoneId { region_only: false }),
        'V' => Err("the zone id is written 'VV'".into()),
        'v' if n == 1 || n == 4 => Ok(Item::ZoneName {
            full: n == 4,
            generic: true,
        }),
        'v' => Err("the generic zone name is written 'v' or 'vvvv'".into()),
        'z' if n <= 4 => Ok(Item::ZoneName {
            full: n == 4,
            generic: false,
        }),
        'z' => too_many(),
        'O' if n == 1 || n == 4 => Ok(Item::LocalizedOffset { full: n == 4 }),
        'O' => Err("the localized offset is written 'O' or 'OOOO'".into()),
        'X' if n <= 5 => Ok(Item::Offset {
            kind: offset_kind[n - 1],
            zero: "Z",
        }),
        'x' if n <= 5 => Ok(Item::Offset {
            kind: offset_kind[n - 1],
            zero: match n {
                1 => "+00",
                3 | 5 => "+00:00",
                _ => "+0000",
            },
        }),
        'X' | 'x' => too_many(),
        'Z' => match n {
            1..=3 => Ok(Item::Offset {
                kind: 3,
                zero: "+0000",
            }),
            4 => Ok(Item::LocalizedOffset { full: true }),
            5 => Ok(Item::Offset { kind: 6, zero: "Z" }),
            _ => too_many(),
        },
        'B' => Err("pattern letter 'B' (day period) is not supported by Mortar".into()),
        _ => Err(format!(
            "unknown pattern letter '{c}': put literal text in quotes, as in 'T'"
        )),
    }
}

// ---------------------------------------------------------------------------
// Printing.

/// Prints `m` in `zone`, as Kestra's `formatter(format).withZone(zone).format(m)`.
fn format_in(m: &Moment, format: &str, zone: &Zone) -> R<String> {
    let f = formatter(format)?;
    let m = Moment::at(m.zdt.timestamp(), zone);
    let mut out = String::new();
    print(&f.items, &m, &mut out).map_err(|reason| DateError::Print {
        pattern: format.to_string(),
        reason,
    })?;
    Ok(out)
}

/// False when an item has nothing to print (a region id for an offset
/// zone), which makes the enclosing optional section print nothing.
fn print(items: &[Item], m: &Moment, out: &mut String) -> Result<bool, String> {
    for item in items {
        if !print_item(item, m, out)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn print_item(item: &Item, m: &Moment, out: &mut String) -> Result<bool, String> {
    match item {
        Item::Literal(s) => out.push_str(s),
        Item::Number {
            field,
            min,
            max,
            sign,
        } => {
            let v = field_value(*field, m);
            let digits = v.unsigned_abs().to_string();
            if digits.len() > *max {
                return Err(format!(
                    "the {} {v} has more than {max} digits",
                    describe(*field)
                ));
            }
            if v < 0 {
                if *sign == Sign::NotNegative {
                    return Err(format!("the {} {v} is negative", describe(*field)));
                }
                out.push('-');
            } else if *sign == Sign::ExceedsPad && digits.len() > *min {
                out.push('+');
            }
            out.extend(std::iter::repeat_n('0', min.saturating_sub(digits.len())));
            out.push_str(&digits);
        }
        Item::Reduced(field) => out.push_str(&format!(
            "{:02}",
            field_value(*field, m).unsigned_abs() % 100
        )),
        Item::Fraction { min, max, point } => {
            // Java truncates to `max` digits, then drops trailing zeros
            // down to `min`.
            let digits = format!("{:09}", m.zdt.subsec_nanosecond());
            let mut end = *max;
            while end > *min && digits.as_bytes()[end - 1] == b'0' {
                end -= 1;
            }
            if end > 0 {
                if *point {
                    out.push('.');
                }
                out.push_str(&digits[..end]);
            }
        }
        Item::Text { field, style } => {
            let v = field_value(*field, m);
            let name = names(*field, *style)
                .into_iter()
                .find(|(_, value)| *value == v)
                .map(|(name, _)| name);
            out.push_str(&name.ok_or_else(|| format!("no name for the {} {v}", describe(*field)))?);
        }
        Item::Offset { kind, zero } => {
            out.push_str(&offset_text(m.zdt.offset().seconds(), *kind, zero))
        }
        Item::LocalizedOffset { full } => {
            out.push_str(&localized_offset(m.zdt.offset().seconds(), *full))
        }
        Item::ZoneId { region_only } => {
            if *region_only && m.zone.offset_only {
                return Ok(false);
            }
            out.push_str(&m.zone.id);
        }
        Item::ZoneName { full, generic } => out.push_str(&zone_name(m, *full, *generic)),
        Item::Instant => {
            let utc = Moment::at(
                m.zdt.timestamp(),
                &Zone::offset(0).map_err(|e| e.to_string())?,
            );
            let nanos = utc.zdt.subsec_nanosecond();
            // Groups of three digits, as many as needed.
            let width = match nanos {
                0 => 0,
                n if n % 1_000_000 == 0 => 3,
                n if n % 1_000 == 0 => 6,
                _ => 9,
            };
            let items = concat([
                iso_local_date(),
                vec![
                    lit("T"),
                    two(Field::HourOfDay),
                    lit(":"),
                    two(Field::Minute),
                    lit(":"),
                    two(Field::Second),
                ],
                vec![
                    Item::Fraction {
                        min: width,
                        max: width,
                        point: true,
                    },
                    lit("Z"),
                ],
            ]);
            print(&items, &utc, out)?;
        }
        Item::Optional(inner) => {
            let len = out.len();
            if !print(inner, m, out)? {
                out.truncate(len);
            }
        }
        Item::Pad { width, item } => {
            let mut padded = String::new();
            if !print_item(item, m, &mut padded)? {
                return Ok(false);
            }
            let len = padded.chars().count();
            if len > *width {
                return Err(format!("'{padded}' is longer than the pad width {width}"));
            }
            out.extend(std::iter::repeat_n(' ', width - len));
            out.push_str(&padded);
        }
    }
    Ok(true)
}

fn field_value(field: Field, m: &Moment) -> i64 {
    use Field::*;
    let dt = m.zdt.datetime();
    let d = dt.date();
    let (year, hour) = (i64::from(d.year()), i64::from(dt.hour()));
    let second_of_day = hour * 3600 + i64::from(dt.minute()) * 60 + i64::from(dt.second());
    let nano = i64::from(dt.subsec_nanosecond());
    match field {
        Era => i64::from(year > 0),
        Year => year,
        YearOfEra => {
            if year > 0 {
                year
            } else {
                1 - year
            }
        }
        WeekBasedYear => us_week(d).0,
        WeekOfWeekBasedYear => us_week(d).1,
        IsoWeekYear => i64::from(d.iso_week_date().year()),
        IsoWeek => i64::from(d.iso_week_date().week()),
        WeekOfMonth => {
            (i64::from(d.day()) - 1 + sunday_zero(epoch_day(year, i64::from(d.month()), 1))) / 7 + 1
        }
        Quarter => (i64::from(d.month()) - 1) / 3 + 1,
        Month => i64::from(d.month()),
        DayOfYear => i64::from(d.day_of_year()),
        Day => i64::from(d.day()),
        AlignedWeekOfMonth => (i64::from(d.day()) - 1) / 7 + 1,
        DayOfWeek => i64::from(d.weekday().to_monday_one_offset()),
        LocalizedDayOfWeek => i64::from(d.weekday().to_sunday_one_offset()),
        AmPm => hour / 12,
        HourOfDay => hour,
        ClockHourOfDay => {
            if hour == 0 {
                24
            } else {
                hour
            }
        }
        HourOfAmPm => hour % 12,
        ClockHourOfAmPm => {
            if hour % 12 == 0 {
                12
            } else {
                hour % 12
            }
        }
        Minute => i64::from(dt.minute()),
        Second => i64::from(dt.second()),
        Nano => nano,
        MilliOfDay => second_of_day * 1_000 + nano / 1_000_000,
        NanoOfDay => second_of_day * 1_000_000_000 + nano,
        // The modified Julian day 0 is 1858-11-17, 40587 days before 1970.
        ModifiedJulianDay => epoch_day(year, i64::from(d.month()), i64::from(d.day())) + 40_587,
    }
}

/// What a field is, for messages.
fn describe(field: Field) -> &'static str {
    use Field::*;
    match field {
        Era => "era (G)",
        Year => "year (u)",
        YearOfEra => "year (y)",
        WeekBasedYear => "week-based year (Y)",
        WeekOfWeekBasedYear => "week of year (w)",
        IsoWeekYear => "ISO week-based year",
        IsoWeek => "ISO week",
        WeekOfMonth => "week of month (W)",
        Quarter => "quarter (Q)",
        Month => "month (M)",
        DayOfYear => "day of year (D)",
        Day => "day of month (d)",
        AlignedWeekOfMonth => "aligned week of month (F)",
        DayOfWeek => "day of week (E)",
        LocalizedDayOfWeek => "localized day of week (e/c)",
        AmPm => "AM/PM (a)",
        HourOfDay => "hour (H)",
        ClockHourOfDay => "hour (k)",
        HourOfAmPm => "hour (K)",
        ClockHourOfAmPm => "hour (h)",
        Minute => "minute (m)",
        Second => "second (s)",
        Nano => "nanosecond (n/S)",
        MilliOfDay => "millisecond of day (A)",
        NanoOfDay => "nanosecond of day (N)",
        ModifiedJulianDay => "modified Julian day (g)",
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`); plain integers so that year 10000 works too.
fn epoch_day(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// 0 for Sunday; 1970-01-01 was a Thursday.
fn sunday_zero(epoch_day: i64) -> i64 {
    (epoch_day + 4).rem_euclid(7)
}

/// en_US week-based year and week (`WeekFields.of(Locale.US)`): weeks start
/// on Sunday and week 1 is the one holding January 1.
fn us_week(d: Date) -> (i64, i64) {
    let year = i64::from(d.year());
    let day = epoch_day(year, i64::from(d.month()), i64::from(d.day()));
    let week_start = day - sunday_zero(day);
    if week_start + 6 >= epoch_day(year + 1, 1, 1) {
        return (year + 1, 1);
    }
    let jan1 = epoch_day(year, 1, 1);
    (year, (week_start - (jan1 - sunday_zero(jan1))) / 7 + 1)
}

fn offset_text(seconds: i32, kind: usize, zero: &str) -> String {
    if seconds == 0 {
        return zero.to_string();
    }
    let colon = if OFFSET_PATTERNS[kind].contains(':') {
        ":"
    } else {
        ""
    };
    let a = seconds.abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let mut out = format!("{}{h:02}", if seconds < 0 { '-' } else { '+' });
    if kind >= 3 || (kind >= 1 && m > 0) {
        out.push_str(&format!("{colon}{m:02}"));
        if kind >= 5 && s > 0 {
            out.push_str(&format!("{colon}{s:02}"));
        }
    }
    out
}

/// `GMT+2`, `GMT+5:30` (short) or `GMT+02:00` (full); `GMT` for zero.
fn localized_offset(seconds: i32, full: bool) -> String {
    if seconds == 0 {
        return "GMT".into();
    }
    let a = seconds.abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let sign = if seconds < 0 { '-' } else { '+' };
    let mut out = if full {
        format!("GMT{sign}{h:02}:{m:02}")
    } else {
        format!("GMT{sign}{h}")
    };
    if !full && (m > 0 || s > 0) {
        out.push_str(&format!(":{m:02}"));
    }
    if s > 0 {
        out.push_str(&format!(":{s:02}"));
    }
    out
}

fn zone_name(m: &Moment, full: bool, generic: bool) -> String {
    let zone = &m.zone;
    // Java prints an offset zone's id where a region has a name.
    if zone.offset_only {
        return zone.id.clone();
    }
    let abbreviation = match zone.id.as_str() {
        "UTC" | "GMT" | "UT" => zone.id.clone(),
        _ => zone
            .tz
            .to_offset_info(m.zdt.timestamp())
            .abbreviation()
            .to_string(),
    };
    // The tz database has no letters for many zones ("+03"): Java's
    // fallback then is the GMT offset.
    if abbreviation.starts_with(['+', '-']) {
        return localized_offset(m.zdt.offset().seconds(), true);
    }
    if generic
        && let Some((_, short, long)) = GENERIC_NAMES
            .iter()
            .find(|(abbrs, ..)| abbrs.contains(&abbreviation.as_str()))
    {
        return if full { long } else { short }.to_string();
    }
    if !full {
        return abbreviation;
    }
    ZONE_LONG_NAMES
        .iter()
        .find(|(id, abbr, _)| *abbr == abbreviation && (id.is_empty() || *id == zone.id))
        .map_or(abbreviation.clone(), |(.., long)| long.to_string())
}

/// English long names of common zone abbreviations; a zone id narrows an
/// abbreviation that several zones share. Zone-specific rows come first.
const ZONE_LONG_NAMES: &[(&str, &str, &str)] = &[
    ("Europe/Dublin", "IST", "Irish Standard Time"),
    ("Asia/Jerusalem", "IST", "Israel Standard Time"),
    ("Asia/Shanghai", "CST", "China Standard Time"),
    ("Asia/Taipei", "CST", "Taipei Standard Time"),
    ("", "UTC", "Coordinated Universal Time"),
    ("", "UT", "Universal Time"),
    ("", "GMT", "Greenwich Mean Time"),
    ("", "BST", "British Summer Time"),
    ("", "WET", "Western European Standard Time"),
    ("", "WEST", "Western European Summer Time"),
    ("", "CET", "Central European Standard Time"),
    ("", "CEST", "Central European Summer Time"),
    ("", "EET", "Eastern European Standard Time"),
    ("", "EEST", "Eastern European Summer Time"),
    ("", "MSK", "Moscow Standard Time"),
    ("", "IST", "India Standard Time"),
    ("", "PKT", "Pakistan Standard Time"),
    ("", "WIB", "Western Indonesia Time"),
    ("", "HKT", "Hong Kong Standard Time"),
    ("", "JST", "Japan Standard Time"),
    ("", "KST", "Korean Standard Time"),
    ("", "AWST", "Australian Western Standard Time"),
    ("", "ACST", "Australian Central Standard Time"),
    ("", "ACDT", "Australian Central Daylight Time"),
    ("", "AEST", "Australian Eastern Standard Time"),
    ("", "AEDT", "Australian Eastern Daylight Time"),
    ("", "NZST", "New Zealand Standard Time"),
    ("", "NZDT", "New Zealand Daylight Time"),
    ("", "SAST", "South Africa Standard Time"),
    ("", "EST", "Eastern Standard Time"),
    ("", "EDT", "Eastern Daylight Time"),
    ("", "CST", "Central Standard Time"),
    ("", "CDT", "Central Daylight Time"),
    ("", "MST", "Mountain Standard Time"),
    ("", "MDT", "Mountain Daylight Time"),
    ("", "PST", "Pacific Standard Time"),
    ("", "PDT", "Pacific Daylight Time"),
    ("", "AKST", "Alaska Standard Time"),
    ("", "AKDT", "Alaska Daylight Time"),
    ("", "HST", "Hawaii-Aleutian Standard Time"),
];

/// Generic names (`v`, `vvvv`): the same for standard and summer time.
const GENERIC_NAMES: &[(&[&str], &str, &str)] = &[
    (&["WET", "WEST"], "WET", "Western European Time"),
    (&["CET", "CEST"], "CET", "Central European Time"),
    (&["EET", "EEST"], "EET", "Eastern European Time"),
    (&["EST", "EDT"], "ET", "Eastern Time"),
    (&["CST", "CDT"], "CT", "Central Time"),
    (&["MST", "MDT"], "MT", "Mountain Time"),
    (&["PST", "PDT"], "PT", "Pacific Time"),
    (&["AKST", "AKDT"], "AKT", "Alaska Time"),
    (&["AEST", "AEDT"], "AET", "Eastern Australia Time"),
];

/// Zones that a parsed abbreviation stands for, as Java's en_US choice.
const ZONE_ABBREVIATIONS: &[(&str, &str)] = &[
    ("EST", "America/New_York"),
    ("EDT", "America/New_York"),
    ("CST", "America/Chicago"),
    ("CDT", "America/Chicago"),
    ("MST", "America/Denver"),
    ("MDT", "America/Denver"),
    ("PST", "America/Los_Angeles"),
    ("PDT", "America/Los_Angeles"),
    ("BST", "Europe/London"),
    ("CET", "Europe/Paris"),
    ("CEST", "Europe/Paris"),
    ("EET", "Europe/Athens"),
    ("EEST", "Europe/Athens"),
    ("WET", "Europe/Lisbon"),
    ("WEST", "Europe/Lisbon"),
    ("JST", "Asia/Tokyo"),
    ("IST", "Asia/Kolkata"),
    ("AEST", "Australia/Sydney"),
    ("AEDT", "Australia/Sydney"),
];

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// English names of a text field's values, for printing and parsing.
fn names(field: Field, style: Style) -> Vec<(String, i64)> {
    let shorten = |name: &str| match style {
        Style::Full => name.to_string(),
        Style::Short => name[..3].to_string(),
        Style::Narrow => name[..1].to_string(),
    };
    let pick = |short: &str, full: &str, narrow: &str| {
        match style {
            Style::Short => short,
            Style::Full => full,
            Style::Narrow => narrow,
        }
        .to_string()
    };
    match field {
        Field::Month => (1..)
            .zip(MONTH_NAMES)
            .map(|(v, n)| (shorten(n), v))
            .collect(),
        Field::DayOfWeek => (1..).zip(DAY_NAMES).map(|(v, n)| (shorten(n), v)).collect(),
        // Sunday is 1, Monday 2.
        Field::LocalizedDayOfWeek => (1..)
            .zip(DAY_NAMES)
            .map(|(v, n)| (shorten(n), v % 7 + 1))
            .collect(),
        Field::Era => vec![
            (pick("BC", "Before Christ", "B"), 0),
            (pick("AD", "Anno Domini", "A"), 1),
        ],
        Field::AmPm => vec![("AM".into(), 0), ("PM".into(), 1)],
        Field::Quarter => ["1st", "2nd", "3rd", "4th"]
            .iter()
            .zip(1..)
            .map(|(nth, q)| {
                (
                    pick(&format!("Q{q}"), &format!("{nth} quarter"), &q.to_string()),
                    q,
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Parsing (`existingFormat` and the ISO readings).

/// What a text gave, before it is made a date: Java's `Parsed`.
#[derive(Clone, Default)]
struct Fields {
    values: Vec<(Field, i64)>,
    offset: Option<i32>,
    zone: Option<Zone>,
}

struct Resolved {
    date: Option<Date>,
    time: Option<Time>,
    offset: Option<i32>,
    zone: Option<Zone>,
}

struct Cursor<'t> {
    text: &'t str,
    pos: usize,
    case_insensitive: bool,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn eat(&mut self, s: &str) -> bool {
        let rest = self.rest();
        let found = rest.get(..s.len()).is_some_and(|head| {
            if self.case_insensitive {
                head.eq_ignore_ascii_case(s)
            } else {
                head == s
            }
        });
        if found {
            self.pos += s.len();
        }
        found
    }

    fn digits(&self, from: usize) -> usize {
        self.rest()[from..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count()
    }

    fn here(&self) -> String {
        match self.rest() {
            "" => "at the end".into(),
            rest => format!("at '{rest}'"),
        }
    }
}

fn parse_with(f: &Formatter, text: &str) -> Result<Fields, String> {
    let mut cursor = Cursor {
        text,
        pos: 0,
        case_insensitive: f.case_insensitive,
    };
    let mut fields = Fields::default();
    parse_items(&f.items, &mut cursor, &mut fields)?;
    if !cursor.rest().is_empty() {
        return Err(format!("unexpected text {}", cursor.here()));
    }
    Ok(fields)
}

fn parse_items(items: &[Item], c: &mut Cursor, fields: &mut Fields) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        // Java's adjacent value parsing: a variable-width number leaves
        // room for the fixed-width numbers right after it (`yyyyMMdd`).
        let reserved = items[i + 1..]
            .iter()
            .map_while(|next| match next {
                Item::Number { min, max, .. } if min == max => Some(*min),
                Item::Reduced(_) => Some(2),
                Item::Fraction {
                    min,
                    max,
                    point: false,
                } if min == max => Some(*min),
                _ => None,
            })
            .sum();
        parse_item(item, c, fields, reserved)?;
    }
    Ok(())
}

fn parse_item(
    item: &Item,
    c: &mut Cursor,
    fields: &mut Fields,
    reserved: usize,
) -> Result<(), String> {
    match item {
        Item::Literal(s) => {
            if !c.eat(s) {
                return Err(format!("expected '{s}' {}", c.here()));
            }
        }
        Item::Number {
            field,
            min,
            max,
            sign,
        } => {
            let rest = c.rest();
            let skip = match rest.as_bytes().first() {
                Some(b'-') if *sign != Sign::NotNegative => 1,
                Some(b'+') if *sign == Sign::ExceedsPad => 1,
                _ => 0,
            };
            let available = c.digits(skip);
            let take = if min == max {
                *min
            } else {
                available.saturating_sub(reserved).min(*max).max(*min)
            };
            if available < take || take == 0 {
                return Err(format!(
                    "expected the {} as {min} digit(s) {}",
                    describe(*field),
                    c.here()
                ));
            }
            let digits = &rest[skip..skip + take];
            let value: i64 = digits
                .parse()
                .map_err(|_| format!("the {} {digits} is too large", describe(*field)))?;
            fields.values.push((
                *field,
                if rest.starts_with('-') && skip == 1 {
                    -value
                } else {
                    value
                },
            ));
            c.pos += skip + take;
        }
        Item::Reduced(field) => {
            if c.digits(0) < 2 {
                return Err(format!(
                    "expected the {} as 2 digits {}",
                    describe(*field),
                    c.here()
                ));
            }
            let value: i64 = c.rest()[..2].parse().expect("two digits");
            fields.values.push((*field, 2000 + value));
            c.pos += 2;
        }
        Item::Fraction { min, max, point } => {
            let start = c.pos;
            if *point && !c.eat(".") {
                if *min == 0 {
                    return Ok(());
                }
                return Err(format!("expected '.' {}", c.here()));
            }
            let available = c.digits(0).min(*max);
            if available < (*min).max(1) {
                c.pos = start;
                return Err(format!(
                    "expected {min} to {max} digits of fraction {}",
                    c.here()
                ));
            }
            let digits = format!("{:0<9}", &c.rest()[..available]);
            fields
                .values
                .push((Field::Nano, digits.parse().expect("nine digits")));
            c.pos += available;
        }
        Item::Text { field, style } => {
            let mut candidates = names(*field, *style);
            candidates.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
            let (name, value) = candidates
                .into_iter()
                .find(|(name, _)| {
                    c.rest().get(..name.len()).is_some_and(|head| {
                        if c.case_insensitive {
                            head.eq_ignore_ascii_case(name)
                        } else {
                            head == name
                        }
                    })
                })
                .ok_or_else(|| {
                    format!("expected the {} as a name {}", describe(*field), c.here())
                })?;
            fields.values.push((*field, value));
            c.pos += name.len();
        }
        Item::Offset { zero, .. } => {
            if c.eat(zero) {
                fields.offset = Some(0);
            } else {
                fields.offset =
                    Some(parse_offset(c).ok_or_else(|| {
                        format!("expected an offset such as +02:00 {}", c.here())
                    })?);
            }
        }
        Item::LocalizedOffset { .. } => {
            if !c.eat("GMT") {
                return Err(format!("expected an offset such as GMT+2 {}", c.here()));
            }
            fields.offset = Some(if c.rest().starts_with(['+', '-']) {
                parse_offset(c).unwrap_or(0)
            } else {
                0
            });
        }
        Item::ZoneId { .. } => {
            let zone = if c.rest().starts_with(['+', '-']) {
                let seconds =
                    parse_offset(c).ok_or_else(|| format!("expected a time zone {}", c.here()))?;
                Zone::offset(seconds).map_err(|e| e.to_string())?
            } else {
                let len = c
                    .rest()
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || "~/._+-:".contains(ch)))
                    .unwrap_or(c.rest().len());
                let zone = Zone::of(&c.rest()[..len]).map_err(|_| {
                    format!("expected a time zone id such as Europe/Paris {}", c.here())
                })?;
                c.pos += len;
                zone
            };
            fields.zone = Some(zone);
        }
        Item::ZoneName { .. } => {
            let long = ZONE_LONG_NAMES
                .iter()
                .find(|(.., long)| c.rest().starts_with(long));
            let (len, id) = match long {
                Some((id, abbr, long)) => (long.len(), if id.is_empty() { *abbr } else { id }),
                None => {
                    let len = c
                        .rest()
                        .find(|ch: char| !(ch.is_ascii_alphanumeric() || "/_+-".contains(ch)))
                        .unwrap_or(c.rest().len());
                    (len, &c.rest()[..len])
                }
            };
            let id = ZONE_ABBREVIATIONS
                .iter()
                .find(|(abbr, _)| *abbr == id)
                .map_or(id, |(_, zone)| zone);
            let zone = Zone::of(id).map_err(|_| {
                format!("expected a time zone name such as CET or UTC {}", c.here())
            })?;
            c.pos += len;
            fields.zone = Some(zone);
        }
        Item::Instant => {
            // Java parses an instant without a zone, and neither
            // ZonedDateTime nor LocalDateTime can be made from that.
            return Err("Kestra cannot read a date with existingFormat 'iso_instant' (Java finds no time zone \
                        in it): leave existingFormat out to read 2026-11-25T08:30:00Z"
                .into());
        }
        Item::Optional(inner) => {
            let (pos, saved) = (c.pos, fields.clone());
            if parse_items(inner, c, fields).is_err() {
                c.pos = pos;
                *fields = saved;
            }
        }
        Item::Pad { item, .. } => {
            c.pos += c.rest().len() - c.rest().trim_start_matches(' ').len();
            parse_item(item, c, fields, reserved)?;
        }
    }
    Ok(())
}

/// `+02`, `+0200`, `+02:00`, `+02:00:30`: leniently, as Java's ISO parsers.
fn parse_offset(c: &mut Cursor) -> Option<i32> {
    let rest = c.rest().as_bytes();
    let sign = match rest.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two = |at: usize| -> Option<i32> {
        let d = rest.get(at..at + 2)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| i32::from(d[0] - b'0') * 10 + i32::from(d[1] - b'0'))
    };
    let hours = two(1)?;
    let mut at = 3;
    let mut total = hours * 3600;
    for unit in [60, 1] {
        let colon = usize::from(rest.get(at) == Some(&b':'));
        match two(at + colon) {
            Some(v) if v < 60 => {
                total += v * unit;
                at += colon + 2;
            }
            _ => break,
        }
    }
    if hours > 18 || total > 18 * 3600 {
        return None;
    }
    c.pos += at;
    Some(sign * total)
}

/// Java's `Parsed.resolve` in SMART mode, for the fields Mortar reads.
fn resolve(f: &Fields) -> Result<Resolved, String> {
    use Field::*;
    let get = |field: Field| {
        f.values
            .iter()
            .rev()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| *v)
    };
    if let Some((field, _)) = f.values.iter().find(|(k, _)| {
        matches!(
            k,
            WeekBasedYear
                | WeekOfWeekBasedYear
                | IsoWeekYear
                | IsoWeek
                | WeekOfMonth
                | AlignedWeekOfMonth
                | Quarter
                | LocalizedDayOfWeek
                | ModifiedJulianDay
        )
    }) {
        return Err(format!(
            "Mortar cannot read a date back from the {}: use year, month and day (yyyy-MM-dd) in existingFormat",
            describe(*field)
        ));
    }
    let year = get(Year)
        .or_else(|| get(YearOfEra).map(|yoe| if get(Era) == Some(0) { 1 - yoe } else { yoe }));
    let out_of_range = |what: &str, v: i64| format!("the {what} {v} is out of range");
    let date = match (year, get(Month), get(Day), get(DayOfYear)) {
        (Some(y), Some(month), Some(day), _) => {
            if !(1..=12).contains(&month) {
                return Err(out_of_range("month", month));
            }
            if !(1..=31).contains(&day) {
                return Err(out_of_range("day of month", day));
            }
            let y = i16::try_from(y).map_err(|_| out_of_range("year", y))?;
            // SMART resolution moves the 31st of a 30-day month to the 30th.
            let last = Date::new(y, month as i8, 1)
                .map_err(|e| e.to_string())?
                .days_in_month();
            Some(Date::new(y, month as i8, (day as i8).min(last)).map_err(|e| e.to_string())?)
        }
        (Some(y), _, _, Some(day_of_year)) => {
            let y = i16::try_from(y).map_err(|_| out_of_range("year", y))?;
            let doy =
                i16::try_from(day_of_year).map_err(|_| out_of_range("day of year", day_of_year))?;
            Some(
                Date::new(y, 1, 1)
                    .and_then(|d| d.with().day_of_year(doy).build())
                    .map_err(|e| e.to_string())?,
            )
        }
        _ => None,
    };
    if let (Some(date), Some(day)) = (date, get(DayOfWeek))
        && i64::from(date.weekday().to_monday_one_offset()) != day
    {
        return Err(format!(
            "{date} is a {}, not a {}",
            DAY_NAMES[date.weekday().to_monday_zero_offset() as usize],
            DAY_NAMES[(day - 1).clamp(0, 6) as usize]
        ));
    }
    let hour = get(HourOfDay)
        .or_else(|| get(ClockHourOfDay).map(|h| if h == 24 { 0 } else { h }))
        .or_else(|| {
            let half = get(AmPm)?;
            Some(half * 12 + get(HourOfAmPm).or_else(|| get(ClockHourOfAmPm).map(|h| h % 12))?)
        });
    let time_of = |h: i64, m: i64, s: i64, n: i64| {
        let ok = (0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s);
        if !ok {
            return Err(format!("the time {h:02}:{m:02}:{s:02} is out of range"));
        }
        Time::new(h as i8, m as i8, s as i8, n as i32).map_err(|e| e.to_string())
    };
    let time = if let Some(nod) = get(NanoOfDay) {
        Some(time_of(
            nod / 3_600_000_000_000,
            nod / 60_000_000_000 % 60,
            nod / 1_000_000_000 % 60,
            nod % 1_000_000_000,
        )?)
    } else if let Some(mod_) = get(MilliOfDay) {
        Some(time_of(
            mod_ / 3_600_000,
            mod_ / 60_000 % 60,
            mod_ / 1_000 % 60,
            mod_ % 1_000 * 1_000_000,
        )?)
    } else if let Some(h) = hour {
        let (minute, second, nano) = (get(Minute), get(Second), get(Nano));
        // Java leaves the time unresolved when a smaller unit is given
        // without the one above it (seconds without minutes).
        if (minute.is_none() && (second.is_some() || nano.is_some()))
            || (minute.is_some() && second.is_none() && nano.is_some())
        {
            None
        } else {
            Some(time_of(
                h,
                minute.unwrap_or(0),
                second.unwrap_or(0),
                nano.unwrap_or(0),
            )?)
        }
    } else {
        None
    };
    Ok(Resolved {
        date,
        time,
        offset: f.offset,
        zone: f.zone.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Compares a result with `expected`; `error: text` expects an error
    /// whose message contains `text`.
    fn check(actual: Result<Value, String>, expected: &str) {
        match (actual, expected.strip_prefix("error: ")) {
            (Ok(Value::String(s)), None) => assert_eq!(s, expected),
            (Ok(other), None) => assert_eq!(other.to_string(), expected),
            (Err(e), Some(part)) => {
                assert!(e.contains(part), "error {e:?} does not contain {part:?}")
            }
            (actual, _) => panic!("expected {expected:?}, got {actual:?}"),
        }
    }

    fn s(text: &str) -> Value {
        json!(text)
    }

    /// Kestra's own expectations, from
    /// core/src/test/java/io/kestra/core/runners/pebble/filters/DateFilterTest.java.
    /// Kestra's `NOW` is `ZonedDateTime.parse("2013-09-08T16:19:12.123456+01")`;
    /// its `Date` and `Instant` variables are written here as what Mortar gets.
    #[test]
    fn kestra_date_filter_test() {
        let zoned = s("2013-09-08T16:19:12.123456+01");
        let paris = Some("Europe/Paris");
        check(
            date(&json!(1378653552), Some("iso"), paris, None, None),
            "2013-09-08T17:19:12.000000+02:00",
        );
        check(
            date(
                &s("2013-09-08T15:19:12.123456Z"),
                Some("iso_sec"),
                paris,
                None,
                None,
            ),
            "2013-09-08T17:19:12+02:00",
        );
        check(
            date(&zoned, Some("iso"), paris, None, None),
            "2013-09-08T17:19:12.123456+02:00",
        );
        let local = s("2013-09-08T16:19:12.123456");
        check(
            date(
                &local,
                Some("yyyy-MM-dd HH:mm:ss.SSSSSSXXX"),
                paris,
                None,
                None,
            ),
            "2013-09-08 16:19:12.123456+02:00",
        );
        check(
            date(
                &local,
                Some("yyyy-MM-dd HH:mm:ss.SSSSSSXXX"),
                Some("UTC"),
                None,
                None,
            ),
            "2013-09-08 16:19:12.123456Z",
        );
        // dateStringFormat
        check(
            date(
                &s("July 24, 2001"),
                Some("yyyy-MM-dd"),
                None,
                Some("MMMM dd, yyyy"),
                None,
            ),
            "2001-07-24",
        );
        check(
            date(&s("2013-09-08T17:19:12+02:00"), None, paris, None, None),
            "2013-09-08T17:19:12.000000+02:00",
        );
        check(
            date(&s("2013-09-08T17:19:12"), None, paris, None, None),
            "2013-09-08T17:19:12.000000+02:00",
        );
        check(
            date(&s("2013-09-08"), None, paris, None, None),
            "2013-09-08T00:00:00.000000+02:00",
        );
        // timestamp, dateRfc, instantnano, instantmicro, add
        check(timestamp(&zoned, paris, None), "1378653552");
        check(
            date(
                &s("Tue, 08 Feb 2022 19:38:26 GMT"),
                None,
                paris,
                Some("rfc_1123_date_time"),
                None,
            ),
            "2022-02-08T20:38:26.000000+01:00",
        );
        check(timestamp_nano(&zoned, paris, None), "1378653552123456000");
        check(timestamp_micro(&zoned, paris, None), "1378653552000123456");
        check(
            date_add(&zoned, -1, "DAYS", None, paris, None, None),
            "2013-09-07T17:19:12.123456+02:00",
        );
        // timestampCompare
        let before = date_add(&zoned, -1, "DAYS", None, None, None, None).unwrap();
        assert!(
            timestamp(&zoned, None, None).unwrap().as_i64()
                > timestamp(&before, None, None).unwrap().as_i64()
        );
    }

    #[test]
    fn defaults_and_inputs() {
        // The default format is Kestra's `iso`: six fraction digits, even
        // for an instant.
        check(
            date(&s("2026-11-25T08:30:00Z"), None, None, None, None),
            "2026-11-25T08:30:00.000000Z",
        );
        check(
            date(&json!(0), None, None, None, None),
            "1970-01-01T00:00:00.000000Z",
        );
        check(date(&Value::Null, None, None, None, None), "null");
        check(
            date(
                &s("2013-09-08T17:19:12.5+01:00[Europe/Paris]"),
                None,
                None,
                None,
                None,
            ),
            "2013-09-08T16:19:12.500000Z",
        );
        check(
            date(
                &s("2013-09-08T17:19+02:00"),
                Some("iso_zoned_date_time"),
                None,
                None,
                None,
            ),
            "2013-09-08T15:19:00Z[UTC]",
        );
        check(
            date(&json!(1.5), None, None, None, None),
            "error: whole number",
        );
        check(
            date(&json!([1]), None, None, None, None),
            "error: got a list",
        );
        check(
            date(&s("25/11/2026"), None, None, None, None),
            "error: give existingFormat",
        );
        check(
            date(&s("2026-11-25"), None, Some("Mars/Olympus"), None, None),
            "error: unknown time zone 'Mars/Olympus'",
        );
        check(
            date(&s("2026-11-25"), None, None, None, Some("fr")),
            "error: locale 'fr'",
        );
        check(
            date(
                &s("2026-11-25"),
                Some("iso_local_date"),
                None,
                None,
                Some("en_US"),
            ),
            "2026-11-25",
        );
        let at = Timestamp::from_second(1_378_653_552).unwrap();
        check(now(None, None, None, at), "2013-09-08T15:19:12.000000Z");
        check(
            now(Some("iso_local_date"), Some("Europe/Lisbon"), None, at),
            "2013-09-08",
        );
        check(now(Some("HH:mm"), Some("Europe/Lisbon"), None, at), "16:19");
    }

    #[test]
    fn time_zones() {
        let input = s("2013-09-08T15:19:12Z");
        for (zone, expected) in [
            ("UTC", "2013-09-08T15:19:12Z[UTC]"),
            ("Z", "2013-09-08T15:19:12Z"),
            ("+02:00", "2013-09-08T17:19:12+02:00"),
            ("+2", "2013-09-08T17:19:12+02:00"),
            ("-0330", "2013-09-08T11:49:12-03:30"),
            ("GMT", "2013-09-08T15:19:12Z[GMT]"),
            ("UTC+01:00", "2013-09-08T16:19:12+01:00[UTC+01:00]"),
            ("GMT+0", "2013-09-08T15:19:12Z[GMT]"),
            (
                "America/New_York",
                "2013-09-08T11:19:12-04:00[America/New_York]",
            ),
            ("Asia/Kolkata", "2013-09-08T20:49:12+05:30[Asia/Kolkata]"),
            ("+19:00", "error: unknown time zone"),
            ("CEST", "error: unknown time zone"),
        ] {
            check(
                date(&input, Some("iso_zoned_date_time"), Some(zone), None, None),
                expected,
            );
        }
    }

    /// Kestra's named formats, at 2013-09-08T17:19:12.123456789 in Paris.
    #[test]
    fn named_formats() {
        let input = s("2013-09-08T17:19:12.123456789+02:00[Europe/Paris]");
        for (format, expected) in [
            ("iso", "2013-09-08T17:19:12.123456+02:00"),
            ("iso_sec", "2013-09-08T17:19:12+02:00"),
            ("sql", "2013-09-08 17:19:12.123456"),
            ("sql_seq", "2013-09-08 17:19:12"),
            (
                "iso_date_time",
                "2013-09-08T17:19:12.123456789+02:00[Europe/Paris]",
            ),
            ("iso_date", "2013-09-08+02:00"),
            ("iso_time", "17:19:12.123456789+02:00"),
            ("iso_local_date", "2013-09-08"),
            ("iso_instant", "2013-09-08T15:19:12.123456789Z"),
            ("iso_local_date_time", "2013-09-08T17:19:12.123456789"),
            ("iso_local_time", "17:19:12.123456789"),
            ("iso_offset_time", "17:19:12.123456789+02:00"),
            ("iso_ordinal_date", "2013-251+02:00"),
            ("iso_week_date", "2013-W36-7+02:00"),
            (
                "iso_zoned_date_time",
                "2013-09-08T17:19:12.123456789+02:00[Europe/Paris]",
            ),
            ("rfc_1123_date_time", "Sun, 8 Sep 2013 17:19:12 +0200"),
            ("short", "9/8/13, 5:19\u{202f}PM"),
            ("medium", "Sep 8, 2013, 5:19:12\u{202f}PM"),
            ("long", "September 8, 2013, 5:19:12\u{202f}PM CEST"),
            (
                "full",
                "Sunday, September 8, 2013, 5:19:12\u{202f}PM Central European Summer Time",
            ),
            // Not in Kestra's list: Java reads them as patterns.
            ("iso_offset_date_time", "error: unknown pattern letter 'i'"),
            ("iso_offset_date", "error: unknown pattern letter 'i'"),
        ] {
            check(
                date(&input, Some(format), Some("Europe/Paris"), None, None),
                expected,
            );
        }
        let whole = s("2013-09-08T15:19:12Z");
        for (format, expected) in [
            ("iso_instant", "2013-09-08T15:19:12Z"),
            ("iso_local_time", "15:19:12"),
            ("iso_date_time", "2013-09-08T15:19:12Z[UTC]"),
            ("rfc_1123_date_time", "Sun, 8 Sep 2013 15:19:12 GMT"),
        ] {
            check(date(&whole, Some(format), None, None, None), expected);
        }
        check(
            date(
                &s("2013-09-08T15:19:12.5Z"),
                Some("iso_instant"),
                None,
                None,
                None,
            ),
            "2013-09-08T15:19:12.500Z",
        );
        check(
            date(
                &s("2021-01-01"),
                Some("iso_week_date"),
                Some("Z"),
                None,
                None,
            ),
            "2020-W53-5Z",
        );
    }

    /// Every pattern letter, at 2013-09-08T17:19:12.123456789 in Paris (a
    /// Sunday, summer time), as Java 21 prints it in en_US.
    #[test]
    fn pattern_letters() {
        let input = s("2013-09-08T17:19:12.123456789+02:00");
        for (pattern, expected) in [
            ("G", "AD"),
            ("GGGG", "Anno Domini"),
            ("GGGGG", "A"),
            ("u", "2013"),
            ("uu", "13"),
            ("uuu", "2013"),
            ("uuuu", "2013"),
            ("uuuuu", "02013"),
            ("y", "2013"),
            ("yy", "13"),
            ("yyyy", "2013"),
            ("Y", "2013"),
            ("YY", "13"),
            ("w", "37"),
            ("ww", "37"),
            ("W", "2"),
            ("Q", "3"),
            ("QQ", "03"),
            ("QQQ", "Q3"),
            ("QQQQ", "3rd quarter"),
            ("QQQQQ", "3"),
            ("qqq", "Q3"),
            ("M", "9"),
            ("MM", "09"),
            ("MMM", "Sep"),
            ("MMMM", "September"),
            ("MMMMM", "S"),
            ("L", "9"),
            ("LLLL", "September"),
            ("d", "8"),
            ("dd", "08"),
            ("D", "251"),
            ("DD", "251"),
            ("DDD", "251"),
            ("F", "2"),
            ("E", "Sun"),
            ("EEE", "Sun"),
            ("EEEE", "Sunday"),
            ("EEEEE", "S"),
            ("e", "1"),
            ("ee", "01"),
            ("eee", "Sun"),
            ("eeee", "Sunday"),
            ("c", "1"),
            ("cccc", "Sunday"),
            ("a", "PM"),
            ("h", "5"),
            ("hh", "05"),
            ("K", "5"),
            ("H", "17"),
            ("HH", "17"),
            ("k", "17"),
            ("m", "19"),
            ("mm", "19"),
            ("s", "12"),
            ("ss", "12"),
            ("S", "1"),
            ("SS", "12"),
            ("SSS", "123"),
            ("SSSSSS", "123456"),
            ("SSSSSSSSS", "123456789"),
            ("A", "62352123"),
            ("n", "123456789"),
            ("N", "62352123456789"),
            ("g", "56543"),
            ("VV", "Europe/Paris"),
            ("z", "CEST"),
            ("zzzz", "Central European Summer Time"),
            ("v", "CET"),
            ("vvvv", "Central European Time"),
            ("O", "GMT+2"),
            ("OOOO", "GMT+02:00"),
            ("X", "+02"),
            ("XX", "+0200"),
            ("XXX", "+02:00"),
            ("XXXX", "+0200"),
            ("XXXXX", "+02:00"),
            ("x", "+02"),
            ("xx", "+0200"),
            ("xxx", "+02:00"),
            ("Z", "+0200"),
            ("ZZZZ", "GMT+02:00"),
            ("ZZZZZ", "+02:00"),
            ("'at' HH", "at 17"),
            ("''", "'"),
            ("'o''clock'", "o'clock"),
            ("[yyyy][-MM]", "2013-09"),
            ("yyyy[-MM", "2013-09"),
            ("ppH", "17"),
            ("pppH", " 17"),
            ("yyyy/MM/dd HH:mm", "2013/09/08 17:19"),
            // Refusals, as Java's IllegalArgumentException.
            ("b", "error: unknown pattern letter 'b'"),
            ("T", "error: unknown pattern letter 'T'"),
            ("dddd", "error: too many pattern letters: 'dddd'"),
            ("MMMMMM", "error: too many pattern letters"),
            ("aa", "error: too many pattern letters"),
            ("hhh", "error: too many pattern letters"),
            ("SSSSSSSSSS", "error: at most 9 'S'"),
            ("V", "error: 'VV'"),
            ("zzzzz", "error: too many pattern letters"),
            ("OO", "error: 'O' or 'OOOO'"),
            ("XXXXXX", "error: too many pattern letters"),
            ("cc", "error: 'cc' is not a valid pattern"),
            ("B", "error: 'B'"),
            ("#", "error: '#' is reserved"),
            ("{", "error: '{' is reserved"),
            ("'abc", "error: not closed"),
            ("yyyy]", "error: ']' closes no '['"),
            ("pp", "error: pad letter"),
            ("pH", "error: longer than the pad width 1"),
        ] {
            check(
                date(&input, Some(pattern), Some("Europe/Paris"), None, None),
                expected,
            );
        }
    }

    #[test]
    fn pattern_letters_at_zero_offset_and_edges() {
        let utc = s("2013-09-08T00:05:09Z");
        for (pattern, expected) in [
            ("X", "Z"),
            ("XXX", "Z"),
            ("XXXXX", "Z"),
            ("x", "+00"),
            ("xx", "+0000"),
            ("xxx", "+00:00"),
            ("Z", "+0000"),
            ("ZZZZ", "GMT"),
            ("ZZZZZ", "Z"),
            ("O", "GMT"),
            ("VV", "UTC"),
            ("z", "UTC"),
            ("zzzz", "Coordinated Universal Time"),
            ("h a", "12 AM"),
            ("K", "0"),
            ("k", "24"),
            ("SSS", "000"),
        ] {
            check(date(&utc, Some(pattern), Some("UTC"), None, None), expected);
        }
        for (pattern, expected) in [
            ("VV", "+05:30"),
            ("z", "+05:30"),
            ("X", "+0530"),
            ("O", "GMT+5:30"),
            ("Z", "+0530"),
        ] {
            check(
                date(&utc, Some(pattern), Some("+05:30"), None, None),
                expected,
            );
        }
        for (zone, expected) in [
            ("America/New_York", "EDT Eastern Daylight Time ET"),
            ("Asia/Tokyo", "JST Japan Standard Time JST"),
        ] {
            check(
                date(&utc, Some("z zzzz v"), Some(zone), None, None),
                expected,
            );
        }
        // Week-based years in en_US: weeks start on Sunday and week 1 holds
        // January 1.
        for (day, expected) in [
            ("2012-12-30", "2013-1 Sun"),
            ("2020-12-27", "2021-1 Sun"),
            ("2021-01-02", "2021-1 Sat"),
            ("2021-01-03", "2021-2 Sun"),
        ] {
            check(date(&s(day), Some("Y-w E"), None, None, None), expected);
        }
        check(
            date(&s("2013-01-05"), Some("D DD DDD"), None, None, None),
            "5 05 005",
        );
        check(
            date(&s("-0044-03-15"), Some("uuuu yyyy G"), None, None, None),
            "-0044 0045 BC",
        );
    }

    #[test]
    fn existing_format() {
        for (text, pattern, expected) in [
            (
                "08/09/2013 17:19",
                "dd/MM/yyyy HH:mm",
                "2013-09-08T17:19:00.000000Z",
            ),
            ("20130908", "yyyyMMdd", "2013-09-08T00:00:00.000000Z"),
            (
                "20130908171912",
                "yyyyMMddHHmmss",
                "2013-09-08T17:19:12.000000Z",
            ),
            (
                "2013-09-08 05:19 PM",
                "yyyy-MM-dd hh:mm a",
                "2013-09-08T17:19:00.000000Z",
            ),
            // Java leaves `hh` without `a` unresolved and keeps the date.
            (
                "2013-09-08 05:19",
                "yyyy-MM-dd hh:mm",
                "2013-09-08T00:00:00.000000Z",
            ),
            (
                "2013-09-08 17:19:12 +0200",
                "yyyy-MM-dd HH:mm:ss Z",
                "2013-09-08T15:19:12.000000Z",
            ),
            (
                "2013-09-08T17:19:12 Europe/Paris",
                "yyyy-MM-dd'T'HH:mm:ss VV",
                "2013-09-08T15:19:12.000000Z",
            ),
            (
                "2013-09-08 17:19:12 CEST",
                "yyyy-MM-dd HH:mm:ss z",
                "2013-09-08T15:19:12.000000Z",
            ),
            (
                "2013-09-08T17:19:12.5",
                "yyyy-MM-dd'T'HH:mm:ss.S",
                "2013-09-08T17:19:12.500000Z",
            ),
            (
                "Sunday 8 September 2013",
                "EEEE d MMMM yyyy",
                "2013-09-08T00:00:00.000000Z",
            ),
            ("13-09-08", "yy-MM-dd", "2013-09-08T00:00:00.000000Z"),
            ("2013-251", "yyyy-DDD", "2013-09-08T00:00:00.000000Z"),
            // SMART resolution: the 31st of a short month is its last day.
            ("2013-02-31", "yyyy-MM-dd", "2013-02-28T00:00:00.000000Z"),
            (
                "2013-09-08T17:19:12+02:00",
                "iso_offset_time",
                "error: expected ':'",
            ),
            (
                "2013-09-08T17:19:12+02:00",
                "iso_date_time",
                "2013-09-08T15:19:12.000000Z",
            ),
            // A style reads what it prints, narrow no-break space included.
            (
                "Sep 8, 2013, 5:19:12\u{202f}PM",
                "medium",
                "2013-09-08T17:19:12.000000Z",
            ),
            (
                "Sep 8, 2013, 5:19:12 PM",
                "medium",
                "error: expected '\u{202f}'",
            ),
            (
                "Sun, 8 Sep 2013 17:19:12 +0200",
                "rfc_1123_date_time",
                "2013-09-08T15:19:12.000000Z",
            ),
            (
                "8 Sep 2013 17:19 GMT",
                "rfc_1123_date_time",
                "2013-09-08T17:19:00.000000Z",
            ),
            (
                "2013-09-08T17:19:12",
                "iso_date_time",
                "2013-09-08T17:19:12.000000Z",
            ),
            // An offset without a time is dropped, as Java's LocalDate.parse.
            (
                "2013-09-08+05:00",
                "iso_date",
                "2013-09-08T00:00:00.000000Z",
            ),
            (
                "Monday 8 September 2013",
                "EEEE d MMMM yyyy",
                "error: 2013-09-08 is a Sunday, not a Monday",
            ),
            (
                "july 24, 2001",
                "MMMM dd, yyyy",
                "error: expected the month (M) as a name",
            ),
            (
                "08.09.2013",
                "dd/MM/yyyy",
                "error: expected '/' at '.09.2013'",
            ),
            (
                "2013-13-01",
                "yyyy-MM-dd",
                "error: the month 13 is out of range",
            ),
            ("2013-09", "yyyy-MM", "error: gives no full date"),
            (
                "2013-09-08T17:19:12Z",
                "iso_instant",
                "error: existingFormat 'iso_instant'",
            ),
            (
                "2013 36",
                "YYYY ww",
                "error: cannot read a date back from the week-based year",
            ),
        ] {
            check(
                date(&s(text), None, Some("UTC"), Some(pattern), None),
                expected,
            );
        }
    }

    #[test]
    fn date_add_units() {
        let input = s("2024-01-31T10:00:00Z");
        for (amount, unit, expected) in [
            (1, "NANOS", "2024-01-31T10:00:00.000000001Z"),
            (1, "MICROS", "2024-01-31T10:00:00.000001Z"),
            (1, "MILLIS", "2024-01-31T10:00:00.001Z"),
            (90, "SECONDS", "2024-01-31T10:01:30Z"),
            (-30, "MINUTES", "2024-01-31T09:30:00Z"),
            (26, "HOURS", "2024-02-01T12:00:00Z"),
            (1, "HALF_DAYS", "2024-01-31T22:00:00Z"),
            (1, "DAYS", "2024-02-01T10:00:00Z"),
            (2, "WEEKS", "2024-02-14T10:00:00Z"),
            // The month is clamped to its last day.
            (1, "MONTHS", "2024-02-29T10:00:00Z"),
            (1, "YEARS", "2025-01-31T10:00:00Z"),
            (1, "DECADES", "2034-01-31T10:00:00Z"),
            (1, "CENTURIES", "2124-01-31T10:00:00Z"),
            (1, "MILLENNIA", "3024-01-31T10:00:00Z"),
            (0, "ERAS", "2024-01-31T10:00:00Z"),
            (1, "ERAS", "error: out of range"),
            (1, "FOREVER", "error: FOREVER"),
            (1, "days", "error: unknown unit 'days'"),
            (1_000_000, "YEARS", "error: out of range"),
        ] {
            check(
                date_add(&input, amount, unit, Some("iso_instant"), None, None, None),
                expected,
            );
        }
        check(
            date_add(
                &s("2024-02-29"),
                1,
                "YEARS",
                Some("iso_local_date"),
                None,
                None,
                None,
            ),
            "2025-02-28",
        );
    }

    /// Calendar units move the local date-time in the input's zone, time
    /// units move the instant; around DST they differ.
    #[test]
    fn date_add_across_daylight_saving() {
        let paris = Some("Europe/Paris");
        let zoned = |text| s(text);
        let add = |text, amount, unit| {
            date_add(
                &zoned(text),
                amount,
                unit,
                Some("iso_offset_time"),
                paris,
                None,
                None,
            )
        };
        check(
            add("2026-03-28T12:00:00+01:00[Europe/Paris]", 1, "DAYS"),
            "12:00:00+02:00",
        );
        check(
            add("2026-03-28T12:00:00+01:00[Europe/Paris]", 24, "HOURS"),
            "13:00:00+02:00",
        );
        // Into the gap: later by the gap's length.
        check(
            add("2026-03-28T02:30:00+01:00[Europe/Paris]", 1, "DAYS"),
            "03:30:00+02:00",
        );
        // Into the overlap: the old offset when still valid.
        check(
            add("2026-10-24T02:30:00+02:00[Europe/Paris]", 1, "DAYS"),
            "02:30:00+02:00",
        );
        check(
            add("2026-10-26T02:30:00+01:00[Europe/Paris]", -1, "DAYS"),
            "02:30:00+01:00",
        );
        // An offset-only input adds days in its fixed offset.
        check(
            date_add(
                &zoned("2026-03-28T12:00:00+01:00"),
                1,
                "DAYS",
                Some("iso_offset_time"),
                paris,
                None,
                None,
            ),
            "13:00:00+02:00",
        );
    }

    #[test]
    fn timestamps() {
        let input = s("2013-09-08T15:19:12.123456789Z");
        check(timestamp(&input, None, None), "1378653552");
        check(timestamp_milli(&input, None, None), "1378653552123");
        check(timestamp_micro(&input, None, None), "1378653552000123456");
        check(timestamp_nano(&input, None, None), "1378653552123456789");
        // A local date-time is read in `timeZone`.
        check(
            timestamp(&s("2013-09-08T17:19:12"), Some("Europe/Paris"), None),
            "1378653552",
        );
        check(
            timestamp(&s("08/09/2013"), None, Some("dd/MM/yyyy")),
            "1378598400",
        );
        check(timestamp(&Value::Null, None, None), "null");
        check(
            timestamp(&s("soon"), None, None),
            "error: cannot read 'soon' as a date",
        );
    }

    /// Kestra's calendar helper tests, from
    /// core/src/test/java/io/kestra/core/runners/pebble/functions/*FunctionTest.java.
    #[test]
    fn kestra_calendar_functions() {
        for (day, weekday, position, expected) in [
            ("2025-01-06", "MONDAY", "FIRST", "true"),
            ("2025-01-13", "MONDAY", "FIRST", "false"),
            ("2025-01-13", "MONDAY", "SECOND", "true"),
            ("2025-01-20", "MONDAY", "THIRD", "true"),
            ("2025-01-27", "MONDAY", "FOURTH", "true"),
            ("2025-01-27", "MONDAY", "LAST", "true"),
            ("2025-01-31", "FRIDAY", "LAST", "true"),
            ("2025-01-31", "FRIDAY", "FOURTH", "false"),
            ("2025-01-24", "FRIDAY", "FOURTH", "true"),
            ("2025-01-06", "monday", "first", "true"),
            ("2025-01-06T10:00:00Z", "MONDAY", "FIRST", "true"),
            (
                "2025-01-06",
                "BLURSDAY",
                "FIRST",
                "error: invalid 'dayOfWeek' value: 'BLURSDAY'",
            ),
            (
                "2025-01-06",
                "MONDAY",
                "FIFTH",
                "error: invalid 'position' value: 'FIFTH'",
            ),
            (
                "not-a-date",
                "MONDAY",
                "FIRST",
                "error: could not parse 'date'",
            ),
        ] {
            check(is_day_week_in_month(&s(day), weekday, position), expected);
        }
        for (day, working, expected) in [
            ("2025-11-28", None, "true"),
            ("2025-11-29", None, "false"),
            ("2025-11-30", None, "false"),
            ("2025-01-31", None, "true"),
            ("2025-01-30", None, "false"),
            ("2025-09-30", None, "true"),
            ("2025-01-31T09:00:00+05:30", None, "true"),
            (
                "2025-01-30",
                Some("MONDAY,TUESDAY,WEDNESDAY,THURSDAY"),
                "true",
            ),
            (
                "2025-01-31",
                Some("MONDAY,TUESDAY,WEDNESDAY,THURSDAY"),
                "false",
            ),
            ("2025-01-31", Some("  "), "true"),
            ("not-a-date", None, "error: could not parse 'date'"),
            (
                "2025-01-31",
                Some("MONDAY,BLURSDAY"),
                "error: invalid 'workingDays' value: 'BLURSDAY'",
            ),
        ] {
            check(is_last_working_day(&s(day), working), expected);
        }
        let (after, before) = (s("2025-12-31T23:59:59Z"), s("2026-06-30T23:59:59Z"));
        for (day, expected) in [
            ("2026-03-01T00:00:00Z", "true"),
            ("2025-12-31T23:59:59Z", "false"),
            ("2026-06-30T23:59:59Z", "false"),
            ("2025-06-01T00:00:00Z", "false"),
            ("2026-09-01T00:00:00Z", "false"),
            ("2026-03-01T10:00:00+01:00", "true"),
            ("2026-03-01T00:00:00", "error: could not parse 'date'"),
        ] {
            check(is_date_between(&s(day), &after, &before), expected);
        }
        check(
            is_date_between(
                &s("2026-01-01T00:00:00-03:00"),
                &s("2026-01-01T02:00:00Z"),
                &s("2026-01-01T04:00:00Z"),
            ),
            "true",
        );
        check(
            is_date_between(&s("2026-03-01T00:00:00Z"), &s("not-a-date"), &before),
            "error: could not parse 'after'",
        );
    }

    #[test]
    fn calendar_functions() {
        for (day, weekend, weekday, dom, month) in [
            ("2025-01-06", "false", "MONDAY", "6", "1"),
            ("2025-01-04", "true", "SATURDAY", "4", "1"),
            // The date as written, not in UTC.
            ("2025-01-06T00:30:00+02:00", "false", "MONDAY", "6", "1"),
            ("2025-12-28T23:00:00", "true", "SUNDAY", "28", "12"),
        ] {
            check(is_weekend(&s(day)), weekend);
            check(day_of_week(&s(day)), weekday);
            check(day_of_month(&s(day)), dom);
            check(month_of_year(&s(day)), month);
        }
        check(
            is_weekend(&s("someday")),
            "error: The 'isWeekend()' function could not parse 'date'",
        );
        check(hour_of_day(&s("2025-01-06T14:30:00Z")), "14");
        check(hour_of_day(&s("2025-01-06T14:30:00+02:00")), "14");
        check(hour_of_day(&s("2025-01-06T14:30:00")), "14");
        check(
            hour_of_day(&s("2025-01-06")),
            "error: could not parse 'date'",
        );
        // Naive date-times and dates are UTC.
        check(
            is_date_after(&s("2025-01-06T10:00:00+02:00"), &s("2025-01-06T09:00:00")),
            "false",
        );
        check(
            is_date_after(&s("2025-01-06T10:00:00Z"), &s("2025-01-06")),
            "true",
        );
        check(
            is_date_before(&s("2025-01-05"), &s("2025-01-06T00:00:00Z")),
            "true",
        );
        check(
            is_date_before(&s("x"), &s("2025-01-06")),
            "error: The 'isDateBefore()' function could not parse a date argument",
        );
        check(
            is_public_holiday(&s("2025-12-25"), "FR", None),
            "error: isPublicHoliday() is not available in Mortar yet",
        );
        check(
            is_public_holiday(&s("nope"), "FR", None),
            "error: could not parse 'date'",
        );
    }
}
