//! `/namespaces/:namespace/kv`: a namespace's KV store. The keys with their
//! type, value, last update and expiry; a form that sets a key (a JSON
//! value keeps its type, anything else is text; an optional TTL); a
//! delete button per key. Changes go through the REST API
//! (`/api/v1/namespaces/{ns}/kv`), as Kestra's UI does.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::browser;
use crate::time::format_utc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvRow {
    pub key: String,
    pub kind: String,
    /// The value as JSON text, cut to a preview.
    pub value: String,
    pub description: Option<String>,
    pub updated: i64,
    pub expires: Option<i64>,
}

/// The longest value shown in the table.
const PREVIEW: usize = 200;

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "list_kv")]
pub async fn list_kv(namespace: String) -> Result<Vec<KvRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    let storage: engine::storage::Storage = crate::context::service("internal storage")?;
    let kv = storage
        .kv(&namespace)
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    let entries = kv
        .list()
        .map_err(|e| crate::context::failed("reading the KV store", e))?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let mut value = match &e.value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if value.len() > PREVIEW {
                let mut end = PREVIEW;
                while !value.is_char_boundary(end) {
                    end -= 1;
                }
                value.truncate(end);
                value.push('…');
            }
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            KvRow {
                key: e.key,
                kind,
                value,
                description: e.description,
                updated: e.update_date,
                expires: e.expiration_date,
            }
        })
        .collect())
}

#[component]
pub(crate) fn KvPage() -> impl IntoView {
    let params = use_params_map();
    let namespace = move || params.with(|p| p.get("namespace").unwrap_or_default());
    let version = RwSignal::new(0u32);
    let rows = Resource::new(move || (namespace(), version.get()), |(ns, _)| list_kv(ns));
    let key = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let ttl = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let url = move |key: &str| {
        format!(
            "/api/v1/namespaces/{}/kv/{}",
            browser::encode(&namespace()),
            browser::encode(key)
        )
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (k, v, t) = (
            key.get_untracked().trim().to_owned(),
            value.get_untracked(),
            ttl.get_untracked().trim().to_owned(),
        );
        if k.is_empty() {
            error.set(Some(
                "give the key a name: letters, digits, `.`, `_` and `-`".into(),
            ));
            return;
        }
        busy.set(true);
        let target = url(&k);
        leptos::task::spawn_local(async move {
            let headers: Vec<(&str, &str)> = if t.is_empty() {
                Vec::new()
            } else {
                vec![("ttl", t.as_str())]
            };
            let answer = browser::send_text("PUT", &target, &v, &headers).await;
            busy.set(false);
            match answer {
                Ok(answer) if answer.ok() => {
                    error.set(None);
                    key.set(String::new());
                    value.set(String::new());
                    ttl.set(String::new());
                    version.update(|n| *n += 1);
                }
                Ok(answer) => error.set(Some(answer.message())),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let delete = move |k: String| {
        let target = url(&k);
        leptos::task::spawn_local(async move {
            match browser::send("DELETE", &target, None).await {
                Ok(answer) if answer.ok() => version.update(|n| *n += 1),
                Ok(answer) => error.set(Some(answer.message())),
                Err(e) => error.set(Some(e)),
            }
        });
    };

    view! {
        <Title text=move || format!("KV store · {}", namespace()) />
        <div class="page-header">
            <h1>"KV store " <span class="mono">{namespace}</span></h1>
            <p class="muted">"Values the flows of this namespace read with " <code>"kv('key')"</code> " and set with the kv.Set task; a flow also reads its parent namespaces' keys. "
                <a href=move || format!("/namespaces/{}/files", namespace())>"Files"</a> " · "
                <a href=move || format!("/namespaces/{}/secrets", namespace())>"Secrets"</a></p>
        </div>
        <Show when=move || crate::auth::can(engine::auth::Role::Editor, Some(&namespace()))>
        <form class="kv-form" on:submit=on_submit aria-label="Set a key">
            <div class="field">
                <label for="kv-key">"Key"</label>
                <input id="kv-key" class="mono" autocomplete="off" prop:value=move || key.get() on:input=move |ev| key.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="kv-value">"Value"</label>
                <textarea id="kv-value" class="mono" rows="2" aria-describedby="kv-value-help"
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))></textarea>
                <small id="kv-value-help" class="muted">"JSON keeps its type (42, true, {\"a\": 1}); anything else is text."</small>
            </div>
            <div class="field">
                <label for="kv-ttl">"Expires after"</label>
                <input id="kv-ttl" class="mono" placeholder="PT1H" autocomplete="off" aria-describedby="kv-ttl-help"
                    prop:value=move || ttl.get() on:input=move |ev| ttl.set(event_target_value(&ev)) />
                <small id="kv-ttl-help" class="muted">"Optional, an ISO-8601 duration."</small>
            </div>
            <button type="submit" class="button primary" disabled=move || busy.get()>"Set"</button>
        </form>
        </Show>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    rows.await.map(|rows| {
                        if rows.is_empty() {
                            return view! { <p class="empty" role="status">"No keys in this namespace yet."</p> }.into_any();
                        }
                        view! {
                            <table class="data-table">
                                <caption class="visually-hidden">{format!("{} keys", rows.len())}</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Key"</th>
                                        <th scope="col">"Type"</th>
                                        <th scope="col">"Value"</th>
                                        <th scope="col">"Updated"</th>
                                        <th scope="col">"Expires"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows.into_iter().map(|row| {
                                        let k = row.key.clone();
                                        view! {
                                            <tr>
                                                <td class="mono strong" title=row.description.clone().unwrap_or_default()>{row.key.clone()}</td>
                                                <td>{row.kind}</td>
                                                <td class="mono">{row.value}</td>
                                                <td class="nowrap">{format_utc(row.updated)}</td>
                                                <td class="nowrap">{row.expires.map_or_else(|| "never".to_owned(), format_utc)}</td>
                                                <td>
                                                    <button type="button" class="button" aria-label=format!("Delete {}", row.key)
                                                        on:click=move |_| delete(k.clone())>"Delete"</button>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}
