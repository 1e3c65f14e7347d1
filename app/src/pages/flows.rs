//! `/flows`: the stored flows, searchable and filtered by namespace, each
//! with the state of its last execution and an Execute button.
//!
//! The search box works before hydration too: it is a GET form, so pressing
//! Enter reloads `/flows?q=…`, which the server renders. Once hydrated, each
//! keystroke asks the `search_flows` server function instead, without a
//! reload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::execute::ExecuteButton;
use crate::components::status::StateBadge;
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
    /// The state and id of the flow's newest execution, if any.
    #[serde(default)]
    pub last_execution: Option<(String, String)>,
}

/// Flows whose namespace, id or description contains `query`.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "search_flows")]
pub async fn search_flows(query: String) -> Result<Vec<FlowRow>, ServerFnError> {
    let scopes = crate::auth::require_any()?.scopes(engine::auth::Role::Viewer);
    let store = crate::context::store()?;
    let failed = |error| crate::context::failed("searching flows", error);
    let mut flows = store.search_flows(&query).await.map_err(failed)?;
    flows.retain(|f| engine::auth::in_scopes(scopes.as_deref(), f.namespace.as_str()));
    let last: std::collections::HashMap<(String, String), (String, String)> = store
        .last_executions()
        .await
        .map_err(failed)?
        .into_iter()
        .map(|e| {
            (
                (e.namespace.to_string(), e.flow_id.to_string()),
                (e.state.as_str().to_owned(), e.id.to_string()),
            )
        })
        .collect();
    Ok(flows
        .into_iter()
        .map(|flow| FlowRow {
            last_execution: last
                .get(&(flow.namespace.to_string(), flow.id.to_string()))
                .cloned(),
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
    let namespace = RwSignal::new(
        use_query_map().with_untracked(|query| query.get("namespace").unwrap_or_default()),
    );
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
                    flows.await.map(|rows| {
                        let mut namespaces: Vec<String> = rows.iter().map(|r| r.namespace.clone()).collect();
                        namespaces.dedup();
                        let rows = StoredValue::new(rows);
                        view! {
                            <Show when=move || { namespaces.len() > 1 }>
                                <label class="namespace-filter">"Namespace "
                                    <select prop:value=move || namespace.get() on:change=move |ev| namespace.set(event_target_value(&ev))>
                                        <option value="">"All namespaces"</option>
                                        {rows.with_value(|rows| {
                                            let mut names: Vec<String> = rows.iter().map(|r| r.namespace.clone()).collect();
                                            names.dedup();
                                            names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()
                                        })}
                                    </select>
                                </label>
                            </Show>
                            {move || {
                                let ns = namespace.get();
                                let shown: Vec<FlowRow> = rows.with_value(|rows| {
                                    rows.iter().filter(|r| ns.is_empty() || r.namespace == ns || r.namespace.starts_with(&format!("{ns}."))).cloned().collect()
                                });
                                view! { <FlowTable rows=shown query=query.get_untracked() /> }
                            }}
                        }
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn FlowTable(rows: Vec<FlowRow>, query: String) -> impl IntoView {
    if rows.is_empty() {
        return if query.trim().is_empty() {
            view! { <NoFlows /> }.into_any()
        } else {
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
                    <th scope="col">"Last execution"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|row| {
                        let last = row.last_execution.clone().map(|(state, id)| {
                            view! { <a href=format!("/executions/{id}") title="Last execution"><StateBadge state /></a> }.into_any()
                        });
                        view! {
                            <tr>
                                <td class="mono">
                                    <a href=format!("/namespaces/{}/kv", row.namespace) title=format!("The KV store of {}", row.namespace)>{row.namespace.clone()}</a>
                                </td>
                                <td class="mono strong"><a href=format!("/flows/{}/{}", row.namespace, row.id)>{row.id.clone()}</a></td>
                                <td>{row.description.unwrap_or_default()}</td>
                                <td class="num">{row.revision}</td>
                                <td class="nowrap">{format_utc(row.updated_at)}</td>
                                <td>{last.unwrap_or_else(|| view! { <span class="muted">"never run"</span> }.into_any())}</td>
                                <td><ExecuteButton namespace=row.namespace flow_id=row.id /></td>
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
