"""The explain document: one stable JSON shape, and its text rendering.

Shape (documented in the README)::

    {"query": str, "dialect": str,
     "fragments": [{"id", "source", "source_type", "tables", "request", "pushed",
                    "residual_filters", "analyze"?: {"rows", "bytes", "seconds"}}],
     "arrow": {"sql": str | null, "operations": [str]},
     "model"?: {"notes": [str], "pruned": {entity: [source]}},
     "analyze"?: {"seconds", "rows", "arrow_seconds"}}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlglot import exp

if TYPE_CHECKING:
    from federation.catalog import Catalog
    from federation.plan import Plan
    from federation.run import RunStats


def operations(residual: exp.Expression | None) -> list[str]:
    """What the Arrow side does, in words a reader of explain expects."""
    if residual is None:
        return []
    ops: list[str] = []

    def add(name: str) -> None:
        if name not in ops:
            ops.append(name)

    for node in residual.walk():
        if isinstance(node, exp.Join):
            add("join")
        elif isinstance(node, exp.Where):
            add("filter")
        elif isinstance(node, exp.Group) or isinstance(node, exp.AggFunc):
            add("aggregate")
        elif isinstance(node, exp.Having):
            add("having")
        elif isinstance(node, exp.Window):
            add("window")
        elif isinstance(node, exp.Distinct):
            add("distinct")
        elif isinstance(node, exp.SetOperation):
            add(type(node).__name__.lower())
        elif isinstance(node, exp.Order):
            add("sort")
        elif isinstance(node, exp.Limit):
            add("limit")
    return ops or ["project"]


def plan_json(plan: Plan, catalog: Catalog, stats: RunStats | None = None) -> dict[str, Any]:
    from federation.rules.dynamic_filter import find_edges

    edges = find_edges(plan.residual)
    frags = []
    for f in plan.fragments:
        st = stats.fragments.get(f.id) if stats is not None else None
        request = st.request if st is not None and st.request is not None else f.request
        requests = [r.to_json() for r in catalog.connector(f.source).native_request(request)]
        entry: dict[str, Any] = {
            "id": f.id,
            "source": f.source,
            "source_type": f.source_type,
            "tables": list(f.tables),
            "request": requests[0] if len(requests) == 1 else {"kind": "multi", "requests": requests},
            "pushed": f.pushed.to_json(),
            "residual_filters": list(f.residual_filters),
            "dynamic_filter_candidates": [
                {"from": e.build, "column": e.probe_column} for e in edges if e.probe == f.id
            ],
        }
        if stats is not None:
            entry["analyze"] = {
                "rows": st.rows if st else 0,
                "bytes": st.bytes if st else 0,
                "seconds": round(st.seconds, 6) if st else 0.0,
                "dynamic_filter": st.dynamic_filter if st else None,
            }
            if st is not None and st.requests is not None:
                entry["analyze"]["http"] = st.requests
        frags.append(entry)
    doc: dict[str, Any] = {
        "query": plan.sql,
        "dialect": plan.dialect,
        "fragments": frags,
        "arrow": {"sql": plan.residual_sql, "operations": list(plan.operations),
                  "streaming": streaming(plan, catalog)},
    }
    if stats is not None:
        doc["analyze"] = {
            "seconds": round(stats.seconds, 6),
            "arrow_seconds": round(stats.arrow_seconds, 6),
            "rows": stats.rows,
        }
    return doc


def streaming(plan: Plan, catalog: Catalog) -> dict[str, Any]:
    """How ``query_batches`` and audiences stream this plan (what bounds their memory)."""
    from federation.partition_plan import partitioning
    from federation.stream import streamable

    if plan.residual is None:
        return {"mode": "source"}
    try:
        found = streamable(plan, catalog)
        if found is not None:
            return {"mode": "pipeline", "streamed": found[0].id}
        parts = partitioning(plan, catalog)
    except Exception:  # the streaming analysis is advice; the run decides and reports its own errors
        return {"mode": "whole"}
    if parts is None:
        return {"mode": "whole"}
    return {"mode": "key partitions",
            "keys": {fid: (k.sql(dialect="postgres") if k is not None else None) for fid, k in parts.keys.items()}}


def render_text(doc: dict[str, Any]) -> str:
    """A readable explain: each fragment with what its source received, then Arrow's part."""
    lines = [f"Query: {doc['query']}", ""]
    if doc.get("model"):
        lines.append("Model:")
        lines += [f"  {n}" for n in doc["model"].get("notes", [])]
        for entity, sources in (doc["model"].get("pruned") or {}).items():
            lines.append(f"  {entity}: pruned sources {', '.join(sources)}")
        lines.append("")
    for f in doc["fragments"]:
        lines.append(f"Fragment {f['id']}  source={f['source']} ({f['source_type']})  tables={', '.join(f['tables'])}")
        req = f["request"]
        reqs = req["requests"] if req.get("kind") == "multi" else [req]
        for r in reqs:
            if r.get("kind") == "sql":
                lines.append(f"  native SQL: {r.get('sql')}")
            elif r.get("kind") == "http":
                body = r.get("body")
                lines.append(f"  HTTP {r.get('method')} {r.get('path')}")
                if body is not None:
                    lines.append(f"    body: {json.dumps(body, sort_keys=True, default=str)}")
                if "estimated_requests" in r:
                    lines.append(f"    estimated requests: {r['estimated_requests']}")
            else:
                extra = {k: v for k, v in r.items() if k != "kind"}
                lines.append(f"  {r.get('kind')}: {json.dumps(extra, sort_keys=True, default=str)}")
        p = f["pushed"]
        parts = [f"columns={','.join(p['columns'])}"]
        if p["filters"]:
            parts.append(f"filters=[{' AND '.join(p['filters'])}]")
        if p["order"]:
            parts.append(f"order=[{', '.join(p['order'])}]")
        if p["limit"] is not None:
            parts.append(f"limit={p['limit']}")
        if p["aggregate"]:
            parts.append("aggregate")
        if p["join"]:
            parts.append("join")
        lines.append(f"  pushed: {' '.join(parts)}")
        if f["residual_filters"]:
            lines.append(f"  re-checked in Arrow: {' AND '.join(f['residual_filters'])}")
        if f.get("dynamic_filter_candidates") and "analyze" not in f:
            c = ", ".join(f"{d['column']} from {d['from']}" for d in f["dynamic_filter_candidates"])
            lines.append(f"  dynamic filter candidates (decided at run time): {c}")
        if "analyze" in f:
            a = f["analyze"]
            lines.append(f"  fetched: {a['rows']} rows, {a['bytes']} bytes in {a['seconds']:.4f} s")
            if a.get("http"):
                lines.append(f"  HTTP: {a['http'].get('requests')} requests, {a['http'].get('retries')} retries")
            d = a.get("dynamic_filter")
            if d:
                verdict = "pushed" if d.get("used") else f"not pushed ({d.get('reason')})"
                if d.get("range"):
                    verdict += f"; sent as the range {d['range'][0]} to {d['range'][1]}"
                if d.get("batches"):
                    verdict += f" in {d['batches']} requests"
                if d.get("in_stream"):
                    verdict += f"; rows kept after the key check in Arrow: {d.get('rows_kept')} of {a['rows']}"
                lines.append(f"  dynamic filter: {d['keys']} keys of {d['from']} on {d['column']}: {verdict}")
        lines.append("")
    arrow = doc["arrow"]
    if arrow["sql"]:
        lines.append(f"Arrow ({', '.join(arrow['operations'])}):")
        lines.append(f"  {arrow['sql']}")
        st = arrow.get("streaming") or {}
        if st.get("mode") == "pipeline":
            lines.append(f"  streams batch by batch: {st['streamed']} (the other inputs are held)")
        elif st.get("mode") == "key partitions":
            keys = ", ".join(f"{f} on {k or 'round robin'}" for f, k in st["keys"].items())
            lines.append(f"  streams in key partitions (spilled to disk): {keys}")
        elif st.get("mode") == "whole":
            lines.append("  answered whole before it is handed out in batches")
    else:
        lines.append("Arrow: nothing (the source answers the whole query)")
    if "analyze" in doc:
        a = doc["analyze"]
        lines.append(f"Total: {a['rows']} rows in {a['seconds']:.4f} s (Arrow {a['arrow_seconds']:.4f} s)")
    return "\n".join(lines)
