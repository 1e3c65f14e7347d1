//! The flow as a graph of nodes and edges, for the topology view, and the
//! topological order the executor uses for a Dag.
//!
//! Layout of the graph: `root.start` -> the tasks in order -> `root.end`.
//! A flowable task is a node that opens a group, and its synthetic
//! `<id>.end` node closes it: the next sibling follows the end node.
//! `errors` hang off `root.start` (edge kind `Error`), and `finally` runs
//! from `root.end` to `root.finally` (edge kind `Finally`).

use std::collections::HashMap;

use serde::Serialize;

use super::model::{Flow, Task};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// Unique in the graph: the task id, or `<id>.end`, `root.start`, ...
    pub uid: String,
    pub kind: NodeKind,
    /// The task, for task and group nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// The flowable this node is inside, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `tasks`, `errors` or `finally`: which list of the flow it is under.
    pub section: Section,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeKind {
    Start,
    End,
    Task,
    /// A flowable task: its children are inside.
    Group,
    /// The end of a group.
    GroupEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Section {
    Tasks,
    Errors,
    Finally,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// The branch (`then`, `else`, a Switch case) an edge enters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EdgeKind {
    /// One task after another.
    Sequence,
    /// A Dag's dependsOn.
    Dependency,
    /// Into a branch of If or Switch, or a child of Parallel / ForEach.
    Branch,
    /// To the errors branch.
    Error,
    /// To the finally branch.
    Finally,
}

/// The graph of a flow.
pub fn graph(flow: &Flow) -> Graph {
    let mut g = Builder {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    g.node("root.start", NodeKind::Start, None, None, Section::Tasks);
    g.node("root.end", NodeKind::End, None, None, Section::Tasks);
    let last = g.chain(
        &flow.tasks,
        "root.start",
        EdgeKind::Sequence,
        None,
        Section::Tasks,
    );
    g.edge(&last, "root.end", EdgeKind::Sequence, None);
    if !flow.errors.is_empty() {
        g.node("root.errors", NodeKind::End, None, None, Section::Errors);
        let last = g.chain(
            &flow.errors,
            "root.start",
            EdgeKind::Error,
            None,
            Section::Errors,
        );
        g.edge(&last, "root.errors", EdgeKind::Sequence, None);
    }
    if !flow.finally.is_empty() {
        g.node("root.finally", NodeKind::End, None, None, Section::Finally);
        let last = g.chain(
            &flow.finally,
            "root.end",
            EdgeKind::Finally,
            None,
            Section::Finally,
        );
        g.edge(&last, "root.finally", EdgeKind::Sequence, None);
    }
    if !flow.after_execution.is_empty() {
        // After the end (and `finally`), once the final state is known.
        let from = if flow.finally.is_empty() {
            "root.end"
        } else {
            "root.finally"
        };
        g.node(
            "root.afterExecution",
            NodeKind::End,
            None,
            None,
            Section::Finally,
        );
        let last = g.chain(
            &flow.after_execution,
            from,
            EdgeKind::Finally,
            None,
            Section::Finally,
        );
        g.edge(&last, "root.afterExecution", EdgeKind::Sequence, None);
    }
    Graph {
        nodes: g.nodes,
        edges: g.edges,
    }
}

/// The order to start a Dag's tasks in: each `(id, dependsOn)` after its
/// dependencies, ties in the order written. Dependencies on unknown ids are
/// ignored. A cycle is returned as its path, `a -> b -> a` as `[a, b, a]`.
pub fn topological_order(tasks: &[(String, Vec<String>)]) -> Result<Vec<usize>, Vec<String>> {
    // Linear in tasks and dependencies: a Dag of thousands of tasks, each
    // depending on all earlier ones, is checked on every keystroke in the
    // editor and on every render of its page.
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(tasks.len());
    for (i, (id, _)) in tasks.iter().enumerate() {
        index.entry(id.as_str()).or_insert(i);
    }
    let deps: Vec<Vec<usize>> = tasks
        .iter()
        .map(|(_, d)| {
            d.iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, d) in deps.iter().enumerate() {
        for &d in d {
            dependents[d].push(i);
        }
    }
    let mut done = vec![false; tasks.len()];
    let mut order = Vec::with_capacity(tasks.len());
    // Rounds: every task ready at the start of a round, in the order written.
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| waiting[i] == 0).collect();
    while order.len() < tasks.len() {
        if ready.is_empty() {
            return Err(find_cycle(tasks, &deps, &done));
        }
        let mut next = Vec::new();
        for &i in &ready {
            done[i] = true;
            order.push(i);
            for &j in &dependents[i] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        ready = next;
    }
    Ok(order)
}

/// The children of a Dag task in the order to start them (each after what
/// it depends on), or the cycle that prevents it.
pub fn dag_order(dag: &Task) -> Result<Vec<&Task>, Vec<String>> {
    let children: Vec<&Task> = dag.children().collect();
    let entries: Vec<(String, Vec<String>)> = children
        .iter()
        .map(|c| {
            (
                c.id.value.clone(),
                c.depends_on.iter().map(|d| d.value.clone()).collect(),
            )
        })
        .collect();
    Ok(topological_order(&entries)?
        .into_iter()
        .map(|i| children[i])
        .collect())
}

/// A cycle among the tasks not done yet, following dependencies.
fn find_cycle(tasks: &[(String, Vec<String>)], deps: &[Vec<usize>], done: &[bool]) -> Vec<String> {
    let Some(start) = (0..tasks.len()).find(|&i| !done[i]) else {
        return Vec::new();
    };
    // Every remaining task has a remaining dependency, so walking always
    // finds one, and a walk of n steps must repeat a task.
    let mut path = vec![start];
    let mut current = start;
    loop {
        let Some(&next) = deps[current].iter().find(|&&d| !done[d]) else {
            return Vec::new();
        };
        if let Some(at) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<String> = path[at..].iter().map(|&i| tasks[i].0.clone()).collect();
            // Written as "waits for": a -> b means a depends on b.
            cycle.push(tasks[next].0.clone());
            return cycle;
        }
        path.push(next);
        current = next;
    }
}

struct Builder {
    nodes: Vec<GraphNode>,
    edges: Vec<Edge>,
}

impl Builder {
    fn node(
        &mut self,
        uid: &str,
        kind: NodeKind,
        task: Option<&Task>,
        parent: Option<&str>,
        section: Section,
    ) {
        self.nodes.push(GraphNode {
            uid: uid.to_owned(),
            kind,
            task_id: task.map(|t| t.id.value.clone()),
            task_type: task.map(|t| t.task_type.value.clone()),
            parent: parent.map(str::to_owned),
            section,
        });
    }

    fn edge(&mut self, from: &str, to: &str, kind: EdgeKind, label: Option<String>) {
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            kind,
            label,
        });
    }

    /// Tasks one after another from `from`; returns the uid the next one follows.
    fn chain(
        &mut self,
        tasks: &[Task],
        from: &str,
        first: EdgeKind,
        parent: Option<&str>,
        section: Section,
    ) -> String {
        let mut previous = from.to_owned();
        let mut kind = first;
        let mut label = None;
        for task in tasks {
            self.edge(&previous, &task.id.value, kind, label.take());
            previous = self.task(task, parent, section);
            kind = EdgeKind::Sequence;
        }
        previous
    }

    /// Adds a task (and what is inside); returns the uid its successor follows.
    fn task(&mut self, task: &Task, parent: Option<&str>, section: Section) -> String {
        let id = task.id.value.as_str();
        if !task.is_flowable() {
            self.node(id, NodeKind::Task, Some(task), parent, section);
            return id.to_owned();
        }
        self.node(id, NodeKind::Group, Some(task), parent, section);
        let end = format!("{id}.end");
        self.node(&end, NodeKind::GroupEnd, None, Some(id), section);
        match task.short_type() {
            "flow.Sequential" => {
                let tasks: Vec<Task> = task.children().cloned().collect();
                let last = self.chain(&tasks, id, EdgeKind::Sequence, Some(id), section);
                self.edge(&last, &end, EdgeKind::Sequence, None);
            }
            "flow.Dag" => {
                let children: Vec<&Task> = task.children().collect();
                // By id, so that a Dag of thousands of dependencies is
                // linear; a duplicate id keeps its first task.
                let mut position: HashMap<&str, usize> = HashMap::with_capacity(children.len());
                for (i, c) in children.iter().enumerate() {
                    position.entry(c.id.value.as_str()).or_insert(i);
                }
                // Each child's known dependencies, each once (`written[d] ==
                // i + 1`: child i already has d).
                let mut written = vec![0usize; children.len()];
                let mut has_dependents = vec![false; children.len()];
                let mut deps: Vec<Vec<usize>> = Vec::with_capacity(children.len());
                for (i, child) in children.iter().enumerate() {
                    let mut known = Vec::with_capacity(child.depends_on.len());
                    for d in child
                        .depends_on
                        .iter()
                        .filter_map(|d| position.get(d.value.as_str()).copied())
                    {
                        if std::mem::replace(&mut written[d], i + 1) != i + 1 {
                            has_dependents[d] = true;
                            known.push(d);
                        }
                    }
                    deps.push(known);
                }
                for (i, (child, known)) in children.iter().zip(deps).enumerate() {
                    let last = self.task(child, Some(id), section);
                    if known.is_empty() {
                        self.edge(id, &child.id.value, EdgeKind::Branch, None);
                    }
                    for d in known {
                        let dep = children[d].id.value.as_str();
                        // A dependency on a flowable starts where its branches meet.
                        let from = if children[d].is_flowable() {
                            format!("{dep}.end")
                        } else {
                            dep.to_owned()
                        };
                        self.edge(&from, &child.id.value, EdgeKind::Dependency, None);
                    }
                    if !has_dependents[i] {
                        self.edge(&last, &end, EdgeKind::Sequence, None);
                    }
                }
            }
            // Parallel, ForEach, If, Switch and any other flowable: each
            // branch starts at the group and ends at its end.
            short => {
                for branch in &task.branches {
                    let label = match short {
                        "flow.If" => Some(branch.name.clone()),
                        "flow.Switch" => Some(
                            branch
                                .name
                                .strip_prefix("cases.")
                                .unwrap_or(&branch.name)
                                .to_owned(),
                        ),
                        _ => None,
                    };
                    let parallel = short == "flow.Parallel";
                    if parallel {
                        for child in &branch.tasks {
                            self.edge(id, &child.id.value, EdgeKind::Branch, label.clone());
                            let last = self.task(child, Some(id), section);
                            self.edge(&last, &end, EdgeKind::Sequence, None);
                        }
                    } else if let Some(first) = branch.tasks.first() {
                        self.edge(id, &first.id.value, EdgeKind::Branch, label);
                        let mut previous = self.task(first, Some(id), section);
                        for child in &branch.tasks[1..] {
                            self.edge(&previous, &child.id.value, EdgeKind::Sequence, None);
                            previous = self.task(child, Some(id), section);
                        }
                        self.edge(&previous, &end, EdgeKind::Sequence, None);
                    }
                }
                if task.branches.iter().all(|b| b.tasks.is_empty()) {
                    self.edge(id, &end, EdgeKind::Sequence, None);
                }
            }
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tasks: &[(&str, &[&str])], expected: Result<&[&str], &[&str]>) {
        let tasks: Vec<(String, Vec<String>)> = tasks
            .iter()
            .map(|(id, deps)| (id.to_string(), deps.iter().map(|d| d.to_string()).collect()))
            .collect();
        let got = topological_order(&tasks).map(|order| {
            order
                .iter()
                .map(|&i| tasks[i].0.clone())
                .collect::<Vec<_>>()
        });
        let expected = expected
            .map(|o| o.iter().map(|s| s.to_string()).collect())
            .map_err(|c| c.iter().map(|s| s.to_string()).collect());
        assert_eq!(got, expected);
    }

    #[test]
    fn dag_order_and_cycles() {
        check(
            &[("c", &["a", "b"]), ("a", &[]), ("b", &["a"])],
            Ok(&["a", "b", "c"]),
        );
        check(&[("a", &[]), ("b", &[])], Ok(&["a", "b"]));
        check(&[("a", &["b"]), ("b", &["a"])], Err(&["a", "b", "a"]));
        check(
            &[("x", &[]), ("a", &["c"]), ("b", &["a"]), ("c", &["b"])],
            Err(&["a", "c", "b", "a"]),
        );
        check(&[("a", &["missing"])], Ok(&["a"]));
    }
}
