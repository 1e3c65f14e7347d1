//! Who is calling: every request but the public ones (health, the login
//! and setup pages, static files, a flow's webhook) carries a browser
//! session, an API token (`Authorization: Bearer`) or, on `/api/v1`, a
//! user's password (`Authorization: Basic`, as Kestra's clients send it).
//! The [`Principal`] found is put in the request's extensions, where REST
//! handlers ([`Caller`]) and server functions find it.
//!
//! A state-changing request made with a session cookie must also carry the
//! session's CSRF token in `X-CSRF-Token` (the pages hold it; the browser's
//! server-function client and uploads send it). Forms that do not go
//! through the app (logout) carry it as a field and check it themselves.

pub mod pages;
pub mod users_cli;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use engine::auth::{Credential, Principal, token};
use engine::store::{NewAudit, Store, UserRecord};

use crate::AppState;
use crate::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mortar_session";
/// The header state-changing requests of a session carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts from login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long the setup link printed at first start works.
pub const SETUP_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// What the server keeps about logins. Failed attempts and the setup
/// token live in the store, so that every web node of a deployment counts
/// and accepts the same; only a cache of verified passwords is per node.
#[derive(Default)]
pub struct Auth {
    /// Passwords of basic auth recently verified: (user, digest of the
    /// password) → (the hash it matched, when). Verifying argon2 on every
    /// API call would cost tens of milliseconds each.
    verified: Mutex<HashMap<(String, String), (String, Instant)>>,
    /// Cookies get `Secure` when users reach Mortar over HTTPS (`--url`).
    pub secure_cookies: bool,
}

/// How long a verified basic-auth password is trusted without verifying
/// it again (a changed password is seen at once: the hash differs).
const VERIFIED_FOR: Duration = Duration::from_secs(300);

impl Auth {
    pub fn new(secure_cookies: bool) -> Self {
        Self {
            secure_cookies,
            ..Self::default()
        }
    }
}

/// Makes the one-time setup link's token (when no user exists yet); any
/// web node on the same database accepts it, once.
pub async fn new_setup_token(store: &Store) -> Result<String, engine::store::StoreError> {
    let secret = token::random();
    let until = engine_now_ms() + i64::try_from(SETUP_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    store
        .add_setup_token(&token::digest(&secret), until)
        .await?;
    Ok(secret)
}

/// Whether `secret` is a live setup token; it is used up if so.
pub async fn take_setup_token(store: &Store, secret: &str) -> bool {
    store
        .take_setup_token(&token::digest(secret), engine_now_ms())
        .await
        .unwrap_or(false)
}

/// Whether a setup token is live (without using it).
pub async fn setup_token_is_live(store: &Store, secret: &str) -> bool {
    store
        .setup_token_is_live(&token::digest(secret), engine_now_ms())
        .await
        .unwrap_or(false)
}

/// Slows repeated failed logins: after a few failures for a user, or many
/// from one address, each further attempt must wait, twice as long each
/// time, up to 15 minutes. A success clears the user's count. Counted in
/// the store, so that several web nodes count together.
pub struct Lockout;

/// Failures allowed before waiting starts, per user and per address.
const FREE_PER_USER: u32 = 5;
const FREE_PER_ADDRESS: u32 = 20;
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Entries of the verified-password cache kept before it is emptied.
const KEPT_ENTRIES: usize = 10_000;

impl Lockout {
    fn keys(user: &str, address: Option<IpAddr>) -> [(String, u32); 2] {
        [
            (format!("user:{}", user.to_ascii_lowercase()), FREE_PER_USER),
            (
                format!(
                    "address:{}",
                    address.map(|a| a.to_string()).unwrap_or_default()
                ),
                FREE_PER_ADDRESS,
            ),
        ]
    }

    /// How long `user` from `address` must wait before trying again.
    pub async fn wait(
        store: &Store,
        user: &str,
        address: Option<IpAddr>,
    ) -> Result<Option<Duration>, engine::store::StoreError> {
        let [(user_key, _), (address_key, _)] = Self::keys(user, address);
        let now = engine_now_ms();
        let until = store.login_wait(&user_key, &address_key, now).await?;
        Ok(until.map(|until| Duration::from_millis(u64::try_from(until - now).unwrap_or(0))))
    }

    pub async fn failed(
        store: &Store,
        user: &str,
        address: Option<IpAddr>,
    ) -> Result<(), engine::store::StoreError> {
        let longest = i64::try_from(LONGEST_WAIT.as_millis()).unwrap_or(i64::MAX);
        for (key, free) in Self::keys(user, address) {
            let free = i64::from(free);
            let wait = |count: i64| match count {
                count if count < free => 0,
                count => (1000i64 << (count - free).min(20)).min(longest),
            };
            store
                .login_failed(&key, engine_now_ms(), longest, wait)
                .await?;
        }
        Ok(())
    }

    pub async fn succeeded(store: &Store, user: &str) -> Result<(), engine::store::StoreError> {
        store
            .login_succeeded(&format!("user:{}", user.to_ascii_lowercase()))
            .await
    }
}

/// Who is calling: the extractor of handlers that need a user, with where
/// the request came from (for the audit log).
pub struct Caller {
    pub principal: Principal,
    pub address: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            principal,
            address: client_address(&parts.extensions),
        })
    }
}

impl Caller {
    /// Refuses (403, naming the role) unless the caller holds `role` on
    /// `namespace` (`None`: on every namespace).
    pub fn require(
        &self,
        role: engine::auth::Role,
        namespace: Option<&str>,
    ) -> Result<(), ApiError> {
        Ok(self.principal.require(role, namespace)?)
    }

    /// Writes what the caller did to the audit log.
    pub async fn audit(
        &self,
        store: &Store,
        action: &str,
        namespace: Option<&str>,
        target: Option<&str>,
        detail: Option<serde_json::Value>,
    ) {
        audit(
            store,
            &self.principal.user,
            action,
            namespace,
            target,
            self.address,
            detail,
        )
        .await;
    }
}

/// The caller when there is one (public routes).
pub struct MaybeCaller(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<Principal>().cloned()))
    }
}

/// The address a request came from, when the server knows it.
pub fn client_address(parts_extensions: &axum::http::Extensions) -> Option<IpAddr> {
    parts_extensions
        .get::<engine::auth::Address>()
        .map(|a| a.0)
        .or_else(|| {
            parts_extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
}

/// Writes a line of the audit log; a failure to write it is logged, never
/// hidden from the log, never fatal to what was done.
pub async fn audit(
    store: &Store,
    actor: &str,
    action: &str,
    namespace: Option<&str>,
    target: Option<&str>,
    address: Option<IpAddr>,
    detail: Option<serde_json::Value>,
) {
    let entry = NewAudit {
        actor: actor.to_owned(),
        action: action.to_owned(),
        namespace: namespace.map(str::to_owned),
        target: target.map(str::to_owned),
        address: address.map(|a| a.to_string()),
        detail,
    };
    if let Err(error) = store.audit(entry).await {
        tracing::error!(%error, action, "cannot write the audit log");
    }
}

/// Whether `path` answers without a user.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/api/v1/health" | "/login" | "/setup" | "/logout")
        || path.starts_with("/api/v1/executions/webhook/")
        || crate::assets::is_asset(path)
}

/// The middleware: finds the caller, refuses those without one on
/// non-public routes (401 for the API and server functions, the login page
/// for pages) and checks the CSRF token of sessions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let address = client_address(request.extensions());
    let principal = match identify(&state, request.headers(), &path, address).await {
        Ok(principal) => principal,
        // A public route does not care about credentials meant for
        // something else (a webhook's sender may send its own).
        Err(_) if is_public(&path) => None,
        Err(response) => return *response,
    };
    let api = path.starts_with("/api/") || path.starts_with("/rpc/");
    match principal {
        Some(principal) => {
            let changes = !matches!(
                *request.method(),
                Method::GET | Method::HEAD | Method::OPTIONS
            );
            if let Some(csrf) = principal.csrf()
                && changes
                && !matches!(path.as_str(), "/logout" | "/login" | "/setup")
            {
                let sent = request
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !token::same(sent, csrf) {
                    return ApiError::Forbidden {
                        message: "this request lacks the page's CSRF token (X-CSRF-Token): reload the page and try again".into(),
                    }
                    .into_response();
                }
            }
            request.extensions_mut().insert(principal);
        }
        None if is_public(&path) => {}
        None if api => return ApiError::Unauthorized.into_response(),
        None => {
            let wanted = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            let query = serde_urlencoded::to_string([("next", wanted)]).unwrap_or_default();
            return Redirect::to(&format!("/login?{query}")).into_response();
        }
    }
    next.run(request).await
}

/// The user a request proves it is, if any. A credential that is present
/// but wrong is an error (401, or 429 while locked out), not anonymity.
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    address: Option<IpAddr>,
) -> Result<Option<Principal>, Box<Response>> {
    let fail = |error: ApiError| Box::new(error.into_response());
    if let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(secret) = authorization.strip_prefix("Bearer ").map(str::trim) {
            let Some(id) = token::api_token_id(secret) else {
                return Err(fail(ApiError::BadCredentials(
                    "the bearer token is not a Mortar API token (mtk_…)".into(),
                )));
            };
            return match state.store.token_user(id, &token::digest(secret)).await {
                Ok(Some(user)) => Ok(Some(principal(
                    user,
                    Credential::Token { id: id.to_owned() },
                ))),
                Ok(None) => Err(fail(ApiError::BadCredentials(
                    "the API token is unknown, expired or revoked".into(),
                ))),
                Err(error) => Err(fail(error.into())),
            };
        }
        if let Some(encoded) = authorization.strip_prefix("Basic ").map(str::trim)
            && path.starts_with("/api/")
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(fail(ApiError::BadCredentials(
                    "the basic credentials are not base64 of user:password".into(),
                )));
            };
            return match check_password(state, user, password, address).await {
                Ok(user) => Ok(Some(principal(user, Credential::Password))),
                Err(error) => Err(fail(error)),
            };
        }
    }
    let Some(session) = session_cookie(headers) else {
        return Ok(None);
    };
    let digest = token::digest(&session);
    match state.store.session(&digest).await {
        Ok(Some((user, csrf))) => Ok(Some(principal(user, Credential::Session { csrf, digest }))),
        // An expired or ended session is no session: the login page follows.
        Ok(None) => Ok(None),
        Err(error) => Err(fail(error.into())),
    }
}

fn principal(user: UserRecord, credential: Credential) -> Principal {
    Principal {
        user: user.name,
        grants: user.grants,
        credential,
    }
}

/// Checks a user's password, with the lockout; the same error whether the
/// user or the password is wrong.
pub async fn check_password(
    state: &AppState,
    user: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<UserRecord, ApiError> {
    let auth = &state.auth;
    if let Some(wait) = Lockout::wait(&state.store, user, address).await? {
        return Err(ApiError::TooManyAttempts {
            retry_after: wait.as_secs().max(1),
        });
    }
    let found = state.store.user(user).await?;
    let password_digest = token::digest(password);
    let key = (user.to_owned(), password_digest);
    if let Some((record, hash)) = &found
        && !record.disabled
        && auth
            .verified
            .lock()
            .ok()
            .and_then(|v| v.get(&key).cloned())
            .is_some_and(|(h, at)| &h == hash && at.elapsed() < VERIFIED_FOR)
    {
        return Ok(record.clone());
    }
    let hash = found.as_ref().map_or_else(
        || engine::auth::password::decoy().to_owned(),
        |(_, h)| h.clone(),
    );
    let attempt = password.to_owned();
    let matches =
        tokio::task::spawn_blocking(move || engine::auth::password::verify(&attempt, &hash))
            .await
            .unwrap_or(false);
    match found {
        Some((record, hash)) if matches && !record.disabled => {
            Lockout::succeeded(&state.store, user).await?;
            if let Ok(mut verified) = auth.verified.lock() {
                if verified.len() >= KEPT_ENTRIES {
                    verified.clear();
                }
                verified.insert(key, (hash, Instant::now()));
            }
            Ok(record)
        }
        _ => {
            Lockout::failed(&state.store, user, address).await?;
            audit(
                &state.store,
                user,
                "login.failed",
                None,
                None,
                address,
                None,
            )
            .await;
            Err(ApiError::BadCredentials(
                "wrong user name or password, or the user is disabled".into(),
            ))
        }
    }
}

/// Starts a session for `user`: the cookie to set.
pub async fn start_session(state: &AppState, user: &str) -> Result<HeaderValue, ApiError> {
    let secret = token::random();
    let expires = engine_now_ms() + i64::try_from(SESSION_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    state
        .store
        .create_session(user, &token::digest(&secret), &token::random(), expires)
        .await?;
    let secure = if state.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        SESSION_LIFETIME.as_secs()
    );
    HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(format!("cookie: {e}")))
}

/// The cookie that ends a session in the browser.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    let secure = if state.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// Now, in Unix milliseconds.
pub fn engine_now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lockout_waits_after_a_few_failures_and_a_success_clears_it() {
        let store = Store::scratch().await.unwrap();
        let address = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..FREE_PER_USER - 1 {
            Lockout::failed(&store, "ann", address).await.unwrap();
        }
        assert_eq!(Lockout::wait(&store, "ann", address).await.unwrap(), None);
        Lockout::failed(&store, "ann", address).await.unwrap();
        let wait = Lockout::wait(&store, "Ann", address)
            .await
            .unwrap()
            .expect("locked after five failures");
        assert!(wait <= Duration::from_secs(1));
        Lockout::failed(&store, "ann", address).await.unwrap();
        assert!(
            Lockout::wait(&store, "ann", None).await.unwrap().unwrap() > Duration::from_secs(1),
            "twice as long"
        );
        assert_eq!(
            Lockout::wait(&store, "bob", None).await.unwrap(),
            None,
            "other users are not slowed"
        );
        Lockout::succeeded(&store, "ann").await.unwrap();
        assert_eq!(Lockout::wait(&store, "ann", None).await.unwrap(), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mortar_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("mortar_session="));
        assert_eq!(session_cookie(&headers), None);
    }

    #[tokio::test]
    async fn setup_tokens_are_used_once() {
        let store = Store::scratch().await.unwrap();
        let secret = new_setup_token(&store).await.unwrap();
        assert!(!take_setup_token(&store, "wrong").await);
        assert!(setup_token_is_live(&store, &secret).await);
        assert!(take_setup_token(&store, &secret).await);
        assert!(!take_setup_token(&store, &secret).await);
        assert!(!setup_token_is_live(&store, &secret).await);
    }
}
