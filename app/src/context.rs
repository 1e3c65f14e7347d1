//! What server functions take from the server: the store and the other
//! engine services put in the context by `server::router`, and one way to
//! turn an engine error into an answer that reveals nothing (the details go
//! to the server log).

use leptos::prelude::*;

/// A service from the context; `what` names it in the error.
pub(crate) fn service<T: Clone + Send + Sync + 'static>(what: &str) -> Result<T, ServerFnError> {
    use_context::<T>().ok_or_else(|| ServerFnError::new(format!("{what} is not available")))
}

pub(crate) fn store() -> Result<engine::store::Store, ServerFnError> {
    service("the store")
}

/// `what` failed: logged with the error, answered without it.
pub(crate) fn failed(what: &str, error: impl std::fmt::Display) -> ServerFnError {
    tracing::error!(%error, "{what} failed");
    ServerFnError::new(format!("{what} failed; the server log has the details"))
}
