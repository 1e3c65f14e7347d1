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


def test_flow_execute_with_basic_auth(kestra, mortar_url, monkeypatch):
    from conftest import PASSWORD, USER
    from kestra import Flow

    kestra.flows.create_flow(tenant="main", body=FLOW.replace("id: greeter", "id: greeter_basic"))
    monkeypatch.setenv("KESTRA_HOSTNAME", mortar_url)
    monkeypatch.delenv("KESTRA_API_TOKEN", raising=False)
    monkeypatch.setenv("KESTRA_USER", USER)
    flow = Flow(poll_interval=0.1, tenant="main")
    # The password is set on the Flow, as the package's docs show; with
    # KESTRA_USER it goes as basic auth.
    flow.password = PASSWORD
    result = flow.execute("company.team", "greeter_basic", {"name": "basic"})
    assert result.status == "SUCCESS", result
    assert "Hello, basic!" in result.log
    flow.password = "wrong"
    try:
        flow.execute("company.team", "greeter_basic", {"name": "x"})
        raise AssertionError("a wrong password must be refused")
    except Exception as e:  # the client's bare Exception on a 401
        assert "Authentication required" in str(e), e
