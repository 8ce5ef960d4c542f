"""The OBT's columns are defined once, in ``obt_contract.schema``: the DDL and the MERGE cannot drift from it."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from obt.warehouse.base import ddl_columns, sql_text
from obt_contract import schema


def _ddl() -> exp.Create:
    return sqlglot.parse_one(sql_text("obt").format(obt="t"), read="bigquery")


def test_obt_sql_declares_the_contract_columns_in_order():
    assert ddl_columns("obt") == tuple((c.name, c.bigquery_type) for c in schema.TABLE_COLUMNS)


def test_obt_sql_partitions_and_clusters_as_the_contract_says():
    properties = _ddl().args["properties"].expressions
    partition = next(p for p in properties if isinstance(p, exp.PartitionedByProperty))
    cluster = next(p for p in properties if isinstance(p, exp.ClusterProperty))
    assert partition.this.sql(dialect="bigquery") == schema.PARTITION_COLUMN
    assert tuple(e.sql(dialect="bigquery") for e in cluster.expressions) == schema.CLUSTER_COLUMNS


def test_merge_matches_on_the_key_and_updates_every_other_data_column():
    merge = sql_text("merge")
    on = merge.split("\nON ", 1)[1].split("WHEN MATCHED", 1)[0]
    assert tuple(re.findall(r"t\.(\w+) IS NOT DISTINCT FROM s\.\1", on)) == schema.KEY
    updated = merge.split("UPDATE SET", 1)[1].split("WHEN NOT MATCHED", 1)[0]
    others = tuple(c.name for c in schema.DATA_COLUMNS if c.name not in schema.KEY)
    assert tuple(re.findall(r"(\w+) = s\.\1", updated)) == others
    inserted = merge.split("INSERT (", 1)[1].split(")", 1)[0]
    assert tuple(n.strip() for n in inserted.split(",")) == tuple(c.name for c in schema.TABLE_COLUMNS)


def test_the_added_columns_are_the_last_data_columns_and_an_older_obt_gets_them_with_the_contract_types():
    names = tuple(c.name for c in schema.DATA_COLUMNS)
    assert names[-len(schema.ADDED_COLUMNS) :] == schema.ADDED_COLUMNS
    added = [
        (action.name, action.args["kind"].sql(dialect="bigquery"), action.args.get("exists"), alter.this.name)
        for alter in sqlglot.parse(sql_text("obt_add_columns").format(obt="t"), read="bigquery")
        for action in alter.args["actions"]
    ]
    types = {c.name: c.bigquery_type for c in schema.DATA_COLUMNS}
    assert added == [(name, types[name], True, "t") for name in schema.ADDED_COLUMNS]


def test_a_drifted_ddl_is_caught():
    """The comparison above is not vacuous: a column renamed in the DDL no longer matches the contract."""
    drifted = sql_text("obt").replace("review_score INT64", "review_points INT64").format(obt="t")
    tree = sqlglot.parse_one(drifted, read="bigquery")
    columns = tuple(
        (c.name, c.args["kind"].sql(dialect="bigquery")) for c in tree.this.expressions if isinstance(c, exp.ColumnDef)
    )
    assert columns != tuple((c.name, c.bigquery_type) for c in schema.TABLE_COLUMNS)
