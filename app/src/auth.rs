//! The logged-in user on both sides: the server finds them in the request
//! (put there by the server's authentication), the browser reads what the
//! page was rendered with. Pages hide what the user's roles cannot do; the
//! server functions refuse it with [`require`].
//!
//! Every server function is declared with `client = crate::auth::Client`,
//! which sends the page's CSRF token with each call.

use engine::auth::{Grant, Role};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who the page is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: String,
    pub grants: Vec<Grant>,
}

impl Me {
    pub fn can(&self, role: Role, namespace: Option<&str>) -> bool {
        self.grants
            .iter()
            .any(|g| g.role >= role && g.covers(namespace))
    }
}

/// The meta tags that carry the user and the CSRF token to the browser.
pub const USER_META: &str = "mortar-user";
pub const CSRF_META: &str = "csrf-token";

/// The user of this page, if any: from the request on the server, from the
/// page's meta tag in the browser.
pub fn me() -> Option<Me> {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<engine::auth::Principal>().cloned())
            .map(|p| Me {
                user: p.user,
                grants: p.grants,
            })
    }
    #[cfg(not(feature = "ssr"))]
    {
        meta(USER_META).and_then(|json| serde_json::from_str(&json).ok())
    }
}

/// Whether the page's user holds `role` on `namespace`.
pub fn can(role: Role, namespace: Option<&str>) -> bool {
    me().is_some_and(|me| me.can(role, namespace))
}

/// The CSRF token of this page's session.
pub fn csrf() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>().and_then(|parts| {
            parts
                .extensions
                .get::<engine::auth::Principal>()
                .and_then(|p| p.csrf().map(str::to_owned))
        })
    }
    #[cfg(not(feature = "ssr"))]
    {
        meta(CSRF_META)
    }
}

#[cfg(not(feature = "ssr"))]
fn meta(name: &str) -> Option<String> {
    let element = web_sys::window()?
        .document()?
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()??;
    element.get_attribute("content")
}

/// The caller of a server function, refused (403, naming the role) unless
/// they hold `role` on `namespace` (`None`: every namespace).
#[cfg(feature = "ssr")]
pub fn require(
    role: Role,
    namespace: Option<&str>,
) -> Result<engine::auth::Principal, ServerFnError> {
    let principal = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<engine::auth::Principal>().cloned())
        .ok_or_else(|| refuse(http::StatusCode::UNAUTHORIZED, "log in first".to_owned()))?;
    principal
        .require(role, namespace)
        .map_err(|denied| refuse(http::StatusCode::FORBIDDEN, denied.to_string()))?;
    Ok(principal)
}

/// The caller of a server function that any user may call.
#[cfg(feature = "ssr")]
pub fn require_any() -> Result<engine::auth::Principal, ServerFnError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<engine::auth::Principal>().cloned())
        .ok_or_else(|| refuse(http::StatusCode::UNAUTHORIZED, "log in first".to_owned()))
}

#[cfg(feature = "ssr")]
fn refuse(status: http::StatusCode, message: String) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    ServerFnError::new(message)
}

/// Writes what the caller of a server function did to the audit log.
#[cfg(feature = "ssr")]
pub async fn audit(
    principal: &engine::auth::Principal,
    action: &str,
    namespace: Option<&str>,
    target: Option<&str>,
    detail: Option<serde_json::Value>,
) {
    let Ok(store) = crate::context::store() else {
        return;
    };
    let address = use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .extensions
            .get::<engine::auth::Address>()
            .map(|a| a.0.to_string())
    });
    let entry = engine::store::NewAudit {
        actor: principal.user.clone(),
        action: action.to_owned(),
        namespace: namespace.map(str::to_owned),
        target: target.map(str::to_owned),
        address,
        detail,
    };
    if let Err(error) = store.audit(entry).await {
        tracing::error!(%error, action, "cannot write the audit log");
    }
}

/// The browser's server-function client with the page's CSRF token added
/// to each call.
pub struct Client;

impl<E, IS, OS> leptos::server_fn::client::Client<E, IS, OS> for Client
where
    E: leptos::server_fn::error::FromServerFnError,
    IS: leptos::server_fn::error::FromServerFnError,
    OS: leptos::server_fn::error::FromServerFnError,
{
    type Request = leptos::server_fn::request::browser::BrowserRequest;
    type Response = leptos::server_fn::response::browser::BrowserResponse;

    fn send(request: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        if let Some(token) = csrf() {
            request.headers().set(CSRF_HEADER, &token);
        }
        <leptos::server_fn::client::browser::BrowserClient as leptos::server_fn::client::Client<
            E,
            IS,
            OS,
        >>::send(request)
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<Item = Result<leptos::server_fn::Bytes, leptos::server_fn::Bytes>>
                + Send
                + 'static,
                impl futures::Sink<leptos::server_fn::Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <leptos::server_fn::client::browser::BrowserClient as leptos::server_fn::client::Client<
            E,
            IS,
            OS,
        >>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <leptos::server_fn::client::browser::BrowserClient as leptos::server_fn::client::Client<
            E,
            IS,
            OS,
        >>::spawn(future)
    }
}

/// The Content-Security-Policy of Mortar's answers: scripts only from this
/// site, inline ones only with this page's nonce (Leptos's hydration and
/// streaming scripts carry it), the wasm bundle, no frames, no plugins.
/// Without a nonce (answers that are not rendered pages) no inline script
/// runs at all.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )
}

/// The header that carries the CSRF token (the server checks it on every
/// state-changing request of a session).
pub const CSRF_HEADER: &str = "x-csrf-token";
