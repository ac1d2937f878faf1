"""SQL predicates → HubSpot search ``filterGroups``, with honest exactness.

A conjunct is flattened to OR-of-AND groups (``predicates.to_dnf``) and each
atom becomes one or two HubSpot filters. Exact means the API returns exactly the
rows SQL would; Inexact means a superset the engine re-checks. Rules (the
emulator's ``hubspot_search`` module documents the semantics they rely on):

| SQL on column kind                  | HubSpot                          | verdict  |
|-------------------------------------|----------------------------------|----------|
| ``x IS [NOT] NULL`` (any kind)      | NOT_HAS_PROPERTY / HAS_PROPERTY  | exact    |
| ``=`` number/date/datetime/bool/enum| EQ                               | exact    |
| ``=`` string                        | EQ (case-insensitive)            | inexact  |
| ``!=``, ``NOT IN`` non-string       | NEQ/NOT_IN + HAS_PROPERTY        | exact    |
|   (HubSpot's NEQ also matches records without a value; SQL's never does)         |
| ``!=``, ``NOT IN`` string           | —  (case-insensitive ≠ drops rows SQL keeps) | unsupported |
| ``< <= > >= BETWEEN`` number/date/datetime | LT.. / BETWEEN            | exact    |
| ranges on strings/enums/bools       | —  (case-folded order differs)   | unsupported |
| ``IN`` non-string                   | IN                               | exact    |
| ``IN`` string                       | IN with lower-cased values       | inexact  |
| ``LIKE``/``ILIKE`` 'ab%', '%ab', '%ab%' | CONTAINS_TOKEN ``ab*``, ``*ab``, ``*ab*`` | inexact |
| ``LIKE`` without wildcards          | EQ                               | inexact  |
| multi-select (list) columns, ``createdat``/``updatedat``/``archived`` | — | unsupported |

Datetime literals must be whole milliseconds (HubSpot's precision) to push.
An atom that cannot be sent inside an AND group is left out of that group (the
group then matches a superset, so the conjunct is Inexact); a group left empty
makes the conjunct unsupported. Limits: ``Limits`` groups/filters, with one
filter per group kept free for the key-range split past the 10,000-result cap,
and the ``filterGroups`` JSON under 3,000 characters.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.crm.predicates import Comparison, atom, like_shape, to_dnf

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from connectors.base import TableInfo

MAX_FILTER_JSON = 3000
_TOKEN_SAFE = re.compile(r"[\w@.+\-]+")
_RANGE = {"<": "LT", "<=": "LTE", ">": "GT", ">=": "GTE"}
_ORDERED = frozenset({"id", "number", "date", "datetime"})


@dataclass(frozen=True)
class Limits:
    max_groups: int = 5
    max_per_group: int = 6
    max_total: int = 18


@dataclass(frozen=True)
class Rules:
    push_like: bool = True


@dataclass(frozen=True)
class Translated:
    groups: list[list[dict[str, Any]]]
    exact: bool


def property_kind(prop: dict[str, Any], integer: bool) -> tuple[str, pa.DataType]:
    """(kind, Arrow type) of one property from ``GET /crm/v3/properties``."""
    import pyarrow as pa

    from connectors.crm.types import timestamp_type

    t, ft = prop.get("type"), prop.get("fieldType")
    if t == "number":
        return "number", pa.int64() if integer else pa.float64()
    if t == "bool":
        return "bool", pa.bool_()
    if t == "date":
        return "date", pa.date32()
    if t == "datetime":
        return "datetime", timestamp_type()
    if t == "enumeration":
        return ("multi", pa.list_(pa.string())) if ft == "checkbox" else ("enumeration", pa.string())
    return "string", pa.string()


def fits(groups: list[list[dict[str, Any]]], limits: Limits) -> bool:
    """Within the limits, keeping one filter per group for the key-range split."""
    if len(groups) > limits.max_groups or any(len(g) + 1 > limits.max_per_group for g in groups):
        return False
    if sum(len(g) for g in groups) + len(groups) > limits.max_total:
        return False
    wire = [{"filters": g} for g in groups]
    return len(json.dumps(wire)) + 80 * len(groups) <= MAX_FILTER_JSON


def translate(e: exp.Expression, info: TableInfo, kinds: dict[str, str], limits: Limits, rules: Rules) -> Translated | None:
    """The filter groups for one conjunct, or None when it cannot be pushed."""
    dnf = to_dnf(e, max_groups=limits.max_groups)
    if dnf is None:
        return None
    groups: list[list[dict[str, Any]]] = []
    exact = True
    for leaves in dnf:
        filters: list[dict[str, Any]] = []
        for leaf in leaves:
            c = atom(leaf)
            got = _filters(c, info, kinds, rules) if c is not None else None
            if got is None:
                exact = False  # left out of an AND group: the group widens
                continue
            filters += got[0]
            exact = exact and got[1]
        if not filters:
            return None
        groups.append(filters)
    return Translated(groups, exact) if fits(groups, limits) else None


def _f(prop: str, op: str, value: Any = None, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"propertyName": prop, "operator": op}
    if value is not None:
        out["value"] = value
    out.update(kw)
    return out


def _filters(c: Comparison, info: TableInfo, kinds: dict[str, str], rules: Rules) -> tuple[list[dict[str, Any]], bool] | None:
    col = info.column(c.column)
    kind = kinds.get(col.name) if col is not None else None
    if col is None or kind is None or kind == "meta":
        return None
    prop = "hs_object_id" if kind == "id" else col.native_name
    if c.op == "is_null":
        return [_f(prop, "NOT_HAS_PROPERTY")], True
    if c.op == "not_null":
        return [_f(prop, "HAS_PROPERTY")], True
    if kind == "multi":
        return None
    if c.op in ("like", "not_like"):
        return _like(c, prop, kind, rules)
    vals = [render(kind, v) for v in c.values]
    if any(v is None for v in vals):
        return None
    string = kind == "string"
    if c.op == "=":
        return [_f(prop, "EQ", vals[0])], not string
    if c.op == "in":
        if string:
            return [_f(prop, "IN", values=sorted({v.lower() for v in vals}))], False  # type: ignore[union-attr]
        return [_f(prop, "IN", values=vals)], True
    if c.op in ("!=", "not_in"):
        if string:
            return None
        neg = _f(prop, "NEQ", vals[0]) if c.op == "!=" else _f(prop, "NOT_IN", values=vals)
        return [neg, _f(prop, "HAS_PROPERTY")], True  # SQL's != never matches NULL
    if kind not in _ORDERED:
        return None
    if c.op in _RANGE:
        return [_f(prop, _RANGE[c.op], vals[0])], True
    if c.op == "between":
        return [_f(prop, "BETWEEN", vals[0], highValue=vals[1])], True
    return None


def _like(c: Comparison, prop: str, kind: str, rules: Rules) -> tuple[list[dict[str, Any]], bool] | None:
    if c.op != "like" or kind != "string" or not rules.push_like:
        return None
    shape = like_shape(str(c.value))
    if shape is None or not _TOKEN_SAFE.fullmatch(shape[1]):
        return None
    how, core = shape
    if how == "exact":
        return [_f(prop, "EQ", core)], False
    token = {"prefix": f"{core}*", "suffix": f"*{core}", "contains": f"*{core}*"}[how]
    return [_f(prop, "CONTAINS_TOKEN", token)], False


def render(kind: str, v: Any) -> str | None:
    """A SQL literal as HubSpot's wire string for a column kind, or None if it does not fit."""
    if kind in ("id", "number"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        return str(v) if isinstance(v, int) else repr(v)
    if kind == "bool":
        return ("true" if v else "false") if isinstance(v, bool) else None
    if kind == "date":
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            return str(int(dt.datetime(v.year, v.month, v.day, tzinfo=dt.timezone.utc).timestamp() * 1000))
        return None
    if kind == "datetime":
        if not isinstance(v, dt.datetime) or v.microsecond % 1000:
            return None
        v = v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
        return str(int(v.timestamp()) * 1000 + v.microsecond // 1000)
    if kind in ("string", "enumeration"):
        return v if isinstance(v, str) else None
    return None
