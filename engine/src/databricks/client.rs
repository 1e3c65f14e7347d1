//! The HTTP client: connection, authentication, retries, error envelopes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::DatabricksError;
use crate::base_url::BaseUrl;
use crate::secret::Secret;

/// Where a workspace is and how to sign in to it.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `https://host[:port]` (a host without a scheme gets `https://`;
    /// `http://` is kept, for the emulator), read by [`BaseUrl::parse`]:
    /// a path, query, fragment or user name is refused.
    pub host: String,
    pub auth: Auth,
}

#[derive(Debug, Clone)]
pub enum Auth {
    /// A personal access token, sent as `Authorization: Bearer`.
    Token(Secret),
    /// OAuth machine-to-machine: a service principal's client id and secret,
    /// exchanged at `/oidc/v1/token` for a short-lived token.
    OAuthM2M {
        client_id: String,
        client_secret: Secret,
    },
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// One request's limit (the SDK's default is 60 s).
    pub request_timeout: Duration,
    /// How long retries of one call may go on (the SDK's default is 300 s).
    pub retry_budget: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(60),
            retry_budget: Duration::from_secs(300),
        }
    }
}

/// A Databricks workspace client. Cheap to clone; clones share connections
/// and the OAuth token.
#[derive(Clone)]
pub struct DatabricksClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    host: BaseUrl,
    auth: Auth,
    options: ClientOptions,
    token: Mutex<Option<CachedToken>>,
}

#[derive(Clone)]
struct CachedToken {
    header: Secret,
    expires: Instant,
}

/// A token is renewed this long before it expires (the SDK: 40 s).
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

impl DatabricksClient {
    pub fn new(connection: Connection, options: ClientOptions) -> Result<Self, DatabricksError> {
        let host = BaseUrl::parse(&connection.host)
            .map_err(|e| DatabricksError::Config(format!("`host`: {e}")))?;
        let http = crate::http::client_builder()
            // A redirect could lead a call (and, on the same host, its
            // token) where `--allowed-hosts` does not reach; the API does
            // not redirect, so a 3xx is an error.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("mortar/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DatabricksError::Config(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                host,
                auth: connection.auth,
                options,
                token: Mutex::new(None),
            }),
        })
    }

    /// The workspace URL.
    pub fn host(&self) -> &BaseUrl {
        &self.inner.host
    }

    /// `GET path?query` and parse the JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: impl Into<ApiPath>,
        query: &[(&str, String)],
    ) -> Result<T, DatabricksError> {
        let path = path.into();
        let value = self.call(Method::GET, &path, query, None).await?;
        decode(&path, value)
    }

    /// `GET` a link the workspace gave (`next_chunk_internal_link`): a path
    /// and query on this workspace; a link to anywhere else is refused.
    pub async fn get_link<T: DeserializeOwned>(&self, link: &str) -> Result<T, DatabricksError> {
        let url = self.inner.host.join([]).and_then(|base| {
            base.join(link)
                .map_err(|e| crate::base_url::BaseUrlError::Invalid {
                    text: link.to_owned(),
                    reason: e.to_string(),
                })
        });
        let url = match url {
            Ok(url) if self.inner.host.same_origin(&url) => url,
            _ => {
                return Err(DatabricksError::Decode {
                    what: "a result link".into(),
                    reason: format!("{link:?} is not a path on {}", self.inner.host),
                });
            }
        };
        let value = self.call_url(Method::GET, url, &[], None).await?;
        serde_json::from_value(value).map_err(|e| DatabricksError::Decode {
            what: link.to_owned(),
            reason: e.to_string(),
        })
    }

    /// `POST path` with a JSON body and parse the JSON answer.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: impl Into<ApiPath>,
        body: &B,
    ) -> Result<T, DatabricksError> {
        let path = path.into();
        let body = serde_json::to_value(body).map_err(|e| DatabricksError::Decode {
            what: path.to_string(),
            reason: format!("cannot encode the request: {e}"),
        })?;
        let value = self.call(Method::POST, &path, &[], Some(&body)).await?;
        decode(&path, value)
    }

    /// Any method with an optional JSON body, retried; the JSON answer as is.
    pub async fn call(
        &self,
        method: Method,
        path: &ApiPath,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, DatabricksError> {
        let url = self.url(path)?;
        self.call_url(method, url, query, body).await
    }

    async fn call_url(
        &self,
        method: Method,
        url: url::Url,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, DatabricksError> {
        let path = url.path().to_owned();
        let path = path.as_str();
        let started = Instant::now();
        let budget = self.inner.options.retry_budget;
        let attempt = || async {
            let request = self
                .request_url(method.clone(), url.clone())
                .await?
                .query(query);
            let request = match body {
                Some(body) => request.json(body),
                None => request,
            };
            let response = self.send(request).await?;
            read_json(response).await
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_jitter()
            .without_max_times()
            .with_total_delay(Some(budget));
        let result = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(DatabricksError::is_retryable)
            .adjust(|error, proposed| {
                // Retry-After wins over the backoff; nothing goes past the budget.
                let delay = error.retry_after().or(proposed)?;
                (started.elapsed() + delay <= budget).then_some(delay)
            })
            .notify(
                |error, delay| tracing::debug!(%error, ?delay, path, "retrying a Databricks call"),
            )
            .await;
        result.map_err(|error| {
            if error.is_retryable() {
                DatabricksError::Budget {
                    budget,
                    last: Box::new(error),
                }
            } else {
                error
            }
        })
    }

    /// A request with the host and the authorization header set, for calls
    /// that stream (the Files API). Not retried: a stream cannot be replayed.
    pub async fn request(
        &self,
        method: Method,
        path: impl Into<ApiPath>,
    ) -> Result<reqwest::RequestBuilder, DatabricksError> {
        let url = self.url(&path.into())?;
        self.request_url(method, url).await
    }

    async fn request_url(
        &self,
        method: Method,
        url: url::Url,
    ) -> Result<reqwest::RequestBuilder, DatabricksError> {
        let authorization = self.authorization().await?;
        Ok(self
            .inner
            .http
            .request(method, url)
            .header(header::AUTHORIZATION, authorization.expose()))
    }

    /// The URL of an API path on this workspace, each segment escaped.
    fn url(&self, path: &ApiPath) -> Result<url::Url, DatabricksError> {
        self.inner
            .host
            .join(path.segments.iter().map(|s| s.as_ref()))
            .map_err(|e| DatabricksError::Config(format!("cannot call {path}: {e}")))
    }

    /// Sends a request; a non-2xx answer becomes `DatabricksError::Api`.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, DatabricksError> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(error_from_response(response).await)
    }

    fn transport(&self, error: reqwest::Error) -> DatabricksError {
        DatabricksError::Transport {
            host: self.inner.host.to_string(),
            timeout: error.is_timeout(),
            // Without the URL: it is the host, said already.
            reason: error.without_url().to_string(),
        }
    }

    /// The `Authorization` header's value.
    async fn authorization(&self) -> Result<Secret, DatabricksError> {
        match &self.inner.auth {
            Auth::Token(token) => Ok(Secret::new(format!("Bearer {}", token.expose()))),
            Auth::OAuthM2M {
                client_id,
                client_secret,
            } => {
                if let Some(cached) = self.cached_token() {
                    return Ok(cached);
                }
                // Two calls racing here may both fetch a token; both are
                // valid, so that costs one request and no lock is held
                // across the await.
                let fetched = self.fetch_token(client_id, client_secret).await?;
                let header = fetched.header.clone();
                if let Ok(mut slot) = self.inner.token.lock() {
                    *slot = Some(fetched);
                }
                Ok(header)
            }
        }
    }

    fn cached_token(&self) -> Option<Secret> {
        let slot = self.inner.token.lock().ok()?;
        slot.as_ref()
            .filter(|t| t.expires > Instant::now() + TOKEN_MARGIN)
            .map(|t| t.header.clone())
    }

    async fn fetch_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
    ) -> Result<CachedToken, DatabricksError> {
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            access_token: String,
            #[serde(default)]
            token_type: Option<String>,
            expires_in: Value,
        }
        let url = self.url(&ApiPath::from("/oidc/v1/token"))?;
        let response = self
            .inner
            .http
            .post(url)
            .basic_auth(client_id, Some(client_secret.expose()))
            .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        if !response.status().is_success() {
            let error = error_from_response(response).await;
            return Err(match error {
                DatabricksError::Api {
                    message,
                    error_code,
                    ..
                } => DatabricksError::OAuth(format!(
                    "{error_code}: {message} (check the client id and secret)"
                )),
                other => other,
            });
        }
        let token: TokenResponse = response.json().await.map_err(|e| {
            DatabricksError::OAuth(format!(
                "the token endpoint's answer is not a token: {}",
                e.without_url()
            ))
        })?;
        // Some servers send `expires_in` as a string.
        let seconds = match &token.expires_in {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3600);
        let kind = token.token_type.unwrap_or_else(|| "Bearer".to_owned());
        Ok(CachedToken {
            header: Secret::new(format!("{kind} {}", token.access_token)),
            expires: Instant::now() + Duration::from_secs(seconds),
        })
    }
}

async fn read_json(response: reqwest::Response) -> Result<Value, DatabricksError> {
    let url_path = response.url().path().to_owned();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| DatabricksError::Decode {
            what: url_path.clone(),
            reason: e.without_url().to_string(),
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes).map_err(|e| DatabricksError::Decode {
        what: url_path,
        reason: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(path: &ApiPath, value: Value) -> Result<T, DatabricksError> {
    serde_json::from_value(value).map_err(|e| DatabricksError::Decode {
        what: path.to_string(),
        reason: e.to_string(),
    })
}

/// A path of the REST API: the fixed part written in the code (a
/// `&'static str`, so a value cannot be formatted into it), then values
/// (ids, file paths) added with [`ApiPath::segment`] and [`ApiPath::path`],
/// which the URL escapes segment by segment.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiPath {
    segments: Vec<std::borrow::Cow<'static, str>>,
}

impl From<&'static str> for ApiPath {
    fn from(fixed: &'static str) -> Self {
        Self {
            segments: fixed
                .split('/')
                .filter(|s| !s.is_empty())
                .map(std::borrow::Cow::Borrowed)
                .collect(),
        }
    }
}

impl ApiPath {
    /// One segment: a `/` in `value` is data, not a separator.
    pub fn segment(mut self, value: impl Into<String>) -> Self {
        self.segments.push(std::borrow::Cow::Owned(value.into()));
        self
    }

    /// A file path's segments (`/Volumes/a/b.csv`), split at `/`.
    pub fn path(mut self, path: &str) -> Self {
        self.segments.extend(
            path.split('/')
                .filter(|s| !s.is_empty())
                .map(|s| std::borrow::Cow::Owned(s.to_owned())),
        );
        self
    }
}

impl std::fmt::Display for ApiPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for segment in &self.segments {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

/// Reads Databricks' error envelope: `{error_code, message}` (a legacy
/// `error` field, SCIM's `detail`, or a plain-text `CODE: message` also
/// happen), with `Retry-After` for 429 and 503.
async fn error_from_response(response: reqwest::Response) -> DatabricksError {
    let status = response.status();
    let retry_after = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Some(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                // The SDK's rule: a missing or non-integer header counts as 1 s.
                .unwrap_or(Duration::from_secs(1)),
        ),
        _ => None,
    };
    let text = response.text().await.unwrap_or_default();
    let (error_code, message) = parse_envelope(status, &text);
    DatabricksError::Api {
        status: status.as_u16(),
        error_code,
        message,
        retry_after,
    }
}

fn parse_envelope(status: StatusCode, text: &str) -> (String, String) {
    let default_code = status
        .canonical_reason()
        .unwrap_or("UNKNOWN")
        .to_ascii_uppercase()
        .replace(' ', "_");
    if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(text) {
        let code = match body.get("error_code") {
            Some(Value::String(code)) => code.clone(),
            Some(Value::Number(code)) => code.to_string(),
            _ => default_code,
        };
        let message = ["error", "message", "detail"]
            .iter()
            .find_map(|key| body.get(*key).and_then(Value::as_str))
            .unwrap_or("request failed")
            .to_owned();
        return (code, message);
    }
    let text = text.trim();
    if let Some((code, message)) = text.split_once(": ")
        && !code.is_empty()
        && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    {
        return (code.to_owned(), message.to_owned());
    }
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text.chars().take(500).collect()
    };
    (default_code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_escape_their_values() {
        let client = DatabricksClient::new(
            Connection {
                host: "https://h.cloud.databricks.com/".into(),
                auth: Auth::Token(Secret::new("t")),
            },
            ClientOptions::default(),
        )
        .unwrap();
        let url = |p: ApiPath| {
            client
                .url(&p)
                .map(|u| u.to_string())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            url("/api/2.0/sql/statements".into()).unwrap(),
            "https://h.cloud.databricks.com/api/2.0/sql/statements"
        );
        assert_eq!(
            url(ApiPath::from("/api/2.0/sql/statements")
                .segment("../../x?a#b")
                .segment("cancel"))
            .unwrap(),
            "https://h.cloud.databricks.com/api/2.0/sql/statements/..%2F..%2Fx%3Fa%23b/cancel"
        );
        assert_eq!(
            url(ApiPath::from("/api/2.0/fs/files").path("/Volumes/a b/c#.csv")).unwrap(),
            "https://h.cloud.databricks.com/api/2.0/fs/files/Volumes/a%20b/c%23.csv"
        );
        assert!(
            url(ApiPath::from("/api/2.0/fs/files").path("/Volumes/../etc"))
                .unwrap_err()
                .contains("without . and ..")
        );
        let refused = DatabricksClient::new(
            Connection {
                host: "http://127.0.0.1:47999/internal/data.txt#".into(),
                auth: Auth::Token(Secret::new("t")),
            },
            ClientOptions::default(),
        );
        assert!(
            refused
                .err()
                .unwrap()
                .to_string()
                .contains("without the path \"/internal/data.txt\"")
        );
    }

    #[test]
    fn every_envelope_shape_is_read() {
        let check = |status: u16, body: &str, code: &str, message: &str| {
            let got = parse_envelope(StatusCode::from_u16(status).unwrap(), body);
            assert_eq!(got, (code.to_owned(), message.to_owned()), "{body}");
        };
        check(
            400,
            r#"{"error_code":"INVALID_STATE","message":"Cluster 1 is in unexpected state Running."}"#,
            "INVALID_STATE",
            "Cluster 1 is in unexpected state Running.",
        );
        check(
            404,
            r#"{"message":"Job 5 does not exist."}"#,
            "NOT_FOUND",
            "Job 5 does not exist.",
        );
        check(
            400,
            r#"{"error_code":1234,"error":"legacy"}"#,
            "1234",
            "legacy",
        );
        check(500, "INTERNAL_ERROR: boom", "INTERNAL_ERROR", "boom");
        check(502, "", "BAD_GATEWAY", "Bad Gateway");
    }
}
