"""Cut an optimized query into maximal single-source fragments.

Rules, in order, top-down over the query tree:
1. A query (the whole statement, a CTE, a subquery) whose every table lives in
   one SQL source that ``accepts`` it runs there whole: joins, aggregates,
   windows, ORDER BY and LIMIT included.
2. Otherwise each physical table becomes a scan fragment with only the columns
   used; each single-table conjunct of the enclosing WHERE is offered to the
   source (``classify``): exact ones leave the residual, inexact ones stay in it
   to be re-checked. ORDER BY / LIMIT go down only when the scan is the whole
   query and every filter went down exactly (never over an inexact filter).
3. What remains is the residual query over the fragments' results (Arrow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from connectors.base import ScanRequest
from federation.catalog import Catalog
from federation.plan import Fragment, Pushed
from federation.rules.renest_semijoins import renest_semijoins


@dataclass
class SplitResult:
    residual: exp.Query | None
    fragments: list[Fragment] = field(default_factory=list)


def _pg(node: exp.Expression) -> str:
    return node.sql(dialect="postgres")


def _sources(node: exp.Expression, ctes: dict[str, exp.Query], seen: frozenset[str] = frozenset(),
             memo: dict[tuple[str, frozenset[str]], set[str]] | None = None) -> set[str]:
    """Sources ``node`` reads, through the CTEs it names. ``memo`` keeps each CTE's
    answer (per path ``seen``) while ``ctes`` stays the same: every FROM item and
    subquery the splitter looks at asks again for the same CTEs."""
    out: set[str] = set()
    for t in node.find_all(exp.Table):
        if t.db:
            out.add(t.db.lower())
        elif t.name.lower() in ctes and t.name.lower() not in seen:
            name = t.name.lower()
            key = (name, seen | {name})
            found = memo.get(key) if memo is not None else None
            if found is None:
                found = _sources(ctes[name], ctes, key[1], memo)
                if memo is not None:
                    memo[key] = found
            out |= found
        elif t.name.startswith("__f"):
            out.add("\x00fragment")  # already cut: never push across it
    return out


def _cte_deps(node: exp.Expression, ctes: dict[str, exp.Query], acc: list[str]) -> list[str]:
    """CTE names ``node`` reads, dependencies first."""
    for t in node.find_all(exp.Table):
        name = t.name.lower()
        if not t.db and name in ctes and name not in acc:
            _cte_deps(ctes[name], ctes, acc)
            if name not in acc:
                acc.append(name)
    return acc


def _defined_aliases(node: exp.Expression) -> set[str]:
    names: set[str] = set()
    for n in node.find_all(exp.Table, exp.Subquery, exp.CTE, exp.TableAlias):
        if isinstance(n, exp.TableAlias):
            if n.name:
                names.add(n.name.lower())
        elif n.alias_or_name:
            names.add(n.alias_or_name.lower())
    return names


def _child_queries(node: exp.Expression) -> list[exp.Query]:
    """Queries nested directly in ``node`` (not in its WITH, not deeper queries)."""
    out: list[exp.Query] = []
    stack = [v for k, v in node.args.items() if k != "with_" for v in (v if isinstance(v, list) else [v])]
    while stack:
        n = stack.pop()
        if not isinstance(n, exp.Expression):
            continue
        if isinstance(n, exp.Query) and not isinstance(n, exp.Subquery):
            out.append(n)
            continue
        for v in n.args.values():
            stack.extend(v if isinstance(v, list) else [v])
    return out


def _conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    if where is None:
        return []
    cond = where.this if isinstance(where, exp.Where) else where
    return list(cond.flatten()) if isinstance(cond, exp.And) else [cond]


def _and(conds: list[exp.Expression]) -> exp.Expression | None:
    if not conds:
        return None
    out = conds[0]
    for c in conds[1:]:
        out = exp.and_(out, c, copy=False)
    return out


class Splitter:
    def __init__(self, catalog: Catalog, pushdown: bool = True) -> None:
        self.catalog = catalog
        self.pushdown = pushdown
        self.fragments: list[Fragment] = []
        self.ctes: dict[str, exp.Query] = {}
        self._cte_sources: dict[tuple[str, frozenset[str]], set[str]] = {}  # _sources' memo over self.ctes

    # -- entry point -------------------------------------------------------------
    def split(self, root: exp.Query, copy: bool = True) -> SplitResult:
        """``copy=False`` cuts ``root`` itself (the planner's own optimized tree)."""
        if copy:
            root = root.copy()
        self.ctes = {c.alias_or_name.lower(): c.this.copy() for c in root.find_all(exp.CTE)}
        self._cte_sources = {}
        whole = self._push_whole(root)
        if whole is not None:
            return SplitResult(residual=None, fragments=self.fragments)
        if self.pushdown:
            from federation.rules.group_joins import group_joins

            from federation.rules.eager_aggregate import eager_aggregate
            from federation.rules.outer_to_inner import outer_to_inner

            root = eager_aggregate(group_joins(outer_to_inner(root), self._join_source))
        # the body first: CTEs that only a pushed part read are then never fetched
        self._process(root, skip_whole=True)
        done: set[str] = set()
        while True:
            ctes = list(root.find_all(exp.CTE))
            live = self._live_ctes(root, ctes)
            todo = [c for c in ctes if c.alias_or_name.lower() in live - done]
            if not todo:
                break  # nothing processed since ``live`` was computed: it holds for what follows
            for cte in todo:
                done.add(cte.alias_or_name.lower())
                self._process(cte.this)
        with_ = root.args.get("with_")
        if with_ is not None:
            kept = [c for c in with_.expressions if c.alias_or_name.lower() in live]
            root.set("with_", exp.With(expressions=kept) if kept else None)
        return SplitResult(residual=root, fragments=self.fragments)

    @staticmethod
    def _live_ctes(root: exp.Query, ctes: list[exp.CTE]) -> set[str]:
        """CTE names the residual still reads, from the body and, transitively, live CTEs
        (``ctes``: every CTE node of ``root``, in ``find_all`` order)."""
        defs = {c.alias_or_name.lower(): c.this for c in ctes}
        live: set[str] = set()
        # the body: every part of the query but its own WITH (read in place, not copied)
        stack = [v for k, vs in root.args.items() if k != "with_"
                 for v in (vs if isinstance(vs, list) else [vs]) if isinstance(v, exp.Expression)]
        while stack:
            node = stack.pop()
            for t in node.find_all(exp.Table):
                name = t.name.lower()
                if not t.db and name in defs and name not in live:
                    live.add(name)
                    stack.append(defs[name])
        return live

    def _join_source(self, item: exp.Table) -> str | None:
        """The SQL source that can run joins for this FROM item, if any."""
        sources = _sources(item, self.ctes, memo=self._cte_sources)
        if len(sources) != 1:
            return None
        source = next(iter(sources))
        if source == "\x00fragment":
            return None
        caps = self.catalog.connector(source).capabilities
        return source if caps.dialect is not None and caps.supports_joins else None

    def _process(self, node: exp.Query, skip_whole: bool = False) -> None:
        if not skip_whole and self._push_whole(node) is not None:
            return
        if isinstance(node, exp.SetOperation):
            for side in (node.this, node.expression):
                if isinstance(side, exp.Query):
                    self._process(side)
            return
        if isinstance(node, exp.Subquery):
            if isinstance(node.this, exp.Query):
                self._process(node.this)
            return
        if not isinstance(node, exp.Select):
            return
        for child in _child_queries(node):
            self._process(child)
        for table in self._scope_tables(node):
            self._scan_fragment(node, table)

    # -- rule 1: the whole query at one SQL source ---------------------------------
    def _push_whole(self, node: exp.Query) -> exp.Query | None:
        if not self.pushdown:
            return None
        sources = _sources(node, self.ctes, memo=self._cte_sources)
        if len(sources) != 1:
            return None
        source = next(iter(sources))
        if source == "\x00fragment":
            return None
        conn = self.catalog.connector(source)
        caps = conn.capabilities
        # API sources that aggregate (e.g. SOQL GROUP BY) are offered whole queries too
        if caps.dialect is None and not caps.supports_aggregation:
            return None
        names = list(node.named_selects)
        if not names or len({n.lower() for n in names}) != len(names) or any(not n for n in names):
            return None
        query = node.copy()
        deps = _cte_deps(query, self.ctes, [])
        if isinstance(query, exp.Query) and query.args.get("with_") is None and deps:
            query.set("with_", exp.With(expressions=[
                exp.CTE(this=self.ctes[d].copy(), alias=exp.TableAlias(this=exp.to_identifier(d))) for d in deps
            ]))
        # correlated: it reads a column of an outer query
        inner = _defined_aliases(query)
        if any(c.table and c.table.lower() not in inner for c in query.find_all(exp.Column)):
            return None
        tables: list[str] = []
        for t in query.find_all(exp.Table):
            if t.db:
                tables.append(t.name)
                t.set("db", None)
        if caps.dialect is not None:  # a database plans its own semi-joins best
            query = renest_semijoins(query)
        if not conn.accepts(query):
            return None
        request = ScanRequest(output_names=tuple(names), query=query)
        has_join = any(isinstance(n, exp.Join) for n in query.find_all(exp.Join)) or len(tables) > 1
        has_agg = any(True for _ in query.find_all(exp.AggFunc)) or bool(
            any(s.args.get("group") for s in query.find_all(exp.Select))
        )
        limit = node.args.get("limit") if isinstance(node, exp.Select) else None
        pushed = Pushed(
            columns=tuple(names),
            filters=tuple(_pg(w.this) for w in query.find_all(exp.Where)),
            limit=_int_literal(limit.expression) if isinstance(limit, exp.Limit) else None,
            order=tuple(_pg(o) for o in (node.args["order"].expressions if node.args.get("order") else [])),
            aggregate=has_agg,
            join=has_join,
            whole_query=True,
        )
        frag = self._add(source, tuple(dict.fromkeys(tables)), request, pushed, ())
        wrapper = exp.select(
            *[exp.alias_(exp.column(n, table=frag.id, quoted=True), n, quoted=True) for n in names]
        ).from_(exp.Table(this=exp.to_identifier(frag.id, quoted=True), alias=exp.TableAlias(this=exp.to_identifier(frag.id, quoted=True))),
                copy=False)  # all built here: the builder need not copy
        if node.parent is not None:
            node.replace(wrapper)
        return wrapper

    # -- rule 2: one scan per physical table -----------------------------------------
    @staticmethod
    def _scope_tables(sel: exp.Select) -> list[exp.Table]:
        out: list[exp.Table] = []
        frm = sel.args.get("from_")
        items = [frm.this] if frm is not None else []
        items += [j.this for j in sel.args.get("joins") or []]
        for it in items:
            if isinstance(it, exp.Table) and it.db:
                out.append(it)
        return out

    @staticmethod
    def _filterable(sel: exp.Select, table: exp.Table) -> bool:
        """May WHERE conjuncts on ``table`` be applied before the joins?"""
        joins = sel.args.get("joins") or []
        frm = sel.args.get("from_")
        is_from = frm is not None and frm.this is table
        for j in joins:
            side = (j.side or "").upper()
            if side == "FULL":
                return False
            if side == "RIGHT" and is_from:
                return False
            if side == "LEFT" and j.this is table:
                return False
            if side == "RIGHT" and j.this is not table:
                # tables before a RIGHT JOIN are on its nullable side
                return False
        return True

    def _scan_fragment(self, sel: exp.Select, table: exp.Table) -> None:
        source = table.db.lower()
        info = self.catalog.table(source, table.name)
        conn = self.catalog.connector(source)
        alias = table.alias_or_name
        used: list[str] = []
        for c in sel.find_all(exp.Column):
            if c.table == alias and info.column(c.name) is not None and info.column(c.name).name not in used:  # type: ignore[union-attr]
                used.append(info.column(c.name).name)  # type: ignore[union-attr]
        if not used:
            used = [info.columns[0].name] if info.columns else []

        pushed_filters: list[exp.Expression] = []
        pushed_text: list[str] = []
        residual_text: list[str] = []
        kept: list[exp.Expression] = []
        conjs = _conjuncts(sel.args.get("where"))
        filterable = self.pushdown and self._filterable(sel, table)
        for conj in conjs:
            mine = (
                filterable
                and conj.find(exp.Query, exp.AggFunc, exp.Window) is None
                and all(c.table == alias for c in conj.find_all(exp.Column))
                and any(True for _ in conj.find_all(exp.Column))
            )
            if not mine:
                kept.append(conj)
                continue
            bare = _unqualify(conj, info)
            verdict = conn.classify(bare, info) if conn.capabilities.supports_filter else "unsupported"
            if verdict == "exact":
                pushed_filters.append(bare)
                pushed_text.append(_pg(bare))
            elif verdict == "inexact":
                pushed_filters.append(bare)
                pushed_text.append(_pg(bare))
                residual_text.append(_pg(bare))
                kept.append(conj)
            else:
                residual_text.append(_pg(bare))
                kept.append(conj)
        only_table = (
            len(self._scope_tables(sel)) == 1
            and not sel.args.get("joins")
            and not kept
            and not sel.args.get("group")
            and not sel.args.get("distinct")
            and sel.find(exp.AggFunc, exp.Window) is None
        )
        order, limit = self._order_limit(sel, alias, info, conn.capabilities) if (only_table and self.pushdown) else ((), None)
        if len(kept) != len(conjs):
            new_where = _and(kept)
            sel.set("where", exp.Where(this=new_where) if new_where is not None else None)
        request = ScanRequest(
            output_names=tuple(used),
            table=info.name,
            columns=tuple(used),
            filters=tuple(pushed_filters),
            order_by=order,
            limit=limit,
        )
        pushed = Pushed(
            columns=tuple(used),
            filters=tuple(pushed_text),
            limit=limit,
            order=tuple(_pg(o) for o in order),
        )
        frag = self._add(source, (info.name,), request, pushed, tuple(residual_text))
        table.replace(
            exp.Table(
                this=exp.to_identifier(frag.id, quoted=True),
                alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
            )
        )

    @staticmethod
    def _order_limit(sel: exp.Select, alias: str, info, caps) -> tuple[tuple[exp.Ordered, ...], int | None]:  # type: ignore[no-untyped-def]
        limit_node = sel.args.get("limit")
        limit = _int_literal(limit_node.expression) if isinstance(limit_node, exp.Limit) else None
        offset_node = sel.args.get("offset")
        offset = _int_literal(offset_node.expression) if isinstance(offset_node, exp.Offset) else 0
        if offset is None:
            return (), None
        order: tuple[exp.Ordered, ...] = ()
        order_node = sel.args.get("order")
        if order_node is not None:
            keys = []
            for o in order_node.expressions:
                if not isinstance(o.this, exp.Column) or o.this.table != alias or not caps.supports_order:
                    return (), None
                keys.append(_unqualify(o, info))
            order = tuple(keys)  # type: ignore[arg-type]
        if limit is None or not caps.supports_limit:
            return order, None
        return order, limit + offset

    def _add(self, source: str, tables: tuple[str, ...], request: ScanRequest, pushed: Pushed, residual: tuple[str, ...]) -> Fragment:
        conn = self.catalog.connector(source)
        frag = Fragment(
            id=f"__f{len(self.fragments)}",
            source=source,
            source_type=getattr(conn, "source_type", type(conn).__name__),
            tables=tables,
            request=request,
            pushed=pushed,
            residual_filters=residual,
        )
        self.fragments.append(frag)
        return frag


def _int_literal(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


def _unqualify(node: exp.Expression, info) -> exp.Expression:  # type: ignore[no-untyped-def]
    def strip(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column):
            col = info.column(n.name)
            return exp.column(col.name if col else n.name, quoted=True)
        return n

    return node.copy().transform(strip)
