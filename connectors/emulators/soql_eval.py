"""Evaluate a parsed SOQL query over the emulator's records, the way Salesforce does.

Semantics reproduced (CRM-PROTOCOLS 2.2): string comparisons ignore case; null is a
value (``!= 'x'`` keeps nulls, ``< 5`` never matches null); on booleans null matches
FALSE; date and dateTime literals must match the field's type; relative literals
(TODAY, LAST_N_DAYS:n) are ranges of days from an injectable clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from connectors.emulators.soql_parser import Cmp, Item, Logic, Query, Relative, SoqlError

STRINGY = {"string", "id", "reference", "picklist", "email", "phone", "url", "textarea", "combobox"}
NUMERIC = {"int", "double", "currency", "percent"}


class Fields:
    """Field metadata of one object: case-insensitive name → (name, type)."""

    def __init__(self, sobject: str, fields: Mapping[str, str]) -> None:
        self.sobject = sobject
        self._by_low = {k.lower(): (k, t) for k, t in fields.items()}

    def resolve(self, name: str) -> tuple[str, str]:
        found = self._by_low.get(name.lower())
        if found is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{self.sobject}'.")
        return found


def _day_range(rel: Relative, today: date) -> tuple[date, date]:
    if rel.name == "TODAY":
        return today, today
    if rel.name == "YESTERDAY":
        return today - timedelta(1), today - timedelta(1)
    if rel.name == "TOMORROW":
        return today + timedelta(1), today + timedelta(1)
    if rel.name == "LAST_N_DAYS":
        return today - timedelta(rel.n), today
    if rel.name == "NEXT_N_DAYS":
        return today, today + timedelta(rel.n)
    if rel.name in ("THIS_MONTH", "LAST_MONTH"):
        first = today.replace(day=1)
        if rel.name == "LAST_MONTH":
            first = (first - timedelta(1)).replace(day=1)
        nxt = (first + timedelta(32)).replace(day=1)
        return first, nxt - timedelta(1)
    return date(today.year, 1, 1), date(today.year, 12, 31)  # THIS_YEAR


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=timezone.utc)


def _typed(value: Any, name: str, ftype: str) -> Any:
    """Check a literal against the field type; return it in comparable form."""
    if value is None or isinstance(value, Relative):
        return value
    bad = SoqlError(
        "INVALID_FIELD",
        f"value of filter criterion for field '{name}' must be of type {ftype} and should not be enclosed in quotes",
    )
    if ftype == "date":
        if type(value) is not date:
            raise bad
        return value
    if ftype == "datetime":
        if not isinstance(value, datetime):
            raise bad
        return value
    if ftype in NUMERIC:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return value
    if ftype == "boolean":
        if not isinstance(value, bool):
            raise bad
        return value
    if not isinstance(value, str):
        raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{name}' must be a quoted string")
    return value.casefold() if ftype != "multipicklist" else value


def _field_value(raw: Any, ftype: str) -> Any:
    if raw is None:
        return False if ftype == "boolean" else None  # null matches FALSE on booleans
    if ftype == "date":
        return date.fromisoformat(raw)
    if ftype == "datetime":
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc)
    if ftype in STRINGY:
        return str(raw).casefold()
    return raw


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _cmp_range(v: Any, op: str, lo: Any, hi_excl: Any) -> bool:
    if op == "=":
        return lo <= v < hi_excl
    if op == "!=":
        return not lo <= v < hi_excl
    return {"<": v < lo, "<=": v < hi_excl, ">": v >= hi_excl, ">=": v >= lo}[op]


def _compare(v: Any, op: str, lit: Any, ftype: str, today: date) -> bool:
    if isinstance(lit, Relative):
        if ftype not in ("date", "datetime"):
            raise SoqlError("INVALID_FIELD", f"date literal {lit.name} is only valid on date and dateTime fields")
        first, last = _day_range(lit, today)
        if v is None:
            return op == "!="
        if ftype == "date":
            return _cmp_range(v, op, first, last + timedelta(1))
        return _cmp_range(v, op, _midnight(first), _midnight(last + timedelta(1)))
    if lit is None:
        if op not in ("=", "!="):
            raise SoqlError("MALFORMED_QUERY", "null can only be compared with = or !=")
        return (v is None) == (op == "=")
    if v is None:
        return op == "!="
    if ftype == "multipicklist":
        got = {s.casefold() for s in str(v).split(";")}
        want = {s.casefold() for s in lit.split(";")}
        return (got == want) == (op == "=") if op in ("=", "!=") else False
    return {"=": v == lit, "!=": v != lit, "<": v < lit, "<=": v <= lit, ">": v > lit, ">=": v >= lit}[op]


def _includes(v: Any, values: tuple[Any, ...]) -> bool:
    got = {s.strip().casefold() for s in str(v).split(";")} if v is not None else set()
    return any({s.strip().casefold() for s in val.split(";")} <= got for val in values)


def compile_where(node: Any, fields: Fields, today: date) -> Callable[[Mapping[str, Any]], bool]:
    """A row predicate for a WHERE tree; type errors surface here, before any row."""
    if isinstance(node, Logic):
        parts = [compile_where(a, fields, today) for a in node.args]
        if node.op == "NOT":
            return lambda r: not parts[0](r)
        if node.op == "AND":
            return lambda r: all(p(r) for p in parts)
        return lambda r: any(p(r) for p in parts)
    assert isinstance(node, Cmp)
    name, ftype = fields.resolve(node.field)
    op = node.op
    if op in ("INCLUDES", "EXCLUDES"):
        if ftype != "multipicklist":
            raise SoqlError("INVALID_FIELD", f"{op} can only be used on multi-select picklist fields, not '{name}'")
        vals = node.value
        if op == "INCLUDES":
            return lambda r: _includes(r.get(name), vals)
        return lambda r: not _includes(r.get(name), vals)
    if op == "LIKE":
        if ftype not in STRINGY:
            raise SoqlError("INVALID_FIELD", f"LIKE can only be used on string fields, not '{name}'")
        rx = _like(node.value)
        return lambda r: r.get(name) is not None and rx.fullmatch(str(r.get(name))) is not None
    if op in ("IN", "NOT IN"):
        vals = [_typed(v, name, ftype) for v in node.value]
        want = op == "IN"
        return lambda r: (_field_value(r.get(name), ftype) in vals) == want
    lit = _typed(node.value, name, ftype)
    if lit is None and op in ("=", "!="):
        return lambda r: (r.get(name) is None) == (op == "=")  # the stored null, even on booleans
    if ftype in STRINGY and op in ("<", "<=", ">", ">=") and lit is not None and not isinstance(lit, str):
        raise SoqlError("INVALID_FIELD", f"bad value for '{name}'")
    return lambda r: _compare(_field_value(r.get(name), ftype), op, lit, ftype, today)


def _agg(func: str, values: list[Any], count_rows: int) -> Any:
    present = [v for v in values if v is not None]
    if func == "COUNT":
        return len(present)
    if func == "COUNT_DISTINCT":
        return len({v.casefold() if isinstance(v, str) else v for v in present})
    if not present:
        return None
    if func == "SUM":
        return sum(present)
    if func == "AVG":
        return sum(present) / len(present)
    return min(present) if func == "MIN" else max(present)


def aggregate(q: Query, rows: list[dict[str, Any]], fields: Fields) -> list[dict[str, Any]]:
    """GROUP BY rows: grouped fields keep their names, aggregates get aliases or exprN."""
    keys = [fields.resolve(g)[0] for g in q.group_by]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        k = tuple(_field_value(r.get(f), "string") if isinstance(r.get(f), str) else r.get(f) for f in keys)
        groups.setdefault(k, []).append(r)
    if not keys and not groups:
        groups[()] = []
    out = []
    for members in groups.values():
        rec: dict[str, Any] = {}
        n = 0
        for item in q.items:
            if item.func is None:
                real = fields.resolve(item.field or "")[0]
                if real not in keys:
                    raise SoqlError("MALFORMED_QUERY", f"Field must be grouped or aggregated: {real}")
                rec[real] = members[0].get(real)
                continue
            label = item.alias or f"expr{n}"
            n += 0 if item.alias else 1
            if item.field is None:
                rec[label] = len(members)
            else:
                real = fields.resolve(item.field)[0]
                rec[label] = _agg(item.func, [m.get(real) for m in members], len(members))
        out.append(rec)
    return out


def order_rows(rows: list[dict[str, Any]], q: Query, key_of: Callable[[Item], str], types: Callable[[str], str]) -> list[dict[str, Any]]:
    """Stable multi-key sort; Salesforce puts nulls first ascending, last descending."""
    for o in reversed(q.order_by):
        name = key_of(o.key)
        ftype = types(name)
        nulls_first = o.nulls_first if o.nulls_first is not None else not o.desc
        present = [r for r in rows if r.get(name) is not None]
        nulls = [r for r in rows if r.get(name) is None]
        present.sort(key=lambda r: _field_value(r.get(name), ftype) if ftype in STRINGY else r.get(name), reverse=o.desc)
        rows = nulls + present if nulls_first else present + nulls
    return rows
