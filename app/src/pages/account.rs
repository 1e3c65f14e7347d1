//! The user's own page: who they are, their password, their API tokens
//! (made and revoked through `/api/v1/me/…`; a token's secret is shown
//! once, when it is made).

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::browser;
use crate::time::format_utc;

/// One API token in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The caller's tokens.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "my_tokens")]
pub async fn my_tokens() -> Result<Vec<TokenRow>, ServerFnError> {
    let principal = crate::auth::require_any()?;
    let tokens = crate::context::store()?
        .tokens(&principal.user)
        .await
        .map_err(|e| crate::context::failed("reading the tokens", e))?;
    Ok(tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used: t.last_used,
            revoked_at: t.revoked_at,
        })
        .collect())
}

#[component]
pub(crate) fn AccountPage() -> impl IntoView {
    let me = crate::auth::me();
    let version = RwSignal::new(0u32);
    let tokens = Resource::new(move || version.get(), |_| my_tokens());
    let (current, new, again) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let password_note = RwSignal::new(None::<Result<String, String>>);
    let change_password = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if new.get_untracked() != again.get_untracked() {
            password_note.set(Some(Err("the two new passwords differ".into())));
            return;
        }
        let body = serde_json::json!({"currentPassword": current.get_untracked(), "newPassword": new.get_untracked()}).to_string();
        leptos::task::spawn_local(async move {
            let answer = browser::send_text(
                "PUT",
                "/api/v1/me/password",
                &body,
                &[("content-type", "application/json")],
            )
            .await;
            password_note.set(Some(match answer {
                Ok(answer) if answer.ok() => {
                    current.set(String::new());
                    new.set(String::new());
                    again.set(String::new());
                    Ok("Password changed; your other sessions have ended.".into())
                }
                Ok(answer) => Err(answer.message()),
                Err(e) => Err(e),
            }));
        });
    };
    let (token_name, token_days) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::from("90")),
    );
    let made = RwSignal::new(None::<String>);
    let token_error = RwSignal::new(None::<String>);
    let make_token = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let days = token_days.get_untracked().trim().parse::<u32>().ok();
        let body = serde_json::json!({"name": token_name.get_untracked(), "expiresInDays": days})
            .to_string();
        leptos::task::spawn_local(async move {
            match browser::send_text(
                "POST",
                "/api/v1/me/tokens",
                &body,
                &[("content-type", "application/json")],
            )
            .await
            {
                Ok(answer) if answer.ok() => {
                    let secret = serde_json::from_str::<serde_json::Value>(&answer.body)
                        .ok()
                        .and_then(|v| v["token"].as_str().map(str::to_owned));
                    made.set(secret);
                    token_error.set(None);
                    token_name.set(String::new());
                    version.update(|n| *n += 1);
                }
                Ok(answer) => token_error.set(Some(answer.message())),
                Err(e) => token_error.set(Some(e)),
            }
        });
    };
    let revoke = move |id: String| {
        leptos::task::spawn_local(async move {
            match browser::send(
                "DELETE",
                &format!("/api/v1/me/tokens/{}", browser::encode(&id)),
                None,
            )
            .await
            {
                Ok(answer) if answer.ok() => version.update(|n| *n += 1),
                Ok(answer) => token_error.set(Some(answer.message())),
                Err(e) => token_error.set(Some(e)),
            }
        });
    };
    let name = me.as_ref().map(|m| m.user.clone()).unwrap_or_default();
    let grants = me
        .map(|m| {
            m.grants
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    view! {
        <Title text="Account" />
        <div class="page-header">
            <h1>"Account " <span class="mono">{name}</span></h1>
            <p class="muted">"Roles: " <span class="mono">{grants}</span></p>
        </div>
        <section class="panel" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <form class="kv-form" on:submit=change_password aria-label="Change the password">
                <div class="field">
                    <label for="current-password">"Current password"</label>
                    <input id="current-password" type="password" autocomplete="current-password" required
                        prop:value=move || current.get() on:input=move |ev| current.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for="new-password">"New password"</label>
                    <input id="new-password" type="password" autocomplete="new-password" required minlength=engine::auth::MIN_PASSWORD
                        prop:value=move || new.get() on:input=move |ev| new.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for="new-password-again">"New password again"</label>
                    <input id="new-password-again" type="password" autocomplete="new-password" required
                        prop:value=move || again.get() on:input=move |ev| again.set(event_target_value(&ev)) />
                </div>
                <button type="submit" class="button primary">"Change the password"</button>
            </form>
            {move || password_note.get().map(|note| match note {
                Ok(text) => view! { <p class="success" role="status">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
            })}
        </section>
        <section class="panel" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">"API tokens"</h2>
            <p class="muted">"Send one as " <code>"Authorization: Bearer …"</code> " from scripts and CI. It acts as you, with your roles."</p>
            <form class="kv-form" on:submit=make_token aria-label="Make an API token">
                <div class="field">
                    <label for="token-name">"Name"</label>
                    <input id="token-name" required autocomplete="off" placeholder="ci"
                        prop:value=move || token_name.get() on:input=move |ev| token_name.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for="token-days">"Expires after (days, empty: never)"</label>
                    <input id="token-days" inputmode="numeric" autocomplete="off"
                        prop:value=move || token_days.get() on:input=move |ev| token_days.set(event_target_value(&ev)) />
                </div>
                <button type="submit" class="button primary">"Make a token"</button>
            </form>
            {move || made.get().map(|secret| view! {
                <div class="panel" role="status">
                    <p>"Your new token, shown this once: copy it now."</p>
                    <pre class="code"><code class="mono" data-testid="new-token">{secret}</code></pre>
                </div>
            })}
            {move || token_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Transition fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        tokens.await.map(|rows| view! {
                            <table class="data-table">
                                <caption class="visually-hidden">"API tokens"</caption>
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Id"</th><th scope="col">"Made"</th>
                                    <th scope="col">"Expires"</th><th scope="col">"Last used"</th><th scope="col">"State"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|row| {
                                        let id = row.id.clone();
                                        let live = row.revoked_at.is_none();
                                        view! {
                                            <tr>
                                                <td class="strong">{row.name.clone()}</td>
                                                <td class="mono">{row.id.clone()}</td>
                                                <td class="nowrap">{format_utc(row.created_at)}</td>
                                                <td class="nowrap">{row.expires_at.map_or_else(|| "never".to_owned(), format_utc)}</td>
                                                <td class="nowrap">{row.last_used.map_or_else(|| "never".to_owned(), format_utc)}</td>
                                                <td>{if live { "live" } else { "revoked" }}</td>
                                                <td>{live.then(|| view! {
                                                    <button type="button" class="button" aria-label=format!("Revoke {}", row.name)
                                                        on:click=move |_| revoke(id.clone())>"Revoke"</button>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
