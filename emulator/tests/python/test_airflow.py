"""Airflow's DatabricksHook against the emulator, when the provider is
installed (scripts/test-emulator-python.sh installs it with
MORTAR_TEST_AIRFLOW=1; it costs about 650 MB and a minute)."""

import json
import os
import time

import pytest

hooks = pytest.importorskip("airflow.providers.databricks.hooks.databricks")

NOTEBOOK = "/Shared/mortar-examples/aggregate"


@pytest.fixture()
def hook(url: str, token: str, monkeypatch):
    host, port = url.removeprefix("http://").split(":")
    conn = {"conn_type": "databricks", "host": host, "port": int(port), "schema": "http", "password": token}
    monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_EMU", json.dumps(conn))
    return hooks.DatabricksHook(databricks_conn_id="databricks_emu", retry_limit=3, retry_delay=1)


def wait_terminal(hook, run_id):
    deadline = time.time() + 60
    while time.time() < deadline:
        state = hook.get_run_state(run_id)
        if state.is_terminal:
            return state
        time.sleep(0.2)
    raise AssertionError("run did not finish")


def test_submit_run_and_get_run_state(hook):
    run_id = hook.submit_run({
        "run_name": "airflow",
        "notebook_task": {"notebook_path": NOTEBOOK, "base_parameters": {"n": 1}},
        "new_cluster": {"spark_version": "16.4.x-scala2.12", "num_workers": "1"},
        "timeout_seconds": "3600",
    })
    state = wait_terminal(hook, run_id)
    assert state.is_successful
    assert hook.get_run_page_url(run_id)


def test_cancel_run(hook):
    run_id = hook.submit_run({
        "run_name": "airflow slow",
        "tasks": [{"task_key": "s", "notebook_task": {"notebook_path": NOTEBOOK, "base_parameters": {"emulator_sleep": "100000"}}}],
    })
    hook.cancel_run(run_id)
    state = wait_terminal(hook, run_id)
    assert state.result_state == "CANCELED"


def test_jobs_clusters_and_sql_statements(hook, warehouse_id):
    job_id = hook.create_job({
        "name": "airflow job",
        "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": NOTEBOOK}}],
    })
    assert hook.find_job_id_by_name("airflow job") == job_id
    run_id = hook.run_now({"job_id": job_id, "notebook_params": {"k": "v"}})
    assert wait_terminal(hook, run_id).is_successful
    run = hook.get_run(run_id)
    out = hook.get_run_output(run["tasks"][0]["run_id"])
    assert out["notebook_output"]["result"] == '{"k":"v"}'

    cluster = hook._do_api_call(("POST", "2.1/clusters/create"), {"spark_version": "16.4.x-scala2.12", "num_workers": "1"})
    cluster_id = cluster["cluster_id"]
    deadline = time.time() + 60
    while not hook.get_cluster_state(cluster_id).is_running:
        assert time.time() < deadline
        time.sleep(0.1)
    hook.terminate_cluster({"cluster_id": cluster_id})
    while not hook.get_cluster_state(cluster_id).is_terminal:
        assert time.time() < deadline
        time.sleep(0.1)

    statement_id = hook.post_sql_statement({
        "statement": "SELECT 1 AS one", "warehouse_id": warehouse_id, "wait_timeout": "0s",
        "catalog": None, "schema": None, "parameters": None,
    })
    while True:
        state = hook.get_sql_statement_state(statement_id)
        if state.is_terminal:
            break
        assert time.time() < deadline
        time.sleep(0.1)
    assert state.is_successful
    slow = hook.post_sql_statement({"statement": "/* emulator:sleep=100000 */ SELECT 1", "warehouse_id": warehouse_id, "wait_timeout": "0s"})
    hook.cancel_sql_statement(slow)
    while not hook.get_sql_statement_state(slow).is_terminal:
        assert time.time() < deadline
        time.sleep(0.1)
    assert hook.get_sql_statement_state(slow).state == "CANCELED"
