"""Uncorrelated subqueries inside expressions: IN (SELECT ...), EXISTS, scalar subqueries.

Each runs once per query (cached by node). A reference to an enclosing query's
column raises UnsupportedError("correlated subquery ..."): the optimizer
decorrelates the common shapes into joins before we see them.
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

import pyarrow.compute as pc

from federation.errors import QueryError, UnsupportedError
from federation.execute.expressions import Evaluator, compare, flat, handles, in_values
from federation.execute.types import Datum


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


_EXTREME_FOR = {  # x op ANY(S) / x op ALL(S) reduce to one comparison with S's min or max
    ("greater", False): "min", ("greater_equal", False): "min", ("less", False): "max", ("less_equal", False): "max",
    ("greater", True): "max", ("greater_equal", True): "max", ("less", True): "min", ("less_equal", True): "min",
}


def quantified(ev: Evaluator, op: str, v: Datum, node: exp.Expression) -> Datum:
    """``v op ANY (subquery)`` / ``v op ALL (subquery)`` with SQL NULL semantics."""
    is_all = isinstance(node, exp.All)
    inner = node.this
    if not isinstance(inner, (exp.Subquery, exp.Select, exp.Union, exp.Intersect, exp.Except)):
        raise UnsupportedError(f"{'ALL' if is_all else 'ANY'} over an array")
    values = subquery_column(ev, inner)
    if op == "equal" and not is_all:
        return in_values(v, values)
    if op == "not_equal" and is_all:
        return pc.invert(in_values(v, values))
    if len(values) == 0:
        return pa.scalar(is_all)
    has_null = values.null_count > 0
    present = values.drop_null()
    if op in ("equal", "not_equal"):
        distinct = pc.unique(present)
        if len(distinct) == 0:
            core: Datum = pa.scalar(None, pa.bool_())
        elif len(distinct) == 1:
            core = compare(op, v, distinct[0])
        else:  # two different values: "= ALL" is false, "<> ANY" is true (for non-NULL v)
            core = pc.if_else(pc.is_null(v), pa.scalar(None, pa.bool_()), pa.scalar(op == "not_equal"))
    else:
        agg = _EXTREME_FOR[(op, is_all)]
        bound = getattr(pc, agg)(present) if len(present) else pa.scalar(None, values.type)
        core = compare(op, v, bound)
    if not has_null:
        return core
    # a NULL in the set turns "not decided" into NULL: FALSE for ANY, TRUE for ALL
    undecided = pc.fill_null(core, True) if is_all else pc.invert(pc.fill_null(core, False))
    return pc.if_else(undecided, pa.scalar(None, pa.bool_()), core)


def _array_lambda(ev: Evaluator, node: exp.Expression) -> Datum:
    # sqlglot's unnesting turns a correlated subquery with a non-equality correlation into
    # ARRAY_AGG + ARRAY_ANY(array, x -> ...): that shape is the correlated subquery itself
    raise UnsupportedError("correlated subquery with a non-equality correlation (rewrite it as a join)")


for _t in ("ArrayAny", "ArrayAll", "Lambda", "ArrayFilter"):
    if hasattr(exp, _t):
        handles(getattr(exp, _t))(_array_lambda)
