//! Following an execution over server-sent events (`/follow`).

use super::*;

/// What a follower of an execution holds between events.
struct ExecutionFollower {
    state: AppState,
    id: ExecutionId,
    changes: tokio::sync::broadcast::Receiver<(ExecutionId, RunState)>,
    /// The last execution sent, to send only changes.
    last: Option<String>,
    started: bool,
    done: bool,
}

impl ExecutionFollower {
    /// The next event: `start`, then `progress` at each change of the
    /// execution or its task runs, then `end` with the final execution.
    async fn next(&mut self) -> Option<axum::response::sse::Event> {
        use axum::response::sse::Event;
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Event::default()
                .id("start")
                .json_data(serde_json::json!({"id": self.id.as_str()}))
                .ok();
        }
        loop {
            let record = find(&self.state, &self.id).await.ok()?;
            // PAUSED is not an end: a resume goes on.
            let ended = record.state.is_terminal();
            // Read after the state: the task runs of an end seen are final.
            let runs = self.state.store.task_runs(&self.id).await.ok()?;
            let text = serde_json::to_string(&execution_json(record, runs, now_ms())).ok()?;
            if ended {
                self.done = true;
                return Some(Event::default().id("end").data(text));
            }
            if self.last.as_deref() != Some(text.as_str()) {
                self.last = Some(text.clone());
                return Some(Event::default().id("progress").data(text));
            }
            // A change of this execution, or a look again shortly: task
            // runs change without an execution event.
            let wait = async {
                loop {
                    match self.changes.recv().await {
                        Ok((id, _)) if id == self.id => return,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_millis(250), wait).await;
        }
    }
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/follow", tag = "executions", params(("id" = String, Path)),
    responses((status = 200, description = "Server-Sent Events as Kestra's: `start`, a `progress` per change with the execution, `end` with the final one", content_type = "text/event-stream"),
              (status = 404, body = crate::error::ErrorJson)))]
/// `GET /api/v1/executions/{id}/follow`: the execution's states as
/// Server-Sent Events, as Kestra's: an event with id `start`, one with id
/// `progress` and the execution (Kestra's JSON) at each change, and one
/// with id `end` and the final execution once it has ended (a paused one
/// goes on).
pub(crate) async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<
    axum::response::sse::Sse<
        impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    let id = crate::api::params::execution_id("id", &id)?;
    // Subscribed before the first read, so no change in between is missed.
    let changes = state.executor.subscribe();
    find_as(&state, &id, &caller, Role::Viewer).await?;
    let follower = ExecutionFollower {
        state,
        id,
        changes,
        last: None,
        started: false,
        done: false,
    };
    let stream = futures::stream::unfold(follower, |mut follower| async move {
        let event = follower.next().await?;
        Some((Ok(event), follower))
    });
    Ok(axum::response::sse::Sse::new(stream).keep_alive(
        axum::response::sse::KeepAlive::new().interval(std::time::Duration::from_secs(15)),
    ))
}
