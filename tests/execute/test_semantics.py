"""PostgreSQL semantics where DuckDB differs (pinned answers), errors, and unsupported constructs."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
from sqlglot import exp, parse_one
from sqlglot.optimizer import optimize

from federation.errors import QueryError, UnsupportedError
from federation.execute import evaluate, evaluate_predicate, execute
from tests.execute.data import all_tables, schema_of
from tests.execute.harness import run_ours

TABLES = all_tables()

T = {
    "t": pa.table({
        "a": pa.array([7, -7, None, 0, 2], pa.int64()),
        "b": pa.array([2, 2, 2, None, 0], pa.int32()),
        "s": pa.array(["x", None, "y", "x", None], pa.string()),
        "f": pa.array([1.5, None, -2.5, 0.5, 2.5], pa.float64()),
    }),
    "k": pa.table({"a": pa.array([7, None], pa.int64())}),
    "e": pa.table({"a": pa.array([], pa.int64())}),
}


def q(sql: str, tables: dict[str, pa.Table] = T) -> dict[str, list]:
    return run_ours(sql, tables).to_pydict()


def test_integer_division_truncates_toward_zero() -> None:
    assert q("SELECT a / 2 AS d, a % 3 AS m FROM t WHERE a <> 0") == {"d": [3, -3, 1], "m": [1, -1, 2]}
    assert q("SELECT 7 / 2 AS a, -7 / 2 AS b, 7.0 / 2 AS c") == {"a": [3], "b": [-3], "c": [3.5]}


def test_division_by_zero_is_an_error() -> None:
    with pytest.raises(QueryError, match="division by zero"):
        q("SELECT a / b AS d FROM t")
    with pytest.raises(QueryError, match="division by zero"):
        q("SELECT f / 0 AS d FROM t")
    with pytest.raises(QueryError, match="division by zero"):
        q("SELECT a % 0 AS d FROM t")


def test_case_guards_division() -> None:
    assert q("SELECT CASE WHEN b <> 0 THEN a / b END AS d FROM t") == {"d": [3, -3, None, None, None]}


def test_default_null_order_is_postgres() -> None:
    assert q("SELECT a FROM t ORDER BY a")["a"] == [-7, 0, 2, 7, None]
    assert q("SELECT a FROM t ORDER BY a DESC")["a"] == [None, 7, 2, 0, -7]
    assert q("SELECT s, a FROM t ORDER BY s DESC, a")["s"] == [None, None, "y", "x", "x"]


def test_not_in_with_null_in_list_selects_nothing() -> None:
    assert q("SELECT a FROM t WHERE a NOT IN (7, NULL)") == {"a": []}
    assert q("SELECT a, a IN (7, NULL) AS i, a NOT IN (7, NULL) AS n FROM t ORDER BY a NULLS FIRST") == {
        "a": [None, -7, 0, 2, 7], "i": [None, None, None, None, True], "n": [None, None, None, None, False]}


def test_not_in_subquery_with_null() -> None:
    assert q("SELECT a FROM t WHERE a NOT IN (SELECT a FROM k)") == {"a": []}
    assert sorted(q("SELECT a FROM t WHERE a NOT IN (SELECT a FROM k WHERE a IS NOT NULL)")["a"]) == [-7, 0, 2]
    # NULL NOT IN (empty set) is TRUE
    assert q("SELECT count(*) AS n FROM t WHERE a NOT IN (SELECT a FROM e)") == {"n": [5]}


def test_three_valued_logic() -> None:
    got = q("SELECT a > 0 AND s = 'x' AS x, a > 0 OR s = 'x' AS o, NOT (a > 0) AS n FROM t")
    assert got == {"x": [True, False, False, False, None], "o": [True, None, None, True, True],
                   "n": [False, True, None, True, False]}


def test_concat_null_semantics() -> None:
    assert q("SELECT s || 'z' AS p, concat(s, 'z') AS c FROM t") == {
        "p": ["xz", None, "yz", "xz", None], "c": ["xz", "z", "yz", "xz", "z"]}


def test_round_follows_the_operand_type() -> None:
    # float8 rounds half to even (rint); numeric (here ROUND(x, n) casts to numeric) half away from zero
    got = q("SELECT round(f) AS r, round(f, 0) AS r0, CAST(f AS INTEGER) AS i FROM t")
    assert got == {"r": [2.0, None, -2.0, 0.0, 2.0], "r0": [2.0, None, -3.0, 1.0, 3.0], "i": [2, None, -2, 0, 2]}
    tables = {"n": pa.table({"d": pa.array([decimal.Decimal("2.50"), decimal.Decimal("-0.50")], pa.decimal128(5, 2))})}
    assert q("SELECT round(d) AS r, CAST(d AS INTEGER) AS i FROM n", tables) == {"r": [3.0, -1.0], "i": [3, -1]}


def test_aggregates_of_no_rows() -> None:
    assert q("SELECT count(*) AS n, count(a) AS c, sum(a) AS s, avg(a) AS v, max(a) AS m FROM e") == {
        "n": [0], "c": [0], "s": [None], "v": [None], "m": [None]}
    assert q("SELECT a, count(*) AS n FROM e GROUP BY a") == {"a": [], "n": []}


def test_sum_of_ints_stays_int_avg_is_float() -> None:
    out = run_ours("SELECT sum(a) AS s, avg(a) AS v FROM t", T)
    assert out.schema.field("s").type == pa.int64() and out.schema.field("v").type == pa.float64()
    assert out.to_pydict() == {"s": [2], "v": [0.5]}


def test_scalar_subquery_more_than_one_row() -> None:
    with pytest.raises(QueryError, match="more than one row returned by a subquery"):
        execute(parse_one("SELECT (SELECT a FROM t) AS x FROM k", read="postgres"), T)


def test_like_backslash_escape_is_default() -> None:
    # PostgreSQL: LIKE escapes with backslash by default (DuckDB does not)
    names = TABLES["customers"].column("name").to_pylist()
    got = run_ours("SELECT id FROM customers WHERE name LIKE 'Al\\%'", TABLES)
    assert got.num_rows == names.count("Al%")


def test_dates_and_intervals() -> None:
    tables = {"d": pa.table({"x": pa.array([dt.date(2024, 1, 31), None], pa.date32()),
                             "ts": pa.array([dt.datetime(2024, 1, 31, 12), None], pa.timestamp("ns"))})}
    got = q("SELECT x + 1 AS a, x - DATE '2024-01-01' AS b, x + INTERVAL '1 month' AS c, "
            "ts - INTERVAL '1 day' AS d, EXTRACT(dow FROM x) AS e FROM d", tables)
    assert got == {"a": [dt.date(2024, 2, 1), None], "b": [30, None], "c": [dt.datetime(2024, 2, 29), None],
                   "d": [dt.datetime(2024, 1, 30, 12), None], "e": [3, None]}


def test_outputs_are_normalised() -> None:
    tables = {"u": pa.table({"a": pa.array([1], pa.int8()), "f": pa.array([1.5], pa.float32()),
                             "s": pa.array(["x"], pa.large_string()),
                             "t": pa.array([0], pa.timestamp("s", tz="Europe/Berlin"))})}
    out = run_ours("SELECT a, f, s, t FROM u", tables)
    assert out.schema.types == [pa.int64(), pa.float64(), pa.string(), pa.timestamp("us", tz="UTC")]


def test_duplicate_output_names_are_kept() -> None:
    out = run_ours("SELECT a, a FROM k", T)
    assert out.column_names == ["a", "a"]


def test_type_error_is_query_error() -> None:
    with pytest.raises(QueryError, match="operator does not exist"):
        execute(parse_one("SELECT a FROM t WHERE s > 5", read="postgres"), T)


@pytest.mark.parametrize(("sql", "what"), [
    ("SELECT a FROM t WHERE a > ALL (ARRAY[1, 2])", "unsupported"),
    ("SELECT min(a) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM t", "does not start"),
    ("SELECT sum(a) OVER (ORDER BY a RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM t", "RANGE with an offset"),
    ("SELECT make_date(2024, 1, 2) AS x FROM t", "make_date"),
    ("SELECT CAST(INTERVAL '1 day' AS TEXT) AS x FROM t", "CAST of an interval"),
])
def test_unsupported_constructs_raise(sql: str, what: str) -> None:
    with pytest.raises(UnsupportedError, match=what):
        q(sql)


def test_correlated_subquery_is_unsupported() -> None:
    tree = parse_one("SELECT a FROM t WHERE b > (SELECT max(k.a) FROM k WHERE k.a = t.a)", read="postgres")
    with pytest.raises(UnsupportedError, match="correlated subquery"):
        execute(tree, T)


def test_evaluate_predicate_unqualified() -> None:
    t = T["t"]
    mask = evaluate_predicate(parse_one("a > 0 AND s = 'x'", read="postgres"), t)
    assert mask.to_pylist() == [True, False, False, False, False]
    mask = evaluate_predicate(parse_one("x.a IN (7, NULL)", read="postgres"), t)
    assert mask.to_pylist() == [True, False, False, False, False]
    vals = evaluate(parse_one("a * 2 + 1", read="postgres"), t)
    assert vals.to_pylist() == [15, -13, None, 1, 5]
    assert evaluate(parse_one("1", read="postgres"), t).to_pylist() == [1] * 5


def test_outer_join_extra_condition_belongs_to_on() -> None:
    tables = {"l": pa.table({"id": [1, 2, 3], "v": [10, 20, 30]}),
              "r": pa.table({"id": pa.array([1, 1, 2, None], pa.int32()), "w": [5, 50, 5, 5]})}
    sql = "SELECT l.id, r.w FROM l LEFT JOIN r ON l.id = r.id AND r.w > l.v ORDER BY l.id, r.w"
    assert q(sql, tables) == {"id": [1, 2, 3], "w": [50, None, None]}
    sql = "SELECT l.id, r.w FROM l FULL JOIN r ON l.id = r.id AND r.w < l.v ORDER BY l.id NULLS LAST, r.w"
    assert q(sql, tables) == {"id": [1, 2, 3, None, None], "w": [5, 5, None, 5, 50]}


def test_duplicate_join_keys_multiply() -> None:
    tables = {"l": pa.table({"k": [1, 1, 2]}), "r": pa.table({"k": [1, 1, 1, None]})}
    assert q("SELECT count(*) AS n FROM l JOIN r ON l.k = r.k", tables) == {"n": [6]}


def test_window_ties_share_rank_and_running_sum() -> None:
    tables = {"w": pa.table({"g": ["a", "a", "a", "b"], "v": [1, 1, 2, 5]})}
    got = q("SELECT v, rank() OVER (PARTITION BY g ORDER BY v) AS r, sum(v) OVER (PARTITION BY g ORDER BY v) AS s, "
            "row_number() OVER (PARTITION BY g ORDER BY v) AS n FROM w ORDER BY g, v, n", tables)
    assert got == {"v": [1, 1, 2, 5], "r": [1, 1, 3, 1], "s": [2, 2, 4, 5], "n": [1, 2, 3, 1]}


def test_optimized_tree_schema_helper() -> None:
    tree = optimize(parse_one("SELECT 1 AS x", read="postgres"), schema=schema_of(TABLES), dialect="postgres")
    assert isinstance(tree, exp.Select)
    assert execute(tree, {}).to_pydict() == {"x": [1]}


def test_semi_and_anti_joins() -> None:
    tables = {"a": pa.table({"k": [1, 2, 3, None]}), "b": pa.table({"k": [1, 1, None]})}
    semi = parse_one("SELECT a.k FROM a SEMI JOIN b ON a.k = b.k", read="duckdb")
    anti = parse_one("SELECT a.k FROM a ANTI JOIN b ON a.k = b.k", read="duckdb")
    assert execute(semi, tables).to_pydict() == {"k": [1]}
    assert execute(anti, tables).to_pydict() == {"k": [2, 3, None]}


def test_try_cast_and_cast_errors() -> None:
    tree = parse_one("SELECT TRY_CAST(x AS INT) AS v FROM (SELECT '12' AS x UNION ALL SELECT 'zz') AS s", read="duckdb")
    assert execute(tree, {}).to_pydict() == {"v": [12, None]}
    with pytest.raises(QueryError, match="invalid input syntax for type integer"):
        execute(parse_one("SELECT CAST('zz' AS INT) AS v", read="postgres"), {})


def test_empty_scalar_subquery_is_null() -> None:
    assert q("SELECT (SELECT a FROM e) AS x FROM k") == {"x": [None, None]}


def test_and_or_do_not_evaluate_decided_rows() -> None:
    # PostgreSQL evaluates left to right here: the guard keeps the division from seeing a zero
    assert q("SELECT a FROM t WHERE b <> 0 AND a / b > 0") == {"a": [7]}
    assert q("SELECT a, b = 0 OR a / b > 0 AS x FROM t") == {
        "a": [7, -7, None, 0, 2], "x": [True, False, None, None, True]}


def test_in_list_mixing_int_and_float() -> None:
    assert q("SELECT a FROM t WHERE a IN (7.0, 2.5)") == {"a": [7]}


def test_non_equality_correlation_is_reported_as_correlated() -> None:
    sql = "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM t AS t2 WHERE t2.a = t.a AND t2.b > t.b)"
    with pytest.raises(UnsupportedError, match="correlated subquery"):
        q(sql)


def test_cast_errors_do_not_show_column_values() -> None:
    tables = {"c": pa.table({"s": ["12", "secret@example.com"]})}
    with pytest.raises(QueryError) as info:
        q("SELECT CAST(s AS INTEGER) AS v FROM c", tables)
    assert "secret" not in str(info.value) and "cannot cast text to bigint" in str(info.value)


def test_empty_inputs_everywhere() -> None:
    tables = {"e": pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())}),
              "t": pa.table({"a": [1, 2, 3]})}
    got = q("SELECT a, row_number() OVER (ORDER BY a) AS r, min(s) OVER () AS mn FROM e", tables)
    assert got == {"a": [], "r": [], "mn": []}
    got = q("SELECT count(*) FILTER (WHERE a > 1) AS n, string_agg(s, ',') AS g, sum(DISTINCT a) AS sd, "
            "count(DISTINCT a) AS cd FROM e", tables)
    assert got == {"n": [0], "g": [None], "sd": [None], "cd": [0]}
    assert q("SELECT e.a, t.a AS b FROM e FULL JOIN t ON e.a = t.a ORDER BY b", tables) == {
        "a": [None, None, None], "b": [1, 2, 3]}
    assert q("SELECT a FROM t INTERSECT SELECT a FROM e", tables) == {"a": []}


def test_global_ordered_string_agg_and_fetch_first() -> None:
    tables = {"t": pa.table({"a": [1, 2, 3]})}
    assert q("SELECT string_agg(CAST(a AS TEXT), '-' ORDER BY a DESC) AS g FROM t", tables) == {"g": ["3-2-1"]}
    assert q("SELECT a FROM t ORDER BY a FETCH FIRST 2 ROWS ONLY", tables) == {"a": [1, 2]}


def test_distinct_on_keeps_the_first_row_per_key() -> None:
    got = q("SELECT DISTINCT ON (s) s, a FROM t ORDER BY s, a DESC")
    assert got == {"s": ["x", "y", None], "a": [7, None, 2]}
    got = q("SELECT DISTINCT ON (s, a > 0) s, a FROM t ORDER BY s NULLS FIRST, a > 0, a")
    assert got == {"s": [None, None, "x", "x", "y"], "a": [-7, 2, 0, 7, None]}


def test_age_is_an_interval_column() -> None:
    out = q("SELECT age(TIMESTAMP '2024-03-01', TIMESTAMP '2024-01-31') AS a")
    assert out == {"a": [pa.MonthDayNano([1, 1, 0])]}
