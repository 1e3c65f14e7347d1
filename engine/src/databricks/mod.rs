//! One Databricks REST client, shared by every Databricks task.
//!
//! Every call has a timeout and is retried on 429, 503, connection errors
//! and the transient messages the official SDK retries, honouring
//! `Retry-After`, within a total budget (300 s, as the SDK). An error keeps
//! Databricks' `error_code` and `message`. Tokens never appear in an error
//! or a log line: they live in [`Secret`](crate::secret::Secret)s.

mod client;
mod error;
pub mod poll;

pub use client::{ApiPath, Auth, ClientOptions, Connection, DatabricksClient};
pub use error::DatabricksError;
