"""The SQL warehouses' Thrift endpoint through the official Databricks SQL
connector for Python (`databricks-sql-connector`, what dbsqlcli, dbt and
Airflow's DatabricksSqlHook use), unchanged. The connector only speaks
https://<host>:443, so it reaches the emulator as a workspace host name
through the emulator's HTTPS proxy, trusting the emulator's CA
(scripts/test-emulator-python.sh passes --ca-cert)."""

import os
import time

import pytest
from databricks import sql

HOST = "dbc-1234567890123456.cloud.databricks.com"


@pytest.fixture()
def proxied(url: str, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", url)
    monkeypatch.setenv("SSL_CERT_FILE", os.environ["EMULATOR_CA"])


def connect(token: str, warehouse_id: str):
    return sql.connect(
        server_hostname=HOST,
        http_path=f"/sql/1.0/warehouses/{warehouse_id}",
        access_token=token,
        _retry_stop_after_attempts_count=1,
    )


def test_a_query_gives_typed_columns_nulls_and_every_page(proxied, token, warehouse_id):
    with connect(token, warehouse_id) as conn, conn.cursor(arraysize=3) as cur:
        cur.execute(
            "SELECT fare_amount, pickup_zip, tpep_pickup_datetime FROM samples.nyctaxi.trips "
            "ORDER BY fare_amount DESC"
        )
        assert [d[:2] for d in cur.description] == [
            ("fare_amount", "double"),
            ("pickup_zip", "bigint"),
            ("tpep_pickup_datetime", "timestamp"),
        ]
        # arraysize 3: the 20 rows come over several FetchResults.
        rows = cur.fetchall()
        assert len(rows) == 20
        assert (rows[0].fare_amount, rows[0].pickup_zip) == (31.0, 11371)
        assert rows[-1].fare_amount == min(r.fare_amount for r in rows)

        cur.execute("SELECT 'x' AS s, NULL AS n")
        assert [tuple(r) for r in cur.fetchall()] == [("x", None)]


def test_tables_made_by_statements_are_in_unity_catalog(proxied, w, token, warehouse_id):
    with connect(token, warehouse_id) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS main.thrift_it")
        cur.execute("CREATE TABLE main.thrift_it.people (id BIGINT, name STRING)")
        cur.execute("INSERT INTO main.thrift_it.people VALUES (1, 'ada'), (2, NULL)")
        cur.execute("SELECT id, name FROM main.thrift_it.people ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == [(1, "ada"), (2, None)]
        names = [t.name for t in w.tables.list(catalog_name="main", schema_name="thrift_it")]
        assert "people" in names
        cur.execute("DROP TABLE main.thrift_it.people")
    assert "people" not in [t.name for t in w.tables.list(catalog_name="main", schema_name="thrift_it")]


def test_errors_name_what_failed_and_a_bad_token_is_refused(proxied, token, warehouse_id):
    with connect(token, warehouse_id) as conn, conn.cursor() as cur:
        with pytest.raises(sql.exc.ServerOperationError, match="TABLE_OR_VIEW_NOT_FOUND"):
            cur.execute("SELECT * FROM main.default.no_such_table")
        # The session survives a failed statement.
        cur.execute("SELECT 2 AS two")
        assert cur.fetchone().two == 2
    with pytest.raises(sql.exc.Error, match="Invalid access token"):
        connect("dapi-wrong", warehouse_id)
    with pytest.raises(sql.exc.Error, match="Warehouse nope does not exist"):
        connect(token, "nope")


def test_a_stopped_warehouse_starts_for_a_statement(proxied, w, token, warehouse_id):
    w.warehouses.stop(warehouse_id).result()
    with connect(token, warehouse_id) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM samples.nyctaxi.trips")
        assert cur.fetchone().n == 20
    assert w.warehouses.get(warehouse_id).state.value == "RUNNING"


def test_airflow_sql_hook_reads_records(proxied, token, warehouse_id, monkeypatch):
    hooks = pytest.importorskip("airflow.providers.databricks.hooks.databricks_sql")
    import json

    conn = {"conn_type": "databricks", "host": HOST, "password": token,
            "extra": {"http_path": f"/sql/1.0/warehouses/{warehouse_id}"}}
    monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_SQL_EMU", json.dumps(conn))
    hook = hooks.DatabricksSqlHook(databricks_conn_id="databricks_sql_emu")
    started = time.time()
    records = hook.get_records("SELECT pickup_zip FROM samples.nyctaxi.trips ORDER BY fare_amount DESC LIMIT 2")
    assert [tuple(r) for r in records] == [(11371,), (10001,)]
    assert time.time() - started < 60


def test_the_cursor_lists_catalogs_schemas_tables_and_columns(proxied, token, warehouse_id):
    with connect(token, warehouse_id) as conn, conn.cursor() as cur:
        cur.catalogs()
        assert {"main", "samples"} <= {r.TABLE_CAT for r in cur.fetchall()}
        cur.schemas(catalog_name="samples")
        assert [(r.TABLE_CATALOG, r.TABLE_SCHEM) for r in cur.fetchall()] == [("samples", "nyctaxi")]
        cur.tables(catalog_name="samples", schema_name="ny%", table_name="trips")
        assert [(r.TABLE_SCHEM, r.TABLE_NAME, r.TABLE_TYPE) for r in cur.fetchall()] == [("nyctaxi", "trips", "TABLE")]
        cur.columns(catalog_name="samples", schema_name="nyctaxi", table_name="trips", column_name="%zip")
        cols = cur.fetchall()
        assert [(c.COLUMN_NAME, c.TYPE_NAME, c.ORDINAL_POSITION) for c in cols] == [
            ("pickup_zip", "BIGINT", 5),
            ("dropoff_zip", "BIGINT", 6),
        ]


def test_a_running_statement_is_polled_and_can_be_cancelled(proxied, token, warehouse_id):
    import threading

    with connect(token, warehouse_id) as conn, conn.cursor() as cur:
        # 1000 simulated seconds at --time-scale 0.01: ten real ones, past
        # the five ExecuteStatement waits for direct results.
        failure = []

        def run():
            try:
                cur.execute("/* emulator:sleep=1000 */ SELECT 1 AS one")
            except sql.exc.Error as e:
                failure.append(e)

        worker = threading.Thread(target=run)
        started = time.time()
        worker.start()
        deadline = time.time() + 30
        while cur.active_command_id is None and time.time() < deadline:
            time.sleep(0.05)
        cur.cancel()
        worker.join(30)
        assert not worker.is_alive()
        assert failure and "cancelled" in str(failure[0]), failure
        assert time.time() - started < 9
