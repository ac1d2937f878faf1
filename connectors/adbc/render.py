"""Render a ScanRequest as SQL in the source's dialect, from sqlglot ASTs only.

(a) a table scan: ``SELECT <columns> FROM <table> WHERE <filters> ORDER BY ... LIMIT n``;
(b) a whole query over the source's tables: table and column names are rewritten to
the native ones (quoted), bare columns keep their SQL names as output names, and the
outer select list is aliased to the request's output names. Identifiers are quoted
and literals escaped by sqlglot; nothing a user typed is formatted into text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from connectors.adbc.allowlist import TEMPORAL
from connectors.base import Column, NativeRequest, ScanRequest, TableInfo
from federation.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa


class RenderError(Exception):
    """Internal: the request cannot be expressed for this source."""


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

    def render(self, request: ScanRequest) -> tuple[str, list[pa.DataType | None]]:
        """The SQL text sent for ``request`` and each output column's expected Arrow type."""
        if request.query is not None:
            query, types = self._render_query(request)
        else:
            query, types = self._render_scan(request)
        query = self.wrap_sql(query, types)
        return query.sql(dialect=self.dialect), types

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

    def _render_scan(self, request: ScanRequest) -> tuple[exp.Query, list[pa.DataType | None]]:
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
        key = self._key_condition(request, info)
        if key is not None:
            conds.append(key)
        if conds:
            select = select.where(*conds)
        if request.order_by:
            select = select.order_by(*[self._native(o, {}, info) for o in request.order_by])
        if request.limit is not None:
            select = select.limit(exp.Literal.number(int(request.limit)))
        return select, [c.type for c in cols]

    def _key_condition(self, request: ScanRequest, info: TableInfo) -> exp.Expression | None:
        kf = request.key_filter
        if kf is None or info.column(kf.column) is None or len(kf.keys) > self.key_list_max:
            return None
        import pyarrow as pa

        column = info.column(kf.column)
        assert column is not None
        # only keys of the column's own kind: text = 1 is an error in PostgreSQL (keys are a hint)
        kind: type = int if pa.types.is_integer(column.type) else str if pa.types.is_string(column.type) else type(None)
        values = [v for v in kf.keys.to_pylist() if v is not None]
        if not values or not all(type(v) is kind for v in values):
            return None
        return exp.In(this=self.column_ref(column), expressions=[exp.convert(v) for v in dict.fromkeys(values)])

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

    def _render_query(self, request: ScanRequest) -> tuple[exp.Query, list[pa.DataType | None]]:
        from connectors.adbc.types import output_types

        assert request.query is not None
        annotated, aliases = self._annotated(request.query)
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
        return self._keyed(q, request, types), types

    def _keyed(self, q: exp.Query, request: ScanRequest, types: list[pa.DataType | None]) -> exp.Query:
        """A dynamic key filter on an output column of a whole pushed query: filter
        its result at the source (the source's planner moves it inside)."""
        import pyarrow as pa

        kf = request.key_filter
        names = list(request.output_names)
        if kf is None or kf.column not in names or len(kf.keys) > self.key_list_max:
            return q
        t = types[names.index(kf.column)]
        kind: type = int if t is not None and pa.types.is_integer(t) else str if t is not None and pa.types.is_string(t) else type(None)
        values = [v for v in kf.keys.to_pylist() if v is not None]
        if not values or not all(type(v) is kind for v in values):
            return q
        outer = exp.column(kf.column, table="__k", quoted=True)
        return (exp.select(*[exp.column(n, table="__k", quoted=True) for n in names])
                .from_(q.subquery("__k"))
                .where(exp.In(this=outer, expressions=[exp.convert(v) for v in dict.fromkeys(values)])))

    @staticmethod
    def _keep_name(p: exp.Expression) -> exp.Expression:
        """A bare native column keeps its SQL name as the output name (outer queries use it)."""
        inner = p.this if isinstance(p, exp.Cast) else p
        if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
            return exp.alias_(p, inner.name.lower(), quoted=True)
        return p

    def native_request(self, request: ScanRequest) -> list[NativeRequest]:
        sql, _ = self._render_or_fail(request)
        return [NativeRequest(kind="sql", text=sql, detail={"params": []})]

    def _render_or_fail(self, request: ScanRequest) -> tuple[str, list[pa.DataType | None]]:
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


def temporal_columns(query: exp.Expression) -> list[exp.Column]:
    """Columns whose (annotated) type is a date or time."""
    out = []
    for c in query.find_all(exp.Column):
        t = getattr(c, "type", None)
        if isinstance(t, exp.DataType) and t.this in TEMPORAL:
            out.append(c)
    return out
