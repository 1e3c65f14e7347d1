//! The topology: a flow's tasks as a layered graph in SVG, computed from the
//! YAML by `engine::flow::graph`, with live states on an execution's page.

use std::collections::HashMap;

use leptos::prelude::*;

// FIXME(issue 7): lay out and draw the graph.
/// `states` maps a task id to its current state (`RUNNING`, `SUCCESS`...);
/// `on_select` gets the task id of a clicked node.
#[component]
pub(crate) fn Topology(
    #[prop(into)] source: Signal<String>,
    #[prop(optional, into)] states: Option<Signal<HashMap<String, String>>>,
    #[prop(optional)] on_select: Option<Callback<String>>,
) -> impl IntoView {
    let _ = (states, on_select);
    view! { <div class="topology" data-source-len=move || source.with(String::len)></div> }
}
