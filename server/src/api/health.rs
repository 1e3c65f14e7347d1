//! `GET /api/v1/health`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::AppState;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Health {
    status: &'static str,
    version: &'static str,
    store: StoreStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    databricks: Option<DatabricksStatus>,
}

/// Where Databricks tasks go by default; never the credentials.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DatabricksStatus {
    host: String,
    embedded_emulator: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct StoreStatus {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_version: Option<i64>,
}

/// `UP` with 200 when the store answers, `DOWN` with 503 when it does not.
#[utoipa::path(get, path = "/api/v1/health", tag = "health",
    responses((status = 200, description = "Mortar and its store are up", body = Health),
              (status = 503, description = "The store does not answer", body = Health)))]
pub(crate) async fn health(
    State(state): State<AppState>,
    caller: crate::auth::MaybeCaller,
) -> (StatusCode, Json<Health>) {
    let (code, store) = match state.store.health().await {
        Ok(health) => (
            StatusCode::OK,
            StoreStatus {
                status: "UP",
                schema_version: Some(health.schema_version),
            },
        ),
        Err(error) => {
            tracing::error!(%error, "health check: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                StoreStatus {
                    status: "DOWN",
                    schema_version: None,
                },
            )
        }
    };
    let status = store.status;
    // Where Databricks tasks go is for users only.
    let databricks = state
        .databricks
        .as_ref()
        .filter(|_| caller.0.is_some())
        .map(|d| DatabricksStatus {
            host: d.connection.host.clone(),
            embedded_emulator: d.embedded,
        });
    (
        code,
        Json(Health {
            status,
            version: env!("CARGO_PKG_VERSION"),
            store,
            databricks,
        }),
    )
}
