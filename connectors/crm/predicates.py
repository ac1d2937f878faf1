"""Walk a sqlglot predicate the way API connectors need: shared by every CRM.

- ``conjuncts(e)``: the AND-ed parts of ``e`` (parentheses removed).
- ``to_dnf(e, ...)``: ``e`` as an OR of AND-groups of *atoms*, or None when the
  expansion would pass the caps (APIs limit groups and filters per request).
- ``atom(e)``: recognise one simple comparison as a ``Comparison``:
  ``col OP literal`` (either side), ``col [NOT] IN (literals)``, ``col IS [NOT] NULL``,
  ``col [NOT] BETWEEN a AND b``, ``col [NOT] LIKE 'pattern'`` (and ILIKE).
- ``like_shape(pattern)``: what a LIKE pattern asks for (exact, prefix, suffix,
  contains), when it has no ``_`` and only leading/trailing ``%``.

Literal values come back as Python values: str, int, float, bool, ``datetime.date``
or ``datetime.datetime`` (``DATE '...'``, ``CAST('...' AS TIMESTAMP)``), so a
connector can render them in its own wire format.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlglot import exp

Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null", "between", "not_between", "like", "not_like"]

_CMP = {exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NEGATE = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not_in", "not_in": "in",
           "is_null": "not_null", "not_null": "is_null", "between": "not_between", "not_between": "between",
           "like": "not_like", "not_like": "like"}


@dataclass(frozen=True)
class Comparison:
    """One recognised atom. ``values`` holds 0 (null tests), 1, 2 (between) or n (in) values."""

    column: str
    op: Op
    values: tuple[Any, ...] = ()
    case_insensitive: bool = False  # ILIKE

    @property
    def value(self) -> Any:
        return self.values[0] if self.values else None


class NotLiteral(ValueError):
    pass


def _unparen(e: exp.Expression) -> exp.Expression:
    while isinstance(e, exp.Paren):
        e = e.this
    return e


def conjuncts(e: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of ``e``; nested ANDs and parentheses are flattened."""
    if e is None:
        return []
    e = _unparen(e)
    if isinstance(e, exp.And):
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def disjuncts(e: exp.Expression) -> list[exp.Expression]:
    e = _unparen(e)
    if isinstance(e, exp.Or):
        return disjuncts(e.left) + disjuncts(e.right)
    return [e]


def to_dnf(
    e: exp.Expression, *, max_groups: int = 5, max_per_group: int | None = None, max_total: int | None = None
) -> list[list[exp.Expression]] | None:
    """``e`` as OR-of-AND groups of leaves (anything that is not AND/OR), or None if over a cap.

    NOT is pushed inward only through ``atom`` (``NOT x IN``...); a NOT around an
    AND/OR is left as a leaf, which ``atom`` will then reject."""
    groups = _dnf(e, max_groups)
    if groups is None:
        return None
    if max_per_group is not None and any(len(g) > max_per_group for g in groups):
        return None
    if max_total is not None and sum(len(g) for g in groups) > max_total:
        return None
    return groups


def _dnf(e: exp.Expression, cap: int) -> list[list[exp.Expression]] | None:
    e = _unparen(e)
    if isinstance(e, exp.Or):
        out: list[list[exp.Expression]] = []
        for part in (e.left, e.right):
            sub = _dnf(part, cap)
            if sub is None:
                return None
            out.extend(sub)
            if len(out) > cap:
                return None
        return out
    if isinstance(e, exp.And):
        left, right = _dnf(e.left, cap), _dnf(e.right, cap)
        if left is None or right is None or len(left) * len(right) > cap:
            return None
        return [a + b for a in left for b in right]
    return [[e]]


def literal_value(e: exp.Expression) -> Any:
    """The Python value of a literal expression; raises ``NotLiteral`` otherwise."""
    e = _unparen(e)
    if isinstance(e, exp.Literal):
        if e.is_string:
            return e.this
        text = e.this
        try:
            return int(text)
        except ValueError:
            return float(text)
    if isinstance(e, exp.Boolean):
        return bool(e.this)
    if isinstance(e, exp.Neg):
        v = literal_value(e.this)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
        raise NotLiteral(e.sql())
    if isinstance(e, exp.Cast) and isinstance(_unparen(e.this), exp.Literal):
        inner = literal_value(e.this)
        to = e.to.this
        if to == exp.DataType.Type.DATE and isinstance(inner, str):
            return dt.date.fromisoformat(inner.strip())
        if to in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.DATETIME) and isinstance(inner, str):
            return _parse_ts(inner)
        if e.to.is_type(*exp.DataType.NUMERIC_TYPES):
            return inner
        if e.to.is_type(*exp.DataType.TEXT_TYPES):
            return str(inner)
    raise NotLiteral(e.sql())


def _parse_ts(text: str) -> dt.datetime:
    v = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)


def _column(e: exp.Expression) -> str | None:
    e = _unparen(e)
    return e.name if isinstance(e, exp.Column) and not e.table else None


def atom(e: exp.Expression) -> Comparison | None:
    """``e`` as one ``Comparison`` on a bare column, or None if it is not that simple."""
    e = _unparen(e)
    if isinstance(e, exp.Not):
        inner = atom(e.this)
        if inner is None:
            return None
        return Comparison(inner.column, _NEGATE[inner.op], inner.values, inner.case_insensitive)  # type: ignore[arg-type]
    try:
        c = _atom(e)
    except (NotLiteral, ValueError):
        return None
    if c is not None and e.args.get("negate"):  # sqlglot 30: `x IS NOT NULL`, `x NOT LIKE` carry negate=True
        c = Comparison(c.column, _NEGATE[c.op], c.values, c.case_insensitive)  # type: ignore[arg-type]
    return c


def _atom(e: exp.Expression) -> Comparison | None:
    for cls, op in _CMP.items():
        if type(e) is cls:
            left, right = _column(e.left), _column(e.right)
            if left is not None and right is None:
                return _non_null(Comparison(left, op, (literal_value(e.right),)))  # type: ignore[arg-type]
            if right is not None and left is None:
                return _non_null(Comparison(right, _FLIP[op], (literal_value(e.left),)))  # type: ignore[arg-type]
            return None
    if isinstance(e, exp.In) and (col := _column(e.this)) is not None:
        if e.args.get("query") or e.args.get("unnest") or e.args.get("field"):
            return None
        vals = tuple(literal_value(v) for v in e.expressions)
        if not vals or any(v is None for v in vals):
            return None
        return Comparison(col, "in", vals)
    if isinstance(e, exp.Is) and (col := _column(e.this)) is not None and isinstance(e.expression, exp.Null):
        return Comparison(col, "is_null")
    if isinstance(e, exp.Between) and (col := _column(e.this)) is not None:
        return Comparison(col, "between", (literal_value(e.args["low"]), literal_value(e.args["high"])))
    if isinstance(e, (exp.Like, exp.ILike)) and (col := _column(e.this)) is not None:
        if e.args.get("escape"):
            return None
        pat = literal_value(e.expression)
        if not isinstance(pat, str):
            return None
        return Comparison(col, "like", (pat,), case_insensitive=isinstance(e, exp.ILike))
    return None


def _non_null(c: Comparison) -> Comparison | None:
    return None if any(v is None for v in c.values) else c


LikeShape = Literal["exact", "prefix", "suffix", "contains"]


def like_shape(pattern: str) -> tuple[LikeShape, str] | None:
    """('prefix', 'ab') for 'ab%', ('contains', 'ab') for '%ab%', ... or None.

    None when the pattern has ``_``, a backslash, or ``%`` in the middle."""
    if "_" in pattern or "\\" in pattern:
        return None
    starts, ends = pattern.startswith("%"), pattern.endswith("%") and len(pattern) > 1
    core = pattern[1 if starts else 0 : len(pattern) - 1 if ends else len(pattern)]
    if "%" in core or (not core and (starts or ends)):
        return None
    if starts and ends:
        return ("contains", core)
    if starts:
        return ("suffix", core)
    if ends:
        return ("prefix", core)
    return ("exact", core)


def evaluate(e: exp.Expression, batch: Any) -> Any:
    """SQL three-valued truth of ``e`` over an Arrow table/batch (a BooleanArray, null = unknown).

    Handles AND/OR/NOT trees of ``atom``s; raises ValueError on anything else.
    Connectors use it to apply, in Arrow, an exact filter they could not send."""
    import pyarrow.compute as pc

    e = _unparen(e)
    if isinstance(e, exp.And):
        return pc.and_kleene(evaluate(e.left, batch), evaluate(e.right, batch))
    if isinstance(e, exp.Or):
        return pc.or_kleene(evaluate(e.left, batch), evaluate(e.right, batch))
    c = atom(e)
    if c is None:
        if isinstance(e, exp.Not):
            return pc.invert(evaluate(e.this, batch))
        raise ValueError(f"cannot evaluate {e.sql()}")
    return _eval_atom(c, batch)


def _eval_atom(c: Comparison, batch: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    col = batch.column(c.column)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()

    def lit(v: Any) -> Any:
        return pa.scalar(v).cast(col.type) if not pa.types.is_string(col.type) else pa.scalar(str(v))

    null_mask = pc.is_null(col)
    unknown = pa.nulls(len(col), pa.bool_())
    fns = {"=": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}
    if c.op in fns:
        return fns[c.op](col, lit(c.value))
    if c.op in ("in", "not_in"):
        hit = pc.is_in(col, value_set=pa.array([lit(v).as_py() for v in c.values], col.type))
        hit = pc.if_else(null_mask, unknown, hit)  # SQL: NULL IN (...) is unknown
        return hit if c.op == "in" else pc.invert(hit)
    if c.op in ("is_null", "not_null"):
        return null_mask if c.op == "is_null" else pc.invert(null_mask)
    if c.op in ("between", "not_between"):
        lo, hi = lit(c.values[0]), lit(c.values[1])
        hit = pc.and_kleene(pc.greater_equal(col, lo), pc.less_equal(col, hi))
        return hit if c.op == "between" else pc.invert(hit)
    if c.op in ("like", "not_like"):
        hit = pc.match_like(col, c.value, ignore_case=c.case_insensitive)
        return hit if c.op == "like" else pc.invert(hit)
    raise ValueError(f"cannot evaluate {c.op}")


def sort_limit(table: Any, order_by: tuple[exp.Ordered, ...] | list[exp.Ordered], limit: int | None = None) -> Any:
    """``table`` sorted by ``order_by`` (bare columns) with PostgreSQL's NULL placement, then cut to ``limit``.

    PostgreSQL puts NULLs last ascending and first descending unless NULLS FIRST/LAST
    says otherwise; Arrow's own null placement is global, hence the helper keys."""
    import pyarrow.compute as pc

    keys: list[tuple[str, str]] = []
    helpers: list[str] = []
    for i, o in enumerate(order_by):
        name = _unparen(o.this).name
        desc = bool(o.args.get("desc"))
        nf = o.args.get("nulls_first")
        nulls_first = nf if isinstance(nf, bool) else desc
        helper = f"__nulls_{i}"
        table = table.append_column(helper, pc.is_null(table.column(name)))
        helpers.append(helper)
        keys += [(helper, "descending" if nulls_first else "ascending"), (name, "descending" if desc else "ascending")]
    if keys:
        table = table.take(pc.sort_indices(table, sort_keys=keys))
        table = table.drop_columns(helpers)
    return table.slice(0, limit) if limit is not None else table
