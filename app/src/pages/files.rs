//! `/namespaces/:namespace/files`: a namespace's files (Kestra's namespace
//! files). Every file with its size and date; the chosen one (`?path=`)
//! opens in Mortar's editor, to save as a new revision, delete, or look at
//! an older revision and restore it; a new file by its path; an upload
//! (a .zip is imported as Kestra imports one); the export as a .zip.
//! Changes go through the REST API (`/api/v1/namespaces/{ns}/files`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::browser;
use crate::components::editor::Editor;
use crate::time::format_utc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    /// `sql/query.sql`.
    pub path: String,
    pub size: u64,
    pub modified: i64,
}

/// A file as the editor opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedFile {
    /// The text, or `None` when the file is not UTF-8 text or too large.
    pub text: Option<String>,
    pub revisions: Vec<u32>,
    /// False for a path that has no file yet (a new one).
    pub exists: bool,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "list_files")]
pub async fn list_files(namespace: String) -> Result<Vec<FileRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    engine::ids::check_namespace(&namespace).map_err(ServerFnError::new)?;
    let storage: engine::storage::Storage = crate::context::service("internal storage")?;
    let files = storage
        .namespace_files(&namespace)
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    tokio::task::spawn_blocking(
        move || -> Result<Vec<FileRow>, engine::namespace_files::FilesError> {
            files
                .all()?
                .into_iter()
                .map(|path| {
                    files.stats(&path).map(|a| FileRow {
                        path,
                        size: a.size,
                        modified: a.last_modified_time,
                    })
                })
                .collect()
        },
    )
    .await
    .map_err(|e| crate::context::failed("listing the files", e))?
    .map_err(|e| crate::context::failed("listing the files", e))
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "file_text")]
pub async fn file_text(
    namespace: String,
    path: String,
    revision: Option<u32>,
) -> Result<OpenedFile, ServerFnError> {
    use engine::namespace_files::FilesError;
    /// The largest file the editor opens.
    const EDIT_LIMIT: usize = 2 * 1024 * 1024;
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    engine::ids::check_namespace(&namespace).map_err(ServerFnError::new)?;
    let storage: engine::storage::Storage = crate::context::service("internal storage")?;
    let files = storage
        .namespace_files(&namespace)
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    tokio::task::spawn_blocking(move || -> Result<OpenedFile, ServerFnError> {
        let revisions = match files.revisions(&path) {
            Ok(found) => found,
            Err(FilesError::NotFound(_)) => {
                return Ok(OpenedFile {
                    text: Some(String::new()),
                    revisions: Vec::new(),
                    exists: false,
                });
            }
            Err(e) => return Err(ServerFnError::new(e.to_string())),
        };
        let bytes = match files.get(&path, revision) {
            Ok(bytes) => bytes,
            Err(FilesError::NotFound(_)) if revision.is_none() => {
                return Ok(OpenedFile {
                    text: Some(String::new()),
                    revisions,
                    exists: false,
                });
            }
            Err(e) => return Err(ServerFnError::new(e.to_string())),
        };
        let text = (bytes.len() <= EDIT_LIMIT)
            .then(|| String::from_utf8(bytes).ok())
            .flatten();
        Ok(OpenedFile {
            text,
            revisions,
            exists: true,
        })
    })
    .await
    .map_err(|e| crate::context::failed("reading the file", e))?
}

fn size_text(size: u64) -> String {
    match size {
        s if s < 1024 => format!("{s} B"),
        s if s < 1024 * 1024 => format!("{:.1} KB", s as f64 / 1024.0),
        s => format!("{:.1} MB", s as f64 / (1024.0 * 1024.0)),
    }
}

#[component]
pub(crate) fn FilesPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let namespace = move || params.with(|p| p.get("namespace").unwrap_or_default());
    let selected = move || {
        query.with(|q| {
            q.get("path")
                .map(|p| p.trim_start_matches('/').to_owned())
                .filter(|p| !p.is_empty())
        })
    };
    let revision = move || query.with(|q| q.get("revision").and_then(|r| r.parse::<u32>().ok()));
    let editor = move || crate::auth::can(engine::auth::Role::Editor, Some(&namespace()));
    let version = RwSignal::new(0u32);
    let rows = Resource::new(
        move || (namespace(), version.get()),
        |(ns, _)| list_files(ns),
    );
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let new_path = RwSignal::new(String::new());
    let folder = RwSignal::new(String::new());
    let navigate = use_navigate();

    let api = move |path: &str| {
        format!(
            "/api/v1/namespaces/{}/files?path={}",
            browser::encode(&namespace()),
            browser::encode(&format!("/{path}"))
        )
    };
    let open = {
        let navigate = navigate.clone();
        move |path: String, revision: Option<u32>| {
            let mut href = format!(
                "/namespaces/{}/files?path={}",
                namespace(),
                browser::encode(&path)
            );
            if let Some(r) = revision {
                href.push_str(&format!("&revision={r}"));
            }
            navigate(&href, Default::default());
        }
    };
    let on_new = {
        let open = open.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let path = new_path
                .get_untracked()
                .trim()
                .trim_start_matches('/')
                .to_owned();
            if path.is_empty()
                || path.ends_with('/')
                || path
                    .split('/')
                    .any(|p| p.is_empty() || p == "." || p == "..")
            {
                error.set(Some("give the new file a path such as sql/query.sql: parts separated by /, without . or ..".into()));
                return;
            }
            error.set(None);
            new_path.set(String::new());
            open(path, None);
        }
    };
    let upload_input: NodeRef<leptos::html::Input> = NodeRef::new();
    let on_upload = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(input) = upload_input.get_untracked() else {
            return;
        };
        let Some(file) = input.files().and_then(|list| list.get(0)) else {
            error.set(Some("choose a file to upload".into()));
            return;
        };
        let dir = folder.get_untracked().trim().trim_matches('/').to_owned();
        let path = if dir.is_empty() {
            file.name()
        } else {
            format!("{dir}/{}", file.name())
        };
        let Ok(form) = web_sys::FormData::new() else {
            return;
        };
        if form
            .append_with_blob_and_filename("fileContent", &file, &file.name())
            .is_err()
        {
            return;
        }
        let target = api(&path);
        leptos::task::spawn_local(async move {
            match browser::upload(&target, &form, |_, _| {}).await {
                Ok(answer) if answer.ok() => {
                    error.set(None);
                    notice.set(Some(format!("uploaded /{path}")));
                    version.update(|n| *n += 1);
                }
                Ok(answer) => error.set(Some(answer.message())),
                Err(e) => error.set(Some(e)),
            }
        });
    };

    let list = move || {
        Suspend::new(async move {
            rows.await.map(|rows| {
                if rows.is_empty() {
                    return view! { <p class="empty" role="status">"No files in this namespace yet."</p> }.into_any();
                }
                let current = selected();
                view! {
                    <ul class="file-list" aria-label="Files">
                        {rows.into_iter().map(|row| {
                            let href = format!("/namespaces/{}/files?path={}", namespace(), browser::encode(&row.path));
                            let current = (current.as_deref() == Some(row.path.as_str())).then_some("page");
                            view! {
                                <li>
                                    <a href=href aria-current=current class="mono">{format!("/{}", row.path)}</a>
                                    <span class="muted nowrap">{size_text(row.size)} " · " {format_utc(row.modified)}</span>
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
        let Some(path) = selected() else {
            return view! { <p class="muted">"Choose a file, or make a new one."</p> }.into_any();
        };
        let at = revision();
        let ns = namespace();
        let open = open.clone();
        let loaded = Resource::new(move || (), {
            let (ns, path) = (ns.clone(), path.clone());
            move |()| file_text(ns.clone(), path.clone(), at)
        });
        view! {
            <Transition fallback=|| view! { <p class="muted">"Opening…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {
                        let (path, open) = (path.clone(), open.clone());
                        move || {
                            let (path, open) = (path.clone(), open.clone());
                            Suspend::new(async move {
                                loaded.await.map(|file| file_view(path.clone(), at, file, editor(), api, open.clone(), error, notice, version))
                            })
                        }
                    }
                </ErrorBoundary>
            </Transition>
        }
        .into_any()
    };

    view! {
        <Title text=move || format!("Files · {}", namespace()) />
        <div class="page-header">
            <h1>"Files " <span class="mono">{namespace}</span></h1>
            <p class="muted">"Scripts, SQL and settings the flows of this namespace read with " <code>"read('path')"</code>
                " or copy into a WorkingDirectory with " <code>"namespaceFiles"</code> ". "
                <a href=move || format!("/namespaces/{}/kv", namespace())>"KV store"</a> " · "
                <a href=move || format!("/namespaces/{}/secrets", namespace())>"Secrets"</a> " · "
                <a href=move || format!("/api/v1/namespaces/{}/files/export", browser::encode(&namespace())) download>"Export as .zip"</a>
                " (files and flows; upload such a .zip to import it)"</p>
        </div>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {move || notice.get().map(|n| view! { <p class="muted" role="status">{n}</p> })}
        <div class="files-layout">
            <section class="files-side" aria-label="Files of the namespace">
                <Show when=editor>
                    <form class="files-form" on:submit=on_new.clone() aria-label="New file">
                        <label for="new-file-path">"New file"</label>
                        <input id="new-file-path" class="mono" placeholder="sql/query.sql" autocomplete="off"
                            prop:value=move || new_path.get() on:input=move |ev| new_path.set(event_target_value(&ev)) />
                        <button type="submit" class="button">"Create"</button>
                    </form>
                    <form class="files-form" on:submit=on_upload aria-label="Upload a file">
                        <label for="upload-file">"File to upload"</label>
                        <input id="upload-file" type="file" node_ref=upload_input />
                        <input aria-label="Into folder" class="mono" placeholder="folder (optional)" autocomplete="off"
                            prop:value=move || folder.get() on:input=move |ev| folder.set(event_target_value(&ev)) />
                        <button type="submit" class="button">"Upload"</button>
                    </form>
                </Show>
                <Transition fallback=|| view! { <p class="muted">"Loading files…"</p> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>{list}</ErrorBoundary>
                </Transition>
            </section>
            <section class="files-main" aria-label="The file">{pane}</section>
        </div>
    }
}

/// The chosen file: its editor (or an older revision, read only) and its actions.
#[allow(clippy::too_many_arguments)]
fn file_view(
    path: String,
    at: Option<u32>,
    file: OpenedFile,
    can_edit: bool,
    api: impl Fn(&str) -> String + Copy + Send + Sync + 'static,
    open: impl Fn(String, Option<u32>) + Clone + Send + Sync + 'static,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    version: RwSignal<u32>,
) -> AnyView {
    let Some(text) = file.text else {
        return view! { <p class="muted">{format!("/{path} is not text the editor can open (binary, or over 2 MB).")}</p> }.into_any();
    };
    let latest = file.revisions.last().copied();
    let source = RwSignal::new(text.clone());
    // What the server has: the editor's text differs from it until saved.
    let saved = RwSignal::new(if file.exists { Some(text) } else { None });
    let dirty = move || source.with(|s| saved.with(|o| o.as_ref() != Some(s)));
    let save_path = path.clone();
    let save = Callback::new(move |()| {
        let (target, body, shown) = (api(&save_path), source.get_untracked(), save_path.clone());
        leptos::task::spawn_local(async move {
            match browser::send_text("POST", &target, &body.clone(), &[]).await {
                Ok(answer) if answer.ok() => {
                    error.set(None);
                    notice.set(Some(format!("saved /{shown}")));
                    saved.set(Some(body));
                    version.update(|n| *n += 1);
                }
                Ok(answer) => error.set(Some(answer.message())),
                Err(e) => error.set(Some(e)),
            }
        });
    });
    let delete_path = path.clone();
    let delete = {
        let open = open.clone();
        move |_| {
            let (target, shown, open) = (api(&delete_path), delete_path.clone(), open.clone());
            leptos::task::spawn_local(async move {
                match browser::send("DELETE", &target, None).await {
                    Ok(answer) if answer.ok() => {
                        notice.set(Some(format!("deleted /{shown}")));
                        version.update(|n| *n += 1);
                        open(String::new(), None);
                    }
                    Ok(answer) => error.set(Some(answer.message())),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let revisions = file.revisions.clone();
    let revision_path = path.clone();
    let choose = move |ev: leptos::ev::Event| {
        let chosen = event_target_value(&ev)
            .parse::<u32>()
            .ok()
            .filter(|r| Some(*r) != latest);
        open(revision_path.clone(), chosen);
    };
    let older = at.is_some_and(|r| Some(r) != latest);
    let state = if !file.exists {
        "new, not saved yet".to_owned()
    } else {
        format!("revision {}", at.or(latest).unwrap_or(1))
    };
    view! {
        <div class="files-toolbar">
            <h2 class="mono">{format!("/{path}")}</h2>
            <span class="muted">{state}</span>
            {(revisions.len() > 1).then(|| view! {
                <label class="visually-hidden" for="file-revision">"Revision"</label>
                <select id="file-revision" on:change=choose.clone()>
                    {revisions.iter().rev().map(|r| {
                        let selected = Some(*r) == at.or(latest);
                        view! { <option value=r.to_string() selected=selected>{if Some(*r) == latest { format!("revision {r} (latest)") } else { format!("revision {r}") }}</option> }
                    }).collect_view()}
                </select>
            })}
            {can_edit.then(|| view! {
                <button type="button" class="button primary" on:click=move |_| save.run(())>{if older { "Restore this revision" } else { "Save" }}</button>
            })}
            {(can_edit && file.exists).then(|| view! {
                <button type="button" class="button" on:click=delete>"Delete"</button>
            })}
            <Show when=dirty><span class="muted">"unsaved changes"</span></Show>
        </div>
        <Editor source=source on_save=save plain=true label=format!("Content of /{path}") />
    }
    .into_any()
}
