//! A namespace's secrets: names, who set them and when. Admins of the
//! namespace set, replace and delete them (through
//! `/api/v1/namespaces/{ns}/secrets`); a value goes in and never comes
//! back, not even to them.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::browser;
use crate::time::format_utc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRow {
    pub name: String,
    pub set_by: String,
    pub updated_at: i64,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "list_secrets")]
pub async fn list_secrets(namespace: String) -> Result<Vec<SecretRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Editor, Some(&namespace))?;
    engine::ids::check_namespace(&namespace).map_err(ServerFnError::new)?;
    let secrets: engine::secret_store::SecretStore = crate::context::service("the secrets")?;
    let entries = secrets
        .list(&engine::ids::Namespace::new(&namespace))
        .await
        .map_err(|e| crate::context::failed("listing the secrets", e))?;
    Ok(entries
        .into_iter()
        .map(|e| SecretRow {
            name: e.name.to_string(),
            set_by: e.set_by,
            updated_at: e.updated_at,
        })
        .collect())
}

#[component]
pub(crate) fn SecretsPage() -> impl IntoView {
    let params = use_params_map();
    let namespace = move || params.with(|p| p.get("namespace").unwrap_or_default());
    let admin = move || crate::auth::can(engine::auth::Role::Admin, Some(&namespace()));
    let version = RwSignal::new(0u32);
    let rows = Resource::new(
        move || (namespace(), version.get()),
        |(ns, _)| list_secrets(ns),
    );
    let (name, value) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let error = RwSignal::new(None::<String>);
    let url = move |key: &str| {
        format!(
            "/api/v1/namespaces/{}/secrets/{}",
            browser::encode(&namespace()),
            browser::encode(key)
        )
    };
    let done = move |answer: Result<browser::Answer, String>| match answer {
        Ok(answer) if answer.ok() => {
            error.set(None);
            version.update(|n| *n += 1);
            true
        }
        Ok(answer) => {
            error.set(Some(answer.message()));
            false
        }
        Err(e) => {
            error.set(Some(e));
            false
        }
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (target, body) = (url(name.get_untracked().trim()), value.get_untracked());
        leptos::task::spawn_local(async move {
            if done(
                browser::send_text("PUT", &target, &body, &[("content-type", "text/plain")]).await,
            ) {
                name.set(String::new());
                value.set(String::new());
            }
        });
    };
    let delete = move |key: String| {
        let target = url(&key);
        leptos::task::spawn_local(async move {
            done(browser::send("DELETE", &target, None).await);
        });
    };
    view! {
        <Title text=move || format!("Secrets · {}", namespace()) />
        <div class="page-header">
            <h1>"Secrets " <span class="mono">{namespace}</span></h1>
            <p class="muted">
                "Flows of this namespace and those under it read them with " <code>"secret('NAME')"</code>
                "; values are encrypted at rest, masked in logs and outputs, and never shown again. "
                <a href=move || format!("/namespaces/{}/kv", namespace())>"KV store"</a> " · "
                <a href=move || format!("/namespaces/{}/files", namespace())>"Files"</a>
            </p>
        </div>
        <Show when=admin fallback=|| view! { <p class="muted">"Only admins of this namespace set and delete secrets."</p> }>
            <form class="kv-form" on:submit=on_submit aria-label="Set a secret">
                <div class="field">
                    <label for="secret-name">"Name"</label>
                    <input id="secret-name" class="mono" required autocomplete="off" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for="secret-value">"Value"</label>
                    <input id="secret-value" type="password" required autocomplete="new-password" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
                </div>
                <button type="submit" class="button primary">"Set"</button>
            </form>
        </Show>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted">"Loading secrets…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    rows.await.map(|rows| {
                        if rows.is_empty() {
                            return view! { <p class="empty" role="status">"No secrets in this namespace yet."</p> }.into_any();
                        }
                        view! {
                            <table class="data-table">
                                <caption class="visually-hidden">"Secrets"</caption>
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Set by"</th><th scope="col">"Set (UTC)"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|row| {
                                        let key = row.name.clone();
                                        view! {
                                            <tr>
                                                <td class="mono strong">{row.name.clone()}</td>
                                                <td>{row.set_by}</td>
                                                <td class="nowrap">{format_utc(row.updated_at)}</td>
                                                <td>{admin().then(|| view! {
                                                    <button type="button" class="button" aria-label=format!("Delete {}", row.name)
                                                        on:click=move |_| delete(key.clone())>"Delete"</button>
                                                })}</td>
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
