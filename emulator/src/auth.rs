//! Authentication: personal access tokens and OAuth M2M (client
//! credentials) tokens that really expire, the discovery documents the SDK
//! reads, and SCIM `Me`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use crate::Shared;
use crate::error::ApiError;

/// Who made a request (the user name the API echoes as creator).
#[derive(Debug, Clone)]
pub(crate) struct Principal(pub String);

pub(crate) const USER: &str = "mortar@example.com";

/// How long an OAuth token lives: an hour on the real clock, compressed by
/// `time_scale` (at least a second) so tests can watch one expire. The
/// `expires_in` sent to the client tells the truth.
pub(crate) fn oauth_lifetime(state: &Shared) -> Duration {
    let secs = state
        .clock
        .scaled(3600.0)
        .as_secs_f64()
        .ceil()
        .clamp(1.0, 3600.0);
    Duration::from_secs_f64(secs)
}

/// The middleware in front of `/api` and `/emulator`.
pub(crate) async fn layer(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let open = !(path.starts_with("/api/")
        || path.starts_with("/emulator/")
        || path.starts_with("/sql/"))
        || path.starts_with("/emulator/results/")
        || path == "/emulator/ca.pem";
    if open {
        return next.run(req).await;
    }
    match principal(&state, req.headers()) {
        Ok(p) => {
            req.extensions_mut().insert(p);
            let mut resp = next.run(req).await;
            // The service names its workspace on every API answer; the SDK
            // reads it (get_workspace_id) from SCIM Me, others from anywhere.
            if let Ok(v) = header::HeaderValue::from_str(&state.workspace_id.to_string()) {
                resp.headers_mut().insert("x-databricks-org-id", v);
            }
            resp
        }
        Err(e) => {
            // Thrift clients show this header, not the body.
            let reason = header::HeaderValue::from_str(&e.message).ok();
            let thrift = req.uri().path().starts_with("/sql/");
            let mut resp = e.into_response();
            if let (true, Some(reason)) = (thrift, reason) {
                resp.headers_mut().insert("x-databricks-reason-phrase", reason);
            }
            resp
        }
    }
}

fn principal(state: &Shared, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let unauthenticated = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Credential was not sent or was of an unsupported type for this API.",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthenticated)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthenticated());
    }
    let token = token.trim();
    if state.tokens.contains(token) {
        return Ok(Principal(USER.to_owned()));
    }
    let now = Instant::now();
    match state.oauth_tokens.get(&token.to_owned()) {
        Some((expiry, client)) if expiry > now => Ok(Principal(client)),
        Some(_) => {
            state.oauth_tokens.remove(&token.to_owned());
            Err(invalid_token())
        }
        None => Err(invalid_token()),
    }
}

fn invalid_token() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "Invalid access token.",
    )
}

/// `GET /.well-known/databricks-config`: the host metadata SDK 0.162 reads
/// before anything else (M2M fails without it).
pub(crate) async fn host_metadata(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({
        "oidc_endpoint": format!("{}/oidc", state.url),
        "workspace_id": state.workspace_id.to_string(),
        "cloud": "AWS",
    }))
}

/// `GET /oidc/.well-known/oauth-authorization-server`.
pub(crate) async fn discovery(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({
        "issuer": format!("{}/oidc", state.url),
        "authorization_endpoint": format!("{}/oidc/v1/authorize", state.url),
        "token_endpoint": format!("{}/oidc/v1/token", state.url),
        "jwks_uri": format!("{}/oidc/jwks.json", state.url),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// `POST /oidc/v1/token`: client_credentials, the client given by HTTP
/// Basic or by `client_id`/`client_secret` form fields.
pub(crate) async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: std::collections::HashMap<String, String> = std::str::from_utf8(&body)
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (crate::lenient::decode(k), crate::lenient::decode(v))
        })
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only grant_type=client_credentials is supported.",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let creds = basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let Some((id, secret)) = creds else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        );
    };
    if state.oauth_clients.get(&id) != Some(&secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        );
    }
    let lifetime = oauth_lifetime(&state);
    let access = format!("eyJemu.{}", uuid::Uuid::new_v4().simple());
    state
        .oauth_tokens
        .insert(access.clone(), (Instant::now() + lifetime, id));
    let scope = form
        .get("scope")
        .cloned()
        .unwrap_or_else(|| "all-apis".to_owned());
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": scope,
    }))
    .into_response()
}

/// `GET /api/2.0/preview/scim/v2/Me`; the SDK reads the org id header.
pub(crate) async fn me(
    State(state): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Response {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1000000000000001",
        "userName": p.0,
        "displayName": p.0,
        "active": true,
        "emails": [{"value": p.0, "type": "work", "primary": true}],
        "groups": [{"display": "admins", "value": "1", "type": "direct"}],
        "entitlements": [{"value": "allow-cluster-create"}],
    });
    let mut resp = Json(body).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&state.workspace_id.to_string()) {
        resp.headers_mut().insert("x-databricks-org-id", v);
    }
    resp
}
