"""One text form for every Arrow value, shared by json, jsonl, csv and table output.

- dates ``2025-12-31``; times ``13:05:00``;
- timestamps ISO 8601 in UTC with a ``Z``: ``2025-12-31T13:05:00Z`` (microseconds
  only when non-zero). A timestamp without a zone is UTC (SPEC), so it gets the
  ``Z`` as well; one with another zone is converted to UTC first;
- decimals as JSON numbers with every digit kept (``12.50``), never floats;
- NULL as ``null`` (JSON) or an empty field (CSV); NaN and infinities as ``null``
  in JSON, where they are not valid numbers;
- binary as base64 text; durations as ISO 8601 (``PT90S``).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
from typing import Any


def iso_timestamp(ts: dt.datetime) -> str:
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
    text = ts.isoformat(timespec="microseconds" if ts.microsecond else "seconds")
    return text + "Z"


def iso_duration(d: dt.timedelta) -> str:
    seconds = d.total_seconds()
    return f"PT{seconds:g}S" if seconds >= 0 else f"-PT{-seconds:g}S"


def text(value: Any) -> str:
    """A value as text in CSV and tables ('' for NULL is the caller's choice)."""
    if isinstance(value, dt.datetime):
        return iso_timestamp(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, dict)):
        return json_text(value)
    return str(value)


def json_text(value: Any) -> str:
    """Compact JSON for one value (row objects included), following the rules above."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "null"
    if isinstance(value, decimal.Decimal):
        return str(value) if value.is_finite() else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {json_text(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(json_text(v) for v in value) + "]"
    return json.dumps(text(value), ensure_ascii=False)


def rows(batch: Any) -> list[dict[str, Any]]:
    """A record batch as row dicts; duplicate column names get a suffix so none is lost."""
    names = _unique(batch.schema.names)
    columns = [col.to_pylist() for col in batch.columns]
    return [dict(zip(names, values)) for values in zip(*columns)]


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out
