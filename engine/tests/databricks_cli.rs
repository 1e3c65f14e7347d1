//! The Databricks CLI tasks run the real CLIs: `databricks` (the Python
//! `databricks-cli` from PyPI, which scripts/test.sh installs into the
//! repository's .venv) and `dbsqlcli` (in .venv-dbsqlcli) against the
//! emulator, with the host and token in the
//! environment and the token masked in the logs; a CLI that is not on the
//! PATH is an error that names it.

use std::sync::Arc;

use engine::state::State;
use serde_json::json;

mod support;

use support::databricks::{outputs, world_with};

/// The bin directory of the repository's venv `venv`, which must hold
/// `program` (`install` says how to get it), before the PATH.
fn path_with(venv: &str, program: &str, install: &str) -> String {
    let bin = format!("{}/../{venv}/bin", env!("CARGO_MANIFEST_DIR"));
    assert!(
        std::path::Path::new(&bin).join(program).is_file(),
        "{program} is not in {bin}: {install}"
    );
    let bin = std::fs::canonicalize(bin).unwrap().to_string_lossy().into_owned();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// A world whose secret DATABRICKS_TOKEN is its emulator's token.
async fn world_with_token() -> support::databricks::World {
    let token_holder = Arc::new(std::sync::OnceLock::<String>::new());
    let secrets = {
        let holder = token_holder.clone();
        Arc::new(move |name: &str| (name == "DATABRICKS_TOKEN").then(|| holder.get().cloned()).flatten())
    };
    let w = world_with(0.001, Vec::new(), secrets).await;
    token_holder.set(w.emulator.token().to_owned()).unwrap();
    w
}

#[tokio::test]
async fn the_databricks_cli_lists_clusters_and_files_with_the_token_masked() {
    let w = world_with_token().await;
    let path = path_with(".venv", "databricks", "scripts/test.sh installs it (or `.venv/bin/pip install databricks-cli`)");
    // The Python CLI drops the port of DATABRICKS_HOST (it always calls
    // port 80 or 443), so it reaches the emulator as its HTTP proxy, which
    // serves the absolute-form requests a proxy gets.
    let flow = format!(
        r#"id: cli
namespace: company.data
tasks:
  - id: list
    type: io.kestra.plugin.databricks.cli.DatabricksCLI
    databricksHost: http://workspace.emulator
    databricksToken: "{{{{ secret('DATABRICKS_TOKEN') }}}}"
    env:
      PATH: "{path}"
      HTTP_PROXY: "{}"
    commands:
      - databricks fs ls dbfs:/databricks-datasets/mortar
      - databricks clusters list --output JSON > clusters.json
      - echo "token is $DATABRICKS_TOKEN"
    outputFiles:
      - clusters.json
"#,
        w.emulator.url()
    );
    let (state, runs, id) = w.run(&flow, json!({})).await;
    let logs = w.logs(&id).await;
    assert_eq!(state, State::Success, "{logs:#?}");
    assert!(logs.iter().any(|l| l.contains("sales.csv")), "{logs:#?}");
    assert!(logs.iter().any(|l| l.contains("token is ****")), "{logs:#?}");
    assert!(!logs.iter().any(|l| l.contains(w.emulator.token())), "the token leaked: {logs:#?}");
    let uri = outputs(&runs, "list")["outputFiles"]["clusters.json"].as_str().unwrap().to_owned();
    let listed: serde_json::Value = serde_json::from_str(&w.read(&uri).await).unwrap_or(json!({}));
    assert!(listed.is_object(), "clusters list --output JSON wrote JSON: {listed}");
}

/// dbsqlcli speaks Thrift to https://<host>:443 only; it reaches the
/// emulator, as a workspace host name would be written, through the
/// emulator's HTTPS proxy, trusting its CA.
#[tokio::test]
async fn the_sql_cli_runs_each_statement_on_the_warehouse_with_the_token_masked() {
    let w = world_with_token().await;
    let home = tempfile::tempdir().unwrap();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, w.emulator.ca_pem()).unwrap();
    let path = path_with(".venv-dbsqlcli", "dbsqlcli", "scripts/test.sh installs it (`source scripts/lib.sh; ensure_dbsqlcli`)");
    let flow = |commands: &str| {
        format!(
            r#"id: sql_cli
namespace: company.data
tasks:
  - id: query
    type: io.kestra.plugin.databricks.cli.DatabricksSQLCLI
    host: dbc-1234567890123456.cloud.databricks.com
    token: "{{{{ secret('DATABRICKS_TOKEN') }}}}"
    httpPath: /sql/1.0/warehouses/a1b2c3d4e5f60718
    env:
      PATH: "{path}"
      HOME: "{home}"
      HTTPS_PROXY: "{proxy}"
      SSL_CERT_FILE: "{ca}"
    options:
      --table-format: csv
    commands:
{commands}
"#,
            home = home.path().display(),
            proxy = w.emulator.url(),
            ca = ca.display(),
        )
    };
    let (state, _, id) = w
        .run(
            &flow(
                "      - CREATE TABLE main.default.cli_trips AS SELECT fare_amount, pickup_zip FROM samples.nyctaxi.trips ORDER BY fare_amount DESC LIMIT 2;\n      - SELECT * FROM main.default.cli_trips ORDER BY fare_amount DESC\n      - SELECT count(*) AS n FROM samples.nyctaxi.trips",
            ),
            json!({}),
        )
        .await;
    let logs = w.logs(&id).await.join("\n");
    assert_eq!(state, State::Success, "{logs}");
    // Every statement ran, in order: the table the first made, the second
    // read; the third counted.
    assert!(logs.contains("fare_amount,pickup_zip\n31.0,11371\n20.5,10001"), "{logs}");
    assert!(logs.contains("n\n20"), "{logs}");
    assert!(!logs.contains(w.emulator.token()), "the token leaked: {logs}");

    // A failing statement fails the task with the warehouse's message.
    let (state, _, id) = w.run(&flow("      - SELECT * FROM main.default.no_such_table"), json!({})).await;
    let logs = w.logs(&id).await.join("\n");
    assert_eq!(state, State::Failed, "{logs}");
    assert!(logs.contains("TABLE_OR_VIEW_NOT_FOUND"), "{logs}");
}

#[tokio::test]
async fn a_cli_not_on_the_path_is_named_and_credentials_are_required() {
    let w = world_with(0.001, Vec::new(), Arc::new(|_: &str| None)).await;
    let cases = [
        (
            "    type: io.kestra.plugin.databricks.cli.DatabricksCLI\n    databricksHost: http://localhost\n    databricksToken: x\n    env:\n      PATH: /nowhere\n    commands: [databricks clusters list]\n",
            "`databricks` is not on the PATH of the Process task runner",
        ),
        (
            "    type: io.kestra.plugin.databricks.cli.DatabricksSQLCLI\n    host: localhost\n    token: x\n    httpPath: /sql/1.0/warehouses/a1b2c3d4e5f60718\n    env:\n      PATH: /nowhere\n    commands: [SELECT 1]\n",
            "`dbsqlcli` is not on the PATH of the Process task runner: install it with `pip install databricks-sql-cli`",
        ),
        (
            "    type: io.kestra.plugin.databricks.cli.DatabricksCLI\n    databricksHost: http://localhost\n    commands: [databricks clusters list]\n",
            "DatabricksCLI requires authentication",
        ),
    ];
    for (task, expected) in cases {
        let flow = format!("id: cli_bad\nnamespace: company.data\ntasks:\n  - id: t\n{task}");
        let (state, _, id) = w.run(&flow, json!({})).await;
        assert_eq!(state, State::Failed, "{task}");
        let logs = w.logs(&id).await.join("\n");
        assert!(logs.contains(expected), "{expected:?} not in {logs}");
    }
}
