"""Render a ScanRequest as SQL in the source's dialect, from sqlglot ASTs only.

(a) a table scan: ``SELECT <columns> FROM <table> WHERE <filters> ORDER BY ... LIMIT n``;
(b) a whole query over the source's tables: table and column names are rewritten to
the native ones (quoted), bare columns keep their SQL names as output names, and the
outer select list is aliased to the request's output names. Identifiers are quoted
and literals escaped by sqlglot; nothing a user typed is formatted into text.
A dynamic key filter (ScanRequest.key_filter) on either becomes one condition
whose form the dialect chooses (``key_condition``, keys.py): PostgreSQL and
SQLite bind the whole key set as one parameter, other drivers get literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from connectors.adbc.allowlist import TEMPORAL
from connectors.adbc.keys import BoundKeys, KeyKind, in_list, key_kind, normalised
from connectors.base import Column, NativeRequest, ScanRequest, TableInfo
from federation.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa


class RenderError(Exception):
    """Internal: the request cannot be expressed for this source."""


@dataclass(frozen=True)
class Rendered:
    """The SQL text sent for a request, each output column's expected Arrow type, and
    the parameters its placeholders take (only a dynamic key set is ever bound)."""

    sql: str
    types: list[pa.DataType | None]
    params: tuple[BoundKeys, ...] = ()


class SqlRendering:
    """Mixin of the ADBC connectors: everything between a ScanRequest and SQL text."""

    name: str
    dialect: str
    key_list_max: int

    def info(self, name: str) -> TableInfo:
        raise NotImplementedError

    def native_table(self, info: TableInfo) -> exp.Table:
        return exp.Table(this=exp.to_identifier(info.native_name, quoted=True))

    def column_ref(self, col: Column, table: str | None = None) -> exp.Expression:
        return exp.column(col.native_name, table=exp.to_identifier(table, quoted=True) if table else None, quoted=True)

    def rewrite(self, node: exp.Expression) -> exp.Expression:
        """Dialect-specific rewrites of a node after names are native (e.g. LIKE → GLOB)."""
        return node

    def wrap_sql(self, query: exp.Query, types: list[pa.DataType | None]) -> exp.Query:
        return query

    def key_condition(self, ref: exp.Expression, keys: pa.Array, kind: KeyKind,
                      native: pa.DataType | None) -> tuple[exp.Expression, BoundKeys | None]:
        """``ref`` is one of ``keys`` (distinct, non-NULL, of ``kind``): literals here;
        PostgreSQL and SQLite bind the whole set as one parameter instead. ``native``:
        the Arrow type of the table column ``ref`` reads, when it is one (else None)."""
        return in_list(ref, keys), None

    def render(self, request: ScanRequest, annotated: tuple[exp.Expression, dict[str, TableInfo]] | None = None
               ) -> Rendered:
        """The SQL text sent for ``request``, its output types and bound parameters.
        ``annotated``: ``_annotated(request.query)`` when the caller already made it."""
        if request.query is not None:
            query, types, params = self._render_query(request, annotated)
        else:
            query, types, params = self._render_scan(request)
        query = self.wrap_sql(query, types)
        return Rendered(query.sql(dialect=self.dialect), types, params)

    def _native(self, node: exp.Expression, resolve: dict[str, TableInfo], default: TableInfo | None) -> exp.Expression:
        def fix(n: exp.Expression) -> exp.Expression:
            if isinstance(n, exp.Column):
                info = resolve.get(n.table.lower()) if n.table else default
                col = info.column(n.name) if info is not None else None
                if col is not None:
                    return self.column_ref(col, n.table or None)
                if n.table and n.table.lower() in resolve:
                    raise RenderError(f"unknown column {n.table}.{n.name}")
                return n
            if isinstance(n, exp.Ordered) and n.args.get("nulls_first") is None:
                # PostgreSQL: NULLs sort last ascending, first descending; say so explicitly
                n.set("nulls_first", bool(n.args.get("desc")))
            return n

        # names first, then dialect rewrites (which may replace a node and skip its children)
        return node.copy().transform(fix).transform(self.rewrite)

    def _render_scan(self, request: ScanRequest) -> tuple[exp.Query, list[pa.DataType | None], tuple[BoundKeys, ...]]:
        if request.table is None:
            raise RenderError("no table")
        info = self.info(request.table)
        names = list(request.output_names) or list(request.columns)
        cols = []
        for c in request.columns:
            col = info.column(c)
            if col is None:
                raise SourceError(self.name, f"table '{info.name}' has no column '{c}'")
            cols.append(col)
        select = exp.select(*[exp.alias_(self.column_ref(c), n, quoted=True) for c, n in zip(cols, names)])
        select = select.from_(self.native_table(info))
        conds = [self._native(f, {}, info) for f in request.filters]
        key, params = self._key_condition(request, info)
        if key is not None:
            conds.append(key)
        if conds:
            select = select.where(*conds)
        if request.order_by:
            select = select.order_by(*[self._native(o, {}, info) for o in request.order_by])
        if request.limit is not None:
            select = select.limit(exp.Literal.number(int(request.limit)))
        return select, [c.type for c in cols], params

    def _key_condition(self, request: ScanRequest,
                       info: TableInfo) -> tuple[exp.Expression | None, tuple[BoundKeys, ...]]:
        kf = request.key_filter
        column = info.column(kf.column) if kf is not None else None
        if kf is None or column is None:
            return None, ()
        return self._key_predicate(self.column_ref(column), column.type, kf.keys, column.type)

    def _key_predicate(self, ref: exp.Expression, column_type: pa.DataType | None, keys: pa.Array,
                       native: pa.DataType | None) -> tuple[exp.Expression | None, tuple[BoundKeys, ...]]:
        """The key filter on ``ref``, or None: keys are a hint, left out when over the
        source's limit or not of the column's own kind (``text = 1`` is an error in PostgreSQL)."""
        kind = key_kind(column_type)
        if kind is None or len(keys) > self.key_list_max:
            return None, ()
        values = normalised(keys, kind)
        if values is None:
            return None, ()
        condition, bound = self.key_condition(ref, values, kind, native)
        return condition, (bound,) if bound is not None else ()

    def _annotated(self, query: exp.Expression) -> tuple[exp.Expression, dict[str, TableInfo]]:
        from connectors.adbc.types import annotate

        ctes = {c.alias_or_name.lower() for c in query.find_all(exp.CTE)}
        aliases: dict[str, TableInfo] = {}
        for t in query.find_all(exp.Table):
            name = t.name.lower()
            if t.db or name in ctes or not name:
                if t.db:
                    raise RenderError("qualified table")
                continue
            info = self.info(name)
            alias = t.alias_or_name.lower()
            if aliases.get(alias, info) is not info:
                raise RenderError(f"alias {alias} names two tables")
            aliases[alias] = info
        return annotate(query, aliases, self.dialect), aliases

    def _render_query(self, request: ScanRequest, typed: tuple[exp.Expression, dict[str, TableInfo]] | None = None
                      ) -> tuple[exp.Query, list[pa.DataType | None], tuple[BoundKeys, ...]]:
        from connectors.adbc.types import output_types

        assert request.query is not None
        annotated, aliases = typed if typed is not None else self._annotated(request.query)
        types = output_types(annotated, self.dialect)
        q = self._native(annotated, aliases, None)
        ctes = {c.alias_or_name.lower() for c in q.find_all(exp.CTE)}
        for t in list(q.find_all(exp.Table)):
            if t.name.lower() in ctes or t.name.lower() not in {i.name for i in aliases.values()}:
                continue
            info = self.info(t.name)
            alias = t.alias_or_name
            native = self.native_table(info)
            native.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
            t.replace(native)
        for sel in q.find_all(exp.Select):
            sel.set("expressions", [self._keep_name(p) for p in sel.expressions])
        _name_outputs(q, list(request.output_names))
        keyed, params = self._keyed(q, request, types, annotated, aliases)
        return keyed, types, params

    def _keyed(self, q: exp.Query, request: ScanRequest, types: list[pa.DataType | None],
               annotated: exp.Expression, aliases: dict[str, TableInfo]) -> tuple[exp.Query, tuple[BoundKeys, ...]]:
        """A dynamic key filter on an output column of a whole pushed query: filter
        its result at the source (the source's planner moves it inside)."""
        kf = request.key_filter
        names = list(request.output_names)
        if kf is None or kf.column not in names:
            return q, ()
        at = names.index(kf.column)
        outer = exp.column(kf.column, table="__k", quoted=True)
        condition, params = self._key_predicate(outer, types[at], kf.keys, _bare_column_type(annotated, aliases, at))
        if condition is None:
            return q, ()
        return (exp.select(*[exp.column(n, table="__k", quoted=True) for n in names])
                .from_(q.subquery("__k")).where(condition)), params

    @staticmethod
    def _keep_name(p: exp.Expression) -> exp.Expression:
        """A bare native column keeps its SQL name as the output name (outer queries use it)."""
        inner = p.this if isinstance(p, exp.Cast) else p
        if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
            return exp.alias_(p, inner.name.lower(), quoted=True)
        return p

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        r = self._render_or_fail(request)
        # a bound key set shows as its placeholder, type and count: never the keys
        return [NativeRequest(kind="sql", text=r.sql, detail={"params": [p.describe() for p in r.params]})]

    def _render_or_fail(self, request: ScanRequest) -> Rendered:
        try:
            return self.render(request)
        except RenderError as e:
            raise SourceError(self.name, f"cannot express the request in {self.dialect} SQL: {e}") from e


def _name_outputs(q: exp.Expression, names: list[str]) -> None:
    """Alias the top-level select list (the left-most SELECT of a set operation) to ``names``."""
    sel = q
    while isinstance(sel, exp.SetOperation):
        sel = sel.this
    if isinstance(sel, exp.Subquery):
        sel = sel.this
    if not isinstance(sel, exp.Select) or len(sel.expressions) != len(names):
        raise RenderError("output names do not match the select list")
    sel.set("expressions", [exp.alias_(p.this if isinstance(p, exp.Alias) else p, n, quoted=True)
                            for p, n in zip(sel.expressions, names)])


def _bare_column_type(query: exp.Expression, aliases: dict[str, TableInfo], position: int) -> pa.DataType | None:
    """The discovered type of output ``position`` when it is a plain table column (the
    annotated type of an expression is only sqlglot's guess at its width), else None."""
    if not isinstance(query, exp.Select) or position >= len(query.expressions):
        return None
    p = query.expressions[position]
    inner = p.this if isinstance(p, exp.Alias) else p
    if not isinstance(inner, exp.Column) or isinstance(inner.this, exp.Star):
        return None
    if inner.table:
        info = aliases.get(inner.table.lower())
    else:
        info = next(iter(aliases.values())) if len(aliases) == 1 else None
    col = info.column(inner.name) if info is not None else None
    return col.type if col is not None else None


def temporal_columns(query: exp.Expression) -> list[exp.Column]:
    """Columns whose (annotated) type is a date or time."""
    out = []
    for c in query.find_all(exp.Column):
        t = getattr(c, "type", None)
        if isinstance(t, exp.DataType) and t.this in TEMPORAL:
            out.append(c)
    return out
