//! Nobody gets in without logging in: every route but the public ones
//! refuses anonymous callers; roles are enforced per namespace; sessions
//! carry a CSRF token; failed logins slow down; tokens can be revoked; the
//! audit log records who did what.

use serde_json::{Value, json};

use super::support::{ADMIN, PASSWORD, TestApp};

const FLOW_A: &str =
    "id: hello\nnamespace: a.team\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n";
const FLOW_B: &str =
    "id: hello\nnamespace: b.team\ntasks:\n  - id: t\n    type: log.Log\n    message: hi\n";

fn no_redirects() -> reqwest::Client {
    engine::http::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Fills `{…}` path parameters with something that exists or not: a
/// refusal must come before any lookup.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str(if &rest[start..end] == "{tenant}" {
            "main"
        } else {
            "x"
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_route_but_the_public_ones_refuses_anonymous_callers() {
    let app = TestApp::spawn().await;
    let anonymous = no_redirects();
    let document: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            let url = app.url(&concrete(path));
            let response = anonymous
                .request(method.to_uppercase().parse().unwrap(), &url)
                .send()
                .await
                .unwrap();
            let public = path.ends_with("/health") || path.contains("/executions/webhook/");
            if public {
                assert_ne!(response.status(), 401, "{method} {path} is public");
            } else {
                assert_eq!(
                    response.status(),
                    401,
                    "{method} {path} must refuse anonymous callers"
                );
                let body: Value = response.json().await.unwrap();
                assert!(
                    body["message"].as_str().unwrap().contains("log in first"),
                    "{method} {path}: {body}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "only {checked} operations walked");
    // The document itself is not public.
    assert_eq!(
        anonymous
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Every server function.
    let mut functions = 0;
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        let response = anonymous
            .request(method.as_str().parse().unwrap(), app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            401,
            "{method} {path} must refuse anonymous callers"
        );
        functions += 1;
    }
    assert!(functions >= 14, "only {functions} server functions");
    // Every page (and a path that is no page) sends to the login page.
    for page in [
        "/",
        "/flows",
        "/flows/new",
        "/flows/a/b",
        "/flows/a/b/editor",
        "/executions",
        "/executions/x",
        "/namespaces/a/kv",
        "/blueprints",
        "/account",
        "/users",
        "/audit",
        "/nodes",
        "/nowhere",
    ] {
        let response = anonymous.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{page}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{page}: {location}");
    }
    // What is public: health (without the Databricks host), the login and
    // setup pages, the bundle's files.
    let health: Value = anonymous
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "UP");
    assert!(
        health.get("databricks").is_none(),
        "anonymous callers do not learn the Databricks host: {health}"
    );
    assert_eq!(
        anonymous
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        anonymous
            .get(app.url("/setup?token=wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        409,
        "setup is done: users exist"
    );
    app.stop().await;
}

#[tokio::test]
async fn roles_are_enforced_per_namespace() {
    let app = TestApp::spawn().await;
    for flow in [FLOW_A, FLOW_B] {
        assert_eq!(app.post_flow(flow).await.status(), 200);
    }
    let yaml = |client: &reqwest::Client, body: &'static str| {
        client
            .post(app.url("/api/v1/flows"))
            .header("content-type", "application/x-yaml")
            .body(body)
    };
    // A viewer reads but cannot execute, and the refusal names the role.
    let viewer = app.client_as("vera", "viewer").await;
    assert_eq!(
        viewer
            .get(app.url("/api/v1/flows/a.team/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let refused = viewer
        .post(app.url("/api/v1/executions/a.team/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["message"],
        "vera needs the operator role on namespace a.team to do this (granted: viewer)"
    );
    // An editor of a.* works in a and nowhere else, and sees only a.
    let editor = app.client_as("eddie", "editor:a").await;
    let changed = FLOW_A.replace("hi", "hello");
    let put = editor
        .put(app.url("/api/v1/flows/a.team/hello"))
        .header("content-type", "application/x-yaml")
        .body(changed)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let put = editor
        .put(app.url("/api/v1/flows/b.team/hello"))
        .header("content-type", "application/x-yaml")
        .body(FLOW_B)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    assert_eq!(
        yaml(&editor, FLOW_B).send().await.unwrap().status(),
        403,
        "the namespace in the YAML counts"
    );
    assert_eq!(
        editor
            .delete(app.url("/api/v1/flows/b.team/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        editor
            .get(app.url("/api/v1/flows/b.team/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let found: Value = editor
        .get(app.url("/api/v1/flows/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let namespaces: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["a.team"]);
    assert_eq!(
        editor
            .put(app.url("/api/v1/namespaces/b.team/kv/k"))
            .body("1")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        editor
            .put(app.url("/api/v1/namespaces/a.team/kv/k"))
            .body("1")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Executions of b are neither listed nor readable for them.
    let ran: Value = app
        .client
        .post(app.url("/api/v1/executions/b.team/hello?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = ran["id"].as_str().unwrap();
    assert_eq!(
        editor
            .get(app.url(&format!("/api/v1/executions/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        editor
            .get(app.url(&format!("/api/v1/logs/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let listed: Value = editor
        .get(app.url("/api/v1/executions/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 0, "{listed}");
    let listed: Value = app
        .client
        .get(app.url("/api/v1/executions/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1, "{listed}");
    // An operator executes but does not save; nobody but admins manages users.
    let operator = app.client_as("otto", "operator").await;
    assert_eq!(
        operator
            .post(app.url("/api/v1/executions/a.team/hello?wait=true"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(yaml(&operator, FLOW_A).send().await.unwrap().status(), 403);
    for client in [&viewer, &editor, &operator] {
        assert_eq!(
            client
                .get(app.url("/api/v1/users"))
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
        assert_eq!(
            client
                .get(app.url("/api/v1/audit"))
                .send()
                .await
                .unwrap()
                .status(),
            403
        );
    }
    // The same rules hold for server functions.
    let rpc = editor
        .post(app.url("/rpc/get_flow_source"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("namespace=b.team&id=hello")
        .send()
        .await
        .unwrap();
    assert_eq!(rpc.status(), 403);
    assert!(
        rpc.text()
            .await
            .unwrap()
            .contains("needs the viewer role on namespace b.team")
    );
    app.stop().await;
}

/// Logs in through the form; the session cookie.
async fn log_in(app: &TestApp, user: &str, password: &str) -> reqwest::Response {
    no_redirects()
        .post(app.url("/login"))
        .form(&[("user", user), ("password", password), ("next", "/flows")])
        .send()
        .await
        .unwrap()
}

fn cookie_of(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_needs_its_csrf_token_to_change_anything() {
    let app = TestApp::spawn().await;
    let wrong = log_in(&app, ADMIN, "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("wrong user name or password")
    );
    let response = log_in(&app, ADMIN, PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/flows");
    let cookie = cookie_of(&response);
    let browser = no_redirects();
    // The page carries the token; the API answers the session.
    let page = browser
        .get(app.url("/flows"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let scripts = policy
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap();
    assert!(
        scripts.contains("'self' 'nonce-")
            && scripts.contains("'wasm-unsafe-eval'")
            && !scripts.contains("unsafe-inline"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the CSRF token")
        .to_owned();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    for script in html.split("<script").skip(1) {
        assert!(
            script.contains(&format!("nonce=\"{nonce}\"")),
            "every inline script carries the nonce: <script{}",
            &script[..script.len().min(120)]
        );
    }
    let me: Value = browser
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"name": ADMIN, "grants": ["admin"], "authenticatedBy": "session"})
    );
    let post = |token: Option<&str>| {
        let request = browser
            .post(app.url("/api/v1/flows"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-yaml")
            .body(FLOW_A);
        match token {
            Some(token) => request.header("x-csrf-token", token),
            None => request,
        }
    };
    let refused = post(None).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("CSRF"));
    assert_eq!(post(Some("forged")).send().await.unwrap().status(), 403);
    assert_eq!(post(Some(&csrf)).send().await.unwrap().status(), 200);
    // A server function posted as a plain form without the token fails too.
    let form = browser
        .post(app.url("/rpc/save_flow_source"))
        .header("cookie", &cookie)
        .form(&[("namespace", ""), ("id", ""), ("source", FLOW_B)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    assert_eq!(
        app.client
            .get(app.url("/api/v1/flows/b.team/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Logging out needs the token too, and ends the session.
    let forged = browser
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let out = browser
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(
        browser
            .get(app.url("/api/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_slow_down_and_basic_auth_and_tokens_work_on_the_api() {
    let app = TestApp::spawn().await;
    app.add_user("bob", "viewer").await;
    // Basic auth, as Kestra's clients send it, on the API only.
    let basic = app
        .anonymous
        .get(app.url("/api/v1/flows/search"))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    let page = no_redirects()
        .get(app.url("/flows"))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "pages want a session");
    for _ in 0..5 {
        let wrong = app
            .anonymous
            .get(app.url("/api/v1/me"))
            .basic_auth("bob", Some("guess"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
    }
    let locked = app
        .anonymous
        .get(app.url("/api/v1/me"))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 429, "even the right password waits");
    assert!(locked.headers().contains_key("retry-after"));
    let locked = log_in(&app, "bob", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.anonymous
            .get(app.url("/api/v1/me"))
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Tokens: shown once, used as bearer, revoked.
    let created: Value = app
        .client
        .post(app.url("/api/v1/me/tokens"))
        .json(&json!({"name": "ci", "expiresInDays": 30}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let listed: Value = app
        .client
        .get(app.url("/api/v1/me/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !listed.to_string().contains(&token),
        "lists never show the secret"
    );
    let with_token = app
        .anonymous
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.client
            .delete(app.url(&format!("/api/v1/me/tokens/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        app.anonymous
            .get(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.anonymous
            .get(app.url("/api/v1/me"))
            .bearer_auth("mtk_nope_nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // A disabled user is out at once.
    app.client
        .put(app.url("/api/v1/users/bob"))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.anonymous
            .get(app.url("/api/v1/me"))
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_says_who_did_what() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_flow(FLOW_A).await.status(), 200);
    let ran: Value = app
        .client
        .post(app.url("/api/v1/executions/a.team/hello?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = log_in(&app, "mallory", "guess").await;
    let created = app
        .client
        .post(app.url("/api/v1/users"))
        .json(&json!({"name": "carol", "password": PASSWORD, "grants": ["editor:a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        app.client
            .delete(app.url("/api/v1/flows/a.team/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let log: Value = app
        .client
        .get(app.url("/api/v1/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lines: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["user"].as_str().unwrap().to_owned(),
                l["action"].as_str().unwrap().to_owned(),
                l["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        (ADMIN, "flow.delete", "hello"),
        (ADMIN, "user.create", "carol"),
        ("mallory", "login.failed", ""),
        (ADMIN, "execution.create", ran["id"].as_str().unwrap()),
        (ADMIN, "flow.create", "hello"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(lines, expected);
    assert!(
        !log.to_string().contains(PASSWORD),
        "no password in the log"
    );
    let filtered: Value = app
        .client
        .get(app.url("/api/v1/audit?action=flow.create&namespace=a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    app.stop().await;
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn a_secret_value_goes_in_and_never_comes_out() {
    let app = TestApp::spawn().await;
    let value = "s3cr3t-Value-42";
    let derived = [
        value.to_owned(),
        value.to_uppercase(),
        value.chars().rev().collect(),
        value.to_lowercase(),
    ];
    // Only admins of the namespace set it; editors see its name.
    let editor = app.client_as("eddie", "editor:a").await;
    let put = editor
        .put(app.url("/api/v1/namespaces/a.team/secrets/DB_PASSWORD"))
        .body(value)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    let put = app
        .client
        .put(app.url("/api/v1/namespaces/a.team/secrets/DB_PASSWORD"))
        .body(value)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let listed: Value = editor
        .get(app.url("/api/v1/namespaces/a.team/secrets"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["key"], "DB_PASSWORD");
    assert_eq!(listed[0]["setBy"], ADMIN);
    let viewer = app.client_as("vera", "viewer").await;
    assert_eq!(
        viewer
            .get(app.url("/api/v1/namespaces/a.team/secrets"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // A flow of a child namespace uses it, transformed, and fails on it.
    let flow = "id: leak\nnamespace: a.team.etl\ntasks:\n  - id: say\n    type: log.Log\n    message: \"{{ secret('DB_PASSWORD') }} {{ secret('DB_PASSWORD') | upper }} {{ secret('DB_PASSWORD') | reverse }}\"\n  - id: give\n    type: debug.Return\n    format: \"{{ secret('DB_PASSWORD') | lower }}\"\n  - id: fail\n    type: debug.Return\n    format: \"{{ secret('DB_PASSWORD') | number }}\"\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let ran: Value = app
        .client
        .post(app.url("/api/v1/executions/a.team.etl/leak?wait=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ran["state"]["current"], "FAILED", "{ran}");
    let id = ran["id"].as_str().unwrap();
    let logs = app
        .client
        .get(app.url(&format!("/api/v1/logs/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(logs.contains("****** ****** ******"), "{logs}");
    // Everything a reader can get: API answers and the pages' HTML.
    let response = log_in(&app, ADMIN, PASSWORD).await;
    let cookie = cookie_of(&response);
    let mut seen = vec![logs];
    for path in [
        format!("/api/v1/executions/{id}"),
        format!("/api/v1/logs/{id}/download"),
        format!("/api/v1/outputs/tasks/{id}"),
        "/api/v1/namespaces/a.team/secrets".to_owned(),
        "/api/v1/audit".to_owned(),
    ] {
        seen.push(
            app.client
                .get(app.url(&path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    for page in [
        format!("/executions/{id}"),
        "/namespaces/a.team/secrets".to_owned(),
        "/executions".to_owned(),
        "/audit".to_owned(),
    ] {
        let html = app
            .anonymous
            .get(app.url(&page))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(html.status(), 200, "{page}");
        seen.push(html.text().await.unwrap());
    }
    for text in &seen {
        for form in &derived {
            assert!(
                !text.contains(form.as_str()),
                "{form} leaked in: {}",
                &text[..text.len().min(2000)]
            );
        }
    }
    app.state.logs.sender().flush().await;
    // Nor is it on disk in clear: database, its WAL, internal storage (on
    // PostgreSQL, MORTAR_TEST_POSTGRES, the database is not on this disk).
    if app.state.store.is_postgres() {
        app.stop().await;
        return;
    }
    for form in &derived {
        assert_eq!(
            files_containing(app.data_dir(), form),
            Vec::<std::path::PathBuf>::new(),
            "{form} is on disk in clear"
        );
    }
    assert!(
        !files_containing(app.data_dir(), "DB_PASSWORD").is_empty(),
        "the search does find what is there"
    );
    app.stop().await;
}
