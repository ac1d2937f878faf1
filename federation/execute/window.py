"""Window functions, vectorised: one stable sort by (PARTITION BY, ORDER BY), then
partition and peer-group boundaries as index arrays, then numpy over the sorted
rows, then the inverse permutation back to input order.

Frames: PostgreSQL's default (RANGE UNBOUNDED PRECEDING .. CURRENT ROW, peers
included, when ORDER BY is present; the whole partition otherwise); ROWS frames
with any UNBOUNDED / n PRECEDING / CURRENT ROW / n FOLLOWING edges for COUNT, SUM,
AVG, FIRST_VALUE, LAST_VALUE (prefix sums), and for MIN/MAX when the frame starts
at the partition; RANGE frames without offsets. GROUPS, EXCLUDE and RANGE offsets
raise UnsupportedError.
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


def _offset(ev: Evaluator, node: object, spec: exp.Expression) -> int:
    value = ev.constant(node, "a window frame offset") if isinstance(node, exp.Expression) else None
    if not isinstance(value, int) or value < 0:
        raise UnsupportedError(f"window frame {spec.sql(dialect='postgres')} (offsets must be non-negative integers)")
    return value


def _bound(ev: Evaluator, spec: exp.Expression, which: str, f: Frame, rows: bool) -> np.ndarray:
    """One frame edge as row positions in sorted order (may fall outside the partition)."""
    n = len(f.part_start)
    pos = np.arange(n, dtype=np.int64)
    value, side = spec.args.get(which), str(spec.args.get(f"{which}_side") or "").upper()
    text = value.upper() if isinstance(value, str) else ""
    if text == "UNBOUNDED":
        return f.part_start if side == "PRECEDING" else f.part_end
    if text == "CURRENT ROW" or (not text and value is None):
        if rows:
            return pos
        return f.peer_start if which == "start" else f.peer_end
    if not rows:
        raise UnsupportedError(f"window frame {spec.sql(dialect='postgres')} (RANGE with an offset)")
    k = _offset(ev, value, spec)
    return pos - k if side == "PRECEDING" else pos + k


def _frame(w: exp.Window, ev: Evaluator, f: Frame) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) row of each row's frame in sorted order, clamped to the partition;
    first > last means an empty frame. Default: PostgreSQL's RANGE UNBOUNDED PRECEDING to
    CURRENT ROW (peers included) with ORDER BY, the whole partition without."""
    spec = w.args.get("spec")
    if spec is None:
        return f.part_start, (f.peer_end if f.has_order else f.part_end)
    kind = str(spec.args.get("kind") or "").upper()
    if spec.args.get("exclude") or kind not in ("ROWS", "RANGE"):
        raise UnsupportedError(f"window frame {spec.sql(dialect='postgres')} (GROUPS or EXCLUDE)")
    rows = kind == "ROWS"
    if not rows and not f.has_order:
        return f.part_start, f.part_end  # RANGE without ORDER BY: every row is a peer
    lo = np.maximum(_bound(ev, spec, "start", f, rows), f.part_start)
    hi = np.minimum(_bound(ev, spec, "end", f, rows), f.part_end)
    return lo, hi


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
    if len(values) == 0:
        return np.zeros(0, np.int64), values
    ranks = pc.rank(values, sort_keys="ascending", tiebreaker="dense")
    codes = ranks.to_numpy().astype(np.int64)
    lut = np.zeros(codes.max() + 1 if len(codes) else 1, np.int64)
    lut[codes] = np.arange(len(codes))
    return codes, values.take(pa.array(lut))


def _prefix(vals: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of vals[lo..hi] per row from one prefix sum (0 for empty frames)."""
    c = np.concatenate([[0], np.cumsum(vals)])
    ok = lo <= hi
    return np.where(ok, c[np.where(ok, hi + 1, 0)] - c[np.where(ok, lo, 0)], 0)


def _aggregate(fn: exp.Expression, ev: Evaluator, perm: np.ndarray, f: Frame,
               lo: np.ndarray, hi: np.ndarray) -> pa.Array:
    n = len(perm)
    if isinstance(fn, exp.Count) and (fn.this is None or isinstance(fn.this, exp.Star)):
        return pa.array(_prefix(np.ones(n, np.int64), lo, hi).astype(np.int64))
    inner = fn.this
    if isinstance(inner, exp.Distinct):
        raise UnsupportedError(f"{fn.sql_name()}(DISTINCT ...) OVER (...)")
    arr = flat(ev.array(inner)).take(pa.array(perm))
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    cnt = _prefix(valid.astype(np.int64), lo, hi)
    if isinstance(fn, exp.Count):
        return pa.array(cnt.astype(np.int64))
    from_start = bool(np.all(lo == f.part_start))
    end = np.maximum(hi, lo)  # any index for empty frames: they are masked by cnt == 0
    if isinstance(fn, (exp.Sum, exp.Avg)):
        if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_null(arr.type)):
            raise QueryError(f"function {fn.sql_name().lower()}({arr.type}) does not exist")
        is_int = pa.types.is_integer(arr.type) and isinstance(fn, exp.Sum)
        vals = pc.fill_null(arr.cast(pa.int64() if is_int else pa.float64()), 0).to_numpy(zero_copy_only=False)
        if is_int or not from_start:
            total = _prefix(vals, lo, hi)
        else:  # exact float sums for frames that start at the partition (no prefix cancellation)
            total = _seg_scan(vals, valid, f.part_start, np.add)[0][end]
        if isinstance(fn, exp.Avg):
            total = total / np.where(cnt == 0, 1, cnt)
        return pa.array(total, mask=cnt == 0)
    if isinstance(fn, (exp.Min, exp.Max)):
        if not from_start:
            raise UnsupportedError(f"{fn.sql_name()} over a window frame that does not start at the partition")
        op = np.minimum if isinstance(fn, exp.Min) else np.maximum
        numeric = pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
        if numeric:
            vals, decode = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False), None
        else:
            vals, decode = _codes(arr)
        out, ok = _seg_scan(vals, valid, f.part_start, op)
        picked, has = out[end], ok[end] & (cnt > 0)
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
    if w.args.get("alias") is not None or w.args.get("first") or isinstance(fn, (exp.IgnoreNulls, exp.RespectNulls)):
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
        lo, hi = _frame(w, ev, f)
        empty = lo > hi
        at = lo if isinstance(fn, exp.FirstValue) else hi
        return values.take(pa.array(np.where(empty, 0, at), mask=empty if empty.any() else None))
    if isinstance(fn, (exp.Sum, exp.Avg, exp.Count, exp.Min, exp.Max)):
        lo, hi = _frame(w, ev, f)
        return _aggregate(fn, ev, perm, f, lo, hi)
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
