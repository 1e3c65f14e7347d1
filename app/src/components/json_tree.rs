//! A JSON value as a tree of disclosure widgets: objects and arrays fold,
//! scalars show coloured by type.

use leptos::prelude::*;
use serde_json::Value;

#[component]
pub(crate) fn JsonTree(
    value: Value,
    #[prop(optional, into)] label: Option<String>,
) -> impl IntoView {
    view! { <div class="json-tree mono">{node(label, &value, 0)}</div> }
}

fn node(key: Option<String>, value: &Value, depth: usize) -> AnyView {
    let key_view = key.map(|k| view! { <span class="json-key">{k}</span> ": " });
    match value {
        Value::Object(map) if !map.is_empty() => {
            let children = map
                .iter()
                .map(|(k, v)| view! { <li>{node(Some(k.clone()), v, depth + 1)}</li> })
                .collect_view();
            let summary = format!(
                "{{…}} {} {}",
                map.len(),
                if map.len() == 1 { "key" } else { "keys" }
            );
            view! {
                <details open=depth < 2>
                    <summary>{key_view}<span class="muted">{summary}</span></summary>
                    <ul>{children}</ul>
                </details>
            }
            .into_any()
        }
        Value::Array(items) if !items.is_empty() => {
            let children = items
                .iter()
                .enumerate()
                .map(|(i, v)| view! { <li>{node(Some(i.to_string()), v, depth + 1)}</li> })
                .collect_view();
            let summary = format!(
                "[…] {} {}",
                items.len(),
                if items.len() == 1 { "item" } else { "items" }
            );
            view! {
                <details open=depth < 2>
                    <summary>{key_view}<span class="muted">{summary}</span></summary>
                    <ul>{children}</ul>
                </details>
            }
            .into_any()
        }
        scalar => {
            let (class, text) = match scalar {
                Value::String(s) => ("json-string", format!("{s:?}")),
                Value::Number(n) => ("json-number", n.to_string()),
                Value::Bool(b) => ("json-bool", b.to_string()),
                Value::Null => ("json-null", "null".to_owned()),
                Value::Object(_) => ("json-null", "{}".to_owned()),
                Value::Array(_) => ("json-null", "[]".to_owned()),
            };
            view! { <span class="json-leaf">{key_view}<span class=class>{text}</span></span> }
                .into_any()
        }
    }
}
