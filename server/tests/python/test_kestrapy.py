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
    # Keys of the parent namespace, as a flow of company.team reads them.
    kestra.kv.set_key_value(namespace="company", key="owner", tenant="main", body='"data team"')
    inherited = kestra.kv.list_keys_with_inheritance(namespace="company.team", tenant="main")
    assert [entry.key for entry in inherited] == ["owner"]


FAILING = """id: flaky
namespace: company.team
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: not today
"""


def test_flows_are_updated_listed_validated_and_deleted(kestra):
    kestra.flows.create_flow(tenant="main", body=FAILING)
    updated = kestra.flows.update_flow(namespace="company.team", id="flaky", tenant="main", body=FAILING.replace("not today", "still not"))
    assert updated.revision == 2
    revisions = kestra.flows.list_flow_revisions(namespace="company.team", id="flaky", tenant="main")
    assert [r.revision for r in revisions] == [1, 2]
    found = kestra.flows.search_flows(tenant="main")
    assert {f.id for f in found.results} >= {"flaky"}
    assert found.total >= 1
    verdicts = kestra.flows.validate_flows(tenant="main", body=FAILING + "---\n" + FAILING.replace("execution.Fail", "execution.Nope"))
    assert [bool(v.constraints) for v in verdicts] == [False, True]


def test_executions_are_searched_restarted_and_replayed(kestra):
    kestra.flows.create_flow(tenant="main", body=FAILING.replace("flaky", "flaky2"))
    failed = kestra.executions.create_execution(tenant="main", namespace="company.team", id="flaky2", wait=True)
    assert str(failed.state.current).endswith("FAILED")
    found = kestra.executions.search_executions(tenant="main")
    assert any(e["id"] == failed.id for e in found["results"])
    restarted = kestra.executions.restart_execution(execution_id=failed.id, tenant="main")
    assert restarted.id == failed.id
    replayed = kestra.executions.replay_execution(execution_id=failed.id, tenant="main")
    assert replayed.id != failed.id
    # Labels on an execution that has ended.
    from kestrapy.models.label import Label

    ended = kestra.executions.create_execution(tenant="main", namespace="company.team", id="flaky2", wait=True)
    labelled = kestra.executions.set_labels_on_terminated_execution(execution_id=ended.id, tenant="main", labels=[Label(key="reviewed", value="yes")])
    assert {(l.key, l.value) for l in labelled.labels} >= {("reviewed", "yes")}


def test_a_namespace_is_deployed_as_ci_cd_does(kestra):
    one = "id: one\nnamespace: deploy.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: one\n"
    two = one.replace("id: one", "id: two")
    three = one.replace("id: one", "id: three")
    first = kestra.flows.update_flows_in_namespace(namespace="deploy.team", tenant="main", body=one + "---\n" + two)
    assert sorted(f.id for f in first) == ["one", "two"]
    # The default deletes what the body no longer has; two is unchanged and keeps its revision.
    second = kestra.flows.update_flows_in_namespace(namespace="deploy.team", tenant="main", body=two + "---\n" + three)
    assert sorted(f.id for f in second) == ["three", "two"]
    assert {f.id: f.revision for f in second}["two"] == 1
    ids = {f.id for f in kestra.flows.search_flows(tenant="main").results if f.namespace == "deploy.team"}
    assert ids == {"two", "three"}


def test_executions_are_restarted_replayed_and_deleted_by_ids(kestra):
    kestra.flows.create_flow(tenant="main", body=FAILING.replace("flaky", "flaky3"))
    ids = [
        kestra.executions.create_execution(tenant="main", namespace="company.team", id="flaky3", wait=True).id
        for _ in range(2)
    ]
    assert kestra.executions.restart_executions_by_ids(tenant="main", ids=ids)["count"] == 2
    for id in ids:
        # Restarted, it fails again; wait for that end before replaying.
        for _ in range(100):
            if str(kestra.executions.execution(execution_id=id, tenant="main").state.current).endswith("FAILED"):
                break
            import time

            time.sleep(0.1)
    assert kestra.executions.replay_executions_by_ids(tenant="main", ids=ids)["count"] == 2
    deleted = kestra.executions.delete_executions_by_ids(tenant="main", ids=ids)
    assert deleted.count == 2
    kestra.executions.delete_execution(execution_id=kestra.executions.create_execution(
        tenant="main", namespace="company.team", id="flaky3", wait=True).id, tenant="main")
    from kestrapy.exceptions import ApiException

    try:
        kestra.executions.execution(execution_id=ids[0], tenant="main")
        raise AssertionError("deleted, it should be gone")
    except ApiException as e:
        assert e.status == 404


FILES = """id: files
namespace: company.team
inputs:
  - id: name
    type: STRING
  - id: data
    type: FILE
tasks:
  - id: shout
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      data.csv: "{{ read(inputs.data) }}"
    outputFiles:
      - upper.csv
    commands:
      - echo "{{ inputs.name }}"
      - tr a-z A-Z < data.csv > upper.csv
"""


def test_an_execution_with_string_and_file_inputs_is_read_with_its_logs_and_files(kestra):
    kestra.flows.create_flow(tenant="main", body=FILES)
    execution = kestra.executions.create_execution(
        tenant="main", namespace="company.team", id="files", wait=True,
        inputs={"name": "from kestrapy", "data": ("data.csv", b"a,b\n1,2\n")},
    )
    assert str(execution.state.current).endswith("SUCCESS"), execution
    read = kestra.executions.execution(execution_id=execution.id, tenant="main")
    assert [run.task_id for run in read.task_run_list] == ["shout"]
    assert [str(h.state).rsplit(".", 1)[-1] for h in read.state.histories][-1] == "SUCCESS"
    lines = kestra.logs.list_logs_from_execution(execution_id=execution.id, tenant="main", min_level="INFO")
    assert any("from kestrapy" in line.message for line in lines)
    found = kestra.logs.search_logs(
        tenant="main",
        filters=[{"field": "executionId", "operation": "EQUALS", "value": execution.id}, {"field": "q", "operation": "EQUALS", "value": "kestrapy"}],
        page=1, size=10,
    )
    assert found.total >= 1 and all(line.execution_id == execution.id for line in found.results)
    outputs = kestra.outputs.task_run_outputs(execution_id=execution.id, task_run_id=read.task_run_list[0].id, tenant="main")
    uri = outputs["outputFiles"]["upper.csv"]
    assert kestra.executions.download_file_from_execution(execution_id=execution.id, path_uri=uri, tenant="main") == b"A,B\n1,2\n"
    assert kestra.executions.file_metadatas_from_execution(execution_id=execution.id, path_uri=uri, tenant="main").size == 8
    preview = kestra.executions.preview_file_from_execution(execution_id=execution.id, path_uri=uri, tenant="main")
    assert "A,B" in str(preview)


SLOW = """id: slow
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""


def test_a_running_execution_is_killed_then_restarted(kestra):
    import time

    kestra.flows.create_flow(tenant="main", body=SLOW)
    started = kestra.executions.create_execution(tenant="main", namespace="company.team", id="slow")
    for _ in range(100):
        if str(kestra.executions.execution(execution_id=started.id, tenant="main").state.current).endswith("RUNNING"):
            break
        time.sleep(0.1)
    kestra.executions.kill_execution(execution_id=started.id, tenant="main")
    for _ in range(100):
        state = str(kestra.executions.execution(execution_id=started.id, tenant="main").state.current)
        if state.endswith("KILLED"):
            break
        time.sleep(0.1)
    assert state.endswith("KILLED"), state
    restarted = kestra.executions.restart_execution(execution_id=started.id, tenant="main")
    assert restarted.id == started.id
    kestra.executions.kill_executions_by_ids(tenant="main", ids=[started.id])


def test_searches_take_kestras_filters_and_flows_move_as_zips(kestra):
    from kestrapy.models.label import Label

    team = "id: tagged\nnamespace: search.team\nlabels:\n  team: data\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    kestra.flows.create_flow(tenant="main", body=team)
    kestra.flows.create_flow(tenant="main", body=team.replace("tagged", "plain").replace("  team: data\n", "  team: ops\n"))
    found = kestra.flows.search_flows(tenant="main", filters=[{"field": "labels", "operation": "EQUALS", "value": {"team": "data"}}])
    assert [f.id for f in found.results] == ["tagged"]
    assert found.results[0].labels[0].key == "team"
    ran = [kestra.executions.create_execution(tenant="main", namespace="search.team", id=i, wait=True).id for i in ("tagged", "plain")]
    executions = kestra.executions.search_executions(
        tenant="main", filters=[{"field": "namespace", "operation": "PREFIX", "value": "search"}, {"field": "flowId", "operation": "EQUALS", "value": "plain"}]
    )
    assert [e["id"] for e in executions["results"]] == [ran[1]]
    latest = kestra.executions.latest_executions(tenant="main", filters=[{"namespace": "search.team", "id": "tagged"}])
    assert [e.id for e in latest] == [ran[0]]
    from kestrapy.models.execution_controller_set_labels_by_ids_request import ExecutionControllerSetLabelsByIdsRequest

    request = ExecutionControllerSetLabelsByIdsRequest(executionsId=ran, executionLabels=[Label(key="checked", value="yes")])
    assert kestra.executions.set_labels_on_terminated_executions_by_ids(tenant="main", request=request)["count"] == 2
    # Export the namespace as a zip, delete it, import it back.
    archive = kestra.flows.export_flows_by_query(tenant="main", filters=[{"field": "namespace", "operation": "EQUALS", "value": "search.team"}])
    assert archive[:4] == b"PK\x03\x04"
    assert kestra.flows.delete_flows_by_ids(tenant="main", ids=[{"namespace": "search.team", "id": "tagged"}, {"namespace": "search.team", "id": "plain"}]).count == 2
    assert kestra.flows.import_flows(tenant="main", file_content=archive) == []
    assert sorted(f.id for f in kestra.flows.list_flows_by_namespace(namespace="search.team", tenant="main")) == ["plain", "tagged"]
    kestra.flows.delete_flow(namespace="search.team", id="plain", tenant="main")
    assert [f.id for f in kestra.flows.list_flows_by_namespace(namespace="search.team", tenant="main")] == ["tagged"]


def test_an_api_token_works_as_a_bearer(mortar_url):
    import os

    from kestrapy import KestraClient

    client = KestraClient(host=mortar_url, token=os.environ["MORTAR_TEST_TOKEN"])
    assert client.flows.search_flows(tenant="main").total >= 0
    from kestrapy.exceptions import ApiException

    try:
        KestraClient(host=mortar_url, token="not-a-token").flows.search_flows(tenant="main")
        raise AssertionError("a wrong token must be refused")
    except ApiException as e:
        assert e.status == 401
