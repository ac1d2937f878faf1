"""query_batches streams row-wise pipelines (the largest input batch by batch) and
always returns the same rows as query()."""

from __future__ import annotations

import pyarrow as pa
import pytest

from federation import Workspace
from federation.stream import streamable
from tests.federation.oracle import assert_same_rows, build_workspace
from tests.federation.oracle_data import make_tables
from tests.federation.oracle_queries import QUERIES

TABLES = make_tables(n_customers=300, seed=9)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("stream")
    build_workspace("sqlite_parquet", root, TABLES)
    w = Workspace.load(root, env={})
    yield w
    w.close()


NAMES = {"customers": "shop.customers", "orders": "shop.orders", "events": "ev.events"}


@pytest.mark.parametrize("sql", QUERIES, ids=[f"q{i:02d}" for i in range(len(QUERIES))])
def test_batches_equal_the_whole_answer(ws, sql: str) -> None:  # type: ignore[no-untyped-def]
    q = sql.format(**NAMES)
    reader = ws.query_batches(q)
    got = reader.read_all()
    assert_same_rows(got, ws.query(q).to_pylist(), ordered="ORDER BY" in sql.upper().split(")")[-1])


def test_a_pipeline_streams_its_largest_input(ws) -> None:  # type: ignore[no-untyped-def]
    q = ("SELECT e.customer_id, e.name, c.country FROM ev.events e JOIN shop.customers c ON c.id = e.customer_id "
         "WHERE e.name = 'click' OR e.value > 90")
    plan = ws.plan(q)
    found = streamable(plan, ws.catalog)
    assert found is not None
    frag, _ = found
    assert frag.source == "ev"
    got = ws.query_batches(q).read_all()
    assert_same_rows(got, ws.query(q).to_pylist(), ordered=False)


def test_aggregates_are_answered_whole(ws) -> None:  # type: ignore[no-untyped-def]
    plan = ws.plan("SELECT e.name, count(*) AS n FROM ev.events e JOIN shop.customers c ON c.id = e.customer_id GROUP BY e.name")
    assert streamable(plan, ws.catalog) is None
    assert isinstance(ws.query_batches("SELECT 1 AS x FROM shop.customers LIMIT 1"), pa.RecordBatchReader)


def test_a_query_without_tables_streams_its_one_row(ws) -> None:  # type: ignore[no-untyped-def]
    assert ws.query_batches("SELECT 42 AS answer").read_all().to_pylist() == [{"answer": 42}]

