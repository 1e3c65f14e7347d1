//! `flow.LoopUntil` (and its older name `flow.WaitFor`): its tasks run
//! again and again until its condition holds. Each iteration's task runs
//! are new ones, set apart by their iteration (shown as their value);
//! `outputs.<loop>.iterationCount` is the iteration running, and the
//! iteration is kept in the loop's checkpoint, so that a restarted
//! execution goes on from it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Outcome, Scope, Walk, insert_output};
use crate::log::Level;
use crate::plan::Node;
use crate::state::Event;
use crate::store::{StoreError, TaskRunRecord};
use crate::task::core::{is_truthy, parse_duration};

/// The loop's limits, from `checkFrequency` (Kestra's defaults).
struct Limits {
    max_iterations: u32,
    max_duration: Duration,
    interval: Duration,
}

impl Limits {
    fn read(check: &Value) -> Result<Limits, String> {
        let duration = |name: &str, default: Duration| match check.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(text)) => {
                parse_duration(text).map_err(|e| format!("checkFrequency.{name}: {e}"))
            }
            Some(other) => Err(format!(
                "checkFrequency.{name}: {other} is not a duration such as PT1S"
            )),
        };
        let max_iterations = match check.get("maxIterations") {
            None | Some(Value::Null) => 100,
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str()?.trim().parse().ok())
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    format!("checkFrequency.maxIterations: {value} is not a whole number")
                })?,
        };
        Ok(Limits {
            max_iterations,
            max_duration: duration("maxDuration", Duration::from_secs(3600))?,
            interval: duration("interval", Duration::from_secs(1))?,
        })
    }
}

impl Walk {
    pub(super) async fn run_loop(
        self: Arc<Self>,
        node: &Node,
        run: &TaskRunRecord,
        scope: &Scope,
        (condition, check, fail_on_max): (&Value, &Value, &Value),
        tasks: &[Node],
    ) -> Result<Outcome, StoreError> {
        let limits = match Limits::read(check) {
            Ok(limits) => limits,
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        };
        let fail_on_max = is_truthy(fail_on_max);
        let run_ref = Some((&run.id, &node.id, 1));
        let started = run.histories.first().map_or(run.created_at, |h| h.date);
        // After a restart, the iteration that was running.
        let mut iteration = run
            .checkpoint
            .as_ref()
            .and_then(|c| c.get("iteration"))
            .and_then(Value::as_u64)
            .map_or(1, |n| n as u32)
            .max(1);
        let outcome = loop {
            let count = json!({ "iterationCount": iteration });
            if let Ok(mut all) = self.outputs.lock() {
                insert_output(&mut all, &node.id, &scope.levels, count.clone());
            }
            self.shared
                .store
                .set_checkpoint(&run.id, &json!({ "iteration": iteration }))
                .await?;
            let outcome = self
                .clone()
                .walk_list(tasks.to_vec(), scope.loop_iteration(&run.id, iteration))
                .await;
            if outcome != Outcome::Success {
                break outcome;
            }
            match self
                .render(condition, &self.vars(Some((run, node, scope))))
                .await
            {
                Ok(value) if is_truthy(&value) => break Outcome::Success,
                Ok(_) => {}
                Err(message) => {
                    self.log_for(
                        run_ref,
                        Level::Error,
                        &format!("task {}: condition: {message}", node.id),
                    )
                    .await;
                    break Outcome::Failed;
                }
            }
            let elapsed = jiff::Timestamp::now()
                .as_millisecond()
                .saturating_sub(started);
            let reached = if iteration >= limits.max_iterations {
                Some("maxIterations")
            } else if elapsed as u128 >= limits.max_duration.as_millis() {
                Some("maxDuration")
            } else {
                None
            };
            if let Some(limit) = reached {
                let level = if fail_on_max {
                    Level::Error
                } else {
                    Level::Warn
                };
                self.log_for(
                    run_ref,
                    level,
                    &format!(
                        "{limit} reached after {iteration} iterations: the condition never held"
                    ),
                )
                .await;
                break if fail_on_max {
                    Outcome::Failed
                } else {
                    Outcome::Success
                };
            }
            let kill = self.kill_token();
            tokio::select! {
                () = tokio::time::sleep(limits.interval) => {}
                () = kill.cancelled() => break Outcome::Killed,
                () = self.stop.cancelled() => break Outcome::Interrupted,
            }
            iteration += 1;
        };
        let outcome = self
            .clone()
            .own_branches(node, scope.inner(&run.id), outcome)
            .await;
        if outcome != Outcome::Success {
            return self.end_flowable(run, node, outcome).await;
        }
        let outputs = json!({ "iterationCount": iteration });
        self.event(run, Event::Succeed, Some(&outputs)).await?;
        Ok(Outcome::Success)
    }
}
