"""Window functions, vectorised: one stable sort by (PARTITION BY, ORDER BY), then
partition and peer-group boundaries as index arrays, then numpy over the sorted
rows, then the inverse permutation back to input order.

Frames: PostgreSQL's default (RANGE UNBOUNDED PRECEDING .. CURRENT ROW, peers
included, when ORDER BY is present; the whole partition otherwise), ROWS/RANGE
UNBOUNDED PRECEDING .. CURRENT ROW, and .. UNBOUNDED FOLLOWING. Others raise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.expressions import Evaluator, broadcast, flat, node_key
from federation.execute.relation import Context, Relation
from federation.execute.sorting import SortKey, changes, keys_of, sort_indices
from federation.execute.types import unify


def find_windows(nodes: list[exp.Expression]) -> list[exp.Window]:
    found: dict[str, exp.Window] = {}
    for node in nodes:
        for w in node.find_all(exp.Window):
            if not any(isinstance(p, (exp.Select, exp.Subquery)) for p in _parents(w, node)):
                found.setdefault(node_key(w), w)
    return list(found.values())


def _parents(n: exp.Expression, stop: exp.Expression) -> list[exp.Expression]:
    out = []
    p = n.parent
    while p is not None and p is not stop:
        out.append(p)
        p = p.parent
    return out


@dataclass
class Frame:
    """Sorted-order layout: boundaries per row (all int64 arrays of length n)."""

    part_start: np.ndarray
    part_end: np.ndarray
    peer_start: np.ndarray
    peer_end: np.ndarray
    new_peer: np.ndarray
    has_order: bool


def _run_starts(flags: np.ndarray) -> np.ndarray:
    n = len(flags)
    return np.maximum.accumulate(np.where(flags, np.arange(n), 0)) if n else np.empty(0, np.int64)


def _run_ends(flags: np.ndarray) -> np.ndarray:
    """Index of each run's last row, given run-start flags."""
    n = len(flags)
    if not n:
        return np.empty(0, np.int64)
    ends_flag = np.append(flags[1:], True)
    rev = np.where(ends_flag, np.arange(n), n)[::-1]
    return np.minimum.accumulate(rev)[::-1]


def _layout(part: list[pa.Array], order: list[SortKey], n: int) -> tuple[np.ndarray, Frame]:
    perm = sort_indices([SortKey(p) for p in part] + order, n).to_numpy()
    new_part = np.zeros(n, bool)
    if n:
        new_part[0] = True
    for p in part:
        new_part |= changes(p.take(perm))
    new_peer = new_part.copy()
    for k in order:
        new_peer |= changes(k.values.take(perm))
    return perm, Frame(_run_starts(new_part), _run_ends(new_part), _run_starts(new_peer), _run_ends(new_peer),
                       new_peer, bool(order))


def _frame_end(w: exp.Window, f: Frame) -> np.ndarray:
    spec = w.args.get("spec")
    n = len(f.part_start)
    if spec is None:
        return f.peer_end if f.has_order else f.part_end
    kind = str(spec.args.get("kind") or "").upper()
    start, start_side = str(spec.args.get("start") or "").upper(), str(spec.args.get("start_side") or "").upper()
    end, end_side = str(spec.args.get("end") or "").upper(), str(spec.args.get("end_side") or "").upper()
    if spec.args.get("exclude") or kind not in ("ROWS", "RANGE") or (start, start_side) != ("UNBOUNDED", "PRECEDING"):
        raise UnsupportedError(f"window frame {spec.sql(dialect='postgres')} (only UNBOUNDED PRECEDING frames)")
    if end in ("", "CURRENT ROW"):
        if kind == "ROWS":
            return np.arange(n, dtype=np.int64)
        return f.peer_end if f.has_order else f.part_end
    if (end, end_side) == ("UNBOUNDED", "FOLLOWING"):
        return f.part_end
    raise UnsupportedError(f"window frame {spec.sql(dialect='postgres')} (only UNBOUNDED PRECEDING frames)")


def _seg_scan(vals: np.ndarray, valid: np.ndarray, start: np.ndarray, op: np.ufunc) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive scan of ``op`` restarting at each partition start (Hillis-Steele doubling)."""
    n = len(vals)
    idx = np.arange(n)
    v, ok = vals.copy(), valid.copy()
    k = 1
    while k < n:
        src = idx - k
        can = src >= start
        s = np.where(can, src, idx)
        ov, ook = v[s], ok[s] & can
        both = ok & ook
        v = np.where(both, op(v, ov), np.where(ook, ov, v))
        ok = ok | ook
        k *= 2
    return v, ok


def _codes(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Dense order-preserving integer codes for any sortable type, and the decode table."""
    ranks = pc.rank(values, sort_keys="ascending", tiebreaker="dense")
    codes = ranks.to_numpy().astype(np.int64)
    lut = np.zeros(codes.max() + 1 if len(codes) else 1, np.int64)
    lut[codes] = np.arange(len(codes))
    return codes, values.take(pa.array(lut))


def _aggregate(fn: exp.Expression, ev: Evaluator, perm: np.ndarray, f: Frame, end: np.ndarray) -> pa.Array:
    n = len(perm)
    if isinstance(fn, exp.Count) and (fn.this is None or isinstance(fn.this, exp.Star)):
        valid = np.ones(n, bool)
        arr = None
    else:
        inner = fn.this
        if isinstance(inner, exp.Distinct):
            raise UnsupportedError(f"{fn.sql_name()}(DISTINCT ...) OVER (...)")
        arr = flat(ev.array(inner)).take(pa.array(perm))
        valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    start = f.part_start
    count = np.cumsum(valid.astype(np.int64))
    before = np.where(start > 0, count[np.maximum(start - 1, 0)], 0)
    running_count = count - before
    cnt = running_count[end]
    if isinstance(fn, exp.Count):
        return pa.array(cnt, pa.int64())
    assert arr is not None
    if isinstance(fn, (exp.Sum, exp.Avg)):
        if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_null(arr.type)):
            raise QueryError(f"function {fn.sql_name().lower()}({arr.type}) does not exist")
        is_int = pa.types.is_integer(arr.type) and isinstance(fn, exp.Sum)
        vals = pc.fill_null(arr.cast(pa.int64() if is_int else pa.float64()), 0).to_numpy(zero_copy_only=False)
        sums, _ = _seg_scan(vals, valid, start, np.add) if not is_int else (None, None)
        if is_int:
            c = np.cumsum(vals)
            sums = c - np.where(start > 0, c[np.maximum(start - 1, 0)], 0)
        total = sums[end]
        if isinstance(fn, exp.Avg):
            total = total / np.where(cnt == 0, 1, cnt)
        return pa.array(total, mask=cnt == 0)
    if isinstance(fn, (exp.Min, exp.Max)):
        op = np.minimum if isinstance(fn, exp.Min) else np.maximum
        numeric = pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
        if numeric:
            vals, decode = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False), None
        else:
            vals, decode = _codes(arr)
        out, ok = _seg_scan(vals, valid, start, op)
        picked, has = out[end], ok[end]
        if decode is None:
            return pa.array(picked, arr.type, mask=~has)
        return decode.take(pa.array(np.where(has, picked, 0), mask=~has))
    raise UnsupportedError(f"window function {fn.sql_name()}")


def _offset_fn(fn: exp.Expression, ev: Evaluator, perm: np.ndarray, f: Frame) -> pa.Array:
    n = len(perm)
    off_node = fn.args.get("offset")
    off = 1 if off_node is None else ev.constant(off_node, "the LAG/LEAD offset")
    default = fn.args.get("default")
    values = flat(ev.array(fn.this)).take(pa.array(perm))
    if off is None:
        return pa.nulls(n, values.type)
    pos = np.arange(n) + (-int(off) if isinstance(fn, exp.Lag) else int(off))
    inside = (pos >= f.part_start) & (pos <= f.part_end)
    got = values.take(pa.array(np.where(inside, pos, 0), mask=~inside))
    if default is None:
        return got
    dflt = flat(broadcast(ev.eval(default), n)) if not isinstance(ev.eval(default), pa.Scalar) else ev.eval(default)
    if not isinstance(dflt, pa.Scalar):
        dflt = dflt.take(pa.array(perm))
    (got2, dflt2), _t = unify([got, dflt])
    return pc.if_else(pa.array(inside), got2, dflt2)


def _ntile(fn: exp.Expression, ev: Evaluator, f: Frame) -> pa.Array:
    k = ev.constant(fn.this, "NTILE's bucket count")
    if k is None or int(k) <= 0:
        raise QueryError("argument of ntile must be greater than zero")
    k = int(k)
    n = len(f.part_start)
    size = f.part_end - f.part_start + 1
    r = np.arange(n) - f.part_start
    per, extra = size // k, size % k
    big = extra * (per + 1)
    bucket = np.where(r < big, r // np.maximum(per + 1, 1), extra + (r - big) // np.maximum(per, 1)) + 1
    return pa.array(bucket.astype(np.int64))


def _compute(w: exp.Window, ev: Evaluator, perm: np.ndarray, f: Frame) -> pa.Array:
    fn = w.this
    if w.args.get("alias") is not None or isinstance(fn, (exp.IgnoreNulls, exp.RespectNulls)):
        raise UnsupportedError("IGNORE/RESPECT NULLS or named windows")
    n = len(perm)
    pos = np.arange(n)
    if isinstance(fn, exp.RowNumber):
        return pa.array(pos - f.part_start + 1)
    if isinstance(fn, exp.Rank):
        return pa.array(f.peer_start - f.part_start + 1)
    if isinstance(fn, exp.DenseRank):
        c = np.cumsum(f.new_peer)
        return pa.array((c - c[f.part_start] + 1).astype(np.int64))
    if isinstance(fn, exp.PercentRank):
        size = f.part_end - f.part_start
        return pa.array(np.where(size > 0, (f.peer_start - f.part_start) / np.maximum(size, 1), 0.0))
    if isinstance(fn, exp.CumeDist):
        return pa.array((f.peer_end - f.part_start + 1) / (f.part_end - f.part_start + 1))
    if isinstance(fn, exp.Ntile):
        return _ntile(fn, ev, f)
    if isinstance(fn, (exp.Lag, exp.Lead)):
        return _offset_fn(fn, ev, perm, f)
    if isinstance(fn, (exp.FirstValue, exp.LastValue)):
        values = flat(ev.array(fn.this)).take(pa.array(perm))
        end = _frame_end(w, f)  # also rejects frames that do not start at the partition
        at = f.part_start if isinstance(fn, exp.FirstValue) else end
        return values.take(pa.array(at))
    if isinstance(fn, (exp.Sum, exp.Avg, exp.Count, exp.Min, exp.Max)):
        return _aggregate(fn, ev, perm, f, _frame_end(w, f))
    raise UnsupportedError(f"window function {fn.sql_name()} in the Arrow executor")


def windows(rel: Relation, found: list[exp.Window], ctx: Context,
            subst: dict[str, int]) -> tuple[Relation, dict[str, int]]:
    """Add one column per window call to ``rel``; ``subst`` then points at them."""
    ev = Evaluator(rel, ctx, subst)
    n = rel.num_rows
    cols, names, subst = [], [], dict(subst)
    for i, w in enumerate(found):
        part = [flat(ev.array(p)) for p in (w.args.get("partition_by") or [])]
        order_node = w.args.get("order")
        order = keys_of(ev, order_node.expressions) if order_node is not None else []
        perm, frame = _layout(part, order, n)
        sorted_vals = _compute(w, ev, perm, frame)
        inverse = np.empty(n, np.int64)
        inverse[perm] = np.arange(n)
        cols.append(sorted_vals.take(pa.array(inverse)))
        names.append((None, f"\x00win{i}"))
        subst[node_key(w)] = rel.table.num_columns + i
    return rel.with_columns(cols, names), subst
