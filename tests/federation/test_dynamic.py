"""Dynamic filtering: a small, filtered side's join keys are sent to the other
source at run time, and the answer does not change."""

from __future__ import annotations

import pytest

from federation import Workspace
from tests.federation.oracle import assert_same_rows, build_workspace, duckdb_answer
from tests.federation.oracle_data import make_tables

TABLES = make_tables(n_customers=400, seed=5)


@pytest.fixture(scope="module")
def ws(tmp_path_factory, pg_uri, pg_schema):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("dynamic")
    _, env = build_workspace("pg_sqlite_csv", root, TABLES, pg_uri, pg_schema)
    w = Workspace.load(root, env=env)
    yield w
    w.close()


SQL = ("SELECT c.id, o.id AS oid, o.amount FROM {customers} c JOIN {orders} o ON o.customer_id = c.id "
       "WHERE c.country = 'DE' AND c.age > 60")


def test_keys_of_the_filtered_side_reach_the_other_source(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain(SQL.format(customers="wh.customers", orders="shop.orders"), analyze=True)
    orders = next(f for f in doc["fragments"] if f["source"] == "shop")
    customers = next(f for f in doc["fragments"] if f["source"] == "wh")
    decision = orders["analyze"]["dynamic_filter"]
    assert decision is not None and decision["used"] is True
    assert decision["keys"] == customers["analyze"]["rows"]
    assert "json_each" in orders["request"]["sql"] or " IN (" in orders["request"]["sql"]
    want = duckdb_answer(SQL.format(customers="customers", orders="orders"), TABLES)
    # only the orders of the matching customers crossed the wire
    assert orders["analyze"]["rows"] == len(want)


def test_answer_unchanged_by_dynamic_filtering(ws) -> None:  # type: ignore[no-untyped-def]
    sql = SQL.format(customers="wh.customers", orders="shop.orders")
    want = duckdb_answer(SQL.format(customers="customers", orders="orders"), TABLES)
    assert_same_rows(ws.query(sql), want, ordered=False)
    assert_same_rows(ws.query(sql, pushdown=False), want, ordered=False)


def test_too_many_keys_are_not_sent(ws) -> None:  # type: ignore[no-untyped-def]
    conn = ws.connector("shop")
    old = conn.capabilities
    import dataclasses

    conn.capabilities = dataclasses.replace(old, max_in_list=3)
    try:
        doc = ws.explain(SQL.format(customers="wh.customers", orders="shop.orders"), analyze=True)
    finally:
        conn.capabilities = old
    decision = next(f for f in doc["fragments"] if f["source"] == "shop")["analyze"]["dynamic_filter"]
    assert decision["used"] is False and "over this source's limit of 3" in decision["reason"]
