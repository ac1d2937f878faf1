"""Is a residual key-partitionable, and on which key? (the plan for federation/partitioned.py)

A merged profile is a chain of FULL/LEFT joins of per-source subqueries on the
merge key, with ROW_NUMBER windows partitioned by that key: no input can be cut
into row batches (federation/stream.py), but every operator pairs only rows
with equal keys. So the residual is *key-partitionable* when some fragments
(the partitioned ones) can each be given a key expression over their own
columns such that

    answer(all rows) == concat over p of answer(rows whose key hashes to p,
                                                 the other inputs whole)

Each relation of the residual (fragment, CTE, derived table) is classified as
broadcast (reads no partitioned fragment: computed once, reused by every
partition) or partitioned, with the expressions over its output that carry the
partition key: *strong* (every row hashes to its partition, NULL included) or
*weak* (every non-NULL value does; NULL never joins, so weak keys suffice for
join equalities). Sufficient rules, anything else answers whole (None):

- two partitioned relations join (any join type) only on an equality of keys;
  a partitioned and a broadcast one join when the partitioned side is preserved,
  or inner (SEMI/ANTI only with the partitioned side on the left);
- GROUP BY, window PARTITION BY and DISTINCT over partitioned rows include a
  strong key; no aggregate without GROUP BY, ORDER BY, OFFSET or LIMIT (except
  a top-level LIMIT without ORDER BY, applied as a cap over the stream), set
  operation other than UNION ALL of two partitioned sides, or partitioned
  query nested in an expression (IN, EXISTS, scalar subqueries);
- keys pass through projections, inner equalities (``a = b`` makes both
  strong), ``IS NOT NULL`` filters, and COALESCE of keys of both sides of a
  FULL join (the merge's ``COALESCE(l._key, m._s1_key) AS email``).

Candidate keys come from lineage: each join equality, GROUP BY, PARTITION BY or
DISTINCT expression that is a row-wise function of one fragment's columns
(followed down through CTEs and derived tables) names a key for that fragment,
e.g. ``LOWER(TRIM(email))`` for the shop and the newsletter; a fragment nothing
constrains is dealt round robin. The search tries the largest sets of
partitioned fragments first (then the largest estimated inputs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from sqlglot import exp

from federation.dynamic import size_hint
from federation.rules import in_scope

if TYPE_CHECKING:
    from federation.catalog import Catalog
    from federation.plan import Fragment, Plan

MAX_TRIES = 256  # key assignments tried before answering whole

Key = Union[exp.Expression, None]  # None: nothing needs a key, rows are dealt round robin


class _Reject(Exception):
    """The residual is not key-partitionable under the assignment being tried."""


@dataclass(frozen=True)
class Partitioning:
    """Which fragments are partitioned, on which key (None: round robin), and the cap."""

    keys: dict[str, Key]
    cap: int | None
    broadcast_ctes: tuple[str, ...]  # top-level CTEs computed once
    broadcast_subqueries: tuple[exp.Subquery, ...]  # derived tables computed once (nodes of ``query``)
    query: exp.Expression  # the residual (a copy the plan does not share)


Lineage = tuple[str, exp.Expression]  # (fragment id, expression over its bare columns)


@dataclass
class _Out:
    """What a query outputs: partitioned?, its columns, which carry the key, their lineage."""

    part: bool
    names: list[str] = field(default_factory=list)
    strong: set[str] = field(default_factory=set)
    weak: set[str] = field(default_factory=set)
    lineage: dict[str, Lineage] = field(default_factory=dict)


@dataclass
class _Rel:
    """A FROM clause being built: key expressions are canonical SQL qualified by alias."""

    part: bool
    strong: set[str] = field(default_factory=set)
    weak: set[str] = field(default_factory=set)
    # after a FULL join: (strong keys of the left, of the right); a COALESCE naming one of
    # each covers every row, so it is a strong key
    covers: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)


_SELECT_ARGS = {"with_", "expressions", "from_", "joins", "where", "group", "having", "qualify", "distinct",
                "order", "limit", "offset", "kind"}
_SETOP_ARGS = {"this", "expression", "distinct", "with_", "order", "limit", "offset", "side", "kind"}


def _bare(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=exp.to_identifier(name, quoted=True),
                      table=exp.to_identifier(table, quoted=True) if table else None)


def _conjuncts(e: exp.Expression | None) -> list[exp.Expression]:
    if e is None:
        return []
    e = e.unnest()
    return [c.unnest() for c in e.flatten()] if isinstance(e, exp.And) else [e]


class _Analyzer:
    """One pass over the residual, for one assignment of keys to fragments."""

    def __init__(self, fragments: set[str], keys: dict[str, Key], canon_cache: dict[int, str]) -> None:
        self.fragments, self.keys, self._cache = fragments, keys, canon_cache
        self.cap: int | None = None
        self.cte_parts: dict[str, bool] = {}
        self.subqueries: list[tuple[exp.Subquery, bool]] = []
        self.demands: dict[str, dict[str, tuple[exp.Expression, int]]] = {}

    # canonical SQL, so that "t"."x" and t.x compare equal; ``e`` is a node of the residual
    # (which lives as long as the analysis: its ids are stable cache keys)
    def canon(self, e: exp.Expression) -> str:
        e = e.unnest()
        got = self._cache.get(id(e))
        if got is None:
            got = e.transform(lambda n: _bare(n.name, n.table or None) if isinstance(n, exp.Column) else n
                              ).sql(dialect="postgres")
            self._cache[id(e)] = got
        return got

    def qualified(self, e: exp.Expression, alias: str) -> str:
        return e.transform(lambda n: _bare(n.name, alias) if isinstance(n, exp.Column) else n).sql(dialect="postgres")

    # -- key predicates within a FROM clause
    def weak(self, e: exp.Expression, rel: _Rel) -> bool:
        e = e.unnest()
        c = self.canon(e)
        if c in rel.strong or c in rel.weak:
            return True
        return isinstance(e, exp.Coalesce) and all(self.weak(a, rel) for a in [e.this, *e.expressions])

    def strong(self, e: exp.Expression, rel: _Rel) -> bool:
        e = e.unnest()
        if self.canon(e) in rel.strong:
            return True
        if not isinstance(e, exp.Coalesce):
            return False
        args = [e.this, *e.expressions]
        if not all(self.weak(a, rel) for a in args):
            return False
        names = {self.canon(a.unnest()) for a in args}
        return any(names & left and names & right for left, right in rel.covers)

    # -- lineage: an expression as a row-wise function of one fragment's columns
    def lineage(self, e: exp.Expression, srcs: dict[str, object]) -> Lineage | None:
        if e.find(exp.AggFunc, exp.Window, exp.Query) is not None:
            return None
        fids: set[str] = set()

        def sub(n: exp.Expression) -> exp.Expression:
            if not isinstance(n, exp.Column):
                return n
            s = srcs.get(n.table)
            if isinstance(s, str):
                fids.add(s)
                return _bare(n.name)
            if isinstance(s, _Out) and n.name in s.lineage:
                fid, inner = s.lineage[n.name]
                fids.add(fid)
                return inner.copy() if isinstance(inner, (exp.Column, exp.Func)) else exp.paren(inner.copy())
            raise _Reject

        try:
            out = e.unnest().transform(sub)
        except _Reject:
            return None
        return (fids.pop(), out) if len(fids) == 1 else None

    def demand(self, e: exp.Expression, srcs: dict[str, object]) -> None:
        found = self.lineage(e, srcs)
        if found is None:
            return
        fid, expr = found
        key = expr.sql(dialect="postgres")
        seen = self.demands.setdefault(fid, {})
        seen[key] = (expr, seen.get(key, (expr, 0))[1] + 1)

    # -- queries
    def query(self, node: exp.Expression, env: dict[str, _Out], top: bool = False) -> _Out:
        if isinstance(node, exp.Subquery):
            node = node.unnest()
        if isinstance(node, exp.Select):
            return self.select(node, env, top)
        if isinstance(node, exp.SetOperation):
            return self.setop(node, env, top)
        if self._reads_partitioned(node, env):
            raise _Reject
        return _Out(False)

    def _with(self, node: exp.Expression, env: dict[str, _Out], top: bool) -> dict[str, _Out]:
        w = node.args.get("with_")
        if not w:
            return env
        if w.args.get("recursive"):
            if self._reads_partitioned(w, env):
                raise _Reject
            return env
        env = dict(env)
        for cte in w.expressions:
            out = self.query(cte.this, env)
            if cte.args.get("alias") is not None and cte.args["alias"].columns and out.part:
                raise _Reject  # renamed columns: not followed
            env[cte.alias_or_name] = out
            if top:
                self.cte_parts[cte.alias_or_name] = out.part
        return env

    def _reads_partitioned(self, node: exp.Expression, env: dict[str, _Out]) -> bool:
        for t in node.find_all(exp.Table):
            if t.name in self.keys or (t.name in env and env[t.name].part):
                return True
        return False

    def _limits(self, node: exp.Expression, top: bool) -> None:
        """ORDER BY / OFFSET / LIMIT over partitioned rows: only a top-level LIMIT (a cap)."""
        if node.args.get("order") or node.args.get("offset"):
            raise _Reject
        limit = node.args.get("limit")
        if limit is None:
            return
        if not top or not isinstance(limit, exp.Limit) or not isinstance(limit.expression, exp.Literal) \
                or not limit.expression.is_int:
            raise _Reject
        self.cap = int(limit.expression.this)

    def setop(self, node: exp.SetOperation, env: dict[str, _Out], top: bool) -> _Out:
        env = self._with(node, env, top)
        left, right = self.query(node.this, env), self.query(node.expression, env)
        if not left.part and not right.part:
            return _Out(False, list(left.names))
        if not (isinstance(node, exp.Union) and node.args.get("distinct") is False and left.part and right.part):
            raise _Reject
        if any(v for k, v in node.args.items() if k not in _SETOP_ARGS) or len(left.names) != len(right.names):
            raise _Reject
        self._limits(node, top)
        pairs = list(zip(left.names, right.names))
        strong = {a for a, b in pairs if a in left.strong and b in right.strong}
        weak = {a for a, b in pairs if a in left.strong | left.weak and b in right.strong | right.weak}
        return _Out(True, list(left.names), strong, weak - strong)

    def select(self, sel: exp.Select, env: dict[str, _Out], top: bool) -> _Out:
        env = self._with(sel, env, top)
        srcs: dict[str, object] = {}
        frm = sel.args.get("from_")
        rel = _Rel(False) if frm is None else self.source(frm.this, env, srcs)
        for j in sel.args.get("joins") or []:
            rel = self.join(rel, self.source(j.this, env, srcs), j, srcs)
        self._nested(sel, env)
        if rel.part:
            if any(v for k, v in sel.args.items() if k not in _SELECT_ARGS):
                raise _Reject
            self._promote(rel, _conjuncts(sel.args.get("where")))
        group = sel.args.get("group")
        if group is not None:
            if rel.part and any(v for k, v in group.args.items() if k != "expressions"):
                raise _Reject  # ROLLUP / CUBE / GROUPING SETS
            for g in group.expressions:
                self.demand(g, srcs)
            if rel.part and not any(self.strong(g, rel) for g in group.expressions):
                raise _Reject
        elif rel.part and any(in_scope(a, sel) and not isinstance(a.parent, exp.Window)
                              for a in sel.find_all(exp.AggFunc)):
            raise _Reject
        for w in sel.find_all(exp.Window):
            if not in_scope(w, sel):
                continue
            keys = w.args.get("partition_by") or []
            for k in keys:
                self.demand(k, srcs)
            if rel.part and not any(self.strong(k, rel) for k in keys):
                raise _Reject
        distinct = sel.args.get("distinct")
        if distinct is not None:
            for p in sel.expressions:
                self.demand(p.unalias(), srcs)
            if rel.part and (distinct.args.get("on") or not any(self.strong(p.unalias(), rel) for p in sel.expressions)):
                raise _Reject
        if rel.part:
            self._limits(sel, top)
        out = _Out(rel.part)
        for p in sel.expressions:
            name, e = p.alias_or_name, p.unalias()
            out.names.append(name)
            if rel.part and self.strong(e, rel):
                out.strong.add(name)
            elif rel.part and self.weak(e, rel):
                out.weak.add(name)
            lin = self.lineage(e, srcs)
            if lin is not None:
                out.lineage[name] = lin
        return out

    def _nested(self, sel: exp.Select, env: dict[str, _Out]) -> None:
        """Queries inside expressions (IN, EXISTS, scalar, in ON too): fine when they read
        no partitioned rows (outside FROM, a table can only be read by such a query)."""
        parts = [v for k, v in sel.args.items() if k not in ("with_", "from_", "joins")]
        parts += [j.args.get("on") for j in sel.args.get("joins") or []]
        for value in parts:
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, exp.Expression) and self._reads_partitioned(v, env):
                    raise _Reject

    def source(self, node: exp.Expression, env: dict[str, _Out], srcs: dict[str, object]) -> _Rel:
        alias = node.alias_or_name
        renamed = isinstance(node.args.get("alias"), exp.TableAlias) and bool(node.args["alias"].columns)
        if isinstance(node, exp.Table) and not node.args.get("db") and isinstance(node.this, exp.Identifier):
            name = node.name
            if name in env:
                out = env[name]
                if out.part and renamed:
                    raise _Reject
                srcs[alias] = out
                return self._from_out(out, alias)
            if name in self.fragments:
                srcs[alias] = name
                if name not in self.keys:
                    return _Rel(False)
                key = self.keys[name]
                keys = {self.qualified(key, alias)} if key is not None else set()
                return _Rel(True, keys)
            srcs[alias] = None
            return _Rel(False)
        if isinstance(node, exp.Subquery):
            out = self.query(node.this, env)
            if out.part and renamed:
                raise _Reject
            self.subqueries.append((node, out.part))
            srcs[alias] = out
            return self._from_out(out, alias)
        if self._reads_partitioned(node, env):
            raise _Reject  # LATERAL, UNNEST, table functions over partitioned rows
        srcs[alias] = None
        return _Rel(False)

    def _from_out(self, out: _Out, alias: str) -> _Rel:
        if not out.part:
            return _Rel(False)
        # canon() caches by node id: never feed it a temporary node
        return _Rel(True, {_bare(n, alias).sql(dialect="postgres") for n in out.strong},
                    {_bare(n, alias).sql(dialect="postgres") for n in out.weak})

    def _promote(self, rel: _Rel, conds: list[exp.Expression]) -> None:
        """Filters that reject NULL keys: ``a = b`` with ``a`` a key makes both strong keys
        (equal values hash alike); ``a IS NOT NULL`` makes a weak key strong."""
        for c in conds:
            if isinstance(c, exp.EQ):
                a, b = c.this.unnest(), c.expression.unnest()
                if self.weak(a, rel) or self.weak(b, rel):
                    rel.strong |= {self.canon(a), self.canon(b)}
            elif isinstance(c, exp.Not) and isinstance(c.this.unnest(), exp.Is) \
                    and isinstance(c.this.unnest().expression, exp.Null):
                x = c.this.unnest().this
                if self.weak(x, rel):
                    rel.strong.add(self.canon(x))

    def join(self, left: _Rel, right: _Rel, j: exp.Join, srcs: dict[str, object]) -> _Rel:
        side, kind = (j.side or "").upper(), (j.kind or "").upper()
        conds = _conjuncts(j.args.get("on"))
        for c in conds:
            if isinstance(c, exp.EQ):
                self.demand(c.this, srcs)
                self.demand(c.expression, srcs)
        if not left.part and not right.part:
            return _Rel(False)
        if j.args.get("using") or kind not in ("", "INNER", "OUTER", "CROSS", "SEMI", "ANTI") or \
                any(j.args.get(k) for k in ("method", "global_", "match_condition")):
            raise _Reject
        if kind in ("SEMI", "ANTI"):
            if side == "RIGHT" or not left.part:
                raise _Reject  # the broadcast rows would come out of every partition
            if right.part and not self._key_equality(conds, left, right):
                raise _Reject
            return left
        if not right.part:
            if side in ("RIGHT", "FULL"):
                raise _Reject  # the broadcast side is preserved: its unmatched rows in every partition
            out = _Rel(True, set(left.strong), set(left.weak), list(left.covers))
        elif not left.part:
            if side in ("LEFT", "FULL"):
                raise _Reject
            out = _Rel(True, set(right.strong), set(right.weak), list(right.covers))
        else:
            if not self._key_equality(conds, left, right):
                raise _Reject
            every = left.strong | left.weak | right.strong | right.weak
            if side == "":
                out = _Rel(True, left.strong | right.strong, every, left.covers + right.covers)
            elif side == "LEFT":
                out = _Rel(True, set(left.strong), every, list(left.covers))
            elif side == "RIGHT":
                out = _Rel(True, set(right.strong), every, list(right.covers))
            else:  # FULL: a row may miss either side, so neither side's keys alone are strong
                out = _Rel(True, set(), every, [(frozenset(left.strong), frozenset(right.strong))])
        if side == "":
            self._promote(out, conds)
        return out

    def _key_equality(self, conds: list[exp.Expression], left: _Rel, right: _Rel) -> bool:
        for c in conds:
            if isinstance(c, exp.EQ):
                a, b = c.this, c.expression
                if (self.weak(a, left) and self.weak(b, right)) or (self.weak(b, left) and self.weak(a, right)):
                    return True
        return False


def partitioning(plan: Plan, catalog: Catalog | None = None) -> Partitioning | None:
    """The partitioned fragments and their keys, or None when the residual is not
    key-partitionable (then it is answered whole)."""
    if plan.residual is None or not plan.fragments:
        return None
    q = plan.residual.copy()
    top = q
    if top.args.get("order") or top.args.get("offset"):
        return None  # a sorted or offset answer needs every row first
    if isinstance(top, exp.Select) and top.args.get("group") is None and any(
            in_scope(a, top) and not isinstance(a.parent, exp.Window) for a in top.find_all(exp.AggFunc)):
        return None
    ids = {f.id for f in plan.fragments}
    used = {t.name for t in q.find_all(exp.Table)} & ids
    cache: dict[int, str] = {}
    probe = _Analyzer(ids, {}, cache)
    try:
        probe.query(q, {}, top=True)
    except _Reject:
        return None
    cands: dict[str, list[Key]] = {}
    for fid in used:
        seen = sorted(probe.demands.get(fid, {}).values(), key=lambda v: -v[1])
        cands[fid] = [e for e, _ in seen] + [None]
    sizes = {f.id: size_hint(catalog, f) if catalog is not None else 0.0 for f in plan.fragments}
    order = sorted(used)
    if len(order) <= 8:
        subsets = [s for n in range(len(order), 0, -1) for s in itertools.combinations(order, n)]
    else:  # many inputs: all of them, or one
        subsets = [tuple(order)] + [(f,) for f in order]
    subsets.sort(key=lambda s: (-len(s), -sum(sizes[f] for f in s)))
    tries = 0
    for subset in subsets:
        for combo in itertools.product(*(cands[f] for f in subset)):
            tries += 1
            if tries > MAX_TRIES:
                return None
            keys = dict(zip(subset, combo))
            a = _Analyzer(ids, keys, cache)
            try:
                out = a.query(q, {}, top=True)
            except _Reject:
                continue
            if not out.part:
                continue
            return Partitioning(
                keys=keys, cap=a.cap,
                broadcast_ctes=tuple(n for n, part in a.cte_parts.items() if not part),
                broadcast_subqueries=tuple(s for s, part in a.subqueries if not part), query=q)
    return None
