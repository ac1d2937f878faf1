"""Translate a sqlglot predicate into a ``pyarrow.compute.Expression``, exactly or not at all.

``to_expression`` returns None when any part has no translation with identical
PostgreSQL semantics; the engine then applies the predicate itself. What holds:

- Dataset filters drop rows whose predicate is NULL, and ``&``, ``|``, ``~`` on
  expressions are Kleene (SQL) logic, so ``NOT (x > 1)`` drops NULL ``x`` as SQL does.
- ``is_in`` answers false (not NULL) for a NULL input, which ``NOT IN`` would turn
  into true: short lists become ``=`` chains, long ones are wrapped so a NULL input
  stays NULL. A NULL inside the list is left to the engine.
- A literal is cast to the column's type only when the cast is lossless
  (``int_col > 2.5`` is left to the engine).
- ``LIKE`` uses Arrow's ``match_like`` (``%``, ``_``, backslash escape: PostgreSQL's
  defaults); ``ESCAPE`` clauses and ``ILIKE`` (locale-dependent folding) are not pushed.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

    from connectors.base import TableInfo

_IN_CHAIN_MAX = 32  # longer IN lists use is_in (one hash lookup) instead of an OR chain

_FLIP = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ, exp.NEQ: exp.NEQ}


class Untranslatable(Exception):
    """Internal: some part has no exact Arrow equivalent."""


def literal_value(node: exp.Expression) -> tuple[Any, str]:
    """A sqlglot literal as (python value, kind); kind is number/string/bool/date/timestamp/timestamptz/null."""
    if isinstance(node, exp.Paren):
        return literal_value(node.this)
    if isinstance(node, exp.Null):
        return None, "null"
    if isinstance(node, exp.Boolean):
        return bool(node.this), "bool"
    if isinstance(node, exp.Neg):
        value, kind = literal_value(node.this)
        if kind != "number":
            raise Untranslatable("negated non-number")
        return -value, kind
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this, "string"
        text = node.this
        try:
            return int(text), "number"
        except ValueError:
            try:
                return decimal.Decimal(text), "number"
            except decimal.InvalidOperation as e:
                raise Untranslatable(text) from e
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        to = node.to.this
        text = node.this.this
        try:
            if to == exp.DataType.Type.DATE:
                return dt.date.fromisoformat(text.strip()), "date"
            if to in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
                # PostgreSQL's timestamp ignores a written offset
                return dt.datetime.fromisoformat(text.strip()).replace(tzinfo=None), "timestamp"
            if to == exp.DataType.Type.TIMESTAMPTZ:
                value = dt.datetime.fromisoformat(text.strip())
                if value.tzinfo is None:
                    value = value.replace(tzinfo=dt.timezone.utc)  # a zone-less timestamp is UTC
                return value.astimezone(dt.timezone.utc), "timestamptz"
        except ValueError as e:
            raise Untranslatable(text) from e
    raise Untranslatable(type(node).__name__)


def arrow_literal(value: Any, kind: str, target: pa.DataType) -> pa.Scalar:
    """``value`` as a scalar of ``target``, or Untranslatable when the cast would not be lossless."""
    import pyarrow as pa

    t = target.value_type if pa.types.is_dictionary(target) else target
    ok = {
        "number": pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t),
        "string": pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
        or pa.types.is_date(t),
        "bool": pa.types.is_boolean(t),
        "date": pa.types.is_date(t) or pa.types.is_timestamp(t),
        "timestamp": pa.types.is_timestamp(t),
        "timestamptz": pa.types.is_timestamp(t) and t.tz is not None,
    }.get(kind, False)
    if not ok:
        raise Untranslatable(f"{kind} vs {t}")
    if kind == "string" and pa.types.is_date(t):
        try:
            value, kind = dt.date.fromisoformat(value.strip()), "date"  # PostgreSQL coerces '2024-01-01'
        except ValueError as e:
            raise Untranslatable(value) from e
    if kind == "date" and pa.types.is_timestamp(t):
        value = dt.datetime.combine(value, dt.time())
        if t.tz is not None:
            value = value.replace(tzinfo=dt.timezone.utc)
    if kind == "timestamp" and t.tz is not None:
        value = value.replace(tzinfo=dt.timezone.utc)
    if kind == "number" and isinstance(value, decimal.Decimal):
        if pa.types.is_floating(t):
            value = float(value)  # PostgreSQL casts a numeric literal to the float column's type
        elif pa.types.is_integer(t) and value == value.to_integral_value():
            value = int(value)
    try:
        scalar = pa.scalar(value, type=t)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as e:
        raise Untranslatable(str(value)) from e
    back = scalar.as_py()
    if kind == "number" and (back is None or decimal.Decimal(str(back)) != decimal.Decimal(str(value))):
        raise Untranslatable(f"lossy {value} as {t}")
    if kind in ("timestamp", "timestamptz") and back != value:
        raise Untranslatable(f"lossy {value} as {t}")
    return scalar


def to_expression(pred: exp.Expression, table: TableInfo, schema: pa.Schema,
                  views: frozenset[str] = frozenset()) -> pc.Expression | None:
    """The Arrow filter for ``pred`` over ``table`` (file columns in ``schema``), or None.

    ``views`` names columns stored as string_view but read as string: they are
    referenced through a cast, since statistics pruning compares the stored type."""
    try:
        return _Translator(table, schema, views).visit(pred)
    except Untranslatable:
        return None


class _Translator:
    def __init__(self, table: TableInfo, schema: pa.Schema, views: frozenset[str]) -> None:
        self.table = table
        self.schema = schema
        self.views = views

    def column(self, node: exp.Expression) -> tuple[pc.Expression, pa.DataType] | None:
        import pyarrow.compute as pc

        if isinstance(node, exp.Paren):
            return self.column(node.this)
        if not isinstance(node, exp.Column):
            return None
        col = self.table.column(node.name)
        if col is None or self.schema.get_field_index(col.native_name) < 0:
            raise Untranslatable(f"unknown column {node.name}")
        t = self.schema.field(col.native_name).type
        ref = pc.field(col.native_name)
        return (ref.cast(t) if col.native_name in self.views else ref), t

    def visit(self, node: exp.Expression) -> pc.Expression:
        out = self.visit_positive(node)
        # sqlglot 30 writes ``x IS NOT NULL`` (and some NOT forms) as a ``negate`` flag
        return ~out if node.args.get("negate") else out

    def visit_positive(self, node: exp.Expression) -> pc.Expression:
        import pyarrow as pa

        if isinstance(node, exp.Paren):
            return self.visit(node.this)
        if isinstance(node, exp.And):
            return self.visit(node.this) & self.visit(node.expression)
        if isinstance(node, exp.Or):
            return self.visit(node.this) | self.visit(node.expression)
        if isinstance(node, exp.Not):
            return ~self.visit(node.this)
        if type(node) in _FLIP:
            return self.compare(type(node), node.this, node.expression)
        if isinstance(node, (exp.NullSafeEQ, exp.NullSafeNEQ)):
            return self.null_safe(node)
        if isinstance(node, exp.Is):
            return self.is_(node)
        if isinstance(node, exp.In):
            return self.in_(node)
        if isinstance(node, exp.Between):
            field = self.column(node.this)
            if field is None:
                raise Untranslatable("BETWEEN over an expression")
            return self.compare(exp.GTE, node.this, node.args["low"]) & self.compare(exp.LTE, node.this, node.args["high"])
        if isinstance(node, exp.Like):
            return self.like(node)
        field = self.column(node)
        if field is not None and pa.types.is_boolean(field[1]):
            return field[0]
        raise Untranslatable(type(node).__name__)

    def compare(self, op: type, left: exp.Expression, right: exp.Expression) -> pc.Expression:
        lf, rf = self.column(left), self.column(right)
        if lf is None and rf is not None:
            op, left, right, lf, rf = _FLIP[op], right, left, rf, None
        if lf is None:
            raise Untranslatable("comparison without a column")
        if rf is not None:
            if lf[1] != rf[1]:
                raise Untranslatable("columns of different types")
            other = rf[0]
        else:
            value, kind = literal_value(right)
            if kind == "null":
                raise Untranslatable("comparison with NULL")
            other = arrow_literal(value, kind, lf[1])
        f = lf[0]
        return {
            exp.EQ: lambda: f == other, exp.NEQ: lambda: f != other, exp.LT: lambda: f < other,
            exp.LTE: lambda: f <= other, exp.GT: lambda: f > other, exp.GTE: lambda: f >= other,
        }[op]()

    def null_safe(self, node: exp.Expression) -> pc.Expression:
        lf = self.column(node.this)
        value, kind = literal_value(node.expression)
        if lf is None:
            raise Untranslatable("IS DISTINCT FROM over an expression")
        if kind == "null":
            same = lf[0].is_null()
        else:
            same = lf[0].is_valid() & (lf[0] == arrow_literal(value, kind, lf[1]))
        return same if isinstance(node, exp.NullSafeEQ) else ~same

    def is_(self, node: exp.Is) -> pc.Expression:
        import pyarrow as pa

        lf = self.column(node.this)
        if lf is None:
            raise Untranslatable("IS over an expression")
        if isinstance(node.expression, exp.Null):
            return lf[0].is_null()
        if isinstance(node.expression, exp.Boolean) and pa.types.is_boolean(lf[1]):
            # x IS TRUE is never NULL: valid AND x (Kleene AND gives false for NULL x)
            return lf[0].is_valid() & (lf[0] if node.expression.this else ~lf[0])
        raise Untranslatable("IS")

    def in_(self, node: exp.In) -> pc.Expression:
        import pyarrow as pa
        import pyarrow.compute as pc

        lf = self.column(node.this)
        items = node.expressions
        if lf is None or not items or node.args.get("query") is not None or node.args.get("unnest") is not None:
            raise Untranslatable("IN")
        scalars = []
        for item in items:
            value, kind = literal_value(item)
            if kind == "null":
                raise Untranslatable("NULL in an IN list")
            scalars.append(arrow_literal(value, kind, lf[1]))
        if len(scalars) <= _IN_CHAIN_MAX:
            out = lf[0] == scalars[0]
            for s in scalars[1:]:
                out = out | (lf[0] == s)
            return out
        values = pa.array([s.as_py() for s in scalars], type=scalars[0].type)
        return pc.if_else(lf[0].is_valid(), pc.is_in(lf[0], value_set=values), pa.scalar(None, pa.bool_()))

    def like(self, node: exp.Like) -> pc.Expression:
        import pyarrow as pa
        import pyarrow.compute as pc

        lf = self.column(node.this)
        pattern, kind = literal_value(node.expression)
        if lf is None or kind != "string":
            raise Untranslatable("LIKE")
        t = lf[1].value_type if pa.types.is_dictionary(lf[1]) else lf[1]
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            raise Untranslatable("LIKE over a non-string column")
        return pc.match_like(lf[0], pattern)
