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
