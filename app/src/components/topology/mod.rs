//! The topology: a flow's tasks as a layered graph in SVG, computed from the
//! YAML by `engine::flow::graph` and laid out by [`layout`], with live
//! states on an execution's page.
//!
//! It renders on the server too. In the browser it follows its source a
//! moment after the last change, so typing in the editor does not parse
//! twice per keystroke; a source that is not a flow keeps the last graph.
//! A graph past [`layout::MAX_DRAWN`] is not drawn: a message says so and
//! the rest of the page works as usual.

pub(crate) mod layout;

use std::collections::HashMap;

use engine::flow::graph::{EdgeKind, Section};
use leptos::prelude::*;

use layout::{Layout, MAX_DRAWN, Placed, Shape, TooBig};

type Drag = (f64, f64, (f64, f64));

/// Margin around the graph in the SVG, in its units.
const MARGIN: f64 = 16.0;

/// `states` maps a task id to its current state (`RUNNING`, `SUCCESS`...);
/// `on_select` gets the task id of a clicked node.
#[component]
pub(crate) fn Topology(
    #[prop(into)] source: Signal<String>,
    #[prop(optional, into)] states: Option<Signal<HashMap<String, String>>>,
    #[prop(optional)] on_select: Option<Callback<String>>,
) -> impl IntoView {
    let settled = RwSignal::new(source.get_untracked());
    // The browser lays out again 150 ms after the last change; the server
    // renders the source it has.
    let pending: StoredValue<Option<TimeoutHandle>> = StoredValue::new(None);
    Effect::new(move |first: Option<()>| {
        let text = source.get();
        if first.is_none() && settled.with_untracked(|s| *s == text) {
            return;
        }
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        let handle = set_timeout_with_handle(
            move || settled.set(text),
            std::time::Duration::from_millis(150),
        )
        .ok();
        pending.set_value(handle);
    });
    let graph = Memo::new(move |previous: Option<&Option<Result<Layout, TooBig>>>| {
        settled
            .with(|s| lay_out(s))
            .or_else(|| previous.cloned().flatten())
    });
    let drawn = move || graph.get().and_then(Result::ok);
    let zoom = RwSignal::new(1.0_f64);
    let center: RwSignal<Option<(f64, f64)>> = RwSignal::new(None);
    // Where a drag started: the pointer, and the centre of the view then.
    let drag: StoredValue<Option<Drag>> = StoredValue::new(None);

    let base = move || {
        graph.with(|g| match g {
            Some(Ok(g)) => (g.width, g.height),
            _ => (0.0, 0.0),
        })
    };
    let view_box = move || {
        let (w, h) = base();
        let (bw, bh) = (w + 2.0 * MARGIN, h + 2.0 * MARGIN);
        let z = zoom.get();
        let (vw, vh) = (bw / z, bh / z);
        let (cx, cy) = center.get().unwrap_or((w / 2.0, h / 2.0));
        (cx - vw / 2.0, cy - vh / 2.0, vw, vh)
    };
    let view_box_attr = move || {
        let (x, y, w, h) = view_box();
        format!("{x:.1} {y:.1} {w:.1} {h:.1}")
    };
    let zoom_by = move |factor: f64| zoom.update(|z| *z = (*z * factor).clamp(0.2, 5.0));
    let pan_by = move |dx: f64, dy: f64| {
        let (x, y, w, h) = view_box();
        center.set(Some((x + w / 2.0 + dx, y + h / 2.0 + dy)));
    };
    let fit = move || {
        zoom.set(1.0);
        center.set(None);
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let (_, _, w, h) = view_box();
        let handled = match ev.key().as_str() {
            "+" | "=" => {
                zoom_by(1.25);
                true
            }
            "-" => {
                zoom_by(0.8);
                true
            }
            "0" => {
                fit();
                true
            }
            "ArrowLeft" => {
                pan_by(-w / 10.0, 0.0);
                true
            }
            "ArrowRight" => {
                pan_by(w / 10.0, 0.0);
                true
            }
            "ArrowUp" => {
                pan_by(0.0, -h / 10.0);
                true
            }
            "ArrowDown" => {
                pan_by(0.0, h / 10.0);
                true
            }
            _ => false,
        };
        if handled {
            ev.prevent_default();
        }
    };
    let height = move || {
        let (_, h) = base();
        format!("height: min(72vh, {:.0}px)", (h + 2.0 * MARGIN).max(120.0))
    };

    view! {
        <div
            class="topology"
            data-nodes=move || {
                graph.with(|g| match g {
                    Some(Ok(g)) => g.nodes.len(),
                    _ => 0,
                })
            }
        >
            <div class="topology-tools" role="toolbar" aria-label="Topology view">
                <button type="button" class="button small" on:click=move |_| zoom_by(1.25) aria-label="Zoom in">"+"</button>
                <button type="button" class="button small" on:click=move |_| zoom_by(0.8) aria-label="Zoom out">"−"</button>
                <button type="button" class="button small" on:click=move |_| fit()>"Fit"</button>
                <span class="muted small">"Drag or use the arrow keys to pan; + and − zoom."</span>
                {move || {
                    let hidden = graph.with(|g| match g {
                        Some(Ok(g)) => g.hidden,
                        _ => 0,
                    });
                    (hidden > 0).then(|| view! { <span class="muted small topology-hidden" role="note">{hidden_note(hidden)}</span> })
                }}
            </div>
            {move || {
                graph.with(|g| match g {
                    None => Some(view! { <p class="muted topology-empty">"The topology appears once the flow has tasks."</p> }.into_any()),
                    Some(Err(too_big)) => Some(view! { <p class="topology-too-big" role="status">{too_big_message(*too_big)}</p> }.into_any()),
                    Some(Ok(_)) => None,
                })
            }}
            <svg
                class="topology-canvas"
                role="group"
                aria-label="Topology of the flow"
                tabindex="0"
                style=height
                viewBox=view_box_attr
                on:keydown=on_key
                on:pointerdown=move |ev: leptos::ev::PointerEvent| {
                    // A press on a node selects it; only the background pans.
                    if target_in_node(&ev) {
                        return;
                    }
                    let (x, y, w, h) = view_box();
                    drag.set_value(Some((f64::from(ev.client_x()), f64::from(ev.client_y()), (x + w / 2.0, y + h / 2.0))));
                }
                on:pointermove=move |ev: leptos::ev::PointerEvent| {
                    let Some((sx, sy, (cx, cy))) = drag.get_value() else { return };
                    let Some(width) = svg_width(&ev) else { return };
                    let (_, _, w, _) = view_box();
                    let scale = w / width.max(1.0);
                    center.set(Some((cx - (f64::from(ev.client_x()) - sx) * scale, cy - (f64::from(ev.client_y()) - sy) * scale)));
                }
                on:pointerup=move |_| drag.set_value(None)
                on:pointerleave=move |_| drag.set_value(None)
                on:wheel=move |ev: leptos::ev::WheelEvent| {
                    if ev.ctrl_key() || ev.meta_key() {
                        ev.prevent_default();
                        zoom_by(if ev.delta_y() < 0.0 { 1.1 } else { 0.9 });
                    }
                }
            >
                <defs>
                    <marker id="topology-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M0,0 L10,5 L0,10 z" class="topology-arrow" />
                    </marker>
                </defs>
                {move || drawn().map(|g| view! { <Drawing layout=g states on_select /> })}
            </svg>
        </div>
    }
    .into_any()
}

/// Parses and lays out a flow; `None` if the source is not a flow.
///
/// On the server this runs inside a page's render, on an async worker, and
/// stays there: a Leptos render is synchronous, so `spawn_blocking` (which
/// needs an await) cannot be used, and `block_in_place` made Leptos panic
/// ("a reactive value that has already been disposed", in every run of
/// `cargo bench -p server --bench topology_page`) because the request's
/// other tasks then run on other threads while it renders. The work is kept
/// small instead: linear in what is drawn and bounded by [`MAX_DRAWN`].
fn lay_out(source: &str) -> Option<Result<Layout, TooBig>> {
    engine::flow::parse(source)
        .flow
        .map(|flow| layout::layout(&engine::flow::graph::graph(&flow)))
}

/// The note under the toolbar when the reduction left edges out.
fn hidden_note(hidden: usize) -> String {
    match hidden {
        1 => "1 implied dependency not drawn: a longer path already leads there.".to_owned(),
        n => format!(
            "{} implied dependencies not drawn: a longer path already leads there.",
            thousands(n)
        ),
    }
}

/// What the topology says instead of a graph past the limit.
fn too_big_message(too_big: TooBig) -> String {
    format!(
        "This topology is not drawn: its {} tasks need more than {} shapes (boxes, edges and the rows edges pass through), the most one page draws. \
         The rest of the flow works as usual. To see its shape, split it into subflows (io.kestra.plugin.core.flow.Subflow); \
         to draw bigger graphs, raise MAX_DRAWN in app/src/components/topology/layout.rs and rebuild Mortar.",
        thousands(too_big.tasks),
        thousands(MAX_DRAWN)
    )
}

/// 12345 as "12,345".
fn thousands(n: usize) -> String {
    engine::flow::pebble::group_thousands(&n.to_string())
}

#[component]
fn Drawing(
    layout: Layout,
    states: Option<Signal<HashMap<String, String>>>,
    on_select: Option<Callback<String>>,
) -> impl IntoView {
    let sections = layout
        .sections
        .iter()
        .map(|s| {
            let title = if s.section == Section::Errors { "On error" } else { "Finally" };
            view! {
                <g class=format!("topology-section section-{}", if s.section == Section::Errors { "errors" } else { "finally" })>
                    <rect x=s.x y=s.y width=s.w height=s.h rx="10" />
                    <text x=s.x + 4.0 y=s.y - 8.0 class="section-title">{title}</text>
                </g>
            }
        })
        .collect_view();
    let groups = layout
        .groups
        .iter()
        .map(|g| {
            let state = state_of(states, g.task_id.clone());
            view! { <rect class=move || format!("topology-group {}", state_class(&state())) x=g.x y=g.y width=g.w height=g.h rx="8" /> }
        })
        .collect_view();
    let edges = layout
        .edges
        .iter()
        .map(|e| {
            let kind = match e.kind {
                EdgeKind::Sequence => "sequence",
                EdgeKind::Dependency => "dependency",
                EdgeKind::Branch => "branch",
                EdgeKind::Error => "error",
                EdgeKind::Finally => "finally",
            };
            let label = e.label.clone().map(|label| {
                view! { <text class="edge-label" x=e.label_at.0 + 4.0 y=e.label_at.1 + 4.0>{label}</text> }
            });
            view! {
                <path class=format!("topology-edge edge-{kind}") d=e.path() marker-end="url(#topology-arrow)" data-from=e.from.clone() data-to=e.to.clone() />
                {label}
            }
        })
        .collect_view();
    let nodes = layout
        .nodes
        .into_iter()
        .map(|n| view! { <NodeView node=n states on_select /> })
        .collect_view();
    view! { {sections} {groups} {edges} {nodes} }
}

#[component]
fn NodeView(
    node: Placed,
    states: Option<Signal<HashMap<String, String>>>,
    on_select: Option<Callback<String>>,
) -> impl IntoView {
    let Placed {
        uid,
        shape,
        task_id,
        task_type,
        x,
        y,
        w,
        h,
        ..
    } = node;
    match shape {
        Shape::Start | Shape::End => {
            let label = match uid.as_str() {
                "root.start" => "start",
                "root.end" => "end",
                "errors.start" => "on error",
                _ => "finally",
            };
            view! {
                <g class="topology-terminal" aria-hidden="true">
                    <rect x=x y=y width=w height=h rx=h / 2.0 />
                    <text x=x + w / 2.0 y=y + h / 2.0 + 4.0 text-anchor="middle">{label}</text>
                </g>
            }
            .into_any()
        }
        Shape::Junction => view! { <circle class="topology-junction" cx=x + w / 2.0 cy=y + h / 2.0 r=w / 2.0 aria-hidden="true" /> }.into_any(),
        Shape::Task | Shape::Group => {
            let id = task_id.unwrap_or_default();
            let full_type = task_type.unwrap_or_default();
            let short_type = engine::flow::task_type(&full_type).map_or(full_type.clone(), |t| t.alias.to_owned());
            let state = state_of(states, id.clone());
            let class = {
                let state = state.clone();
                move || {
                let kind = if shape == Shape::Group { "group-header" } else { "task" };
                format!("topology-node {kind} {}", state_class(&state()))
            }};
            let label = {
                let (id, short_type, state) = (id.clone(), short_type.clone(), state.clone());
                move || match state() {
                    Some(s) => format!("{id}, {short_type}, {s}"),
                    None => format!("{id}, {short_type}"),
                }
            };
            let select = {
                let id = id.clone();
                move || {
                    if let Some(cb) = on_select {
                        cb.run(id.clone());
                    }
                }
            };
            let select_key = select.clone();
            let has_state = states.is_some();
            let state_text = {
                let state = state.clone();
                move || state().map(|s| view! { <text class="node-state" x=x + w - 8.0 y=y + 19.0 text-anchor="end">{s}</text> })
            };
            view! {
                <g
                    class=class
                    role="button"
                    tabindex="0"
                    data-task-id=id.clone()
                    aria-label=label
                    on:click=move |_| select()
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Enter" || ev.key() == " " {
                            ev.prevent_default();
                            ev.stop_propagation();
                            select_key();
                        }
                    }
                >
                    <title>{format!("{id}\n{full_type}")}</title>
                    <rect x=x y=y width=w height=h rx="6" />
                    <text class="node-id" x=x + 10.0 y=y + 20.0>{truncate(&id, if has_state { 16 } else { 26 })}</text>
                    <text class="node-type" x=x + 10.0 y=y + 39.0>{truncate(&short_type, 29)}</text>
                    {state_text}
                </g>
            }
            .into_any()
        }
    }
}

/// The state of one task, following the states signal.
fn state_of(
    states: Option<Signal<HashMap<String, String>>>,
    id: String,
) -> impl Fn() -> Option<String> + Clone + Send + Sync + 'static {
    move || states.and_then(|s| s.with(|m| m.get(&id).cloned()))
}

fn state_class(state: &Option<String>) -> String {
    match state {
        Some(s) => format!("state-{}", s.to_ascii_lowercase()),
        None => String::new(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

fn target_in_node(ev: &leptos::ev::PointerEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest(".topology-node").ok().flatten())
        .is_some()
}

fn svg_width(ev: &leptos::ev::PointerEvent) -> Option<f64> {
    use wasm_bindgen::JsCast;
    let element = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
    Some(element.get_bounding_client_rect().width())
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn renders_on_the_server_with_states() {
        let owner = Owner::new();
        owner.set();
        let source = include_str!("../../../../blueprints/databricks_dag.yml").to_owned();
        let states: HashMap<String, String> = [
            ("cluster".to_owned(), "SUCCESS".to_owned()),
            ("upload".to_owned(), "RUNNING".to_owned()),
        ]
        .into();
        let html =
            view! { <Topology source=Signal::stored(source) states=Signal::stored(states) /> }
                .to_html();
        assert!(html.contains(r#"data-task-id="cluster""#), "{html}");
        assert!(html.contains("topology-node task state-success"), "{html}");
        assert!(html.contains("topology-node task state-running"), "{html}");
        assert!(html.contains(">RUNNING</text>"), "{html}");
    }

    #[test]
    fn half_typed_flows_never_panic() {
        // Every prefix of every blueprint, as if typed line by line.
        for blueprint in engine::blueprints::all() {
            let lines: Vec<&str> = blueprint.source.lines().collect();
            for n in 0..=lines.len() {
                let source = lines[..n].join("\n");
                if let Some(flow) = engine::flow::parse(&source).flow {
                    let _ = layout::layout(&engine::flow::graph::graph(&flow)).expect("drawn");
                }
            }
        }
        let owner = Owner::new();
        owner.set();
        let html = view! { <Topology source=Signal::stored("tasks: [".to_owned()) /> }.to_html();
        assert!(
            html.contains("The topology appears once the flow has tasks."),
            "{html}"
        );
    }

    #[test]
    fn says_what_it_does_not_draw() {
        let owner = Owner::new();
        owner.set();
        let mut dense = String::from(
            "id: f\nnamespace: n\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n",
        );
        for i in 0..30 {
            dense.push_str(&format!("      - task:\n          id: t{i}\n          type: io.kestra.plugin.core.log.Log\n          message: m\n"));
            if i > 0 {
                let deps: Vec<String> = (0..i).map(|d| format!("t{d}")).collect();
                dense.push_str(&format!("        dependsOn: [{}]\n", deps.join(", ")));
            }
        }
        let html = view! { <Topology source=Signal::stored(dense) /> }.to_html();
        // 435 dependencies, 29 of them drawn.
        assert!(
            html.contains("406 implied dependencies not drawn"),
            "{html}"
        );

        let mut line = String::from("id: f\nnamespace: n\ntasks:\n");
        // A box and an edge per task: past the limit at half as many tasks.
        for i in 0..MAX_DRAWN / 2 + 10 {
            line.push_str(&format!(
                "  - id: t{i}\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
            ));
        }
        let html = view! { <Topology source=Signal::stored(line) /> }.to_html();
        assert!(
            html.contains(
                "This topology is not drawn: its 10,010 tasks need more than 20,000 shapes"
            ),
            "{}",
            &html[..2000.min(html.len())]
        );
        assert!(!html.contains("data-task-id"));
    }
}
