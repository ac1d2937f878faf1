"""The HubSpot emulator's search semantics: request validation and filter evaluation.

Filter semantics, per the CRM search guide (CRM-PROTOCOLS.md §1.3), with the
choices the docs leave open written down here so the connector can rely on them:

- groups are ORed, filters inside a group ANDed; all values are strings;
- string properties compare case-insensitively (casefold, no trimming); for
  ``IN``/``NOT_IN`` on strings the stored value is lower-cased and compared with
  the given values as sent (so values must be lower case to match, per the guide);
- enumeration properties compare case-sensitively for every operator; a
  multi-select (``fieldType: checkbox``) value is the set of its ``;``-parts, and
  EQ/IN ask "contains any", NEQ/NOT_IN "contains none";
- number → float, bool → "true"/"false", date/datetime → epoch milliseconds
  (a value may be ms-epoch or ISO 8601);
- a record without a value (null or "") never matches EQ, LT..GTE, BETWEEN
  (inclusive), IN, HAS_PROPERTY or CONTAINS_TOKEN, and **does** match NEQ, NOT_IN,
  NOT_HAS_PROPERTY and NOT_CONTAINS_TOKEN ("not equal" includes "no value");
- CONTAINS_TOKEN: the value, case-insensitively, with ``*`` as a wildcard, must
  match a whole whitespace-separated token of the stored value, or the whole value;
- without a sort, results come oldest first (ascending id); a sort puts records
  without a value last in either direction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.emulators.hubspot_data import SEARCHABLE, Prop

OPERATORS = frozenset(
    "EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN NOT_CONTAINS_TOKEN".split()
)
MAX_PAGE = 200
MAX_QUERY_CHARS = 3000


class SearchError(ValueError):
    pass


@dataclass(frozen=True)
class Limits:
    max_groups: int = 5
    max_per_group: int = 6
    max_total: int = 18


@dataclass
class Query:
    groups: list[list[dict[str, Any]]] = field(default_factory=list)
    sort: tuple[str, bool] | None = None  # (property, descending)
    limit: int = 10
    after: int = 0
    properties: list[str] = field(default_factory=list)
    text: str | None = None


def parse_request(body: dict[str, Any], known: dict[str, Prop], limits: Limits) -> Query:
    """Validate a search body the way HubSpot does; raises SearchError (→ 400)."""
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise SearchError("filterGroups must be a list of objects")
    if len(groups) > limits.max_groups:
        raise SearchError(f"Too many filter groups: {len(groups)}, the maximum is {limits.max_groups}")
    total = 0
    parsed: list[list[dict[str, Any]]] = []
    for g in groups:
        filters = g.get("filters") or []
        if len(filters) > limits.max_per_group:
            raise SearchError(f"Too many filters in a group: {len(filters)}, the maximum is {limits.max_per_group}")
        total += len(filters)
        for f in filters:
            _check_filter(f, known)
        parsed.append(filters)
    if total > limits.max_total:
        raise SearchError(f"Too many filters: {total}, the maximum is {limits.max_total}")
    if len(json.dumps(groups)) > MAX_QUERY_CHARS or len(body.get("query") or "") > MAX_QUERY_CHARS:
        raise SearchError(f"The request is over the {MAX_QUERY_CHARS}-character limit")
    q = Query(groups=parsed, properties=[p for p in body.get("properties") or [] if p in known], text=body.get("query"))
    q.sort = _sort(body.get("sorts") or [], known)
    try:
        q.limit = int(body.get("limit", 10))
        q.after = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise SearchError("limit and after must be integers") from None
    if not 1 <= q.limit <= MAX_PAGE or q.after < 0:
        raise SearchError(f"limit must be between 1 and {MAX_PAGE}")
    return q


def _check_filter(f: dict[str, Any], known: dict[str, Prop]) -> None:
    name, op = f.get("propertyName"), f.get("operator")
    if op not in OPERATORS:
        raise SearchError(f"Unknown operator: {op}")
    if name not in known:
        raise SearchError(f"Property '{name}' does not exist")
    if op == "BETWEEN" and (f.get("value") is None or f.get("highValue") is None):
        raise SearchError("BETWEEN needs value and highValue")
    if op in ("IN", "NOT_IN") and not isinstance(f.get("values"), list):
        raise SearchError(f"{op} needs a values list")
    if op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and f.get("value") is None:
        raise SearchError(f"{op} needs a value")


def _sort(sorts: list[Any], known: dict[str, Prop]) -> tuple[str, bool] | None:
    if len(sorts) > 1:
        raise SearchError("Only one sort is supported")
    if not sorts:
        return None
    s = sorts[0]
    if isinstance(s, str):  # lenient: "-createdate"
        name, desc = s.lstrip("-"), s.startswith("-")
    else:
        name, desc = s.get("propertyName"), s.get("direction", "ASCENDING") == "DESCENDING"
    if name not in known:
        raise SearchError(f"Property '{name}' does not exist")
    return name, desc


def _ms(text: str) -> int:
    s = text.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    if len(s) == 10:
        s += "T00:00:00+00:00"
    when = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def converter(prop: Prop) -> Callable[[str], Any]:
    """How a stored or filter value of ``prop`` is compared."""
    if prop.type == "number":
        return float
    if prop.type in ("date", "datetime"):
        return _ms
    if prop.type == "bool":
        return lambda s: s.strip().lower()
    if prop.type == "enumeration":
        return lambda s: s
    return lambda s: s.casefold()


def _token_re(value: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in value.casefold().split("*")), re.DOTALL)


def compile_filter(f: dict[str, Any], prop: Prop) -> Callable[[dict[str, Any]], bool]:
    """A predicate over a record's properties for one filter."""
    name, op = prop.name, f["operator"]
    conv = converter(prop)
    multi = prop.field_type == "checkbox"
    try:
        value = conv(str(f["value"])) if f.get("value") is not None else None
        high = conv(str(f["highValue"])) if f.get("highValue") is not None else None
        if op in ("IN", "NOT_IN"):
            # string IN compares the lower-cased stored value with the values as sent
            values = {str(v) if prop.type == "string" else conv(str(v)) for v in f["values"]}
    except (ValueError, TypeError):
        raise SearchError(f"Invalid value for property '{name}'") from None
    token = _token_re(str(f["value"])) if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN") else None

    def positive(raw: str) -> bool:
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            text = raw.casefold()
            return bool(token.fullmatch(text)) or any(token.fullmatch(t) for t in text.split())  # type: ignore[union-attr]
        if multi:
            parts = set(raw.split(";"))
            return bool(parts & ({value} if op in ("EQ", "NEQ") else values))
        if op in ("IN", "NOT_IN"):
            return (raw.lower() if prop.type == "string" else conv(raw)) in values
        v = conv(raw)
        return {
            "EQ": lambda: v == value,
            "NEQ": lambda: v == value,
            "LT": lambda: v < value,
            "LTE": lambda: v <= value,
            "GT": lambda: v > value,
            "GTE": lambda: v >= value,
            "BETWEEN": lambda: value <= v <= high,
        }[op]()

    negative = op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")

    def match(props: dict[str, Any]) -> bool:
        raw = props.get(name)
        if op == "HAS_PROPERTY":
            return raw not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return raw in (None, "")
        if raw in (None, ""):
            return negative
        return positive(raw) != negative

    return match


def run(q: Query, records: dict[int, dict[str, Any]], known: dict[str, Prop], object_type: str) -> list[int]:
    """Ids of the non-archived records matching ``q``, in result order."""
    groups = [[compile_filter(f, known[f["propertyName"]]) for f in g] for g in q.groups]
    text = (q.text or "").casefold().strip()
    searchable = [p for p in SEARCHABLE.get(object_type, ()) if p in known]
    out = []
    for rid, rec in records.items():
        if rec["archived"]:
            continue
        props = rec["properties"]
        if groups and not any(all(m(props) for m in g) for g in groups):
            continue
        if text and not any(text in (props.get(p) or "").casefold() for p in searchable):
            continue
        out.append(rid)
    if q.sort is not None:
        name, desc = q.sort
        conv = converter(known[name])
        valued = [i for i in out if records[i]["properties"].get(name) not in (None, "")]
        empty = [i for i in out if records[i]["properties"].get(name) in (None, "")]
        valued.sort(key=lambda i: conv(records[i]["properties"][name]), reverse=desc)
        out = valued + empty
    return out
