"""FROM and JOIN: sources, equi-joins through Acero, extra ON conditions, outer sides.

A join first finds the matching (left row, right row) index pairs: an Acero
inner hash join on the equi-key columns only (the smaller input as the build
side), or a cross product when the ON has no equi-conjunct. The remaining ON
conjuncts filter those pairs, so for outer joins they decide matching, never
which rows survive. Unmatched rows of the preserved side(s) are then appended
with NULLs on the other side (a ``take`` with null indices).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlglot import exp

from federation.errors import QueryError, UnsupportedError
from federation.execute.expressions import Evaluator, flat
from federation.execute.relation import Context, Relation
from federation.execute.types import coerce_pair, common_type

CROSS_LIMIT = 20_000_000  # index pairs: 320 MB; beyond that a non-equi join needs a real key


def source(node: exp.Expression, ctx: Context) -> Relation:
    """One FROM item as a relation qualified by its alias."""
    from federation.execute.select import run_query

    alias = node.args.get("alias")
    col_aliases = [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) and alias.columns else None
    if isinstance(node, exp.Table):
        if node.args.get("joins"):
            raise UnsupportedError("parenthesised joins in FROM")
        if isinstance(node.this, exp.Expression) and not isinstance(node.this, exp.Identifier):
            raise UnsupportedError(f"table function {node.this.sql(dialect='postgres')[:60]}")
        table = ctx.table(node.name)
    elif isinstance(node, exp.Subquery):
        if node.args.get("lateral"):
            raise UnsupportedError("LATERAL subqueries")
        table = run_query(node.this, ctx)
    else:
        raise UnsupportedError(f"{type(node).__name__} in FROM ({node.sql(dialect='postgres')[:60]})")
    names = list(table.column_names)
    if col_aliases:
        names = col_aliases + names[len(col_aliases):]
    return Relation.of(table, node.alias_or_name, names)


def _refs(node: exp.Expression) -> set[str | None]:
    return {c.table or None for c in node.find_all(exp.Column)}


def _split_on(on: exp.Expression | None, left: Relation, right: Relation) -> tuple[
        list[tuple[exp.Expression, exp.Expression]], list[exp.Expression]]:
    """Equi-conjuncts (left expr, right expr) usable as hash keys, and the rest."""
    if on is None:
        return [], []
    conjuncts = list(on.flatten()) if isinstance(on, exp.And) else [on]
    lq, rq = left.qualifiers(), right.qualifiers()
    keys, rest = [], []
    for c in conjuncts:
        if isinstance(c, exp.EQ):
            a, b = _refs(c.this), _refs(c.expression)
            if a and b and a <= lq and b <= rq:
                keys.append((c.this, c.expression))
                continue
            if a and b and a <= rq and b <= lq:
                keys.append((c.expression, c.this))
                continue
        rest.append(c)
    return keys, rest


def _key_arrays(lk: list[pa.Array], rk: list[pa.Array]) -> tuple[list[pa.Array], list[pa.Array]] | None:
    """Keys of one type per pair (Acero rejects int32 vs int64); None if a key is all-NULL."""
    out_l, out_r = [], []
    for a, b in zip(lk, rk):
        a, b = coerce_pair(a, b)
        if pa.types.is_null(a.type) or pa.types.is_null(b.type):
            return None
        t = common_type([a.type, b.type])
        a, b = (a if a.type == t else a.cast(t)), (b if b.type == t else b.cast(t))
        if pa.types.is_boolean(t):
            a, b = a.cast(pa.int8()), b.cast(pa.int8())
        out_l.append(flat(a))
        out_r.append(flat(b))
    return out_l, out_r


def _hash_pairs(lk: list[pa.Array], rk: list[pa.Array], nl: int, nr: int) -> tuple[np.ndarray, np.ndarray]:
    keys = _key_arrays(lk, rk)
    if keys is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lk, rk = keys
    names = [f"k{i}" for i in range(len(lk))]
    lt = pa.Table.from_arrays(lk + [pa.array(np.arange(nl, dtype=np.int64))], names=names + ["__li"])
    rt = pa.Table.from_arrays(rk + [pa.array(np.arange(nr, dtype=np.int64))], names=[n + "r" for n in names] + ["__ri"])
    # Acero builds its hash table on the right input: put the smaller side there
    if nl < nr:
        j = rt.join(lt, keys=[n + "r" for n in names], right_keys=names, join_type="inner")
    else:
        j = lt.join(rt, keys=names, right_keys=[n + "r" for n in names], join_type="inner")
    li = j.column("__li").to_numpy()
    ri = j.column("__ri").to_numpy()
    return li, ri


def _cross_pairs(nl: int, nr: int) -> tuple[np.ndarray, np.ndarray]:
    if nl * nr > CROSS_LIMIT:
        raise UnsupportedError(f"a join without an equality condition over {nl} x {nr} rows",
                               hint="Add an equality condition to the ON clause.")
    return np.repeat(np.arange(nl, dtype=np.int64), nr), np.tile(np.arange(nr, dtype=np.int64), nl)


def _with_nulls(idx: np.ndarray, n_null: int) -> pa.Array:
    mask = np.concatenate([np.zeros(len(idx), bool), np.ones(n_null, bool)])
    return pa.array(np.concatenate([idx, np.zeros(n_null, np.int64)]), pa.int64(), mask=mask)


def _unmatched(matched: np.ndarray, n: int) -> np.ndarray:
    seen = np.zeros(n, dtype=bool)
    seen[matched] = True
    return np.flatnonzero(~seen)


def join(left: Relation, node: exp.Join, ctx: Context) -> Relation:
    right = source(node.this, ctx)
    kind = (node.kind or "").upper()
    side = (node.side or "").upper()
    if node.args.get("method") or node.args.get("global_"):
        raise UnsupportedError(f"{node.args.get('method') or 'GLOBAL'} JOIN")
    from federation.execute.select import reject_unknown

    reject_unknown(node, {"this", "on", "side", "kind", "using", "hint"})
    on = node.args.get("on")
    using = node.args.get("using")
    if using:
        eqs = [exp.EQ(this=exp.column(u.name, table=_owner(left, u.name)),
                      expression=exp.column(u.name, table=node.this.alias_or_name)) for u in using]
        on = exp.and_(*eqs) if on is None else exp.and_(on, *eqs)
    keys, rest = _split_on(on, left, right)
    nl, nr = left.num_rows, right.num_rows
    if keys:
        lev, rev = Evaluator(left, ctx), Evaluator(right, ctx)
        li, ri = _hash_pairs([flat(lev.array(a)) for a, _ in keys], [flat(rev.array(b)) for _, b in keys], nl, nr)
    else:
        li, ri = _cross_pairs(nl, nr)
    if rest:
        pairs = left.take(pa.array(li)).concat(right.take(pa.array(ri)))
        ev = Evaluator(pairs, ctx.child(outer=pairs.qualifiers()))
        mask = ev.predicate(exp.and_(*rest)).to_numpy(zero_copy_only=False)
        li, ri = li[mask], ri[mask]
    if kind in ("SEMI", "ANTI"):
        if side == "RIGHT":
            raise UnsupportedError("RIGHT SEMI/ANTI JOIN")
        keep = np.unique(li) if kind == "SEMI" else _unmatched(li, nl)
        return left.take(pa.array(keep))
    if kind == "CROSS" and on is not None:
        raise QueryError("CROSS JOIN cannot have an ON condition")
    lefts, rights = [li], [ri]
    if side in ("LEFT", "FULL"):
        extra = _unmatched(li, nl)
        lefts.append(extra)
        rights.append(None)  # type: ignore[arg-type]
    if side in ("RIGHT", "FULL"):
        extra_r = _unmatched(ri, nr)
        lefts.append(None)  # type: ignore[arg-type]
        rights.append(extra_r)
    return left.take(_assemble(lefts, rights, 0)).concat(right.take(_assemble(lefts, rights, 1)))


def _assemble(lefts: list, rights: list, which: int) -> pa.Array:
    """Concatenate index runs; a None run is NULL indices as long as its partner run."""
    parts, nulls = [], []
    for l_run, r_run in zip(lefts, rights):
        mine, other = (l_run, r_run) if which == 0 else (r_run, l_run)
        if mine is None:
            parts.append(np.zeros(len(other), np.int64))
            nulls.append(np.ones(len(other), bool))
        else:
            parts.append(np.asarray(mine, np.int64))
            nulls.append(np.zeros(len(mine), bool))
    mask = np.concatenate(nulls)
    return pa.array(np.concatenate(parts), pa.int64(), mask=mask if mask.any() else None)


def _owner(rel: Relation, name: str) -> str | None:
    hits = [q for q, n in rel.names if n == name]
    if len(hits) != 1:
        if not hits:
            raise QueryError(f"column {name} specified in USING clause does not exist in left table")
        raise QueryError(f"common column name {name} appears more than once in left table")
    return hits[0]


def from_clause(node: exp.Select, ctx: Context) -> Relation:
    frm = node.args.get("from_")
    if frm is None:
        one = pa.Table.from_arrays([pa.nulls(1, pa.null())], names=["c0"])
        rel = Relation(one, [(None, "\x00dual")])
    else:
        rel = source(frm.this, ctx)
        for extra in frm.expressions or []:  # FROM a, b (old-style comma list)
            rel = join(rel, exp.Join(this=extra), ctx)
    for j in node.args.get("joins") or []:
        rel = join(rel, j, ctx)
    return rel
