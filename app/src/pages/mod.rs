//! One module per page.

pub(crate) mod account;
pub(crate) mod blueprints;
pub(crate) mod execution;
pub(crate) mod executions;
pub(crate) mod files;
pub(crate) mod flow;
pub(crate) mod flows;
pub(crate) mod home;
pub(crate) mod kv;
pub(crate) mod nodes;
pub(crate) mod secrets;
pub(crate) mod templates;
pub(crate) mod users;

use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for a path that matches no page, with a 404 status.
#[component]
pub(crate) fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <h1>"Page not found"</h1>
        <p>"There is no page at this address. " <a href="/flows">"Go to the flows."</a></p>
    }
}
