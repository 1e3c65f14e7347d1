//! The Gantt chart of an execution: one row per task run, one segment per
//! attempt, on the execution's time line. A running attempt's bar reaches
//! `now`, so it grows with every refresh; hovering a segment shows its
//! duration.

use leptos::prelude::*;

use super::status::format_duration;

/// One task run as the chart draws it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GanttRow {
    pub label: String,
    pub state: String,
    /// One per attempt: its state, start and end (`None` while it runs).
    pub segments: Vec<(String, i64, Option<i64>)>,
}

#[component]
pub(crate) fn Gantt(
    #[prop(into)] rows: Signal<Vec<GanttRow>>,
    /// When the execution started.
    #[prop(into)]
    start: Signal<i64>,
    /// When it ended, or now while it runs.
    #[prop(into)]
    end: Signal<i64>,
) -> impl IntoView {
    let span = move || (end.get() - start.get()).max(1) as f64;
    view! {
        <div class="gantt" role="table" aria-label="Task runs over time">
            <div class="gantt-row gantt-axis" role="row">
                <span role="columnheader" class="gantt-label">"Task"</span>
                <span role="columnheader" class="gantt-track muted">
                    <span>"0 s"</span>
                    <span>{move || format_duration(end.get() - start.get())}</span>
                </span>
                <span role="columnheader" class="gantt-duration">"Duration"</span>
            </div>
            {move || {
                let (t0, t1, span) = (start.get(), end.get(), span());
                rows.get()
                    .into_iter()
                    .map(|row| {
                        let total: i64 = row.segments.iter().map(|(_, s, e)| e.unwrap_or(t1) - s).sum();
                        let attempts = row.segments.len();
                        let segments = row
                            .segments
                            .iter()
                            .enumerate()
                            .map(|(i, (state, s, e))| {
                                let running = e.is_none();
                                let stop = e.unwrap_or(t1).max(*s);
                                let left = (s - t0) as f64 / span * 100.0;
                                let width = ((stop - s) as f64 / span * 100.0).max(0.4);
                                let duration = stop - s;
                                let title = format!("attempt {}: {state}, {}", i + 1, format_duration(duration));
                                view! {
                                    <span
                                        class=format!("gantt-bar state-{state}{}", if running { " running" } else { "" })
                                        style=format!("left: {left:.3}%; width: {width:.3}%")
                                        title=title.clone()
                                        aria-label=title
                                        data-duration-ms=duration
                                    ></span>
                                }
                            })
                            .collect_view();
                        view! {
                            <div class="gantt-row" role="row" data-task=row.label.clone()>
                                <span role="rowheader" class="gantt-label mono" title=row.label.clone()>{row.label.clone()}</span>
                                <span role="cell" class="gantt-track">{segments}</span>
                                <span role="cell" class="gantt-duration num">
                                    {format_duration(total)}
                                    {(attempts > 1).then(|| format!(" · {attempts} attempts"))}
                                </span>
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </div>
    }
}
