//! The emulator as an HTTPS proxy for any workspace host name, so clients
//! that insist on `https://<host>:443` (the Databricks SQL connector and
//! `dbsqlcli`, the JDBC driver, the Go CLI) reach it unchanged: with
//! `HTTPS_PROXY=http://<emulator>` they send `CONNECT <host>:443`, and the
//! emulator answers the tunnel itself with TLS, under a certificate for
//! that host signed by its own CA, then serves its API inside.
//!
//! The CA is made at start. Its certificate is at `GET /emulator/ca.pem`,
//! in `--ca-cert FILE` and in [`crate::EmulatorHandle::ca_pem`]; clients
//! trust it through `SSL_CERT_FILE` (Python), `NODE_EXTRA_CA_CERTS` or a
//! trust store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::{EmulatorError, Shared};

/// Host names whose certificates are kept; past this the cache starts over.
const MAX_HOSTS: usize = 256;

/// The emulator's certificate authority and the server configurations made
/// with it, one per host name asked for.
pub(crate) struct Authority {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    configs: Mutex<HashMap<String, Arc<rustls::ServerConfig>>>,
}

impl Authority {
    /// A fresh CA (each start makes its own: clients take its certificate
    /// from `--ca-cert` or `/emulator/ca.pem`).
    pub fn new() -> Result<Self, EmulatorError> {
        let bad = |e: rcgen::Error| EmulatorError::Tls(e.to_string());
        let params = ca_params();
        let key = KeyPair::generate().map_err(bad)?;
        let cert = params.self_signed(&key).map_err(bad)?;
        Ok(Self {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            configs: Mutex::new(HashMap::new()),
        })
    }

    /// The CA's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A TLS server configuration whose certificate names `host`.
    fn config_for(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, String> {
        let mut configs = self.configs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = configs.get(host) {
            return Ok(c.clone());
        }
        let mut params = CertificateParams::new(vec![host.to_owned()]).map_err(|e| e.to_string())?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.use_authority_key_identifier_extension = true;
        params.key_usages.push(KeyUsagePurpose::DigitalSignature);
        params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let leaf = params.signed_by(&key, &self.issuer).map_err(|e| e.to_string())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), self.ca_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(|e| e.to_string())?;
        let config = Arc::new(config);
        if configs.len() >= MAX_HOSTS {
            configs.clear();
        }
        configs.insert(host.to_owned(), config.clone());
        Ok(config)
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::OrganizationName, "Mortar");
    params.distinguished_name.push(DnType::CommonName, "Mortar Databricks emulator CA");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params
}

/// `GET /emulator/ca.pem`: the CA's certificate (public, no token).
pub(crate) async fn ca_pem(State(state): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.authority.ca_pem().to_owned(),
    )
        .into_response()
}

/// What the CONNECT layer needs: the state and the API to serve inside a
/// tunnel.
#[derive(Clone)]
pub(crate) struct Tunnel {
    pub state: Shared,
    pub api: Router,
}

/// Answers `CONNECT host:port` by serving the API over TLS inside the
/// tunnel; every other request goes on.
pub(crate) async fn connect(State(t): State<Tunnel>, req: Request, next: Next) -> Response {
    if req.method() != Method::CONNECT {
        return next.run(req).await;
    }
    let Some(host) = req.uri().host().map(str::to_owned) else {
        return (StatusCode::BAD_REQUEST, "CONNECT needs host:port").into_response();
    };
    let config = match t.state.authority.config_for(&host) {
        Ok(c) => c,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("no certificate for {host}: {e}")).into_response();
        }
    };
    let api = t.api.clone();
    t.state.spawn(async move {
        let upgraded = match hyper::upgrade::on(req).await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "CONNECT tunnel was not upgraded");
                return;
            }
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let stream = match acceptor.accept(TokioIo::new(upgraded)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, %host, "TLS handshake in the tunnel failed");
                return;
            }
        };
        let served = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(api))
            .with_upgrades()
            .await;
        if let Err(e) = served {
            tracing::debug!(error = %e, %host, "connection in the tunnel ended with an error");
        }
    });
    StatusCode::OK.into_response()
}
