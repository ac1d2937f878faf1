"""Wire values → Arrow arrays, shared by the CRM connectors.

CRM APIs send JSON scalars, often strings for everything (HubSpot). ``to_arrow``
converts one column's Python values to an Arrow array of the discovered type,
vectorised through Arrow casts where it can:

- string: any scalar → its text (bools as "true"/"false");
- int64 / float64 / decimal: numbers or numeric strings (blank → null);
- bool: true/false, "true"/"false" (any case), 1/0;
- timestamp[us, UTC]: ISO 8601 (``Z``, offsets, ``+0000`` without colon, naive =
  UTC) or epoch milliseconds (number or digit string);
- date32: ``YYYY-MM-DD``, an ISO datetime (its date), or epoch milliseconds;
- list<string>: a ``;``-joined string (``sep``) or a JSON list.

A value that does not convert raises ``WireTypeError`` naming the column and the
target type, never the value (it may be customer data).

Example::

    to_arrow(["17", None, "1.5"], pa.float64(), column="amount")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

TIMESTAMP_UNIT = "us"


class WireTypeError(ValueError):
    """A wire value did not convert to the column's discovered type."""

    def __init__(self, column: str, type_: Any, count: int) -> None:
        self.column = column
        super().__init__(f"column '{column}': {count} value(s) could not be read as {type_}")


def timestamp_type() -> pa.DataType:
    import pyarrow as pa

    return pa.timestamp(TIMESTAMP_UNIT, tz="UTC")


def to_arrow(values: Sequence[Any], type_: pa.DataType, *, column: str = "?", sep: str = ";") -> pa.Array:
    """Convert one column of wire values (None = null) to an Arrow array of ``type_``."""
    import pyarrow as pa

    try:
        return _convert(values, type_, sep)
    except (pa.ArrowInvalid, ValueError, TypeError, OverflowError):
        raise WireTypeError(column, type_, _count_bad(values, type_, sep)) from None


def _convert(values: Sequence[Any], type_: pa.DataType, sep: str) -> pa.Array:
    import pyarrow as pa

    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return pa.array([_text(v) for v in values], type_)
    if pa.types.is_boolean(type_):
        return pa.array([_bool(v) for v in values], pa.bool_())
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return _numbers(values, type_)
    if pa.types.is_timestamp(type_):
        return _timestamps(values, type_)
    if pa.types.is_date(type_):
        return _dates(values, type_)
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return pa.array([_split(v, sep) for v in values], type_)
    return pa.array(values, type_)


def _count_bad(values: Sequence[Any], type_: pa.DataType, sep: str) -> int:
    import pyarrow as pa

    bad = 0
    for v in values:
        try:
            _convert([v], type_, sep)
        except (pa.ArrowInvalid, ValueError, TypeError, OverflowError):
            bad += 1
    return max(bad, 1)


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _bool(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return bool(v)
    s = str(v).strip().lower()
    if s in ("true", "1", "yes", "t"):
        return True
    if s in ("false", "0", "no", "f"):
        return False
    if s == "":
        return None
    raise ValueError("not a boolean")


def _numbers(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array([None if v is None or (isinstance(v, str) and not v.strip()) else _text(v) for v in values], pa.string())
    text = pc.utf8_trim_whitespace(text)
    if pa.types.is_integer(type_):
        # "17.0" is a valid integer on the wire of some APIs
        as_float = text.cast(pa.float64())
        if pc.all(pc.equal(pc.floor(as_float), as_float)).as_py() is False:
            raise ValueError("fractional value in an integer column")
        try:
            return text.cast(type_)
        except pa.ArrowInvalid:
            return as_float.cast(type_)
    return text.cast(type_)


def _timestamps(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    import pyarrow as pa

    out: list[Any] = []
    for v in values:
        out.append(None if v is None or v == "" else _ts_value(v))
    return pa.array(out, pa.timestamp("us", tz="UTC")).cast(type_)


def _ts_value(v: Any) -> Any:
    import datetime as dt

    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return dt.datetime.fromtimestamp(v / 1000, dt.timezone.utc)
    s = str(v).strip()
    if s.lstrip("-").isdigit():
        return dt.datetime.fromtimestamp(int(s) / 1000, dt.timezone.utc)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    elif len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit() and "T" in s:
        s = s[:-2] + ":" + s[-2:]  # Salesforce's "+0000"
    when = dt.datetime.fromisoformat(s)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _dates(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    import datetime as dt

    import pyarrow as pa

    out: list[Any] = []
    for v in values:
        if v is None or v == "":
            out.append(None)
        elif isinstance(v, str) and len(v.strip()) == 10 and v.strip()[4] == "-":
            out.append(dt.date.fromisoformat(v.strip()))
        else:
            out.append(_ts_value(v).astimezone(dt.timezone.utc).date())
    return pa.array(out, pa.date32()).cast(type_)


def _split(v: Any, sep: str) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    s = str(v)
    if s == "":
        return []
    return [part for part in s.split(sep) if part != ""]


def from_records(rows: Sequence[dict[str, Any]], schema: pa.Schema, *, sep: str = ";") -> pa.RecordBatch:
    """A RecordBatch from flat dicts keyed by the schema's field names (missing = null)."""
    import pyarrow as pa

    arrays = [to_arrow([r.get(f.name) for r in rows], f.type, column=f.name, sep=sep) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
