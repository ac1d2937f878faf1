"""Evaluate sqlglot expressions over a Relation, vectorised with pyarrow.compute.

Every handler takes the Evaluator and the node and returns a Datum (an Arrow
array, chunked array or scalar). Scalars stay scalars until a result must be a
column, so constant sub-expressions cost nothing per row. Semantics are
PostgreSQL's: three-valued logic (Kleene AND/OR), NULL-propagating operators,
integer division truncating toward zero, ``%`` taking the dividend's sign.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.relation import Context, Relation, correlated
from federation.execute.types import Datum, coerce_pair, is_num, is_str, sql_type_name

Handler = Callable[["Evaluator", exp.Expression], Datum]
HANDLERS: dict[type, Handler] = {}


def handles(*types: type) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return deco


def node_key(node: exp.Expression) -> str:
    return node.sql(dialect="postgres")


class Evaluator:
    """Evaluates expressions over ``rel``; ``subst`` maps an expression's SQL to a column of ``rel``
    (how aggregates, group keys and window results are read after they were computed)."""

    def __init__(self, rel: Relation, ctx: Context, subst: dict[str, int] | None = None) -> None:
        self.rel = rel
        self.ctx = ctx
        self.subst = subst or {}

    @property
    def n(self) -> int:
        return self.rel.num_rows

    def eval(self, node: exp.Expression) -> Datum:
        if self.subst and not isinstance(node, (exp.Literal, exp.Null, exp.Boolean)):
            hit = self.subst.get(node_key(node))
            if hit is not None:
                return self.rel.column(hit)
        handler = HANDLERS.get(type(node))
        if handler is None:
            if isinstance(node, exp.AggFunc):
                raise QueryError(f"aggregate function {node.sql_name()} is not allowed here")
            raise UnsupportedError(f"{type(node).__name__} ({node_key(node)[:80]}) in the Arrow executor")
        return handler(self, node)

    def array(self, node: exp.Expression) -> pa.ChunkedArray | pa.Array:
        return broadcast(self.eval(node), self.n)

    def predicate(self, node: exp.Expression) -> pa.Array | pa.ChunkedArray:
        """A boolean mask where NULL and FALSE both mean 'not selected'."""
        v = self.eval(node)
        if pa.types.is_null(v.type):
            return pa.repeat(pa.scalar(False), self.n)
        if not pa.types.is_boolean(v.type):
            raise QueryError(f"argument of WHERE must be type boolean, not type {sql_type_name(v.type)}")
        return pc.fill_null(broadcast(v, self.n), False)

    def subset(self, mask: pa.Array | pa.ChunkedArray) -> Evaluator:
        return Evaluator(self.rel.filter(mask), self.ctx, self.subst)

    def constant(self, node: exp.Expression, what: str) -> object:
        v = self.eval(node)
        if not isinstance(v, pa.Scalar):
            raise UnsupportedError(f"{what} must be a constant in the Arrow executor")
        return v.as_py()


def broadcast(d: Datum, n: int) -> pa.ChunkedArray | pa.Array:
    if isinstance(d, pa.Scalar):
        if not d.is_valid:
            return pa.nulls(n, d.type)
        return pa.nulls(n, d.type).fill_null(d)
    return d


def flat(d: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(d, pa.ChunkedArray):
        return d.combine_chunks() if d.num_chunks != 1 else d.chunk(0)
    return d


# --- leaves -------------------------------------------------------------------------------------

@handles(exp.Column)
def _column(ev: Evaluator, node: exp.Expression) -> Datum:
    qual = node.table or None
    name = node.name
    if name == "*":
        raise UnsupportedError("* outside COUNT(*) in the Arrow executor")
    i = ev.rel.find(qual, name)
    if i is None:
        if qual is not None and qual in ev.ctx.outer and qual not in ev.rel.qualifiers():
            raise correlated(name, qual)
        ref = f"{qual}.{name}" if qual else name
        raise QueryError(f"column {ref} does not exist")
    return ev.rel.column(i)


@handles(exp.Literal)
def _literal(ev: Evaluator, node: exp.Expression) -> Datum:
    if node.is_string:
        return pa.scalar(node.this, pa.string())
    digits = node.this
    try:
        v = int(digits)
        if -(2**63) <= v < 2**63:
            return pa.scalar(v, pa.int64())
        return pa.scalar(float(v))
    except ValueError:
        return pa.scalar(float(digits), pa.float64())


@handles(exp.Null)
def _null(ev: Evaluator, node: exp.Expression) -> Datum:
    return pa.scalar(None, pa.null())


@handles(exp.Boolean)
def _bool(ev: Evaluator, node: exp.Expression) -> Datum:
    return pa.scalar(bool(node.this), pa.bool_())


@handles(exp.Paren, exp.Alias)
def _paren(ev: Evaluator, node: exp.Expression) -> Datum:
    return ev.eval(node.this)


# --- logic ----------------------------------------------------------------------------------------

def as_bool(v: Datum, what: str) -> Datum:
    if pa.types.is_null(v.type):
        return v.cast(pa.bool_())
    if not pa.types.is_boolean(v.type):
        raise QueryError(f"argument of {what} must be type boolean, not type {sql_type_name(v.type)}")
    return v


def _guarded(ev: Evaluator, node: exp.Expression, mask: Datum, filler: pa.Scalar) -> Datum:
    """Evaluate ``node`` only on the rows of ``mask`` (others get ``filler``): PostgreSQL
    evaluates ``x <> 0 AND y / x > 1`` left to right, so the division never sees a zero."""
    mask = flat(pc.fill_null(broadcast(mask, ev.n), False))
    if not pc.any(mask).as_py():
        return filler
    part = flat(broadcast(as_bool(ev.subset(mask).eval(node), "AND/OR"), int(pc.sum(mask).as_py())))
    rest = pc.indices_nonzero(pc.invert(mask))
    values = pa.concat_arrays([part.cast(pa.bool_()), pa.nulls(len(rest), pa.bool_()).fill_null(filler)])
    positions = pa.concat_arrays([pc.indices_nonzero(mask), rest])
    return values.take(pc.sort_indices(positions))


def _logic(ev: Evaluator, node: exp.Expression, is_and: bool) -> Datum:
    what = "AND" if is_and else "OR"
    first, second = node.this, node.expression
    try:
        left = as_bool(ev.eval(first), what)
    except QueryError:
        # the optimizer may have reordered the conjuncts: try the other side first
        first, second = second, first
        left = as_bool(ev.eval(first), what)
    try:
        right = as_bool(ev.eval(second), what)
    except QueryError:
        if isinstance(left, pa.Scalar):
            if left.is_valid and left.as_py() is not is_and:
                return left  # FALSE AND x / TRUE OR x: x is never evaluated
            raise
        # retry on the rows the first side leaves undecided only
        undecided = pc.invert(pc.fill_null(left if not is_and else pc.invert(left), False))
        right = _guarded(ev, second, undecided, pa.scalar(is_and))
    return pc.and_kleene(left, right) if is_and else pc.or_kleene(left, right)


@handles(exp.And)
def _and(ev: Evaluator, node: exp.Expression) -> Datum:
    return _logic(ev, node, True)


@handles(exp.Or)
def _or(ev: Evaluator, node: exp.Expression) -> Datum:
    return _logic(ev, node, False)


@handles(exp.Not)
def _not(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.invert(as_bool(ev.eval(node.this), "NOT"))


_CMP = {exp.EQ: "equal", exp.NEQ: "not_equal", exp.GT: "greater", exp.GTE: "greater_equal",
        exp.LT: "less", exp.LTE: "less_equal"}


def compare(op: str, a: Datum, b: Datum) -> Datum:
    if hasattr(a, "months") or hasattr(b, "months"):  # an INTERVAL literal or AGE's result
        from federation.execute.temporal import interval_operands

        a, b = interval_operands(a, b)
    a, b = coerce_pair(a, b)
    if pa.types.is_null(a.type):
        return pa.scalar(None, pa.bool_()) if isinstance(a, pa.Scalar) and isinstance(b, pa.Scalar) \
            else pa.nulls(max(_len(a), _len(b)), pa.bool_())
    try:
        return getattr(pc, op)(a, b)
    except pa.ArrowNotImplementedError:
        raise QueryError(f"operator does not exist: {sql_type_name(a.type)} {op.replace('_', ' ')} "
                         f"{sql_type_name(b.type)}", hint="Add an explicit CAST.") from None


def _len(d: Datum) -> int:
    return 1 if isinstance(d, pa.Scalar) else len(d)


@handles(*_CMP)
def _cmp(ev: Evaluator, node: exp.Expression) -> Datum:
    rhs = node.expression
    if isinstance(rhs, (exp.Any, exp.All)):
        from federation.execute.subqueries import quantified

        return quantified(ev, _CMP[type(node)], ev.eval(node.this), rhs)
    return compare(_CMP[type(node)], ev.eval(node.this), ev.eval(rhs))


def distinct_from(a: Datum, b: Datum) -> Datum:
    eq = pc.fill_null(compare("equal", a, b), False)
    an, bn = pc.is_null(a), pc.is_null(b)
    same = pc.or_(pc.and_(an, bn), pc.and_(eq, pc.invert(pc.or_(an, bn))))
    return pc.invert(same)


@handles(exp.NullSafeEQ)
def _nseq(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.invert(distinct_from(ev.eval(node.this), ev.eval(node.expression)))


@handles(exp.NullSafeNEQ)
def _nsneq(ev: Evaluator, node: exp.Expression) -> Datum:
    return distinct_from(ev.eval(node.this), ev.eval(node.expression))


@handles(exp.Is)
def _is(ev: Evaluator, node: exp.Expression) -> Datum:
    v = ev.eval(node.this)
    rhs = node.expression
    if isinstance(rhs, exp.Null):
        out = pc.is_null(v)
    elif isinstance(rhs, exp.Boolean):
        v = as_bool(v, "IS")
        out = pc.fill_null(v if rhs.this else pc.invert(v), False)
    else:
        raise UnsupportedError(f"IS {node_key(rhs)}")
    return pc.invert(out) if node.args.get("negate") else out


@handles(exp.Between)
def _between(ev: Evaluator, node: exp.Expression) -> Datum:
    v = ev.eval(node.this)
    lo = compare("greater_equal", v, ev.eval(node.args["low"]))
    hi = compare("less_equal", v, ev.eval(node.args["high"]))
    if node.args.get("symmetric"):
        raise UnsupportedError("BETWEEN SYMMETRIC")
    out = pc.and_kleene(lo, hi)
    return pc.invert(out) if node.args.get("negate") else out


def in_values(v: Datum, values: pa.Array) -> Datum:
    """SQL ``v IN (values)``: TRUE on a match, else NULL if v or any value is NULL, else FALSE."""
    if len(values) == 0:
        return _false_like(v)
    has_null = values.null_count > 0
    vals = values.drop_null()
    if len(vals) == 0:
        hit: Datum = _false_like(v)
    else:
        v, vals = coerce_pair(v, vals)
        if is_num(v.type) and is_num(vals.type) and v.type != vals.type:
            v, vals = v.cast(pa.float64()), vals.cast(pa.float64())
        probe = vals if isinstance(v, pa.Scalar) or v.type == vals.type else vals.cast(v.type)
        try:
            if isinstance(v, pa.Scalar):
                hit = pc.is_in(pa.array([v.as_py()], v.type), value_set=probe)[0]
            else:
                hit = pc.is_in(v, value_set=probe)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            raise QueryError(f"operator does not exist: {sql_type_name(v.type)} IN "
                             f"{sql_type_name(vals.type)}", hint="Add an explicit CAST.") from None
    unknown = pa.scalar(True) if has_null else pc.is_null(v)
    nothing = pc.if_else(unknown, pa.scalar(None, pa.bool_()), pa.scalar(False))
    return pc.if_else(hit, pa.scalar(True), nothing)


def _false_like(v: Datum) -> Datum:
    if isinstance(v, pa.Scalar):
        return pa.scalar(False)
    return pa.repeat(pa.scalar(False), len(v))


def _all_false(d: Datum) -> bool:
    if isinstance(d, pa.Scalar):
        return not d.as_py()
    return not pc.any(d).as_py()


@handles(exp.In)
def _in(ev: Evaluator, node: exp.Expression) -> Datum:
    out = _in_positive(ev, node)
    return pc.invert(out) if node.args.get("negate") else out


def _in_positive(ev: Evaluator, node: exp.Expression) -> Datum:
    v = ev.eval(node.this)
    query = node.args.get("query")
    if query is not None:
        from federation.execute.subqueries import subquery_column

        return in_values(v, subquery_column(ev, query))
    if node.args.get("unnest") is not None or node.args.get("field") is not None:
        raise UnsupportedError("IN UNNEST / IN field")
    from federation.execute.types import coerce_literal, unify

    items = [coerce_literal(ev.eval(e), v.type) for e in node.expressions]
    if all(isinstance(i, pa.Scalar) for i in items):
        items, t = unify(items)
        return in_values(v, pa.array([i.as_py() for i in items], t))
    out: Datum = pa.scalar(False)
    for item in items:
        out = pc.or_kleene(out, compare("equal", v, item))
    return out


@handles(exp.Case)
def _case(ev: Evaluator, node: exp.Expression) -> Datum:
    from federation.execute.functions import case_when

    return case_when(ev, node)


def to_numpy(d: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return flat(d).to_numpy(zero_copy_only=False)


def require_text(v: Datum, fn: str) -> Datum:
    if pa.types.is_null(v.type):
        return v.cast(pa.string())
    if not is_str(v.type):
        raise QueryError(f"function {fn}({sql_type_name(v.type)}) does not exist",
                         hint="Add an explicit CAST to text.")
    return v


def require_number(v: Datum, fn: str) -> Datum:
    if pa.types.is_null(v.type):
        return v.cast(pa.float64())
    if not is_num(v.type):
        raise QueryError(f"function {fn}({sql_type_name(v.type)}) does not exist",
                         hint="Add an explicit CAST to a number.")
    return v


# handler modules register themselves on import
from federation.execute import arithmetic, functions, subqueries, temporal, text  # noqa: E402,F401
