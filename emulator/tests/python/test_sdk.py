"""The official Databricks SDK against the emulator."""

import io
import os
import random
from datetime import timedelta

import pytest
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.errors import InvalidParameterValue, NotFound, OperationFailed, ResourceAlreadyExists
from databricks.sdk.service import compute, jobs, sql, workspace

TIMEOUT = timedelta(minutes=2)
NOTEBOOK = "/Shared/mortar-examples/aggregate"


def test_clusters_create_and_wait_then_delete_and_wait(w: WorkspaceClient):
    version = w.clusters.select_spark_version(latest=True, long_term_support=True)
    node = w.clusters.select_node_type(local_disk=True)
    cluster = w.clusters.create_and_wait(
        cluster_name="pytest", spark_version=version, node_type_id=node, num_workers=1, timeout=TIMEOUT
    )
    assert cluster.state == compute.State.RUNNING
    assert cluster.cluster_id
    assert any(c.cluster_id == cluster.cluster_id for c in w.clusters.list())
    w.clusters.resize(cluster_id=cluster.cluster_id, num_workers=3).result(timeout=TIMEOUT)
    assert w.clusters.get(cluster.cluster_id).num_workers == 3
    w.clusters.ensure_cluster_is_running(cluster.cluster_id)
    done = w.clusters.delete_and_wait(cluster_id=cluster.cluster_id, timeout=TIMEOUT)
    assert done.state == compute.State.TERMINATED
    assert done.termination_reason.code == compute.TerminationReasonCode.USER_REQUEST
    started = w.clusters.start(cluster.cluster_id).result(timeout=TIMEOUT)
    assert started.state == compute.State.RUNNING
    events = list(w.clusters.events(cluster_id=cluster.cluster_id, limit=2))
    assert len(events) >= 4, "the SDK follows next_page"
    w.clusters.permanent_delete(cluster.cluster_id)


def test_a_cluster_that_fails_to_start_raises_operation_failed(w: WorkspaceClient):
    with pytest.raises(OperationFailed, match="failed to reach RUNNING"):
        w.clusters.create_and_wait(
            cluster_name="doomed",
            spark_version="16.4.x-scala2.12",
            num_workers=0,
            custom_tags={"emulator.fail_start": "CLOUD_PROVIDER_LAUNCH_FAILURE"},
            timeout=TIMEOUT,
        )


def test_dbfs_upload_and_download_of_several_mib(w: WorkspaceClient):
    data = random.Random(7).randbytes(5 * 1024 * 1024 + 333)
    w.dbfs.upload("/pytest/big.bin", io.BytesIO(data), overwrite=True)
    assert w.dbfs.get_status("/pytest/big.bin").file_size == len(data)
    with w.dbfs.download("/pytest/big.bin") as f:
        assert f.read() == data
    assert w.dbfs.exists("/pytest/big.bin")
    assert not w.dbfs.exists("/pytest/none.bin")
    with pytest.raises(ResourceAlreadyExists):
        w.dbfs.put("/pytest/big.bin", contents="aGk=", overwrite=False)
    w.dbfs.delete("/pytest", recursive=True)
    with pytest.raises(NotFound):
        w.dbfs.get_status("/pytest/big.bin")


def test_files_api_upload_and_download_on_a_volume(w: WorkspaceClient):
    data = random.Random(3).randbytes(3 * 1024 * 1024 + 17)
    path = "/Volumes/main/default/files/pytest/data.bin"
    w.files.upload(path, io.BytesIO(data), overwrite=True)
    meta = w.files.get_metadata(path)
    assert meta.content_length == len(data)
    assert w.files.download(path).contents.read() == data
    entries = list(w.files.list_directory_contents("/Volumes/main/default/files/pytest"))
    assert [e.name for e in entries] == ["data.bin"]
    w.files.delete(path)
    with pytest.raises(NotFound):
        w.files.get_metadata(path)


def test_a_statement_with_several_chunks(w: WorkspaceClient, warehouse_id: str):
    statement = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) "
        "SELECT i, 'row ' || i AS label FROM n"
    )
    resp = w.statement_execution.execute_statement(warehouse_id=warehouse_id, statement=statement, wait_timeout="30s")
    assert resp.status.state == sql.StatementState.SUCCEEDED
    assert resp.manifest.total_row_count == 12000
    assert resp.manifest.total_chunk_count >= 3
    rows = list(resp.result.data_array)
    index = resp.result.next_chunk_index
    while index is not None:
        chunk = w.statement_execution.get_statement_result_chunk_n(resp.statement_id, index)
        rows.extend(chunk.data_array)
        index = chunk.next_chunk_index
    assert len(rows) == 12000
    assert rows[-1] == ["12000", "row 12000"]


def test_statements_read_uploaded_csv_and_take_parameters(w: WorkspaceClient, warehouse_id: str):
    w.dbfs.upload("/pytest-sql/sales.csv", io.BytesIO(b"region,amount\neu,10\nus,5\neu,2.5\n"), overwrite=True)
    resp = w.statement_execution.execute_statement(
        warehouse_id=warehouse_id,
        statement="SELECT region, SUM(CAST(amount AS DOUBLE)) AS total FROM read_files('dbfs:/pytest-sql/sales.csv', format => 'csv', header => true) WHERE region = :r GROUP BY region",
        parameters=[sql.StatementParameterListItem(name="r", value="eu")],
        wait_timeout="10s",
    )
    assert resp.result.data_array == [["eu", "12.5"]]
    assert [c.name for c in resp.manifest.schema.columns] == ["region", "total"]
    failed = w.statement_execution.execute_statement(warehouse_id=warehouse_id, statement="SELECT * FROM nope", wait_timeout="10s")
    assert failed.status.state == sql.StatementState.FAILED
    assert failed.status.error.message.startswith("[TABLE_OR_VIEW_NOT_FOUND]")


def test_warehouses_start_and_stop(w: WorkspaceClient, warehouse_id: str):
    created = w.warehouses.create_and_wait(name="pytest", cluster_size="2X-Small", max_num_clusters=1, timeout=TIMEOUT)
    assert created.state == sql.State.RUNNING
    w.warehouses.stop_and_wait(created.id, timeout=TIMEOUT)
    assert w.warehouses.start_and_wait(created.id, timeout=TIMEOUT).state == sql.State.RUNNING
    w.warehouses.delete(created.id)
    assert any(x.id == warehouse_id for x in w.warehouses.list())


def test_jobs_submit_result_and_get_run_output(w: WorkspaceClient):
    run = w.jobs.submit(
        run_name="pytest submit",
        tasks=[
            jobs.SubmitTask(
                task_key="agg",
                notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK, base_parameters={"day": "mon"}),
                new_cluster=compute.ClusterSpec(spark_version="16.4.x-scala2.12", num_workers=1, node_type_id="i3.xlarge"),
            ),
            jobs.SubmitTask(
                task_key="next",
                depends_on=[jobs.TaskDependency(task_key="agg")],
                notebook_task=jobs.NotebookTask(notebook_path="/Shared/mortar-examples/transform"),
            ),
        ],
    ).result(timeout=TIMEOUT)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    agg = next(t for t in run.tasks if t.task_key == "agg")
    out = w.jobs.get_run_output(agg.run_id)
    assert out.notebook_output.result == '{"day":"mon"}'


def test_a_failed_task_raises_operation_failed(w: WorkspaceClient):
    with pytest.raises(OperationFailed, match="Task bad failed with message"):
        w.jobs.submit(
            run_name="pytest failure",
            tasks=[jobs.SubmitTask(task_key="bad", notebook_task=jobs.NotebookTask(notebook_path="/Users/nobody/missing"))],
        ).result(timeout=TIMEOUT)


def test_run_now_with_parameters_and_list(w: WorkspaceClient):
    job = w.jobs.create(
        name="pytest job",
        tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK))],
        parameters=[jobs.JobParameterDefinition(name="env", default="dev")],
    )
    run = w.jobs.run_now(job_id=job.job_id, job_parameters={"env": "prod"}).result(timeout=TIMEOUT)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    out = w.jobs.get_run_output(run.tasks[0].run_id)
    assert out.notebook_output.result == '{"env":"prod"}'
    assert any(j.job_id == job.job_id for j in w.jobs.list(name="pytest job"))
    assert any(r.run_id == run.run_id for r in w.jobs.list_runs(job_id=job.job_id))
    fetched = w.jobs.get_run(run.run_id)
    assert fetched.run_page_url
    w.jobs.delete(job.job_id)


def test_repair_and_cancel(w: WorkspaceClient):
    job = w.jobs.create(
        name="pytest repair",
        tasks=[
            jobs.Task(
                task_key="flaky",
                notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK, base_parameters={"emulator_fail": "boom"}),
            )
        ],
    )
    waiter = w.jobs.run_now(job_id=job.job_id)
    with pytest.raises(OperationFailed):
        waiter.result(timeout=TIMEOUT)
    repaired = w.jobs.repair_run(
        run_id=waiter.run_id, rerun_all_failed_tasks=True, notebook_params={"emulator_fail": ""}
    ).result(timeout=TIMEOUT)
    assert repaired.state.result_state == jobs.RunResultState.SUCCESS
    slow = w.jobs.submit(
        run_name="slow",
        tasks=[
            jobs.SubmitTask(
                task_key="s",
                notebook_task=jobs.NotebookTask(notebook_path=NOTEBOOK, base_parameters={"emulator_sleep": "100000"}),
            )
        ],
    )
    cancelled = w.jobs.cancel_run(slow.run_id).result(timeout=TIMEOUT)
    assert cancelled.state.result_state == jobs.RunResultState.CANCELED


def test_workspace_import_and_status(w: WorkspaceClient):
    w.workspace.mkdirs("/Users/pytest")
    w.workspace.upload(
        "/Users/pytest/nb", io.BytesIO(b"dbutils.notebook.exit('ok')"), format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON, overwrite=True,
    )
    assert w.workspace.get_status("/Users/pytest/nb").object_type == workspace.ObjectType.NOTEBOOK


def test_error_classes(w: WorkspaceClient, warehouse_id: str):
    with pytest.raises(NotFound):
        w.clusters.get("0000-000000-nothere")
    with pytest.raises(NotFound):
        w.jobs.get(job_id=424242)
    with pytest.raises(NotFound):
        w.jobs.get_run(run_id=424242)
    with pytest.raises(InvalidParameterValue):
        w.statement_execution.execute_statement(warehouse_id=warehouse_id, statement="SELECT 1", wait_timeout="3s")
    with pytest.raises(InvalidParameterValue):
        w.jobs.create(name="bad", tasks=[jobs.Task(task_key="a")])


def test_oauth_m2m(url: str):
    cfg = Config(
        host=url,
        client_id=os.environ["EMULATOR_CLIENT_ID"],
        client_secret=os.environ["EMULATOR_CLIENT_SECRET"],
        auth_type="oauth-m2m",
        retry_timeout_seconds=5,
        http_timeout_seconds=10,
    )
    m2m = WorkspaceClient(config=cfg)
    assert m2m.current_user.me().user_name == os.environ["EMULATOR_CLIENT_ID"]
    assert m2m.get_workspace_id() == 1234567890123456
    assert any(True for _ in m2m.warehouses.list())


def test_retries_on_429_with_retry_after(w: WorkspaceClient, url: str, token: str):
    rules = [{"path": "/api/2.0/sql/warehouses", "method": "GET", "rate": 0.5, "status": 429, "retryAfterSeconds": 0}]
    r = requests.put(f"{url}/emulator/faults", json=rules, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    r.raise_for_status()
    try:
        for _ in range(5):
            assert list(w.warehouses.list())
    finally:
        requests.delete(f"{url}/emulator/faults", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_listing_and_moving(w: WorkspaceClient):
    w.dbfs.mkdirs("/pytest-ls/a")
    w.dbfs.upload("/pytest-ls/a/f.txt", io.BytesIO(b"hello"), overwrite=True)
    w.dbfs.move_("/pytest-ls/a/f.txt", "/pytest-ls/g.txt")
    names = sorted(f.path for f in w.dbfs.list("/pytest-ls"))
    assert names == ["/pytest-ls/a", "/pytest-ls/g.txt"]
    assert w.dbfs.read("/pytest-ls/g.txt").bytes_read == 5
    assert w.clusters.list_zones().zones
    assert any("LTS" in v.name for v in w.clusters.spark_versions().versions)
    assert list(w.jobs.list_runs(expand_tasks=True, limit=5)) is not None
    nb = w.workspace.get_status("/Shared/mortar-examples/transform")
    assert nb.language == workspace.Language.PYTHON
    assert len(list(w.workspace.list("/Shared/mortar-examples"))) == 2


def test_command_execution_runs_sql_on_a_running_cluster(w: WorkspaceClient):
    """Command Execution API 1.2: a SQL context on an all-purpose cluster,
    a typed table result, Spark's error result, and the refusal of a
    context on a terminated cluster."""
    version = w.clusters.select_spark_version(latest=True, long_term_support=True)
    node = w.clusters.select_node_type(local_disk=True)
    cluster = w.clusters.create_and_wait(
        cluster_name="commands", spark_version=version, node_type_id=node, num_workers=1, timeout=TIMEOUT
    )
    context = w.command_execution.create_and_wait(
        cluster_id=cluster.cluster_id, language=compute.Language.SQL, timeout=TIMEOUT
    )
    assert context.status == compute.ContextStatus.RUNNING
    done = w.command_execution.execute_and_wait(
        cluster_id=cluster.cluster_id,
        context_id=context.id,
        language=compute.Language.SQL,
        command="SELECT pickup_zip, fare_amount FROM samples.nyctaxi.trips ORDER BY fare_amount DESC LIMIT 2",
        timeout=TIMEOUT,
    )
    assert done.status == compute.CommandStatus.FINISHED
    assert done.results.result_type == compute.ResultType.TABLE
    assert [c["name"] for c in done.results.schema] == ["pickup_zip", "fare_amount"]
    assert done.results.data == [[11371, 31.0], [10001, 20.5]]
    failed = w.command_execution.execute_and_wait(
        cluster_id=cluster.cluster_id,
        context_id=context.id,
        language=compute.Language.SQL,
        command="SELECT * FROM no_such_table",
        timeout=TIMEOUT,
    )
    assert failed.results.result_type == compute.ResultType.ERROR
    assert "no_such_table" in failed.results.summary
    w.command_execution.destroy(cluster_id=cluster.cluster_id, context_id=context.id)
    w.clusters.delete_and_wait(cluster_id=cluster.cluster_id, timeout=TIMEOUT)
    with pytest.raises(Exception, match="not running"):
        w.command_execution.create(cluster_id=cluster.cluster_id, language=compute.Language.SQL).result(
            timeout=TIMEOUT
        )
    w.clusters.permanent_delete(cluster.cluster_id)


def test_unity_catalog_catalogs_schemas_volumes_tables_and_grants(w: WorkspaceClient, warehouse_id: str):
    from databricks.sdk.errors import NotFound, ResourceConflict
    from databricks.sdk.service.catalog import PermissionsChange, Privilege, VolumeType

    created = w.catalogs.create(name="sdk_uc", comment="from the SDK", properties={"team": "data"})
    assert created.name == "sdk_uc" and created.comment == "from the SDK"
    assert "sdk_uc" in [c.name for c in w.catalogs.list()]
    # CATALOG_ALREADY_EXISTS, 409: the SDK's ResourceConflict.
    with pytest.raises(ResourceConflict):
        w.catalogs.create(name="sdk_uc")
    updated = w.catalogs.update(name="sdk_uc", comment="changed")
    assert updated.comment == "changed"

    schema = w.schemas.create(name="raw", catalog_name="sdk_uc")
    assert schema.full_name == "sdk_uc.raw"
    assert {s.name for s in w.schemas.list(catalog_name="sdk_uc")} >= {"default", "raw"}

    # A file can be written only into a volume that exists.
    with pytest.raises(NotFound):
        w.files.upload("/Volumes/sdk_uc/raw/landing/a.csv", io.BytesIO(b"x\n1\n"), overwrite=True)
    volume = w.volumes.create(catalog_name="sdk_uc", schema_name="raw", name="landing", volume_type=VolumeType.MANAGED)
    assert volume.full_name == "sdk_uc.raw.landing"
    w.files.upload("/Volumes/sdk_uc/raw/landing/a.csv", io.BytesIO(b"x\n1\n2\n"), overwrite=True)
    assert w.files.download("/Volumes/sdk_uc/raw/landing/a.csv").contents.read() == b"x\n1\n2\n"
    assert [v.name for v in w.volumes.list(catalog_name="sdk_uc", schema_name="raw")] == ["landing"]
    assert w.volumes.read("sdk_uc.raw.landing").volume_type == VolumeType.MANAGED

    # A table made by a statement is in the catalog, with its columns.
    done = w.statement_execution.execute_statement(
        warehouse_id=warehouse_id,
        statement="CREATE TABLE sdk_uc.raw.loaded AS SELECT * FROM read_files('/Volumes/sdk_uc/raw/landing/a.csv', format => 'csv', header => true)",
        wait_timeout="30s",
    )
    assert done.status.state.value == "SUCCEEDED", done.status
    tables = list(w.tables.list(catalog_name="sdk_uc", schema_name="raw"))
    assert [t.name for t in tables] == ["loaded"]
    assert [c.name for c in w.tables.get("sdk_uc.raw.loaded").columns] == ["x"]
    missing = w.statement_execution.execute_statement(
        warehouse_id=warehouse_id, statement="CREATE TABLE nowhere.at_all.t (x INT)", wait_timeout="30s"
    )
    assert missing.status.state.value == "FAILED" and "SCHEMA_NOT_FOUND" in missing.status.error.message

    granted = w.grants.update(
        securable_type="schema", full_name="sdk_uc.raw",
        changes=[PermissionsChange(principal="analysts", add=[Privilege.USE_SCHEMA, Privilege.SELECT])],
    )
    assert {(a.principal, tuple(sorted(p.value for p in a.privileges))) for a in granted.privilege_assignments} == {("analysts", ("SELECT", "USE_SCHEMA"))}
    w.grants.update(securable_type="schema", full_name="sdk_uc.raw", changes=[PermissionsChange(principal="analysts", remove=[Privilege.SELECT])])
    read = w.grants.get(securable_type="schema", full_name="sdk_uc.raw")
    assert [(a.principal, [p.value for p in a.privileges]) for a in read.privilege_assignments] == [("analysts", ["USE_SCHEMA"])]

    w.tables.delete("sdk_uc.raw.loaded")
    assert list(w.tables.list(catalog_name="sdk_uc", schema_name="raw")) == []
    w.volumes.delete("sdk_uc.raw.landing")
    with pytest.raises(NotFound):
        w.files.download("/Volumes/sdk_uc/raw/landing/a.csv")
    # A schema made again under a deleted one's name has none of its grants.
    w.schemas.delete("sdk_uc.raw")
    w.schemas.create(name="raw", catalog_name="sdk_uc")
    assert not w.grants.get(securable_type="schema", full_name="sdk_uc.raw").privilege_assignments
    w.catalogs.delete("sdk_uc", force=True)
    with pytest.raises(NotFound):
        w.catalogs.get("sdk_uc")


def test_genie_answers_from_its_rules_and_follow_ups_continue(w: WorkspaceClient):
    from databricks.sdk.service.dashboards import MessageStatus

    space = w.genie.get_space("01f0mortarsamplespace00")
    assert space.title == "Mortar sample data"
    answered = w.genie.start_conversation_and_wait("01f0mortarsamplespace00", "What was total revenue by region?")
    assert answered.status == MessageStatus.COMPLETED
    query = [a for a in answered.attachments if a.query][0]
    assert "GROUP BY region" in query.query.query
    texts = [a.text.content for a in answered.attachments if a.text]
    assert texts == ["Total revenue by region, from the sales data set."]
    result = w.genie.get_message_attachment_query_result(
        "01f0mortarsamplespace00", answered.conversation_id, answered.message_id, query.attachment_id
    ).statement_response
    assert [c.name for c in result.manifest.schema.columns] == ["region", "revenue"]
    assert result.result.data_array[0] == ["AMER", "312.25"]
    follow = w.genie.create_message_and_wait("01f0mortarsamplespace00", answered.conversation_id, "Now by month")
    assert follow.conversation_id == answered.conversation_id
    assert "month" in [a for a in follow.attachments if a.query][0].query.query
    unknown = w.genie.start_conversation_and_wait("01f0mortarsamplespace00", "Who are you?")
    assert unknown.attachments[0].text.content.startswith("I can answer questions about")
    with pytest.raises(NotFound):
        w.genie.start_conversation("nope", "x")


def test_lakebase_endpoint_and_credential_sign_in_to_postgres(url: str):
    import subprocess

    from databricks.sdk.service.postgres import Endpoint

    client_id, secret = os.environ["EMULATOR_CLIENT_ID"], os.environ["EMULATOR_CLIENT_SECRET"]
    sp = WorkspaceClient(config=Config(host=url, client_id=client_id, client_secret=secret, auth_type="oauth-m2m"))
    name = "projects/mortar/branches/production/endpoints/primary"
    endpoint: Endpoint = sp.postgres.get_endpoint(name)
    assert endpoint.status.hosts.host == "127.0.0.1"
    credential = sp.postgres.generate_database_credential(endpoint=name)
    assert credential.token
    # The client id signs in to the server with the token.
    server = os.environ["EMULATOR_LAKEBASE"].split("@", 1)[1].split("/", 1)[0]
    host, port = server.split(":")
    who = subprocess.run(
        ["psql", "-h", host, "-p", port, "-U", client_id, "-d", "postgres", "-Atc", "SELECT current_user"],
        env={**os.environ, "PGPASSWORD": credential.token}, capture_output=True, text=True,
    )
    assert who.stdout.strip() == client_id, who.stderr
    with pytest.raises(NotFound):
        sp.postgres.get_endpoint("projects/mortar/branches/production/endpoints/other")
