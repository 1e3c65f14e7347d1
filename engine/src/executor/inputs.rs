//! Execution inputs: the values given (text from a form or the command
//! line, or JSON) checked and converted against the flow's declarations.
//! Every problem is reported at once, each naming the input and the fix.

use serde_json::{Map, Value};

use crate::plan::InputDecl;
use crate::task::core::as_text as text;

/// Renders an input's expression (a dynamic default, a SELECT's
/// `expression`, a `dependsOn.condition`) with the inputs resolved so far.
pub type RenderInput<'a> = &'a dyn Fn(&Value, &Map<String, Value>) -> Result<Value, String>;

/// Typed inputs, or every problem found (expressions are not rendered:
/// what `resolve_with` does without a renderer).
pub fn resolve(
    decls: &[InputDecl],
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<String>> {
    resolve_with(decls, given, None)
}

/// The order inputs are resolved in: each after those it depends on,
/// otherwise as declared. A cycle (refused when the flow is saved) keeps
/// the declared order for what remains.
fn order(decls: &[InputDecl]) -> Vec<&InputDecl> {
    let mut done: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let mut left: Vec<&InputDecl> = decls.iter().collect();
    while !left.is_empty() {
        let ready = left.iter().position(|d| {
            d.depends_on
                .iter()
                .all(|dep| done.contains(&dep.as_str()) || !decls.iter().any(|o| o.id == *dep))
        });
        let next = left.remove(ready.unwrap_or(0));
        done.push(&next.id);
        out.push(next);
    }
    out
}

fn has_expression(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(items) => items.iter().any(has_expression),
        Value::Object(map) => map.values().any(has_expression),
        _ => false,
    }
}

/// Typed inputs, or every problem found. With `render`, as Kestra 0.20+:
/// inputs resolve after those they `dependsOn`, one whose
/// `dependsOn.condition` is false is left out, a default with an
/// expression is rendered, and a SELECT's `expression` gives its choices.
pub fn resolve_with(
    decls: &[InputDecl],
    given: &Map<String, Value>,
    render: Option<RenderInput>,
) -> Result<Map<String, Value>, Vec<String>> {
    let mut problems = Vec::new();
    let mut resolved = Map::new();
    for name in given.keys() {
        if !decls.iter().any(|d| &d.id == name) {
            let known: Vec<&str> = decls.iter().map(|d| d.id.as_str()).collect();
            problems.push(if known.is_empty() {
                format!("input {name:?} is not declared: this flow takes no inputs")
            } else {
                format!(
                    "input {name:?} is not declared: this flow takes {}",
                    known.join(", ")
                )
            });
        }
    }
    for decl in order(decls) {
        let mut decl = std::borrow::Cow::Borrowed(decl);
        if let Some(render) = render {
            let so_far = nested(resolved.clone());
            if let Some(condition) = &decl.condition {
                match render(&Value::String(condition.clone()), &so_far) {
                    Ok(holds) if !crate::task::core::is_truthy(&holds) => continue,
                    Ok(_) => {}
                    Err(why) => {
                        problems.push(format!("input {:?}: dependsOn.condition: {why}", decl.id));
                        continue;
                    }
                }
            }
            if let Some(expression) = &decl.expression {
                match render(&Value::String(expression.clone()), &so_far) {
                    Ok(choices) => decl.to_mut().values = choice_list(&choices),
                    Err(why) => {
                        problems.push(format!("input {:?}: expression: {why}", decl.id));
                        continue;
                    }
                }
            }
            if let Some(default) = decl.defaults.clone().filter(has_expression) {
                match render(&default, &so_far) {
                    Ok(value) => decl.to_mut().defaults = Some(value).filter(|v| !v.is_null()),
                    Err(why) => {
                        problems.push(format!("input {:?}: defaults: {why}", decl.id));
                        continue;
                    }
                }
            }
        }
        let decl = decl.as_ref();
        let value = match given.get(&decl.id).filter(|v| !is_blank(v)) {
            Some(value) => value.clone(),
            None => match &decl.defaults {
                Some(default) => default.clone(),
                None if decl.required => {
                    problems.push(format!(
                        "input {:?} is required: give it a {} value",
                        decl.id, decl.kind
                    ));
                    continue;
                }
                // An optional input left out is null, as in Kestra: `{{ inputs.x }}`
                // reads null and `inputs.x ?? 'd'` gives the fallback.
                None => {
                    resolved.insert(decl.id.clone(), Value::Null);
                    continue;
                }
            },
        };
        match convert(decl, value) {
            Ok(value) => {
                resolved.insert(decl.id.clone(), value);
            }
            Err(why) => problems.push(format!("input {:?}: {why}", decl.id)),
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(problems)
    }
}

/// What an execution form shows, given what was filled in so far: the
/// inputs whose `dependsOn.condition` holds, with a SELECT's choices and a
/// default rendered from the inputs before them. Nothing is refused here:
/// an input whose expression fails shows no choice (starting says why).
pub fn preview(
    decls: &[InputDecl],
    given: &Map<String, Value>,
    render: RenderInput,
) -> Vec<InputDecl> {
    let mut shown = Vec::new();
    let mut resolved = Map::new();
    for decl in order(decls) {
        let mut decl = decl.clone();
        let so_far = nested(resolved.clone());
        if let Some(condition) = &decl.condition
            && !render(&Value::String(condition.clone()), &so_far)
                .is_ok_and(|v| crate::task::core::is_truthy(&v))
        {
            continue;
        }
        if let Some(expression) = &decl.expression {
            decl.values = render(&Value::String(expression.clone()), &so_far)
                .map(|v| choice_list(&v))
                .unwrap_or_default();
        }
        if let Some(default) = decl.defaults.clone().filter(has_expression) {
            decl.defaults = render(&default, &so_far).ok().filter(|v| !v.is_null());
        }
        let value = given
            .get(&decl.id)
            .filter(|v| !is_blank(v))
            .cloned()
            .or_else(|| decl.defaults.clone());
        if let Some(value) = value.and_then(|v| convert(&decl, v).ok()) {
            resolved.insert(decl.id.clone(), value);
        }
        shown.push(decl);
    }
    // In the order the flow declares them.
    shown.sort_by_key(|d| decls.iter().position(|o| o.id == d.id));
    shown
}

/// A SELECT's choices from its rendered `expression`: a list, or a list
/// as JSON text.
fn choice_list(rendered: &Value) -> Vec<String> {
    let items = match rendered {
        Value::Array(items) => items.clone(),
        Value::String(text) => serde_json::from_str::<Vec<Value>>(text)
            .unwrap_or_else(|_| vec![Value::String(text.clone())]),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    items.iter().map(text).collect()
}

/// Kestra's view of resolved inputs: an input whose id has dots
/// (`request.name`) sits nested (`inputs.request.name`). A key that
/// conflicts with a value already there is left out, as Kestra does.
pub fn nested(flat: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (id, value) in flat {
        insert_at(&mut out, &id, value);
    }
    out
}

/// Puts `value` at the dotted path `id` of `map`.
pub fn insert_at(map: &mut Map<String, Value>, id: &str, value: Value) {
    let mut parts: Vec<&str> = id.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut here = map;
    for part in parts {
        let slot = here
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(inner) = slot else {
            tracing::warn!(
                input = id,
                "an input's id conflicts with another input's value; it is left out"
            );
            return;
        };
        here = inner;
    }
    here.insert(last.to_owned(), value);
}

/// The ids of the SECRET inputs: what derives from them is masked too.
pub fn secret_ids(decls: &[InputDecl]) -> impl Iterator<Item = String> + '_ {
    decls
        .iter()
        .filter(|d| d.kind == "SECRET")
        .map(|d| d.id.clone())
}

/// The values of the SECRET inputs, which must be masked.
pub fn secret_values(decls: &[InputDecl], inputs: &Map<String, Value>) -> Vec<String> {
    decls
        .iter()
        .filter(|d| d.kind == "SECRET")
        .filter_map(|d| inputs.get(&d.id)?.as_str().map(str::to_owned))
        .filter(|v| !v.is_empty())
        .collect()
}

fn is_blank(value: &Value) -> bool {
    value.is_null() || value.as_str().is_some_and(|s| s.is_empty())
}

fn convert(decl: &InputDecl, value: Value) -> Result<Value, String> {
    use crate::flow::model::InputType;
    let raw = text(&value);
    let trimmed = raw.trim();
    // Every declared type, so a new one cannot be declared and not read.
    let Some(kind) = InputType::parse(&decl.kind) else {
        return Err(format!("inputs of type {} are not supported", decl.kind));
    };
    match kind {
        InputType::Array => {
            let items = match value {
                Value::Array(items) => items,
                _ => match serde_json::from_str::<Value>(trimmed) {
                    Ok(Value::Array(items)) => items,
                    _ => return Err(format!("{raw:?} is not an array: write a JSON list such as [\"a\", \"b\"]")),
                },
            };
            let item = InputDecl {
                kind: decl.item_type.clone().unwrap_or_else(|| "STRING".into()),
                ..InputDecl::default()
            };
            return items
                .into_iter()
                .enumerate()
                .map(|(i, v)| convert(&item, v).map_err(|e| format!("item {}: {e}", i + 1)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        InputType::Yaml => {
            return match value {
                Value::String(text) => serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| format!("not valid YAML: {e}")),
                other => Ok(other),
            };
        }
        InputType::Email => {
            let valid = trimmed
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
                && !trimmed.contains(char::is_whitespace);
            return if valid {
                Ok(Value::String(trimmed.to_owned()))
            } else {
                Err(format!("{raw:?} is not an email address such as name@example.com"))
            };
        }
        InputType::String
        | InputType::Secret
        | InputType::Int
        | InputType::Float
        | InputType::Boolean
        | InputType::Date
        | InputType::DateTime
        | InputType::Time
        | InputType::Duration
        | InputType::Select
        | InputType::MultiSelect
        | InputType::Json
        | InputType::Uri
        | InputType::File => {}
    }
    match decl.kind.as_str() {
        "STRING" | "SECRET" => Ok(Value::String(raw)),
        "INT" => match &value {
            Value::Number(n) if n.is_i64() => Ok(value),
            _ => trimmed
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{raw:?} is not a whole number")),
        },
        // A Float in Kestra, whole or not: a default of 10 reads 10.0.
        "FLOAT" => match &value {
            Value::Number(n) => Ok(n.as_f64().map_or(value.clone(), Value::from)),
            _ => trimmed
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from)
                .ok_or_else(|| format!("{raw:?} is not a number")),
        },
        "BOOLEAN" | "BOOL" => match &value {
            Value::Bool(_) => Ok(value),
            _ => match trimmed.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("{raw:?} is not true or false")),
            },
        },
        "DATE" => trimmed
            .parse::<jiff::civil::Date>()
            .map(|d| Value::String(d.to_string()))
            .map_err(|_| format!("{raw:?} is not a date such as 2026-11-25")),
        "DATETIME" => trimmed
            .parse::<jiff::Timestamp>()
            .map(|t| Value::String(t.to_string()))
            .map_err(|_| {
                format!("{raw:?} is not a date and time with a zone, such as 2026-11-25T08:00:00Z")
            }),
        "TIME" => trimmed
            .parse::<jiff::civil::Time>()
            .map(|t| Value::String(t.to_string()))
            .map_err(|_| format!("{raw:?} is not a time such as 08:30:00")),
        "DURATION" => {
            crate::task::core::parse_duration(trimmed).map(|_| Value::String(trimmed.to_owned()))
        }
        "SELECT" | "ENUM" => {
            if decl.values.iter().any(|v| v == trimmed) {
                Ok(Value::String(trimmed.to_owned()))
            } else {
                Err(format!("{raw:?} is not one of {}", decl.values.join(", ")))
            }
        }
        "MULTISELECT" => {
            let chosen: Vec<String> = match &value {
                Value::Array(items) => items.iter().map(text).collect(),
                _ => serde_json::from_str::<Vec<String>>(trimmed).unwrap_or_else(|_| {
                    trimmed
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                }),
            };
            match chosen.iter().find(|c| !decl.values.contains(c)) {
                Some(bad) => Err(format!("{bad:?} is not one of {}", decl.values.join(", "))),
                None => Ok(Value::from(chosen)),
            }
        }
        "JSON" => match value {
            Value::String(_) => {
                serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON: {e}"))
            }
            other => Ok(other),
        },
        "URI" => {
            let ok = trimmed.split_once("://").is_some_and(|(scheme, rest)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                    && !rest.is_empty()
            });
            if ok {
                Ok(Value::String(trimmed.to_owned()))
            } else {
                Err(format!(
                    "{raw:?} is not a URI such as https://example.com/data.csv"
                ))
            }
        }
        // The file itself was stored by whoever received it; here it is its URI.
        "FILE" => {
            if trimmed.starts_with(crate::storage::SCHEME) {
                Ok(Value::String(trimmed.to_owned()))
            } else {
                Err(format!(
                    "{raw:?} is not an uploaded file (storage:///…): send the file as a multipart part named after the input"
                ))
            }
        }
        other => Err(format!("inputs of type {other} are not supported")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decl(
        id: &str,
        kind: &str,
        required: bool,
        defaults: Option<Value>,
        values: &[&str],
    ) -> InputDecl {
        InputDecl {
            id: id.into(),
            kind: kind.into(),
            required,
            defaults,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            ..InputDecl::default()
        }
    }

    fn given(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn values_are_converted_to_their_types() {
        let decls = [
            decl("n", "INT", true, None, &[]),
            decl("f", "FLOAT", true, None, &[]),
            decl("b", "BOOLEAN", true, None, &[]),
            decl("d", "DATE", true, None, &[]),
            decl("dt", "DATETIME", true, None, &[]),
            decl("dur", "DURATION", true, None, &[]),
            decl("s", "SELECT", true, None, &["sales", "returns"]),
            decl("j", "JSON", true, None, &[]),
            decl("u", "URI", true, None, &[]),
            decl("file", "FILE", true, None, &[]),
            decl("name", "STRING", false, Some(json!("World")), &[]),
            decl("opt", "STRING", false, None, &[]),
        ];
        let got = resolve(
            &decls,
            &given(&[
                ("n", json!("42")),
                ("f", json!("2.5")),
                ("b", json!("TRUE")),
                ("d", json!("2026-11-25")),
                ("dt", json!("2026-11-25T08:00:00+01:00")),
                ("dur", json!("PT5M")),
                ("s", json!("returns")),
                ("j", json!("{\"a\": [1]}")),
                ("u", json!("https://example.com/x.csv")),
                ("file", json!("storage:///n/f/executions/e/sales.csv")),
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"n": 42, "f": 2.5, "b": true, "d": "2026-11-25", "dt": "2026-11-25T07:00:00Z", "dur": "PT5M", "s": "returns",
                   "j": {"a": [1]}, "u": "https://example.com/x.csv", "file": "storage:///n/f/executions/e/sales.csv", "name": "World",
                   // Optional and left out: null, as in Kestra.
                   "opt": null})
        );
        // A whole FLOAT is still a float, as Kestra's Float: 10 reads 10.0.
        let whole = resolve(
            &[decl("f", "FLOAT", false, Some(json!(10)), &[])],
            &Map::new(),
        )
        .unwrap();
        assert!(whole["f"].is_f64(), "{whole:?}");
        assert_eq!(whole["f"], json!(10.0));
    }

    #[test]
    fn arrays_yaml_and_emails_are_read_as_kestra_reads_them() {
        let mut ints = decl("ids", "ARRAY", true, None, &[]);
        ints.item_type = Some("INT".into());
        let decls = [
            decl("rows", "ARRAY", true, None, &[]),
            ints,
            decl("conf", "YAML", true, None, &[]),
            decl("to", "EMAIL", true, None, &[]),
        ];
        let inputs = resolve(
            &decls,
            &given(&[
                ("rows", json!("[\"a\", \"b\"]")),
                ("ids", json!([1, "2"])),
                ("conf", json!("a: 1\nb: [x, z]\n")),
                ("to", json!("data@example.com")),
            ]),
        )
        .unwrap();
        assert_eq!(inputs["rows"], json!(["a", "b"]));
        assert_eq!(inputs["ids"], json!([1, 2]));
        assert_eq!(inputs["conf"], json!({"a": 1, "b": ["x", "z"]}));
        assert_eq!(inputs["to"], "data@example.com");
        let problems = resolve(
            &decls,
            &given(&[("rows", json!("a,b")), ("ids", json!("[\"x\"]")), ("conf", json!("a: [")), ("to", json!("nobody"))]),
        )
        .unwrap_err();
        let text = format!("{problems:?}");
        assert!(text.contains("is not an array"), "{text}");
        assert!(text.contains("item 1"), "{text}");
        assert!(text.contains("not valid YAML"), "{text}");
        assert!(text.contains("is not an email address"), "{text}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let decls = [
            decl("n", "INT", true, None, &[]),
            decl("s", "SELECT", true, None, &["sales", "returns"]),
            decl("must", "STRING", true, None, &[]),
        ];
        let problems = resolve(
            &decls,
            &given(&[
                ("n", json!("4.5")),
                ("s", json!("other")),
                ("typo", json!("x")),
            ]),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("\"typo\" is not declared: this flow takes n, s, must"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("\"4.5\" is not a whole number"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("\"other\" is not one of sales, returns"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("input \"must\" is required"))
        );
    }

    #[test]
    fn secret_inputs_are_listed_for_masking() {
        let decls = [
            decl("pw", "SECRET", true, None, &[]),
            decl("x", "STRING", true, None, &[]),
        ];
        let inputs = resolve(
            &decls,
            &given(&[("pw", json!("hunter2")), ("x", json!("y"))]),
        )
        .unwrap();
        assert_eq!(secret_values(&decls, &inputs), ["hunter2"]);
    }
}
