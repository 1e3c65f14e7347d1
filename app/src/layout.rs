//! The frame shared by every page: header, navigation, main area.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub(crate) fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"▦"</span>
                "Mortar"
            </a>
            <nav aria-label="Main">
                <ul>
                    <li><A href="/" exact=true>"Dashboard"</A></li>
                    <li><A href="/flows">"Flows"</A></li>
                    <li><A href="/executions">"Executions"</A></li>
                    <li><A href="/blueprints">"Blueprints"</A></li>
                </ul>
            </nav>
        </header>
        <main id="main" class="content">{children()}</main>
    }
}
