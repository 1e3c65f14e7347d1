//! `/executions/{id}`: one execution, live. A header (flow, state, duration,
//! inputs, labels, trigger), the topology with live states, the Gantt of
//! its task runs, the task runs with their attempts, their outputs (JSON,
//! query results as tables, files with a preview), the metrics its tasks
//! published and the live logs;
//! Kill, Restart and Replay.
//!
//! The server renders the execution as it is; once hydrated, the page asks
//! for it again every half second until it has ended (and for a while after
//! an action), so states, bars and outputs change without a reload. The
//! task runs come a page at a time ([`TASK_RUN_PAGE`]), and a refresh sends
//! the digest of what the page has: the server sends the task runs again
//! only when they changed. The logs come over SSE (see `components::logs`).

use std::collections::HashMap;

use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flows::ErrorList;
use crate::components::browser;
use crate::components::gantt::{Gantt, GanttRow};
use crate::components::json_tree::JsonTree;
use crate::components::logs::Logs;
use crate::components::result_table::{ResultTable, from_csv, from_ion, from_objects};
use crate::components::status::{StateBadge, format_duration, format_utc_seconds, is_terminal};
use crate::components::topology::Topology;

/// An execution as this page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionView {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: i64,
    pub state: String,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    /// The server's clock when this was read: running bars end there.
    pub now: i64,
    pub inputs: Value,
    pub labels: Vec<(String, String)>,
    pub trigger: Option<Value>,
    pub original_id: Option<String>,
    pub outputs: Value,
    pub histories: Vec<(String, i64)>,
    /// Every task run of the execution, not only this page's.
    pub task_run_count: i64,
    /// Where this page of task runs starts.
    pub offset: i64,
    /// Changes whenever a task run is added or changes.
    pub digest: String,
    /// The task runs were as the asker had them (`digest`): `task_runs`
    /// and `task_states` are left empty.
    pub unchanged: bool,
    /// Each task's id and the state of its latest run, for the topology.
    pub task_states: Vec<(String, String)>,
    /// This page of task runs.
    pub task_runs: Vec<TaskRunView>,
}

/// Task runs on one page of an execution.
pub const TASK_RUN_PAGE: i64 = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRunView {
    pub id: String,
    pub task_id: String,
    pub value: Option<String>,
    pub state: String,
    /// State, start, end.
    pub attempts: Vec<(String, i64, Option<i64>)>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub outputs: Option<Value>,
    pub checkpoint: Option<Value>,
}

impl ExecutionView {
    fn terminal(&self) -> bool {
        is_terminal(&self.state)
    }

    fn end(&self) -> i64 {
        self.ended_at.unwrap_or(self.now)
    }
}

impl TaskRunView {
    fn label(&self) -> String {
        match &self.value {
            Some(value) => format!("{} ({value})", self.task_id),
            None => self.task_id.clone(),
        }
    }
}

/// An execution with the page of its task runs from `offset`, read now;
/// `None` if there is none. When `known` is the digest of the task runs
/// as they are, they are not sent again (`unchanged`).
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "execution_view")]
pub async fn get_execution_view(
    id: String,
    offset: Option<i64>,
    known: Option<String>,
) -> Result<Option<ExecutionView>, ServerFnError> {
    let store = ssr::store()?;
    let id = engine::ids::ExecutionId::new(id);
    let Some(execution) = store.get_execution(&id).await.map_err(ssr::failed)? else {
        return Ok(None);
    };
    crate::auth::require(
        engine::auth::Role::Viewer,
        Some(execution.namespace.as_str()),
    )?;
    let (count, digest) = store.task_run_digest(&id).await.map_err(ssr::failed)?;
    let offset = offset.unwrap_or(0).clamp(0, (count - 1).max(0));
    // A page starts at a multiple of the page size.
    let offset = offset - offset % TASK_RUN_PAGE;
    let digest = format!("{offset}/{digest}");
    let page = if known.as_deref() == Some(digest.as_str()) {
        None
    } else {
        let runs = store
            .task_runs_page(&id, offset, TASK_RUN_PAGE)
            .await
            .map_err(ssr::failed)?;
        let states = store.task_states(&id).await.map_err(ssr::failed)?;
        Some(ssr::Runs { runs, states })
    };
    Ok(Some(ssr::view(
        execution,
        ssr::Page {
            count,
            offset,
            digest,
            runs: page,
        },
    )))
}

/// A metric a task of the execution published, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricView {
    pub task_id: String,
    pub name: String,
    pub kind: String,
    pub value: f64,
    pub tags: Vec<(String, String)>,
}

/// The most metrics the page shows; the API pages through all of them.
pub const METRICS_SHOWN: i64 = 500;

/// The first [`METRICS_SHOWN`] metrics of an execution, and how many it has.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "execution_metrics")]
pub async fn execution_metrics(id: String) -> Result<(Vec<MetricView>, i64), ServerFnError> {
    let store = ssr::store()?;
    let id = engine::ids::ExecutionId::new(id);
    let Some(execution) = store.get_execution(&id).await.map_err(ssr::failed)? else {
        return Ok((Vec::new(), 0));
    };
    crate::auth::require(
        engine::auth::Role::Viewer,
        Some(execution.namespace.as_str()),
    )?;
    let query = engine::store::MetricQuery {
        limit: METRICS_SHOWN,
        ..Default::default()
    };
    let (records, total) = store
        .execution_metrics(&id, &query)
        .await
        .map_err(ssr::failed)?;
    Ok((
        records
            .into_iter()
            .map(|r| MetricView {
                task_id: r
                    .metric
                    .task_id
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                name: r.metric.name,
                kind: r.metric.kind,
                value: r.metric.value,
                tags: r.metric.tags.into_iter().collect(),
            })
            .collect(),
        total,
    ))
}

/// The YAML of the flow revision an execution ran, for its topology.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "execution_source")]
pub async fn execution_source(id: String) -> Result<String, ServerFnError> {
    let store = ssr::store()?;
    let Some(execution) = store
        .get_execution(&engine::ids::ExecutionId::new(id))
        .await
        .map_err(ssr::failed)?
    else {
        return Ok(String::new());
    };
    crate::auth::require(
        engine::auth::Role::Viewer,
        Some(execution.namespace.as_str()),
    )?;
    Ok(store
        .flow_revision_source(
            &execution.namespace,
            &execution.flow_id,
            execution.flow_revision,
        )
        .await
        .map_err(ssr::failed)?
        .unwrap_or_default())
}

/// The beginning of a file of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePreview {
    pub name: String,
    pub size: u64,
    pub text: String,
    pub truncated: bool,
}

/// The first 256 KiB of a file of execution `id` (its URI must be one of
/// that execution's), as text.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "preview_file")]
pub async fn preview_file(id: String, uri: String) -> Result<FilePreview, ServerFnError> {
    use tokio::io::AsyncReadExt;
    const LIMIT: u64 = 256 * 1024;
    let store = ssr::store()?;
    let storage: engine::storage::Storage = crate::context::service("storage")?;
    engine::ids::check_id("execution id", &id).map_err(ServerFnError::new)?;
    let execution = store
        .get_execution(&engine::ids::ExecutionId::new(&id))
        .await
        .map_err(ssr::failed)?
        .ok_or_else(|| ServerFnError::new(format!("execution {id} does not exist")))?;
    crate::auth::require(
        engine::auth::Role::Viewer,
        Some(execution.namespace.as_str()),
    )?;
    let prefix = engine::storage::Storage::execution_uri(
        &execution.namespace,
        &execution.flow_id,
        &execution.id,
        "x",
    );
    if !uri.starts_with(prefix.trim_end_matches('x')) {
        return Err(ServerFnError::new(format!(
            "{uri} is not a file of execution {id}"
        )));
    }
    // The same rules as GET /api/v1/executions/{id}/file: no `..`, `%`,
    // links, or files of another namespace.
    let (file, size) = storage
        .for_namespace(&execution.namespace)
        .open(&uri)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(LIMIT)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| ServerFnError::new(format!("reading {uri} failed: {e}")))?;
    Ok(FilePreview {
        name: uri.rsplit('/').next().unwrap_or_default().to_owned(),
        size,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        truncated: size > LIMIT,
    })
}

#[cfg(test)]
mod tests {
    use super::RemoteNews;

    #[test]
    fn remote_pages_and_states_are_read_from_log_lines() {
        let news = RemoteNews::read("run 7: https://example.cloud.databricks.com/?o=1#job/7/run/7");
        assert_eq!(
            news.url.as_deref(),
            Some("https://example.cloud.databricks.com/?o=1#job/7/run/7")
        );
        assert_eq!(
            RemoteNews::read("cluster 0123-abc is PENDING after 3.1s")
                .state
                .as_deref(),
            Some("PENDING")
        );
        assert_eq!(RemoteNews::read("this is fine"), RemoteNews::default());
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use leptos::prelude::*;

    use super::{ExecutionView, TaskRunView};

    pub(super) use crate::context::store;

    pub(super) fn failed(error: engine::store::StoreError) -> ServerFnError {
        crate::context::failed("reading the execution", error)
    }

    /// The task runs a view shows: `runs` is `None` when the asker has them.
    pub(super) struct Page {
        pub count: i64,
        pub offset: i64,
        pub digest: String,
        pub runs: Option<Runs>,
    }

    /// A page's task runs and every task's latest state.
    #[derive(Default)]
    pub(super) struct Runs {
        pub runs: Vec<engine::store::TaskRunRecord>,
        pub states: Vec<(engine::ids::TaskId, engine::state::State)>,
    }

    pub(super) fn view(execution: engine::store::ExecutionRecord, page: Page) -> ExecutionView {
        let unchanged = page.runs.is_none();
        let Runs {
            runs: task_runs,
            states: task_states,
        } = page.runs.unwrap_or_default();
        ExecutionView {
            id: execution.id.to_string(),
            namespace: execution.namespace.to_string(),
            flow_id: execution.flow_id.to_string(),
            flow_revision: execution.flow_revision,
            state: execution.state.as_str().to_owned(),
            created_at: execution.created_at,
            ended_at: execution.ended_at,
            now: jiff::Timestamp::now().as_millisecond(),
            inputs: execution.inputs,
            labels: execution.labels.into_iter().collect(),
            trigger: execution.trigger_vars,
            original_id: execution.original_id.map(|id| id.to_string()),
            outputs: execution.outputs,
            histories: execution
                .histories
                .iter()
                .map(|h| (h.state.as_str().to_owned(), h.date))
                .collect(),
            task_run_count: page.count,
            offset: page.offset,
            digest: page.digest,
            unchanged,
            task_states: task_states
                .into_iter()
                .map(|(task, state)| (task.to_string(), state.as_str().to_owned()))
                .collect(),
            task_runs: task_runs
                .into_iter()
                .map(|run| TaskRunView {
                    id: run.id.to_string(),
                    task_id: run.task_id.to_string(),
                    value: run.value,
                    state: run.state.as_str().to_owned(),
                    attempts: run
                        .attempts
                        .iter()
                        .map(|a| (a.state.as_str().to_owned(), a.start, a.end))
                        .collect(),
                    created_at: run.created_at,
                    ended_at: run.ended_at,
                    outputs: run.outputs,
                    checkpoint: run.checkpoint,
                })
                .collect(),
        }
    }
}

#[component]
pub(crate) fn ExecutionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let execution = Resource::new(id, |id| get_execution_view(id, None, None));
    let source = Resource::new(id, execution_source);
    view! {
        <Title text=move || format!("Execution {}", id()) />
        <Suspense fallback=|| view! { <p class="muted">"Loading the execution…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    let (found, source) = (execution.await?, source.await?);
                    Ok::<_, ServerFnError>(match found {
                        Some(found) => view! { <Live initial=found source /> }.into_any(),
                        None => view! { <NoSuchExecution id=id() /> }.into_any(),
                    })
                })}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn NoSuchExecution(id: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <h1>"Execution not found"</h1>
        <p>"There is no execution " <span class="mono">{id}</span> ". " <a href="/executions">"See every execution."</a></p>
    }
}

/// The execution, refreshed until it ends.
#[component]
fn Live(initial: ExecutionView, source: String) -> impl IntoView {
    let data = RwSignal::new(initial);
    // Polls still to make after an action, even if the execution had ended.
    let wake = RwSignal::new(0_u32);
    let in_flight = StoredValue::new(false);
    Effect::new(move || {
        let handle = set_interval_with_handle(
            move || {
                let ended = data.with_untracked(ExecutionView::terminal);
                if (ended && wake.get_untracked() == 0) || in_flight.get_value() {
                    return;
                }
                if ended {
                    wake.update(|w| *w -= 1);
                }
                in_flight.set_value(true);
                leptos::task::spawn_local(async move {
                    refresh(data, None).await;
                    in_flight.set_value(false);
                });
            },
            std::time::Duration::from_millis(500),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });

    let state = Signal::derive(move || data.with(|d| d.state.clone()));
    let states = Signal::derive(move || {
        data.with(|d| d.task_states.iter().cloned().collect::<HashMap<_, _>>())
    });
    let gantt_rows = Signal::derive(move || {
        data.with(|d| {
            d.task_runs
                .iter()
                .map(|r| GanttRow {
                    label: r.label(),
                    state: r.state.clone(),
                    segments: r.attempts.clone(),
                })
                .collect::<Vec<_>>()
        })
    });
    let tasks = Signal::derive(move || {
        data.with(|d| {
            d.task_states
                .iter()
                .map(|(task, _)| task.clone())
                .collect::<Vec<_>>()
        })
    });
    let (id, flow_id, namespace) =
        data.with_untracked(|d| (d.id.clone(), d.flow_id.clone(), d.namespace.clone()));
    // What the Databricks tasks say in their logs while they wait: the
    // remote page and the remote state (`run 7: https://…`, `cluster c is
    // PENDING after 3.1s`), by task id.
    let remote = RwSignal::new(HashMap::<String, RemoteNews>::new());
    let on_line = Callback::new(move |(task, message): (Option<String>, String)| {
        let Some(task) = task else { return };
        let news = RemoteNews::read(&message);
        if news.url.is_some() || news.state.is_some() {
            remote.update(|all| {
                let entry = all.entry(task).or_default();
                entry.url = news.url.or(entry.url.take());
                entry.state = news.state.or(entry.state.take());
            });
        }
    });

    // Each part is erased to `AnyView`: the whole page as one type is too
    // deep for the compiler (and bigger in wasm).
    let header = view! {
        <div class="page-header execution-header">
            <div>
                <p class="muted mono breadcrumb">
                    <a href=format!("/flows/{namespace}/{flow_id}")>{format!("{namespace}.{flow_id}")}</a>
                </p>
                <h1>"Execution " <span class="mono">{id.clone()}</span> " " <StateBadge state /></h1>
            </div>
            {crate::auth::can(engine::auth::Role::Operator, Some(&namespace)).then(|| view! { <Actions data wake /> })}
        </div>
    }
    .into_any();
    let topology = view! {
        <section aria-labelledby="topology-heading">
            <h2 id="topology-heading">"Topology"</h2>
            <Topology source=Signal::stored(source) states=states />
        </section>
    }
    .into_any();
    let gantt = view! {
        <section aria-labelledby="gantt-heading">
            <h2 id="gantt-heading">"Timeline"</h2>
            <Gantt rows=gantt_rows start=Signal::derive(move || data.with(|d| d.created_at)) end=Signal::derive(move || data.with(ExecutionView::end)) />
        </section>
    }
    .into_any();
    view! {
        {header}
        {view! { <Summary data /> }.into_any()}
        {topology}
        {gantt}
        {view! { <TaskRuns data remote /> }.into_any()}
        {view! { <Outputs data /> }.into_any()}
        {view! { <Metrics data /> }.into_any()}
        {view! { <Logs execution_id=id tasks on_line /> }.into_any()}
    }
}

/// Reads the execution again, with the page of task runs from `offset`
/// (the page shown when `None`); task runs that did not change are kept.
async fn refresh(data: RwSignal<ExecutionView>, offset: Option<i64>) {
    let (id, shown, digest) = data.with_untracked(|d| (d.id.clone(), d.offset, d.digest.clone()));
    let offset = offset.unwrap_or(shown);
    let known = (offset == shown).then_some(digest);
    if let Ok(Some(mut fresh)) = get_execution_view(id, Some(offset), known).await {
        if fresh.unchanged {
            data.update(|d| {
                fresh.task_runs = std::mem::take(&mut d.task_runs);
                fresh.task_states = std::mem::take(&mut d.task_states);
                *d = fresh;
            });
        } else {
            data.set(fresh);
        }
    }
}

#[component]
fn Summary(data: RwSignal<ExecutionView>) -> impl IntoView {
    let d = move || data.get();
    view! {
        <dl class="summary">
            <div><dt>"Flow"</dt><dd class="mono">{move || d().flow_id} " · revision " {move || d().flow_revision}</dd></div>
            <div><dt>"Namespace"</dt><dd class="mono">{move || d().namespace}</dd></div>
            <div><dt>"Started"</dt><dd>{move || format_utc_seconds(d().created_at)}</dd></div>
            <div><dt>"Ended"</dt><dd>{move || d().ended_at.map_or_else(|| "—".to_owned(), format_utc_seconds)}</dd></div>
            <div><dt>"Duration"</dt><dd class="duration">{move || data.with(|d| format_duration(d.end() - d.created_at))}</dd></div>
            <div>
                <dt>"Trigger"</dt>
                <dd>{move || match (d().original_id, d().trigger) {
                    (Some(original), _) => view! { "Replay of " <a class="mono" href=format!("/executions/{original}")>{original.clone()}</a> }.into_any(),
                    (None, Some(trigger)) => view! { <JsonTree value=trigger /> }.into_any(),
                    (None, None) => "Manual".into_any(),
                }}</dd>
            </div>
            <div>
                <dt>"Labels"</dt>
                <dd>{move || {
                    let labels = d().labels;
                    if labels.is_empty() { "—".into_any() } else {
                        view! { <ul class="chips">{labels.into_iter().map(|(k, v)| view! { <li class="chip mono">{k}": "{v}</li> }).collect_view()}</ul> }.into_any()
                    }
                }}</dd>
            </div>
            <div class="wide">
                <dt>"Inputs"</dt>
                <dd>{move || {
                    let inputs = d().inputs;
                    if inputs.as_object().is_some_and(|o| o.is_empty()) { "None".into_any() } else { view! { <JsonTree value=inputs /> }.into_any() }
                }}</dd>
            </div>
        </dl>
    }
}

/// Kill (confirmed in a dialog), Resume (a paused execution, with the
/// `onResume` inputs its Pause declares), Restart (a failed or killed
/// execution, from what failed), Repair (the same, a failed Databricks job
/// run repaired in place) and Replay (a new execution from a chosen task
/// run).
#[component]
fn Actions(data: RwSignal<ExecutionView>, wake: RwSignal<u32>) -> impl IntoView {
    let navigate = use_navigate();
    let confirm = NodeRef::<html::Dialog>::new();
    let replay_dialog = NodeRef::<html::Dialog>::new();
    let resume_dialog = NodeRef::<html::Dialog>::new();
    let resume_form = NodeRef::<html::Form>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let replay_from = RwSignal::new(String::new());
    let state = move || data.with(|d| d.state.clone());
    let id = move || data.with_untracked(|d| d.id.clone());

    let act = move |method: &'static str,
                    path: String,
                    then_open: bool,
                    form: Option<web_sys::FormData>| {
        let navigate = navigate.clone();
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match browser::send(method, &path, form.as_ref()).await {
                Ok(answer) if answer.ok() => {
                    wake.set(6);
                    if then_open
                        && let Some(new_id) = serde_json::from_str::<Value>(&answer.body)
                            .ok()
                            .and_then(|v| v["id"].as_str().map(str::to_owned))
                    {
                        navigate(&format!("/executions/{new_id}"), Default::default());
                    } else {
                        refresh(data, None).await;
                    }
                }
                Ok(answer) => error.set(Some(answer.message())),
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    let kill = {
        let act = act.clone();
        move |_| {
            if let Some(dialog) = confirm.get_untracked() {
                dialog.close();
            }
            act(
                "DELETE",
                format!("/api/v1/executions/{}/kill", browser::encode(&id())),
                false,
                None,
            );
        }
    };
    // The inputs the paused task run takes, from its checkpoint.
    let resume_inputs = move || {
        data.with(|d| {
            d.task_runs
                .iter()
                .find(|r| r.state == "PAUSED")
                .and_then(|r| r.checkpoint.as_ref()?.get("onResume")?.as_array().cloned())
                .unwrap_or_default()
        })
    };
    let resume = {
        let act = act.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if let Some(dialog) = resume_dialog.get_untracked() {
                dialog.close();
            }
            let form = resume_form
                .get_untracked()
                .and_then(|f| web_sys::FormData::new_with_form(&f).ok());
            act(
                "POST",
                format!("/api/v1/executions/{}/resume", browser::encode(&id())),
                false,
                form,
            );
        }
    };
    let restart = {
        let act = act.clone();
        move |_| {
            act(
                "POST",
                format!("/api/v1/executions/{}/restart", browser::encode(&id())),
                false,
                None,
            )
        }
    };
    let repair = {
        let act = act.clone();
        move |_| {
            act(
                "POST",
                format!("/api/v1/executions/{}/repair", browser::encode(&id())),
                false,
                None,
            )
        }
    };
    // A failed task run that made a Databricks job run (its checkpoint
    // holds the run's id): Repair runs that run's failed tasks again.
    let repairable = move || {
        data.with(|d| {
            d.task_runs.iter().any(|r| {
                matches!(r.state.as_str(), "FAILED" | "KILLED")
                    && r.checkpoint.as_ref().is_some_and(|c| c.get("run_id").is_some_and(Value::is_i64))
            })
        })
    };
    let replay = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(dialog) = replay_dialog.get_untracked() {
            dialog.close();
        }
        let from = replay_from.get_untracked();
        let query = if from.is_empty() {
            String::new()
        } else {
            format!("?taskRunId={}", browser::encode(&from))
        };
        act(
            "POST",
            format!(
                "/api/v1/executions/{}/replay{query}",
                browser::encode(&id())
            ),
            true,
            None,
        );
    };
    // Each part erased on its own: as one type the view nests deeper than
    // the compiler's limit in the browser build.
    let buttons = view! {
        <div class="actions">
            <Show when=move || !is_terminal(&state())>
                <button type="button" class="button danger" disabled=move || busy.get() || state() == "KILLING"
                    on:click=move |_| { if let Some(d) = confirm.get_untracked() { let _ = d.show_modal(); } }>"Kill"</button>
            </Show>
            <Show when=move || state() == "PAUSED">
                <button type="button" class="button primary" disabled=move || busy.get()
                    on:click=move |_| { if let Some(d) = resume_dialog.get_untracked() { let _ = d.show_modal(); } }>"Resume"</button>
            </Show>
            <Show when=move || matches!(state().as_str(), "FAILED" | "KILLED")>
                <button type="button" class="button" disabled=move || busy.get() on:click=restart.clone()>"Restart"</button>
            </Show>
            <Show when=move || matches!(state().as_str(), "FAILED" | "KILLED") && repairable()>
                <button type="button" class="button" title="Run the failed tasks of the Databricks job run again, in the same run"
                    disabled=move || busy.get() on:click=repair.clone()>"Repair"</button>
            </Show>
            <Show when=move || is_terminal(&state())>
                <button type="button" class="button" disabled=move || busy.get()
                    on:click=move |_| { if let Some(d) = replay_dialog.get_untracked() { let _ = d.show_modal(); } }>"Replay"</button>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </div>
    }
    .into_any();
    let kill_dialog = view! {
        <dialog class="confirm-dialog" node_ref=confirm aria-labelledby="kill-title">
            <h2 id="kill-title">"Kill this execution?"</h2>
            <p>"Running tasks are cancelled, remote work on Databricks too. The execution ends KILLED."</p>
            <div class="dialog-actions">
                <button type="button" class="button" on:click=move |_| { if let Some(d) = confirm.get_untracked() { d.close(); } }>"Cancel"</button>
                <button type="button" class="button danger" on:click=kill>"Kill execution"</button>
            </div>
        </dialog>
    }
    .into_any();
    let resume_dialog_view = view! {
        <dialog class="confirm-dialog" node_ref=resume_dialog aria-labelledby="resume-title">
            <form node_ref=resume_form on:submit=resume>
                <h2 id="resume-title">"Resume"</h2>
                <p>"The paused task ends and the execution goes on."</p>
                {move || resume_inputs().into_iter().map(resume_field).collect_view()}
                <div class="dialog-actions">
                    <button type="button" class="button" on:click=move |_| { if let Some(d) = resume_dialog.get_untracked() { d.close(); } }>"Cancel"</button>
                    <button type="submit" class="button primary">"Resume execution"</button>
                </div>
            </form>
        </dialog>
    }
    .into_any();
    let replay_dialog_view = view! {
        <dialog class="confirm-dialog" node_ref=replay_dialog aria-labelledby="replay-title">
            <form on:submit=replay>
                <h2 id="replay-title">"Replay"</h2>
                <p>"A new execution of the same revision and inputs. What ended well before the chosen task run is kept."</p>
                <label for="replay-from">"Replay from"</label>
                <select id="replay-from" prop:value=move || replay_from.get() on:change=move |ev| replay_from.set(event_target_value(&ev))>
                    <option value="">"The start"</option>
                    {move || data.with(|d| d.task_runs.iter().map(|r| view! { <option value=r.id.clone()>{r.label()}</option> }).collect_view())}
                </select>
                <div class="dialog-actions">
                    <button type="button" class="button" on:click=move |_| { if let Some(d) = replay_dialog.get_untracked() { d.close(); } }>"Cancel"</button>
                    <button type="submit" class="button primary">"Replay execution"</button>
                </div>
            </form>
        </dialog>
    }
    .into_any();
    view! { {buttons} {kill_dialog} {resume_dialog_view} {replay_dialog_view} }
}

/// One `onResume` input of a Pause, as a form field named by its id.
fn resume_field(input: Value) -> impl IntoView {
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_owned);
    let id = text("id").unwrap_or_default();
    let label = text("displayName").unwrap_or_else(|| id.clone());
    let kind = text("type")
        .unwrap_or_else(|| "STRING".into())
        .to_ascii_uppercase();
    let required = input
        .get("required")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let default = input
        .get("defaults")
        .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned))
        .unwrap_or_default();
    let field_id = format!("resume-{id}");
    let choices: Vec<String> = match kind.as_str() {
        "BOOLEAN" | "BOOL" => vec!["true".into(), "false".into()],
        "SELECT" | "ENUM" => input
            .get("values")
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let field = if choices.is_empty() {
        view! { <input id=field_id.clone() name=id.clone() type="text" value=default required=required /> }.into_any()
    } else {
        let options = choices
            .into_iter()
            .map(|c| {
                let selected = c == default;
                let value = c.clone();
                view! { <option value=value selected=selected>{c}</option> }
            })
            .collect_view();
        view! { <select id=field_id.clone() name=id.clone() required=required>{options}</select> }
            .into_any()
    };
    view! {
        <div class="field">
            <label for=field_id>{label}{text("description").map(|d| view! { <span class="muted">" — "{d}</span> })}</label>
            {field}
        </div>
    }
}

/// A remote page and state read from a log line.
#[derive(Debug, Clone, Default, PartialEq)]
struct RemoteNews {
    url: Option<String>,
    state: Option<String>,
}

impl RemoteNews {
    fn read(message: &str) -> Self {
        let url = message
            .split_whitespace()
            .find(|w| w.starts_with("https://") || w.starts_with("http://"))
            .map(|w| w.trim_end_matches([',', '.', ')']).to_owned());
        let state = message.split_once(" is ").and_then(|(_, rest)| {
            let word = rest.split_whitespace().next()?;
            (word.len() > 2 && word.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                .then(|| word.to_owned())
        });
        Self { url, state }
    }
}

#[component]
fn TaskRuns(
    data: RwSignal<ExecutionView>,
    remote: RwSignal<HashMap<String, RemoteNews>>,
) -> impl IntoView {
    view! {
        <section aria-labelledby="task-runs-heading">
            <h2 id="task-runs-heading">"Task runs"</h2>
            <Pager data />
            {move || {
                let (runs, now) = data.with(|d| (d.task_runs.clone(), d.now));
                if runs.is_empty() {
                    return view! { <p class="muted">"No task has started yet."</p> }.into_any();
                }
                view! {
                    <table class="data-table task-runs">
                        <thead><tr>
                            <th scope="col">"Task"</th><th scope="col">"State"</th><th scope="col">"Attempts"</th>
                            <th scope="col">"Duration"</th><th scope="col">"Databricks"</th>
                        </tr></thead>
                        <tbody>
                            {runs.into_iter().map(|run| {
                                let duration = run.ended_at.unwrap_or(now) - run.created_at;
                                let (task_id, label, state) = (run.task_id.clone(), run.label(), run.state.clone());
                                let remote_key = run.task_id.clone();
                                let attempts = run.attempts.iter().enumerate().map(|(i, (state, start, end))| view! {
                                    <li>{format!("#{} ", i + 1)}<StateBadge state=state.clone() />
                                        " " {format_duration(end.unwrap_or(now) - start)}</li>
                                }).collect_view();
                                view! {
                                    <tr data-task=task_id>
                                        <th scope="row" class="mono">{label}</th>
                                        <td><StateBadge state=state /></td>
                                        <td><ol class="attempts">{attempts}</ol></td>
                                        <td class="num nowrap">{format_duration(duration)}</td>
                                        <td>
                                            <Remote run />
                                            {move || remote.with(|r| r.get(&remote_key).cloned()).map(|news| view! {
                                                <ul class="remote">
                                                    {news.url.map(|url| view! { <li><a href=url target="_blank" rel="noopener">"Open in Databricks"</a></li> })}
                                                    {news.state.map(|state| view! { <li>"remote state " <span class="mono">{state}</span></li> })}
                                                </ul>
                                            }.into_any())}
                                        </td>
                                    </tr>
                                }
                                .into_any()
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// Which task runs the page shows, and the way to the others, when they
/// are more than a page.
#[component]
fn Pager(data: RwSignal<ExecutionView>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let go = move |offset: i64| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            refresh(data, Some(offset)).await;
            busy.set(false);
        });
    };
    move || {
        let (count, offset, shown) =
            data.with(|d| (d.task_run_count, d.offset, d.task_runs.len() as i64));
        let (first, last) = (offset == 0, offset + TASK_RUN_PAGE >= count);
        (count > TASK_RUN_PAGE).then(|| {
            view! {
                <nav class="pager" aria-label="Task run pages">
                    <button type="button" class="button" disabled=move || busy.get() || first
                        on:click=move |_| go((offset - TASK_RUN_PAGE).max(0))>"Previous"</button>
                    <span role="status">{format!("Task runs {}–{} of {count}", offset + 1, offset + shown)}</span>
                    <button type="button" class="button" disabled=move || busy.get() || last
                        on:click=move |_| go(offset + TASK_RUN_PAGE)>"Next"</button>
                </nav>
            }
        })
    }
}

/// Links to what a Databricks task started, and the ids it holds while it
/// waits (from its checkpoint, written the moment it has them).
#[component]
fn Remote(run: TaskRunView) -> impl IntoView {
    let outputs = run.outputs.clone().unwrap_or_default();
    let checkpoint = run.checkpoint.clone().unwrap_or_default();
    let mut items = Vec::new();
    for (key, label) in [
        ("clusterURI", "Cluster"),
        ("runURI", "Run"),
        ("jobURI", "Job"),
    ] {
        if let Some(url) = outputs[key].as_str().filter(|u| u.starts_with("http")) {
            items.push(view! { <li><a href=url.to_owned() target="_blank" rel="noopener">{label}</a></li> }.into_any());
        }
    }
    for (key, label) in [
        ("cluster_id", "cluster"),
        ("run_id", "run"),
        ("job_id", "job"),
        ("statement_id", "statement"),
    ] {
        let value = &checkpoint[key];
        if !value.is_null() {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            items.push(view! { <li class="mono">{label} " " {text}</li> }.into_any());
        }
    }
    if !is_terminal(&run.state) && !items.is_empty() {
        items.push(view! { <li class="muted">"waiting on Databricks…"</li> }.into_any());
    }
    if items.is_empty() {
        None
    } else {
        Some(view! { <ul class="remote">{items}</ul> })
    }
}

#[component]
fn Outputs(data: RwSignal<ExecutionView>) -> impl IntoView {
    // Keyed by the outputs' text: a task's outputs render again only when
    // they change, not at every refresh.
    let with_outputs = move || {
        data.with(|d| {
            d.task_runs
                .iter()
                .filter_map(|r| {
                    r.outputs
                        .as_ref()
                        .filter(|o| o.as_object().is_none_or(|m| !m.is_empty()))
                        .map(|o| (r.label(), o.clone()))
                })
                .collect::<Vec<_>>()
        })
    };
    let execution_id = StoredValue::new(data.with_untracked(|d| d.id.clone()));
    view! {
        <section aria-labelledby="outputs-heading">
            <h2 id="outputs-heading">"Outputs"</h2>
            <Show when=move || !with_outputs().is_empty() fallback=|| view! { <p class="muted">"No outputs yet."</p> }>
                <For each=with_outputs key=|(label, outputs)| format!("{label}{outputs}") let((label, outputs))>
                    <TaskOutputs execution_id=execution_id.get_value() label outputs />
                </For>
            </Show>
        </section>
    }
}

/// The metrics the tasks published, read again as task runs change.
#[component]
fn Metrics(data: RwSignal<ExecutionView>) -> impl IntoView {
    let id = data.with_untracked(|d| d.id.clone());
    let metrics = Resource::new(
        move || data.with(|d| d.digest.clone()),
        move |_| execution_metrics(id.clone()),
    );
    let shown = move || metrics.get().and_then(Result::ok).unwrap_or_default();
    view! {
        <section aria-labelledby="metrics-heading">
            <h2 id="metrics-heading">"Metrics"</h2>
            <Transition fallback=|| ()>
                {move || {
                    let (rows, total) = shown();
                    if rows.is_empty() {
                        return view! { <p class="muted">"No metrics."</p> }.into_any();
                    }
                    let more = (total > rows.len() as i64).then(|| view! {
                        <p class="muted">{format!("The first {} of {total}; GET /api/v1/metrics/{{executionId}} pages through all.", rows.len())}</p>
                    });
                    view! {
                        <table class="data-table metrics">
                            <thead><tr><th scope="col">"Task"</th><th scope="col">"Name"</th><th scope="col">"Type"</th><th scope="col">"Value"</th><th scope="col">"Tags"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|m| {
                                    let value = metric_value(&m.kind, m.value);
                                    let tags = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                                    view! {
                                        <tr>
                                            <td class="mono">{m.task_id}</td>
                                            <td class="mono">{m.name}</td>
                                            <td>{m.kind}</td>
                                            <td class="mono">{value}</td>
                                            <td class="mono">{tags}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        {more}
                    }
                    .into_any()
                }}
            </Transition>
        </section>
    }
}

/// A metric's value as text: a timer's milliseconds as a duration.
fn metric_value(kind: &str, value: f64) -> String {
    if kind == "timer" {
        format_duration(value.round() as i64)
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

#[component]
fn TaskOutputs(execution_id: String, label: String, outputs: Value) -> impl IntoView {
    let rows = outputs["rows"].as_array().cloned();
    let files: Vec<String> = match &outputs {
        Value::Object(map) => map
            .values()
            .filter_map(Value::as_str)
            .filter(|s| s.starts_with("storage://"))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let caption = format!("Rows of {label}");
    view! {
        <article class="task-outputs" aria-label=format!("Outputs of {label}")>
            <h3 class="mono">{label.clone()}</h3>
            {rows.map(|rows| {
                let (columns, cells) = from_objects(&rows);
                view! { <ResultTable columns rows=cells caption=caption.clone() /> }.into_any()
            })}
            {files.into_iter().map(|uri| view! { <FileOutput execution_id=execution_id.clone() uri /> }).collect_view()}
            <details>
                <summary>"All outputs as JSON"</summary>
                <JsonTree value=outputs />
            </details>
        </article>
    }
    .into_any()
}

/// A file output: its download link and a preview (text, or a table for
/// CSV and JSON Lines).
#[component]
fn FileOutput(execution_id: String, uri: String) -> impl IntoView {
    let name = uri.rsplit('/').next().unwrap_or_default().to_owned();
    let download = format!(
        "/api/v1/executions/{}/file?path={}",
        execution_id,
        browser::encode(&uri)
    );
    let preview = Resource::new(
        move || (execution_id.clone(), uri.clone()),
        |(id, uri)| preview_file(id, uri),
    );
    let table_name = name.clone();
    view! {
        <div class="file-output">
            <p>
                <span class="mono">{name.clone()}</span> " "
                <a class="button" href=download.clone() download=name.clone()>"Download " {name.clone()}</a>
                // Kestra's format between tasks, which few tools read: the
                // same rows as CSV or JSON, converted as they download.
                {name.ends_with(".ion").then(|| {
                    let stem = name.trim_end_matches(".ion").to_owned();
                    view! {
                        " " <a class="button" href=format!("{download}&format=csv") download=format!("{stem}.csv")>"Download as CSV"</a>
                        " " <a class="button" href=format!("{download}&format=json") download=format!("{stem}.json")>"Download as JSON"</a>
                    }
                })}
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading the preview…"</p> }>
                {move || {
                    let table_name = table_name.clone();
                    Suspend::new(async move {
                        match preview.await {
                            Err(error) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
                            Ok(file) => {
                                let note = file.truncated.then(|| format!("First 256 KiB of {} bytes.", file.size));
                                let body = if table_name.ends_with(".csv") {
                                    let (columns, rows) = from_csv(&file.text);
                                    view! { <ResultTable columns rows caption=format!("Preview of {table_name}") /> }.into_any()
                                } else if table_name.ends_with(".ion") {
                                    let (columns, rows) = from_ion(&file.text);
                                    view! { <ResultTable columns rows caption=format!("Preview of {table_name}") /> }.into_any()
                                } else if table_name.ends_with(".jsonl") || table_name.ends_with(".ndjson") {
                                    let objects: Vec<Value> = file.text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
                                    let (columns, rows) = from_objects(&objects);
                                    view! { <ResultTable columns rows caption=format!("Preview of {table_name}") /> }.into_any()
                                } else {
                                    view! { <pre class="code file-preview">{file.text}</pre> }.into_any()
                                };
                                view! { {body} {note.map(|n| view! { <p class="muted">{n}</p> })} }.into_any()
                            }
                        }
                    })
                }}
            </Suspense>
        </div>
    }
    .into_any()
}
