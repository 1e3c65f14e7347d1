//! A YAML tree with a position on every node, keys included.
//!
//! Built from saphyr's `MarkedYamlOwned` rather than serde-saphyr's
//! `Spanned<T>`: validation must point at keys (an unknown property) as
//! well as values, and must go on after the first wrong value, which a typed
//! serde model would stop at. The tree is ours so the rest of the module does
//! not depend on saphyr's types.

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde_json::Value as Json;

/// A position in the source: line and column are 1-based, `offset` counts
/// characters from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
    pub offset: u32,
}

/// Where a node starts and ends (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

/// A YAML node and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order; a key is a node too, for its position.
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Loads the first document of `source`. An empty document is `Null`.
pub fn load(source: &str) -> Result<Node, SyntaxError> {
    let docs = MarkedYamlOwned::load_from_str(source).map_err(|e| SyntaxError {
        pos: Pos {
            line: e.marker().line() as u32,
            column: e.marker().col() as u32 + 1,
            offset: e.marker().index() as u32,
        },
        message: e.info().to_owned(),
    })?;
    Ok(docs.first().map(convert).unwrap_or(Node {
        span: Span::default(),
        value: Value::Null,
    }))
}

fn pos(marker: &saphyr::Marker) -> Pos {
    Pos {
        line: marker.line() as u32,
        column: marker.col() as u32 + 1,
        offset: marker.index() as u32,
    }
}

fn convert(node: &MarkedYamlOwned) -> Node {
    let span = Span {
        start: pos(&node.span.start),
        end: pos(&node.span.end),
    };
    let value = match &node.data {
        YamlDataOwned::Value(scalar) => scalar_value(scalar),
        // Not resolved by the loader (a tagged or otherwise raw scalar): text.
        YamlDataOwned::Representation(text, _, _) => Value::Str(text.clone()),
        YamlDataOwned::Sequence(items) => Value::Seq(items.iter().map(convert).collect()),
        YamlDataOwned::Mapping(map) => {
            Value::Map(map.iter().map(|(k, v)| (convert(k), convert(v))).collect())
        }
        YamlDataOwned::Tagged(_, inner) => {
            return Node {
                span,
                ..convert(inner)
            };
        }
        YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => Value::Null,
    };
    Node { span, value }
}

fn scalar_value(scalar: &ScalarOwned) -> Value {
    match scalar {
        ScalarOwned::Null => Value::Null,
        ScalarOwned::Boolean(b) => Value::Bool(*b),
        ScalarOwned::Integer(i) => Value::Int(*i),
        ScalarOwned::FloatingPoint(f) => Value::Float(f.into_inner()),
        ScalarOwned::String(s) => Value::Str(s.clone()),
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key and value of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// What the value is, in words, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The value as JSON (keys that are not strings are written as text).
    pub fn to_json(&self) -> Json {
        match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.clone()),
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k.to_json() {
                            Json::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// Every string in this node and below, with its node.
    pub fn strings<'a>(&'a self, into: &mut Vec<&'a Node>) {
        match &self.value {
            Value::Str(_) => into.push(self),
            Value::Seq(items) => items.iter().for_each(|n| n.strings(into)),
            // A mapping's keys are rendered too, as Kestra renders them.
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                if matches!(k.value, Value::Str(_)) {
                    into.push(k);
                }
                v.strings(into)
            }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, path: &[&str], expected: (u32, u32)) {
        let mut node = &load(source).unwrap();
        for key in path {
            node = match key.parse::<usize>() {
                Ok(i) => &node.as_seq().unwrap()[i],
                Err(_) => node.get(key).unwrap(),
            };
        }
        assert_eq!(
            (node.span.start.line, node.span.start.column),
            expected,
            "{path:?}"
        );
    }

    #[test]
    fn every_node_has_its_position() {
        let source = "id: a\ntasks:\n  - id: t\n    type: \"log.Log\"\n";
        check(source, &["id"], (1, 5));
        check(source, &["tasks", "0", "id"], (3, 9));
        check(source, &["tasks", "0", "type"], (4, 11));
        let root = load(source).unwrap();
        let (key, _) = root.entry("tasks").unwrap();
        assert_eq!((key.span.start.line, key.span.start.column), (2, 1));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let error = load("id: a\ntasks: [\n").unwrap_err();
        assert!(error.pos.line >= 2, "{error:?}");
    }

    #[test]
    fn yaml_1_2_booleans_only() {
        assert_eq!(
            load("a: no").unwrap().get("a").unwrap().as_str(),
            Some("no")
        );
    }
}
