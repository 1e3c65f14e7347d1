//! The flow model, with the position of everything, built from the YAML
//! tree. Building checks what one node can tell: unknown keys and types,
//! wrong value types, missing required properties, bad durations and cron
//! expressions. The checks across nodes are in `validate`.

use super::Problem;
use super::registry::{self, Category, Kind, Property, TaskType};
use super::yaml::{Node, Span, Value};

/// A string and where it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Text {
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: Text,
    pub namespace: Text,
    pub description: Option<String>,
    pub labels: Option<Node>,
    pub inputs: Vec<Input>,
    pub variables: Option<Node>,
    pub outputs: Option<Node>,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    /// `afterExecution`: run once the execution's final state is known.
    pub after_execution: Vec<Task>,
    pub triggers: Vec<Trigger>,
    pub plugin_defaults: Option<Node>,
    pub concurrency: Option<Node>,
    pub disabled: bool,
    /// The whole YAML tree, for anything the model does not lift out.
    pub root: Node,
    /// The source, to point inside multi-line strings.
    pub source: String,
}

/// Input types, Kestra's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    String,
    Int,
    Float,
    Boolean,
    Date,
    DateTime,
    Time,
    Duration,
    Select,
    MultiSelect,
    Json,
    Yaml,
    Uri,
    File,
    Secret,
    Array,
    Email,
}

impl InputType {
    pub const ALL: &[(&str, InputType)] = &[
        ("STRING", InputType::String),
        ("INT", InputType::Int),
        ("FLOAT", InputType::Float),
        ("BOOLEAN", InputType::Boolean),
        ("BOOL", InputType::Boolean),
        ("DATE", InputType::Date),
        ("DATETIME", InputType::DateTime),
        ("TIME", InputType::Time),
        ("DURATION", InputType::Duration),
        ("SELECT", InputType::Select),
        // Kestra's older name of SELECT (EnumInput), still in flows.
        ("ENUM", InputType::Select),
        ("MULTISELECT", InputType::MultiSelect),
        ("JSON", InputType::Json),
        ("YAML", InputType::Yaml),
        ("URI", InputType::Uri),
        ("FILE", InputType::File),
        ("SECRET", InputType::Secret),
        ("ARRAY", InputType::Array),
        ("EMAIL", InputType::Email),
    ];

    pub fn parse(text: &str) -> Option<InputType> {
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, t)| *t)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("STRING", |(name, _)| name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub id: Text,
    pub input_type: InputType,
    pub required: bool,
    pub defaults: Option<Node>,
    /// SELECT and MULTISELECT choices.
    pub values: Vec<String>,
    /// SELECT and MULTISELECT: an expression giving the choices.
    pub expression: Option<String>,
    /// `dependsOn.inputs`: the inputs this one is resolved after.
    pub depends_on: Vec<String>,
    /// `dependsOn.condition`: the input counts only when it holds.
    pub condition: Option<String>,
    pub description: Option<String>,
    /// ARRAY: the type of its items (`itemType`), STRING when unset.
    pub item_type: Option<InputType>,
    pub span: Span,
}

/// A task, with its own properties and the tasks inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Text,
    pub task_type: Text,
    /// The declared type; `None` when the type is unknown.
    pub kind: Option<&'static TaskType>,
    pub description: Option<String>,
    pub timeout: Option<Text>,
    pub retry: Option<Node>,
    pub allow_failure: bool,
    /// Kestra's allowWarning: a WARNING end counts as SUCCESS.
    pub allow_warning: bool,
    pub run_if: Option<Node>,
    pub disabled: bool,
    /// Its own properties (not the common ones, not the nested tasks).
    pub properties: Vec<(Text, Node)>,
    /// Nested tasks by property: `tasks`, `then`, `else`, `cases.<value>`, `defaults`.
    pub branches: Vec<Branch>,
    /// In a Dag: the ids this task waits for.
    pub depends_on: Vec<Text>,
    /// The whole task mapping.
    pub node: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub name: String,
    pub tasks: Vec<Task>,
}

impl Task {
    /// A property of the task by name (own or common), as written.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.node.get(name)
    }

    /// The tasks directly inside this one.
    pub fn children(&self) -> impl Iterator<Item = &Task> {
        self.branches.iter().flat_map(|b| b.tasks.iter())
    }

    pub fn is_flowable(&self) -> bool {
        self.kind.is_some_and(|k| k.category == Category::Flowable)
    }

    /// The alias of its type (`flow.Dag`), or the type as written.
    pub fn short_type(&self) -> &str {
        self.kind.map_or(self.task_type.value.as_str(), |k| k.alias)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub id: Text,
    pub trigger_type: Text,
    pub kind: Option<&'static TaskType>,
    pub disabled: bool,
    pub node: Node,
}

impl Flow {
    /// Every task, depth first: `tasks`, then `errors`, then `finally`.
    pub fn all_tasks(&self) -> Vec<&Task> {
        let mut all = Vec::new();
        for task in self
            .tasks
            .iter()
            .chain(&self.errors)
            .chain(&self.finally)
            .chain(&self.after_execution)
        {
            collect(task, &mut all);
        }
        all
    }

    /// A task anywhere in the flow, by id.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.all_tasks().into_iter().find(|t| t.id.value == id)
    }
}

fn collect<'a>(task: &'a Task, into: &mut Vec<&'a Task>) {
    into.push(task);
    for child in task.children() {
        collect(child, into);
    }
}

/// Kestra's longest flow id, namespace and task id (`@Size` in its model;
/// a task id has no bound there, so one that fits a URL and a log line).
pub const MAX_FLOW_ID: usize = crate::ids::MAX_FLOW_ID;
pub const MAX_NAMESPACE: usize = crate::ids::MAX_NAMESPACE;

/// Whether text is a namespace (dot-separated parts of letters, digits,
/// `_` and `-`): what may become a folder of internal storage.
pub fn valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= MAX_NAMESPACE
        && namespace.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}
pub const MAX_ID: usize = crate::ids::MAX_ID;

const TOP_LEVEL: &[&str] = &[
    "id",
    "namespace",
    "description",
    "labels",
    "inputs",
    "variables",
    "outputs",
    "tasks",
    "errors",
    "finally",
    "afterExecution",
    "triggers",
    "pluginDefaults",
    "taskDefaults",
    "concurrency",
    "disabled",
    "revision",
    "retry",
    "sla",
    "checks",
    "deleted",
    "tenantId",
];

const INPUT_KEYS: &[&str] = &[
    "id",
    "type",
    "description",
    "displayName",
    "name",
    "required",
    "defaults",
    "values",
    "allowCustomValue",
    "dependsOn",
    "validator",
    "min",
    "max",
    "minLength",
    "maxLength",
    "after",
    "before",
    "itemType",
    "expression",
    "autoSelectFirst",
    "allowedFileExtensions",
    "prefill",
];

struct Builder {
    problems: Vec<Problem>,
    /// The `pluginDefaults` entries: a type prefix and the keys it gives,
    /// which count as written for a required property (as in Kestra).
    defaults: Vec<(String, Vec<String>)>,
}

/// Builds the model; returns it with the problems found on the way.
pub(super) fn build(root: Node, source: &str) -> (Option<Flow>, Vec<Problem>) {
    let defaults = root
        .get("pluginDefaults")
        .or_else(|| root.get("taskDefaults"))
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let prefix = entry.get("type")?.as_str()?.to_owned();
            let keys = entry
                .get("values")?
                .as_map()?
                .iter()
                .filter_map(|(k, _)| k.as_str().map(str::to_owned))
                .collect();
            Some((prefix, keys))
        })
        .collect();
    let mut b = Builder {
        problems: Vec::new(),
        defaults,
    };
    let Some(entries) = root.as_map() else {
        b.error(
            root.span,
            "a flow is a mapping with `id`, `namespace` and `tasks`",
        );
        return (None, b.problems);
    };
    for (key, _) in entries {
        match key.as_str() {
            Some(name) if TOP_LEVEL.contains(&name) => {}
            // Kestra's blueprint files carry their catalogue page here
            // (title, description, tags); a flow copied whole still runs.
            Some("extend") => b.warning(key.span, "`extend` is a blueprint's catalogue entry (title, description, tags); Mortar ignores it"),
            Some(name) => b.unknown_key(key, name, "flow", TOP_LEVEL),
            None => b.error(key.span, "keys are strings"),
        }
    }
    let id = b.required_text(
        &root,
        "id",
        "the flow",
        "add `id: my_flow` (letters, digits, _ and -)",
    );
    let namespace = b.required_text(
        &root,
        "namespace",
        "the flow",
        "add `namespace: company.team`",
    );
    // Kestra's patterns and lengths: an id or namespace it refuses is
    // refused here too, before it can reach a path or a URL.
    if !id.value.is_empty()
        && let Err(rule) = crate::ids::check_flow_id(&id.value)
    {
        b.error(id.span, rule);
    }
    if !namespace.value.is_empty()
        && let Err(rule) = crate::ids::check_namespace(&namespace.value)
    {
        b.error(namespace.span, rule);
    }
    let description = b.optional_string(&root, "description");
    let labels = root.get("labels").cloned();
    if let Some(labels) = &labels
        && !matches!(labels.value, Value::Map(_) | Value::Seq(_) | Value::Null)
    {
        b.error(
            labels.span,
            "labels is a mapping of names to values, such as `team: data`",
        );
    }
    let variables = root.get("variables").cloned();
    if let Some(variables) = &variables
        && !matches!(variables.value, Value::Map(_) | Value::Null)
    {
        b.error(variables.span, "variables is a mapping of names to values");
    }
    let inputs = b.inputs(root.get("inputs"));
    let tasks = match root.entry("tasks") {
        None => {
            b.error(
                root.span_of_start(),
                "the flow has no `tasks`: add a list of tasks under `tasks:`",
            );
            Vec::new()
        }
        Some((key, value)) => {
            let tasks = b.tasks(value, "tasks");
            if tasks.is_empty() && value.as_seq().is_some_and(|s| s.is_empty()) || value.is_null() {
                b.error(key.span, "`tasks` is empty: add at least one task");
            }
            tasks
        }
    };
    let errors = root
        .get("errors")
        .map(|v| b.tasks(v, "errors"))
        .unwrap_or_default();
    let finally = root
        .get("finally")
        .map(|v| b.tasks(v, "finally"))
        .unwrap_or_default();
    let after_execution = root
        .get("afterExecution")
        .map(|v| b.tasks(v, "afterExecution"))
        .unwrap_or_default();
    let triggers = b.triggers(root.get("triggers"));
    let plugin_defaults = root
        .get("pluginDefaults")
        .or_else(|| root.get("taskDefaults"))
        .cloned();
    if let Some(defaults) = &plugin_defaults {
        b.plugin_defaults(defaults);
    }
    let concurrency = root.get("concurrency").cloned();
    if let Some(node) = &concurrency {
        b.check_object(node, CONCURRENCY, "concurrency");
    }
    if let Some(outputs) = root.get("outputs") {
        b.check_value(
            outputs,
            &Kind::ObjectList {
                properties: FLOW_OUTPUT,
            },
            "outputs",
        );
    }
    let disabled = b.optional_bool(&root, "disabled");
    let flow = Flow {
        id,
        namespace,
        description,
        labels,
        inputs,
        variables,
        outputs: root.get("outputs").cloned(),
        tasks,
        errors,
        finally,
        after_execution,
        triggers,
        plugin_defaults,
        concurrency,
        disabled,
        source: source.to_owned(),
        root,
    };
    (Some(flow), b.problems)
}

const CONCURRENCY: &[Property] = &[
    Property {
        name: "limit",
        kind: Kind::Integer,
        required: true,
        default: None,
        doc: "The most executions running at once.",
        example: Some("1"),
        api: None,
        given: &[],
    },
    Property {
        name: "behavior",
        kind: Kind::Enum {
            values: &["QUEUE", "CANCEL", "FAIL"],
        },
        required: false,
        default: Some("\"QUEUE\""),
        doc: "What happens to an execution over the limit.",
        example: None,
        api: None,
        given: &[],
    },
];

pub(super) const FLOW_OUTPUT: &[Property] = &[
    Property {
        name: "id",
        kind: Kind::String,
        required: true,
        default: None,
        doc: "The output's name.",
        example: None,
        api: None,
        given: &[],
    },
    Property {
        name: "type",
        kind: Kind::String,
        required: false,
        default: None,
        doc: "The output's type (STRING, INT, ...).",
        example: None,
        api: None,
        given: &[],
    },
    Property {
        name: "value",
        kind: Kind::Any,
        required: true,
        default: None,
        doc: "An expression.",
        example: None,
        api: None,
        given: &[],
    },
    Property {
        name: "description",
        kind: Kind::String,
        required: false,
        default: None,
        doc: "What it is.",
        example: None,
        api: None,
        given: &[],
    },
    Property {
        name: "displayName",
        kind: Kind::String,
        required: false,
        default: None,
        doc: "Its label.",
        example: None,
        api: None,
        given: &[],
    },
    Property {
        name: "required",
        kind: Kind::Boolean,
        required: false,
        default: None,
        doc: "Fail when it is missing.",
        example: None,
        api: None,
        given: &[],
    },
];

const PLUGIN_DEFAULT: &[Property] = &[
    Property {
        name: "type",
        kind: Kind::String,
        required: true,
        default: None,
        doc: "A task type or a prefix of one.",
        example: None,
        api: None,
        given: &[],
    },
    Property {
        name: "values",
        kind: Kind::Map,
        required: true,
        default: None,
        doc: "Property values applied under the task's own.",
        example: None,
        api: None,
        given: &[],
    },
    Property {
        name: "forced",
        kind: Kind::Boolean,
        required: false,
        default: None,
        doc: "Override the task's own values.",
        example: None,
        api: None,
        given: &[],
    },
];

impl Node {
    /// An empty span at the start of the node.
    fn span_of_start(&self) -> Span {
        Span {
            start: self.span.start,
            end: self.span.start,
        }
    }
}

impl Builder {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.problems.push(Problem::error(span, message));
    }

    fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.problems.push(Problem::warning(span, message));
    }

    fn unknown_key(&mut self, key: &Node, name: &str, owner: &str, known: &[&str]) {
        let close = registry::closest(name, known.iter().copied());
        let hint = match close.as_slice() {
            [] => format!(
                "known ones: {}",
                known
                    .iter()
                    .take(12)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            names => format!(
                "did you mean {}?",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        };
        self.error(
            key.span,
            format!("unknown property `{name}` of {owner}: {hint}"),
        );
    }

    fn required_text(&mut self, node: &Node, key: &str, owner: &str, fix: &str) -> Text {
        match node.entry(key) {
            None => {
                self.error(
                    node.span_of_start(),
                    format!("{owner} has no `{key}`: {fix}"),
                );
                Text::default()
            }
            Some((_, value)) => match scalar_text(value) {
                Some(text) if !text.is_empty() => Text {
                    value: text,
                    span: value.span,
                },
                _ => {
                    self.error(
                        value.span,
                        format!(
                            "`{key}` is {}, it should be a non-empty string: {fix}",
                            value.kind_name()
                        ),
                    );
                    Text::default()
                }
            },
        }
    }

    /// Kestra's pattern of a task or trigger id: `^[a-zA-Z0-9][a-zA-Z0-9_-]*`.
    fn check_id(&mut self, id: &Text, what: &str) {
        // Kestra nests an input `a.b` as `inputs.a.b`: input ids may hold
        // dots between their parts.
        if what == "input id" && id.value.contains('.') {
            if id.value.split('.').any(str::is_empty) {
                self.error(
                    id.span,
                    format!(
                        "{what} {:?} has an empty part: dots separate parts such as `request.name`",
                        id.value
                    ),
                );
                return;
            }
            for part in id.value.split('.') {
                self.check_id(
                    &Text {
                        value: part.to_owned(),
                        span: id.span,
                    },
                    what,
                );
            }
            return;
        }
        if !id
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.error(
                id.span,
                format!(
                    "{what} {:?} may only have letters, digits, `_` and `-`",
                    id.value
                ),
            );
        } else if !id.value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            self.error(
                id.span,
                format!("{what} {:?} must start with a letter or digit", id.value),
            );
        } else if id.value.len() > MAX_ID {
            self.error(
                id.span,
                format!(
                    "{what} is {} characters long; at most {MAX_ID}",
                    id.value.len()
                ),
            );
        }
    }

    fn optional_string(&mut self, node: &Node, key: &str) -> Option<String> {
        let value = node.get(key)?;
        match &value.value {
            Value::Null => None,
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.error(
                    value.span,
                    format!("`{key}` is {}, it should be a string", value.kind_name()),
                );
                None
            }
        }
    }

    fn optional_bool(&mut self, node: &Node, key: &str) -> bool {
        match node.get(key) {
            None => false,
            Some(value) => {
                self.check_value(value, &Kind::Boolean, key);
                value.as_bool().unwrap_or(false)
            }
        }
    }

    fn inputs(&mut self, node: Option<&Node>) -> Vec<Input> {
        let Some(node) = node else { return Vec::new() };
        if node.is_null() {
            return Vec::new();
        }
        let Some(items) = node.as_seq() else {
            self.error(
                node.span,
                "`inputs` is a list: `- id: name` then `type: STRING`",
            );
            return Vec::new();
        };
        let mut inputs = Vec::new();
        for item in items {
            if item.as_map().is_none() {
                self.error(item.span, "each input is a mapping with `id` and `type`");
                continue;
            }
            for (key, _) in item.as_map().unwrap_or_default() {
                if let Some(name) = key.as_str()
                    && !INPUT_KEYS.contains(&name)
                {
                    self.unknown_key(key, name, "an input", INPUT_KEYS);
                }
            }
            let id = match (item.get("id"), item.get("name")) {
                (Some(_), _) | (None, None) => {
                    self.required_text(item, "id", "this input", "add `id: name`")
                }
                (None, Some(_)) => self.required_text(item, "name", "this input", "add `id: name`"),
            };
            self.check_id(&id, "input id");
            let input_type = match item.get("type") {
                None => {
                    self.error(item.span_of_start(), format!("input {} has no `type`: add `type: STRING` (or INT, FLOAT, BOOLEAN, DATE, DATETIME, DURATION, SELECT, JSON, URI, FILE, SECRET)", id.value));
                    InputType::String
                }
                Some(t) => match t.as_str().and_then(InputType::parse) {
                    Some(kind) => kind,
                    None => {
                        let names: Vec<&str> = InputType::ALL.iter().map(|(n, _)| *n).collect();
                        let wanted = scalar_text(t).unwrap_or_default();
                        let close = registry::closest(&wanted, names.iter().copied());
                        let hint = if close.is_empty() {
                            names.join(", ")
                        } else {
                            format!("did you mean {}?", close.join(" or "))
                        };
                        self.error(t.span, format!("unknown input type {wanted:?}: {hint}"));
                        InputType::String
                    }
                },
            };
            let required = match item.get("required") {
                Some(r) => {
                    self.check_value(r, &Kind::Boolean, "required");
                    r.as_bool().unwrap_or(true)
                }
                None => true,
            };
            let defaults = item.get("defaults").filter(|d| !d.is_null()).cloned();
            let values: Vec<String> = match item.get("values") {
                Some(v) => {
                    self.check_value(v, &Kind::StringList, "values");
                    v.as_seq()
                        .map(|s| s.iter().filter_map(scalar_text).collect())
                        .unwrap_or_default()
                }
                None => Vec::new(),
            };
            let expression = self.optional_string(item, "expression");
            if matches!(input_type, InputType::Select | InputType::MultiSelect)
                && item.get("values").is_none()
                && expression.is_none()
            {
                self.error(id.span, format!("SELECT input {} has no `values`: add the list of choices, such as `values: [a, b]`, or an `expression` that gives them", id.value));
            }
            // A default with an expression is rendered when the execution
            // starts, from the other inputs: it is checked then.
            if let Some(d) = defaults
                .as_ref()
                .filter(|d| !d.to_json().to_string().contains("{{"))
            {
                if expression.is_none() {
                    self.check_input_default(input_type, d, &values);
                }
            }
            let (depends_on, condition) = match item.get("dependsOn") {
                None => (Vec::new(), None),
                Some(d) => {
                    let names = d
                        .get("inputs")
                        .and_then(Node::as_seq)
                        .map(|s| s.iter().filter_map(scalar_text).collect())
                        .unwrap_or_default();
                    if d.as_map().is_none() {
                        self.error(
                            d.span,
                            "dependsOn is a mapping: `inputs: [other]` and an optional `condition`",
                        );
                    }
                    (names, self.optional_string(d, "condition"))
                }
            };
            let item_type = match item.get("itemType") {
                None => None,
                Some(t) => match t.as_str().and_then(InputType::parse) {
                    Some(InputType::Array | InputType::File | InputType::Select | InputType::MultiSelect) | None => {
                        self.error(t.span, format!(
                            "itemType {:?} is not a type of an array's items: use STRING, INT, FLOAT, BOOLEAN, DATE, DATETIME, TIME, DURATION, JSON, YAML, URI, EMAIL",
                            scalar_text(t).unwrap_or_default()
                        ));
                        None
                    }
                    Some(kind) => Some(kind),
                },
            };
            inputs.push(Input {
                id,
                input_type,
                required,
                defaults,
                values,
                expression,
                depends_on,
                condition,
                description: self.optional_string(item, "description"),
                item_type,
                span: item.span,
            });
        }
        // dependsOn names inputs of the flow, and no input depends on itself
        // through others.
        for input in &inputs {
            for dep in &input.depends_on {
                if !inputs.iter().any(|i| i.id.value == *dep) {
                    let names: Vec<&str> = inputs
                        .iter()
                        .map(|i| i.id.value.as_str())
                        .filter(|n| *n != input.id.value)
                        .collect();
                    self.error(input.span, format!("input {} depends on {dep:?}, which is not an input of this flow (inputs: {})", input.id.value, names.join(", ")));
                }
            }
            let mut seen = vec![input.id.value.as_str()];
            let mut pending: Vec<&str> = input.depends_on.iter().map(String::as_str).collect();
            while let Some(next) = pending.pop() {
                if next == input.id.value {
                    self.error(
                        input.span,
                        format!(
                            "input {} depends on itself through dependsOn: break the cycle",
                            input.id.value
                        ),
                    );
                    break;
                }
                if seen.contains(&next) {
                    continue;
                }
                seen.push(next);
                if let Some(other) = inputs.iter().find(|i| i.id.value == next) {
                    pending.extend(other.depends_on.iter().map(String::as_str));
                }
            }
        }
        inputs
    }

    fn check_input_default(&mut self, input_type: InputType, d: &Node, values: &[String]) {
        if d.as_str().is_some_and(|s| s.contains("{{")) {
            return;
        }
        let text = scalar_text(d);
        let ok = match input_type {
            InputType::Int => {
                matches!(d.value, Value::Int(_))
                    || text
                        .as_deref()
                        .is_some_and(|t| t.trim().parse::<i64>().is_ok())
            }
            InputType::Float => {
                matches!(d.value, Value::Int(_) | Value::Float(_))
                    || text
                        .as_deref()
                        .is_some_and(|t| t.trim().parse::<f64>().is_ok())
            }
            InputType::Boolean => {
                matches!(d.value, Value::Bool(_))
                    || text
                        .as_deref()
                        .is_some_and(|t| matches!(t, "true" | "false"))
            }
            InputType::Date => text
                .as_deref()
                .is_some_and(|t| t.parse::<jiff::civil::Date>().is_ok()),
            InputType::DateTime => text.as_deref().is_some_and(|t| {
                t.parse::<jiff::Timestamp>().is_ok() || t.parse::<jiff::civil::DateTime>().is_ok()
            }),
            InputType::Time => text
                .as_deref()
                .is_some_and(|t| t.parse::<jiff::civil::Time>().is_ok()),
            InputType::Duration => text.as_deref().is_some_and(|t| parse_duration(t).is_ok()),
            InputType::Select => text
                .as_ref()
                .is_some_and(|t| values.is_empty() || values.contains(t)),
            _ => true,
        };
        if !ok {
            let want = match input_type {
                InputType::Int => "an integer".to_owned(),
                InputType::Float => "a number".to_owned(),
                InputType::Boolean => "true or false".to_owned(),
                InputType::Date => "a date such as 2026-01-31".to_owned(),
                InputType::DateTime => "a date-time such as 2026-01-31T08:00:00Z".to_owned(),
                InputType::Time => "a time such as 08:00:00".to_owned(),
                InputType::Duration => "an ISO-8601 duration such as PT5M".to_owned(),
                _ => format!("one of the values: {}", values.join(", ")),
            };
            self.error(
                d.span,
                format!(
                    "the default of a {} input should be {want}",
                    input_type.name()
                ),
            );
        }
    }

    fn tasks(&mut self, node: &Node, owner: &str) -> Vec<Task> {
        if node.is_null() {
            return Vec::new();
        }
        let Some(items) = node.as_seq() else {
            self.error(
                node.span,
                format!("`{owner}` is a list of tasks, each `- id: ...` with a `type`"),
            );
            return Vec::new();
        };
        items.iter().filter_map(|item| self.task(item)).collect()
    }

    fn task(&mut self, node: &Node) -> Option<Task> {
        let Some(entries) = node.as_map() else {
            self.error(
                node.span,
                format!(
                    "a task is a mapping with `id` and `type`, not {}",
                    node.kind_name()
                ),
            );
            return None;
        };
        let id = self.required_text(node, "id", "this task", "add `id: my_task`");
        if !id.value.is_empty() {
            self.check_id(&id, "task id");
        }
        let task_type = self.required_text(
            node,
            "type",
            &format!("task {}", id.value),
            "add `type:` such as `io.kestra.plugin.core.log.Log`",
        );
        let kind = if task_type.value.is_empty() {
            None
        } else {
            match registry::lookup(&task_type.value) {
                Some(kind) if kind.category == Category::Trigger => {
                    self.error(
                        task_type.span,
                        format!("{} is a trigger: move it under `triggers`", task_type.value),
                    );
                    None
                }
                Some(kind) if kind.category == Category::Condition => {
                    self.error(
                        task_type.span,
                        format!(
                            "{} is a condition: it goes in a trigger's `conditions`",
                            task_type.value
                        ),
                    );
                    None
                }
                Some(kind) => Some(kind),
                None => {
                    self.unknown_type(&task_type, "task", |t| {
                        matches!(t.category, Category::Task | Category::Flowable)
                    });
                    None
                }
            }
        };
        let mut task = Task {
            id,
            task_type,
            kind,
            description: None,
            timeout: None,
            retry: None,
            allow_failure: false,
            allow_warning: false,
            run_if: None,
            disabled: false,
            properties: Vec::new(),
            branches: Vec::new(),
            depends_on: Vec::new(),
            node: node.clone(),
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                self.error(key.span, "property names are strings");
                continue;
            };
            let common = registry::COMMON.iter().find(|p| p.name == name);
            let own = kind.and_then(|k| k.property(name));
            match (common, own) {
                (Some(p), _) => {
                    if !matches!(name, "id" | "type") {
                        self.check_value(value, &p.kind, name);
                    }
                    match name {
                        "description" => task.description = value.as_str().map(str::to_owned),
                        "timeout" => {
                            task.timeout = value.as_str().map(|s| Text {
                                value: s.to_owned(),
                                span: value.span,
                            })
                        }
                        "retry" => task.retry = Some(value.clone()),
                        "allowFailure" => task.allow_failure = value.as_bool().unwrap_or(false),
                        "allowWarning" => task.allow_warning = value.as_bool().unwrap_or(false),
                        "runIf" => task.run_if = Some(value.clone()),
                        "disabled" => task.disabled = value.as_bool().unwrap_or(false),
                        _ => {}
                    }
                }
                (None, Some(p)) => match p.kind {
                    Kind::Tasks => {
                        let tasks = self.tasks(value, name);
                        task.branches.push(Branch {
                            name: name.to_owned(),
                            tasks,
                        });
                    }
                    Kind::DagTasks => {
                        let tasks = self.dag_tasks(value);
                        task.branches.push(Branch {
                            name: name.to_owned(),
                            tasks,
                        });
                    }
                    Kind::TaskCases => match value.as_map() {
                        Some(cases) => {
                            for (case, tasks) in cases {
                                let label = scalar_text(case).unwrap_or_default();
                                let tasks = self.tasks(tasks, &format!("cases.{label}"));
                                task.branches.push(Branch {
                                    name: format!("cases.{label}"),
                                    tasks,
                                });
                            }
                        }
                        None if value.is_null() => {}
                        None => self.error(
                            value.span,
                            "`cases` is a mapping from a value to a list of tasks",
                        ),
                    },
                    _ => {
                        self.check_value(value, &p.kind, name);
                        task.properties.push((
                            Text {
                                value: name.to_owned(),
                                span: key.span,
                            },
                            value.clone(),
                        ));
                    }
                },
                (None, None) => {
                    if let Some(kind) = kind {
                        let known: Vec<&str> = kind
                            .properties
                            .iter()
                            .chain(registry::COMMON)
                            .map(|p| p.name)
                            .collect();
                        self.unknown_key(
                            key,
                            name,
                            &format!("{} (task {})", kind.alias, task.id.value),
                            &known,
                        );
                    }
                    task.properties.push((
                        Text {
                            value: name.to_owned(),
                            span: key.span,
                        },
                        value.clone(),
                    ));
                }
            }
        }
        if let Some(kind) = kind {
            for p in kind.properties.iter().filter(|p| p.required) {
                if node.get(p.name).is_none() && !self.defaulted(kind, p.name) {
                    self.error(
                        task.id.span_or(node.span),
                        format!(
                            "task {} ({}) has no `{}`: add it ({})",
                            task.id.value,
                            kind.alias,
                            p.name,
                            p.doc.trim_end_matches('.')
                        ),
                    );
                }
            }
            if kind.name == "io.kestra.plugin.core.flow.Switch" {
                self.check_switch(node, &task);
            }
        }
        Some(task)
    }

    /// Kestra's rules for a Switch: some tasks to run (in a case or in
    /// `defaults`), and no case, nor `defaults`, given as an empty list.
    fn check_switch(&mut self, node: &Node, task: &Task) {
        let empty =
            |tasks: &Node| tasks.is_null() || tasks.as_seq().is_some_and(<[Node]>::is_empty);
        let cases: Vec<(&Node, &Node)> = node
            .get("cases")
            .and_then(Node::as_map)
            .map(|c| c.iter().map(|(k, v)| (k, v)).collect())
            .unwrap_or_default();
        let defaults = node.get("defaults");
        if cases.is_empty() && defaults.is_none_or(empty) {
            self.error(
                task.id.span_or(node.span),
                format!("Switch {} has no tasks to run: add `cases` (a value and its tasks) or `defaults`", task.id.value),
            );
            return;
        }
        for (case, tasks) in cases {
            if empty(tasks) {
                let label = scalar_text(case).unwrap_or_default();
                self.error(case.span, format!("case {label:?} of Switch {} has no tasks: give it at least one, or remove it", task.id.value));
            }
        }
        // `defaults: null` is no defaults, as Kestra reads it.
        if let Some(defaults) = defaults
            && !defaults.is_null()
            && empty(defaults)
        {
            self.error(
                defaults.span,
                format!(
                    "`defaults` of Switch {} is empty: give it at least one task, or remove it",
                    task.id.value
                ),
            );
        }
    }

    fn dag_tasks(&mut self, node: &Node) -> Vec<Task> {
        let Some(items) = node.as_seq() else {
            self.error(node.span, "Dag `tasks` is a list of `- task: {id: ..., type: ...}` with an optional `dependsOn: [ids]`");
            return Vec::new();
        };
        let mut tasks = Vec::new();
        for item in items {
            let Some(entries) = item.as_map() else {
                self.error(
                    item.span,
                    "each Dag entry is a mapping with `task` and an optional `dependsOn`",
                );
                continue;
            };
            if item.get("task").is_none() {
                let message = if item.get("id").is_some() || item.get("type").is_some() {
                    "a Dag entry wraps its task: write `- task:` and indent the task under it"
                } else {
                    "this Dag entry has no `task`: add `task:` with the task under it"
                };
                self.error(item.span_of_start(), message);
                continue;
            }
            for (key, _) in entries {
                if let Some(name) = key.as_str()
                    && !matches!(name, "task" | "dependsOn")
                {
                    self.unknown_key(key, name, "a Dag entry", &["task", "dependsOn"]);
                }
            }
            let Some(inner) = item.get("task") else {
                continue;
            };
            let Some(mut task) = self.task(inner) else {
                continue;
            };
            if let Some(deps) = item.get("dependsOn") {
                match deps.as_seq() {
                    Some(list) => {
                        for dep in list {
                            match scalar_text(dep) {
                                Some(text) => task.depends_on.push(Text {
                                    value: text,
                                    span: dep.span,
                                }),
                                None => self.error(dep.span, "dependsOn lists task ids (strings)"),
                            }
                        }
                    }
                    None if deps.is_null() => {}
                    None => match deps.as_str() {
                        Some(one) => task.depends_on.push(Text {
                            value: one.to_owned(),
                            span: deps.span,
                        }),
                        None => self.error(
                            deps.span,
                            "dependsOn is a list of task ids, such as `[a, b]`",
                        ),
                    },
                }
            }
            tasks.push(task);
        }
        tasks
    }

    fn triggers(&mut self, node: Option<&Node>) -> Vec<Trigger> {
        let Some(node) = node.filter(|n| !n.is_null()) else {
            return Vec::new();
        };
        let Some(items) = node.as_seq() else {
            self.error(
                node.span,
                "`triggers` is a list, each `- id: ...` with a `type`",
            );
            return Vec::new();
        };
        let mut triggers = Vec::new();
        for item in items {
            let Some(entries) = item.as_map() else {
                self.error(item.span, "a trigger is a mapping with `id` and `type`");
                continue;
            };
            let id = self.required_text(item, "id", "this trigger", "add `id: my_trigger`");
            let trigger_type = self.required_text(
                item,
                "type",
                "this trigger",
                "add `type: io.kestra.plugin.core.trigger.Schedule`",
            );
            let kind = if trigger_type.value.is_empty() {
                None
            } else {
                match registry::lookup(&trigger_type.value) {
                    Some(k) if k.category == Category::Trigger => Some(k),
                    Some(_) => {
                        self.error(
                            trigger_type.span,
                            format!(
                                "{} is a task, not a trigger: move it under `tasks`",
                                trigger_type.value
                            ),
                        );
                        None
                    }
                    None => {
                        self.unknown_type(&trigger_type, "trigger", |t| {
                            t.category == Category::Trigger
                        });
                        None
                    }
                }
            };
            if let Some(kind) = kind {
                for (key, value) in entries {
                    let Some(name) = key.as_str() else { continue };
                    if let Some(p) = kind
                        .property(name)
                        .or_else(|| registry::TRIGGER_COMMON.iter().find(|p| p.name == name))
                    {
                        if !matches!(name, "id" | "type") {
                            self.check_value(value, &p.kind, name);
                        }
                    } else {
                        let known: Vec<&str> = kind
                            .properties
                            .iter()
                            .chain(registry::TRIGGER_COMMON)
                            .map(|p| p.name)
                            .collect();
                        self.unknown_key(
                            key,
                            name,
                            &format!("{} (trigger {})", kind.alias, id.value),
                            &known,
                        );
                    }
                }
                for p in kind.properties.iter().filter(|p| p.required) {
                    if item.get(p.name).is_none() && !self.defaulted(kind, p.name) {
                        self.error(
                            id.span_or(item.span),
                            format!(
                                "trigger {} ({}) has no `{}`: add it ({})",
                                id.value,
                                kind.alias,
                                p.name,
                                p.doc.trim_end_matches('.')
                            ),
                        );
                    }
                }
            }
            let disabled = item
                .get("disabled")
                .and_then(Node::as_bool)
                .unwrap_or(false);
            triggers.push(Trigger {
                id,
                trigger_type,
                kind,
                disabled,
                node: item.clone(),
            });
        }
        triggers
    }

    fn plugin_defaults(&mut self, node: &Node) {
        self.check_value(
            node,
            &Kind::ObjectList {
                properties: PLUGIN_DEFAULT,
            },
            "pluginDefaults",
        );
        for entry in node.as_seq().unwrap_or_default() {
            let (Some(prefix), Some(values)) = (
                entry.get("type").and_then(Node::as_str),
                entry.get("values").and_then(Node::as_map),
            ) else {
                continue;
            };
            let types: Vec<&TaskType> = registry::TYPES
                .iter()
                .filter(|t| t.name.starts_with(prefix) || t.alias.starts_with(prefix))
                .collect();
            if types.is_empty() {
                if !prefix.is_empty() {
                    self.warning(entry.get("type").map_or(entry.span, |n| n.span), format!("no known task type starts with {prefix:?}: these defaults apply to nothing"));
                }
                continue;
            }
            for (key, _) in values {
                let Some(name) = key.as_str() else { continue };
                let known = types.iter().any(|t| t.property(name).is_some())
                    || registry::COMMON.iter().any(|p| p.name == name);
                if !known {
                    let names: Vec<&str> = types
                        .iter()
                        .flat_map(|t| t.properties.iter().map(|p| p.name))
                        .collect();
                    self.unknown_key(key, name, &format!("the types under {prefix}"), &names);
                }
            }
        }
    }

    /// Whether a `pluginDefaults` entry gives this type the property.
    fn defaulted(&self, kind: &TaskType, name: &str) -> bool {
        self.defaults.iter().any(|(prefix, keys)| {
            crate::plan::defaults_apply(prefix, kind.name) && keys.iter().any(|k| k == name)
        })
    }

    fn unknown_type(&mut self, written: &Text, noun: &str, filter: impl Fn(&TaskType) -> bool) {
        // Compared by their last part (the packages every name shares
        // would make any two names look alike), by Jaro-Winkler or by
        // edits, so that a swapped pair of letters (Lgo) is still found.
        let last = |name: &str| name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        let wanted = last(&written.value);
        let mut scored: Vec<(f64, &TaskType)> = registry::TYPES
            .iter()
            .filter(|t| filter(t))
            .map(|t| {
                let name = last(t.name);
                let (similar, edits) = (
                    strsim::jaro_winkler(&wanted, &name),
                    strsim::normalized_damerau_levenshtein(&wanted, &name),
                );
                (
                    if similar > 0.8 || edits >= 0.6 {
                        similar.max(edits)
                    } else {
                        0.0
                    },
                    t,
                )
            })
            .filter(|(score, _)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        // Suggested in the form written: a full name, or an alias.
        let full_names = written.value.starts_with("io.kestra.");
        let full: Vec<&str> = scored
            .iter()
            .map(|(_, t)| if full_names { t.name } else { t.alias })
            .take(3)
            .collect();
        let family = written
            .value
            .strip_prefix("io.kestra.plugin.")
            .and_then(|rest| rest.split('.').next())
            .filter(|f| *f != "core");
        // A plugin Mortar has none of says so, rather than suggest another
        // plugin's type that merely looks alike.
        let hint = match (full.as_slice(), family) {
            (_, Some(family))
                if !registry::TYPES
                    .iter()
                    .any(|t| t.name.starts_with(&format!("io.kestra.plugin.{family}."))) =>
            {
                format!(
                    "Mortar has no io.kestra.plugin.{family} tasks yet (docs/kestra-compatibility.md lists the types it runs)"
                )
            }
            ([], _) => "see `mortar schema` or GET /api/v1/plugins for the known types".to_owned(),
            (names, _) => format!("did you mean {}?", names.join(" or ")),
        };
        self.error(
            written.span,
            format!("unknown {noun} type {:?}: {hint}", written.value),
        );
    }

    fn check_object(&mut self, node: &Node, properties: &[Property], owner: &str) {
        let Some(entries) = node.as_map() else {
            self.error(
                node.span,
                format!("`{owner}` is a mapping, not {}", node.kind_name()),
            );
            return;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match properties.iter().find(|p| p.name == name) {
                Some(p) => self.check_value(value, &p.kind, name),
                None => {
                    let names: Vec<&str> = properties.iter().map(|p| p.name).collect();
                    self.unknown_key(key, name, &format!("`{owner}`"), &names);
                }
            }
        }
        for p in properties.iter().filter(|p| p.required) {
            if node.get(p.name).is_none() {
                self.error(
                    node.span_of_start(),
                    format!(
                        "`{owner}` has no `{}`: add it ({})",
                        p.name,
                        p.doc.trim_end_matches('.')
                    ),
                );
            }
        }
    }

    /// Checks a value against its declared kind. A string with an
    /// expression fits any kind: it is checked once rendered.
    fn check_value(&mut self, node: &Node, kind: &Kind, name: &str) {
        if let Value::Str(s) = &node.value
            && (s.contains("{{") || s.contains("{%"))
        {
            return;
        }
        if node.is_null() && !matches!(kind, Kind::Any) {
            // `key:` with nothing is how YAML says "unset"; a required
            // property left empty is reported as missing elsewhere.
            return;
        }
        let wrong = |b: &mut Self| {
            let message = format!(
                "`{name}` is {}, it should be {}",
                node.kind_name(),
                kind.describe()
            );
            b.error(node.span, message);
        };
        match kind {
            Kind::Any => {}
            Kind::String => {
                if !matches!(
                    node.value,
                    Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)
                ) {
                    wrong(self);
                }
            }
            Kind::Integer => {
                let ok = match &node.value {
                    Value::Int(_) => true,
                    Value::Str(s) => s.trim().parse::<i64>().is_ok(),
                    _ => false,
                };
                if !ok {
                    wrong(self);
                }
            }
            Kind::Number => {
                if !matches!(node.value, Value::Int(_) | Value::Float(_)) {
                    wrong(self);
                }
            }
            Kind::Boolean => {
                if !matches!(node.value, Value::Bool(_)) {
                    wrong(self);
                }
            }
            Kind::Duration => match node.as_str() {
                Some(text) => {
                    if let Err(why) = parse_duration(text) {
                        self.error(node.span, format!("`{name}`: {text:?} is not an ISO-8601 duration ({why}); write it like PT30S, PT5M, PT1H30M or P1D"));
                    }
                }
                None => wrong(self),
            },
            Kind::Cron => match node.as_str() {
                Some(text) => {
                    if let Err(why) = check_cron(text) {
                        self.error(node.span, format!("`{name}`: {text:?} is not a cron expression ({why}); write minute hour day-of-month month day-of-week, such as \"0 2 * * *\""));
                    }
                }
                None => wrong(self),
            },
            Kind::BaseUrl => match node.as_str() {
                // A placeholder of an example (`<your-host>`): the flow is
                // kept, the run would fail until it is replaced.
                Some(text) if text.contains('<') && text.contains('>') => {
                    self.warning(node.span, format!("`{name}`: {text:?} is a placeholder: replace it with the workspace URL, such as https://adb-123.4.azuredatabricks.net"));
                }
                Some(text) => {
                    if let Err(why) = crate::base_url::BaseUrl::parse(text) {
                        self.error(node.span, format!("`{name}`: {why}"));
                    }
                }
                None => wrong(self),
            },
            Kind::Enum { values } => match scalar_text(node) {
                Some(text) if values.contains(&text.as_str()) => {}
                Some(text) => {
                    let close = values
                        .iter()
                        .find(|v| v.eq_ignore_ascii_case(&text))
                        .copied();
                    match close {
                        Some(v) => {
                            self.error(node.span, format!("`{name}`: write {v} rather than {text}"))
                        }
                        None => self.error(
                            node.span,
                            format!(
                                "`{name}` is {text:?}, it should be one of {}",
                                values.join(", ")
                            ),
                        ),
                    }
                }
                None => wrong(self),
            },
            Kind::StringList => match node.as_seq() {
                Some(items) => {
                    for item in items {
                        if !matches!(
                            item.value,
                            Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)
                        ) {
                            self.error(
                                item.span,
                                format!("`{name}` lists strings; this is {}", item.kind_name()),
                            );
                        }
                    }
                }
                None => wrong(self),
            },
            Kind::Map => {
                if node.as_map().is_none() {
                    wrong(self);
                }
            }
            Kind::Object { properties } => self.check_object(node, properties, name),
            Kind::ObjectList { properties } => match node.as_seq() {
                Some(items) => {
                    for item in items {
                        self.check_object(item, properties, name);
                    }
                }
                None => wrong(self),
            },
            Kind::Conditions => {
                // Kestra also reads an older mapping of name to condition.
                let items: Vec<&Node> = match (node.as_seq(), node.as_map()) {
                    (Some(items), _) => items.iter().collect(),
                    (None, Some(entries)) => entries.iter().map(|(_, v)| v).collect(),
                    _ => return wrong(self),
                };
                for item in items {
                    self.check_condition(item, name);
                }
            }
            // Nested tasks are read by `task`; a wrong shape is reported there.
            Kind::Tasks | Kind::DagTasks | Kind::TaskCases => {}
        }
    }

    /// One condition: a known condition type and its properties.
    fn check_condition(&mut self, node: &Node, owner: &str) {
        let Some(type_node) = node.get("type") else {
            self.error(node.span_of_start(), format!("a condition of `{owner}` has no `type`: add one, such as io.kestra.plugin.core.condition.Weekend"));
            return;
        };
        let Some(written) = type_node.as_str() else {
            self.error(
                type_node.span,
                "a condition's `type` is the name of a condition type",
            );
            return;
        };
        let Some(declared) = crate::task::core::condition::find(written) else {
            self.unknown_type(
                &Text {
                    value: written.to_owned(),
                    span: type_node.span,
                },
                "condition",
                |t| t.category == Category::Condition,
            );
            return;
        };
        let Some(entries) = node.as_map() else { return };
        let owner = format!("condition {}", declared.alias);
        for (key, value) in entries {
            let Some(key_name) = key.as_str() else {
                continue;
            };
            if key_name == "type" {
                continue;
            }
            match declared.property(key_name) {
                Some(p) => self.check_value(value, &p.kind, key_name),
                None => {
                    let names: Vec<&str> = declared.properties.iter().map(|p| p.name).collect();
                    self.unknown_key(key, key_name, &owner, &names);
                }
            }
        }
        for p in declared.properties.iter().filter(|p| p.required) {
            if node.get(p.name).is_none() {
                self.error(
                    node.span_of_start(),
                    format!(
                        "{owner} has no `{}`: add it ({})",
                        p.name,
                        p.doc.trim_end_matches('.')
                    ),
                );
            }
        }
    }
}

impl Text {
    fn span_or(&self, fallback: Span) -> Span {
        if self.span.start.line == 0 {
            fallback
        } else {
            self.span
        }
    }
}

/// A scalar as text: strings as they are, numbers and booleans written out.
pub(super) fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An ISO-8601 duration (`PT30S`, `PT1H30M`, `P1D`), read by jiff. jiff
/// also reads "5 minutes"; flows use ISO-8601 only, as Kestra's do.
pub fn parse_duration(text: &str) -> Result<jiff::Span, String> {
    let text = text.trim();
    if !text.trim_start_matches(['-', '+']).starts_with(['P', 'p']) {
        return Err("it should start with P".to_owned());
    }
    text.parse::<jiff::Span>().map_err(|e| e.to_string())
}

/// A cron expression as Kestra takes it: five fields (or six with seconds),
/// or a nickname such as `@daily`.
pub fn check_cron(text: &str) -> Result<(), String> {
    let fields = text.split_whitespace().count();
    if !text.trim().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(format!("it has {fields} fields, it should have 5"));
    }
    text.parse::<croner::Cron>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    /// Builds `source` and compares the problems as `line:col: message` prefixes.
    fn check(source: &str, expected: &[&str]) {
        let parsed = super::super::parse(source);
        let got: Vec<String> = parsed
            .problems
            .iter()
            .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
            .collect();
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for (got, want) in got.iter().zip(expected) {
            assert!(got.starts_with(want), "got {got:?}, want {want:?}");
        }
    }

    const HEAD: &str = "id: f\nnamespace: n\n";

    #[test]
    fn triggers_and_tasks_stay_in_their_lists() {
        check(
            &format!("{HEAD}tasks:\n  - id: a\n    type: trigger.Schedule\n"),
            &["5:11: trigger.Schedule is a trigger: move it under `triggers`"],
        );
        check(
            &format!(
                "{HEAD}tasks:\n  - id: a\n    type: log.Log\n    message: m\ntriggers:\n  - id: t\n    type: log.Log\n"
            ),
            &["9:11: log.Log is a task, not a trigger"],
        );
    }

    #[test]
    fn a_dag_entry_wraps_its_task() {
        check(
            &format!(
                "{HEAD}tasks:\n  - id: d\n    type: flow.Dag\n    tasks:\n      - id: a\n        type: log.Log\n"
            ),
            &["7:9: a Dag entry wraps its task"],
        );
    }

    #[test]
    fn concurrency_plugin_defaults_and_kestra_spellings() {
        check(
            &format!(
                "{HEAD}concurrency:\n  limit: two\n  behaviour: QUEUE\ntasks:\n  - id: a\n    type: core.log.Log\n    message: m\n"
            ),
            &[
                "4:10: `limit` is a string, it should be an integer",
                "5:3: unknown property `behaviour` of `concurrency`: did you mean `behavior`?",
            ],
        );
        check(
            &format!(
                "{HEAD}pluginDefaults:\n  - type: io.kestra.plugin.databricks\n    values:\n      hots: x\ntasks:\n  - id: a\n    type: log.Log\n    message: m\n"
            ),
            &[
                "6:7: unknown property `hots` of the types under io.kestra.plugin.databricks: did you mean `host`?",
            ],
        );
        check(
            &format!(
                "{HEAD}tasks:\n  - id: a\n    type: databricks.sql.Query\n    sql: SELECT 1\n    fetchType: fetch_one\n"
            ),
            &["7:16: `fetchType`: write FETCH_ONE rather than fetch_one"],
        );
    }

    #[test]
    fn ids_and_namespaces_follow_kestra_patterns_and_lengths() {
        let task = "tasks:\n  - id: a\n    type: log.Log\n    message: m\n";
        check(
            &format!("id: my.flow-1\nnamespace: company.team_a\n{task}"),
            &[],
        );
        check(
            &format!("id: f\nnamespace: ..\n{task}"),
            &["2:12: namespace \"..\" must start with a lower-case letter or digit"],
        );
        check(
            &format!("id: f\nnamespace: .\n{task}"),
            &["2:12: namespace \".\" must start"],
        );
        check(
            &format!("id: f\nnamespace: Company\n{task}"),
            &["2:12: namespace \"Company\" must start with a lower-case letter"],
        );
        check(
            &format!("id: .f\nnamespace: n\n{task}"),
            &["1:5: flow id \".f\" must start with a letter or digit"],
        );
        check(
            &format!("id: {}\nnamespace: n\n{task}", "f".repeat(101)),
            &["1:5: flow id is 101 characters long; at most 100"],
        );
        check(
            &format!("id: f\nnamespace: {}\n{task}", "n".repeat(151)),
            &["2:12: namespace is 151 characters long; at most 150"],
        );
        check(
            &format!("{HEAD}tasks:\n  - id: _a\n    type: log.Log\n    message: m\n"),
            &["4:9: task id \"_a\" must start with a letter or digit"],
        );
    }

    #[test]
    fn cron_nicknames_and_seconds_are_accepted() {
        assert!(super::check_cron("@daily").is_ok());
        assert!(super::check_cron("0 0 2 * * *").is_ok());
        assert!(super::check_cron("0 2 * *").is_err());
        assert!(super::parse_duration("P1DT2H").is_ok());
        assert!(super::parse_duration("1 hour").is_err());
    }
}
