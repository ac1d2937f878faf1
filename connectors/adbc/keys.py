"""Dynamic key filters (issue 6) as one bound parameter, or as literals where a driver cannot bind.

A key filter is a hint: the join in Arrow re-checks every row, so a source may
return more rows than the keys select, never fewer. Keys are sent only when they
are of the column's own kind (integer keys for an integer column, text keys for
a text column); any other pairing (dates, numerics, booleans, ints against text)
is not pushed at all, as ``text = 1`` is an error in PostgreSQL.

PostgreSQL takes the whole set as one Arrow list parameter (``col = ANY($1)``)
and SQLite as one JSON array in a text parameter
(``col IN (SELECT value FROM json_each(?))``); neither has a limit on the number
of keys that way, and ``explain`` shows the placeholder and the key count, never
the keys (customer data). Other ADBC drivers get ``col IN (literal, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlglot import exp

if TYPE_CHECKING:
    import pyarrow as pa

KeyKind = Literal["int", "text"]

_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class BoundKeys:
    """One bound parameter holding a key set: its Arrow value (a one-row column) and how explain shows it."""

    placeholder: str  # as it appears in the SQL text: "$1", "?"
    value: pa.Array  # one element: the whole key set (a list, or a JSON text)
    count: int  # keys in the set
    sql_type: str  # the parameter's type at the source, for explain

    def describe(self) -> dict[str, Any]:
        """What explain shows: never the keys themselves (thousands of them, and customer data)."""
        return {"placeholder": self.placeholder, "type": self.sql_type, "keys": self.count}


def key_kind(column_type: pa.DataType | None) -> KeyKind | None:
    """Which keys a column of this Arrow type takes; None: no key filter for it."""
    import pyarrow as pa

    if column_type is None:
        return None
    if pa.types.is_integer(column_type):
        return "int"
    if pa.types.is_string(column_type) or pa.types.is_large_string(column_type):
        return "text"
    return None


def normalised(keys: pa.Array | pa.ChunkedArray, kind: KeyKind) -> pa.Array | None:
    """The distinct non-NULL keys as int64 or string, or None when they are not of ``kind``.

    NULL keys never match (SQL equality), duplicates would only lengthen the
    parameter, and integers beyond int64 match no integer column of a SQL source.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if pa.types.is_dictionary(keys.type):
        keys = keys.dictionary_decode()
    t = keys.type
    if pa.types.is_null(t):
        return pa.array([], pa.int64() if kind == "int" else pa.string())
    if kind == "int" and pa.types.is_integer(t):
        if t == pa.uint64():
            keys = keys.filter(pc.less_equal(keys, pa.scalar(_INT64_MAX, pa.uint64())))
        target = pa.int64()
    elif kind == "text" and (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)):
        target = pa.string()
    else:
        return None
    return pc.unique(keys.drop_null()).cast(target)


def in_list(ref: exp.Expression, keys: pa.Array) -> exp.Expression:
    """``ref IN (k1, k2, ...)`` with literals escaped by sqlglot (drivers without array binding)."""
    values = keys.to_pylist()
    if not values:
        return exp.false()
    return exp.In(this=ref, expressions=[exp.convert(v) for v in values])


def _pg_integers() -> dict[Any, tuple[str, int, int]]:
    """PostgreSQL's integer types by the Arrow type ADBC reads them as: array type, range."""
    import pyarrow as pa

    return {pa.int16(): ("smallint[]", -(2**15), 2**15 - 1), pa.int32(): ("integer[]", -(2**31), 2**31 - 1),
            pa.int64(): ("bigint[]", -(2**63), _INT64_MAX)}


def postgres_any(ref: exp.Expression, keys: pa.Array, kind: KeyKind,
                 native: pa.DataType | None) -> tuple[exp.Expression, BoundKeys]:
    """``ref = ANY($1)`` with the key set bound as one array of ``ref``'s own type.

    PostgreSQL hashes ``= ANY(array)`` only when both sides have the same type:
    ``integer_column = ANY(bigint[])`` compared each row with every key (150k rows
    x 20k keys: 13 s, against 0.02 s for bigint = ANY(bigint[])). So the array is
    ``smallint[]``, ``integer[]`` or ``bigint[]`` after the discovered column
    (keys out of its range match nothing and are left out); a computed value,
    whose width only sqlglot guesses, is compared as ``CAST(ref AS BIGINT)``.

    Text is compared as ``CAST(ref AS TEXT)`` against ``text[]``: enum or uuid
    columns have no ``= text`` operator (a literal list worked only because
    untyped literals take the column's type); for text and varchar the cast is a
    no-op and indexes still apply. A ``char(n)`` column arrives in Arrow
    blank-padded but its cast to text drops trailing blanks, so a key ending in
    blanks is also sent without them (more rows at worst, which the join drops;
    never fewer). Keys holding NUL cannot be PostgreSQL text: they match nothing
    and would fail the bind, so they are left out.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "int":
        integers = _pg_integers()
        element = native if native in integers else pa.int64()
        if native not in integers:
            ref = exp.cast(ref, exp.DataType.build("bigint"))
        info = integers[element]
        fits = pc.and_(pc.greater_equal(keys, info[1]), pc.less_equal(keys, info[2]))
        keys, sql_type = keys.filter(fits).cast(element), info[0]
    else:
        keys = keys.filter(pc.invert(pc.match_substring(keys, "\x00")))
        trimmed = pc.utf8_rtrim(keys, characters=" ")
        if not pc.all(pc.equal(trimmed, keys)).as_py():
            keys = pc.unique(pa.concat_arrays([keys, trimmed]))
        ref, sql_type = exp.cast(ref, exp.DataType.build("text")), "text[]"
    value = pa.ListArray.from_arrays(pa.array([0, len(keys)], pa.int32()), keys)
    condition = exp.EQ(this=ref, expression=exp.Any(this=exp.Paren(this=exp.Parameter(this=exp.Literal.number(1)))))
    return condition, BoundKeys("$1", value, len(keys), sql_type)


def sqlite_json_each(ref: exp.Expression, keys: pa.Array) -> tuple[exp.Expression, BoundKeys]:
    """``ref IN (SELECT value FROM json_each(?))`` with the key set bound as one JSON array.

    SQLite takes at most 32,766 parameters, but one JSON text has no such limit
    (100k keys: 0.11 s, ENGINE-NOTES); JSON integers come back as SQLite
    integers and JSON strings as text (NUL and any Unicode included).
    """
    import json

    import pyarrow as pa

    text = json.dumps(keys.to_pylist(), ensure_ascii=False, separators=(",", ":"))
    each = exp.select("value").from_(exp.Anonymous(this="json_each", expressions=[exp.Placeholder()]))
    condition = exp.In(this=ref, query=each.subquery())
    return condition, BoundKeys("?", pa.array([text], pa.string()), len(keys), "text (JSON array)")


def parameters(bound: tuple[BoundKeys, ...]) -> pa.RecordBatch | None:
    """The one-row record batch a driver binds: one column per placeholder, in order."""
    import pyarrow as pa

    if not bound:
        return None
    return pa.RecordBatch.from_arrays([b.value for b in bound], names=[f"p{i + 1}" for i in range(len(bound))])
