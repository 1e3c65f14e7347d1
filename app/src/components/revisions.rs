//! The Revisions tab: every saved revision of a flow, a side-by-side diff
//! of any two, and restoring one (saved again as the newest revision).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::diff::{Diff, diff_lines};
use crate::pages::flow::SaveOutcome;
use crate::pages::flows::ErrorList;
use crate::time::format_utc;

/// One saved revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionRow {
    pub revision: i64,
    pub created_at: i64,
    pub source: String,
}

/// Every revision of a flow, oldest first.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "flow_revisions")]
pub async fn flow_revisions(
    namespace: String,
    id: String,
) -> Result<Vec<RevisionRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    let store = crate::pages::flow::ssr::store()?;
    let rows = store
        .flow_revisions(
            &engine::ids::Namespace::new(&namespace),
            &engine::ids::FlowId::new(&id),
        )
        .await
        .map_err(|e| crate::pages::flow::ssr::failed("reading the revisions", e))?;
    Ok(rows
        .into_iter()
        .map(|(revision, source, created_at)| RevisionRow {
            revision,
            created_at,
            source,
        })
        .collect())
}

/// Saves an old revision's source again, as the newest revision.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "restore_revision")]
pub async fn restore_revision(
    namespace: String,
    id: String,
    revision: i64,
) -> Result<SaveOutcome, ServerFnError> {
    let principal = crate::auth::require(engine::auth::Role::Editor, Some(&namespace))?;
    crate::pages::flow::ssr::restore(
        &crate::pages::flow::ssr::store()?,
        &principal,
        namespace,
        id,
        revision,
    )
    .await
}

/// `refresh` changes after each save; `on_restored` gets the restored
/// source and its new revision number.
#[component]
pub(crate) fn Revisions(
    namespace: String,
    id: String,
    current: RwSignal<i64>,
    refresh: RwSignal<u32>,
    dirty: Signal<bool>,
    on_restored: Callback<(String, i64)>,
) -> impl IntoView {
    let key = (namespace.clone(), id.clone());
    let list = Resource::new(
        move || (key.clone(), refresh.get()),
        |((namespace, id), _)| flow_revisions(namespace, id),
    );
    let left: RwSignal<Option<i64>> = RwSignal::new(None);
    let right: RwSignal<Option<i64>> = RwSignal::new(None);
    let message: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);

    let restore = Callback::new(move |revision: i64| {
        if dirty.get_untracked()
            && !window()
                .confirm_with_message(
                    "The editor has unsaved changes. Replace them with this revision?",
                )
                .unwrap_or(false)
        {
            return;
        }
        let (namespace, id) = (namespace.clone(), id.clone());
        leptos::task::spawn_local(async move {
            match restore_revision(namespace, id, revision).await {
                Ok(SaveOutcome::Saved { revision: new, .. }) => {
                    let source = list.get_untracked().and_then(|r| r.ok()).and_then(|rows| {
                        rows.into_iter()
                            .find(|r| r.revision == revision)
                            .map(|r| r.source)
                    });
                    if let Some(source) = source {
                        on_restored.run((source, new));
                    }
                    message.set(Some(Ok(format!(
                        "Revision {revision} restored as revision {new}."
                    ))));
                    left.set(None);
                    right.set(None);
                }
                Ok(SaveOutcome::Refused { message: why }) => {
                    message.set(Some(Err(format!("Not restored: {why}"))))
                }
                Err(error) => message.set(Some(Err(format!("Not restored: {error}")))),
            }
        });
    });

    view! {
        <p role="status" aria-live="polite" class=move || if matches!(message.get(), Some(Err(_))) { "save-status save-error" } else { "save-status" }>
            {move || message.get().map(|m| match m { Ok(m) | Err(m) => m })}
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading revisions…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    list.await.map(|rows| view! { <RevisionList rows current left right restore /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn RevisionList(
    rows: Vec<RevisionRow>,
    current: RwSignal<i64>,
    left: RwSignal<Option<i64>>,
    right: RwSignal<Option<i64>>,
    restore: Callback<i64>,
) -> impl IntoView {
    let newest = rows.last().map_or(0, |r| r.revision);
    let before = rows.iter().rev().nth(1).map_or(newest, |r| r.revision);
    let left_rev = move || left.get().unwrap_or(before);
    let right_rev = move || right.get().unwrap_or(newest);
    let sources = StoredValue::new(
        rows.iter()
            .map(|r| (r.revision, r.source.clone()))
            .collect::<Vec<_>>(),
    );
    let options = |selected: Box<dyn Fn() -> i64 + Send + Sync>| {
        let selected = std::sync::Arc::new(selected);
        rows.iter()
            .map(|r| {
                let revision = r.revision;
                let selected = selected.clone();
                view! { <option value=revision.to_string() selected=move || selected() == revision>{format!("Revision {revision}")}</option> }
            })
            .collect_view()
    };
    let diff = move || {
        let (a, b) = (left_rev(), right_rev());
        let source = |n: i64| {
            sources.with_value(|s| {
                s.iter()
                    .find(|(r, _)| *r == n)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default()
            })
        };
        view! { <Diff rows=diff_lines(&source(a), &source(b)) left_title=format!("Revision {a}") right_title=format!("Revision {b}") /> }
    };
    view! {
        <table class="data-table revisions">
            <caption class="visually-hidden">"Revisions"</caption>
            <thead><tr><th scope="col">"Revision"</th><th scope="col">"Saved"</th><th scope="col">"Lines"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
            <tbody>
                {rows.iter().rev().map(|r| {
                    let revision = r.revision;
                    view! {
                        <tr>
                            <td class="num">{revision}</td>
                            <td class="nowrap">{format_utc(r.created_at)}</td>
                            <td class="num">{r.source.lines().count()}</td>
                            <td>
                                {move || if current.get() == revision {
                                    view! { <span class="badge">"Current"</span> }.into_any()
                                } else {
                                    view! { <button type="button" class="button small" on:click=move |_| restore.run(revision)>{format!("Restore revision {revision}")}</button> }.into_any()
                                }}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Compare"</h2>
        <div class="compare-controls">
            <label>"From "
                <select on:change=move |ev| left.set(event_target_value(&ev).parse().ok())>{options(Box::new(left_rev))}</select>
            </label>
            <label>" to "
                <select on:change=move |ev| right.set(event_target_value(&ev).parse().ok())>{options(Box::new(right_rev))}</select>
            </label>
        </div>
        {diff}
    }
}
