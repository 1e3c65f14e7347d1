//! Faults on demand: a share of requests, chosen by path glob and method,
//! answered 429 (with Retry-After), 500 or 503, delayed, or dropped.
//! Controlled through `PUT/GET/DELETE /emulator/faults` (outside `/api`,
//! same token) and the `--fault-rate` / `--fault-status` flags.

use std::str::FromStr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::Shared;
use crate::error::ApiError;

/// What an injected fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultStatus {
    /// An HTTP status: 429, 500 or 503 (others between 400 and 599 work too).
    Http(u16),
    /// Close the connection without an answer.
    Drop,
}

impl FromStr for FaultStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("drop") {
            return Ok(Self::Drop);
        }
        match s.parse::<u16>() {
            Ok(n) if (400..=599).contains(&n) => Ok(Self::Http(n)),
            _ => Err(format!("`{s}` is not 429, 500, 503 or drop")),
        }
    }
}

impl Serialize for FaultStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Http(n) => s.serialize_u16(*n),
            Self::Drop => s.serialize_str("drop"),
        }
    }
}

impl<'de> Deserialize<'de> for FaultStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let s = match &v {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => {
                return Err(serde::de::Error::custom(
                    "status must be a number or \"drop\"",
                ));
            }
        };
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One rule. A request matching `path` (a glob such as
/// `/api/2.*/jobs/runs/get`) and `method` is, with probability `rate`,
/// answered with `status` and/or delayed by `latency_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default = "one")]
    pub rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<FaultStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

fn one() -> f64 {
    1.0
}

/// A rule with its glob compiled.
#[derive(Clone)]
pub(crate) struct Compiled {
    pub rule: FaultRule,
    matcher: globset::GlobMatcher,
}

pub(crate) fn compile(rules: &[FaultRule]) -> Result<Vec<Compiled>, String> {
    rules
        .iter()
        .map(|r| {
            if !(0.0..=1.0).contains(&r.rate) {
                return Err(format!(
                    "rate {} of `{}` is not between 0 and 1",
                    r.rate, r.path
                ));
            }
            if r.status.is_none() && r.latency_ms.is_none() {
                return Err(format!(
                    "rule for `{}` has neither status nor latencyMs",
                    r.path
                ));
            }
            let glob = globset::GlobBuilder::new(&r.path)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("bad path glob `{}`: {e}", r.path))?;
            Ok(Compiled {
                rule: r.clone(),
                matcher: glob.compile_matcher(),
            })
        })
        .collect()
}

/// The middleware: applies the first matching rule that fires.
pub(crate) async fn layer(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/emulator/") {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let hit = {
        let rules = state.faults.read().unwrap_or_else(|e| e.into_inner());
        rules
            .iter()
            .filter(|c| c.matcher.is_match(&path))
            .filter(|c| {
                c.rule
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(&method))
            })
            .find(|c| c.rule.rate >= 1.0 || rand::random::<f64>() < c.rule.rate)
            .map(|c| c.rule.clone())
    };
    let Some(rule) = hit else {
        return next.run(req).await;
    };
    if let Some(ms) = rule.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match rule.status {
        None => next.run(req).await,
        Some(FaultStatus::Drop) => {
            tracing::debug!(%path, "fault: dropping the connection");
            // A body that fails on its first poll makes hyper abort the
            // connection, which clients see as a reset, as with a real drop.
            let stream = futures::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::other(
                    "fault: connection dropped",
                ))
            });
            Response::new(Body::from_stream(stream))
        }
        Some(FaultStatus::Http(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let (error_code, message) = match code {
                429 => (
                    "REQUEST_LIMIT_EXCEEDED",
                    "The request rate limit has been exceeded. Please try again later.",
                ),
                503 => (
                    "TEMPORARILY_UNAVAILABLE",
                    "The service is temporarily unavailable. Please try again later.",
                ),
                _ => ("INTERNAL_ERROR", "Injected fault: internal error."),
            };
            let mut e = ApiError::new(status, error_code, message);
            if code == 429 || code == 503 {
                e.retry_after = Some(rule.retry_after_seconds.unwrap_or(1));
            }
            e.into_response()
        }
    }
}
