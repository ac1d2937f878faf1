"""Planning over a profile entity: which sources a query needs and how to join them.

Definitions (per reference of an entity in a query):

- *used fields*: entity columns whose name appears anywhere in the query (any
  identifier, qualified or not; ``*`` uses every visible column). Over-counting
  only costs pruning, never correctness.
- a conjunct of the WHERE of the SELECT that reads the entity directly (FROM or
  JOIN) is *null-rejecting on field F* when it only reads F of this entity,
  through comparisons, LIKE, IN (a list), BETWEEN, IS NOT NULL or a bare
  boolean, with only strict functions (lower, upper, trim, cast, arithmetic...)
  between F and the operator: it is never true when F is NULL.

Rewrites, each of which cannot change the answer:

1. Key filter (on the merge key): pushed into every source's subquery before
   de-duplication (all records of one key agree on the key).
2. Null-rejecting filter on a field that one source S alone supplies: S is
   INNER-joined first and the filter sits inside S's subquery (after
   de-duplication, so the surviving record is the same); every other source is
   LEFT-joined. Rows whose key is not in S have F NULL and were rejected anyway.
3. Null-rejecting filter on a field that sources P supply: P are FULL-joined,
   every other source LEFT-joined (rows outside P's keys have F NULL).
4. Pruning: a source is dropped when it supplies no used field, ``_sources`` is
   not used, and it is LEFT-joined after rules 2-3 (so it cannot add rows), or
   the entity declares ``members`` without it (membership comes from members).
   Otherwise every member is FULL-joined: a customer seen only in one source is a
   row, so that source cannot be dropped even when it supplies no used field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from models.sqlbuild import MergePlan, Pushed
from models.spec import PROVENANCE_SUFFIX, SOURCES_FIELD, Entity

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between)
# functions that return NULL for a NULL argument
_STRICT = (
    exp.Column, exp.Identifier, exp.Literal, exp.Paren, exp.Lower, exp.Upper, exp.Trim, exp.Cast,
    exp.Substring, exp.Length, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.DataType, exp.Abs,
    exp.Tuple, exp.Null, exp.Boolean,
)


@dataclass
class Usage:
    names: set[str]
    star: bool
    conjuncts: list[tuple[str, exp.Expression]] = field(default_factory=list)


def usage(query: exp.Query, table: exp.Table, ent: Entity) -> Usage:
    """What the query needs from one reference ``table`` to entity ``ent``."""
    cols = set(ent.columns())
    names = {i.name.lower() for i in query.find_all(exp.Identifier)} & cols
    alias = table.alias_or_name.lower()
    sel = _owner(table)
    star = False
    for s in query.find_all(exp.Select):
        for e in s.expressions:
            if isinstance(e, exp.Star) and s is sel:
                star = True
            if isinstance(e, exp.Column) and isinstance(e.this, exp.Star) and e.table.lower() == alias:
                star = True
    return Usage(names, star, _conjuncts(sel, table, ent) if sel is not None else [])


def _owner(table: exp.Table) -> exp.Select | None:
    parent = table.parent
    if isinstance(parent, (exp.From, exp.Join)) and isinstance(parent.parent, exp.Select):
        return parent.parent
    return None


def _conjuncts(sel: exp.Select, table: exp.Table, ent: Entity) -> list[tuple[str, exp.Expression]]:
    where = sel.args.get("where")
    if where is None:
        return []
    alias = table.alias_or_name.lower()
    alone = not sel.args.get("joins")
    cond = where.this
    conjs = list(cond.flatten()) if isinstance(cond, exp.And) else [cond]
    fields = set(ent.field_names())
    out = []
    for c in conjs:
        cols = list(c.find_all(exp.Column))
        if not cols or c.find(exp.Query, exp.Subquery, exp.AggFunc, exp.Window) is not None:
            continue
        if not all(col.table.lower() == alias or (not col.table and alone) for col in cols):
            continue
        names = {col.name.lower() for col in cols}
        if len(names) != 1 or next(iter(names)) not in fields or not null_rejecting(c):
            continue
        out.append((next(iter(names)), c))
    return out


def null_rejecting(c: exp.Expression) -> bool:
    """Is ``c`` never TRUE when its (single) column is NULL?"""
    while isinstance(c, exp.Paren):
        c = c.this
    if isinstance(c, exp.Not):
        inner = c.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return _strict(inner.this)
        return isinstance(inner, _COMPARISONS) and null_rejecting(inner)
    if isinstance(c, exp.Column):
        return True
    if isinstance(c, exp.In) and (c.args.get("query") or c.args.get("unnest")):
        return False
    if isinstance(c, _COMPARISONS):
        return all(_strict(v) for v in c.args.values() if isinstance(v, exp.Expression)) and all(
            _strict(v) for v in c.args.get("expressions") or []
        )
    return False


def _strict(node: exp.Expression) -> bool:
    return all(isinstance(n, _STRICT) for n in node.walk())


def merge_plan(ent: Entity, use: Usage, stitched: bool) -> tuple[MergePlan, list[str]]:
    """The plan for one reference, and the labels of pruned sources."""
    n = len(ent.sources)
    needed = set(use.names)
    if use.star:
        needed |= set(ent.columns()) - {f + PROVENANCE_SUFFIX for f in ent.field_names()}
    fields = [f for f in ent.field_names() if f in needed or f + PROVENANCE_SUFFIX in needed]
    key_filters: list[Pushed] = []
    field_filters: dict[int, list[Pushed]] = {}
    candidates: list[set[int]] = []
    for fname, conj in use.conjuncts:
        push = Pushed(fname, conj)
        if fname == ent.key and not stitched:
            key_filters.append(push)
            continue
        if fname not in fields:
            fields.append(fname)
        provs = [ent.sources.index(s) for s in ent.providers(fname)]
        if len(provs) == 1:
            field_filters.setdefault(provs[0], []).append(push)
        candidates.append(set(provs))
    members = [i for i, s in enumerate(ent.sources) if s.label in ent.members] or list(range(n))
    required = sorted(field_filters)
    if required:
        drivers, kind = required, "inner"
    elif candidates:
        drivers, kind = sorted(min(candidates, key=len)), "full"
    else:
        drivers, kind = members, "full"
    supplies = {i for i, s in enumerate(ent.sources) if any(f in s.fields and f != ent.key for f in fields)}
    if SOURCES_FIELD in needed or (ent.key in fields and ent.key + PROVENANCE_SUFFIX in needed):
        supplies |= set(range(n))
    keep_members = [] if set(members) == set(range(n)) else members
    included = set(drivers) | supplies | set(keep_members)
    order: list[tuple[int, str]] = [(drivers[0], "base")] + [(i, kind) for i in drivers[1:]]
    order += [(i, "left") for i in range(n) if i in included and i not in drivers]
    pruned = [ent.sources[i].label for i in range(n) if i not in included]
    plan = MergePlan(order=order, fields=fields, key_filters=key_filters,  # type: ignore[arg-type]
                     field_filters=field_filters, members=keep_members)
    return plan, pruned
