//! `/flows/{namespace}/{id}[/{tab}]`: one flow, with the tabs Overview,
//! Editor, Topology, Executions and Revisions; and `/flows/new`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

// FIXME(issue 7): the tabs.
#[component]
pub(crate) fn FlowPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.with(|p| format!("{}.{}", p.get("namespace").unwrap_or_default(), p.get("id").unwrap_or_default()));
    view! {
        <Title text=name />
        <h1>{name}</h1>
    }
}

// FIXME(issue 7): the editor on an empty flow.
#[component]
pub(crate) fn NewFlowPage() -> impl IntoView {
    view! {
        <Title text="New flow" />
        <h1>"New flow"</h1>
    }
}
