"""A connector over in-memory Arrow tables.

The unified model serves tables it computes in Arrow (identity clusters, the
"why merged" trace) through it; tests use it as a stand-in source. Filters
that map exactly onto pyarrow compute expressions are applied here (``exact``);
anything else is left to the engine (``unsupported``).

>>> import pyarrow as pa
>>> conn = MemoryConnector("_model", {"t": pa.table({"x": [1, 2]})})
>>> ws.add_connector("_model", conn)   # SQL now reads _model.t
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connectors.base import Capabilities, Column, NativeRequest, Pushdown, ScanRequest, TableInfo

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    from sqlglot import exp

_COMPARE = {"EQ": "__eq__", "NEQ": "__ne__", "GT": "__gt__", "GTE": "__ge__", "LT": "__lt__", "LTE": "__le__"}


class MemoryConnector:
    """Tables held in memory, addressed as ``<name>.<table>``. Thread-safe replace."""

    source_type = "memory"

    def __init__(self, name: str, tables: Mapping[str, pa.Table] | None = None) -> None:
        self.name = name
        self.capabilities = Capabilities(dialect=None, supports_filter=True, supports_limit=True)
        self._tables: dict[str, pa.Table] = {k.lower(): v for k, v in (tables or {}).items()}
        self._lock = threading.Lock()

    def set_table(self, name: str, table: pa.Table) -> None:
        """Add or replace a table (the caller re-registers the connector to drop cached schemas)."""
        with self._lock:
            self._tables[name.lower()] = table

    def get_table(self, name: str) -> pa.Table:
        with self._lock:
            return self._tables[name.lower()]

    def tables(self) -> list[TableInfo]:
        with self._lock:
            items = list(self._tables.items())
        return [
            TableInfo(name=n, native_name=n, row_estimate=t.num_rows,
                      columns=tuple(Column(f.name.lower(), f.type, f.name) for f in t.schema))
            for n, t in items
        ]

    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        import pyarrow as pa

        try:
            expr = _to_arrow(predicate, table)
            # a type mismatch (text column vs number) only shows when evaluated: probe empty data
            pa.table({c.native_name: pa.array([], type=c.type) for c in table.columns}).filter(expr)
        except (_NotExact, pa.ArrowException, TypeError, ValueError):
            return "unsupported"
        return "exact"

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        return False

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        detail: dict[str, Any] = {"table": request.table, "columns": list(request.columns)}
        if request.filters:
            detail["filters"] = [f.sql(dialect="postgres") for f in request.filters]
        if request.limit is not None:
            detail["limit"] = request.limit
        return [NativeRequest(kind="file", detail={"memory": detail})]

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        table = self.get_table(request.table or "")
        info = next(t for t in self.tables() if t.name == (request.table or "").lower())
        if request.filters:
            cond = None
            for f in request.filters:
                e = _to_arrow(f, info)
                cond = e if cond is None else (cond & e)
            table = table.filter(cond)
        natives = [info.column(c).native_name for c in request.columns]  # type: ignore[union-attr]
        table = table.select(natives).rename_columns(list(request.output_names))
        if request.limit is not None:
            table = table.slice(0, request.limit)
        return table.to_reader()

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None


class _NotExact(Exception):
    pass


def _to_arrow(node: exp.Expression, info: TableInfo) -> pc.Expression:
    """sqlglot predicate → pyarrow expression with the same SQL (three-valued) meaning."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _to_arrow(node.this, info)
    if isinstance(node, exp.And):
        return _to_arrow(node.this, info) & _to_arrow(node.expression, info)  # Kleene
    if isinstance(node, exp.Or):
        return _to_arrow(node.this, info) | _to_arrow(node.expression, info)
    if isinstance(node, exp.Not):
        inner = node.this
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return ~_operand(inner.this, info).is_null()
        return ~_to_arrow(inner, info)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return _operand(node.this, info).is_null()
    name = type(node).__name__.upper()
    if name in _COMPARE:
        left, right = _operand(node.this, info), _operand(node.expression, info)
        return getattr(left, _COMPARE[name])(right)
    if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("unnest"):
        values = [_literal(v) for v in node.expressions]
        if any(v is None for v in values):
            raise _NotExact  # x IN (..., NULL) is NULL, not false, when x is absent
        field = _operand(node.this, info)
        # is_in returns false for a NULL x where SQL says NULL; filtering drops both.
        return pc.if_else(field.is_null(), pc.scalar(pa.scalar(None, pa.bool_())), field.isin(values))
    raise _NotExact


def _operand(node: exp.Expression, info: TableInfo) -> pc.Expression:
    import pyarrow as pa
    import pyarrow.compute as pc
    from sqlglot import exp

    if isinstance(node, exp.Column):
        col = info.column(node.name)
        if col is None:
            raise _NotExact
        return pc.field(col.native_name)
    value = _literal(node)
    if value is None or isinstance(value, bool):
        raise _NotExact
    return pc.scalar(pa.scalar(value))


def _literal(node: exp.Expression) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        v = _literal(node.this)
        return -v
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(ch in text for ch in ".eE") else int(text)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    raise _NotExact
