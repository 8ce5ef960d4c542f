"""BigQuery SQL -> DuckDB SQL, with the corrections sqlglot does not make on its own.

sqlglot translates most of BigQuery's dialect, but silently changes meaning in a few places
(``shared/docs/local-stack.md``); each correction below restores BigQuery's semantics:

- ``NUMERIC`` becomes DuckDB's default ``DECIMAL(18,3)``: BigQuery NUMERIC is ``DECIMAL(38,9)``
  (``BIGNUMERIC`` is kept at the widest DuckDB decimal, ``DECIMAL(38,9)`` too: DuckDB has no wider type).
- ``TIMESTAMP`` is an absolute instant in BigQuery: it stays ``TIMESTAMPTZ``, and the DuckDB adapter pins
  the session time zone to UTC so values read back as UTC, as in BigQuery.
- ``DATE_TRUNC`` on a DATE returns a DATE in BigQuery but a TIMESTAMP in DuckDB: cast back to DATE.
- ``project.dataset.table``: DuckDB has no projects; the project (catalog) is dropped and the dataset
  becomes the DuckDB schema of the same name.
- ``@name`` query parameters become DuckDB's ``$name``, bound from the same ``dict``.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import sqlglot
from sqlglot import exp

# sqlglot warns on every BigQuery-only table option it drops (PARTITION BY, CLUSTER BY, OPTIONS), which
# DuckDB does not need; the warnings would flood the structured logs.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

_BQ_NUMERIC = exp.DataType.build("DECIMAL(38, 9)", dialect="duckdb")


def _fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this in (exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL):
        if not node.expressions:
            return _BQ_NUMERIC.copy()
        return node
    if isinstance(node, exp.Table) and node.args.get("catalog") is not None:
        node = node.copy()
        node.set("catalog", None)
        return node
    if isinstance(node, exp.DateTrunc) and not isinstance(node.parent, exp.Cast):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("DATE"))
    return node


def statements(sql: str) -> list[str]:
    """Every statement of a BigQuery script, each translated to DuckDB."""
    return list(_statements(sql))


# A load runs the same few texts every time (schema, ledger, MERGE), and parsing them costs more than running them
# on a small table.
@lru_cache(maxsize=256)
def _statements(sql: str) -> tuple[str, ...]:
    out = []
    for tree in sqlglot.parse(sql, read="bigquery"):
        if tree is None:
            continue
        out.append(tree.transform(_fix).sql(dialect="duckdb"))
    return tuple(out)


def to_duckdb(sql: str) -> str:
    """One BigQuery statement (or a ``;``-separated script) as DuckDB SQL."""
    return ";\n".join(statements(sql))
