//! The execution plan: the part of a flow the executor walks. It is read
//! from the flow's YAML as a plain tree: validation (`crate::flow`) has
//! already said what is wrong with a flow, so the plan only needs what runs,
//! and refuses (with a message) what it cannot run.

use serde_json::{Map, Value};

use crate::ids::TaskId;

/// A flow, as far as running it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: String,
    pub namespace: String,
    pub inputs: Vec<InputDecl>,
    /// `variables:`, rendered on use.
    pub variables: Map<String, Value>,
    pub labels: Map<String, Value>,
    pub tasks: Vec<Node>,
    pub errors: Vec<Node>,
    pub finally: Vec<Node>,
    /// `pluginDefaults:` entries (type prefix, values), applied under a
    /// task's own properties.
    pub plugin_defaults: Vec<(String, Map<String, Value>)>,
    pub concurrency: Option<Concurrency>,
    pub disabled: bool,
    /// `outputs:` of the flow: id and the expression of its value.
    pub outputs: Vec<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputDecl {
    pub id: String,
    pub kind: String,
    pub required: bool,
    pub defaults: Option<Value>,
    pub values: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    pub limit: u32,
    /// QUEUE, CANCEL or FAIL (Kestra's names).
    pub behavior: String,
}

/// One node of the task tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: TaskId,
    pub task_type: String,
    pub common: Common,
    pub kind: NodeKind,
}

/// The properties every task has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Common {
    pub timeout: Option<String>,
    pub retry: Option<Map<String, Value>>,
    pub allow_failure: bool,
    pub run_if: Option<Value>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A task a runner runs, with its own (not yet rendered) properties.
    Task { properties: Map<String, Value> },
    Sequential { tasks: Vec<Node> },
    Parallel { tasks: Vec<Node>, concurrency_limit: usize },
    /// Tasks with the ids they depend on.
    Dag { tasks: Vec<(Node, Vec<TaskId>)> },
    If { condition: Value, then: Vec<Node>, otherwise: Vec<Node> },
    Switch { value: Value, cases: Vec<(String, Vec<Node>)>, defaults: Vec<Node> },
    ForEach { values: Value, concurrency_limit: usize, tasks: Vec<Node> },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// The common properties, which a task's own properties exclude.
const COMMON: &[&str] = &["id", "type", "description", "timeout", "retry", "allowFailure", "runIf", "disabled", "logLevel", "workerGroup"];

impl Plan {
    /// Reads a flow's plan from its YAML source.
    pub fn from_yaml(source: &str) -> Result<Plan, PlanError> {
        // YAML 1.2 booleans only: `namespace: no` is the text "no", as in Kestra.
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        let tree: Value = serde_saphyr::from_str_with_options(source, options)
            .map_err(|e| PlanError(format!("the flow is not valid YAML: {e}")))?;
        Plan::from_tree(&tree)
    }

    pub fn from_tree(tree: &Value) -> Result<Plan, PlanError> {
        let root = tree.as_object().ok_or_else(|| PlanError("a flow is a mapping with `id`, `namespace` and `tasks`".into()))?;
        let text = |key: &str| root.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = text("id").ok_or_else(|| PlanError("the flow has no `id`".into()))?;
        let namespace = text("namespace").ok_or_else(|| PlanError("the flow has no `namespace`".into()))?;
        let inputs = match root.get("inputs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.iter().map(input_decl).collect::<Result<_, _>>()?,
            Some(_) => return Err(PlanError("`inputs` must be a list".into())),
        };
        let plugin_defaults = match root.get("pluginDefaults") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|entry| {
                    let entry = entry.as_object()?;
                    let prefix = entry.get("type")?.as_str()?.to_owned();
                    let values = entry.get("values")?.as_object()?.clone();
                    Some((prefix, values))
                })
                .collect(),
            _ => Vec::new(),
        };
        let concurrency = root.get("concurrency").and_then(Value::as_object).map(|c| Concurrency {
            limit: c.get("limit").and_then(as_u64).unwrap_or(1).max(1) as u32,
            behavior: c.get("behavior").and_then(Value::as_str).unwrap_or("QUEUE").to_ascii_uppercase(),
        });
        let outputs = match root.get("outputs") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|o| Some((o.get("id")?.as_str()?.to_owned(), o.get("value").cloned().unwrap_or(Value::Null))))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Plan {
            id,
            namespace,
            inputs,
            variables: root.get("variables").and_then(Value::as_object).cloned().unwrap_or_default(),
            labels: root.get("labels").and_then(Value::as_object).cloned().unwrap_or_default(),
            tasks: nodes(root.get("tasks"), "tasks")?,
            errors: nodes(root.get("errors"), "errors")?,
            finally: nodes(root.get("finally"), "finally")?,
            plugin_defaults,
            concurrency,
            disabled: root.get("disabled").and_then(Value::as_bool).unwrap_or(false),
            outputs,
        })
    }

    /// Every node, depth first, for lookups by id.
    pub fn all_nodes(&self) -> Vec<&Node> {
        let mut all = Vec::new();
        for list in [&self.tasks, &self.errors, &self.finally] {
            for node in list {
                node.collect_into(&mut all);
            }
        }
        all
    }
}

impl Node {
    /// This node and every node inside it, depth first.
    pub fn collect_into<'a>(&'a self, into: &mut Vec<&'a Node>) {
        into.push(self);
        for child in self.children() {
            child.collect_into(into);
        }
    }

    /// The nodes directly inside this one.
    pub fn children(&self) -> Vec<&Node> {
        match &self.kind {
            NodeKind::Task { .. } => Vec::new(),
            NodeKind::Sequential { tasks } | NodeKind::Parallel { tasks, .. } | NodeKind::ForEach { tasks, .. } => tasks.iter().collect(),
            NodeKind::Dag { tasks } => tasks.iter().map(|(n, _)| n).collect(),
            NodeKind::If { then, otherwise, .. } => then.iter().chain(otherwise).collect(),
            NodeKind::Switch { cases, defaults, .. } => cases.iter().flat_map(|(_, c)| c).chain(defaults).collect(),
        }
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str()?.trim().parse().ok())
}

fn input_decl(value: &Value) -> Result<InputDecl, PlanError> {
    let input = value.as_object().ok_or_else(|| PlanError("each input is a mapping with `id` and `type`".into()))?;
    let id = input.get("id").and_then(Value::as_str).ok_or_else(|| PlanError("an input has no `id`".into()))?.to_owned();
    let kind = input.get("type").and_then(Value::as_str).unwrap_or("STRING").to_ascii_uppercase();
    Ok(InputDecl {
        required: input.get("required").and_then(Value::as_bool).unwrap_or(true),
        defaults: input.get("defaults").or_else(|| input.get("default")).cloned().filter(|v| !v.is_null()),
        values: input
            .get("values")
            .and_then(Value::as_array)
            .map(|values| values.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect())
            .unwrap_or_default(),
        description: input.get("description").and_then(Value::as_str).map(str::to_owned),
        id,
        kind,
    })
}

fn nodes(value: Option<&Value>, what: &str) -> Result<Vec<Node>, PlanError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list.iter().map(node).collect(),
        Some(_) => Err(PlanError(format!("`{what}` must be a list of tasks"))),
    }
}

/// The short name of a type: `io.kestra.plugin.core.flow.Parallel` and
/// `flow.Parallel` are both `flow.Parallel`.
pub fn short_type(task_type: &str) -> &str {
    let rest = task_type.strip_prefix("io.kestra.plugin.").unwrap_or(task_type);
    rest.strip_prefix("core.").unwrap_or(rest)
}

fn node(value: &Value) -> Result<Node, PlanError> {
    let task = value.as_object().ok_or_else(|| PlanError("each task is a mapping with `id` and `type`".into()))?;
    let id = task.get("id").and_then(Value::as_str).ok_or_else(|| PlanError("a task has no `id`".into()))?;
    let task_type = task
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| PlanError(format!("task {id} has no `type`")))?
        .to_owned();
    let common = Common {
        timeout: task.get("timeout").and_then(Value::as_str).map(str::to_owned),
        retry: task.get("retry").and_then(Value::as_object).cloned(),
        allow_failure: task.get("allowFailure").and_then(Value::as_bool).unwrap_or(false),
        run_if: task.get("runIf").cloned(),
        disabled: task.get("disabled").and_then(Value::as_bool).unwrap_or(false),
    };
    let list = |key: &str| nodes(task.get(key), &format!("{id}.{key}"));
    let limit = |key: &str, default: usize| task.get(key).and_then(as_u64).map_or(default, |n| n as usize);
    let kind = match short_type(&task_type) {
        "flow.Sequential" | "flow.WorkingDirectory" => NodeKind::Sequential { tasks: list("tasks")? },
        // 0 means no limit, as in Kestra.
        "flow.Parallel" => NodeKind::Parallel { tasks: list("tasks")?, concurrency_limit: limit("concurrent", limit("concurrencyLimit", 0)) },
        "flow.Dag" => {
            let entries = task.get("tasks").and_then(Value::as_array).ok_or_else(|| PlanError(format!("Dag {id} needs `tasks`")))?;
            let mut tasks = Vec::new();
            for entry in entries {
                let inner = entry.get("task").ok_or_else(|| PlanError(format!("each entry of Dag {id} has a `task`")))?;
                let depends_on = entry
                    .get("dependsOn")
                    .and_then(Value::as_array)
                    .map(|deps| deps.iter().filter_map(Value::as_str).map(TaskId::new).collect())
                    .unwrap_or_default();
                tasks.push((node(inner)?, depends_on));
            }
            NodeKind::Dag { tasks }
        }
        "flow.If" => NodeKind::If {
            condition: task.get("condition").cloned().unwrap_or(Value::Null),
            then: list("then")?,
            otherwise: list("else")?,
        },
        "flow.Switch" => NodeKind::Switch {
            value: task.get("value").cloned().unwrap_or(Value::Null),
            cases: task
                .get("cases")
                .and_then(Value::as_object)
                .map(|cases| {
                    cases.iter().map(|(key, tasks)| Ok((key.clone(), nodes(Some(tasks), &format!("{id}.cases.{key}"))?))).collect()
                })
                .transpose()?
                .unwrap_or_default(),
            defaults: list("defaults")?,
        },
        "flow.ForEach" | "flow.EachSequential" | "flow.EachParallel" => NodeKind::ForEach {
            values: task.get("values").or_else(|| task.get("value")).cloned().unwrap_or(Value::Null),
            // Kestra's ForEach runs one value at a time unless told otherwise.
            concurrency_limit: limit("concurrencyLimit", if short_type(&task_type) == "flow.EachParallel" { 0 } else { 1 }),
            tasks: list("tasks")?,
        },
        _ => NodeKind::Task {
            properties: task.iter().filter(|(k, _)| !COMMON.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        },
    };
    Ok(Node { id: TaskId::new(id), task_type, common, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_blueprint_has_a_plan() {
        for blueprint in crate::blueprints::all() {
            let plan = Plan::from_yaml(blueprint.source).unwrap_or_else(|e| panic!("{}: {e}", blueprint.header.id));
            assert!(!plan.tasks.is_empty(), "{}", blueprint.header.id);
        }
    }

    #[test]
    fn flowables_nest_and_tasks_keep_their_own_properties() {
        let plan = Plan::from_yaml(
            "id: f\nnamespace: n\ninputs:\n  - id: who\n    type: STRING\n    defaults: World\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: a\n        type: log.Log\n        message: hi\n        retry:\n          type: constant\n          maxAttempt: 3\n      - id: d\n        type: flow.Dag\n        tasks:\n          - task:\n              id: x\n              type: debug.Return\n              format: one\n          - task:\n              id: y\n              type: debug.Return\n              format: two\n            dependsOn: [x]\nfinally:\n  - id: bye\n    type: log.Log\n    message: bye\n",
        )
        .unwrap();
        assert_eq!(plan.inputs[0].defaults, Some(Value::String("World".into())));
        let NodeKind::Parallel { tasks, concurrency_limit: 0 } = &plan.tasks[0].kind else { panic!() };
        let NodeKind::Task { properties } = &tasks[0].kind else { panic!() };
        assert_eq!(properties.keys().collect::<Vec<_>>(), ["message"]);
        assert_eq!(tasks[0].common.retry.as_ref().unwrap()["maxAttempt"], 3);
        let NodeKind::Dag { tasks: dag } = &tasks[1].kind else { panic!() };
        assert_eq!(dag[1].1, [TaskId::new("x")]);
        assert_eq!(plan.finally[0].id.as_str(), "bye");
        let ids: Vec<&str> = plan.all_nodes().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["p", "a", "d", "x", "y", "bye"]);
    }
}
