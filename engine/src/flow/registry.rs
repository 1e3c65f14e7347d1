//! The task types and their properties, declared once. The declaration
//! drives validation, the JSON Schema of flows, the editor's completion and
//! the docs (`GET /api/v1/plugins`).

use serde::Serialize;

/// What a property holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    /// An ISO-8601 duration such as `PT30M`.
    Duration,
    /// A cron expression.
    Cron,
    /// A service's base URL, `scheme://host[:port]` (`base_url::BaseUrl`).
    BaseUrl,
    /// One of a set of strings.
    Enum {
        values: &'static [&'static str],
    },
    /// A list of strings.
    StringList,
    /// A mapping of free keys.
    Map,
    /// A mapping with declared keys.
    Object {
        properties: &'static [Property],
    },
    /// A list of mappings with declared keys.
    ObjectList {
        properties: &'static [Property],
    },
    /// Anything (a template, a value of any type).
    Any,
    /// A list of conditions (`- type: io.kestra.plugin.core.condition.…`).
    Conditions,
    /// A list of tasks (flowables).
    Tasks,
    /// `Dag`'s list of `{task, dependsOn}`.
    DagTasks,
    /// `Switch`'s mapping of case value to a list of tasks.
    TaskCases,
}

impl Kind {
    /// The kind in words, for messages.
    pub fn describe(&self) -> std::string::String {
        match self {
            Kind::String => "a string".into(),
            Kind::Integer => "an integer".into(),
            Kind::Number => "a number".into(),
            Kind::Boolean => "true or false".into(),
            Kind::Duration => "an ISO-8601 duration such as PT5M".into(),
            Kind::Cron => "a cron expression such as \"0 2 * * *\"".into(),
            Kind::BaseUrl => {
                "a URL scheme://host[:port] such as https://adb-123.4.azuredatabricks.net".into()
            }
            Kind::Enum { values } => format!("one of {}", values.join(", ")),
            Kind::StringList => "a list of strings".into(),
            Kind::Map | Kind::Object { .. } => "a mapping".into(),
            Kind::ObjectList { .. } => "a list of mappings".into(),
            Kind::Any => "a value".into(),
            Kind::Conditions => {
                "a list of conditions, each `- type: ...` with its properties".into()
            }
            Kind::Tasks => "a list of tasks".into(),
            Kind::DagTasks => "a list of `- task: {...}` entries with optional dependsOn".into(),
            Kind::TaskCases => "a mapping from case value to a list of tasks".into(),
        }
    }
}

/// One property of a task type (or of a nested object).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Property {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: Kind,
    pub required: bool,
    /// The default, as JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<&'static str>,
    pub doc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<&'static str>,
    /// The field of the remote API it fills (Databricks' `cluster_name`
    /// for `clusterName`), when the runner passes it on as it is.
    #[serde(skip)]
    pub api: Option<&'static str>,
    /// Variables the task itself gives this property when it renders it,
    /// once per item (Count's `count`; `*` for an item's own fields, as in
    /// FilterItems): the executor leaves such a property as written, and
    /// validation knows the names.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub given: &'static [&'static str],
}

/// What a type is for: a task in `tasks`, or a trigger in `triggers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    Task,
    Flowable,
    Trigger,
    /// A trigger's condition (`conditions:`); it has a check, no runner.
    Condition,
}

/// A task (or trigger) type.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskType {
    /// Kestra's full name, `io.kestra.plugin.core.log.Log`.
    pub name: &'static str,
    /// The short alias, `log.Log`.
    pub alias: &'static str,
    pub category: Category,
    pub doc: &'static str,
    /// Its own properties (the common ones are in [`COMMON`]).
    pub properties: &'static [Property],
    /// Output names and what they hold.
    pub outputs: &'static [(&'static str, &'static str)],
    /// How its runner is made ([`runner!`]); `None` for flowables (the
    /// executor walks them) and triggers (the scheduler fires them).
    #[serde(skip)]
    pub run: Option<MakeRunner>,
    /// A condition's check (`task::core::condition`).
    #[serde(skip)]
    pub check: Option<crate::task::core::condition::Check>,
    /// Kestra's older names of the type (`io.kestra.core.tasks.log.Log`),
    /// which flows written for older Kestra versions still use.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub aliases: &'static [&'static str],
}

/// Makes a type's runner for a server (`task::RunnerEnv`). The browser's
/// build has the declarations without the runners: there it is a type with
/// no values, so every `run` is `None`.
#[cfg(feature = "runtime")]
pub type MakeRunner = fn(&crate::task::RunnerEnv) -> std::sync::Arc<dyn crate::task::Runner>;
#[cfg(not(feature = "runtime"))]
pub type MakeRunner = std::convert::Infallible;

/// A declaration's `run`: `runner!(run::Log)`, or with the server's
/// services, `runner!(|env| run::CreateCluster(env.databricks.clone()))`.
/// The expression is compiled in the runtime build only.
macro_rules! runner {
    (|$env:ident| $make:expr) => {{
        #[cfg(feature = "runtime")]
        let run = Some(
            (|$env: &crate::task::RunnerEnv| {
                std::sync::Arc::new($make) as std::sync::Arc<dyn crate::task::Runner>
            }) as crate::flow::registry::MakeRunner,
        );
        #[cfg(not(feature = "runtime"))]
        let run = None;
        run
    }};
    ($make:expr) => {
        runner!(|_env| $make)
    };
}
pub(crate) use runner;

/// A type is its name: two declarations are the same type when they name
/// the same one.
impl PartialEq for TaskType {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl TaskType {
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

pub const fn prop(name: &'static str, kind: Kind, doc: &'static str) -> Property {
    Property {
        name,
        kind,
        required: false,
        default: None,
        doc,
        example: None,
        api: None,
        given: &[],
    }
}

pub const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Property {
    Property {
        name,
        kind,
        required: true,
        default: None,
        doc,
        example: None,
        api: None,
        given: &[],
    }
}

pub const fn def(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    doc: &'static str,
) -> Property {
    Property {
        name,
        kind,
        required: false,
        default: Some(default),
        doc,
        example: None,
        api: None,
        given: &[],
    }
}

pub const fn ex(mut p: Property, example: &'static str) -> Property {
    p.example = Some(example);
    p
}

/// A property the task renders itself, once per item, with `variables`
/// added ([`Property::given`]).
pub const fn per_item(mut p: Property, variables: &'static [&'static str]) -> Property {
    p.given = variables;
    p
}

/// The remote API's field that `p` fills ([`Property::api`]).
pub const fn api(mut p: Property, field: &'static str) -> Property {
    p.api = Some(field);
    p
}

use Kind::*;

const RETRY: &[Property] = &[
    req(
        "type",
        Enum {
            values: &["constant", "exponential", "random"],
        },
        "How the wait between attempts grows.",
    ),
    prop(
        "maxAttempt",
        Integer,
        "The most attempts, the first one included.",
    ),
    prop("maxAttempts", Integer, "Same as maxAttempt."),
    prop(
        "interval",
        Duration,
        "The wait between attempts (constant), or the first wait (exponential).",
    ),
    prop("minInterval", Duration, "The shortest wait (random)."),
    prop(
        "maxInterval",
        Duration,
        "The longest wait (exponential, random).",
    ),
    prop(
        "delayFactor",
        Number,
        "The factor each wait grows by (exponential); 2 when unset.",
    ),
    prop(
        "maxDuration",
        Duration,
        "Stop retrying once this much time has passed since the first attempt.",
    ),
    def(
        "warningOnRetry",
        Boolean,
        "false",
        "End the execution WARNING when the task succeeded only after a retry.",
    ),
    prop(
        "behavior",
        Enum {
            values: &["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"],
        },
        "Retry the task run in place (the only behavior Mortar supports).",
    ),
];

/// The properties every task has.
pub const COMMON: &[Property] = &[
    ex(
        req(
            "id",
            String,
            "The task's id, unique in the flow: letters, digits, _ and -.",
        ),
        "my_task",
    ),
    ex(
        req(
            "type",
            String,
            "The task type, Kestra's full name or its short alias.",
        ),
        "io.kestra.plugin.core.log.Log",
    ),
    prop("description", String, "What the task is for."),
    ex(
        prop(
            "timeout",
            Duration,
            "The longest a task run may take; it is cancelled after.",
        ),
        "PT30M",
    ),
    prop(
        "retry",
        Object { properties: RETRY },
        "Retry a failed task run.",
    ),
    def(
        "allowFailure",
        Boolean,
        "false",
        "A failure of this task ends the execution WARNING instead of FAILED.",
    ),
    prop(
        "runIf",
        Any,
        "Run the task only when this expression is true.",
    ),
    def("disabled", Boolean, "false", "Skip the task."),
    prop(
        "logLevel",
        Enum {
            values: &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"],
        },
        "The lowest level of the task's log lines that is kept.",
    ),
    prop(
        "workerGroup",
        Map,
        "Accepted for Kestra compatibility; ignored.",
    ),
    def(
        "logToFile",
        Boolean,
        "false",
        "Accepted for Kestra compatibility: the task's lines go to the execution's logs as usual.",
    ),
    def(
        "allowWarning",
        Boolean,
        "false",
        "A WARNING of this task ends it SUCCESS (Kestra's allowWarning).",
    ),
];

/// The properties every trigger has.
pub const TRIGGER_COMMON: &[Property] = &[
    req("id", String, "The trigger's id, unique in the flow."),
    req("type", String, "The trigger type."),
    prop("description", String, "What the trigger is for."),
    def("disabled", Boolean, "false", "Turn the trigger off."),
];

/// The properties every condition has.
pub const CONDITION_COMMON: &[Property] = &[req(
    "type",
    String,
    "The condition type, such as io.kestra.plugin.core.condition.Weekend.",
)];

/// Every known type, declared beside its runner (`crate::task`).
pub const TYPES: &[TaskType] = crate::task::TYPES;

/// Every known type, for completion and docs.
pub fn task_types() -> &'static [TaskType] {
    TYPES
}

/// Finds a type by full name or alias. `core.log.Log` is accepted too.
pub fn lookup(name: &str) -> Option<&'static TaskType> {
    let short = name.strip_prefix("io.kestra.plugin.").unwrap_or(name);
    let short = short.strip_prefix("core.").unwrap_or(short);
    TYPES
        .iter()
        .find(|t| t.name == name || t.alias == short || t.aliases.contains(&name))
}

/// The reference of every type in Markdown, from the same declarations.
pub fn docs_markdown() -> std::string::String {
    let mut out = std::string::String::from("# Task and trigger types\n");
    for t in TYPES {
        out.push_str(&format!("\n## {}\n\n`{}` (alias `{}`)\n\n{}\n\n| property | type | required | default | description |\n|---|---|---|---|---|\n", t.alias, t.name, t.alias, t.doc));
        for p in t.properties {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                p.name,
                p.kind.describe().replace('|', "\\|"),
                if p.required { "yes" } else { "no" },
                p.default.map(|d| format!("`{d}`")).unwrap_or_default(),
                p.doc
            ));
        }
        if !t.outputs.is_empty() {
            out.push_str("\nOutputs: ");
            out.push_str(
                &t.outputs
                    .iter()
                    .map(|(n, d)| format!("`{n}` ({})", d.trim_end_matches('.')))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            out.push('\n');
        }
    }
    out
}

/// The closest names to `wanted` among `names`, best first.
pub fn closest<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted_lower = wanted.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = names
        .into_iter()
        .map(|name| {
            let lower = name.to_ascii_lowercase();
            let mut score = strsim::jaro_winkler(&wanted_lower, &lower);
            // The last segment of a type name is what people misspell.
            if let (Some(a), Some(b)) = (wanted_lower.rsplit('.').next(), lower.rsplit('.').next())
            {
                score = score.max(strsim::jaro_winkler(a, b) - 0.05);
            }
            (score, name)
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut seen = Vec::new();
    scored.retain(|(_, name)| {
        if seen.contains(name) {
            false
        } else {
            seen.push(*name);
            true
        }
    });
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_and_aliases_find_the_same_type() {
        for t in TYPES {
            assert_eq!(lookup(t.name).map(|x| x.name), Some(t.name));
            assert_eq!(lookup(t.alias).map(|x| x.name), Some(t.name));
            let common = if t.category == Category::Condition {
                CONDITION_COMMON
            } else {
                COMMON
            };
            let mut names: Vec<_> = t
                .properties
                .iter()
                .map(|p| p.name)
                .chain(common.iter().map(|p| p.name))
                .collect();
            names.sort();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{} declares a property twice", t.name);
        }
        assert_eq!(lookup("core.log.Log").map(|t| t.alias), Some("log.Log"));
        assert!(lookup("log.Nope").is_none());
    }

    #[test]
    fn the_docs_list_every_type_and_property() {
        let docs = docs_markdown();
        for t in TYPES {
            assert!(docs.contains(&format!("## {}", t.alias)), "{}", t.alias);
        }
        assert!(
            docs.contains("| `clusterName` | a string | yes |"),
            "{docs}"
        );
    }

    #[test]
    fn closest_names_come_first() {
        assert_eq!(
            closest("mesage", ["message", "level"]).first(),
            Some(&"message")
        );
        assert_eq!(
            closest("log.Logg", TYPES.iter().map(|t| t.alias)).first(),
            Some(&"log.Log")
        );
    }
}
