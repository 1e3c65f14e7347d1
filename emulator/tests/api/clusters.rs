//! Clusters 2.0/2.1: life cycle, commands, lists, events, errors.

use serde_json::{Value, json};

use crate::common::{Emu, assert_error};

async fn create(emu: &Emu, extra: Value) -> String {
    let mut body = json!({"cluster_name": "t", "spark_version": "16.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 1});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    let v = emu.ok_post("/api/2.1/clusters/create", body).await;
    v["cluster_id"].as_str().expect("cluster_id").to_owned()
}

async fn state_of(emu: &Emu, id: &str) -> Value {
    emu.ok_get(&format!("/api/2.1/clusters/get?cluster_id={id}"))
        .await
}

async fn until_state(emu: &Emu, id: &str, want: &str) -> Value {
    emu.until(&format!("/api/2.1/clusters/get?cluster_id={id}"), |v| {
        v["state"] == want
    })
    .await
}

#[tokio::test]
async fn a_cluster_goes_pending_running_terminating_terminated() {
    let emu = Emu::start().await;
    let id = create(&emu, json!({"num_workers": "2"})).await;
    let first = state_of(&emu, &id).await;
    assert!(
        ["PENDING", "RUNNING"].contains(&first["state"].as_str().unwrap_or("")),
        "{first}"
    );
    assert!(
        first["state_message"].is_string(),
        "AF requires state_message"
    );
    let running = until_state(&emu, &id, "RUNNING").await;
    assert_eq!(
        running["num_workers"], 2,
        "numbers sent as strings are accepted"
    );
    assert_eq!(running["cluster_source"], "API");
    assert!(running["spark_context_id"].is_number());
    emu.ok_post("/api/2.0/clusters/delete", json!({"cluster_id": id}))
        .await;
    let done = until_state(&emu, &id, "TERMINATED").await;
    assert_eq!(done["termination_reason"]["code"], "USER_REQUEST");
    assert_eq!(done["termination_reason"]["type"], "SUCCESS");
    assert!(done["terminated_time"].is_number());
    // Deleting again is a no-op.
    emu.ok_post("/api/2.1/clusters/delete", json!({"cluster_id": id}))
        .await;
}

#[tokio::test]
async fn start_restart_resize_and_edit_follow_the_state_machine() {
    let emu = Emu::start().await;
    let id = create(&emu, json!({})).await;
    until_state(&emu, &id, "RUNNING").await;
    let got = emu
        .post("/api/2.1/clusters/start", json!({"cluster_id": id}))
        .await;
    assert_error(&got, 400, "INVALID_STATE");
    assert_eq!(
        got.1["message"],
        format!("Cluster {id} is in unexpected state Running.")
    );

    emu.ok_post(
        "/api/2.1/clusters/resize",
        json!({"cluster_id": id, "num_workers": 5}),
    )
    .await;
    let v = state_of(&emu, &id).await;
    assert!(["RESIZING", "RUNNING"].contains(&v["state"].as_str().unwrap_or("")));
    let v = until_state(&emu, &id, "RUNNING").await;
    assert_eq!(v["num_workers"], 5);

    emu.ok_post("/api/2.1/clusters/restart", json!({"cluster_id": id}))
        .await;
    let v = until_state(&emu, &id, "RUNNING").await;
    assert!(v["last_restarted_time"].is_number(), "{v}");

    emu.ok_post("/api/2.1/clusters/edit", json!({"cluster_id": id, "spark_version": "15.4.x-scala2.12", "num_workers": 3, "cluster_name": "renamed"})).await;
    let v = until_state(&emu, &id, "RUNNING").await;
    assert_eq!(v["cluster_name"], "renamed");
    assert_eq!(v["spark_version"], "15.4.x-scala2.12");

    emu.ok_post("/api/2.1/clusters/delete", json!({"cluster_id": id}))
        .await;
    until_state(&emu, &id, "TERMINATED").await;
    assert_error(
        &emu.post(
            "/api/2.1/clusters/resize",
            json!({"cluster_id": id, "num_workers": 1}),
        )
        .await,
        400,
        "INVALID_STATE",
    );
    assert_error(
        &emu.post("/api/2.1/clusters/restart", json!({"cluster_id": id}))
            .await,
        400,
        "INVALID_STATE",
    );
    // Edit of a terminated cluster keeps it terminated.
    emu.ok_post(
        "/api/2.1/clusters/edit",
        json!({"cluster_id": id, "spark_version": "16.4.x-scala2.12", "num_workers": 1}),
    )
    .await;
    assert_eq!(state_of(&emu, &id).await["state"], "TERMINATED");
    emu.ok_post("/api/2.1/clusters/start", json!({"cluster_id": id}))
        .await;
    assert_eq!(
        state_of(&emu, &id).await["state"],
        "PENDING",
        "start leaves the waiter a non-terminated state at once"
    );
    until_state(&emu, &id, "RUNNING").await;
}

#[tokio::test]
async fn unknown_clusters_are_400_invalid_parameter_value() {
    let emu = Emu::start().await;
    let got = emu
        .get("/api/2.1/clusters/get?cluster_id=0000-000000-nothere")
        .await;
    assert_error(&got, 400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        got.1["message"],
        "Cluster 0000-000000-nothere does not exist"
    );
    for op in [
        "start",
        "restart",
        "delete",
        "permanent-delete",
        "pin",
        "unpin",
        "events",
    ] {
        assert_error(
            &emu.post(
                &format!("/api/2.0/clusters/{op}"),
                json!({"cluster_id": "x"}),
            )
            .await,
            400,
            "INVALID_PARAMETER_VALUE",
        );
    }
    assert_error(
        &emu.post("/api/2.1/clusters/create", json!({"num_workers": 1}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let tags: serde_json::Map<String, Value> =
        (0..46).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_error(
        &emu.post(
            "/api/2.1/clusters/create",
            json!({"spark_version": "x", "custom_tags": tags}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn a_cluster_can_be_told_to_fail_at_start() {
    let emu = Emu::start().await;
    let id = create(
        &emu,
        json!({"custom_tags": {"emulator.fail_start": "CLOUD_PROVIDER_LAUNCH_FAILURE"}}),
    )
    .await;
    let v = until_state(&emu, &id, "TERMINATED").await;
    assert_eq!(
        v["termination_reason"]["code"],
        "CLOUD_PROVIDER_LAUNCH_FAILURE"
    );
    assert_eq!(v["termination_reason"]["type"], "CLIENT_ERROR");
    assert!(!v["state_message"].as_str().unwrap_or("").is_empty());
}

#[tokio::test]
async fn list_pages_filters_and_permanent_delete_removes() {
    let emu = Emu::start().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create(&emu, json!({})).await);
    }
    for id in &ids {
        until_state(&emu, id, "RUNNING").await;
    }
    emu.ok_post("/api/2.1/clusters/pin", json!({"cluster_id": ids[0]}))
        .await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let q = match &token {
            Some(t) => format!("/api/2.1/clusters/list?page_size=2&page_token={t}"),
            None => "/api/2.1/clusters/list?page_size=2".to_owned(),
        };
        let page = emu.ok_get(&q).await;
        let clusters = page["clusters"].as_array().expect("clusters");
        assert!(clusters.len() <= 2);
        seen.extend(
            clusters
                .iter()
                .map(|c| c["cluster_id"].as_str().unwrap_or("").to_owned()),
        );
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    seen.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(seen, all);
    let pinned = emu
        .ok_get("/api/2.1/clusters/list?filter_by.is_pinned=true")
        .await;
    assert_eq!(pinned["clusters"].as_array().map(Vec::len), Some(1));
    let terminated = emu
        .ok_get("/api/2.1/clusters/list?filter_by.cluster_states=TERMINATED")
        .await;
    assert_eq!(terminated["clusters"].as_array().map(Vec::len), Some(0));
    emu.ok_post(
        "/api/2.1/clusters/permanent-delete",
        json!({"cluster_id": ids[1]}),
    )
    .await;
    assert_error(
        &emu.get(&format!("/api/2.1/clusters/get?cluster_id={}", ids[1]))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn events_are_paginated_newest_first() {
    let emu = Emu::start().await;
    let id = create(&emu, json!({})).await;
    until_state(&emu, &id, "RUNNING").await;
    emu.ok_post("/api/2.1/clusters/pin", json!({"cluster_id": id}))
        .await;
    emu.ok_post("/api/2.1/clusters/unpin", json!({"cluster_id": id}))
        .await;
    let page = emu
        .ok_post(
            "/api/2.1/clusters/events",
            json!({"cluster_id": id, "limit": 2}),
        )
        .await;
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["type"], "UNPINNED");
    let total = page["total_count"].as_u64().expect("total");
    assert!(total >= 4, "{page}");
    let next = page["next_page"].clone();
    assert_eq!(next["offset"], 2);
    let rest = emu.ok_post("/api/2.1/clusters/events", next).await;
    let rest = rest["events"].as_array().expect("events");
    assert!(!rest.is_empty() && rest[0] != events[0] && rest[0] != events[1]);
    let asc = emu
        .ok_post(
            "/api/2.1/clusters/events",
            json!({"cluster_id": id, "order": "ASC", "event_types": ["CREATING"]}),
        )
        .await;
    assert_eq!(asc["events"].as_array().map(Vec::len), Some(1));
    assert_error(
        &emu.post(
            "/api/2.1/clusters/events",
            json!({"cluster_id": id, "limit": 501}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn catalogues_of_versions_node_types_and_zones() {
    let emu = Emu::start().await;
    let v = emu.ok_get("/api/2.1/clusters/spark-versions").await;
    assert!(v["versions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x["name"].as_str().is_some_and(|n| n.contains("LTS")))
    }));
    let n = emu.ok_get("/api/2.0/clusters/list-node-types").await;
    assert!(n["node_types"][0]["num_cores"].is_f64());
    let z = emu.ok_get("/api/2.0/clusters/list-zones").await;
    assert!(z["zones"].as_array().is_some_and(|a| !a.is_empty()));
}
