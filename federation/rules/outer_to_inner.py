"""A LEFT JOIN whose right side the WHERE clause null-rejects is an inner join.

The WHERE drops every NULL-extended row anyway (a comparison with NULL is not
true), so ``a LEFT JOIN b ON ... WHERE b.x > 3`` equals the inner join. sqlglot
decorrelates ``IN`` / ``EXISTS`` into ``LEFT JOIN _u ... WHERE NOT _u.k IS NULL``;
as inner joins, same-source pairs can then be pushed together and either side's
keys can shrink the other. The WHERE is kept as it is.
"""

from __future__ import annotations

from sqlglot import exp

_CMP = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between)


def _rejected(cond: exp.Expression) -> str | None:
    """The alias whose all-NULL row makes ``cond`` not true, if obvious."""
    if isinstance(cond, exp.Not) and isinstance(cond.this, exp.Is) and isinstance(cond.this.expression, exp.Null):
        col = cond.this.this
        return col.table if isinstance(col, exp.Column) and col.table else None
    if isinstance(cond, _CMP) and cond.find(exp.Query, exp.Coalesce, exp.Case, exp.Is, exp.Or, exp.Not) is None:
        col = cond.this
        return col.table if isinstance(col, exp.Column) and col.table else None
    return None


def outer_to_inner(root: exp.Query) -> exp.Query:
    for sel in root.find_all(exp.Select):
        where = sel.args.get("where")
        joins = sel.args.get("joins") or []
        if where is None or not joins:
            continue
        conds = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
        rejected = {a for a in map(_rejected, conds) if a}
        for j in joins:
            if (j.side or "").upper() == "LEFT" and j.this.alias_or_name in rejected and not j.args.get("using"):
                j.set("side", None)
                j.set("kind", None)
    return root
