//! The frame shared by every page: header, navigation, main area.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub(crate) fn Layout(children: Children) -> impl IntoView {
    let me = crate::auth::me();
    let admin = me
        .as_ref()
        .is_some_and(|m| m.can(engine::auth::Role::Admin, None));
    let csrf = crate::auth::csrf().unwrap_or_default();
    let user = me.map(|m| view! {
        <div class="user-menu">
            <a href="/account" class="user-name" title="Your account: password and API tokens">{m.user}</a>
            // A plain form: logging out works before the bundle loads.
            <form method="post" action="/logout">
                <input type="hidden" name="csrf" value=csrf />
                <button type="submit" class="button">"Log out"</button>
            </form>
        </div>
    });
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
                    <li><A href="/templates">"Templates"</A></li>
                    {admin.then(|| view! {
                        <li><A href="/users">"Users"</A></li>
                        <li><A href="/audit">"Audit"</A></li>
                        <li><A href="/nodes">"Nodes"</A></li>
                    })}
                </ul>
            </nav>
            {user}
        </header>
        <main id="main" class="content">{children()}</main>
    }
}
