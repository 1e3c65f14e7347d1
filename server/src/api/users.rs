//! Users, API tokens and the audit log: `/api/v1/me…` for the caller,
//! `/api/v1/users…` and `/api/v1/audit` for admins (of every namespace).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use engine::auth::{Credential, Grant, Role, token};
use engine::store::{AuditQuery, TokenRecord, UserRecord};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// A user as the API shows them: never their password hash.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserJson {
    name: String,
    /// `admin`, `editor:company.data.*`…
    grants: Vec<String>,
    disabled: bool,
    created: String,
    updated: String,
}

fn user_json(user: UserRecord) -> UserJson {
    UserJson {
        name: user.name,
        grants: user.grants.iter().map(ToString::to_string).collect(),
        disabled: user.disabled,
        created: super::model::iso(user.created_at),
        updated: super::model::iso(user.updated_at),
    }
}

/// The caller.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MeJson {
    name: String,
    grants: Vec<String>,
    /// `session`, `token` or `password`.
    authenticated_by: &'static str,
}

/// `GET /api/v1/me`: who the credentials belong to.
#[utoipa::path(get, path = "/api/v1/me", tag = "users", responses((status = 200, body = MeJson), (status = 401, body = crate::error::ErrorJson)))]
pub(crate) async fn me(caller: Caller) -> Json<MeJson> {
    let p = caller.principal;
    let authenticated_by = match p.credential {
        Credential::Session { .. } => "session",
        Credential::Token { .. } => "token",
        Credential::Password => "password",
    };
    Json(MeJson {
        name: p.user,
        grants: p.grants.iter().map(ToString::to_string).collect(),
        authenticated_by,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `PUT /api/v1/me/password`: the caller's new password; their other
/// browser sessions end.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "users", request_body = PasswordChange,
    responses((status = 204, description = "Changed"), (status = 401, body = crate::error::ErrorJson), (status = 422, body = crate::error::ErrorJson)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(change): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    crate::auth::check_password(
        &state,
        &caller.principal.user,
        &change.current_password,
        caller.address,
    )
    .await?;
    set_password(
        &state,
        &caller.principal.user,
        &change.new_password,
        current_session(&caller),
    )
    .await?;
    caller
        .audit(
            &state.store,
            "user.password",
            None,
            Some(&caller.principal.user),
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The session that made a request, kept when a password changes.
fn current_session(caller: &Caller) -> Option<String> {
    match &caller.principal.credential {
        Credential::Session { digest, .. } => Some(digest.clone()),
        _ => None,
    }
}

async fn set_password(
    state: &AppState,
    user: &str,
    password: &str,
    keep: Option<String>,
) -> Result<(), ApiError> {
    engine::auth::check_password(password).map_err(|message| ApiError::Unprocessable {
        message,
        violations: Vec::new(),
    })?;
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || engine::auth::password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)?;
    if !state
        .store
        .set_password(user, &hash, keep.as_deref())
        .await?
    {
        return Err(ApiError::NotFound {
            message: format!("user {user} does not exist"),
        });
    }
    Ok(())
}

/// An API token as lists show it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenJson {
    id: String,
    name: String,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<String>,
    /// The token itself: only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn token_json(t: TokenRecord, secret: Option<String>) -> TokenJson {
    TokenJson {
        id: t.id,
        name: t.name,
        created: super::model::iso(t.created_at),
        expires: t.expires_at.map(super::model::iso),
        last_used: t.last_used.map(super::model::iso),
        revoked: t.revoked_at.map(super::model::iso),
        token: secret,
    }
}

/// `GET /api/v1/me/tokens`: the caller's API tokens, without their secrets.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "users", responses((status = 200, body = Vec<TokenJson>)))]
pub(crate) async fn tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenJson>>, ApiError> {
    Ok(Json(
        state
            .store
            .tokens(&caller.principal.user)
            .await?
            .into_iter()
            .map(|t| token_json(t, None))
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewToken {
    /// What it is for.
    name: String,
    /// Days until it expires; none: it does not.
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// The longest label of a token.
const TOKEN_NAME: usize = 100;

/// `POST /api/v1/me/tokens`: a new API token of the caller; the answer is
/// the only time its secret is shown (`Authorization: Bearer <token>`).
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "users", request_body = NewToken,
    responses((status = 201, body = TokenJson), (status = 422, body = crate::error::ErrorJson)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<TokenJson>), ApiError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > TOKEN_NAME {
        return Err(ApiError::Unprocessable {
            message: format!("name: give the token a name of 1 to {TOKEN_NAME} characters"),
            violations: Vec::new(),
        });
    }
    let (id, secret) = token::new_api_token();
    let expires = new
        .expires_in_days
        .map(|days| crate::auth::engine_now_ms() + i64::from(days) * 86_400_000);
    let record = state
        .store
        .create_token(
            &id,
            &caller.principal.user,
            name,
            &token::digest(&secret),
            expires,
        )
        .await?;
    caller
        .audit(
            &state.store,
            "token.create",
            None,
            Some(&id),
            Some(serde_json::json!({"name": name})),
        )
        .await;
    Ok((StatusCode::CREATED, Json(token_json(record, Some(secret)))))
}

/// `DELETE /api/v1/me/tokens/{id}`: revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = crate::error::ErrorJson)))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state
        .store
        .revoke_token(&caller.principal.user, &id)
        .await?
    {
        return Err(ApiError::NotFound {
            message: format!("you have no live token {id}"),
        });
    }
    caller
        .audit(&state.store, "token.revoke", None, Some(&id), None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users`: every user (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<UserJson>), (status = 403, body = crate::error::ErrorJson)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    caller.require(Role::Admin, None)?;
    Ok(Json(
        state
            .store
            .users()
            .await?
            .into_iter()
            .map(user_json)
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewUser {
    name: String,
    password: String,
    /// `viewer`, `operator`, `editor`, `admin`, or `ROLE:NAMESPACE`.
    grants: Vec<String>,
}

fn grants(texts: &[String]) -> Result<Vec<Grant>, ApiError> {
    texts
        .iter()
        .map(|g| g.parse::<Grant>())
        .collect::<Result<_, _>>()
        .map_err(|message| ApiError::Unprocessable {
            message,
            violations: Vec::new(),
        })
}

/// `POST /api/v1/users`: a new user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserJson), (status = 409, body = crate::error::ErrorJson), (status = 422, body = crate::error::ErrorJson)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    caller.require(Role::Admin, None)?;
    let unprocessable = |message: String| ApiError::Unprocessable {
        message,
        violations: Vec::new(),
    };
    engine::auth::check_user_name(&new.name).map_err(unprocessable)?;
    engine::auth::check_password(&new.password).map_err(unprocessable)?;
    let grants = grants(&new.grants)?;
    let password = new.password.clone();
    let hash = tokio::task::spawn_blocking(move || engine::auth::password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)?;
    if !state.store.create_user(&new.name, &hash, &grants).await? {
        return Err(ApiError::Conflict {
            message: format!("user {} exists already", new.name),
        });
    }
    caller
        .audit(
            &state.store,
            "user.create",
            None,
            Some(&new.name),
            Some(serde_json::json!({"grants": new.grants})),
        )
        .await;
    let (user, _) = state
        .store
        .user(&new.name)
        .await?
        .ok_or_else(|| ApiError::Internal("the new user is gone".into()))?;
    Ok((StatusCode::CREATED, Json(user_json(user))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct UserChange {
    #[serde(default)]
    grants: Option<Vec<String>>,
    #[serde(default)]
    disabled: Option<bool>,
    /// A new password, set by the admin.
    #[serde(default)]
    password: Option<String>,
}

/// `PUT /api/v1/users/{name}`: new roles, disabled or enabled, a new
/// password (admins). Disabling ends the user's sessions and stops their
/// tokens.
#[utoipa::path(put, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)), request_body = UserChange,
    responses((status = 200, body = UserJson), (status = 404, body = crate::error::ErrorJson), (status = 422, body = crate::error::ErrorJson)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(change): Json<UserChange>,
) -> Result<Json<UserJson>, ApiError> {
    caller.require(Role::Admin, None)?;
    if state.store.user(&name).await?.is_none() {
        return Err(ApiError::NotFound {
            message: format!("user {name} does not exist"),
        });
    }
    if let Some(texts) = &change.grants {
        let grants = grants(texts)?;
        if name == caller.principal.user
            && !grants
                .iter()
                .any(|g| g.role == Role::Admin && g.namespace.is_none())
        {
            return Err(ApiError::Unprocessable {
                message: "you cannot take the admin role from yourself: another admin can".into(),
                violations: Vec::new(),
            });
        }
        state.store.set_grants(&name, &grants).await?;
        caller
            .audit(
                &state.store,
                "user.grants",
                None,
                Some(&name),
                Some(serde_json::json!({"grants": texts})),
            )
            .await;
    }
    if let Some(disabled) = change.disabled {
        if disabled && name == caller.principal.user {
            return Err(ApiError::Unprocessable {
                message: "you cannot disable yourself".into(),
                violations: Vec::new(),
            });
        }
        state.store.set_disabled(&name, disabled).await?;
        caller
            .audit(
                &state.store,
                if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                },
                None,
                Some(&name),
                None,
            )
            .await;
    }
    if let Some(password) = &change.password {
        set_password(&state, &name, password, None).await?;
        caller
            .audit(&state.store, "user.password", None, Some(&name), None)
            .await;
    }
    let (user, _) = state
        .store
        .user(&name)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            message: format!("user {name} does not exist"),
        })?;
    Ok(Json(user_json(user)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct AuditParams {
    /// Only what this user did.
    user: Option<String>,
    /// Only this action (`login`, `flow.update`, `execution.create`…).
    action: Option<String>,
    /// Only this namespace and those under it.
    namespace: Option<String>,
    /// Lines older than this id (the next page).
    before: Option<i64>,
    /// Lines on a page (default 100, at most 1000).
    size: Option<u32>,
}

/// A line of the audit log.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditJson {
    id: i64,
    date: String,
    user: String,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    detail: Option<serde_json::Value>,
}

/// `GET /api/v1/audit`: who did what, newest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "users", params(AuditParams),
    responses((status = 200, body = Vec<AuditJson>), (status = 403, body = crate::error::ErrorJson)))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AuditParams>,
) -> Result<Json<Vec<AuditJson>>, ApiError> {
    caller.require(Role::Admin, None)?;
    let query = AuditQuery {
        actor: params.user.filter(|s| !s.is_empty()),
        action: params.action.filter(|s| !s.is_empty()),
        namespace: params.namespace.filter(|s| !s.is_empty()),
        before: params.before,
        limit: params.size.unwrap_or(100),
    };
    let lines = state.store.audit_log(&query).await?;
    Ok(Json(
        lines
            .into_iter()
            .map(|l| AuditJson {
                id: l.id,
                date: super::model::iso(l.at),
                user: l.actor,
                action: l.action,
                namespace: l.namespace,
                target: l.target,
                address: l.address,
                detail: l.detail,
            })
            .collect(),
    ))
}
