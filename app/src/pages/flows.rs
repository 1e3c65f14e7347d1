//! `/flows`: the stored flows, searchable.
//!
//! The search box works before hydration too: it is a GET form, so pressing
//! Enter reloads `/flows?q=…`, which the server renders. Once hydrated, each
//! keystroke asks the `search_flows` server function instead, without a
//! reload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::time::format_utc;

/// One flow, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRow {
    pub namespace: String,
    pub id: String,
    pub description: Option<String>,
    pub revision: i64,
    /// Unix milliseconds of the last save.
    pub updated_at: i64,
}

/// Flows whose namespace, id or description contains `query`.
#[server(prefix = "/rpc", endpoint = "search_flows")]
pub async fn search_flows(query: String) -> Result<Vec<FlowRow>, ServerFnError> {
    let store = use_context::<engine::store::Store>()
        .ok_or_else(|| ServerFnError::new("the store is not available"))?;
    let flows = store.search_flows(&query).await.map_err(|error| {
        tracing::error!(%error, "searching flows failed");
        ServerFnError::new("searching flows failed; the server log has the details")
    })?;
    Ok(flows
        .into_iter()
        .map(|flow| FlowRow {
            namespace: flow.namespace.to_string(),
            id: flow.id.to_string(),
            description: flow.description,
            revision: flow.revision,
            updated_at: flow.updated_at,
        })
        .collect())
}

#[component]
pub(crate) fn FlowsPage() -> impl IntoView {
    let initial = use_query_map().with_untracked(|query| query.get("q").unwrap_or_default());
    let query = RwSignal::new(initial);
    let flows = Resource::new(move || query.get(), search_flows);

    view! {
        <Title text="Flows" />
        <div class="page-header">
            <h1>"Flows"</h1>
            <form class="search" role="search" method="get" action="/flows" on:submit=|ev| ev.prevent_default()>
                <label for="flow-search" class="visually-hidden">"Search flows"</label>
                <input
                    id="flow-search"
                    type="search"
                    name="q"
                    placeholder="Search by namespace, id or description"
                    autocomplete="off"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
            </form>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading flows…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    flows.await.map(|rows| view! { <FlowTable rows query=query.get_untracked() /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn FlowTable(rows: Vec<FlowRow>, query: String) -> impl IntoView {
    if rows.is_empty() {
        return if query.trim().is_empty() { view! { <NoFlows /> }.into_any() } else {
            view! {
                <p class="empty" role="status">
                    "No flow matches “" {query} "”. Search looks in namespaces, ids and descriptions."
                </p>
            }
            .into_any()
        };
    }
    let count = rows.len();
    view! {
        <table class="data-table">
            <caption class="visually-hidden">{format!("{count} flows")}</caption>
            <thead>
                <tr>
                    <th scope="col">"Namespace"</th>
                    <th scope="col">"Id"</th>
                    <th scope="col">"Description"</th>
                    <th scope="col">"Revision"</th>
                    <th scope="col">"Last update"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        view! {
                            <tr>
                                <td class="mono">{row.namespace}</td>
                                <td class="mono strong">{row.id}</td>
                                <td>{row.description.unwrap_or_default()}</td>
                                <td class="num">{row.revision}</td>
                                <td class="nowrap">{format_utc(row.updated_at)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The empty state: says how to add the first flow.
#[component]
fn NoFlows() -> impl IntoView {
    view! {
        <section class="empty" aria-labelledby="no-flows">
            <h2 id="no-flows">"No flows yet"</h2>
            <p>
                "A flow is a YAML file that says what to run on Databricks. Start from one of the "
                <a href="/blueprints">"blueprints"</a> ", or send your own to the API:"
            </p>
            <pre class="code"><code>"curl -X POST http://HOST:PORT/api/v1/flows \\\n  -H 'Content-Type: application/x-yaml' \\\n  --data-binary @my_flow.yml"</code></pre>
        </section>
    }
}

/// Errors from a server function, in words.
#[component]
pub(crate) fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div class="error" role="alert">
            <p>"Something went wrong:"</p>
            <ul>
                {move || {
                    errors.get().into_iter().map(|(_, error)| view! { <li>{error.to_string()}</li> }).collect_view()
                }}
            </ul>
        </div>
    }
}
