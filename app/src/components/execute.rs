//! The Execute button and the form of a flow's inputs it opens, in a modal
//! dialog (Escape closes it). The form is generated from the flow's input
//! declarations: a field per input by type, its default filled in and its
//! required mark. It is sent by the browser as multipart to
//! `POST /api/v1/executions/{namespace}/{flowId}`, so that a file streams
//! into internal storage; the server's verdict on each input shows next to
//! its field, and a started execution opens its page.

use std::collections::HashMap;

use leptos::html;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;

use super::browser;

/// One declared input, as the form shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputField {
    pub id: String,
    /// STRING, INT, BOOLEAN, SELECT, FILE... (Kestra's names).
    pub kind: String,
    pub required: bool,
    /// The default as the field's text.
    pub default: Option<String>,
    /// The choices of a SELECT or MULTISELECT.
    pub values: Vec<String>,
    pub description: Option<String>,
    /// The inputs whose values change this one (`dependsOn.inputs`).
    pub depends_on: Vec<String>,
}

/// The inputs of a flow's current revision, as the form shows them for
/// what was filled in so far (`given`, by id): an input whose
/// `dependsOn.condition` does not hold is left out, a SELECT's
/// `expression` and a default with an expression are rendered.
#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "flow_inputs")]
pub async fn flow_inputs(
    namespace: String,
    flow_id: String,
    given: String,
) -> Result<Vec<InputField>, ServerFnError> {
    use engine::ids::{FlowId, Namespace};
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    let store = crate::context::store()?;
    let flow = store
        .get_flow(&Namespace::new(&namespace), &FlowId::new(&flow_id))
        .await
        .map_err(|e| crate::context::failed("reading the flow", e))?;
    let flow = flow
        .ok_or_else(|| ServerFnError::new(format!("flow {namespace}.{flow_id} does not exist")))?;
    let plan = engine::plan::Plan::from_yaml(&flow.source).map_err(|error| {
        ServerFnError::new(format!("flow {namespace}.{flow_id} cannot run: {error}"))
    })?;
    let executor: engine::executor::Executor = crate::context::service("the executor")?;
    // The values filled in so far, as a JSON object of texts (an empty
    // text for none: a form encodes no empty map).
    let given: serde_json::Map<String, serde_json::Value> = if given.trim().is_empty() {
        serde_json::Map::new()
    } else {
        serde_json::from_str(&given).map_err(|e| {
            ServerFnError::new(format!("the values filled in are not a JSON object: {e}"))
        })?
    };
    Ok(executor
        .preview_inputs(&plan, &given)
        .into_iter()
        .map(|decl| InputField {
            default: decl.defaults.map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
            id: decl.id,
            kind: decl.kind.to_ascii_uppercase(),
            required: decl.required,
            values: decl.values,
            description: decl.description,
            depends_on: decl.depends_on,
        })
        .collect())
}

#[component]
pub(crate) fn ExecuteButton(namespace: String, flow_id: String) -> impl IntoView {
    // Only operators (and up) of the namespace see it; the server refuses
    // the others anyway.
    if !crate::auth::can(engine::auth::Role::Operator, Some(&namespace)) {
        return ().into_any();
    }
    let dialog = NodeRef::<html::Dialog>::new();
    let fields = RwSignal::new(None::<Result<Vec<InputField>, String>>);
    let (ns, id) = (StoredValue::new(namespace), StoredValue::new(flow_id));
    let open = move |_| {
        if let Some(dialog) = dialog.get_untracked() {
            let _ = dialog.show_modal();
        }
        fields.set(None);
        leptos::task::spawn_local(async move {
            let loaded = flow_inputs(ns.get_value(), id.get_value(), String::new())
                .await
                .map_err(|e| e.to_string());
            fields.set(Some(loaded));
        });
    };
    let close = move || {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    let title_id = format!("execute-{}-{}", ns.get_value(), id.get_value()).replace('.', "-");
    let labelled_by = title_id.clone();
    view! {
        <button type="button" class="button primary" on:click=open aria-haspopup="dialog">"Execute"</button>
        <dialog class="execute-dialog" node_ref=dialog aria-labelledby=labelled_by>
            <div class="dialog-header">
                <h2 id=title_id>"Execute " <span class="mono">{id.get_value()}</span></h2>
                <button type="button" class="button" aria-label="Close" on:click=move |_| close()>"✕"</button>
            </div>
            <p class="muted mono">{ns.get_value()}</p>
            {move || match fields.get() {
                None => view! { <p class="muted">"Loading the inputs…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                Some(Ok(list)) => view! { <InputsForm namespace=ns.get_value() flow_id=id.get_value() fields=list on_cancel=Callback::new(move |()| close()) /> }.into_any(),
            }}
        </dialog>
    }
    .into_any()
}

#[component]
fn InputsForm(
    namespace: String,
    flow_id: String,
    fields: Vec<InputField>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let navigate = use_navigate();
    let errors = RwSignal::new(HashMap::<String, String>::new());
    let form_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Bytes of the form sent and in all, while it uploads.
    let sent = RwSignal::new(None::<(f64, f64)>);
    let labels = RwSignal::new(String::new());
    let prefix = format!("input-{namespace}-{flow_id}-").replace('.', "-");
    let fields = RwSignal::new(fields);
    let (ns_for_refresh, id_for_refresh) = (
        StoredValue::new(namespace.clone()),
        StoredValue::new(flow_id.clone()),
    );
    let url = format!(
        "/api/v1/executions/{}/{}",
        browser::encode(&namespace),
        browser::encode(&flow_id)
    );
    let field_prefix = prefix.clone();

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let Ok(data) = web_sys::FormData::new_with_form(&form) else {
            return;
        };
        let mut problems = HashMap::new();
        for field in fields.get_untracked() {
            let element_id = format!("{field_prefix}{}", field.id);
            let element = document().get_element_by_id(&element_id);
            match field.kind.as_str() {
                "BOOLEAN" | "BOOL" => {
                    let on = element
                        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
                        .is_some_and(|i| i.checked());
                    let _ = data.set_with_str(&field.id, if on { "true" } else { "false" });
                }
                "DATETIME" => {
                    // The picker gives a local time without a zone; the
                    // server wants an instant.
                    let local = data.get(&field.id).as_string().unwrap_or_default();
                    if !local.is_empty() {
                        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&local));
                        if date.get_time().is_nan() {
                            problems.insert(
                                field.id.clone(),
                                format!("{local:?} is not a date and time"),
                            );
                        } else {
                            let _ =
                                data.set_with_str(&field.id, &String::from(date.to_iso_string()));
                        }
                    }
                }
                "MULTISELECT" => {
                    let chosen: Vec<String> = data
                        .get_all(&field.id)
                        .iter()
                        .filter_map(|v| v.as_string())
                        .collect();
                    let _ = data.set_with_str(&field.id, &chosen.join(","));
                }
                "JSON" => {
                    let text = data.get(&field.id).as_string().unwrap_or_default();
                    if let Err(why) = check_json(&text) {
                        problems.insert(field.id.clone(), why);
                    }
                }
                "FILE" => {
                    // No file chosen: the browser still sends an empty part.
                    let file = data.get(&field.id).dyn_into::<web_sys::File>().ok();
                    if file.is_some_and(|f| f.name().is_empty() && f.size() == 0.0) {
                        data.delete(&field.id);
                    }
                }
                _ => {}
            }
        }
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        let mut query = Vec::new();
        for line in labels
            .get_untracked()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match line.split_once([':', '=']) {
                Some((k, v)) if !k.trim().is_empty() => query.push(format!(
                    "labels={}",
                    browser::encode(&format!("{}:{}", k.trim(), v.trim()))
                )),
                _ => {
                    form_error.set(Some(format!("label {line:?} must be key:value")));
                    return;
                }
            }
        }
        let url = if query.is_empty() {
            url.clone()
        } else {
            format!("{url}?{}", query.join("&"))
        };
        errors.set(HashMap::new());
        form_error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let answer = browser::upload(&url, &data, move |done, total| {
                sent.set(Some((done, total)))
            })
            .await;
            busy.set(false);
            sent.set(None);
            match answer {
                Ok(answer) if answer.ok() => {
                    let id = serde_json::from_str::<serde_json::Value>(&answer.body)
                        .ok()
                        .and_then(|v| v["id"].as_str().map(str::to_owned));
                    match id {
                        Some(id) => navigate(&format!("/executions/{id}"), Default::default()),
                        None => form_error.set(Some(
                            "the server did not say which execution it started".to_owned(),
                        )),
                    }
                }
                Ok(answer) => {
                    let (by_field, rest) = violations(&answer.body);
                    errors.set(by_field);
                    form_error.set(Some(if rest.is_empty() {
                        answer.message()
                    } else {
                        rest.join("; ")
                    }));
                }
                Err(error) => form_error.set(Some(error)),
            }
        });
    };

    // A change to an input others depend on asks the server again which
    // inputs show and with which choices (Kestra's dynamic inputs); the
    // fields that did not change keep what was typed in them.
    let on_change = move |ev: leptos::ev::Event| {
        let Some(changed) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.get_attribute("name"))
        else {
            return;
        };
        if !fields.with_untracked(|all| all.iter().any(|f| f.depends_on.contains(&changed))) {
            return;
        }
        let Some(form) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let Ok(data) = web_sys::FormData::new_with_form(&form) else {
            return;
        };
        let given: serde_json::Map<String, serde_json::Value> = fields
            .get_untracked()
            .iter()
            .filter_map(|f| {
                Some((
                    f.id.clone(),
                    serde_json::Value::String(
                        data.get(&f.id).as_string().filter(|v| !v.is_empty())?,
                    ),
                ))
            })
            .collect();
        let given = serde_json::Value::Object(given).to_string();
        leptos::task::spawn_local(async move {
            if let Ok(list) = flow_inputs(
                ns_for_refresh.get_value(),
                id_for_refresh.get_value(),
                given,
            )
            .await
            {
                fields.set(list);
            }
        });
    };
    let labels_prefix = prefix.clone();
    let field_views = move || {
        let prefix = prefix.clone();
        view! {
            <For
                each=move || fields.get()
                key=|field| (field.id.clone(), field.values.clone(), field.default.clone())
                children=move |field| view! { <Field field prefix=prefix.clone() errors /> }
            />
        }
        .into_any()
    };
    let prefix = labels_prefix;
    let labels_field = view! {
            <div class="field">
                <label for=format!("{prefix}labels")>"Labels"</label>
                <textarea id=format!("{prefix}labels") rows="2" placeholder="key:value, one per line"
                    aria-describedby=format!("{prefix}labels-help")
                    prop:value=move || labels.get() on:input=move |ev| labels.set(event_target_value(&ev))></textarea>
                <small id=format!("{prefix}labels-help") class="muted">"Optional, to find this execution later."</small>
            </div>
    }
    .into_any();
    view! {
            <form class="inputs-form" on:submit=on_submit on:change=on_change>
                {move || fields.with(|f| f.is_empty()).then(|| view! { <p class="muted">"This flow takes no inputs."</p> })}
                {field_views}
    {labels_field}
                {move || sent.get().map(|(done, total)| view! { <Progress done total /> })}
                {move || form_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <div class="dialog-actions">
                    <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                    <button type="submit" class="button primary" disabled=move || busy.get()>
                        {move || if busy.get() { "Starting…" } else { "Execute" }}
                    </button>
                </div>
            </form>
        }
}

/// How much of the form has gone: a bar and the figures.
#[component]
fn Progress(done: f64, total: f64) -> impl IntoView {
    let percent = if total > 0.0 {
        (done / total * 100.0).floor()
    } else {
        0.0
    };
    let mb = |bytes: f64| format!("{:.1}", bytes / 1_000_000.0);
    let text = if done >= total {
        "Uploaded; starting the execution…".to_owned()
    } else {
        format!("Uploading {} of {} MB ({percent}%)", mb(done), mb(total))
    };
    view! {
        <div class="upload-progress">
            <progress max=total value=done aria-label="Upload"></progress>
            <span role="status">{text}</span>
        </div>
    }
}

#[component]
fn Field(
    field: InputField,
    prefix: String,
    errors: RwSignal<HashMap<String, String>>,
) -> impl IntoView {
    let id = format!("{prefix}{}", field.id);
    let help_id = format!("{id}-help");
    let error_id = format!("{id}-error");
    let name = field.id.clone();
    let key = field.id.clone();
    let error = Memo::new(move |_| errors.with(|e| e.get(&key).cloned()));
    let json_error = RwSignal::new(None::<String>);
    let shown_error = move || error.get().or_else(|| json_error.get());
    let described = format!("{help_id} {error_id}");
    let invalid = move || shown_error().is_some().to_string();
    let default = field.default.clone().unwrap_or_default();
    let required = field.required && field.default.is_none();
    let control = match field.kind.as_str() {
        "BOOLEAN" | "BOOL" => view! {
            <input type="checkbox" role="switch" class="toggle" id=id.clone() aria-describedby=described.clone()
                checked=default.eq_ignore_ascii_case("true") />
        }
        .into_any(),
        "SELECT" | "ENUM" | "MULTISELECT" => {
            let multiple = field.kind == "MULTISELECT";
            let chosen: Vec<String> = default.split(',').map(|s| s.trim().to_owned()).collect();
            view! {
                <select id=id.clone() name=name.clone() multiple=multiple required=required aria-describedby=described.clone() aria-invalid=invalid>
                    {(!required && !multiple).then(|| view! { <option value="">"—"</option> })}
                    {field.values.iter().map(|v| view! { <option value=v.clone() selected=chosen.contains(v)>{v.clone()}</option> }).collect_view()}
                </select>
            }
            .into_any()
        }
        "JSON" => view! {
            <textarea id=id.clone() name=name.clone() rows="4" class="mono" required=required aria-describedby=described.clone()
                aria-invalid=invalid
                on:input=move |ev| json_error.set(check_json(&event_target_value(&ev)).err())>{default.clone()}</textarea>
        }
        .into_any(),
        kind => {
            let (input_type, step) = match kind {
                "INT" => ("number", Some("1")),
                "FLOAT" => ("number", Some("any")),
                "DATE" => ("date", None),
                "DATETIME" => ("datetime-local", Some("1")),
                "TIME" => ("time", Some("1")),
                "FILE" => ("file", None),
                "SECRET" => ("password", None),
                "URI" => ("url", None),
                _ => ("text", None),
            };
            let value = (kind != "FILE" && kind != "DATETIME").then(|| default.clone());
            view! {
                <input type=input_type id=id.clone() name=name.clone() step=step value=value required=required
                    aria-describedby=described.clone() aria-invalid=invalid autocomplete="off" />
            }
            .into_any()
        }
    };
    let hint = match (&field.description, &field.default) {
        (Some(d), Some(v)) => format!("{d} Default: {v}."),
        (Some(d), None) => d.clone(),
        (None, Some(v)) => format!("Default: {v}."),
        (None, None) => String::new(),
    };
    view! {
        <div class="field">
            <label for=id.clone()>
                <span class="mono">{field.id.clone()}</span>
                {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span><span class="visually-hidden">" (required)"</span> })}
                " " <span class="muted type-tag">{field.kind.clone()}</span>
            </label>
            {control}
            <small id=help_id class="muted">{hint}</small>
            <small id=error_id class="field-error" role="alert">{shown_error}</small>
        </div>
    }
}

fn check_json(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Ok(());
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| format!("not valid JSON: {e}"))
}

/// The server's problems with the inputs: those naming an input (`input
/// "name" ...`), by input; the others as they are.
fn violations(body: &str) -> (HashMap<String, String>, Vec<String>) {
    let mut by_field = HashMap::new();
    let mut rest = Vec::new();
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    for message in json["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["message"].as_str())
    {
        let name = message
            .strip_prefix("input \"")
            .and_then(|m| m.split_once('"'))
            .map(|(name, _)| name.to_owned());
        match name {
            Some(name) => {
                by_field.insert(name, message.to_owned());
            }
            None => rest.push(message.to_owned()),
        }
    }
    (by_field, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_problems_go_next_to_their_fields() {
        let body = r#"{"message":"the inputs are invalid","violations":[{"message":"input \"n\": \"x\" is not a whole number"},{"message":"something else"}]}"#;
        let (by_field, rest) = violations(body);
        assert_eq!(by_field["n"], "input \"n\": \"x\" is not a whole number");
        assert_eq!(rest, ["something else"]);
        assert!(check_json("{\"a\": 1}").is_ok());
        assert!(check_json("{a").is_err());
    }
}
