//! What a browser on another site cannot make Mortar do, whoever is logged
//! in (the `auth` middleware, inside this one, asks who they are):
//!
//! - a request whose `Host` is not a name this server answers to (the
//!   loopback names, the listen address, `--url`) is refused with 421,
//!   which closes DNS rebinding (a hostile name that resolves to 127.0.0.1);
//! - a state-changing request (not GET, HEAD or OPTIONS) that a browser
//!   marks as coming from another site (`Sec-Fetch-Site`, else an `Origin`
//!   other than this server's) is refused with 403: a page elsewhere cannot
//!   save a flow or start an execution with the user's browser. Clients
//!   that are not browsers send neither header and pass; a flow's webhook,
//!   which its key guards, is called from anywhere;
//! - every answer carries headers that keep pages out of frames and types
//!   from being sniffed.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The host names (without port) this server answers to besides the
/// loopback ones.
#[derive(Debug, Clone, Default)]
pub struct Hosts(Arc<Vec<String>>);

impl Hosts {
    /// The names of `--url` and of the listen address, when it is a
    /// specific one.
    pub fn new(public_url: Option<&str>, listen: Option<std::net::SocketAddr>) -> Self {
        let mut names = Vec::new();
        if let Some(host) = public_url
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        {
            names.push(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            );
        }
        if let Some(address) = listen.filter(|a| !a.ip().is_unspecified()) {
            names.push(address.ip().to_string());
        }
        Self(Arc::new(names))
    }

    fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        is_loopback(&host) || self.0.contains(&host)
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host name of a `Host` header or an origin's authority, without its
/// port or IPv6 brackets.
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority, |(name, _)| name)
}

pub async fn check(State(hosts): State<Hosts>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !hosts.allows(host_name(&host)) {
        let message = format!(
            "this Mortar does not answer to the name {:?}: reach it at localhost, or start it with --url http://{host}/ (its public address)",
            host_name(&host)
        );
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            request.uri().path(),
            &message,
        );
    }
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let webhook = request.uri().path().contains("/executions/webhook/");
    if changes && !webhook && cross_site(headers, &host) {
        return refuse(
            StatusCode::FORBIDDEN,
            request.uri().path(),
            "this request comes from a page on another site: Mortar takes changes only from its own pages and from clients that are not browsers",
        );
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Rendered pages set their own, with the nonce of their scripts.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(policy) = HeaderValue::from_str(&app::auth::content_security_policy(None))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Whether a browser says the request comes from another site.
fn cross_site(headers: &HeaderMap, host: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => origin.split_once("://").map(|(_, authority)| authority) != Some(host),
    }
}

/// Kestra's JSON error under `/api/v1`, plain text elsewhere.
fn refuse(status: StatusCode, path: &str, message: &str) -> Response {
    if path.starts_with("/api/") {
        (
            status,
            axum::Json(serde_json::json!({ "message": message })),
        )
            .into_response()
    } else {
        (status, message.to_owned()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_of_a_host_header() {
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("mortar.example.com"), "mortar.example.com");
        let hosts = Hosts::new(
            Some("https://Mortar.Example.com/"),
            Some("10.0.0.5:8080".parse().unwrap()),
        );
        for allowed in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "::1",
            "mortar.example.com",
            "10.0.0.5",
        ] {
            assert!(hosts.allows(allowed), "{allowed}");
        }
        for refused in ["evil.example.com", "10.0.0.6", "", "localhost.evil.com"] {
            assert!(!hosts.allows(refused), "{refused}");
        }
        assert!(!Hosts::new(None, Some("0.0.0.0:8080".parse().unwrap())).allows("0.0.0.0"));
    }

    #[test]
    fn a_browser_says_where_a_request_comes_from() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (k, v) in pairs {
                headers.insert(*k, HeaderValue::from_static(v));
            }
            headers
        };
        assert!(
            !cross_site(&with(&[]), "127.0.0.1:8080"),
            "a client that is not a browser"
        );
        assert!(!cross_site(
            &with(&[("sec-fetch-site", "same-origin")]),
            "127.0.0.1:8080"
        ));
        assert!(cross_site(
            &with(&[("sec-fetch-site", "cross-site")]),
            "127.0.0.1:8080"
        ));
        assert!(cross_site(
            &with(&[("sec-fetch-site", "same-site")]),
            "127.0.0.1:8080"
        ));
        assert!(!cross_site(
            &with(&[("origin", "http://127.0.0.1:8080")]),
            "127.0.0.1:8080"
        ));
        assert!(cross_site(
            &with(&[("origin", "http://127.0.0.1:9999")]),
            "127.0.0.1:8080"
        ));
        assert!(cross_site(&with(&[("origin", "null")]), "127.0.0.1:8080"));
    }
}
