//! Mortar's task engine: the flow model and its validation (also built for
//! wasm32, for the browser editor), and, behind the `runtime` feature, the
//! store, the executor and the tasks.

pub mod blueprints;
pub mod flow;
pub mod header;
pub mod ids;

#[cfg(feature = "runtime")]
pub mod store;
