"""Placement: what each source received, not only which rows came back."""

from __future__ import annotations

import pytest

from federation import Workspace
from federation.errors import QueryError
from tests.federation.oracle import assert_same_rows, build_workspace, duckdb_answer
from tests.federation.oracle_data import make_tables

TABLES = make_tables(n_customers=120, seed=3)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("placement")
    build_workspace("sqlite_parquet", root, TABLES)
    w = Workspace.load(root, env={})
    yield w
    w.close()


def _frag(doc: dict, source: str) -> dict:  # type: ignore[type-arg]
    found = [f for f in doc["fragments"] if f["source"] == source]
    assert found, f"no fragment for {source}: {doc['fragments']}"
    return found[0]


def test_single_source_query_runs_whole_at_the_source(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT country, count(*) AS n FROM shop.customers WHERE age > 30 GROUP BY country ORDER BY n DESC LIMIT 3")
    assert len(doc["fragments"]) == 1
    sql = doc["fragments"][0]["request"]["sql"].upper()
    for part in ("WHERE", "GROUP BY", "ORDER BY", "LIMIT 3"):
        assert part in sql
    assert doc["arrow"]["sql"] is None
    assert doc["fragments"][0]["pushed"]["aggregate"] is True


def test_same_source_join_is_pushed_inside_a_cross_source_query(ws) -> None:  # type: ignore[no-untyped-def]
    sql = (
        "SELECT c.id, o.amount, e.name FROM shop.customers c JOIN shop.orders o ON o.customer_id = c.id "
        "JOIN ev.events e ON e.customer_id = c.id WHERE o.status = 'paid' AND e.name = 'click'"
    )
    doc = ws.explain(sql)
    shop = _frag(doc, "shop")
    assert "JOIN" in shop["request"]["sql"].upper()
    assert "'paid'" in shop["request"]["sql"]
    ev = _frag(doc, "ev")
    assert any("click" in f for f in ev["pushed"]["filters"])
    assert "join" in doc["arrow"]["operations"]


def test_file_filter_and_projection_pushed_with_exact_row_counts(ws) -> None:  # type: ignore[no-untyped-def]
    sql = "SELECT customer_id FROM ev.events WHERE name = 'purchase' AND value > 50"
    doc = ws.explain(sql, analyze=True)
    ev = _frag(doc, "ev")
    assert ev["pushed"]["columns"] == ["customer_id", "name", "value"] or set(ev["pushed"]["columns"]) >= {"customer_id"}
    want = duckdb_answer(sql.replace("ev.events", "events"), TABLES)
    assert ev["analyze"]["rows"] == len(want)
    assert doc["analyze"]["rows"] == len(want)


def test_limit_pushed_only_without_residual_filters(ws) -> None:  # type: ignore[no-untyped-def]
    doc = ws.explain("SELECT customer_id, ts FROM ev.events WHERE name = 'click' LIMIT 7")
    assert _frag(doc, "ev")["pushed"]["limit"] == 7
    got = ws.query("SELECT customer_id, ts FROM ev.events WHERE name = 'click' LIMIT 7")
    assert got.num_rows == 7


def test_pushdown_off_fetches_plain_scans(ws) -> None:  # type: ignore[no-untyped-def]
    sql = "SELECT c.country, count(*) AS n FROM shop.customers c WHERE c.age > 30 GROUP BY c.country"
    doc = ws.explain(sql, pushdown=False)
    shop = _frag(doc, "shop")
    assert shop["pushed"]["filters"] == []
    assert "GROUP BY" not in shop["request"]["sql"].upper()
    assert_same_rows(ws.query(sql, pushdown=False), ws.query(sql).to_pylist(), ordered=False)


def test_unknown_column_has_position_and_suggestion(ws) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as e:
        ws.query("SELECT emial FROM shop.customers")
    text = e.value.render()
    assert "column 'emial'" in text
    assert "Did you mean 'email'?" in text
    assert "line 1, col 8" in text


def test_unknown_table_suggests_source_table(ws) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as e:
        ws.query("SELECT * FROM shop.customer")
    assert "shop.customers" in e.value.render()
    with pytest.raises(QueryError) as e:
        ws.query("SELECT * FROM customers")
    assert "shop.customers" in e.value.render()
    with pytest.raises(QueryError) as e:
        ws.query("SELECT * FROM shopp.customers")
    assert "Did you mean 'shop'?" in e.value.render()


def test_reversed_range_bounds_keep_their_meaning(ws) -> None:  # type: ignore[no-untyped-def]
    # sqlglot 30.30 alone simplifies `age > 30 AND 30 <= age` to `age >= 30`
    age = next(a for a in TABLES["customers"].column("age").to_pylist() if a is not None)
    sql = f"SELECT id FROM {{t}} WHERE age > {age} AND {age} <= age"
    want = duckdb_answer(sql.format(t="customers"), TABLES)
    assert_same_rows(ws.query(sql.format(t="shop.customers")), want, ordered=False)
    value = next(v for v in TABLES["events"].column("value").to_pylist() if v is not None)
    sql = f"SELECT customer_id FROM {{t}} WHERE value > {value} AND {value} <= value"
    assert_same_rows(ws.query(sql.format(t="ev.events")), duckdb_answer(sql.format(t="events"), TABLES), ordered=False)


def test_aggregates_of_one_side_run_before_the_cross_source_join(ws) -> None:  # type: ignore[no-untyped-def]
    sql = ("SELECT e.name, count(*) AS n, sum(o.amount) AS s, avg(o.amount) AS a FROM {events} e "
           "JOIN {orders} o ON o.customer_id = e.customer_id GROUP BY e.name")
    doc = ws.explain(sql.format(events="ev.events", orders="shop.orders"), analyze=True)
    shop = _frag(doc, "shop")
    assert shop["pushed"]["aggregate"] is True
    assert "GROUP BY" in shop["request"]["sql"].upper()
    # only one row per customer key crosses the wire, not every order
    n_keys = len({r for r in TABLES["orders"].column("customer_id").to_pylist()})
    assert shop["analyze"]["rows"] == n_keys
    want = duckdb_answer(sql.format(events="events", orders="orders"), TABLES)
    assert_same_rows(ws.query(sql.format(events="ev.events", orders="shop.orders")), want, ordered=False)
