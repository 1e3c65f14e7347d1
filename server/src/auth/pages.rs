//! The pages that answer without a user: login, first-start setup, and
//! logout. Plain HTML forms, with no script, so that they work before the
//! browser bundle loads and under the strictest policy.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use engine::auth::{Grant, Role, token};
use serde::Deserialize;

use super::{audit, check_password, clear_cookie, client_address, session_cookie, start_session};
use crate::AppState;
use crate::error::ApiError;

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `GET /login`.
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    if let Some(cookie) = session_cookie(&headers)
        && let Ok(Some(_)) = state.store.session(&token::digest(&cookie)).await
    {
        return Redirect::to(&safe_next(query.next.as_deref())).into_response();
    }
    let no_user = state.store.count_users().await.is_ok_and(|n| n == 0);
    login_html(StatusCode::OK, query.next.as_deref(), None, no_user)
}

/// `POST /login`: a session for a right name and password.
pub async fn login(
    State(state): State<AppState>,
    request_parts: axum::http::request::Parts,
    Form(form): Form<LoginForm>,
) -> Response {
    let address = client_address(&request_parts.extensions);
    match check_password(&state, form.user.trim(), &form.password, address).await {
        Ok(user) => match start_session(&state, &user.name).await {
            Ok(cookie) => {
                audit(&state.store, &user.name, "login", None, None, address, None).await;
                let mut response = Redirect::to(&safe_next(form.next.as_deref())).into_response();
                response.headers_mut().insert(header::SET_COOKIE, cookie);
                response
            }
            Err(error) => error.into_response(),
        },
        Err(error @ ApiError::TooManyAttempts { .. }) => login_html(
            StatusCode::TOO_MANY_REQUESTS,
            form.next.as_deref(),
            Some(&error.to_string()),
            false,
        ),
        Err(ApiError::BadCredentials(message)) => login_html(
            StatusCode::UNAUTHORIZED,
            form.next.as_deref(),
            Some(&message),
            false,
        ),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (the form carries its CSRF token).
pub async fn logout(
    State(state): State<AppState>,
    request_parts: axum::http::request::Parts,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(cookie) = session_cookie(&request_parts.headers) {
        let digest = token::digest(&cookie);
        if let Ok(Some((user, csrf))) = state.store.session(&digest).await {
            if !token::same(&form.csrf, &csrf) {
                return ApiError::Forbidden {
                    message:
                        "this logout lacks the page's CSRF token: log out from Mortar's own page"
                            .into(),
                }
                .into_response();
            }
            if let Err(error) = state.store.delete_session(&digest).await {
                return ApiError::from(error).into_response();
            }
            audit(
                &state.store,
                &user.name,
                "logout",
                None,
                None,
                client_address(&request_parts.extensions),
                None,
            )
            .await;
        }
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(&state));
    response
}

#[derive(Deserialize, Default)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct SetupForm {
    token: String,
    user: String,
    password: String,
    confirm: String,
}

/// `GET /setup?token=…`: the form that creates the first admin.
pub async fn setup_page(
    State(state): State<AppState>,
    Query(query): Query<SetupQuery>,
) -> Response {
    match setup_refusal(&state, &query.token).await {
        Some(response) => response,
        None => setup_html(StatusCode::OK, &query.token, "", None),
    }
}

/// `POST /setup`: creates the first admin and logs them in.
pub async fn setup(
    State(state): State<AppState>,
    request_parts: axum::http::request::Parts,
    Form(form): Form<SetupForm>,
) -> Response {
    if let Some(response) = setup_refusal(&state, &form.token).await {
        return response;
    }
    let user = form.user.trim();
    let problem = engine::auth::check_user_name(user)
        .and_then(|()| engine::auth::check_password(&form.password))
        .and_then(|()| {
            if form.password == form.confirm {
                Ok(())
            } else {
                Err("the two passwords differ".into())
            }
        });
    if let Err(message) = problem {
        return setup_html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.token,
            user,
            Some(&message),
        );
    }
    if !super::take_setup_token(&state.store, &form.token).await {
        return setup_html(
            StatusCode::FORBIDDEN,
            "",
            user,
            Some("this setup link was just used or has expired"),
        );
    }
    let password = form.password.clone();
    let hash =
        match tokio::task::spawn_blocking(move || engine::auth::password::hash(&password)).await {
            Ok(Ok(hash)) => hash,
            _ => return ApiError::Internal("cannot hash the password".into()).into_response(),
        };
    let admin = [Grant {
        role: Role::Admin,
        namespace: None,
    }];
    match state.store.create_user(user, &hash, &admin).await {
        Ok(true) => {}
        Ok(false) => {
            return setup_html(
                StatusCode::CONFLICT,
                "",
                user,
                Some("that user exists already: log in"),
            );
        }
        Err(error) => return ApiError::from(error).into_response(),
    }
    let address = client_address(&request_parts.extensions);
    audit(
        &state.store,
        user,
        "user.create",
        None,
        Some(user),
        address,
        Some(serde_json::json!({"grants": ["admin"], "via": "setup link"})),
    )
    .await;
    match start_session(&state, user).await {
        Ok(cookie) => {
            let mut response = Redirect::to("/").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Why the setup form cannot be used now, as the page that says so.
async fn setup_refusal(state: &AppState, secret: &str) -> Option<Response> {
    match state.store.count_users().await {
        Ok(0) => {}
        Ok(_) => {
            return Some(message_html(
                StatusCode::CONFLICT,
                "Setup is done",
                "Mortar has users already. <a href=\"/login\">Log in</a>.",
            ));
        }
        Err(error) => return Some(ApiError::from(error).into_response()),
    }
    if super::setup_token_is_live(&state.store, secret).await {
        return None;
    }
    Some(message_html(
        StatusCode::FORBIDDEN,
        "This setup link does not work",
        "It was used already, is older than 30 minutes, or was not printed by a server on this database. Restart <code>mortar serve</code> to print a new one, \
         or create the first admin from a shell: <code>mortar users add NAME --role admin --password-stdin --data-dir DIR</code>.",
    ))
}

/// Where to go after logging in: a path of this site only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.starts_with("/login") =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{title} · Mortar</title>\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/pkg/mortar.css\"></head>\
         <body><main class=\"auth-page\"><div class=\"auth-card\"><h1>Mortar</h1><h2>{title}</h2>{body}</div></main></body></html>",
        title = escape(title),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn message_html(status: StatusCode, title: &str, body_html: &str) -> Response {
    page(status, title, &format!("<p>{body_html}</p>"))
}

fn error_html(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p class=\"auth-error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default()
}

fn login_html(
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
    no_user: bool,
) -> Response {
    let hint = if no_user {
        "<p class=\"auth-hint\">No user exists yet: open the setup link that <code>mortar serve</code> printed on its console, \
         or run <code>mortar users add NAME --role admin --password-stdin</code>.</p>"
    } else {
        ""
    };
    let body = format!(
        "{hint}{error}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>User <input name=\"user\" autocomplete=\"username\" required autofocus></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Log in</button></form>",
        error = error_html(error),
        next = escape(&safe_next(next)),
    );
    page(status, "Log in", &body)
}

fn setup_html(status: StatusCode, secret: &str, user: &str, error: Option<&str>) -> Response {
    let body = format!(
        "<p>Create the first user. They are an admin: they add the others.</p>{error}<form method=\"post\" action=\"/setup\">\
         <input type=\"hidden\" name=\"token\" value=\"{secret}\">\
         <label>User <input name=\"user\" value=\"{user}\" autocomplete=\"username\" required autofocus></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"{min}\" required></label>\
         <label>Password again <input name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required></label>\
         <button type=\"submit\">Create the admin</button></form>",
        error = error_html(error),
        secret = escape(secret),
        user = escape(user),
        min = engine::auth::MIN_PASSWORD,
    );
    page(status, "First start", &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_paths_of_this_site_are_followed_after_login() {
        assert_eq!(super::safe_next(Some("/flows?q=1")), "/flows?q=1");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "/login?next=/x",
            "flows",
        ] {
            assert_eq!(super::safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(
            super::escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
