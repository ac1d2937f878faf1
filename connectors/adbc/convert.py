"""Bring a driver's result column to the type the query promises.

SQLite: 0/1 → boolean, ISO text → date / timestamp (an offset is converted to
UTC), untyped columns → text. PostgreSQL: ``numeric`` arrives as text in an
opaque extension type: ``numeric(p, s)`` becomes ``decimal128(p, s)``,
unconstrained ``numeric`` becomes ``float64`` (documented choice: its scale is
unknown until the data is read); ``json``/``jsonb`` become text, ``uuid`` its
canonical text.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def to_type(arr: pa.Array, target: pa.DataType | None) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if target is None or arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), type=target)
    if pa.types.is_boolean(target) and pa.types.is_integer(arr.type):
        return pc.not_equal(arr, 0)
    if (pa.types.is_date(target) or pa.types.is_timestamp(target)) and pa.types.is_string(arr.type):
        return _parse_temporal(arr, target)
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return arr  # keep what the source sent rather than guess


def _parse_temporal(arr: pa.Array, target: pa.DataType) -> pa.Array:
    import pyarrow as pa

    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = []
    for v in arr.to_pylist():
        if v is None or v == "":
            values.append(None)
            continue
        try:
            parsed = dt.datetime.fromisoformat(v.strip())
        except ValueError:
            values.append(None)  # not a date: NULL, as PostgreSQL's lenient readers never do; rare
            continue
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.timezone.utc)
            if getattr(target, "tz", None) is None:
                parsed = parsed.replace(tzinfo=None)
        elif getattr(target, "tz", None) is not None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        values.append(parsed.date() if pa.types.is_date(target) else parsed)
    return pa.array(values, type=target)


def postgres_column(arr: pa.Array, field: pa.Field, target: pa.DataType | None) -> pa.Array:
    """PostgreSQL extension types to plain Arrow; then the promised type when it casts cleanly."""
    import pyarrow as pa

    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        typname = meta.get("ADBC:postgresql:typname") or meta.get("POSTGRESQL:type", "")
        storage = arr.storage if hasattr(arr, "storage") else arr
        if typname == "numeric":
            return storage.cast(numeric_type(meta.get("POSTGRESQL:typmod"), target))
        if typname == "uuid" or getattr(t, "extension_name", "") == "arrow.uuid":
            import uuid

            return pa.array([None if b is None else str(uuid.UUID(bytes=b)) for b in storage.to_pylist()], pa.string())
        arr = storage
    if target is not None and arr.type != target and pa.types.is_integer(arr.type) and pa.types.is_integer(target):
        return arr.cast(target)
    return arr


def numeric_type(typmod: str | None, target: pa.DataType | None) -> pa.DataType:
    import pyarrow as pa

    try:
        mod = int(typmod) if typmod is not None else -1
    except ValueError:
        mod = -1
    if mod >= 4:
        precision, scale = ((mod - 4) >> 16) & 0xFFFF, (mod - 4) & 0xFFFF
        if 0 < precision <= 38:
            return pa.decimal128(precision, scale)
    return pa.float64()
