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
    import federation.dynamic as dynamic

    budget, dynamic.MAX_KEY_BATCHES = dynamic.MAX_KEY_BATCHES, 1
    try:
        doc = ws.explain(SQL.format(customers="wh.customers", orders="shop.orders"), analyze=True)
    finally:
        conn.capabilities = old
        dynamic.MAX_KEY_BATCHES = budget
    decision = next(f for f in doc["fragments"] if f["source"] == "shop")["analyze"]["dynamic_filter"]
    assert decision["used"] is False and "over this source's limit of 3" in decision["reason"]


EVENTS_SQL = ("SELECT c.id, e.name, e.value FROM {customers} c JOIN {events} e ON e.customer_id = c.id "
              "WHERE c.country = 'DE' AND c.age > 60 AND e.value > 10")


def test_a_file_scan_with_its_own_filter_is_cut_as_its_rows_arrive(ws) -> None:  # type: ignore[no-untyped-def]
    """The CSV scan does not wait (its pushed filter already reads every row): the
    partner's keys drop its rows once they are in, so only matching rows are kept."""
    sql = EVENTS_SQL.format(customers="wh.customers", events="ev.events")
    want = duckdb_answer(EVENTS_SQL.format(customers="customers", events="events"), TABLES)
    doc = ws.explain(sql, analyze=True)
    ev = next(f for f in doc["fragments"] if f["source"] == "ev")
    decision = ev["analyze"]["dynamic_filter"]
    assert decision["in_stream"] is True and decision["used"] is False
    assert decision["rows_kept"] == len(want) < ev["analyze"]["rows"]
    from federation.explain import render_text

    assert "rows kept after the key check in Arrow: " in render_text(doc)
    assert_same_rows(ws.query(sql), want, ordered=False)
    assert_same_rows(ws.query(sql, pushdown=False), want, ordered=False)


def _with_key_limit(ws, limit: int):  # type: ignore[no-untyped-def]
    """explain --analyze and the answer of SQL with the shop source taking ``limit`` keys a request."""
    import dataclasses

    sql = SQL.format(customers="wh.customers", orders="shop.orders")
    conn = ws.connector("shop")
    old = conn.capabilities
    conn.capabilities = dataclasses.replace(old, max_in_list=limit)
    try:
        return ws.explain(sql, analyze=True), ws.query(sql)
    finally:
        conn.capabilities = old


def test_keys_over_the_limit_go_in_several_requests(ws) -> None:  # type: ignore[no-untyped-def]
    want = duckdb_answer(SQL.format(customers="customers", orders="orders"), TABLES)
    doc, got = _with_key_limit(ws, 3)
    shop = next(f for f in doc["fragments"] if f["source"] == "shop")
    wh = next(f for f in doc["fragments"] if f["source"] == "wh")
    decision = shop["analyze"]["dynamic_filter"]
    keys = wh["analyze"]["rows"]
    assert decision["used"] is True and decision["batches"] == -(-keys // 3), (decision, shop["request"])
    assert shop["analyze"]["rows"] == len(want)
    assert_same_rows(got, want, ordered=False)


def test_past_the_request_budget_keys_cut_the_rows_in_arrow(ws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import federation.dynamic as dynamic

    monkeypatch.setattr(dynamic, "MAX_KEY_BATCHES", 2)
    want = duckdb_answer(SQL.format(customers="customers", orders="orders"), TABLES)
    doc, got = _with_key_limit(ws, 1)
    shop = next(f for f in doc["fragments"] if f["source"] == "shop")
    decision = shop["analyze"]["dynamic_filter"]
    assert decision["used"] is False and decision["in_stream"] is True
    assert decision["rows_kept"] == len(want)
    # the keys' min and max still went to the source as a range
    lo, hi = decision["range"]
    sql = shop["request"]["sql"]
    assert f'"customer_id" >= {lo}' in sql and f'"customer_id" <= {hi}' in sql, sql
    in_range = [r for r in TABLES["orders"].to_pylist() if r["customer_id"] is not None and lo <= r["customer_id"] <= hi]
    assert shop["analyze"]["rows"] == len(in_range) < TABLES["orders"].num_rows
    assert_same_rows(got, want, ordered=False)
