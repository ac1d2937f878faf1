"""Property: for random predicates over mixed types with NULLs,
pushdown on == pushdown off == DuckDB, on SQLite x Parquet."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation import Workspace
from tests.federation.oracle import assert_same_rows, build_workspace, duckdb_answer
from tests.federation.oracle_data import make_tables

TABLES = make_tables(n_customers=150, seed=11)

NUM_COLS = ["c.age", "c.ltv", "c.id"]
TEXT_COLS = ["c.country", "c.email"]
EV_NUM = ["e.value", "e.customer_id"]
EV_TEXT = ["e.name", "e.month"]


def _num_atom(cols: list[str]) -> st.SearchStrategy[str]:
    col = st.sampled_from(cols)
    lit = st.one_of(st.integers(-10, 120).map(str), st.floats(-10, 5000, allow_nan=False).map(lambda f: f"{f:.2f}"))
    op = st.sampled_from(["=", "<>", "<", "<=", ">", ">="])
    cmp = st.tuples(col, op, lit).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    null = st.tuples(col, st.sampled_from(["IS NULL", "IS NOT NULL"])).map(" ".join)
    between = st.tuples(col, st.integers(0, 50), st.integers(50, 3000)).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}")
    inl = st.tuples(col, st.lists(st.integers(0, 100), min_size=1, max_size=4)).map(
        lambda t: f"{t[0]} IN ({', '.join(map(str, t[1]))})")
    arith = st.tuples(col, st.integers(1, 9), st.sampled_from(["<", ">"]), st.integers(0, 300)).map(
        lambda t: f"{t[0]} * {t[1]} {t[2]} {t[3]}")
    return st.one_of(cmp, null, between, inl, arith)


def _text_atom(cols: list[str], values: list[str]) -> st.SearchStrategy[str]:
    col = st.sampled_from(cols)
    val = st.sampled_from(values)
    eq = st.tuples(col, st.sampled_from(["=", "<>", "<", ">"]), val).map(lambda t: f"{t[0]} {t[1]} '{t[2]}'")
    null = st.tuples(col, st.sampled_from(["IS NULL", "IS NOT NULL"])).map(" ".join)
    like = st.tuples(col, st.sampled_from(["user1%", "%example%", "D%", "%k"])).map(lambda t: f"{t[0]} LIKE '{t[1]}'")
    inl = st.tuples(col, st.lists(val, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} IN ({', '.join(repr(v) for v in t[1])})")
    return st.one_of(eq, null, like, inl)


def _pred(atom: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        atom,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]} AND {t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
            inner.map(lambda p: f"NOT ({p})"),
        ),
        max_leaves=5,
    )


CUST_PRED = _pred(st.one_of(_num_atom(NUM_COLS), _text_atom(TEXT_COLS, ["DE", "FR", "user10@example.com", "US"]),
                            st.sampled_from(["c.vip", "NOT c.vip", "c.vip IS NULL", "c.signup > DATE '2024-05-01'"])))
EV_PRED = _pred(st.one_of(_num_atom(EV_NUM), _text_atom(EV_TEXT, ["click", "purchase", "2024-03", "page_view"])))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("property")
    build_workspace("sqlite_parquet", root, TABLES)
    w = Workspace.load(root, env={})
    yield w
    w.close()


def _check(ws, template: str) -> None:  # type: ignore[no-untyped-def]
    want = duckdb_answer(template.format(customers="customers", events="events"), TABLES)
    sql = template.format(customers="shop.customers", events="ev.events")
    assert_same_rows(ws.query(sql), want, ordered=False)
    assert_same_rows(ws.query(sql, pushdown=False), want, ordered=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=CUST_PRED)
def test_customer_predicates(ws, p: str) -> None:  # type: ignore[no-untyped-def]
    _check(ws, f"SELECT c.id, c.country FROM {{customers}} c WHERE {p}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=EV_PRED)
def test_event_predicates_on_files(ws, p: str) -> None:  # type: ignore[no-untyped-def]
    _check(ws, f"SELECT e.customer_id, e.name FROM {{events}} e WHERE {p}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=CUST_PRED, q=EV_PRED)
def test_cross_source_join_predicates(ws, p: str, q: str) -> None:  # type: ignore[no-untyped-def]
    _check(ws, f"SELECT c.id, e.name FROM {{customers}} c JOIN {{events}} e ON e.customer_id = c.id WHERE {p} AND {q}")
