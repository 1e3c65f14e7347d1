//! The Triggers tab: each trigger of the saved flow with its type, whether
//! it is on, when it fires next (a Schedule) and when it last started an
//! execution; editors turn it off and on (through
//! `PUT /api/v1/triggers/set-disabled`, as Kestra's UI does).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::browser;
use crate::pages::flows::ErrorList;
use crate::time::format_utc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRow {
    pub id: String,
    pub short_type: String,
    /// Off in the flow's YAML (`disabled: true`): only an edit turns it on.
    pub off_in_source: bool,
    /// Turned off from here, the API or a Toggle task.
    pub turned_off: bool,
    pub next: Option<i64>,
    pub evaluated: Option<i64>,
    pub last: Option<i64>,
    pub last_execution: Option<String>,
}

#[server(prefix = "/rpc", client = crate::auth::Client, endpoint = "flow_triggers")]
pub async fn flow_triggers(
    namespace: String,
    id: String,
) -> Result<Vec<TriggerRow>, ServerFnError> {
    crate::auth::require(engine::auth::Role::Viewer, Some(&namespace))?;
    let store = crate::pages::flow::ssr::store()?;
    let (ns, flow) = (
        engine::ids::Namespace::new(&namespace),
        engine::ids::FlowId::new(&id),
    );
    let Some(stored) = store
        .get_flow(&ns, &flow)
        .await
        .map_err(|e| crate::pages::flow::ssr::failed("reading the flow", e))?
    else {
        return Ok(Vec::new());
    };
    let states = store
        .trigger_states(Some(&namespace), Some(&id))
        .await
        .map_err(|e| crate::pages::flow::ssr::failed("reading the triggers", e))?;
    let model = engine::flow::parse(&stored.source).flow;
    Ok(model
        .map(|m| m.triggers)
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let state = states.iter().find(|s| s.trigger_id == t.id.value);
            TriggerRow {
                short_type: engine::plan::short_type(&t.trigger_type.value).to_owned(),
                off_in_source: t.disabled,
                turned_off: state.is_some_and(|s| s.disabled),
                next: state.filter(|s| !s.disabled).and_then(|s| s.next_date),
                evaluated: state.and_then(|s| s.evaluated_at),
                last: state.and_then(|s| s.last_triggered),
                last_execution: state.and_then(|s| s.last_execution_id.clone()),
                id: t.id.value,
            }
        })
        .collect())
}

/// `refresh` changes after each save of the flow.
#[component]
pub(crate) fn Triggers(namespace: String, id: String, refresh: RwSignal<u32>) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let (ns, flow) = (namespace.clone(), id.clone());
    let rows = Resource::new(
        move || (refresh.get(), version.get()),
        move |_| flow_triggers(ns.clone(), flow.clone()),
    );
    let error = RwSignal::new(None::<String>);
    let editor = crate::auth::can(engine::auth::Role::Editor, Some(&namespace));
    let switch = Callback::new(move |(trigger, disabled): (String, bool)| {
        let body = serde_json::json!({"namespace": namespace, "flowId": id, "triggerId": trigger, "disabled": disabled}).to_string();
        leptos::task::spawn_local(async move {
            match browser::send_text(
                "PUT",
                "/api/v1/triggers/set-disabled",
                &body,
                &[("content-type", "application/json")],
            )
            .await
            {
                Ok(answer) if answer.ok() => {
                    error.set(None);
                    version.update(|n| *n += 1);
                }
                Ok(answer) => error.set(Some(answer.message())),
                Err(e) => error.set(Some(e)),
            }
        });
    });
    view! {
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <p class="muted">"Loading the triggers…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    rows.await.map(|rows| {
                        if rows.is_empty() {
                            return view! { <p class="empty" role="status">"This flow has no trigger: it runs when started by hand, by the API or as a subflow."</p> }.into_any();
                        }
                        view! {
                            <table class="data-table">
                                <caption class="visually-hidden">"Triggers"</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Trigger"</th>
                                        <th scope="col">"Type"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col">"Next"</th>
                                        <th scope="col">"Last started"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows.into_iter().map(|row| {
                                        let state = if row.off_in_source { "off in the flow" } else if row.turned_off { "off" } else { "on" };
                                        let (trigger, turned_off) = (row.id.clone(), row.turned_off);
                                        let action = (editor && !row.off_in_source).then(|| {
                                            let label = format!("{} {}", if turned_off { "Turn on" } else { "Turn off" }, row.id);
                                            view! {
                                                <button type="button" class="button" aria-label=label on:click=move |_| switch.run((trigger.clone(), !turned_off))>
                                                    {if turned_off { "Turn on" } else { "Turn off" }}
                                                </button>
                                            }
                                        });
                                        view! {
                                            <tr>
                                                <td class="mono strong">{row.id.clone()}</td>
                                                <td class="mono">{row.short_type}</td>
                                                <td>{state}</td>
                                                <td class="nowrap" title=row.evaluated.map(|e| format!("looked at {}", format_utc(e))).unwrap_or_default()>
                                                    {row.next.map_or_else(|| "—".to_owned(), format_utc)}
                                                </td>
                                                <td class="nowrap">
                                                    {match (row.last, row.last_execution) {
                                                        (Some(at), Some(execution)) => view! { <a href=format!("/executions/{execution}")>{format_utc(at)}</a> }.into_any(),
                                                        (Some(at), None) => view! { <span>{format_utc(at)}</span> }.into_any(),
                                                        _ => view! { <span class="muted">"never"</span> }.into_any(),
                                                    }}
                                                </td>
                                                <td>{action}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }
                        .into_any()
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}
