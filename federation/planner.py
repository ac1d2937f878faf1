"""Query text → Plan: parse, bind parameters, bind names, optimize, split."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlglot import exp

from federation.bind import bind
from federation.catalog import Catalog
from federation.explain import operations
from federation.plan import Plan
from federation.split import Splitter
from federation.sqlfront import bind_params, parse_query


def plan_query(
    catalog: Catalog,
    sql: str,
    params: Mapping[str, Any] | None = None,
    dialect: str = "postgres",
    pushdown: bool = True,
    expand: Callable[[exp.Query, str], exp.Query] | None = None,
    names: Callable[[], list[str]] | None = None,
) -> Plan:
    """``expand`` rewrites model references (entities) into queries over sources;
    ``names`` lists the extra bare table names a user may write (for did-you-mean)."""
    # Each step hands its tree to the next, which changes it in place: copying the
    # whole tree at every step was a quarter of the planning time. The model's
    # expansion may splice in parts of its own trees, so bind copies after it.
    parsed = parse_query(sql, dialect)
    parsed = bind_params(parsed, params, sql, copy=False)
    if expand is not None:
        parsed = expand(parsed, sql)
    optimized, _refs = bind(parsed, catalog, sql, extra_names=names, copy=expand is not None)
    # read before the split, which cuts ``optimized`` itself into fragments
    output_names = tuple(optimized.named_selects)
    optimized_sql = optimized.sql(dialect="postgres")
    result = Splitter(catalog, pushdown=pushdown).split(optimized, copy=False)
    return Plan(
        sql=optimized_sql,
        dialect=dialect,
        fragments=tuple(result.fragments),
        residual=result.residual,
        output_names=output_names,
        operations=tuple(operations(result.residual)),
    )
