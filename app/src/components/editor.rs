//! The flow editor: Mortar's own, on a textarea, with highlighting, live
//! validation by `engine::flow` and completion.

use leptos::prelude::*;

// FIXME(issue 7): the editor itself; until then a plain textarea.
#[component]
pub(crate) fn Editor(#[prop(into)] source: RwSignal<String>) -> impl IntoView {
    view! {
        <textarea class="editor-plain" spellcheck="false" prop:value=move || source.get()
            on:input=move |ev| source.set(event_target_value(&ev))></textarea>
    }
}
