"""Arrow type handling for the executor: input normalisation, coercion, casts.

The executor works on a small set of types so that every kernel sees the same
thing: int64, float64, string, bool, date32, timestamp[us] (naive = UTC) or
timestamp[us, tz=UTC], duration[us] (intervals of fixed length) and null.
Decimals become float64 (results are compared as floats; see SPEC.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Union

import pyarrow as pa

from federation.errors import QueryError, UnsupportedError

Datum = Union[pa.ChunkedArray, pa.Array, pa.Scalar]

TS = pa.timestamp("us")
TSZ = pa.timestamp("us", tz="UTC")
DUR = pa.duration("us")


def norm_type(t: pa.DataType) -> pa.DataType:
    """The executor's type for an input Arrow type."""
    if pa.types.is_dictionary(t):
        return norm_type(t.value_type)
    if pa.types.is_integer(t):
        return pa.int64()
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return pa.float64()
    if pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view":
        return pa.string()
    if pa.types.is_large_binary(t) or str(t) == "binary_view":
        return pa.binary()
    if pa.types.is_date(t):
        return pa.date32()
    if pa.types.is_timestamp(t):
        return TSZ if t.tz else TS
    if pa.types.is_duration(t):
        return DUR
    return t


def norm_array(a: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    t = norm_type(a.type)
    if t == a.type:
        return a
    if pa.types.is_dictionary(a.type):
        a = a.cast(a.type.value_type) if isinstance(a, pa.Array) else pa.chunked_array(
            [c.dictionary_decode() for c in a.chunks], a.type.value_type)
        return norm_array(a)
    if pa.types.is_timestamp(a.type) and a.type.tz and a.type.tz != "UTC":
        a = a.cast(pa.timestamp(a.type.unit, "UTC"))
    try:
        return a.cast(t)
    except pa.ArrowInvalid:  # uint64 beyond int64, or a decimal of huge precision
        return a.cast(pa.float64(), safe=False)


def norm_table(t: pa.Table) -> pa.Table:
    """Normalise every column of an input table (names kept)."""
    cols = [norm_array(c) for c in t.columns]
    if all(c is o for c, o in zip(cols, t.columns)):
        return t
    return pa.Table.from_arrays(cols, names=t.column_names)


def is_num(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def is_str(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_date(t)


def parse_timestamp_text(text: str, zoned: bool) -> dt.datetime:
    """A PostgreSQL-style timestamp literal; a zone offset converts to UTC."""
    s = text.strip()
    try:
        v = dt.datetime.fromisoformat(s)
    except ValueError:
        raise QueryError(f"invalid input syntax for type timestamp: '{text}'") from None
    if v.tzinfo is not None:
        v = v.astimezone(dt.timezone.utc)
        return v if zoned else v.replace(tzinfo=None)
    return v.replace(tzinfo=dt.timezone.utc) if zoned else v


def _cast_text_scalar(s: pa.Scalar, to: pa.DataType) -> pa.Scalar:
    text = s.as_py()
    if text is None:
        return pa.scalar(None, to)
    if pa.types.is_timestamp(to):
        return pa.scalar(parse_timestamp_text(text, bool(to.tz)), to)
    if pa.types.is_date(to):
        try:
            return pa.scalar(dt.date.fromisoformat(text.strip()[:10]), to)
        except ValueError:
            raise QueryError(f"invalid input syntax for type date: '{text}'") from None
    if pa.types.is_boolean(to):
        v = text.strip().lower()
        if v in ("t", "true", "yes", "y", "on", "1"):
            return pa.scalar(True)
        if v in ("f", "false", "no", "n", "off", "0"):
            return pa.scalar(False)
        raise QueryError(f"invalid input syntax for type boolean: '{text}'")
    try:
        if pa.types.is_integer(to):
            return pa.scalar(int(text.strip()), pa.int64())
        if pa.types.is_floating(to):
            return pa.scalar(float(text.strip()), pa.float64())
    except ValueError:
        kind = "integer" if pa.types.is_integer(to) else "double precision"
        raise QueryError(f"invalid input syntax for type {kind}: '{text}'") from None
    return s.cast(to)


def coerce_literal(d: Datum, other: pa.DataType) -> Datum:
    """PostgreSQL's 'unknown' literal: a text constant takes the other side's type."""
    if isinstance(d, pa.Scalar) and is_str(d.type) and not is_str(other) and not pa.types.is_null(other):
        return _cast_text_scalar(d, other)
    return d


def _tz_align(a: Datum, b: Datum) -> tuple[Datum, Datum]:
    ta, tb = a.type, b.type
    if pa.types.is_date(ta) and pa.types.is_timestamp(tb):
        a = a.cast(tb)
    elif pa.types.is_date(tb) and pa.types.is_timestamp(ta):
        b = b.cast(ta)
    ta, tb = a.type, b.type
    if pa.types.is_timestamp(ta) and pa.types.is_timestamp(tb) and bool(ta.tz) != bool(tb.tz):
        # naive timestamps are UTC: reinterpret, never shift
        a, b = (a.cast(TSZ) if not ta.tz else a), (b.cast(TSZ) if not tb.tz else b)
    return a, b


def coerce_pair(a: Datum, b: Datum) -> tuple[Datum, Datum]:
    """Bring two operands to types Arrow kernels accept together."""
    ta, tb = a.type, b.type
    if pa.types.is_null(ta) and not pa.types.is_null(tb):
        return cast_null(a, tb), b
    if pa.types.is_null(tb) and not pa.types.is_null(ta):
        return a, cast_null(b, ta)
    a = coerce_literal(a, tb)
    b = coerce_literal(b, a.type)
    if is_temporal(a.type) and is_temporal(b.type):
        return _tz_align(a, b)
    if pa.types.is_boolean(a.type) != pa.types.is_boolean(b.type) and not (
            pa.types.is_null(a.type) or pa.types.is_null(b.type)):
        raise QueryError(f"operator does not exist: {sql_type_name(a.type)} and {sql_type_name(b.type)}",
                         hint="Add an explicit CAST.")
    return a, b


def cast_null(d: Datum, to: pa.DataType) -> Datum:
    if isinstance(d, pa.Scalar):
        return pa.scalar(None, to)
    return pa.nulls(len(d), to) if isinstance(d, pa.Array) else pa.chunked_array(
        [pa.nulls(len(d), to)], to)


def common_type(types: list[pa.DataType]) -> pa.DataType:
    """The type several values unify to (CASE branches, COALESCE, UNION columns)."""
    real = [t for t in types if not pa.types.is_null(t)]
    if not real:
        return pa.null()
    if all(t == real[0] for t in real):
        return real[0]
    if all(is_num(t) for t in real):
        return pa.float64() if any(pa.types.is_floating(t) for t in real) else pa.int64()
    if all(is_temporal(t) for t in real):
        if all(pa.types.is_date(t) for t in real):
            return pa.date32()
        return TSZ if any(pa.types.is_timestamp(t) and t.tz for t in real) else TS
    if all(is_str(t) for t in real):
        return pa.string()
    raise QueryError("types " + " and ".join(sorted({sql_type_name(t) for t in real})) + " cannot be matched",
                     hint="Add an explicit CAST so every branch has one type.")


def unify(values: list[Datum]) -> tuple[list[Datum], pa.DataType]:
    """Cast every value to their common type; text literals follow the others."""
    others = [v.type for v in values if not (isinstance(v, pa.Scalar) and is_str(v.type))]
    target_hint = common_type(others) if others else None
    if target_hint is not None and not pa.types.is_null(target_hint):
        values = [coerce_literal(v, target_hint) for v in values]
    target = common_type([v.type for v in values])
    out = []
    for v in values:
        if v.type == target:
            out.append(v)
        elif pa.types.is_null(v.type):
            out.append(cast_null(v, target))
        else:
            out.append(v.cast(target))
    return out, target


def sql_type_name(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if is_str(t):
        return "text"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp"
    if pa.types.is_duration(t):
        return "interval"
    if pa.types.is_null(t):
        return "unknown"
    return str(t)


def unsupported_type(what: str) -> UnsupportedError:
    return UnsupportedError(f"type {what} in the Arrow executor")
