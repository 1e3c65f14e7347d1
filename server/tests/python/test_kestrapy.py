"""Kestra's official Python client (`kestrapy`, from PyPI) against Mortar,
unchanged: it calls Kestra's tenant paths (`/api/v1/main/...`) and reads
Kestra's JSON shapes into its models."""

FLOW = """id: hello
namespace: company.team
inputs:
  - id: name
    type: STRING
    defaults: World
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "Hello, {{ inputs.name }}!"
  - id: region
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('region') }}"
"""


def test_flows_are_created_read_and_searched(kestra):
    created = kestra.flows.create_flow(tenant="main", body=FLOW)
    assert created.id == "hello"
    assert created.namespace == "company.team"
    read = kestra.flows.flow(namespace="company.team", id="hello", tenant="main")
    assert "Hello, {{ inputs.name }}!" in read.source


def test_kv_values_are_set_read_and_used_by_an_execution(kestra):
    kestra.kv.set_key_value(namespace="company.team", key="region", tenant="main", body='"eu-west"')
    value = kestra.kv.key_value(namespace="company.team", key="region", tenant="main")
    assert value.value == "eu-west"
    execution = kestra.executions.create_execution(
        tenant="main", namespace="company.team", id="hello", wait=True, inputs={"name": "kestrapy"}
    )
    assert str(execution.state.current).endswith("SUCCESS")
    # Kestra 2.0 reads task outputs from /outputs, not from the execution.
    region = [run for run in execution.task_run_list if run.task_id == "region"][0]
    assert kestra.outputs.task_run_outputs(execution_id=execution.id, task_run_id=region.id, tenant="main")["value"] == "eu-west"
    listed = kestra.outputs.task_outputs_information(execution_id=execution.id, tenant="main")
    assert [entry.task_id for entry in listed] == ["region"]
    text = kestra.logs.download_logs_from_execution(execution_id=execution.id, tenant="main")
    text = text.decode() if isinstance(text, bytes) else str(text)
    assert "Hello, kestrapy!" in text
    assert kestra.kv.delete_key_value(namespace="company.team", key="region", tenant="main") is True
