"""Render Zoho COQL from sqlglot predicates (CRM-PROTOCOLS 4.2).

What is pushed, per atom (``lowering`` handles NOT and SQL's NULL rules: a negated
atom gets an explicit ``is not null`` guard, so Zoho's own null handling cannot add
rows):

- ids (``id``, lookup ``*_id`` columns), numbers, dates, datetimes (UTC offset,
  whole seconds), booleans: ``= != < <= > >= between in``, ``not in`` and null tests
  are exact (ordering comparisons on ids only with 19-digit literals: Zoho compares
  ids as numbers, SQL as text);
- text: Zoho compares text ignoring case (its database collation), so ``=``, ``in``
  and ``like`` (prefix / suffix / contains through ``%``) are pushed as supersets
  (inexact) and re-checked by the engine; ``!=``, ``not in``, ``not like`` and
  ordering comparisons on text would drop rows and are not pushed; neither is
  ``ILIKE`` (it is only a superset if Zoho really folds case, which we cannot check);
- multi-line text, multi-select lists and lookup names are not pushed.

Zoho's syntax rules: every AND/OR joins exactly two operands, so ``A and B and C``
is rendered ``((A and B) and C)``; at most 25 criteria (``MAX_CRITERIA``); an IN
list holds at most 100 values (longer lists become ORs of IN chunks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlglot import exp

from connectors.crm.lowering import Rendered, lower, value_kind
from connectors.crm.predicates import Comparison, like_shape

ID_WIDTH = 19  # Zoho record ids are 19-digit numbers [U]; text and numeric order agree at one width
MAX_CRITERIA = 25
MAX_IN = 100
# criteria the connector keeps for itself: the id keyset past the offset cap, the null split of ORDER BY
RESERVED = 2


@dataclass(frozen=True)
class Field:
    path: str  # what COQL names (``Email``, ``Account_Name`` for a lookup's id)
    kind: str  # id | text | number | date | datetime | bool | other


def quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def literal(v: Any, kind: str) -> str | None:
    """A COQL literal for ``v`` compared with a field of ``kind``, or None."""
    vk = value_kind(v)
    if kind == "id":
        if vk == "number" and isinstance(v, int) and v >= 0:
            return quote(str(v))
        return quote(v) if vk == "string" and v.isdigit() else None
    if kind == "number" and vk == "number":
        return format(Decimal(repr(v)), "f") if isinstance(v, float) else str(v)
    if kind == "bool" and vk == "bool":
        return "true" if v else "false"
    if kind == "date" and vk == "date":
        return quote(v.isoformat())
    if kind == "datetime" and vk == "datetime":
        u = v.astimezone(dt.timezone.utc)
        return None if u.microsecond else quote(u.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    if kind == "text" and vk == "string" and v != "":
        return quote(v)  # Zoho stores an empty text as null, so '' is never sent
    return None


def pair(op: str, parts: list[str]) -> str:
    """Join with Zoho's strict pairwise brackets: ((A and B) and C)."""
    acc = parts[0]
    for p in parts[1:]:
        acc = f"({acc} {op} {p})"
    return acc


class CoqlDialect:
    """Atoms over one module's columns (SQL name → ``Field``); counts the criteria it renders."""

    def __init__(self, fields: Mapping[str, Field]) -> None:
        self.fields = {k.lower(): v for k, v in fields.items()}
        self.criteria = 0

    def is_bool(self, column: str) -> bool:
        f = self.fields.get(column.lower())
        return f is not None and f.kind == "bool"

    def join(self, op: str, parts: list[str]) -> str:
        return pair(op, parts)

    def _n(self, text: str, n: int = 1) -> str:
        self.criteria += n
        return text

    def atom(self, c: Comparison) -> Rendered | None:
        f = self.fields.get(c.column.lower())
        if f is None or f.kind == "other":
            return None
        name, kind, op = f.path, f.kind, c.op
        guard = f"{name} is not null"
        if op in ("is_null", "not_null"):
            return Rendered(self._n(f"{name} {'is null' if op == 'is_null' else 'is not null'}"), True)
        if op in ("like", "not_like"):
            shape = like_shape(c.values[0]) if isinstance(c.values[0], str) else None
            if kind != "text" or op == "not_like" or c.case_insensitive or shape is None:
                return None
            how, core = shape
            pattern = {"exact": core, "prefix": core + "%", "suffix": "%" + core, "contains": "%" + core + "%"}[how]
            return Rendered(self._n(f"{name} {'=' if how == 'exact' else 'like'} {quote(pattern)}"), False)
        lits = [literal(v, kind) for v in c.values]
        if not lits or any(x is None for x in lits):
            return None
        text = kind == "text"
        if text and op not in ("=", "in"):
            return None  # case-insensitive complements and orderings would lose rows
        if kind == "id" and op in ("<", "<=", ">", ">=", "between", "not_between") and any(len(x) != ID_WIDTH + 2 for x in lits):  # type: ignore[arg-type]
            return None  # Zoho orders ids as numbers, SQL as text: they agree only at the same width
        if op in ("=", "<", "<=", ">", ">="):
            if kind == "bool" and op == "=" and lits[0] == "false":
                return Rendered(self._n(f"({name} = false and {guard})", 2), True)
            return Rendered(self._n(f"{name} {op} {lits[0]}"), not text)
        if op == "!=":
            return Rendered(self._n(f"({name} != {lits[0]} and {guard})", 2), True)
        if op == "between":
            return Rendered(self._n(f"{name} between {lits[0]} and {lits[1]}"), True)
        if op == "not_between":
            return Rendered(self._n(f"({name} < {lits[0]} or {name} > {lits[1]})", 2), True)
        chunks = [lits[i: i + MAX_IN] for i in range(0, len(lits), MAX_IN)]
        if op == "in":
            return Rendered(pair("or", [self._n(f"{name} in ({', '.join(ch)})") for ch in chunks]), not text)  # type: ignore[arg-type]
        if op == "not_in":
            parts = [self._n(f"{name} not in ({', '.join(ch)})") for ch in chunks]  # type: ignore[arg-type]
            return Rendered(pair("and", parts + [self._n(guard)]), True)
        return None


def render(e: exp.Expression, fields: Mapping[str, Field]) -> tuple[Rendered, int] | None:
    """(rendering, criteria count) of one conjunct, or None if COQL cannot express it."""
    d = CoqlDialect(fields)
    try:
        r = lower(e, d)
    except (ValueError, TypeError):
        return None
    return None if r is None else (r, d.criteria)


def select(module: str, fields: list[str], where: str, order: list[tuple[str, bool]] | None = None,
           limit: int | None = None, offset: int = 0) -> str:
    text = f"select {', '.join(fields)} from {module} where {where}"
    if order:
        text += " order by " + ", ".join(f"{n} {'desc' if d else 'asc'}" for n, d in order)
    if limit is not None:
        text += f" limit {limit}"
    if offset:
        text += f" offset {offset}"
    return text


def select_raw(query: str, limit: int, offset: int = 0) -> str:
    """``query`` (a complete COQL text without LIMIT) with one page's LIMIT/OFFSET."""
    return f"{query} limit {limit}" + (f" offset {offset}" if offset else "")
