//! `/executions/{id}`: one execution, live.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

// FIXME(issue 8): header, topology, Gantt, task runs, outputs, logs.
#[component]
pub(crate) fn ExecutionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    view! {
        <Title text=id />
        <h1>"Execution " {id}</h1>
    }
}
