//! Mortar's web app: the page shell, the layout and the pages. Compiled twice:
//! with `ssr` into the server, which renders every page, and with `hydrate`
//! into the browser bundle, which makes the rendered page interactive.
//!
//! Components display; the rules live in `engine`. Server functions are thin:
//! they take the store from context and call one engine function.

pub mod auth;
mod components;
#[cfg(feature = "ssr")]
mod context;
mod layout;
mod pages;
mod time;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
    path,
};

pub use pages::flows::{FlowRow, search_flows};

/// The HTML document around every page, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(policy) =
        http::HeaderValue::from_str(&auth::content_security_policy(Some(&nonce)))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
    }
    // What the browser side needs of the session: who it is (to hide what
    // their roles cannot do) and the token its requests carry.
    let me = auth::me().and_then(|me| serde_json::to_string(&me).ok());
    let csrf = auth::csrf();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <meta name=auth::USER_META content=me />
                <meta name=auth::CSRF_META content=csrf />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: layout and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: the mark tells
    // browser tests (and curious users) that the page is interactive.
    Effect::new(|| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="mortar" href="/pkg/mortar.css" />
        <Title formatter=|page: String| if page.is_empty() { "Mortar".to_owned() } else { format!("{page} · Mortar") } />
        <Router>
            <layout::Layout>
                <Routes fallback=pages::NotFound>
                    // In order: the HTML is whole without JavaScript (the
                    // default out-of-order stream needs a script to place
                    // the data), and the data comes from a local query.
                    <Route path=StaticSegment("") view=pages::home::HomePage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("flows") view=pages::flows::FlowsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/flows/new") view=pages::flow::NewFlowPage ssr=SsrMode::InOrder />
                    // Async: the whole page is rendered before the headers go, so a
                    // missing flow or execution is a real 404.
                    <Route path=path!("/flows/:namespace/:id/:tab?") view=pages::flow::FlowPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("executions") view=pages::executions::ExecutionsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/executions/:id") view=pages::execution::ExecutionPage ssr=SsrMode::Async />
                    <Route path=path!("/namespaces/:namespace/kv") view=pages::kv::KvPage ssr=SsrMode::InOrder />
                    <Route path=path!("/namespaces/:namespace/files") view=pages::files::FilesPage ssr=SsrMode::InOrder />
                    <Route path=path!("/namespaces/:namespace/secrets") view=pages::secrets::SecretsPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("blueprints") view=pages::blueprints::BlueprintsPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("templates") view=pages::templates::TemplatesPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("account") view=pages::account::AccountPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("users") view=pages::users::UsersPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("audit") view=pages::users::AuditPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("nodes") view=pages::nodes::NodesPage ssr=SsrMode::InOrder />
                </Routes>
            </layout::Layout>
        </Router>
    }
}
