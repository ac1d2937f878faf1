"""Aggregate before a join, where the aggregates read one side only.

``SELECT c.country, count(*), sum(e.v) FROM c JOIN e ON e.cid = c.id GROUP BY
c.country`` becomes a join of ``c`` with ``(SELECT e.cid, count(*) AS __a0,
sum(e.v) AS __a1 FROM e GROUP BY e.cid) AS e``, and the outer aggregates
combine the partial ones (``count(*)`` → ``coalesce(sum(__a0), 0)``). Each
matching pair of the original join contributed its group's rows, so the sums
of partials are the original aggregates; this holds for inner joins only. The
grouped side is a single-source query: a SQL source runs it (only keys and
partial aggregates cross the wire), otherwise Arrow shrinks it before the join.
"""

from __future__ import annotations

from sqlglot import exp

from federation.rules import in_scope

_OK = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)


def eager_aggregate(root: exp.Query) -> exp.Query:
    counter = [0]
    for sel in list(root.find_all(exp.Select)):
        _rewrite(sel, counter)
    return root


def _aliases(node: exp.Expression) -> set[str]:
    return {c.table for c in node.find_all(exp.Column) if c.table}


def _fact(sel: exp.Select) -> str | None:
    """The one alias every aggregate reads, when the shape allows the rewrite."""
    joins = sel.args.get("joins") or []
    if not joins or sel.args.get("distinct") or sel.find(exp.Window) is not None:
        return None
    if any((j.side or "") or (j.kind or "").upper() not in ("", "INNER") or j.args.get("on") is None for j in joins):
        return None
    aggs = [a for a in sel.find_all(exp.AggFunc) if in_scope(a, sel)]
    if not aggs or any(not isinstance(a, _OK) or isinstance(a.this, exp.Distinct) for a in aggs):
        return None
    refs = set().union(*(_aliases(a) for a in aggs))
    if len(refs) != 1 or any(a.find(exp.Query) is not None for a in aggs):
        return None
    return next(iter(refs))




def _rewrite(sel: exp.Select, counter: list[int]) -> None:
    fact = _fact(sel)
    if fact is None:
        return
    items = [sel.args["from_"].this] + [j.this for j in sel.args["joins"]]
    item = next((i for i in items if i.alias_or_name == fact), None)
    if not isinstance(item, exp.Table) or sum(i.alias_or_name == fact for i in items) != 1:
        return
    aggs = [a for a in sel.find_all(exp.AggFunc) if in_scope(a, sel)]
    in_aggs = {id(c) for a in aggs for c in a.find_all(exp.Column)}
    keys: dict[str, exp.Column] = {}
    body = [v for k, v in sel.args.items() if k != "with_"]
    columns = [c for v in body for n in (v if isinstance(v, list) else [v])
               if isinstance(n, exp.Expression) for c in n.find_all(exp.Column)]
    for c in columns:
        if c.table == fact and id(c) not in in_aggs:
            if not in_scope(c, sel):
                return  # read by a nested query: leave the shape alone
            keys.setdefault(c.name, c)
    if not keys:
        return
    partials: list[exp.Expression] = []
    replace: dict[int, exp.Expression] = {}
    for a in aggs:
        replace[id(a)] = _combine(a, fact, partials)
    sub = exp.select(*[exp.alias_(exp.column(k, table=fact, quoted=True), k, quoted=True) for k in keys],
                     *partials).from_(item.copy(), copy=False)  # built here: the builders need not copy again
    sub = sub.group_by(*[exp.column(k, table=fact, quoted=True) for k in keys], copy=False)
    derived = exp.Subquery(this=sub, alias=exp.TableAlias(this=exp.to_identifier(fact, quoted=True)))
    for a in aggs:
        a.replace(replace[id(a)])
    item.replace(derived)
    counter[0] += 1


def _combine(agg: exp.Expression, fact: str, partials: list[exp.Expression]) -> exp.Expression:
    def partial(fn: exp.Expression) -> exp.Column:
        name = f"__a{len(partials)}"
        partials.append(exp.alias_(fn, name, quoted=True))
        return exp.column(name, table=fact, quoted=True)

    arg = agg.this
    if isinstance(agg, exp.Count):
        part = partial(exp.Count(this=arg.copy() if arg is not None else exp.Star()))
        return exp.Coalesce(this=exp.Sum(this=part), expressions=[exp.Literal.number(0)])
    if isinstance(agg, exp.Sum):
        return exp.Sum(this=partial(exp.Sum(this=arg.copy())))
    if isinstance(agg, exp.Min):
        return exp.Min(this=partial(exp.Min(this=arg.copy())))
    if isinstance(agg, exp.Max):
        return exp.Max(this=partial(exp.Max(this=arg.copy())))
    # avg = sum of sums / sum of counts, as a float (avg of integers is fractional)
    total = exp.Sum(this=partial(exp.Sum(this=arg.copy())))
    n = exp.Sum(this=partial(exp.Count(this=arg.copy())))
    return exp.Div(this=exp.Cast(this=total, to=exp.DataType.build("DOUBLE PRECISION")),
                   expression=exp.Nullif(this=n, expression=exp.Literal.number(0)))
