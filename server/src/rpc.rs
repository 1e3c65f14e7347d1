//! Status codes of the server functions under `/rpc`. Leptos answers 500
//! for every error, including a client's (a missing field, a body it
//! cannot decode, one over the body limit); those become 400 and 413 here,
//! with the same body, which the browser's server-function client decodes
//! whatever the status.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

/// The most of an error's body read to classify it; server-function errors
/// are one short line.
const ERROR_BODY: usize = 64 * 1024;

pub async fn client_errors(request: Request, next: Next) -> Response {
    let rpc = request.uri().path().starts_with("/rpc/");
    let response = next.run(request).await;
    if !rpc || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY).await else {
        return Response::from_parts(parts, Body::from("Response|the error could not be read"));
    };
    if let Some(status) = client_status(&bytes) {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The status of a server-function error that is the client's doing
/// (`Variant|message`, as Leptos encodes `ServerFnError`).
fn client_status(body: &[u8]) -> Option<StatusCode> {
    let text = std::str::from_utf8(body).ok()?;
    let (variant, message) = text.split_once('|')?;
    if message.contains("length limit exceeded") {
        return Some(StatusCode::PAYLOAD_TOO_LARGE);
    }
    matches!(variant, "Args" | "MissingArg" | "Deserialization").then_some(StatusCode::BAD_REQUEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_mistake_is_4xx_and_a_servers_stays_500() {
        assert_eq!(
            client_status(b"Args|missing field `namespace`"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            client_status(b"MissingArg|id"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            client_status(b"Deserialization|length limit exceeded"),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(client_status(b"ServerError|the store is unavailable"), None);
        assert_eq!(client_status(b"not an encoded error"), None);
    }
}
