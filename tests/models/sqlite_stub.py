"""A small SQL connector over a real SQLite file (stdlib sqlite3), for the model's
placement tests until connectors/adbc lands: it speaks the ``sqlite`` dialect,
accepts whole queries and records every SQL text it ran."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from connectors.base import Capabilities, Column, NativeRequest, ScanRequest, TableInfo


def write_sqlite(path: Path, tables: dict[str, list[dict[str, Any]]], types: dict[str, dict[str, str]]) -> None:
    con = sqlite3.connect(path)
    for name, rows in tables.items():
        cols = types[name]
        con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in cols.items())})")
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in cols)})",
                        [tuple(r[c] for c in cols) for r in rows])
    con.commit()
    con.close()


_ARROW = {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string()}


class SqliteStub:
    source_type = "sqlite"

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.capabilities = Capabilities(dialect="sqlite", supports_order=True, supports_aggregation=True,
                                         supports_joins=True, supports_windows=True)
        self.sent: list[str] = []

    def tables(self) -> list[TableInfo]:
        con = sqlite3.connect(self.path)
        out = []
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            cols = tuple(Column(r[1].lower(), _ARROW.get(r[2].upper(), pa.string()), r[1])
                         for r in con.execute(f"PRAGMA table_info({name})"))
            out.append(TableInfo(name=name.lower(), native_name=name, columns=cols))
        con.close()
        return out

    def classify(self, predicate: exp.Expression, table: TableInfo) -> str:
        return "exact"

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        return query.find(exp.MD5) is None  # SQLite has no md5()

    def _sql(self, request: ScanRequest) -> str:
        if request.query is not None:
            return request.query.sql(dialect="sqlite")
        sel = exp.select(*[exp.column(c, quoted=True) for c in request.columns]).from_(
            exp.Table(this=exp.to_identifier(request.table)))
        for f in request.filters:
            sel = sel.where(f, copy=False)
        if request.limit is not None:
            sel = sel.limit(request.limit)
        return sel.sql(dialect="sqlite")

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        return [NativeRequest(kind="sql", text=self._sql(request))]

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        sql = self._sql(request)
        self.sent.append(sql)
        con = sqlite3.connect(self.path)
        cur = con.execute(sql)
        rows = cur.fetchall()
        con.close()
        names = list(request.output_names)
        cols = list(zip(*rows)) if rows else [[] for _ in names]
        return pa.table({n: pa.array(list(c)) if rows else pa.array([], pa.string()) for n, c in zip(names, cols)}).to_reader()

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None
