//! `/templates`: Kestra's templates (deprecated there, still in use), named
//! lists of tasks that a flow.Template task runs. Every template the user
//! may read; the chosen one (`?namespace=&id=`) or a new one opens in
//! Mortar's editor, checked as a flow is as you type, saved or deleted
//! through the REST API (`/api/v1/templates`), which checks it again.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::browser;
use crate::components::editor::Editor;
use crate::time::format_utc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRow {
    pub namespace: String,
    pub id: String,
    pub description: Option<String>,
    pub updated_at: i64,
}

/// What a new template starts as.
const NEW_TEMPLATE: &str = "id: my_template\nnamespace: company.team\ndescription: Tasks several flows run\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ parent.outputs.args.greeting ?? 'hello' }}\"\n";

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "list_templates")]
pub async fn list_templates() -> Result<Vec<TemplateRow>, ServerFnError> {
    let store = crate::context::store()?;
    let all = store
        .search_templates("", None)
        .await
        .map_err(|e| crate::context::failed("listing the templates", e))?;
    Ok(all
        .into_iter()
        .filter(|t| crate::auth::can(engine::auth::Role::Viewer, Some(&t.namespace)))
        .map(|t| TemplateRow {
            namespace: t.namespace,
            id: t.id,
            description: t.description,
            updated_at: t.updated_at,
        })
        .collect())
}

/// A template's YAML, or `None` if there is none.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "template_source")]
pub async fn template_source(
    namespace: String,
    id: String,
) -> Result<Option<String>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    let store = crate::context::store()?;
    Ok(store
        .get_template(&namespace, &id)
        .await
        .map_err(|e| crate::context::failed("reading the template", e))?
        .map(|t| t.source))
}

#[component]
pub(crate) fn TemplatesPage() -> impl IntoView {
    let query = use_query_map();
    // (namespace, id) of the open template; ("", "") for a new one.
    let selected = move || {
        query.with(|q| match (q.get("namespace"), q.get("id")) {
            (Some(ns), Some(id)) => Some((ns, id)),
            _ if q.get("new").is_some() => Some((String::new(), String::new())),
            _ => None,
        })
    };
    let version = RwSignal::new(0u32);
    let rows = Resource::new(move || version.get(), |_| list_templates());
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    // The server checks the namespace a new template names.
    let can_create = crate::auth::me().is_some();

    let list = move || {
        Suspend::new(async move {
            rows.await.map(|rows| {
                if rows.is_empty() {
                    return view! { <p class="empty" role="status">"No templates yet."</p> }.into_any();
                }
                let current = selected();
                view! {
                    <ul class="file-list" aria-label="Templates">
                        {rows.into_iter().map(|row| {
                            let href = format!("/templates?namespace={}&id={}", browser::encode(&row.namespace), browser::encode(&row.id));
                            let here = (current.as_ref() == Some(&(row.namespace.clone(), row.id.clone()))).then_some("page");
                            view! {
                                <li>
                                    <a href=href aria-current=here class="mono">{format!("{}.{}", row.namespace, row.id)}</a>
                                    <span class="muted">{row.description.unwrap_or_default()}</span>
                                    <span class="muted nowrap">{format_utc(row.updated_at)}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }
                .into_any()
            })
        })
    };

    let pane = move || {
        let Some((namespace, id)) = selected() else {
            return view! { <p class="muted">"Choose a template, or make a new one."</p> }
                .into_any();
        };
        let is_new = id.is_empty();
        let loaded = Resource::new(move || (), {
            let (namespace, id) = (namespace.clone(), id.clone());
            move |()| {
                let (namespace, id) = (namespace.clone(), id.clone());
                async move {
                    if id.is_empty() {
                        Ok(Some(NEW_TEMPLATE.to_owned()))
                    } else {
                        template_source(namespace, id).await
                    }
                }
            }
        });
        view! {
            <Transition fallback=|| view! { <p class="muted">"Opening…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {
                        let (namespace, id) = (namespace.clone(), id.clone());
                        move || {
                            let (namespace, id) = (namespace.clone(), id.clone());
                            Suspend::new(async move {
                                loaded.await.map(|source| match source {
                                    None => view! { <p class="error" role="alert">{format!("There is no template {namespace}.{id}.")}</p> }.into_any(),
                                    Some(text) => template_view(namespace, id, is_new, text, error, notice, version),
                                })
                            })
                        }
                    }
                </ErrorBoundary>
            </Transition>
        }
        .into_any()
    };

    view! {
        <Title text="Templates" />
        <div class="page-header">
            <h1>"Templates"</h1>
            <p class="muted">"Lists of tasks several flows run with " <code>"io.kestra.plugin.core.flow.Template"</code>
                " (deprecated in Kestra, kept for the flows that use them); its " <code>"args"</code>
                " are read inside as " <code>"parent.outputs.args"</code> "."</p>
            {can_create.then(|| view! { <a class="button" href="/templates?new">"New template"</a> })}
        </div>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {move || notice.get().map(|n| view! { <p class="muted" role="status">{n}</p> })}
        <div class="files-layout">
            <section class="files-side" aria-label="Every template">
                <Transition fallback=|| view! { <p class="muted">"Loading templates…"</p> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>{list}</ErrorBoundary>
                </Transition>
            </section>
            <section class="files-main" aria-label="The template">{pane}</section>
        </div>
    }
}

/// The open template in the editor, with Save and Delete.
fn template_view(
    namespace: String,
    id: String,
    is_new: bool,
    text: String,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    version: RwSignal<u32>,
) -> AnyView {
    let can_edit = if is_new {
        crate::auth::me().is_some()
    } else {
        crate::auth::can(engine::auth::Role::Editor, Some(&namespace))
    };
    let navigate = use_navigate();
    let source = RwSignal::new(text);
    let (ns, tid) = (namespace.clone(), id.clone());
    let save = Callback::new({
        let navigate = navigate.clone();
        move |()| {
            let body = source.get_untracked();
            let (method, target) = if is_new {
                ("POST", "/api/v1/templates".to_owned())
            } else {
                (
                    "PUT",
                    format!(
                        "/api/v1/templates/{}/{}",
                        browser::encode(&ns),
                        browser::encode(&tid)
                    ),
                )
            };
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                match browser::send_text(
                    method,
                    &target,
                    &body,
                    &[("Content-Type", "application/x-yaml")],
                )
                .await
                {
                    Ok(answer) if answer.ok() => {
                        let saved: serde_json::Value =
                            serde_json::from_str(&answer.body).unwrap_or_default();
                        let (ns, id) = (
                            saved["namespace"].as_str().unwrap_or_default().to_owned(),
                            saved["id"].as_str().unwrap_or_default().to_owned(),
                        );
                        error.set(None);
                        notice.set(Some(format!("saved {ns}.{id}")));
                        version.update(|n| *n += 1);
                        if is_new {
                            navigate(
                                &format!(
                                    "/templates?namespace={}&id={}",
                                    browser::encode(&ns),
                                    browser::encode(&id)
                                ),
                                Default::default(),
                            );
                        }
                    }
                    Ok(answer) => error.set(Some(answer.message())),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    });
    let (ns, tid) = (namespace.clone(), id.clone());
    let delete = move |_| {
        let target = format!(
            "/api/v1/templates/{}/{}",
            browser::encode(&ns),
            browser::encode(&tid)
        );
        let (shown, navigate) = (format!("{ns}.{tid}"), navigate.clone());
        leptos::task::spawn_local(async move {
            match browser::send("DELETE", &target, None).await {
                Ok(answer) if answer.ok() => {
                    error.set(None);
                    notice.set(Some(format!("deleted {shown}")));
                    version.update(|n| *n += 1);
                    navigate("/templates", Default::default());
                }
                Ok(answer) => error.set(Some(answer.message())),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let title = if is_new {
        "New template".to_owned()
    } else {
        format!("{namespace}.{id}")
    };
    view! {
        <div class="files-toolbar">
            <h2 class="mono">{title.clone()}</h2>
            {can_edit.then(|| view! {
                <button type="button" class="button primary" on:click=move |_| save.run(())>"Save"</button>
            })}
            {(can_edit && !is_new).then(|| view! {
                <button type="button" class="button" on:click=delete>"Delete"</button>
            })}
        </div>
        <Editor source=source on_save=save label=format!("YAML of {title}") />
    }
    .into_any()
}
