"""Uncorrelated subqueries inside expressions: IN (SELECT ...), EXISTS, scalar subqueries.

Each runs once per query (cached by node). A reference to an enclosing query's
column raises UnsupportedError("correlated subquery ..."): the optimizer
decorrelates the common shapes into joins before we see them.
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from federation.errors import QueryError
from federation.execute.expressions import Evaluator, flat, handles


def run_subquery(ev: Evaluator, query: exp.Expression) -> pa.Table:
    from federation.execute.select import run_query

    while isinstance(query, exp.Subquery) and not query.args.get("alias"):
        query = query.this
    key = id(query)
    hit = ev.ctx.cache.get(key)
    if hit is None:
        ctx = ev.ctx.child(outer=ev.rel.qualifiers())
        hit = run_query(query, ctx)
        ev.ctx.cache[key] = hit
    return hit  # type: ignore[return-value]


def subquery_column(ev: Evaluator, query: exp.Expression) -> pa.Array:
    t = run_subquery(ev, query)
    if t.num_columns != 1:
        raise QueryError("subquery has too many columns" if t.num_columns > 1 else "subquery has no columns")
    return flat(t.column(0))


@handles(exp.Exists)
def _exists(ev: Evaluator, node: exp.Expression) -> pa.Scalar:
    return pa.scalar(run_subquery(ev, node.this).num_rows > 0)


@handles(exp.Subquery, exp.Select, exp.Union, exp.Intersect, exp.Except)
def _scalar(ev: Evaluator, node: exp.Expression) -> pa.Scalar:
    col = subquery_column(ev, node)
    if len(col) > 1:
        raise QueryError("more than one row returned by a subquery used as an expression")
    if len(col) == 0:
        return pa.scalar(None, col.type)
    return col[0]
