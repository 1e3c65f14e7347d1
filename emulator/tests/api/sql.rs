//! SQL warehouses and the Statement Execution API on the embedded engine.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Emu, assert_error};

const WH: &str = "a1b2c3d4e5f60718";

async fn run(emu: &Emu, sql: &str) -> Value {
    emu.ok_post(
        "/api/2.0/sql/statements",
        json!({"warehouse_id": WH, "statement": sql, "wait_timeout": "30s"}),
    )
    .await
}

fn rows(v: &Value) -> Vec<Vec<Value>> {
    v["result"]["data_array"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r.as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn warehouses_start_stop_edit_and_delete() {
    let emu = Emu::start().await;
    let l = emu.ok_get("/api/2.0/sql/warehouses").await;
    let starter = &l["warehouses"][0];
    assert_eq!(starter["id"], WH);
    assert_eq!(starter["state"], "RUNNING");
    assert_error(
        &emu.post("/api/2.0/sql/warehouses", json!({"cluster_size": "Small"}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &emu.post(
            "/api/2.0/sql/warehouses",
            json!({"name": "w", "cluster_size": "Huge"}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    let id = emu
        .ok_post(
            "/api/2.0/sql/warehouses",
            json!({"name": "w", "cluster_size": "Small", "max_num_clusters": "2"}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/2.0/sql/warehouses/{id}");
    let v = emu.ok_get(&path).await;
    assert!(["STARTING", "RUNNING"].contains(&v["state"].as_str().unwrap_or("")));
    assert_eq!(v["max_num_clusters"], 2);
    emu.until(&path, |v| v["state"] == "RUNNING").await;
    emu.ok_post(&format!("{path}/stop"), json!({})).await;
    assert_eq!(emu.ok_get(&path).await["state"], "STOPPING");
    emu.until(&path, |v| v["state"] == "STOPPED").await;
    emu.ok_post(&format!("{path}/start"), json!({})).await;
    assert_eq!(
        emu.ok_get(&path).await["state"],
        "STARTING",
        "start switches at once, for the SDK waiter"
    );
    emu.until(&path, |v| v["state"] == "RUNNING").await;
    emu.ok_post(
        &format!("{path}/edit"),
        json!({"name": "renamed", "auto_stop_mins": 30}),
    )
    .await;
    assert_eq!(emu.ok_get(&path).await["name"], "renamed");
    let (s, _) = emu.send(emu.req(Method::DELETE, &path)).await;
    assert_eq!(s, 200);
    assert_eq!(emu.ok_get(&path).await["state"], "DELETED");
    assert_error(
        &emu.get("/api/2.0/sql/warehouses/nope").await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
}

#[tokio::test]
async fn create_insert_join_aggregate_and_show_tables() {
    let emu = Emu::start().await;
    for sql in [
        "CREATE TABLE main.default.people (id INT, name STRING, team STRING)",
        "INSERT INTO people VALUES (1, 'ada', 'a'), (2, 'bob', 'b'), (3, 'cy', 'a')",
        "CREATE TABLE teams (team STRING, label STRING)",
        "INSERT INTO teams VALUES ('a', 'Alpha'), ('b', 'Beta')",
    ] {
        assert_eq!(run(&emu, sql).await["status"]["state"], "SUCCEEDED");
    }
    let v = run(&emu, "SELECT t.label, COUNT(*) AS n, upper(min(p.name)) AS first FROM people p JOIN teams t ON p.team = t.team GROUP BY t.label ORDER BY n DESC").await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    assert_eq!(
        rows(&v),
        vec![
            vec![json!("Alpha"), json!("2"), json!("ADA")],
            vec![json!("Beta"), json!("1"), json!("BOB")]
        ]
    );
    let cols = &v["manifest"]["schema"]["columns"];
    assert_eq!(cols[1]["name"], "n");
    assert_eq!(cols[1]["type_name"], "LONG");
    assert_eq!(cols[1]["position"], 1);
    assert_eq!(cols[0]["type_name"], "STRING");
    assert_eq!(v["manifest"]["total_row_count"], 2);
    let tables = run(&emu, "SHOW TABLES").await;
    let names: Vec<Value> = rows(&tables).into_iter().map(|r| r[1].clone()).collect();
    // With the sample `trips` (samples.nyctaxi.trips) every workspace has.
    assert_eq!(names, vec![json!("people"), json!("teams"), json!("trips")]);
    let today = run(&emu, "SELECT current_date() AS d").await;
    assert_eq!(rows(&today)[0][0].as_str().map(str::len), Some(10));
    let empty = run(&emu, "SELECT * FROM people WHERE id > 100").await;
    assert_eq!(empty["status"]["state"], "SUCCEEDED");
    assert_eq!(empty["result"], json!({}));
    assert_eq!(empty["manifest"]["total_row_count"], 0);
    assert!(empty["manifest"]["chunks"].is_null());
}

#[tokio::test]
async fn named_parameters_are_typed() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": WH, "statement": "SELECT :n + 1 AS n, :s AS s, :missing IS NULL AS no_value, ':n' AS lit",
                   "parameters": [{"name": "n", "value": "41", "type": "INT"}, {"name": "s", "value": "it's"}, {"name": "missing", "type": "STRING"}],
                   "catalog": "main", "schema": "default", "wait_timeout": "10s"}),
        )
        .await;
    assert_eq!(
        rows(&v),
        vec![vec![json!("42"), json!("it's"), json!("1"), json!(":n")]]
    );
    let unbound = run(&emu, "SELECT :nope").await;
    assert_eq!(unbound["status"]["state"], "FAILED");
    assert!(
        unbound["status"]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("UNBOUND_SQL_PARAMETER")
    );
}

#[tokio::test]
async fn sql_errors_fail_the_statement_with_a_service_like_message() {
    let emu = Emu::start().await;
    let v = run(&emu, "SELECT * FROM no_such_table").await;
    assert_eq!(v["status"]["state"], "FAILED");
    assert_eq!(v["status"]["error"]["error_code"], "BAD_REQUEST");
    assert!(
        v["status"]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("[TABLE_OR_VIEW_NOT_FOUND]"),
        "{v}"
    );
    assert_eq!(v["status"]["sql_state"], "42P01");
    assert!(v.get("manifest").is_none() && v.get("result").is_none());
    let syntax = run(&emu, "SELEC 1").await;
    assert!(
        syntax["status"]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("[PARSE_SYNTAX_ERROR]")
    );
    let ok = run(&emu, "SELECT 1 AS x").await;
    assert!(
        ok["status"].get("error").is_none(),
        "never an error key unless FAILED: {ok}"
    );
}

#[tokio::test]
async fn request_validation() {
    let emu = Emu::start().await;
    for bad in ["3s", "51s", "10", "abc"] {
        let got = emu
            .post(
                "/api/2.0/sql/statements",
                json!({"warehouse_id": WH, "statement": "SELECT 1", "wait_timeout": bad}),
            )
            .await;
        assert_error(&got, 400, "INVALID_PARAMETER_VALUE");
    }
    assert_error(
        &emu.post("/api/2.0/sql/statements", json!({"warehouse_id": WH}))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &emu.post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": "nope", "statement": "SELECT 1"}),
        )
        .await,
        404,
        "RESOURCE_DOES_NOT_EXIST",
    );
    assert_error(
        &emu.post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": WH, "statement": "SELECT 1", "format": "CSV"}),
        )
        .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
    assert_error(
        &emu.get("/api/2.0/sql/statements/nope").await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn asynchronous_execution_and_several_chunks() {
    let emu = Emu::start().await;
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) SELECT i, 'row ' || i AS label FROM n";
    let v = emu
        .ok_post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": WH, "statement": sql, "wait_timeout": "0s"}),
        )
        .await;
    assert!(
        ["PENDING", "RUNNING"].contains(&v["status"]["state"].as_str().unwrap_or("")),
        "{v}"
    );
    let id = v["statement_id"].as_str().expect("id").to_owned();
    let done = emu
        .until(&format!("/api/2.0/sql/statements/{id}"), |v| {
            v["status"]["state"] == "SUCCEEDED"
        })
        .await;
    let manifest = &done["manifest"];
    assert_eq!(manifest["total_row_count"], 12000);
    let n = manifest["total_chunk_count"].as_u64().expect("chunks") as usize;
    assert!(n >= 3, "{manifest}");
    let mut seen = rows(&done).len();
    let mut next = done["result"]["next_chunk_internal_link"]
        .as_str()
        .map(str::to_owned);
    let mut index = 0;
    while let Some(link) = next {
        let chunk = emu.ok_get(&link).await;
        index += 1;
        assert_eq!(chunk["chunk_index"], index);
        assert_eq!(chunk["row_offset"], manifest["chunks"][index]["row_offset"]);
        seen += chunk["data_array"].as_array().map(Vec::len).unwrap_or(0);
        next = chunk["next_chunk_internal_link"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(index + 1, n);
    assert_eq!(seen, 12000);
    assert_error(
        &emu.get(&format!("/api/2.0/sql/statements/{id}/result/chunks/{n}"))
            .await,
        400,
        "INVALID_PARAMETER_VALUE",
    );
}

#[tokio::test]
async fn external_links_are_served_without_authorization() {
    let emu = Emu::start().await;
    let v = emu
        .ok_post("/api/2.0/sql/statements", json!({"warehouse_id": WH, "statement": "SELECT 1 AS a, 'x' AS b", "disposition": "EXTERNAL_LINKS", "format": "CSV", "wait_timeout": "10s"}))
        .await;
    let link = v["result"]["external_links"][0]["external_link"]
        .as_str()
        .expect("link")
        .to_owned();
    assert!(v["manifest"]["total_byte_count"].is_number());
    let plain = emu.client.get(&link).send().await.expect("answer");
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.text().await.expect("text"), "a,b\n1,x\n");
    let json_links = emu
        .ok_post("/api/2.0/sql/statements", json!({"warehouse_id": WH, "statement": "SELECT 1 AS a", "disposition": "EXTERNAL_LINKS", "wait_timeout": "10s"}))
        .await;
    let link = json_links["result"]["external_links"][0]["external_link"]
        .as_str()
        .expect("link");
    let body: Value = emu
        .client
        .get(link)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(body, json!([["1"]]));
    let forged = link.replace("sig=", "sig=x");
    assert_eq!(
        emu.client
            .get(forged)
            .send()
            .await
            .expect("answer")
            .status(),
        403
    );
}

#[tokio::test]
async fn inline_results_over_25_mib_fail() {
    let emu = Emu::start().await;
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 14000) SELECT printf('%.2000c', 'x') FROM n";
    let v = run(&emu, sql).await;
    assert_eq!(v["status"]["state"], "FAILED", "{}", v["status"]);
    assert!(
        v["status"]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("INLINE")
    );
    let limited = emu
        .ok_post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": WH, "statement": sql, "row_limit": 10, "wait_timeout": "30s"}),
        )
        .await;
    assert_eq!(limited["manifest"]["truncated"], true);
    assert_eq!(limited["manifest"]["total_row_count"], 10);
}

#[tokio::test]
async fn wait_timeout_cancel_and_explicit_cancel() {
    let emu = Emu::start().await;
    // 60000 simulated seconds = 60 s here: longer than the 5 s wait.
    let slow = "/* emulator:sleep=60000 */ SELECT 1";
    let v = emu.ok_post("/api/2.0/sql/statements", json!({"warehouse_id": WH, "statement": slow, "wait_timeout": "5s", "on_wait_timeout": "CANCEL"})).await;
    assert_eq!(v["status"]["state"], "CANCELED");
    let v = emu
        .ok_post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": WH, "statement": slow, "wait_timeout": "0s"}),
        )
        .await;
    let id = v["statement_id"].as_str().expect("id").to_owned();
    emu.until(&format!("/api/2.0/sql/statements/{id}"), |v| {
        v["status"]["state"] == "RUNNING"
    })
    .await;
    emu.ok_post(&format!("/api/2.0/sql/statements/{id}/cancel"), json!({}))
        .await;
    emu.until(&format!("/api/2.0/sql/statements/{id}"), |v| {
        v["status"]["state"] == "CANCELED"
    })
    .await;
}

#[tokio::test]
async fn read_files_over_dbfs_and_volumes_and_csv_paths() {
    let emu = Emu::start().await;
    let v = run(&emu, "SELECT region, SUM(CAST(amount AS DOUBLE)) AS total FROM read_files('dbfs:/databricks-datasets/mortar/sales.csv', format => 'csv', header => true) GROUP BY region ORDER BY total DESC LIMIT 1").await;
    assert_eq!(rows(&v), vec![vec![json!("AMER"), json!("312.25")]]);
    emu.send(
        emu.req(
            Method::PUT,
            "/api/2.0/fs/files/Volumes/main/default/files/in/k.csv",
        )
        .body("k,v\na,1\nb,2\n"),
    )
    .await;
    let v = run(&emu, "SELECT SUM(v) AS s FROM read_files('/Volumes/main/default/files/in', format => 'csv', header => true)").await;
    assert_eq!(rows(&v), vec![vec![json!("3")]]);
    let v = run(
        &emu,
        "SELECT count(*) FROM csv.`dbfs:/databricks-datasets/mortar/customers.csv`",
    )
    .await;
    assert_eq!(
        rows(&v),
        vec![vec![json!("6")]],
        "csv.`…` has no header: the header line is a row"
    );
    let missing = run(
        &emu,
        "SELECT * FROM read_files('dbfs:/nope.csv', format => 'csv')",
    )
    .await;
    assert_eq!(missing["status"]["state"], "FAILED");
    assert!(
        missing["status"]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("[PATH_NOT_FOUND]")
    );
}

#[tokio::test]
async fn a_stopped_warehouse_starts_for_a_statement() {
    let emu = Emu::start().await;
    emu.ok_post(&format!("/api/2.0/sql/warehouses/{WH}/stop"), json!({}))
        .await;
    emu.until(&format!("/api/2.0/sql/warehouses/{WH}"), |v| {
        v["state"] == "STOPPED"
    })
    .await;
    let v = run(&emu, "SELECT 7").await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    assert_eq!(
        emu.ok_get(&format!("/api/2.0/sql/warehouses/{WH}")).await["state"],
        "RUNNING"
    );
}
