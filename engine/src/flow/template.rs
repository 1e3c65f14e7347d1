//! Kestra's templates (deprecated there, still in use): YAML with `id`,
//! `namespace`, `description`, `tasks` and `errors`, which a flow.Template
//! task runs. A template is checked as a flow is, but holds only those
//! keys; what its expressions read comes from the flow that runs it, so
//! unknown inputs and outputs are warnings, as in a flow.

use super::yaml::Value;
use super::{Parsed, Problem, parse};

/// The keys a template may hold (Kestra's Template model).
pub const KEYS: &[&str] = &["id", "namespace", "description", "tasks", "errors"];

/// Parses and checks a template: the parsed source (its `flow` holds the
/// template's id, namespace, description, tasks and errors) and every
/// problem, a key that is not a template's among them.
pub fn check(source: &str) -> Parsed {
    let mut parsed = parse(source);
    if let Some(flow) = &parsed.flow {
        for (key, _) in flow.root.as_map().unwrap_or_default() {
            let Value::Str(name) = &key.value else {
                continue;
            };
            if !KEYS.contains(&name.as_str()) {
                parsed.problems.push(Problem::error(
                    key.span,
                    format!(
                        "`{name}` is not part of a template: a template holds {}; put `{name}` in the flow that runs it",
                        KEYS.join(", ")
                    ),
                ));
            }
        }
        if flow.tasks.is_empty()
            && !parsed
                .problems
                .iter()
                .any(|p| p.message.contains("`tasks`"))
        {
            parsed.problems.push(Problem::error(
                flow.root.span,
                "a template needs `tasks`, a list of at least one task",
            ));
        }
    }
    parsed
        .problems
        .sort_by_key(|p| (p.line, p.column, p.severity));
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_checked_as_a_flow_and_holds_only_its_keys() {
        let ok = check(
            "id: load\nnamespace: company.team\ntasks:\n  - id: log\n    type: log.Log\n    message: \"{{ parent.outputs.args.forward }} {{ inputs.name }}\"\nerrors:\n  - id: e\n    type: log.Log\n    message: failed\n",
        );
        assert!(ok.is_valid(), "{:?}", ok.problems);
        let bad = check(
            "id: load\nnamespace: company.team\ninputs:\n  - id: x\n    type: STRING\ntasks:\n  - id: log\n    type: log.Lgo\n    message: hi\n",
        );
        assert!(!bad.is_valid());
        let messages: Vec<String> = bad.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("3:1: `inputs` is not part of a template")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("log.Lgo")),
            "{messages:?}"
        );
    }
}
