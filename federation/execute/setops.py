"""UNION / INTERSECT / EXCEPT, with and without ALL (NULLs are equal in set operations)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlglot import exp

from federation.errors import QueryError
from federation.execute.relation import Context
from federation.execute.types import cast_null, unify


def _align(left: pa.Table, right: pa.Table, op: str) -> tuple[pa.Table, pa.Table]:
    if left.num_columns != right.num_columns:
        raise QueryError(f"each {op} query must have the same number of columns")
    lcols, rcols = [], []
    for a, b in zip(left.columns, right.columns):
        try:
            (a2, b2), t = unify([a, b])
        except QueryError:
            raise QueryError(f"{op} types {a.type} and {b.type} cannot be matched") from None
        lcols.append(a2 if a2.type == t else cast_null(a2, t))
        rcols.append(b2 if b2.type == t else cast_null(b2, t))
    names = [f"c{i}" for i in range(left.num_columns)]
    return pa.Table.from_arrays(lcols, names=names), pa.Table.from_arrays(rcols, names=names)


def set_operation(node: exp.Expression, ctx: Context) -> pa.Table:
    from federation.execute.select import distinct_rows, run_query

    op = type(node).__name__.upper()
    left = run_query(node.this, ctx)
    right = run_query(node.expression, ctx)
    out_names = left.column_names
    lt, rt = _align(left, right, op)
    distinct = node.args.get("distinct", True) is not False
    if isinstance(node, exp.Union):
        both = pa.concat_tables([lt, rt])
        result = distinct_rows(both) if distinct else both
    else:
        result = _counted(lt, rt, isinstance(node, exp.Intersect), distinct)
    return pa.Table.from_arrays(list(result.columns), names=out_names)


def _counted(lt: pa.Table, rt: pa.Table, intersect: bool, distinct: bool) -> pa.Table:
    names = lt.column_names
    if not names:
        raise QueryError("INTERSECT/EXCEPT of queries without columns")
    nl, nr = lt.num_rows, rt.num_rows
    marked = pa.concat_tables([
        lt.append_column("__l", pa.array(np.ones(nl, np.int64))).append_column("__r", pa.array(np.zeros(nl, np.int64))),
        rt.append_column("__l", pa.array(np.zeros(nr, np.int64))).append_column("__r", pa.array(np.ones(nr, np.int64))),
    ])
    g = marked.group_by(names, use_threads=False).aggregate([("__l", "sum"), ("__r", "sum")])
    lc = g.column("__l_sum").to_numpy()
    rc = g.column("__r_sum").to_numpy()
    if intersect:
        times = np.minimum(lc, rc)
    else:
        times = np.maximum(lc - rc, 0)
    if distinct:
        times = np.minimum(times, 1)
    rows = np.repeat(np.arange(g.num_rows), times)
    picked = g.select(names).take(pa.array(rows))
    return picked
