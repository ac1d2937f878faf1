"""Dynamic filtering at run time: fetch the selective side, then push its keys.

The planner finds the candidate edges (federation/rules/dynamic_filter.py);
this module decides from what it sees: a fragment waits for a build side only
when that side is more selective (filtered, aggregated or limited at its
source, or much smaller by the source's row estimate), and uses the keys only
when there are few enough for the probe source (its ``max_in_list``).
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


def _selective(frag: Fragment) -> bool:
    p = frag.pushed
    return bool(p.filters) or p.aggregate or p.limit is not None


def _estimate(catalog: Catalog, frag: Fragment) -> int | None:
    if frag.request.table is None:
        return None
    try:
        return catalog.tables(frag.source)[frag.request.table].row_estimate
    except Exception:  # estimates are hints; discovery errors surface elsewhere
        return None


def _waits(catalog: Catalog, build: Fragment, probe: Fragment) -> bool:
    if _selective(build) and not _selective(probe):
        return True
    eb, ep = _estimate(catalog, build), _estimate(catalog, probe)
    return eb is not None and ep is not None and eb * 10 < ep


def schedule(catalog: Catalog, plan: Plan) -> tuple[list[Fragment], list[tuple[Fragment, list[Edge]]]]:
    """(fetch now, fetch after with these candidate edges)."""
    by_id = {f.id: f for f in plan.fragments}
    edges = find_edges(plan.residual)
    waiting: dict[str, list[Edge]] = {}
    for e in edges:
        b, p = by_id.get(e.build), by_id.get(e.probe)
        if b is None or p is None or p.request.key_filter is not None:
            continue
        if _waits(catalog, b, p):
            waiting.setdefault(p.id, []).append(e)
    # a build that itself waits would need a third wave: keep two
    for pid in list(waiting):
        waiting[pid] = [e for e in waiting[pid] if e.build not in waiting]
        if not waiting[pid]:
            del waiting[pid]
    first = [f for f in plan.fragments if f.id not in waiting]
    later = [(by_id[pid], es) for pid, es in waiting.items()]
    return first, later


def apply_keys(catalog: Catalog, frag: Fragment, edges: list[Edge], fetched: dict[str, pa.Table],
               stats: FragmentStats) -> Fragment:
    """The fragment with the smallest usable key set attached, or unchanged."""
    import pyarrow.compute as pc

    from connectors.base import KeyFilter

    limit = catalog.connector(frag.source).capabilities.max_in_list or DEFAULT_MAX_KEYS
    best = None
    for e in edges:
        table = fetched.get(e.build)
        if table is None or e.build_column not in table.column_names:
            continue
        keys = pc.unique(table.column(e.build_column).combine_chunks()).drop_null()
        if best is None or len(keys) < len(best[1]):
            best = (e, keys)
    if best is None:
        return frag
    edge, keys = best
    decision: dict[str, object] = {"from": edge.build, "column": edge.probe_column, "keys": len(keys)}
    if len(keys) > limit:
        decision["used"] = False
        decision["reason"] = f"{len(keys)} keys is over this source's limit of {limit}"
        stats.dynamic_filter = decision
        return frag
    decision["used"] = True
    stats.dynamic_filter = decision
    request = dataclasses.replace(frag.request, key_filter=KeyFilter(edge.probe_column, keys))
    return dataclasses.replace(frag, request=request)
