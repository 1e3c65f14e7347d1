//! Executions by state over time: stacked bars in SVG, one per bucket, with
//! a legend, a `<title>` on every segment and the figures as a table for
//! screen readers.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The states drawn, bottom to top; others are counted under "other".
pub(crate) const CHART_STATES: [&str; 5] = ["SUCCESS", "WARNING", "FAILED", "KILLED", "RUNNING"];

/// The counts of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// A label such as `11-25`.
    pub label: String,
    /// Counts in the order of `CHART_STATES`.
    pub counts: Vec<i64>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const AXIS: f64 = 20.0;

#[component]
pub(crate) fn StateChart(buckets: Vec<Bucket>, #[prop(into)] title: String) -> impl IntoView {
    let max = buckets
        .iter()
        .map(|b| b.counts.iter().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH / buckets.len().max(1) as f64;
    let bar = (slot * 0.7).max(2.0);
    let total: i64 = buckets.iter().flat_map(|b| b.counts.iter()).sum();
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, bucket)| {
            let x = i as f64 * slot + (slot - bar) / 2.0;
            let mut y = HEIGHT;
            let segments = CHART_STATES
                .iter()
                .zip(&bucket.counts)
                .filter(|(_, n)| **n > 0)
                .map(|(state, n)| {
                    let h = *n as f64 / max as f64 * (HEIGHT - 10.0);
                    y -= h;
                    view! {
                        <rect class=format!("bar state-{state}") x=format!("{x:.1}") y=format!("{y:.1}")
                            width=format!("{bar:.1}") height=format!("{h:.1}")>
                            <title>{format!("{}: {n} {state}", bucket.label)}</title>
                        </rect>
                    }
                })
                .collect_view();
            let label = (buckets.len() <= 16 || i % 2 == 0).then(|| {
                view! {
                    <text class="axis-label" x=format!("{:.1}", x + bar / 2.0) y=format!("{}", HEIGHT + AXIS - 4.0) text-anchor="middle">
                        {bucket.label.clone()}
                    </text>
                }
            });
            view! { <g>{segments}{label}</g> }
        })
        .collect_view();
    let rows = buckets
        .iter()
        .map(|b| view! { <tr><th scope="row">{b.label.clone()}</th>{b.counts.iter().map(|n| view! { <td>{*n}</td> }).collect_view()}</tr> })
        .collect_view();
    view! {
        <figure class="state-chart">
            <svg viewBox=format!("0 0 {WIDTH} {}", HEIGHT + AXIS) role="img" aria-label=format!("{title}: {total} executions")>
                <line class="axis" x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT />
                {bars}
            </svg>
            <figcaption>
                <span class="muted">{title.clone()} " · most in one day: " {max}</span>
                <ul class="legend">
                    {CHART_STATES.map(|s| view! { <li><span class=format!("swatch state-{s}") aria-hidden="true"></span>{s}</li> })}
                </ul>
            </figcaption>
            <table class="visually-hidden">
                <caption>{title}</caption>
                <thead><tr><th scope="col">"Day"</th>{CHART_STATES.map(|s| view! { <th scope="col">{s}</th> })}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </figure>
    }
}
