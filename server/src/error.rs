//! How errors become HTTP responses, in one place. Bodies are Kestra's
//! `{message, details}`; a 5xx body reveals nothing, the log has the cause.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    NotFound { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("{message}")]
    Unprocessable {
        message: String,
        violations: Vec<Violation>,
    },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    TooLarge { message: String },
    /// No credentials on a route that needs a user.
    #[error(
        "log in first: send a session cookie, `Authorization: Bearer <API token>` or, on /api/v1, `Authorization: Basic` with a user's password"
    )]
    Unauthorized,
    /// Credentials that do not prove a user.
    #[error("{0}")]
    BadCredentials(String),
    #[error("too many failed logins: try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error(transparent)]
    Store(#[from] engine::store::StoreError),
    /// Anything else that is our fault; the text goes to the log only.
    #[error("{0}")]
    Internal(String),
}

/// One problem in a submitted flow.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Violation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub message: String,
}

/// Every error's body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorJson)]
pub(crate) struct Body {
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<Violation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<Violation>,
}

/// The name the OpenAPI document gives error bodies.
pub(crate) type ErrorJson = Body;

impl From<engine::executor::ExecutionError> for ApiError {
    fn from(error: engine::executor::ExecutionError) -> Self {
        use engine::executor::ExecutionError as E;
        match error {
            E::Inputs(problems) => ApiError::Unprocessable {
                message: format!("the inputs are invalid: {}", problems.join("; ")),
                violations: problems
                    .into_iter()
                    .map(|message| Violation {
                        line: None,
                        column: None,
                        message,
                    })
                    .collect(),
            },
            E::NotFound(id) => ApiError::NotFound {
                message: format!("execution {id} does not exist"),
            },
            error @ (E::Disabled(_) | E::Conflict(_)) => ApiError::Conflict {
                message: error.to_string(),
            },
            E::Store(error) => ApiError::Store(error),
        }
    }
}

impl From<engine::auth::Denied> for ApiError {
    fn from(denied: engine::auth::Denied) -> Self {
        ApiError::Forbidden {
            message: denied.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized | Self::BadCredentials(_) => StatusCode::UNAUTHORIZED,
            Self::TooManyAttempts { retry_after } => {
                let retry_after = *retry_after;
                let body = Body {
                    message: self.to_string(),
                    details: Vec::new(),
                    violations: Vec::new(),
                };
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(axum::http::header::RETRY_AFTER, retry_after.to_string())],
                    Json(body),
                )
                    .into_response();
            }
            // A state change that the execution's state no longer allows (a
            // kill racing the end, a restart racing a kill): the store
            // checks and changes in one transaction, so this is the
            // client's conflict, not our fault.
            Self::Store(engine::store::StoreError::Illegal(_)) => StatusCode::CONFLICT,
            Self::Store(_) | Self::Internal(_) => {
                tracing::error!(error = %self, "internal error while serving a request");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(Body {
                        message: "internal error; the server log has the details".to_owned(),
                        details: Vec::new(),
                        violations: Vec::new(),
                    }),
                )
                    .into_response();
            }
        };
        let message = self.to_string();
        let violations = match self {
            Self::Unprocessable { violations, .. } => violations,
            _ => Vec::new(),
        };
        // Kestra puts the problems under `violations` on 422; `details`
        // carries the same for clients of Mortar's own envelope.
        (
            status,
            Json(Body {
                message,
                details: violations.clone(),
                violations,
            }),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_change_the_state_no_longer_allows_is_409_not_500() {
        let illegal = engine::state::IllegalTransition {
            state: engine::state::State::Failed,
            event: engine::state::Event::Kill,
        };
        let response = ApiError::Store(engine::store::StoreError::Illegal(illegal)).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let other = ApiError::Internal("disk on fire".into()).into_response();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
