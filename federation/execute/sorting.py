"""Sorting with per-key NULL placement, and run boundaries over sorted keys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.execute.expressions import Evaluator, flat


@dataclass
class SortKey:
    values: pa.Array
    desc: bool = False
    nulls_first: bool = False


def keys_of(ev: Evaluator, ordered: list[exp.Expression]) -> list[SortKey]:
    """Sort keys for ORDER BY items; PostgreSQL's default: NULLs sort as the largest value."""
    out = []
    for o in ordered:
        if isinstance(o, exp.Ordered):
            desc = bool(o.args.get("desc"))
            nf = o.args.get("nulls_first")
            nulls_first = bool(nf) if nf is not None else desc
            out.append(SortKey(flat(ev.array(o.this)), desc, nulls_first))
        else:
            out.append(SortKey(flat(ev.array(o)), False, False))
    return out


def sort_indices(keys: list[SortKey], n: int) -> pa.Array:
    """Stable sort permutation for the keys (byte order for text)."""
    cols: list[pa.Array] = []
    spec: list[tuple[str, str]] = []
    for k in keys:
        v = k.values
        if pa.types.is_null(v.type):
            continue
        if v.null_count:
            # a separate is-null key places NULLs per key (Arrow's placement is global)
            cols.append(pc.is_null(v))
            spec.append((f"k{len(cols) - 1}", "descending" if k.nulls_first else "ascending"))
        cols.append(v)
        spec.append((f"k{len(cols) - 1}", "descending" if k.desc else "ascending"))
    if not cols:
        return pa.array(np.arange(n, dtype=np.int64))
    t = pa.Table.from_arrays(cols, names=[f"k{i}" for i in range(len(cols))])
    return pc.sort_indices(t, sort_keys=spec)


def changes(values: pa.Array) -> np.ndarray:
    """True where a value differs from the previous one (NULLs equal each other); [0] is True."""
    n = len(values)
    out = np.ones(n, dtype=bool)
    if n <= 1 or pa.types.is_null(values.type):
        if n:
            out[1:] = False
        return out
    a, b = values.slice(1), values.slice(0, n - 1)
    eq = pc.fill_null(pc.equal(a, b), False)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    same = pc.or_(eq, both_null).to_numpy(zero_copy_only=False)
    out[1:] = ~same
    return out
