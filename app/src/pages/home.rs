//! `/`: the dashboard. Executions by state over the last two weeks (an SVG
//! chart) and the recent failures.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::executions::ExecutionRow;
use super::flows::ErrorList;
use crate::components::chart::{Bucket, StateChart};
use crate::components::status::{StateBadge, format_duration, format_utc_seconds};

#[cfg(feature = "ssr")]
/// Days the chart covers, today included.
const DAYS: i64 = 14;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub days: Vec<Bucket>,
    pub failures: Vec<ExecutionRow>,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "dashboard")]
pub async fn read_dashboard() -> Result<Dashboard, ServerFnError> {
    use crate::components::chart::CHART_STATES;
    const DAY_MS: i64 = 86_400_000;
    let scopes = crate::auth::require_any()?.scopes(engine::auth::Role::Viewer);
    let store = crate::context::store()?;
    let failed =
        |error: engine::store::StoreError| crate::context::failed("reading the dashboard", error);
    let now = jiff::Timestamp::now().as_millisecond();
    let first_day = (now / DAY_MS - (DAYS - 1)) * DAY_MS;
    let counts = store
        .state_counts(first_day, now + 1, DAY_MS)
        .await
        .map_err(failed)?;
    let days = (0..DAYS)
        .map(|i| {
            let start = first_day + i * DAY_MS;
            let label = jiff::Timestamp::from_millisecond(start)
                .map(|t| t.strftime("%m-%d").to_string())
                .unwrap_or_default();
            let counts = CHART_STATES
                .iter()
                .map(|state| {
                    counts
                        .iter()
                        .filter(|c| c.bucket == start)
                        .filter(|c| match *state {
                            // Everything under way counts as running.
                            "RUNNING" => !c.state.is_terminal(),
                            other => c.state.as_str() == other,
                        })
                        .map(|c| c.count)
                        .sum()
                })
                .collect();
            Bucket { label, counts }
        })
        .collect();
    let mut failures = store
        .recent_executions(&[engine::state::State::Failed], 10)
        .await
        .map_err(failed)?;
    failures.retain(|e| engine::auth::in_scopes(scopes.as_deref(), e.namespace.as_str()));
    Ok(Dashboard {
        days,
        failures: failures
            .into_iter()
            .map(|e| super::executions::ssr::row(e, now))
            .collect(),
    })
}

#[component]
pub(crate) fn HomePage() -> impl IntoView {
    let data = Resource::new(|| (), |()| read_dashboard());
    view! {
        <Title text="" />
        <div class="page-header">
            <h1>"Dashboard"</h1>
            <p class="muted"><a href="/flows">"Flows"</a> " · " <a href="/executions">"Executions"</a> " · " <a href="/blueprints">"Blueprints"</a></p>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    data.await.map(|d| view! {
                        <section aria-labelledby="by-state-heading" class="panel">
                            <h2 id="by-state-heading">"Executions by state"</h2>
                            <StateChart buckets=d.days title="Executions per day, last 14 days (UTC)" />
                        </section>
                        <section aria-labelledby="failures-heading" class="panel">
                            <h2 id="failures-heading">"Recent failures"</h2>
                            <Failures rows=d.failures />
                        </section>
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn Failures(rows: Vec<ExecutionRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No failed execution. "</p> }.into_any();
    }
    view! {
        <table class="data-table">
            <thead><tr>
                <th scope="col">"Execution"</th><th scope="col">"Flow"</th><th scope="col">"State"</th>
                <th scope="col">"Started"</th><th scope="col">"Duration"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| view! {
                    <tr>
                        <td class="mono"><a href=format!("/executions/{}", row.id)>{row.id.clone()}</a></td>
                        <td class="mono">{format!("{}.{}", row.namespace, row.flow_id)}</td>
                        <td><StateBadge state=row.state /></td>
                        <td class="nowrap">{format_utc_seconds(row.created_at)}</td>
                        <td class="num">{format_duration(row.duration)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <p><a href="/executions?state=FAILED">"All failed executions"</a></p>
    }
    .into_any()
}
