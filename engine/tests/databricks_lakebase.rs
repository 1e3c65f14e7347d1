//! Lakebase against the emulator and a real PostgreSQL (the test starts
//! one): the credential minted for the OAuth client makes it a role of the
//! server, Query reads, Batch writes rows from parameter groups and from
//! an Ion file, and the Trigger fires on new rows and marks them.

use std::sync::Arc;

use emulator::EmulatorConfig;
use engine::state::State;
use serde_json::{Value, json};

mod support;

use support::databricks::{outputs, world_of};
use support::postgres::Postgres;

const CLIENT: &str = "lakebase-sp";
const SECRET: &str = "lakebase-secret";

fn connection(w: &support::databricks::World, pg: &Postgres) -> String {
    let port = pg.place.split(':').nth(1).and_then(|p| p.split('/').next()).unwrap();
    format!(
        "    workspaceHost: {}\n    clientId: {CLIENT}\n    clientSecret: \"{{{{ secret('LAKEBASE_SECRET') }}}}\"\n    endpoint: projects/mortar/branches/production/endpoints/primary\n    port: {port}\n    database: {}\n    ssl: false\n    sslMode: DISABLE\n",
        w.emulator.url(),
        pg.database()
    )
}

#[tokio::test]
async fn lakebase_queries_batches_and_triggers_on_a_minted_credential() {
    let pg = Postgres::start().await;
    let mut admin = pg.connect().await;
    sqlx::raw_sql("CREATE TABLE orders (id serial PRIMARY KEY, status text, amount numeric); INSERT INTO orders (status, amount) VALUES ('pending', 10), ('done', 5)")
        .execute(&mut admin)
        .await
        .unwrap();
    let w = world_of(
        EmulatorConfig {
            time_scale: 0.001,
            oauth_clients: vec![(CLIENT.into(), SECRET.into())],
            lakebase_postgres: Some(pg.admin_url()),
            ..Default::default()
        },
        Arc::new(|name: &str| (name == "LAKEBASE_SECRET").then(|| SECRET.to_owned())),
    )
    .await;
    let conn = connection(&w, &pg);
    let flow = format!(
        r#"id: lakebase
namespace: company.data
tasks:
  - id: query_orders
    type: io.kestra.plugin.databricks.lakebase.Query
{conn}    sql: "SELECT id, status, amount FROM orders WHERE status = :status ORDER BY id"
    parameters:
      status: pending
    fetchType: FETCH
  - id: insert_rows
    type: io.kestra.plugin.databricks.lakebase.Batch
{conn}    sql: "INSERT INTO orders (status, amount) VALUES (?, ?)"
    batchSize: 2
    parameterGroups:
      - parameters: [["pending", 1], ["pending", 2], ["it's pending", 3]]
  - id: store
    type: io.kestra.plugin.databricks.lakebase.Query
{conn}    sql: "SELECT status, amount FROM orders WHERE amount < 3 ORDER BY id"
    fetchType: STORE
  - id: copy_back
    type: io.kestra.plugin.databricks.lakebase.Batch
{conn}    sql: "INSERT INTO orders (status, amount) VALUES (?, ?)"
    from: "{{{{ outputs.store.uri }}}}"
  - id: count
    type: io.kestra.plugin.databricks.lakebase.Query
{conn}    sql: "SELECT count(*) AS n, current_user AS who FROM orders"
    fetchType: FETCH_ONE
"#
    );
    let (state, runs, id) = w.run(&flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    assert_eq!(outputs(&runs, "query_orders")["rows"], json!([{"id": 1, "status": "pending", "amount": 10}]));
    assert_eq!(outputs(&runs, "insert_rows")["rowCount"], 3);
    assert_eq!(outputs(&runs, "insert_rows")["updatedCount"], 3);
    assert_eq!(outputs(&runs, "copy_back")["rowCount"], 2);
    assert_eq!(outputs(&runs, "count")["row"], json!({"n": 7, "who": CLIENT}));

    // The trigger: new pending rows start an execution and are marked.
    let watch = format!(
        r#"id: lakebase_new_rows_trigger
namespace: company.data
triggers:
  - id: on_new_order
    type: io.kestra.plugin.databricks.lakebase.Trigger
{conn}    sql: "SELECT id FROM orders WHERE status = 'pending' ORDER BY id"
    afterSQL: "UPDATE orders SET status = 'seen' WHERE status = 'pending'"
    interval: PT1M
tasks:
  - id: handle_new_order
    type: io.kestra.plugin.core.log.Log
    message: "New pending orders: {{{{ trigger.rows | length }}}}"
"#
    );
    assert!(engine::flow::parse(&watch).is_valid(), "{:?}", engine::flow::parse(&watch).problems);
    support::save(&w.store, &watch).await;
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    engine::scheduler::tick(&w.store, &w.executor, at("2026-01-10T10:00:00Z")).await.unwrap();
    engine::scheduler::tick(&w.store, &w.executor, at("2026-01-10T10:01:00Z")).await.unwrap();
    let filter = engine::store::ExecutionFilter { flow_id: Some("lakebase_new_rows_trigger".into()), ..Default::default() };
    let started = w.store.search_executions(&filter, 1, 10).await.unwrap().results;
    assert_eq!(started.len(), 1, "the second poll found nothing pending");
    assert_eq!(started[0].trigger_vars.as_ref().unwrap()["rows"].as_array().unwrap().len(), 5);
    assert_eq!(w.executor.wait(&started[0].id).await.unwrap(), State::Success);
    let (seen,): (i64,) = sqlx::query_as("SELECT count(*) FROM orders WHERE status = 'seen'").fetch_one(&mut admin).await.unwrap();
    assert_eq!(seen, 5);

    // Errors name what to fix.
    let bad = format!("id: lakebase_bad\nnamespace: company.data\ntasks:\n  - id: t\n    type: io.kestra.plugin.databricks.lakebase.Batch\n{conn}    sql: \"INSERT INTO orders (status, amount) VALUES (?, ?)\"\n    parameterGroups:\n      - parameters: [\"only one\"]\n");
    let (state, _, id) = w.run(&bad, json!({})).await;
    assert_eq!(state, State::Failed);
    let logs = w.logs(&id).await.join("\n");
    assert!(logs.contains("Parameter row has 1 value(s) but SQL has 2 placeholder(s)"), "{logs}");
    let elsewhere = conn.replace("endpoints/primary", "endpoints/other");
    let (state, _, id) = w.run(&format!("id: lakebase_nowhere\nnamespace: company.data\ntasks:\n  - id: t\n    type: io.kestra.plugin.databricks.lakebase.Query\n{elsewhere}    sql: SELECT 1\n"), json!({})).await;
    assert_eq!(state, State::Failed);
    let logs: Value = json!(w.logs(&id).await);
    assert!(logs.to_string().contains("Endpoint 'projects/mortar/branches/production/endpoints/other' does not exist"), "{logs}");
}
