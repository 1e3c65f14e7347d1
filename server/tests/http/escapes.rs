//! Every way out of an execution's or a namespace's storage is refused
//! over HTTP, ids are checked before they reach the store or the disk,
//! and a webhook keeps credential headers out of the trigger data.

use serde_json::{Value, json};

use super::support::TestApp;

const UPLOAD: &str = "id: upload\nnamespace: data\ninputs:\n  - id: sales\n    type: FILE\ntasks:\n  - id: where\n    type: debug.Return\n    format: \"{{ inputs.sales }}\"\n";

async fn upload(app: &TestApp, file_name: &str, content: &str) -> Value {
    let (status, body) = try_upload(app, file_name, content).await;
    assert_eq!(status, 200, "{file_name}: {body}");
    body
}

async fn try_upload(app: &TestApp, file_name: &str, content: &str) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(content.as_bytes().to_vec())
        .file_name(file_name.to_owned())
        .mime_str("text/csv")
        .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/executions/data/upload?wait=true"))
        .multipart(reqwest::multipart::Form::new().part("sales", part))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn file_url(app: &TestApp, id: &str) -> String {
    app.url(&format!("/api/v1/executions/{id}/file"))
}

#[tokio::test]
async fn execution_files_are_reached_through_their_own_execution_only() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_flow(UPLOAD).await.status(), 200);
    let mine = upload(&app, "sales.csv", "mine\n").await;
    let theirs = upload(&app, "sales.csv", "theirs\n").await;
    let (id, uri) = (
        mine["id"].as_str().unwrap(),
        mine["inputs"]["sales"].as_str().unwrap(),
    );
    let their_uri = theirs["inputs"]["sales"].as_str().unwrap();

    // The normal download still works.
    let ok = app
        .client
        .get(file_url(&app, id))
        .query(&[("path", uri)])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "mine\n");

    // Another execution's file, through this one: 403 with a message.
    let other = app
        .client
        .get(file_url(&app, id))
        .query(&[("path", their_uri)])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    let body: Value = other.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("is not a file of execution {id}")),
        "{body}"
    );

    let prefix = uri.rsplit_once('/').unwrap().0;
    let their_id = theirs["id"].as_str().unwrap();
    for (path, status) in [
        (format!("{prefix}/../{their_id}/sales-sales.csv"), 400),
        (format!("{prefix}/%2e%2e/{their_id}/sales-sales.csv"), 400),
        (
            format!("{prefix}/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd"),
            400,
        ),
        (format!("{prefix}/..\\..\\x"), 400),
        (format!("{prefix}/./sales-sales.csv"), 400),
        (format!("{prefix}//sales-sales.csv"), 400),
        ("/etc/passwd".to_owned(), 403),
        ("file:///etc/passwd".to_owned(), 403),
        ("storage:///data/_kv/k.json".to_owned(), 403),
    ] {
        let response = app
            .client
            .get(file_url(&app, id))
            .query(&[("path", &path)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }

    // A symbolic link inside the execution's folder is not followed.
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let folder = app
            .state
            .storage
            .path_of(uri)
            .unwrap()
            .parent()
            .unwrap()
            .to_owned();
        std::os::unix::fs::symlink(outside.path(), folder.join("link")).unwrap();
        let response = app
            .client
            .get(file_url(&app, id))
            .query(&[("path", format!("{prefix}/link/secret.txt"))])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert!(!response.text().await.unwrap().contains("secret\""));
    }
    app.stop().await;
}

#[tokio::test]
async fn odd_upload_names_stay_inside_the_execution() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_flow(UPLOAD).await.status(), 200);
    let long = format!("{}.csv", "x".repeat(4000));
    for name in [
        "../../../../etc/passwd",
        "/etc/passwd",
        "C:\\Windows\\win.ini",
        "a\0b.csv",
        "..",
        "%2e%2e%2fx",
        long.as_str(),
    ] {
        let (status, ended) = try_upload(&app, name, "data\n").await;
        if status == 422 {
            // A name the form reader cannot take (NUL) is refused, with a message.
            assert!(
                ended["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("sales")),
                "{name}: {ended}"
            );
            continue;
        }
        assert_eq!(status, 200, "{name}: {ended}");
        assert_eq!(ended["state"]["current"], "SUCCESS", "{name}: {ended}");
        let id = ended["id"].as_str().unwrap();
        let uri = ended["inputs"]["sales"].as_str().unwrap();
        let file = uri
            .strip_prefix(&format!("storage:///data/upload/executions/{id}/"))
            .unwrap_or_else(|| panic!("{name}: {uri}"));
        assert!(
            !file.contains('/') && !file.starts_with('.') && file.len() <= 200,
            "{name}: {uri}"
        );
        let back = app
            .client
            .get(file_url(&app, id))
            .query(&[("path", uri)])
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 200, "{name}: {uri}");
        assert_eq!(back.text().await.unwrap(), "data\n");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_flow_reads_its_own_namespace_files_only() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_flow(UPLOAD).await.status(), 200);
    let theirs = upload(&app, "sales.csv", "theirs\n").await;
    let their_uri = theirs["inputs"]["sales"].as_str().unwrap();
    let reader = "id: reader\nnamespace: elsewhere\ninputs:\n  - id: uri\n    type: STRING\ntasks:\n  - id: peek\n    type: debug.Return\n    format: \"{{ read(inputs.uri) }}\"\n";
    assert_eq!(app.post_flow(reader).await.status(), 200);
    let response = app
        .client
        .post(app.url("/api/v1/executions/elsewhere/reader?wait=true"))
        .json(&json!({"uri": their_uri}))
        .send()
        .await
        .unwrap();
    let ended: Value = response.json().await.unwrap();
    assert_eq!(ended["state"]["current"], "FAILED", "{ended}");
    assert!(!ended.to_string().contains("theirs"), "{ended}");
    let logs = app
        .client
        .get(app.url(&format!("/api/v1/logs/{}", ended["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        logs.contains("is not in the storage of namespace elsewhere"),
        "{logs}"
    );
    app.stop().await;
}

#[tokio::test]
async fn ids_in_paths_are_checked_against_kestras_rules() {
    let app = TestApp::spawn().await;
    for (method, path, parameter) in [
        ("GET", "/api/v1/executions/a.b", "id"),
        // (`%2e%2e` alone is made `..` by the client, and the route then differs.)
        ("GET", "/api/v1/executions/%2e%2e%2Fx/file?path=x", "id"),
        ("GET", "/api/v1/logs/..%2Fx", "executionId"),
        ("GET", "/api/v1/flows/Company/hello", "namespace"),
        ("GET", "/api/v1/flows/company/%2E%2E%5Cx", "id"),
        ("DELETE", "/api/v1/flows/company/..x", "id"),
        ("POST", "/api/v1/executions/..%2F..%2Fx/hello", "namespace"),
        ("POST", "/api/v1/executions/company/.hidden", "flowId"),
        ("GET", "/api/v1/namespaces/..%2Fx/kv", "namespace"),
        ("GET", "/api/v1/namespaces/company/kv/..%2F..%2Fx", "key"),
        ("PUT", "/api/v1/namespaces/company/kv/.x", "key"),
        ("GET", "/api/v1/outputs/tasks/abc/..x", "taskRunId"),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .body("1")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert!(
            body.contains(&format!("path parameter `{parameter}`"))
                && body.contains("must start with"),
            "{method} {path}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_keeps_credential_headers_out_of_the_trigger_data() {
    let app = TestApp::spawn().await;
    let flow = "id: hook\nnamespace: tutorial\ntasks:\n  - id: echo\n    type: debug.Return\n    format: \"{{ trigger.headers['x-source'][0] }}\"\ntriggers:\n  - id: incoming\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: the-key\n";
    assert_eq!(app.post_flow(flow).await.status(), 200);
    let response = app
        .client
        .post(app.url("/api/v1/executions/webhook/tutorial/hook/the-key"))
        .header("x-source", "shop")
        .header("x-api-key", "abc123")
        .header("authorization", "Bearer xyz")
        .header("x-databricks-token", "dapi-secret")
        .header("cookie", "session=cookie-secret")
        .json(&json!({"order": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started: Value = response.json().await.unwrap();
    let id = started["id"].as_str().unwrap();
    let stored = app
        .client
        .get(app.url(&format!("/api/v1/executions/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in ["abc123", "xyz", "dapi-secret", "cookie-secret"] {
        assert!(
            !stored.contains(secret),
            "{secret} is in the stored execution: {stored}"
        );
    }
    assert!(
        stored.contains("shop"),
        "the other headers are kept: {stored}"
    );
    app.stop().await;
}
