"""Join the per-source subqueries of a profile entity and apply survivorship.

Survivorship, per field: the value of the first source in priority order
(the ``merge`` list, or the field's ``priority`` override) whose value is not
NULL; with ``rule: most_recent`` the non-NULL value with the latest
``updated_at`` wins (NULL timestamps lose, ties go to the higher priority).
``<field>__source`` names the winning source by the same rule; ``_sources``
lists every source the customer was seen in, ';'-joined in merge order.
"""

from __future__ import annotations

from sqlglot import exp

from models.sqlbuild import MergePlan, _alias, _and, _not_null, _subquery, col, source_select
from models.spec import PROVENANCE_SUFFIX, SOURCES_FIELD, Entity


def profile_select(ent: Entity, plan: MergePlan, names: list[str]) -> exp.Select:
    """SELECT <names> over the merged sources of ``plan``."""
    level, carried = _join_levels(ent, plan)
    included = [i for i, _ in plan.order]
    outs = [_alias(_output(ent, name, included), name) for name in names]
    sel = exp.select(*outs).from_(_subquery(level, "x"))
    if plan.members and not _members_implied(plan):
        cond: exp.Expression | None = None
        for m in plan.members:
            c = _not_null(col(f"_s{m}_key", "x"))
            cond = c if cond is None else exp.or_(cond, c, copy=False)
        sel = sel.where(cond, copy=False)
    return sel


def _members_implied(plan: MergePlan) -> bool:
    """Every row already has a member's key: a member is the inner-joined base, or
    the full-joined drivers are exactly members."""
    kinds = dict(plan.order)
    inner = [i for i, k in plan.order if k in ("base", "inner")]
    if any(k == "inner" for k in kinds.values()):
        return any(i in plan.members for i in inner)
    drivers = [i for i, k in plan.order if k in ("base", "full")]
    return set(drivers) <= set(plan.members)


def _join_levels(ent: Entity, plan: MergePlan) -> tuple[exp.Select, list[str]]:
    """Nest one SELECT per join so every ON is ``l._key = m.<key>`` (plain columns)."""
    first, _ = plan.order[0]
    base = source_select(ent, first, plan)
    carried = list(base.named_selects)
    level = exp.select(_alias(col(f"_s{first}_key", "m"), "_key"), *[col(n, "m") for n in carried])
    level = level.from_(_subquery(base, "m"))
    for i, kind in plan.order[1:]:
        sub = source_select(ent, i, plan)
        mkey = col(f"_s{i}_key", "m")
        key: exp.Expression = col("_key", "l")
        if kind == "full":
            key = exp.Coalesce(this=col("_key", "l"), expressions=[mkey.copy()])
        mine = list(sub.named_selects)
        nxt = exp.select(_alias(key, "_key"), *[col(n, "l") for n in carried], *[col(n, "m") for n in mine])
        nxt = nxt.from_(_subquery(level, "l")).join(
            _subquery(sub, "m"), on=exp.EQ(this=col("_key", "l"), expression=mkey), join_type=kind)
        level, carried = nxt, carried + mine
    return level, carried


def _providers(ent: Entity, name: str, included: list[int]) -> list[int]:
    order = [ent.sources.index(s) for s in ent.providers(name)]
    return [i for i in order if i in included]


def _output(ent: Entity, name: str, included: list[int]) -> exp.Expression:
    stitched = ent.stitched
    if name == ent.id_field:
        if stitched:
            return col("_key", "x")
        return exp.MD5(this=exp.cast(col("_key", "x"), "text"))
    if name == ent.key and not stitched:
        return col("_key", "x")
    if name == SOURCES_FIELD:
        # CONCAT skips NULLs (PostgreSQL); each present source adds ';label', the first ';' is cut
        parts = [
            exp.Case(ifs=[exp.If(this=_not_null(col(f"_s{i}_key", "x")),
                                 true=exp.Literal.string(";" + ent.sources[i].label))])
            for i in sorted(included)
        ]
        joined = exp.Concat(expressions=parts, safe=True, coalesce=True)
        return exp.Substring(this=joined, start=exp.Literal.number(2))
    if name.endswith(PROVENANCE_SUFFIX):
        base = name[: -len(PROVENANCE_SUFFIX)]
        return _survive(ent, base, included, provenance=True)
    return _survive(ent, name, included, provenance=False)


def _survive(ent: Entity, name: str, included: list[int], provenance: bool) -> exp.Expression:
    if name == ent.key and not ent.stitched:
        # the key is the merge key: every source that has the record agrees on it
        ifs = [exp.If(this=_not_null(col(f"_s{i}_key", "x")), true=exp.Literal.string(ent.sources[i].label))
               for i in included]
        return exp.Case(ifs=ifs) if ifs else exp.null()
    provs = _providers(ent, name, included)
    if not provs:
        return exp.cast(exp.null(), "text") if provenance else exp.null()
    vals = [col(f"_s{i}_f_{name}", "x") for i in provs]
    rule = ent.survivorship.get(name)
    if rule is not None and rule.kind == "most_recent":
        ups = [col(f"_s{i}_upd", "x") for i in provs]
        ifs = [exp.If(this=_newest(k, vals, ups), true=_pick(ent, provs[k], vals[k], provenance)) for k in range(len(provs))]
        return exp.Case(ifs=ifs)
    if provenance:
        return exp.Case(ifs=[exp.If(this=_not_null(v), true=exp.Literal.string(ent.sources[i].label))
                             for i, v in zip(provs, vals)])
    return vals[0] if len(vals) == 1 else exp.Coalesce(this=vals[0], expressions=vals[1:])


def _pick(ent: Entity, i: int, value: exp.Expression, provenance: bool) -> exp.Expression:
    return exp.Literal.string(ent.sources[i].label) if provenance else value.copy()


def _newest(k: int, vals: list[exp.Expression], ups: list[exp.Expression]) -> exp.Expression:
    """Source k holds the winning value: non-NULL and no other non-NULL value is newer
    (NULL timestamps lose; equal timestamps go to the earlier, higher-priority source)."""
    conds = [_not_null(vals[k])]
    for j in range(len(vals)):
        if j == k:
            continue
        v_null = exp.Is(this=vals[j].copy(), expression=exp.Null())
        if j > k:  # lower priority: k wins ties
            beats = exp.or_(v_null, exp.Is(this=ups[j].copy(), expression=exp.Null()),
                            exp.GTE(this=ups[k].copy(), expression=ups[j].copy()))
        else:  # higher priority: k must be strictly newer
            newer = exp.or_(exp.Is(this=ups[j].copy(), expression=exp.Null()),
                            exp.GT(this=ups[k].copy(), expression=ups[j].copy()))
            beats = exp.or_(v_null, exp.and_(_not_null(ups[k]), exp.paren(newer)))
        conds.append(exp.paren(beats))
    return _and(conds)  # type: ignore[return-value]
