"""Shared machinery of the oracle tests: build workspaces, run DuckDB, compare."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from pathlib import Path
from typing import Any

import pyarrow as pa

from tests.federation.oracle_data import write_csv, write_parquet, write_postgres, write_sqlite

COMBOS = ("sqlite_parquet", "pg_parquet", "pg_sqlite_csv")


def build_workspace(combo: str, root: Path, tables: dict[str, pa.Table], pg_uri: str | None = None,
                    pg_schema: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Write the tables to real sources; returns ({logical: source.table}, env)."""
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    data.mkdir(exist_ok=True)
    env: dict[str, str] = {}
    lines = ["sources:"]
    if combo == "sqlite_parquet":
        write_sqlite(data / "shop.db", {"customers": tables["customers"], "orders": tables["orders"]})
        write_parquet(data / "events", tables["events"], hive_by="month")
        lines += ["  shop: {type: sqlite, path: data/shop.db}",
                  "  ev: {type: parquet, path: data/events, partitioning: hive, table: events}"]
        names = {"customers": "shop.customers", "orders": "shop.orders", "events": "ev.events"}
    elif combo == "pg_parquet":
        assert pg_uri and pg_schema
        write_postgres(pg_uri, pg_schema, {"customers": tables["customers"], "orders": tables["orders"]})
        write_parquet(data / "events", tables["events"])
        env["TEST_PG_URI"] = pg_uri
        lines += [f"  wh: {{type: postgresql, uri: '${{TEST_PG_URI}}', db_schema: {pg_schema}}}",
                  "  ev: {type: parquet, path: data/events, table: events}"]
        names = {"customers": "wh.customers", "orders": "wh.orders", "events": "ev.events"}
    elif combo == "pg_sqlite_csv":
        assert pg_uri and pg_schema
        write_postgres(pg_uri, pg_schema, {"customers": tables["customers"]})
        write_sqlite(data / "shop.db", {"orders": tables["orders"]})
        write_csv(data / "events.csv", tables["events"])
        env["TEST_PG_URI"] = pg_uri
        lines += [f"  wh: {{type: postgresql, uri: '${{TEST_PG_URI}}', db_schema: {pg_schema}}}",
                  "  shop: {type: sqlite, path: data/shop.db}",
                  "  ev: {type: csv, path: data/events.csv, table: events}"]
        names = {"customers": "wh.customers", "orders": "shop.orders", "events": "ev.events"}
    else:
        raise ValueError(combo)
    (root / "sources.yaml").write_text("\n".join(lines) + "\n")
    return names, env


def duckdb_answer(sql: str, tables: dict[str, pa.Table]) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, t in tables.items():
        con.register(name, t)
    return con.sql(sql).to_arrow_table().to_pylist()


def _norm(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return v  # keep floats floats; ints compare equal anyway
    return v


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for v in row:
        if isinstance(v, float):
            v = round(v, 6)
        out.append((v is None, str(type(v).__name__) if v is not None else "", v if v is not None else 0))
    return tuple((a, str(c)) if not isinstance(c, (int, float)) else (a, c) for a, _, c in out)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def assert_same_rows(got: pa.Table | list[dict[str, Any]], want: list[dict[str, Any]], ordered: bool) -> None:
    got_rows = got.to_pylist() if isinstance(got, pa.Table) else got
    g = [tuple(_norm(v) for v in r.values()) for r in got_rows]
    w = [tuple(_norm(v) for v in r.values()) for r in want]
    assert len(g) == len(w), f"{len(g)} rows, oracle has {len(w)}"
    if not ordered:
        g, w = sorted(g, key=_key), sorted(w, key=_key)
    for i, (x, y) in enumerate(zip(g, w)):
        assert len(x) == len(y), f"row {i}: {len(x)} columns, oracle has {len(y)}"
        assert all(_same(a, b) for a, b in zip(x, y)), f"row {i}: {x} != oracle {y}"


def combo_workspace(request, tmp_path_factory, tables: dict[str, pa.Table]):  # type: ignore[no-untyped-def]
    """For a module fixture parametrized over COMBOS: (combo, Workspace, names); close the Workspace after."""
    from federation import Workspace

    combo = request.param
    pg_uri = pg_schema = None
    if combo.startswith("pg"):
        pg_uri = request.getfixturevalue("pg_uri")
        pg_schema = request.getfixturevalue("pg_schema")
    root = tmp_path_factory.mktemp(combo)
    names, env = build_workspace(combo, root, tables, pg_uri, pg_schema)
    return combo, Workspace.load(root, env=env), names
