//! `flow.Pause`, which the executor runs itself: the task run and the
//! execution go PAUSED until a resume (`Executor::resume`: the execution
//! page's button, `POST /api/v1/executions/{id}/resume`) or until
//! `pauseDuration` has passed, when `behavior` decides.
//!
//! The pause lives in the store, so it outlasts a restart and reaches
//! every node: the checkpoint holds when it began and the `onResume`
//! inputs it takes; a resume writes the given inputs there and wakes the
//! walk (at once on this node, within a second on another).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Outcome, Scope, Walk, insert_output};
use crate::executor::{ExecutionError, Executor, inputs};
use crate::log::Level;
use crate::plan::{InputDecl, Node};
use crate::state::{Event, State};
use crate::store::{StoreError, TaskRunRecord};
use crate::task::core::parse_duration;

/// How often a paused walk looks for a resume written by another node.
const CHECK_EVERY: Duration = Duration::from_secs(1);

impl Walk {
    pub(super) async fn pause(
        self: &Arc<Self>,
        node: &Node,
        properties: &Map<String, Value>,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Result<Outcome, StoreError> {
        let run_ref = (&run.id, &node.id, 1);
        let vars = self.vars(Some((run, node, scope)));
        let rendered = match self.render_properties(node, properties, &vars).await {
            Ok(rendered) => rendered,
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        };
        let duration = match rendered
            .get("pauseDuration")
            .or_else(|| rendered.get("delay"))
            .and_then(Value::as_str)
            .map(parse_duration)
            .transpose()
        {
            Ok(duration) => duration,
            Err(message) => {
                return self
                    .fail_run(run, node, 1, &format!("pauseDuration: {message}"))
                    .await;
            }
        };
        let behavior = rendered
            .get("behavior")
            .and_then(Value::as_str)
            .unwrap_or("RESUME")
            .to_ascii_uppercase();
        let mut checkpoint = run.checkpoint.clone().unwrap_or(Value::Null);
        if run.state != State::Paused {
            if run.state == State::Created {
                self.event(run, Event::Start, None).await?;
            }
            checkpoint = json!({
                "pausedAt": jiff::Timestamp::now().as_millisecond(),
                "onResume": rendered.get("onResume").cloned().unwrap_or_else(|| json!([])),
            });
            self.shared
                .store
                .set_checkpoint(&run.id, &checkpoint)
                .await?;
            self.event(run, Event::Pause, None).await?;
            self.execution_event(Event::Pause).await;
            let until = duration.map_or_else(
                || "until it is resumed".to_owned(),
                |d| format!("for {d:?} at most ({behavior} after)"),
            );
            self.log_for(Some(run_ref), Level::Info, &format!("paused {until}"))
                .await;
        }
        let since = checkpoint["pausedAt"]
            .as_i64()
            .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
        let deadline = duration
            .map(|d| since.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
        let mut resumes = self.shared.resumes.subscribe();
        loop {
            if let Some(given) = self
                .shared
                .store
                .get_task_run(&run.id)
                .await?
                .and_then(|r| r.checkpoint)
                .and_then(|c| c.get("resumed").cloned())
            {
                self.event(run, Event::Resume, None).await?;
                self.execution_event(Event::Resume).await;
                self.log_for(Some(run_ref), Level::Info, "resumed").await;
                return self.end_pause(run, node, scope, given).await;
            }
            let now = jiff::Timestamp::now().as_millisecond();
            if let Some(deadline) = deadline
                && now >= deadline
            {
                self.event(run, Event::Resume, None).await?;
                self.execution_event(Event::Resume).await;
                let waited = duration.unwrap_or_default();
                match behavior.as_str() {
                    "WARN" => {
                        self.log_for(
                            Some(run_ref),
                            Level::Warn,
                            &format!("not resumed within {waited:?}: going on, WARNING"),
                        )
                        .await;
                        self.event(run, Event::Warn, None).await?;
                        self.warning
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        return Ok(Outcome::Success);
                    }
                    "FAIL" => {
                        self.log_for(
                            Some(run_ref),
                            Level::Error,
                            &format!("not resumed within {waited:?}: failing"),
                        )
                        .await;
                        return self.end_failed(run, node).await;
                    }
                    "CANCEL" => {
                        self.log_for(
                            Some(run_ref),
                            Level::Warn,
                            &format!("not resumed within {waited:?}: cancelling the execution"),
                        )
                        .await;
                        self.event(run, Event::Kill, None).await?;
                        self.event(run, Event::Stopped, None).await?;
                        self.execution_event(Event::Kill).await;
                        self.kill.cancel();
                        return Ok(Outcome::Killed);
                    }
                    _ => {
                        self.log_for(
                            Some(run_ref),
                            Level::Info,
                            &format!("not resumed within {waited:?}: going on"),
                        )
                        .await;
                        return self.end_pause(run, node, scope, json!({})).await;
                    }
                }
            }
            let left = deadline.map_or(CHECK_EVERY, |d| {
                Duration::from_millis(u64::try_from(d - now).unwrap_or(0)).min(CHECK_EVERY)
            });
            let kill = self.kill_token();
            tokio::select! {
                () = kill.cancelled() => {
                    self.event(run, Event::Kill, None).await?;
                    self.event(run, Event::Stopped, None).await?;
                    self.log_for(Some(run_ref), Level::Warn, "killed while paused").await;
                    return Ok(Outcome::Killed);
                }
                () = self.stop.cancelled() => return Ok(Outcome::Interrupted),
                // A resume of some execution on this node: look again.
                _ = resumes.recv() => {}
                () = tokio::time::sleep(left) => {}
            }
        }
    }

    /// The pause ends SUCCESS with `onResume` as its output, after the
    /// tasks of Kestra's older Pause (`tasks`), if it has any.
    async fn end_pause(
        self: &Arc<Self>,
        run: &TaskRunRecord,
        node: &Node,
        scope: &Scope,
        given: Value,
    ) -> Result<Outcome, StoreError> {
        if !node.common.after.is_empty() {
            let outcome = self
                .clone()
                .walk_list(node.common.after.clone(), scope.inner(&run.id))
                .await;
            if outcome != Outcome::Success {
                return self.end_flowable(run, node, outcome).await;
            }
        }
        let outputs = self
            .renderer
            .masker()
            .mask_value(&json!({ "onResume": given }));
        if let Ok(mut all) = self.outputs.lock() {
            insert_output(&mut all, &node.id, &scope.levels, outputs.clone());
        }
        self.event(run, Event::Succeed, Some(&outputs)).await?;
        Ok(Outcome::Success)
    }

    /// The execution's own PAUSED and back: another branch may already
    /// have moved it (two pauses in a Parallel), which is no error.
    async fn execution_event(&self, event: Event) {
        if let Err(error) = self.transition(event).await {
            tracing::debug!(execution_id = %self.execution.id, ?event, %error, "the execution's state stays");
        }
    }
}

impl Executor {
    /// An execution as stored (for `execution.Resume`'s checks).
    pub async fn execution(
        &self,
        id: &crate::ids::ExecutionId,
    ) -> Result<crate::store::ExecutionRecord, ExecutionError> {
        self.shared
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| ExecutionError::NotFound(id.clone()))
    }

    /// Resumes a paused execution with the `onResume` inputs its Pause
    /// declares (checked and converted as a flow's inputs are). The walk
    /// goes on once it sees the resume.
    pub async fn resume(
        &self,
        id: &crate::ids::ExecutionId,
        given: Map<String, Value>,
    ) -> Result<(), ExecutionError> {
        let execution = self
            .shared
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| ExecutionError::NotFound(id.clone()))?;
        if execution.state != State::Paused {
            return Err(ExecutionError::Conflict(format!(
                "execution {id} is {}, not PAUSED: only a paused execution can be resumed",
                execution.state
            )));
        }
        let runs = self.shared.store.task_runs(id).await?;
        let paused = runs
            .iter()
            .find(|r| {
                r.state == State::Paused
                    && r.checkpoint
                        .as_ref()
                        .is_some_and(|c| c.get("resumed").is_none())
            })
            .ok_or_else(|| {
                ExecutionError::Conflict(format!(
                    "no task of execution {id} is waiting for a resume"
                ))
            })?;
        let mut checkpoint = paused.checkpoint.clone().unwrap_or_else(|| json!({}));
        let decls = resume_inputs(&checkpoint["onResume"]);
        let resolved = inputs::resolve(&decls, &given).map_err(ExecutionError::Inputs)?;
        checkpoint["resumed"] = Value::Object(inputs::nested(resolved));
        self.shared
            .store
            .set_checkpoint(&paused.id, &checkpoint)
            .await?;
        let _ = self.shared.resumes.send(id.clone());
        Ok(())
    }
}

/// A Pause's `onResume` declarations, as a flow's inputs.
pub(crate) fn resume_inputs(declared: &Value) -> Vec<InputDecl> {
    declared
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|input| {
            Some(InputDecl {
                id: input.get("id")?.as_str()?.to_owned(),
                kind: input
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("STRING")
                    .to_ascii_uppercase(),
                required: input
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                defaults: input.get("defaults").cloned().filter(|d| !d.is_null()),
                values: input
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                description: input
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                ..InputDecl::default()
            })
        })
        .collect()
}
