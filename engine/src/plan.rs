//! The execution plan: the part of a flow the executor walks, built from
//! the flow model of `crate::flow` (one parser for validation, the editor
//! and the executor). Validation has already said what is wrong with a
//! flow, so the plan keeps only what runs, with properties as JSON ready to
//! render, and refuses (with a message) what it cannot run.

use serde_json::{Map, Value};

use crate::flow::model::{Flow, Task};
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
    /// `afterExecution`: run once the final state is known, which they
    /// read as `execution.state` and do not change.
    pub after_execution: Vec<Node>,
    /// `pluginDefaults:` entries (type prefix, values), applied under a
    /// task's own properties.
    pub plugin_defaults: Vec<(String, Map<String, Value>)>,
    pub concurrency: Option<Concurrency>,
    pub disabled: bool,
    /// `outputs:` of the flow: id and the expression of its value.
    pub outputs: Vec<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputDecl {
    pub id: String,
    pub kind: String,
    pub required: bool,
    pub defaults: Option<Value>,
    pub values: Vec<String>,
    pub description: Option<String>,
    /// SELECT and MULTISELECT: an expression giving the choices.
    pub expression: Option<String>,
    /// The inputs this one is resolved after (`dependsOn.inputs`).
    pub depends_on: Vec<String>,
    /// `dependsOn.condition`: the input counts only when it holds.
    pub condition: Option<String>,
    /// ARRAY: its items' type (`itemType`).
    pub item_type: Option<String>,
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
    /// The type's declaration, found once when the flow was read.
    pub declared: Option<&'static crate::flow::registry::TaskType>,
    pub common: Common,
    pub kind: NodeKind,
    /// Which of the execution-wide variables its own expressions may read.
    pub reads: Reads,
}

/// Whether a node's expressions may read `outputs` and `tasks`, which grow
/// with the execution: a task that reads neither is rendered without a copy
/// of them, so a ForEach over many values stays linear. Anything that can
/// see the whole context (`render`, `printContext`...) counts as reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    pub outputs: bool,
    pub tasks: bool,
    /// Calls `errorLogs()`, whose lines are read from the store first.
    pub error_logs: bool,
    /// Calls `secret()`: namespace secrets are brought up to date first.
    pub secrets: bool,
}

impl Reads {
    pub const ALL: Reads = Reads {
        outputs: true,
        tasks: true,
        error_logs: true,
        secrets: true,
    };

    /// From the text of a node's own expressions.
    pub fn of(text: &str) -> Reads {
        let whole = ["render", "Context(", "currentEachOutput"]
            .iter()
            .any(|f| text.contains(f));
        Reads {
            outputs: whole || text.contains("outputs"),
            tasks: whole || text.contains("tasks"),
            error_logs: text.contains("errorLogs("),
            secrets: whole || text.contains("secret("),
        }
    }

    fn union(self, other: Reads) -> Reads {
        Reads {
            outputs: self.outputs || other.outputs,
            tasks: self.tasks || other.tasks,
            error_logs: self.error_logs || other.error_logs,
            secrets: self.secrets || other.secrets,
        }
    }
}

/// Whether a `pluginDefaults` entry's `type` applies to a task type: a
/// prefix of its full name or of its short one.
pub(crate) fn defaults_apply(prefix: &str, task_type: &str) -> bool {
    task_type.starts_with(prefix) || short_type(task_type).starts_with(short_type(prefix))
}

/// A task's reads include those of the plugin defaults it receives.
fn add_default_reads(node: &mut Node, defaults: &[(String, Map<String, Value>)]) {
    if matches!(node.kind, NodeKind::Task { .. }) {
        for (_, values) in defaults
            .iter()
            .filter(|(prefix, _)| defaults_apply(prefix, &node.task_type))
        {
            node.reads = node.reads.union(Reads::of(
                &serde_json::to_string(values).unwrap_or_default(),
            ));
        }
    }
    let children: Vec<&mut Node> = match &mut node.kind {
        NodeKind::Task { .. } => Vec::new(),
        NodeKind::Sequential { tasks }
        | NodeKind::WorkingDirectory { tasks, .. }
        | NodeKind::Parallel { tasks, .. }
        | NodeKind::ForEach { tasks, .. }
        | NodeKind::Template { tasks, .. }
        | NodeKind::LoopUntil { tasks, .. } => tasks.iter_mut().collect(),
        NodeKind::Dag { tasks } => tasks.iter_mut().map(|(n, _)| n).collect(),
        NodeKind::If {
            then, otherwise, ..
        } => then.iter_mut().chain(otherwise.iter_mut()).collect(),
        NodeKind::Switch {
            cases,
            defaults: branch,
            ..
        } => cases
            .iter_mut()
            .flat_map(|(_, c)| c.iter_mut())
            .chain(branch.iter_mut())
            .collect(),
    };
    let children = children
        .into_iter()
        .chain(node.common.after.iter_mut())
        .chain(node.common.errors.iter_mut())
        .chain(node.common.finally.iter_mut());
    for child in children {
        add_default_reads(child, defaults);
    }
}

/// The properties every task has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Common {
    pub timeout: Option<String>,
    pub retry: Option<Map<String, Value>>,
    pub allow_failure: bool,
    /// A WARNING end counts as SUCCESS (Kestra's allowWarning).
    pub allow_warning: bool,
    pub run_if: Option<Value>,
    pub disabled: bool,
    /// A flowable's own `errors` branch: run when a task inside fails.
    pub errors: Vec<Node>,
    /// A flowable's own `finally` branch: run after its tasks.
    pub finally: Vec<Node>,
    /// Kestra's older Pause: tasks run inside it once the pause ends.
    pub after: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A task a runner runs, with its own (not yet rendered) properties.
    Task {
        properties: Map<String, Value>,
    },
    Sequential {
        tasks: Vec<Node>,
    },
    /// A Sequential whose tasks share a directory; `files` holds its
    /// `inputFiles`, `outputFiles` and `namespaceFiles`, not yet rendered.
    WorkingDirectory {
        tasks: Vec<Node>,
        files: Map<String, Value>,
    },
    Parallel {
        tasks: Vec<Node>,
        concurrency_limit: usize,
    },
    /// Tasks with the ids they depend on.
    Dag {
        tasks: Vec<(Node, Vec<TaskId>)>,
    },
    If {
        condition: Value,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Switch {
        value: Value,
        cases: Vec<(String, Vec<Node>)>,
        defaults: Vec<Node>,
    },
    ForEach {
        values: Value,
        concurrency_limit: usize,
        tasks: Vec<Node>,
    },
    /// A flow.Template whose template was found (see [`Plan::inject_templates`]):
    /// the template's tasks run in order, its `args` (not yet rendered) are
    /// the task run's outputs, read inside as `parent.outputs.args`.
    Template {
        args: Value,
        tasks: Vec<Node>,
    },
    /// LoopUntil (and its older name WaitFor): its tasks again and again
    /// until `condition` holds; `check` is its `checkFrequency` and
    /// `fail_on_max` its `failOnMaxReached`, as written.
    LoopUntil {
        condition: Value,
        check: Value,
        fail_on_max: Value,
        tasks: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl Plan {
    /// Reads a flow's plan from its YAML source, through the same parser
    /// as validation ([`crate::flow::parse`]). Validation problems do not
    /// stop a plan (the API refuses invalid flows before they are stored,
    /// and tests run task types the registry does not know); a source that
    /// is not a flow at all does.
    pub fn from_yaml(source: &str) -> Result<Plan, PlanError> {
        let parsed = crate::flow::parse(source);
        match &parsed.flow {
            Some(flow) => Plan::from_flow(flow),
            None => Err(PlanError(match parsed.problems.first() {
                Some(problem) => format!("the flow is not valid YAML: {problem}"),
                None => "the flow is not valid YAML".to_owned(),
            })),
        }
    }

    /// The plan of a parsed flow.
    pub fn from_flow(flow: &Flow) -> Result<Plan, PlanError> {
        let text = |t: &crate::flow::model::Text, what: &str| {
            if t.value.is_empty() {
                Err(PlanError(format!("the flow has no `{what}`")))
            } else {
                Ok(t.value.clone())
            }
        };
        let json = |node: &Option<crate::flow::yaml::Node>| {
            node.as_ref().map(crate::flow::yaml::Node::to_json)
        };
        let plugin_defaults = match json(&flow.plugin_defaults) {
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
        let concurrency = json(&flow.concurrency)
            .as_ref()
            .and_then(Value::as_object)
            .map(|c| Concurrency {
                limit: c.get("limit").and_then(as_u64).unwrap_or(1).max(1) as u32,
                behavior: c
                    .get("behavior")
                    .and_then(Value::as_str)
                    .unwrap_or("QUEUE")
                    .to_ascii_uppercase(),
            });
        let outputs = match json(&flow.outputs) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|o| {
                    Some((
                        o.get("id")?.as_str()?.to_owned(),
                        o.get("value").cloned().unwrap_or(Value::Null),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        };
        // Labels as a mapping, or Kestra's list of `{key, value}`.
        let labels = match json(&flow.labels) {
            Some(Value::Object(map)) => map,
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|l| {
                    Some((
                        l.get("key")?.as_str()?.to_owned(),
                        l.get("value").cloned().unwrap_or(Value::Null),
                    ))
                })
                .collect(),
            _ => Map::new(),
        };
        let mut plan = Plan {
            id: text(&flow.id, "id")?,
            namespace: text(&flow.namespace, "namespace")?,
            inputs: flow.inputs.iter().map(input_decl).collect(),
            variables: json(&flow.variables)
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default(),
            labels,
            tasks: nodes(&flow.tasks)?,
            errors: nodes(&flow.errors)?,
            finally: nodes(&flow.finally)?,
            after_execution: nodes(&flow.after_execution)?,
            plugin_defaults,
            concurrency,
            disabled: flow.disabled,
            outputs,
        };
        if !plan.plugin_defaults.is_empty() {
            let defaults = std::mem::take(&mut plan.plugin_defaults);
            for node in plan
                .tasks
                .iter_mut()
                .chain(&mut plan.errors)
                .chain(&mut plan.finally)
                .chain(&mut plan.after_execution)
            {
                add_default_reads(node, &defaults);
            }
            plan.plugin_defaults = defaults;
        }
        Ok(plan)
    }

    /// Whether a task of the plan is a flow.Template.
    pub fn has_templates(&self) -> bool {
        self.all_nodes().iter().any(|n| is_template(n))
    }

    /// Kestra's Template.injectTemplate: each flow.Template task becomes the
    /// tasks (and `errors`) of the template it names, found by `find`
    /// (namespace, templateId → the template's source); templates that use
    /// templates are followed up to a depth of 10. A template not found
    /// stays a task, whose runner fails naming it, as Kestra's does.
    pub fn inject_templates(
        &self,
        find: &dyn Fn(&str, &str) -> Option<String>,
    ) -> Result<Plan, PlanError> {
        let mut plan = self.clone();
        for _ in 0..10 {
            let mut changed = false;
            for list in [
                &mut plan.tasks,
                &mut plan.errors,
                &mut plan.finally,
                &mut plan.after_execution,
            ] {
                for node in list.iter_mut() {
                    changed |= inject(node, find)?;
                }
            }
            if !changed {
                break;
            }
        }
        Ok(plan)
    }

    /// The `pluginDefaults` values that apply to a task type, in order.
    pub fn defaults_for<'a>(
        &'a self,
        task_type: &'a str,
    ) -> impl Iterator<Item = &'a Map<String, Value>> + 'a {
        self.plugin_defaults
            .iter()
            .filter(move |(prefix, _)| defaults_apply(prefix, task_type))
            .map(|(_, values)| values)
    }

    /// Every node, depth first, for lookups by id.
    pub fn all_nodes(&self) -> Vec<&Node> {
        let mut all = Vec::new();
        for list in [
            &self.tasks,
            &self.errors,
            &self.finally,
            &self.after_execution,
        ] {
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

    /// The nodes directly inside this one, its `errors` and `finally`
    /// branches last.
    pub fn children(&self) -> Vec<&Node> {
        let mut children = self.body();
        children.extend(
            self.common
                .after
                .iter()
                .chain(&self.common.errors)
                .chain(&self.common.finally),
        );
        children
    }

    /// The nodes of its body (not `errors`, not `finally`).
    fn body(&self) -> Vec<&Node> {
        match &self.kind {
            NodeKind::Task { .. } => Vec::new(),
            NodeKind::Sequential { tasks }
            | NodeKind::WorkingDirectory { tasks, .. }
            | NodeKind::Parallel { tasks, .. }
            | NodeKind::ForEach { tasks, .. }
            | NodeKind::Template { tasks, .. }
            | NodeKind::LoopUntil { tasks, .. } => tasks.iter().collect(),
            NodeKind::Dag { tasks } => tasks.iter().map(|(n, _)| n).collect(),
            NodeKind::If {
                then, otherwise, ..
            } => then.iter().chain(otherwise).collect(),
            NodeKind::Switch {
                cases, defaults, ..
            } => cases.iter().flat_map(|(_, c)| c).chain(defaults).collect(),
        }
    }
}

fn is_template(node: &Node) -> bool {
    matches!(node.kind, NodeKind::Task { .. })
        && node.declared.map(|t| t.name) == Some(crate::task::core::flow::TEMPLATE.name)
}

/// Replaces the flow.Template tasks at and below `node` whose template is
/// found; whether any was.
fn inject(node: &mut Node, find: &dyn Fn(&str, &str) -> Option<String>) -> Result<bool, PlanError> {
    if is_template(node) {
        let NodeKind::Task { properties } = &node.kind else {
            return Ok(false);
        };
        let text = |name: &str| properties.get(name).and_then(Value::as_str).unwrap_or("");
        let Some(source) = find(text("namespace"), text("templateId")) else {
            return Ok(false);
        };
        let parsed = crate::flow::parse(&source);
        let Some(template) = parsed.flow else {
            return Err(PlanError(format!(
                "template {}.{} is not valid YAML",
                text("namespace"),
                text("templateId")
            )));
        };
        let args = properties.get("args").cloned().unwrap_or(Value::Null);
        node.common.errors = nodes(&template.errors)?;
        node.kind = NodeKind::Template {
            args,
            tasks: nodes(&template.tasks)?,
        };
        // The template's tasks read what the flow gives them.
        node.reads = node.reads.union(Reads::of(&source));
        return Ok(true);
    }
    let mut changed = false;
    let branches = node
        .common
        .errors
        .iter_mut()
        .chain(node.common.finally.iter_mut())
        .chain(node.common.after.iter_mut());
    let mut inner: Vec<&mut Node> = branches.collect();
    match &mut node.kind {
        NodeKind::Task { .. } => {}
        NodeKind::Sequential { tasks }
        | NodeKind::WorkingDirectory { tasks, .. }
        | NodeKind::Parallel { tasks, .. }
        | NodeKind::ForEach { tasks, .. }
        | NodeKind::Template { tasks, .. }
        | NodeKind::LoopUntil { tasks, .. } => inner.extend(tasks.iter_mut()),
        NodeKind::Dag { tasks } => inner.extend(tasks.iter_mut().map(|(n, _)| n)),
        NodeKind::If {
            then, otherwise, ..
        } => inner.extend(then.iter_mut().chain(otherwise.iter_mut())),
        NodeKind::Switch {
            cases, defaults, ..
        } => inner.extend(
            cases
                .iter_mut()
                .flat_map(|(_, c)| c.iter_mut())
                .chain(defaults.iter_mut()),
        ),
    }
    for child in inner {
        changed |= inject(child, find)?;
    }
    Ok(changed)
}

fn as_u64(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str()?.trim().parse().ok())
}

fn input_decl(input: &crate::flow::model::Input) -> InputDecl {
    InputDecl {
        id: input.id.value.clone(),
        kind: input.input_type.name().to_owned(),
        required: input.required,
        defaults: input
            .defaults
            .as_ref()
            .map(crate::flow::yaml::Node::to_json)
            .filter(|v| !v.is_null()),
        values: input.values.clone(),
        description: input.description.clone(),
        expression: input.expression.clone(),
        depends_on: input.depends_on.clone(),
        condition: input.condition.clone(),
        item_type: input.item_type.map(|t| t.name().to_owned()),
    }
}

fn nodes(tasks: &[Task]) -> Result<Vec<Node>, PlanError> {
    tasks.iter().map(node).collect()
}

/// The short name of a type: `io.kestra.plugin.core.flow.Parallel` and
/// `flow.Parallel` are both `flow.Parallel`.
pub fn short_type(task_type: &str) -> &str {
    let rest = task_type
        .strip_prefix("io.kestra.plugin.")
        .unwrap_or(task_type);
    rest.strip_prefix("core.").unwrap_or(rest)
}

fn node(task: &Task) -> Result<Node, PlanError> {
    let id = task.id.value.as_str();
    if id.is_empty() {
        return Err(PlanError("a task has no `id`".into()));
    }
    if task.task_type.value.is_empty() {
        return Err(PlanError(format!("task {id} has no `type`")));
    }
    let branch = |name: &str| -> Result<Vec<Node>, PlanError> {
        task.branches
            .iter()
            .filter(|b| b.name == name)
            .map(|b| nodes(&b.tasks))
            .collect::<Result<Vec<Vec<Node>>, _>>()
            .map(|v| v.concat())
    };
    let short = task.kind.map_or_else(
        || short_type(&task.task_type.value),
        |k| short_type(k.alias),
    );
    let common = Common {
        timeout: task.timeout.as_ref().map(|t| t.value.clone()),
        retry: task
            .retry
            .as_ref()
            .and_then(|r| r.to_json().as_object().cloned()),
        // AllowFailure is a Sequential whose failure is allowed.
        allow_failure: task.allow_failure || short == "flow.AllowFailure",
        allow_warning: task.allow_warning,
        run_if: task.run_if.as_ref().map(crate::flow::yaml::Node::to_json),
        disabled: task.disabled,
        errors: branch("errors")?,
        finally: branch("finally")?,
        after: if short == "flow.Pause" {
            branch("tasks")?
        } else {
            Vec::new()
        },
    };
    let property = |name: &str| task.get(name).map(crate::flow::yaml::Node::to_json);
    let limit = |name: &str, default: usize| {
        property(name)
            .as_ref()
            .and_then(as_u64)
            .map_or(default, |n| n as usize)
    };
    let kind = match short {
        "flow.Sequential" | "flow.AllowFailure" => NodeKind::Sequential {
            tasks: branch("tasks")?,
        },
        "flow.WorkingDirectory" => NodeKind::WorkingDirectory {
            tasks: branch("tasks")?,
            files: ["inputFiles", "outputFiles", "namespaceFiles", "cache"]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), property(name)?)))
                .collect(),
        },
        // 0 means no limit, as in Kestra.
        "flow.Parallel" => NodeKind::Parallel {
            tasks: branch("tasks")?,
            concurrency_limit: limit("concurrent", limit("concurrencyLimit", 0)),
        },
        "flow.Dag" => NodeKind::Dag {
            tasks: task
                .children()
                .map(|child| {
                    Ok((
                        node(child)?,
                        child
                            .depends_on
                            .iter()
                            .map(|d| TaskId::new(d.value.as_str()))
                            .collect(),
                    ))
                })
                .collect::<Result<_, PlanError>>()?,
        },
        "flow.If" => NodeKind::If {
            condition: property("condition").unwrap_or(Value::Null),
            then: branch("then")?,
            otherwise: branch("else")?,
        },
        "flow.Switch" => NodeKind::Switch {
            value: property("value").unwrap_or(Value::Null),
            cases: task
                .branches
                .iter()
                .filter_map(|b| Some((b.name.strip_prefix("cases.")?.to_owned(), b)))
                .map(|(case, b)| Ok((case, nodes(&b.tasks)?)))
                .collect::<Result<_, PlanError>>()?,
            defaults: branch("defaults")?,
        },
        "flow.ForEach" | "flow.EachSequential" | "flow.EachParallel" => NodeKind::ForEach {
            values: property("values")
                .or_else(|| property("value"))
                .unwrap_or(Value::Null),
            // Kestra's ForEach runs one value at a time unless told otherwise.
            concurrency_limit: if short == "flow.EachParallel" {
                limit("concurrent", 0)
            } else {
                limit("concurrencyLimit", 1)
            },
            tasks: branch("tasks")?,
        },
        "flow.LoopUntil" | "flow.WaitFor" => NodeKind::LoopUntil {
            condition: property("condition").unwrap_or(Value::Null),
            check: property("checkFrequency").unwrap_or(Value::Null),
            fail_on_max: property("failOnMaxReached").unwrap_or(Value::Null),
            tasks: branch("tasks")?,
        },
        _ => NodeKind::Task {
            properties: task
                .properties
                .iter()
                .map(|(name, value)| (name.value.clone(), value.to_json()))
                .collect(),
        },
    };
    // The node's own expressions: its properties, or a flowable's condition,
    // value or values, and runIf (not its children's).
    let own = match &kind {
        NodeKind::Task { properties } => serde_json::to_string(properties),
        NodeKind::If { condition: v, .. }
        | NodeKind::Switch { value: v, .. }
        | NodeKind::ForEach { values: v, .. }
        | NodeKind::LoopUntil { condition: v, .. } => serde_json::to_string(v),
        NodeKind::WorkingDirectory { files, .. } => serde_json::to_string(files),
        NodeKind::Template { args, .. } => serde_json::to_string(args),
        _ => Ok(String::new()),
    }
    .unwrap_or_default();
    let run_if = common
        .run_if
        .as_ref()
        .map(Value::to_string)
        .unwrap_or_default();
    let reads = Reads::of(&format!("{own}{run_if}"));
    Ok(Node {
        id: TaskId::new(id),
        task_type: task.task_type.value.clone(),
        declared: task.kind,
        common,
        kind,
        reads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_blueprint_has_a_plan() {
        for blueprint in crate::blueprints::all() {
            let plan = Plan::from_yaml(blueprint.source)
                .unwrap_or_else(|e| panic!("{}: {e}", blueprint.header.id));
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
        let NodeKind::Parallel {
            tasks,
            concurrency_limit: 0,
        } = &plan.tasks[0].kind
        else {
            panic!()
        };
        let NodeKind::Task { properties } = &tasks[0].kind else {
            panic!()
        };
        assert_eq!(properties.keys().collect::<Vec<_>>(), ["message"]);
        assert_eq!(tasks[0].common.retry.as_ref().unwrap()["maxAttempt"], 3);
        let NodeKind::Dag { tasks: dag } = &tasks[1].kind else {
            panic!()
        };
        assert_eq!(dag[1].1, [TaskId::new("x")]);
        assert_eq!(plan.finally[0].id.as_str(), "bye");
        let ids: Vec<&str> = plan.all_nodes().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["p", "a", "d", "x", "y", "bye"]);
    }

    #[test]
    fn a_node_reads_outputs_and_tasks_only_when_its_own_expressions_may() {
        let plan = Plan::from_yaml(
            "id: f\nnamespace: n\ntasks:\n  - id: plain\n    type: log.Log\n    message: \"{{ inputs.x ?? 1 }}\"\n  - id: reader\n    type: log.Log\n    message: \"{{ outputs.plain }}\"\n  - id: whole\n    type: log.Log\n    message: \"{{ printContext() }}\"\n  - id: each\n    type: flow.ForEach\n    values: \"{{ tasks.plain.state }}\"\n    tasks:\n      - id: inner\n        type: log.Log\n        message: hi\n        runIf: \"{{ outputs.reader is defined }}\"\n",
        )
        .unwrap();
        let reads: Vec<(&str, bool, bool)> = plan
            .all_nodes()
            .iter()
            .map(|n| (n.id.as_str(), n.reads.outputs, n.reads.tasks))
            .collect();
        assert_eq!(
            reads,
            [
                ("plain", false, false),
                ("reader", true, false),
                ("whole", true, true),
                ("each", false, true),
                ("inner", true, false)
            ]
        );
    }

    #[test]
    fn plugin_defaults_count_in_what_a_task_reads() {
        let plan = Plan::from_yaml(
            "id: f\nnamespace: n\ntasks:\n  - id: plain\n    type: log.Log\n    message: hi\n  - id: ret\n    type: debug.Return\n    format: x\npluginDefaults:\n  - type: io.kestra.plugin.core.log\n    values:\n      level: \"{{ outputs.ret is defined ? 'INFO' : 'WARN' }}\"\n",
        )
        .unwrap();
        let reads: Vec<(&str, bool)> = plan
            .all_nodes()
            .iter()
            .map(|n| (n.id.as_str(), n.reads.outputs))
            .collect();
        assert_eq!(reads, [("plain", true), ("ret", false)]);
        assert_eq!(
            plan.defaults_for("io.kestra.plugin.core.log.Log").count(),
            1
        );
        assert_eq!(plan.defaults_for("log.Log").count(), 1);
        assert_eq!(plan.defaults_for("debug.Return").count(), 0);
    }
}

/// The plans of flow revisions, each built once: a revision never changes,
/// so an execution does not parse its flow again. Cheap to clone.
#[cfg(feature = "runtime")]
#[derive(Clone, Default)]
pub struct Plans(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<(String, String, i64), std::sync::Arc<Plan>>>,
    >,
);

#[cfg(feature = "runtime")]
impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plans")
    }
}

#[cfg(feature = "runtime")]
impl Plans {
    /// How many plans are kept; past that the cache starts over.
    const KEPT: usize = 1024;

    /// The plan of revision `revision` of flow `namespace.id`, whose
    /// source is `source`.
    pub fn get(
        &self,
        namespace: &str,
        id: &str,
        revision: i64,
        source: &str,
    ) -> Result<std::sync::Arc<Plan>, PlanError> {
        let key = (namespace.to_owned(), id.to_owned(), revision);
        if let Some(plan) = self
            .0
            .lock()
            .ok()
            .and_then(|plans| plans.get(&key).cloned())
        {
            return Ok(plan);
        }
        let plan = std::sync::Arc::new(Plan::from_yaml(source)?);
        if let Ok(mut plans) = self.0.lock() {
            if plans.len() >= Self::KEPT {
                plans.clear();
            }
            plans.insert(key, plan.clone());
        }
        Ok(plan)
    }
}
