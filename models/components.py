"""Connected components over an edge list, vectorised in pyarrow (no per-row Python).

Hook-and-compress (Shiloach–Vishkin style): every node points at a parent with
a smaller or equal index; each round, for every edge whose endpoints sit in
different trees, the larger root is hooked under the smallest root it touches,
then pointer jumping flattens every tree. Parents only ever decrease, so no
cycle can form; rounds are few in practice (a chain collapses in one round,
since all its links hook at once and jumping halves depths each pass).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def _compress(parent: pa.Array) -> pa.Array:
    while True:
        grand = pc.take(parent, parent)
        if pc.all(pc.equal(grand, parent)).as_py():
            return parent
        parent = grand


def components(u: pa.Array, v: pa.Array, n: int) -> tuple[pa.Array, int]:
    """Label of every node 0..n-1 (the smallest node index of its component), and the rounds used."""
    nodes = pa.array(range(n), pa.int64())
    parent = nodes
    u = u.cast(pa.int64())
    v = v.cast(pa.int64())
    rounds = 0
    while len(u):
        pu, pv = pc.take(parent, u), pc.take(parent, v)
        cross = pc.not_equal(pu, pv)
        if not pc.any(cross).as_py():
            break
        rounds += 1
        pu, pv = pu.filter(cross), pv.filter(cross)
        # edges inside one tree never matter again
        u, v = u.filter(cross), v.filter(cross)
        hi = pc.max_element_wise(pu, pv)
        lo = pc.min_element_wise(pu, pv)
        best = pa.table({"hi": hi, "lo": lo}).group_by("hi").aggregate([("lo", "min")])
        slot = pc.index_in(nodes, value_set=best["hi"].combine_chunks())
        hooked = pc.take(best["lo_min"].combine_chunks(), slot)
        parent = pc.min_element_wise(parent, hooked, skip_nulls=True)
        parent = _compress(parent)
    return parent, rounds


def reference_components(u: list[int], v: list[int], n: int) -> list[int]:
    """Plain union-find, for tests: label = smallest node of the component."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(u, v):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]
