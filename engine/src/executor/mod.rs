//! The executor: runs executions of flows, durably, on tokio.

pub mod render;
