//! Lakebase (Databricks' managed PostgreSQL) through its `postgres` API:
//! `GET /api/2.0/postgres/projects/{p}/branches/{b}/endpoints/{e}` and
//! `POST /api/2.0/postgres/credentials`. The endpoint is the PostgreSQL
//! server given with `--lakebase-postgres`: a credential makes the caller
//! (the OAuth client id, or the PAT's user) a login role of it whose
//! password is the token, able to read and write every table, as Lakebase
//! lets a principal sign in with its OAuth identity.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use sqlx::{ConnectOptions, Connection};

use crate::Shared;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lenient::Body;

/// The one endpoint every emulator has.
pub(crate) const ENDPOINT: &str = "projects/mortar/branches/production/endpoints/primary";

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/2.0/postgres/credentials", post(credentials))
        .route("/api/2.0/postgres/projects/{project}/branches/{branch}/endpoints", get(list))
        .route(
            "/api/2.0/postgres/projects/{project}/branches/{branch}/endpoints/{endpoint}",
            get(endpoint),
        )
}

fn server(state: &Shared) -> ApiResult<sqlx::postgres::PgConnectOptions> {
    let url = state.lakebase.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "FEATURE_DISABLED",
            "Lakebase is not set up on this emulator: start it with --lakebase-postgres postgres://user@host:port/db",
        )
    })?;
    url.parse()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", format!("--lakebase-postgres: {e}")))
}

fn check(name: &str) -> ApiResult<()> {
    if name == ENDPOINT {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Endpoint '{name}' does not exist. The emulator has one: {ENDPOINT}."),
        ))
    }
}

fn endpoint_json(state: &Shared) -> ApiResult<Value> {
    let options = server(state)?;
    Ok(json!({
        "name": ENDPOINT,
        "uid": "ep-mortar-primary",
        "spec": {"endpoint_type": "ENDPOINT_TYPE_READ_WRITE"},
        "status": {
            "current_state": "ACTIVE",
            "hosts": {"host": options.get_host()},
            "port": options.get_port(),
        },
    }))
}

async fn endpoint(
    State(state): State<Shared>,
    Path((project, branch, endpoint)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    check(&format!("projects/{project}/branches/{branch}/endpoints/{endpoint}"))?;
    Ok(Json(endpoint_json(&state)?))
}

async fn list(
    State(state): State<Shared>,
    Path((project, branch)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let endpoints = if format!("projects/{project}/branches/{branch}/endpoints/primary") == ENDPOINT {
        vec![endpoint_json(&state)?]
    } else {
        Vec::new()
    };
    Ok(Json(json!({ "endpoints": endpoints })))
}

/// A role name quoted for PostgreSQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn credentials(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let name = body.req_str("endpoint")?;
    check(&name)?;
    let options = server(&state)?;
    let token = format!("lbt{}", uuid::Uuid::new_v4().simple());
    let failed = |e: sqlx::Error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", format!("the Lakebase server refused: {e}"))
    };
    let mut conn = options.connect().await.map_err(failed)?;
    let role = ident(&p.0);
    // Only fixed text and quoted identifiers are formatted in; the token is
    // ours (letters and digits).
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_roles WHERE rolname = $1")
        .bind(&p.0)
        .fetch_optional(&mut conn)
        .await
        .map_err(failed)?;
    let verb = if exists.is_some() { "ALTER" } else { "CREATE" };
    for statement in [
        format!("{verb} ROLE {role} LOGIN PASSWORD '{token}'"),
        format!("GRANT pg_read_all_data, pg_write_all_data TO {role}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut conn).await.map_err(failed)?;
    }
    let _ = conn.close().await;
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    Ok(Json(json!({"token": token, "expire_time": expires.to_string()})))
}
