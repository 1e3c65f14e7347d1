//! `/blueprints`: the ready-made flows shipped with Mortar.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueprintRow {
    pub namespace: String,
    pub id: String,
    pub description: Option<String>,
    pub source: String,
}

#[server(prefix = "/rpc", endpoint = "list_blueprints")]
pub async fn list_blueprints() -> Result<Vec<BlueprintRow>, ServerFnError> {
    Ok(engine::blueprints::all()
        .into_iter()
        .map(|b| BlueprintRow {
            namespace: b.header.namespace.to_string(),
            id: b.header.id.to_string(),
            description: b.header.description,
            source: b.source.to_owned(),
        })
        .collect())
}

#[component]
pub(crate) fn BlueprintsPage() -> impl IntoView {
    let blueprints = Resource::new(|| (), |()| list_blueprints());
    view! {
        <Title text="Blueprints" />
        <div class="page-header">
            <h1>"Blueprints"</h1>
            <p class="muted">"Ready-made flows for Databricks. Each runs as it is against the embedded emulator."</p>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading blueprints…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    blueprints.await.map(|rows| {
                        view! {
                            <ul class="cards">
                                {rows.into_iter().map(|b| view! { <BlueprintCard b /> }).collect_view()}
                            </ul>
                        }
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn BlueprintCard(b: BlueprintRow) -> impl IntoView {
    view! {
        <li class="card">
            <h2 class="mono">{b.id}</h2>
            <p class="muted mono">{b.namespace}</p>
            <p>{b.description.unwrap_or_default()}</p>
            <details>
                <summary>"Show the YAML"</summary>
                <pre class="code"><code>{b.source}</code></pre>
            </details>
        </li>
    }
}
