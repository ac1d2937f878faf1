"""The catalog: every ``source.table`` the workspace exposes, discovered lazily.

Only the sources a query names are discovered, so a query over files never
waits on a CRM's metadata endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from federation.errors import QueryError, SourceError, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from connectors.base import Connector, TableInfo


def sql_type(t: pa.DataType) -> exp.DataType:
    """The SQL type sqlglot should assume for an Arrow column (drives type annotation)."""
    return _sql_type(t).copy()  # callers may change it; the cached one stays as built


def sql_type_text(t: pa.DataType) -> str:
    """``sql_type(t)`` as PostgreSQL text, the form sqlglot's schemas take."""
    return _sql_type_text(t)


@lru_cache(maxsize=1024)
def _sql_type_text(t: pa.DataType) -> str:
    return _sql_type(t).sql(dialect="postgres")


# Building a DataType parses its name: cached per Arrow type, as every plan (and
# every pushed query's type annotation) asks for the same few types again.
@lru_cache(maxsize=1024)
def _sql_type(t: pa.DataType) -> exp.DataType:
    import pyarrow as pa
    from sqlglot import exp

    if pa.types.is_dictionary(t):
        t = t.value_type
    checks: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_boolean, "BOOLEAN"),
        (pa.types.is_int8, "SMALLINT"),
        (pa.types.is_int16, "SMALLINT"),
        (pa.types.is_int32, "INT"),
        (pa.types.is_integer, "BIGINT"),
        (pa.types.is_floating, "DOUBLE"),
        (pa.types.is_date, "DATE"),
        (pa.types.is_time, "TIME"),
        (pa.types.is_binary, "BYTEA"),
        (pa.types.is_large_binary, "BYTEA"),
    ]
    for check, name in checks:
        if check(t):
            return exp.DataType.build(name)
    if pa.types.is_decimal(t):
        return exp.DataType.build(f"DECIMAL({t.precision}, {t.scale})")
    if pa.types.is_timestamp(t):
        return exp.DataType.build("TIMESTAMPTZ" if t.tz else "TIMESTAMP")
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = _sql_type_text(t.value_type)
        return exp.DataType.build(f"{inner}[]", dialect="postgres")
    return exp.DataType.build("TEXT")


class Catalog:
    """Source name → connector, and discovered tables, cached for the workspace's life."""

    def __init__(self, connectors: Callable[[str], Connector], source_names: list[str]) -> None:
        self._connector = connectors
        self.source_names = list(source_names)
        self._tables: dict[str, dict[str, TableInfo]] = {}
        # (source, table) -> (the TableInfo it was built from, {column: SQL type})
        self._column_types: dict[tuple[str, str], tuple[TableInfo, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def forget(self, source: str) -> None:
        """Drop cached discovery for ``source`` (its tables changed)."""
        with self._lock:
            self._tables.pop(source, None)
            for key in [k for k in self._column_types if k[0] == source]:
                del self._column_types[key]

    def connector(self, source: str) -> Connector:
        return self._connector(source)

    def tables(self, source: str) -> dict[str, TableInfo]:
        with self._lock:
            if source not in self._tables:
                try:
                    found = self.connector(source).tables()
                except SourceError:
                    raise
                except Exception as e:  # a driver's own error: keep its text, add where
                    raise SourceError(source, f"schema discovery failed: {type(e).__name__}: {e}") from e
                self._tables[source] = {t.name.lower(): t for t in found}
            return self._tables[source]

    def table(self, source: str, name: str, *, sql: str | None = None, node: exp.Expression | None = None) -> TableInfo:
        from federation.sqlfront import node_position

        where = node_position(sql, node) if sql and node is not None else None
        pos, length = where if where else (None, 1)
        if source not in self.source_names:
            raise QueryError(
                f"unknown source '{source}'",
                sql=sql,
                position=pos,
                length=length,
                hint=did_you_mean(source, self.source_names)
                or f"Sources in this workspace: {', '.join(self.source_names) or '(none)'}.",
            )
        tables = self.tables(source)
        info = tables.get(name.lower())
        if info is None:
            names = [f"{source}.{t}" for t in tables]
            hint = did_you_mean(f"{source}.{name}", names)
            raise QueryError(
                f"table '{source}.{name}' does not exist",
                sql=sql,
                position=pos,
                length=length,
                hint=hint or f"Tables of '{source}': {', '.join(sorted(tables)) or '(none)'}.",
            )
        return info

    def schema_for(self, refs: set[tuple[str, str]]) -> dict[str, dict[str, dict[str, str]]]:
        """A sqlglot MappingSchema dict {source: {table: {column: type}}} for these tables."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for source, name in sorted(refs):
            info = self.tables(source)[name.lower()]
            out.setdefault(source, {})[info.name] = dict(self._types_of(source, info))
        return out

    def _types_of(self, source: str, info: TableInfo) -> dict[str, str]:
        """{column: SQL type} of a discovered table, built once per TableInfo."""
        key = (source, info.name.lower())
        cached = self._column_types.get(key)
        if cached is None or cached[0] is not info:
            cached = (info, {c.name: sql_type_text(c.type) for c in info.columns})
            self._column_types[key] = cached
        return cached[1]
