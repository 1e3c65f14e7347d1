//! `execution.SetVariables` and `execution.UnsetVariables`, which the
//! executor runs itself: they change the execution's variables (`vars`)
//! for the tasks after them. The variables after each such task are kept
//! in its task run's checkpoint, so a resumed execution reads them again.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Outcome, Scope, Walk};
use crate::plan::Node;
use crate::state::{Event, State};
use crate::store::{StoreError, TaskRunRecord};
use crate::task::core::execution::{SET_VARIABLES, UNSET_VARIABLES};

/// Whether a node is one of the two tasks.
pub(super) fn changes_variables(node: &Node) -> bool {
    node.declared
        .is_some_and(|t| t.name == SET_VARIABLES.name || t.name == UNSET_VARIABLES.name)
}

impl Walk {
    pub(super) async fn change_variables(
        self: &Arc<Self>,
        node: &Node,
        properties: &Map<String, Value>,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Result<Outcome, StoreError> {
        let vars = self.vars(Some((run, node, scope)));
        let rendered = match self.render_properties(node, properties, &vars).await {
            Ok(rendered) => rendered,
            Err(message) => return self.fail_run(run, node, 1, &message).await,
        };
        let mut current = self
            .variables
            .lock()
            .ok()
            .and_then(|v| v.clone())
            .unwrap_or_else(|| json!({}));
        let changed = if node.declared.is_some_and(|t| t.name == SET_VARIABLES.name) {
            set(&mut current, &rendered)
        } else {
            unset(&mut current, &rendered)
        };
        if let Err(message) = changed {
            return self.fail_run(run, node, 1, &message).await;
        }
        if run.state == State::Created {
            self.event(run, Event::Start, None).await?;
        }
        self.shared
            .store
            .set_checkpoint(&run.id, &json!({ "variables": current }))
            .await?;
        if let Ok(mut slot) = self.variables.lock() {
            *slot = Some(current);
        }
        self.event(run, Event::Succeed, None).await?;
        Ok(Outcome::Success)
    }

    /// The variables the last SetVariables or UnsetVariables that ended
    /// before a restart left, if one did.
    pub(super) fn stored_variables(&self) -> Option<Value> {
        let existing = self.existing.lock().ok()?;
        let nodes = self.plan.all_nodes();
        existing
            .values()
            .filter(|run| run.state.is_successful())
            .filter(|run| {
                nodes
                    .iter()
                    .any(|n| n.id == run.task_id && changes_variables(n))
            })
            .filter_map(|run| {
                Some((
                    run.ended_at.unwrap_or(run.created_at),
                    run.checkpoint.as_ref()?.get("variables")?.clone(),
                ))
            })
            .max_by_key(|(at, _)| *at)
            .map(|(_, variables)| variables)
    }
}

fn set(current: &mut Value, rendered: &Value) -> Result<(), String> {
    let Some(given) = rendered.get("variables").and_then(Value::as_object) else {
        return Err("variables: give a mapping of names to values".into());
    };
    let overwrite = rendered
        .get("overwrite")
        .is_none_or(|o| crate::task::core::is_truthy(o));
    if !current.is_object() {
        *current = json!({});
    }
    if !overwrite {
        let existing: Vec<&str> = given
            .keys()
            .filter(|k| current.get(k.as_str()).is_some())
            .map(String::as_str)
            .collect();
        if !existing.is_empty() {
            return Err(format!(
                "`overwrite` is false and these variables already exist: {}",
                existing.join(", ")
            ));
        }
    }
    if let Value::Object(target) = current {
        crate::task::core::deep_merge(target, given.clone());
    }
    Ok(())
}

fn unset(current: &mut Value, rendered: &Value) -> Result<(), String> {
    let names: Vec<String> = match rendered.get("variables") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => return Err("variables: give a list of variable names".into()),
    };
    let ignore_missing = rendered
        .get("ignoreMissing")
        .is_some_and(crate::task::core::is_truthy);
    for name in names {
        let mut path: Vec<&str> = name.split('.').collect();
        let last = path.pop().unwrap_or_default();
        let parent = path
            .iter()
            .try_fold(&mut *current, |v, key| v.get_mut(*key));
        let removed = parent
            .and_then(Value::as_object_mut)
            .and_then(|m| m.remove(last));
        if removed.is_none() && !ignore_missing {
            return Err(format!(
                "variable `{name}` does not exist (set ignoreMissing: true to allow that)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_merges_mappings_and_refuses_to_overwrite_when_told() {
        let mut vars = json!({"name": "World", "db": {"host": "a", "port": 1}});
        set(
            &mut vars,
            &json!({"variables": {"name": "Loïc", "db": {"port": 2}}}),
        )
        .unwrap();
        assert_eq!(
            vars,
            json!({"name": "Loïc", "db": {"host": "a", "port": 2}})
        );
        let error = set(
            &mut vars,
            &json!({"variables": {"name": "x", "new": 1}, "overwrite": false}),
        )
        .unwrap_err();
        assert!(error.contains("already exist: name"), "{error}");
        assert_eq!(vars["name"], "Loïc");
    }

    #[test]
    fn unset_removes_nested_keys_and_names_a_missing_one() {
        let mut vars = json!({"a": {"b": 1, "c": 2}, "d": 3});
        unset(&mut vars, &json!({"variables": ["a.b", "d"]})).unwrap();
        assert_eq!(vars, json!({"a": {"c": 2}}));
        let error = unset(&mut vars, &json!({"variables": ["nope"]})).unwrap_err();
        assert!(error.contains("`nope` does not exist"), "{error}");
        unset(
            &mut vars,
            &json!({"variables": ["nope", "x.y"], "ignoreMissing": true}),
        )
        .unwrap();
    }
}
