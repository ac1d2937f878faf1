"""The core's oracle queries (PostgreSQL + SQLite + CSV) and a TPC-H subset
(Parquet + SQLite + PostgreSQL) give the same rows and the same Arrow schema on
the Spark engine, through a Spark Connect client, as on the local engine."""

from __future__ import annotations

import math

import pytest

from federation import Workspace
from federation.engines import engine_for
from federation.errors import UnsupportedError
from tests.federation.oracle import assert_same_rows, build_workspace
from tests.federation.oracle_data import make_tables
from tests.federation.oracle_queries import QUERIES
from tests.tpch.queries import Q
from tests.tpch.queries import TABLES as TPCH_TABLES
from tests.tpch.test_tpch import PLACEMENT, tpch  # noqa: F401 - the TPC-H workspace fixture

TABLES = make_tables()
TPCH_SUBSET = (1, 3, 5, 6, 10, 12, 14, 19)


@pytest.fixture(scope="module")
def oracle(spark_server, pg_uri, pg_schema, tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("oracle_spark")
    names, env = build_workspace("pg_sqlite_csv", root, TABLES, pg_uri, pg_schema)
    ws = Workspace.load(root, env=env)
    engine = engine_for(ws.config, "spark", spark_server.remote)
    yield ws, names, engine
    engine.close()
    ws.close()


def _same(ws, engine, sql: str, rel: float | None = None) -> None:  # type: ignore[no-untyped-def]
    try:
        local = ws.query(sql)
    except UnsupportedError:
        pytest.skip("unsupported locally")
    got = engine.run(ws.plan(sql), ws.catalog)
    assert got.schema == local.schema
    ordered = "ORDER BY" in sql.upper().split(")")[-1]
    if rel is None:
        assert_same_rows(got, local.to_pylist(), ordered)
        return
    # Spark keeps decimals exact (avg of decimal(15,2) is decimal(19,6)) where the
    # local engine computes in float64: equal to 1e-6 (relative or absolute).
    g, w = got.to_pylist(), local.to_pylist()
    assert len(g) == len(w)
    if not ordered:
        g, w = sorted(g, key=repr), sorted(w, key=repr)
    for a, b in zip(g, w):
        for k in a:
            x, y = a[k], b[k]
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=rel, abs_tol=1e-6), (k, x, y)
            else:
                assert x == y, (k, x, y)


@pytest.mark.parametrize("sql", QUERIES, ids=[f"q{i:02d}" for i in range(len(QUERIES))])
def test_oracle_query_same_on_spark(oracle, sql: str) -> None:  # type: ignore[no-untyped-def]
    ws, names, engine = oracle
    _same(ws, engine, sql.format(**names))


@pytest.fixture(scope="module")
def tpch_engine(tpch, spark_server):  # type: ignore[no-untyped-def]  # noqa: F811
    ws, _tables = tpch
    engine = engine_for(ws.config, "spark", spark_server.remote)
    yield ws, engine
    engine.close()


@pytest.mark.parametrize("n", TPCH_SUBSET, ids=[f"tpch{n:02d}" for n in TPCH_SUBSET])
def test_tpch_same_on_spark(tpch_engine, n: int) -> None:  # type: ignore[no-untyped-def]
    ws, engine = tpch_engine
    _same(ws, engine, Q[n].format(**{t: f"{PLACEMENT[t]}.{t}" for t in TPCH_TABLES}), rel=1e-6)
