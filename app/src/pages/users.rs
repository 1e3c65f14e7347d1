//! Admins' pages: the users (add, roles, disable) and the audit log. The
//! changes go through `/api/v1/users…`, which checks the role again.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::browser;
use crate::time::format_utc;

/// A user in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub name: String,
    pub grants: String,
    pub disabled: bool,
    pub updated_at: i64,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Admin, None)?;
    let users = crate::context::store()?
        .users()
        .await
        .map_err(|e| crate::context::failed("reading the users", e))?;
    Ok(users
        .into_iter()
        .map(|u| UserRow {
            name: u.name,
            grants: u
                .grants
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            disabled: u.disabled,
            updated_at: u.updated_at,
        })
        .collect())
}

/// A line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub at: i64,
    pub user: String,
    pub action: String,
    pub namespace: Option<String>,
    pub target: Option<String>,
    pub address: Option<String>,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "read_audit")]
pub async fn read_audit(
    user: String,
    action: String,
    namespace: String,
) -> Result<Vec<AuditRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Admin, None)?;
    let nonempty = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let query = engine::store::AuditQuery {
        actor: nonempty(user),
        action: nonempty(action),
        namespace: nonempty(namespace),
        before: None,
        limit: 500,
    };
    let lines = crate::context::store()?
        .audit_log(&query)
        .await
        .map_err(|e| crate::context::failed("reading the audit log", e))?;
    Ok(lines
        .into_iter()
        .map(|l| AuditRow {
            at: l.at,
            user: l.actor,
            action: l.action,
            namespace: l.namespace,
            target: l.target,
            address: l.address,
        })
        .collect())
}

/// Sends a JSON body to the API; the error in words.
async fn send_json(method: &str, url: &str, body: serde_json::Value) -> Result<(), String> {
    match browser::send_text(
        method,
        url,
        &body.to_string(),
        &[("content-type", "application/json")],
    )
    .await
    {
        Ok(answer) if answer.ok() => Ok(()),
        Ok(answer) => Err(answer.message()),
        Err(e) => Err(e),
    }
}

#[component]
pub(crate) fn UsersPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let users = Resource::new(move || version.get(), |_| list_users());
    let (name, password, grants) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::from("viewer")),
    );
    let error = RwSignal::new(None::<String>);
    let done = move |result: Result<(), String>| match result {
        Ok(()) => {
            error.set(None);
            version.update(|n| *n += 1);
        }
        Err(e) => error.set(Some(e)),
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list: Vec<String> = grants
            .get_untracked()
            .split(',')
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        let body = serde_json::json!({"name": name.get_untracked().trim(), "password": password.get_untracked(), "grants": list});
        leptos::task::spawn_local(async move {
            let result = send_json("POST", "/api/v1/users", body).await;
            if result.is_ok() {
                name.set(String::new());
                password.set(String::new());
            }
            done(result);
        });
    };
    let set = move |user: String, body: serde_json::Value| {
        leptos::task::spawn_local(async move {
            done(
                send_json(
                    "PUT",
                    &format!("/api/v1/users/{}", browser::encode(&user)),
                    body,
                )
                .await,
            )
        });
    };
    view! {
        <Title text="Users" />
        <div class="page-header">
            <h1>"Users"</h1>
            <p class="muted">
                "Roles, each including the ones before: viewer (read), operator (execute, kill, restart, replay), editor (flows, KV), admin (secrets; on every namespace: users, audit). "
                "Write " <code>"editor:company.data"</code> " for a namespace and those under it; separate several with commas."
            </p>
        </div>
        <form class="kv-form" on:submit=add aria-label="Add a user">
            <div class="field">
                <label for="user-name">"Name"</label>
                <input id="user-name" required autocomplete="off" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="user-password">"Password"</label>
                <input id="user-password" type="password" required autocomplete="new-password" minlength=engine::auth::MIN_PASSWORD
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="user-grants">"Roles"</label>
                <input id="user-grants" class="mono" required autocomplete="off" prop:value=move || grants.get() on:input=move |ev| grants.set(event_target_value(&ev)) />
            </div>
            <button type="submit" class="button primary">"Add the user"</button>
        </form>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    users.await.map(|rows| view! {
                        <table class="data-table">
                            <caption class="visually-hidden">"Users"</caption>
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Roles"</th><th scope="col">"State"</th><th scope="col">"Changed"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| {
                                    let (user, user2) = (row.name.clone(), row.name.clone());
                                    let roles = RwSignal::new(row.grants.clone());
                                    let disabled = row.disabled;
                                    view! {
                                        <tr>
                                            <td class="mono strong">{row.name.clone()}</td>
                                            <td>
                                                <input class="mono" aria-label=format!("Roles of {}", row.name) prop:value=move || roles.get()
                                                    on:input=move |ev| roles.set(event_target_value(&ev))
                                                    on:change=move |_| {
                                                        let list: Vec<String> = roles.get_untracked().split(',').map(|g| g.trim().to_owned()).filter(|g| !g.is_empty()).collect();
                                                        set(user.clone(), serde_json::json!({"grants": list}));
                                                    } />
                                            </td>
                                            <td>{if disabled { "disabled" } else { "enabled" }}</td>
                                            <td class="nowrap">{format_utc(row.updated_at)}</td>
                                            <td>
                                                <button type="button" class="button" on:click=move |_| set(user2.clone(), serde_json::json!({"disabled": !disabled}))>
                                                    {if disabled { "Enable" } else { "Disable" }}
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let field = move |name: &'static str| move || query.with(|q| q.get(name).unwrap_or_default());
    let (user, action, namespace) = (field("user"), field("action"), field("namespace"));
    let lines = Resource::new(
        move || (user(), action(), namespace()),
        |(u, a, n)| read_audit(u, a, n),
    );
    view! {
        <Title text="Audit log" />
        <div class="page-header">
            <h1>"Audit log"</h1>
            <p class="muted">"Who did what and when: logins, flow saves and deletes, executions started and acted on, secrets and users changed. Also at " <code>"GET /api/v1/audit"</code> "."</p>
        </div>
        <form class="kv-form" method="get" action="/audit" aria-label="Filter the audit log">
            <div class="field"><label for="audit-user">"User"</label><input id="audit-user" name="user" autocomplete="off" value=user /></div>
            <div class="field"><label for="audit-action">"Action"</label><input id="audit-action" name="action" class="mono" autocomplete="off" placeholder="flow.update" value=action /></div>
            <div class="field"><label for="audit-namespace">"Namespace"</label><input id="audit-namespace" name="namespace" class="mono" autocomplete="off" value=namespace /></div>
            <button type="submit" class="button primary">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    lines.await.map(|rows| view! {
                        <table class="data-table">
                            <caption class="visually-hidden">"Audit log, newest first"</caption>
                            <thead><tr>
                                <th scope="col">"When (UTC)"</th><th scope="col">"User"</th><th scope="col">"Action"</th>
                                <th scope="col">"Namespace"</th><th scope="col">"Target"</th><th scope="col">"From"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| view! {
                                    <tr>
                                        <td class="nowrap">{format_utc(row.at)}</td>
                                        <td class="mono">{row.user}</td>
                                        <td class="mono">{row.action}</td>
                                        <td class="mono">{row.namespace.unwrap_or_default()}</td>
                                        <td class="mono">{row.target.unwrap_or_default()}</td>
                                        <td class="mono">{row.address.unwrap_or_default()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}
