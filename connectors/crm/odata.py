"""Render Dataverse OData ``$filter`` text from sqlglot predicates (CRM-PROTOCOLS 3.2).

Exactness, per atom (NULL handling in ``lowering``):
- numbers, booleans, datetimes (UTC ``Z`` literals), GUIDs: exact;
- strings: Dataverse compares them ignoring case, so ``eq``, ``In`` and LIKE shapes
  (``startswith``/``endswith``/``contains``) are supersets (inexact); ILIKE is exact;
  complements (``ne``, ``NotIn``, NOT LIKE) and ``gt``/``lt`` on strings are refused;
  LIKE text holding ``% _ [`` is refused (Dataverse reads them as wildcards);
- ``IN`` lists use ``Microsoft.Dynamics.CRM.In`` with ``@pN`` parameter aliases.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from connectors.crm.lowering import Rendered, lower, value_kind
from connectors.crm.predicates import Comparison, like_shape

IN_FN = "Microsoft.Dynamics.CRM."


def quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class ODataDialect:
    """``columns``: SQL name -> (property name, kind), kind in string/guid/number/bool/datetime/other."""

    def __init__(self, columns: Mapping[str, tuple[str, str]]) -> None:
        self.columns = {k.lower(): v for k, v in columns.items()}
        self.aliases: dict[str, str] = {}

    def is_bool(self, column: str) -> bool:
        return self.columns.get(column.lower(), ("", ""))[1] == "bool"

    def join(self, op: str, parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"

    def _alias(self, value: str) -> str:
        name = f"@p{len(self.aliases) + 1}"
        self.aliases[name] = value
        return name

    def literal(self, v: Any, kind: str) -> str | None:
        vk = value_kind(v)
        if kind == "number" and vk == "number":
            return repr(v) if isinstance(v, float) else str(v)
        if kind == "bool" and vk == "bool":
            return "true" if v else "false"
        if kind == "datetime" and vk == "datetime":
            return v.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        if kind == "guid" and vk == "string":
            try:
                import uuid

                # Dataverse matches GUIDs ignoring case; only the canonical lower-case
                # spelling compares the same way in SQL, so only that one is pushed
                return v if len(v) == 36 and str(uuid.UUID(v)) == v else None
            except ValueError:
                return None
        if kind == "string" and vk == "string":
            return quote(v)
        return None

    def _values(self, vals: tuple[Any, ...], kind: str) -> str | None:
        out = []
        for v in vals:
            lit = self.literal(v, kind)
            if lit is None or kind == "bool":
                return None
            out.append(lit[1:-1].replace("''", "'") if kind == "string" else lit)
        return json.dumps(out, ensure_ascii=False)

    def atom(self, c: Comparison) -> Rendered | None:
        found = self.columns.get(c.column.lower())
        if found is None or found[1] == "other":
            return None
        name, kind = found
        text = kind == "string"
        op = c.op
        guard = f"{name} ne null"
        if op in ("is_null", "not_null"):
            return Rendered(f"{name} {'eq' if op == 'is_null' else 'ne'} null", True)
        if op in ("like", "not_like"):
            return self._like(c, name, kind)
        if text and op not in ("=", "in"):
            return None
        exact = not text
        if op in ("in", "not_in", "between", "not_between"):
            values = self._values(c.values, kind)
            if values is None:
                return None
            fn = {"in": "In", "not_in": "NotIn", "between": "Between", "not_between": "NotBetween"}[op]
            call = f"{IN_FN}{fn}(PropertyName={self._alias(quote(name))},PropertyValues={self._alias(values)})"
            return Rendered(call if op in ("in", "between") else f"({call} and {guard})", exact)
        lit = self.literal(c.values[0], kind)
        if lit is None:
            return None
        odop = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]
        if op == "!=":
            return Rendered(f"({name} ne {lit} and {guard})", exact)
        return Rendered(f"{name} {odop} {lit}", exact)

    def _like(self, c: Comparison, name: str, kind: str) -> Rendered | None:
        if kind != "string":
            return None
        shape = like_shape(c.values[0])
        if shape is None or any(ch in shape[1] for ch in "%_["):
            return None
        how, core = shape
        if c.op == "not_like" and not c.case_insensitive:
            return None
        call = f"{name} eq {quote(core)}" if how == "exact" else \
            f"{ {'prefix': 'startswith', 'suffix': 'endswith', 'contains': 'contains'}[how]}({name},{quote(core)})"
        if c.op == "like":
            return Rendered(call, c.case_insensitive)
        return Rendered(f"(not {call} and {name} ne null)", True)


def render(filters: list[Any], dialect: ODataDialect) -> str | None:
    parts = []
    for f in filters:
        r = lower(f, dialect)
        if r is None:
            raise ValueError("filter cannot be rendered as OData")
        parts.append(r.text)
    return " and ".join(parts) if parts else None
