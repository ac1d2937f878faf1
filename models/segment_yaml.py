"""Segment YAML → a sqlglot AST over the entities (see models/segments.py for the form).

Every user value becomes a sqlglot literal (``exp.Literal`` / ``exp.Boolean`` /
``exp.Null``) and every name is checked against a strict identifier pattern before
it becomes an ``exp.Identifier``: no YAML text is ever formatted into SQL.

Event conditions compile to semi-joins the planner can push whole into the event
source, so only customer keys cross the wire::

    s.customer_id IN (SELECT e.customer_id FROM events AS e
                      WHERE e.event = 'purchase' AND e.ts >= <as_of - 30d> AND e.ts < <as_of>
                        AND e.customer_id IS NOT NULL
                      GROUP BY e.customer_id HAVING COUNT(*) >= 2)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from models.segment_dates import DateError, iso, resolve_date, window_start

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_OPS = {
    "eq": exp.EQ, "=": exp.EQ, "==": exp.EQ, "ne": exp.NEQ, "!=": exp.NEQ, "<>": exp.NEQ,
    "gt": exp.GT, ">": exp.GT, "gte": exp.GTE, ">=": exp.GTE, "lt": exp.LT, "<": exp.LT,
    "lte": exp.LTE, "<=": exp.LTE,
}
_DATE_OPS = {"before": exp.LT, "after": exp.GTE}
_OTHER_OPS = {"in", "not_in", "is_null", "like", "not_like", "between", "within"}
_EVENT_KEYS = {"did", "did_not", "at_least", "at_most", "within", "between", "where", "from", "key", "name", "time"}
TimeKind = str  # "timestamp" | "date" | "text"


@dataclass(frozen=True)
class EventDefaults:
    """Where event conditions look: the events relation and its columns."""

    source: str = "events"
    key: str = "customer_id"
    name: str = "event"
    time: str = "ts"
    outer: str | None = None  # the segment's column the event key matches (default: the segment key)


@dataclass
class Ctx:
    """What one compilation needs: the run's instant and callbacks into the workspace."""

    as_of: dt.datetime
    events: EventDefaults
    segment_query: Callable[[str, str], tuple[exp.Query, str]]  # (name, path) -> (query, key)
    time_kind: Callable[[str, str], TimeKind]  # (table, column) -> kind
    problem: Callable[[str, str], None]  # (key path, message)
    aliases: list[int] = field(default_factory=lambda: [0])

    def alias(self, prefix: str) -> str:
        self.aliases[0] += 1
        return f"{prefix}{self.aliases[0]}"


def literal(value: Any) -> exp.Expression:
    """A YAML scalar as a sqlglot literal (never text spliced into SQL)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return time_literal(resolve_date(value, dt.datetime.now(dt.timezone.utc)), "timestamp"
                            if isinstance(value, dt.datetime) else "date")
    return exp.Literal.string(str(value))


def time_literal(when: dt.datetime, kind: TimeKind) -> exp.Expression:
    """A point in time typed like the column it is compared with."""
    if kind == "text":  # ISO-8601 text compares in time order
        return exp.Literal.string(iso(when).replace(" ", "T"))
    if kind == "date":
        return exp.cast(exp.Literal.string(when.date().isoformat()), exp.DataType.build("DATE"))
    return exp.cast(exp.Literal.string(iso(when)), exp.DataType.build("TIMESTAMP"))


def column(name: str, table: str) -> exp.Column:
    return exp.column(name, table=table)


def conjoin(parts: list[exp.Expression]) -> exp.Expression | None:
    parts = [p for p in parts if p is not None]
    return exp.and_(*parts) if parts else None


def compile_conditions(ctx: Ctx, conds: Any, path: str, alias: str, table: str, key: str) -> exp.Expression | None:
    """A list (or one mapping) of conditions, all of which must hold."""
    if conds is None:
        return None
    if isinstance(conds, dict):
        conds = [conds]
    if not isinstance(conds, list):
        ctx.problem(path, "conditions must be a list of mappings")
        return None
    parts = [compile_condition(ctx, c, f"{path}[{i}]", alias, table, key) for i, c in enumerate(conds)]
    return conjoin([p for p in parts if p is not None])


def compile_condition(ctx: Ctx, cond: Any, path: str, alias: str, table: str, key: str) -> exp.Expression | None:
    if not isinstance(cond, dict) or not cond:
        ctx.problem(path, "a condition must be a non-empty mapping (field: value, did: event, any: [...], ...)")
        return None
    if "did" in cond or "did_not" in cond:
        return compile_event(ctx, cond, path, alias, key)
    if "any" in cond or "all" in cond or "not" in cond or "in_segment" in cond or "not_in_segment" in cond:
        if len(cond) != 1:
            ctx.problem(path, f"'{next(iter(cond))}' must be the only key of its condition")
            return None
        (word, value), = cond.items()
        sub = f"{path}.{word}"
        if word == "any":
            if not isinstance(value, list) or not value:
                ctx.problem(sub, "'any' takes a non-empty list of conditions")
                return None
            parts = [compile_condition(ctx, c, f"{sub}[{i}]", alias, table, key) for i, c in enumerate(value)]
            ok = [p for p in parts if p is not None]
            return exp.paren(exp.or_(*ok)) if ok else None
        if word == "all":
            inner = compile_conditions(ctx, value, sub, alias, table, key)
            return exp.paren(inner) if inner is not None else None
        if word == "not":
            inner = compile_conditions(ctx, value, sub, alias, table, key)
            return exp.not_(exp.paren(inner)) if inner is not None else None
        return compile_membership(ctx, str(value), sub, alias, key, negate=word == "not_in_segment")
    parts = [compile_attribute(ctx, name, spec, f"{path}.{name}", alias, table) for name, spec in cond.items()]
    return conjoin([p for p in parts if p is not None])


def compile_membership(ctx: Ctx, other: str, path: str, alias: str, key: str, negate: bool) -> exp.Expression | None:
    try:
        query, other_key = ctx.segment_query(other, path)
    except LookupError as e:
        ctx.problem(path, str(e.args[0]))
        return None
    m = ctx.alias("m")
    sub = exp.select(column(other_key, m)).from_(exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(m))))
    sub = sub.where(exp.Not(this=exp.Is(this=column(other_key, m), expression=exp.Null())))
    test = exp.In(this=column(key, alias), query=exp.Subquery(this=sub))
    return exp.not_(test) if negate else test


def _check_name(ctx: Ctx, name: Any, path: str, what: str = "field") -> bool:
    if not isinstance(name, str) or not NAME.match(name):
        ctx.problem(path, f"'{name}' is not a valid {what} name (letters, digits and _)")
        return False
    return True


def _time(ctx: Ctx, value: Any, path: str, table: str, col: str) -> exp.Expression | None:
    try:
        when = resolve_date(value, ctx.as_of)
    except DateError as e:
        ctx.problem(path, str(e))
        return None
    return time_literal(when, ctx.time_kind(table, col))


def compile_attribute(ctx: Ctx, name: str, spec: Any, path: str, alias: str, table: str) -> exp.Expression | None:
    """``field: value`` (equality, or IS NULL for null) or ``field: {op: value, ...}``."""
    if not _check_name(ctx, name, path):
        return None
    col = column(name, alias)
    if not isinstance(spec, dict):
        if isinstance(spec, list):
            spec = {"in": spec}
        elif spec is None:
            spec = {"is_null": True}
        else:
            spec = {"eq": spec}
    parts = []
    for op, value in spec.items():
        part = compile_op(ctx, col, str(op), value, f"{path}.{op}", table, name)
        if part is not None:
            parts.append(part)
    return conjoin(parts)


def compile_op(ctx: Ctx, col: exp.Column, op: str, value: Any, path: str, table: str, name: str) -> exp.Expression | None:
    if op in _OPS:
        if isinstance(value, (list, dict)):
            ctx.problem(path, f"'{op}' takes one value")
            return None
        return _OPS[op](this=col.copy(), expression=literal(value))
    if op in _DATE_OPS:
        lit = _time(ctx, value, path, table, name)
        return None if lit is None else _DATE_OPS[op](this=col.copy(), expression=lit)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or any(isinstance(v, (list, dict)) for v in value):
            ctx.problem(path, f"'{op}' takes a non-empty list of values")
            return None
        test = exp.In(this=col.copy(), expressions=[literal(v) for v in value])
        return exp.not_(test) if op == "not_in" else test
    if op == "is_null":
        if not isinstance(value, bool):
            ctx.problem(path, "'is_null' takes true or false")
            return None
        test = exp.Is(this=col.copy(), expression=exp.Null())
        return test if value else exp.not_(test)
    if op in ("like", "not_like"):
        if not isinstance(value, str):
            ctx.problem(path, f"'{op}' takes a text pattern")
            return None
        like = exp.Like(this=col.copy(), expression=exp.Literal.string(value))
        return exp.not_(like) if op == "not_like" else like
    if op == "between":
        return _between(ctx, col, value, path, table, name)
    if op == "within":
        try:
            start = window_start(value, ctx.as_of)
        except DateError as e:
            ctx.problem(path, str(e))
            return None
        kind = ctx.time_kind(table, name)
        return exp.and_(exp.GTE(this=col.copy(), expression=time_literal(start, kind)),
                        exp.LTE(this=col.copy(), expression=time_literal(ctx.as_of, kind)))
    known = sorted(k for k in list(_OPS) + list(_DATE_OPS) + list(_OTHER_OPS) if k.isalpha() or "_" in k)
    ctx.problem(path, f"unknown operator '{op}'; operators: {', '.join(known)}, =, !=, <, <=, >, >=")
    return None


def _between(ctx: Ctx, col: exp.Column, value: Any, path: str, table: str, name: str) -> exp.Expression | None:
    if not isinstance(value, list) or len(value) != 2:
        ctx.problem(path, "'between' takes a list of two values [low, high] (both included)")
        return None
    lo, hi = value
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and not isinstance(lo, bool):
        return exp.Between(this=col.copy(), low=literal(lo), high=literal(hi))
    a, b = _time(ctx, lo, path, table, name), _time(ctx, hi, path, table, name)
    if a is None or b is None:
        return None
    return exp.Between(this=col.copy(), low=a, high=b)


def compile_event(ctx: Ctx, cond: dict[str, Any], path: str, alias: str, key: str) -> exp.Expression | None:
    """``did``/``did_not`` with counts, a time window and property filters."""
    for k in cond:
        if k not in _EVENT_KEYS:
            ctx.problem(f"{path}.{k}", f"unknown key '{k}' in an event condition; keys: {', '.join(sorted(_EVENT_KEYS))}")
            return None
    if "did" in cond and "did_not" in cond:
        ctx.problem(path, "use either 'did' or 'did_not', not both")
        return None
    negative = "did_not" in cond
    event = cond.get("did_not" if negative else "did")
    d = ctx.events
    source = cond.get("from", d.source)
    ekey, ename, etime = cond.get("key", d.key), cond.get("name", d.name), cond.get("time", d.time)
    if not isinstance(source, str) or not TABLE.match(source):
        ctx.problem(f"{path}.from", f"'{source}' is not an entity or source.table name")
        return None
    if not all(_check_name(ctx, n, f"{path}.{w}", "column") for n, w in ((ekey, "key"), (ename, "name"), (etime, "time"))):
        return None
    lo, hi = _counts(ctx, cond, path, negative)
    if lo is None and hi is None and not negative and "at_least" not in cond:
        lo = 1
    e = ctx.alias("e")
    where = [exp.Not(this=exp.Is(this=column(ekey, e), expression=exp.Null()))]
    if event is not None and event != "*":
        names = event if isinstance(event, list) else [event]
        if any(isinstance(n, (list, dict)) for n in names):
            ctx.problem(path, "the event is a name or a list of names")
            return None
        ecol = column(ename, e)
        where.append(exp.EQ(this=ecol, expression=literal(names[0])) if len(names) == 1
                     else exp.In(this=ecol, expressions=[literal(n) for n in names]))
    where += _window(ctx, cond, path, e, source, etime)
    props = compile_conditions(ctx, cond.get("where"), f"{path}.where", e, source, ekey)
    if props is not None:
        where.append(props)
    sub = exp.select(column(ekey, e)).from_(exp.to_table(source).as_(e)).where(exp.and_(*where))
    sub = sub.group_by(column(ekey, e))
    count = exp.Count(this=exp.Star())
    if d.outer and source == d.source and ekey == d.key:
        key = d.outer  # the relation's target field (e.g. events.customer_email -> customers.email)
    if negative:  # did not: no event in the window at all
        test = exp.In(this=column(key, alias), query=exp.Subquery(this=sub))
        return exp.not_(test)
    if lo == 0 and hi is not None:  # at most N: everyone except those above N
        sub = sub.having(exp.GT(this=count, expression=exp.Literal.number(hi)))
        return exp.not_(exp.In(this=column(key, alias), query=exp.Subquery(this=sub)))
    having = [exp.GTE(this=count.copy(), expression=exp.Literal.number(lo or 1))]
    if hi is not None:
        having.append(exp.LTE(this=count.copy(), expression=exp.Literal.number(hi)))
    sub = sub.having(exp.and_(*having))
    return exp.In(this=column(key, alias), query=exp.Subquery(this=sub))


def _counts(ctx: Ctx, cond: dict[str, Any], path: str, negative: bool) -> tuple[int | None, int | None]:
    lo, hi = cond.get("at_least"), cond.get("at_most")
    for word, v in (("at_least", lo), ("at_most", hi)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            ctx.problem(f"{path}.{word}", f"'{word}' takes a whole number >= 0")
            return None, None
    if negative and (lo is not None or hi is not None):
        ctx.problem(path, "'did_not' takes no counts (use 'did' with 'at_most')")
        return None, None
    if lo is not None and hi is not None and lo > hi:
        ctx.problem(path, f"at_least ({lo}) is above at_most ({hi})")
    if hi is not None and lo is None:
        lo = 0
    return lo, hi


def _window(ctx: Ctx, cond: dict[str, Any], path: str, e: str, source: str, etime: str) -> list[exp.Expression]:
    """``within: 30d`` is [as_of - 30d, as_of); ``between: [a, b]`` is [a, b)."""
    if "within" in cond and "between" in cond:
        ctx.problem(path, "use either 'within' or 'between', not both")
        return []
    if "within" in cond:
        try:
            start = window_start(cond["within"], ctx.as_of)
        except DateError as err:
            ctx.problem(f"{path}.within", str(err))
            return []
        bounds = (start, ctx.as_of)
    elif "between" in cond:
        value = cond["between"]
        if not isinstance(value, list) or len(value) != 2:
            ctx.problem(f"{path}.between", "'between' takes [start, end] (start included, end excluded)")
            return []
        try:
            bounds = (resolve_date(value[0], ctx.as_of), resolve_date(value[1], ctx.as_of))
        except DateError as err:
            ctx.problem(f"{path}.between", str(err))
            return []
    else:
        return []
    kind = ctx.time_kind(source, etime)
    col = column(etime, e)
    return [exp.GTE(this=col, expression=time_literal(bounds[0], kind)),
            exp.LT(this=col.copy(), expression=time_literal(bounds[1], kind))]
