"""CASE, CAST, COALESCE/NULLIF/GREATEST/LEAST and the math functions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.expressions import (
    Evaluator, as_bool, broadcast, compare, flat, handles, require_number,
)
from federation.execute.types import (
    TS, TSZ, Datum, _cast_text_scalar, cast_null, is_str, parse_timestamp_text, sql_type_name, unify,
)

T = exp.DataType.Type
_INTS = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.MEDIUMINT, T.UTINYINT, T.USMALLINT, T.UINT, T.UBIGINT}
_FLOATS = {T.FLOAT, T.DOUBLE, T.DECIMAL, T.BIGDECIMAL, T.MONEY}
_TEXT = {T.TEXT, T.VARCHAR, T.CHAR, T.NCHAR, T.NVARCHAR, T.NAME}


def target_type(dt: exp.DataType) -> tuple[pa.DataType, int | None]:
    """The Arrow type for a SQL type, and the scale of a NUMERIC(p, s)."""
    t = dt.this
    if t in _INTS:
        return pa.int64(), None
    if t in _FLOATS:
        params = dt.expressions
        scale = int(params[1].name) if t == T.DECIMAL and len(params) > 1 else None
        if t == T.DECIMAL and len(params) == 1:
            scale = 0
        return pa.float64(), scale
    if t in _TEXT:
        return pa.string(), None
    if t == T.BOOLEAN:
        return pa.bool_(), None
    if t == T.DATE:
        return pa.date32(), None
    if t in (T.TIMESTAMP, T.DATETIME, T.TIMESTAMPNTZ):
        return TS, None
    if t in (T.TIMESTAMPTZ, T.TIMESTAMPLTZ):
        return TSZ, None
    raise UnsupportedError(f"CAST to {dt.sql(dialect='postgres')} in the Arrow executor")


def _round_half_away(v: Datum, ndigits: int = 0) -> Datum:
    """numeric rounding of a float64 value: PostgreSQL converts float8 to numeric with 15
    significant digits first, so 4331.45 (binary 4331.4499...) is a tie and rounds up."""
    if isinstance(v, pa.Scalar):
        return _round_half_away(pa.array([v.as_py()], v.type), ndigits)[0]
    x = flat(v).cast(pa.float64())
    vals = x.to_numpy(zero_copy_only=False)
    scale = 10.0 ** ndigits
    r = vals * scale
    a = np.abs(r)
    low = np.floor(a)
    tie = np.abs(a - low - 0.5) <= np.maximum(a, 1.0) * 4e-15
    out = np.where(tie, low + 1.0, np.floor(a + 0.5)) * np.sign(r) / scale
    return pa.array(out, pa.float64(), mask=pc.is_null(x).to_numpy(zero_copy_only=False))


_FLOAT_TYPES = {T.DOUBLE, T.FLOAT}


def float_typed(node: exp.Expression) -> bool:
    """Whether PostgreSQL computes ``node`` as float8 (not numeric), from the optimizer's type
    annotations: a double column or a cast to double inside it (a cast to another type hides
    what is under it). float8 rounds half to even (rint); numeric, and literals such as 2.5,
    round half away from zero."""
    if isinstance(node, exp.Cast):
        return node.args["to"].this in _FLOAT_TYPES
    if isinstance(node, exp.Column):
        return node.type is not None and node.type.this in _FLOAT_TYPES
    return any(float_typed(c) for c in node.iter_expressions())


def round_mode(node: exp.Expression) -> str:
    return "half_to_even" if float_typed(node) else "half_towards_infinity"


def cast_to(v: Datum, to: pa.DataType, safe: bool = False, rounding: str = "half_to_even") -> Datum:
    """CAST with PostgreSQL's conversions; ``safe`` (TRY_CAST) turns failures into NULL."""
    if isinstance(v, pa.Scalar) and is_str(v.type) and not is_str(to):
        try:
            return _cast_text_scalar(v, to)
        except QueryError:
            if safe:
                return pa.scalar(None, to)
            raise
    if v.type == to:
        return v
    if pa.types.is_null(v.type):
        return cast_null(v, to)
    try:
        return _cast_array(v, to, rounding)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, QueryError) as e:
        if not safe:
            if isinstance(e, QueryError):
                raise
            from federation.execute import _redact

            raise QueryError(f"cannot cast {sql_type_name(v.type)} to {sql_type_name(to)}: {_redact(str(e))}",
                             hint="Use TRY_CAST to turn bad values into NULL.") from None
    if isinstance(v, pa.Scalar):
        return pa.scalar(None, to)
    return _cast_each(v, to)


def _cast_array(v: Datum, to: pa.DataType, rounding: str = "half_to_even") -> Datum:
    src = v.type
    if pa.types.is_integer(to) and pa.types.is_floating(src):
        # float8 -> int rounds half to even (rint); numeric -> int half away from zero
        r = pc.round(v, round_mode="half_to_even") if rounding == "half_to_even" else _round_half_away(v)
        return r.cast(pa.int64())
    if pa.types.is_integer(to) and is_str(src):
        return pc.utf8_trim_whitespace(v).cast(pa.int64())
    if pa.types.is_floating(to) and is_str(src):
        return pc.utf8_trim_whitespace(v).cast(pa.float64())
    if pa.types.is_boolean(to) and is_str(src):
        low = pc.utf8_lower(pc.utf8_trim_whitespace(v))
        t = pc.is_in(low, value_set=pa.array(["t", "true", "yes", "y", "on", "1"]))
        f = pc.is_in(low, value_set=pa.array(["f", "false", "no", "n", "off", "0"]))
        bad = pc.and_(pc.is_valid(low), pc.invert(pc.or_(t, f)))
        if pc.any(bad).as_py():
            raise QueryError("invalid input syntax for type boolean")
        return pc.if_else(pc.is_null(low), pa.scalar(None, pa.bool_()), t)
    if pa.types.is_timestamp(to) and is_str(src):
        return _text_to_timestamp(v, to)
    if pa.types.is_date(to) and is_str(src):
        return _text_to_timestamp(pc.utf8_trim_whitespace(v), TS).cast(pa.date32())
    if pa.types.is_timestamp(to) and pa.types.is_timestamp(src):
        return v.cast(to)  # naive <-> UTC: reinterpretation, no shift
    if is_str(to) and pa.types.is_timestamp(src):
        return _timestamp_text(v)
    if is_str(to) and pa.types.is_boolean(src):
        return pc.if_else(v, "true", "false")
    return v.cast(to)


def _text_to_timestamp(v: Datum, to: pa.DataType) -> Datum:
    try:
        return v.cast(TS).cast(to)
    except pa.ArrowInvalid:
        pass
    try:
        zoned = v.cast(TSZ)
    except pa.ArrowInvalid:
        return _cast_each(v, to, strict=True)
    return zoned.cast(to)


def _cast_each(v: Datum, to: pa.DataType, strict: bool = False) -> pa.Array:
    """Slow path for mixed inputs: one value at a time, NULL on failure (TRY_CAST)."""
    out = []
    for item in flat(v).to_pylist():
        if item is None:
            out.append(None)
            continue
        try:
            if pa.types.is_timestamp(to) and isinstance(item, str):
                out.append(parse_timestamp_text(item, bool(to.tz)))
            else:
                out.append(cast_to(pa.scalar(item, v.type), to).as_py())
        except (QueryError, pa.ArrowException, ValueError):
            if strict:
                # the value comes from a source: customer data stays out of the message
                raise QueryError(f"invalid input syntax for type {sql_type_name(to)} in a column value",
                                 hint="Use TRY_CAST to turn bad values into NULL.") from None
            out.append(None)
    return pa.array(out, to)


def _timestamp_text(v: Datum) -> Datum:
    fmt = "%Y-%m-%d %H:%M:%S"
    text = pc.strftime(v, format=fmt)  # fractional seconds as .ffffff: trim zeros like PostgreSQL
    text = pc.replace_substring_regex(text, pattern=r"\.0+$", replacement="")
    text = pc.replace_substring_regex(text, pattern=r"(\.\d*[1-9])0+$", replacement=r"\1")
    if v.type.tz:
        text = pc.binary_join_element_wise(text, "+00", "")
    return text


@handles(exp.Cast, exp.TryCast)
def _cast(ev: Evaluator, node: exp.Expression) -> Datum:
    if node.args.get("format") is not None or node.args.get("default") is not None:
        raise UnsupportedError("CAST ... FORMAT / DEFAULT")
    to, scale = target_type(node.args["to"])
    v = ev.eval(node.this)
    if hasattr(v, "months"):
        if isinstance(node.parent, exp.Extract):
            return v  # sqlglot wraps AGE(...) in CAST(... AS TIMESTAMP) under EXTRACT: keep the interval
        raise UnsupportedError("CAST of an interval")
    safe = isinstance(node, exp.TryCast) and bool(node.args.get("safe", True))
    out = cast_to(v, to, safe=safe, rounding=round_mode(node.this))
    if scale is not None:
        out = _round_half_away(out, scale)
    dtype = node.args["to"]
    if dtype.this in (T.VARCHAR, T.CHAR, T.NCHAR, T.NVARCHAR) and dtype.expressions:
        # an explicit cast to varchar(n) truncates silently in PostgreSQL; char(n) also pads
        n = int(dtype.expressions[0].name)
        out = pc.utf8_slice_codeunits(out, start=0, stop=n)
        if dtype.this in (T.CHAR, T.NCHAR):
            out = pc.utf8_rpad(out, width=n, padding=" ")
    return out


def case_when(ev: Evaluator, node: exp.Expression) -> Datum:
    """Searched CASE, evaluating each THEN only on the rows it decides (so 1/0 in an
    unreached branch raises nothing, as in PostgreSQL)."""
    subject = node.this
    n = ev.n
    remaining = pa.repeat(pa.scalar(True), n)
    pieces: list[tuple[pa.Array, Datum]] = []
    idx = pa.array(np.arange(n, dtype=np.int64))
    for when in node.args.get("ifs") or []:
        cond = ev.eval(when.this) if subject is None else compare("equal", ev.eval(subject), ev.eval(when.this))
        cond = pc.fill_null(broadcast(as_bool(cond, "CASE"), n), False)
        take = flat(pc.and_(remaining, cond))
        if pc.any(take).as_py():
            pieces.append((idx.filter(take), ev.subset(take).eval(when.args["true"])))
        remaining = flat(pc.and_(remaining, pc.invert(cond)))
    default = node.args.get("default")
    if pc.any(remaining).as_py() or not pieces:
        rest = ev.subset(remaining).eval(default) if default is not None else pa.scalar(None, pa.null())
        pieces.append((idx.filter(remaining), rest))
    values, target = unify([p[1] for p in pieces])
    if all(isinstance(v, pa.Scalar) for v in values) and len(values) == 1:
        return values[0]
    arrays = [flat(broadcast(v, len(i))) for (i, _), v in zip(pieces, values)]
    order = pc.sort_indices(pa.concat_arrays([i for i, _ in pieces]))
    return pa.concat_arrays([a.cast(target) for a in arrays]).take(order)


@handles(exp.Coalesce)
def _coalesce(ev: Evaluator, node: exp.Expression) -> Datum:
    values, _t = unify([ev.eval(node.this)] + [ev.eval(e) for e in node.expressions])
    if len(values) == 1:
        return values[0]
    return pc.coalesce(*values)


@handles(exp.Nullif)
def _nullif(ev: Evaluator, node: exp.Expression) -> Datum:
    a, b = ev.eval(node.this), ev.eval(node.expression)
    eq = pc.fill_null(compare("equal", a, b), False)
    return pc.if_else(eq, pa.scalar(None, a.type) if not pa.types.is_null(a.type) else None, a)


def _extreme(ev: Evaluator, node: exp.Expression, fn: str) -> Datum:
    values, _t = unify([ev.eval(node.this)] + [ev.eval(e) for e in node.expressions])
    # PostgreSQL's GREATEST/LEAST ignore NULLs
    return getattr(pc, fn)(*values, skip_nulls=True)


@handles(exp.Greatest)
def _greatest(ev: Evaluator, node: exp.Expression) -> Datum:
    return _extreme(ev, node, "max_element_wise")


@handles(exp.Least)
def _least(ev: Evaluator, node: exp.Expression) -> Datum:
    return _extreme(ev, node, "min_element_wise")


def _num(ev: Evaluator, node: exp.Expression, fn: str) -> Datum:
    return require_number(ev.eval(node.this), fn)


@handles(exp.Abs)
def _abs(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.abs_checked(_num(ev, node, "abs"))


@handles(exp.Round)
def _round(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _num(ev, node, "round")
    digits = node.args.get("decimals")
    nd = 0 if digits is None else ev.constant(digits, "ROUND's digits")
    if pa.types.is_integer(v.type) and (nd is None or nd >= 0):
        return v
    if nd is None:
        return pa.scalar(None, pa.float64())
    if digits is None and float_typed(node.this):
        return pc.round(v.cast(pa.float64()), round_mode="half_to_even")  # round(float8) is rint
    # round(x, n) exists only for numeric in PostgreSQL: a float8 argument is cast to numeric
    return _round_half_away(v, int(nd))


@handles(exp.Ceil)
def _ceil(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _num(ev, node, "ceil")
    return v if pa.types.is_integer(v.type) else pc.ceil(v)


@handles(exp.Floor)
def _floor(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _num(ev, node, "floor")
    return v if pa.types.is_integer(v.type) else pc.floor(v)


def _domain(v: Datum, ok: Datum, message: str) -> None:
    bad = pc.invert(pc.fill_null(ok, True))
    if (bad.as_py() if isinstance(bad, pa.Scalar) else pc.any(bad).as_py()):
        raise QueryError(message)


@handles(exp.Sqrt)
def _sqrt(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _num(ev, node, "sqrt").cast(pa.float64())
    _domain(v, pc.greater_equal(v, 0), "cannot take square root of a negative number")
    return pc.sqrt(v)


@handles(exp.Ln)
def _ln(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _num(ev, node, "ln").cast(pa.float64())
    _domain(v, pc.greater(v, 0), "cannot take logarithm of zero or a negative number")
    return pc.ln(v)


@handles(exp.Log)
def _log(ev: Evaluator, node: exp.Expression) -> Datum:
    if node.expression is None:  # PostgreSQL's one-argument log is base 10
        v = _num(ev, node, "log").cast(pa.float64())
        _domain(v, pc.greater(v, 0), "cannot take logarithm of zero or a negative number")
        return pc.log10(v)
    base = require_number(ev.eval(node.this), "log").cast(pa.float64())
    v = require_number(ev.eval(node.expression), "log").cast(pa.float64())
    _domain(v, pc.greater(v, 0), "cannot take logarithm of zero or a negative number")
    return pc.divide(pc.ln(v), pc.ln(base))


@handles(exp.Exp)
def _exp(ev: Evaluator, node: exp.Expression) -> Datum:
    return pc.exp(_num(ev, node, "exp").cast(pa.float64()))


@handles(exp.Sign)
def _sign(ev: Evaluator, node: exp.Expression) -> Datum:
    v = _num(ev, node, "sign")
    return pc.sign(v).cast(v.type)
