"""Semi-joins pushed whole to a database go back to IN, with the same answers."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from federation import Workspace
from federation.rules.renest_semijoins import renest_semijoins
from tests.federation.oracle import assert_same_rows, build_workspace, duckdb_answer
from tests.federation.oracle_data import make_tables

TABLES = make_tables(n_customers=300, seed=11)


def _renest(sql: str) -> exp.Expression:
    return renest_semijoins(sqlglot.parse_one(sql, read="postgres"))


def test_an_unnested_in_goes_back_to_in() -> None:
    q = _renest("WITH u AS (SELECT o.customer_id AS k FROM orders AS o WHERE o.status = 'paid' GROUP BY o.customer_id) "
                "SELECT c.id FROM customers AS c JOIN u AS u ON u.k = c.id AND c.age > 3 AND NOT u.k IS NULL")
    sql = q.sql(dialect="postgres")
    assert "GROUP BY" not in sql and "WITH" not in sql
    assert sql == ("SELECT c.id FROM customers AS c WHERE c.age > 3 AND c.id IN "
                   "(SELECT o.customer_id AS k FROM orders AS o WHERE o.status = 'paid')")


@pytest.mark.parametrize("sql", [
    # the derived table's column is delivered
    "SELECT c.id, u.k FROM customers AS c JOIN (SELECT customer_id AS k FROM orders GROUP BY customer_id) AS u ON u.k = c.id",
    # not distinct keys: a join may repeat rows
    "SELECT c.id FROM customers AS c JOIN (SELECT customer_id AS k FROM orders) AS u ON u.k = c.id",
    # grouped by more than the key
    "SELECT c.id FROM customers AS c JOIN (SELECT customer_id AS k FROM orders GROUP BY customer_id, status) AS u ON u.k = c.id",
    # HAVING keeps only some keys but is fine in IN too; kept as it is to stay simple
    "SELECT c.id FROM customers AS c JOIN (SELECT customer_id AS k FROM orders GROUP BY customer_id HAVING count(*) > 2) AS u ON u.k = c.id",
    # a RIGHT join elsewhere in the FROM: the filter cannot move to WHERE
    "SELECT c.id FROM customers AS c JOIN (SELECT customer_id AS k FROM orders GROUP BY customer_id) AS u ON u.k = c.id "
    "RIGHT JOIN orders AS o ON o.customer_id = c.id",
    # an outer join with the derived table
    "SELECT c.id FROM customers AS c LEFT JOIN (SELECT customer_id AS k FROM orders GROUP BY customer_id) AS u ON u.k = c.id",
])
def test_what_is_not_a_semi_join_stays(sql: str) -> None:
    before = sqlglot.parse_one(sql, read="postgres")
    assert _renest(sql) == before


QUERIES = [
    "SELECT c.id, c.email FROM {customers} c WHERE c.country = 'DE' AND c.id IN "
    "(SELECT customer_id FROM {orders} WHERE status = 'paid')",
    "SELECT c.id FROM {customers} c WHERE EXISTS (SELECT 1 FROM {orders} o WHERE o.customer_id = c.id AND o.amount > 50)",
    "SELECT c.country, count(*) AS n FROM {customers} c WHERE c.id IN (SELECT customer_id FROM {orders}) "
    "AND c.id IN (SELECT customer_id FROM {orders} WHERE status = 'refunded') GROUP BY c.country",
    "SELECT c.id FROM {customers} c WHERE c.id NOT IN (SELECT customer_id FROM {orders} WHERE customer_id IS NOT NULL)",
    "SELECT c.id FROM {customers} c LEFT JOIN {orders} o ON o.customer_id = c.id "
    "WHERE c.id IN (SELECT customer_id FROM {orders} WHERE amount > 90)",
]


@pytest.fixture(scope="module")
def sqlite_ws(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("renest")
    names, env = build_workspace("sqlite_parquet", root, TABLES)
    w = Workspace.load(root, env=env)
    yield w, names
    w.close()


@pytest.mark.parametrize("sql", QUERIES)
def test_same_answer_as_duckdb_with_and_without_pushdown(sqlite_ws, sql: str) -> None:  # type: ignore[no-untyped-def]
    ws, names = sqlite_ws
    want = duckdb_answer(sql.format(customers="customers", orders="orders"), TABLES)
    ours = sql.format(**names)
    assert_same_rows(ws.query(ours), want, ordered=False)
    assert_same_rows(ws.query(ours, pushdown=False), want, ordered=False)


def test_the_database_receives_in(sqlite_ws) -> None:  # type: ignore[no-untyped-def]
    ws, names = sqlite_ws
    doc = ws.explain(QUERIES[0].format(**names))
    sql = doc["fragments"][0]["request"]["sql"]
    assert " IN (SELECT" in sql and "GROUP BY" not in sql
