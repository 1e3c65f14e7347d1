//! `/blueprints`: the ready-made flows shipped with Mortar, each with its
//! description, tags (what it uses), a preview of its topology and "Use",
//! which opens the editor prefilled.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::topology::Topology;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueprintRow {
    pub namespace: String,
    pub id: String,
    pub description: Option<String>,
    pub source: String,
    /// What the flow uses: `Databricks`, `SQL`, `Jobs`, `DBFS`...
    pub tags: Vec<String>,
}

#[cfg(feature = "ssr")]
/// Tags from the task types a flow uses (the `type:` lines of its YAML).
fn tags(source: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for line in source.lines() {
        let Some(kind) = line.trim().strip_prefix("type:").map(str::trim) else {
            continue;
        };
        let kind = kind.trim_matches('"');
        let found: &[&str] = match kind {
            k if k.contains(".sql.") => &["Databricks", "SQL"],
            k if k.contains(".cluster.") => &["Databricks", "Clusters"],
            k if k.contains(".job.") => &["Databricks", "Jobs"],
            k if k.contains(".dbfs.") => &["Databricks", "DBFS"],
            k if k.contains(".flow.") => &["Flowable"],
            k if k.contains("trigger") || k.contains("Schedule") => &["Schedule"],
            _ => &["Core"],
        };
        for tag in found {
            if !tags.iter().any(|t| t == tag) {
                tags.push((*tag).to_owned());
            }
        }
    }
    tags
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "list_blueprints")]
pub async fn list_blueprints() -> Result<Vec<BlueprintRow>, ServerFnError> {
    crate::auth::require_any()?;
    Ok(engine::blueprints::all()
        .into_iter()
        .map(|b| BlueprintRow {
            namespace: b.header.namespace.to_string(),
            id: b.header.id.to_string(),
            description: b.header.description,
            source: b.source.to_owned(),
            tags: tags(b.source),
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
        <li class="card blueprint">
            <h2 class="mono">{b.id.clone()}</h2>
            <p class="muted mono">{b.namespace}</p>
            <p>{b.description.unwrap_or_default()}</p>
            <ul class="chips" aria-label="Tags">{b.tags.into_iter().map(|t| view! { <li class="chip">{t}</li> }).collect_view()}</ul>
            <Topology source=Signal::stored(b.source.clone()) />
            <p><a class="button primary" href=format!("/flows/new?blueprint={}", b.id) aria-label=format!("Use {}", b.id)>"Use"</a></p>
            <details>
                <summary>"Show the YAML"</summary>
                <pre class="code"><code>{b.source}</code></pre>
            </details>
        </li>
    }
}
