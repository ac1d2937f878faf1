"""Query text → Plan: parse, bind parameters, bind names, optimize, split."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
) -> Plan:
    parsed = parse_query(sql, dialect)
    parsed = bind_params(parsed, params, sql)
    optimized, _refs = bind(parsed, catalog, sql)
    result = Splitter(catalog, pushdown=pushdown).split(optimized)
    names = tuple(optimized.named_selects)
    return Plan(
        sql=optimized.sql(dialect="postgres"),
        dialect=dialect,
        fragments=tuple(result.fragments),
        residual=result.residual,
        output_names=names,
        operations=tuple(operations(result.residual)),
    )
