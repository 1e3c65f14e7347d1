//! The base URL of a service Mortar calls (a Databricks workspace): a
//! scheme, a host and an optional port, nothing else.
//!
//! Outbound URLs are built from it by adding path segments, each escaped by
//! the `url` crate, never by joining strings: a `host` such as
//! `http://127.0.0.1:47999/internal/data.txt#` would otherwise turn every
//! API path into a fragment and let a flow fetch any URL. So a path, a
//! query, a fragment or a user name in the text is refused, with a message
//! saying what to write instead. The flow validator (`Kind::BaseUrl`) and
//! the runtime read a `host` through this one type.

use std::fmt;

/// A checked `scheme://host[:port]`. Displays without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    url: url::Url,
}

/// Why a text is not a base URL. The messages follow the property's name:
/// "`host`: use only scheme://host[:port], without the path ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    #[error("is empty; write scheme://host[:port], such as https://adb-123.4.azuredatabricks.net")]
    Empty,
    #[error(
        "{text:?} is not a URL ({reason}); write scheme://host[:port], such as https://adb-123.4.azuredatabricks.net"
    )]
    Invalid { text: String, reason: String },
    #[error("the scheme {scheme}: is not allowed; use https:// (or http:// for a local workspace)")]
    Scheme { scheme: String },
    #[error("use only scheme://host[:port], without the {part} {value:?}")]
    Extra { part: &'static str, value: String },
    #[error("a path segment is {segment:?}; write the path without . and .. segments")]
    DotSegment { segment: String },
}

impl BaseUrl {
    /// Reads `https://host[:port]`, `http://host[:port]` or a bare
    /// `host[:port]` (which gets `https://`). A trailing `/` is allowed; a
    /// default port (`:443` on https) is dropped.
    pub fn parse(text: &str) -> Result<Self, BaseUrlError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(BaseUrlError::Empty);
        }
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("https://{text}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| BaseUrlError::Invalid {
            text: text.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(BaseUrlError::Scheme {
                scheme: url.scheme().to_owned(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            // The user name is all that is shown: a password is a secret.
            let value = format!("{}@", url.username());
            return Err(BaseUrlError::Extra {
                part: "user name",
                value,
            });
        }
        if url.path() != "/" {
            return Err(BaseUrlError::Extra {
                part: "path",
                value: url.path().to_owned(),
            });
        }
        if let Some(query) = url.query() {
            return Err(BaseUrlError::Extra {
                part: "query",
                value: format!("?{query}"),
            });
        }
        if let Some(fragment) = url.fragment() {
            return Err(BaseUrlError::Extra {
                part: "fragment",
                value: format!("#{fragment}"),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(BaseUrlError::Invalid {
                text: text.to_owned(),
                reason: "it has no host".into(),
            });
        }
        Ok(Self { url })
    }

    /// The host name or address, as the `url` crate writes it (IPv6 in brackets).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// The port, the scheme's default when none is written.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(443)
    }

    /// The URL of `segments` under this base. Each segment is escaped as
    /// one path segment (a `/`, `?`, `#` or `%` in it stays data). A `.` or
    /// `..` segment is refused: a URL cannot carry one as a name (`url`
    /// would drop it, and a server would read it as a move).
    pub fn join<'a>(
        &self,
        segments: impl IntoIterator<Item = &'a str>,
    ) -> Result<url::Url, BaseUrlError> {
        let mut url = self.url.clone();
        {
            let Ok(mut path) = url.path_segments_mut() else {
                return Err(BaseUrlError::Invalid {
                    text: self.to_string(),
                    reason: "it cannot be a base".into(),
                });
            };
            path.clear();
            for segment in segments {
                if matches!(segment, "." | "..") {
                    return Err(BaseUrlError::DotSegment {
                        segment: segment.to_owned(),
                    });
                }
                path.push(segment);
            }
        }
        Ok(url)
    }

    /// Whether a URL is on this base's scheme, host and port.
    pub fn same_origin(&self, url: &url::Url) -> bool {
        self.url.origin() == url.origin()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, &str>) {
        let got = BaseUrl::parse(text)
            .map(|u| u.to_string())
            .map_err(|e| e.to_string());
        match (&got, expected) {
            (Ok(url), Ok(want)) => assert_eq!(url, want, "{text}"),
            (Err(message), Err(want)) => assert!(message.contains(want), "{text}: {message}"),
            _ => panic!("{text}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn a_scheme_a_host_and_a_port_are_accepted() {
        check(
            "https://adb-123.azuredatabricks.net",
            Ok("https://adb-123.azuredatabricks.net"),
        );
        check(
            "https://x.cloud.databricks.com/",
            Ok("https://x.cloud.databricks.com"),
        );
        check("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080"));
        check(
            "adb-1.azuredatabricks.net/",
            Ok("https://adb-1.azuredatabricks.net"),
        );
        check(
            "https://x.cloud.databricks.com:443",
            Ok("https://x.cloud.databricks.com"),
        );
        check(" http://[::1]:9 ", Ok("http://[::1]:9"));
    }

    #[test]
    fn anything_past_the_port_is_refused_with_what_to_write() {
        check(
            "http://h/internal/data.txt#",
            Err("use only scheme://host[:port], without the path \"/internal/data.txt\""),
        );
        check("http://h?x=1", Err("without the query \"?x=1\""));
        check("http://h/#", Err("without the fragment \"#\""));
        check("http://h\\internal", Err("without the path \"/internal\""));
        check(
            "ftp://h",
            Err("the scheme ftp: is not allowed; use https://"),
        );
        check("file:///etc/passwd", Err("the scheme file:"));
        check("http://user:pw@h", Err("without the user name \"user@\""));
        check("http://:pw@h", Err("user name"));
        check("", Err("is empty"));
        check("   ", Err("is empty"));
        check("http://", Err("is not a URL"));
    }

    #[test]
    fn segments_are_escaped_and_cannot_climb() {
        let base = BaseUrl::parse("https://h:8443").unwrap();
        let url = base
            .join(["api", "2.0", "sql", "statements", "../../x?y#z%2e"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://h:8443/api/2.0/sql/statements/..%2F..%2Fx%3Fy%23z%252e"
        );
        assert!(base.same_origin(&url));
        assert!(!base.same_origin(&url::Url::parse("https://h:8444/").unwrap()));
        assert_eq!(
            base.join(["api", ".."]),
            Err(BaseUrlError::DotSegment {
                segment: "..".into()
            })
        );
        assert_eq!(
            base.join(["."]),
            Err(BaseUrlError::DotSegment {
                segment: ".".into()
            })
        );
    }
}

/// The hosts tasks may call (`mortar serve --allowed-hosts`): entries are
/// `host`, `host:port` or `*.domain` (any subdomain of `domain`, on any
/// port). No list means any host. The default Databricks connection is
/// allowed whatever the list says; the callers check that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Option<Vec<HostEntry>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostEntry {
    Host { host: String, port: Option<u16> },
    Subdomains { domain: String, port: Option<u16> },
}

impl AllowedHosts {
    /// Any host may be called.
    pub fn any() -> Self {
        Self { entries: None }
    }

    /// Reads a comma-separated list; blanks between commas are skipped.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (wildcard, rest) = match entry.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, entry),
            };
            let url = url::Url::parse(&format!("http://{rest}")).ok().filter(|u| {
                u.path() == "/"
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && u.username().is_empty()
                    && u.password().is_none()
            });
            let Some((host, port)) = url
                .as_ref()
                .and_then(|u| Some((u.host_str()?.to_owned(), u.port())))
            else {
                return Err(format!(
                    "{entry:?} is not a host: write host, host:port or *.domain"
                ));
            };
            if rest.contains('*') {
                return Err(format!(
                    "{entry:?}: a wildcard is only `*.` at the start, as in *.example.com"
                ));
            }
            entries.push(if wildcard {
                HostEntry::Subdomains { domain: host, port }
            } else {
                HostEntry::Host { host, port }
            });
        }
        Ok(Self {
            entries: Some(entries),
        })
    }

    /// Whether `url`'s host (and port) is on the list.
    pub fn allows(&self, url: &BaseUrl) -> bool {
        let Some(entries) = &self.entries else {
            return true;
        };
        let (host, port) = (url.host(), url.port());
        entries.iter().any(|entry| match entry {
            HostEntry::Host { host: h, port: p } => h == host && p.is_none_or(|p| p == port),
            HostEntry::Subdomains { domain, port: p } => {
                host.strip_suffix(domain.as_str())
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
                    && p.is_none_or(|p| p == port)
            }
        })
    }

    /// `Ok` when `url` may be called, else a message naming the host and the flag.
    pub fn check(&self, url: &BaseUrl) -> Result<(), String> {
        if self.allows(url) {
            return Ok(());
        }
        Err(format!(
            "host {} is not in --allowed-hosts ({self}); add it to reach it",
            url.host()
        ))
    }
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(entries) = &self.entries else {
            return f.write_str("any host");
        };
        if entries.is_empty() {
            return f.write_str("empty");
        }
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let (prefix, host, port) = match entry {
                HostEntry::Host { host, port } => ("", host, port),
                HostEntry::Subdomains { domain, port } => ("*.", domain, port),
            };
            write!(f, "{prefix}{host}")?;
            if let Some(port) = port {
                write!(f, ":{port}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod allowed_tests {
    use super::*;

    fn check(list: &str, url: &str, allowed: bool) {
        let hosts = AllowedHosts::parse(list).unwrap();
        assert_eq!(
            hosts.allows(&BaseUrl::parse(url).unwrap()),
            allowed,
            "{list} {url}"
        );
    }

    #[test]
    fn hosts_ports_and_wildcards() {
        check("a.com", "https://a.com", true);
        check("a.com", "http://a.com:8080", true);
        check("a.com:8080", "http://a.com:8080", true);
        check("a.com:8080", "http://a.com:8081", false);
        check("a.com:443", "https://a.com", true);
        check("A.com", "https://a.com", true);
        check(
            "*.cloud.databricks.com",
            "https://x.cloud.databricks.com",
            true,
        );
        check(
            "*.cloud.databricks.com",
            "https://cloud.databricks.com",
            false,
        );
        check(
            "*.cloud.databricks.com",
            "https://evilcloud.databricks.com",
            false,
        );
        check("127.0.0.1, b.com", "http://10.0.0.5", false);
        check("[::1]:9", "http://[::1]:9", true);
        check("", "https://a.com", false);
        assert!(AllowedHosts::any().allows(&BaseUrl::parse("http://10.0.0.5").unwrap()));
        let message = AllowedHosts::parse("a.com,*.b.com:1")
            .unwrap()
            .check(&BaseUrl::parse("http://10.0.0.5").unwrap())
            .unwrap_err();
        assert_eq!(
            message,
            "host 10.0.0.5 is not in --allowed-hosts (a.com, *.b.com:1); add it to reach it"
        );
        assert!(AllowedHosts::parse("a.com/x").is_err());
        assert!(AllowedHosts::parse("a.*.com").is_err());
    }
}
