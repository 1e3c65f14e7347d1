//! `execution.Exit`, which the executor runs itself: the execution ends
//! in the state it names (SUCCESS, WARNING, FAILED, KILLED; Kestra's
//! CANCELED ends KILLED, Mortar having no CANCELLED) and no task starts
//! after it. KILLED also kills what still runs; with another state, tasks
//! already running end as they would, as in Kestra.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Outcome, Scope, Walk};
use crate::log::Level;
use crate::plan::Node;
use crate::state::{Event, State};
use crate::store::{StoreError, TaskRunRecord};

impl Walk {
    pub(super) async fn exit(
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
        let written = rendered
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("SUCCESS")
            .to_ascii_uppercase();
        let state =
            match written.as_str() {
                "SUCCESS" => State::Success,
                "WARNING" => State::Warning,
                "FAILED" => State::Failed,
                "KILLED" | "CANCELED" | "CANCELLED" => State::Killed,
                other => return self
                    .fail_run(
                        run,
                        node,
                        1,
                        &format!(
                            "state {other:?} is not SUCCESS, WARNING, KILLED, FAILED or CANCELED"
                        ),
                    )
                    .await,
            };
        if run.state == State::Created {
            self.event(run, Event::Start, None).await?;
        }
        // The Exit task run ends in the state it gives the execution.
        match state {
            State::Success => self.event(run, Event::Succeed, None).await?,
            State::Warning => self.event(run, Event::Warn, None).await?,
            State::Failed => self.event(run, Event::Fail, None).await?,
            _ => {
                self.event(run, Event::Kill, None).await?;
                self.event(run, Event::Stopped, None).await?
            }
        };
        self.log_for(
            Some(run_ref),
            Level::Info,
            &format!("exit: the execution ends {}", state.as_str()),
        )
        .await;
        if let Ok(mut exit) = self.exit.lock() {
            exit.get_or_insert(state);
        }
        if state == State::Killed {
            self.kill.cancel();
        }
        Ok(Outcome::Success)
    }
}
