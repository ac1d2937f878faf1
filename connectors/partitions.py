"""Partitioned reads: split one fragment's ScanRequest into at most N slices.

A scale-out engine (federation/engines/spark) reads each slice in its own task,
through the same ``connector.scan`` the local executor calls. The slices are
plain ScanRequests: key ranges become extra filter conjuncts (sqlglot ASTs the
connector already knows how to push), files become a ``FilePartition`` in
``ScanRequest.partition``. Guarantees:

- never more slices than the source's ``max_parallel_partitions``;
- the union of the slices is the unpartitioned read: the first range also takes
  ``key IS NULL`` and everything below the probed minimum, the last everything
  from its lower bound up, and adjacent ranges share a half-open boundary;
- a request with a LIMIT or an ORDER BY, a whole query with joins, aggregates,
  DISTINCT or windows, or a dynamic key filter is never split (its meaning would
  change); a single-table SELECT (how SQL sources receive plain scans) is split
  by adding the range conjuncts to its WHERE;
- a CRM slice gets ``1/n`` of the account's request rate (``option_overrides``),
  so n parallel tasks together stay within the declared budget.

How the bounds are found: SQL sources get one ``SELECT min(k), max(k) ... WHERE
<the fragment's filters>`` probe; API sources that sort get the first row of an
ascending and of a descending read (each with the fragment's filters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlglot import exp

if TYPE_CHECKING:
    from connectors.base import Connector, ScanRequest, TableInfo

# Options that set a CRM connector's request rate (requests per second) and their
# defaults when the YAML leaves them out (see connectors/crm/*); None: the connector
# has no client-side limit unless one is declared, so there is nothing to share.
RATE_OPTIONS: Mapping[str, Mapping[str, float | None]] = {
    "hubspot": {"rate_limit": 10.0, "search_rate_limit": 4.5},
    "salesforce": {"rate_limit": None},
    "dynamics365": {"rate_limit": None},
    "zoho": {"rate_limit": None},
    "pipedrive": {"rate_limit": None},
}


@dataclass(frozen=True)
class FilePartition:
    """Read only these files of a file table (paths as pyarrow.dataset lists them)."""

    files: tuple[str, ...]


@dataclass(frozen=True)
class Partitioning:
    """How one fragment is read in parallel."""

    requests: tuple[ScanRequest, ...]
    method: str  # "single" | "key_range" | "files"
    column: str | None = None
    bounds: tuple[Any, ...] = ()
    option_overrides: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None  # why the read is not (further) split

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": len(self.requests), "method": self.method}
        if self.column is not None:
            out["column"] = self.column
            out["bounds"] = list(self.bounds)
        if self.option_overrides:
            out["per_partition_options"] = dict(self.option_overrides)
        if self.reason:
            out["reason"] = self.reason
        return out


def declared_limit(options: Mapping[str, Any]) -> int:
    """The source's ``max_parallel_partitions`` (at least 1)."""
    try:
        return max(1, int(options.get("max_parallel_partitions") or 1))
    except (TypeError, ValueError):
        return 1


def plan_partitions(connector: Connector, source_type: str, request: ScanRequest,
                    options: Mapping[str, Any], wanted: int | None = None) -> Partitioning:
    """Split ``request`` into at most ``min(wanted, max_parallel_partitions)`` slices."""
    limit = declared_limit(options)
    n = min(limit, wanted) if wanted else limit
    single = Partitioning((request,), "single")
    if n <= 1:
        return replace(single, reason=f"max_parallel_partitions is {limit}")
    if request.query is not None:
        return _split_query(connector, source_type, request, options, n) or replace(
            single, reason="the source runs a whole query (join, aggregate, sort or limit)")
    if request.table is None:
        return replace(single, reason="no table")
    if request.limit is not None or request.order_by:
        return replace(single, reason="a LIMIT or ORDER BY must see every row")
    if request.key_filter is not None:
        return replace(single, reason="dynamic key filter")
    if source_type in ("parquet", "csv", "jsonl"):
        return _by_files(connector, request, n) or replace(single, reason="one file")
    info = _table_info(connector, request.table)
    key = _key_column(info) if info is not None else None
    if key is None:
        return replace(single, reason="no integer key column to split on")
    if connector.capabilities.dialect is not None:
        lo, hi = _probe_sql(connector, request, key)
    else:
        found = _probe_sorted(connector, request, key, info)  # type: ignore[arg-type]
        if found is None:
            return replace(single, reason=f"the API cannot filter or sort by {key} exactly")
        lo, hi = found
    bounds = _bounds(lo, hi, n)
    if not bounds:
        return replace(single, reason="no rows or one key value")
    requests = tuple(replace(request, filters=request.filters + _range(key, i, bounds)) for i in range(len(bounds) + 1))
    return Partitioning(requests, "key_range", key, bounds, _rate_share(source_type, options, len(requests)))


def _scan_of(query: exp.Expression) -> tuple[str, str] | None:
    """(table, alias) when ``query`` only projects and filters one table; else None."""
    if not isinstance(query, exp.Select):
        return None
    if any(query.args.get(k) for k in ("joins", "group", "having", "limit", "offset", "order", "distinct",
                                       "with", "qualify", "windows")):
        return None
    if any(isinstance(n, (exp.AggFunc, exp.Window, exp.Subquery, exp.Select)) for n in query.walk() if n is not query):
        return None
    source = query.args.get("from_") or query.args.get("from")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or table.args.get("db"):
        return None
    return table.name, table.alias_or_name


def _split_query(connector: Connector, source_type: str, request: ScanRequest, options: Mapping[str, Any],
                 n: int) -> Partitioning | None:
    """A single-table SELECT (what SQL sources get for a plain scan): range slices in its WHERE."""
    from connectors.base import ScanRequest as Req

    assert request.query is not None
    found = _scan_of(request.query)
    info = _table_info(connector, found[0]) if found else None
    key = _key_column(info) if info is not None else None
    if found is None or key is None:
        return None
    alias = found[1]
    col = exp.column(key, table=alias)
    probe = request.query.copy()
    probe.set("expressions", [exp.alias_(exp.Min(this=col), "lo"), exp.alias_(exp.Max(this=col.copy()), "hi")])
    rows = connector.scan(Req(output_names=("lo", "hi"), query=probe)).read_all().to_pylist()
    bounds = _bounds(rows[0]["lo"], rows[0]["hi"], n) if rows else ()
    if not bounds:
        return None

    def qualified(e: exp.Expression) -> exp.Expression:
        for c in e.find_all(exp.Column):
            c.set("table", exp.to_identifier(alias))
        return e

    requests = tuple(replace(request, query=request.query.copy().where(*[qualified(p) for p in _range(key, i, bounds)]))
                     for i in range(len(bounds) + 1))
    return Partitioning(requests, "key_range", key, bounds, _rate_share(source_type, options, len(requests)))


def _table_info(connector: Connector, table: str) -> TableInfo | None:
    return next((t for t in connector.tables() if t.name == table), None)


def _key_column(info: TableInfo) -> str | None:
    import pyarrow as pa

    ints = [c.name for c in info.columns if pa.types.is_integer(c.type)]
    for preferred in ("id", "hs_object_id"):
        if preferred in ints:
            return preferred
    return ints[0] if ints else None


def _bounds(lo: Any, hi: Any, n: int) -> tuple[int, ...]:
    """Inner boundaries b1 < ... < b(k-1) splitting [lo, hi] into at most n ranges."""
    if lo is None or hi is None:
        return ()
    lo, hi = int(lo), int(hi)
    if hi <= lo:
        return ()
    step = -(-(hi - lo + 1) // n)  # ceiling division
    return tuple(b for b in (lo + i * step for i in range(1, n)) if b <= hi)


def _range(key: str, i: int, bounds: tuple[int, ...]) -> tuple[exp.Expression, ...]:
    """Conjuncts of slice i: (-inf or NULL, b1), [b1, b2), ..., [b(k-1), +inf)."""
    col = exp.column(key)
    if i == 0:
        below = exp.LT(this=col, expression=exp.Literal.number(bounds[0]))
        return (exp.Paren(this=exp.Or(this=below, expression=exp.Is(this=col.copy(), expression=exp.Null()))),)
    ge = exp.GTE(this=col, expression=exp.Literal.number(bounds[i - 1]))
    if i == len(bounds):
        return (ge,)
    return (ge, exp.LT(this=col.copy(), expression=exp.Literal.number(bounds[i])))


def _probe_sql(connector: Connector, request: ScanRequest, key: str) -> tuple[Any, Any]:
    """One ``SELECT min(k), max(k) FROM t WHERE <filters>`` at the source."""
    from connectors.base import ScanRequest as Req

    alias = "t"

    def qualify(e: exp.Expression) -> exp.Expression:
        e = e.copy()
        for c in e.find_all(exp.Column):
            c.set("table", exp.to_identifier(alias))
        return e

    col = exp.column(key, table=alias)
    q = exp.select(exp.alias_(exp.Min(this=col), "lo"), exp.alias_(exp.Max(this=col.copy()), "hi")).from_(
        exp.Table(this=exp.to_identifier(request.table), alias=exp.TableAlias(this=exp.to_identifier(alias))))
    if request.filters:
        q = q.where(exp.and_(*[qualify(f) for f in request.filters]))
    row = connector.scan(Req(output_names=("lo", "hi"), query=q)).read_all().to_pylist()
    return (row[0]["lo"], row[0]["hi"]) if row else (None, None)


def _probe_sorted(connector: Connector, request: ScanRequest, key: str, info: TableInfo) -> tuple[Any, Any] | None:
    """API sources: the smallest and largest key through two sorted one-row reads."""
    from connectors.base import ScanRequest as Req

    if not connector.capabilities.supports_order:
        return None
    col = exp.column(key)
    for probe in (exp.GTE(this=col, expression=exp.Literal.number(0)), exp.LT(this=col, expression=exp.Literal.number(0))):
        if connector.classify(probe, info) != "exact":
            return None
    if any(connector.classify(f, info) != "exact" for f in request.filters):
        return None  # slices must not change what the source filters
    out = []
    for desc in (False, True):
        req = Req(output_names=(key,), table=request.table, columns=(key,), filters=request.filters,
                  order_by=(exp.Ordered(this=exp.column(key), desc=desc, nulls_first=False),), limit=1)
        rows = connector.scan(req).read_all().column(0).to_pylist()
        out.append(rows[0] if rows else None)
    return out[0], out[1]


def _by_files(connector: Connector, request: ScanRequest, n: int) -> Partitioning | None:
    """File tables: the files left after pruning, dealt round-robin into n slices."""
    dataset = getattr(connector, "dataset", None)
    if dataset is None:
        return None
    files = sorted(dataset(request.table).files)
    if len(files) <= 1:
        return None
    k = min(n, len(files))
    groups = [tuple(files[i::k]) for i in range(k)]
    return Partitioning(tuple(replace(request, partition=FilePartition(g)) for g in groups), "files")


def _rate_share(source_type: str, options: Mapping[str, Any], n: int) -> dict[str, float]:
    """Each of n slices may use 1/n of the account's declared request rate."""
    defaults = RATE_OPTIONS.get(source_type)
    if not defaults:
        return {}
    out: dict[str, float] = {}
    for key, default in defaults.items():
        budget = options.get(key) or default
        if budget:
            out[key] = float(budget) / n
    return out
