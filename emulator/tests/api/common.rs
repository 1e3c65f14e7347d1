//! The test harness: an emulator plus an authenticated client.

use std::future::Future;
use std::time::{Duration, Instant};

use emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A client builder. reqwest is built without a TLS provider (Mortar's
/// engine installs ring, see engine/src/http.rs), so one is installed here.
pub fn http() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

pub struct Emu {
    pub handle: EmulatorHandle,
    pub client: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Emu {
    /// An emulator whose simulated seconds last a millisecond.
    pub async fn start() -> Self {
        Self::with(EmulatorConfig {
            time_scale: 0.001,
            ..EmulatorConfig::default()
        })
        .await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        let handle = Emulator::start(config).await.expect("emulator starts");
        let client = http()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Self {
            url: handle.url(),
            token: handle.token().to_owned(),
            handle,
            client,
        }
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.expect("request is answered");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body");
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.req(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.req(Method::POST, path).json(&body)).await
    }

    /// GET that must succeed.
    pub async fn ok_get(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// POST that must succeed.
    pub async fn ok_post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body).await;
        assert_eq!(s, StatusCode::OK, "POST {path}: {v}");
        v
    }

    /// Polls `path` until `done` holds for its JSON, with a deadline.
    pub async fn until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        wait_for(path, || async {
            Some(self.ok_get(path).await).filter(|v| done(v))
        })
        .await
    }
}

/// Retries `f` until it gives `Some`, failing after 20 s.
pub async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts an error envelope.
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error_code"], code, "{}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
}
