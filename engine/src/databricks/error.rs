//! What can go wrong talking to Databricks.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DatabricksError {
    /// Databricks answered with its error envelope.
    #[error("{error_code}: {message}")]
    Api {
        status: u16,
        error_code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request did not get an answer (refused, reset, timed out).
    #[error("cannot reach Databricks at {host}: {reason}")]
    Transport {
        host: String,
        reason: String,
        timeout: bool,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer from Databricks to {what}: {reason}")]
    Decode { what: String, reason: String },
    /// The OAuth token endpoint refused the client's credentials.
    #[error("OAuth M2M sign-in failed: {0}")]
    OAuth(String),
    #[error("the Databricks connection is misconfigured: {0}")]
    Config(String),
    /// Retries ran out of time; the last error is kept.
    #[error("gave up after {budget:?} of retries: {last}")]
    Budget {
        budget: Duration,
        last: Box<DatabricksError>,
    },
}

/// Messages on which the official SDK retries whatever the status
/// (`databricks/sdk/retries.py`, see the contract §0.3).
const TRANSIENT_MESSAGES: &[&str] = &[
    "ClusterNotReadyException",
    "Unexpected error",
    "Please try again later or try a faster operation.",
    "RPC token bucket limit has been exceeded",
    "does not have any associated worker environments",
    "There is no worker environment with id",
    "Unknown worker environment",
    "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException",
];

impl DatabricksError {
    /// Worth another try: rate limits, unavailability, no connection, and
    /// the transient messages.
    pub fn is_retryable(&self) -> bool {
        match self {
            DatabricksError::Api {
                status, message, ..
            } => {
                matches!(status, 429 | 503)
                    || TRANSIENT_MESSAGES.iter().any(|m| message.contains(m))
            }
            DatabricksError::Transport { .. } => true,
            _ => false,
        }
    }

    /// How long the server asked to wait, for 429 and 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DatabricksError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The `error_code`, if Databricks sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            DatabricksError::Api { error_code, .. } => Some(error_code),
            DatabricksError::Budget { last, .. } => last.error_code(),
            _ => None,
        }
    }

    /// A lookup of something that does not exist (404, or Databricks' 400
    /// "… does not exist" answers for clusters, jobs and runs).
    pub fn is_not_found(&self) -> bool {
        match self {
            DatabricksError::Api {
                status,
                error_code,
                message,
                ..
            } => {
                *status == 404
                    || error_code == "RESOURCE_DOES_NOT_EXIST"
                    || error_code == "NOT_FOUND"
                    || (error_code == "INVALID_PARAMETER_VALUE"
                        && message.contains("does not exist"))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, message: &str) -> DatabricksError {
        DatabricksError::Api {
            status,
            error_code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn retries_what_the_sdk_retries() {
        assert!(api(429, "REQUEST_LIMIT_EXCEEDED", "slow down").is_retryable());
        assert!(api(503, "TEMPORARILY_UNAVAILABLE", "later").is_retryable());
        assert!(api(400, "INVALID_STATE", "Unexpected error talking to x").is_retryable());
        assert!(!api(500, "INTERNAL_ERROR", "boom").is_retryable());
        assert!(!api(400, "INVALID_PARAMETER_VALUE", "bad").is_retryable());
        assert!(
            DatabricksError::Transport {
                host: "h".into(),
                reason: "refused".into(),
                timeout: false
            }
            .is_retryable()
        );
    }

    #[test]
    fn knows_not_found_in_both_forms() {
        assert!(api(400, "INVALID_PARAMETER_VALUE", "Cluster 12 does not exist").is_not_found());
        assert!(
            api(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                "No file or directory exists on path /x."
            )
            .is_not_found()
        );
        assert!(!api(400, "INVALID_PARAMETER_VALUE", "bad size").is_not_found());
    }
}
