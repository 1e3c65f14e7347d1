//! zerobus.WriteRecords against the emulator's Zerobus Ingest endpoint:
//! inline records with a token, an Ion file with an OAuth client (its token
//! minted for the table), the rows read back with SQL; a missing table is
//! named with what was accepted before.

use std::sync::Arc;

use emulator::EmulatorConfig;
use engine::state::State;
use serde_json::{Value, json};

mod support;

use support::databricks::{outputs, world_of};

#[tokio::test]
async fn records_are_pushed_inline_and_from_a_file_and_read_back() {
    let w = world_of(
        EmulatorConfig {
            time_scale: 0.001,
            oauth_clients: vec![("zerobus-sp".into(), "zerobus-secret".into())],
            ..Default::default()
        },
        Arc::new(|name: &str| (name == "SP_SECRET").then(|| "zerobus-secret".to_owned())),
    )
    .await;
    let url = w.emulator.url();
    let flow = format!(
        r#"id: zerobus
namespace: company.data
tasks:
  - id: table
    type: io.kestra.plugin.databricks.sql.Query
    sql: CREATE TABLE main.default.user_events (userId STRING, event STRING, amount DOUBLE)
  - id: inline
    type: io.kestra.plugin.databricks.zerobus.WriteRecords
    endpoint: "{url}"
    catalog: main
    schema: default
    table: user_events
    records:
      - userId: usr_001
        event: page_view
      - userId: usr_002
        event: purchase
        amount: 12.5
  - id: file
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {{userId:"usr_003",event:"signup"}}
      {{userId:"usr_004",event:"it's ok",amount:3e0}}
  - id: from_file
    type: io.kestra.plugin.databricks.zerobus.WriteRecords
    host: "{url}"
    authentication:
      clientId: zerobus-sp
      clientSecret: "{{{{ secret('SP_SECRET') }}}}"
    workspaceId: "1234567890123456"
    endpoint: "{url}"
    catalog: main
    schema: default
    table: user_events
    from: "{{{{ outputs.file.uri }}}}"
  - id: count
    type: io.kestra.plugin.databricks.sql.Query
    sql: SELECT count(*) AS n, sum(amount) AS total FROM main.default.user_events
    fetchType: FETCH_ONE
"#
    );
    let (state, runs, id) = w.run(&flow, json!({})).await;
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    assert_eq!(outputs(&runs, "inline")["recordsCount"], 2);
    assert_eq!(outputs(&runs, "from_file")["recordsCount"], 2);
    assert_eq!(outputs(&runs, "count")["row"], json!({"n": 4, "total": 15.5}));

    let missing = format!(
        "id: zerobus_missing\nnamespace: company.data\ntasks:\n  - id: t\n    type: io.kestra.plugin.databricks.zerobus.WriteRecords\n    endpoint: \"{url}\"\n    catalog: main\n    schema: default\n    table: nope\n    records: [{{a: 1}}]\n"
    );
    let (state, _, id) = w.run(&missing, json!({})).await;
    assert_eq!(state, State::Failed);
    let logs: Value = json!(w.logs(&id).await);
    assert!(logs.to_string().contains("Zerobus Ingest rejected the request (HTTP 404)"), "{logs}");
    assert!(logs.to_string().contains("0 records in prior chunks were already accepted"), "{logs}");
}
