//! Small pieces every execution view shares: a state badge, durations and
//! times with seconds.

use leptos::prelude::*;

/// A state name as a coloured badge. The colour comes from
/// `.state-<NAME>` in `style/executions.css`; the text says it too.
#[component]
pub(crate) fn StateBadge(#[prop(into)] state: Signal<String>) -> impl IntoView {
    view! { <span class=move || format!("state-badge state-{}", state.get())>{move || state.get()}</span> }
}

/// True for the states after which nothing changes any more.
pub(crate) fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "SUCCESS" | "WARNING" | "FAILED" | "KILLED" | "SKIPPED"
    )
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub(crate) fn format_duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {:02} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

/// `2026-11-25 06:40:12 UTC`: in UTC so that the server and the browser
/// render the same text (see `crate::time`).
pub(crate) fn format_utc_seconds(unix_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(unix_ms) {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => "—".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        for (ms, text) in [
            (-3, "0 ms"),
            (850, "850 ms"),
            (12_345, "12.3 s"),
            (245_000, "4 min 05 s"),
            (7_380_000, "2 h 03 min"),
        ] {
            assert_eq!(format_duration(ms), text);
        }
        assert_eq!(format_utc_seconds(1_000), "1970-01-01 00:00:01 UTC");
    }
}
