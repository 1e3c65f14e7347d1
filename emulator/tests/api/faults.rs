//! Faults on demand through /emulator/faults and the config.

use std::time::{Duration, Instant};

use emulator::{EmulatorConfig, FaultRule, FaultStatus};
use reqwest::Method;
use serde_json::json;

use crate::common::{Emu, assert_error};

#[tokio::test]
async fn rules_are_replaced_read_and_cleared() {
    let emu = Emu::start().await;
    let rules = json!([{"path": "/api/2.*/clusters/list", "method": "GET", "rate": 1.0, "status": 429, "retryAfterSeconds": 3}]);
    let (s, v) = emu
        .send(emu.req(Method::PUT, "/emulator/faults").json(&rules))
        .await;
    assert_eq!(s, 200, "{v}");
    let resp = emu
        .req(Method::GET, "/api/2.1/clusters/list")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error_code"], "REQUEST_LIMIT_EXCEEDED");
    // Other paths and methods are untouched.
    emu.ok_get("/api/2.0/sql/warehouses").await;
    let read = emu.ok_get("/emulator/faults").await;
    assert_eq!(read["rules"][0]["retryAfterSeconds"], 3);
    let (s, _) = emu.send(emu.req(Method::DELETE, "/emulator/faults")).await;
    assert_eq!(s, 200);
    emu.ok_get("/api/2.1/clusters/list").await;
}

#[tokio::test]
async fn bad_rules_are_refused() {
    let emu = Emu::start().await;
    for bad in [
        json!([{"path": "/api/**", "rate": 2, "status": 503}]),
        json!([{"path": "/api/**", "status": 200}]),
        json!([{"path": "/api/**"}]),
        json!([{"path": "[", "status": 503}]),
    ] {
        let got = emu
            .send(emu.req(Method::PUT, "/emulator/faults").json(&bad))
            .await;
        assert_error(&got, 400, "INVALID_PARAMETER_VALUE");
    }
}

#[tokio::test]
async fn a_share_of_requests_fails_with_503() {
    let emu = Emu::start().await;
    emu.send(
        emu.req(Method::PUT, "/emulator/faults")
            .json(&json!({"path": "/api/2.0/sql/warehouses", "rate": 0.5, "status": 503})),
    )
    .await;
    let mut failed = 0;
    for _ in 0..200 {
        let resp = emu
            .req(Method::GET, "/api/2.0/sql/warehouses")
            .send()
            .await
            .expect("answer");
        if resp.status() == 503 {
            assert!(resp.headers().contains_key("retry-after"));
            failed += 1;
        }
    }
    assert!((40..=160).contains(&failed), "{failed} of 200 failed");
}

#[tokio::test]
async fn latency_and_dropped_connections() {
    let emu = Emu::start().await;
    emu.send(emu.req(Method::PUT, "/emulator/faults").json(&json!([
        {"path": "/api/2.0/sql/warehouses", "latencyMs": 300},
        {"path": "/api/2.1/clusters/list", "status": "drop"},
    ])))
    .await;
    let t = Instant::now();
    emu.ok_get("/api/2.0/sql/warehouses").await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    let dropped = emu.req(Method::GET, "/api/2.1/clusters/list").send().await;
    let failed = match dropped {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the connection is dropped");
}

#[tokio::test]
async fn config_rules_apply_from_the_start() {
    let rule = FaultRule {
        path: "/api/**".into(),
        method: None,
        rate: 1.0,
        status: Some(FaultStatus::Http(500)),
        retry_after_seconds: None,
        latency_ms: None,
    };
    let emu = Emu::with(EmulatorConfig {
        time_scale: 0.001,
        faults: vec![rule],
        ..Default::default()
    })
    .await;
    assert_error(
        &emu.get("/api/2.1/clusters/list").await,
        500,
        "INTERNAL_ERROR",
    );
    // The control API is never faulted, so a test can always clear the rules.
    emu.send(emu.req(Method::DELETE, "/emulator/faults")).await;
    emu.ok_get("/api/2.1/clusters/list").await;
}
