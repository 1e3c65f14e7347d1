//! The Unity Catalog tasks against the emulator: Kestra's examples set up a
//! catalog, a schema and a volume, upload a file and query it, read the
//! objects back, grant privileges, and clean up; errors carry Databricks'
//! codes.

use engine::ids::ExecutionId;
use engine::state::State;
use serde_json::{Value, json};

mod support;

use support::databricks::{outputs, world};

/// Kestra's connection lines, as its examples write them: the executor
/// gives the tasks the default connection when they name none.
const FLOW: &str = r#"id: uc_setup
namespace: company.data
inputs:
  - id: file
    type: FILE
tasks:
  - id: create_catalog
    type: io.kestra.plugin.databricks.unitycatalog.catalog.Create
    name: analytics
    comment: Analytics data products
    properties:
      team: data
  - id: create_schema
    type: io.kestra.plugin.databricks.unitycatalog.schema.Create
    catalogName: "{{ outputs.create_catalog.name }}"
    name: landing_zone
    comment: Raw data landing area
  - id: create_volume
    type: io.kestra.plugin.databricks.unitycatalog.volume.Create
    catalogName: analytics
    schemaName: landing_zone
    name: raw_files
    volumeType: MANAGED
  - id: upload_file
    type: io.kestra.plugin.databricks.unitycatalog.volume.Upload
    from: "{{ inputs.file }}"
    volumePath: /Volumes/analytics/landing_zone/raw_files/data.csv
    overwrite: true
  - id: load
    type: io.kestra.plugin.databricks.sql.Query
    sql: CREATE TABLE analytics.landing_zone.sales AS SELECT * FROM read_files('/Volumes/analytics/landing_zone/raw_files/data.csv', format => 'csv', header => true)
  - id: count
    type: io.kestra.plugin.databricks.sql.Query
    sql: SELECT count(*) AS n, sum(amount) AS total FROM analytics.landing_zone.sales
    fetchType: FETCH_ONE
  - id: list_tables
    type: io.kestra.plugin.databricks.unitycatalog.table.List
    catalogName: analytics
    schemaName: landing_zone
  - id: store_tables
    type: io.kestra.plugin.databricks.unitycatalog.table.List
    catalogName: analytics
    schemaName: landing_zone
    omitColumns: true
    fetchType: STORE
  - id: get_table
    type: io.kestra.plugin.databricks.unitycatalog.table.Get
    fullName: analytics.landing_zone.sales
  - id: grant_select
    type: io.kestra.plugin.databricks.unitycatalog.grant.Update
    securableType: SCHEMA
    fullName: analytics.landing_zone
    changes:
      - principal: data-analysts
        add:
          - USE_SCHEMA
          - select
  - id: get_grants
    type: io.kestra.plugin.databricks.unitycatalog.grant.Get
    securableType: schema
    fullName: analytics.landing_zone
  - id: update_volume
    type: io.kestra.plugin.databricks.unitycatalog.volume.Update
    fullName: analytics.landing_zone.raw_files
    owner: data-platform
  - id: download
    type: io.kestra.plugin.databricks.unitycatalog.volume.Download
    volumePath: /Volumes/analytics/landing_zone/raw_files/data.csv
  - id: list_volumes
    type: io.kestra.plugin.databricks.unitycatalog.volume.List
    catalogName: analytics
    schemaName: landing_zone
  - id: list_schemas
    type: io.kestra.plugin.databricks.unitycatalog.schema.List
    catalogName: analytics
  - id: list_catalogs
    type: io.kestra.plugin.databricks.unitycatalog.catalog.List
  - id: update_schema
    type: io.kestra.plugin.databricks.unitycatalog.schema.Update
    fullName: analytics.landing_zone
    comment: Landed
  - id: get_schema
    type: io.kestra.plugin.databricks.unitycatalog.schema.Get
    fullName: analytics.landing_zone
  - id: update_catalog
    type: io.kestra.plugin.databricks.unitycatalog.catalog.Update
    name: analytics
    owner: data-platform
  - id: get_catalog
    type: io.kestra.plugin.databricks.unitycatalog.catalog.Get
    name: analytics
  - id: get_volume
    type: io.kestra.plugin.databricks.unitycatalog.volume.Get
    fullName: analytics.landing_zone.raw_files
  - id: delete_table
    type: io.kestra.plugin.databricks.unitycatalog.table.Delete
    fullName: analytics.landing_zone.sales
  - id: delete_volume
    type: io.kestra.plugin.databricks.unitycatalog.volume.Delete
    fullName: analytics.landing_zone.raw_files
  - id: delete_schema
    type: io.kestra.plugin.databricks.unitycatalog.schema.Delete
    fullName: analytics.landing_zone
  - id: delete_catalog
    type: io.kestra.plugin.databricks.unitycatalog.catalog.Delete
    name: analytics
    force: true
"#;

const CSV: &str = "region,amount\nEMEA,120.5\nAMER,210\n";

#[tokio::test]
async fn a_catalog_schema_and_volume_are_set_up_loaded_queried_granted_and_removed() {
    let w = world(0.001).await;
    let id = ExecutionId::generate();
    let file = w.file_input("uc_setup", &id, CSV).await;
    let id = w.launch(FLOW, json!({ "file": file }), id).await;
    let state = w.executor.wait(&id).await.unwrap();
    let runs = w.store.task_runs(&id).await.unwrap();
    assert_eq!(state, State::Success, "{:#?}", w.logs(&id).await);
    let o = |task| outputs(&runs, task);
    assert_eq!(o("create_catalog")["name"], "analytics");
    assert_eq!(o("create_catalog")["catalog"]["properties"], json!({"team": "data"}));
    assert_eq!(o("create_schema")["fullName"], "analytics.landing_zone");
    assert_eq!(o("create_volume")["volume"]["volume_type"], "MANAGED");
    assert_eq!(o("upload_file")["size"], CSV.len());
    assert_eq!(o("count")["row"], json!({"n": 2, "total": 330.5}));
    assert_eq!(o("list_tables")["size"], 1);
    assert_eq!(o("list_tables")["tables"][0]["full_name"], "analytics.landing_zone.sales");
    let columns: Vec<String> = o("get_table")["table"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(columns, ["region", "amount"]);
    let stored = w.read(o("store_tables")["uri"].as_str().unwrap()).await;
    assert!(stored.contains("full_name:\"analytics.landing_zone.sales\""), "{stored}");
    assert!(!stored.contains("columns"), "omitColumns: {stored}");
    assert_eq!(o("get_grants")["privilegeAssignments"], json!([{"principal": "data-analysts", "privileges": ["SELECT", "USE_SCHEMA"]}]));
    assert_eq!(o("update_volume")["owner"], "data-platform");
    assert_eq!(w.read(o("download")["uri"].as_str().unwrap()).await, CSV);
    assert_eq!(o("list_volumes")["size"], 1);
    let schemas: Vec<String> = o("list_schemas")["schemas"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(schemas, ["default", "information_schema", "landing_zone"]);
    assert!(o("list_catalogs")["catalogs"].as_array().unwrap().iter().any(|c| c["name"] == "analytics"));
    assert_eq!(o("get_schema")["schema"]["comment"], "Landed");
    assert_eq!(o("get_catalog")["owner"], "data-platform");
    assert_eq!(o("get_volume")["fullName"], "analytics.landing_zone.raw_files");
    let left: Value = w.api("/api/2.1/unity-catalog/catalogs/analytics").await;
    assert_eq!(left["error_code"], "CATALOG_DOES_NOT_EXIST");
}

#[tokio::test]
async fn errors_carry_databricks_codes_and_bad_properties_are_named() {
    let w = world(0.001).await;
    let flow = |tasks: &str| format!("id: uc_errors\nnamespace: company.data\ntasks:\n{tasks}");
    let cases = [
        (
            "  - id: t\n    type: io.kestra.plugin.databricks.unitycatalog.schema.Get\n    fullName: main.nope\n",
            "SCHEMA_DOES_NOT_EXIST",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.databricks.unitycatalog.volume.Upload\n    from: storage:///x\n    volumePath: /Volumes/main/default\n",
            "expected a file path in the form '/Volumes/<catalog>/<schema>/<volume>/<path>'",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.databricks.unitycatalog.volume.Create\n    catalogName: main\n    schemaName: default\n    name: ext\n    volumeType: EXTERNAL\n",
            "`storageLocation` is required to create an EXTERNAL volume",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.databricks.unitycatalog.grant.Update\n    securableType: SCHEMA\n    fullName: main.default\n    changes:\n      - principal: x\n        add: [READ_EVERYTHING]\n",
            "Unknown Unity Catalog privilege 'READ_EVERYTHING'",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.databricks.unitycatalog.volume.Upload\n    from: \"{{ outputs.make.uri }}\"\n    volumePath: /Volumes/main/default/missing/a.csv\n",
            "NOT_FOUND: Volume 'main.default.missing' does not exist.",
        ),
    ];
    for (tasks, expected) in cases {
        let tasks = if tasks.contains("outputs.make") {
            format!("  - id: make\n    type: io.kestra.plugin.core.storage.Write\n    content: x\n    extension: .csv\n{tasks}")
        } else {
            tasks.to_owned()
        };
        let (state, _, id) = w.run(&flow(&tasks), json!({})).await;
        assert_eq!(state, State::Failed, "{tasks}");
        let logs = w.logs(&id).await.join("\n");
        assert!(logs.contains(expected), "{expected:?} not in:\n{logs}");
    }
}
