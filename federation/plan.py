"""The plan: an explicit structure that ``explain`` prints and an executor consumes.

A plan is a list of per-source fragments plus a residual query over the
fragments' results. The residual is a sqlglot AST whose tables are fragment ids
(``__f0``, ``__f1``...); the Arrow executor runs it over pyarrow tables, and
another engine (e.g. Spark) can render it as its own SQL over the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlglot import exp

    from connectors.base import ScanRequest


@dataclass(frozen=True)
class Pushed:
    """What a fragment's source does itself."""

    columns: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    limit: int | None = None
    order: tuple[str, ...] = ()
    aggregate: bool = False
    join: bool = False
    whole_query: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "filters": list(self.filters),
            "limit": self.limit,
            "order": list(self.order),
            "aggregate": self.aggregate,
            "join": self.join,
        }


@dataclass(frozen=True)
class Fragment:
    id: str
    source: str
    source_type: str
    tables: tuple[str, ...]
    request: ScanRequest
    pushed: Pushed
    # conjuncts the source could not apply exactly: evaluated in Arrow afterwards
    residual_filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    sql: str  # the bound, optimized query, in PostgreSQL syntax
    dialect: str
    fragments: tuple[Fragment, ...]
    # None when one fragment answers the whole query (its rows are the answer)
    residual: exp.Expression | None
    output_names: tuple[str, ...]
    operations: tuple[str, ...] = field(default=())

    @property
    def residual_sql(self) -> str | None:
        return None if self.residual is None else self.residual.sql(dialect="postgres")
