//! The SQL engine under load and abuse, through the Statement Execution
//! API: a long statement blocks no other, a cancel or a wait timeout stops
//! SQLite for real, and no statement reaches a file of its own choosing.

use serde_json::{Value, json};
use sqlx::Connection;

use crate::common::Emu;

const WH: &str = "a1b2c3d4e5f60718";

/// Counts for ever; inside an INSERT it holds the database's one write
/// lock while it runs, so a later write succeeds only once it has stopped.
const ENDLESS_COUNT: &str = "SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)";

/// Runs `sql`, waiting at most 10 s for it.
async fn run(emu: &Emu, sql: &str) -> Value {
    emu.ok_post(
        "/api/2.0/sql/statements",
        json!({"warehouse_id": WH, "statement": sql, "wait_timeout": "10s"}),
    )
    .await
}

/// Runs `sql`, which must succeed within 10 s, and returns its rows.
async fn rows(emu: &Emu, sql: &str) -> Value {
    let v = run(emu, sql).await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{sql}: {v}");
    v["result"]["data_array"].clone()
}

/// Starts `sql` without waiting and returns its id once it runs.
async fn start(emu: &Emu, sql: &str) -> String {
    let v = emu
        .ok_post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": WH, "statement": sql, "wait_timeout": "0s"}),
        )
        .await;
    let id = v["statement_id"].as_str().expect("id").to_owned();
    emu.until(&format!("/api/2.0/sql/statements/{id}"), |v| {
        v["status"]["state"] == "RUNNING"
    })
    .await;
    id
}

/// Asserts that `sql` fails as a statement that reached past the sandbox.
async fn refused(emu: &Emu, sql: &str) {
    let v = run(emu, sql).await;
    assert_eq!(v["status"]["state"], "FAILED", "{sql}: {v}");
    assert!(
        v["status"]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("[UNSUPPORTED_FEATURE]")),
        "{sql}: {v}"
    );
    assert_eq!(v["status"]["sql_state"], "0A000", "{sql}: {v}");
}

#[tokio::test]
async fn a_long_statement_blocks_neither_reads_nor_writes_of_others() {
    let emu = Emu::start().await;
    rows(&emu, "CREATE TABLE t (x INT)").await;
    let long = start(&emu, &format!("SELECT * FROM t, ({ENDLESS_COUNT})")).await;
    // Before the pool, these waited for the one connection and failed
    // after 32 s; each must now succeed within its 10 s wait.
    assert_eq!(rows(&emu, "SELECT 1").await, json!([["1"]]));
    rows(&emu, "INSERT INTO t VALUES (1)").await;
    assert_eq!(rows(&emu, "SELECT count(*) FROM t").await, json!([["1"]]));
    let v = emu.ok_get(&format!("/api/2.0/sql/statements/{long}")).await;
    assert_eq!(v["status"]["state"], "RUNNING", "{v}");
    emu.ok_post(&format!("/api/2.0/sql/statements/{long}/cancel"), json!({}))
        .await;
}

#[tokio::test]
async fn a_cancel_stops_sqlite() {
    let emu = Emu::start().await;
    rows(&emu, "CREATE TABLE t (x INT)").await;
    let id = start(&emu, &format!("INSERT INTO t {ENDLESS_COUNT}")).await;
    // Another statement meanwhile, so the endless one is well under way.
    assert_eq!(rows(&emu, "SELECT 1").await, json!([["1"]]));
    emu.ok_post(&format!("/api/2.0/sql/statements/{id}/cancel"), json!({}))
        .await;
    let v = emu.ok_get(&format!("/api/2.0/sql/statements/{id}")).await;
    assert_eq!(v["status"]["state"], "CANCELED", "{v}");
    // Were SQLite still counting, it would hold the write lock and this
    // INSERT would fail with "database is locked" after 5 s.
    rows(&emu, "INSERT INTO t VALUES (1)").await;
    assert_eq!(rows(&emu, "SELECT count(*) FROM t").await, json!([["1"]]));
}

#[tokio::test]
async fn a_wait_timeout_with_cancel_stops_sqlite() {
    let emu = Emu::start().await;
    rows(&emu, "CREATE TABLE t (x INT)").await;
    let v = emu
        .ok_post(
            "/api/2.0/sql/statements",
            json!({"warehouse_id": WH, "statement": format!("INSERT INTO t {ENDLESS_COUNT}"),
                   "wait_timeout": "5s", "on_wait_timeout": "CANCEL"}),
        )
        .await;
    assert_eq!(v["status"]["state"], "CANCELED", "{v}");
    rows(&emu, "INSERT INTO t VALUES (1)").await;
    assert_eq!(rows(&emu, "SELECT count(*) FROM t").await, json!([["1"]]));
}

#[tokio::test]
async fn attach_is_refused_and_the_file_untouched() {
    let emu = Emu::start().await;
    let dir = tempfile::tempdir().expect("dir");
    // A real SQLite database, as Mortar's own store is: an ATTACH that got
    // through could read it.
    let secrets = dir.path().join("secrets.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&secrets)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("open");
    sqlx::raw_sql("CREATE TABLE secret (value TEXT); INSERT INTO secret VALUES ('hunter2')")
        .execute(&mut conn)
        .await
        .expect("write");
    conn.close().await.expect("close");
    let before = std::fs::read(&secrets).expect("read");
    let path = secrets.display();
    let absent = dir.path().join("absent.db");
    for sql in [
        format!("ATTACH DATABASE '{path}' AS s"),
        format!("ATTACH 'file:{path}?mode=ro' AS s; SELECT * FROM s.secret"),
        format!("SELECT 1; ATTACH '{path}' AS s"),
        format!("ATTACH '{}' AS s", absent.display()),
        "DETACH DATABASE temp".to_owned(),
        "PRAGMA journal_mode = DELETE".to_owned(),
        "SELECT load_extension('/tmp/nothing.so')".to_owned(),
    ] {
        refused(&emu, &sql).await;
    }
    assert_eq!(std::fs::read(&secrets).expect("read"), before);
    assert!(!absent.exists(), "ATTACH created {}", absent.display());
    // Normal SQL still works on the same warehouse.
    rows(&emu, "CREATE TABLE t (x INT)").await;
    assert_eq!(rows(&emu, "DESCRIBE t").await, json!([["x", "int", null]]));
}

#[tokio::test]
async fn vacuum_into_is_refused_and_creates_no_file() {
    let emu = Emu::start().await;
    rows(&emu, "CREATE TABLE t (x INT)").await;
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("copy.db");
    let path = copy.display();
    for sql in [
        format!("VACUUM INTO '{path}'"),
        format!("/* first a comment */ VACUUM INTO '{path}'"),
        format!("SELECT 1; VACUUM INTO '{path}'"),
        format!("VACUUM INTO 'file:{path}?mode=rwc'"),
    ] {
        refused(&emu, &sql).await;
    }
    assert!(!copy.exists(), "VACUUM INTO created {path}");
    // Databricks' own VACUUM (Delta housekeeping) stays a no-op.
    rows(&emu, "VACUUM t").await;
}
