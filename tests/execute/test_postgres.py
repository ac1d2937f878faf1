"""Scalar expressions where engines disagree, checked against the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import pytest
from sqlglot import parse_one
from sqlglot.optimizer import optimize

from federation.execute import execute

EXPRESSIONS = [
    "7 / 2", "-7 / 2", "7 % 3", "-7 % 3", "7 % -3", "7.5 / 2", "2 ^ 10",
    "round(2.5)", "round(-2.5)", "CAST(2.5 AS INTEGER)", "CAST('hello' AS VARCHAR(3))", "CAST(12345 AS VARCHAR(2))", "CAST(-3.5 AS BIGINT)",
    "round(7 / 2.0)", "round(4331.45, 1)", "round(-0.125, 2)", "round(1234.5678, -2)", "round(1.25, 1)", "round(-1.35, 1)", "ceil(-1.5)", "floor(-1.5)",
    "abs(-3)", "sqrt(16.0)", "power(2, 3)", "ln(1)", "exp(0)",
    "CAST(2.5 AS DOUBLE PRECISION) / 2", "CAST('42' AS INTEGER) + 1", "CAST(' 7 ' AS BIGINT)",
    "CAST('t' AS BOOLEAN)", "CAST('2024-02-29' AS DATE) + 1", "CAST(3 AS TEXT) || 'x'",
    "'a' || NULL", "concat('a', NULL, 'b')", "coalesce(NULL, 2, 3)", "nullif(1, 1)", "greatest(1, NULL, 3)",
    "least(2, NULL)", "NULL = NULL", "NULL IS NULL", "1 IN (1, NULL)", "2 IN (1, NULL)", "2 NOT IN (1, NULL)",
    "NULL AND FALSE", "NULL OR TRUE", "NOT NULL::boolean", "1 IS DISTINCT FROM NULL", "NULL IS NOT DISTINCT FROM NULL",
    "'abc' LIKE 'a%'", "'ABC' ILIKE 'a_c'", "'a%c' LIKE 'a\\%c'", "'abc' SIMILAR TO '(a|x)bc'",
    "lower('ÀB')", "upper('abc')", "length('héllo')", "substring('hello', 0, 3)", "substring('hello', 2)",
    "left('hello', -2)", "right('hello', -2)", "trim('  x  ')", "ltrim('xxy', 'x')", "rtrim('yxx', 'x')",
    "replace('aXbX', 'X', '-')", "position('l' IN 'hello')", "strpos('hello', 'z')",
    "split_part('a,b,c', ',', 2)", "split_part('a,b,c', ',', 7)", "split_part('a,b,c', ',', -1)",
    "regexp_replace('aaa', 'a', 'b')", "regexp_replace('aaa', 'a', 'b', 'g')", "starts_with('hello', 'he')",
    "EXTRACT(dow FROM DATE '2024-06-02')", "EXTRACT(isodow FROM DATE '2024-06-02')", "EXTRACT(doy FROM DATE '2024-12-31')",
    "EXTRACT(week FROM DATE '2024-01-01')", "EXTRACT(quarter FROM DATE '2024-08-01')",
    "EXTRACT(epoch FROM TIMESTAMP '2024-01-01 00:00:01')", "EXTRACT(second FROM TIMESTAMP '2024-01-01 00:00:01.5')",
    "date_trunc('week', TIMESTAMP '2024-06-02 10:00')", "date_trunc('quarter', TIMESTAMP '2024-08-15 10:00')",
    "TIMESTAMP '2024-01-31 10:00' + INTERVAL '1 month'", "DATE '2024-03-31' - INTERVAL '1 month'",
    "TIMESTAMP '2024-01-01' + INTERVAL '1 day 2 hours'", "DATE '2024-03-01' - DATE '2024-02-01'",
    "DATE '2024-03-01' - 1", "TIMESTAMP '2024-01-02' > '2024-01-01'",
    "CASE WHEN 1 > 2 THEN 'a' WHEN NULL THEN 'b' ELSE 'c' END",
    "to_char(TIMESTAMP '2024-03-05 14:07:09', 'YYYY-MM-DD HH24:MI:SS')", "to_char(DATE '2024-03-05', 'YYYYMMDD')",
    "'Ann' SIMILAR TO '(A|a)%'", "'bob' SIMILAR TO '(A|a)%'", "'a.b' SIMILAR TO 'a.b'", "'axb' SIMILAR TO 'a.b'",
    "'abc' ~ 'b'", "'abc' ~* 'B'", "'abc' !~ 'z'", "initcap('hello wORLD')", "lpad('7', 3, '0')",
    "rpad('ab', 4, '*')", "lpad('abcdef', 3)", "reverse('abc')", "log(100)", "log(2, 8)", "sign(-3.5)",
    "mod(7, -3)", "div(7, 2)", "div(-7, 2)", "'b' > 'B'", "'abc' < 'abd'", "btrim('  z ')",
    "EXTRACT(year FROM age(TIMESTAMP '2024-03-01', TIMESTAMP '1990-05-17'))",
    "EXTRACT(month FROM age(TIMESTAMP '2024-03-01', TIMESTAMP '1990-05-17'))",
    "EXTRACT(day FROM age(TIMESTAMP '2024-03-01', TIMESTAMP '2024-01-31'))",
    "EXTRACT(day FROM age(TIMESTAMP '2024-01-31', TIMESTAMP '2024-03-01'))",
    "EXTRACT(month FROM age(TIMESTAMP '2024-01-31', TIMESTAMP '2024-03-01'))",
    "EXTRACT(day FROM age(TIMESTAMP '2024-03-01 01:00', TIMESTAMP '2024-02-29 23:00'))",
    "EXTRACT(hour FROM age(TIMESTAMP '2024-03-01 01:00', TIMESTAMP '2024-02-29 23:00'))",
    "EXTRACT(day FROM age(TIMESTAMP '2023-03-01', TIMESTAMP '2023-01-30'))",
    "EXTRACT(epoch FROM age(TIMESTAMP '2024-03-01', TIMESTAMP '2021-01-15 10:00'))",
    "age(TIMESTAMP '2024-03-01', TIMESTAMP '2023-03-01') > INTERVAL '11 months'",
    "age(TIMESTAMP '2024-03-01', TIMESTAMP '2023-03-01') < INTERVAL '360 days'",
    "to_date('2024-03-05', 'YYYY-MM-DD')", "CAST(TIMESTAMP '2024-03-05 14:07:09.5' AS TEXT)",
    "CAST(TIMESTAMP '2024-03-05 14:07:09' AS TEXT)", "CAST(1.5 AS TEXT)", "CAST(TRUE AS TEXT)", "to_timestamp(1700000000)", "date(TIMESTAMP '2024-03-05 14:07')",
]


def _norm(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, str) and v.replace(".", "", 1).replace("-", "", 1).isdigit():
        return float(v)  # numeric arrives as text from the ADBC driver
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo is not None else v
    if isinstance(v, dt.date):  # sqlglot folds DATE - INTERVAL to a DATE literal: compare the instant
        return dt.datetime(v.year, v.month, v.day)
    return v


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.fixture(scope="module")
def pg_cursor(pg_uri: str) -> Any:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(pg_uri) as con, con.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        yield cur


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_expression_matches_postgres(expr: str, pg_cursor: Any) -> None:
    sql = f"SELECT {expr} AS v"
    pg_cursor.execute(sql)
    want = _norm(pg_cursor.fetchall()[0][0])
    tree = optimize(parse_one(sql, read="postgres"), schema={}, dialect="postgres")
    got = _norm(execute(tree, {}).column(0)[0].as_py())
    assert _same(got, want), f"{sql}: ours {got!r}, PostgreSQL {want!r}"


QUANTIFIED = [
    "SELECT x, x > ALL (SELECT y FROM s) AS a, x < ANY (SELECT y FROM s) AS b, x = ALL (SELECT y FROM s) AS c, "
    "x <> ANY (SELECT y FROM s) AS d, x = ANY (SELECT y FROM s) AS e, x <> ALL (SELECT y FROM s) AS f FROM r ORDER BY x",
]


@pytest.mark.parametrize("rows", [[1, 3], [1, None], [2, 2], [], [None]])
def test_quantified_subqueries_match_postgres(rows: list[int | None], pg_cursor: Any) -> None:
    import pyarrow as pa

    values = ", ".join(f"({'NULL::int' if v is None else v})" for v in rows)
    s_sql = f"(VALUES {values}) AS s0(y)" if rows else "(SELECT 1 AS y WHERE false) AS s0"
    pg_sql = QUANTIFIED[0].replace("FROM s", f"FROM {s_sql}").replace(
        "FROM r", "FROM (VALUES (0), (1), (2), (3), (NULL)) AS r0(x)")
    pg_cursor.execute(pg_sql)
    want = [tuple(r) for r in pg_cursor.fetchall()]
    tables = {"r": pa.table({"x": pa.array([0, 1, 2, 3, None], pa.int64())}),
              "s": pa.table({"y": pa.array(rows, pa.int64())})}
    tree = parse_one(QUANTIFIED[0], read="postgres")
    got = execute(tree, tables)
    cols = [c.to_pylist() for c in got.columns]
    assert [tuple(c[i] for c in cols) for i in range(got.num_rows)] == want


def test_interval_comparisons(pg_cursor: Any) -> None:
    sql = ("SELECT TIMESTAMP '2024-01-03' - TIMESTAMP '2024-01-01' > INTERVAL '1 day' AS a, "
           "TIMESTAMP '2024-01-03' - TIMESTAMP '2024-01-01' <= INTERVAL '36 hours' AS b")
    pg_cursor.execute(sql)
    want = list(pg_cursor.fetchall()[0])
    got = execute(optimize(parse_one(sql, read="postgres"), schema={}, dialect="postgres"), {})
    assert [c[0].as_py() for c in got.columns] == want
