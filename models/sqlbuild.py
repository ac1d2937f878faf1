"""Entity → SQL, as sqlglot ASTs over physical ``source.table`` tables.

A single-source entity is ``SELECT <field exprs> FROM source.table``.

A profile entity is built from one subquery per merged source, each
single-source (so the planner pushes it whole to a SQL source)::

    SELECT <key expr> AS _s0_key, <field expr> AS _s0_f_<field>, <updated_at> AS _s0_upd
    FROM crm.contacts WHERE <key expr> IS NOT NULL [AND pushed filters]

Sources that are not ``unique`` keep one record per key: the most recent by
``updated_at`` (NULLs last), ties broken by the record's field values in
declaration order (ascending, NULLs last), so the pick never depends on which
fields a query uses::

    SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY <key expr>
           ORDER BY <updated_at> DESC NULLS LAST, <fields> ...) AS _rn FROM ...) AS d
    WHERE d._rn = 1 [AND pushed filters on the surviving record]

The per-source subqueries are joined on the key (FULL, or INNER/LEFT when a
filter allows it, see ``models.rewrite``), one nesting level per join so each
join is a plain equality of two columns, and the outer SELECT applies
survivorship and lineage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlglot import exp

from models.spec import Entity, SourceRef

Kind = Literal["base", "inner", "full", "left"]


@dataclass(frozen=True)
class Pushed:
    """A user conjunct on one entity field, ready to be re-targeted at a source."""

    field: str
    conjunct: exp.Expression  # columns inside refer to ``field``

    def __call__(self, replacement: exp.Expression) -> exp.Expression:
        def swap(node: exp.Expression) -> exp.Expression:
            return replacement.copy() if isinstance(node, exp.Column) else node

        return self.conjunct.copy().transform(swap)


@dataclass
class MergePlan:
    """Which sources a profile query reads and how they are joined."""

    order: list[tuple[int, Kind]]  # source index (in entity.sources) and join kind
    fields: list[str]  # entity fields the query needs
    key_filters: list[Pushed] = field(default_factory=list)  # pushed into every source
    field_filters: dict[int, list[Pushed]] = field(default_factory=dict)
    members: list[int] = field(default_factory=list)  # non-empty: one of these must have the key
    stitch_maps: dict[int, exp.Table] | None = None  # stitched: per-source link → cluster table
    stitch_links: dict[int, tuple[exp.Expression, exp.Expression]] | None = None  # (link, has-identity)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _alias(node: exp.Expression, name: str) -> exp.Alias:
    return exp.alias_(node, name, quoted=True)


def _paren(node: exp.Expression) -> exp.Expression:
    return node.copy() if isinstance(node, (exp.Column, exp.Literal)) else exp.paren(node.copy())


def _table(src: SourceRef) -> exp.Table:
    return exp.Table(this=exp.to_identifier(src.table), db=exp.to_identifier(src.source))


def _and(conds: list[exp.Expression]) -> exp.Expression | None:
    out: exp.Expression | None = None
    for c in conds:
        out = c if out is None else exp.and_(out, c, copy=False)
    return out


def _where(sel: exp.Select, conds: list[exp.Expression]) -> exp.Select:
    cond = _and(conds)
    return sel.where(cond, copy=False) if cond is not None else sel


def _subquery(select: exp.Query, alias: str) -> exp.Subquery:
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))


def _not_null(node: exp.Expression) -> exp.Expression:
    return exp.Not(this=exp.Is(this=_paren(node), expression=exp.Null()))


# Nodes that return NULL exactly when an input is NULL (and never otherwise).
_NULL_EXACT = (exp.Column, exp.Identifier, exp.Paren, exp.Lower, exp.Upper, exp.Trim, exp.Cast,
               exp.Substring, exp.Length, exp.Add, exp.Sub, exp.Mul, exp.Neg, exp.Abs, exp.DataType, exp.DPipe)


def key_present(key_expr: exp.Expression) -> list[exp.Expression]:
    """``key IS NOT NULL`` as conjuncts a source can take: on the raw columns when the
    key expression is NULL exactly when one of them is (lower(trim(email)) → email),
    which is cheaper and pushable to APIs; else on the expression itself."""
    cols = list(key_expr.find_all(exp.Column))
    exact = cols and all(
        isinstance(n, (*_NULL_EXACT, exp.Literal)) and not isinstance(n, exp.TryCast)  # TRY_CAST may give NULL
        for n in key_expr.walk()
    )
    if not exact:
        return [_not_null(key_expr)]
    names = list(dict.fromkeys(c.name for c in cols))
    return [_not_null(exp.column(n)) for n in names]


def single_source_select(ent: Entity, names: list[str]) -> exp.Select:
    src = ent.sources[0]
    return exp.select(*[_alias(src.fields[n].copy(), n) for n in names]).from_(_table(src))


def source_select(ent: Entity, i: int, plan: MergePlan) -> exp.Select:
    """The single-source subquery for merged source ``i`` (see the module docstring)."""
    if plan.stitch_maps is not None:
        return _stitched_source(ent, i, plan)
    src = ent.sources[i]
    p = f"_s{i}_"
    key_expr = src.fields[ent.key or ""]
    mine = [f for f in plan.fields if f in src.fields and f != ent.key]
    proj: list[exp.Expression] = [_alias(key_expr.copy(), p + "key")]
    proj += [_alias(src.fields[f].copy(), p + "f_" + f) for f in mine]
    if src.updated_at is not None:
        proj.append(_alias(src.updated_at.copy(), p + "upd"))
    where = key_present(key_expr) + [push(_paren(key_expr)) for push in plan.key_filters]
    late = plan.field_filters.get(i, [])
    if src.unique:
        where += [push(_paren(src.fields[push.field])) for push in late]
        return _where(exp.select(*proj).from_(_table(src)), where)
    order = [src.fields[f].copy() for f in src.fields if f != ent.key]
    rn = _row_number([key_expr.copy()], src.updated_at.copy() if src.updated_at is not None else None, order)
    inner = _where(exp.select(*proj, _alias(rn, "_rn")).from_(_table(src)), where)
    outs = [n for n in inner.named_selects if n != "_rn"]
    outer = [exp.EQ(this=col("_rn", "d"), expression=exp.Literal.number(1))]
    outer += [push(col(p + "f_" + push.field, "d")) for push in late]
    return _where(exp.select(*[col(n, "d") for n in outs]).from_(_subquery(inner, "d")), outer)


def _row_number(partition: list[exp.Expression], upd: exp.Expression | None,
                order: list[exp.Expression]) -> exp.Window:
    keys = [exp.Ordered(this=upd, desc=True, nulls_first=False)] if upd is not None else []
    keys += [exp.Ordered(this=o, desc=False, nulls_first=False) for o in order]
    return exp.Window(this=exp.RowNumber(), partition_by=partition, order=exp.Order(expressions=keys))


def _stitched_source(ent: Entity, i: int, plan: MergePlan) -> exp.Select:
    """Stitched: the record's cluster (via the link table) is the merge key."""
    src = ent.sources[i]
    p = f"_s{i}_"
    link, has_id = plan.stitch_links[i]  # type: ignore[index]
    names = list(src.fields)
    proj = [_alias(link.copy(), "_link")] + [_alias(src.fields[f].copy(), p + "f_" + f) for f in names]
    if src.updated_at is not None:
        proj.append(_alias(src.updated_at.copy(), p + "upd"))
    records = exp.select(*proj).from_(_table(src)).where(has_id.copy())
    rn = _row_number([col("cluster", "mp")], col(p + "upd", "s") if src.updated_at is not None else None,
                     [col(p + "f_" + f, "s") for f in names])
    cols = [n for n in records.named_selects if n != "_link"]
    joined = exp.select(_alias(col("cluster", "mp"), p + "key"), *[col(n, "s") for n in cols], _alias(rn, "_rn"))
    joined = joined.from_(_subquery(records, "s")).join(
        plan.stitch_maps[i].copy(), on=exp.EQ(this=col("link", "mp"), expression=col("_link", "s")),  # type: ignore[index]
        join_type="inner")
    mine = [f for f in plan.fields if f in src.fields]
    outs = [p + "key"] + [p + "f_" + f for f in mine] + ([p + "upd"] if src.updated_at is not None else [])
    outer = [exp.EQ(this=col("_rn", "d"), expression=exp.Literal.number(1))]
    outer += [push(col(p + "f_" + push.field, "d")) for push in plan.field_filters.get(i, [])]
    return _where(exp.select(*[col(n, "d") for n in outs]).from_(_subquery(joined, "d")), outer)
