//! Where every HTTP client of Mortar's comes from, so that TLS is set up in
//! one place.
//!
//! rustls runs on `ring` here rather than reqwest's default `aws-lc-rs`:
//! ring compiles a few dozen C and assembly files where aws-lc-sys compiles
//! several hundred, which was a large share of a cold build (issue 12). The
//! two are equally supported by rustls. reqwest is built with
//! `rustls-no-provider`, so the provider must be installed before a client is
//! built; [`client_builder`] does that once per process.

use std::sync::Once;

/// A client builder with TLS ready. Use it instead of
/// `reqwest::Client::builder()`, which panics when no provider is installed.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// A client with reqwest's defaults.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("an HTTP client with the default settings builds")
}

/// Makes ring the process's rustls provider, once. Another provider
/// installed first (by an embedding program) is kept.
pub fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
