"""Render SOQL from sqlglot predicates and scan requests (CRM-PROTOCOLS 2.2).

Exactness, per atom (see ``lowering`` for the NULL handling):
- numbers, dates, dateTimes, booleans: exact (literals unquoted; a dateTime literal
  only on dateTime fields, in UTC with whole seconds);
- strings: SOQL compares them ignoring case, so ``=``, ``IN`` and ``LIKE`` are
  pushed as supersets (inexact) and re-checked by the engine; ``ILIKE`` is exact;
  ``!=``, ``NOT IN``, ``<``/``>`` on strings would drop rows and are not pushed;
- multi-select picklists (list columns): not pushed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.crm.lowering import Rendered, lower, value_kind
from connectors.crm.predicates import Comparison

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

MAX_SOQL = 100_000
_ESC = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", '"': '\\"'}


def quote(s: str) -> str:
    return "'" + "".join(_ESC.get(ch, ch) for ch in s) + "'"


def _kind(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return "other"


def literal(v: Any, kind: str) -> str | None:
    """A SOQL literal for a value compared with a column of ``kind``, or None."""
    vk = value_kind(v)
    if kind == "number" and vk == "number":
        text = format(Decimal(repr(v)), "f") if isinstance(v, float) else str(v)
        return text
    if kind == "bool" and vk == "bool":
        return "true" if v else "false"
    if kind == "date" and vk == "date":
        return v.isoformat()
    if kind == "datetime" and vk == "datetime":
        u = v.astimezone(dt.timezone.utc)
        return None if u.microsecond else u.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "string" and vk == "string":
        return quote(v)
    return None


class SoqlDialect:
    """Atoms of one object's columns: SQL name -> (API name, Arrow type)."""

    def __init__(self, columns: Mapping[str, tuple[str, pa.DataType]]) -> None:
        self.columns = {k.lower(): (n, _kind(t)) for k, (n, t) in columns.items()}

    def is_bool(self, column: str) -> bool:
        return self.columns.get(column.lower(), ("", ""))[1] == "bool"

    def join(self, op: str, parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {op.upper()} ".join(parts) + ")"

    def atom(self, c: Comparison) -> Rendered | None:
        found = self.columns.get(c.column.lower())
        if found is None or found[1] == "other":
            return None
        name, kind = found
        string = kind == "string"
        notnull = f"{name} != null"
        op = c.op
        if op in ("is_null", "not_null"):
            return Rendered(f"{name} {'=' if op == 'is_null' else '!='} null", True)
        if op in ("like", "not_like"):
            pat = c.values[0]
            if not string or "\\" in pat or (op == "not_like" and not c.case_insensitive):
                return None
            if op == "like":
                return Rendered(f"{name} LIKE {quote(pat)}", c.case_insensitive)
            return Rendered(f"(NOT {name} LIKE {quote(pat)} AND {notnull})", True)
        lits = [literal(v, kind) for v in c.values]
        if any(x is None for x in lits):
            return None
        if string and op not in ("=", "in"):
            return None  # case-insensitive complement or ordering would lose rows
        exact = not string
        if op in ("=", "<", "<=", ">", ">="):
            if kind == "bool" and lits[0] == "false" and op == "=":
                return Rendered(f"({name} = false AND {notnull})", True)  # null matches FALSE in SOQL
            return Rendered(f"{name} {op} {lits[0]}", exact)
        if op == "!=":
            return Rendered(f"({name} != {lits[0]} AND {notnull})", exact)
        if op == "in":
            return Rendered(f"{name} IN ({', '.join(lits)})", exact)  # type: ignore[arg-type]
        if op == "not_in":
            return Rendered(f"({name} NOT IN ({', '.join(lits)}) AND {notnull})", exact)  # type: ignore[arg-type]
        if op == "between":
            return Rendered(f"({name} >= {lits[0]} AND {name} <= {lits[1]})", exact)
        if op == "not_between":
            return Rendered(f"({name} < {lits[0]} OR {name} > {lits[1]})", exact)
        return None


def where(filters: list[exp.Expression], dialect: SoqlDialect) -> str | None:
    """The WHERE text for pushed conjuncts (each already classified as pushable)."""
    parts = []
    for f in filters:
        r = lower(f, dialect)
        if r is None:
            raise ValueError(f"filter cannot be rendered as SOQL: {f.sql()}")
        parts.append(r.text)
    if not parts:
        return None
    return " AND ".join(p if len(parts) == 1 or p.startswith("(") else p for p in parts)


def order_by(keys: list[tuple[str, bool, bool]]) -> str:
    """ORDER BY text from (API name, desc, nulls_first) keys; always explicit about NULLs."""
    return ", ".join(f"{n} {'DESC' if d else 'ASC'} NULLS {'FIRST' if nf else 'LAST'}" for n, d, nf in keys)


def select(sobject: str, fields: list[str], where_text: str | None = None, order_text: str | None = None,
           limit: int | None = None, group_by: list[str] | None = None) -> str:
    text = f"SELECT {', '.join(fields)} FROM {sobject}"
    if where_text:
        text += f" WHERE {where_text}"
    if group_by:
        text += f" GROUP BY {', '.join(group_by)}"
    if order_text:
        text += f" ORDER BY {order_text}"
    if limit is not None:
        text += f" LIMIT {limit}"
    return text
