"""Evaluate parsed COQL over the emulator's Zoho records.

Semantics chosen for the emulator (each one makes the connector's job harder, so
the connector is tested against the pessimistic case):

- text comparisons (``=``, ``!=``, ``in``, ``like``, ordering) ignore case, as Zoho's
  database collation does; a connector must treat them as supersets;
- a NULL field fails every positive comparison, but *matches* ``!=``, ``not in`` and
  ``not like`` (null treated as a value), unless ``null_matches_negation`` is off;
- ``ORDER BY`` puts NULLs first ascending and last descending; ties keep id order;
- lookups compare by id (``Account_Name = '...'`` or ``Account_Name.id``), or by
  name through ``Account_Name.name``;
- multi-line (textarea) and multi-select fields are refused in criteria.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from connectors.emulators.coql_parser import CoqlError, Crit, Logic, Query

TEXT = {"text", "email", "phone", "picklist", "website", "autonumber", "textarea"}
NUMBER = {"integer", "bigint", "long", "double", "currency", "percent"}
Schema = dict[str, tuple[str, str | None]]


def resolve(schema: Schema, name: str) -> tuple[str, str, str | None]:
    """(api name, comparison kind, lookup subkey) for a field path, or INVALID_QUERY."""
    head, _, sub = name.partition(".")
    for api, (dtype, _lk) in schema.items():
        if api.lower() == head.lower():
            if api == "id":
                return api, "id", None
            if dtype in ("lookup", "ownerlookup"):
                if sub and sub.lower() not in ("id", "name"):
                    break
                return api, ("text" if sub.lower() == "name" else "id"), (sub.lower() or "id")
            if sub:
                break
            return api, dtype, None
    raise CoqlError("INVALID_QUERY", f"invalid column given: {name}", {"column_name": name})


def _kind(dtype: str) -> str:
    if dtype in TEXT:
        return "text"
    if dtype in NUMBER:
        return "number"
    return dtype


def _norm(v: Any, kind: str, field: str) -> Any:
    """A value (literal or stored) in comparable form; raises INVALID_QUERY on a bad literal."""
    if v is None:
        return None
    try:
        if kind == "text":
            return str(v).casefold()
        if kind == "id":
            return int(str(v))
        if kind == "number":
            return float(v)
        if kind == "boolean":
            if isinstance(v, bool):
                return v
            if str(v).lower() in ("true", "false"):
                return str(v).lower() == "true"
            raise ValueError
        if kind == "date":
            return dt.date.fromisoformat(str(v))
        if kind == "datetime":
            when = dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
            if when.tzinfo is None:
                raise ValueError  # Zoho wants an offset on datetime criteria
            return when
    except (TypeError, ValueError):
        raise CoqlError("INVALID_QUERY", f"invalid value given for the field {field}", {"column_name": field}) from None
    return v


def getter(schema: Schema, name: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
    api, kind, sub = resolve(schema, name)
    kind = _kind(kind)

    def get(r: dict[str, Any]) -> Any:
        v = r.get(api)
        if sub is not None and isinstance(v, dict):
            v = v.get(sub)
        return _norm(v, kind, name)

    return get, kind


def _like(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in pattern.casefold().split("%")]
    return re.compile(".*".join(parts), re.S)


def compile_where(node: Crit | Logic | None, schema: Schema, null_matches_negation: bool = True) -> Callable[[dict[str, Any]], bool]:
    if node is None:
        return lambda r: True
    if isinstance(node, Logic):
        left = compile_where(node.left, schema, null_matches_negation)
        right = compile_where(node.right, schema, null_matches_negation)
        if node.op == "and":
            return lambda r: left(r) and right(r)
        return lambda r: left(r) or right(r)
    return _crit(node, schema, null_matches_negation)


def _crit(c: Crit, schema: Schema, null_neg: bool) -> Callable[[dict[str, Any]], bool]:
    api, dtype, _sub = resolve(schema, c.field)
    if dtype == "textarea":
        raise CoqlError("INVALID_QUERY", f"multi-line field {api} cannot be used in criteria", {"column_name": c.field})
    if dtype == "multiselectpicklist" and c.op not in ("is_null", "not_null"):
        raise CoqlError("INVALID_QUERY", f"the comparator is not supported for the field {api}", {"column_name": c.field})
    get, kind = getter(schema, c.field)
    if c.op == "is_null":
        return lambda r: get(r) in (None, [])
    if c.op == "not_null":
        return lambda r: get(r) not in (None, [])
    if c.op in ("like", "not_like"):
        if kind != "text":
            raise CoqlError("INVALID_QUERY", f"like is not supported for the field {api}", {"column_name": c.field})
        rx = _like(str(c.values[0]))
        if c.op == "like":
            return lambda r: (v := get(r)) is not None and rx.fullmatch(v) is not None
        return lambda r: (v := get(r)) is None and null_neg or (v is not None and rx.fullmatch(v) is None)
    vals = [_norm(v, kind, c.field) for v in c.values]
    if kind == "boolean" and c.op not in ("=", "!="):
        raise CoqlError("INVALID_QUERY", f"the comparator is not supported for the field {api}", {"column_name": c.field})
    ops: dict[str, Callable[[Any], bool]] = {
        "=": lambda v: v == vals[0], "<": lambda v: v < vals[0], "<=": lambda v: v <= vals[0],
        ">": lambda v: v > vals[0], ">=": lambda v: v >= vals[0], "in": lambda v: v in vals,
        "between": lambda v: vals[0] <= v <= vals[1],
    }
    if c.op in ops:
        test = ops[c.op]
        return lambda r: (v := get(r)) is not None and test(v)
    if c.op in ("!=", "not_in"):
        return lambda r: (v := get(r)) is None and null_neg or (v is not None and v not in vals)
    raise CoqlError("SYNTAX_ERROR", f"unknown comparator {c.op}")


def sort_rows(rows: list[dict[str, Any]], keys: list[tuple[Callable[[dict[str, Any]], Any], bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort; NULLs first ascending, last descending (MySQL order)."""
    out = list(rows)
    for get, desc in reversed(keys):
        nulls = [r for r in out if get(r) is None]
        vals = sorted((r for r in out if get(r) is not None), key=get, reverse=desc)
        out = vals + nulls if desc else nulls + vals
    return out


def order(q: Query, rows: list[dict[str, Any]], schema: Schema) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda r: int(r["id"]))  # Zoho's default order: by record id
    keys = []
    for name, desc in q.order_by:
        get, _kind_ = getter(schema, name)
        keys.append((get, desc))
    return sort_rows(rows, keys)


def aggregate(q: Query, rows: list[dict[str, Any]], schema: Schema) -> list[dict[str, Any]]:
    """GROUP BY with SUM/MAX/MIN/AVG/COUNT; output keys are field names or ``FUNC(field)`` (or aliases)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    gets = [(g, *resolve(schema, g)) for g in q.group_by]
    for r in rows:
        key = tuple(_raw(r, api, sub) for _g, api, _k, sub in gets)
        groups.setdefault(tuple(_hashable(k) for k in key), []).append(r)
    out = []
    for key_rows in groups.values():
        first = key_rows[0]
        rec: dict[str, Any] = {}
        for it in q.items:
            if it.func is None:
                if it.field.lower() not in {g.lower() for g in q.group_by}:
                    raise CoqlError("INVALID_QUERY", f"{it.field} must be in GROUP BY")
                api, _k, sub = resolve(schema, it.field)
                rec[it.label] = first.get(api) if sub is None or "." not in it.field else _raw(first, api, sub)
                continue
            vals = [v for v in (_raw(r, *resolve(schema, it.field)[::2]) for r in key_rows)] if it.field != "*" else key_rows
            vals = [v for v in vals if v is not None]
            rec[it.label] = _agg(it.func, vals, it.field)
        out.append(rec)
    return out


def _raw(r: dict[str, Any], api: str, sub: str | None) -> Any:
    v = r.get(api)
    return v.get(sub) if sub is not None and isinstance(v, dict) else v


def _hashable(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted(v.items()))
    if isinstance(v, list):
        return tuple(v)
    return v


def _agg(func: str, vals: list[Any], field: str) -> Any:
    if func == "COUNT":
        return len(vals)
    if not vals:
        return None
    if func in ("SUM", "AVG"):
        try:
            nums = [float(v) for v in vals]
        except (TypeError, ValueError):
            raise CoqlError("INVALID_QUERY", f"{func} is not supported for the field {field}") from None
        return sum(nums) if func == "SUM" else sum(nums) / len(nums)
    return max(vals) if func == "MAX" else min(vals)
