"""Arithmetic operators with PostgreSQL semantics (integer division, modulo, dates, intervals)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import QueryError
from federation.execute.expressions import Evaluator, handles, require_number
from federation.execute.temporal import IntervalValue, add_interval
from federation.execute.types import DUR, Datum, coerce_pair, is_num, is_str, sql_type_name


def _op_error(op: str, a: Datum, b: Datum) -> QueryError:
    return QueryError(f"operator does not exist: {sql_type_name(a.type)} {op} {sql_type_name(b.type)}",
                      hint="Add an explicit CAST.")


def _days(d: Datum) -> Datum:
    """date32 as int64 days since the epoch."""
    return d.cast(pa.int32()).cast(pa.int64())


def _check_zero(b: Datum) -> None:
    if isinstance(b, pa.Scalar):
        if b.is_valid and b.as_py() == 0:
            raise QueryError("division by zero")
        return
    if pc.any(pc.equal(b, 0)).as_py():
        raise QueryError("division by zero")


def _numeric(op: str, a: Datum, b: Datum) -> tuple[Datum, Datum]:
    a, b = coerce_pair(a, b)
    for v in (a, b):
        if not (is_num(v.type) or pa.types.is_null(v.type)):
            raise _op_error(op, a, b)
    if pa.types.is_null(a.type):  # NULL op NULL
        a, b = a.cast(pa.int64()), b.cast(pa.int64())
    return a, b


def add(a: Datum | IntervalValue, b: Datum | IntervalValue, sign: int = 1) -> Datum:
    if isinstance(b, IntervalValue):
        if isinstance(a, IntervalValue):
            return IntervalValue(a.months + sign * b.months, a.micros + sign * b.micros)
        return add_interval(a, b if sign > 0 else b.negate())
    if isinstance(a, IntervalValue):
        if sign < 0:
            raise QueryError("operator does not exist: interval - " + sql_type_name(b.type))
        return add_interval(b, a)
    ta, tb = a.type, b.type
    if pa.types.is_date(ta) and pa.types.is_integer(tb):
        return pc.add(_days(a), b if sign > 0 else pc.negate(b)).cast(pa.int32()).cast(pa.date32())
    if pa.types.is_date(tb) and pa.types.is_integer(ta) and sign > 0:
        return add(b, a)
    if sign < 0 and pa.types.is_date(ta) and (pa.types.is_date(tb) or is_str(tb)):
        a, b = coerce_pair(a, b)
        return pc.subtract(_days(a), _days(b))
    if sign < 0 and (pa.types.is_timestamp(ta) or pa.types.is_timestamp(tb)) and not is_num(tb):
        a, b = coerce_pair(a, b)
        if pa.types.is_timestamp(a.type) and pa.types.is_timestamp(b.type):
            return pc.subtract(a, b).cast(DUR)
    if pa.types.is_duration(ta) or pa.types.is_duration(tb):
        a, b = coerce_pair(a, b)
        return pc.add(a, b) if sign > 0 else pc.subtract(a, b)
    a, b = _numeric("+" if sign > 0 else "-", a, b)
    try:
        return pc.add_checked(a, b) if sign > 0 else pc.subtract_checked(a, b)
    except pa.ArrowInvalid as e:
        raise QueryError(f"{'bigint' if pa.types.is_integer(a.type) else 'value'} out of range ({e})") from None


@handles(exp.Add)
def _add(ev: Evaluator, node: exp.Expression) -> Datum:
    return add(ev.eval(node.this), ev.eval(node.expression))


@handles(exp.Sub)
def _sub(ev: Evaluator, node: exp.Expression) -> Datum:
    return add(ev.eval(node.this), ev.eval(node.expression), sign=-1)


@handles(exp.Mul)
def _mul(ev: Evaluator, node: exp.Expression) -> Datum:
    a, b = ev.eval(node.this), ev.eval(node.expression)
    if isinstance(a, IntervalValue) or isinstance(b, IntervalValue):
        iv, k = (a, b) if isinstance(a, IntervalValue) else (b, a)
        if isinstance(k, pa.Scalar) and pa.types.is_integer(k.type) and k.is_valid:
            return IntervalValue(iv.months * k.as_py(), iv.micros * k.as_py())
        raise QueryError("interval * non-constant is not supported")
    a, b = _numeric("*", a, b)
    try:
        return pc.multiply_checked(a, b)
    except pa.ArrowInvalid:
        raise QueryError("bigint out of range") from None


def divide(a: Datum, b: Datum, integer: bool = False) -> Datum:
    a, b = _numeric("/", a, b)
    _check_zero(b)
    if integer and not (pa.types.is_integer(a.type) and pa.types.is_integer(b.type)):
        return pc.trunc(pc.divide(a.cast(pa.float64()), b.cast(pa.float64())))
    # Arrow's integer divide truncates toward zero, like PostgreSQL
    return pc.divide(a, b)


@handles(exp.Div)
def _div(ev: Evaluator, node: exp.Expression) -> Datum:
    return divide(ev.eval(node.this), ev.eval(node.expression))


@handles(exp.IntDiv)
def _intdiv(ev: Evaluator, node: exp.Expression) -> Datum:
    return divide(ev.eval(node.this), ev.eval(node.expression), integer=True)


def modulo(a: Datum, b: Datum) -> Datum:
    a, b = _numeric("%", a, b)
    _check_zero(b)
    # the result takes the dividend's sign: a - b * trunc(a / b)
    if pa.types.is_integer(a.type) and pa.types.is_integer(b.type):
        return pc.subtract(a, pc.multiply(b, pc.divide(a, b)))
    a, b = a.cast(pa.float64()), b.cast(pa.float64())
    return pc.subtract(a, pc.multiply(b, pc.trunc(pc.divide(a, b))))


@handles(exp.Mod)
def _mod(ev: Evaluator, node: exp.Expression) -> Datum:
    return modulo(ev.eval(node.this), ev.eval(node.expression))


@handles(exp.Neg)
def _neg(ev: Evaluator, node: exp.Expression) -> Datum:
    v = ev.eval(node.this)
    if isinstance(v, IntervalValue):
        return v.negate()
    if pa.types.is_duration(v.type):
        return pc.negate(v)
    v = require_number(v, "-")
    return pc.negate_checked(v)


@handles(exp.Pow)
def _pow(ev: Evaluator, node: exp.Expression) -> Datum:
    a, b = _numeric("^", ev.eval(node.this), ev.eval(node.expression))
    return pc.power(a.cast(pa.float64()), b.cast(pa.float64()))


def _text(v: Datum) -> Datum:
    if is_str(v.type):
        return v
    from federation.execute.functions import cast_to

    return cast_to(v, pa.string())


@handles(exp.DPipe)
def _dpipe(ev: Evaluator, node: exp.Expression) -> Datum:
    a, b = _text(ev.eval(node.this)), _text(ev.eval(node.expression))
    return pc.binary_join_element_wise(a, b, "")
