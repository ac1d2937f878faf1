"""federation.optimize runs sqlglot's optimizer rule by rule, skipping rules that
cannot change a one-scope query: its result must equal sqlglot's own ``optimize``
(SQL text and every node's type), for queries of every shape. This also guards
a sqlglot upgrade that changes how optimize() drives its rules."""

from __future__ import annotations

import pytest
from sqlglot import exp
from sqlglot.optimizer import optimize as sqlglot_optimize

from federation.bind import _column_first, _factor_or, equalities_to_in
from federation.catalog import sql_type_text
from federation.optimize import one_scope, optimize
from federation.sqlfront import parse_query
from tests.federation.oracle_data import make_tables
from tests.federation.oracle_queries import QUERIES
from tests.tpch.queries import Q as TPCH
from tests.tpch.queries import TABLES as TPCH_TABLES

NAMES = {"customers": "shop.customers", "orders": "shop.orders", "events": "ev.events"}
SCHEMA = {
    "shop": {t: {f.name: sql_type_text(f.type) for f in tab.schema}
             for t, tab in make_tables(20).items() if t in ("customers", "orders")},
    "ev": {"events": {f.name: sql_type_text(f.type) for f in make_tables(20)["events"].schema}},
}

# shapes beyond the oracle list: every kind of nested scope, and none
SHAPES = [
    "SELECT id FROM shop.customers",
    "SELECT c.id FROM shop.customers AS c WHERE c.ltv > 10 ORDER BY c.id LIMIT 3",
    "SELECT country, count(*) FROM shop.customers GROUP BY country HAVING count(*) > 1",
    "WITH x AS (SELECT id FROM shop.customers) SELECT id FROM x",
    "SELECT id FROM (SELECT id, ltv FROM shop.customers) AS d WHERE ltv > 1",
    "SELECT id FROM shop.customers WHERE id IN (SELECT customer_id FROM shop.orders)",
    "SELECT id, (SELECT max(amount) FROM shop.orders) AS m FROM shop.customers",
    "SELECT id FROM shop.customers UNION SELECT customer_id FROM shop.orders",
    "SELECT x FROM UNNEST(ARRAY[1, 2]) AS t(x)",
    "SELECT a FROM (VALUES (1), (2)) AS v(a)",
    "SELECT c.id, o.id FROM shop.customers AS c, LATERAL (SELECT id FROM shop.orders AS o WHERE o.customer_id = c.id) AS o",
    "SELECT c.id FROM shop.customers c JOIN shop.orders o ON o.customer_id = c.id JOIN ev.events e ON e.customer_id = c.id",
    "SELECT id, row_number() OVER (PARTITION BY country ORDER BY ltv) AS r FROM shop.customers",
]


def _prepared(sql: str) -> exp.Query:
    """The tree bind() hands the optimizer."""
    return equalities_to_in(_factor_or(_column_first(parse_query(sql))))


def _types(tree: exp.Expression) -> list[str | None]:
    return [n.type.sql("postgres") if isinstance(n.type, exp.DataType) else None for n in tree.walk()]


def _same(sql: str, schema: dict) -> None:  # type: ignore[type-arg]
    query = _prepared(sql)
    want = sqlglot_optimize(query, schema=schema, dialect="postgres", leave_tables_isolated=True)
    got = optimize(query, schema=schema, dialect="postgres", leave_tables_isolated=True)
    assert got.sql("postgres") == want.sql("postgres")
    assert _types(got) == _types(want)
    assert query.sql("postgres") == _prepared(sql).sql("postgres")  # the input is left alone


@pytest.mark.parametrize("sql", [q.format(**NAMES) for q in QUERIES] + SHAPES)
def test_same_as_sqlglot(sql: str) -> None:
    _same(sql, SCHEMA)


def test_same_as_sqlglot_tpch() -> None:
    cols = {  # TPC-H columns the queries read, typed as the sources report them
        "lineitem": "l_orderkey l_partkey l_suppkey l_linenumber:i l_quantity l_extendedprice l_discount l_tax:f "
                    "l_returnflag l_linestatus:t l_shipdate l_commitdate l_receiptdate:d l_shipinstruct l_shipmode "
                    "l_comment:t",
        "orders": "o_orderkey o_custkey:i o_orderstatus:t o_totalprice:f o_orderdate:d o_orderpriority o_clerk:t "
                  "o_shippriority:i o_comment:t",
        "customer": "c_custkey:i c_name c_address:t c_nationkey:i c_phone:t c_acctbal:f c_mktsegment c_comment:t",
        "nation": "n_nationkey:i n_name:t n_regionkey:i n_comment:t",
        "region": "r_regionkey:i r_name r_comment:t",
        "part": "p_partkey:i p_name p_mfgr p_brand p_type:t p_size:i p_container:t p_retailprice:f p_comment:t",
        "partsupp": "ps_partkey ps_suppkey ps_availqty:i ps_supplycost:f ps_comment:t",
        "supplier": "s_suppkey:i s_name s_address:t s_nationkey:i s_phone:t s_acctbal:f s_comment:t",
    }
    kinds = {"i": "BIGINT", "f": "DOUBLE PRECISION", "t": "TEXT", "d": "DATE"}
    schema: dict = {"tpch": {}}  # type: ignore[type-arg]
    for table, spec in cols.items():
        pending: list[str] = []
        for word in spec.split():
            name, _, kind = word.partition(":")
            pending.append(name)
            if kind:
                schema["tpch"].setdefault(table, {}).update({n: kinds[kind] for n in pending})
                pending = []
    assert set(schema["tpch"]) == set(TPCH_TABLES)
    for n in sorted(TPCH):
        _same(TPCH[n].format(**{t: f"tpch.{t}" for t in TPCH_TABLES}), schema)


@pytest.mark.parametrize("sql, single", [
    ("SELECT id FROM shop.customers WHERE ltv > 1 ORDER BY id", True),
    ("SELECT country, count(*) FROM shop.customers GROUP BY country", True),
    ("SELECT id FROM (SELECT id FROM shop.customers) AS d", False),
    ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", False),
    ("SELECT id FROM shop.customers WHERE EXISTS (SELECT 1 FROM shop.orders)", False),
    ("SELECT 1 UNION SELECT 2", False),
    ("SELECT x FROM UNNEST(ARRAY[1]) AS t(x)", False),
    ("SELECT a FROM (VALUES (1)) AS v(a)", False),
])
def test_one_scope(sql: str, single: bool) -> None:
    assert one_scope(parse_query(sql)) is single
