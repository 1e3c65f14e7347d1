//! The JSON Schema (draft 2020-12) of a flow, generated from the registry so
//! that it never disagrees with validation. Editors (VS Code's YAML
//! extension, Monaco) use it for completion and hover docs.

use serde_json::{Map, Value, json};

use super::model::{FLOW_OUTPUT, InputType};
use super::registry::{
    COMMON, CONDITION_COMMON, Category, Kind, Property, TRIGGER_COMMON, TYPES, TaskType,
};

pub(super) fn flow_schema() -> Value {
    let mut defs = Map::new();
    let mut task_refs = Vec::new();
    let mut trigger_refs = Vec::new();
    let mut condition_refs = Vec::new();
    for t in TYPES {
        let name = t.name.to_owned();
        let common = match t.category {
            Category::Trigger => TRIGGER_COMMON,
            Category::Condition => CONDITION_COMMON,
            Category::Task | Category::Flowable => COMMON,
        };
        defs.insert(name.clone(), type_schema(t, common));
        let reference = json!({"$ref": format!("#/$defs/{name}")});
        match t.category {
            Category::Trigger => trigger_refs.push(reference),
            Category::Condition => condition_refs.push(reference),
            Category::Task | Category::Flowable => task_refs.push(reference),
        }
    }
    defs.insert("condition".into(), json!({"oneOf": condition_refs}));
    defs.insert("task".into(), json!({"oneOf": task_refs}));
    defs.insert("trigger".into(), json!({"oneOf": trigger_refs}));
    let input_types: Vec<&str> = InputType::ALL.iter().map(|(n, _)| *n).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mortar.dev/schemas/flow.json",
        "title": "Mortar flow",
        "description": "A flow in Kestra's format: tasks (Databricks and core), inputs, triggers.",
        "type": "object",
        "required": ["id", "namespace", "tasks"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-zA-Z0-9_-]+$", "description": "The flow's id, unique in its namespace."},
            "namespace": {"type": "string", "pattern": "^[a-zA-Z0-9._-]+$", "description": "Where the flow lives, such as company.team."},
            "description": {"type": "string"},
            "labels": {"type": ["object", "array"], "description": "Labels of the flow and its executions."},
            "inputs": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "type"],
                "properties": {
                    "id": {"type": "string"},
                    "type": {"enum": input_types},
                    "description": {"type": "string"},
                    "displayName": {"type": "string"},
                    "required": {"type": "boolean", "default": true},
                    "defaults": {},
                    "values": {"type": "array", "items": {"type": "string"}, "description": "The choices of a SELECT input."},
                    "allowCustomValue": {"type": "boolean"}
                }
            }},
            "variables": {"type": "object", "description": "Values read as {{ vars.name }}."},
            "outputs": {"type": "array", "items": object_schema(FLOW_OUTPUT)},
            "tasks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/task"}},
            "errors": {"type": "array", "items": {"$ref": "#/$defs/task"}, "description": "Run when a task fails."},
            "finally": {"type": "array", "items": {"$ref": "#/$defs/task"}, "description": "Run at the end, always."},
            "triggers": {"type": "array", "items": {"$ref": "#/$defs/trigger"}},
            "pluginDefaults": {"type": "array", "items": {
                "type": "object",
                "required": ["type", "values"],
                "properties": {"type": {"type": "string"}, "values": {"type": "object"}, "forced": {"type": "boolean"}}
            }},
            "concurrency": {"type": "object", "required": ["limit"], "properties": {
                "limit": {"type": "integer", "minimum": 1},
                "behavior": {"enum": ["QUEUE", "CANCEL", "FAIL"], "default": "QUEUE"}
            }},
            "disabled": {"type": "boolean", "default": false}
        },
        "$defs": defs,
    })
}

fn type_schema(t: &TaskType, common: &[Property]) -> Value {
    let mut schema = object_schema_of(common.iter().chain(t.properties), false);
    let names = [t.name, t.alias];
    schema["properties"]["type"] = json!({"enum": names, "description": t.doc});
    schema["title"] = json!(t.alias);
    schema["description"] = json!(t.doc);
    schema
}

fn object_schema(properties: &[Property]) -> Value {
    object_schema_of(properties.iter(), false)
}

fn object_schema_of<'a>(properties: impl Iterator<Item = &'a Property>, open: bool) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in properties {
        let mut schema = kind_schema(&p.kind);
        if let Value::Object(map) = &mut schema {
            map.insert("description".into(), json!(p.doc));
            if let Some(default) = p
                .default
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
            {
                map.insert("default".into(), default);
            }
            if let Some(example) = p.example {
                map.insert("examples".into(), json!([example]));
            }
        }
        if p.required {
            required.push(p.name);
        }
        props.insert(p.name.to_owned(), schema);
    }
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": open})
}

/// A property that may hold an expression: the kind, or a `{{ }}` string.
fn dynamic(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "string", "pattern": "\\{\\{"}]})
}

fn kind_schema(kind: &Kind) -> Value {
    match kind {
        Kind::String => json!({"type": ["string", "number", "boolean"]}),
        Kind::Integer => dynamic(json!({"type": "integer"})),
        Kind::Number => dynamic(json!({"type": "number"})),
        Kind::Boolean => dynamic(json!({"type": "boolean"})),
        Kind::Duration => json!({"type": "string", "pattern": "^[-+]?[Pp]", "format": "duration"}),
        Kind::Cron => json!({"type": "string"}),
        Kind::BaseUrl => json!({"type": "string", "format": "uri"}),
        Kind::Enum { values } => dynamic(json!({"enum": values})),
        Kind::StringList => {
            dynamic(json!({"type": "array", "items": {"type": ["string", "number", "boolean"]}}))
        }
        Kind::Map => dynamic(json!({"type": "object"})),
        Kind::Object { properties } => object_schema(properties),
        Kind::ObjectList { properties } => {
            dynamic(json!({"type": "array", "items": object_schema(properties)}))
        }
        Kind::Any => json!({}),
        Kind::Conditions => json!({"type": "array", "items": {"$ref": "#/$defs/condition"}}),
        Kind::Tasks => json!({"type": "array", "items": {"$ref": "#/$defs/task"}}),
        Kind::DagTasks => json!({"type": "array", "items": {
            "type": "object",
            "required": ["task"],
            "properties": {"task": {"$ref": "#/$defs/task"}, "dependsOn": {"type": "array", "items": {"type": "string"}}},
            "additionalProperties": false
        }}),
        Kind::TaskCases => {
            json!({"type": "object", "additionalProperties": {"type": "array", "items": {"$ref": "#/$defs/task"}}})
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_type_is_in_the_schema() {
        let schema = super::flow_schema();
        for t in super::TYPES {
            let def = &schema["$defs"][t.name];
            assert_eq!(def["properties"]["type"]["enum"][1], t.alias);
            for p in t.properties {
                assert!(
                    def["properties"][p.name].is_object(),
                    "{} {}",
                    t.name,
                    p.name
                );
            }
        }
        assert_eq!(
            schema["$defs"]["io.kestra.plugin.core.log.Log"]["required"],
            serde_json::json!(["id", "type", "message"])
        );
    }
}
