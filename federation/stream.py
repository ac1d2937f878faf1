"""Streaming answers with bounded memory: the largest input streams, the others build.

When the Arrow part of a plan is a row-wise pipeline over one fragment (filters,
projections, inner joins against the other fragments, LEFT joins that fragment
drives, a LIMIT), that fragment is read batch by batch and each batch runs
through the same residual query; the other inputs, and the CTEs that do not
read the streamed fragment, are computed once. Memory is then the other inputs
plus one batch. Anything else (aggregates, sorting, DISTINCT, windows, set
operations, the streamed side preserved by an outer join) is answered whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlglot import exp

from federation.dynamic import size_hint
from federation.rules import in_scope

if TYPE_CHECKING:
    import pyarrow as pa

    from federation.catalog import Catalog
    from federation.plan import Fragment, Plan
    from federation.run import RunStats

_BLOCKING = ("group", "having", "order", "distinct", "qualify")


def _names(node: exp.Expression) -> list[str]:
    return [t.name for t in node.find_all(exp.Table)]


def _depends(name: str, on: str, defs: dict[str, exp.Expression], seen: frozenset[str] = frozenset()) -> bool:
    if name == on:
        return True
    body = defs.get(name)
    if body is None or name in seen:
        return False
    return any(_depends(n, on, defs, seen | {name}) for n in _names(body))


def streamable(plan: Plan, catalog: Catalog) -> tuple[Fragment, exp.Select] | None:
    """The fragment to stream and the per-batch query, or None."""
    q = plan.residual
    if not isinstance(q, exp.Select) or q.args.get("from_") is None or any(q.args.get(k) for k in _BLOCKING):
        return None
    if any(a for a in q.find_all(exp.AggFunc, exp.Window) if in_scope(a, q)) or q.args.get("offset"):
        return None
    defs = {c.alias_or_name: c.this for c in q.find_all(exp.CTE)}
    items = [q.args["from_"].this] + [j.this for j in q.args.get("joins") or []]
    if not all(isinstance(i, exp.Table) for i in items):
        return None
    best: tuple[int, Fragment] | None = None
    for pos, item in enumerate(items):
        for frag in plan.fragments:
            if not _depends(item.name, frag.id, defs) or not _only_through(q, item.name, frag.id, defs):
                continue
            if pos > 0 and (q.args["joins"][pos - 1].side or "") != "":
                continue  # the preserved side of an outer join cannot be cut into batches
            if pos == 0 and any((j.side or "").upper() in ("RIGHT", "FULL") for j in q.args.get("joins") or []):
                continue
            size = size_hint(catalog, frag)
            if best is None or size > best[0]:
                best = (size, frag)
    return (best[1], q) if best is not None else None




def _only_through(q: exp.Select, item: str, frag: str, defs: dict[str, exp.Expression]) -> bool:
    """``frag`` is read once in the whole residual: by the chain leading to ``item``."""
    uses = [t for t in q.find_all(exp.Table) if t.name == frag]
    if len(uses) != 1:
        return False
    chain = [n for n in defs if _depends(n, frag, defs)]
    for name in chain:  # a CTE between the item and the fragment must be row-wise
        body = defs[name]
        if not isinstance(body, exp.Select) or any(body.args.get(k) for k in _BLOCKING + ("joins", "limit")):
            return False
        if body.find(exp.AggFunc, exp.Window) is not None:
            return False
    readers = [t for t in q.find_all(exp.Table) if t.name in chain and t.name != frag]
    return item == frag or (len(readers) == len(chain) and item in chain)




def stream(catalog: Catalog, plan: Plan, stats: RunStats | None = None) -> pa.RecordBatchReader | None:
    """A streaming reader of the answer, or None when the plan is not a pipeline."""
    import pyarrow as pa

    from federation.execute import execute
    from federation.run import FragmentStats, RunStats, fetch_all, open_fragment

    found = streamable(plan, catalog)
    if found is None:
        return None
    frag, q = found
    stats = stats if stats is not None else RunStats()
    others = [f for f in plan.fragments if f.id != frag.id]
    reader = open_fragment(catalog, frag, stats.fragments.setdefault(frag.id, FragmentStats()))
    from dataclasses import replace

    tables = fetch_all(catalog, replace(plan, fragments=tuple(others)), stats, dynamic=False) if others else {}
    defs = [(c.alias_or_name, c.this) for c in (q.args["with_"].expressions if q.args.get("with_") else [])]
    by_name = dict(defs)
    live = []
    for name, body in defs:  # CTEs that do not read the stream: once
        if _depends(name, frag.id, by_name):
            live.append(name)
        else:
            tables[name] = execute(body, tables)
    per_batch = q.copy()
    kept = [c for c in per_batch.args["with_"].expressions if c.alias_or_name in live] if q.args.get("with_") else []
    per_batch.set("with_", exp.With(expressions=kept) if kept else None)
    limit = q.args.get("limit")
    cap = int(limit.expression.this) if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) else None
    schema = execute(per_batch, {**tables, frag.id: reader.schema.empty_table()}).schema
    if any(pa.types.is_null(f.type) for f in schema):
        reader.close()
        for f in plan.fragments:  # what runs next reads them again and counts afresh
            stats.fragments[f.id] = FragmentStats()
        return None  # a type only the data can tell: answer whole

    def batches() -> Iterator[pa.RecordBatch]:
        sent = 0
        for batch in reader:
            out = execute(per_batch, {**tables, frag.id: pa.Table.from_batches([batch])})
            if out.schema != schema:
                out = out.cast(schema)
            if cap is not None:
                out = out.slice(0, cap - sent)
            sent += out.num_rows
            yield from out.to_batches()
            if cap is not None and sent >= cap:
                reader.close()
                return

    return pa.RecordBatchReader.from_batches(schema, batches())
