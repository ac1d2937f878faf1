"""Run a query through optimize + execute and through DuckDB; compare the rows."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import pyarrow as pa
from sqlglot import parse_one
from sqlglot.optimizer import optimize

from federation.execute import execute
from tests.execute.data import schema_of


def run_ours(sql: str, tables: dict[str, pa.Table], isolated: bool = False) -> pa.Table:
    """``isolated``: the planner's shape, one CTE per physical table (leave_tables_isolated)."""
    tree = optimize(parse_one(sql, read="postgres"), schema=schema_of(tables), dialect="postgres",
                    leave_tables_isolated=isolated)
    return execute(tree, tables)


_CONNECTIONS: dict[int, Any] = {}


def _connection(tables: dict[str, pa.Table]) -> Any:
    """One DuckDB connection per table set (module-level dicts live for the session)."""
    import duckdb

    con = _CONNECTIONS.get(id(tables))
    if con is None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for name, t in tables.items():
            con.register(name, t)
        _CONNECTIONS[id(tables)] = con
    return con


def run_duckdb(sql: str, tables: dict[str, pa.Table]) -> list[tuple[Any, ...]]:
    result = _connection(tables).sql(sql).to_arrow_table()
    cols = [c.to_pylist() for c in result.columns]
    return [tuple(c[i] for c in cols) for i in range(result.num_rows)]


def norm(v: Any) -> Any:
    """One comparable form: floats for numerics, naive UTC datetimes, dates as midnight."""
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return v


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for v in row:
        if v is None:
            out.append((0, ""))
        elif isinstance(v, float):
            out.append((1, f"{v:.9g}" if math.isfinite(v) else repr(v)))
        else:
            out.append((2, type(v).__name__ + repr(v)))
    return tuple(out)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    cols = [c.to_pylist() for c in table.columns]
    return [tuple(norm(c[i]) for c in cols) for i in range(table.num_rows)]


def assert_same(ours: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]], ordered: bool, sql: str) -> None:
    theirs = [tuple(norm(v) for v in r) for r in theirs]
    assert len(ours) == len(theirs), f"{sql}\nrow count {len(ours)} != duckdb {len(theirs)}"
    if not ordered:
        ours, theirs = sorted(ours, key=_key), sorted(theirs, key=_key)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)), \
            f"{sql}\nrow {i}: ours {a} != duckdb {b}"


def optimized(sql: str, tables: dict[str, pa.Table]) -> Any:
    return optimize(parse_one(sql, read="postgres"), schema=schema_of(tables), dialect="postgres")


def check(sql: str, tables: dict[str, pa.Table], duck_sql: str | None = None, same_tree: bool = False,
          isolated: bool = False) -> pa.Table:
    """``same_tree``: give DuckDB the optimized tree too, so only the executor is under test
    (sqlglot's own rewrites are then out of the comparison)."""
    ours = run_ours(sql, tables, isolated)
    ordered = parse_one(sql, read="postgres").args.get("order") is not None
    if same_tree:
        duck_sql = optimized(sql, tables).sql(dialect="duckdb")
    assert_same(rows_of(ours), run_duckdb(duck_sql or sql, tables), ordered, sql)
    return ours
