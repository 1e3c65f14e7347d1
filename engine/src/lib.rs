//! Mortar's task engine: the flow model and its validation (also built for
//! wasm32, for the browser editor), and, behind the `runtime` feature, the
//! store, the executor and the tasks.

pub mod auth;
pub mod base_url;
pub mod blueprints;
pub mod flow;
pub mod header;
pub mod ids;
pub mod log;
pub mod plan;
pub mod secret;
pub mod state;
pub mod task;

#[cfg(feature = "runtime")]
pub mod cluster;
#[cfg(feature = "runtime")]
pub mod crypto;
#[cfg(feature = "runtime")]
pub mod databricks;
#[cfg(feature = "runtime")]
pub mod executor;
#[cfg(feature = "runtime")]
pub mod flow_triggers;
#[cfg(feature = "runtime")]
pub mod http;
#[cfg(feature = "runtime")]
pub mod kv;
#[cfg(feature = "runtime")]
pub mod logs;
#[cfg(feature = "runtime")]
pub mod namespace_files;
#[cfg(feature = "runtime")]
pub mod polling;
#[cfg(feature = "runtime")]
pub mod scheduler;
#[cfg(feature = "runtime")]
pub mod secret_key;
#[cfg(feature = "runtime")]
pub mod secret_store;
#[cfg(feature = "runtime")]
pub mod storage;
#[cfg(feature = "runtime")]
pub mod store;
