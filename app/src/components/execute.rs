//! The Execute button and the form of a flow's inputs it opens.

use leptos::prelude::*;

// FIXME(issue 8): the inputs form; until then a link to the flow.
#[component]
pub(crate) fn ExecuteButton(namespace: String, flow_id: String) -> impl IntoView {
    view! { <a class="button primary" href=format!("/flows/{namespace}/{flow_id}")>"Execute"</a> }
}
