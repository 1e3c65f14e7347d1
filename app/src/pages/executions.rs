//! `/executions`: the history of flow runs, filtered (namespace, flow,
//! state, date range, label), searched, sorted by a column and paged. The
//! filters live in the address, so every view can be linked and reloaded;
//! the form is a GET form that works before hydration and navigates
//! without a reload after. Running executions refresh every second.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use serde::{Deserialize, Serialize};

use super::flows::ErrorList;
use crate::components::browser::encode;
use crate::components::status::{StateBadge, format_duration, format_utc_seconds, is_terminal};

const STATES: [&str; 10] = [
    "CREATED", "RUNNING", "PAUSED", "RETRYING", "SUCCESS", "WARNING", "FAILED", "KILLING",
    "KILLED", "SKIPPED",
];
#[cfg(feature = "ssr")]
const PAGE_SIZE: i64 = 25;

/// What the list asks for, read from the address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListParams {
    pub namespace: String,
    pub flow: String,
    pub state: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub from: String,
    pub to: String,
    /// `key:value`.
    pub label: String,
    pub q: String,
    pub sort: String,
    /// `asc` or `desc`.
    pub dir: String,
    pub page: i64,
}

impl ListParams {
    fn from_query(query: &ParamsMap) -> Self {
        let get = |key: &str| query.get(key).unwrap_or_default();
        Self {
            namespace: get("namespace"),
            flow: get("flow"),
            state: get("state"),
            from: get("from"),
            to: get("to"),
            label: get("label"),
            q: get("q"),
            sort: get("sort"),
            dir: get("dir"),
            page: get("page").parse().unwrap_or(1).max(1),
        }
    }

    fn descending(&self) -> bool {
        self.dir != "asc"
    }

    fn sort_key(&self) -> &str {
        if self.sort.is_empty() {
            "created"
        } else {
            &self.sort
        }
    }

    /// This query with `changes` applied, as an address.
    fn href(&self, change: impl FnOnce(&mut Self)) -> String {
        let mut next = self.clone();
        change(&mut next);
        let mut pairs = Vec::new();
        for (key, value) in [
            ("namespace", &next.namespace),
            ("flow", &next.flow),
            ("state", &next.state),
            ("from", &next.from),
            ("to", &next.to),
            ("label", &next.label),
            ("q", &next.q),
            ("sort", &next.sort),
            ("dir", &next.dir),
        ] {
            if !value.is_empty() {
                pairs.push(format!("{key}={}", encode(value)));
            }
        }
        if next.page > 1 {
            pairs.push(format!("page={}", next.page));
        }
        if pairs.is_empty() {
            "/executions".to_owned()
        } else {
            format!("/executions?{}", pairs.join("&"))
        }
    }
}

/// One execution as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRow {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub state: String,
    pub labels: Vec<(String, String)>,
    pub created_at: i64,
    /// Until the end, or until now for a running one.
    pub duration: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionList {
    pub rows: Vec<ExecutionRow>,
    pub total: i64,
    pub page: i64,
    pub size: i64,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "list_executions")]
pub async fn list_executions(params: ListParams) -> Result<ExecutionList, ServerFnError> {
    let principal = crate::auth::require_any()?;
    let store = crate::context::store()?;
    let mut query = ssr::query(&params).map_err(ServerFnError::new)?;
    query.filter.scopes = principal.scopes(engine::auth::Role::Viewer);
    let page = store
        .list_executions(&query)
        .await
        .map_err(|e| crate::context::failed("listing executions", e))?;
    let now = jiff::Timestamp::now().as_millisecond();
    Ok(ExecutionList {
        rows: page.results.into_iter().map(|e| ssr::row(e, now)).collect(),
        total: page.total,
        page: query.page,
        size: query.size,
    })
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use engine::state::State;
    use engine::store::{ExecutionFilter, ExecutionQuery, ExecutionSort, ExecutionSummary};

    use super::{ExecutionRow, ListParams, PAGE_SIZE};

    const DAY_MS: i64 = 86_400_000;

    pub(super) fn query(params: &ListParams) -> Result<ExecutionQuery, String> {
        let day = |name: &str, text: &str| -> Result<Option<i64>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            let bad = || format!("{name} {text:?} is not a date such as 2026-11-25");
            let date: jiff::civil::Date = text.parse().map_err(|_| bad())?;
            let start: jiff::Timestamp = format!("{date}T00:00:00Z").parse().map_err(|_| bad())?;
            Ok(Some(start.as_millisecond()))
        };
        let mut filter = ExecutionFilter {
            namespace: Some(params.namespace.trim().to_owned()).filter(|s| !s.is_empty()),
            flow_id: Some(params.flow.trim().to_owned()).filter(|s| !s.is_empty()),
            created_from: day("from", &params.from)?,
            created_to: day("to", &params.to)?.map(|start| start + DAY_MS),
            ..Default::default()
        };
        if !params.state.is_empty() {
            filter.states = params
                .state
                .split(',')
                .map(|s| State::parse(s.trim()).ok_or_else(|| format!("{s:?} is not a state")))
                .collect::<Result<_, _>>()?;
        }
        if let Some((key, value)) = params.label.split_once([':', '=']) {
            filter
                .labels
                .push((key.trim().to_owned(), value.trim().to_owned()));
        } else if !params.label.trim().is_empty() {
            return Err(format!("label {:?} must be key:value", params.label));
        }
        Ok(ExecutionQuery {
            filter,
            text: Some(params.q.clone()),
            sort: ExecutionSort::parse(params.sort_key()).unwrap_or_default(),
            descending: params.descending(),
            page: params.page.max(1),
            size: PAGE_SIZE,
        })
    }

    pub(crate) fn row(e: ExecutionSummary, now: i64) -> ExecutionRow {
        ExecutionRow {
            id: e.id.to_string(),
            namespace: e.namespace.to_string(),
            flow_id: e.flow_id.to_string(),
            state: e.state.as_str().to_owned(),
            labels: e.labels.into_iter().collect(),
            created_at: e.created_at,
            duration: e.ended_at.unwrap_or(now) - e.created_at,
        }
    }
}

#[component]
pub(crate) fn ExecutionsPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| query.with(ListParams::from_query));
    let list = Resource::new(move || params.get(), list_executions);
    // Refresh while something on the page runs.
    Effect::new(move || {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                let running = list.with_untracked(|l| {
                    l.as_ref()
                        .and_then(|r| r.as_ref().ok())
                        .is_some_and(|l| l.rows.iter().any(|r| !is_terminal(&r.state)))
                });
                if running {
                    list.refetch();
                }
            },
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let initial = params.get_untracked();

    view! {
        <Title text="Executions" />
        <div class="page-header">
            <h1>"Executions"</h1>
        </div>
        <Form method="GET" action="/executions">
            <div class="filters" role="search" aria-label="Filter executions">
                <label>"Search" <input type="search" name="q" value=initial.q.clone() placeholder="Id, flow, namespace or label" /></label>
                <label>"Namespace" <input type="text" name="namespace" value=initial.namespace.clone() placeholder="company.data" /></label>
                <label>"Flow" <input type="text" name="flow" value=initial.flow.clone() /></label>
                <label>"State"
                    <select name="state">
                        <option value="">"Any"</option>
                        {STATES.map(|s| view! { <option value=s selected=initial.state == s>{s}</option> })}
                    </select>
                </label>
                <label>"From" <input type="date" name="from" value=initial.from.clone() /></label>
                <label>"To" <input type="date" name="to" value=initial.to.clone() /></label>
                <label>"Label" <input type="text" name="label" value=initial.label.clone() placeholder="key:value" /></label>
                <input type="hidden" name="sort" value=initial.sort.clone() />
                <input type="hidden" name="dir" value=initial.dir.clone() />
                <button type="submit" class="button primary">"Apply"</button>
                <a class="button" href="/executions">"Clear"</a>
            </div>
        </Form>
        <Transition fallback=|| view! { <p class="muted">"Loading executions…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    list.await.map(|list| view! { <ExecutionTable list params=params.get_untracked() /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn ExecutionTable(list: ExecutionList, params: ListParams) -> impl IntoView {
    if list.total == 0 {
        return view! {
            <section class="empty" aria-labelledby="no-executions">
                <h2 id="no-executions">"No executions"</h2>
                <p>"No execution matches. Every run of a flow is listed here, newest first; start one with Execute on the "
                   <a href="/flows">"flows"</a> " page."</p>
            </section>
        }
        .into_any();
    }
    let pages = (list.total + list.size - 1) / list.size;
    let header = |key: &'static str, label: &'static str| {
        let current = params.sort_key() == key;
        let descending = params.descending();
        let aria = if !current {
            "none"
        } else if descending {
            "descending"
        } else {
            "ascending"
        };
        let href = params.href(|p| {
            p.sort = key.to_owned();
            p.dir = if current && descending {
                "asc".to_owned()
            } else {
                "desc".to_owned()
            };
            p.page = 1;
        });
        let arrow = if !current {
            ""
        } else if descending {
            " ↓"
        } else {
            " ↑"
        };
        view! { <th scope="col" aria-sort=aria><a href=href>{label}{arrow}</a></th> }
    };
    let first = (list.page - 1) * list.size + 1;
    let last = first + list.rows.len() as i64 - 1;
    view! {
        <table class="data-table executions-table">
            <caption class="table-caption">{format!("{first}–{last} of {} executions", list.total)}</caption>
            <thead>
                <tr>
                    <th scope="col">"Id"</th>
                    {header("namespace", "Namespace")}
                    {header("flow", "Flow")}
                    {header("state", "State")}
                    {header("created", "Started")}
                    {header("duration", "Duration")}
                    <th scope="col">"Labels"</th>
                </tr>
            </thead>
            <tbody>
                {list.rows.into_iter().map(|row| view! {
                    <tr>
                        <td class="mono"><a href=format!("/executions/{}", row.id)>{row.id.clone()}</a></td>
                        <td class="mono">{row.namespace}</td>
                        <td class="mono strong">{row.flow_id}</td>
                        <td><StateBadge state=row.state /></td>
                        <td class="nowrap">{format_utc_seconds(row.created_at)}</td>
                        <td class="num nowrap">{format_duration(row.duration)}</td>
                        <td>{row.labels.into_iter().map(|(k, v)| view! { <span class="chip mono">{k}": "{v}</span> " " }).collect_view()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {(list.page > 1).then(|| view! { <a class="button" rel="prev" href=params.href(|p| p.page -= 1)>"Previous"</a> })}
            <span class="muted">{format!("Page {} of {pages}", list.page)}</span>
            {(list.page < pages).then(|| view! { <a class="button" rel="next" href=params.href(|p| p.page += 1)>"Next"</a> })}
        </nav>
    }
    .into_any()
}
