"""The connector protocol: one small interface every source kind implements.

The planner decides what to push down; a connector only states what it can take
(``Capabilities`` as data, ``classify`` per predicate) and answers a
``ScanRequest`` with a ``pyarrow.RecordBatchReader``.

Names: every table and column a connector exposes has an SQL name (lower case,
what users type) and a ``native_name`` (the exact spelling the source needs).
Requests always use SQL names; the connector maps them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

# How a source handles one conjunct of a WHERE clause (DataFusion's three values):
# exact: pushed and fully applied by the source; inexact: pushed, but the source may
# return extra rows (case-insensitive, tokenised), so the engine re-checks it;
# unsupported: the engine applies it after the fetch.
Pushdown = Literal["exact", "inexact", "unsupported"]


@dataclass(frozen=True)
class Column:
    name: str  # SQL name (lower case unless the source needs otherwise)
    type: pa.DataType
    native_name: str
    nullable: bool = True
    description: str | None = None


@dataclass(frozen=True)
class TableInfo:
    name: str  # SQL name, addressed as source.name
    native_name: str
    columns: tuple[Column, ...]
    row_estimate: int | None = None
    description: str | None = None

    def column(self, name: str) -> Column | None:
        low = name.lower()
        for c in self.columns:
            if c.name == name or c.name.lower() == low:
                return c
        return None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Capabilities:
    """What a source can do, as data. The planner reads these; nothing raises."""

    dialect: str | None = None  # sqlglot dialect when the source speaks SQL
    supports_projection: bool = True
    supports_filter: bool = True
    supports_limit: bool = True
    supports_order: bool = False
    supports_aggregation: bool = False
    supports_joins: bool = False
    supports_windows: bool = False
    # For API sources: which operators each column takes ("=", "<", "in", "is_null", ...).
    # None means "ask classify()".
    filter_operators: Mapping[str, frozenset[str]] | None = None
    max_page_size: int | None = None
    max_parallel_partitions: int = 1
    # largest key list a dynamic filter may inline in one request (issue 6)
    max_in_list: int | None = None


@dataclass(frozen=True)
class KeyFilter:
    """Dynamic filter: only rows whose ``column`` is in ``keys`` are needed."""

    column: str
    keys: pa.Array


@dataclass(frozen=True)
class ScanRequest:
    """What the planner asks one source for.

    Simple scans fill ``table``, ``columns``, ``filters``, ``order_by`` and
    ``limit``. SQL sources may instead get ``query``: a whole SELECT over their own
    tables (joins, aggregates, windows), in sqlglot's canonical AST with tables
    as ``exp.Table(this=<sql name>)`` (no db part) and columns qualified by the
    table alias. ``output_names`` are the result columns, in order.

    Filters are conjuncts whose column references are unqualified
    ``exp.Column``s naming the table's SQL columns.
    """

    output_names: tuple[str, ...]
    table: str | None = None
    columns: tuple[str, ...] = ()
    filters: tuple[exp.Expression, ...] = ()
    order_by: tuple[exp.Ordered, ...] = ()
    limit: int | None = None
    query: exp.Select | exp.Union | None = None
    key_filter: KeyFilter | None = None
    # One slice of a partitioned read (connectors/partitions.py), e.g. a FilePartition;
    # None reads everything. Connectors that cannot honour a kind never receive it.
    partition: object | None = None


@dataclass(frozen=True)
class NativeRequest:
    """What a source receives, for ``explain``: SQL text or HTTP requests.

    Secrets are already masked. ``detail`` holds extras (parameters, estimated
    request count, pages)."""

    kind: Literal["sql", "http", "file"]
    text: str | None = None  # SQL text
    method: str | None = None
    path: str | None = None
    body: Any = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for k in ("text", "method", "path", "body"):
            v = getattr(self, k)
            if v is not None:
                out["sql" if k == "text" else k] = v
        if self.detail:
            out.update(dict(self.detail))
        return out


@runtime_checkable
class Connector(Protocol):
    """One source. Built by ``connectors.registry.create`` from a SourceConfig."""

    name: str
    capabilities: Capabilities

    def tables(self) -> list[TableInfo]:
        """Discover the exposed tables (cached by the connector after the first call)."""
        ...

    def classify(self, predicate: exp.Expression, table: TableInfo) -> Pushdown:
        """Can this conjunct (unqualified columns of ``table``) be applied by the source?"""
        ...

    def accepts(self, query: exp.Select | exp.Union) -> bool:
        """SQL sources: can this whole query (see ScanRequest.query) run at the source?"""
        ...

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        """What ``scan(request)`` would send, secrets masked (used by explain)."""
        ...

    def scan(self, request: ScanRequest) -> pa.RecordBatchReader:
        """Fetch. Column names of the result are ``request.output_names``."""
        ...

    def check(self) -> None:
        """Connectivity and auth check; raises SourceError."""
        ...

    def close(self) -> None: ...
