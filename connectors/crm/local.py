"""What an API connector finishes in Arrow when the API cannot: ORDER BY + LIMIT, and
conjuncts it declared exact but could not fit into one request (Zoho's criteria cap).

``sort_limit`` follows PostgreSQL's NULL placement (last ascending, first descending,
unless NULLS FIRST/LAST says otherwise). ``filter_table`` applies sqlglot conjuncts
through the file connector's exact translation and refuses (SourceError) anything it
cannot translate, rather than return extra rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from federation.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from connectors.base import TableInfo


def nulls_first(o: exp.Ordered) -> bool:
    nf = o.args.get("nulls_first")
    return bool(nf) if nf is not None else bool(o.args.get("desc"))  # PostgreSQL's default


def sort_limit(table: pa.Table, keys: Sequence[tuple[str, bool, bool]], limit: int | None) -> pa.Table:
    """Sort ``table`` by (column, desc, nulls_first) keys (stable), then keep ``limit`` rows."""
    import pyarrow.compute as pc

    idx = None
    for name, desc, nf in reversed(keys):
        col = table.column(name)
        arr = (col if idx is None else col.take(idx)).combine_chunks()
        # array_sort_indices is stable: sorting by the last key first gives a multi-key sort
        order = pc.array_sort_indices(arr, order="descending" if desc else "ascending",
                                      null_placement="at_start" if nf else "at_end")
        idx = order if idx is None else idx.take(order)
    if idx is not None:
        table = table.take(idx)
    return table.slice(0, limit) if limit is not None else table


def filter_table(source: str, table: pa.Table, info: TableInfo, filters: Sequence[exp.Expression]) -> pa.Table:
    """``table`` (columns named by SQL name) restricted to rows where every filter is TRUE."""
    from connectors.files.filters import to_expression

    if not filters:
        return table
    cols = tuple(dataclasses.replace(c, native_name=c.name) for c in info.columns if c.name in table.column_names)
    local = dataclasses.replace(info, columns=cols)
    for f in filters:
        expr = to_expression(f, local, table.schema)
        if expr is None:
            raise SourceError(source, f"cannot apply the filter {f.sql()} after the fetch",
                              hint="Simplify the WHERE clause (fewer conditions on this table).")
        table = table.filter(expr)
    return table
