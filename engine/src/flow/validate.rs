//! The checks across the flow: ids, `dependsOn`, cycles, expressions.

use std::collections::{HashMap, HashSet};

use super::Problem;
use super::expr;
use super::graph::topological_order;
use super::model::{Flow, Task};
use super::registry::{self, Kind};
use super::yaml::{Node, Pos, Span, Value};

pub(super) fn validate(flow: &Flow) -> Vec<Problem> {
    let mut problems = Vec::new();
    let locator = Locator::new(&flow.source);
    duplicate_ids(flow, &mut problems);
    for task in flow.all_tasks() {
        if task.short_type() == "flow.Dag" {
            dag(task, &mut problems);
        }
        if task.short_type() == "flow.WorkingDirectory" {
            // Kestra's WorkingDirectoryTaskValidation: one worker runs them
            // all in the directory, so they are tasks, not flowables.
            for child in task.children().filter(|c| c.is_flowable()) {
                problems.push(Problem::error(
                    child.task_type.span,
                    format!("{} is a flowable task: a WorkingDirectory runs tasks only; move {} out of {}", child.short_type(), child.id.value, task.id.value),
                ));
            }
        }
    }
    expressions(flow, &locator, &mut problems);
    problems
}

fn duplicate_ids(flow: &Flow, problems: &mut Vec<Problem>) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for task in flow.all_tasks() {
        if task.id.value.is_empty() {
            continue;
        }
        match seen.get(task.id.value.as_str()) {
            Some(first) => problems.push(Problem::error(
                task.id.span,
                format!("duplicate task id `{}` (also on line {}): task ids are unique in a flow, rename one", task.id.value, first.start.line),
            )),
            None => {
                seen.insert(&task.id.value, task.id.span);
            }
        }
    }
    // Kestra refuses a flow with two inputs of one id ("Duplicate input").
    let mut inputs: HashMap<&str, Span> = HashMap::new();
    for input in &flow.inputs {
        if let Some(first) = inputs.insert(&input.id.value, input.id.span)
            && !input.id.value.is_empty()
        {
            problems.push(Problem::error(
                input.id.span,
                format!("duplicate input id `{}` (also on line {}): input ids are unique in a flow, rename one", input.id.value, first.start.line),
            ));
        }
    }
    let mut triggers: HashMap<&str, Span> = HashMap::new();
    for trigger in &flow.triggers {
        if let Some(first) = triggers.insert(&trigger.id.value, trigger.id.span)
            && !trigger.id.value.is_empty()
        {
            problems.push(Problem::error(
                trigger.id.span,
                format!(
                    "duplicate trigger id `{}` (also on line {}): rename one",
                    trigger.id.value, first.start.line
                ),
            ));
        }
    }
}

fn dag(task: &Task, problems: &mut Vec<Problem>) {
    let children: Vec<&Task> = task.children().collect();
    let ids: Vec<&str> = children.iter().map(|t| t.id.value.as_str()).collect();
    // A set as well, so that thousands of dependencies are checked in linear time.
    let known: HashSet<&str> = ids.iter().copied().collect();
    let mut entries = Vec::new();
    for child in &children {
        let mut deps = Vec::new();
        for dep in &child.depends_on {
            if dep.value == child.id.value {
                problems.push(Problem::error(
                    dep.span,
                    format!(
                        "task {} depends on itself: remove `{}` from its dependsOn",
                        child.id.value, dep.value
                    ),
                ));
            } else if !known.contains(dep.value.as_str()) {
                let close = registry::closest(
                    &dep.value,
                    ids.iter().copied().filter(|i| *i != child.id.value),
                );
                let hint = match close.as_slice() {
                    [] => format!("the tasks of Dag {} are {}", task.id.value, ids.join(", ")),
                    names => format!(
                        "did you mean {}?",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                };
                problems.push(Problem::error(
                    dep.span,
                    format!(
                        "dependsOn `{}`: no such task in Dag {}; {hint}",
                        dep.value, task.id.value
                    ),
                ));
            } else {
                deps.push(dep.value.clone());
            }
        }
        entries.push((child.id.value.clone(), deps));
    }
    if let Err(cycle) = topological_order(&entries) {
        // Point at the dependsOn entry that closes the cycle.
        let (last, first) = (&cycle[cycle.len() - 2], &cycle[cycle.len() - 1]);
        let span = children
            .iter()
            .find(|c| &c.id.value == first)
            .and_then(|c| c.depends_on.iter().find(|d| &d.value == last))
            .map_or(task.id.span, |d| d.span);
        problems.push(Problem::error(
            span,
            format!("dependsOn makes a cycle: {} (each task waits for the next); remove one of these dependencies", cycle.join(" -> ")),
        ));
    }
}

fn collect_ids<'a>(task: &'a Task, into: &mut Vec<&'a str>) {
    into.push(&task.id.value);
    for child in task.children() {
        collect_ids(child, into);
    }
}

/// What expressions may refer to.
struct Scope<'a> {
    inputs: Vec<&'a str>,
    tasks: Vec<&'a str>,
    vars: Option<Vec<&'a str>>,
    /// The flow runs a flow.Template, whose tasks are known only when it
    /// runs: any `outputs.<task>` may be one of them.
    templates: bool,
}

fn expressions(flow: &Flow, locator: &Locator, problems: &mut Vec<Problem>) {
    // ForEachItem's outputs also sit under Kestra's inner task ids.
    let inner_ids: Vec<String> = flow
        .all_tasks()
        .iter()
        .filter(|t| t.short_type() == "flow.ForEachItem")
        .flat_map(|t| {
            ["_split", "_items", "_merge"].map(|suffix| format!("{}{suffix}", t.id.value))
        })
        .collect();
    let scope = Scope {
        templates: flow
            .all_tasks()
            .iter()
            .any(|t| t.short_type() == "flow.Template"),
        inputs: flow.inputs.iter().map(|i| i.id.value.as_str()).collect(),
        tasks: flow
            .all_tasks()
            .iter()
            .map(|t| t.id.value.as_str())
            .chain(inner_ids.iter().map(String::as_str))
            .collect(),
        vars: {
            // The flow's `variables`, and those its SetVariables tasks set.
            let set = flow
                .all_tasks()
                .into_iter()
                .filter(|t| t.short_type() == "execution.SetVariables")
                .filter_map(|t| t.get("variables"));
            let maps: Vec<_> = flow
                .variables
                .as_ref()
                .into_iter()
                .chain(set)
                .filter_map(Node::as_map)
                .collect();
            (!maps.is_empty()).then(|| {
                maps.iter()
                    .flat_map(|m| m.iter().filter_map(|(k, _)| k.as_str()))
                    .collect()
            })
        },
    };
    let mut strings = Vec::new();
    for key in [
        "variables",
        "outputs",
        "labels",
        "pluginDefaults",
        "concurrency",
    ] {
        if let Some(node) = flow.root.get(key) {
            node.strings(&mut strings);
        }
    }
    for input in &flow.inputs {
        if let Some(d) = &input.defaults {
            d.strings(&mut strings);
        }
    }
    // A SELECT's `expression` and a `dependsOn.condition` are expressions too.
    for item in flow
        .root
        .get("inputs")
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
    {
        if let Some(expression) = item.get("expression") {
            expression.strings(&mut strings);
        }
        if let Some(condition) = item.get("dependsOn").and_then(|d| d.get("condition")) {
            condition.strings(&mut strings);
        }
    }
    // A Flow trigger's expressions (its `inputs`) read the execution that
    // ended upstream: their `outputs.<task>` are that flow's tasks.
    let mut upstream = Vec::new();
    for trigger in &flow.triggers {
        let from = strings.len();
        trigger.node.strings(&mut strings);
        if crate::plan::short_type(&trigger.trigger_type.value) == "trigger.Flow" {
            upstream.push(from..strings.len());
        }
    }
    // Whether `taskrun.value` (`taskrun.iteration`) is set where each
    // string is: inside a ForEach (a LoopUntil) only.
    let mut taskrun_set = vec![false; strings.len()];
    let mut for_each_ids = Vec::new();
    for task in flow.all_tasks().into_iter().filter(|t| {
        matches!(
            t.short_type(),
            "flow.ForEach" | "flow.LoopUntil" | "flow.WaitFor"
        )
    }) {
        for child in task.children() {
            collect_ids(child, &mut for_each_ids);
        }
    }
    // The variables a task gives the property a string is in (Count's `count`).
    let mut given: Vec<&'static [&'static str]> = vec![&[]; strings.len()];
    for task in flow.all_tasks() {
        for (key, value) in task.node.as_map().unwrap_or_default() {
            let declared = key
                .as_str()
                .and_then(|name| task.kind.and_then(|k| k.property(name)));
            let nested = declared
                .is_some_and(|p| matches!(p.kind, Kind::Tasks | Kind::DagTasks | Kind::TaskCases));
            if !nested {
                value.strings(&mut strings);
                given.resize(strings.len(), declared.map_or(&[], |p| p.given));
            }
        }
        taskrun_set.resize(
            strings.len(),
            for_each_ids.contains(&task.id.value.as_str()),
        );
    }
    given.resize(strings.len(), &[]);
    for (index, ((node, taskrun_set), given)) in
        strings.into_iter().zip(taskrun_set).zip(given).enumerate()
    {
        let of_upstream = upstream.iter().any(|r| r.contains(&index));
        let Value::Str(text) = &node.value else {
            continue;
        };
        if !expr::has_expression(text) {
            continue;
        }
        let (variables, errors) = expr::check_all(text);
        for error in errors {
            // A syntax error or an unknown filter, function, test or
            // argument: at its own text when the locator finds it.
            let span = error
                .range
                .as_ref()
                .and_then(|r| text.get(r.clone()))
                .filter(|s| !s.trim().is_empty())
                .and_then(|snippet| locator.find(node.span, snippet))
                .unwrap_or(node.span);
            problems.push(Problem::error(
                span,
                format!("bad expression: {}", error.message),
            ));
        }
        for path in variables {
            // A task run always has its id, startDate, attemptsCount and
            // parentId; only a ForEach's tasks have a value.
            if (path == "taskrun.value"
                || path.starts_with("taskrun.value.")
                || path == "taskrun.iteration")
                && !taskrun_set
            {
                let span = locator.find(node.span, &path).unwrap_or(node.span);
                problems.push(Problem::warning(
                    span,
                    format!(
                        "`{path}` is only set in the tasks of a ForEach: move this task inside one"
                    ),
                ));
                continue;
            }
            if of_upstream && path.starts_with("outputs.") {
                continue;
            }
            // `*`: an item's fields, whatever they are.
            if given.contains(&"*") || given.contains(&path.split('.').next().unwrap_or_default()) {
                continue;
            }
            // A name nothing sets is a warning, as Kestra saves such a
            // flow: the expression fails when it runs (strict variables),
            // and Kestra's own tests rely on that to fail on purpose.
            if let Some(message) = scope.check(&path) {
                let span = locator.find(node.span, &path).unwrap_or(node.span);
                problems.push(Problem::warning(span, message));
            }
        }
    }
}

impl Scope<'_> {
    /// What is wrong with a variable path, if anything.
    fn check(&self, path: &str) -> Option<String> {
        let mut parts = path.split('.');
        let root = parts.next()?;
        let name = parts.next();
        let suggest = |wanted: &str, names: &[&str]| {
            let close = registry::closest(wanted, names.iter().copied());
            match close.as_slice() {
                [] if names.is_empty() => String::new(),
                [] => format!(" (known: {})", names.join(", ")),
                names => format!(
                    ": did you mean {}?",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            }
        };
        match (root, name) {
            ("inputs", Some(input))
                if !self.inputs.iter().any(|id| {
                    *id == input
                        || id
                            .strip_prefix(input)
                            .is_some_and(|rest| rest.starts_with('.'))
                }) =>
            {
                Some(format!(
                    "`inputs.{input}` is not an input of this flow{}; declare it under `inputs`",
                    suggest(input, &self.inputs)
                ))
            }
            ("outputs", Some(task)) if !self.tasks.contains(&task) && !self.templates => {
                Some(format!(
                    "`outputs.{task}`: no task `{task}` in this flow{}",
                    suggest(task, &self.tasks)
                ))
            }
            ("vars", Some(var)) => match &self.vars {
                Some(vars) if !vars.contains(&var) => Some(format!(
                    "`vars.{var}` is not under `variables`{}",
                    suggest(var, vars)
                )),
                None => Some(format!(
                    "`vars.{var}`: the flow has no `variables`; declare it there"
                )),
                _ => None,
            },
            (root, _) if !expr::VARIABLES.iter().any(|(name, _)| *name == root) => Some(format!(
                "unknown variable `{root}`{}; expressions read inputs, vars, outputs, execution, flow, taskrun and trigger",
                suggest(
                    root,
                    &expr::VARIABLES
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                )
            )),
            _ => None,
        }
    }
}

/// Finds text inside a node's span of the source, for exact positions even
/// in quoted and block strings.
struct Locator {
    chars: Vec<char>,
}

impl Locator {
    fn new(source: &str) -> Self {
        Self {
            chars: source.chars().collect(),
        }
    }

    fn find(&self, within: Span, needle: &str) -> Option<Span> {
        let start = within.start.offset as usize;
        let end = (within.end.offset as usize).min(self.chars.len());
        if start >= end || needle.is_empty() {
            return None;
        }
        let needle: Vec<char> = needle.chars().collect();
        let at = self.chars[start..end]
            .windows(needle.len())
            .position(|w| w == needle.as_slice())?
            + start;
        Some(Span {
            start: self.pos(within.start, start, at),
            end: self.pos(within.start, start, at + needle.len()),
        })
    }

    /// The position of char `target`, counting from `from` (at char `from_offset`).
    fn pos(&self, from: Pos, from_offset: usize, target: usize) -> Pos {
        let mut pos = from;
        for c in &self.chars[from_offset..target] {
            if *c == '\n' {
                pos.line += 1;
                pos.column = 1;
            } else {
                pos.column += 1;
            }
        }
        pos.offset = target as u32;
        pos
    }
}
