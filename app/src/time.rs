//! Time shown on pages. The server renders it and the browser hydrates the
//! same text, so it is formatted in UTC on both sides: a local time zone
//! would differ between the two and break hydration.

/// `2026-11-25 06:40 UTC` for Unix milliseconds; an out-of-range value shows
/// as a dash rather than a wrong date.
pub(crate) fn format_utc(unix_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(unix_ms) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => "—".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn formats_in_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_795_000_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(format_utc(i64::MAX), "—");
    }
}
