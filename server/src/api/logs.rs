//! Logs of an execution: all at once, or followed live over SSE.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use engine::ids::ExecutionId;
use engine::log::Level;
use engine::store::LogRecord;
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::model::{LogJson, log_json};
use crate::AppState;
use crate::error::ApiError;

/// The most lines one read returns.
const PAGE: i64 = 10_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogParams {
    /// TRACE, DEBUG, INFO, WARN or ERROR.
    min_level: Option<String>,
}

fn min_level(params: &LogParams) -> Result<Level, ApiError> {
    match params.min_level.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(Level::Trace),
        Some(text) => Level::parse(text).ok_or_else(|| ApiError::BadRequest {
            message: format!("minLevel {text:?} is not a level: use TRACE, DEBUG, INFO, WARN or ERROR"),
        }),
    }
}

/// `GET /api/v1/logs/{executionId}[?minLevel=]`.
#[utoipa::path(get, path = "/api/v1/logs/{executionId}", tag = "logs", params(("executionId" = String, Path), LogParams),
    responses((status = 200, body = Vec<LogJson>), (status = 400, body = crate::error::ErrorJson)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Json<Vec<LogJson>>, ApiError> {
    let level = min_level(&params)?;
    let id = ExecutionId::new(id);
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = state.store.logs(&id, level, after, PAGE).await?;
        let full = page.len() as i64 == PAGE;
        after = page.last().map_or(after, |l| l.id);
        all.extend(page.iter().map(log_json));
        if !full {
            break;
        }
    }
    Ok(Json(all))
}

#[utoipa::path(get, path = "/api/v1/logs/{executionId}/follow", tag = "logs", params(("executionId" = String, Path), LogParams),
    responses((status = 200, description = "Server-Sent Events named `log`, each a log line as JSON, its id the line's id; send Last-Event-ID to resume", content_type = "text/event-stream")))]
/// `GET /api/v1/logs/{executionId}/follow`: Server-Sent Events, one per line,
/// with the line's id as the event id. A client that reconnects with
/// `Last-Event-ID` gets every line after it: none lost, none twice.
pub(crate) async fn follow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let level = min_level(&params)?;
    let last_seen: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // Subscribe before reading the backlog, so that a line stored in
    // between is in one of the two; the id check drops it from the other.
    let live = state.logs.subscribe();
    let follower = Follower {
        store: state.store.clone(),
        execution_id: ExecutionId::new(id),
        level,
        last_seen,
        backlog: Vec::new().into_iter(),
        backlog_read: false,
        live,
    };
    let stream = futures::stream::unfold(follower, |mut follower| async move {
        let line = follower.next().await?;
        Some((Ok(to_event(&line)), follower))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_event(line: &LogRecord) -> Event {
    let json = log_json(line);
    Event::default()
        .id(line.id.to_string())
        .event("log")
        .json_data(&json)
        .unwrap_or_else(|_| Event::default().id(line.id.to_string()).data(line.message.clone()))
}

struct Follower {
    store: engine::store::Store,
    execution_id: ExecutionId,
    level: Level,
    last_seen: i64,
    backlog: std::vec::IntoIter<LogRecord>,
    backlog_read: bool,
    live: tokio::sync::broadcast::Receiver<std::sync::Arc<LogRecord>>,
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
            match self.live.recv().await {
                Ok(line) => {
                    if line.execution_id == self.execution_id && line.id > self.last_seen && line.level >= self.level {
                        self.last_seen = line.id;
                        return Some((*line).clone());
                    }
                }
                // Fell behind the live channel: read what was missed from the store.
                Err(RecvError::Lagged(_)) => self.backlog_read = false,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn refill(&mut self) -> Option<()> {
        match self.store.logs(&self.execution_id, self.level, self.last_seen, PAGE).await {
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
