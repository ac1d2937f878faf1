"""The engine on a Spark Connect server whose master is ``local[2]`` (one JVM, two
task threads), next to the two-executor local cluster the other tests use."""

from __future__ import annotations

import os
import shutil

import pytest

from federation import Workspace
from tests.federation.oracle import assert_same_rows, build_workspace
from tests.federation.oracle_data import make_tables
from tests.spark.conftest import _start, _stop

QUERIES = [
    "SELECT id, email FROM shop.customers WHERE country = 'DE'",
    "SELECT c.country, count(*) AS n, sum(e.value) AS v FROM shop.customers c JOIN ev.events e "
    "ON e.customer_id = c.id GROUP BY c.country",
    "SELECT id, row_number() OVER (PARTITION BY country ORDER BY id) AS rn FROM shop.customers",
]


@pytest.fixture(scope="module")
def local2(tmp_path_factory):  # type: ignore[no-untyped-def]
    if os.environ.get("FEDCDP_SPARK_TESTS") == "0":
        pytest.skip("FEDCDP_SPARK_TESTS=0")
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    root = tmp_path_factory.mktemp("local2")
    build_workspace("sqlite_parquet", root, make_tables(n_customers=120, seed=4))
    log = tmp_path_factory.mktemp("spark-local2") / "connect-server.log"
    proc, remote = _start("local[2]", log, {})
    ws = Workspace.load(root, env={})
    try:
        yield ws, remote
    finally:
        ws.close()
        _stop(proc)


@pytest.mark.parametrize("sql", QUERIES)
def test_local_master_answers_like_the_local_engine(local2, sql: str) -> None:  # type: ignore[no-untyped-def]
    ws, remote = local2
    on_spark = ws.query(sql, engine="spark", remote=remote)
    assert_same_rows(on_spark, ws.query(sql).to_pylist(), ordered=False)
