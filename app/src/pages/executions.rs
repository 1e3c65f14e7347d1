//! `/executions`: the history of flow runs.

use leptos::prelude::*;
use leptos_meta::Title;

// FIXME(issue 8): list executions from the store once the executor writes
// them (issue 5); until then this page only says where they will appear.
#[component]
pub(crate) fn ExecutionsPage() -> impl IntoView {
    view! {
        <Title text="Executions" />
        <div class="page-header">
            <h1>"Executions"</h1>
        </div>
        <section class="empty" aria-labelledby="no-executions">
            <h2 id="no-executions">"No executions yet"</h2>
            <p>"Every run of a flow is listed here, newest first, with its state and duration."</p>
        </section>
    }
}
