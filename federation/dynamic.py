"""Dynamic filtering at run time: fetch the selective side, then push its keys.

The planner finds the candidate edges (federation/rules/dynamic_filter.py);
this module decides from what it sees. A probe whose join partner is likely
much smaller (row estimates cut by the pushed filters, or a filtered side
against an unfiltered one) waits for that partner (at most WAIT_SECONDS), then
sends its keys when there are few enough for the probe's source (its
``max_in_list``); every other fragment starts at once.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from federation.rules.dynamic_filter import Edge, find_edges

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.catalog import Catalog
    from federation.plan import Fragment, Plan
    from federation.run import FragmentStats

DEFAULT_MAX_KEYS = 50_000
# How long a probe waits for its likely-smaller partner's keys. The answer needs the
# partner anyway, so waiting costs at most the probe's own read after it; not
# waiting costs the probe's whole table. 2 s was too short for rate-limited APIs:
# on the bench, 2,207 HubSpot contacts (12 searches at 5/s) took 2.6 s, and
# PostgreSQL then sent 154,647 rows instead of the few hundred matching the keys.
WAIT_SECONDS = 10.0
# A table scan needing more keys than one request takes sends them in chunks, each
# a request of its own (rows of different chunks never overlap: keys are unique).
# Past this many requests a plain scan, reduced as its rows arrive, is cheaper.
MAX_KEY_BATCHES = 20
# A file scan reads every row group whatever the keys (they are rarely clustered by
# key): keys only save materialising rows. Measured on 10M Parquet events (bench/):
# with a pushed filter already cutting them to 500k rows, adding 2,004 keys was
# slower (0.84 s against 0.71 s); with no filter (10M rows), 1,527 keys kept the
# time (0.87 s against 0.77-1.7 s) and spared holding 10M rows. So files are
# reduced only when nothing else was pushed into their scan.
FILE_SOURCES = frozenset({"parquet", "csv", "jsonl"})


def _selective(frag: Fragment) -> bool:
    p = frag.pushed
    return bool(p.filters) or p.aggregate or p.limit is not None


def estimate(catalog: Catalog, frag: Fragment) -> float | None:
    """Rows the fragment may return: the table's row estimate, cut by a classic
    (System R) guess of 1/10 per pushed filter, floored at 1/1000."""
    table = frag.request.table
    if table is None:
        # a whole query pushed to its source: estimable when it filters one table
        if len(frag.tables) != 1 or frag.pushed.aggregate or frag.pushed.join:
            return None
        table = frag.tables[0]
    try:
        rows = catalog.tables(frag.source)[table].row_estimate
    except Exception:  # estimates are hints; discovery errors surface elsewhere
        return None
    if rows is None:
        return None
    return rows * max(0.1 ** len(frag.pushed.filters), 1e-3)


def size_hint(catalog: Catalog, frag: Fragment) -> float:
    """``estimate`` for ordering fragments by size: -1 when unknown."""
    e = estimate(catalog, frag)
    return -1.0 if e is None else e


def build_side(catalog: Catalog, a: Fragment, b: Fragment) -> bool:
    """Is ``a`` the likely smaller side of a join with ``b``?"""
    ea, eb = estimate(catalog, a), estimate(catalog, b)
    if ea is not None and eb is not None:
        return ea * 4 <= eb
    return _selective(a) and not _selective(b)


def probes(catalog: Catalog, plan: Plan) -> dict[str, tuple[Fragment, list[Edge]]]:
    """Fragments whose fetch may shrink once their likely-smaller join partners are in."""
    by_id = {f.id: f for f in plan.fragments}
    waiting: dict[str, list[Edge]] = {}
    for e in find_edges(plan.residual):
        b, p = by_id.get(e.build), by_id.get(e.probe)
        if b is None or p is None or p.request.key_filter is not None:
            continue
        if p.source_type in FILE_SOURCES and p.pushed.filters:
            continue
        if build_side(catalog, b, p):
            waiting.setdefault(p.id, []).append(e)
    # a build that is itself reduced would need a third wave: keep two
    out: dict[str, tuple[Fragment, list[Edge]]] = {}
    for pid, edges in waiting.items():
        kept = [e for e in edges if e.build not in waiting]
        if kept:
            out[pid] = (by_id[pid], kept)
    return out


def late_edges(plan: Plan, waiting: dict[str, tuple[Fragment, list[Edge]]]) -> dict[str, list[Edge]]:
    """Edges applied to a probe's rows as they arrive: the probe starts at once and,
    from the moment a partner has finished, drops rows whose key is not among that
    partner's keys (also over the rows read before, when it ends, waiting for a
    partner ranked before it by ``late_rank``). Both directions of a pair are kept.
    Sources that cannot take keys (or not that many) and file scans are reduced so."""
    ids = {f.id for f in plan.fragments}
    out: dict[str, list[Edge]] = {}
    for e in find_edges(plan.residual):
        if e.build not in ids or e.probe not in ids:
            continue
        if e.probe in waiting and any(w.build == e.build for w in waiting[e.probe][1]):
            continue  # the probe waits for this partner and says what it did with its keys
        out.setdefault(e.probe, []).append(e)
    return out


def late_rank(catalog: Catalog, plan: Plan) -> dict[str, tuple[float, int, str]]:
    """A total order of fragments, likely-smallest first: a probe may wait at its end
    only for partners ranked before it, so the waits never form a cycle."""
    out = {}
    for f in plan.fragments:
        est = estimate(catalog, f)
        out[f.id] = (est if est is not None else float("inf"), 0 if _selective(f) else 1, f.id)
    return out


def keys_of(table: pa.Table, column: str) -> pa.Array:
    import pyarrow.compute as pc

    return pc.unique(table.column(column).combine_chunks()).drop_null()


def semi_reduce(rows: pa.RecordBatch | pa.Table, column: str, keys: pa.Array) -> pa.RecordBatch | pa.Table | None:
    """``rows`` whose ``column`` is among ``keys`` (NULL never is), or None when the
    two sides' types differ in kind: then the join's own cast decides what matches."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def kind(t: pa.DataType) -> str | None:
        if pa.types.is_integer(t):
            return "int"
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return "text"
        return None

    target = rows.schema.field(column).type
    if keys.type != target:
        if kind(keys.type) is None or kind(keys.type) != kind(target):
            return None
        try:
            keys = keys.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # e.g. a key too large for the probe's narrower integer: it matches nothing there anyway
    return rows.filter(pc.is_in(rows.column(column), value_set=keys))


def apply_keys(catalog: Catalog, frag: Fragment, edges: list[Edge], fetched: dict[str, pa.Table],
               stats: FragmentStats) -> list[Fragment]:
    """The fragment with the smallest usable key set attached: one fragment, or one
    per chunk of at most the source's ``max_in_list`` keys when a table scan needs a
    few more keys than one request takes (at most MAX_KEY_BATCHES requests). Keys
    are a hint a source may ignore, so the runner checks each chunk's rows against
    its own keys (else chunks would repeat rows). The fragment unchanged when keys
    cannot help."""
    from connectors.base import KeyFilter

    limit = catalog.connector(frag.source).capabilities.max_in_list or DEFAULT_MAX_KEYS
    best = None
    for e in edges:
        table = fetched.get(e.build)
        if table is None or e.build_column not in table.column_names:
            continue
        keys = keys_of(table, e.build_column)
        if best is None or len(keys) < len(best[1]):
            best = (e, keys)
    if best is None:
        return [frag]
    edge, keys = best
    decision: dict[str, object] = {"from": edge.build, "column": edge.probe_column, "keys": len(keys)}
    stats.dynamic_filter = decision
    chunks = max(1, -(-len(keys) // limit))
    if chunks > 1 and (frag.request.limit is not None or chunks > MAX_KEY_BATCHES):
        decision["used"] = False
        decision["reason"] = f"{len(keys)} keys is over this source's limit of {limit}"
        ranged = _as_range(catalog, frag, edge.probe_column, keys)
        if ranged is None:
            return [frag]
        decision["range"] = [_plain(ranged[1]), _plain(ranged[2])]
        return [ranged[0]]
    decision["used"] = True
    if chunks > 1:
        decision["batches"] = chunks
    return [dataclasses.replace(frag, request=dataclasses.replace(
        frag.request, key_filter=KeyFilter(edge.probe_column, keys.slice(i * limit, limit)))) for i in range(chunks)]


def _plain(v: object) -> object:
    return v.isoformat() if hasattr(v, "isoformat") else v


def _as_range(catalog: Catalog, frag: Fragment, column: str, keys: pa.Array) -> tuple[Fragment, object, object] | None:
    """Too many keys for the source: send their min/max as a range filter when the
    source takes one (a hint; the rows are cut to the exact keys as they arrive)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from sqlglot import exp

    req = frag.request
    if req.limit is not None or column not in req.output_names or not len(keys):
        return None
    if not (pa.types.is_integer(keys.type) or pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        return None
    bounds = pc.min_max(keys)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    conn = catalog.connector(frag.source)

    def between(col: exp.Expression) -> list[exp.Expression]:
        return [exp.GTE(this=col.copy(), expression=exp.convert(lo)), exp.LTE(this=col.copy(), expression=exp.convert(hi))]

    if req.query is not None:  # a whole query at a SQL source: filter its output
        if conn.capabilities.dialect is None:
            return None
        names = list(req.output_names)
        wrapped = (exp.select(*[exp.alias_(exp.column(n, table="__r", quoted=True), n, quoted=True) for n in names])
                   .from_(req.query.subquery("__r"))
                   .where(*between(exp.column(column, table="__r", quoted=True))))
        if not conn.accepts(wrapped):
            return None
        return dataclasses.replace(frag, request=dataclasses.replace(req, query=wrapped)), lo, hi
    if req.table is None:
        return None
    col = req.columns[req.output_names.index(column)] if len(req.columns) == len(req.output_names) else column
    try:
        info = catalog.tables(frag.source)[req.table]
    except Exception:  # a hint: without the table's description, no range
        return None
    conds = between(exp.column(col))
    if any(conn.classify(c, info) == "unsupported" for c in conds):
        return None
    request = dataclasses.replace(req, filters=tuple(req.filters) + tuple(conds))
    return dataclasses.replace(frag, request=request), lo, hi
