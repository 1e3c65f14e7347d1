"""The `kestra` package's Flow client (from PyPI, as flows and services use
it to start executions): it starts an execution, polls its state and
downloads its logs, with and without Kestra's tenant in the paths."""

import os

FLOW = """id: greeter
namespace: company.team
inputs:
  - id: name
    type: STRING
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello, {{ inputs.name }}!"
"""


def test_flow_execute_waits_and_returns_the_logs(kestra, mortar_url, monkeypatch):
    from kestra import Flow

    kestra.flows.create_flow(tenant="main", body=FLOW)
    monkeypatch.setenv("KESTRA_HOSTNAME", mortar_url)
    monkeypatch.setenv("KESTRA_API_TOKEN", os.environ["MORTAR_TEST_TOKEN"])
    for tenant in (None, "main"):
        flow = Flow(poll_interval=0.1, tenant=tenant)
        result = flow.execute("company.team", "greeter", {"name": f"tenant {tenant}"})
        assert result.status == "SUCCESS", result
        assert f"Hello, tenant {tenant}!" in result.log
        assert result.error is None
