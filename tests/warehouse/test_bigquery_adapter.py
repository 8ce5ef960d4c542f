"""The BigQuery adapter against a mocked client: no network, only the calls it makes and their configs."""

from __future__ import annotations

import datetime as dt
import warnings
from unittest import mock

import pytest
import sqlglot
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from sqlglot import exp

from obt import clients
from obt.config import Settings
from obt.errors import TransientError
from obt.warehouse import bigquery as bq
from obt.warehouse.base import LoadState, MergeScope, ledger_columns, ledger_row
from obt.warehouse.bigquery import BigQueryWarehouse, query_parameters

BUILD = "obt-0123456789abcdef0123"
SETTINGS = Settings(env="gcp", project="proj", bq_location="EU")
OBT_SCHEMA = [
    ("customer_id", "INT64"),
    ("log_date", "DATE"),
    ("season", "STRING"),
    ("device", "STRING"),
    ("location", "STRING"),
    ("region", "STRING"),
    ("os", "STRING"),
    ("browser", "STRING"),
    ("review_count", "INT64"),
    ("review_score", "INT64"),
    ("amount_spent", "NUMERIC"),
    ("count_invoices", "INT64"),
    ("first_invoice_date", "DATE"),
    ("last_invoice_date", "DATE"),
    ("predicted_positive", "INT64"),
    ("sentiment_score", "FLOAT64"),
]


def done_job(**attrs):
    job = mock.Mock()
    job.result.return_value = []
    for name, value in attrs.items():
        setattr(job, name, value)
    return job


def failed_job(exc):
    job = mock.Mock()
    job.result.side_effect = exc
    return job


@pytest.fixture
def client():
    c = mock.Mock()
    c.query.return_value = done_job()
    return c


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def warehouse(client, sleeps):
    bq._ENSURED.clear()
    return BigQueryWarehouse(SETTINGS, client=client, sleep=sleeps.append)


def executed_sql(client) -> list[str]:
    return [c.args[0] for c in client.query.call_args_list]


def test_ensure_schema_creates_datasets_and_partitioned_clustered_obt(warehouse, client):
    warehouse.ensure_schema()
    datasets = {c.args[0].dataset_id: c.args[0] for c in client.create_dataset.call_args_list}
    assert set(datasets) == {"movie_analytics", "obt_staging", "obt_ops"}
    assert all(d.location == "EU" for d in datasets.values())
    assert datasets["obt_staging"].default_table_expiration_ms == 24 * 3600 * 1000
    assert all(c.kwargs["exists_ok"] for c in client.create_dataset.call_args_list)

    ddl = next(s for s in executed_sql(client) if "`proj.movie_analytics.obt`" in s)
    tree = sqlglot.parse_one(ddl, read="bigquery")
    assert isinstance(tree, exp.Create) and tree.args.get("exists")
    columns = [(c.name, c.args["kind"].sql("bigquery")) for c in tree.this.expressions]
    assert columns == OBT_SCHEMA + [("build_id", "STRING"), ("loaded_at", "TIMESTAMP")]
    partition = tree.find(exp.PartitionedByProperty)
    cluster = tree.find(exp.ClusterProperty)
    assert partition is not None and partition.this.sql("bigquery") == "log_date"
    assert cluster is not None and [e.sql("bigquery") for e in cluster.expressions] == ["customer_id"]
    assert any("`proj.obt_ops.load_ledger`" in s for s in executed_sql(client))
    assert any("`proj.obt_ops.dq_counts`" in s for s in executed_sql(client))


def test_ensure_schema_adds_the_later_columns_to_an_older_obt_after_creating_it(warehouse, client):
    warehouse.ensure_schema()
    statements = [tree for sql in executed_sql(client) for tree in sqlglot.parse(sql, read="bigquery")]
    create = next(i for i, t in enumerate(statements) if isinstance(t, exp.Create) and t.this.this.name == "obt")
    added = [
        (i, action.name, action.args["kind"].sql("bigquery"))
        for i, t in enumerate(statements)
        if isinstance(t, exp.Alter) and t.sql("bigquery").startswith("ALTER TABLE `proj.movie_analytics.obt` ADD")
        for action in t.args["actions"]
        if action.args.get("exists")
    ]
    assert [(name, kind) for _, name, kind in added] == OBT_SCHEMA[-2:]
    assert all(i > create for i, _, _ in added)


def test_ensure_schema_runs_once_per_process(warehouse, client):
    warehouse.ensure_schema()
    calls = client.query.call_count
    warehouse.ensure_schema()
    assert client.query.call_count == calls


def test_stage_runs_a_parquet_load_job_with_a_deterministic_id(warehouse, client):
    client.load_table_from_uri.return_value = done_job(output_rows=42, input_file_bytes=1234)
    uris = [f"gs://obt-curated/obt/build_id={BUILD}/part-0.parquet"]
    staged = warehouse.stage(BUILD, uris)
    assert (staged.rows, staged.bytes) == (42, 1234)
    call = client.load_table_from_uri.call_args
    assert call.args[0] == uris
    assert call.args[1] == "proj.obt_staging.obt_obt_0123456789abcdef0123"
    assert call.kwargs["job_id"] == f"obt_load_{BUILD}"
    assert call.kwargs["location"] == "EU"
    config = call.kwargs["job_config"]
    assert config.source_format == bigquery.SourceFormat.PARQUET
    assert config.write_disposition == bigquery.WriteDisposition.WRITE_TRUNCATE
    assert [(f.name, f.field_type) for f in config.schema] == OBT_SCHEMA
    # Partitioned like the OBT, so that a bounded MERGE reads only its partitions of the staged build too.
    assert (config.time_partitioning.field, config.time_partitioning.type_) == ("log_date", "DAY")


def test_stage_409_waits_on_the_existing_job(warehouse, client):
    client.load_table_from_uri.side_effect = gexc.Conflict("Already Exists: Job proj:EU.obt_load_x")
    client.get_job.return_value = done_job(output_rows=7, input_file_bytes=70)
    staged = warehouse.stage(BUILD, ["gs://obt-curated/x.parquet"])
    client.get_job.assert_called_once_with(f"obt_load_{BUILD}", location="EU")
    client.get_job.return_value.result.assert_called_once()
    assert staged.rows == 7
    assert client.load_table_from_uri.call_count == 1


def test_stage_409_on_a_failed_job_moves_to_the_next_id(warehouse, client):
    client.load_table_from_uri.side_effect = [gexc.Conflict("exists"), done_job(output_rows=3, input_file_bytes=1)]
    client.get_job.return_value = failed_job(gexc.BadRequest("schema mismatch"))
    assert warehouse.stage(BUILD, ["gs://obt-curated/x.parquet"]).rows == 3
    ids = [c.kwargs["job_id"] for c in client.load_table_from_uri.call_args_list]
    assert ids == [f"obt_load_{BUILD}", f"obt_load_{BUILD}_2"]


def test_stage_409_whose_staging_table_expired_loads_again(warehouse, client):
    client.load_table_from_uri.side_effect = [gexc.Conflict("exists"), done_job(output_rows=5, input_file_bytes=1)]
    client.get_job.return_value = done_job(output_rows=5, input_file_bytes=1)
    client.get_table.side_effect = gexc.NotFound("gone")
    assert warehouse.stage(BUILD, ["gs://obt-curated/x.parquet"]).rows == 5
    assert client.load_table_from_uri.call_args.kwargs["job_id"] == f"obt_load_{BUILD}_2"


def script_result(inserted=3, updated=2, deleted=1, times_loaded=0, last_watermark=7, last_build_id=None):
    """What the load script's last SELECT returns (counts NULL when the ledger refused the build)."""
    values = {
        "times_loaded": times_loaded,
        "last_watermark": last_watermark,
        "last_build_id": last_build_id,
        "inserted_rows": inserted,
        "updated_rows": updated,
        "deleted_rows": deleted,
        "merged_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if inserted is not None else None,
    }
    row = mock.Mock()
    row.items.return_value = list(values.items())
    return done_job(result=mock.Mock(return_value=[row]))


def loaded_row(watermark=9):
    return ledger_row(build_id=BUILD, outcome="loaded", reason="newest build", input_watermark=watermark)


def test_merge_and_ledger_row_are_one_transaction_script(warehouse, client):
    client.query.return_value = script_result()
    merged = warehouse.merge(BUILD, loaded_row())
    assert (merged.counts.inserted, merged.counts.updated, merged.counts.deleted) == (3, 2, 1)
    assert merged.ledger["rows_inserted"] == 3
    assert merged.ledger["finished_at"] == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    call = client.query.call_args
    assert call.kwargs["job_id"] == f"obt_merge_{BUILD}"
    assert call.kwargs["job_retry"] is None
    script = call.args[0]
    trees = sqlglot.parse(script, read="bigquery")
    kinds = [type(t).__name__ for t in trees if not isinstance(t, exp.Declare)]
    # IF … THEN and END IF are opaque to sqlglot (commands); the order around them is what matters.
    assert kinds[:3] == ["Transaction", "Update", "Set"]  # the load lock, then the ledger read
    assert kinds.index("Merge") < kinds.index("Insert") < kinds.index("Commit") < len(kinds) - 1
    assert kinds[-1] == "Select"
    assert script.index("BEGIN TRANSACTION") < script.index("IF loaded_before = 0") < script.index("MERGE `proj")
    assert "@input_watermark >= newest_watermark" in script
    merge = next(t for t in trees if isinstance(t, exp.Merge))
    assert merge.sql("bigquery") == sqlglot.parse_one(warehouse.sql("merge", BUILD), read="bigquery").sql("bigquery")
    insert = next(t for t in trees if isinstance(t, exp.Insert))
    assert insert.this.this.sql("bigquery") == "`proj.obt_ops.load_ledger`"
    values = dict(zip(ledger_columns(), (v.sql("bigquery") for v in insert.expression.expressions[0]), strict=True))
    assert values["rows_inserted"] == "inserted_rows" and values["finished_at"] == "merged_at"
    assert values["merge_seconds"] == "NULL" and values["reason"] == "@reason"
    params = {p.name: (p.type_, p.value) for p in call.kwargs["job_config"].query_parameters}
    assert params["build_id"] == ("STRING", BUILD)
    assert params["input_watermark"] == ("INT64", 9)
    assert params["stage_seconds"] == ("FLOAT64", None)
    assert not {"rows_inserted", "finished_at", "merge_seconds"} & params.keys()


def test_merge_refused_by_the_ledger_changes_nothing(warehouse, client):
    client.query.return_value = script_result(inserted=None, updated=None, deleted=None, last_watermark=20)
    merged = warehouse.merge(BUILD, loaded_row(watermark=9))
    assert merged.counts is None and merged.ledger is None
    assert merged.state.refusal(9) == "older than the last loaded build (input_watermark 9 < 20)"


def test_the_fault_hook_runs_before_the_script(warehouse, client):
    def crash():
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        warehouse.merge(BUILD, loaded_row(), before_ledger=crash)
    client.query.assert_not_called()


def test_merge_retries_concurrent_update_with_backoff(warehouse, client, sleeps):
    error = gexc.BadRequest("Transaction is aborted due to concurrent update against table proj:movie_analytics.obt")
    client.query.side_effect = [failed_job(error), failed_job(error), script_result(updated=4)]
    assert warehouse.merge(BUILD, loaded_row()).counts.updated == 4
    ids = [c.kwargs["job_id"] for c in client.query.call_args_list]
    assert ids == [f"obt_merge_{BUILD}", f"obt_merge_{BUILD}_2", f"obt_merge_{BUILD}_3"]
    assert len(sleeps) == 2 and sleeps[1] > 0


def test_merge_gives_up_after_the_retry_budget(client, sleeps):
    error = gexc.BadRequest("Transaction is aborted due to concurrent update against table")
    client.query.side_effect = lambda *a, **k: failed_job(error)
    wh = BigQueryWarehouse(SETTINGS, client=client, sleep=sleeps.append, max_retries=2)
    with pytest.raises(gexc.BadRequest):
        wh.merge(BUILD, loaded_row())
    assert len(sleeps) == 2


def test_merge_409_reports_the_committed_load(warehouse, client):
    client.query.side_effect = gexc.Conflict("exists")
    client.get_job.return_value = script_result(inserted=9, updated=0, deleted=0)
    assert warehouse.merge(BUILD, loaded_row()).counts.inserted == 9
    client.get_job.assert_called_once_with(f"obt_merge_{BUILD}", location="EU")


def test_transient_job_error_becomes_transient(warehouse, client):
    client.query.return_value = failed_job(gexc.ServiceUnavailable("backend error"))
    with pytest.raises(TransientError):
        warehouse.merge(BUILD, loaded_row())


def test_a_real_client_takes_the_job_id_without_a_future_warning(monkeypatch):
    """google-cloud-bigquery warns (and will raise) when a job id comes without ``job_retry=None``."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.bigquery import _job_helpers

    real = bigquery.Client(project="proj", location="EU", credentials=AnonymousCredentials())
    monkeypatch.setattr(_job_helpers, "query_jobs_insert", lambda *a, **k: script_result())
    with pytest.warns(FutureWarning, match="job_retry"):  # the control: the library does warn without it
        real.query("SELECT 1", job_id="any")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert BigQueryWarehouse(SETTINGS, client=real).merge(BUILD, loaded_row()).counts.inserted == 3


def test_client_uses_the_emulator_with_anonymous_credentials(monkeypatch):
    from google.auth.credentials import AnonymousCredentials

    made = []
    monkeypatch.setattr(bigquery, "Client", lambda **kwargs: made.append(kwargs))
    clients.bigquery_client.cache_clear()
    try:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "localhost:9050")
        clients.bigquery_client("proj", "EU")
        clients.bigquery_client.cache_clear()
        monkeypatch.delenv("BIGQUERY_EMULATOR_HOST")
        clients.bigquery_client("proj", "EU")
    finally:
        clients.bigquery_client.cache_clear()
    emulated, real = made
    assert isinstance(emulated["credentials"], AnonymousCredentials)
    assert emulated["client_options"].api_endpoint == "http://localhost:9050"
    assert (emulated["project"], emulated["location"]) == ("proj", "EU")
    assert real == {"project": "proj", "location": "EU"}


def test_ledger_row_parameters_are_typed_even_when_null(warehouse, client):
    row = {name: None for name, _ in bq.ddl_columns("load_ledger")}
    row.update(build_id=BUILD, outcome="skipped", started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    warehouse.record_load(row)
    params = {p.name: p.type_ for p in client.query.call_args.kwargs["job_config"].query_parameters}
    assert params["rows_inserted"] == "INT64"
    assert params["stage_seconds"] == "FLOAT64"
    assert params["started_at"] == "TIMESTAMP"
    assert params["reason"] == "STRING"
    assert "`proj.obt_ops.load_ledger`" in client.query.call_args.args[0]


def test_struct_array_parameters_for_dq_counts():
    rows = [
        {"source": "a", "measure": "read", "reason": None, "row_count": 1},
        {"source": "a", "measure": "quarantined", "reason": "bad", "row_count": 2},
    ]
    (param,) = query_parameters({"rows": rows})
    assert isinstance(param, bigquery.ArrayQueryParameter) and param.array_type == "STRUCT"
    api = param.to_api_repr()
    fields = {f["name"]: f["type"]["type"] for f in api["parameterType"]["arrayType"]["structTypes"]}
    assert fields == {"source": "STRING", "measure": "STRING", "reason": "STRING", "row_count": "INT64"}


def test_load_state_reads_the_ledger(warehouse, client):
    row = mock.Mock()
    row.items.return_value = [("times_loaded", 1), ("last_watermark", 99)]
    client.query.return_value = done_job()
    client.query.return_value.result.return_value = [row]
    state = warehouse.load_state(BUILD)
    assert (state.times_loaded, state.last_watermark) == (1, 99)
    assert "COUNTIF" in client.query.call_args.args[0]


def test_merge_sql_covers_every_column_of_the_obt():
    tree = sqlglot.parse_one(BigQueryWarehouse(SETTINGS, client=mock.Mock()).sql("merge", BUILD), read="bigquery")
    update, insert, _ = (w.args["then"] for w in tree.args["whens"].expressions)
    key = {"customer_id", "log_date", "device", "location", "os", "browser"}
    values = {name for name, _ in OBT_SCHEMA} - key
    assert {e.this.name for e in update.expressions} == values | {"build_id", "loaded_at"}
    assert [c.name for c in insert.this.expressions] == [name for name, _ in OBT_SCHEMA] + ["build_id", "loaded_at"]
    compared = {c.name for c in tree.args["whens"].expressions[0].args["condition"].find_all(exp.Column)}
    assert compared == values


BASE = "obt-" + "b" * 20
SCOPE = MergeScope((dt.date(2021, 1, 3), dt.date(2021, 1, 1)), BASE)
DATES = ["2021-01-01", "2021-01-03"]


def date_literals(node: exp.Expression) -> list[str]:
    """The values of an ``IN (DATE '…', …)`` list, each checked to be a literal (no parameter, no column)."""
    values = []
    for item in node.expressions:
        assert isinstance(item, exp.Cast) and item.to.this == exp.DataType.Type.DATE, item.sql("bigquery")
        assert isinstance(item.this, exp.Literal) and item.this.is_string, item.sql("bigquery")
        values.append(item.this.this)
    return values


def partition_filter(node: exp.Expression | None) -> tuple[str, list[str]]:
    """``(column, dates)`` of the one ``IN`` filter in ``node``."""
    assert node is not None
    (found,) = list(node.find_all(exp.In))
    return found.this.sql("bigquery"), date_literals(found)


def test_a_bounded_merge_filters_source_target_and_deletes_with_literal_dates(warehouse, client):
    client.query.return_value = script_result(inserted=4, updated=1, deleted=0, last_build_id=BASE)
    merged = warehouse.merge(BUILD, loaded_row(), scope=SCOPE)
    assert merged.ledger["partitions"] == '["2021-01-01", "2021-01-03"]'
    call = client.query.call_args
    assert call.kwargs["job_id"] == f"obt_merge_{BUILD}_{SCOPE.key()}"
    script = call.args[0]
    merge = next(t for t in sqlglot.parse(script, read="bigquery") if isinstance(t, exp.Merge))
    source = merge.args["using"]
    assert isinstance(source, exp.Subquery) and source.find(exp.Table).sql("bigquery") == (
        "`proj.obt_staging.obt_obt_0123456789abcdef0123`"
    )
    assert partition_filter(source.this.args["where"]) == ("log_date", DATES)
    on = merge.args["on"]
    assert isinstance(on, exp.And) and partition_filter(on.find(exp.In).parent) == ("t.log_date", DATES)
    by_source = next(w for w in merge.args["whens"].expressions if w.args.get("source"))
    assert by_source.sql("bigquery").endswith("THEN DELETE")
    assert partition_filter(by_source.args["condition"]) == ("t.log_date", DATES)
    # The counts around the MERGE read its partitions only: every read of the OBT is filtered.
    literal = "t.log_date IN (DATE '2021-01-01', DATE '2021-01-03')"
    reads = script.split("`proj.movie_analytics.obt`")[1:]
    assert len(reads) == 3  # the two counts and the MERGE's target
    assert all(read.lstrip().startswith(f"AS t WHERE {literal}") for read in reads[::2])
    assert reads[1].lstrip().startswith("AS t\nUSING")
    assert "IF TRUE THEN" in script
    params = {p.name: (p.type_, p.value) for p in call.kwargs["job_config"].query_parameters}
    assert params["base_build_id"] == ("STRING", BASE)
    assert params["partitions"] == ("STRING", '["2021-01-01", "2021-01-03"]')
    assert "@base_build_id IS NULL OR newest_build = @base_build_id" in script


def test_a_full_merge_checks_no_base_and_keeps_its_job_id(warehouse, client):
    client.query.return_value = script_result()
    merged = warehouse.merge(BUILD, loaded_row())
    assert merged.ledger["partitions"] is None
    call = client.query.call_args
    assert call.kwargs["job_id"] == f"obt_merge_{BUILD}"
    params = {p.name: (p.type_, p.value) for p in call.kwargs["job_config"].query_parameters}
    assert params["base_build_id"] == ("STRING", None) and params["partitions"] == ("STRING", None)
    assert "WHERE TRUE" in call.args[0] and "IF TRUE THEN" in call.args[0]


def test_an_empty_scope_runs_no_merge(warehouse, client):
    client.query.return_value = script_result(inserted=0, updated=0, deleted=0, last_build_id=BASE)
    merged = warehouse.merge(BUILD, loaded_row(), scope=MergeScope((), BASE))
    assert merged.ledger["partitions"] == "[]"
    script = client.query.call_args.args[0]
    assert "IF FALSE THEN" in script and "SET (inserted_rows, updated_rows, deleted_rows) = (0, 0, 0)" in script
    assert script.index("IF FALSE THEN") < script.index("MERGE `proj") < script.index("END IF")


def test_a_script_that_found_the_base_moved_changes_nothing(warehouse, client):
    moved = "obt-" + "c" * 20
    client.query.return_value = script_result(inserted=None, updated=None, deleted=None, last_build_id=moved)
    merged = warehouse.merge(BUILD, loaded_row(), scope=SCOPE)
    assert merged.counts is None and merged.ledger is None
    assert merged.state == LoadState(0, 7, moved) and SCOPE.stale(merged.state)


def test_ensure_schema_adds_the_later_columns_to_an_older_ledger_after_creating_it(warehouse, client):
    warehouse.ensure_schema()
    statements = [tree for sql in executed_sql(client) for tree in sqlglot.parse(sql, read="bigquery")]
    create = next(
        i for i, t in enumerate(statements) if isinstance(t, exp.Create) and t.this.this.name == "load_ledger"
    )
    added = [
        (i, action.name, action.args["kind"].sql("bigquery"))
        for i, t in enumerate(statements)
        if isinstance(t, exp.Alter) and t.this.name == "load_ledger"
        for action in t.args["actions"]
        if action.args.get("exists")
    ]
    assert [(name, kind) for _, name, kind in added] == [("partitions", "STRING")]
    assert all(i > create for i, _, _ in added)


def test_load_state_names_the_last_loaded_build_and_its_manifest(warehouse, client):
    row = mock.Mock()
    row.items.return_value = [
        ("times_loaded", 0),
        ("last_watermark", 99),
        ("last_build_id", BASE),
        ("last_manifest_uri", "gs://c/m.json"),
    ]
    client.query.return_value = done_job()
    client.query.return_value.result.return_value = [row]
    assert warehouse.load_state(BUILD) == LoadState(0, 99, BASE, "gs://c/m.json")
    assert "MAX_BY(build_id, finished_at)" in client.query.call_args.args[0]


def test_an_empty_build_stages_a_table_partitioned_like_the_obt(warehouse, client):
    assert warehouse.stage(BUILD, []).rows == 0
    (create,) = sqlglot.parse(client.query.call_args.args[0], read="bigquery")
    assert create.this.sql("bigquery") == "`proj.obt_staging.obt_obt_0123456789abcdef0123`"
    assert create.find(exp.PartitionedByProperty).this.sql("bigquery") == "log_date"


@pytest.mark.parametrize("scope", [None, SCOPE, MergeScope((), BASE)], ids=["full", "bounded", "no change"])
def test_every_load_script_takes_the_load_lock_first_in_its_transaction(warehouse, client, scope):
    """Any two loads conflict, even one that runs no MERGE (sql/load_lock.sql; test_load_lock)."""
    client.query.return_value = script_result(last_build_id=BASE)
    warehouse.merge(BUILD, loaded_row(), **({"scope": scope} if scope else {}))
    statements = sqlglot.parse(client.query.call_args.args[0], read="bigquery")
    begin = next(i for i, t in enumerate(statements) if isinstance(t, exp.Transaction))
    lock = statements[begin + 1]
    assert isinstance(lock, exp.Update) and lock.this.sql("bigquery") == "`proj.obt_ops.load_lock`"
    assert lock.find(exp.Parameter).sql("bigquery") == "@build_id"
    params = {p.name: p.value for p in client.query.call_args.kwargs["job_config"].query_parameters}
    assert params["build_id"] == BUILD


def test_ensure_schema_creates_the_lock_before_its_row(warehouse, client):
    warehouse.ensure_schema()
    sql = [s for s in executed_sql(client) if "load_lock" in s]
    assert len(sql) == 2 and "CREATE TABLE IF NOT EXISTS `proj.obt_ops.load_lock`" in sql[0]
    assert "INSERT INTO `proj.obt_ops.load_lock`" in sql[1] and "WHERE NOT EXISTS" in sql[1]
