//! The JDBC tasks through the executor against real databases: a
//! PostgreSQL server the test starts itself (scripts/postgres.sh, Debian's
//! package; or a database of its own on MORTAR_TEST_POSTGRES's server when
//! the test command gives one), and SQLite files in internal storage.
//! Typed values, parameters, the fetch types, transactions rolled back on
//! a failure, COPY in and out, a kill cancelling the statement on the
//! server, and the Trigger firing once per batch of new rows.

use std::sync::Arc;
use std::time::Duration;

use engine::executor::{Executor, Launch};
use engine::ids::ExecutionId;
use engine::plan::Plan;
use engine::state::State;
use engine::store::TaskRunRecord;
use engine::task::Runners;
use serde_json::{Value, json};
use sqlx::Connection;

mod support;
use support::postgres::Postgres;
use support::{Harness, harness};


fn executor(h: &Harness) -> Executor {
    Executor::new(
        h.services.clone(),
        Runners::core(),
        Arc::new(|_: &str| None),
    )
}

async fn start(executor: &Executor, yaml: &str) -> ExecutionId {
    let parsed = engine::flow::parse(yaml);
    assert!(parsed.is_valid(), "{:?}", parsed.problems);
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Default::default(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id
}

async fn run(h: &Harness, yaml: &str) -> (State, Vec<TaskRunRecord>) {
    let executor = executor(h);
    let id = start(&executor, yaml).await;
    let state = tokio::time::timeout(Duration::from_secs(60), executor.wait(&id))
        .await
        .unwrap()
        .unwrap();
    (state, h.store.task_runs(&id).await.unwrap())
}

fn outputs(runs: &[TaskRunRecord], task: &str) -> Value {
    runs.iter()
        .find(|r| r.task_id.as_str() == task)
        .and_then(|r| r.outputs.clone())
        .unwrap_or_else(|| panic!("no outputs of {task}: {runs:#?}"))
}

async fn logs(h: &Harness, runs: &[TaskRunRecord]) -> String {
    let id = &runs[0].execution_id;
    h.services.logs.flush().await;
    h.store
        .logs(id, engine::log::Level::Trace, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|l| l.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

fn read(h: &Harness, uri: &Value) -> String {
    let path = h.services.storage.path_of(uri.as_str().unwrap()).unwrap();
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn postgres_queries_copies_kills_and_triggers() {
    let pg = Postgres::start().await;
    let h = harness().await;
    let url = pg.url();
    let connection = format!("    url: {url}\n    username: mortar\n");

    // Typed values, parameters quoted where they stand, one output per
    // statement that returns rows.
    let yaml = format!(
        r#"
id: pg
namespace: company.team
tasks:
  - id: setup
    type: io.kestra.plugin.jdbc.postgresql.Queries
{connection}    sql: |
      CREATE TABLE products (id int PRIMARY KEY, name text, price numeric(8,2), active bool,
        tags text[], attrs jsonb, added timestamptz, ttl interval);
      INSERT INTO products VALUES
        (1, 'lamp', 12.50, true, '{{a,"b c"}}', '{{"w": 3}}', '2024-01-02 03:04:05+02', '1 day 02:00:00'),
        (2, 'desk', 100, false, '{{}}', NULL, NULL, NULL);
      INSERT INTO products VALUES (3, :name, 7, true, NULL, NULL, NULL, NULL);
      SELECT count(*) AS n FROM products;
      SELECT id FROM products WHERE id > 100;
    parameters:
      name: "O'Brien; DROP TABLE products"
    fetchType: FETCH
  - id: one
    type: io.kestra.plugin.jdbc.postgresql.Query
{connection}    sql: SELECT * FROM products WHERE id = :id
    parameters:
      id: 1
    fetchType: FETCH_ONE
  - id: store
    type: io.kestra.plugin.jdbc.postgresql.Query
{connection}    sql: SELECT id, name FROM products ORDER BY id
    fetchType: STORE
  - id: csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{{{ outputs.store.uri }}}}"
  - id: none
    type: io.kestra.plugin.jdbc.postgresql.Query
{connection}    sql: UPDATE products SET active = true
"#
    );
    let (state, runs) = run(&h, &yaml).await;
    assert_eq!(state, State::Success, "{}", logs(&h, &runs).await);
    let setup = outputs(&runs, "setup");
    assert_eq!(
        setup["outputs"],
        json!([{"rows": [{"n": 3}], "size": 1}, {"rows": [], "size": 0}]),
        "the INSERT and CREATE give no output; the injected name is a value"
    );
    let one = outputs(&runs, "one");
    assert_eq!(
        one,
        json!({"row": {"id": 1, "name": "lamp", "price": 12.5, "active": true, "tags": ["a", "b c"],
            "attrs": {"w": 3}, "added": "2024-01-02T01:04:05Z", "ttl": "P0Y0M1DT2H0M0S"}, "size": 1})
    );
    let store = outputs(&runs, "store");
    assert_eq!(store["size"], 3);
    assert!(store["uri"].as_str().unwrap().ends_with(".ion"));
    assert_eq!(
        read(&h, &store["uri"]),
        "{id:1,name:\"lamp\"}\n{id:2,name:\"desk\"}\n{id:3,name:\"O'Brien; DROP TABLE products\"}\n"
    );
    assert_eq!(
        read(&h, &outputs(&runs, "csv")["uri"]),
        "id,name\n1,lamp\n2,desk\n3,O'Brien; DROP TABLE products\n"
    );
    assert_eq!(outputs(&runs, "none"), json!({}), "NONE keeps nothing");

    // A failing statement rolls the whole Queries back; Query refuses two
    // statements; a database error is the database's message.
    let yaml = format!(
        r#"
id: pg_fail
namespace: company.team
tasks:
  - id: all_or_nothing
    type: io.kestra.plugin.jdbc.postgresql.Queries
{connection}    sql: |
      INSERT INTO products (id, name) VALUES (10, 'kept?');
      INSERT INTO products (id, name) VALUES (1, 'duplicate');
"#
    );
    let (state, runs) = run(&h, &yaml).await;
    assert_eq!(state, State::Failed);
    let text = logs(&h, &runs).await;
    assert!(
        text.contains("duplicate key value violates unique constraint"),
        "{text}"
    );
    let mut conn = pg.connect().await;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM products WHERE id = 10")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 0, "the first INSERT was rolled back");
    let yaml = format!(
        "id: pg_two\nnamespace: company.team\ntasks:\n  - id: two\n    type: io.kestra.plugin.jdbc.postgresql.Query\n{connection}    sql: SELECT 1; SELECT 2\n"
    );
    let (state, runs) = run(&h, &yaml).await;
    assert_eq!(state, State::Failed);
    assert!(logs(&h, &runs).await.contains("use the Queries task"));

    // COPY in from a CSV file, and out again.
    let yaml = format!(
        r#"
id: pg_copy
namespace: company.team
tasks:
  - id: file
    type: io.kestra.plugin.core.storage.Write
    content: "id,name\n20,\"chair, red\"\n21,stool\n"
    extension: .csv
  - id: copy_in
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
{connection}    from: "{{{{ outputs.file.uri }}}}"
    table: products
    columns: [id, name]
    format: CSV
    header: true
    delimiter: ","
  - id: copy_out
    type: io.kestra.plugin.jdbc.postgresql.CopyOut
{connection}    sql: SELECT id, name FROM products WHERE id >= 20 ORDER BY id
    format: CSV
    header: true
"#
    );
    let (state, runs) = run(&h, &yaml).await;
    assert_eq!(state, State::Success, "{}", logs(&h, &runs).await);
    assert_eq!(outputs(&runs, "copy_in")["rowCount"], 2);
    let out = outputs(&runs, "copy_out");
    assert_eq!(out["rowCount"], 2);
    assert_eq!(
        read(&h, &out["uri"]),
        "id,name\n20,\"chair, red\"\n21,stool\n"
    );

    // A kill cancels the statement on the server, not only the task.
    let yaml = format!(
        "id: pg_kill\nnamespace: company.team\ntasks:\n  - id: slow\n    type: io.kestra.plugin.jdbc.postgresql.Query\n{connection}    sql: SELECT pg_sleep(60)\n"
    );
    let executor = executor(&h);
    let id = start(&executor, &yaml).await;
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'";
    let mut seen = false;
    for _ in 0..100 {
        let (n,): (i64,) = sqlx::query_as(sleeping).fetch_one(&mut conn).await.unwrap();
        if n == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the statement ran on the server");
    executor.kill(&id).await.unwrap();
    assert_eq!(executor.wait(&id).await.unwrap(), State::Killed);
    let mut left: i64 = 1;
    for _ in 0..50 {
        (left,) = sqlx::query_as(sleeping).fetch_one(&mut conn).await.unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the server is no longer running the statement");

    // The Trigger fires when its query returns rows, and afterSQL marks
    // them in the same transaction, so the next poll finds none.
    sqlx::raw_sql("CREATE TABLE orders (id int, status text); INSERT INTO orders VALUES (1, 'NEW'), (2, 'NEW')")
        .execute(&mut conn)
        .await
        .unwrap();
    let flow = format!(
        r#"id: pg_watch
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{{{ trigger.rows }}}}"
    tasks:
      - id: show
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ fromJson(taskrun.value).id }}}}"
triggers:
  - id: watch
    type: io.kestra.plugin.jdbc.postgresql.Trigger
    interval: PT30S
{}    sql: "SELECT id, status FROM orders WHERE status = 'NEW' ORDER BY id"
    afterSQL: "UPDATE orders SET status = 'PROCESSED' WHERE status = 'NEW'"
    fetchType: FETCH
"#,
        connection
    );
    assert!(
        engine::flow::parse(&flow).is_valid(),
        "{:?}",
        engine::flow::parse(&flow).problems
    );
    support::save(&h.store, &flow).await;
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    engine::scheduler::tick(&h.store, &executor, at("2026-01-10T10:00:00Z"))
        .await
        .unwrap();
    engine::scheduler::tick(&h.store, &executor, at("2026-01-10T10:00:30Z"))
        .await
        .unwrap();
    let filter = engine::store::ExecutionFilter {
        flow_id: Some("pg_watch".into()),
        ..Default::default()
    };
    let started = h
        .store
        .search_executions(&filter, 1, 10)
        .await
        .unwrap()
        .results;
    assert_eq!(started.len(), 1, "the second poll found no NEW row");
    assert_eq!(executor.wait(&started[0].id).await.unwrap(), State::Success);
    let runs = h.store.task_runs(&started[0].id).await.unwrap();
    let mut shown: Vec<Value> = runs
        .iter()
        .filter(|r| r.task_id.as_str() == "show")
        .map(|r| r.outputs.as_ref().unwrap()["value"].clone())
        .collect();
    shown.sort_by_key(|v| v.to_string());
    assert_eq!(shown, vec![json!("1"), json!("2")]);
    let (processed,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM orders WHERE status = 'PROCESSED'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(processed, 2);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_databases_pass_between_tasks_through_internal_storage() {
    let h = harness().await;
    let yaml = r#"
id: lite
namespace: company.team
tasks:
  - id: init_db
    type: io.kestra.plugin.jdbc.sqlite.Queries
    url: jdbc:sqlite:myfile.db
    outputDbFile: true
    sql: |
      CREATE TABLE t (play_time TEXT, concert_id INTEGER, score REAL, raw BLOB);
      INSERT INTO t VALUES ('2024-01', 1, 1.5, x'0102');
      INSERT INTO t VALUES (:month, 2, NULL, NULL);
    parameters:
      month: "2024-02"
  - id: select
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:myfile.db
    sqliteFile: "{{ outputs.init_db.databaseUri }}"
    sql: SELECT * FROM t ORDER BY concert_id
    fetchType: FETCH
  - id: backup
    type: io.kestra.plugin.jdbc.sqlite.Query
    sqliteFile: "{{ outputs.init_db.databaseUri }}"
    outputFiles: [copy.db]
    sql: "VACUUM INTO '{{ outputFiles['copy.db'] }}'"
  - id: from_backup
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:other.db
    sqliteFile: "{{ outputs.backup.outputFiles['copy.db'] }}"
    sql: SELECT count(*) AS n FROM t
    fetchType: FETCH_ONE
  - id: memory
    type: io.kestra.plugin.jdbc.sqlite.Query
    sql: SELECT 1 AS one WHERE 1 = 0
    fetchType: FETCH_ONE
"#;
    let (state, runs) = run(&h, yaml).await;
    assert_eq!(state, State::Success, "{}", logs(&h, &runs).await);
    let init = outputs(&runs, "init_db");
    assert!(
        init["databaseUri"].as_str().unwrap().ends_with("myfile.db"),
        "{init}"
    );
    assert_eq!(
        outputs(&runs, "select")["rows"],
        json!([
            {"play_time": "2024-01", "concert_id": 1, "score": 1.5, "raw": "AQI="},
            {"play_time": "2024-02", "concert_id": 2, "score": null, "raw": null}
        ])
    );
    assert_eq!(outputs(&runs, "from_backup")["row"], json!({"n": 2}));
    assert_eq!(outputs(&runs, "memory"), json!({"row": null, "size": 0}));
}
