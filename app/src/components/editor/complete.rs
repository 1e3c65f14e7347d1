//! Completion and the task documentation at the caret.
//!
//! The context is read from the text around the caret, not from the parsed
//! flow: while a key is half typed the YAML often does not parse. Ids of
//! inputs and tasks come from the last flow that did parse.

use engine::flow::model::Flow;
use engine::flow::pebble::library::{self, Declaration};
use engine::flow::registry::{COMMON, Category, Kind, Property, TaskType};

/// One proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub label: String,
    /// The type of a property, the description of a task type...
    pub detail: String,
    pub required: bool,
    pub insert: String,
}

/// Proposals that replace the bytes `from..to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completions {
    pub from: usize,
    pub to: usize,
    pub items: Vec<Item>,
}

/// The top-level keys of a flow, for completion.
const TOP_LEVEL: &[(&str, &str, bool)] = &[
    ("id", "The flow's id: letters, digits, _ and -.", true),
    (
        "namespace",
        "Where the flow lives, such as company.team.",
        true,
    ),
    ("description", "What the flow does.", false),
    ("labels", "Names and values to find executions by.", false),
    ("inputs", "Values an execution is started with.", false),
    ("variables", "Values the tasks read as vars.name.", false),
    ("tasks", "The tasks, run in order.", true),
    ("errors", "Tasks run when a task fails.", false),
    ("finally", "Tasks run at the end, whatever happened.", false),
    ("outputs", "Values the execution returns.", false),
    (
        "triggers",
        "Schedules and other ways to start the flow.",
        false,
    ),
    (
        "pluginDefaults",
        "Property values for every task of a type.",
        false,
    ),
    ("concurrency", "The most executions running at once.", false),
    ("disabled", "Stop the flow from running.", false),
];

/// Whether typing just now should open completion by itself: after
/// `type: `, after `inputs.` or `outputs.`, and in a `dependsOn` list.
pub(crate) fn auto_trigger(before: &str) -> bool {
    let rest = strip_item(before.trim_start());
    rest == "type: "
        || (open_expression(before).is_some() && (before.ends_with('|') || before.ends_with("| ")))
        || before.ends_with("inputs.")
        || before.ends_with("outputs.")
        || (rest.starts_with("dependsOn:") && (before.ends_with('[') || before.ends_with(", ")))
}

/// What fits at the caret (a byte offset), if anything.
pub(crate) fn complete(text: &str, caret: usize, flow: Option<&Flow>) -> Option<Completions> {
    let begin = text[..caret].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[begin..caret];
    let word_len = before.len()
        - before
            .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || "_-.".contains(c))
            .len();
    let tail = &before[before.len() - word_len..];
    let lines: Vec<&str> = text.split('\n').collect();
    let line_index = text[..begin].matches('\n').count();

    // Expressions: inputs.<id>, outputs.<task>, outputs.<task>.<output>.
    let parts: Vec<&str> = tail.split('.').collect();
    if parts.len() >= 2 && (parts[0] == "inputs" || parts[0] == "outputs") {
        let word = parts[parts.len() - 1];
        let from = caret - word.len();
        let items: Vec<Item> = match (parts[0], parts.len()) {
            ("inputs", 2) => flow
                .map(|f| {
                    f.inputs
                        .iter()
                        .map(|i| item(&i.id.value, i.input_type.name(), false, &i.id.value))
                        .collect()
                })
                .unwrap_or_default(),
            ("outputs", 2) => task_ids(flow)
                .into_iter()
                .map(|(id, t)| item(&id, &t, false, &id))
                .collect(),
            ("outputs", 3) => flow
                .and_then(|f| f.task(parts[1]))
                .and_then(|t| t.kind)
                .map(|k| {
                    k.outputs
                        .iter()
                        .map(|(name, doc)| item(name, doc, false, name))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        return filtered(items, word, from, caret);
    }

    // Inside `{{ … }}` or `{% … %}`: filters, tests, functions, variables, tags.
    if let Some((expression, tag)) = open_expression(before) {
        return expression_completions(expression, tag, caret);
    }

    let indent = before.len() - before.trim_start_matches(' ').len();
    let rest = strip_item(&before[indent..]);
    let key_col = before.len() - rest.len();

    // The value of `type:`.
    if let Some(value) = rest.strip_prefix("type:") {
        let word = value.trim_start();
        let mapping = mapping_at(&lines, line_index, key_col);
        // A trigger under `triggers`, a condition under `conditions`, else a task.
        let wanted = |c: Category| match mapping.parent_key.as_deref() {
            Some("triggers") => c == Category::Trigger,
            Some("conditions") => c == Category::Condition,
            _ => matches!(c, Category::Task | Category::Flowable),
        };
        let items = engine::flow::task_types()
            .iter()
            .filter(|t| wanted(t.category))
            .filter(|t| {
                let w = word.to_ascii_lowercase();
                t.alias.to_ascii_lowercase().contains(&w)
                    || t.name.to_ascii_lowercase().contains(&w)
            })
            .map(|t| item(t.alias, first_sentence(t.doc), false, t.name))
            .collect();
        return Some(Completions {
            from: caret - word.len(),
            to: caret,
            items,
        })
        .filter(|c| !c.items.is_empty());
    }

    // Task ids in dependsOn, inline or as a list.
    let in_depends_list = rest.len() < before.len() - indent
        && parent_key(&lines, line_index, indent).as_deref() == Some("dependsOn");
    if let Some(list) = rest
        .strip_prefix("dependsOn:")
        .filter(|v| v.trim_start().starts_with('['))
        .or(in_depends_list.then_some(rest))
    {
        let word = list.rsplit(['[', ',']).next().unwrap_or("").trim_start();
        let current = mapping_at(&lines, line_index, key_col);
        let items = task_ids(flow)
            .into_iter()
            .filter(|(id, _)| {
                Some(id) != current.id.as_ref()
                    && !list.contains(&format!("{id},"))
                    && !list.contains(&format!("{id}]"))
            })
            .map(|(id, t)| item(&id, &t, false, &id))
            .collect();
        return filtered(items, word, caret - word.len(), caret);
    }

    // The value of a property with a few possible values.
    if let Some(colon) = rest.find(": ") {
        let key = &rest[..colon];
        let word = rest[colon + 2..].trim_start();
        let mapping = mapping_at(&lines, line_index, key_col);
        let property = mapping
            .task_type()
            .and_then(|t| t.property(key))
            .or_else(|| COMMON.iter().find(|p| p.name == key))?;
        let items: Vec<Item> = match property.kind {
            Kind::Enum { values } => values.iter().map(|v| item(v, "", false, v)).collect(),
            Kind::Boolean => ["true", "false"]
                .iter()
                .map(|v| item(v, "", false, v))
                .collect(),
            _ => return None,
        };
        return filtered(items, word, caret - word.len(), caret);
    }

    // A key.
    if rest.contains(':') || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mapping = mapping_at(&lines, line_index, key_col);
    let items: Vec<Item> = if key_col == 0 {
        TOP_LEVEL
            .iter()
            .map(|(name, doc, required)| item(name, doc, *required, &format!("{name}: ")))
            .collect()
    } else {
        let own: &[Property] = mapping.task_type().map_or(&[], |t| t.properties);
        let mut props: Vec<&Property> = COMMON.iter().chain(own).collect();
        props.sort_by_key(|p| !p.required);
        props
            .iter()
            .map(|p| item(p.name, &p.kind.describe(), p.required, &insert_key(p)))
            .collect()
    };
    let items = items
        .into_iter()
        .filter(|i| !mapping.keys.contains(&i.label))
        .collect();
    filtered(items, rest, caret - rest.len(), caret)
}

/// The expression being typed, when the caret is inside `{{ … }}` or
/// `{% … %}` on its line: its text so far, and whether it is a tag.
fn open_expression(before: &str) -> Option<(&str, bool)> {
    let print = before.rfind("{{");
    let tag = before.rfind("{%");
    let (start, is_tag) = match (print, tag) {
        (Some(p), Some(t)) if t > p => (t, true),
        (Some(p), _) => (p, false),
        (None, Some(t)) => (t, true),
        (None, None) => return None,
    };
    let inside = &before[start + 2..];
    let closed = if is_tag {
        inside.contains("%}")
    } else {
        inside.contains("}}")
    };
    (!closed).then(|| (inside.trim_start_matches('-'), is_tag))
}

/// The tags of Kestra's Pebble, for completion after `{%`.
const TAGS: &[(&str, &str)] = &[
    (
        "if",
        "{% if condition %} … {% elseif other %} … {% else %} … {% endif %}",
    ),
    ("elseif", "Another condition of an if."),
    ("else", "What an if or a for does otherwise."),
    ("endif", "Ends an if."),
    (
        "for",
        "{% for item in list %} … {% endfor %}; loop.index, loop.first, loop.last inside.",
    ),
    ("endfor", "Ends a for."),
    ("set", "{% set name = value %}"),
    ("raw", "{% raw %} text printed as it is {% endraw %}"),
    ("endraw", "Ends a raw block."),
    (
        "verbatim",
        "{% verbatim %} text printed as it is {% endverbatim %}",
    ),
    ("endverbatim", "Ends a verbatim block."),
];

/// What fits at the end of an expression's text: a filter after `|`, a
/// test after `is`, a tag right after `{%`, otherwise a function or a
/// variable.
fn expression_completions(expression: &str, tag: bool, caret: usize) -> Option<Completions> {
    let word_len = expression.len()
        - expression
            .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
            .len();
    let (head, word) = expression.split_at(expression.len() - word_len);
    // A member (`execution.id`) or a number: nothing to offer.
    if head.ends_with('.') || word.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let head = head.trim_end();
    let from = caret - word.len();
    let of_kind = |kind: library::Kind| library::declarations().filter(move |d| d.kind == kind);
    let items: Vec<Item> = if head.ends_with('|') {
        of_kind(library::Kind::Filter)
            .map(|d| declaration_item(d, !d.params.is_empty()))
            .collect()
    } else if head.ends_with(" is") || head.ends_with(" is not") {
        of_kind(library::Kind::Test)
            .map(|d| declaration_item(d, false))
            .collect()
    } else if tag && head.trim().is_empty() {
        TAGS.iter()
            .map(|(name, doc)| item(name, doc, false, &format!("{name} ")))
            .collect()
    } else {
        let variables = engine::flow::expr::VARIABLES
            .iter()
            .map(|(name, doc)| item(name, doc, false, name));
        variables
            .chain(of_kind(library::Kind::Function).map(|d| declaration_item(d, true)))
            .collect()
    };
    filtered(items, word, from, caret)
}

/// A filter, function or test with its signature as detail, inserted with
/// `(` when it takes arguments.
fn declaration_item(d: &Declaration, call: bool) -> Item {
    let signature = signature(d);
    let insert = if call {
        format!("{}(", d.name)
    } else {
        d.name.to_owned()
    };
    item(
        d.name,
        &format!("{signature}: {}", first_sentence(d.doc)),
        false,
        &insert,
    )
}

/// The filter, function or test whose name the caret is on (line 0-based,
/// column a 0-based char index), inside an expression, for its docs.
pub(crate) fn declaration_at(
    text: &str,
    line: usize,
    column: usize,
) -> Option<&'static Declaration> {
    let line = text.split('\n').nth(line)?;
    let chars: Vec<char> = line.chars().collect();
    let column = column.min(chars.len());
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = (0..column)
        .rev()
        .take_while(|&i| is_name(chars[i]))
        .last()
        .unwrap_or(column);
    let end = (column..chars.len())
        .take_while(|&i| is_name(chars[i]))
        .last()
        .map_or(column, |i| i + 1);
    if start == end {
        return None;
    }
    let before: String = chars[..start].iter().collect();
    open_expression(&before)?;
    let name: String = chars[start..end].iter().collect();
    let head = before.trim_end();
    let kind = if head.ends_with('|') {
        library::Kind::Filter
    } else if head.ends_with(" is") || head.ends_with(" is not") {
        library::Kind::Test
    } else if chars[end..].iter().find(|c| !c.is_whitespace()) == Some(&'(') {
        library::Kind::Function
    } else {
        return None;
    };
    library::declarations().find(|d| d.kind == kind && d.name == name)
}

/// `name(a, b?, …)`, for the docs.
pub(crate) fn signature(d: &Declaration) -> String {
    let params: Vec<String> = d
        .params
        .iter()
        .map(|p| {
            if p.required {
                p.name.to_owned()
            } else {
                format!("{}?", p.name)
            }
        })
        .collect();
    let rest = if d.variadic {
        if params.is_empty() { "…" } else { ", …" }
    } else {
        ""
    };
    if d.params.is_empty() && !d.variadic && d.kind != library::Kind::Function {
        d.name.to_owned()
    } else {
        format!("{}({}{rest})", d.name, params.join(", "))
    }
}

/// The task type of the task around a line (0-based), for its docs.
pub(crate) fn task_type_at(text: &str, line: usize) -> Option<&'static TaskType> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut line = line.min(lines.len().saturating_sub(1));
    let mut col = key_column(lines.get(line)?).unwrap_or(0);
    // A blank line: the mapping of the line above it.
    if lines[line].trim().is_empty() {
        let above = (0..line).rev().find(|&i| !lines[i].trim().is_empty())?;
        line = above;
        col = key_column(lines[above])?;
    }
    for _ in 0..64 {
        let mapping = mapping_at(&lines, line, col);
        if let Some(t) = mapping.task_type() {
            return Some(t);
        }
        let parent = mapping.parent_line?;
        line = parent;
        col = key_column(lines[parent])?;
    }
    None
}

/// A short YAML example of a task of this type, with its required
/// properties.
pub(crate) fn example(t: &TaskType) -> String {
    let mut out = format!(
        "- id: my_{}\n  type: {}\n",
        t.alias
            .rsplit('.')
            .next()
            .unwrap_or("task")
            .to_ascii_lowercase(),
        t.name
    );
    // The required properties, and a Switch's cases: Kestra refuses a
    // Switch with neither cases nor defaults, so the snippet has one case.
    for p in t
        .properties
        .iter()
        .filter(|p| p.required || matches!(p.kind, Kind::TaskCases))
    {
        let value = match (p.example, p.kind) {
            // A plain scalar cannot start with `{`: quote the template.
            (Some(example), _) if example.starts_with('{') || example.starts_with('*') => format!("{example:?}"),
            (Some(example), _) => example.to_owned(),
            (None, Kind::Integer) => "1".into(),
            (None, Kind::Number) => "1.5".into(),
            (None, Kind::Boolean) => "true".into(),
            (None, Kind::Duration) => "PT5M".into(),
            (None, Kind::Cron) => "\"0 2 * * *\"".into(),
            (None, Kind::Enum { values }) => values.first().copied().unwrap_or("").into(),
            (None, Kind::StringList) => "[a, b]".into(),
            (None, Kind::Tasks) => "\n    - id: hello\n      type: io.kestra.plugin.core.log.Log\n      message: Hello".into(),
            (None, Kind::DagTasks) => "\n    - task:\n        id: first\n        type: io.kestra.plugin.core.log.Log\n        message: first\n    - task:\n        id: second\n        type: io.kestra.plugin.core.log.Log\n        message: second\n      dependsOn: [first]".into(),
            (None, Kind::TaskCases) => "\n    a:\n      - id: on_a\n        type: io.kestra.plugin.core.log.Log\n        message: a".into(),
            (None, Kind::Map | Kind::Object { .. }) => "{}".into(),
            (None, Kind::ObjectList { .. }) => "[]".into(),
            (None, _) => "\"{{ inputs.name }}\"".into(),
        };
        let sep = if value.starts_with('\n') { ":" } else { ": " };
        out.push_str(&format!("  {}{sep}{value}\n", p.name));
    }
    out
}

pub(crate) fn first_sentence(doc: &str) -> &str {
    match doc.find(". ") {
        Some(i) => &doc[..=i],
        None => doc,
    }
}

fn item(label: &str, detail: &str, required: bool, insert: &str) -> Item {
    Item {
        label: label.to_owned(),
        detail: detail.to_owned(),
        required,
        insert: insert.to_owned(),
    }
}

fn insert_key(p: &Property) -> String {
    match p.kind {
        Kind::Tasks
        | Kind::DagTasks
        | Kind::TaskCases
        | Kind::Object { .. }
        | Kind::ObjectList { .. } => format!("{}:", p.name),
        _ => format!("{}: ", p.name),
    }
}

fn filtered(items: Vec<Item>, word: &str, from: usize, to: usize) -> Option<Completions> {
    let w = word.to_ascii_lowercase();
    let mut items: Vec<Item> = items
        .into_iter()
        .filter(|i| i.label.to_ascii_lowercase().contains(&w))
        .collect();
    // Prefix matches first, the rest in their order.
    items.sort_by_key(|i| !i.label.to_ascii_lowercase().starts_with(&w));
    (!items.is_empty()).then_some(Completions { from, to, items })
}

fn task_ids(flow: Option<&Flow>) -> Vec<(String, String)> {
    flow.map(|f| {
        f.all_tasks()
            .into_iter()
            .filter(|t| !t.id.value.is_empty())
            .map(|t| {
                (
                    t.id.value.clone(),
                    t.kind
                        .map_or(t.task_type.value.clone(), |k| k.alias.to_owned()),
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

/// `- - key` → `key`.
fn strip_item(mut text: &str) -> &str {
    while let Some(rest) = text.strip_prefix("- ") {
        text = rest.trim_start();
    }
    text
}

/// The column where a line's key starts, after indentation and dashes;
/// `None` for blank lines and comments.
fn key_column(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    Some(line.len() - strip_item(trimmed).len())
}

/// The key of the nearest line above that is indented less than `indent`.
fn parent_key(lines: &[&str], line: usize, indent: usize) -> Option<String> {
    (0..line).rev().find_map(|i| {
        let l = lines[i];
        let col = key_column(l)?;
        let own_indent = l.len() - l.trim_start().len();
        (own_indent < indent).then(|| key_of(&l[col..]).unwrap_or_default().to_owned())
    })
}

fn key_of(text: &str) -> Option<&str> {
    let colon = text.find(':')?;
    let key = &text[..colon];
    key.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        .then_some(key)
}

/// The mapping whose keys start at `col`, around `line`.
#[derive(Debug, Default)]
struct Mapping {
    keys: Vec<String>,
    type_name: Option<String>,
    id: Option<String>,
    parent_key: Option<String>,
    parent_line: Option<usize>,
}

impl Mapping {
    fn task_type(&self) -> Option<&'static TaskType> {
        self.type_name.as_deref().and_then(engine::flow::task_type)
    }

    fn add(&mut self, content: &str) {
        if let Some(key) = key_of(content) {
            let value = content[key.len() + 1..]
                .split(" #")
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            match key {
                "type" => self.type_name = Some(value.to_owned()),
                "id" => self.id = Some(value.to_owned()),
                _ => {}
            }
            self.keys.push(key.to_owned());
        }
    }
}

fn mapping_at(lines: &[&str], line: usize, col: usize) -> Mapping {
    let mut m = Mapping::default();
    let starts_item = |l: &str| {
        let indent = l.len() - l.trim_start().len();
        l.trim_start().starts_with("- ") && key_column(l) == Some(col) && indent < col
    };
    // The line itself, unless it is the key being typed.
    if let Some(current) = lines.get(line)
        && key_column(current) == Some(col)
        && current.contains(": ")
    {
        m.add(&current[col..]);
    }
    // Up to the item's dash or the parent key.
    let mut dash = lines
        .get(line)
        .is_some_and(|l| starts_item(l))
        .then_some(line);
    if dash.is_none() {
        for i in (0..line).rev() {
            let Some(c) = key_column(lines[i]) else {
                continue;
            };
            if c == col {
                m.add(&lines[i][col..]);
                if starts_item(lines[i]) {
                    dash = Some(i);
                    break;
                }
            } else if c < col {
                m.parent_key = key_of(&lines[i][c..]).map(str::to_owned);
                m.parent_line = Some(i);
                break;
            }
        }
    }
    // A list item's parent: the nearest line indented less than its dash.
    if let Some(d) = dash {
        let indent = lines[d].len() - lines[d].trim_start().len();
        if let Some(p) = (0..d).rev().find(|&i| {
            key_column(lines[i]).is_some() && lines[i].len() - lines[i].trim_start().len() < indent
        }) {
            m.parent_key = key_column(lines[p])
                .and_then(|c| key_of(&lines[p][c..]))
                .map(str::to_owned);
            m.parent_line = Some(p);
        }
    }
    for l in lines.iter().skip(line + 1) {
        let Some(c) = key_column(l) else { continue };
        if c < col || starts_item(l) {
            break;
        }
        if c == col {
            m.add(&l[col..]);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|` marks the caret; returns the labels proposed.
    fn check(input: &str, expected: &[&str]) {
        let caret = input.find('|').unwrap();
        let text = input.replacen('|', "", 1);
        // Half-typed text often does not parse: the editor then keeps the last flow that did.
        let flow = engine::flow::parse(&text)
            .flow
            .or_else(|| engine::flow::parse(FLOW).flow);
        let got = complete(&text, caret, flow.as_ref())
            .map(|c| c.items.into_iter().map(|i| i.label).collect::<Vec<_>>())
            .unwrap_or_default();
        for label in expected {
            assert!(
                got.iter().any(|g| g == label),
                "{label} missing from {got:?}"
            );
        }
        if expected.is_empty() {
            assert!(got.is_empty(), "{got:?}");
        }
    }

    const FLOW: &str = "id: f\nnamespace: n\ninputs:\n  - id: day\n    type: DATE\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

    #[test]
    fn task_types_after_type() {
        check(
            "tasks:\n  - id: a\n    type: |",
            &["log.Log", "databricks.cluster.CreateCluster"],
        );
        check(
            "tasks:\n  - id: a\n    type: Creat|",
            &["databricks.cluster.CreateCluster"],
        );
        check(
            "triggers:\n  - id: a\n    type: |",
            &["Schedule"].map(|_| "trigger.Schedule"),
        );
        // Under a trigger's `conditions`, the condition types, and only there.
        check(
            "triggers:\n  - id: a\n    type: trigger.Schedule\n    cron: \"0 2 * * *\"\n    conditions:\n      - type: Week|",
            &["condition.Weekend"],
        );
        let text = "tasks:\n  - id: a\n    type: ";
        let tasks = complete(text, text.len(), None)
            .map(|c| c.items.into_iter().map(|i| i.label).collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(
            tasks.iter().any(|l| l == "log.Log")
                && !tasks.iter().any(|l| l.starts_with("condition.")),
            "{tasks:?}"
        );
    }

    #[test]
    fn properties_of_the_current_task() {
        check(
            "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    mes|",
            &["message"],
        );
        check(
            "tasks:\n  - id: a\n    type: log.Log\n    |\n    message: x",
            &["level", "timeout"],
        );
        // Keys already there are not proposed again.
        let text = "tasks:\n  - id: a\n    type: log.Log\n    message: x\n    ";
        let got = complete(text, text.len(), None).unwrap();
        assert!(
            !got.items
                .iter()
                .any(|i| i.label == "message" || i.label == "id")
        );
        assert!(got.items.iter().any(|i| i.label == "level"));
        check("na|", &["namespace"]);
    }

    #[test]
    fn ids_in_expressions_and_depends_on() {
        let text = format!("{FLOW}  - id: b\n    type: log.Log\n    message: \"{{{{ inputs.|");
        check(&text, &["day"]);
        let text = format!("{FLOW}  - id: b\n    type: log.Log\n    message: \"{{{{ outputs.he|");
        check(&text, &["hello"]);
        let dag = "id: f\nnamespace: n\ntasks:\n  - id: d\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task:\n          id: one\n          type: log.Log\n          message: x\n      - task:\n          id: two\n          type: log.Log\n          message: y\n        dependsOn: [|]\n";
        check(dag, &["one"]);
        check("level: |", &[]);
        check(
            "tasks:\n  - id: a\n    type: log.Log\n    level: W|",
            &["WARN"],
        );
    }

    #[test]
    fn filters_tests_functions_and_tags_in_expressions() {
        // The caret is at the end (`|` is the filter operator here).
        let at_end = |text: &str, expected: &[&str]| {
            let got: Vec<String> = complete(text, text.len(), None)
                .map(|c| c.items.into_iter().map(|i| i.label).collect())
                .unwrap_or_default();
            for label in expected {
                assert!(
                    got.iter().any(|g| g == label),
                    "{text}: {label} missing from {got:?}"
                );
            }
            if expected.is_empty() {
                assert!(got.is_empty(), "{text}: {got:?}");
            }
        };
        at_end("message: \"{{ inputs.day | ", &["date", "upper", "jq"]);
        at_end("message: \"{{ inputs.day | dateA", &["dateAdd"]);
        at_end(
            "message: \"{{ inputs.day is ",
            &["defined", "null", "empty"],
        );
        at_end("message: \"{{ inputs.day is not em", &["empty"]);
        at_end("message: \"{{ sec", &["secret"]);
        at_end(
            "message: \"{{ ",
            &["secret", "now", "inputs", "execution", "envs"],
        );
        at_end("message: \"{{ 1 + ra", &["range", "randomInt"]);
        at_end("message: \"{% ", &["if", "for", "set"]);
        at_end("message: \"{% if ex", &["execution"]);
        // After a member, or once the expression is closed, none of these.
        at_end("message: \"{{ execution.", &[]);
        at_end("message: \"{{ a }} sec", &[]);
        // The detail gives the signature; a function inserts its parenthesis.
        let text = "message: \"{{ dateAdd";
        let text = text.replace("{{ dateAdd", "{{ 1 | dateAdd");
        let got = complete(&text, text.len(), None).unwrap();
        let date_add = got.items.iter().find(|i| i.label == "dateAdd").unwrap();
        assert!(
            date_add.detail.starts_with("dateAdd(amount, unit, format?"),
            "{}",
            date_add.detail
        );
        assert_eq!(date_add.insert, "dateAdd(");
        let text = "message: \"{{ secr";
        let got = complete(text, text.len(), None).unwrap();
        assert_eq!(got.items[0].insert, "secret(");
        assert_eq!((got.from, got.to), (text.len() - 4, text.len()));
        assert!(auto_trigger("message: \"{{ x |"));
        assert!(!auto_trigger("message: a |"));
    }

    #[test]
    fn the_declaration_under_the_caret() {
        let text = "tasks:\n  - id: a\n    message: \"{{ now() | dateAdd(1, 'DAYS') }} {{ x is defined }} upper\"";
        let at = |needle: &str, offset: usize| {
            let line = text.lines().position(|l| l.contains(needle)).unwrap();
            let column = text.lines().nth(line).unwrap().find(needle).unwrap() + offset;
            declaration_at(text, line, column).map(|d| (d.name, d.kind))
        };
        assert_eq!(at("now", 1), Some(("now", library::Kind::Function)));
        assert_eq!(at("dateAdd", 3), Some(("dateAdd", library::Kind::Filter)));
        assert_eq!(at("defined", 0), Some(("defined", library::Kind::Test)));
        // Outside an expression, a word is only a word.
        assert_eq!(at("upper", 2), None);
        assert_eq!(at("message", 2), None);
    }

    #[test]
    fn the_task_at_a_line() {
        let text = "tasks:\n  - id: a\n    type: log.Log\n    message: x\n  - id: q\n    type: databricks.sql.Query\n    sql: x\n";
        assert_eq!(task_type_at(text, 3).map(|t| t.alias), Some("log.Log"));
        assert_eq!(
            task_type_at(text, 4).map(|t| t.alias),
            Some("databricks.sql.Query")
        );
        assert_eq!(task_type_at(text, 0).map(|t| t.alias), None);
    }

    #[test]
    fn any_caret_anywhere_is_fine() {
        // Completion and docs run at every caret position, half-typed text included.
        let mut texts: Vec<String> = engine::blueprints::all()
            .iter()
            .map(|b| b.source.to_owned())
            .collect();
        texts.push("id: é\nnamespace: ñ\ntasks:\n  - id: 😀\n    type: \n    dependsOn: [a, \n    message: \"{{ outputs.".to_owned());
        for text in &texts {
            let flow = engine::flow::parse(text).flow;
            for (caret, _) in text.char_indices().chain([(text.len(), ' ')]) {
                let _ = complete(text, caret, flow.as_ref());
                let _ = complete(&text[..caret], caret, flow.as_ref());
            }
            for line in 0..text.lines().count() + 2 {
                let _ = task_type_at(text, line);
            }
        }
    }

    #[test]
    fn examples_of_every_type_are_valid() {
        for t in engine::flow::task_types()
            .iter()
            .filter(|t| matches!(t.category, Category::Task | Category::Flowable))
        {
            let example = example(t);
            let body: String = example.lines().map(|l| format!("  {l}\n")).collect();
            // The inputs an example reads are declared (once each: Kestra
            // refuses an id declared twice), as a flow around it would.
            let mut inputs = String::new();
            let mut declared = std::collections::BTreeSet::new();
            for part in example.split("inputs.").skip(1) {
                let id: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if declared.insert(id.clone()) {
                    inputs.push_str(&format!("  - id: {id}\n    type: STRING\n"));
                }
            }
            // And so are the tasks whose outputs it reads.
            let mut before = String::new();
            for part in example.split("outputs.").skip(1) {
                let id: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                before.push_str(&format!(
                    "  - id: {id}\n    type: log.Log\n    message: x\n"
                ));
            }
            let source = format!(
                "id: f\nnamespace: n\ninputs:\n  - id: unused\n    type: STRING\n{inputs}tasks:\n{before}{body}"
            );
            let parsed = engine::flow::parse(&source);
            let errors: Vec<_> = parsed
                .problems
                .iter()
                .filter(|p| p.severity == engine::flow::Severity::Error)
                .collect();
            assert!(errors.is_empty(), "{}:\n{source}\n{errors:?}", t.name);
        }
    }
}
