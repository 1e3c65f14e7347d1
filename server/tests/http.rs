//! Integration tests: a real Mortar on 127.0.0.1:0, talked to over HTTP.
//! One test binary, modules inside, so the workspace links it once.

mod http {
    pub mod support;

    mod api;
    mod auth;
    mod bounds;
    mod cluster;
    mod compat;
    mod escapes;
    mod executions;
    mod guard;
    mod kestra_api;
    mod outbound;
    mod pages;
    mod process;
    mod running;
    mod secrets;
}
