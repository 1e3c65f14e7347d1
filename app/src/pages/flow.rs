//! `/flows/{namespace}/{id}[/{tab}]`: one flow, with the tabs Overview,
//! Editor, Topology, Executions and Revisions; and `/flows/new`.
//!
//! The page holds the draft: switching tabs keeps unsaved changes (the
//! topology shows the draft), and leaving the flow with unsaved changes asks
//! first.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::components::editor::{Editor, complete};
use crate::components::execute::ExecuteButton;
use crate::components::revisions::Revisions;
use crate::components::status::StateBadge;
use crate::components::topology::Topology;
use crate::pages::flows::ErrorList;
use crate::time::format_utc;

/// A flow's current revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowDoc {
    pub namespace: String,
    pub id: String,
    pub revision: i64,
    pub description: Option<String>,
    pub source: String,
    pub updated_at: i64,
}

/// What a save did: a revision, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaveOutcome {
    Saved {
        namespace: String,
        id: String,
        revision: i64,
    },
    Refused {
        message: String,
    },
}

/// One execution of the flow, for its Executions tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowExecution {
    pub id: String,
    pub state: String,
    pub revision: i64,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

/// The current revision of a flow; `None` if there is none.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "get_flow_source")]
pub async fn get_flow_source(
    namespace: String,
    id: String,
) -> Result<Option<FlowDoc>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    let store = ssr::store()?;
    let stored = store
        .get_flow(
            &engine::ids::Namespace::new(&namespace),
            &engine::ids::FlowId::new(&id),
        )
        .await
        .map_err(|e| ssr::failed("reading the flow", e))?;
    Ok(stored.map(|s| FlowDoc {
        namespace,
        id,
        revision: s.revision,
        description: s.description,
        source: s.source,
        updated_at: s.updated_at,
    }))
}

/// Stores `source` as a new revision if it is a valid flow. With
/// `namespace` and `id` empty it creates a flow, which must not exist yet;
/// otherwise the YAML must name that flow.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "save_flow_source")]
pub async fn save_flow_source(
    source: String,
    namespace: String,
    id: String,
) -> Result<SaveOutcome, ServerFnError> {
    let principal = crate::auth::require_any()?;
    let editing = (!namespace.is_empty()).then_some((namespace, id));
    ssr::save(&ssr::store()?, &principal, source, editing).await
}

/// The flow's most recent executions, newest first.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "flow_executions")]
pub async fn flow_executions(
    namespace: String,
    id: String,
) -> Result<Vec<FlowExecution>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    let store = ssr::store()?;
    let filter = engine::store::ExecutionFilter {
        namespace: Some(namespace.clone()),
        flow_id: Some(id),
        ..Default::default()
    };
    let page = store
        .search_executions(&filter, 1, 50)
        .await
        .map_err(|e| ssr::failed("searching executions", e))?;
    Ok(page
        .results
        .into_iter()
        // The namespace filter matches child namespaces too.
        .filter(|e| e.namespace.as_str() == namespace)
        .map(|e| FlowExecution {
            id: e.id.to_string(),
            state: e.state.as_str().to_owned(),
            revision: e.flow_revision,
            created_at: e.created_at,
            ended_at: e.ended_at,
        })
        .collect())
}

/// The source of a blueprint, to start a new flow from.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "blueprint_source")]
pub async fn blueprint_source(id: String) -> Result<Option<String>, ServerFnError> {
    crate::auth::require_any()?;
    Ok(engine::blueprints::all()
        .into_iter()
        .find(|b| b.header.id.as_str() == id)
        .map(|b| b.source.to_owned()))
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use engine::ids::{FlowId, Namespace};
    use engine::store::{FlowSource, Store};
    use leptos::prelude::*;

    use super::SaveOutcome;

    pub(crate) use crate::context::{failed, store};

    /// The checks of `POST` and `PUT /api/v1/flows`: no error from
    /// `engine::flow::parse`, a readable header, the right flow, then a new
    /// revision (none if the source did not change).
    pub(crate) async fn save(
        store: &Store,
        principal: &engine::auth::Principal,
        source: String,
        editing: Option<(String, String)>,
    ) -> Result<SaveOutcome, ServerFnError> {
        let header = match engine::header::checked(&source) {
            Ok(header) => header,
            Err(invalid) => {
                return Ok(SaveOutcome::Refused {
                    message: invalid.to_string(),
                });
            }
        };
        // The namespace in the YAML is the one written to.
        if let Err(denied) =
            principal.require(engine::auth::Role::Editor, Some(header.namespace.as_str()))
        {
            return Ok(SaveOutcome::Refused {
                message: denied.to_string(),
            });
        }
        let exists = store
            .flow_revision(&header.namespace, &header.id)
            .await
            .map_err(|e| failed("reading the flow", e))?
            .is_some();
        match &editing {
            Some((namespace, id))
                if header.namespace.as_str() != namespace || header.id.as_str() != id =>
            {
                return Ok(SaveOutcome::Refused {
                    message: format!(
                        "the YAML says {}.{} but this is {namespace}.{id}: they must match (to rename a flow, create the new one from Flows → New flow)",
                        header.namespace, header.id
                    ),
                });
            }
            None if exists => {
                return Ok(SaveOutcome::Refused {
                    message: format!(
                        "flow {}.{} exists already: open it from the flows list to change it",
                        header.namespace, header.id
                    ),
                });
            }
            _ => {}
        }
        let flow = FlowSource {
            namespace: header.namespace.clone(),
            id: header.id.clone(),
            description: header.description.clone(),
            source,
        };
        let revision = store
            .save_flow(&flow)
            .await
            .map_err(|e| failed("saving the flow", e))?;
        let action = if exists { "flow.update" } else { "flow.create" };
        crate::auth::audit(
            principal,
            action,
            Some(header.namespace.as_str()),
            Some(header.id.as_str()),
            Some(serde_json::json!({"revision": revision})),
        )
        .await;
        Ok(SaveOutcome::Saved {
            namespace: header.namespace.to_string(),
            id: header.id.to_string(),
            revision,
        })
    }

    /// Restores a revision: saved again as the newest.
    pub(crate) async fn restore(
        store: &Store,
        principal: &engine::auth::Principal,
        namespace: String,
        id: String,
        revision: i64,
    ) -> Result<SaveOutcome, ServerFnError> {
        let source = store
            .flow_revision_source(&Namespace::new(&namespace), &FlowId::new(&id), revision)
            .await
            .map_err(|e| failed("reading the revision", e))?;
        match source {
            Some(source) => save(store, principal, source, Some((namespace, id))).await,
            None => Ok(SaveOutcome::Refused {
                message: format!("{namespace}.{id} has no revision {revision}"),
            }),
        }
    }
}

const TABS: &[(&str, &str)] = &[
    ("overview", "Overview"),
    ("editor", "Editor"),
    ("topology", "Topology"),
    ("executions", "Executions"),
    ("triggers", "Triggers"),
    ("revisions", "Revisions"),
];

#[component]
pub(crate) fn FlowPage() -> impl IntoView {
    let params = use_params_map();
    let namespace = move || params.with(|p| p.get("namespace").unwrap_or_default());
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let tab = Signal::derive(move || {
        params.with(|p| p.get("tab").unwrap_or_else(|| "overview".to_owned()))
    });
    let flow = Resource::new(
        move || (namespace(), id()),
        |(namespace, id)| get_flow_source(namespace, id),
    );
    let name = move || format!("{}.{}", namespace(), id());

    view! {
        <Title text=name />
        <Suspense fallback=|| view! { <p class="muted">"Loading the flow…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    flow.await.map(|doc| match doc {
                        Some(doc) => view! { <FlowView doc tab /> }.into_any(),
                        None => view! { <MissingFlow name=name() /> }.into_any(),
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn MissingFlow(name: String) -> impl IntoView {
    // The route renders asynchronously (whole before the headers), so the
    // status can still change here.
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <h1>{name.clone()}</h1>
        <p class="empty">"There is no flow " <code>{name}</code> ". " <a href="/flows">"Go to the flows"</a> " or " <a href="/flows/new">"write a new one"</a> "."</p>
    }
}

#[component]
fn FlowView(doc: FlowDoc, tab: Signal<String>) -> impl IntoView {
    let FlowDoc {
        namespace,
        id,
        revision,
        description,
        source,
        updated_at,
    } = doc;
    let draft = RwSignal::new(source.clone());
    let saved = RwSignal::new(source);
    let revision = RwSignal::new(revision);
    let updated_at = RwSignal::new(updated_at);
    let description = RwSignal::new(description);
    let dirty = Signal::derive(move || draft.with(|d| saved.with(|s| d != s)));
    let status: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let goto: RwSignal<Option<(u32, u32)>> = RwSignal::new(None);
    let refresh = RwSignal::new(0u32);
    let base = format!("/flows/{namespace}/{id}");
    guard_unsaved(dirty, base.clone());

    let save = {
        let (namespace, id) = (namespace.clone(), id.clone());
        Callback::new(move |()| {
            let source = draft.get_untracked();
            if let Some(message) = refusal(&source) {
                status.set(Some(Err(message)));
                return;
            }
            let (namespace, id) = (namespace.clone(), id.clone());
            status.set(Some(Ok("Saving…".to_owned())));
            leptos::task::spawn_local(async move {
                match save_flow_source(source.clone(), namespace, id).await {
                    Ok(SaveOutcome::Saved { revision: r, .. }) => {
                        saved.set(source.clone());
                        revision.set(r);
                        updated_at.set(js_sys::Date::now() as i64);
                        description.set(
                            engine::header::read_header(&source)
                                .ok()
                                .and_then(|h| h.description),
                        );
                        refresh.update(|n| *n += 1);
                        status.set(Some(Ok(format!("Saved as revision {r}."))));
                    }
                    Ok(SaveOutcome::Refused { message }) => {
                        status.set(Some(Err(format!("Not saved: {message}"))))
                    }
                    Err(error) => status.set(Some(Err(format!("Not saved: {error}")))),
                }
            });
        })
    };
    let navigate = use_navigate();
    let jump = {
        let base = base.clone();
        Callback::new(move |task_id: String| {
            let position = draft.with_untracked(|s| task_line(s, &task_id));
            if let Some(position) = position {
                goto.set(Some(position));
                navigate(&format!("{base}/editor"), Default::default());
            }
        })
    };
    let restored = Callback::new(move |(source, r): (String, i64)| {
        draft.set(source.clone());
        saved.set(source);
        revision.set(r);
        refresh.update(|n| *n += 1);
        status.set(Some(Ok(format!("Restored as revision {r}."))));
    });

    let tabs = {
        let base = base.clone();
        TABS.iter()
            .map(|(key, label)| {
                let href = if *key == "overview" {
                    base.clone()
                } else {
                    format!("{base}/{key}")
                };
                let current = move || (tab.get() == *key).then_some("page");
                view! { <li><a href=href aria-current=current>{*label}</a></li> }
            })
            .collect_view()
    };
    let (ns2, id2) = (namespace.clone(), id.clone());
    let body = move || {
        let (namespace, id) = (ns2.clone(), id2.clone());
        match tab.get().as_str() {
            "editor" => view! { <EditorPane draft on_save=save goto status dirty /> }.into_any(),
            "topology" => view! {
                <p class="muted small">"The topology of the flow as it is in the editor. Select a task to edit it."</p>
                <Topology source=draft on_select=jump />
            }
            .into_any(),
            "executions" => view! { <Executions namespace id /> }.into_any(),
            "triggers" => view! { <crate::components::triggers::Triggers namespace id refresh /> }.into_any(),
            "revisions" => view! { <Revisions namespace id current=revision refresh dirty on_restored=restored /> }.into_any(),
            "overview" => view! { <Overview source=saved description revision updated_at /> }.into_any(),
            other => view! { <p class="error" role="alert">{format!("There is no tab “{other}”.")}</p> }.into_any(),
        }
    };
    view! {
        <div class="page-header">
            <div>
                <p class="muted small breadcrumb"><a href="/flows">"Flows"</a> " / " {namespace.clone()}</p>
                <h1>{id.clone()}</h1>
            </div>
            <div class="flow-actions">
                <span class="badge">{move || format!("Revision {}", revision.get())}</span>
                <Show when=move || dirty.get()>
                    <span class="badge badge-warning" role="status">"Unsaved changes"</span>
                </Show>
                <ExecuteButton namespace=namespace.clone() flow_id=id.clone() />
            </div>
        </div>
        <nav class="tabs" aria-label="Flow">
            <ul>{tabs}</ul>
        </nav>
        <div class="tab-body">{body}</div>
    }
    .into_any()
}

#[component]
pub(crate) fn NewFlowPage() -> impl IntoView {
    let blueprint = use_query_map().with_untracked(|q| q.get("blueprint"));
    let start = Resource::new(
        move || blueprint.clone(),
        |blueprint| async move {
            match blueprint {
                Some(id) => blueprint_source(id.clone()).await.map(|s| s.ok_or(id)),
                None => Ok(Ok(NEW_FLOW.to_owned())),
            }
        },
    );
    view! {
        <Title text="New flow" />
        <div class="page-header">
            <div>
                <p class="muted small breadcrumb"><a href="/flows">"Flows"</a></p>
                <h1>"New flow"</h1>
            </div>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    start.await.map(|found| match found {
                        Ok(source) => view! { <NewFlowEditor source /> }.into_any(),
                        Err(id) => view! {
                            <p class="error" role="alert">{format!("There is no blueprint “{id}”. ")} <a href="/blueprints">"See the blueprints."</a></p>
                            <NewFlowEditor source=NEW_FLOW.to_owned() />
                        }
                        .into_any(),
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

/// Where a new flow starts when it does not start from a blueprint.
const NEW_FLOW: &str = "id: my_flow\nnamespace: company.team\ndescription: What this flow does.\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello, World!\n";

#[component]
fn NewFlowEditor(source: String) -> impl IntoView {
    let draft = RwSignal::new(source.clone());
    let status: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let goto: RwSignal<Option<(u32, u32)>> = RwSignal::new(None);
    let saved = RwSignal::new(source);
    let dirty = Signal::derive(move || draft.with(|d| saved.with(|s| d != s)));
    guard_unsaved(dirty, "/flows/new".to_owned());
    let navigate = use_navigate();
    let save = Callback::new(move |()| {
        let source = draft.get_untracked();
        if let Some(message) = refusal(&source) {
            status.set(Some(Err(message)));
            return;
        }
        status.set(Some(Ok("Saving…".to_owned())));
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match save_flow_source(source.clone(), String::new(), String::new()).await {
                Ok(SaveOutcome::Saved { namespace, id, .. }) => {
                    // Saved: nothing to guard any more.
                    saved.set(source);
                    navigate(
                        &format!("/flows/{namespace}/{id}/editor"),
                        Default::default(),
                    );
                }
                Ok(SaveOutcome::Refused { message }) => {
                    status.set(Some(Err(format!("Not saved: {message}"))))
                }
                Err(error) => status.set(Some(Err(format!("Not saved: {error}")))),
            }
        });
    });
    view! {
        <EditorPane draft on_save=save goto status dirty />
        <h2>"Topology"</h2>
        <Topology source=draft />
    }
    .into_any()
}

/// Why a draft cannot be saved, found in the browser before asking the
/// server (which checks again).
fn refusal(source: &str) -> Option<String> {
    let parsed = engine::flow::parse(source);
    let errors: Vec<_> = parsed
        .problems
        .iter()
        .filter(|p| p.severity == engine::flow::Severity::Error)
        .collect();
    let first = errors.first()?;
    Some(format!(
        "Not saved: the flow has {} error{}; the first, at line {}, column {}: {}",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        first.line,
        first.column,
        first.message
    ))
}

/// The line and column of a task's `id` value.
fn task_line(source: &str, task_id: &str) -> Option<(u32, u32)> {
    let parsed = engine::flow::parse(source);
    let flow = parsed.flow?;
    let task = flow.task(task_id)?;
    Some((task.id.span.start.line, task.id.span.start.column))
}

/// The editor with its toolbar and the documentation of the task at the caret.
#[component]
fn EditorPane(
    draft: RwSignal<String>,
    on_save: Callback<()>,
    goto: RwSignal<Option<(u32, u32)>>,
    status: RwSignal<Option<Result<String, String>>>,
    dirty: Signal<bool>,
) -> impl IntoView {
    let cursor = RwSignal::new((1u32, 1u32));
    // Ctrl+S saves from anywhere on the page, not only in the editor (which
    // handles it first and marks the event handled).
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key() == "s" && !ev.default_prevented() {
            ev.prevent_default();
            on_save.run(());
        }
    });
    on_cleanup(move || keys.remove());
    // A refusal stops being true once the draft changes.
    Effect::new(move |_| {
        draft.track();
        if matches!(status.get_untracked(), Some(Err(_))) {
            status.set(None);
        }
    });
    view! {
        <div class="editor-toolbar">
            <button type="button" class="button primary" on:click=move |_| on_save.run(()) aria-keyshortcuts="Control+S">"Save"</button>
            <span class="muted small">{move || if dirty.get() { "Unsaved changes" } else { "No unsaved changes" }}</span>
            <p role="status" aria-live="polite" class=move || match status.get() {
                Some(Err(_)) => "save-status save-error",
                _ => "save-status",
            }>
                {move || status.get().map(|s| match s { Ok(m) | Err(m) => m })}
            </p>
        </div>
        <div class="editor-layout">
            <Editor source=draft on_save goto cursor />
            <TaskDocs source=draft cursor />
        </div>
    }
    .into_any()
}

/// The documentation of the task type at the caret.
#[component]
fn TaskDocs(source: RwSignal<String>, cursor: RwSignal<(u32, u32)>) -> impl IntoView {
    let task_type = Memo::new(move |_| {
        let (line, _) = cursor.get();
        source
            .with(|s| complete::task_type_at(s, line.saturating_sub(1) as usize))
            .map(|t| t.name)
    });
    // A filter, function or test under the caret: its signature and doc.
    let declaration = Memo::new(move |_| {
        let (line, column) = cursor.get();
        source
            .with(|s| {
                complete::declaration_at(
                    s,
                    line.saturating_sub(1) as usize,
                    column.saturating_sub(1) as usize,
                )
            })
            .map(|d| (d.name, d.kind))
    });
    view! {
        <aside class="task-docs" aria-labelledby="task-docs-title">
            {move || declaration.get().and_then(|(name, kind)| {
                engine::flow::pebble::library::declarations().find(|d| d.name == name && d.kind == kind)
            }).map(|d| view! {
                <section class="expression-docs" aria-label="Expression documentation">
                    <p class="mono strong">{complete::signature(d)}<span class="muted small">{format!(" · {}", d.kind.noun())}</span></p>
                    <p>{d.doc}</p>
                    {(!d.params.is_empty()).then(|| view! {
                        <dl class="properties">
                            {d.params.iter().map(|p| view! {
                                <dt><span class="mono">{p.name}</span>{p.required.then(|| view! { <span class="required">" required"</span> })}</dt>
                                <dd>{p.doc}</dd>
                            }).collect_view()}
                        </dl>
                    })}
                </section>
            }.into_any())}
            {move || match task_type.get().and_then(engine::flow::task_type) {
                None => view! {
                    <h2 id="task-docs-title">"Documentation"</h2>
                    <p class="muted">"Put the caret in a task to see its type's properties and an example. Ctrl+Space proposes what fits where the caret is."</p>
                }
                .into_any(),
                Some(t) => {
                    let common = engine::flow::registry::COMMON;
                    view! {
                        <h2 id="task-docs-title" class="mono">{t.alias}</h2>
                        <p class="muted small mono">{t.name}</p>
                        <p>{t.doc}</p>
                        <h3>"Properties"</h3>
                        <PropertyList properties=t.properties />
                        {(!t.outputs.is_empty()).then(|| view! {
                            <h3>"Outputs"</h3>
                            <dl class="outputs">
                                {t.outputs.iter().map(|(name, doc)| view! { <dt class="mono">{*name}</dt><dd>{*doc}</dd> }).collect_view()}
                            </dl>
                        })}
                        <h3>"Example"</h3>
                        <pre class="code"><code>{complete::example(t)}</code></pre>
                        <details>
                            <summary>"Properties of every task"</summary>
                            <PropertyList properties=common />
                        </details>
                    }
                    .into_any()
                }
            }}
        </aside>
    }
    .into_any()
}

#[component]
fn PropertyList(properties: &'static [engine::flow::registry::Property]) -> impl IntoView {
    view! {
        <dl class="properties">
            {properties
                .iter()
                .map(|p| {
                    view! {
                        <dt>
                            <span class="mono">{p.name}</span>
                            {p.required.then(|| view! { <span class="required">" required"</span> })}
                            <span class="muted small">{format!(" · {}", p.kind.describe())}</span>
                        </dt>
                        <dd>
                            {p.doc}
                            {p.default.map(|d| view! { <span class="muted small">{format!(" Default: {d}.")}</span> })}
                        </dd>
                    }
                })
                .collect_view()}
        </dl>
    }
}

#[component]
fn Overview(
    source: RwSignal<String>,
    description: RwSignal<Option<String>>,
    revision: RwSignal<i64>,
    updated_at: RwSignal<i64>,
) -> impl IntoView {
    let flow = Memo::new(move |_| {
        source.with(|s| engine::flow::parse(s).flow).map(|f| {
            let inputs: Vec<(String, String, bool)> = f
                .inputs
                .iter()
                .map(|i| {
                    (
                        i.id.value.clone(),
                        i.input_type.name().to_owned(),
                        i.required,
                    )
                })
                .collect();
            let tasks: Vec<(String, String)> = f
                .all_tasks()
                .iter()
                .map(|t| {
                    (
                        t.id.value.clone(),
                        t.kind
                            .map_or(t.task_type.value.clone(), |k| k.alias.to_owned()),
                    )
                })
                .collect();
            (inputs, tasks, f.triggers.len())
        })
    });
    view! {
        <div class="overview">
            <p>{move || description.get().unwrap_or_else(|| "No description.".to_owned())}</p>
            <p class="muted small">{move || format!("Revision {}, saved {}.", revision.get(), format_utc(updated_at.get()))}</p>
            {move || flow.get().map(|(inputs, tasks, triggers)| view! {
                <h2>"Inputs"</h2>
                {if inputs.is_empty() {
                    view! { <p class="muted">"No inputs."</p> }.into_any()
                } else {
                    view! {
                        <table class="data-table">
                            <thead><tr><th scope="col">"Id"</th><th scope="col">"Type"</th><th scope="col">"Required"</th></tr></thead>
                            <tbody>
                                {inputs.into_iter().map(|(id, kind, required)| view! {
                                    <tr><td class="mono">{id}</td><td>{kind}</td><td>{if required { "yes" } else { "no" }}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                <h2>{format!("Tasks ({})", tasks.len())}</h2>
                <table class="data-table">
                    <thead><tr><th scope="col">"Id"</th><th scope="col">"Type"</th></tr></thead>
                    <tbody>
                        {tasks.into_iter().map(|(id, kind)| view! { <tr><td class="mono">{id}</td><td class="mono">{kind}</td></tr> }).collect_view()}
                    </tbody>
                </table>
                <p class="muted small">{format!("{triggers} trigger{}.", if triggers == 1 { "" } else { "s" })}</p>
            })}
            <h2>"Topology"</h2>
            <Topology source=source />
        </div>
    }
    .into_any()
}

#[component]
fn Executions(namespace: String, id: String) -> impl IntoView {
    let list = Resource::new(
        move || (namespace.clone(), id.clone()),
        |(namespace, id)| flow_executions(namespace, id),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading executions…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    list.await.map(|rows| {
                        if rows.is_empty() {
                            return view! { <p class="empty">"This flow has not run yet. Execute it with the button above."</p> }.into_any();
                        }
                        view! {
                            <table class="data-table">
                                <caption class="visually-hidden">"Recent executions"</caption>
                                <thead><tr>
                                    <th scope="col">"Execution"</th><th scope="col">"State"</th><th scope="col">"Revision"</th>
                                    <th scope="col">"Started"</th><th scope="col">"Ended"</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|e| view! {
                                        <tr>
                                            <td class="mono"><a href=format!("/executions/{}", e.id)>{e.id.clone()}</a></td>
                                            <td><StateBadge state=e.state.clone() /></td>
                                            <td class="num">{e.revision}</td>
                                            <td class="nowrap">{format_utc(e.created_at)}</td>
                                            <td class="nowrap">{e.ended_at.map_or("—".to_owned(), format_utc)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

/// Asks before leaving `base` (a reload, another site, or a link to
/// another page) while there are unsaved changes. Links within `base`
/// (the tabs) keep the draft and are not asked about.
fn guard_unsaved(dirty: Signal<bool>, base: String) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;

        let unload = window_event_listener_untyped("beforeunload", move |ev| {
            if dirty.try_get_untracked() == Some(true) {
                ev.prevent_default();
            }
        });
        let click = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            // After the page is gone (if the cleanup could not remove it) this does nothing.
            if dirty.try_get_untracked() != Some(true) {
                return;
            }
            let Some(anchor) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a[href]").ok().flatten())
            else {
                return;
            };
            let href = anchor.get_attribute("href").unwrap_or_default();
            if href.starts_with(&base) || href.starts_with('#') {
                return;
            }
            let leave = window()
                .confirm_with_message("This flow has unsaved changes. Leave without saving them?")
                .unwrap_or(true);
            if !leave {
                ev.prevent_default();
                ev.stop_immediate_propagation();
            }
        });
        let _ = document().add_event_listener_with_callback_and_bool(
            "click",
            click.as_ref().unchecked_ref(),
            true,
        );
        let click = StoredValue::new_local(Some(click));
        on_cleanup(move || {
            unload.remove();
            if let Some(Some(click)) = click.try_update_value(Option::take) {
                let _ = document().remove_event_listener_with_callback_and_bool(
                    "click",
                    click.as_ref().unchecked_ref(),
                    true,
                );
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (dirty, base);
}
