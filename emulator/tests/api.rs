//! Integration tests over HTTP: each test starts an emulator on
//! 127.0.0.1:0 with a compressed clock and talks to it with reqwest.
//! One test binary, modules inside.

#[path = "api/common.rs"]
mod common;

#[path = "api/auth.rs"]
mod auth;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/clusters.rs"]
mod clusters;
#[path = "api/dbfs.rs"]
mod dbfs;
#[path = "api/faults.rs"]
mod faults;
#[path = "api/files.rs"]
mod files;
#[path = "api/jobs.rs"]
mod jobs;
#[path = "api/robust.rs"]
mod robust;
#[path = "api/sql.rs"]
mod sql;
#[path = "api/sql_sandbox.rs"]
mod sql_sandbox;
#[path = "api/workspace.rs"]
mod workspace;
