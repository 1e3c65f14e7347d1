//! The flow editor: Mortar's own, on a textarea, with highlighting, live
//! validation by `engine::flow` and completion.
//!
//! A transparent `<textarea>` lies over a `<pre>` that shows the same text
//! highlighted, in the same font, with the gutter and the marks (problems,
//! the current line, the find match) in layers that follow its scrolling.
//! The textarea keeps the browser's caret, selection, IME and clipboard.
//!
//! Speed: a keystroke re-highlights only the lines it changed (and the
//! lines after them while the block-scalar state differs), replaces only
//! those line elements, and validates the whole flow with
//! `engine::flow::parse`, the server's own validator. The DOM of the text
//! is written directly, not through reactive views: 2,000 reactive lines
//! would cost more than the work itself.

pub(crate) mod complete;
pub(crate) mod highlight;
pub(crate) mod text;

use engine::flow::Severity;
use engine::flow::model::Flow;
use leptos::prelude::*;

use complete::Completions;
use highlight::LineState;

/// Line height and padding in CSS pixels; `style/editor.css` uses the same.
const LINE_HEIGHT: f64 = 20.0;
const PAD_TOP: f64 = 8.0;
const PAD_LEFT: f64 = 12.0;
/// Typing within this many milliseconds is one undo step.
const UNDO_MERGE_MS: f64 = 800.0;
const UNDO_DEPTH: usize = 300;

/// A problem as the editor shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
    pub error: bool,
}

/// What the editor knows between keystrokes.
struct Doc {
    text: String,
    lines: Vec<String>,
    /// The highlighting state before each line, and after the last.
    states: Vec<LineState>,
    /// Undo history: text and selection (bytes); `at` is the current one.
    history: Vec<(String, usize, usize)>,
    at: usize,
    last_change: f64,
    /// The last source that parsed as a flow, for completion.
    flow: Option<Flow>,
    /// After Escape, Tab leaves the editor instead of indenting.
    tab_leaves: bool,
    find: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Popup {
    list: Completions,
    selected: usize,
    top: f64,
    left: f64,
}

/// The editor on `source`. `on_save` runs on Ctrl+S; setting `goto` to a
/// line and column moves the caret there.
#[component]
pub(crate) fn Editor(
    #[prop(into)] source: RwSignal<String>,
    #[prop(optional)] on_save: Option<Callback<()>>,
    #[prop(optional)] goto: Option<RwSignal<Option<(u32, u32)>>>,
    /// The caret's line and column, for the page (the docs panel).
    #[prop(optional)]
    cursor: Option<RwSignal<(u32, u32)>>,
    /// Any text rather than a flow (a namespace file): no validation and
    /// no completion, highlighting only.
    #[prop(optional)]
    plain: bool,
    /// What the text area is, for screen readers.
    #[prop(optional, into)]
    label: Option<String>,
) -> impl IntoView {
    let initial = source.get_untracked();
    // A flow is validated as the server validates it; plain text is not.
    let check = move |text: &str| {
        if plain {
            engine::flow::Parsed::default()
        } else {
            engine::flow::parse(text)
        }
    };
    let parsed = check(&initial);
    let problems = RwSignal::new(marks_of(&parsed.problems));
    let initial_marks = marks_html(&problems.get_untracked());
    let (html, states) = highlight::highlight_all(&initial);
    let initial_html = lines_html(&html);
    let line_count = RwSignal::new(html.len());
    let cursor = cursor.unwrap_or_else(|| RwSignal::new((1, 1)));
    let doc = StoredValue::new(Doc {
        lines: initial.split('\n').map(str::to_owned).collect(),
        text: initial.clone(),
        states: {
            let mut s = states;
            s.push(LineState::default());
            s
        },
        history: vec![(initial.clone(), 0, 0)],
        at: 0,
        last_change: 0.0,
        flow: parsed.flow,
        tab_leaves: false,
        find: Vec::new(),
    });
    let popup: RwSignal<Option<Popup>> = RwSignal::new(None);
    let hover: RwSignal<Option<(String, f64, f64)>> = RwSignal::new(None);
    let find_open = RwSignal::new(false);
    let find_query = RwSignal::new(String::new());
    let find_at: RwSignal<Option<usize>> = RwSignal::new(None);
    let find_mark: RwSignal<Option<(u32, u32, usize)>> = RwSignal::new(None);
    let version = RwSignal::new(0u64);

    let root: NodeRef<leptos::html::Div> = NodeRef::new();
    let area: NodeRef<leptos::html::Textarea> = NodeRef::new();
    let code: NodeRef<leptos::html::Code> = NodeRef::new();
    let marks: NodeRef<leptos::html::Div> = NodeRef::new();
    let layer: NodeRef<leptos::html::Div> = NodeRef::new();
    let gutter: NodeRef<leptos::html::Pre> = NodeRef::new();
    let measure: NodeRef<leptos::html::Div> = NodeRef::new();
    let find_input: NodeRef<leptos::html::Input> = NodeRef::new();

    let char_width = move || {
        measure
            .get_untracked()
            .map_or(7.8, |m| f64::from(m.offset_width()) / 100.0)
            .max(1.0)
    };

    // Everything a change of the text sets off, in one place.
    let refresh = move |new_text: String, merge: bool, caret: (usize, usize)| {
        let Some(code_el) = code.get_untracked() else {
            return;
        };
        let started = performance_now();
        let mut highlighted = started;
        let mut validated = started;
        doc.update_value(|d| {
            render_changes(d, &new_text, &code_el);
            highlighted = performance_now();
            let now = js_sys::Date::now();
            if merge
                && now - d.last_change < UNDO_MERGE_MS
                && d.at + 1 == d.history.len()
                && d.at > 0
            {
                d.history[d.at] = (new_text.clone(), caret.0, caret.1);
            } else {
                d.history.truncate(d.at + 1);
                d.history.push((new_text.clone(), caret.0, caret.1));
                if d.history.len() > UNDO_DEPTH {
                    d.history.remove(0);
                }
                d.at = d.history.len() - 1;
            }
            d.last_change = now;
            let parsed = check(&new_text);
            validated = performance_now();
            let list = marks_of(&parsed.problems);
            // Most keystrokes change no problem: then nothing is redrawn.
            if problems.with_untracked(|old| *old != list) {
                if let Some(m) = marks.get_untracked() {
                    m.set_inner_html(&marks_html(&list));
                }
                problems.set(list);
            }
            if parsed.flow.is_some() {
                d.flow = parsed.flow;
            }
            d.text = new_text;
        });
        let lines = doc.with_value(|d| d.lines.len());
        if line_count.get_untracked() != lines {
            line_count.set(lines);
        }
        if !find_query.with_untracked(String::is_empty) {
            find_query.update(|_| ());
        }
        version.update(|v| *v += 1);
        doc.with_value(|d| source.set(d.text.clone()));
        // What the last change cost, for end2end/bench/keystroke.mjs.
        if let Some(root) = root.get_untracked() {
            let _ = root.set_attribute(
                "data-highlight-ms",
                &format!("{:.2}", highlighted - started),
            );
            let _ = root.set_attribute(
                "data-validate-ms",
                &format!("{:.2}", validated - highlighted),
            );
        }
    };

    let update_cursor = move || {
        let Some(ta) = area.get_untracked() else {
            return;
        };
        let start = ta.selection_start().ok().flatten().unwrap_or(0);
        let position =
            doc.with_value(|d| text::line_col(&d.text, text::utf16_to_byte(&d.text, start)));
        cursor.set(position);
    };

    let selection = move || -> (usize, usize) {
        let Some(ta) = area.get_untracked() else {
            return (0, 0);
        };
        let start = ta.selection_start().ok().flatten().unwrap_or(0);
        let end = ta.selection_end().ok().flatten().unwrap_or(start);
        doc.with_value(|d| {
            (
                text::utf16_to_byte(&d.text, start),
                text::utf16_to_byte(&d.text, end),
            )
        })
    };

    let set_selection = move |start: usize, end: usize| {
        let Some(ta) = area.get_untracked() else {
            return;
        };
        doc.with_value(|d| {
            let _ = ta.set_selection_range(
                text::byte_to_utf16(&d.text, start),
                text::byte_to_utf16(&d.text, end),
            );
        });
    };

    let apply = move |edit: text::Edit| {
        let Some(ta) = area.get_untracked() else {
            return;
        };
        ta.set_value(&edit.text);
        let (start, end) = (edit.start, edit.end);
        refresh(edit.text, false, (start, end));
        set_selection(start, end);
        update_cursor();
    };

    let caret_xy = move |line: u32, column: u32| -> (f64, f64) {
        let Some(ta) = area.get_untracked() else {
            return (0.0, 0.0);
        };
        let top = PAD_TOP + f64::from(line) * LINE_HEIGHT - f64::from(ta.scroll_top());
        let left = PAD_LEFT + f64::from(column.saturating_sub(1)) * char_width()
            - f64::from(ta.scroll_left());
        (top, left)
    };

    let open_completion_at = move |explicit: bool, start: usize, end: usize| {
        if start != end || plain {
            popup.set(None);
            return;
        }
        let found = doc.with_value(|d| {
            let before = &d.text[text::line_start(&d.text, start)..start];
            if !explicit && !complete::auto_trigger(before) && popup.with_untracked(Option::is_none)
            {
                return None;
            }
            complete::complete(&d.text, start, d.flow.as_ref())
        });
        match found {
            Some(list) => {
                let (line, column) = doc.with_value(|d| text::line_col(&d.text, list.from));
                let (top, left) = caret_xy(line, column);
                popup.set(Some(Popup {
                    list,
                    selected: 0,
                    top,
                    left,
                }));
            }
            None => {
                if popup.with_untracked(Option::is_some) {
                    popup.set(None);
                }
            }
        }
    };
    let open_completion = move |explicit: bool| {
        let (start, end) = selection();
        open_completion_at(explicit, start, end);
    };

    let accept = move |index: usize| {
        let Some(p) = popup.get_untracked() else {
            return;
        };
        let Some(item) = p.list.items.get(index) else {
            return;
        };
        let edit = doc.with_value(|d| text::replace(&d.text, p.list.from, p.list.to, &item.insert));
        popup.set(None);
        apply(edit);
        open_completion(false);
    };

    let undo_redo = move |step: isize| {
        let target = doc.with_value(|d| {
            let at = d.at as isize + step;
            (at >= 0 && (at as usize) < d.history.len())
                .then(|| (at as usize, d.history[at as usize].clone()))
        });
        let Some((at, (text, start, end))) = target else {
            return;
        };
        let Some(ta) = area.get_untracked() else {
            return;
        };
        ta.set_value(&text);
        if let Some(code_el) = code.get_untracked() {
            doc.update_value(|d| {
                render_changes(d, &text, &code_el);
                d.at = at;
                d.text = text.clone();
            });
        }
        // Validate and publish like any change, without a new history entry.
        let parsed = check(&text);
        let list = marks_of(&parsed.problems);
        if let Some(m) = marks.get_untracked() {
            m.set_inner_html(&marks_html(&list));
        }
        problems.set(list);
        doc.update_value(|d| {
            if parsed.flow.is_some() {
                d.flow = parsed.flow;
            }
        });
        line_count.set(doc.with_value(|d| d.lines.len()));
        version.update(|v| *v += 1);
        source.set(text);
        set_selection(start, end);
        update_cursor();
    };

    let scroll_to_line = move |line: u32| {
        let Some(ta) = area.get_untracked() else {
            return;
        };
        let top = PAD_TOP + f64::from(line.saturating_sub(1)) * LINE_HEIGHT;
        let view = f64::from(ta.client_height());
        let current = f64::from(ta.scroll_top());
        if top < current || top + LINE_HEIGHT > current + view {
            ta.set_scroll_top((top - view / 3.0).max(0.0) as i32);
        }
    };

    let go_to = move |line: u32, column: u32| {
        let offset = doc.with_value(|d| text::offset_of(&d.text, line, column));
        if let Some(ta) = area.get_untracked() {
            let _ = ta.focus();
        }
        set_selection(offset, offset);
        scroll_to_line(line);
        update_cursor();
    };

    // Find: the matches follow the query and the text.
    Effect::new(move |_| {
        let query = find_query.get();
        version.track();
        let matches = doc.with_value(|d| text::find_all(&d.text, &query));
        let count = matches.len();
        doc.update_value(|d| d.find = matches);
        find_at.update(|at| {
            *at = if count == 0 {
                None
            } else {
                Some(at.unwrap_or(0).min(count - 1))
            };
        });
    });
    let show_match = move |index: usize, select: bool| {
        let Some((start, end)) = doc.with_value(|d| d.find.get(index).copied()) else {
            return;
        };
        find_at.set(Some(index));
        let (line, column) = doc.with_value(|d| text::line_col(&d.text, start));
        let width = doc.with_value(|d| d.text[start..end].chars().count());
        find_mark.set(Some((line, column, width)));
        scroll_to_line(line);
        if select {
            set_selection(start, end);
        }
    };
    let find_step = move |step: isize| {
        let count = doc.with_value(|d| d.find.len()) as isize;
        if count == 0 {
            find_mark.set(None);
            return;
        }
        let at = find_at
            .get_untracked()
            .map_or(if step > 0 { -1 } else { 0 }, |a| a as isize);
        show_match((at + step).rem_euclid(count) as usize, true);
    };
    let close_find = move || {
        find_open.set(false);
        find_mark.set(None);
        if let Some(ta) = area.get_untracked() {
            let _ = ta.focus();
        }
    };

    // The find box takes the focus once it is there.
    Effect::new(move |_| {
        if find_open.get()
            && let Some(input) = find_input.get()
        {
            // The value first, or the selection would cover an empty box.
            input.set_value(&find_query.get_untracked());
            let _ = input.focus();
            input.select();
        }
    });

    // The source set from outside (a revision restored, a blueprint): show it.
    Effect::new(move |_| {
        let outside = source.get();
        let Some(ta) = area.get() else { return };
        if doc.with_value(|d| d.text == outside) {
            return;
        }
        ta.set_value(&outside);
        refresh(outside, false, (0, 0));
    });

    if let Some(goto) = goto {
        Effect::new(move |_| {
            if area.get().is_none() {
                return;
            }
            if let Some((line, column)) = goto.get() {
                go_to(line, column);
                goto.set(None);
            }
        });
    }

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let key = ev.key();
        let ctrl = ev.ctrl_key() || ev.meta_key();
        if let Some(p) = popup.get_untracked() {
            let count = p.list.items.len();
            match key.as_str() {
                "ArrowDown" | "ArrowUp" => {
                    ev.prevent_default();
                    let step = if key == "ArrowDown" { 1 } else { count - 1 };
                    popup.update(|p| {
                        if let Some(p) = p {
                            p.selected = (p.selected + step) % count;
                        }
                    });
                    return;
                }
                "Enter" | "Tab" => {
                    ev.prevent_default();
                    accept(p.selected);
                    return;
                }
                "Escape" => {
                    ev.prevent_default();
                    popup.set(None);
                    return;
                }
                _ => {}
            }
        }
        let (start, end) = selection();
        match key.as_str() {
            "Tab" if !ctrl && !ev.alt_key() => {
                if doc.with_value(|d| d.tab_leaves) {
                    doc.update_value(|d| d.tab_leaves = false);
                    return;
                }
                ev.prevent_default();
                let edit = doc.with_value(|d| {
                    if ev.shift_key() {
                        text::dedent(&d.text, start, end)
                    } else {
                        text::indent(&d.text, start, end)
                    }
                });
                apply(edit);
            }
            "Enter" if !ctrl && !ev.shift_key() && !ev.alt_key() => {
                ev.prevent_default();
                let edit = doc.with_value(|d| text::newline(&d.text, start, end));
                apply(edit);
            }
            "/" if ctrl => {
                ev.prevent_default();
                let edit = doc.with_value(|d| text::toggle_comment(&d.text, start, end));
                apply(edit);
            }
            "z" | "Z" if ctrl => {
                ev.prevent_default();
                undo_redo(if ev.shift_key() { 1 } else { -1 });
            }
            "y" if ctrl => {
                ev.prevent_default();
                undo_redo(1);
            }
            "s" if ctrl => {
                ev.prevent_default();
                if let Some(save) = on_save {
                    save.run(());
                }
            }
            "f" if ctrl => {
                ev.prevent_default();
                if start != end {
                    let selected = doc.with_value(|d| d.text[start..end].to_owned());
                    if !selected.contains('\n') {
                        find_query.set(selected);
                    }
                }
                find_open.set(true);
                // Already open: the effect below does not run again.
                if let Some(input) = find_input.get_untracked() {
                    input.set_value(&find_query.get_untracked());
                    let _ = input.focus();
                    input.select();
                }
            }
            " " if ctrl => {
                ev.prevent_default();
                open_completion(true);
            }
            "Escape" => {
                doc.update_value(|d| d.tab_leaves = true);
                find_open.set(false);
                find_mark.set(None);
            }
            _ => {
                doc.update_value(|d| d.tab_leaves = false);
            }
        }
    };

    let on_input = move |_ev: leptos::ev::Event| {
        let started = performance_now();
        let Some(ta) = area.get_untracked() else {
            return;
        };
        let value = ta.value();
        let caret = {
            let start = ta.selection_start().ok().flatten().unwrap_or(0);
            let b = text::utf16_to_byte(&value, start);
            (b, b)
        };
        refresh(value, true, caret);
        let position = doc.with_value(|d| text::line_col(&d.text, caret.0));
        cursor.set(position);
        open_completion_at(false, caret.0, caret.1);
        if let Some(root) = root.get_untracked() {
            let _ = root.set_attribute(
                "data-input-ms",
                &format!("{:.2}", performance_now() - started),
            );
        }
    };

    let on_scroll = move |_ev: leptos::ev::Event| {
        let Some(ta) = area.get_untracked() else {
            return;
        };
        let (x, y) = (ta.scroll_left(), ta.scroll_top());
        if let Some(l) = layer.get_untracked() {
            let _ = web_sys::HtmlElement::style(&l)
                .set_property("transform", &format!("translate({}px, {}px)", -x, -y));
        }
        if let Some(g) = gutter.get_untracked() {
            let _ = web_sys::HtmlElement::style(&g)
                .set_property("transform", &format!("translateY({}px)", -y));
        }
        popup.set(None);
        hover.set(None);
    };

    let on_mousemove = move |ev: leptos::ev::MouseEvent| {
        let Some(ta) = area.get_untracked() else {
            return;
        };
        let y = f64::from(ev.offset_y()) + f64::from(ta.scroll_top()) - PAD_TOP;
        let x = f64::from(ev.offset_x()) + f64::from(ta.scroll_left()) - PAD_LEFT;
        let line = (y / LINE_HEIGHT).floor() as i64 + 1;
        let column = (x / char_width()).floor() as i64 + 1;
        let found = problems.with_untracked(|list| {
            list.iter()
                .find(|m| {
                    i64::from(m.line) == line
                        && column >= i64::from(m.column)
                        && (m.end_line > m.line
                            || column < i64::from(m.end_column.max(m.column + 1)))
                })
                .map(|m| m.message.clone())
        });
        match found {
            Some(message) => hover.set(Some((
                message,
                f64::from(ev.offset_y()) + 18.0,
                f64::from(ev.offset_x()),
            ))),
            None => {
                if hover.with_untracked(Option::is_some) {
                    hover.set(None);
                }
            }
        }
    };

    let gutter_text = Memo::new(move |_| {
        let n = line_count.get();
        let mut s = String::with_capacity(n * 5);
        for i in 1..=n {
            s.push_str(&i.to_string());
            s.push('\n');
        }
        s
    });
    let current_line_style = move || {
        let (line, _) = cursor.get();
        format!(
            "top: {}px",
            PAD_TOP + f64::from(line.saturating_sub(1)) * LINE_HEIGHT
        )
    };
    let find_style = move || match find_mark.get() {
        Some((line, column, width)) => format!(
            "top: {}px; left: calc({}ch + {PAD_LEFT}px); width: {}ch",
            PAD_TOP + f64::from(line.saturating_sub(1)) * LINE_HEIGHT,
            column.saturating_sub(1),
            width.max(1)
        ),
        None => "display: none".to_owned(),
    };
    let error_count = move || problems.with(|p| p.iter().filter(|m| m.error).count());
    let warning_count = move || problems.with(|p| p.iter().filter(|m| !m.error).count());
    let active_option =
        move || popup.with(|p| p.as_ref().map(|p| format!("completion-{}", p.selected)));

    let find_bar = view! {
            <Show when=move || find_open.get()>
                <div class="editor-find" role="search">
                    <label for="editor-find-input">"Find"</label>
                    <input
                        id="editor-find-input"
                        type="search"
                        node_ref=find_input
                        autocomplete="off"
                        prop:value=move || find_query.get()
                        on:input=move |ev| {
                            let query = event_target_value(&ev);
                            // The matches now, not when the effect runs: the step needs them.
                            doc.update_value(|d| d.find = text::find_all(&d.text, &query));
                            find_query.set(query);
                            find_at.set(None);
                            find_step(1);
                        }
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
                            "Enter" => {
                                ev.prevent_default();
                                find_step(if ev.shift_key() { -1 } else { 1 });
                            }
                            "Escape" => {
                                ev.prevent_default();
                                close_find();
                            }
                            _ => {}
                        }
                    />
                    <button type="button" class="button small" on:click=move |_| find_step(-1)>"Previous"</button>
                    <button type="button" class="button small" on:click=move |_| find_step(1)>"Next"</button>
                    <span class="muted small" role="status">
                        {move || {
                            version.track();
                            let count = doc.with_value(|d| d.find.len());
                            match (find_query.with(String::is_empty), find_at.get()) {
                                (true, _) => String::new(),
                                (false, _) if count == 0 => "No match".to_owned(),
                                (false, Some(at)) => format!("{} of {count}", at + 1),
                                (false, None) => format!("{count} matches"),
                            }
                        }}
                    </span>
                    <button type="button" class="button small" on:click=move |_| close_find()>"Close"</button>
                </div>
            </Show>
    }
    .into_any();
    let frame = view! {
            <div class="editor-frame">
                <div class="editor-gutter" aria-hidden="true">
                    <pre node_ref=gutter>{move || gutter_text.get()}</pre>
                </div>
                <div class="editor-view">
                    <div class="editor-layer" node_ref=layer aria-hidden="true">
                        <div class="editor-current-line" style=current_line_style></div>
                        <div class="editor-find-match" style=find_style></div>
                        <div class="editor-marks" node_ref=marks inner_html=initial_marks></div>
                        <div class="editor-measure" node_ref=measure></div>
                        <pre class="editor-highlight"><code node_ref=code inner_html=initial_html></code></pre>
                    </div>
                    <textarea
                        class="editor-input"
                        node_ref=area
                        aria-label=label.clone().unwrap_or_else(|| "Flow source (YAML)".to_owned())
                        aria-describedby="editor-help"
                        aria-autocomplete="list"
                        aria-controls="editor-completion"
                        aria-expanded=move || popup.with(Option::is_some).to_string()
                        aria-activedescendant=active_option
                        spellcheck="false"
                        autocapitalize="off"
                        autocomplete="off"
                        wrap="off"
                        on:input=on_input
                        on:keydown=on_keydown
                        on:keyup=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key().starts_with("Arrow") || ev.key() == "Home" || ev.key() == "End" || ev.key().starts_with("Page") {
                                update_cursor();
                            }
                        }
                        on:mouseup=move |_| {
                            update_cursor();
                            popup.set(None);
                        }
                        on:focus=move |_| update_cursor()
                        on:blur=move |_| doc.update_value(|d| d.tab_leaves = false)
                        on:scroll=on_scroll
                        on:mousemove=on_mousemove
                        on:mouseleave=move |_| hover.set(None)
                    >
                        {initial}
                    </textarea>
                    {move || {
                        popup.get().map(|p| {
                            let selected = p.selected;
                            view! {
                                <ul id="editor-completion" class="editor-completion" role="listbox" aria-label="Completions" style=format!("top: {}px; left: {}px", p.top, p.left.max(0.0))>
                                    {p.list.items.into_iter().enumerate().map(|(i, item)| {
                                        view! {
                                            <li
                                                id=format!("completion-{i}")
                                                role="option"
                                                aria-selected=(i == selected).to_string()
                                                class:selected=i == selected
                                                on:mousedown=move |ev: leptos::ev::MouseEvent| {
                                                    ev.prevent_default();
                                                    accept(i);
                                                }
                                            >
                                                <span class="completion-label">{item.label}</span>
                                                {item.required.then(|| view! { <span class="completion-required" title="required">" required"</span> })}
                                                <span class="completion-detail">{item.detail}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }
                        })
                    }}
                    {move || hover.get().map(|(message, top, left)| view! {
                        <div class="editor-hover" role="tooltip" style=format!("top: {top}px; left: {left}px")>{message}</div>
                    })}
                </div>
            </div>
    }
    .into_any();
    let status_bar = view! {
            <div class="editor-status">
                <span>{move || { let (l, c) = cursor.get(); format!("Line {l}, column {c}") }}</span>
                {(!plain).then(|| view! {
                    <span class=move || { if error_count() > 0 { "status-errors" } else { "status-ok" } }>
                        {move || match (error_count(), warning_count()) {
                            (0, 0) => "No problems".to_owned(),
                            (e, w) => format!("{e} error{}, {w} warning{}", plural(e), plural(w)),
                        }}
                    </span>
                })}
                <span id="editor-help" class="muted">{if plain {
                    "Ctrl+F finds, Ctrl+/ comments, Ctrl+S saves. Esc then Tab leaves the editor."
                } else {
                    "Ctrl+Space completes, Ctrl+F finds, Ctrl+/ comments, Ctrl+S saves. Esc then Tab leaves the editor."
                }}</span>
            </div>
    }
    .into_any();
    let problems_panel = view! {
            <section class="editor-problems" aria-label="Problems">
                <h2 class="visually-hidden">"Problems"</h2>
                {move || {
                    let list = problems.get();
                    if list.is_empty() {
                        return view! { <p class="muted small">"No problems."</p> }.into_any();
                    }
                    view! {
                        <ul class="problem-list">
                            {list.into_iter().map(|m| {
                                let (line, column) = (m.line, m.column);
                                view! {
                                    <li class=if m.error { "problem error-item" } else { "problem warning-item" }>
                                        <button type="button" class="link-button" on:click=move |_| go_to(line, column)>
                                            <span class="problem-severity">{if m.error { "Error" } else { "Warning" }}</span>
                                            <span class="problem-position">{format!("{line}:{column}")}</span>
                                            <span class="problem-message">{m.message}</span>
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
    }
    .into_any();
    view! {
        <div class="editor" node_ref=root data-version=move || version.get()>
            {find_bar}
            {frame}
            {status_bar}
            {(!plain).then_some(problems_panel)}
        </div>
    }
    .into_any()
}

/// Milliseconds from the page's time origin (browser only).
fn performance_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) fn marks_of(problems: &[engine::flow::Problem]) -> Vec<Mark> {
    problems
        .iter()
        .map(|p| Mark {
            line: p.line,
            column: p.column,
            end_line: p.end_line,
            end_column: p.end_column,
            message: p.message.clone(),
            error: p.severity == Severity::Error,
        })
        .collect()
}

/// The underlines of the problems, absolutely placed in character units.
fn marks_html(marks: &[Mark]) -> String {
    let mut out = String::new();
    for m in marks {
        let width = if m.end_line > m.line || m.end_column <= m.column {
            2
        } else {
            m.end_column - m.column
        };
        out.push_str(&format!(
            "<div class=\"mark {}\" data-line=\"{}\" style=\"top: {}px; left: calc({}ch + {PAD_LEFT}px); width: {}ch\"></div>",
            if m.error { "mark-error" } else { "mark-warning" },
            m.line,
            PAD_TOP + f64::from(m.line.saturating_sub(1)) * LINE_HEIGHT,
            m.column.saturating_sub(1),
            width
        ));
    }
    out
}

fn lines_html(lines: &[String]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 12).sum());
    for line in lines {
        out.push_str("<div>");
        out.push_str(line);
        out.push_str("</div>");
    }
    out
}

/// Re-highlights what changed between `d.lines` and `new_text` and puts it
/// into the code element, one element per line.
fn render_changes(d: &mut Doc, new_text: &str, code: &web_sys::HtmlElement) {
    let new_lines: Vec<&str> = new_text.split('\n').collect();
    let (prefix, old_end, new_end) = text::changed_lines(&d.lines, &new_lines);
    let children = code.children();
    // The DOM is not what we think (first render after hydration): redo all.
    let whole = children.length() as usize != d.lines.len();
    let (prefix, old_end, new_end) = if whole {
        (0, d.lines.len(), new_lines.len())
    } else {
        (prefix, old_end, new_end)
    };
    let mut state = d.states.get(prefix).copied().unwrap_or_default();
    let mut html = String::new();
    let mut new_states = Vec::with_capacity(new_end - prefix);
    for line in &new_lines[prefix..new_end] {
        new_states.push(state);
        html.push_str("<div>");
        state = highlight::highlight_line(line, state, &mut html);
        html.push_str("</div>");
    }
    if whole {
        code.set_inner_html(&html);
    } else {
        for _ in prefix..old_end {
            if let Some(child) = children.item(prefix as u32) {
                child.remove();
            }
        }
        match children.item(prefix as u32) {
            Some(next) => {
                let _ = next.insert_adjacent_html("beforebegin", &html);
            }
            None => {
                let _ = code.insert_adjacent_html("beforeend", &html);
            }
        }
    }
    d.states.splice(prefix..old_end, new_states);
    d.lines.splice(
        prefix..old_end,
        new_lines[prefix..new_end].iter().map(|l| (*l).to_owned()),
    );
    // The lines after the change, while their starting state differs.
    let mut i = new_end;
    while i < new_lines.len() && d.states.get(i).copied() != Some(state) {
        d.states[i] = state;
        let mut out = String::new();
        state = highlight::highlight_line(new_lines[i], state, &mut out);
        if let Some(child) = children.item(i as u32) {
            child.set_inner_html(&out);
        }
        i += 1;
    }
    if i == new_lines.len() {
        d.states.truncate(new_lines.len());
        d.states.push(state);
    }
}
