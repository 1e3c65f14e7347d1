//! The service's error envelope: `{"error_code", "message"}` with the HTTP
//! status the real service uses for that code.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An API error answered in the Databricks envelope.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// `Retry-After` seconds, sent as a header (429/503).
    pub retry_after: Option<u64>,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400 INVALID_PARAMETER_VALUE: also how the service reports unknown
    /// clusters, jobs and runs (the SDK turns "Cluster … does not exist"
    /// into `ResourceDoesNotExist` through its path overrides).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_STATE", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "RESOURCE_ALREADY_EXISTS", message)
    }
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", message)
    }
    /// A required field is missing.
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!("Missing required field: {field}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The service adds ErrorInfo and RequestInfo details; clients only
        // show them (the SDK keys on error_code and the status).
        let body = serde_json::json!({
            "error_code": self.code,
            "message": self.message,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": self.code, "domain": "emulator.mortar", "metadata": {}},
                {"@type": "type.googleapis.com/google.rpc.RequestInfo", "request_id": uuid::Uuid::new_v4().to_string(), "serving_data": ""},
            ],
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}
