"""Bind a parsed query to the catalog: check every table and column, then optimize.

Unknown names become QueryErrors with the query position and a did-you-mean
drawn from the names the user can see. The result is sqlglot's optimized form
with each physical table isolated in its own scope (``leave_tables_isolated``),
ready to be cut into per-source fragments.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer import optimize

from federation.catalog import Catalog
from federation.errors import QueryError, SourceError, UnsupportedError, did_you_mean
from federation.sqlfront import node_position

_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved")


def _cte_names(query: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}


def physical_tables(
    query: exp.Expression, catalog: Catalog, sql: str, extra_names: Callable[[], list[str]] | None = None
) -> set[tuple[str, str]]:
    """Every ``source.table`` the query reads; raises on unknown ones."""
    ctes = _cte_names(query)
    refs: set[tuple[str, str]] = set()
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise UnsupportedError(f"table expression {table.sql(dialect='postgres')}")
        if table.args.get("catalog"):
            raise QueryError(
                f"'{table.sql(dialect='postgres')}' has three parts; tables are addressed as source.table",
                sql=sql,
                position=(node_position(sql, table) or ((1, 1), 1))[0],
            )
        db = table.db
        if not db:
            if table.name.lower() in ctes:
                continue
            _unknown_bare_table(table, catalog, sql, extra_names() if extra_names else [])
        info = catalog.table(db.lower(), table.name, sql=sql, node=table)
        refs.add((db.lower(), info.name))
    return refs


def _unknown_bare_table(table: exp.Table, catalog: Catalog, sql: str, entities: list[str]) -> None:
    if entities:
        guess = did_you_mean(table.name, entities)
        if guess:
            where = node_position(sql, table)
            raise QueryError(
                f"table '{table.name}' does not exist",
                sql=sql,
                position=where[0] if where else None,
                length=where[1] if where else 1,
                hint=guess,
            )
    names: list[str] = list(entities)
    for source in catalog.source_names:
        try:
            names += [f"{source}.{t}" for t in catalog.tables(source)]
        except SourceError:
            continue  # suggestions are best effort; the real error is the name
    guess = did_you_mean(table.name, [n.split(".", 1)[-1] for n in names])
    hint = "Tables are addressed as source.table"
    if guess:
        match = next(n for n in names if n.split(".", 1)[-1].lower() == guess.split("'")[1].lower())
        hint = f"Did you mean '{match}'? {hint}."
    else:
        hint += f"; this workspace has: {', '.join(sorted(names)[:12]) or '(no tables)'}."
    where = node_position(sql, table)
    raise QueryError(
        f"table '{table.name}' does not exist",
        sql=sql,
        position=where[0] if where else None,
        length=where[1] if where else 1,
        hint=hint,
    )


def bind(
    query: exp.Query, catalog: Catalog, sql: str, extra_names: Callable[[], list[str]] | None = None
) -> tuple[exp.Query, set[tuple[str, str]]]:
    """Check names and optimize. Returns the optimized query and the tables it reads."""
    refs = physical_tables(query, catalog, sql, extra_names)
    schema = catalog.schema_for(refs)
    try:
        optimized = optimize(query, schema=schema, dialect="postgres", leave_tables_isolated=True)
    except OptimizeError as e:
        raise _column_error(str(e), query, catalog, refs, sql) from None
    except SqlglotError as e:
        raise QueryError(f"cannot plan this query: {e}", sql=sql) from None
    return optimized, refs  # type: ignore[return-value]


def _column_error(
    text: str, query: exp.Query, catalog: Catalog, refs: set[tuple[str, str]], sql: str
) -> QueryError:
    m = _UNRESOLVED.search(text)
    if not m:
        return QueryError(f"cannot resolve the query: {text.split('. Line')[0]}", sql=sql)
    name = m.group(1).split(".")[-1]
    node = next((c for c in query.find_all(exp.Column) if c.name.lower() == name.lower()), None)
    visible = sorted({c.name for s, t in refs for c in catalog.tables(s)[t].columns})
    visible += [a.alias for a in query.find_all(exp.Alias) if a.alias]
    hint = did_you_mean(name, visible)
    where = node_position(sql, node) if node is not None else None
    tables = ", ".join(f"{s}.{t}" for s, t in sorted(refs))
    return QueryError(
        f"column '{name}' does not exist in {tables or 'the query'}",
        sql=sql,
        position=where[0] if where else None,
        length=where[1] if where else 1,
        hint=hint,
    )
