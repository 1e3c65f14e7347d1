//! `/`: the dashboard.

use leptos::prelude::*;
use leptos_meta::Title;

// FIXME(issue 8): executions by state over time, recent failures.
#[component]
pub(crate) fn HomePage() -> impl IntoView {
    view! {
        <Title text="" />
        <h1>"Mortar"</h1>
        <p><a href="/flows">"Flows"</a></p>
    }
}
