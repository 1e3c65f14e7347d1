//! Tokens, OAuth M2M, discovery, SCIM and the error envelope.

use std::time::Duration;

use emulator::EmulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Emu, assert_error, wait_for};

fn with_client(scale: f64) -> EmulatorConfig {
    EmulatorConfig {
        time_scale: scale,
        tokens: vec!["dapi-test".into()],
        oauth_clients: vec![("sp-id".into(), "sp-secret".into())],
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn missing_and_invalid_tokens_get_401_and_403() {
    let emu = Emu::start().await;
    let anon = emu
        .client
        .get(format!("{}/api/2.1/clusters/list", emu.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anon.json().await.expect("json");
    assert_eq!(body["error_code"], "UNAUTHENTICATED");
    let bad = emu
        .client
        .get(format!("{}/api/2.1/clusters/list", emu.url))
        .bearer_auth("dapi-wrong")
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error_code"], "PERMISSION_DENIED");
    assert_eq!(body["message"], "Invalid access token.");
    // The fault control API needs the same token.
    let faults = emu
        .client
        .get(format!("{}/emulator/faults", emu.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(faults.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn generated_token_looks_like_a_pat_and_works() {
    let emu = Emu::start().await;
    assert!(emu.token.starts_with("dapi"), "{}", emu.token);
    let resp = emu
        .req(reqwest::Method::GET, "/api/2.1/clusters/list")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-databricks-org-id"], "1234567890123456");
}

#[tokio::test]
async fn discovery_documents_point_at_the_emulator() {
    let emu = Emu::with(with_client(0.001)).await;
    let meta: Value = emu
        .client
        .get(format!("{}/.well-known/databricks-config", emu.url))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["oidc_endpoint"], format!("{}/oidc", emu.url));
    assert!(meta["workspace_id"].is_string());
    let disc: Value = emu
        .client
        .get(format!(
            "{}/oidc/.well-known/oauth-authorization-server",
            emu.url
        ))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(disc["token_endpoint"], format!("{}/oidc/v1/token", emu.url));
}

async fn token(emu: &Emu, rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let _ = emu;
    let resp = rb.send().await.expect("answer");
    (resp.status(), resp.json().await.expect("json"))
}

#[tokio::test]
async fn client_credentials_by_basic_or_form_give_bearer_tokens() {
    let emu = Emu::with(with_client(1.0)).await;
    let url = format!("{}/oidc/v1/token", emu.url);
    let form = [("grant_type", "client_credentials"), ("scope", "all-apis")];
    let (s, basic) = token(
        &emu,
        emu.client
            .post(&url)
            .basic_auth("sp-id", Some("sp-secret"))
            .form(&form),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{basic}");
    assert_eq!(basic["token_type"], "Bearer");
    assert_eq!(basic["expires_in"], 3600, "a number, not a string");
    let (s, posted) = token(
        &emu,
        emu.client.post(&url).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "sp-id"),
            ("client_secret", "sp-secret"),
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{posted}");
    for t in [&basic, &posted] {
        let access = t["access_token"].as_str().expect("access token");
        let me = emu
            .client
            .get(format!("{}/api/2.0/preview/scim/v2/Me", emu.url))
            .bearer_auth(access)
            .send()
            .await
            .expect("answer");
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(me.headers()["x-databricks-org-id"], "1234567890123456");
        let me: Value = me.json().await.expect("json");
        assert_eq!(me["userName"], "sp-id");
    }
    let (s, bad) = token(
        &emu,
        emu.client
            .post(&url)
            .basic_auth("sp-id", Some("nope"))
            .form(&form),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(bad["error"], "invalid_client");
    let (s, bad) = token(
        &emu,
        emu.client
            .post(&url)
            .basic_auth("sp-id", Some("sp-secret"))
            .form(&[("grant_type", "password")]),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn oauth_tokens_really_expire() {
    // 3600 simulated seconds at this scale is about 1 s of real time.
    let emu = Emu::with(with_client(0.0003)).await;
    let (_, t) = token(
        &emu,
        emu.client
            .post(format!("{}/oidc/v1/token", emu.url))
            .basic_auth("sp-id", Some("sp-secret"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let lifetime = t["expires_in"].as_u64().expect("expires_in");
    assert!(lifetime <= 2, "{t}");
    let access = t["access_token"].as_str().expect("token").to_owned();
    let status = |access: String| {
        let c = emu.client.clone();
        let u = format!("{}/api/2.1/clusters/list", emu.url);
        async move {
            c.get(u)
                .bearer_auth(access)
                .send()
                .await
                .expect("answer")
                .status()
        }
    };
    assert_eq!(status(access.clone()).await, StatusCode::OK);
    wait_for("the token to expire", || {
        let s = status(access.clone());
        async move { (s.await == StatusCode::FORBIDDEN).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_endpoint_not_found() {
    let emu = Emu::start().await;
    assert_error(
        &emu.get("/api/2.0/no/such/thing").await,
        404,
        "ENDPOINT_NOT_FOUND",
    );
    assert_error(
        &emu.get("/api/2.1/clusters/create").await,
        404,
        "ENDPOINT_NOT_FOUND",
    );
    // FilesExt probes these first and falls back on a 404.
    assert_error(
        &emu.post("/api/2.0/fs/create-download-url", json!({})).await,
        404,
        "ENDPOINT_NOT_FOUND",
    );
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused() {
    let emu = Emu::start().await;
    let got = emu
        .send(
            emu.req(Method::POST, "/api/2.1/clusters/create")
                .body("{not json"),
        )
        .await;
    assert_error(&got, 400, "MALFORMED_REQUEST");
    let got = emu
        .send(
            emu.req(Method::POST, "/api/2.1/clusters/create")
                .body("[1,2]"),
        )
        .await;
    assert_error(&got, 400, "MALFORMED_REQUEST");
    let huge = vec![b' '; 21 * 1024 * 1024];
    let got = emu
        .send(emu.req(Method::POST, "/api/2.1/clusters/create").body(huge))
        .await;
    assert_error(&got, 413, "REQUEST_LIMIT_EXCEEDED");
    // An empty body reads as {}: a missing field, not a parse error.
    let got = emu
        .send(emu.req(Method::POST, "/api/2.1/clusters/create"))
        .await;
    assert_error(&got, 400, "INVALID_PARAMETER_VALUE");
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let emu = Emu::start().await;
    let url = emu.url.clone();
    emu.handle.shutdown().await;
    let client = crate::common::http()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    assert!(
        client
            .get(format!("{url}/.well-known/databricks-config"))
            .send()
            .await
            .is_err()
    );
}
