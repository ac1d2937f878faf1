"""Workspaces over generated rows, and DuckDB as the oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from connectors.memory import MemoryConnector
from federation.config.model import WorkspaceConfig
from federation.workspace import Workspace
from tests.models.sqlite_stub import SqliteStub, write_sqlite

TYPES: dict[str, dict[str, str]] = {
    "contacts": {"id": "INTEGER", "email": "TEXT", "lifecyclestage": "TEXT", "phone": "TEXT", "updatedat": "INTEGER"},
    "customers": {"id": "INTEGER", "email": "TEXT", "country": "TEXT", "ltv": "REAL", "phone": "TEXT",
                  "updated_at": "INTEGER"},
    "orders": {"id": "INTEGER", "email": "TEXT", "amount": "REAL", "created_at": "INTEGER"},
}
_PA = {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string()}


def arrow_table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    types = TYPES.get(name)
    if types is None:
        return pa.Table.from_pylist(rows)
    schema = pa.schema([(c, _PA[t]) for c, t in types.items()])
    return pa.Table.from_pylist(rows, schema=schema)


def make_ws(root: Path, data: dict[str, dict[str, list[dict[str, Any]]]], kind: str, entities: str) -> Workspace:
    """kind: 'memory' (every source in memory) or 'sqlite' (one SQLite file per source)."""
    cfg = WorkspaceConfig(root=root, sources={}, sections={"entities": yaml.safe_load(entities)})
    ws = Workspace(cfg)
    for source, tables in data.items():
        if kind == "memory":
            ws.add_connector(source, MemoryConnector(source, {t: arrow_table(t, rows) for t, rows in tables.items()}))
        else:
            path = root / f"{source}.db"
            if not path.exists():
                write_sqlite(path, tables, {t: TYPES[t] for t in tables})
            ws.add_connector(source, SqliteStub(source, path))
    return ws


def duck(data: dict[str, dict[str, list[dict[str, Any]]]]):  # type: ignore[no-untyped-def]
    """A DuckDB connection holding every source table as schema.table and as source_table."""
    import duckdb

    con = duckdb.connect()
    for source, tables in data.items():
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {source}")
        for t, rows in tables.items():
            tbl = arrow_table(t, rows)
            con.register("tmp_in", tbl)
            con.execute(f"CREATE TABLE {source}.{t} AS SELECT * FROM tmp_in")
            con.execute(f"CREATE TABLE {source}_{t} AS SELECT * FROM tmp_in")
            con.unregister("tmp_in")
    return con


def rows(con, sql: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def canon(items: list[dict[str, Any]]) -> list[tuple]:  # type: ignore[type-arg]
    def norm(v: Any) -> Any:
        return round(v, 9) if isinstance(v, float) else v

    return sorted((tuple((k, norm(v)) for k, v in sorted(r.items())) for r in items), key=repr)


def executor_ready() -> bool:
    """The Arrow executor (federation.execute, another package) is importable."""
    try:
        from federation.execute import execute  # noqa: F401
    except ImportError:
        return False
    return True


def executor_runs(sql: str) -> bool:
    """Whether the Arrow executor evaluates ``sql`` (a query without tables)."""
    import sqlglot

    from federation.errors import CdpError

    try:
        from federation.execute import execute

        execute(sqlglot.parse_one(sql, read="postgres"), {})
    except (ImportError, CdpError):
        return False
    return True
