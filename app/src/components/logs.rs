//! Live logs of an execution over Server-Sent Events
//! (`/api/v1/logs/{id}/follow`): follow and unfollow, a minimum level and a
//! filter of levels, a filter by task, search with highlights, local
//! timestamps, copy and download.
//!
//! The lines arrive only in the browser, after hydration: the server renders
//! the empty frame. Every line carries its id; a reconnecting `EventSource`
//! sends the last one as `Last-Event-ID` and the server resumes after it.
//! Lines are also dropped here when their id is not above the last one kept,
//! so a reconnection made by hand (from the start) doubles nothing.

use std::collections::BTreeSet;

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

#[derive(Debug, Clone, PartialEq)]
struct Line {
    id: i64,
    level: String,
    task_id: Option<String>,
    /// Unix milliseconds.
    at: f64,
    message: String,
}

fn rank(level: &str) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(2)
}

#[component]
pub(crate) fn Logs(
    execution_id: String,
    /// The task ids to offer in the task filter.
    #[prop(into)]
    tasks: Signal<Vec<String>>,
    /// Told of every new line: its task id and message.
    #[prop(optional)]
    on_line: Option<Callback<(Option<String>, String)>>,
) -> impl IntoView {
    let lines = RwSignal::new(Vec::<Line>::new());
    let last_id = RwSignal::new(0_i64);
    let status = RwSignal::new("Connecting…");
    let follow = RwSignal::new(true);
    let min_level = RwSignal::new("TRACE".to_owned());
    let shown_levels = RwSignal::new(
        LEVELS
            .iter()
            .map(|l| (*l).to_owned())
            .collect::<BTreeSet<_>>(),
    );
    let task = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let copied = RwSignal::new(false);
    let reconnects = RwSignal::new(0_u32);
    let container = NodeRef::<html::Div>::new();

    let url = format!(
        "/api/v1/logs/{}/follow",
        super::browser::encode(&execution_id)
    );
    // Effects run only in the browser: the EventSource never exists on the
    // server. Each run (a reconnection by hand) closes the previous one.
    Effect::new(move || {
        reconnects.track();
        let Ok(events) = web_sys::EventSource::new(&url) else {
            status.set("The log stream cannot be opened.");
            return;
        };
        let on_line = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(event) = event.dyn_ref::<web_sys::MessageEvent>() else {
                return;
            };
            let id: i64 = event.last_event_id().parse().unwrap_or(0);
            if id <= last_id.get_untracked() {
                return;
            }
            let Some(data) = event.data().as_string() else {
                return;
            };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&data) else {
                return;
            };
            last_id.set(id);
            let at = js_sys::Date::parse(json["timestamp"].as_str().unwrap_or_default());
            if let Some(on_line) = on_line {
                on_line.run((
                    json["taskId"].as_str().map(str::to_owned),
                    json["message"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            lines.update(|all| {
                all.push(Line {
                    id,
                    level: json["level"].as_str().unwrap_or("INFO").to_owned(),
                    task_id: json["taskId"].as_str().map(str::to_owned),
                    at,
                    message: json["message"].as_str().unwrap_or_default().to_owned(),
                })
            });
        });
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| status.set("Live"));
        // The server ends the stream once the execution has ended and sent
        // its last line; closing keeps the browser from reconnecting.
        let ended_events = events.clone();
        let on_end = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            ended_events.close();
            status.set("Ended");
        });
        let retry_events = events.clone();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            // CONNECTING: the browser reconnects by itself with Last-Event-ID.
            // CLOSED: it gave up (the server answered an error); try again later.
            if retry_events.ready_state() == web_sys::EventSource::CLOSED {
                status.set("Disconnected; reconnecting…");
                set_timeout(
                    move || reconnects.update(|n| *n += 1),
                    std::time::Duration::from_secs(2),
                );
            } else {
                status.set("Reconnecting…");
            }
        });
        let _ = events.add_event_listener_with_callback("log", on_line.as_ref().unchecked_ref());
        let _ = events.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
        events.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        events.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The source and its listeners live until the effect runs again or
        // the page goes away.
        let source = StoredValue::new_local((events, vec![on_line, on_open, on_end, on_error]));
        on_cleanup(move || {
            source.with_value(|(events, _)| events.close());
            source.dispose();
        });
    });

    let visible = Memo::new(move |_| {
        let min = rank(&min_level.get());
        let (task, needle) = (task.get(), search.get().to_lowercase());
        shown_levels.with(|shown| {
            lines.with(|all| {
                all.iter()
                    .filter(|l| rank(&l.level) >= min && shown.contains(&l.level))
                    .filter(|l| task.is_empty() || l.task_id.as_deref() == Some(task.as_str()))
                    .filter(|l| needle.is_empty() || l.message.to_lowercase().contains(&needle))
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })
    });

    // Keep the newest line in view while following.
    Effect::new(move || {
        let count = visible.with(Vec::len);
        if follow.get()
            && let Some(div) = container.get()
        {
            let _ = count;
            div.set_scroll_top(div.scroll_height());
        }
    });
    let on_scroll = move |_| {
        if let Some(div) = container.get_untracked() {
            let at_bottom = div.scroll_top() + div.client_height() >= div.scroll_height() - 24;
            if !at_bottom && follow.get_untracked() {
                follow.set(false);
            }
        }
    };

    let as_text = move || {
        visible.with_untracked(|lines| {
            lines
                .iter()
                .map(|l| {
                    format!(
                        "{} {:5} {} {}",
                        local_time(l.at),
                        l.level,
                        l.task_id.as_deref().unwrap_or("-"),
                        l.message
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    let copy = move |_| {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&as_text());
            copied.set(true);
            set_timeout(move || copied.set(false), std::time::Duration::from_secs(2));
        }
    };
    let file_name = format!("{execution_id}.log");
    let download = move |_| download_text(&file_name, &as_text());

    view! {
        <section class="logs" aria-labelledby="logs-heading">
            <div class="section-header">
                <h2 id="logs-heading">"Logs"</h2>
                <span class="muted" role="status" aria-live="polite">
                    {move || status.get()} " · "
                    {move || format!("{} of {} lines", visible.with(Vec::len), lines.with(Vec::len))}
                    {move || copied.get().then_some(" · copied")}
                </span>
            </div>
            <div class="log-toolbar">
                <button type="button" class="button" aria-pressed=move || follow.get().to_string()
                    on:click=move |_| follow.update(|f| *f = !*f)>
                    {move || if follow.get() { "Following" } else { "Follow" }}
                </button>
                <label>"Minimum level "
                    <select prop:value=move || min_level.get() on:change=move |ev| min_level.set(event_target_value(&ev))>
                        {LEVELS.map(|l| view! { <option value=l>{l}</option> })}
                    </select>
                </label>
                <fieldset class="levels">
                    <legend class="visually-hidden">"Levels shown"</legend>
                    {LEVELS.map(|l| view! {
                        <label class=format!("level-toggle level-{l}")>
                            <input type="checkbox" prop:checked=move || shown_levels.with(|s| s.contains(l))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    shown_levels.update(|s| { if on { s.insert(l.to_owned()); } else { s.remove(l); } });
                                } />
                            {l}
                        </label>
                    })}
                </fieldset>
                <label>"Task "
                    <select prop:value=move || task.get() on:change=move |ev| task.set(event_target_value(&ev))>
                        <option value="">"All tasks"</option>
                        {move || tasks.get().into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label class="log-search">
                    <span class="visually-hidden">"Search the logs"</span>
                    <input type="search" placeholder="Search the logs" prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev)) />
                </label>
                <button type="button" class="button" on:click=copy>"Copy"</button>
                <button type="button" class="button" on:click=download>"Download"</button>
            </div>
            <div class="log-lines mono" node_ref=container on:scroll=on_scroll tabindex="0" role="log" aria-label="Log lines">
                <For each=move || visible.get() key=|l| l.id let(line)>
                    <div class=format!("log-line level-{}", line.level) data-id=line.id>
                        <time class="log-time">{local_time(line.at)}</time>
                        <span class="log-level">{line.level.clone()}</span>
                        <span class="log-task">{line.task_id.clone().unwrap_or_default()}</span>
                        <span class="log-message">{
                            let message = line.message.clone();
                            move || highlight(&message, &search.get())
                        }</span>
                    </div>
                </For>
            </div>
        </section>
    }
}

/// `HH:MM:SS.mmm` in the browser's time zone.
fn local_time(unix_ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_ms));
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        date.get_milliseconds()
    )
}

/// `text` with every case-insensitive occurrence of `needle` in `<mark>`.
fn highlight(text: &str, needle: &str) -> Vec<AnyView> {
    if needle.is_empty() {
        return vec![text.to_owned().into_any()];
    }
    let (lower, needle) = (text.to_lowercase(), needle.to_lowercase());
    // Lowercasing can change byte lengths outside ASCII; then no highlight.
    if lower.len() != text.len() {
        return vec![text.to_owned().into_any()];
    }
    let mut parts = Vec::new();
    let mut at = 0;
    for (start, _) in lower.match_indices(&needle) {
        if start < at {
            continue;
        }
        parts.push(text[at..start].to_owned().into_any());
        parts
            .push(view! { <mark>{text[start..start + needle.len()].to_owned()}</mark> }.into_any());
        at = start + needle.len();
    }
    parts.push(text[at..].to_owned().into_any());
    parts
}

fn download_text(file_name: &str, text: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/plain");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Ok(anchor) = document
        .create_element("a")
        .map(|a| a.unchecked_into::<web_sys::HtmlAnchorElement>())
    {
        anchor.set_href(&url);
        anchor.set_download(file_name);
        anchor.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
