//! Logs of an execution: all at once, or followed live over SSE.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use engine::ids::{ExecutionId, TaskId, TaskRunId};
use engine::log::Level;
use engine::store::{LogQuery, LogRecord};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::model::{LogJson, log_json};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// The most lines one read returns.
const PAGE: i64 = 10_000;
/// The largest `size` of a page.
const MAX_SIZE: i64 = 10_000;

/// Kestra's filters of an execution's logs, and an optional page.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogParams {
    /// TRACE, DEBUG, INFO, WARN or ERROR.
    min_level: Option<String>,
    /// Only this task's lines.
    task_id: Option<String>,
    /// Only this task run's lines.
    task_run_id: Option<String>,
    /// Only this attempt's lines (1 is the first).
    attempt: Option<u32>,
    /// The page, from 1; with `size`, one page instead of every line.
    page: Option<i64>,
    /// Lines on a page (1 to 10,000; default 100 when `page` is given).
    size: Option<i64>,
}

/// The store's query for `params`; the page's offset is checked, not
/// wrapped.
fn query(params: &LogParams) -> Result<LogQuery, ApiError> {
    let min_level = match params.min_level.as_deref().filter(|s| !s.is_empty()) {
        None => Level::Trace,
        Some(text) => Level::parse(text).ok_or_else(|| ApiError::BadRequest {
            message: format!(
                "minLevel {text:?} is not a level: use TRACE, DEBUG, INFO, WARN or ERROR"
            ),
        })?,
    };
    let mut query = LogQuery {
        min_level,
        task_id: params
            .task_id
            .clone()
            .filter(|s| !s.is_empty())
            .map(TaskId::new),
        task_run_id: params
            .task_run_id
            .clone()
            .filter(|s| !s.is_empty())
            .map(TaskRunId::new),
        attempt: params.attempt,
        ..LogQuery::default()
    };
    if params.page.is_some() || params.size.is_some() {
        let page = params.page.unwrap_or(1);
        let size = params.size.unwrap_or(100);
        let offset = super::params::page_offset(page, size, MAX_SIZE)?;
        query.limit = size;
        query.offset = offset;
    }
    Ok(query)
}

/// The execution's current state; 404 when there is no such execution,
/// 403 when the caller may not read its namespace.
async fn execution_state(
    state: &AppState,
    id: &ExecutionId,
    caller: &Caller,
) -> Result<engine::state::State, ApiError> {
    Ok(
        super::executions::find_as(state, id, caller, engine::auth::Role::Viewer)
            .await?
            .state,
    )
}

/// Every line `query` selects, or its page, read from the store in bounded
/// reads.
async fn read_all(
    state: &AppState,
    id: &ExecutionId,
    mut query: LogQuery,
) -> Result<Vec<LogRecord>, ApiError> {
    if query.limit != LogQuery::default().limit {
        return Ok(state.store.find_logs(id, &query).await?);
    }
    let mut all = Vec::new();
    query.limit = PAGE;
    loop {
        let page = state.store.find_logs(id, &query).await?;
        let full = page.len() as i64 == PAGE;
        query.after_id = page.last().map_or(query.after_id, |l| l.id);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// `GET /api/v1/logs/{executionId}`: the lines, as Kestra's list; with
/// `page` or `size`, one page of them.
#[utoipa::path(get, path = "/api/v1/logs/{executionId}", tag = "logs", params(("executionId" = String, Path), LogParams),
    responses((status = 200, body = Vec<LogJson>), (status = 400, body = crate::error::ErrorJson), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Json<Vec<LogJson>>, ApiError> {
    let query = query(&params)?;
    let id = super::params::execution_id("executionId", &id)?;
    execution_state(&state, &id, &caller).await?;
    Ok(Json(
        read_all(&state, &id, query)
            .await?
            .iter()
            .map(log_json)
            .collect(),
    ))
}

/// The older parameters of a log search, and the page.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchParams {
    /// Text in the message.
    q: Option<String>,
    /// This namespace and those under it.
    namespace: Option<String>,
    flow_id: Option<String>,
    /// TRACE, DEBUG, INFO, WARN or ERROR: this level and above.
    min_level: Option<String>,
    /// ISO-8601 instants.
    start_date: Option<String>,
    end_date: Option<String>,
    /// From 1.
    page: Option<i64>,
    /// Lines on a page (default 10, at most 10,000), as Kestra's.
    size: Option<i64>,
    /// Kestra's `filters[field][OPERATION]=value`: `q`, `namespace`,
    /// `flowId`, `executionId`, `level` (EQUALS: that level and above),
    /// `startDate`, `endDate`, `timeRange`, `scope`, `triggerId`.
    #[serde(default, rename = "filters")]
    #[param(value_type = Option<String>)]
    _filters: Option<()>,
}

/// Kestra's paged results of a log search.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct LogPage {
    results: Vec<LogJson>,
    total: i64,
    /// `OFFSET`: pages are counted, as Kestra's.
    r#type: &'static str,
}

/// `GET /api/v1/logs/search`: the lines of every execution the caller may
/// read, newest first, filtered as Kestra's.
#[utoipa::path(get, path = "/api/v1/logs/search", tag = "logs", params(SearchParams),
    responses((status = 200, body = LogPage), (status = 400, body = crate::error::ErrorJson)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
    RawQuery(raw): RawQuery,
) -> Result<Json<LogPage>, ApiError> {
    use super::query_filter::{Filter, Resource, SYSTEM_NAMESPACE, parse};
    use engine::store::query::{Condition, Op, Operand};
    use engine::store::{LogField, LogSearch};
    let mut search = LogSearch {
        scopes: caller.principal.scopes(engine::auth::Role::Viewer),
        ..LogSearch::default()
    };
    let mut push = |field, op, operand| search.conditions.push(Condition { field, op, operand });
    let text = |t: &str| Operand::Text(t.to_owned());
    let given = |o: &Option<String>| o.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(q) = given(&params.q) {
        push(LogField::Query, Op::Contains, text(&q));
    }
    if let Some(namespace) = given(&params.namespace) {
        push(LogField::Namespace, Op::Prefix, text(&namespace));
    }
    if let Some(flow_id) = given(&params.flow_id) {
        push(LogField::FlowId, Op::Equals, text(&flow_id));
    }
    if let Some(level) = given(&params.min_level) {
        push(LogField::MinLevel, Op::Equals, text(&level_name(&level)?));
    }
    for (name, value, op) in [
        ("startDate", &params.start_date, Op::GreaterThanOrEqualTo),
        ("endDate", &params.end_date, Op::LessThanOrEqualTo),
    ] {
        if let Some(value) = given(value) {
            push(LogField::Timestamp, op, Operand::Millis(super::executions::parse_instant(name, &value)?));
        }
    }
    for filter in parse(raw.as_deref(), Resource::Log)? {
        let Filter { field, op, .. } = filter;
        match field {
            "q" => push(LogField::Query, if op == Op::Equals { Op::Contains } else { op }, filter.text()),
            "namespace" => push(LogField::Namespace, op, filter.text()),
            "flowId" => push(LogField::FlowId, op, filter.text()),
            "executionId" => push(LogField::ExecutionId, op, filter.text()),
            "level" => push(LogField::MinLevel, op, text(&level_name(&filter.value)?)),
            "startDate" | "endDate" => push(LogField::Timestamp, op, filter.instant()?),
            "timeRange" => push(LogField::Timestamp, Op::GreaterThanOrEqualTo, filter.since()?),
            "scope" => push(
                LogField::Namespace,
                if filter.selects("SYSTEM") { Op::Equals } else { Op::NotEquals },
                text(SYSTEM_NAMESPACE),
            ),
            // Mortar writes no trigger's lines: a trigger id matches none.
            "triggerId" => {
                if !engine::store::query::matches(op, "", &filter.text()) {
                    push(LogField::ExecutionId, Op::In, text(""));
                }
            }
            other => unreachable!("query_filter accepts {other} for logs"),
        }
    }
    let page = params.page.unwrap_or(1);
    let size = params.size.unwrap_or(10);
    super::params::page_offset(page, size, MAX_SIZE)?;
    let (found, total) = state.store.search_logs(&search, page, size).await?;
    Ok(Json(LogPage {
        results: found
            .iter()
            .map(|f| super::model::log_json(&f.log).within(&f.namespace, &f.flow_id))
            .collect(),
        total,
        r#type: "OFFSET",
    }))
}

/// A level's name, or a 400 naming the levels.
fn level_name(text: &str) -> Result<String, ApiError> {
    Level::parse(text)
        .map(|l| l.as_str().to_owned())
        .ok_or_else(|| ApiError::BadRequest {
            message: format!("level {text:?} is not a level: use TRACE, DEBUG, INFO, WARN or ERROR"),
        })
}

/// `DELETE /api/v1/logs/{executionId}`: deletes the lines that Kestra's
/// filters select (all by default).
#[utoipa::path(delete, path = "/api/v1/logs/{executionId}", tag = "logs", params(("executionId" = String, Path), LogParams),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<axum::http::StatusCode, ApiError> {
    let query = query(&params)?;
    let id = super::params::execution_id("executionId", &id)?;
    super::executions::find_as(&state, &id, &caller, engine::auth::Role::Editor).await?;
    state.store.delete_logs(&id, &query).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `GET /api/v1/logs/{executionId}/download`: the lines as text, one per
/// line (`timestamp LEVEL message`, as Kestra writes them), streamed from the
/// store a page at a time.
#[utoipa::path(get, path = "/api/v1/logs/{executionId}/download", tag = "logs", params(("executionId" = String, Path), LogParams),
    responses((status = 200, description = "The lines as text", content_type = "text/plain"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Response, ApiError> {
    let query = query(&params)?;
    let id = super::params::execution_id("executionId", &id)?;
    execution_state(&state, &id, &caller).await?;
    let paged = query.limit != LogQuery::default().limit;
    let first = LogQuery {
        limit: if paged { query.limit } else { PAGE },
        ..query
    };
    let store = state.store.clone();
    let name = format!("{id}.log");
    // (next query, lines written so far); None once done.
    let pages = futures::stream::unfold(Some((first, 0usize)), move |next| {
        let store = store.clone();
        let id = id.clone();
        async move {
            let (mut query, written) = next?;
            let page = match store.find_logs(&id, &query).await {
                Ok(page) => page,
                Err(error) => return Some((Err(std::io::Error::other(error.to_string())), None)),
            };
            let more = !paged && page.len() as i64 == query.limit;
            let mut text = String::new();
            for (i, line) in page.iter().enumerate() {
                if written + i > 0 {
                    text.push('\n');
                }
                text.push_str(&format!(
                    "{} {} {}",
                    super::model::iso(line.at),
                    line.level.as_str(),
                    line.message
                ));
            }
            query.after_id = page.last().map_or(query.after_id, |l| l.id);
            let next = more.then_some((query, written + page.len()));
            Some((Ok::<_, std::io::Error>(text), next))
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        // Fused: the gzip layer polls a body once more after its end, which
        // an unfused `unfold` answers with a panic (an empty reply).
        .body(Body::from_stream(futures::StreamExt::fuse(pages)))
        .map_err(|error| ApiError::Internal(error.to_string()))
}

#[utoipa::path(get, path = "/api/v1/logs/{executionId}/follow", tag = "logs", params(("executionId" = String, Path), LogParams),
    responses((status = 200, description = "Server-Sent Events named `log`, each a log line as JSON, its id the line's id; send Last-Event-ID to resume. Once the execution has ended and its last line is sent, an event named `end` closes the stream.", content_type = "text/event-stream"),
        (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/logs/{executionId}/follow`: Server-Sent Events, one per line,
/// with the line's id as the event id. A client that reconnects with
/// `Last-Event-ID` gets every line after it: none lost, none twice. The
/// stream ends when the execution has ended and every line is sent (the
/// executor stores every line before it stores the end).
pub(crate) async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let query = LogQuery {
        limit: PAGE,
        ..query(&params)?
    };
    let last_seen: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let execution_id = super::params::execution_id("executionId", &id)?;
    // Subscribe before reading the backlog and the state, so that a line
    // or an end in between is seen in one of them.
    let live = state.logs.subscribe();
    let pokes = state.logs.subscribe_pokes();
    let ends = state.executor.subscribe();
    let ended = execution_state(&state, &execution_id, &caller)
        .await?
        .is_terminal();
    let follower = Follower {
        store: state.store.clone(),
        execution_id,
        query,
        last_seen,
        backlog: Vec::new().into_iter(),
        backlog_read: false,
        ended,
        live,
        pokes,
        ends,
    };
    // The last event, `end`, tells a browser's EventSource not to reconnect.
    let stream = futures::stream::unfold(Some(follower), |follower| async move {
        let mut follower = follower?;
        match follower.next().await {
            Some(line) => Some((Ok(to_event(&line)), Some(follower))),
            None if follower.ended => Some((Ok(Event::default().event("end").data("")), None)),
            None => None,
        }
    });
    Ok(Sse::new(futures::StreamExt::fuse(stream))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_event(line: &LogRecord) -> Event {
    let json = log_json(line);
    Event::default()
        .id(line.id.to_string())
        .event("log")
        .json_data(&json)
        .unwrap_or_else(|_| {
            Event::default()
                .id(line.id.to_string())
                .data(line.message.clone())
        })
}

struct Follower {
    store: engine::store::Store,
    execution_id: ExecutionId,
    query: LogQuery,
    last_seen: i64,
    backlog: std::vec::IntoIter<LogRecord>,
    backlog_read: bool,
    /// The execution had ended when the backlog was last read: once it is
    /// sent, the stream ends.
    ended: bool,
    live: tokio::sync::broadcast::Receiver<std::sync::Arc<LogRecord>>,
    /// Executions whose lines another node stored (PostgreSQL): read from
    /// the store after the last line sent, in the database's order.
    pokes: tokio::sync::broadcast::Receiver<ExecutionId>,
    ends: tokio::sync::broadcast::Receiver<(ExecutionId, engine::state::State)>,
}

impl Follower {
    /// The next line to send, or `None` when the stream should end.
    async fn next(&mut self) -> Option<LogRecord> {
        loop {
            if let Some(line) = self.backlog.next() {
                self.last_seen = line.id;
                return Some(line);
            }
            if !self.backlog_read {
                self.refill().await?;
                continue;
            }
            if self.ended {
                return None;
            }
            tokio::select! {
                line = self.live.recv() => match line {
                    Ok(line) => {
                        if self.wanted(&line) {
                            self.last_seen = line.id;
                            return Some((*line).clone());
                        }
                    }
                    // Fell behind the live channel: read what was missed from the store.
                    Err(RecvError::Lagged(_)) => self.backlog_read = false,
                    Err(RecvError::Closed) => return None,
                },
                poke = self.pokes.recv() => match poke {
                    Ok(id) if id == self.execution_id => self.backlog_read = false,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => self.backlog_read = false,
                    Err(RecvError::Closed) => return None,
                },
                end = self.ends.recv() => match end {
                    // Every line was stored before the end: read the rest, then stop.
                    Ok((id, state)) if id == self.execution_id && state.is_terminal() => {
                        self.ended = true;
                        self.backlog_read = false;
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        self.ended = self.store.get_execution(&self.execution_id).await.ok().flatten().is_none_or(|e| e.state.is_terminal());
                        self.backlog_read = false;
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    fn wanted(&self, line: &LogRecord) -> bool {
        line.execution_id == self.execution_id
            && line.id > self.last_seen
            && line.level >= self.query.min_level
            && self
                .query
                .task_id
                .as_ref()
                .is_none_or(|t| line.task_id.as_ref() == Some(t))
            && self
                .query
                .task_run_id
                .as_ref()
                .is_none_or(|t| line.task_run_id.as_ref() == Some(t))
            && self.query.attempt.is_none_or(|a| line.attempt == Some(a))
    }

    async fn refill(&mut self) -> Option<()> {
        let query = LogQuery {
            after_id: self.last_seen,
            ..self.query.clone()
        };
        match self.store.find_logs(&self.execution_id, &query).await {
            Ok(page) => {
                self.backlog_read = (page.len() as i64) < PAGE;
                self.backlog = page.into_iter();
                Some(())
            }
            Err(error) => {
                tracing::error!(%error, "reading logs to follow failed");
                None
            }
        }
    }
}
