//! The few top-level fields of a flow that the store indexes (`id`,
//! `namespace`, `description`, `labels`), read without the full validation
//! of `crate::flow`, so that a list or a catalogue can show any flow.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ids::{FlowId, Namespace};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowHeader {
    pub id: FlowId,
    pub namespace: Namespace,
    pub description: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("the flow is not valid YAML: {0}")]
    Yaml(String),
    #[error("the flow has no `{0}`: add `{0}: …` at the top level")]
    Missing(&'static str),
    #[error("`{field}` must be letters, digits, `_`, `-` or `.`, and not empty; got {value:?}")]
    BadName { field: &'static str, value: String },
}

#[derive(Deserialize)]
struct Raw {
    id: Option<String>,
    namespace: Option<String>,
    description: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, serde_json::Value>,
}

/// Reads a flow's header.
pub fn read_header(source: &str) -> Result<FlowHeader, HeaderError> {
    let raw: Raw = serde_saphyr::from_str(source).map_err(|e| HeaderError::Yaml(e.to_string()))?;
    let id = raw.id.ok_or(HeaderError::Missing("id"))?;
    let namespace = raw.namespace.ok_or(HeaderError::Missing("namespace"))?;
    check_name("id", &id, false)?;
    check_name("namespace", &namespace, true)?;
    let labels = raw
        .labels
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect();
    Ok(FlowHeader {
        id: FlowId::new(id),
        namespace: Namespace::new(namespace),
        description: raw.description.map(|d| d.trim_end().to_owned()),
        labels,
    })
}

/// Why a flow cannot be saved.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// `flow::parse` found errors (every one, with its position).
    Problems(Vec<crate::flow::Problem>),
    /// The source is not a mapping at all.
    NotAFlow,
    /// The id or namespace the store indexes is missing or malformed.
    Header(HeaderError),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Problems(errors) => {
                let (line, message) = errors
                    .first()
                    .map_or((1, ""), |p| (p.line, p.message.as_str()));
                let plural = if errors.len() == 1 { "" } else { "s" };
                write!(
                    f,
                    "the flow is invalid ({} problem{plural}), first at line {line}: {message}",
                    errors.len()
                )
            }
            Invalid::NotAFlow => {
                f.write_str("the flow is not a mapping with `id`, `namespace` and `tasks`")
            }
            Invalid::Header(error) => write!(f, "the flow is invalid: {error}"),
        }
    }
}

/// The checks every save makes, from the API or the editor: no error from
/// [`crate::flow::parse`] (warnings do not stop a save), then the header
/// the store indexes, read from the parsed flow.
pub fn checked(source: &str) -> Result<FlowHeader, Invalid> {
    let parsed = crate::flow::parse(source);
    let errors: Vec<crate::flow::Problem> = parsed
        .problems
        .into_iter()
        .filter(|p| p.severity == crate::flow::Severity::Error)
        .collect();
    if !errors.is_empty() {
        return Err(Invalid::Problems(errors));
    }
    let flow = parsed.flow.ok_or(Invalid::NotAFlow)?;
    FlowHeader::from_flow(&flow).map_err(Invalid::Header)
}

impl FlowHeader {
    /// The header of a flow already parsed (a save validates first, so the
    /// source is read once).
    pub fn from_flow(flow: &crate::flow::model::Flow) -> Result<FlowHeader, HeaderError> {
        let (id, namespace) = (&flow.id.value, &flow.namespace.value);
        if id.is_empty() {
            return Err(HeaderError::Missing("id"));
        }
        if namespace.is_empty() {
            return Err(HeaderError::Missing("namespace"));
        }
        check_name("id", id, false)?;
        check_name("namespace", namespace, true)?;
        let labels = match flow.labels.as_ref().map(crate::flow::yaml::Node::to_json) {
            Some(serde_json::Value::Object(map)) => map
                .into_iter()
                .map(|(key, value)| {
                    (
                        key,
                        value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned),
                    )
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(FlowHeader {
            id: FlowId::new(id.as_str()),
            namespace: Namespace::new(namespace.as_str()),
            description: flow.description.as_ref().map(|d| d.trim_end().to_owned()),
            labels,
        })
    }
}

/// Kestra's rules for a namespace and a flow id (`crate::ids`).
fn check_name(field: &'static str, value: &str, dots: bool) -> Result<(), HeaderError> {
    let ok = if dots {
        crate::ids::check_namespace(value).is_ok()
    } else {
        crate::ids::check_flow_id(value).is_ok()
    };
    if ok {
        Ok(())
    } else {
        Err(HeaderError::BadName {
            field,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, expected: Result<(&str, &str, Option<&str>), HeaderError>) {
        let got =
            read_header(source).map(|h| (h.namespace.to_string(), h.id.to_string(), h.description));
        let expected =
            expected.map(|(ns, id, d)| (ns.to_owned(), id.to_owned(), d.map(str::to_owned)));
        assert_eq!(got, expected);
    }

    #[test]
    fn reads_the_header() {
        check(
            "id: hello\nnamespace: company.team\ndescription: |\n  Says hello.\n",
            Ok(("company.team", "hello", Some("Says hello."))),
        );
        check(
            "id: hello\nnamespace: a\ntasks: []\n",
            Ok(("a", "hello", None)),
        );
    }

    #[test]
    fn the_parsed_flow_gives_the_same_header() {
        let source = "id: hello\nnamespace: company.team\ndescription: |\n  Says hello.\nlabels:\n  team: data\n  tier: 1\ntasks: []\n";
        let parsed = crate::flow::parse(source);
        assert_eq!(
            FlowHeader::from_flow(parsed.flow.as_ref().unwrap()),
            read_header(source)
        );
        let parsed = crate::flow::parse("id: has space\nnamespace: a\n");
        assert!(matches!(
            FlowHeader::from_flow(parsed.flow.as_ref().unwrap()),
            Err(HeaderError::BadName { field: "id", .. })
        ));
    }

    #[test]
    fn says_what_is_missing_or_wrong() {
        check("namespace: a\n", Err(HeaderError::Missing("id")));
        check("id: x\n", Err(HeaderError::Missing("namespace")));
        check(
            "id: has space\nnamespace: a\n",
            Err(HeaderError::BadName {
                field: "id",
                value: "has space".into(),
            }),
        );
        check(
            "id: x\nnamespace: a/b\n",
            Err(HeaderError::BadName {
                field: "namespace",
                value: "a/b".into(),
            }),
        );
        assert!(matches!(
            read_header("id: [unclosed\n"),
            Err(HeaderError::Yaml(_))
        ));
    }
}
