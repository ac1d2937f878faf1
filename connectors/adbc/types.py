"""Types of a pushed query's columns: annotate with sqlglot, map SQL types to Arrow.

Drivers report what the values look like (SQLite has no booleans or dates, only
0/1 and text; PostgreSQL's numeric arrives as text); the expected type of each
output column comes from the query itself, typed over the discovered tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    import pyarrow as pa

    from connectors.base import TableInfo

T = exp.DataType.Type


def annotate(query: exp.Expression, aliases: dict[str, TableInfo], dialect: str) -> exp.Expression:
    """A typed copy of ``query`` (tables named by SQL name, columns qualified by alias)."""
    from sqlglot.optimizer.annotate_types import annotate_types

    from federation.catalog import sql_type_text

    schema = {
        info.name: {c.name: sql_type_text(c.type) for c in info.columns}
        for info in aliases.values()
    }
    # the query is PostgreSQL-flavoured whatever the source: type it as such
    return annotate_types(query.copy(), schema=schema, dialect="postgres")


def arrow_type(t: exp.DataType | None) -> pa.DataType | None:
    """The Arrow type a column of SQL type ``t`` should have, or None when unsure."""
    import pyarrow as pa

    if t is None:
        return None
    k = t.this
    simple = {
        T.BOOLEAN: pa.bool_(), T.DATE: pa.date32(), T.TIMESTAMP: pa.timestamp("us"),
        T.DATETIME: pa.timestamp("us"), T.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
        T.BIGINT: pa.int64(), T.INT: pa.int64(), T.SMALLINT: pa.int64(), T.TINYINT: pa.int64(),
        T.DOUBLE: pa.float64(), T.FLOAT: pa.float64(), T.TEXT: pa.string(), T.VARCHAR: pa.string(),
        T.CHAR: pa.string(),
    }
    if k in simple:
        return simple[k]
    if k == T.DECIMAL:
        params = [p.this for p in t.expressions if isinstance(p, exp.DataTypeParam)]
        try:
            p, s = (int(params[0].name), int(params[1].name)) if len(params) == 2 else (None, None)
        except (ValueError, AttributeError):
            p, s = None, None
        return pa.decimal128(p, s) if p is not None and p <= 38 else pa.float64()
    return None


def output_types(query: exp.Expression, dialect: str) -> list[pa.DataType | None]:
    sel = query
    while isinstance(sel, exp.SetOperation):
        sel = sel.this
    if isinstance(sel, exp.Subquery):
        sel = sel.this
    if not isinstance(sel, exp.Select):
        return []
    return [arrow_type(getattr(p, "type", None)) for p in sel.expressions]
